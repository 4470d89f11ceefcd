/* proxyproto: the PROXY protocol parser (v1, v2, TLVs, LOCAL, the families
 * the spec lets a receiver fall back on), the proxy_from check, and the
 * socket reader that must never consume a byte past the header. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "proxyproto.h"

static const uint8_t SIG[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A };

static enum proxy_status parse(enum proxy_mode m, const void *p, size_t n, size_t *len, struct proxy_hdr *h,
			       const char **why)
{
	return proxy_parse(m, p, n, len, h, why);
}

static void expect_addr(const struct sockaddr_storage *ss, const char *ip, unsigned port)
{
	char got[64];
	net_addr_str(ss, got, sizeof(got));
	assert_string_equal(got, ip);
	uint16_t p = ss->ss_family == AF_INET ? ((const struct sockaddr_in *)(const void *)ss)->sin_port
					      : ((const struct sockaddr_in6 *)(const void *)ss)->sin6_port;
	assert_int_equal(ntohs(p), port);
}

/* Every proper prefix of a valid header wants more (and only header bytes);
 * the whole one is complete whatever follows it. */
static void check_prefixes(enum proxy_mode m, const uint8_t *h, size_t n)
{
	struct proxy_hdr out;
	const char *why;
	size_t len;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(parse(m, h, i, &len, &out, &why), PROXY_NEED);
		assert_true(len > i);
		assert_true(len <= (h[0] == 'P' ? PROXY_V1_MAX : PROXY_V2_MAX));
	}
	uint8_t more[256];
	memcpy(more, h, n);
	memcpy(more + n, "\x16\x03\x01 client bytes", 16);
	assert_int_equal(parse(m, more, n + 16, &len, &out, &why), PROXY_DONE);
	assert_int_equal(len, n);
}

static void test_v1_valid(void **state)
{
	(void)state;
	struct proxy_hdr h;
	const char *why;
	size_t len;
	const char *l4 = "PROXY TCP4 192.0.2.5 198.51.100.1 56324 21\r\n";
	assert_int_equal(parse(PROXY_V1, l4, strlen(l4), &len, &h, &why), PROXY_DONE);
	assert_int_equal(len, strlen(l4));
	assert_int_equal(h.version, 1);
	assert_true(h.has_addr);
	assert_string_equal(h.kind, "TCP4");
	expect_addr(&h.src, "192.0.2.5", 56324);
	expect_addr(&h.dst, "198.51.100.1", 21);
	check_prefixes(PROXY_V1, (const uint8_t *)l4, strlen(l4));
	check_prefixes(PROXY_ANY, (const uint8_t *)l4, strlen(l4));

	const char *l6 = "PROXY TCP6 2001:db8::1 ::1 0 65535\r\n";
	assert_int_equal(parse(PROXY_ANY, l6, strlen(l6), &len, &h, &why), PROXY_DONE);
	assert_string_equal(h.kind, "TCP6");
	expect_addr(&h.src, "2001:db8::1", 0);
	expect_addr(&h.dst, "::1", 65535);

	/* the longest line the spec allows */
	const char *worst = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
			    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	assert_int_equal(strlen(worst), PROXY_V1_MAX);
	assert_int_equal(parse(PROXY_V1, worst, strlen(worst), &len, &h, &why), PROXY_DONE);
	assert_false(h.has_addr);
	assert_string_equal(h.kind, "UNKNOWN");
	/* UNKNOWN: whatever precedes the CRLF is ignored */
	const char *unk = "PROXY UNKNOWN\r\n";
	assert_int_equal(parse(PROXY_V1, unk, strlen(unk), &len, &h, &why), PROXY_DONE);
	assert_int_equal(len, 15);
	assert_false(h.has_addr);
}

