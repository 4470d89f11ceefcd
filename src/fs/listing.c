/* listing: a directory streamed as LIST / NLST / MLSD lines
 * (listing_line.c makes them), with getdents64 into one buffer per listing,
 * in bounded chunks; nothing ever holds the whole directory. listing_fill
 * lets several threads make one listing's chunks at once.
 *
 * Cost per entry (bench/: LIST and MLSD of 10,000 and 100,000 entries):
 * the kernel's name lookup of the statx is most of it, so nothing else may
 * add much: one getdents64 call per 64 KiB of names, statx asking only for
 * what the lines show. listing_fill reads the next 64 KiB while the current
 * ones are stat'ed (two batches at most), never under the lock.
 *
 * Entries whose names contain CR or LF cannot be framed in a CRLF-separated
 * listing: they are silently left out. */
#include "listing.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "listing_impl.h"
#include "util.h"
#include "vfs_impl.h"
#include "wildmat.h"

/* getdents64 buffer: a 10,000-entry directory in a handful of calls. */
#define DENTS_BUF (64u * 1024u)

/* What one formatting call needs of its own: listing_fill runs in several
 * threads at once, listing_next uses the listing's. */
struct scratch {
	struct day_cache days;
	char target[TARGET_MAX];
};

struct listing {
	int fd; /* the directory (owned) */
	/* The cursor below, for listing_fill's concurrent callers. */
	pthread_mutex_t lock;
	enum listing_format fmt;
	struct listing_opts opts;
	atomic_uint refs;
	/* getdents64 output: the records in [pos, len) are not consumed yet.
	 * The one at pos is the next candidate once `ready` says it passed
	 * the name filters (listing_peek, or a chunk that was full). */
	char *dents;
	size_t len, pos;
	bool ready, eof;
	/* The getdents64 batch after dents, read by one listing_fill caller
	 * outside the lock while the others stat the current batch (the read
	 * takes 0.2-0.5 ms: under the lock it stalled them). AHEAD_READING:
	 * that caller owns `ahead`; AHEAD_READY: ahead_n is getdents64's
	 * result (0 the end, -errno an error), swapped in when dents runs out.
	 * Batches are read in turn, one at a time, so the order is getdents64's. */
	enum { AHEAD_NONE, AHEAD_READING, AHEAD_READY } ahead_state;
	char *ahead;
	ssize_t ahead_n;
	pthread_cond_t ahead_cond; /* AHEAD_READING ended */
	char *pattern;		   /* NULL: every entry (heap, from listing_set_pattern) */
	char *prefix;		   /* NLST: written before each name ("" or "dir/") */
	size_t pattern_n, prefix_n;
	struct scratch own; /* listing_next's */
	/* listing_add_entry's, listed once the directory's entries ran out */
	struct listing_extra {
		char *name;
		struct stat st;
	} * extra;
	size_t n_extra, extra_pos;
};

/* Entries that are never listed, decided on the name alone. */
static bool skip_name(const struct listing *l, const char *name, size_t n)
{
	if (name[0] == '.' && (n == 1 || (n == 2 && name[1] == '.')))
		return true;
	if (name[0] == '.' && vfs_name_internal(name)) /* never listed in any format */
		return true;
	if (listing_has_crlf(name, n))
		return true;
	for (size_t i = 0; i < l->n_extra && l->pos < l->len; i++) /* a directory entry an extra hides */
		if (strlen(l->extra[i].name) == n && memcmp(l->extra[i].name, name, n) == 0)
			return true;
	if (l->pattern) /* bounded: wildmat.h */
		return !wildmat_match((struct slice){ l->pattern, l->pattern_n }, (struct slice){ name, n }, NULL);
	return l->fmt != LISTING_MLSD && !l->opts.all && name[0] == '.';
}

struct entry {
	const char *name;
	size_t n;
	uint64_t ino;
	const struct stat *st; /* an extra's (listing_add_entry); NULL: statx it */
};

static void entry_at(const struct listing *l, struct entry *e)
{
	const struct dirent64 *d = (const struct dirent64 *)(l->dents + l->pos);
	size_t room = d->d_reclen - offsetof(struct dirent64, d_name);
	e->name = d->d_name;
	e->n = strnlen(d->d_name, room);
	e->ino = d->d_ino;
	e->st = NULL;
}

static void consume(struct listing *l)
{
	if (l->eof && l->pos >= l->len) {
		l->extra_pos++;
		l->ready = false;
		return;
	}
	const struct dirent64 *d = (const struct dirent64 *)(l->dents + l->pos);
	l->pos += d->d_reclen;
	l->ready = false;
}

