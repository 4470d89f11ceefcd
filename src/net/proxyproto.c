#include "proxyproto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "parse.h"
#include "str.h"

static const uint8_t v2_sig[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A };
static const char v1_sig[] = "PROXY ";

/* True while the n bytes of p agree with the first n bytes of sig. */
static bool prefix_of(const uint8_t *p, size_t n, const void *sig, size_t sign)
{
	return memcmp(p, sig, n < sign ? n : sign) == 0;
}

static enum proxy_status bad(const char **why, const char *text)
{
	*why = text;
	return PROXY_BAD;
}

/* ---- version 1: "PROXY TCP4 src dst sport dport\r\n" ------------------ */

/* The next space-terminated field of line (the last one ends the line). */
static bool v1_field(struct slice *line, struct slice *field, bool last)
{
	if (last) {
		*field = *line;
		line->n = 0;
		return field->n > 0;
	}
	return slice_split(*line, ' ', field, line) && field->n > 0;
}

/* A port: decimal 0-65535 without leading zeroes (spec §2.1). */
static bool v1_port(struct slice s, uint16_t *port)
{
	uint64_t v;
	if (s.n > 1 && s.p[0] == '0')
		return false;
	if (parse_u64(s, 65535, &v) != 0)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* An address of family af in canonical text (glibc's inet_pton refuses
 * leading zeroes in IPv4 octets, as the spec asks). */
static bool v1_addr(struct slice s, int af, struct sockaddr_storage *out, uint16_t port)
{
	char tmp[INET6_ADDRSTRLEN];
	if (s.n == 0 || s.n >= sizeof(tmp))
		return false;
	memcpy(tmp, s.p, s.n);
	tmp[s.n] = '\0';
	memset(out, 0, sizeof(*out));
	if (af == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)out;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		return inet_pton(AF_INET, tmp, &a->sin_addr) == 1;
	}
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
	a->sin6_family = AF_INET6;
	a->sin6_port = htons(port);
	return strchr(tmp, ':') && inet_pton(AF_INET6, tmp, &a->sin6_addr) == 1;
}

static enum proxy_status v1_parse(const uint8_t *p, size_t n, size_t *len, struct proxy_hdr *out, const char **why)
{
	if (!prefix_of(p, n, v1_sig, sizeof(v1_sig) - 1))
		return bad(why, "not a PROXY protocol version 1 header");
	const uint8_t *lf = memchr(p, '\n', n < PROXY_V1_MAX ? n : PROXY_V1_MAX);
	if (!lf) {
		if (n >= PROXY_V1_MAX)
			return bad(why, "version 1 header longer than 107 bytes");
		*len = PROXY_V1_MAX;
		return PROXY_NEED;
	}
	size_t total = (size_t)(lf - p) + 1;
	if (total < 2 || p[total - 2] != '\r')
		return bad(why, "version 1 header not ended by CRLF");
	struct slice line = { (const char *)p + sizeof(v1_sig) - 1, total - 2 - (sizeof(v1_sig) - 1) };
	if (memchr(line.p, '\r', line.n) || memchr(line.p, '\0', line.n))
		return bad(why, "version 1 header holds a stray CR or NUL");
	struct slice proto;
	(void)slice_split(line, ' ', &proto, &line); /* no space: all of it, nothing left */
	memset(out, 0, sizeof(*out));
	out->version = 1;
	*len = total;
	if (slice_eq(proto, SLICE_LIT("UNKNOWN"))) {
		/* The receiver "must ignore anything presented before the CRLF". */
		out->kind = "UNKNOWN";
		return PROXY_DONE;
	}
	int af;
	if (slice_eq(proto, SLICE_LIT("TCP4")))
		af = AF_INET, out->kind = "TCP4";
	else if (slice_eq(proto, SLICE_LIT("TCP6")))
		af = AF_INET6, out->kind = "TCP6";
	else
		return bad(why, "version 1 protocol is not TCP4, TCP6 or UNKNOWN");
	struct slice src, dst, sport, dport;
	uint16_t sp, dp;
	if (!v1_field(&line, &src, false) || !v1_field(&line, &dst, false) || !v1_field(&line, &sport, false) ||
	    !v1_field(&line, &dport, true))
		return bad(why, "version 1 header does not have four fields after the protocol");
	if (!v1_port(sport, &sp) || !v1_port(dport, &dp))
		return bad(why, "version 1 port is not a number from 0 to 65535");
	if (!v1_addr(src, af, &out->src, sp) || !v1_addr(dst, af, &out->dst, dp))
		return bad(why, "version 1 address is not a valid address of the protocol's family");
	out->has_addr = true;
	return PROXY_DONE;
}

/* ---- version 2: 16 bytes, then addresses and TLVs ---------------------- */

/* Type-length-value records after the addresses: each 1 byte of type and
 * 2 of length (network order); they must fill the rest exactly. Their
 * content (ALPN, authority, unique id, SSL details...) is not used. */
static bool v2_tlvs_ok(const uint8_t *p, size_t n)
{
	while (n) {
		if (n < 3)
			return false;
		size_t l = (size_t)p[1] << 8 | p[2];
		if (l > n - 3)
			return false;
		p += 3 + l;
		n -= 3 + l;
	}
	return true;
}

