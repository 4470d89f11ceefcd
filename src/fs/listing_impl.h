/* listing_impl.h: what fs/listing.c (the directory streams) and
 * fs/listing_line.c (the lines) share; nothing outside fs/listing* uses it. */
#ifndef FERRY_LISTING_IMPL_H
#define FERRY_LISTING_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "buf.h"
#include "str.h"

/* Longest symlink target shown (readlink content; PATH_MAX incl. NUL). */
#define TARGET_MAX 4096
/* The LIST head up to the name: at most 10+1+20+19+20+1+12+1 bytes. */
#define LIST_HEAD_MAX 96
/* The facts of a line, with the separating space: at most
 * 1 + 5+32+1 + 5+20+1 + 7+14+1 + 5+8+1 + 7+16+1+16+1 + 10+4+1 + 1 bytes. */
#define FACTS_MAX 192

/* A UTC calendar time, and the day it was last computed for. */
struct utc {
	int year;			    /* 0..9999 after clamping */
	unsigned mon, mday, hour, min, sec; /* mon 1..12 */
};

struct day_cache {
	bool valid;
	int64_t day; /* days since the epoch */
	struct utc date;
};

bool listing_has_crlf(const char *s, size_t n);
/* Appends all pieces or nothing, so a full buffer never holds half a line. */
int listing_append(struct buf *out, const struct slice *pcs, size_t n);
/* One LIST line (name_n bytes of name; target may be NULL), dates through
 * the day cache c (may be NULL). 0, or -ENOBUFS with nothing appended. */
int listing_fmt_list(struct buf *out, const char *name, size_t name_n, const struct stat *st, const char *target,
		     int64_t now, struct day_cache *c);
/* One MLSD line (MLST's with mlst); type NULL: from st's mode. */
int listing_fmt_facts(struct buf *out, const char *name, size_t name_n, const struct stat *st, const char *type,
		      bool mlst, unsigned facts, uint32_t perms, struct day_cache *c);

#endif
