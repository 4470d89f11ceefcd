#include "str.h"

#include <stdint.h>
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

size_t str_utf8_next(const char *s, size_t n, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned char c = u[0];
	size_t len;
	uint32_t v;
	if (n == 0)
		return 0;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		v = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((u[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (u[i] & 0x3f);
	}
	if ((len == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff))) || (len == 4 && (v < 0x10000 || v > 0x10ffff)))
		return 0;
	*cp = v;
	return len;
}

bool str_cp_breaks_line(uint32_t cp)
{
	/* SECURITY: readers that split lines or fields on more than ASCII
	 * (Python's splitlines, JavaScript, terminals, log viewers) must never
	 * see one of these raw in a record built from client text: C0 and C1
	 * controls (U+0085 NEL), Unicode spaces other than U+0020 (U+00A0 and
	 * U+2000-U+200A look like a field separator), the line and paragraph
	 * separators U+2028/U+2029, and the invisible and bidirectional
	 * formatting characters that reorder or hide what a reader sees. */
	return cp < 0x20 || (cp >= 0x7f && cp <= 0xa0) || cp == 0xad || cp == 0x61c || cp == 0x1680 || cp == 0x180e ||
	       (cp >= 0x2000 && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202f) || (cp >= 0x205f && cp <= 0x206f) ||
	       cp == 0x3000 || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb);
}

/* Bytes of the next unit at s and whether they are escaped: an ASCII byte,
 * a whole valid UTF-8 character, or one byte of invalid UTF-8. */
static size_t escape_unit(const char *s, size_t n, bool *escaped)
{
	unsigned char c = (unsigned char)s[0];
	uint32_t cp = 0;
	if (c < 0x80) {
		*escaped = c < 0x20 || c == 0x7f || c == '\\' || c == '"';
		return 1;
	}
	size_t len = str_utf8_next(s, n, &cp);
	if (len == 0) {
		*escaped = true;
		return 1;
	}
	*escaped = str_cp_breaks_line(cp);
	return len;
}

char *str_escape(struct slice s, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	if (outsz == 0)
		return out;
	size_t full = 0;
	bool escaped;
	for (size_t i = 0, len; i < s.n; i += len) {
		len = escape_unit(s.p + i, s.n - i, &escaped);
		full += escaped ? 4 * len : len;
	}
	/* Whole text if it fits; otherwise cut at a character boundary and
	 * leave room for "..." and the NUL. */
	size_t limit = full < outsz ? outsz - 1 : (outsz > 4 ? outsz - 4 : 0);
	size_t o = 0;
	for (size_t i = 0, len; i < s.n; i += len) {
		len = escape_unit(s.p + i, s.n - i, &escaped);
		if (o + (escaped ? 4 * len : len) > limit)
			break;
		if (!escaped) {
			memcpy(out + o, s.p + i, len);
			o += len;
			continue;
		}
		for (size_t k = 0; k < len; k++) {
			unsigned char c = (unsigned char)s.p[i + k];
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
