#include "buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void buf_init(struct buf *b, size_t max)
{
	*b = (struct buf){ .max = max };
}

void buf_free(struct buf *b)
{
	free(b->p);
	*b = (struct buf){ .max = b->max };
}

size_t buf_room(const struct buf *b)
{
	return b->len >= b->max ? 0 : b->max - b->len;
}

char *buf_reserve(struct buf *b, size_t n, int *err)
{
	size_t need;
	if (ckd_add(&need, b->len, n) || need > b->max) {
		if (err)
			*err = -ENOBUFS;
		return NULL;
	}
	if (b->off && b->off + need > b->cap) {
		memmove(b->p, b->p + b->off, b->len);
		b->off = 0;
	}
	if (b->off + need > b->cap) {
		size_t ncap = b->cap ? b->cap : 256;
		while (ncap < need) {
			if (ckd_mul(&ncap, ncap, (size_t)2)) {
				ncap = need;
				break;
			}
		}
		if (ncap > b->max && need <= b->max)
			ncap = b->max;
		char *np = realloc(b->p, ncap);
		if (!np) {
			if (err)
				*err = -ENOMEM;
			return NULL;
		}
		b->p = np;
		b->cap = ncap;
	}
	return b->p + b->off + b->len;
}

void buf_commit(struct buf *b, size_t n)
{
	b->len += n;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	int err = 0;
	if (n == 0)
		return 0;
	char *dst = buf_reserve(b, n, &err);
	if (!dst)
		return err;
	memcpy(dst, p, n);
	b->len += n;
	return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -EINVAL;
	/* vsnprintf needs room for a NUL the buffer does not keep, so format
	 * into a scratch copy and append exactly n bytes: a text that fits the
	 * cap exactly is accepted. */
	char *tmp = malloc((size_t)n + 1);
	if (!tmp)
		return -ENOMEM;
	(void)vsnprintf(tmp, (size_t)n + 1, fmt, ap);
	int r = buf_append(b, tmp, (size_t)n);
	free(tmp);
	return r;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		b->off = 0;
		return;
	}
	b->off += n;
	b->len -= n;
}

void buf_trim(struct buf *b)
{
	if (b->len == 0 && b->p)
		buf_free(b);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->off = 0;
}
