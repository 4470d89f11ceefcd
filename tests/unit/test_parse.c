/* Unit tests for src/parse.c: the only parsers of numbers and addresses from
 * untrusted text (config files, later REST/PORT/EPRT arguments). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "parse.h"

static struct slice S(const char *s)
{
	return slice_from_cstr(s);
}

static void test_parse_u64_ok(void **state)
{
	(void)state;
	uint64_t v = 99;
	assert_int_equal(parse_u64(S("0"), UINT64_MAX, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_u64(S("12345"), UINT64_MAX, &v), 0);
	assert_int_equal(v, 12345);
	assert_int_equal(parse_u64(S("007"), UINT64_MAX, &v), 0);
	assert_int_equal(v, 7);
	/* Many leading zeros do not overflow. */
	assert_int_equal(parse_u64(S("0000000000000000000000000000000000000042"), UINT64_MAX, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_u64(S("18446744073709551615"), UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	/* Exactly max is allowed. */
	assert_int_equal(parse_u64(S("65535"), 65535, &v), 0);
	assert_int_equal(v, 65535);
	/* Only the slice's bytes count. */
	const char buf[] = { '1', '2', 'x' };
	assert_int_equal(parse_u64((struct slice){ buf, 2 }, UINT64_MAX, &v), 0);
	assert_int_equal(v, 12);
}

static void test_parse_u64_range(void **state)
{
	(void)state;
	uint64_t v = 77;
	assert_int_equal(parse_u64(S("18446744073709551616"), UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_u64(S("18446744073709551620"), UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_u64(S("99999999999999999999999999"), UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_u64(S("65536"), 65535, &v), -ERANGE);
	assert_int_equal(parse_u64(S("1"), 0, &v), -ERANGE);
	/* *out is left alone on failure. */
	assert_int_equal(v, 77);
}

static void test_parse_u64_syntax(void **state)
{
	(void)state;
	uint64_t v = 77;
	static const char *const bad[] = { "", "+1", "-1", "-0", " 1", "1 ", "1a", "a1", "0x10", "1.5",
					   "1e3", "\t1", "１", "1,000" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_u64(S(bad[i]), UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_u64((struct slice){ NULL, 0 }, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_u64(SLICE_LIT("1\0"), UINT64_MAX, &v), -EINVAL);
	/* A syntax error wins over the range check, even for huge numbers. */
	assert_int_equal(parse_u64(S("99999999999999999999999x"), UINT64_MAX, &v), -EINVAL);
	assert_int_equal(v, 77);
}

static void test_parse_duration(void **state)
{
	(void)state;
	uint64_t v = 0;
	assert_int_equal(parse_duration_ms(S("5"), UINT64_MAX, &v), 0);
	assert_int_equal(v, 5000);
	assert_int_equal(parse_duration_ms(S("5s"), UINT64_MAX, &v), 0);
	assert_int_equal(v, 5000);
	assert_int_equal(parse_duration_ms(S("250ms"), UINT64_MAX, &v), 0);
	assert_int_equal(v, 250);
	assert_int_equal(parse_duration_ms(S("2m"), UINT64_MAX, &v), 0);
	assert_int_equal(v, 120000);
	assert_int_equal(parse_duration_ms(S("1h"), UINT64_MAX, &v), 0);
	assert_int_equal(v, 3600000);
	assert_int_equal(parse_duration_ms(S("0"), UINT64_MAX, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_duration_ms(S("0ms"), UINT64_MAX, &v), 0);
	assert_int_equal(v, 0);
	/* Exactly max. */
	assert_int_equal(parse_duration_ms(S("30s"), 30000, &v), 0);
	assert_int_equal(v, 30000);
}

static void test_parse_duration_bad(void **state)
{
	(void)state;
	uint64_t v = 77;
	static const char *const bad[] = { "", "s", "ms", "m", "h", "5x", "5 s", " 5s", "5s ", "-5s", "+5s",
					   "5S", "5MS", "5sec", "5ss", "5mss", "1.5s", "5hm", "s5" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse_duration_ms(S(bad[i]), UINT64_MAX, &v);
		if (r != -EINVAL)
			fail_msg("parse_duration_ms(\"%s\") = %d, want -EINVAL", bad[i], r);
	}
	assert_int_equal(v, 77);
}

static void test_parse_duration_range(void **state)
{
	(void)state;
	uint64_t v = 77;
	assert_int_equal(parse_duration_ms(S("31s"), 30000, &v), -ERANGE);
	assert_int_equal(parse_duration_ms(S("30001ms"), 30000, &v), -ERANGE);
	/* The unit multiplication overflows 64 bits: -ERANGE, not a wrap. */
	assert_int_equal(parse_duration_ms(S("18446744073709551615h"), UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_duration_ms(S("18446744073709552s"), UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_duration_ms(S("18446744073709551616ms"), UINT64_MAX, &v), -ERANGE);
	assert_int_equal(v, 77);
	/* The largest that does not overflow. */
	assert_int_equal(parse_duration_ms(S("18446744073709551615ms"), UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
}

static void check_hostport(const char *in, const char *host, uint16_t port)
{
	char h[64] = "unset";
	uint16_t p = 1;
	int r = parse_hostport(S(in), h, sizeof(h), &p);
	if (r != 0)
		fail_msg("parse_hostport(\"%s\") = %d, want 0", in, r);
	assert_string_equal(h, host);
	assert_int_equal(p, port);
}

static void check_hostport_bad(const char *in)
{
	char h[64] = "unset";
	uint16_t p = 1;
	int r = parse_hostport(S(in), h, sizeof(h), &p);
	if (r != -EINVAL)
		fail_msg("parse_hostport(\"%s\") = %d (host \"%s\" port %u), want -EINVAL", in, r, h, p);
	assert_int_equal(p, 1);
}

static void test_parse_hostport_ok(void **state)
{
	(void)state;
	check_hostport("127.0.0.1:2121", "127.0.0.1", 2121);
	check_hostport("0.0.0.0:21", "0.0.0.0", 21);
	check_hostport("1.2.3.4:1", "1.2.3.4", 1);
	check_hostport("1.2.3.4:65535", "1.2.3.4", 65535);
	check_hostport("[::1]:2121", "::1", 2121);
	check_hostport("[::]:21", "::", 21);
	check_hostport("[2001:db8::1]:990", "2001:db8::1", 990);
	check_hostport("[::ffff:192.0.2.1]:21", "::ffff:192.0.2.1", 21);
	check_hostport("*:21", "0.0.0.0", 21);
	/* Surrounding spaces (config values) are trimmed. */
	check_hostport("  127.0.0.1:21  ", "127.0.0.1", 21);
	check_hostport("1.2.3.4:021", "1.2.3.4", 21);
}

static void test_parse_hostport_bad(void **state)
{
	(void)state;
	check_hostport_bad("");
	check_hostport_bad("1.2.3.4");
	check_hostport_bad("1.2.3.4:");
	check_hostport_bad("1.2.3.4:0");
	check_hostport_bad("1.2.3.4:65536");
	check_hostport_bad("1.2.3.4:99999999999999999999999");
	check_hostport_bad("1.2.3.4:-1");
	check_hostport_bad("1.2.3.4:+21");
	check_hostport_bad("1.2.3.4: 21");
	check_hostport_bad("1.2.3.4 :21");
	check_hostport_bad("1.2.3.4:21x");
	check_hostport_bad(":21");
	check_hostport_bad("localhost:21");
	check_hostport_bad("example.com:21");
	check_hostport_bad("1.2.3:21");
	check_hostport_bad("256.1.1.1:21");
	check_hostport_bad("::1:21");
	check_hostport_bad("::1");
	check_hostport_bad("[::1]");
	check_hostport_bad("[::1]:");
	check_hostport_bad("[::1]:0");
	check_hostport_bad("[::1]21");
	check_hostport_bad("[::1");
	check_hostport_bad("::1]:21");
	check_hostport_bad("[]:21");
	check_hostport_bad("[fe80::1%eth0]:21");
	check_hostport_bad("[::1]:65536");
	check_hostport_bad("**:21");
	check_hostport_bad("*");
}

static void test_parse_hostport_small_host_buffer(void **state)
{
	(void)state;
	char h[8];
	uint16_t p = 1;
	/* "1.2.3.4" is 7 bytes + NUL: fits exactly. */
	assert_int_equal(parse_hostport(S("1.2.3.4:21"), h, sizeof(h), &p), 0);
	assert_string_equal(h, "1.2.3.4");
	/* One byte more does not fit: refused, never truncated. */
	p = 1;
	assert_int_equal(parse_hostport(S("10.2.3.4:21"), h, sizeof(h), &p), -EINVAL);
	assert_int_equal(p, 1);
}

static void test_parse_port_range(void **state)
{
	(void)state;
	uint16_t lo = 0, hi = 0;
	assert_int_equal(parse_port_range(S("49152-65534"), &lo, &hi), 0);
	assert_int_equal(lo, 49152);
	assert_int_equal(hi, 65534);
	assert_int_equal(parse_port_range(S("1-65535"), &lo, &hi), 0);
	assert_int_equal(lo, 1);
	assert_int_equal(hi, 65535);
	assert_int_equal(parse_port_range(S("2000-2000"), &lo, &hi), 0);
	assert_int_equal(lo, 2000);
	assert_int_equal(hi, 2000);
	assert_int_equal(parse_port_range(S(" 1024 - 2048 "), &lo, &hi), 0);
	assert_int_equal(lo, 1024);
	assert_int_equal(hi, 2048);

	lo = hi = 7;
	static const char *const bad[] = { "", "1024", "-", "-2048", "1024-", "0-10", "10-5", "1-65536",
					   "65536-65537", "a-b", "1024-2048-3000", "+1-2", "1--2", "1.0-2" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse_port_range(S(bad[i]), &lo, &hi);
		if (r != -EINVAL)
			fail_msg("parse_port_range(\"%s\") = %d, want -EINVAL", bad[i], r);
	}
	assert_int_equal(lo, 7);
	assert_int_equal(hi, 7);
}

static void test_parse_is_ip(void **state)
{
	(void)state;
	int fam = 0;
	assert_true(parse_is_ip("127.0.0.1", &fam));
	assert_int_equal(fam, 4);
	assert_true(parse_is_ip("::1", &fam));
	assert_int_equal(fam, 6);
	assert_true(parse_is_ip("::", NULL));
	assert_false(parse_is_ip("", &fam));
	assert_false(parse_is_ip("localhost", &fam));
	assert_false(parse_is_ip("1.2.3", &fam));
	assert_false(parse_is_ip("[::1]", &fam));
	assert_false(parse_is_ip(" 1.2.3.4", &fam));
}

static void test_parse_octal(void **state)
{
	(void)state;
	uint64_t v = 99;
	assert_int_equal(parse_octal(S("640"), 07777, &v), 0);
	assert_int_equal(v, 0640);
	assert_int_equal(parse_octal(S("0755"), 07777, &v), 0);
	assert_int_equal(v, 0755);
	assert_int_equal(parse_octal(S("000000000000000000000000000007"), 07777, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(parse_octal(S("7777"), 07777, &v), 0);
	assert_int_equal(v, 07777);
	v = 99;
	assert_int_equal(parse_octal(S("17777"), 07777, &v), -ERANGE);
	assert_int_equal(parse_octal(S("7777777777777777777777777"), 07777, &v), -ERANGE);
	assert_int_equal(parse_octal(S(""), 07777, &v), -EINVAL);
	assert_int_equal(parse_octal(S("8"), 07777, &v), -EINVAL);
	assert_int_equal(parse_octal(S("64 "), 07777, &v), -EINVAL);
	assert_int_equal(parse_octal(S("-1"), 07777, &v), -EINVAL);
	assert_int_equal(parse_octal(S("u+x"), 07777, &v), -EINVAL);
	assert_int_equal(v, 99); /* untouched on failure */
}

/* Decision 13: only NUL, CR and LF can never be part of a command. */
static void test_parse_has_forbidden_byte(void **state)
{
	(void)state;
	assert_false(parse_has_forbidden_byte(S("STOR a\tb.txt")));
	assert_false(parse_has_forbidden_byte(S("\x01\x1b\x7f\x80\xff")));
	assert_false(parse_has_forbidden_byte(S("")));
	assert_true(parse_has_forbidden_byte(SLICE_LIT("a\0b")));
	assert_true(parse_has_forbidden_byte(S("a\rb")));
	assert_true(parse_has_forbidden_byte(S("a\n")));
}

static void test_parse_time_val(void **state)
{
	int64_t sec;
	long ns;
	assert_int_equal(parse_time_val(SLICE_LIT("19700101000000"), &sec, &ns), 0);
	assert_int_equal(sec, 0);
	assert_int_equal(ns, 0);
	assert_int_equal(parse_time_val(SLICE_LIT("20200102030405"), &sec, &ns), 0);
	assert_int_equal(sec, 1577934245); /* date -u -d 2020-01-02T03:04:05 +%s */
	assert_int_equal(parse_time_val(SLICE_LIT("20240229235959.25"), &sec, &ns), 0);
	assert_int_equal(sec, 1709251199);
	assert_int_equal(ns, 250000000);
	assert_int_equal(parse_time_val(SLICE_LIT("20230229000000"), &sec, &ns), -EINVAL); /* not a leap year */
	assert_int_equal(parse_time_val(SLICE_LIT("20200230000000"), &sec, &ns), -EINVAL);
	assert_int_equal(parse_time_val(SLICE_LIT("20201301000000"), &sec, &ns), -EINVAL);
	assert_int_equal(parse_time_val(SLICE_LIT("20200101240000"), &sec, &ns), -EINVAL);
	assert_int_equal(parse_time_val(SLICE_LIT("2020010100000"), &sec, &ns), -EINVAL);
	assert_int_equal(parse_time_val(SLICE_LIT("20200101000000."), &sec, &ns), -EINVAL);
	assert_int_equal(parse_time_val(SLICE_LIT("20200101000000.1234567890"), &sec, &ns), -EINVAL);
	assert_int_equal(parse_time_val(SLICE_LIT("2020010100000x"), &sec, &ns), -EINVAL);
	assert_int_equal(parse_time_val(SLICE_LIT("19691231235959"), &sec, &ns), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_time_val),
		cmocka_unit_test(test_parse_octal),
		cmocka_unit_test(test_parse_has_forbidden_byte),
		cmocka_unit_test(test_parse_u64_ok),
		cmocka_unit_test(test_parse_u64_range),
		cmocka_unit_test(test_parse_u64_syntax),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_duration_bad),
		cmocka_unit_test(test_parse_duration_range),
		cmocka_unit_test(test_parse_hostport_ok),
		cmocka_unit_test(test_parse_hostport_bad),
		cmocka_unit_test(test_parse_hostport_small_host_buffer),
		cmocka_unit_test(test_parse_port_range),
		cmocka_unit_test(test_parse_is_ip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
