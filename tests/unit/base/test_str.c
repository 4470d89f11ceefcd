/* Unit tests for src/base/str.c: slices over untrusted bytes, escaping for logs
 * and the bounded copy. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "str.h"

static struct slice S(const char *s)
{
	return slice_from_cstr(s);
}

static void assert_slice(struct slice s, const char *want)
{
	assert_int_equal(s.n, strlen(want));
	if (s.n)
		assert_memory_equal(s.p, want, s.n);
}

static void test_slice_from_cstr(void **state)
{
	(void)state;
	struct slice s = slice_from_cstr("abc");
	assert_int_equal(s.n, 3);
	s = slice_from_cstr("");
	assert_int_equal(s.n, 0);
	s = slice_from_cstr(NULL);
	assert_int_equal(s.n, 0);
	s = SLICE_LIT("a\0b");
	assert_int_equal(s.n, 3);
}

static void test_slice_eq(void **state)
{
	(void)state;
	assert_true(slice_eq(S("abc"), S("abc")));
	assert_false(slice_eq(S("abc"), S("abd")));
	assert_false(slice_eq(S("abc"), S("ab")));
	assert_true(slice_eq(S(""), S("")));
	assert_true(slice_eq((struct slice){ NULL, 0 }, S("")));
	/* Binary-safe: bytes after a NUL count. */
	assert_false(slice_eq(SLICE_LIT("a\0b"), SLICE_LIT("a\0c")));
	assert_true(slice_eq(SLICE_LIT("a\0b"), SLICE_LIT("a\0b")));
}

static void test_slice_eq_ci(void **state)
{
	(void)state;
	assert_true(slice_eq_ci(S("noop"), "NOOP"));
	assert_true(slice_eq_ci(S("NoOp"), "nOoP"));
	assert_false(slice_eq_ci(S("NOO"), "NOOP"));
	assert_false(slice_eq_ci(S("NOOPS"), "NOOP"));
	assert_true(slice_eq_ci(S(""), ""));
	assert_true(slice_eq_ci((struct slice){ NULL, 0 }, ""));
	/* ASCII only: neither locale folding nor '@' == '`' tricks. */
	assert_false(slice_eq_ci(S("@"), "`"));
	assert_false(slice_eq_ci(S("["), "{"));
	assert_false(slice_eq_ci(S("\xc9"), "\xe9"));
	/* A slice is not NUL-terminated: only its n bytes are compared. */
	const char buf[] = { 'U', 'S', 'E', 'R', 'X' };
	assert_true(slice_eq_ci((struct slice){ buf, 4 }, "user"));
}

static void test_slice_split(void **state)
{
	(void)state;
	struct slice h, t;
	assert_true(slice_split(S("USER bob"), ' ', &h, &t));
	assert_slice(h, "USER");
	assert_slice(t, "bob");
	/* Splits at the first separator; the rest stays whole. */
	assert_true(slice_split(S("STOR a b  c"), ' ', &h, &t));
	assert_slice(h, "STOR");
	assert_slice(t, "a b  c");
	/* Separator at the end: empty tail, still true. */
	assert_true(slice_split(S("NOOP "), ' ', &h, &t));
	assert_slice(h, "NOOP");
	assert_slice(t, "");
	/* At the start: empty head. */
	assert_true(slice_split(S(" x"), ' ', &h, &t));
	assert_slice(h, "");
	assert_slice(t, "x");
	/* Absent: head is everything, tail empty, false. */
	assert_false(slice_split(S("NOOP"), ' ', &h, &t));
	assert_slice(h, "NOOP");
	assert_slice(t, "");
	assert_false(slice_split(S(""), ' ', &h, &t));
	assert_slice(h, "");
	assert_slice(t, "");
	/* NUL as data and as separator. */
	assert_true(slice_split(SLICE_LIT("a\0b"), '\0', &h, &t));
	assert_slice(h, "a");
	assert_slice(t, "b");
	/* Only n bytes are searched. */
	const char buf[] = { 'a', 'b', ' ', 'c' };
	assert_false(slice_split((struct slice){ buf, 2 }, ' ', &h, &t));
	assert_slice(h, "ab");
}

/* The empty slice {NULL, 0} (slice_from_cstr(NULL), buf_slice() of an
 * unused buf) is a valid slice; splitting it must not compute NULL + 0,
 * which is undefined behaviour (C17 6.5.6p8; clang's UBSan reports it). */
static void test_slice_split_null_empty(void **state)
{
	(void)state;
	struct slice h = { "x", 1 }, t = { "y", 1 };
	assert_false(slice_split((struct slice){ NULL, 0 }, ' ', &h, &t));
	assert_int_equal(h.n, 0);
	assert_int_equal(t.n, 0);
}

