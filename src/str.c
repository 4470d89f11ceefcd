#include "str.h"

#include <string.h>

#include "util.h"

struct slice slice_from_cstr(const char *s)
{
	return (struct slice){ s, s ? strlen(s) : 0 };
}

bool slice_eq(struct slice a, struct slice b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool slice_eq_ci(struct slice a, const char *b)
{
	size_t bn = strlen(b);
	if (a.n != bn)
		return false;
	for (size_t i = 0; i < bn; i++)
		if (lower(a.p[i]) != lower(b[i]))
			return false;
	return true;
}

bool slice_split(struct slice s, char c, struct slice *head, struct slice *tail)
{
	const char *hit = s.n ? memchr(s.p, c, s.n) : NULL;
	if (!hit) {
		*head = s;
		*tail = (struct slice){ s.n ? s.p + s.n : s.p, 0 }; /* no NULL + 0 */
		return false;
	}
	*head = (struct slice){ s.p, (size_t)(hit - s.p) };
	*tail = (struct slice){ hit + 1, s.n - (size_t)(hit - s.p) - 1 };
	return true;
}

struct slice slice_trim_spaces(struct slice s)
{
	while (s.n && (s.p[0] == ' ' || s.p[0] == '\t')) {
		s.p++;
		s.n--;
	}
	while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
		s.n--;
	return s;
}

bool slice_has_ctl(struct slice s)
{
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c < 0x20 || c == 0x7f)
			return true;
	}
	return false;
}

char *slice_dup(struct slice s)
{
	return util_xstrndup(s.n ? s.p : "", s.n);
}

static bool escape_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '\\' && c != '"';
}

char *str_escape(struct slice s, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	if (outsz == 0)
		return out;
	size_t full = 0;
	for (size_t i = 0; i < s.n; i++)
		full += escape_plain((unsigned char)s.p[i]) ? 1 : 4;
	/* Whole text if it fits; otherwise cut at a character boundary and
	 * leave room for "..." and the NUL. */
	size_t limit = full < outsz ? outsz - 1 : (outsz > 4 ? outsz - 4 : 0);
	size_t o = 0;
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		size_t need = escape_plain(c) ? 1 : 4;
		if (o + need > limit)
			break;
		if (need == 1) {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (full >= outsz && outsz > 4) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

bool str_copy(char *dst, size_t dstsz, const char *src)
{
	size_t n = strlen(src);
	if (dstsz == 0)
		return false;
	if (n >= dstsz) {
		memcpy(dst, src, dstsz - 1);
		dst[dstsz - 1] = '\0';
		return false;
	}
	memcpy(dst, src, n + 1);
	return true;
}