/* 1 with *e set to the next entry to list (left in place until consume),
 * 0 at the end of the directory, -errno on a read error. */
static int next_candidate(struct listing *l, struct entry *e)
{
	for (;;) {
		if (l->pos >= l->len && l->eof) {
			if (l->extra_pos >= l->n_extra)
				return 0;
			const struct listing_extra *x = &l->extra[l->extra_pos];
			*e = (struct entry){ .name = x->name, .n = strlen(x->name), .ino = x->st.st_ino, .st = &x->st };
			if (l->ready || !skip_name(l, e->name, e->n)) {
				l->ready = true;
				return 1;
			}
			consume(l);
			continue;
		}
		if (l->pos >= l->len) {
			/* Only listing_fill reads ahead, and it calls us under
			 * the lock the reader publishes its batch under. */
			if (l->ahead_state == AHEAD_READING) {
				/* Another caller may take the batch meanwhile:
				 * look at the cursor again after the wait. */
				pthread_cond_wait(&l->ahead_cond, &l->lock);
				continue;
			}
			ssize_t n;
			if (l->ahead_state == AHEAD_READY) {
				char *t = l->dents;
				l->dents = l->ahead;
				l->ahead = t;
				l->ahead_state = AHEAD_NONE;
				n = l->ahead_n;
				if (n < 0)
					return (int)n;
			} else {
				if (!l->dents && !(l->dents = malloc(DENTS_BUF)))
					return -ENOMEM;
				n = getdents64(l->fd, l->dents, DENTS_BUF);
				if (n < 0)
					return -errno;
			}
			l->pos = 0;
			l->len = (size_t)n;
			if (n == 0) {
				l->eof = true;
				continue; /* then the extras (listing_add_entry) */
			}
		}
		entry_at(l, e);
		if (l->ready || !skip_name(l, e->name, e->n)) {
			l->ready = true;
			return 1;
		}
		consume(l);
	}
}

/* statx for what the lines show: no atime, ctime, birth time or blocks.
 * SECURITY: name is a single component from getdents64, and symlinks are
 * never followed: following one would reach outside the user's root
 * (openat2's RESOLVE_IN_ROOT does not apply here) and leak the target's
 * metadata. MLSD reports the link itself. */
static int stat_entry(const struct listing *l, int fd, const struct entry *e, struct stat *st)
{
	struct statx sx;
	unsigned mask = STATX_TYPE | STATX_MODE | STATX_SIZE | STATX_MTIME;
	if (l->fmt == LISTING_LIST)
		mask |= STATX_NLINK;
	if (l->opts.facts & FACT_UNIQUE)
		mask |= STATX_INO;
	if (statx(fd, e->name, AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT, mask, &sx) != 0)
		return -errno;
	st->st_mode = sx.stx_mode;
	st->st_nlink = sx.stx_nlink;
	st->st_size = (off_t)sx.stx_size;
	st->st_mtim.tv_sec = (time_t)sx.stx_mtime.tv_sec;
	st->st_mtim.tv_nsec = sx.stx_mtime.tv_nsec;
	st->st_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	st->st_ino = sx.stx_mask & STATX_INO ? sx.stx_ino : e->ino;
	return 0;
}

/* 0 appended, 1 skipped (vanished or unreadable), -errno otherwise. fd is
 * the directory (l's, or a caller's own descriptor of it). */
static int emit_entry(const struct listing *l, int fd, struct buf *out, const struct entry *e, struct scratch *sc)
{
	if (l->fmt == LISTING_NLST) {
		struct slice pcs[3] = { { l->prefix ? l->prefix : "", l->prefix_n },
					{ e->name, e->n },
					SLICE_LIT("\r\n") };
		return listing_append(out, pcs, ARRAY_LEN(pcs));
	}
	struct stat st;
	int r = 0;
	if (e->st)
		st = *e->st;
	else
		r = stat_entry(l, fd, e, &st);
	if (r)
		return r == -ENOMEM ? r : 1; /* gone since getdents64 (ENOENT) or unreadable: leave it out */
	if (l->fmt == LISTING_MLSD)
		return listing_fmt_facts(out, e->name, e->n, &st, NULL, false, l->opts.facts, l->opts.perms, &sc->days);
	const char *target = NULL;
	if (S_ISLNK(st.st_mode) && !e->st) {
		ssize_t n = readlinkat(fd, e->name, sc->target, sizeof(sc->target) - 1);
		if (n >= 0 && (size_t)n < sizeof(sc->target) - 1) {
			sc->target[n] = '\0';
			target = sc->target;
		}
	}
	return listing_fmt_list(out, e->name, e->n, &st, target, l->opts.now, &sc->days);
}

