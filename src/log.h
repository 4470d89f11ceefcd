/* log: levelled one-line-per-event logs to stderr or syslog.
 * Client text must be escaped with str_escape() or log_esc() before it is
 * passed as an argument; it is never used as the format. */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include <stdint.h>

#include "str.h"

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };
enum log_target { LOG_TO_STDERR = 0, LOG_TO_SYSLOG };

/* Sets the sink; safe to call again on reload. ident is borrowed (static). */
void log_setup(enum log_target target, enum log_level level, const char *ident);
/* Parses "error|warn|info|debug"; -EINVAL otherwise. */
int log_level_parse(const char *s, enum log_level *out);

/* One event. sid 0 = not tied to a session. */
void log_msg(enum log_level lvl, uint64_t sid, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_err(sid, ...) log_msg(LOG_LVL_ERROR, (sid), __VA_ARGS__)
#define log_warn(sid, ...) log_msg(LOG_LVL_WARN, (sid), __VA_ARGS__)
#define log_info(sid, ...) log_msg(LOG_LVL_INFO, (sid), __VA_ARGS__)
#define log_debug(sid, ...) log_msg(LOG_LVL_DEBUG, (sid), __VA_ARGS__)

/* Escaped, quoted-safe form of client text for a log line (at most ~256
 * bytes); the storage belongs to the caller's stack via the struct. */
struct log_escaped {
	char s[272];
};
const char *log_esc(struct slice s, struct log_escaped *tmp);

#endif
