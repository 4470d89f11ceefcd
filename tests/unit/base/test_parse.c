/* Unit tests for src/base/parse.c: the only parsers of numbers and addresses from
 * untrusted text (config files, REST/PORT/EPRT/EPSV arguments). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
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

static void test_parse_size(void **state)
{
	(void)state;
	uint64_t v = 0;
	assert_int_equal(parse_size(S("0"), UINT64_MAX, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_size(S("1500"), UINT64_MAX, &v), 0);
	assert_int_equal(v, 1500);
	assert_int_equal(parse_size(S("64K"), UINT64_MAX, &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(parse_size(S("20M"), UINT64_MAX, &v), 0);
	assert_int_equal(v, 20971520);
	assert_int_equal(parse_size(S("2g"), UINT64_MAX, &v), 0);
	assert_int_equal(v, 2147483648);
	assert_int_equal(parse_size(S("1T"), 1ull << 40, &v), 0);
	assert_int_equal(v, 1ull << 40);
	v = 77;
	assert_int_equal(parse_size(S("2T"), 1ull << 40, &v), -ERANGE);
	assert_int_equal(parse_size(S("99999999999G"), UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_size(S("M"), UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_size(S(""), UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_size(S("5MB"), UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_size(S("-5"), UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_size(S("1.5M"), UINT64_MAX, &v), -EINVAL);
	assert_int_equal(v, 77);
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

/* The IPv4 address and port a PORT/EPRT target holds, as "a.b.c.d:port". */
static const char *v4_str(const struct sockaddr_storage *ss, char *out, size_t n)
{
	const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)ss;
	char ip[INET_ADDRSTRLEN];
	assert_int_equal(a->sin_family, AF_INET);
	assert_non_null(inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip)));
	(void)snprintf(out, n, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
	return out;
}

static const char *v6_str(const struct sockaddr_storage *ss, char *out, size_t n)
{
	const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)ss;
	char ip[INET6_ADDRSTRLEN];
	assert_int_equal(a->sin6_family, AF_INET6);
	assert_non_null(inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip)));
	(void)snprintf(out, n, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
	return out;
}

static void test_parse_port_arg_ok(void **state)
{
	(void)state;
	struct sockaddr_storage t;
	char s[64];
	assert_int_equal(parse_port_arg(S("127,0,0,1,4,1"), &t), 0);
	assert_string_equal(v4_str(&t, s, sizeof(s)), "127.0.0.1:1025");
	assert_int_equal(parse_port_arg(S("255,255,255,255,255,255"), &t), 0);
	assert_string_equal(v4_str(&t, s, sizeof(s)), "255.255.255.255:65535");
	assert_int_equal(parse_port_arg(S("0,0,0,0,0,0"), &t), 0); /* port 0: the caller refuses it */
	assert_string_equal(v4_str(&t, s, sizeof(s)), "0.0.0.0:0");
	/* Spaces around the argument and around each number. */
	assert_int_equal(parse_port_arg(S("  10, 1 ,2,3 , 200,7  "), &t), 0);
	assert_string_equal(v4_str(&t, s, sizeof(s)), "10.1.2.3:51207");
	assert_int_equal(parse_port_arg(S("\t1,2,3,4,5,\t6\t"), &t), 0); /* TAB counts as a space */
	assert_string_equal(v4_str(&t, s, sizeof(s)), "1.2.3.4:1286");
	assert_int_equal(parse_port_arg(S("010,001,002,003,000,021"), &t), 0);
	assert_string_equal(v4_str(&t, s, sizeof(s)), "10.1.2.3:21");
}

