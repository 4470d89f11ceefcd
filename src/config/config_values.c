/* config_values: one key's text → its field, per row type, with the exact
 * error message a user sees ("expected a whole number from 0 to 256, got
 * \"x\""). */
#include "config_row.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include "log.h"
#include "parse.h"
#include "str.h"
#include "util.h"

const char *config_quote(const char *s, char *out, size_t outsz)
{
	return str_escape(slice_from_cstr(s), out, outsz);
}

__attribute__((format(printf, 3, 4))) void config_why(char *why, size_t whysz, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(why, whysz, fmt, ap);
	va_end(ap);
}

/* "0", "500ms", "10s", "2m", "24h": the largest unit that is exact. */
static void config_format_ms(uint64_t ms, char *out, size_t outsz)
{
	if (ms == 0)
		(void)snprintf(out, outsz, "0");
	else if (ms % MS_H == 0)
		(void)snprintf(out, outsz, "%" PRIu64 "h", ms / MS_H);
	else if (ms % MS_M == 0)
		(void)snprintf(out, outsz, "%" PRIu64 "m", ms / MS_M);
	else if (ms % MS_S == 0)
		(void)snprintf(out, outsz, "%" PRIu64 "s", ms / MS_S);
	else
		(void)snprintf(out, outsz, "%" PRIu64 "ms", ms);
}

/* As config_format_ms, with "us" when not a whole ms. */
static void config_format_us(uint64_t us, char *out, size_t outsz)
{
	if (us % US_MS == 0)
		config_format_ms(us / US_MS, out, outsz);
	else
		(void)snprintf(out, outsz, "%" PRIu64 "us", us);
}

static void config_join_choices(const char *const *choices, char *out, size_t outsz)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; choices[i]; i++) {
		int n = snprintf(out + o, outsz - o, "%s%s", i ? ", " : "", choices[i]);
		if (n < 0 || (size_t)n >= outsz - o)
			return;
		o += (size_t)n;
	}
}

static int config_find_choice(const char *const *choices, const char *v)
{
	for (int i = 0; choices[i]; i++)
		if (strcmp(choices[i], v) == 0)
			return i;
	return -1;
}

/* The field types differ in width. The value is already within the row's
 * range; a range wider than its field is a table bug, refused rather than
 * truncated (the tests set every key to its maximum). */
static int config_store_uint(void *field, size_t size, uint64_t v, char *why, size_t whysz)
{
	config_why(why, whysz, "internal error: value does not fit its field");
	switch (size) {
	case sizeof(uint16_t): {
		uint16_t x = (uint16_t)v;
		memcpy(field, &x, sizeof(x));
		return v <= UINT16_MAX ? 0 : -ERANGE;
	}
	case sizeof(uint32_t): {
		uint32_t x = (uint32_t)v;
		memcpy(field, &x, sizeof(x));
		return v <= UINT32_MAX ? 0 : -ERANGE;
	}
	case sizeof(uint64_t):
		memcpy(field, &v, sizeof(v));
		return 0;
	default:
		return -EINVAL;
	}
}

static int config_set_string(const struct config_row *row, const char *v, char *field, char *why, size_t whysz)
{
	char q[96], list[128];
	size_t n = strlen(v), max = row->max < row->size ? row->max : row->size - 1;
	if (row->choices) {
		if (config_find_choice(row->choices, v) < 0) {
			config_join_choices(row->choices, list, sizeof(list));
			config_why(why, whysz, "expected one of: %s, got \"%s\"", list, config_quote(v, q, sizeof(q)));
			return -EINVAL;
		}
	}
	/* SECURITY: strings reach replies (banner) and system calls (run_as);
	 * a control byte there could forge a reply line or hide in logs. */
	if (slice_has_ctl(slice_from_cstr(v))) {
		config_why(why, whysz, "control characters are not allowed, got \"%s\"", config_quote(v, q, sizeof(q)));
		return -EINVAL;
	}
	if (n < row->min) {
		config_why(why, whysz, "must not be empty");
		return -EINVAL;
	}
	if (n > max) {
		config_why(why, whysz, "longer than %zu characters (%zu given)", max, n);
		return -EINVAL;
	}
	memcpy(field, v, n + 1);
	return 0;
}