static void test_v1_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"PROXY TCP4 192.0.2.05 198.51.100.1 1 2\r\n", /* leading zero in an octet */
		"PROXY TCP4 192.0.2.5 198.51.100.1 01 2\r\n", /* leading zero in a port */
		"PROXY TCP4 192.0.2.5 198.51.100.1 1 65536\r\n",
		"PROXY TCP4 192.0.2.5  198.51.100.1 1 2\r\n", /* two spaces */
		"PROXY TCP4 192.0.2.5 198.51.100.1 1 2 \r\n", /* trailing space */
		"PROXY TCP4 192.0.2.5 198.51.100.1 1\r\n",
		"PROXY TCP4 192.0.2.5 198.51.100.1 1 2 3\r\n",
		"PROXY TCP4 2001:db8::1 ::1 1 2\r\n", /* family mismatch */
		"PROXY TCP6 192.0.2.5 198.51.100.1 1 2\r\n",
		"PROXY TCP5 192.0.2.5 198.51.100.1 1 2\r\n",
		"PROXY tcp4 192.0.2.5 198.51.100.1 1 2\r\n",
		"PROXY TCP4 192.0.2.5 198.51.100.1 1 2\n", /* LF alone */
		"PROXY TCP4 192.0.2.5\r198.51.100.1 1 2\r\n",
		"PROXY TCP4 192.0.2.5 198.51.100.1 +1 2\r\n",
		"PROXY\r\n",
		"PROXY \r\n",
		"proxy TCP4 192.0.2.5 198.51.100.1 1 2\r\n",
		"PROXYTCP4 192.0.2.5 198.51.100.1 1 2\r\n",
		"USER anonymous\r\n", /* a client that does not know it is behind a balancer */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct proxy_hdr h;
		const char *why = NULL;
		size_t len;
		if (parse(PROXY_V1, bad[i], strlen(bad[i]), &len, &h, &why) != PROXY_BAD)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(why);
		assert_true(strlen(why) > 0);
	}
	/* no LF within 107 bytes */
	char longline[200];
	memset(longline, 'x', sizeof(longline));
	memcpy(longline, "PROXY UNKNOWN ", 14);
	struct proxy_hdr h;
	const char *why;
	size_t len;
	assert_int_equal(parse(PROXY_V1, longline, 106, &len, &h, &why), PROXY_NEED);
	assert_int_equal(len, PROXY_V1_MAX);
	assert_int_equal(parse(PROXY_V1, longline, 107, &len, &h, &why), PROXY_BAD);
	memcpy(longline + 106, "\r\n", 2); /* CRLF at bytes 107-108: one too long */
	assert_int_equal(parse(PROXY_V1, longline, 108, &len, &h, &why), PROXY_BAD);
	/* refused as soon as the prefix is wrong, not after waiting for more */
	assert_int_equal(parse(PROXY_V1, "PRX", 3, &len, &h, &why), PROXY_BAD);
	assert_int_equal(parse(PROXY_V1, "G", 1, &len, &h, &why), PROXY_BAD);
	/* a v1 listener takes no v2 header, and the other way round */
	assert_int_equal(parse(PROXY_V1, SIG, 12, &len, &h, &why), PROXY_BAD);
	assert_int_equal(parse(PROXY_V2, "PROXY ", 6, &len, &h, &why), PROXY_BAD);
	assert_int_equal(parse(PROXY_ANY, "GET / HTTP/1.0\r\n", 16, &len, &h, &why), PROXY_BAD);
	assert_int_equal(parse(PROXY_OFF, "PROXY ", 6, &len, &h, &why), PROXY_BAD);
}

