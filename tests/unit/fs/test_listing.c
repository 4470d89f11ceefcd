/* Unit tests for src/fs/listing.c and listing_line.c: exact LIST / NLST /
 * MLSD / MLST lines (the strings clients parse), OPTS MLST fact selection,
 * and streaming of real directories (filters, odd names, chunking, 100,000
 * entries, two threads filling one listing). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "userstore.h"
#include "buf.h"
#include "listing.h"
#include "util.h"

/* 2023-11-24 06:28:00 UTC */
#define T0 INT64_C(1700807280)
#define SIX_MONTHS INT64_C(15552000)

static void assert_buf(const struct buf *b, const char *want)
{
	size_t n = strlen(want);
	if (b->len != n || (n && memcmp(buf_data(b), want, n) != 0)) {
		print_error("got  [%.*s]\nwant [%s]\n", (int)b->len, b->len ? buf_data(b) : "", want);
		fail();
	}
}

static struct stat mkst(mode_t mode, unsigned long nlink, long long size, int64_t mtime)
{
	struct stat st;
	memset(&st, 0, sizeof(st));
	st.st_mode = mode;
	st.st_nlink = (nlink_t)nlink;
	st.st_size = (off_t)size;
	st.st_mtim.tv_sec = (time_t)mtime;
	st.st_dev = 0x801;
	st.st_ino = 0x1234;
	return st;
}

static struct listing_opts mkopts(int64_t now, unsigned facts, uint32_t perms)
{
	return (struct listing_opts){ .all = false, .facts = facts, .perms = perms, .now = now };
}

/* One LIST line for st/name, compared exactly. */
static void check_list(const struct stat *st, const char *name, const char *target, int64_t now, const char *want)
{
	struct buf b;
	buf_init(&b, 1u << 16);
	struct listing_opts o = mkopts(now, FACT_DEFAULT, PERM_ALL);
	assert_int_equal(listing_list_line(&b, name, st, target, &o), 0);
	assert_buf(&b, want);
	buf_free(&b);
}

static void check_facts(const struct stat *st, const char *name, const char *type, bool mlst, unsigned facts,
			uint32_t perms, const char *want)
{
	struct buf b;
	buf_init(&b, 1u << 16);
	struct listing_opts o = mkopts(T0, facts, perms);
	assert_int_equal(listing_facts_line(&b, name, st, type, mlst, &o), 0);
	assert_buf(&b, want);
	buf_free(&b);
}

/* ---- LIST lines ---- */

static void test_list_vsftpd_layout(void **state)
{
	(void)state;
	struct stat st = mkst(S_IFREG | 0644, 1, 1000, T0);
	/* The exact vsftpd line every client parses. */
	check_list(&st, "f", NULL, T0 + 60, "-rw-r--r--    1 ftp      ftp          1000 Nov 24 06:28 f\r\n");
	/* Wide values just widen their column. */
	st = mkst(S_IFREG | 0600, 12345, 12345678901LL, T0);
	check_list(&st, "big", NULL, T0, "-rw------- 12345 ftp      ftp      12345678901 Nov 24 06:28 big\r\n");
	st = mkst(S_IFREG | 0644, 1, 0, T0);
	check_list(&st, "empty", NULL, T0, "-rw-r--r--    1 ftp      ftp             0 Nov 24 06:28 empty\r\n");
}

static void test_list_dates(void **state)
{
	(void)state;
	struct stat st = mkst(S_IFREG | 0644, 1, 7, T0);
	/* Exactly six months old: still the time of day; one second more: the year. */
	check_list(&st, "f", NULL, T0 + SIX_MONTHS, "-rw-r--r--    1 ftp      ftp             7 Nov 24 06:28 f\r\n");
	check_list(&st, "f", NULL, T0 + SIX_MONTHS + 1,
		   "-rw-r--r--    1 ftp      ftp             7 Nov 24  2023 f\r\n");
	/* Up to an hour in the future is clock skew; further is shown with the year. */
	check_list(&st, "f", NULL, T0 - 3600, "-rw-r--r--    1 ftp      ftp             7 Nov 24 06:28 f\r\n");
	check_list(&st, "f", NULL, T0 - 3601, "-rw-r--r--    1 ftp      ftp             7 Nov 24  2023 f\r\n");
	/* Old file (2015-03-05 17:09:45): day padded with a space, two spaces before the year. */
	st = mkst(S_IFREG | 0644, 1, 7, INT64_C(1425575385));
	check_list(&st, "old", NULL, T0, "-rw-r--r--    1 ftp      ftp             7 Mar  5  2015 old\r\n");
	/* Recent with a one-digit day (2024-01-05 08:07 UTC). */
	st = mkst(S_IFREG | 0644, 1, 7, INT64_C(1704442020));
	check_list(&st, "jan", NULL, INT64_C(1704442020) + 86400,
		   "-rw-r--r--    1 ftp      ftp             7 Jan  5 08:07 jan\r\n");
	/* Before the epoch, and absurdly far in the future (clamped to 9999). */
	st = mkst(S_IFREG | 0644, 1, 7, -INT64_C(86400) * 365);
	check_list(&st, "pre", NULL, T0, "-rw-r--r--    1 ftp      ftp             7 Jan  1  1969 pre\r\n");
	st = mkst(S_IFREG | 0644, 1, 7, INT64_C(1) << 60);
	check_list(&st, "far", NULL, T0, "-rw-r--r--    1 ftp      ftp             7 Dec 31  9999 far\r\n");
	/* now far from mtime must not overflow the age computation. */
	st = mkst(S_IFREG | 0644, 1, 7, T0);
	check_list(&st, "f", NULL, INT64_MIN, "-rw-r--r--    1 ftp      ftp             7 Nov 24  2023 f\r\n");
	check_list(&st, "f", NULL, INT64_MAX, "-rw-r--r--    1 ftp      ftp             7 Nov 24  2023 f\r\n");
}

