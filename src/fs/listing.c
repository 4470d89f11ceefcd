/* listing: LIST / NLST / MLSD / MLST lines.
 *
 * LIST mimics vsftpd's `ls -l` layout exactly, because every client's
 * parser (curl ftplistparser.c, lftp FtpListInfo.cc, FileZilla, Python
 * scripts) was tuned against it: owner and group are always "ftp" (users
 * are virtual), times are UTC, month names are English whatever the locale.
 * MLSD/MLST follow RFC 3659 §7. Directories are streamed with getdents64
 * into one buffer per listing, in bounded chunks; nothing ever holds the
 * whole directory.
 *
 * Cost per entry (bench/: LIST and MLSD of 10,000 and 100,000 entries):
 * the kernel's name lookup of the statx is most of it, so nothing else may
 * add much: one getdents64 call per 64 KiB of names, statx asking only for
 * what the lines show, and lines formatted without printf, gmtime_r (its
 * time zone lock) or divisions by a variable base; the calendar date of the
 * last day seen is kept, since the entries of a directory tend to share
 * their days.
 *
 * Names are raw bytes. A name containing CR or LF cannot be framed in a
 * CRLF-separated listing (a client would read the tail as a second entry),
 * so such entries are silently left out of streams and refused (-EINVAL)
 * by the single-line functions. */
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

#include "userstore.h"
#include "util.h"
#include "wildmat.h"

/* In-progress uploads are written under this prefix and renamed into place
 * on success; they are never listed in any format. vfs.c must use the same
 * prefix for its named temporaries. */
#define LISTING_UPLOAD_PREFIX ".ferry-upload."
/* Resumable partials (vfs.h): hidden the same way. */
#define LISTING_PARTIAL_PREFIX ".ferry-partial."

#define SIX_MONTHS_S INT64_C(15552000)
#define FUTURE_SLACK_S INT64_C(3600)
#define DAY_S INT64_C(86400)
/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: years always have four
 * digits, which both the LIST year column and the MLSD time-val need. */
#define TIME_MIN INT64_C(-62167219200)
#define TIME_MAX INT64_C(253402300799)
/* Longest symlink target shown (readlink content; PATH_MAX incl. NUL). */
#define TARGET_MAX 4096
/* getdents64 buffer: a 10,000-entry directory in a handful of calls. */
#define DENTS_BUF (64u * 1024u)

static const char month_names[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static const struct {
	unsigned bit;
	const char *name;
} fact_names[] = {
	{ FACT_TYPE, "type" }, { FACT_SIZE, "size" },	  { FACT_MODIFY, "modify" },
	{ FACT_PERM, "perm" }, { FACT_UNIQUE, "unique" }, { FACT_UNIX_MODE, "UNIX.mode" },
};

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
	char *pattern; /* NULL: every entry (heap, from listing_set_pattern) */
	char *prefix;  /* NLST: written before each name ("" or "dir/") */
	size_t pattern_n, prefix_n;
	struct scratch own; /* listing_next's */
};

static bool has_crlf_n(const char *s, size_t n)
{
	return memchr(s, '\r', n) != NULL || memchr(s, '\n', n) != NULL;
}

/* Appends all pieces or nothing, so a full buffer never holds half a line. */
static int append_pieces(struct buf *out, const struct slice *pcs, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		if (ckd_add(&total, total, pcs[i].n))
			return -ENOBUFS;
	int err = 0;
	char *dst = buf_reserve(out, total, &err);
	if (!dst)
		return err ? err : -ENOBUFS;
	for (size_t i = 0; i < n; i++) {
		if (pcs[i].n)
			memcpy(dst, pcs[i].p, pcs[i].n);
		dst += pcs[i].n;
	}
	buf_commit(out, total);
	return 0;
}

/* Days since 1970-01-01 → proleptic Gregorian date (H. Hinnant's
 * civil_from_days), exact for the clamped range. */
static void civil_from_days(int64_t z, struct utc *u)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	u->mday = doy - (153 * mp + 2) / 5 + 1;
	u->mon = mp < 10 ? mp + 3 : mp - 9;
	u->year = (int)((int64_t)yoe + era * 400 + (u->mon <= 2));
}

