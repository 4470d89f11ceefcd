/* log: levelled one-line-per-event logs to stderr or syslog.
 * Client text must be escaped with str_escape() or log_esc() before it is
 * passed as an argument; it is never used as the format. */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "str.h"

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };
enum log_target { LOG_TO_STDERR = 0, LOG_TO_SYSLOG };

/* Sets the sink; safe to call again on reload. ident is borrowed (static). */
void log_setup(enum log_target target, enum log_level level, const char *ident);
/* Parses "error|warn|info|debug"; -EINVAL otherwise. */
int log_level_parse(const char *s, enum log_level *out);

/* One event. sid 0 = not tied to a session. */
void log_msg(enum log_level lvl, uint64_t sid, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* True when events of level lvl are written: callers may skip building
 * costly arguments (escaping) for a level that is off. */
bool log_enabled(enum log_level lvl);

#define log_err(sid, ...) log_msg(LOG_LVL_ERROR, (sid), __VA_ARGS__)
#define log_warn(sid, ...) log_msg(LOG_LVL_WARN, (sid), __VA_ARGS__)
#define log_info(sid, ...) log_msg(LOG_LVL_INFO, (sid), __VA_ARGS__)
#define log_debug(sid, ...) log_msg(LOG_LVL_DEBUG, (sid), __VA_ARGS__)

/* Now in UTC as "2026-11-24T10:20:18.575Z" (the text log and [log] json
 * share it); out needs LOG_TIME_LEN bytes. */
#define LOG_TIME_LEN 32
void log_time(char *out, size_t outsz);

/* Escaped, quoted-safe form of client text for a log line (at most ~256
 * bytes); the storage belongs to the caller's stack via the struct. */
struct log_escaped {
	char s[272];
};
const char *log_esc(struct slice s, struct log_escaped *tmp);

/* [log] level = debug: one FTP command as it runs (after Telnet and
 * RFC 2228 unwrapping), the argument of a credential-carrying verb masked
 * as "****"; and one reply line as written (code 0: a continuation line),
 * before RFC 2228 wrapping. Client text is escaped. */
void log_debug_command(uint64_t sid, struct slice line);
void log_debug_reply(uint64_t sid, int code, char sep, const char *text);

/* --- event files (log_event.c): [log] xferlog and [log] json ---
 * Both are opened once at start (as root, before the privilege drop; a file
 * ferryd creates is given to the service account) and reopened by path on
 * SIGUSR1, as the service user: logrotate's "create" gives the new file to
 * that user first (packaging/logrotate/ferry). Writers on any thread; each
 * event is one write(2) of one whole line on an O_APPEND descriptor. */

/* Opens the files whose paths are non-empty (others stay off). uid/gid:
 * owner for newly created files when running as root ((uid_t)-1: keep).
 * Paths are copied. 0, or -errno with a message in err. */
int log_files_open(const char *xferlog, const char *json, uid_t uid, gid_t gid, char *err, size_t errsz);
/* Reopens both by path (logrotate renamed them); on failure the old
 * descriptor stays in use and the error is logged. */
void log_files_reopen(void);
void log_files_close(void);
/* True when [log] json is open: callers may skip building an event. */
bool log_json_on(void);

enum log_field_type { LOG_F_STR, LOG_F_UINT };
/* One "key": value of a JSON event. s == NULL is written as null; n is
 * the length of s (SIZE_MAX: NUL-terminated). Keys are program constants. */
struct log_field {
	const char *key;
	enum log_field_type type;
	const char *s;
	size_t n;
	uint64_t u;
};
#define LOG_FS(k, v) ((struct log_field){ .key = (k), .type = LOG_F_STR, .s = (v), .n = SIZE_MAX })
#define LOG_FSL(k, sl) ((struct log_field){ .key = (k), .type = LOG_F_STR, .s = (sl).p, .n = (sl).n })
#define LOG_FU(k, v) ((struct log_field){ .key = (k), .type = LOG_F_UINT, .u = (uint64_t)(v) })

/* Writes {"ts":..., "session":sid, "event":event, fields...} as one line
 * of [log] json (nothing when it is off). Strings are escaped by
 * log_json_escape; fields are borrowed. */
void log_json(uint64_t sid, const char *event, const struct log_field *f, size_t n);
#define LOG_JSON(sid, ev, ...)                                                                                         \
	log_json((sid), (ev), (const struct log_field[]){ __VA_ARGS__ },                                               \
		 sizeof((const struct log_field[]){ __VA_ARGS__ }) / sizeof(struct log_field))

/* Appends s to out as the inside of a JSON string: '"', '\\' and control
 * bytes escaped (\n \r \t \b \f or \u00XX), valid UTF-8 copied as is, and
 * each byte of an invalid UTF-8 sequence written as \u00XX (its Latin-1
 * reading, so the byte value survives). Stops (returning false) before
 * overflowing outsz; out is always NUL-terminated. *len: bytes written. */
bool log_json_escape(const char *s, size_t n, char *out, size_t outsz, size_t *len);

/* One completed or aborted data transfer. */
struct log_xfer {
	const char *user; /* NULL before login (cannot happen for a transfer) */
	const char *ip;
	const char *cmd;  /* RETR STOR APPE STOU LIST NLST MLSD */
	const char *path; /* virtual path */
	uint64_t bytes;
	uint64_t duration_ms;
	const char *result;   /* "ok", "aborted", "failed" */
	const char *reason;   /* NULL when ok; else e.g. "conn-lost", "disk-full" */
	char direction;	      /* 'o' download, 'i' upload, 0 a listing (not in xferlog) */
	bool ascii;	      /* TYPE A */
	const char *protocol; /* NULL or "ftp"/"ftps": xferlog's service name "ftp", no JSON field; else
			       * ("sftp") the service name and a JSON "protocol" field */
};
/* Whether events name their protocol: FTP's ("ftp", "ftps", or NULL) keep
 * the form their readers know; another front-end's ("sftp") is named in
 * the text line and the JSON event as protocol=... */
bool log_protocol_shown(const char *protocol);
/* Writes the transfer to [log] xferlog (file transfers only) and to
 * [log] json. */
void log_xfer(uint64_t sid, const struct log_xfer *x);
/* Formats the xferlog(5) line for x at wall time now (no newline). */
void log_xfer_format(const struct log_xfer *x, int64_t now, char *out, size_t outsz);

#endif