static int config_set_uint(const struct config_row *row, const char *v, void *field, char *why, size_t whysz)
{
	char q[96];
	uint64_t x;
	if (parse_u64(slice_from_cstr(v), row->max, &x) != 0 || x < row->min) {
		config_why(why, whysz, "expected a whole number from %" PRIu64 " to %" PRIu64 ", got \"%s\"", row->min,
			   row->max, config_quote(v, q, sizeof(q)));
		return -EINVAL;
	}
	return config_store_uint(field, row->size, x, why, whysz);
}

/* A size: "20M" (parse_size), "" meaning 0 (a limit left unset). */
static int config_set_size(const struct config_row *row, const char *v, void *field, char *why, size_t whysz)
{
	char q[96];
	uint64_t x = 0;
	if ((v[0] && parse_size(slice_from_cstr(v), row->max, &x) != 0) || x < row->min) {
		config_why(why, whysz,
			   "expected a number of bytes from %" PRIu64 " to %" PRIu64
			   " with an optional K, M, G or T suffix (such as 512K or 20M), got \"%s\"",
			   row->min, row->max, config_quote(v, q, sizeof(q)));
		return -EINVAL;
	}
	return config_store_uint(field, row->size, x, why, whysz);
}

/* A duration: CONFIG_T_DURATION stores ms; CONFIG_T_DURATION_US stores µs
 * and also accepts "us" ("250us"), every other unit meaning the same. */
static int config_set_duration(const struct config_row *row, const char *v, void *field, char *why, size_t whysz)
{
	char q[96], lo[24], hi[24];
	bool in_us = row->type == CONFIG_T_DURATION_US;
	uint64_t scale = in_us ? US_MS : 1, x = 0;
	struct slice s = slice_from_cstr(v);
	int r;
	if (in_us && s.n > 2 && memcmp(s.p + s.n - 2, "us", 2) == 0) {
		r = parse_u64((struct slice){ s.p, s.n - 2 }, row->max, &x);
	} else {
		r = parse_duration_ms(s, row->max / scale, &x);
		x *= scale; /* x <= max / scale: no overflow */
	}
	if (r != 0 || x < row->min) {
		config_format_us(row->min * (in_us ? 1 : US_MS), lo, sizeof(lo));
		config_format_us(row->max * (in_us ? 1 : US_MS), hi, sizeof(hi));
		config_why(why, whysz, "expected a duration from %s to %s such as %s (no unit = seconds), got \"%s\"",
			   lo, hi, in_us ? "250us, 5ms, 90s or 5m" : "90s, 500ms, 5m or 1h",
			   config_quote(v, q, sizeof(q)));
		return -EINVAL;
	}
	return config_store_uint(field, row->size, x, why, whysz);
}

/* Here, beside the parser of listen entries, so that config_values.c needs
 * nothing from config.c (config.c uses this file, not the other way). */
void config_listen_format(const struct config_listen *l, char *out, size_t outsz)
{
	if (outsz == 0)
		return;
	if (strchr(l->host, ':'))
		(void)snprintf(out, outsz, "[%s]:%u", l->host, (unsigned)l->port);
	else
		(void)snprintf(out, outsz, "%s:%u", l->host, (unsigned)l->port);
}

/* Rewrites host in its canonical text form so that two spellings of one
 * address ("::1", "0::1") are caught as duplicates and logged alike. */
static int config_canon_host(char *host, size_t hostsz)
{
	unsigned char bin[16];
	int af = strchr(host, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(af, host, bin) != 1)
		return -EINVAL;
	if (!inet_ntop(af, bin, host, (socklen_t)hostsz))
		return -EINVAL;
	return 0;
}

