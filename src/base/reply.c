#include "reply.h"

#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>

/* Formats one line into a bounded stack buffer, scrubs CR/LF, appends CRLF. */
static int emit(struct buf *out, const char *prefix, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
static int emit(struct buf *out, const char *prefix, const char *fmt, va_list ap)
{
	char line[REPLY_MAX_LINE];
	size_t pre = strlen(prefix);
	if (pre >= sizeof(line) - 2)
		return -EINVAL;
	memcpy(line, prefix, pre);
	size_t n;
	if (fmt[0] == '%' && fmt[1] == 's' && fmt[2] == '\0') {
		/* Text formatted already (proto's replies): copied as
		 * vsnprintf would, without its cost on every reply. */
		const char *text = va_arg(ap, const char *);
		if (!text)
			text = "(null)";
		n = strlen(text);
		size_t k = n < sizeof(line) - pre - 3 ? n : sizeof(line) - pre - 3;
		memcpy(line + pre, text, k);
	} else {
		int w = vsnprintf(line + pre, sizeof(line) - pre - 2, fmt, ap);
		if (w < 0)
			return -EINVAL;
		n = (size_t)w;
	}
	size_t len = pre + n;
	if (len > sizeof(line) - 3)
		len = sizeof(line) - 3;
	for (size_t i = pre; i < len; i++)
		if (line[i] == '\r' || line[i] == '\n' || line[i] == '\0')
			line[i] = ' ';
	line[len++] = '\r';
	line[len++] = '\n';
	return buf_append(out, line, len);
}

/* "ddd" + sep, then the formatted text. */
static int vcoded(struct buf *out, int code, char sep, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static int vcoded(struct buf *out, int code, char sep, const char *fmt, va_list ap)
{
	char pre[8];
	if (code >= 0 && code <= 999) { /* "%03d%c" without snprintf */
		pre[0] = (char)('0' + code / 100);
		pre[1] = (char)('0' + code / 10 % 10);
		pre[2] = (char)('0' + code % 10);
		pre[3] = sep;
		pre[4] = '\0';
	} else {
		(void)snprintf(pre, sizeof(pre), "%03d%c", code, sep);
	}
	return emit(out, pre, fmt, ap);
}

int reply_line(struct buf *out, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vcoded(out, code, ' ', fmt, ap);
	va_end(ap);
	return r;
}

int reply_begin(struct buf *out, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vcoded(out, code, '-', fmt, ap);
	va_end(ap);
	return r;
}

int reply_end(struct buf *out, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vcoded(out, code, ' ', fmt, ap);
	va_end(ap);
	return r;
}

static int emit_str(struct buf *out, const char *prefix, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int emit_str(struct buf *out, const char *prefix, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = emit(out, prefix, fmt, ap);
	va_end(ap);
	return r;
}

int reply_cont(struct buf *out, const char *fmt, ...)
{
	char line[REPLY_MAX_LINE];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	/* Interop: a continuation line must never look like the last line of a
	 * reply (curl ends a reply at any line starting "ddd "), so lines that
	 * start with three digits get a leading space (RFC 959 §4.2). */
	bool digits =
	    line[0] >= '0' && line[0] <= '9' && line[1] >= '0' && line[1] <= '9' && line[2] >= '0' && line[2] <= '9';
	return emit_str(out, digits ? " " : "", "%s", line);
}

char *reply_sanitize(struct slice s, char *out, size_t outsz)
{
	if (outsz == 0)
		return out;
	/* Whole text if it fits, else cut with "..." (room kept for the NUL). */
	bool cut = s.n >= outsz;
	size_t keep = !cut ? s.n : (outsz > 4 ? outsz - 4 : outsz - 1);
	for (size_t i = 0; i < keep; i++) {
		unsigned char c = (unsigned char)s.p[i];
		out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	size_t o = keep;
	if (cut && outsz > 4) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

int reply_quote_path(const char *path, char *out, size_t outsz)
{
	size_t o = 0;
	for (const char *c = path; *c; c++) {
		size_t need = *c == '"' ? 2 : 1;
		if (o + need >= outsz)
			return -ENAMETOOLONG;
		out[o++] = *c;
		if (*c == '"')
			out[o++] = '"';
	}
	if (outsz == 0)
		return -ENAMETOOLONG;
	out[o] = '\0';
	return 0;
}
