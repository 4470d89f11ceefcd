/* listing: LIST / NLST / MLSD / MLST lines from a directory fd or a stat.
 * Pure formatting plus getdents64/statx on an fd it is handed; streams a
 * directory in bounded chunks so 100,000 entries never sit in memory at
 * once. A listing is used by one thread at a time (the job pool produces
 * the chunks of a data connection's listing, ftp/list_feed.c); handing it
 * over through a mutex-protected queue is what makes that safe. */
#ifndef FERRY_LISTING_H
#define FERRY_LISTING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "buf.h"
#include "str.h"

enum listing_format { LISTING_LIST, LISTING_NLST, LISTING_MLSD };

/* MLST facts (RFC 3659 §7.5) that can be selected with OPTS MLST. */
enum {
	FACT_TYPE = 1u << 0,
	FACT_SIZE = 1u << 1,
	FACT_MODIFY = 1u << 2,
	FACT_PERM = 1u << 3,
	FACT_UNIQUE = 1u << 4,
	FACT_UNIX_MODE = 1u << 5,
	FACT_ALL = (1u << 6) - 1,
	FACT_DEFAULT = FACT_ALL,
};

struct listing_opts {
	bool all;	/* LIST -a: include dot files */
	unsigned facts; /* MLSD/MLST facts to emit */
	uint32_t perms; /* the user's PERM_* bits (for the perm fact) */
	int64_t now;	/* seconds since the epoch, for the six-month rule */
};

/* Appends one LIST line ("drwxr-xr-x 2 ftp ftp 4096 Nov 24 06:28 name\r\n"),
 * times in UTC, "Mon DD HH:MM" for entries within six months of now, else
 * "Mon DD  YYYY". For symlinks, target (may be NULL) is shown as "-> target". */
int listing_list_line(struct buf *out, const char *name, const struct stat *st, const char *target,
		      const struct listing_opts *o);
/* Appends "facts; name\r\n" (MLSD line) or, with mlst=true, " facts; name\r\n"
 * (one leading space, for the MLST control-connection reply). type may be
 * "file", "dir", "cdir", "pdir". */
int listing_facts_line(struct buf *out, const char *name, const struct stat *st, const char *type, bool mlst,
		       const struct listing_opts *o);
/* "type;size;modify;..." of the selected facts, FEAT style: each supported
 * fact followed by '*' if selected, then ';'. */
void listing_feat_facts(unsigned selected, char *out, size_t outsz);
/* Parses an OPTS MLST argument ("type;size;" case-insensitive, unknown
 * facts ignored) into a selection and writes the canonical echo
 * ("type;size;"). */
unsigned listing_parse_facts(const char *arg, char *echo, size_t echosz);

struct listing;
/* Starts streaming directory dirfd (takes ownership) in the given format. */
int listing_open(int dirfd, enum listing_format fmt, const struct listing_opts *o, struct listing **out);
/* Lists only the entries whose names match pattern (wildmat.h; Decision 14)
 * and, in NLST, writes each as prefix + name (the directory part as the
 * client wrote it, so every line is a usable argument). Copies both. With a
 * pattern, the pattern alone decides whether dot files show (LIST -a does
 * not add them); upload temporaries never show. */
int listing_set_pattern(struct listing *l, struct slice pattern, struct slice prefix);
/* Adds an entry that is not in the directory (a shared folder's mount
 * point, core/files_space.c): listed after the directory's own entries,
 * with st as its status, and an entry of the directory with the same name
 * is left out. Before the first read only. */
int listing_add_entry(struct listing *l, const char *name, const struct stat *st);
/* Reads ahead to the next entry that would be listed, keeping it for
 * listing_next: 1 if there is one, 0 if none is left, -errno on a read
 * error. So a pattern that matches nothing is known before any data flows. */
int listing_peek(struct listing *l);
/* Appends the next lines (at least one entry if any remain, stopping once
 * about max bytes were added). Returns 1 when more remain, 0 when done,
 * -errno on a read error. */
int listing_next(struct listing *l, struct buf *out, size_t max);
/* Reads lines into out until the listing ends (0) or out is full (1: the
 * lines that fit, whole), step bytes at a time; -errno on a read error. For
 * a listing that must fit in one bounded reply (STAT). */
int listing_read_all(struct listing *l, struct buf *out, size_t step);
/* For a listing made by several jobs at once (ftp/list_feed.c): appends
 * whole lines until about max bytes were added (overshooting by at most 32
 * lines, and never taking more names than out's room surely holds: give it
 * room for max plus 32 of the longest lines), deadline_us passed or *stop turned
 * true. Safe to call from several threads at once on one listing (each with
 * its own out); lines come in no particular order across calls. Not to be
 * mixed with listing_next (a listing_peek before is fine). 1 when names may remain, 0 once they ran out
 * (calls still running may add their last lines), -errno on an error. */
int listing_fill(struct listing *l, struct buf *out, size_t max, uint64_t deadline_us, const atomic_bool *stop);
/* Another reference to l (a job that may outlive its transfer holds one);
 * each listing_free drops one, the last frees. Returns l. */
struct listing *listing_hold(struct listing *l);
void listing_free(struct listing *l);

#endif
