/* parse: the only parsers of numbers and addresses from untrusted text.
 * Pure functions: no allocation, no I/O. */
#ifndef FERRY_PARSE_H
#define FERRY_PARSE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "str.h"

/* Decimal digits only (no sign, no spaces, no leading '+'), value <= max.
 * 0 on success; -EINVAL for a non-digit or empty input; -ERANGE over max. */
int parse_u64(struct slice s, uint64_t max, uint64_t *out);

/* Octal digits only (a file mode), value <= max. Same errors as parse_u64. */
int parse_octal(struct slice s, uint64_t max, uint64_t *out);

/* A duration: digits with an optional unit "ms", "s", "m" or "h" (no unit =
 * seconds), result in milliseconds <= max_ms. Same errors as parse_u64. */
int parse_duration_ms(struct slice s, uint64_t max_ms, uint64_t *out);

/* "host:port", "[v6addr]:port" or "*:port" (= 0.0.0.0). host must be a
 * numeric IPv4 or IPv6 address; port 1-65535. host is written without
 * brackets. -EINVAL on any syntax problem. */
int parse_hostport(struct slice s, char *host, size_t hostsz, uint16_t *port);

/* "lo-hi" with 1 <= lo <= hi <= 65535. */
int parse_port_range(struct slice s, uint16_t *lo, uint16_t *hi);

/* An RFC 3659 time-val "YYYYMMDDHHMMSS[.fraction]" (UTC) → seconds since
 * the epoch and nanoseconds. Fields range-checked (month 1-12, day valid for
 * the month, hour 0-23, minute 0-59, second 0-60); -EINVAL otherwise. */
int parse_time_val(struct slice s, int64_t *sec, long *nsec);

/* A size in bytes: digits with an optional suffix K, M, G or T (either
 * case; powers of 1024: "20M" = 20971520), value <= max. Same errors as
 * parse_u64. */
int parse_size(struct slice s, uint64_t max, uint64_t *out);

/* true if s holds a byte that can never be part of a command line: NUL
 * (C strings end there), CR or LF (they frame lines). PROTOCOL.md Decision 13:
 * every other byte, TAB and other controls included, belongs to a pathname;
 * whatever echoes it (logs, listings, replies) escapes it there. */
bool parse_has_forbidden_byte(struct slice s);

/* true if s is a numeric IPv4 (family 4) or IPv6 (family 6) address. */
bool parse_is_ip(const char *s, int *family);

/* PORT h1,h2,h3,h4,p1,p2 (RFC 959 §4.1.2): six decimal numbers 0-255
 * separated by commas, spaces (and TABs) allowed around the argument and
 * each number. *out becomes that AF_INET address and port (network order;
 * a low port is the caller's to refuse). -EINVAL on any syntax problem. */
int parse_port_arg(struct slice s, struct sockaddr_storage *out);

/* EPRT <d>af<d>addr<d>port<d> (RFC 2428 §2), d any byte 33-126, no spaces.
 * The checks run in this order and the first failure is returned: framing
 * (-EINVAL, *af 0); af 1 or 2 (else -EAFNOSUPPORT, *af 0); port 1-65535 and
 * an address of plausible length (-EINVAL, *af set); the address, numeric
 * for af (-EADDRNOTAVAIL, *af set). *af is set as soon as it is known so the
 * caller can refuse a family it does not serve (522) before a later syntax
 * error. On success *out holds the address and port (network order). */
int parse_eprt_arg(struct slice s, int *af, struct sockaddr_storage *out);

/* EPSV [1 | 2 | ALL] (RFC 2428 §3; ALL in any case; spaces around). */
enum parse_epsv { PARSE_EPSV_ANY, PARSE_EPSV_ALL, PARSE_EPSV_V4, PARSE_EPSV_V6 };
/* Which form s is (empty: ANY), or -EINVAL. */
int parse_epsv_arg(struct slice s, enum parse_epsv *out);

#endif