static struct utc utc_time(int64_t t, struct day_cache *c)
{
	if (t < TIME_MIN)
		t = TIME_MIN;
	if (t > TIME_MAX)
		t = TIME_MAX;
	int64_t day = t / DAY_S, sod = t % DAY_S;
	if (sod < 0) {
		sod += DAY_S;
		day--;
	}
	struct utc u;
	if (c && c->valid && c->day == day) {
		u = c->date;
	} else {
		civil_from_days(day, &u);
		if (c)
			*c = (struct day_cache){ .valid = true, .day = day, .date = u };
	}
	u.hour = (unsigned)(sod / 3600);
	u.min = (unsigned)(sod / 60 % 60);
	u.sec = (unsigned)(sod % 60);
	return u;
}

static void mode_string(mode_t m, char out[10])
{
	char t = '-';
	if (S_ISDIR(m))
		t = 'd';
	else if (S_ISLNK(m))
		t = 'l';
	else if (S_ISCHR(m))
		t = 'c';
	else if (S_ISBLK(m))
		t = 'b';
	else if (S_ISFIFO(m))
		t = 'p';
	else if (S_ISSOCK(m))
		t = 's';
	out[0] = t;
	out[1] = (m & S_IRUSR) ? 'r' : '-';
	out[2] = (m & S_IWUSR) ? 'w' : '-';
	if (m & S_ISUID)
		out[3] = (m & S_IXUSR) ? 's' : 'S';
	else
		out[3] = (m & S_IXUSR) ? 'x' : '-';
	out[4] = (m & S_IRGRP) ? 'r' : '-';
	out[5] = (m & S_IWGRP) ? 'w' : '-';
	if (m & S_ISGID)
		out[6] = (m & S_IXGRP) ? 's' : 'S';
	else
		out[6] = (m & S_IXGRP) ? 'x' : '-';
	out[7] = (m & S_IROTH) ? 'r' : '-';
	out[8] = (m & S_IWOTH) ? 'w' : '-';
	if (m & S_ISVTX)
		out[9] = (m & S_IXOTH) ? 't' : 'T';
	else
		out[9] = (m & S_IXOTH) ? 'x' : '-';
}

/* ls's rule: the time of day for entries modified within the last six
 * months (and at most an hour ahead, for clock skew), the year otherwise. */
static bool is_recent(int64_t mtime, int64_t now)
{
	int64_t age;
	if (ckd_sub(&age, now, mtime))
		return false;
	return age <= SIX_MONTHS_S && age >= -FUTURE_SLACK_S;
}

/* Field writers: each writes at dst and returns the end. The callers'
 * buffers are sized for the longest line head (every field at its widest),
 * so they check no bounds. */
static char *put_mem(char *dst, const char *s, size_t n)
{
	memcpy(dst, s, n);
	return dst + n;
}

/* v in decimal, right-aligned in at least width characters padded with pad. */
static char *put_dec(char *dst, uint64_t v, unsigned width, char pad)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n < width--)
		*dst++ = pad;
	return put_mem(dst, tmp + sizeof(tmp) - n, n);
}

static char *put_2(char *dst, unsigned v)
{
	dst[0] = (char)('0' + v / 10 % 10);
	dst[1] = (char)('0' + v % 10);
	return dst + 2;
}

