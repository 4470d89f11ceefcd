/* Unit tests for src/base/reply.c: reply framing (RFC 959 §4.2), scrubbing of
 * text, echoing of client text and the 257 path quoting. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "reply.h"

static struct buf out;

static int setup(void **state)
{
	(void)state;
	buf_init(&out, 1u << 20);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	buf_free(&out);
	return 0;
}

/* The whole output so far must be want; then it is cleared. */
static void assert_out(const char *want)
{
	size_t n = strlen(want);
	if (out.len != n || (n && memcmp(buf_data(&out), want, n) != 0))
		fail_msg("output \"%.*s\" (%zu bytes), want \"%s\" (%zu bytes)", (int)out.len,
			 out.len ? buf_data(&out) : "", out.len, want, n);
	buf_reset(&out);
}

static void test_reply_line(void **state)
{
	(void)state;
	assert_int_equal(reply_line(&out, 200, "NOOP ok."), 0);
	assert_out("200 NOOP ok.\r\n");
	assert_int_equal(reply_line(&out, 257, "\"%s\" is the current directory.", "/a"), 0);
	assert_out("257 \"/a\" is the current directory.\r\n");
	/* Checklist A.3: even an empty text ends "ddd SP CRLF". */
	assert_int_equal(reply_line(&out, 200, "%s", ""), 0);
	assert_out("200 \r\n");
	/* Codes are always three digits. */
	assert_int_equal(reply_line(&out, 1, "x"), 0);
	assert_out("001 x\r\n");
}

static void test_reply_multiline(void **state)
{
	(void)state;
	assert_int_equal(reply_begin(&out, 211, "Features:"), 0);
	assert_int_equal(reply_cont(&out, " %s", "UTF8"), 0);
	assert_int_equal(reply_cont(&out, " MDTM"), 0);
	assert_int_equal(reply_end(&out, 211, "End"), 0);
	assert_out("211-Features:\r\n UTF8\r\n MDTM\r\n211 End\r\n");
	/* A continuation line needs no leading space when it cannot be mistaken
	 * for a last line. */
	assert_int_equal(reply_begin(&out, 214, "Help"), 0);
	assert_int_equal(reply_cont(&out, "plain text"), 0);
	assert_int_equal(reply_end(&out, 214, "%s", ""), 0);
	assert_out("214-Help\r\nplain text\r\n214 \r\n");
}

static void test_reply_cont_digits_padded(void **state)
{
	(void)state;
	/* RFC 959 §4.2: an intermediate line that starts with three digits
	 * is padded so that no client takes it for the end of the reply. */
	assert_int_equal(reply_cont(&out, "220 x"), 0);
	assert_out(" 220 x\r\n");
	assert_int_equal(reply_cont(&out, "211-y"), 0);
	assert_out(" 211-y\r\n");
	assert_int_equal(reply_cont(&out, "%d End", 211), 0);
	assert_out(" 211 End\r\n");
	assert_int_equal(reply_cont(&out, "2024"), 0);
	assert_out(" 2024\r\n");
	/* Fewer than three digits cannot form a code. */
	assert_int_equal(reply_cont(&out, "21 x"), 0);
	assert_out("21 x\r\n");
	assert_int_equal(reply_cont(&out, "12"), 0);
	assert_out("12\r\n");
	assert_int_equal(reply_cont(&out, "1"), 0);
	assert_out("1\r\n");
	assert_int_equal(reply_cont(&out, "%s", ""), 0);
	assert_out("\r\n");
	assert_int_equal(reply_cont(&out, "a211 x"), 0);
	assert_out("a211 x\r\n");
}

static void test_reply_scrubs_crlf(void **state)
{
	(void)state;
	/* Line breaks in the text could forge a reply: they become spaces. */
	assert_int_equal(reply_line(&out, 550, "%s", "a\r\n230 Login successful."), 0);
	assert_out("550 a  230 Login successful.\r\n");
	assert_int_equal(reply_line(&out, 500, "x\ny\rz"), 0);
	assert_out("500 x y z\r\n");
	assert_int_equal(reply_begin(&out, 211, "a\nb"), 0);
	assert_out("211-a b\r\n");
	assert_int_equal(reply_end(&out, 211, "c\r"), 0);
	assert_out("211 c \r\n");
	/* A continuation that would start a fake reply after scrubbing. */
	assert_int_equal(reply_cont(&out, "%s", "\r\n230 fake"), 0);
	assert_out("  230 fake\r\n");
	assert_int_equal(reply_cont(&out, "x\n211 End"), 0);
	assert_out("x 211 End\r\n");
	/* %c NUL cannot cut or hide the rest of the line. */
	assert_int_equal(reply_line(&out, 200, "a%cb", '\0'), 0);
	assert_out("200 a b\r\n");
}

