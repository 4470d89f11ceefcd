#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* The log sink is one of the two permitted globals (ARCHITECTURE.md §3). */
static struct {
	enum log_target target;
	enum log_level level;
	const char *ident;
	pthread_mutex_t lock;
} sink = { LOG_TO_STDERR, LOG_LVL_INFO, "ferry", PTHREAD_MUTEX_INITIALIZER };

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_setup(enum log_target target, enum log_level level, const char *ident)
{
	pthread_mutex_lock(&sink.lock);
	if (sink.target == LOG_TO_SYSLOG && target != LOG_TO_SYSLOG)
		closelog();
	sink.target = target;
	sink.level = level;
	sink.ident = ident;
	if (target == LOG_TO_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	pthread_mutex_unlock(&sink.lock);
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_time(char *out, size_t outsz)
{
	struct timespec ts;
	struct tm tm;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	(void)gmtime_r(&ts.tv_sec, &tm);
	char when[24];
	(void)strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	(void)snprintf(out, outsz, "%s.%03ldZ", when, ts.tv_nsec / 1000000L);
}

const char *log_esc(struct slice s, struct log_escaped *tmp)
{
	return str_escape(s, tmp->s, sizeof(tmp->s));
}

bool log_enabled(enum log_level lvl)
{
	return lvl <= sink.level;
}

void log_debug_command(uint64_t sid, struct slice line)
{
	if (!log_enabled(LOG_LVL_DEBUG))
		return;
	/* SECURITY: PASS carries passwords and OTP responses, ACCT and ADAT
	 * credentials, MIC/CONF/ENC a protected command (a MIC-protected
	 * PASS is readable in its base64); the unwrapped command is logged on
	 * its own and masked the same way. */
	static const char *const secret[] = { "PASS", "ACCT", "ADAT", "MIC", "CONF", "ENC" };
	struct slice verb, arg;
	struct log_escaped e;
	if (slice_split(line, ' ', &verb, &arg) && arg.n)
		for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
			if (slice_eq_ci(verb, secret[i])) {
				log_debug(sid, "command: \"%s ****\"", log_esc(verb, &e));
				return;
			}
	log_debug(sid, "command: \"%s\"", log_esc(line, &e));
}

void log_debug_reply(uint64_t sid, int code, char sep, const char *text)
{
	if (!log_enabled(LOG_LVL_DEBUG))
		return;
	struct log_escaped e;
	if (code)
		log_debug(sid, "reply: %03d%c%s", code, sep, log_esc(slice_from_cstr(text), &e));
	else
		log_debug(sid, "reply: %s", log_esc(slice_from_cstr(text), &e));
}

void log_msg(enum log_level lvl, uint64_t sid, const char *fmt, ...)
{
	if (lvl > sink.level)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Defence in depth: a line break can never end up inside one event. */
	for (char *c = msg; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';

	char sidbuf[32] = "";
	if (sid)
		(void)snprintf(sidbuf, sizeof(sidbuf), " session=%llu", (unsigned long long)sid);

	if (sink.target == LOG_TO_SYSLOG) {
		static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
		syslog(prio[lvl], "%s%s %s", level_names[lvl], sidbuf, msg);
		return;
	}
	char when[LOG_TIME_LEN];
	log_time(when, sizeof(when));
	pthread_mutex_lock(&sink.lock);
	(void)fprintf(stderr, "%s %s[%ld]: %s%s %s\n", when, sink.ident, (long)getpid(), level_names[lvl], sidbuf, msg);
	(void)fflush(stderr);
	pthread_mutex_unlock(&sink.lock);
}
