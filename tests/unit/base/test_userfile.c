/* Unit tests for src/base/userfile.c: one line of a Pure-FTPd, ProFTPD or
 * htpasswd user file (ferry user import), the chroot marker in homes, and
 * a clear reason for every line that is not a user. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "userfile.h"

static struct userfile_entry e;

static void entry(enum userfile_format f, const char *line, const char *name, const char *hash, const char *home)
{
	const char *why = "unset";
	enum userfile_verdict v = userfile_parse(f, slice_from_cstr(line), &e, &why);
	if (v != USERFILE_ENTRY)
		fail_msg("\"%s\": verdict %d (%s), want an entry", line, v, why ? why : "");
	assert_null(why);
	assert_int_equal(e.name.n, strlen(name));
	assert_memory_equal(e.name.p, name, e.name.n);
	assert_int_equal(e.hash.n, strlen(hash));
	assert_memory_equal(e.hash.p, hash, e.hash.n);
	assert_string_equal(e.home, home);
}

static void bad(enum userfile_format f, const char *line, const char *why_part)
{
	const char *why = NULL;
	enum userfile_verdict v = userfile_parse(f, slice_from_cstr(line), &e, &why);
	if (v != USERFILE_BAD)
		fail_msg("\"%s\": verdict %d, want bad", line, v);
	assert_non_null(why);
	if (!strstr(why, why_part))
		fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", line, why, why_part);
	assert_int_equal(e.hash.n, 0); /* nothing of a refused line's hash is handed on */
}

static void test_format_names(void **state)
{
	enum userfile_format f;
	(void)state;
	assert_int_equal(userfile_format_parse("pureftpd", &f), 0);
	assert_int_equal(f, USERFILE_PUREFTPD);
	assert_int_equal(userfile_format_parse("proftpd", &f), 0);
	assert_int_equal(f, USERFILE_PROFTPD);
	assert_int_equal(userfile_format_parse("htpasswd", &f), 0);
	assert_int_equal(f, USERFILE_HTPASSWD);
	assert_int_equal(userfile_format_parse("PureFTPd", &f), -EINVAL);
	assert_int_equal(userfile_format_parse("", &f), -EINVAL);
	assert_int_equal(userfile_format_parse(NULL, &f), -EINVAL);
}

static void test_pureftpd(void **state)
{
	(void)state;
	/* pure-pw -d writes the chroot marker "/./" at the end. */
	entry(USERFILE_PUREFTPD, "joe:$1$abcdefgh$hash:1000:1000::/home/ftp/joe/./::::::::::::", "joe",
	      "$1$abcdefgh$hash", "/home/ftp/joe");
	assert_true(e.chroot);
	assert_string_equal(e.start, "");
	assert_false(e.limits);
	assert_false(e.locked);
	/* Six fields are enough (pure-pw's reader stops there). */
	entry(USERFILE_PUREFTPD, "ann:$6$s$h:1001:1001:Ann Smith:/srv/ann", "ann", "$6$s$h", "/srv/ann");
	assert_false(e.chroot);
	/* A marker inside: the part after it is where sessions started. */
	entry(USERFILE_PUREFTPD, "sam:$y$j9T$s$h:1:1::/srv/./sam/in/::::::::::::", "sam", "$y$j9T$s$h", "/srv");
	assert_true(e.chroot);
	assert_string_equal(e.start, "/sam/in");
	/* Homes are normalised; a final "/." is the marker too. */
	entry(USERFILE_PUREFTPD, "x:h1234567890ab:1:1::/srv//a/../b/.", "x", "h1234567890ab", "/srv/b");
	assert_true(e.chroot);
	entry(USERFILE_PUREFTPD, "r:h1234567890ab:1:1::/./", "r", "h1234567890ab", "/");
	/* Any limit field set (bandwidth, quota, IPs, time...) is noted. */
	entry(USERFILE_PUREFTPD, "lim:h:1:1::/srv/lim/./:100:200::::::::::", "lim", "h", "/srv/lim");
	assert_true(e.limits);
	entry(USERFILE_PUREFTPD, "t:h:1:1::/srv/t/./::::::::::::0900-1800", "t", "h", "/srv/t");
	assert_true(e.limits);
	/* CRLF line ends (a file edited elsewhere). */
	entry(USERFILE_PUREFTPD, "crlf:h:1:1::/srv/c\r", "crlf", "h", "/srv/c");
}