static void test_list_modes(void **state)
{
	(void)state;
	struct {
		mode_t mode;
		const char *want;
	} cases[] = {
		{ S_IFREG | 04755, "-rwsr-xr-x" }, { S_IFREG | 04644, "-rwSr--r--" }, { S_IFREG | 02755, "-rwxr-sr-x" },
		{ S_IFREG | 02744, "-rwxr-Sr--" }, { S_IFDIR | 01777, "drwxrwxrwt" }, { S_IFDIR | 01770, "drwxrwx--T" },
		{ S_IFREG | 07777, "-rwsrwsrwt" }, { S_IFREG | 07000, "---S--S--T" }, { S_IFREG | 0, "----------" },
		{ S_IFCHR | 0620, "crw--w----" },  { S_IFBLK | 0660, "brw-rw----" },  { S_IFIFO | 0644, "prw-r--r--" },
		{ S_IFSOCK | 0755, "srwxr-xr-x" }, { S_IFLNK | 0777, "lrwxrwxrwx" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct stat st = mkst(cases[i].mode, 1, 0, T0);
		char want[128];
		snprintf(want, sizeof(want), "%s    1 ftp      ftp             0 Nov 24 06:28 x\r\n", cases[i].want);
		check_list(&st, "x", NULL, T0, want);
	}
}

static void test_list_dir_and_symlink(void **state)
{
	(void)state;
	struct stat st = mkst(S_IFDIR | 0755, 2, 4096, T0);
	check_list(&st, "sub", NULL, T0, "drwxr-xr-x    2 ftp      ftp          4096 Nov 24 06:28 sub\r\n");
	st = mkst(S_IFLNK | 0777, 1, 11, T0);
	check_list(&st, "link", "/etc/passwd", T0,
		   "lrwxrwxrwx    1 ftp      ftp            11 Nov 24 06:28 link -> /etc/passwd\r\n");
	/* No target known: just the name. */
	check_list(&st, "link", NULL, T0, "lrwxrwxrwx    1 ftp      ftp            11 Nov 24 06:28 link\r\n");
	/* A target is only shown for symlinks. */
	st = mkst(S_IFREG | 0644, 1, 3, T0);
	check_list(&st, "f", "ignored", T0, "-rw-r--r--    1 ftp      ftp             3 Nov 24 06:28 f\r\n");
	/* A target with CR/LF cannot be framed: the arrow part is left out. */
	st = mkst(S_IFLNK | 0777, 1, 4, T0);
	check_list(&st, "l", "a\r\nb", T0, "lrwxrwxrwx    1 ftp      ftp             4 Nov 24 06:28 l\r\n");
	/* Names are raw bytes: spaces, UTF-8, Latin-1 pass through. */
	st = mkst(S_IFREG | 0644, 1, 3, T0);
	check_list(&st, " a b;c h\xc3\xa9 \xe9 ", NULL, T0,
		   "-rw-r--r--    1 ftp      ftp             3 Nov 24 06:28  a b;c h\xc3\xa9 \xe9 \r\n");
}

static void test_list_refuses_crlf_names(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 4096);
	struct stat st = mkst(S_IFREG | 0644, 1, 3, T0);
	struct listing_opts o = mkopts(T0, FACT_DEFAULT, PERM_ALL);
	assert_int_equal(buf_append_str(&b, "keep"), 0);
	assert_int_equal(listing_list_line(&b, "a\rb", &st, NULL, &o), -EINVAL);
	assert_int_equal(listing_list_line(&b, "a\nb", &st, NULL, &o), -EINVAL);
	assert_int_equal(listing_facts_line(&b, "a\r\nb", &st, NULL, false, &o), -EINVAL);
	assert_int_equal(listing_facts_line(&b, "\n", &st, NULL, true, &o), -EINVAL);
	assert_buf(&b, "keep");
	buf_free(&b);
}

static void test_lines_are_atomic_when_buffer_full(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 40);
	struct stat st = mkst(S_IFREG | 0644, 1, 3, T0);
	struct listing_opts o = mkopts(T0, FACT_DEFAULT, PERM_ALL);
	assert_int_equal(buf_append_str(&b, "x"), 0);
	assert_int_equal(listing_list_line(&b, "f", &st, NULL, &o), -ENOBUFS);
	assert_int_equal(listing_facts_line(&b, "f", &st, NULL, false, &o), -ENOBUFS);
	assert_buf(&b, "x");
	buf_free(&b);
}

/* ---- MLSD / MLST lines ---- */

static void test_facts_file_all(void **state)
{
	(void)state;
	struct stat st = mkst(S_IFREG | 0644, 1, 1000, T0);
	check_facts(&st, "f", NULL, false, FACT_ALL, PERM_ALL,
		    "type=file;size=1000;modify=20231124062800;perm=rawdf;unique=801U1234;UNIX.mode=0644; f\r\n");
	/* Seconds are kept; setuid bits show in the four octal digits. */
	st = mkst(S_IFREG | 04755, 1, 0, INT64_C(1425575385));
	check_facts(&st, "g", NULL, false, FACT_ALL, PERM_ALL,
		    "type=file;size=0;modify=20150305170945;perm=rawdf;unique=801U1234;UNIX.mode=4755; g\r\n");
	/* Far future is clamped to a 14-digit time-val. */
	st = mkst(S_IFREG | 0644, 1, 1, INT64_C(1) << 60);
	check_facts(&st, "h", NULL, false, FACT_MODIFY, PERM_ALL, "modify=99991231235959; h\r\n");
}

static void test_facts_subsets(void **state)
{
	(void)state;
	struct stat st = mkst(S_IFREG | 0644, 1, 1000, T0);
	check_facts(&st, "f", NULL, false, FACT_TYPE | FACT_SIZE, PERM_ALL, "type=file;size=1000; f\r\n");
	check_facts(&st, "f", NULL, false, FACT_SIZE | FACT_UNIX_MODE, PERM_ALL, "size=1000;UNIX.mode=0644; f\r\n");
	check_facts(&st, "f", NULL, false, FACT_UNIQUE, PERM_ALL, "unique=801U1234; f\r\n");
	/* No facts at all: the separating space remains (two with MLST). */
	check_facts(&st, "f", NULL, false, 0, PERM_ALL, " f\r\n");
	check_facts(&st, "f", NULL, true, 0, PERM_ALL, "  f\r\n");
	/* size is a file fact only. */
	st = mkst(S_IFDIR | 0755, 3, 4096, T0);
	check_facts(&st, "d", NULL, false, FACT_TYPE | FACT_SIZE, PERM_ALL, "type=dir; d\r\n");
}