static void test_parse_port_arg_bad(void **state)
{
	(void)state;
	struct sockaddr_storage t;
	static const char *const bad[] = {
		"",				     /* missing fields */
		"1,2,3,4,5",			     /* five numbers */
		"1,2,3,4,5,6,7",		     /* seven */
		"1,2,3,4,5,",			     /* an empty last field */
		",1,2,3,4,5",			     /* an empty first field */
		"1,,3,4,5,6",			     /* an empty middle field */
		"256,0,0,1,4,1",		     /* over 255 */
		"1,2,3,4,5,256",		     /* port byte over 255 */
		"1,2,3,4,5,99999999999999999999999", /* overflow */
		"-1,2,3,4,5,6",			     /* a sign */
		"+1,2,3,4,5,6",
		"1,2,3,4,5,6x",	 /* trailing junk */
		"1.2.3.4,5,6",	 /* dotted */
		"1 2,3,4,5,6,7", /* a space inside a number */
		"0x1,2,3,4,5,6",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_port_arg(S(bad[i]), &t) != -EINVAL)
			fail_msg("PORT %s accepted", bad[i]);
	}
	/* Only the slice's bytes count. */
	const char buf[] = "1,2,3,4,5,67";
	assert_int_equal(parse_port_arg((struct slice){ buf, sizeof(buf) - 2 }, &t), 0);
	char s[64];
	assert_string_equal(v4_str(&t, s, sizeof(s)), "1.2.3.4:1286");
}

static void test_parse_eprt_arg_ok(void **state)
{
	(void)state;
	struct sockaddr_storage t;
	char s[80];
	int af = 0;
	assert_int_equal(parse_eprt_arg(S("|1|132.235.1.2|6275|"), &af, &t), 0);
	assert_int_equal(af, 1);
	assert_string_equal(v4_str(&t, s, sizeof(s)), "132.235.1.2:6275");
	assert_int_equal(parse_eprt_arg(S("|2|1080::8:800:200C:417A|5282|"), &af, &t), 0);
	assert_int_equal(af, 2);
	assert_string_equal(v6_str(&t, s, sizeof(s)), "[1080::8:800:200c:417a]:5282");
	assert_int_equal(parse_eprt_arg(S("|2|::ffff:127.0.0.1|65535|"), &af, &t), 0);
	assert_string_equal(v6_str(&t, s, sizeof(s)), "[::ffff:127.0.0.1]:65535");
	/* RFC 2428 §2: any delimiter in 33-126 (the first byte says which). */
	for (int d = 33; d <= 126; d++) {
		if (d == '.' || (d >= '0' && d <= '9'))
			continue; /* would split the address or the numbers */
		char arg[64];
		(void)snprintf(arg, sizeof(arg), "%c1%c10.0.0.1%c2121%c", d, d, d, d);
		af = 0;
		if (parse_eprt_arg(S(arg), &af, &t) != 0 || af != 1)
			fail_msg("EPRT %s refused", arg);
		assert_string_equal(v4_str(&t, s, sizeof(s)), "10.0.0.1:2121");
		if (d == ':' || (d >= 'a' && d <= 'f') || (d >= 'A' && d <= 'F'))
			continue; /* part of an IPv6 address */
		(void)snprintf(arg, sizeof(arg), "%c2%c::1%c2121%c", d, d, d, d);
		if (parse_eprt_arg(S(arg), &af, &t) != 0 || af != 2)
			fail_msg("EPRT %s refused", arg);
		assert_string_equal(v6_str(&t, s, sizeof(s)), "[::1]:2121");
	}
}