/* The line of a reply, one CRLF at its end and none elsewhere. */
static void assert_single_line(size_t max)
{
	const char *p = buf_data(&out);
	assert_true(out.len >= 2);
	assert_true(out.len <= max);
	assert_int_equal(p[out.len - 2], '\r');
	assert_int_equal(p[out.len - 1], '\n');
	assert_null(memchr(p, '\r', out.len - 2));
	assert_null(memchr(p, '\n', out.len - 2));
	assert_null(memchr(p, '\0', out.len));
}

static void test_reply_long_line_truncated(void **state)
{
	(void)state;
	size_t n = 3 * REPLY_MAX_LINE;
	char *big = malloc(n + 1);
	assert_non_null(big);
	memset(big, 'x', n);
	big[n] = '\0';

	assert_int_equal(reply_line(&out, 213, "%s", big), 0);
	assert_single_line(REPLY_MAX_LINE);
	assert_true(out.len > REPLY_MAX_LINE - 16); /* cut near the limit, not early */
	assert_memory_equal(buf_data(&out), "213 xxx", 7);
	buf_reset(&out);

	assert_int_equal(reply_begin(&out, 211, "%s", big), 0);
	assert_single_line(REPLY_MAX_LINE);
	assert_memory_equal(buf_data(&out), "211-xxx", 7);
	buf_reset(&out);

	assert_int_equal(reply_cont(&out, "%s", big), 0);
	assert_single_line(REPLY_MAX_LINE);
	buf_reset(&out);

	/* Padded continuation at the limit still ends in CRLF. */
	memcpy(big, "999", 3);
	assert_int_equal(reply_cont(&out, "%s", big), 0);
	assert_single_line(REPLY_MAX_LINE);
	assert_memory_equal(buf_data(&out), " 999x", 5);
	buf_reset(&out);

	assert_int_equal(reply_end(&out, 211, "%s", big), 0);
	assert_single_line(REPLY_MAX_LINE);
	buf_reset(&out);

	/* A text with line breaks past the cut is scrubbed up to the cut. */
	for (size_t i = 0; i < n; i += 7)
		big[i] = '\n';
	assert_int_equal(reply_line(&out, 200, "%s", big), 0);
	assert_single_line(REPLY_MAX_LINE);
	buf_reset(&out);
	free(big);
}

static void test_reply_line_exactly_at_limit(void **state)
{
	(void)state;
	/* Lines that fit are not cut: a text a little under the limit
	 * comes out whole. */
	size_t n = REPLY_MAX_LINE - 16;
	char *t = malloc(n + 1);
	assert_non_null(t);
	memset(t, 'y', n);
	t[n] = '\0';
	assert_int_equal(reply_line(&out, 200, "%s", t), 0);
	assert_int_equal(out.len, 4 + n + 2);
	buf_reset(&out);
	free(t);
}

static void test_reply_enobufs(void **state)
{
	(void)state;
	struct buf small;
	buf_init(&small, 10);
	assert_int_equal(reply_line(&small, 200, "ok"), 0); /* 8 bytes */
	assert_int_equal(reply_line(&small, 200, "ok"), -ENOBUFS);
	assert_int_equal(small.len, 8); /* a reply is never half-appended */
	assert_int_equal(reply_begin(&small, 211, "x"), -ENOBUFS);
	assert_int_equal(reply_cont(&small, "x"), -ENOBUFS);
	assert_int_equal(reply_end(&small, 211, "x"), -ENOBUFS);
	assert_int_equal(small.len, 8);
	assert_int_equal(reply_cont(&small, "%s", ""), 0); /* "\r\n": exactly to the cap */
	assert_int_equal(small.len, 10);
	buf_free(&small);
}