/* A v2 header: the signature, ver_cmd, fam, then body (len bytes). */
static size_t v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const void *body, size_t n)
{
	memcpy(out, SIG, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (uint8_t)(n >> 8);
	out[15] = (uint8_t)n;
	if (n)
		memcpy(out + 16, body, n);
	return 16 + n;
}

static void test_v2_valid(void **state)
{
	(void)state;
	uint8_t b[600], body[300];
	struct proxy_hdr h;
	const char *why;
	size_t len;
	/* TCP4 192.0.2.5:56324 → 198.51.100.1:21, with a NOOP and an ALPN TLV */
	static const uint8_t a4[12] = { 192, 0, 2, 5, 198, 51, 100, 1, 0xDC, 0x04, 0, 21 };
	memcpy(body, a4, 12);
	static const uint8_t tlvs[] = { 0x04, 0, 2, 0, 0, 0x01, 0, 3, 'f', 't', 'p' };
	memcpy(body + 12, tlvs, sizeof(tlvs));
	size_t n = v2(b, 0x21, 0x11, body, 12 + sizeof(tlvs));
	assert_int_equal(parse(PROXY_V2, b, n, &len, &h, &why), PROXY_DONE);
	assert_int_equal(len, n);
	assert_int_equal(h.version, 2);
	assert_true(h.has_addr);
	assert_string_equal(h.kind, "TCP4");
	expect_addr(&h.src, "192.0.2.5", 56324);
	expect_addr(&h.dst, "198.51.100.1", 21);
	check_prefixes(PROXY_V2, b, n);
	check_prefixes(PROXY_ANY, b, n);
	/* the first wait is for the fixed part, the next for the whole */
	assert_int_equal(parse(PROXY_V2, b, 5, &len, &h, &why), PROXY_NEED);
	assert_int_equal(len, 16);
	assert_int_equal(parse(PROXY_V2, b, 16, &len, &h, &why), PROXY_NEED);
	assert_int_equal(len, n);

	/* TCP6 */
	memset(body, 0, 36);
	inet_pton(AF_INET6, "2001:db8::7", body);
	inet_pton(AF_INET6, "2001:db8::1", body + 16);
	body[33] = 99, body[35] = 21;
	n = v2(b, 0x21, 0x21, body, 36);
	assert_int_equal(parse(PROXY_ANY, b, n, &len, &h, &why), PROXY_DONE);
	assert_string_equal(h.kind, "TCP6");
	expect_addr(&h.src, "2001:db8::7", 99);
	expect_addr(&h.dst, "2001:db8::1", 21);

	/* LOCAL (a health check): no address whatever the block says */
	n = v2(b, 0x20, 0x00, NULL, 0);
	assert_int_equal(parse(PROXY_V2, b, n, &len, &h, &why), PROXY_DONE);
	assert_false(h.has_addr);
	assert_string_equal(h.kind, "LOCAL");
	n = v2(b, 0x20, 0x11, "xy", 2); /* the family is ignored, the length skipped */
	assert_int_equal(parse(PROXY_V2, b, n, &len, &h, &why), PROXY_DONE);
	assert_int_equal(len, 18);
	assert_false(h.has_addr);

	/* UNSPEC, AF_UNIX and UDP fall back to the connection's endpoints */
	n = v2(b, 0x21, 0x00, "junk", 4);
	assert_int_equal(parse(PROXY_V2, b, n, &len, &h, &why), PROXY_DONE);
	assert_false(h.has_addr);
	assert_string_equal(h.kind, "UNSPEC");
	memset(body, 'u', 216);
	n = v2(b, 0x21, 0x31, body, 216);
	assert_int_equal(parse(PROXY_V2, b, n, &len, &h, &why), PROXY_DONE);
	assert_false(h.has_addr);
	assert_string_equal(h.kind, "UNIX");
	n = v2(b, 0x21, 0x12, a4, 12);
	assert_int_equal(parse(PROXY_V2, b, n, &len, &h, &why), PROXY_DONE);
	assert_false(h.has_addr);
	assert_string_equal(h.kind, "UDP4");
}

static void test_v2_invalid(void **state)
{
	(void)state;
	uint8_t b[600], body[64] = { 0 };
	struct proxy_hdr h;
	const char *why;
	size_t len;
	struct {
		uint8_t ver_cmd, fam;
		size_t n;
	} bad[] = {
		{ 0x11, 0x11, 12 }, /* version 1 in the binary format */
		{ 0x31, 0x11, 12 }, /* version 3 */
		{ 0x22, 0x11, 12 }, /* command 2 */
		{ 0x21, 0x41, 12 }, /* family 4 */
		{ 0x21, 0x13, 12 }, /* transport 3 */
		{ 0x21, 0x11, 8 },  /* too short for IPv4 */
		{ 0x21, 0x21, 12 }, /* too short for IPv6 */
		{ 0x21, 0x11, 14 }, /* 2 stray bytes: not a TLV */
		{ 0x21, 0x11, 13 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = v2(b, bad[i].ver_cmd, bad[i].fam, body, bad[i].n);
		if (parse(PROXY_V2, b, n, &len, &h, &why) != PROXY_BAD)
			fail_msg("accepted case %zu", i);
	}
	/* a TLV longer than what is left */
	memset(body, 0, 12);
	static const uint8_t tlv[] = { 0x01, 0, 9, 'f', 't', 'p' };
	memcpy(body + 12, tlv, sizeof(tlv));
	size_t n = v2(b, 0x21, 0x11, body, 12 + sizeof(tlv));
	assert_int_equal(parse(PROXY_V2, b, n, &len, &h, &why), PROXY_BAD);
	/* refused at the first wrong byte: the version comes before the length */
	n = v2(b, 0x11, 0x11, body, 12);
	assert_int_equal(parse(PROXY_V2, b, 13, &len, &h, &why), PROXY_BAD);
	uint8_t sig[12];
	memcpy(sig, SIG, 12);
	sig[5] = 'x';
	assert_int_equal(parse(PROXY_V2, sig, 6, &len, &h, &why), PROXY_BAD);
	assert_int_equal(parse(PROXY_V2, sig, 5, &len, &h, &why), PROXY_NEED);
	/* the largest length is waited for, not refused */
	n = v2(b, 0x21, 0x11, body, 12);
	b[14] = 0xFF, b[15] = 0xFF;
	assert_int_equal(parse(PROXY_V2, b, 16, &len, &h, &why), PROXY_NEED);
	assert_int_equal(len, PROXY_V2_MAX);
}

static struct sockaddr_storage ss(const char *ip)
{
	struct sockaddr_storage s;
	memset(&s, 0, sizeof(s));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&s;
		a->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&s;
		a->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
	}
	return s;
}

static struct config_cidr cidr(const char *ip, unsigned bits)
{
	struct config_cidr c;
	memset(&c, 0, sizeof(c));
	c.family = strchr(ip, ':') ? 6 : 4;
	c.bits = (uint8_t)bits;
	assert_int_equal(inet_pton(c.family == 4 ? AF_INET : AF_INET6, ip, c.addr), 1);
	return c;
}

static void test_proxy_from(void **state)
{
	(void)state;
	struct config_cidr list[] = { cidr("127.0.0.1", 32), cidr("10.16.0.0", 12), cidr("2001:db8:1::", 48) };
	struct sockaddr_storage a;
#define ALLOWS(ip) (a = ss(ip), proxy_from_allows(&a, list, 3))
	assert_true(ALLOWS("127.0.0.1"));
	assert_false(ALLOWS("127.0.0.2"));
	assert_true(ALLOWS("10.16.0.1"));
	assert_true(ALLOWS("10.31.255.255"));
	assert_false(ALLOWS("10.32.0.0"));
	assert_false(ALLOWS("10.15.255.255"));
	assert_true(ALLOWS("::ffff:127.0.0.1")); /* IPv4-mapped counts as IPv4 */
	assert_false(ALLOWS("::1"));
	assert_true(ALLOWS("2001:db8:1:ffff::9"));
	assert_false(ALLOWS("2001:db8:2::1"));
	assert_false(proxy_from_allows(&a, list, 0)); /* empty list: nobody */
	struct config_cidr all = cidr("0.0.0.0", 0);
	a = ss("203.0.113.9");
	assert_true(proxy_from_allows(&a, &all, 1));
	a = ss("::1");
	assert_false(proxy_from_allows(&a, &all, 1)); /* 0.0.0.0/0 is IPv4 only */
#undef ALLOWS
}

/* ---- the socket reader ---- */

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
}