int listing_open(int dirfd, enum listing_format fmt, const struct listing_opts *o, struct listing **out)
{
	int r;
	struct listing *l = NULL;
	struct stat st;
	if (out)
		*out = NULL;
	if (dirfd < 0)
		return -EBADF;
	if (!out || (fmt != LISTING_LIST && fmt != LISTING_NLST && fmt != LISTING_MLSD)) {
		r = -EINVAL;
		goto fail;
	}
	/* getdents64 needs a directory opened for reading: refuse an O_PATH
	 * fd or a file here so the caller learns at once. */
	int fl = fcntl(dirfd, F_GETFL);
	if (fl < 0 || (fl & O_PATH)) {
		r = fl < 0 ? -errno : -EBADF;
		goto fail;
	}
	if (fstat(dirfd, &st) != 0 || !S_ISDIR(st.st_mode)) {
		r = -ENOTDIR;
		goto fail;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		r = -ENOMEM;
		goto fail;
	}
	l->fd = dirfd;
	(void)pthread_mutex_init(&l->lock, NULL);
	(void)pthread_cond_init(&l->ahead_cond, NULL);
	l->fmt = fmt;
	atomic_init(&l->refs, 1u);
	if (o) {
		l->opts = *o;
	} else {
		l->opts.facts = FACT_DEFAULT;
		l->opts.now = util_wall_s();
	}
	*out = l;
	return 0;
fail:
	(void)close(dirfd);
	return r;
}

int listing_set_pattern(struct listing *l, struct slice pattern, struct slice prefix)
{
	if (!l || l->pattern)
		return -EINVAL;
	/* SECURITY: the prefix is echoed in NLST lines, so it must not break
	 * their CRLF framing (proto refuses CR and LF anyway). */
	if (listing_has_crlf(prefix.p ? prefix.p : "", prefix.n))
		return -EINVAL;
	l->pattern = slice_dup(pattern);
	l->prefix = slice_dup(prefix);
	l->pattern_n = pattern.n;
	l->prefix_n = prefix.n;
	return 0;
}

int listing_add_entry(struct listing *l, const char *name, const struct stat *st)
{
	if (!l || l->dents || l->eof || !name[0] || strchr(name, '/'))
		return -EINVAL;
	struct listing_extra *x = realloc(l->extra, (l->n_extra + 1) * sizeof(*x));
	if (!x)
		return -ENOMEM;
	l->extra = x;
	x[l->n_extra].name = util_xstrdup(name);
	x[l->n_extra].st = *st;
	l->n_extra++;
	return 0;
}

int listing_peek(struct listing *l)
{
	struct entry e;
	if (!l)
		return -EINVAL;
	return next_candidate(l, &e);
}

/* A chunk never grows past max bytes unless its single entry is longer. The
 * entry that did not fit (budget or out's cap) is kept and starts the next
 * call; -ENOBUFS is returned only when not even one entry fits, and a retry
 * with more room resumes there. 1 means another entry was already read, but
 * it may vanish before it is stat'ed: the next call can then add nothing and
 * return 0. */
int listing_next(struct listing *l, struct buf *out, size_t max)
{
	if (!l || !out)
		return -EINVAL;
	size_t start = out->len;
	size_t emitted = 0;
	for (;;) {
		struct entry e;
		int r = next_candidate(l, &e);
		if (r <= 0)
			return r;
		if (emitted && out->len - start >= max)
			return 1;
		size_t before = out->len;
		r = emit_entry(l, l->fd, out, &e, &l->own);
		if (r < 0) {
			/* A full output buffer is not an error of the listing:
			 * the entry stays for the next call. */
			return (r == -ENOBUFS && emitted) ? 1 : r;
		}
		if (r == 0 && emitted && out->len - start > max) {
			/* Over the budget: take the line back (buf only ever
			 * appends at the end, so restoring len drops exactly it)
			 * and start the next chunk with it. */
			out->len = before;
			return 1;
		}
		consume(l);
		emitted += r == 0;
	}
}

/* listing_fill takes names in groups under the lock, then stats and
 * formats them without it, so two jobs on one listing stat in parallel. */
#define FILL_GROUP 32