static void test_pureftpd_bad(void **state)
{
	(void)state;
	bad(USERFILE_PUREFTPD, "garbage", "not a Pure-FTPd line");
	bad(USERFILE_PUREFTPD, "a:h:1:1:", "not a Pure-FTPd line");
	bad(USERFILE_PUREFTPD, "a:h:1:1::/x:1:2:3:4:5:6:7:8:9:10:11:12:13", "more than 18 fields");
	bad(USERFILE_PUREFTPD, ":h:1:1::/x", "empty user name");
	bad(USERFILE_PUREFTPD, "a::1:1::/x", "empty password hash");
	bad(USERFILE_PUREFTPD, "a:h:x:1::/x", "uid or gid");
	bad(USERFILE_PUREFTPD, "a:h:1::: /x", "uid or gid");
	bad(USERFILE_PUREFTPD, "a:h:1:1::", "empty home");
	bad(USERFILE_PUREFTPD, "a:h:1:1::relative/x", "not an absolute path");
	bad(USERFILE_PUREFTPD, "a:h:1:1::/x\x01y", "control characters");
	bad(USERFILE_PUREFTPD, "a:h h:1:1::/x", "spaces");
	bad(USERFILE_PUREFTPD, "a\x1b:h:1:1::/x", "control characters");
	/* A bad line still names its user when it had one. */
	bad(USERFILE_PUREFTPD, "named:h:1:1::rel", "absolute");
	assert_int_equal(e.name.n, 5);
}

static void slice_is(struct slice s, const char *want)
{
	assert_int_equal(s.n, strlen(want));
	if (s.n)
		assert_memory_equal(s.p, want, s.n);
}

/* The limit fields, as pure-pw writes them (bytes/s, bytes). */
static void test_pureftpd_limits(void **state)
{
	(void)state;
	entry(USERFILE_PUREFTPD,
	      "lim:h:1:1::/srv/lim/./:102400:204800:1:10:3:500:1048576:192.0.2.1:192.0.2.2:10.0.0.0/8,"
	      "host.example:10.9.9.9:0900-1800",
	      "lim", "h", "/srv/lim");
	const struct userfile_limits *l = &e.lim;
	assert_true(e.limits);
	assert_true(l->has_rate_up && l->has_rate_down && l->has_max_sessions);
	assert_true(l->has_quota_files && l->has_quota_bytes);
	assert_int_equal(l->rate_up, 102400);
	assert_int_equal(l->rate_down, 204800);
	assert_int_equal(l->ratio_up, 1);
	assert_int_equal(l->ratio_down, 10);
	assert_int_equal(l->max_sessions, 3);
	assert_int_equal(l->quota_files, 500);
	assert_int_equal(l->quota_bytes, 1048576);
	slice_is(l->allow_local, "192.0.2.1");
	slice_is(l->deny_local, "192.0.2.2");
	slice_is(l->allow_client, "10.0.0.0/8,host.example");
	slice_is(l->deny_client, "10.9.9.9");
	slice_is(l->time, "0900-1800");
	/* Empty fields are not set; zeros are (Pure-FTPd reads a 0 quota as
	 * "nothing may be uploaded"). */
	entry(USERFILE_PUREFTPD, "z:h:1:1::/srv/z/./::::::0:0:::::", "z", "h", "/srv/z");
	assert_false(e.lim.has_rate_up || e.lim.has_rate_down || e.lim.has_max_sessions);
	assert_true(e.lim.has_quota_files && e.lim.has_quota_bytes);
	assert_int_equal(e.lim.quota_files, 0);
	assert_int_equal(e.lim.ratio_up, 0);
	slice_is(e.lim.allow_client, "");
	slice_is(e.lim.time, "");
	/* A short line: the missing fields are empty. */
	entry(USERFILE_PUREFTPD, "s:h:1:1::/srv/s:5", "s", "h", "/srv/s");
	assert_true(e.lim.has_rate_up);
	assert_int_equal(e.lim.rate_up, 5);
	assert_false(e.lim.has_rate_down);
	slice_is(e.lim.deny_client, "");
	/* 2^64-1 fits, one more does not. */
	entry(USERFILE_PUREFTPD, "m:h:1:1::/srv/m:::::::18446744073709551615", "m", "h", "/srv/m");
	assert_true(e.lim.quota_bytes == UINT64_MAX);
}