static void put(int fd, const void *p, size_t n)
{
	assert_int_equal(write(fd, p, n), (ssize_t)n);
}

/* The client's bytes after the header stay in the socket. */
static void expect_rest(int fd, const char *want)
{
	char got[64] = { 0 };
	ssize_t n = read(fd, got, sizeof(got) - 1);
	assert_int_equal(n, (ssize_t)strlen(want));
	assert_string_equal(got, want);
}

static void test_reader(void **state)
{
	(void)state;
	int sv[2];
	struct net_proxy_reader r;
	struct proxy_hdr h;
	const char *why;

	/* v1 and the client's first bytes in one segment */
	pair(sv);
	net_proxy_reader_init(&r, PROXY_ANY);
	const char *l = "PROXY TCP4 192.0.2.5 198.51.100.1 4000 21\r\nUSER bob\r\n";
	put(sv[1], l, strlen(l));
	assert_int_equal(net_proxy_read(sv[0], &r, &h, &why), 0);
	expect_addr(&h.src, "192.0.2.5", 4000);
	expect_rest(sv[0], "USER bob\r\n");
	net_proxy_reader_free(&r);

	/* v2 a few bytes at a time, then a TLS ClientHello that must stay */
	uint8_t b[64];
	static const uint8_t a4[12] = { 192, 0, 2, 7, 198, 51, 100, 1, 0, 80, 0, 21 };
	size_t n = v2(b, 0x21, 0x11, a4, 12);
	memcpy(b + n, "\x16\x03\x01hello", 8);
	net_proxy_reader_init(&r, PROXY_V2);
	assert_int_equal(net_proxy_read(sv[0], &r, &h, &why), -EAGAIN);
	put(sv[1], b, 3);
	assert_int_equal(net_proxy_read(sv[0], &r, &h, &why), -EAGAIN);
	put(sv[1], b + 3, 15); /* past the fixed part */
	assert_int_equal(net_proxy_read(sv[0], &r, &h, &why), -EAGAIN);
	put(sv[1], b + 18, n - 18 + 8);
	assert_int_equal(net_proxy_read(sv[0], &r, &h, &why), 0);
	expect_addr(&h.src, "192.0.2.7", 80);
	expect_rest(sv[0], "\x16\x03\x01hello");
	net_proxy_reader_free(&r);

	/* v1 split inside the line */
	net_proxy_reader_init(&r, PROXY_V1);
	put(sv[1], "PROXY TCP6 ::1", 14);
	assert_int_equal(net_proxy_read(sv[0], &r, &h, &why), -EAGAIN);
	put(sv[1], " ::2 1 2\r\nQUIT\r\n", 16);
	assert_int_equal(net_proxy_read(sv[0], &r, &h, &why), 0);
	expect_addr(&h.src, "::1", 1);
	expect_rest(sv[0], "QUIT\r\n");
	net_proxy_reader_free(&r);

	/* malformed */
	net_proxy_reader_init(&r, PROXY_ANY);
	put(sv[1], "USER bob\r\n", 10);
	assert_int_equal(net_proxy_read(sv[0], &r, &h, &why), -EPROTO);
	net_proxy_reader_free(&r);
	close(sv[0]);
	close(sv[1]);

	/* the peer leaves halfway */
	pair(sv);
	net_proxy_reader_init(&r, PROXY_V2);
	put(sv[1], SIG, 8);
	close(sv[1]);
	assert_int_equal(net_proxy_read(sv[0], &r, &h, &why), -ECONNRESET);
	assert_string_equal(why, "the connection closed in the middle of the PROXY header");
	net_proxy_reader_free(&r);
	close(sv[0]);

	/* ... or before its first byte */
	pair(sv);
	net_proxy_reader_init(&r, PROXY_V1);
	close(sv[1]);
	assert_int_equal(net_proxy_read(sv[0], &r, &h, &why), -ECONNRESET);
	assert_string_equal(why, "the connection closed before sending the PROXY header");
	net_proxy_reader_free(&r);
	close(sv[0]);
}