static void test_reply_sanitize(void **state)
{
	(void)state;
	char o[64];
	assert_ptr_equal(reply_sanitize(slice_from_cstr("FOO"), o, sizeof(o)), o);
	assert_string_equal(o, "FOO");
	assert_string_equal(reply_sanitize(slice_from_cstr(""), o, sizeof(o)), "");
	assert_string_equal(reply_sanitize(SLICE_LIT("a\0b\r\nc\x1b\x7f"), o, sizeof(o)), "a?b??c??");
	/* Bytes >= 0x80 (UTF-8) and quotes are left alone. */
	assert_string_equal(reply_sanitize(slice_from_cstr("\xc3\xa9\"\\"), o, sizeof(o)), "\xc3\xa9\"\\");
	/* Only the slice's bytes are read. */
	const char buf[] = { 'a', 'b', 'c' };
	assert_string_equal(reply_sanitize((struct slice){ buf, 2 }, o, sizeof(o)), "ab");
}

static void test_reply_sanitize_truncation(void **state)
{
	(void)state;
	char o[8];
	reply_sanitize(slice_from_cstr("abcdefghijkl"), o, sizeof(o));
	assert_true(strlen(o) <= 7);
	assert_string_equal(o + strlen(o) - 3, "...");
	assert_memory_equal(o, "abcdefghijkl", strlen(o) - 3);
	/* Small buffers: NUL-terminated, no overflow. */
	char three[3];
	reply_sanitize(slice_from_cstr("abcdef"), three, sizeof(three));
	assert_true(strlen(three) <= 2);
	char one[1] = { 'z' };
	reply_sanitize(slice_from_cstr("abc"), one, sizeof(one));
	assert_int_equal(one[0], '\0');
	char untouched = 'u';
	reply_sanitize(slice_from_cstr("abc"), &untouched, 0);
	assert_int_equal(untouched, 'u');
}

/* reply.h: "at most outsz-1 bytes (cut with "...")". Text of exactly
 * outsz-1 bytes (or a byte or two less) fits and must not be cut. */
static void test_reply_sanitize_fits_exactly(void **state)
{
	(void)state;
	char o[8];
	assert_string_equal(reply_sanitize(slice_from_cstr("abcdefg"), o, sizeof(o)), "abcdefg");
	assert_string_equal(reply_sanitize(slice_from_cstr("abcdef"), o, sizeof(o)), "abcdef");
	assert_string_equal(reply_sanitize(slice_from_cstr("abcde"), o, sizeof(o)), "abcde");
}

static void test_reply_quote_path(void **state)
{
	(void)state;
	char o[64];
	assert_int_equal(reply_quote_path("/", o, sizeof(o)), 0);
	assert_string_equal(o, "/");
	assert_int_equal(reply_quote_path("/usr/dm/foo\"bar", o, sizeof(o)), 0);
	assert_string_equal(o, "/usr/dm/foo\"\"bar"); /* RFC 959 Appendix II */
	assert_int_equal(reply_quote_path("\"\"", o, sizeof(o)), 0);
	assert_string_equal(o, "\"\"\"\"");
	assert_int_equal(reply_quote_path("", o, sizeof(o)), 0);
	assert_string_equal(o, "");
}

static void test_reply_quote_path_too_long(void **state)
{
	(void)state;
	char o[4];
	assert_int_equal(reply_quote_path("abc", o, sizeof(o)), 0); /* exactly fits */
	assert_string_equal(o, "abc");
	assert_int_equal(reply_quote_path("abcd", o, sizeof(o)), -ENAMETOOLONG);
	assert_int_equal(reply_quote_path("a\"", o, sizeof(o)), 0); /* a"" + NUL */
	assert_string_equal(o, "a\"\"");
	/* The doubled quote is what does not fit. */
	assert_int_equal(reply_quote_path("ab\"", o, sizeof(o)), -ENAMETOOLONG);
	assert_int_equal(reply_quote_path("", o, 1), 0);
	assert_int_equal(reply_quote_path("", o, 0), -ENAMETOOLONG);
	assert_int_equal(reply_quote_path("x", o, 0), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reply_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_multiline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_cont_digits_padded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_scrubs_crlf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_long_line_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_line_exactly_at_limit, setup, teardown),
		cmocka_unit_test(test_reply_enobufs),
		cmocka_unit_test(test_reply_sanitize),
		cmocka_unit_test(test_reply_sanitize_truncation),
		cmocka_unit_test(test_reply_sanitize_fits_exactly),
		cmocka_unit_test(test_reply_quote_path),
		cmocka_unit_test(test_reply_quote_path_too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