static void test_pureftpd_limits_bad(void **state)
{
	(void)state;
	bad(USERFILE_PUREFTPD, "a:h:1:1::/x:10k", "upload bandwidth is not a number");
	bad(USERFILE_PUREFTPD, "a:h:1:1::/x::-1", "download bandwidth is not a number");
	bad(USERFILE_PUREFTPD, "a:h:1:1::/x:::x", "upload ratio is not a number");
	bad(USERFILE_PUREFTPD, "a:h:1:1::/x:::1:x", "download ratio is not a number");
	bad(USERFILE_PUREFTPD, "a:h:1:1::/x:::::two", "maximum number of connections");
	bad(USERFILE_PUREFTPD, "a:h:1:1::/x:::::: 5", "files quota is not a number");
	bad(USERFILE_PUREFTPD, "a:h:1:1::/x:::::::18446744073709551616", "size quota is not a number");
	bad(USERFILE_PUREFTPD, "a:h:1:1::/x::::::::::10.0.0.1\x7f", "control characters");
	assert_int_equal(e.name.n, 1); /* still named */
}

static void test_proftpd(void **state)
{
	(void)state;
	entry(USERFILE_PROFTPD, "ftpuser:$5$salt$hash:2000:2000:FTP user:/srv/ftp/ftpuser:/bin/false", "ftpuser",
	      "$5$salt$hash", "/srv/ftp/ftpuser");
	assert_false(e.locked);
	/* ftpasswd --lock prepends '!': imported disabled, hash kept. */
	entry(USERFILE_PROFTPD, "lk:!$1$abcdefgh$hash:1:1::/srv/lk:/bin/sh", "lk", "$1$abcdefgh$hash", "/srv/lk");
	assert_true(e.locked);
	entry(USERFILE_PROFTPD, "ch:h:1:1::/srv/./ch:", "ch", "h", "/srv");
	assert_string_equal(e.start, "/ch");
	bad(USERFILE_PROFTPD, "a:h:1:1::/x", "not a ProFTPD AuthUserFile line");
	bad(USERFILE_PROFTPD, "a:h:1:1::/x:/bin/sh:extra", "not a ProFTPD AuthUserFile line");
	bad(USERFILE_PROFTPD, "a:!:1:1::/x:/bin/sh", "locked account without a password hash");
}

static void test_htpasswd(void **state)
{
	(void)state;
	entry(USERFILE_HTPASSWD, "web:$apr1$abc$def", "web", "$apr1$abc$def", "");
	entry(USERFILE_HTPASSWD, "b:$2y$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234", "b",
	      "$2y$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234", "");
	bad(USERFILE_HTPASSWD, "justaname", "not an htpasswd line");
	bad(USERFILE_HTPASSWD, "a:b:c", "not an htpasswd line");
	bad(USERFILE_HTPASSWD, "a:", "empty password hash");
}

static void test_skip_lines(void **state)
{
	static const char *const lines[] = { "", "   ", "\r", "# a comment", "#x:y:1:1::/z" };
	const char *why;
	(void)state;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		for (int f = USERFILE_PUREFTPD; f <= USERFILE_HTPASSWD; f++)
			assert_int_equal(userfile_parse(f, slice_from_cstr(lines[i]), &e, &why), USERFILE_SKIP);
	}
	/* A NUL inside the line is a control byte, never the line's end. */
	struct slice nul = { "a:h\0x:1:1::/x", 13 };
	assert_int_equal(userfile_parse(USERFILE_PUREFTPD, nul, &e, &why), USERFILE_BAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_names),
		cmocka_unit_test(test_pureftpd),
		cmocka_unit_test(test_pureftpd_bad),
		cmocka_unit_test(test_pureftpd_limits),
		cmocka_unit_test(test_pureftpd_limits_bad),
		cmocka_unit_test(test_proftpd),
		cmocka_unit_test(test_htpasswd),
		cmocka_unit_test(test_skip_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