static char *put_hex(char *dst, uint64_t v)
{
	char tmp[16];
	size_t n = 0;
	do {
		tmp[sizeof(tmp) - 1 - n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	return put_mem(dst, tmp + sizeof(tmp) - n, n);
}

/* The LIST head up to the name: at most 10+1+20+19+20+1+12+1 bytes. */
#define LIST_HEAD_MAX 96

static size_t list_head(char *h, const struct stat *st, int64_t now, struct day_cache *c)
{
	int64_t mtime = (int64_t)st->st_mtim.tv_sec;
	struct utc u = utc_time(mtime, c);
	char *p = h;
	mode_string(st->st_mode, p);
	p += 10;
	*p++ = ' ';
	/* vsftpd's columns: links %4, owner %-8, group %-8, size %8, then
	 * "Mon dd HH:MM" or "Mon dd  YYYY". */
	p = put_dec(p, (uint64_t)st->st_nlink, 4, ' ');
	p = put_mem(p, " ftp      ftp      ", 19);
	p = put_dec(p, st->st_size > 0 ? (uint64_t)st->st_size : 0, 8, ' ');
	*p++ = ' ';
	p = put_mem(p, month_names[u.mon - 1], 3);
	*p++ = ' ';
	p = put_dec(p, u.mday, 2, ' ');
	if (is_recent(mtime, now)) {
		*p++ = ' ';
		p = put_2(p, u.hour);
		*p++ = ':';
		p = put_2(p, u.min);
	} else {
		p = put_mem(p, "  ", 2);
		p = put_dec(p, (uint64_t)u.year, 4, '0');
	}
	*p++ = ' ';
	return (size_t)(p - h);
}

static int list_line(struct buf *out, const char *name, size_t name_n, const struct stat *st, const char *target,
		     int64_t now, struct day_cache *c)
{
	char head[LIST_HEAD_MAX];
	struct slice pcs[5];
	size_t np = 0;
	pcs[np++] = (struct slice){ head, list_head(head, st, now, c) };
	pcs[np++] = (struct slice){ name, name_n };
	/* A target with CR/LF would break framing too; the entry itself is
	 * still worth showing, so only the "-> target" part is left out. */
	if (target && S_ISLNK(st->st_mode)) {
		size_t tn = strlen(target);
		if (!has_crlf_n(target, tn)) {
			pcs[np++] = SLICE_LIT(" -> ");
			pcs[np++] = (struct slice){ target, tn };
		}
	}
	pcs[np++] = SLICE_LIT("\r\n");
	return append_pieces(out, pcs, np);
}

int listing_list_line(struct buf *out, const char *name, const struct stat *st, const char *target,
		      const struct listing_opts *o)
{
	if (!out || !name || !st)
		return -EINVAL;
	size_t n = strlen(name);
	if (has_crlf_n(name, n))
		return -EINVAL;
	return list_line(out, name, n, st, target, o ? o->now : util_wall_s(), NULL);
}

static const char *stat_type(mode_t m)
{
	if (S_ISDIR(m))
		return "dir";
	if (S_ISREG(m))
		return "file";
	/* RFC 3659 §7.5.1 allows OS-specific types. Reporting special files as
	 * "file" would invite a client to RETR a FIFO or a device. */
	if (S_ISLNK(m))
		return "OS.unix=symlink";
	if (S_ISFIFO(m))
		return "OS.unix=fifo";
	if (S_ISSOCK(m))
		return "OS.unix=socket";
	if (S_ISCHR(m))
		return "OS.unix=chr";
	if (S_ISBLK(m))
		return "OS.unix=blk";
	return "file";
}

/* RFC 3659 §7.5.5 perm letters from the user's PERM_* bits (the files all
 * belong to the service account, so the bits alone decide). */
static void perm_letters(bool is_dir, uint32_t perms, char out[16])
{
	size_t i = 0;
	if (is_dir) {
		out[i++] = 'e';
		if (perms & PERM_LIST)
			out[i++] = 'l';
		if (perms & PERM_WRITE)
			out[i++] = 'c';
		if (perms & PERM_MKDIR)
			out[i++] = 'm';
		if (perms & PERM_DELETE)
			out[i++] = 'd';
		if (perms & PERM_RENAME)
			out[i++] = 'f';
		if (perms & PERM_DELETE)
			out[i++] = 'p';
	} else {
		if (perms & PERM_READ)
			out[i++] = 'r';
		if (perms & PERM_WRITE) {
			out[i++] = 'a';
			out[i++] = 'w';
		}
		if (perms & PERM_DELETE)
			out[i++] = 'd';
		if (perms & PERM_RENAME)
			out[i++] = 'f';
	}
	out[i] = '\0';
}

/* The facts of a line, with the separating space: at most
 * 1 + 5+32+1 + 5+20+1 + 7+14+1 + 5+8+1 + 7+16+1+16+1 + 10+4+1 + 1 bytes. */
#define FACTS_MAX 192
#define TYPE_MAX 32

static size_t facts_text(char *t, const struct stat *st, const char *type, size_t type_n, bool mlst, unsigned facts,
			 uint32_t perms, struct day_cache *c)
{
	char *p = t;
	if (mlst)
		*p++ = ' ';
	if (facts & FACT_TYPE) {
		p = put_mem(p, "type=", 5);
		p = put_mem(p, type, type_n);
		*p++ = ';';
	}
	if ((facts & FACT_SIZE) && S_ISREG(st->st_mode)) {
		p = put_mem(p, "size=", 5);
		p = put_dec(p, st->st_size > 0 ? (uint64_t)st->st_size : 0, 1, '0');
		*p++ = ';';
	}
	if (facts & FACT_MODIFY) {
		struct utc u = utc_time((int64_t)st->st_mtim.tv_sec, c);
		p = put_mem(p, "modify=", 7);
		p = put_dec(p, (uint64_t)u.year, 4, '0');
		p = put_2(p, u.mon);
		p = put_2(p, u.mday);
		p = put_2(p, u.hour);
		p = put_2(p, u.min);
		p = put_2(p, u.sec);
		*p++ = ';';
	}
	if (facts & FACT_PERM) {
		char letters[16];
		perm_letters(S_ISDIR(st->st_mode), perms, letters);
		p = put_mem(p, "perm=", 5);
		p = put_mem(p, letters, strlen(letters));
		*p++ = ';';
	}
	if (facts & FACT_UNIQUE) {
		p = put_mem(p, "unique=", 7);
		p = put_hex(p, (uint64_t)st->st_dev);
		*p++ = 'U';
		p = put_hex(p, (uint64_t)st->st_ino);
		*p++ = ';';
	}
	if (facts & FACT_UNIX_MODE) {
		unsigned m = st->st_mode & 07777;
		p = put_mem(p, "UNIX.mode=", 10);
		for (int shift = 9; shift >= 0; shift -= 3)
			*p++ = (char)('0' + ((m >> shift) & 7));
		*p++ = ';';
	}
	/* Exactly one space between the facts and the name (RFC 3659 §7.2). */
	*p++ = ' ';
	return (size_t)(p - t);
}

static int facts_line(struct buf *out, const char *name, size_t name_n, const struct stat *st, const char *type,
		      bool mlst, unsigned facts, uint32_t perms, struct day_cache *c)
{
	if (!type)
		type = stat_type(st->st_mode);
	size_t type_n = strnlen(type, TYPE_MAX + 1);
	if (type_n > TYPE_MAX)
		return -EOVERFLOW;
	char text[FACTS_MAX];
	struct slice pcs[3] = { { text, facts_text(text, st, type, type_n, mlst, facts, perms, c) },
				{ name, name_n },
				SLICE_LIT("\r\n") };
	return append_pieces(out, pcs, ARRAY_LEN(pcs));
}

int listing_facts_line(struct buf *out, const char *name, const struct stat *st, const char *type, bool mlst,
		       const struct listing_opts *o)
{
	if (!out || !name || !st)
		return -EINVAL;
	size_t n = strlen(name);
	if (has_crlf_n(name, n))
		return -EINVAL;
	return facts_line(out, name, n, st, type, mlst, o ? o->facts : FACT_DEFAULT, o ? o->perms : 0, NULL);
}

/* Appends s to out[*n] when it fits below cap; false (nothing added) else. */
static bool put_bounded(char *out, size_t *n, size_t cap, const char *s)
{
	size_t k = strlen(s);
	if (k > cap - *n)
		return false;
	memcpy(out + *n, s, k);
	*n += k;
	return true;
}

void listing_feat_facts(unsigned selected, char *out, size_t outsz)
{
	if (!out || outsz == 0)
		return;
	size_t n = 0, cap = outsz - 1; /* room for the NUL */
	for (size_t i = 0; i < ARRAY_LEN(fact_names); i++) {
		char one[16];
		size_t k = strlen(fact_names[i].name);
		memcpy(one, fact_names[i].name, k);
		if (selected & fact_names[i].bit)
			one[k++] = '*';
		one[k++] = ';';
		one[k] = '\0';
		if (!put_bounded(out, &n, cap, one)) /* the text stops at the last whole fact */
			break;
	}
	out[n] = '\0';
}

unsigned listing_parse_facts(const char *arg, char *echo, size_t echosz)
{
	unsigned sel = 0;
	struct slice rest = slice_from_cstr(arg ? arg : "");
	while (rest.n) {
		struct slice tok;
		(void)slice_split(rest, ';', &tok, &rest);
		tok = slice_trim_spaces(tok);
		for (size_t i = 0; i < ARRAY_LEN(fact_names); i++)
			if (slice_eq_ci(tok, fact_names[i].name))
				sel |= fact_names[i].bit;
		/* Anything else ("frogs", "create", "lang") is silently dropped,
		 * as RFC 3659 §7.9 requires. */
	}
	if (echo && echosz) {
		size_t n = 0, cap = echosz - 1; /* room for the NUL */
		for (size_t i = 0; i < ARRAY_LEN(fact_names); i++) {
			if (!(sel & fact_names[i].bit))
				continue;
			char one[16];
			size_t k = strlen(fact_names[i].name);
			memcpy(one, fact_names[i].name, k);
			one[k++] = ';';
			one[k] = '\0';
			if (!put_bounded(echo, &n, cap, one)) /* whole facts only */
				break;
		}
		echo[n] = '\0';
	}
	return sel;
}

/* Entries that are never listed, decided on the name alone. */
static bool skip_name(const struct listing *l, const char *name, size_t n)
{
	if (name[0] == '.' && (n == 1 || (n == 2 && name[1] == '.')))
		return true;
	if (name[0] == '.' && n > 8 && name[1] == 'f' &&
	    (strncmp(name, LISTING_UPLOAD_PREFIX, sizeof(LISTING_UPLOAD_PREFIX) - 1) == 0 ||
	     strncmp(name, LISTING_PARTIAL_PREFIX, sizeof(LISTING_PARTIAL_PREFIX) - 1) == 0))
		return true;
	if (has_crlf_n(name, n))
		return true;
	if (l->pattern) /* bounded: wildmat.h */
		return !wildmat_match((struct slice){ l->pattern, l->pattern_n }, (struct slice){ name, n }, NULL);
	return l->fmt != LISTING_MLSD && !l->opts.all && name[0] == '.';
}

struct entry {
	const char *name;
	size_t n;
	uint64_t ino;
};

static void entry_at(const struct listing *l, struct entry *e)
{
	const struct dirent64 *d = (const struct dirent64 *)(l->dents + l->pos);
	size_t room = d->d_reclen - offsetof(struct dirent64, d_name);
	e->name = d->d_name;
	e->n = strnlen(d->d_name, room);
	e->ino = d->d_ino;
}

static void consume(struct listing *l)
{
	const struct dirent64 *d = (const struct dirent64 *)(l->dents + l->pos);
	l->pos += d->d_reclen;
	l->ready = false;
}

/* 1 with *e set to the next entry to list (left in place until consume),
 * 0 at the end of the directory, -errno on a read error. */
static int next_candidate(struct listing *l, struct entry *e)
{
	for (;;) {
		if (l->pos >= l->len) {
			if (l->eof)
				return 0;
			if (!l->dents && !(l->dents = malloc(DENTS_BUF)))
				return -ENOMEM;
			ssize_t n = getdents64(l->fd, l->dents, DENTS_BUF);
			if (n < 0)
				return -errno;
			l->pos = 0;
			l->len = (size_t)n;
			if (n == 0) {
				l->eof = true;
				return 0;
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
		return append_pieces(out, pcs, ARRAY_LEN(pcs));
	}
	struct stat st;
	int r = stat_entry(l, fd, e, &st);
	if (r)
		return r == -ENOMEM ? r : 1; /* gone since getdents64 (ENOENT) or unreadable: leave it out */
	if (l->fmt == LISTING_MLSD)
		return facts_line(out, e->name, e->n, &st, NULL, false, l->opts.facts, l->opts.perms, &sc->days);
	const char *target = NULL;
	if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlinkat(fd, e->name, sc->target, sizeof(sc->target) - 1);
		if (n >= 0 && (size_t)n < sizeof(sc->target) - 1) {
			sc->target[n] = '\0';
			target = sc->target;
		}
	}
	return list_line(out, e->name, e->n, &st, target, l->opts.now, &sc->days);
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
	if (has_crlf_n(prefix.p ? prefix.p : "", prefix.n))
		return -EINVAL;
	l->pattern = slice_dup(pattern);
	l->prefix = slice_dup(prefix);
	l->pattern_n = pattern.n;
	l->prefix_n = prefix.n;
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
		pthread_mutex_unlock(&l->lock);
		for (size_t i = 0; i < k && !(stop && atomic_load_explicit(stop, memory_order_relaxed)); i++) {
			int e = emit_entry(l, fd, out, &g[i].e, sc);
			if (e < 0) {
				r = e; /* the names taken are lost: the listing has failed */
				break;
			}
		}
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
	free(l->dents);
	free(l->pattern);
	free(l->prefix);
	free(l);
}