struct named {
	struct entry e;
	char name[NAME_MAX + 1];
};

/* The longest line an entry named n bytes can make in l's format. */
static size_t line_bound(const struct listing *l, size_t n)
{
	if (l->fmt == LISTING_NLST)
		return l->prefix_n + n + 2;
	if (l->fmt == LISTING_MLSD)
		return FACTS_MAX + n + 2;
	return LIST_HEAD_MAX + n + 4 + TARGET_MAX + 2;
}

/* The AHEAD_READING caller: reads the batch after l->dents into l->ahead
 * and publishes it. */
static void read_next_batch(struct listing *l)
{
	ssize_t n = -ENOMEM;
	if (l->ahead || (l->ahead = malloc(DENTS_BUF))) {
		n = getdents64(l->fd, l->ahead, DENTS_BUF);
		if (n < 0)
			n = -errno;
	}
	pthread_mutex_lock(&l->lock);
	l->ahead_n = n;
	l->ahead_state = AHEAD_READY;
	pthread_cond_broadcast(&l->ahead_cond);
	pthread_mutex_unlock(&l->lock);
}

int listing_fill(struct listing *l, struct buf *out, size_t max, uint64_t deadline_us, const atomic_bool *stop)
{
	if (!l || !out)
		return -EINVAL;
	struct scratch *sc = malloc(sizeof(*sc) + FILL_GROUP * sizeof(struct named));
	if (!sc)
		return -ENOMEM;
	struct named *g = (struct named *)(sc + 1);
	sc->days.valid = false;
	/* A descriptor of our own: concurrent calls on one shared descriptor
	 * would bounce its reference count between the CPUs at every statx. */
	int fd = openat(l->fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		fd = l->fd;
	size_t start = out->len;
	int r = 1;
	while (r == 1 && out->len - start < max) {
		if ((deadline_us && util_now_us() >= deadline_us) ||
		    (stop && atomic_load_explicit(stop, memory_order_relaxed)))
			break;
		/* A group is only as large as out can surely take: names taken
		 * cannot be put back. */
		size_t k = 0, room = buf_room(out), need = 0;
		pthread_mutex_lock(&l->lock);
		while (k < FILL_GROUP && (r = next_candidate(l, &g[k].e)) == 1) {
			if (g[k].e.n > NAME_MAX) { /* no statx could find it */
				consume(l);
				continue;
			}
			need += line_bound(l, g[k].e.n);
			if (k && need > room)
				break;
			memcpy(g[k].name, g[k].e.name, g[k].e.n);
			g[k].name[g[k].e.n] = '\0';
			g[k].e.name = g[k].name;
			consume(l);
			k++;
		}
		/* Past the middle of a batch, the next one is read while this
		 * group is stat'ed and the other callers take theirs: they
		 * have half a batch to go on with. Not sooner: the first
		 * chunk (list_feed.c) must not wait for a second read. */
		bool read_ahead = r == 1 && !l->eof && l->dents && l->ahead_state == AHEAD_NONE && l->pos >= l->len / 2;
		if (read_ahead)
			l->ahead_state = AHEAD_READING;
		pthread_mutex_unlock(&l->lock);
		for (size_t i = 0; i < k && !(stop && atomic_load_explicit(stop, memory_order_relaxed)); i++) {
			int e = emit_entry(l, fd, out, &g[i].e, sc);
			if (e < 0) {
				r = e; /* the names taken are lost: the listing has failed */
				break;
			}
		}
		if (read_ahead) /* even after a failure: the claim must end */
			read_next_batch(l);
	}
	if (fd != l->fd)
		(void)close(fd);
	free(sc);
	return r;
}

int listing_read_all(struct listing *l, struct buf *out, size_t step)
{
	for (;;) {
		int more = listing_next(l, out, step);
		if (more < 0)
			return more == -ENOBUFS ? 1 : more;
		if (!more)
			return 0;
	}
}

struct listing *listing_hold(struct listing *l)
{
	if (l)
		atomic_fetch_add_explicit(&l->refs, 1u, memory_order_relaxed);
	return l;
}

void listing_free(struct listing *l)
{
	if (!l || atomic_fetch_sub_explicit(&l->refs, 1u, memory_order_acq_rel) > 1)
		return;
	(void)close(l->fd);
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->ahead_cond);
	free(l->dents);
	free(l->ahead);
	free(l->pattern);
	free(l->prefix);
	for (size_t i = 0; i < l->n_extra; i++)
		free(l->extra[i].name);
	free(l->extra);
	free(l);
}
