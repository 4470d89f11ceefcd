/* Unit tests for src/base/log_event.c: JSON escaping of untrusted bytes, the
 * xferlog(5) line, and the event files (written, reopened after a rename). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static void esc(const char *in, size_t n, const char *want)
{
	char out[256];
	size_t len = 0;
	assert_true(log_json_escape(in, n, out, sizeof(out), &len));
	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
}

static void test_json_escape_ascii_and_controls(void **state)
{
	(void)state;
	esc("plain", 5, "plain");
	esc("a\"b\\c", 5, "a\\\"b\\\\c");
	esc("\r\n\t\b\f", 5, "\\r\\n\\t\\b\\f");
	esc("x\0y", 3, "x\\u0000y");
	esc("\x01\x1f\x7f", 3, "\\u0001\\u001f\\u007f");
	esc("", 0, "");
}

static void test_json_escape_utf8(void **state)
{
	(void)state;
	/* Valid UTF-8 (2, 3 and 4 bytes) is copied as is. */
	esc("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	/* Invalid: a lone continuation byte, a truncated sequence, an overlong
	 * '/', an encoded surrogate, beyond U+10FFFF, 0xff. Each byte → \u00XX. */
	esc("\x80", 1, "\\u0080");
	esc("\xc3", 1, "\\u00c3");
	esc("\xc3x", 2, "\\u00c3x");
	esc("\xc0\xaf", 2, "\\u00c0\\u00af");
	esc("\xed\xa0\x80", 3, "\\u00ed\\u00a0\\u0080");
	esc("\xf4\x90\x80\x80", 4, "\\u00f4\\u0090\\u0080\\u0080");
	esc("\xff", 1, "\\u00ff");
	esc("\xe2\x82", 2, "\\u00e2\\u0082");
}

/* Issue 13 item 6: valid JSON raw, but a line reader splits at these. */
static void test_json_escape_line_separators(void **state)
{
	(void)state;
	esc("a\xc2\x85"
	    "b\xc2\xa0"
	    "c\xe2\x80\xa8"
	    "d\xe2\x80\xa9"
	    "e",
	    15, "a\\u0085b\\u00a0c\\u2028d\\u2029e");
	esc("\xe2\x80\xae", 3, "\\u202e");
}

static void test_json_escape_bounded(void **state)
{
	(void)state;
	char out[8];
	size_t len = 99;
	/* Stops before a piece that does not fit; never splits an escape. */
	assert_false(log_json_escape("abc\x01xyz", 7, out, sizeof(out), &len));
	assert_string_equal(out, "abc");
	assert_int_equal(len, 3);
	assert_false(log_json_escape("x", 1, out, 0, &len));
}

static void test_xferlog_line(void **state)
{
	(void)state;
	setenv("TZ", "UTC", 1);
	struct log_xfer x = { .user = "bob",
			      .ip = "192.0.2.7",
			      .cmd = "RETR",
			      .path = "/dir/my file\x01.txt",
			      .bytes = 12345,
			      .duration_ms = 2600,
			      .result = "ok",
			      .direction = 'o' };
	char line[512];
	log_xfer_format(&x, 1700000000, line, sizeof(line));
	assert_string_equal(line, "Tue Nov 14 22:13:20 2023 3 192.0.2.7 12345 /dir/my_file?.txt b _ o r bob ftp 0 * c");
	x.direction = 'i';
	x.ascii = true;
	x.result = "aborted";
	x.duration_ms = 10; /* never 0 seconds */
	x.bytes = 0;
	log_xfer_format(&x, 1700000000 + 86400 * 20, line, sizeof(line));
	assert_string_equal(line, "Mon Dec  4 22:13:20 2023 1 192.0.2.7 0 /dir/my_file?.txt a _ i r bob ftp 0 * i");
	/* The service name: "ftp" for FTP and FTPS, the protocol for SFTP. */
	x.protocol = "ftps";
	log_xfer_format(&x, 1700000000 + 86400 * 20, line, sizeof(line));
	assert_string_equal(line, "Mon Dec  4 22:13:20 2023 1 192.0.2.7 0 /dir/my_file?.txt a _ i r bob ftp 0 * i");
	x.protocol = "sftp";
	log_xfer_format(&x, 1700000000 + 86400 * 20, line, sizeof(line));
	assert_string_equal(line, "Mon Dec  4 22:13:20 2023 1 192.0.2.7 0 /dir/my_file?.txt a _ i r bob sftp 0 * i");
}