static int config_set_listen(const struct config_row *row, const char *v, struct config *c, char *why, size_t whysz)
{
	struct config_listen tmp[CONFIG_MAX_LISTEN];
	struct slice rest = slice_from_cstr(v), item;
	size_t n = 0;
	char q[96], a[80];
	bool more = true;

	if (slice_trim_spaces(rest).n == 0) {
		if (row->min == 0) { /* an optional list: empty = none */
			memcpy((char *)c + row->off2, &n, sizeof(n));
			return 0;
		}
		config_why(why, whysz, "expected at least one host:port entry");
		return -EINVAL;
	}
	while (more) {
		more = slice_split(rest, ',', &item, &rest);
		item = slice_trim_spaces(item);
		if (n == row->max) {
			config_why(why, whysz, "at most %" PRIu64 " entries are allowed", row->max);
			return -EINVAL;
		}
		struct config_listen *l = &tmp[n];
		if (item.n == 0 || parse_hostport(item, l->host, sizeof(l->host), &l->port) != 0 ||
		    config_canon_host(l->host, sizeof(l->host)) != 0) {
			config_why(why, whysz,
				   "entry \"%s\" is not host:port (numeric IP address, IPv6 in "
				   "brackets as [::1]:2121, port 1-65535)",
				   str_escape(item, q, sizeof(q)));
			return -EINVAL;
		}
		for (size_t i = 0; i < n; i++) {
			if (tmp[i].port == l->port && strcmp(tmp[i].host, l->host) == 0) {
				config_listen_format(l, a, sizeof(a));
				config_why(why, whysz, "%s is listed twice", a);
				return -EINVAL;
			}
		}
		n++;
	}
	memcpy((char *)c + row->off, tmp, n * sizeof(tmp[0]));
	memcpy((char *)c + row->off2, &n, sizeof(n));
	return 0;
}

static int config_set_ports(const struct config_row *row, const char *v, struct config *c, char *why, size_t whysz)
{
	char q[96];
	uint16_t lo, hi;
	if (parse_port_range(slice_from_cstr(v), &lo, &hi) != 0 || lo < row->min) {
		config_why(why, whysz,
			   "expected a port range lo-hi with %" PRIu64 " <= lo <= hi <= %" PRIu64 ", got \"%s\"",
			   row->min, row->max, config_quote(v, q, sizeof(q)));
		return -EINVAL;
	}
	memcpy((char *)c + row->off, &lo, sizeof(lo));
	memcpy((char *)c + row->off2, &hi, sizeof(hi));
	return 0;
}

/* dir is the config file's directory, or NULL for the built-in defaults
 * (which are absolute: there is no file to be relative to). */