static enum proxy_status v2_parse(const uint8_t *p, size_t n, size_t *len, struct proxy_hdr *out, const char **why)
{
	if (!prefix_of(p, n, v2_sig, sizeof(v2_sig)))
		return bad(why, "not a PROXY protocol version 2 header");
	if (n > 12 && (p[12] & 0xF0) != 0x20)
		return bad(why, "version 2 header with a version other than 2");
	if (n > 12 && (p[12] & 0x0F) > 1)
		return bad(why, "version 2 command is neither LOCAL nor PROXY");
	if (n > 13) {
		unsigned fam = p[13] >> 4, tp = p[13] & 0x0F;
		if (fam > 3 || tp > 2)
			return bad(why, "version 2 address family or transport protocol is not defined");
	}
	if (n < PROXY_V2_FIXED) {
		*len = PROXY_V2_FIXED;
		return PROXY_NEED;
	}
	size_t body = (size_t)p[14] << 8 | p[15];
	size_t total = PROXY_V2_FIXED + body;
	if (n < total) {
		*len = total;
		return PROXY_NEED;
	}
	const uint8_t *b = p + PROXY_V2_FIXED;
	unsigned cmd = p[12] & 0x0F, fam = p[13] >> 4, tp = p[13] & 0x0F;
	memset(out, 0, sizeof(*out));
	out->version = 2;
	*len = total;
	/* LOCAL: the balancer's own connection (a health check): the block
	 * "including the family" is discarded (spec §2.2), as is the address
	 * information of UNSPEC. Both use the connection's own endpoints. */
	if (cmd == 0 || fam == 0 || tp == 0) {
		out->kind = cmd == 0 ? "LOCAL" : "UNSPEC";
		return PROXY_DONE;
	}
	size_t alen = fam == 1 ? 12 : fam == 2 ? 36 : 216;
	if (body < alen)
		return bad(why, "version 2 length is too short for its address family");
	if (!v2_tlvs_ok(b + alen, body - alen))
		return bad(why, "version 2 TLVs do not fill the header's length");
	/* Families and protocols a receiver need not implement fall back to
	 * the connection's endpoints, like UNSPEC. */
	if (fam == 3) {
		out->kind = "UNIX";
		return PROXY_DONE;
	}
	if (tp != 1) {
		out->kind = fam == 1 ? "UDP4" : "UDP6";
		return PROXY_DONE;
	}
	if (fam == 1) {
		struct sockaddr_in *s = (struct sockaddr_in *)&out->src, *d = (struct sockaddr_in *)&out->dst;
		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, b, 4);
		memcpy(&d->sin_addr, b + 4, 4);
		memcpy(&s->sin_port, b + 8, 2);
		memcpy(&d->sin_port, b + 10, 2);
		out->kind = "TCP4";
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&out->src, *d = (struct sockaddr_in6 *)&out->dst;
		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, b, 16);
		memcpy(&d->sin6_addr, b + 16, 16);
		memcpy(&s->sin6_port, b + 32, 2);
		memcpy(&d->sin6_port, b + 34, 2);
		out->kind = "TCP6";
	}
	out->has_addr = true;
	return PROXY_DONE;
}

enum proxy_status proxy_parse(enum proxy_mode mode, const uint8_t *p, size_t n, size_t *len, struct proxy_hdr *out,
			      const char **why)
{
	*why = "";
	if (mode == PROXY_ANY) {
		/* The two signatures differ in their first byte. */
		if (n == 0) {
			*len = PROXY_V2_FIXED; /* less than either could be */
			return PROXY_NEED;
		}
		mode = p[0] == v2_sig[0] ? PROXY_V2 : PROXY_V1;
		if (p[0] != v2_sig[0] && p[0] != (uint8_t)v1_sig[0])
			return bad(why, "not a PROXY protocol header");
	}
	if (mode == PROXY_V1)
		return n == 0 ? (*len = PROXY_V1_MAX, PROXY_NEED) : v1_parse(p, n, len, out, why);
	if (mode == PROXY_V2)
		return n == 0 ? (*len = PROXY_V2_FIXED, PROXY_NEED) : v2_parse(p, n, len, out, why);
	return bad(why, "PROXY protocol is off");
}

bool proxy_from_allows(const struct sockaddr_storage *addr, const struct config_cidr *list, size_t n)
{
	uint8_t a[16] = { 0 };
	int fam;
	if (addr->ss_family == AF_INET) {
		memcpy(a, &((const struct sockaddr_in *)(const void *)addr)->sin_addr, 4);
		fam = 4;
	} else if (addr->ss_family == AF_INET6) {
		const struct in6_addr *v6 = &((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(v6)) {
			memcpy(a, &v6->s6_addr[12], 4);
			fam = 4;
		} else {
			memcpy(a, v6->s6_addr, 16);
			fam = 6;
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		const struct config_cidr *c = &list[i];
		if (c->family != fam)
			continue;
		unsigned whole = c->bits / 8u, rest = c->bits % 8u;
		if (memcmp(a, c->addr, whole) != 0)
			continue;
		if (rest && ((a[whole] ^ c->addr[whole]) & (uint8_t)(0xFFu << (8u - rest))))
			continue;
		return true;
	}
	return false;
}