static void test_facts_perms(void **state)
{
	(void)state;
	struct stat d = mkst(S_IFDIR | 0755, 2, 4096, T0);
	struct stat f = mkst(S_IFREG | 0644, 1, 5, T0);
	check_facts(&d, "d", NULL, false, FACT_ALL, PERM_ALL,
		    "type=dir;modify=20231124062800;perm=elcmdfp;unique=801U1234;UNIX.mode=0755; d\r\n");
	check_facts(&d, "d", NULL, false, FACT_PERM, 0, "perm=e; d\r\n");
	check_facts(&d, "d", NULL, false, FACT_PERM, PERM_LIST, "perm=el; d\r\n");
	check_facts(&d, "d", NULL, false, FACT_PERM, PERM_READ | PERM_LIST, "perm=el; d\r\n");
	check_facts(&d, "d", NULL, false, FACT_PERM, PERM_WRITE | PERM_MKDIR, "perm=ecm; d\r\n");
	check_facts(&d, "d", NULL, false, FACT_PERM, PERM_DELETE, "perm=edp; d\r\n");
	check_facts(&d, "d", NULL, false, FACT_PERM, PERM_RENAME, "perm=ef; d\r\n");
	check_facts(&f, "f", NULL, false, FACT_PERM, 0, "perm=; f\r\n");
	check_facts(&f, "f", NULL, false, FACT_PERM, PERM_READ | PERM_LIST, "perm=r; f\r\n");
	check_facts(&f, "f", NULL, false, FACT_PERM, PERM_WRITE | PERM_RENAME, "perm=awf; f\r\n");
	check_facts(&f, "f", NULL, false, FACT_PERM, PERM_DELETE | PERM_MKDIR, "perm=d; f\r\n");
	check_facts(&f, "f", NULL, false, FACT_PERM, PERM_READ | PERM_WRITE, "perm=raw; f\r\n");
}

static void test_facts_types(void **state)
{
	(void)state;
	struct stat d = mkst(S_IFDIR | 0755, 2, 4096, T0);
	check_facts(&d, ".", "cdir", false, FACT_TYPE | FACT_PERM, PERM_LIST, "type=cdir;perm=el; .\r\n");
	check_facts(&d, "..", "pdir", false, FACT_TYPE, PERM_ALL, "type=pdir; ..\r\n");
	/* A symlink's own (lstat) data: an OS type, no size. */
	struct stat l = mkst(S_IFLNK | 0777, 1, 11, T0);
	check_facts(&l, "link", NULL, false, FACT_ALL, PERM_READ,
		    "type=OS.unix=symlink;modify=20231124062800;perm=r;unique=801U1234;UNIX.mode=0777; link\r\n");
	struct stat p = mkst(S_IFIFO | 0644, 1, 0, T0);
	check_facts(&p, "fifo", NULL, false, FACT_TYPE | FACT_SIZE, PERM_ALL, "type=OS.unix=fifo; fifo\r\n");
	struct stat s = mkst(S_IFSOCK | 0755, 1, 0, T0);
	check_facts(&s, "sock", NULL, false, FACT_TYPE, PERM_ALL, "type=OS.unix=socket; sock\r\n");
	struct stat c = mkst(S_IFCHR | 0666, 1, 0, T0);
	check_facts(&c, "null", NULL, false, FACT_TYPE, PERM_ALL, "type=OS.unix=chr; null\r\n");
	struct stat b = mkst(S_IFBLK | 0660, 1, 0, T0);
	check_facts(&b, "sda", NULL, false, FACT_TYPE, PERM_ALL, "type=OS.unix=blk; sda\r\n");
}

static void test_mlst_leading_space_and_odd_names(void **state)
{
	(void)state;
	struct stat f = mkst(S_IFREG | 0644, 1, 1, T0);
	check_facts(&f, "/pub/f", NULL, true, FACT_ALL, PERM_ALL,
		    " type=file;size=1;modify=20231124062800;perm=rawdf;unique=801U1234;UNIX.mode=0644; /pub/f\r\n");
	/* Everything after the first space is the name: ';', '=', spaces, UTF-8. */
	check_facts(&f, "a b;c=d; h\xc3\xa9 ", NULL, false, FACT_TYPE | FACT_SIZE, PERM_ALL,
		    "type=file;size=1; a b;c=d; h\xc3\xa9 \r\n");
}

/* ---- FEAT and OPTS MLST ---- */

static void test_feat_facts(void **state)
{
	(void)state;
	char out[128];
	listing_feat_facts(FACT_ALL, out, sizeof(out));
	assert_string_equal(out, "type*;size*;modify*;perm*;unique*;UNIX.mode*;");
	listing_feat_facts(FACT_TYPE | FACT_SIZE, out, sizeof(out));
	assert_string_equal(out, "type*;size*;modify;perm;unique;UNIX.mode;");
	listing_feat_facts(FACT_UNIX_MODE | FACT_MODIFY, out, sizeof(out));
	assert_string_equal(out, "type;size;modify*;perm;unique;UNIX.mode*;");
	listing_feat_facts(0, out, sizeof(out));
	assert_string_equal(out, "type;size;modify;perm;unique;UNIX.mode;");
	/* Too small: stops at the last whole fact, always terminated. */
	char small[12];
	listing_feat_facts(FACT_ALL, small, sizeof(small));
	assert_string_equal(small, "type*;");
	listing_feat_facts(FACT_ALL, small, 1);
	assert_string_equal(small, "");
	listing_feat_facts(FACT_ALL, NULL, 0); /* no crash */
}