static struct sockaddr_storage addr(const char *ip, unsigned port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
	}
	return ss;
}

/* net_addr_same (the data connection's peer check) agrees with comparing
 * net_addr_str's text, which it replaced: ports never count, an
 * IPv4-mapped IPv6 address is its IPv4 one, unknown families are alike. */
static void test_addr_same(void **state)
{
	(void)state;
	const char *ips[] = {
		"127.0.0.1", "127.0.0.2", "10.0.0.1", "::ffff:127.0.0.1", "::ffff:127.0.0.2", "::1", "fe80::1",
		"fe80::2",   "::",	  "",	      "0.0.0.0"
	};
	for (size_t i = 0; i < sizeof(ips) / sizeof(ips[0]); i++) {
		for (size_t j = 0; j < sizeof(ips) / sizeof(ips[0]); j++) {
			struct sockaddr_storage a = addr(ips[i], 21), b = addr(ips[j], 40000 + (unsigned)j);
			char x[64], y[64];
			net_addr_str(&a, x, sizeof(x));
			net_addr_str(&b, y, sizeof(y));
			assert_int_equal(net_addr_same(&a, &b), strcmp(x, y) == 0);
		}
	}
	struct sockaddr_storage a = addr("127.0.0.1", 1), m = addr("::ffff:127.0.0.1", 2), o = addr("127.0.0.2", 1);
	assert_true(net_addr_same(&a, &m));
	assert_true(net_addr_same(&m, &a));
	assert_false(net_addr_same(&a, &o));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_valid),   cmocka_unit_test(test_v1_invalid), cmocka_unit_test(test_v2_valid),
		cmocka_unit_test(test_v2_invalid), cmocka_unit_test(test_proxy_from), cmocka_unit_test(test_reader),
		cmocka_unit_test(test_addr_same),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
