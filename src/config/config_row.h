/* config_row: the row table's types, shared by config_table.c (the table),
 * config.c (file reading, cross-key checks, snapshots) and config_values.c
 * (turning one key's text into its field). Private to those files. */
#ifndef FERRY_CONFIG_ROW_H
#define FERRY_CONFIG_ROW_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

enum config_type {
	CONFIG_T_STRING,      /* char[]; min/max = length; optional choices */
	CONFIG_T_UINT,	      /* unsigned/size_t/uint32_t; min/max = value */
	CONFIG_T_DURATION,    /* uint32_t milliseconds; min/max in ms */
	CONFIG_T_DURATION_US, /* uint32_t microseconds; min/max in µs; "us" also accepted */
	CONFIG_T_LISTEN,      /* struct config_listen[] at off, size_t count at off2 */
	CONFIG_T_PORTS,	      /* "lo-hi": uint16_t lo at off, hi at off2; min = lowest lo */
	CONFIG_T_PATH,	      /* char[PATH_MAX]; relative → against the file's directory */
	CONFIG_T_ENUM,	      /* int; one of choices (index, or parse_enum when set) */
	CONFIG_T_IPV4_OPT,    /* char[]; "" or a numeric IPv4 address */
	CONFIG_T_PATH_LIST,   /* char[]; "" or comma-separated paths, each resolved as
			       * CONFIG_T_PATH; max = most entries */
	CONFIG_T_CIDRS,	      /* struct config_cidr[] at off, size_t count at off2; max = most entries */
	CONFIG_T_SIZE,	      /* uint64_t bytes: digits with an optional K/M/G/T suffix (powers of 1024);
			       * "" = 0; min/max = value */
};

struct config_row {
	const char *section;
	const char *key;
	enum config_type type;
	size_t off;
	size_t off2;
	size_t size; /* of the field at off */
	uint64_t min, max;
	const char *def; /* parsed by the same code as file values */
	const char *help;
	const char *const *choices; /* NULL-terminated */
	int (*parse_enum)(const char *s, int *out);
};

#define FIELD_SIZE(f) sizeof(((struct config *)0)->f)
#define ROW(sec, k, t, f, lo, hi, d, h)                                                                                \
	{                                                                                                              \
		.section = (sec), .key = (k), .type = (t), .off = offsetof(struct config, f), .size = FIELD_SIZE(f),   \
		.min = (lo), .max = (hi), .def = (d), .help = (h)                                                      \
	}

#define MS_S 1000u
#define MS_M (60u * MS_S)
#define MS_H (60u * MS_M)
#define US_MS 1000u
/* tls.c loads at most this many certificate/key pairs. */
#define CONFIG_MAX_TLS_PAIRS 8
/* sftp_keys.c loads at most this many host keys. */
#define CONFIG_MAX_HOST_KEYS 4
/* tls_tickets.c loads at most this many ticket key files. */
#define CONFIG_MAX_TICKET_KEYS 8

/* config_table.c: one row per key (config_n_rows of them), in the order
 * etc/ferry.conf documents them. */
extern const struct config_row config_rows[];
extern const size_t config_n_rows;
/* The [tls] required and proxy_protocol names, by stored index (the
 * cross-key checks name the value in their messages). */
extern const char *const config_tls_required_modes[];
extern const char *const config_proxy_modes[];

/* Writes a reason into why (printf-style). */
void config_why(char *why, size_t whysz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Quotes a value for an error message (escaped, bounded); returns out. */
const char *config_quote(const char *s, char *out, size_t outsz);
/* Parses v for row into c (relative paths against dir); 0, or -EINVAL with
 * the reason in why. */
int config_apply(const struct config_row *row, const char *v, struct config *c, const char *dir, char *why,
		 size_t whysz);

#endif