static void test_slice_trim_spaces(void **state)
{
	(void)state;
	assert_slice(slice_trim_spaces(S("  a b  ")), "a b");
	assert_slice(slice_trim_spaces(S("\t a\t")), "a");
	assert_slice(slice_trim_spaces(S("abc")), "abc");
	assert_slice(slice_trim_spaces(S("    ")), "");
	assert_slice(slice_trim_spaces(S("")), "");
	/* Only spaces and tabs: other whitespace is data. */
	assert_slice(slice_trim_spaces(S("\r\na\n")), "\r\na\n");
}

static void test_slice_has_ctl(void **state)
{
	(void)state;
	assert_false(slice_has_ctl(S("USER bob")));
	assert_false(slice_has_ctl(S("")));
	assert_false(slice_has_ctl(S(" ~")));
	assert_false(slice_has_ctl(S("\x80\xff\xc3\xa9"))); /* high bytes are data (UTF-8) */
	assert_true(slice_has_ctl(SLICE_LIT("a\0b")));
	assert_true(slice_has_ctl(S("a\x01")));
	assert_true(slice_has_ctl(S("\t")));
	assert_true(slice_has_ctl(S("a\rb")));
	assert_true(slice_has_ctl(S("a\n")));
	assert_true(slice_has_ctl(S("\x1f")));
	assert_true(slice_has_ctl(S("\x7f")));
	/* Only the slice's bytes are looked at. */
	const char buf[] = { 'a', 'b', '\n' };
	assert_false(slice_has_ctl((struct slice){ buf, 2 }));
}

static void test_slice_dup(void **state)
{
	(void)state;
	const char buf[] = { 'b', 'o', 'b', '!' };
	char *d = slice_dup((struct slice){ buf, 3 });
	assert_string_equal(d, "bob");
	free(d);
	d = slice_dup((struct slice){ NULL, 0 });
	assert_string_equal(d, "");
	free(d);
}

static void test_str_escape_plain(void **state)
{
	(void)state;
	char out[64];
	assert_ptr_equal(str_escape(S("bob"), out, sizeof(out)), out);
	assert_string_equal(out, "bob");
	assert_string_equal(str_escape(S(""), out, sizeof(out)), "");
	assert_string_equal(str_escape(S(" ~!"), out, sizeof(out)), " ~!");
}

static void test_str_escape_special(void **state)
{
	(void)state;
	char out[64];
	assert_string_equal(str_escape(S("a\"b"), out, sizeof(out)), "a\\x22b");
	assert_string_equal(str_escape(S("a\\b"), out, sizeof(out)), "a\\x5cb");
	assert_string_equal(str_escape(S("\r\n"), out, sizeof(out)), "\\x0d\\x0a");
	assert_string_equal(str_escape(SLICE_LIT("\0"), out, sizeof(out)), "\\x00");
	assert_string_equal(str_escape(S("\x7f\x80\xff"), out, sizeof(out)), "\\x7f\\x80\\xff");
	assert_string_equal(str_escape(S("\t"), out, sizeof(out)), "\\x09");
	/* A log line can never be split or forged by the result. */
	str_escape(S("x\nlevel=error \"quoted\""), out, sizeof(out));
	assert_null(strchr(out, '\n'));
	assert_null(strchr(out, '"'));
}

static void test_str_escape_truncation(void **state)
{
	(void)state;
	char out[8];
	/* Too long: cut with "...", never more than outsz - 1 bytes. */
	str_escape(S("abcdefghijklmnop"), out, sizeof(out));
	assert_true(strlen(out) <= 7);
	assert_true(strlen(out) >= 3);
	assert_string_equal(out + strlen(out) - 3, "...");
	assert_memory_equal(out, "abcdefghijklmnop", strlen(out) - 3);
	/* An escape is never cut in half. */
	char out2[10];
	str_escape(S("\x01\x02\x03\x04\x05"), out2, sizeof(out2));
	assert_true(strlen(out2) <= 9);
	assert_string_equal(out2 + strlen(out2) - 3, "...");
	size_t body = strlen(out2) - 3;
	assert_int_equal(body % 4, 0);
	/* Tiny outputs stay NUL-terminated. */
	char one[1] = { 'z' };
	str_escape(S("abc"), one, sizeof(one));
	assert_int_equal(one[0], '\0');
	char four[4];
	str_escape(S("abcdef"), four, sizeof(four));
	assert_true(strlen(four) <= 3);
	/* outsz 0: nothing written. */
	char untouched = 'u';
	str_escape(S("abc"), &untouched, 0);
	assert_int_equal(untouched, 'u');
}

/* str.h: "truncated with "..." if it does not fit". Text that fits (here
 * 5 bytes + NUL in 8, and 3 + NUL in 4) must come out whole. */
static void test_str_escape_fits_exactly(void **state)
{
	(void)state;
	char out[8];
	assert_string_equal(str_escape(S("abcde"), out, sizeof(out)), "abcde");
	assert_string_equal(str_escape(S("abcdefg"), out, sizeof(out)), "abcdefg");
	char four[4];
	assert_string_equal(str_escape(S("abc"), four, sizeof(four)), "abc");
	char esc[5];
	assert_string_equal(str_escape(S("\n"), esc, sizeof(esc)), "\\x0a");
}

