/* listing_line: the LIST / MLSD / MLST lines, FEAT's MLST facts and the
 * OPTS MLST parser.
 *
 * LIST mimics vsftpd's `ls -l` layout exactly, because every client's
 * parser (curl ftplistparser.c, lftp FtpListInfo.cc, FileZilla, Python
 * scripts) was tuned against it: owner and group are always "ftp" (users
 * are virtual), times are UTC, month names are English whatever the locale.
 * MLSD/MLST follow RFC 3659 §7.
 *
 * A listing formats a line per entry, so lines are made without printf,
 * gmtime_r (its time zone lock) or divisions by a variable base, and the
 * calendar date of the last day seen is kept (a directory's entries tend to
 * share their days).
 *
 * Names are raw bytes. A name containing CR or LF cannot be framed in a
 * CRLF-separated listing (a client would read the tail as a second entry),
 * so the single-line functions refuse it (-EINVAL). */
#include "listing.h"

#include <errno.h>
#include <string.h>

#include "listing_impl.h"
#include "userstore.h"
#include "util.h"

#define SIX_MONTHS_S INT64_C(15552000)
#define FUTURE_SLACK_S INT64_C(3600)
#define DAY_S INT64_C(86400)
/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: years always have four
 * digits, which both the LIST year column and the MLSD time-val need. */
#define TIME_MIN INT64_C(-62167219200)
#define TIME_MAX INT64_C(253402300799)

static const char month_names[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static const struct {
	unsigned bit;
	const char *name;
} fact_names[] = {
	{ FACT_TYPE, "type" }, { FACT_SIZE, "size" },	  { FACT_MODIFY, "modify" },
	{ FACT_PERM, "perm" }, { FACT_UNIQUE, "unique" }, { FACT_UNIX_MODE, "UNIX.mode" },
};

bool listing_has_crlf(const char *s, size_t n)
{
	return memchr(s, '\r', n) != NULL || memchr(s, '\n', n) != NULL;
}

/* Appends all pieces or nothing, so a full buffer never holds half a line. */
int listing_append(struct buf *out, const struct slice *pcs, size_t n)
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
	/* Owner, group, others: rwx, the execute column showing set-user-ID,
	 * set-group-ID and sticky as s/S, s/S, t/T like ls. */
	static const struct {
		mode_t r, w, x, special;
		char both, special_only;
	} triads[3] = {
		{ S_IRUSR, S_IWUSR, S_IXUSR, S_ISUID, 's', 'S' },
		{ S_IRGRP, S_IWGRP, S_IXGRP, S_ISGID, 's', 'S' },
		{ S_IROTH, S_IWOTH, S_IXOTH, S_ISVTX, 't', 'T' },
	};
	for (size_t i = 0; i < 3; i++) {
		char *o = out + 1 + 3 * i;
		o[0] = (m & triads[i].r) ? 'r' : '-';
		o[1] = (m & triads[i].w) ? 'w' : '-';
		if (m & triads[i].special)
			o[2] = (m & triads[i].x) ? triads[i].both : triads[i].special_only;
		else
			o[2] = (m & triads[i].x) ? 'x' : '-';
	}
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

int listing_fmt_list(struct buf *out, const char *name, size_t name_n, const struct stat *st, const char *target,
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
		if (!listing_has_crlf(target, tn)) {
			pcs[np++] = SLICE_LIT(" -> ");
			pcs[np++] = (struct slice){ target, tn };
		}
	}
	pcs[np++] = SLICE_LIT("\r\n");
	return listing_append(out, pcs, np);
}

int listing_list_line(struct buf *out, const char *name, const struct stat *st, const char *target,
		      const struct listing_opts *o)
{
	if (!out || !name || !st)
		return -EINVAL;
	size_t n = strlen(name);
	if (listing_has_crlf(name, n))
		return -EINVAL;
	return listing_fmt_list(out, name, n, st, target, o ? o->now : util_wall_s(), NULL);
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

int listing_fmt_facts(struct buf *out, const char *name, size_t name_n, const struct stat *st, const char *type,
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
	return listing_append(out, pcs, ARRAY_LEN(pcs));
}

int listing_facts_line(struct buf *out, const char *name, const struct stat *st, const char *type, bool mlst,
		       const struct listing_opts *o)
{
	if (!out || !name || !st)
		return -EINVAL;
	size_t n = strlen(name);
	if (listing_has_crlf(name, n))
		return -EINVAL;
	return listing_fmt_facts(out, name, n, st, type, mlst, o ? o->facts : FACT_DEFAULT, o ? o->perms : 0, NULL);
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