static void test_parse_facts(void **state)
{
	(void)state;
	char echo[128];
	assert_int_equal(listing_parse_facts("type;size;", echo, sizeof(echo)), FACT_TYPE | FACT_SIZE);
	assert_string_equal(echo, "type;size;");
	/* Case-insensitive; echoed in canonical case; unknown facts dropped. */
	assert_int_equal(listing_parse_facts("TYPE;Size;frogs;", echo, sizeof(echo)), FACT_TYPE | FACT_SIZE);
	assert_string_equal(echo, "type;size;");
	assert_int_equal(listing_parse_facts("type;frogs;", echo, sizeof(echo)), FACT_TYPE);
	assert_string_equal(echo, "type;");
	assert_int_equal(listing_parse_facts("unix.MODE;Modify", echo, sizeof(echo)), FACT_UNIX_MODE | FACT_MODIFY);
	assert_string_equal(echo, "modify;UNIX.mode;");
	assert_int_equal(listing_parse_facts("size;type;type;", echo, sizeof(echo)), FACT_TYPE | FACT_SIZE);
	assert_string_equal(echo, "type;size;");
	assert_int_equal(listing_parse_facts("type;size;modify;perm;unique;UNIX.mode;", echo, sizeof(echo)), FACT_ALL);
	assert_string_equal(echo, "type;size;modify;perm;unique;UNIX.mode;");
	assert_int_equal(listing_parse_facts(" perm ; unique ;", echo, sizeof(echo)), FACT_PERM | FACT_UNIQUE);
	assert_string_equal(echo, "perm;unique;");
	/* Empty selection. */
	assert_int_equal(listing_parse_facts("", echo, sizeof(echo)), 0);
	assert_string_equal(echo, "");
	assert_int_equal(listing_parse_facts(NULL, echo, sizeof(echo)), 0);
	assert_string_equal(echo, "");
	assert_int_equal(listing_parse_facts("frogs;create;lang;;;", echo, sizeof(echo)), 0);
	assert_string_equal(echo, "");
	/* Prefixes and near misses are not facts. */
	assert_int_equal(listing_parse_facts("typ;sizes;unix;mode;", echo, sizeof(echo)), 0);
	/* Small echo buffer: whole facts only. */
	char small[8];
	assert_int_equal(listing_parse_facts("type;size;", small, sizeof(small)), FACT_TYPE | FACT_SIZE);
	assert_string_equal(small, "type;");
	assert_int_equal(listing_parse_facts("type;", NULL, 0), FACT_TYPE);
}

/* ---- streaming real directories ---- */

static const char *scratch_base(void)
{
	/* tmpfs keeps the 100,000-file test fast; fall back to $TMPDIR or /tmp. */
	if (access("/dev/shm", W_OK) == 0)
		return "/dev/shm";
	const char *t = getenv("TMPDIR");
	return t && *t ? t : "/tmp";
}

static int make_tmpdir(char *path, size_t n)
{
	snprintf(path, n, "%s/ferry-listing-XXXXXX", scratch_base());
	assert_non_null(mkdtemp(path));
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

/* Removes the entries of dfd (one level, plus empty subdirectories), then path. */
static void remove_tmpdir(int dfd, const char *path)
{
	int fd = dup(dfd);
	assert_true(fd >= 0);
	DIR *d = fdopendir(fd);
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(dfd, de->d_name, 0) != 0)
			assert_int_equal(unlinkat(dfd, de->d_name, AT_REMOVEDIR), 0);
	}
	closedir(d);
	close(dfd);
	assert_int_equal(rmdir(path), 0);
}

static void make_file(int dfd, const char *name, mode_t mode, size_t size, int64_t mtime)
{
	int fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	static const char zeros[64];
	assert_true(size <= sizeof(zeros));
	if (size)
		assert_int_equal(write(fd, zeros, size), (ssize_t)size);
	assert_int_equal(fchmod(fd, mode), 0);
	struct timespec ts[2] = { { .tv_sec = (time_t)mtime }, { .tv_sec = (time_t)mtime } };
	assert_int_equal(futimens(fd, ts), 0);
	close(fd);
}

static void set_mtime_nofollow(int dfd, const char *name, int64_t mtime)
{
	struct timespec ts[2] = { { .tv_sec = (time_t)mtime }, { .tv_sec = (time_t)mtime } };
	assert_int_equal(utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW), 0);
}

