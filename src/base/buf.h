/* buf: a growable byte buffer with a hard cap. All overflow checks live here. */
#ifndef FERRY_BUF_H
#define FERRY_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "str.h"

struct buf {
	char *p;
	size_t len; /* bytes in use, starting at p[off] */
	size_t off; /* consumed prefix not yet compacted */
	size_t cap; /* allocated */
	size_t max; /* hard limit on len; appends beyond it fail with -ENOBUFS */
};

/* Initialises an empty buffer that may hold at most max bytes. */
void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
/* Start of unconsumed data. */
static inline char *buf_data(const struct buf *b)
{
	return b->p ? b->p + b->off : NULL;
}
static inline struct slice buf_slice(const struct buf *b)
{
	return (struct slice){ buf_data(b), b->len };
}
/* Appends n bytes; 0, or -ENOBUFS when the cap would be exceeded (nothing appended). */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Drops n bytes from the front (n <= len). */
void buf_consume(struct buf *b, size_t n);
void buf_reset(struct buf *b);
/* Releases the storage of an empty buffer (no-op otherwise), so idle
 * connections hold no buffers between bursts. */
void buf_trim(struct buf *b);
/* Ensures room for n more bytes and returns where to write them (then call
 * buf_commit). NULL with errno-style -ENOBUFS via *err if over the cap. */
char *buf_reserve(struct buf *b, size_t n, int *err);
void buf_commit(struct buf *b, size_t n);
/* Space that can still be appended before hitting the cap. */
size_t buf_room(const struct buf *b);

#endif
