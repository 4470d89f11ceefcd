#include "parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "util.h"

int parse_u64(struct slice s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (s.n == 0)
		return -EINVAL;
	for (size_t i = 0; i < s.n; i++)
		if (s.p[i] < '0' || s.p[i] > '9')
			return -EINVAL;
	for (size_t i = 0; i < s.n; i++) {
		if (ckd_mul(&v, v, (uint64_t)10) || ckd_add(&v, v, (uint64_t)(s.p[i] - '0')))
			return -ERANGE;
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_octal(struct slice s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (s.n == 0)
		return -EINVAL;
	for (size_t i = 0; i < s.n; i++)
		if (s.p[i] < '0' || s.p[i] > '7')
			return -EINVAL;
	for (size_t i = 0; i < s.n; i++)
		if (ckd_mul(&v, v, (uint64_t)8) || ckd_add(&v, v, (uint64_t)(s.p[i] - '0')) || v > max)
			return -ERANGE;
	*out = v;
	return 0;
}

int parse_duration_ms(struct slice s, uint64_t max_ms, uint64_t *out)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
	uint64_t mult = 1000, v;
	for (size_t i = 0; i < ARRAY_LEN(units); i++) {
		size_t k = strlen(units[i].suffix);
		if (s.n > k && memcmp(s.p + s.n - k, units[i].suffix, k) == 0 &&
		    (s.p[s.n - k - 1] >= '0' && s.p[s.n - k - 1] <= '9')) {
			mult = units[i].mult;
			s.n -= k;
			break;
		}
	}
	int r = parse_u64(s, UINT64_MAX, &v);
	if (r)
		return r;
	if (ckd_mul(&v, v, mult) || v > max_ms)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_size(struct slice s, uint64_t max, uint64_t *out)
{
	uint64_t mult = 1, v;
	if (s.n > 1) {
		switch (s.p[s.n - 1]) {
		case 'K':
		case 'k':
			mult = 1ull << 10;
			break;
		case 'M':
		case 'm':
			mult = 1ull << 20;
			break;
		case 'G':
		case 'g':
			mult = 1ull << 30;
			break;
		case 'T':
		case 't':
			mult = 1ull << 40;
			break;
		default:
			break;
		}
		if (mult != 1)
			s.n--;
	}
	int r = parse_u64(s, UINT64_MAX, &v);
	if (r)
		return r;
	if (ckd_mul(&v, v, mult) || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

bool parse_has_forbidden_byte(struct slice s)
{
	for (size_t i = 0; i < s.n; i++)
		if (s.p[i] == '\0' || s.p[i] == '\r' || s.p[i] == '\n')
			return true;
	return false;
}

bool parse_is_ip(const char *s, int *family)
{
	unsigned char tmp[16];
	if (inet_pton(AF_INET, s, tmp) == 1) {
		if (family)
			*family = 4;
		return true;
	}
	if (inet_pton(AF_INET6, s, tmp) == 1) {
		if (family)
			*family = 6;
		return true;
	}
	return false;
}

int parse_hostport(struct slice s, char *host, size_t hostsz, uint16_t *port)
{
	struct slice h, p;
	s = slice_trim_spaces(s);
	if (s.n && s.p[0] == '[') {
		const char *close = memchr(s.p, ']', s.n);
		if (!close)
			return -EINVAL;
		h = (struct slice){ s.p + 1, (size_t)(close - s.p - 1) };
		struct slice rest = { close + 1, s.n - (size_t)(close - s.p) - 1 };
		if (rest.n < 2 || rest.p[0] != ':')
			return -EINVAL;
		p = (struct slice){ rest.p + 1, rest.n - 1 };
	} else {
		const char *colon = NULL;
		for (size_t i = s.n; i > 0; i--)
			if (s.p[i - 1] == ':') {
				colon = s.p + i - 1;
				break;
			}
		if (!colon)
			return -EINVAL;
		h = (struct slice){ s.p, (size_t)(colon - s.p) };
		p = (struct slice){ colon + 1, s.n - h.n - 1 };
		if (memchr(h.p, ':', h.n)) /* bare IPv6 needs brackets */
			return -EINVAL;
	}
	uint64_t v;
	if (parse_u64(p, 65535, &v) || v == 0)
		return -EINVAL;
	if (h.n == 1 && h.p[0] == '*')
		h = SLICE_LIT("0.0.0.0");
	if (h.n == 0 || h.n >= hostsz)
		return -EINVAL;
	memcpy(host, h.p, h.n);
	host[h.n] = '\0';
	if (!parse_is_ip(host, NULL))
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int parse_port_range(struct slice s, uint16_t *lo, uint16_t *hi)
{
	struct slice a, b;
	uint64_t x, y;
	s = slice_trim_spaces(s);
	if (!slice_split(s, '-', &a, &b))
		return -EINVAL;
	if (parse_u64(slice_trim_spaces(a), 65535, &x) || parse_u64(slice_trim_spaces(b), 65535, &y))
		return -EINVAL;
	if (x == 0 || x > y)
		return -EINVAL;
	*lo = (uint16_t)x;
	*hi = (uint16_t)y;
	return 0;
}

static bool leap(uint64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int parse_time_val(struct slice s, int64_t *sec, long *nsec)
{
	static const uint8_t mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	struct slice whole, frac;
	bool has_frac = slice_split(s, '.', &whole, &frac);
	if (whole.n != 14 || (has_frac && (frac.n == 0 || frac.n > 9)))
		return -EINVAL;
	uint64_t f[6];
	static const size_t at[] = { 0, 4, 6, 8, 10, 12 }, len[] = { 4, 2, 2, 2, 2, 2 };
	for (size_t i = 0; i < 6; i++)
		if (parse_u64((struct slice){ whole.p + at[i], len[i] }, 9999, &f[i]) != 0)
			return -EINVAL;
	uint64_t y = f[0], mo = f[1], d = f[2], h = f[3], mi = f[4], se = f[5];
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 60)
		return -EINVAL;
	if (d > (uint64_t)mdays[mo - 1] + (mo == 2 && leap(y)))
		return -EINVAL;
	/* days since the epoch, proleptic Gregorian (no timegm: no TZ state) */
	int64_t days = 0;
	for (uint64_t yy = 1970; yy < y; yy++)
		days += leap(yy) ? 366 : 365;
	for (uint64_t m = 1; m < mo; m++)
		days += mdays[m - 1] + (m == 2 && leap(y));
	days += (int64_t)d - 1;
	*sec = days * 86400 + (int64_t)(h * 3600 + mi * 60 + se);
	long ns = 0;
	if (has_frac) {
		uint64_t v;
		if (parse_u64(frac, 999999999, &v) != 0)
			return -EINVAL;
		ns = (long)v;
		for (size_t i = frac.n; i < 9; i++)
			ns *= 10;
	}
	*nsec = ns;
	return 0;
}

int parse_port_arg(struct slice s, struct sockaddr_storage *out)
{
	uint64_t v[6];
	struct slice rest = slice_trim_spaces(s);
	for (int i = 0; i < 6; i++) {
		struct slice num;
		bool more = slice_split(rest, ',', &num, &rest);
		if ((i < 5 && !more) || (i == 5 && more) || parse_u64(slice_trim_spaces(num), 255, &v[i]) != 0)
			return -EINVAL;
	}
	*out = (struct sockaddr_storage){ 0 };
	struct sockaddr_in *a = (struct sockaddr_in *)out;
	a->sin_family = AF_INET;
	uint8_t *ip = (uint8_t *)&a->sin_addr;
	for (int i = 0; i < 4; i++)
		ip[i] = (uint8_t)v[i];
	a->sin_port = htons((uint16_t)(v[4] * 256 + v[5]));
	return 0;
}

int parse_eprt_arg(struct slice s, int *af, struct sockaddr_storage *out)
{
	*af = 0;
	/* The first byte names the delimiter; the last must repeat it. */
	unsigned char d = s.n ? (unsigned char)s.p[0] : 0;
	if (s.n < 7 || d < 33 || d > 126 || (unsigned char)s.p[s.n - 1] != d)
		return -EINVAL;
	struct slice in = { s.p + 1, s.n - 2 }, afs, addr, port;
	if (!slice_split(in, (char)d, &afs, &in) || !slice_split(in, (char)d, &addr, &port) ||
	    memchr(port.p, d, port.n))
		return -EINVAL;
	uint64_t afn, pn;
	if (parse_u64(afs, 255, &afn) != 0 || (afn != 1 && afn != 2))
		return -EAFNOSUPPORT;
	*af = (int)afn;
	char host[INET6_ADDRSTRLEN];
	if (parse_u64(port, 65535, &pn) != 0 || pn == 0 || addr.n == 0 || addr.n >= sizeof(host))
		return -EINVAL;
	memcpy(host, addr.p, addr.n);
	host[addr.n] = '\0';
	*out = (struct sockaddr_storage){ 0 };
	if (afn == 1) {
		struct sockaddr_in *a = (struct sockaddr_in *)out;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)pn);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return -EADDRNOTAVAIL;
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)pn);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return -EADDRNOTAVAIL;
	}
	return 0;
}

int parse_epsv_arg(struct slice s, enum parse_epsv *out)
{
	s = slice_trim_spaces(s);
	if (s.n == 0)
		*out = PARSE_EPSV_ANY;
	else if (slice_eq_ci(s, "ALL"))
		*out = PARSE_EPSV_ALL;
	else if (slice_eq(s, SLICE_LIT("1")))
		*out = PARSE_EPSV_V4;
	else if (slice_eq(s, SLICE_LIT("2")))
		*out = PARSE_EPSV_V6;
	else
		return -EINVAL;
	return 0;
}