static void test_parse_eprt_arg_bad(void **state)
{
	(void)state;
	struct sockaddr_storage t;
	static const struct {
		const char *arg;
		int err, af; /* af: what the parser knew when it stopped */
	} cases[] = {
		{ "", -EINVAL, 0 },
		{ "|1|", -EINVAL, 0 },		     /* too short */
		{ "|1|1.2.3.4|5", -EINVAL, 0 },	     /* no closing delimiter */
		{ "|1|1.2.3.4|5/", -EINVAL, 0 },     /* another closing byte */
		{ " |1|1.2.3.4|2121|", -EINVAL, 0 }, /* a leading space is no delimiter */
		{ "|1|1.2.3.4|2121| ", -EINVAL, 0 }, /* nor a trailing one */
		{ "\x7f"
		  "1\x7f"
		  "1.2.3.4\x7f"
		  "2121\x7f",
		  -EINVAL, 0 }, /* 127: not a delimiter */
		{ "\x80"
		  "1\x80"
		  "1.2.3.4\x80"
		  "2121\x80",
		  -EINVAL, 0 },				  /* nor a high byte */
		{ "|1|1.2.3.4|21|21|", -EINVAL, 0 },	  /* one field too many */
		{ "|11.2.3.4|2121|", -EINVAL, 0 },	  /* one field short */
		{ "|3|1.2.3.4|2121|", -EAFNOSUPPORT, 0 }, /* af 3 */
		{ "||1.2.3.4|2121|", -EAFNOSUPPORT, 0 },  /* af missing */
		{ "|x|1.2.3.4|2121|", -EAFNOSUPPORT, 0 },
		{ "|99999999999999999999|1.2.3.4|2121|", -EAFNOSUPPORT, 0 }, /* overflow */
		{ "|1|1.2.3.4|0|", -EINVAL, 1 },			     /* port 0 */
		{ "|1|1.2.3.4|65536|", -EINVAL, 1 },			     /* port over 65535 */
		{ "|1|1.2.3.4|99999999999999999999|", -EINVAL, 1 },
		{ "|1|1.2.3.4||", -EINVAL, 1 },						   /* port missing */
		{ "|1|1.2.3.4| 2121|", -EINVAL, 1 },					   /* spaces */
		{ "|1||2121|", -EINVAL, 1 },						   /* address missing */
		{ "|1|1111111111222222222233333333334444444444555555|2121|", -EINVAL, 1 }, /* longer than any address */
		{ "|1|1.2.3.256|2121|", -EADDRNOTAVAIL, 1 },
		{ "|1|::1|2121|", -EADDRNOTAVAIL, 1 },	   /* af 1 with an IPv6 address */
		{ "|2|1.2.3.4|2121|", -EADDRNOTAVAIL, 2 }, /* af 2 with an IPv4 address */
		{ "|1| 1.2.3.4|2121|", -EADDRNOTAVAIL, 1 },
		{ "|2|host.example|2121|", -EADDRNOTAVAIL, 2 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int af = -1;
		int r = parse_eprt_arg(S(cases[i].arg), &af, &t);
		if (r != cases[i].err || af != cases[i].af)
			fail_msg("EPRT %s: got %d af %d, want %d af %d", cases[i].arg, r, af, cases[i].err,
				 cases[i].af);
	}
}

static void test_parse_epsv_arg(void **state)
{
	(void)state;
	enum parse_epsv e;
	assert_int_equal(parse_epsv_arg(S(""), &e), 0);
	assert_int_equal(e, PARSE_EPSV_ANY);
	assert_int_equal(parse_epsv_arg(S("  "), &e), 0);
	assert_int_equal(e, PARSE_EPSV_ANY);
	assert_int_equal(parse_epsv_arg(S("1"), &e), 0);
	assert_int_equal(e, PARSE_EPSV_V4);
	assert_int_equal(parse_epsv_arg(S(" 2 "), &e), 0);
	assert_int_equal(e, PARSE_EPSV_V6);
	assert_int_equal(parse_epsv_arg(S("ALL"), &e), 0);
	assert_int_equal(e, PARSE_EPSV_ALL);
	assert_int_equal(parse_epsv_arg(S("all"), &e), 0);
	assert_int_equal(e, PARSE_EPSV_ALL);
	assert_int_equal(parse_epsv_arg(S("\t1"), &e), 0);
	assert_int_equal(e, PARSE_EPSV_V4);
	assert_int_equal(parse_epsv_arg(S(" aLl "), &e), 0);
	assert_int_equal(e, PARSE_EPSV_ALL);
	static const char *const bad[] = { "3", "0", "01", "12", "1 2", "ALLX", "AL", "ALL 1", "+1", "-1", "1,2" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_epsv_arg(S(bad[i]), &e) != -EINVAL)
			fail_msg("EPSV %s accepted", bad[i]);
	}
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
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_duration_range),
		cmocka_unit_test(test_parse_hostport_ok),
		cmocka_unit_test(test_parse_hostport_bad),
		cmocka_unit_test(test_parse_hostport_small_host_buffer),
		cmocka_unit_test(test_parse_port_range),
		cmocka_unit_test(test_parse_is_ip),
		cmocka_unit_test(test_parse_port_arg_ok),
		cmocka_unit_test(test_parse_port_arg_bad),
		cmocka_unit_test(test_parse_eprt_arg_ok),
		cmocka_unit_test(test_parse_eprt_arg_bad),
		cmocka_unit_test(test_parse_epsv_arg),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
