/* listing: LIST / NLST / MLSD / MLST lines.
 *
 * LIST mimics vsftpd's `ls -l` layout exactly, because every client's
 * parser (curl ftplistparser.c, lftp FtpListInfo.cc, FileZilla, Python
 * scripts) was tuned against it: owner and group are always "ftp" (users
 * are virtual), times are UTC, month names are English whatever the locale.
 * MLSD/MLST follow RFC 3659 §7. Directories are streamed with readdir in
 * bounded chunks; nothing ever holds the whole directory.
 *
 * Names are raw bytes. A name containing CR or LF cannot be framed in a
 * CRLF-separated listing (a client would read the tail as a second entry),
 * so such entries are silently left out of streams and refused (-EINVAL)
 * by the single-line functions. */
#include "listing.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
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
/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: years always have four
 * digits, which both the LIST year column and the MLSD time-val need. */
#define TIME_MIN INT64_C(-62167219200)
#define TIME_MAX INT64_C(253402300799)
/* Longest symlink target shown (readlink content; PATH_MAX incl. NUL). */
#define TARGET_MAX 4096

static const char month_names[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static const struct {
	unsigned bit;
	const char *name;
} fact_names[] = {
	{ FACT_TYPE, "type" }, { FACT_SIZE, "size" },	  { FACT_MODIFY, "modify" },
	{ FACT_PERM, "perm" }, { FACT_UNIQUE, "unique" }, { FACT_UNIX_MODE, "UNIX.mode" },
};

struct listing {
	DIR *dir;
	enum listing_format fmt;
	struct listing_opts opts;
	/* An entry read but not yet emitted (the chunk was full). It points into
	 * the DIR's own buffer, which stays valid until the next readdir. */
	struct dirent *pending;
	char *pattern; /* NULL: every entry (heap, from listing_set_pattern) */
	char *prefix;  /* NLST: written before each name ("" or "dir/") */
	size_t pattern_n, prefix_n;
	char target[TARGET_MAX];
};

static bool has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
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

static struct tm utc_time(int64_t t)
{
	struct tm tm;
	if (t < TIME_MIN)
		t = TIME_MIN;
	if (t > TIME_MAX)
		t = TIME_MAX;
	time_t tt = (time_t)t;
	if (!gmtime_r(&tt, &tm)) {
		/* Cannot happen inside the clamped range; be deterministic anyway. */
		memset(&tm, 0, sizeof(tm));
		tm.tm_mday = 1;
		tm.tm_year = 70;
	}
	return tm;
}

static void mode_string(mode_t m, char out[11])
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
	out[10] = '\0';
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

/* Line formatting without printf: a listing formats tens of thousands of
 * lines, and vsnprintf per field was most of the CPU time of a LIST or
 * MLSD (bench/). Callers size the buffers for the longest possible line. */
struct fbuf {
	char *p;
	size_t n, cap;
	bool overflow;
};

static void put_mem(struct fbuf *f, const char *s, size_t n)
{
	if (f->overflow || n > f->cap - f->n) {
		f->overflow = true;
		return;
	}
	memcpy(f->p + f->n, s, n);
	f->n += n;
}

static void put_str(struct fbuf *f, const char *s)
{
	put_mem(f, s, strlen(s));
}

/* v in base 10 or 16, at least width digits/characters: padded on the left
 * with pad (' ' or '0'). */
static void put_uint(struct fbuf *f, uint64_t v, unsigned base, unsigned width, char pad)
{
	char tmp[24];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (sizeof(tmp) - i < width && i > 0)
		tmp[--i] = pad;
	put_mem(f, tmp + i, sizeof(tmp) - i);
}

int listing_list_line(struct buf *out, const char *name, const struct stat *st, const char *target,
		      const struct listing_opts *o)
{
	if (!out || !name || !st)
		return -EINVAL;
	if (has_crlf(name))
		return -EINVAL;
	int64_t now = o ? o->now : util_wall_s();
	int64_t mtime = (int64_t)st->st_mtim.tv_sec;
	struct tm tm = utc_time(mtime);
	char mode[11];
	mode_string(st->st_mode, mode);

	/* vsftpd's columns: links %4, owner %-8, group %-8, size %8, then
	 * "Mon dd HH:MM" or "Mon dd  YYYY". */
	char head[128];
	struct fbuf f = { .p = head, .cap = sizeof(head) };
	put_mem(&f, mode, 10);
	put_mem(&f, " ", 1);
	put_uint(&f, (uint64_t)st->st_nlink, 10, 4, ' ');
	put_mem(&f, " ftp      ftp      ", 19);
	put_uint(&f, st->st_size > 0 ? (uint64_t)st->st_size : 0, 10, 8, ' ');
	put_mem(&f, " ", 1);
	put_mem(&f, month_names[tm.tm_mon], 3);
	put_mem(&f, " ", 1);
	put_uint(&f, (uint64_t)tm.tm_mday, 10, 2, ' ');
	if (is_recent(mtime, now)) {
		put_mem(&f, " ", 1);
		put_uint(&f, (uint64_t)tm.tm_hour, 10, 2, '0');
		put_mem(&f, ":", 1);
		put_uint(&f, (uint64_t)tm.tm_min, 10, 2, '0');
	} else {
		put_mem(&f, "  ", 2);
		put_uint(&f, (uint64_t)(tm.tm_year + 1900), 10, 4, '0');
	}
	put_mem(&f, " ", 1);
	if (f.overflow)
		return -EOVERFLOW;

	struct slice pcs[5];
	size_t np = 0;
	pcs[np++] = (struct slice){ head, f.n };
	pcs[np++] = slice_from_cstr(name);
	/* A target with CR/LF would break framing too; the entry itself is
	 * still worth showing, so only the "-> target" part is left out. */
	if (target && S_ISLNK(st->st_mode) && !has_crlf(target)) {
		pcs[np++] = SLICE_LIT(" -> ");
		pcs[np++] = slice_from_cstr(target);
	}
	pcs[np++] = SLICE_LIT("\r\n");
	return append_pieces(out, pcs, np);
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

int listing_facts_line(struct buf *out, const char *name, const struct stat *st, const char *type, bool mlst,
		       const struct listing_opts *o)
{
	if (!out || !name || !st)
		return -EINVAL;
	if (has_crlf(name))
		return -EINVAL;
	unsigned facts = o ? o->facts : FACT_DEFAULT;
	uint32_t perms = o ? o->perms : 0;
	char text[320];
	struct fbuf f = { .p = text, .cap = sizeof(text) };
	text[0] = '\0';

	if (mlst)
		put_mem(&f, " ", 1);
	if (facts & FACT_TYPE) {
		put_mem(&f, "type=", 5);
		put_str(&f, type ? type : stat_type(st->st_mode));
		put_mem(&f, ";", 1);
	}
	if ((facts & FACT_SIZE) && S_ISREG(st->st_mode)) {
		put_mem(&f, "size=", 5);
		put_uint(&f, st->st_size > 0 ? (uint64_t)st->st_size : 0, 10, 1, '0');
		put_mem(&f, ";", 1);
	}
	if (facts & FACT_MODIFY) {
		struct tm tm = utc_time((int64_t)st->st_mtim.tv_sec);
		put_mem(&f, "modify=", 7);
		put_uint(&f, (uint64_t)(tm.tm_year + 1900), 10, 4, '0');
		put_uint(&f, (uint64_t)(tm.tm_mon + 1), 10, 2, '0');
		put_uint(&f, (uint64_t)tm.tm_mday, 10, 2, '0');
		put_uint(&f, (uint64_t)tm.tm_hour, 10, 2, '0');
		put_uint(&f, (uint64_t)tm.tm_min, 10, 2, '0');
		put_uint(&f, (uint64_t)tm.tm_sec, 10, 2, '0');
		put_mem(&f, ";", 1);
	}
	if (facts & FACT_PERM) {
		char p[16];
		perm_letters(S_ISDIR(st->st_mode), perms, p);
		put_mem(&f, "perm=", 5);
		put_str(&f, p);
		put_mem(&f, ";", 1);
	}
	if (facts & FACT_UNIQUE) {
		put_mem(&f, "unique=", 7);
		put_uint(&f, (uint64_t)st->st_dev, 16, 1, '0');
		put_mem(&f, "U", 1);
		put_uint(&f, (uint64_t)st->st_ino, 16, 1, '0');
		put_mem(&f, ";", 1);
	}
	if (facts & FACT_UNIX_MODE) {
		put_mem(&f, "UNIX.mode=", 10);
		put_uint(&f, (uint64_t)(st->st_mode & 07777), 8, 4, '0');
		put_mem(&f, ";", 1);
	}
	/* Exactly one space between the facts and the name (RFC 3659 §7.2). */
	put_mem(&f, " ", 1);
	if (f.overflow)
		return -EOVERFLOW;

	struct slice pcs[3] = { { text, f.n }, slice_from_cstr(name), SLICE_LIT("\r\n") };
	return append_pieces(out, pcs, ARRAY_LEN(pcs));
}

void listing_feat_facts(unsigned selected, char *out, size_t outsz)
{
	if (!out || outsz == 0)
		return;
	struct fbuf f = { .p = out, .cap = outsz - 1 }; /* room for the NUL */
	for (size_t i = 0; i < ARRAY_LEN(fact_names) && !f.overflow; i++) {
		size_t before = f.n;
		put_str(&f, fact_names[i].name);
		if (selected & fact_names[i].bit)
			put_mem(&f, "*", 1);
		put_mem(&f, ";", 1);
		if (f.overflow) /* the text stops at the last whole fact */
			f.n = before;
	}
	out[f.n] = '\0';
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
		struct fbuf f = { .p = echo, .cap = echosz - 1 }; /* room for the NUL */
		for (size_t i = 0; i < ARRAY_LEN(fact_names) && !f.overflow; i++) {
			if (!(sel & fact_names[i].bit))
				continue;
			size_t before = f.n;
			put_str(&f, fact_names[i].name);
			put_mem(&f, ";", 1);
			if (f.overflow) /* whole facts only */
				f.n = before;
		}
		echo[f.n] = '\0';
	}
	return sel;
}

/* Entries that are never listed, decided on the name alone. */
static bool skip_name(const struct listing *l, const char *name)
{
	if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
		return true;
	if (strncmp(name, LISTING_UPLOAD_PREFIX, sizeof(LISTING_UPLOAD_PREFIX) - 1) == 0 ||
	    strncmp(name, LISTING_PARTIAL_PREFIX, sizeof(LISTING_PARTIAL_PREFIX) - 1) == 0)
		return true;
	if (has_crlf(name))
		return true;
	if (l->pattern) /* bounded: wildmat.h */
		return !wildmat_match((struct slice){ l->pattern, l->pattern_n }, slice_from_cstr(name), NULL);
	return l->fmt != LISTING_MLSD && !l->opts.all && name[0] == '.';
}

/* 1 with *de set, 0 at the end of the directory, -errno on a read error. */
static int next_candidate(struct listing *l, struct dirent **de)
{
	if (l->pending) {
		*de = l->pending;
		l->pending = NULL;
		return 1;
	}
	for (;;) {
		errno = 0;
		struct dirent *d = readdir(l->dir);
		if (!d)
			return errno ? -errno : 0;
		if (skip_name(l, d->d_name))
			continue;
		*de = d;
		return 1;
	}
}

/* 0 appended, 1 skipped (vanished or unreadable), -errno otherwise. */
static int emit_entry(struct listing *l, struct buf *out, const char *name)
{
	if (l->fmt == LISTING_NLST) {
		struct slice pcs[3] = { { l->prefix ? l->prefix : "", l->prefix_n },
					slice_from_cstr(name),
					SLICE_LIT("\r\n") };
		return append_pieces(out, pcs, ARRAY_LEN(pcs));
	}
	int dfd = dirfd(l->dir);
	struct stat st;
	/* SECURITY: name is a single component from readdir, and symlinks are
	 * never followed: following one with fstatat would reach outside the
	 * user's root (openat2's RESOLVE_IN_ROOT does not apply here) and leak
	 * the target's metadata. MLSD reports the link itself. */
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOMEM)
			return -ENOMEM;
		return 1; /* gone since readdir (ENOENT) or unreadable: leave it out */
	}
	int r;
	if (l->fmt == LISTING_LIST) {
		const char *target = NULL;
		if (S_ISLNK(st.st_mode)) {
			ssize_t n = readlinkat(dfd, name, l->target, sizeof(l->target) - 1);
			if (n >= 0 && (size_t)n < sizeof(l->target) - 1) {
				l->target[n] = '\0';
				target = l->target;
			}
		}
		r = listing_list_line(out, name, &st, target, &l->opts);
	} else {
		r = listing_facts_line(out, name, &st, NULL, false, &l->opts);
	}
	if (r == -EINVAL)
		return 1;
	return r;
}