/* The fixture directory used by the streaming tests. */
static int make_fixture(char *path, size_t n)
{
	int dfd = make_tmpdir(path, n);
	make_file(dfd, "a", 0644, 5, T0);
	make_file(dfd, ".hidden", 0600, 0, T0);
	make_file(dfd, ".ferry-upload.abc123", 0600, 3, T0);
	make_file(dfd, "with space", 0644, 1, T0);
	make_file(dfd, "semi;colon", 0644, 2, T0);
	make_file(dfd, "h\xc3\xa9llo", 0644, 4, T0);
	make_file(dfd, "\xe9t\xe9", 0640, 0, T0);
	make_file(dfd, " lead", 0644, 6, T0);
	make_file(dfd, "trail ", 0644, 7, T0);
	make_file(dfd, "cr\rname", 0644, 1, T0);
	make_file(dfd, "lf\nname", 0644, 1, T0);
	assert_int_equal(mkdirat(dfd, "sub", 0755), 0);
	assert_int_equal(fchmodat(dfd, "sub", 0755, 0), 0);
	set_mtime_nofollow(dfd, "sub", T0);
	assert_int_equal(symlinkat("a", dfd, "link"), 0);
	set_mtime_nofollow(dfd, "link", T0);
	/* SECURITY fixture: a link leading out of the user's root. */
	assert_int_equal(symlinkat("/etc/passwd", dfd, "escape"), 0);
	set_mtime_nofollow(dfd, "escape", T0);
	return dfd;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct lines {
	char *v[64];
	size_t n;
};

static void lines_free(struct lines *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		free(ls->v[i]);
	ls->n = 0;
}

/* Streams the whole listing of a dup of dfd and splits it into CRLF lines. */
static void stream_lines(int dfd, enum listing_format fmt, const struct listing_opts *o, size_t max, struct lines *ls)
{
	ls->n = 0;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	struct listing *l = NULL;
	assert_int_equal(listing_open(fd, fmt, o, &l), 0);
	struct buf b;
	buf_init(&b, 1u << 20);
	int r;
	do {
		size_t before = b.len;
		r = listing_next(l, &b, max);
		assert_true(r == 0 || r == 1);
		/* A chunk stays within max unless it is a single longer line. */
		size_t added = b.len - before, nl = 0;
		for (size_t i = before; i < b.len; i++)
			nl += buf_data(&b)[i] == '\n';
		assert_true(added <= max || nl == 1);
		if (r == 1)
			assert_true(nl >= 1);
	} while (r == 1);
	listing_free(l);
	const char *p = buf_data(&b);
	size_t left = b.len;
	while (left) {
		const char *e = memchr(p, '\n', left);
		assert_non_null(e);
		assert_true(e > p && e[-1] == '\r');
		size_t n = (size_t)(e - p) + 1;
		assert_true(ls->n < 64);
		ls->v[ls->n] = util_xstrndup(p, n) /* exactly n bytes: the buffer has no NUL */;
		assert_non_null(ls->v[ls->n]);
		ls->n++;
		p += n;
		left -= n;
	}
	buf_free(&b);
	qsort(ls->v, ls->n, sizeof(ls->v[0]), cmp_str);
}

static void assert_lines(struct lines *ls, const char **want, size_t n)
{
	const char *sorted[64];
	assert_true(n <= 64);
	memcpy(sorted, want, n * sizeof(*want));
	qsort(sorted, n, sizeof(sorted[0]), cmp_str);
	for (size_t i = 0; i < ls->n || i < n; i++) {
		const char *g = i < ls->n ? ls->v[i] : "(none)";
		const char *w = i < n ? sorted[i] : "(none)";
		if (strcmp(g, w) != 0) {
			print_error("line %zu\ngot  [%s]\nwant [%s]\n", i, g, w);
			fail();
		}
	}
}

#define LF(mode, size, name) mode "    1 ftp      ftp      " size " Nov 24 06:28 " name "\r\n"

static void format_sub_line(int dfd, char *out, size_t n)
{
	/* A directory's size and link count depend on the filesystem. */
	struct stat st;
	assert_int_equal(fstatat(dfd, "sub", &st, AT_SYMLINK_NOFOLLOW), 0);
	snprintf(out, n, "drwxr-xr-x %4lu ftp      ftp      %8lld Nov 24 06:28 sub\r\n", (unsigned long)st.st_nlink,
		 (long long)st.st_size);
}

static void test_stream_list(void **state)
{
	(void)state;
	char path[128], sub[128];
	int dfd = make_fixture(path, sizeof(path));
	format_sub_line(dfd, sub, sizeof(sub));
	struct listing_opts o = mkopts(T0 + 10, FACT_DEFAULT, PERM_ALL);
	struct lines ls;

	const char *visible[] = {
		LF("-rw-r--r--", "       5", "a"),
		LF("-rw-r--r--", "       1", "with space"),
		LF("-rw-r--r--", "       2", "semi;colon"),
		LF("-rw-r--r--", "       4", "h\xc3\xa9llo"),
		LF("-rw-r-----", "       0", "\xe9t\xe9"),
		LF("-rw-r--r--", "       6", " lead"),
		LF("-rw-r--r--", "       7", "trail "),
		LF("lrwxrwxrwx", "       1", "link -> a"),
		LF("lrwxrwxrwx", "      11", "escape -> /etc/passwd"),
		sub,
		/* with -a only: */
		LF("-rw-------", "       0", ".hidden"),
	};
	stream_lines(dfd, LISTING_LIST, &o, 64 * 1024, &ls);
	assert_lines(&ls, visible, 10); /* dot files, uploads and CR/LF names left out */
	lines_free(&ls);

	o.all = true;
	stream_lines(dfd, LISTING_LIST, &o, 64 * 1024, &ls);
	assert_lines(&ls, visible, 11); /* -a adds .hidden; never ".", "..", uploads */
	lines_free(&ls);

	/* Chunks of one entry each give the same result. */
	stream_lines(dfd, LISTING_LIST, &o, 1, &ls);
	assert_lines(&ls, visible, 11);
	lines_free(&ls);
	/* A budget that ends mid-line: the line moves to the next chunk. */
	stream_lines(dfd, LISTING_LIST, &o, 150, &ls);
	assert_lines(&ls, visible, 11);
	lines_free(&ls);
	remove_tmpdir(dfd, path);
}

static void test_stream_nlst(void **state)
{
	(void)state;
	char path[128];
	int dfd = make_fixture(path, sizeof(path));
	struct listing_opts o = mkopts(T0, FACT_DEFAULT, PERM_ALL);
	struct lines ls;
	const char *names[] = { "a\r\n",	 "with space\r\n", "semi;colon\r\n", "h\xc3\xa9llo\r\n",
				"\xe9t\xe9\r\n", " lead\r\n",	   "trail \r\n",     "link\r\n",
				"escape\r\n",	 "sub\r\n",	   ".hidden\r\n" };
	stream_lines(dfd, LISTING_NLST, &o, 64 * 1024, &ls);
	assert_lines(&ls, names, 10);
	lines_free(&ls);
	o.all = true;
	stream_lines(dfd, LISTING_NLST, &o, 64 * 1024, &ls);
	assert_lines(&ls, names, 11);
	lines_free(&ls);

	/* With max=1 each call returns exactly one entry: 1 while more remain,
	 * 0 with the last one. */
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct listing *l = NULL;
	assert_int_equal(listing_open(fd, LISTING_NLST, &o, &l), 0);
	struct buf b;
	buf_init(&b, 4096);
	for (int i = 0; i < 11; i++) {
		buf_reset(&b);
		int r = listing_next(l, &b, 1);
		assert_int_equal(r, i < 10 ? 1 : 0);
		assert_non_null(memchr(buf_data(&b), '\n', b.len));
		assert_ptr_equal(memchr(buf_data(&b), '\n', b.len), buf_data(&b) + b.len - 1);
	}
	buf_reset(&b);
	assert_int_equal(listing_next(l, &b, 1), 0); /* stays at the end */
	assert_int_equal(b.len, 0);
	listing_free(l);
	buf_free(&b);
	remove_tmpdir(dfd, path);
}

/* Streams a listing of a dup of dfd filtered by pat (NLST prefix "d/"),
 * after checking that listing_peek sees what is coming. */
static void stream_pattern(int dfd, const char *pat, const char *prefix, bool all, struct lines *ls)
{
	struct listing_opts o = mkopts(T0, FACT_DEFAULT, PERM_ALL);
	o.all = all;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct listing *l = NULL;
	assert_int_equal(listing_open(fd, LISTING_NLST, &o, &l), 0);
	assert_int_equal(listing_set_pattern(l, slice_from_cstr(pat), slice_from_cstr(prefix)), 0);
	assert_int_equal(listing_set_pattern(l, slice_from_cstr(pat), slice_from_cstr(prefix)), -EINVAL);
	int peek = listing_peek(l);
	assert_int_equal(listing_peek(l), peek); /* peeking again moves nothing */
	struct buf b;
	buf_init(&b, 1u << 16);
	int r;
	while ((r = listing_next(l, &b, 64 * 1024)) == 1)
		;
	assert_int_equal(r, 0);
	listing_free(l);
	assert_int_equal(peek, b.len > 0);
	ls->n = 0;
	for (struct slice rest = buf_slice(&b), line; rest.n && slice_split(rest, '\n', &line, &rest);) {
		assert_true(ls->n < 64);
		ls->v[ls->n++] = util_xstrndup(line.p, line.n + 1);
	}
	buf_free(&b);
	qsort(ls->v, ls->n, sizeof(ls->v[0]), cmp_str);
}

/* Decision 14: NLST with a pattern lists the matches with the prefix; a
 * leading dot only by a leading dot (LIST -a adds nothing); upload
 * temporaries and CR/LF names never, whatever the pattern. */
static void test_stream_pattern(void **state)
{
	(void)state;
	char path[128];
	int dfd = make_fixture(path, sizeof(path));
	struct lines ls;
	const char *a[] = { "d/a\r\n", "d/with space\r\n", "d/ lead\r\n", "d/trail \r\n", "d/escape\r\n" };
	stream_pattern(dfd, "*a*", "d/", true, &ls);
	assert_lines(&ls, a, 5);
	lines_free(&ls);
	const char *hidden[] = { ".hidden\r\n" };
	stream_pattern(dfd, ".*", "", false, &ls);
	assert_lines(&ls, hidden, 1);
	lines_free(&ls);
	stream_pattern(dfd, ".f*", "", false, &ls);
	assert_int_equal(ls.n, 0);
	stream_pattern(dfd, "*name", "", true, &ls);
	assert_int_equal(ls.n, 0);
	const char *set[] = { "x/ lead\r\n", "x/\xe9t\xe9\r\n" };
	stream_pattern(dfd, "[!a-z]*", "x/", false, &ls);
	assert_lines(&ls, set, 2);
	lines_free(&ls);
	remove_tmpdir(dfd, path);
}

/* listing_add_entry (a shared folder's mount point): listed after the
 * directory's entries with its own status, hiding an entry of the same
 * name, through the pattern filter, by listing_next and listing_fill alike;
 * refused once reading began. */
static void extras_lines(int dfd, const char *pat, bool fill, struct lines *ls)
{
	struct listing_opts o = mkopts(T0, FACT_DEFAULT, PERM_ALL);
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct listing *l = NULL;
	assert_int_equal(listing_open(fd, LISTING_MLSD, &o, &l), 0);
	struct stat dir = mkst(S_IFDIR | 0755, 2, 4096, T0);
	assert_int_equal(listing_add_entry(l, "shared", &dir), 0);
	assert_int_equal(listing_add_entry(l, "sub", &dir), 0); /* hides the real "sub" */
	assert_int_equal(listing_add_entry(l, "a/b", &dir), -EINVAL);
	if (pat)
		assert_int_equal(listing_set_pattern(l, slice_from_cstr(pat), slice_from_cstr("")), 0);
	struct buf b;
	buf_init(&b, 1u << 16);
	int r;
	if (fill) {
		while ((r = listing_fill(l, &b, 64 * 1024, 0, NULL)) == 1)
			;
	} else {
		while ((r = listing_next(l, &b, 64)) == 1)
			;
	}
	assert_int_equal(r, 0);
	assert_int_equal(listing_add_entry(l, "late", &dir), -EINVAL);
	listing_free(l);
	ls->n = 0;
	for (struct slice rest = buf_slice(&b), line; rest.n && slice_split(rest, '\n', &line, &rest);) {
		assert_true(ls->n < 64);
		const char *name = memmem(line.p, line.n, "; ", 2); /* MLSD: facts; name */
		assert_non_null(name);
		ls->v[ls->n++] = util_xstrndup(name + 2, line.n - (size_t)(name + 2 - line.p) - 1);
	}
	buf_free(&b);
	qsort(ls->v, ls->n, sizeof(ls->v[0]), cmp_str);
}

static void test_stream_extra_entries(void **state)
{
	(void)state;
	char path[128];
	int dfd = make_fixture(path, sizeof(path));
	struct lines ls;
	const char *all[] = { " lead",	    ".hidden", "a",   "escape", "h\xc3\xa9llo", "link",
			      "semi;colon", "shared",  "sub", "trail ", "with space",	"\xe9t\xe9" };
	for (int fill = 0; fill < 2; fill++) {
		extras_lines(dfd, NULL, fill, &ls);
		assert_lines(&ls, all, ARRAY_LEN(all)); /* "sub" once */
		lines_free(&ls);
	}
	const char *s[] = { "semi;colon", "shared", "sub" };
	extras_lines(dfd, "s*", false, &ls);
	assert_lines(&ls, s, ARRAY_LEN(s));
	lines_free(&ls);
	/* The extra's status, not the real directory's: 4096 bytes. */
	struct listing_opts o = mkopts(T0, FACT_DEFAULT, PERM_ALL);
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct listing *l = NULL;
	assert_int_equal(listing_open(fd, LISTING_LIST, &o, &l), 0);
	struct stat dir = mkst(S_IFDIR | 0755, 1, 4096, T0);
	assert_int_equal(listing_add_entry(l, "shared", &dir), 0);
	assert_int_equal(listing_set_pattern(l, slice_from_cstr("shared"), slice_from_cstr("")), 0);
	struct buf b;
	buf_init(&b, 4096);
	assert_int_equal(listing_read_all(l, &b, 4096), 0);
	listing_free(l);
	assert_buf(&b, LF("drwxr-xr-x", "    4096", "shared"));
	buf_free(&b);
	remove_tmpdir(dfd, path);
}

#define MF(type, size, mode, name)                                                                                     \
	"type=" type ";" size "modify=20231124062800;perm=rawdf;UNIX.mode=" mode "; " name "\r\n"

static void test_stream_mlsd(void **state)
{
	(void)state;
	char path[128];
	int dfd = make_fixture(path, sizeof(path));
	/* unique depends on the filesystem: checked separately below. */
	struct listing_opts o = mkopts(T0, FACT_ALL & ~FACT_UNIQUE, PERM_ALL);
	struct lines ls;
	const char *want[] = {
		MF("file", "size=5;", "0644", "a"),
		MF("file", "size=1;", "0644", "with space"),
		MF("file", "size=2;", "0644", "semi;colon"),
		MF("file", "size=4;", "0644", "h\xc3\xa9llo"),
		MF("file", "size=0;", "0640", "\xe9t\xe9"),
		MF("file", "size=6;", "0644", " lead"),
		MF("file", "size=7;", "0644", "trail "),
		MF("file", "size=0;", "0600", ".hidden"),
		/* Symlinks are not followed, not even inside the root. */
		MF("OS.unix=symlink", "", "0777", "link"),
		MF("OS.unix=symlink", "", "0777", "escape"),
		"type=dir;modify=20231124062800;perm=elcmdfp;UNIX.mode=0755; sub\r\n",
	};
	/* MLSD shows dot files without -a, never "." / ".." / cdir / pdir. */
	stream_lines(dfd, LISTING_MLSD, &o, 64 * 1024, &ls);
	assert_lines(&ls, want, sizeof(want) / sizeof(want[0]));
	lines_free(&ls);

	/* A reduced fact selection and the unique fact. */
	o.facts = FACT_TYPE | FACT_UNIQUE;
	o.perms = PERM_READ;
	struct stat st;
	assert_int_equal(fstatat(dfd, "a", &st, AT_SYMLINK_NOFOLLOW), 0);
	char ua[128];
	snprintf(ua, sizeof(ua), "type=file;unique=%llxU%llx; a\r\n", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	stream_lines(dfd, LISTING_MLSD, &o, 64 * 1024, &ls);
	assert_int_equal(ls.n, 11);
	bool found = false;
	for (size_t i = 0; i < ls.n; i++)
		found |= strcmp(ls.v[i], ua) == 0;
	assert_true(found);
	lines_free(&ls);
	remove_tmpdir(dfd, path);
}

static void test_stream_small_output_buffer(void **state)
{
	(void)state;
	char path[128];
	int dfd = make_fixture(path, sizeof(path));
	struct listing_opts o = mkopts(T0, FACT_DEFAULT, PERM_ALL);
	o.all = true;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct listing *l = NULL;
	assert_int_equal(listing_open(fd, LISTING_LIST, &o, &l), 0);
	/* The output cap, not max, stops the chunk: whole lines only. */
	struct buf b;
	buf_init(&b, 100);
	size_t lines = 0;
	int r;
	do {
		r = listing_next(l, &b, 1u << 20);
		assert_true(r == 0 || r == 1);
		assert_true(b.len > 0 && b.len <= 100);
		assert_int_equal(buf_data(&b)[b.len - 1], '\n');
		for (size_t i = 0; i < b.len; i++)
			lines += buf_data(&b)[i] == '\n';
		buf_reset(&b);
	} while (r == 1);
	assert_int_equal(lines, 11);
	listing_free(l);
	buf_free(&b);

	/* A single line larger than the cap: -ENOBUFS, and the entry is kept
	 * for a retry with more room. */
	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(listing_open(fd, LISTING_LIST, &o, &l), 0);
	buf_init(&b, 10);
	assert_int_equal(listing_next(l, &b, 1u << 20), -ENOBUFS);
	assert_int_equal(b.len, 0);
	b.max = 1u << 20;
	assert_int_equal(listing_next(l, &b, 1u << 20), 0);
	lines = 0;
	for (size_t i = 0; i < b.len; i++)
		lines += buf_data(&b)[i] == '\n';
	assert_int_equal(lines, 11);
	listing_free(l);
	buf_free(&b);
	remove_tmpdir(dfd, path);
}

static void test_stream_vanished_entries(void **state)
{
	(void)state;
	char path[128];
	int dfd = make_tmpdir(path, sizeof(path));
	char name[16];
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "v%d", i);
		make_file(dfd, name, 0644, 0, T0);
	}
	struct listing_opts o = mkopts(T0, FACT_DEFAULT, PERM_ALL);
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct listing *l = NULL;
	assert_int_equal(listing_open(fd, LISTING_LIST, &o, &l), 0);
	struct buf b;
	buf_init(&b, 1u << 16);
	assert_int_equal(listing_next(l, &b, 1), 1);
	/* readdir has all ten names buffered already; remove them from disk. */
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "v%d", i);
		assert_int_equal(unlinkat(dfd, name, 0), 0);
	}
	int r;
	while ((r = listing_next(l, &b, 1)) == 1)
		;
	assert_int_equal(r, 0);
	size_t lines = 0;
	for (size_t i = 0; i < b.len; i++)
		lines += buf_data(&b)[i] == '\n';
	assert_int_equal(lines, 1); /* only the one listed before the removal */
	listing_free(l);
	buf_free(&b);
	remove_tmpdir(dfd, path);
}