static int config_set_path(const struct config_row *row, const char *v, const char *dir, char *field, char *why,
			   size_t whysz)
{
	char q[96];
	int n;
	if (v[0] == '\0') {
		config_why(why, whysz, "expected a path");
		return -EINVAL;
	}
	if (slice_has_ctl(slice_from_cstr(v))) {
		config_why(why, whysz, "control characters are not allowed, got \"%s\"", config_quote(v, q, sizeof(q)));
		return -EINVAL;
	}
	if (v[0] != '/' && !dir) {
		config_why(why, whysz, "must be an absolute path, got \"%s\"", config_quote(v, q, sizeof(q)));
		return -EINVAL;
	}
	if (v[0] == '/')
		n = snprintf(field, row->size, "%s", v);
	else /* dir is absolute; only "/" itself ends in a slash */
		n = snprintf(field, row->size, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", v);
	if (n < 0 || (size_t)n >= row->size) {
		field[0] = '\0';
		config_why(why, whysz, "path is longer than %zu bytes once resolved", row->size - 1);
		return -EINVAL;
	}
	return 0;
}

/* "a.pem, b.pem" → "DIR/a.pem,DIR/b.pem": each entry trimmed and resolved
 * like a CONFIG_T_PATH, stored joined by commas (so a file name cannot
 * contain one). Empty is allowed and stays empty. */
static int config_set_path_list(const struct config_row *row, const char *v, const char *dir, char *field, char *why,
				size_t whysz)
{
	char q[96], out[1024];
	struct slice rest = slice_from_cstr(v), item;
	size_t n = 0, o = 0;
	bool more = true;

	_Static_assert(sizeof(out) >= FIELD_SIZE(tls_cert) && sizeof(out) >= FIELD_SIZE(tls_key) &&
			   sizeof(out) >= FIELD_SIZE(sandbox_roots) && sizeof(out) >= FIELD_SIZE(tls_ticket_keys),
		       "config_set_path_list buffer");
	if (row->size > sizeof(out)) {
		config_why(why, whysz, "internal error: list field too large");
		return -EINVAL;
	}
	if (slice_has_ctl(rest)) {
		config_why(why, whysz, "control characters are not allowed, got \"%s\"", config_quote(v, q, sizeof(q)));
		return -EINVAL;
	}
	out[0] = '\0';
	if (slice_trim_spaces(rest).n == 0) {
		field[0] = '\0';
		return 0;
	}
	while (more) {
		more = slice_split(rest, ',', &item, &rest);
		item = slice_trim_spaces(item);
		if (n == row->max) {
			config_why(why, whysz, "at most %" PRIu64 " files are allowed", row->max);
			return -EINVAL;
		}
		if (item.n == 0) {
			config_why(why, whysz, "empty entry in the list \"%s\"", config_quote(v, q, sizeof(q)));
			return -EINVAL;
		}
		if (item.p[0] != '/' && !dir) {
			config_why(why, whysz, "must be an absolute path, got \"%s\"", str_escape(item, q, sizeof(q)));
			return -EINVAL;
		}
		int k;
		if (item.p[0] == '/')
			k = snprintf(out + o, sizeof(out) - o, "%s%.*s", n ? "," : "", (int)item.n, item.p);
		else /* dir is absolute; only "/" itself ends in a slash */
			k = snprintf(out + o, sizeof(out) - o, "%s%s%s%.*s", n ? "," : "", dir,
				     strcmp(dir, "/") == 0 ? "" : "/", (int)item.n, item.p);
		if (k < 0 || (size_t)k >= row->size - o) {
			config_why(why, whysz, "the list is longer than %zu bytes once paths are resolved",
				   row->size - 1);
			return -EINVAL;
		}
		o += (size_t)k;
		n++;
	}
	memcpy(field, out, o + 1);
	return 0;
}

static int config_set_enum(const struct config_row *row, const char *v, void *field, char *why, size_t whysz)
{
	char q[96], list[128];
	int x = -1;
	if (row->parse_enum) {
		if (row->parse_enum(v, &x) != 0)
			x = -1;
	} else {
		x = config_find_choice(row->choices, v);
	}
	if (x < 0) {
		config_join_choices(row->choices, list, sizeof(list));
		config_why(why, whysz, "expected one of: %s, got \"%s\"", list, config_quote(v, q, sizeof(q)));
		return -EINVAL;
	}
	memcpy(field, &x, sizeof(x));
	return 0;
}

static int config_set_ipv4_opt(const struct config_row *row, const char *v, char *field, char *why, size_t whysz)
{
	char q[96];
	int family = 0;
	/* PASV's 227 reply can only carry an IPv4 address; EPSV carries none. */
	if (v[0] != '\0' && (!parse_is_ip(v, &family) || family != 4)) {
		config_why(why, whysz,
			   "expected a numeric IPv4 address or nothing (PASV cannot advertise "
			   "IPv6), got \"%s\"",
			   config_quote(v, q, sizeof(q)));
		return -EINVAL;
	}
	if (!str_copy(field, row->size, v))
		return -EINVAL; /* unreachable: an IPv4 address is short */
	return 0;
}

/* "10.0.0.0/8, 192.0.2.7, ::1, 2001:db8::/32": networks, a bare address
 * being its own /32 or /128. A network with bits set past its prefix is
 * refused with the network it probably means, rather than guessed. */
static int config_set_cidrs(const struct config_row *row, const char *v, struct config *c, char *why, size_t whysz)
{
	struct config_cidr tmp[CONFIG_MAX_CIDRS];
	struct slice rest = slice_from_cstr(v), item;
	size_t n = 0;
	char q[96], host[INET6_ADDRSTRLEN];
	bool more = slice_trim_spaces(rest).n != 0;

	while (more) {
		more = slice_split(rest, ',', &item, &rest);
		item = slice_trim_spaces(item);
		if (n == row->max || n == CONFIG_MAX_CIDRS) {
			config_why(why, whysz, "at most %" PRIu64 " entries are allowed", row->max);
			return -EINVAL;
		}
		struct config_cidr *e = &tmp[n];
		struct slice addr, len;
		bool has_len = slice_split(item, '/', &addr, &len);
		int fam = 0;
		uint64_t bits = 0;
		memset(e, 0, sizeof(*e));
		if (addr.n == 0 || addr.n >= sizeof(host)) {
			fam = 0;
		} else {
			memcpy(host, addr.p, addr.n);
			host[addr.n] = '\0';
			if (!parse_is_ip(host, &fam))
				fam = 0;
		}
		uint64_t maxbits = fam == 4 ? 32 : 128;
		if (!fam || (has_len && parse_u64(len, maxbits, &bits) != 0) ||
		    inet_pton(fam == 4 ? AF_INET : AF_INET6, host, e->addr) != 1) {
			config_why(why, whysz,
				   "entry \"%s\" is not an address or network such as 192.0.2.7, 10.0.0.0/8 or "
				   "2001:db8::/32 (prefix length at most 32 for IPv4, 128 for IPv6)",
				   str_escape(item, q, sizeof(q)));
			return -EINVAL;
		}
		e->family = (uint8_t)fam;
		e->bits = (uint8_t)(has_len ? bits : maxbits);
		for (unsigned b = e->bits; b < maxbits; b++) {
			if (e->addr[b / 8] & (0x80u >> (b % 8))) {
				for (unsigned k = e->bits; k < maxbits; k++)
					e->addr[k / 8] &= (uint8_t) ~(0x80u >> (k % 8));
				(void)inet_ntop(fam == 4 ? AF_INET : AF_INET6, e->addr, host, sizeof(host));
				config_why(why, whysz,
					   "entry \"%s\" has bits set past its /%u prefix (the network is %s/%u)",
					   str_escape(item, q, sizeof(q)), e->bits, host, e->bits);
				return -EINVAL;
			}
		}
		n++;
	}
	memcpy((char *)c + row->off, tmp, n * sizeof(tmp[0]));
	memcpy((char *)c + row->off2, &n, sizeof(n));
	return 0;
}

/* The one place a textual value becomes a field: defaults and file values
 * both come through here. On failure why holds "what is wrong" and c is
 * unchanged for list-like fields (a failed load is discarded anyway). */
int config_apply(const struct config_row *row, const char *v, struct config *c, const char *dir, char *why,
		 size_t whysz)
{
	char *field = (char *)c + row->off;
	switch (row->type) {
	case CONFIG_T_STRING:
		return config_set_string(row, v, field, why, whysz);
	case CONFIG_T_UINT:
		return config_set_uint(row, v, field, why, whysz);
	case CONFIG_T_DURATION:
	case CONFIG_T_DURATION_US:
		return config_set_duration(row, v, field, why, whysz);
	case CONFIG_T_LISTEN:
		return config_set_listen(row, v, c, why, whysz);
	case CONFIG_T_PORTS:
		return config_set_ports(row, v, c, why, whysz);
	case CONFIG_T_PATH:
		return config_set_path(row, v, dir, field, why, whysz);
	case CONFIG_T_ENUM:
		return config_set_enum(row, v, field, why, whysz);
	case CONFIG_T_IPV4_OPT:
		return config_set_ipv4_opt(row, v, field, why, whysz);
	case CONFIG_T_PATH_LIST:
		return config_set_path_list(row, v, dir, field, why, whysz);
	case CONFIG_T_CIDRS:
		return config_set_cidrs(row, v, c, why, whysz);
	case CONFIG_T_SIZE:
		return config_set_size(row, v, field, why, whysz);
	}
	config_why(why, whysz, "internal error: unknown value type");
	return -EINVAL;
}