int listing_open(int dirfd, enum listing_format fmt, const struct listing_opts *o, struct listing **out)
{
	int r;
	struct listing *l = NULL;
	if (out)
		*out = NULL;
	if (dirfd < 0)
		return -EBADF;
	if (!out || (fmt != LISTING_LIST && fmt != LISTING_NLST && fmt != LISTING_MLSD)) {
		r = -EINVAL;
		goto fail;
	}
	/* fdopendir accepts an O_PATH fd and only readdir would fail on it:
	 * refuse it here so the caller learns at once. */
	int fl = fcntl(dirfd, F_GETFL);
	if (fl < 0 || (fl & O_PATH)) {
		r = fl < 0 ? -errno : -EBADF;
		goto fail;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		r = -ENOMEM;
		goto fail;
	}
	l->dir = fdopendir(dirfd);
	if (!l->dir) {
		r = -errno;
		goto fail;
	}
	l->fmt = fmt;
	if (o) {
		l->opts = *o;
	} else {
		l->opts.facts = FACT_DEFAULT;
		l->opts.now = util_wall_s();
	}
	*out = l;
	return 0;
fail:
	free(l);
	(void)close(dirfd);
	return r;
}

int listing_set_pattern(struct listing *l, struct slice pattern, struct slice prefix)
{
	if (!l || l->pattern)
		return -EINVAL;
	/* SECURITY: the prefix is echoed in NLST lines, so it must not break
	 * their CRLF framing (proto refuses CR and LF anyway). */
	if (memchr(prefix.p ? prefix.p : "", '\r', prefix.n) || memchr(prefix.p ? prefix.p : "", '\n', prefix.n))
		return -EINVAL;
	l->pattern = slice_dup(pattern);
	l->prefix = slice_dup(prefix);
	l->pattern_n = pattern.n;
	l->prefix_n = prefix.n;
	return 0;
}

int listing_peek(struct listing *l)
{
	struct dirent *de = NULL;
	if (!l)
		return -EINVAL;
	int r = next_candidate(l, &de);
	if (r == 1)
		l->pending = de;
	return r;
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
		struct dirent *de = NULL;
		int r = next_candidate(l, &de);
		if (r <= 0)
			return r;
		if (emitted && out->len - start >= max) {
			l->pending = de;
			return 1;
		}
		size_t before = out->len;
		r = emit_entry(l, out, de->d_name);
		if (r == 1)
			continue;
		if (r < 0) {
			/* A full output buffer is not an error of the listing:
			 * keep the entry for the next call. */
			if (r == -ENOBUFS)
				l->pending = de;
			return (r == -ENOBUFS && emitted) ? 1 : r;
		}
		emitted++;
		if (emitted > 1 && out->len - start > max) {
			/* Over the budget: take the line back (buf only ever
			 * appends at the end, so restoring len drops exactly it)
			 * and start the next chunk with it. */
			out->len = before;
			l->pending = de;
			return 1;
		}
	}
}

void listing_free(struct listing *l)
{
	if (!l)
		return;
	if (l->dir)
		(void)closedir(l->dir);
	free(l->pattern);
	free(l->prefix);
	free(l);
}