static void test_xferlog_unicode_name(void **state)
{
	(void)state;
	setenv("TZ", "UTC", 1);
	/* Valid UTF-8 kept; Unicode spaces and separators '_' like a space;
	 * invalid bytes (a lone 0x85 is NEL in Latin-1) '?'. */
	struct log_xfer x = { .user = "b\xc2\xa0ob",
			      .ip = "192.0.2.7",
			      .cmd = "STOR",
			      .path = "/caf\xc3\xa9\xc2\x85x\xe2\x80\xa8y\x85z",
			      .bytes = 1,
			      .duration_ms = 1,
			      .result = "ok",
			      .direction = 'i' };
	char line[512];
	log_xfer_format(&x, 1700000000, line, sizeof(line));
	assert_string_equal(line, "Tue Nov 14 22:13:20 2023 1 192.0.2.7 1 /caf\xc3\xa9_x_y?z b _ i r b_ob ftp 0 * c");
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	assert_non_null(f);
	static char buf[8192];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	(void)fclose(f);
	return buf;
}

static void test_files_and_reopen(void **state)
{
	(void)state;
	char dir[] = "/tmp/ferry-test-log-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char xl[128], js[128], rot[128];
	(void)snprintf(xl, sizeof(xl), "%s/xferlog", dir);
	(void)snprintf(js, sizeof(js), "%s/events.json", dir);
	(void)snprintf(rot, sizeof(rot), "%s/events.json.1", dir);
	char err[256] = "";
	assert_false(log_json_on());
	assert_int_equal(log_files_open(xl, js, (uid_t)-1, (gid_t)-1, err, sizeof(err)), 0);
	assert_true(log_json_on());
	LOG_JSON(7, "login", LOG_FS("user", "b\"o\nb"), LOG_FS("reason", NULL), LOG_FU("n", 42));
	const char *j = slurp(js);
	const char *tail =
	    strstr(j, ",\"session\":7,\"event\":\"login\",\"user\":\"b\\\"o\\nb\",\"reason\":null,\"n\":42}\n");
	assert_non_null(tail);
	assert_memory_equal(j, "{\"ts\":\"", 7);
	assert_int_equal(strlen(j), (size_t)(tail - j) + strlen(tail));

	struct log_xfer x = {
		.user = "bob", .ip = "127.0.0.1", .cmd = "LIST", .path = "/", .bytes = 5, .result = "ok", .direction = 0
	};
	log_xfer(1, &x); /* a listing: JSON only */
	assert_string_equal(slurp(xl), "");
	x.cmd = "STOR";
	x.direction = 'i';
	log_xfer(1, &x);
	assert_non_null(strstr(slurp(xl), " 127.0.0.1 5 / b _ i r bob ftp 0 * c\n"));

	/* logrotate: rename, then SIGUSR1 → reopen; new lines go to the new file. */
	assert_int_equal(rename(js, rot), 0);
	LOG_JSON(8, "before", LOG_FU("x", 1));
	log_files_reopen();
	LOG_JSON(9, "after", LOG_FU("x", 2));
	assert_non_null(strstr(slurp(rot), "\"event\":\"before\""));
	assert_null(strstr(slurp(rot), "\"event\":\"after\""));
	assert_non_null(strstr(slurp(js), "\"event\":\"after\""));
	assert_null(strstr(slurp(js), "\"event\":\"before\""));

	log_files_close();
	assert_false(log_json_on());
	/* An unopenable path is an error with a message. */
	char bad[160];
	(void)snprintf(bad, sizeof(bad), "%s/no/such/dir/x", dir);
	assert_int_not_equal(log_files_open("", bad, (uid_t)-1, (gid_t)-1, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "[log] json: cannot open"));
	(void)unlink(xl);
	(void)unlink(js);
	(void)unlink(rot);
	(void)rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_escape_ascii_and_controls),
		cmocka_unit_test(test_json_escape_utf8),
		cmocka_unit_test(test_json_escape_line_separators),
		cmocka_unit_test(test_json_escape_bounded),
		cmocka_unit_test(test_xferlog_unicode_name),
		cmocka_unit_test(test_xferlog_line),
		cmocka_unit_test(test_files_and_reopen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