/* Issue 13 items 6 and 15: valid UTF-8 stays readable; what can split or
 * forge a record for some reader is escaped, byte by byte. */
static void test_str_escape_utf8(void **state)
{
	(void)state;
	char out[128];
	assert_string_equal(str_escape(S("caf\xc3\xa9 \xe6\xbc\xa2 \xf0\x9f\x98\x80"), out, sizeof(out)),
			    "caf\xc3\xa9 \xe6\xbc\xa2 \xf0\x9f\x98\x80");
	/* U+0085 NEL, U+00A0, U+2028, U+2029, U+202E (bidi override), U+FEFF. */
	assert_string_equal(str_escape(S("a\xc2\x85" "b\xc2\xa0" "c\xe2\x80\xa8" "d\xe2\x80\xa9" "e\xe2\x80\xae" "f\xef\xbb\xbf"),
				       out, sizeof(out)),
			    "a\\xc2\\x85b\\xc2\\xa0c\\xe2\\x80\\xa8d\\xe2\\x80\\xa9e\\xe2\\x80\\xaef\\xef\\xbb\\xbf");
	/* Invalid: each byte escaped, what follows read afresh. */
	assert_string_equal(str_escape(S("\xc3(\xe2\x82\xed\xa0\x80\xc3\xa9"), out, sizeof(out)),
			    "\\xc3(\\xe2\\x82\\xed\\xa0\\x80\xc3\xa9");
	/* A character is never cut in half by the truncation. */
	char small[8];
	str_escape(S("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"), small, sizeof(small));
	assert_string_equal(small, "\xc3\xa9\xc3\xa9...");
}

static void test_utf8_next_and_classifier(void **state)
{
	(void)state;
	uint32_t cp = 0;
	assert_int_equal(str_utf8_next("A", 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(str_utf8_next("\xe2\x80\xa8", 3, &cp), 3);
	assert_int_equal(cp, 0x2028);
	assert_int_equal(str_utf8_next("\xf0\x9f\x98\x80", 4, &cp), 4);
	assert_int_equal(cp, 0x1f600);
	assert_int_equal(str_utf8_next("\xe2\x80\xa8", 2, &cp), 0); /* truncated */
	assert_int_equal(str_utf8_next("\xc0\xaf", 2, &cp), 0);	      /* overlong */
	assert_int_equal(str_utf8_next("", 0, &cp), 0);
	static const uint32_t breaks[] = { 0x0a, 0x0d, 0x1e, 0x7f, 0x85, 0xa0, 0x1680, 0x2000, 0x200b, 0x200f,
					   0x2028, 0x2029, 0x202e, 0x205f, 0x2066, 0x3000, 0xfeff };
	for (size_t i = 0; i < sizeof(breaks) / sizeof(breaks[0]); i++)
		assert_true(str_cp_breaks_line(breaks[i]));
	static const uint32_t fine[] = { ' ', 'a', 0xe9, 0x6f22, 0x2010, 0x1f600 };
	for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++)
		assert_false(str_cp_breaks_line(fine[i]));
}

static void test_str_copy(void **state)
{
	(void)state;
	char out[8];
	assert_true(str_copy(out, sizeof(out), "abc"));
	assert_string_equal(out, "abc");
	assert_true(str_copy(out, sizeof(out), "1234567")); /* exactly fits */
	assert_string_equal(out, "1234567");
	assert_false(str_copy(out, sizeof(out), "12345678"));
	assert_string_equal(out, "1234567");
	assert_false(str_copy(out, sizeof(out), "a much longer string"));
	assert_string_equal(out, "a much ");
	assert_true(str_copy(out, sizeof(out), ""));
	assert_string_equal(out, "");
	char one[1];
	assert_false(str_copy(one, sizeof(one), "x"));
	assert_string_equal(one, "");
	assert_true(str_copy(one, sizeof(one), ""));
	char untouched = 'u';
	assert_false(str_copy(&untouched, 0, "x"));
	assert_int_equal(untouched, 'u');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slice_from_cstr),
		cmocka_unit_test(test_slice_eq),
		cmocka_unit_test(test_slice_eq_ci),
		cmocka_unit_test(test_slice_split),
		cmocka_unit_test(test_slice_trim_spaces),
		cmocka_unit_test(test_slice_has_ctl),
		cmocka_unit_test(test_slice_dup),
		cmocka_unit_test(test_str_escape_plain),
		cmocka_unit_test(test_str_escape_special),
		cmocka_unit_test(test_str_escape_truncation),
		cmocka_unit_test(test_str_escape_fits_exactly),
		cmocka_unit_test(test_str_escape_utf8),
		cmocka_unit_test(test_utf8_next_and_classifier),
		cmocka_unit_test(test_str_copy),
		/* Last: under clang's UBSan with halt_on_error it ends the run. */
		cmocka_unit_test(test_slice_split_null_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