static void test_open_errors(void **state)
{
	(void)state;
	struct listing_opts o = mkopts(T0, FACT_DEFAULT, PERM_ALL);
	struct listing *l = (struct listing *)&o;
	assert_int_equal(listing_open(-1, LISTING_LIST, &o, &l), -EBADF);
	assert_null(l);
	/* Not a directory: refused, and the fd (owned by listing_open) is closed. */
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(listing_open(fd, LISTING_LIST, &o, &l), -ENOTDIR);
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	/* An O_PATH directory fd cannot be read: the caller must open O_RDONLY. */
	fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(listing_open(fd, LISTING_LIST, &o, &l), -EBADF);
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(listing_open(fd, (enum listing_format)42, &o, &l), -EINVAL);
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	listing_free(NULL);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

#define BIG_N 100000

/* Streams dfd in 64 KiB chunks, consuming each chunk as a data connection
 * would; checks every name f000000..f099999 appears once. */
static void stream_big(int dfd, enum listing_format fmt, const char *label)
{
	struct listing_opts o = mkopts(T0, FACT_DEFAULT, PERM_ALL);
	unsigned char *seen = calloc(BIG_N, 1);
	assert_non_null(seen);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct listing *l = NULL;
	assert_int_equal(listing_open(fd, fmt, &o, &l), 0);
	const size_t chunk = 64 * 1024;
	struct buf b;
	buf_init(&b, chunk); /* the cap equals the chunk: it must never need more */
	size_t lines = 0, calls = 0, peak_len = 0, peak_cap = 0, total = 0;
	int r;
	do {
		r = listing_next(l, &b, chunk);
		assert_true(r == 0 || r == 1);
		calls++;
		peak_len = b.len > peak_len ? b.len : peak_len;
		peak_cap = b.cap > peak_cap ? b.cap : peak_cap;
		total += b.len;
		const char *p = buf_data(&b), *end = p + b.len;
		while (p < end) {
			const char *e = memchr(p, '\n', (size_t)(end - p));
			assert_non_null(e);
			/* The name is the last field (after the last space). */
			const char *n = e - 1;
			while (n > p && n[-1] != ' ')
				n--;
			assert_true(e - n == 8 && n[0] == 'f');
			unsigned long k = strtoul(n + 1, NULL, 10);
			assert_true(k < BIG_N);
			assert_int_equal(seen[k], 0);
			seen[k] = 1;
			lines++;
			p = e + 1;
		}
		buf_reset(&b);
	} while (r == 1);
	listing_free(l);
	buf_free(&b);
	free(seen);
	double s = seconds_since(&t0);
	assert_int_equal(lines, BIG_N);
	assert_true(peak_len <= chunk);
	assert_true(peak_cap <= chunk);
	printf("# %s: %zu lines, %zu bytes in %zu chunks, peak chunk %zu bytes, peak buffer %zu bytes, %.3f s\n", label,
	       lines, total, calls, peak_len, peak_cap, s);
}

/* listing_fill from two threads at once on one listing, each into its own
 * buffer of chunks: every name exactly once, whole lines only. */
struct filler {
	struct listing *l;
	unsigned char *seen; /* written under seen_lock */
	size_t lines, calls;
	pthread_mutex_t *seen_lock;
	int last;
};

static void *fill_thread(void *arg)
{
	struct filler *f = arg;
	struct buf b;
	buf_init(&b, 64 * 1024 + 32 * 8192);
	int r;
	do {
		r = listing_fill(f->l, &b, 64 * 1024, 0, NULL);
		f->calls++;
		const char *p = buf_data(&b), *end = p + b.len;
		pthread_mutex_lock(f->seen_lock);
		while (p < end) {
			const char *e = memchr(p, '\n', (size_t)(end - p));
			if (!e || e - p < 9 || e[-1] != '\r' || e[-8] != 'f')
				break;
			unsigned long k = strtoul(e - 7, NULL, 10);
			if (k < BIG_N && !f->seen[k]++)
				f->lines++;
			p = e + 1;
		}
		pthread_mutex_unlock(f->seen_lock);
		buf_reset(&b);
	} while (r == 1);
	f->last = r;
	buf_free(&b);
	return NULL;
}

static void fill_big(int dfd, enum listing_format fmt)
{
	struct listing_opts o = mkopts(T0, FACT_DEFAULT, PERM_ALL);
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct listing *l = NULL;
	assert_int_equal(listing_open(fd, fmt, &o, &l), 0);
	unsigned char *seen = calloc(BIG_N, 1);
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct filler a = { .l = l, .seen = seen, .seen_lock = &lock }, b = a;
	pthread_t ta, tb;
	assert_int_equal(pthread_create(&ta, NULL, fill_thread, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, fill_thread, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(a.last, 0);
	assert_int_equal(b.last, 0);
	assert_int_equal(a.lines + b.lines, BIG_N); /* each name once (a repeat is not counted) */
	for (size_t i = 0; i < BIG_N; i++)
		assert_int_equal(seen[i], 1);
	printf("# fill %s: %zu + %zu lines in %zu + %zu calls\n", fmt == LISTING_MLSD ? "MLSD" : "LIST", a.lines,
	       b.lines, a.calls, b.calls);
	free(seen);
	listing_free(l);
}

static void test_stream_100000_entries(void **state)
{
	(void)state;
	char path[128];
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int dfd = make_tmpdir(path, sizeof(path));
	char name[16];
	for (int i = 0; i < BIG_N; i++) {
		snprintf(name, sizeof(name), "f%06d", i);
		int fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
		assert_true(fd >= 0);
		close(fd);
	}
	printf("# created %d files in %s in %.3f s\n", BIG_N, path, seconds_since(&t0));
	stream_big(dfd, LISTING_LIST, "LIST");
	stream_big(dfd, LISTING_NLST, "NLST");
	stream_big(dfd, LISTING_MLSD, "MLSD");
	fill_big(dfd, LISTING_MLSD);
	fill_big(dfd, LISTING_LIST);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	remove_tmpdir(dfd, path);
	printf("# removed in %.3f s\n", seconds_since(&t0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_vsftpd_layout),
		cmocka_unit_test(test_stream_pattern),
		cmocka_unit_test(test_stream_extra_entries),
		cmocka_unit_test(test_list_dates),
		cmocka_unit_test(test_list_modes),
		cmocka_unit_test(test_list_dir_and_symlink),
		cmocka_unit_test(test_list_refuses_crlf_names),
		cmocka_unit_test(test_lines_are_atomic_when_buffer_full),
		cmocka_unit_test(test_facts_file_all),
		cmocka_unit_test(test_facts_subsets),
		cmocka_unit_test(test_facts_perms),
		cmocka_unit_test(test_facts_types),
		cmocka_unit_test(test_mlst_leading_space_and_odd_names),
		cmocka_unit_test(test_feat_facts),
		cmocka_unit_test(test_parse_facts),
		cmocka_unit_test(test_stream_list),
		cmocka_unit_test(test_stream_nlst),
		cmocka_unit_test(test_stream_mlsd),
		cmocka_unit_test(test_stream_small_output_buffer),
		cmocka_unit_test(test_stream_vanished_entries),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_stream_100000_entries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
