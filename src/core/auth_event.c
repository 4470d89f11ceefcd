/* auth_event: a login's outcome in the logs (auth_event.h). */
#include "auth_event.h"

#include <stdbool.h>
#include <stdio.h>

#include "log.h"
#include "util.h"

size_t auth_event_line(const struct auth_event *ev, char *out, size_t n)
{
	struct log_escaped e;
	const char *user = log_esc(slice_from_cstr(ev->user ? ev->user : ""), &e);
	int w = 0;
	switch (ev->outcome) {
	case AUTH_LOGIN_OK:
		w = snprintf(out, n, "login ok: user=\"%s\" ip=%s", user, ev->ip);
		break;
	case AUTH_LOGIN_FAILED:
		w = snprintf(out, n, "login failed: user=\"%s\" ip=%s reason=%s", user, ev->ip, ev->reason);
		break;
	case AUTH_LOGIN_REFUSED:
		w = snprintf(out, n, "login refused: user=\"%s\" ip=%s reason=%s", user, ev->ip, ev->reason);
		break;
	case AUTH_LOGIN_STORE_ERROR:
		w = snprintf(out, n, "user store failed during login: user=\"%s\" error=%d", user, ev->err);
		break;
	}
	if (w >= 0 && (size_t)w < n && log_protocol_shown(ev->protocol)) {
		int more = snprintf(out + w, n - (size_t)w, " protocol=%s", ev->protocol);
		w = more < 0 ? w : w + more;
	}
	/* After the fields fail2ban's filters read, never before them. */
	if (w >= 0 && (size_t)w < n && ev->method) {
		int more = snprintf(out + w, n - (size_t)w, " method=%s", ev->method);
		w = more < 0 ? w : w + more;
	}
	if (w >= 0 && (size_t)w < n && ev->key) {
		int more = snprintf(out + w, n - (size_t)w, " key=%s", ev->key);
		w = more < 0 ? w : w + more;
	}
	if (w >= 0 && (size_t)w < n && ev->limit_from) {
		struct log_escaped el;
		int more = snprintf(out + w, n - (size_t)w, " limit=%u limit-from=%s", ev->limit,
				    log_esc(slice_from_cstr(ev->limit_from), &el));
		w = more < 0 ? w : w + more;
	}
	if (w < 0)
		return 0;
	return (size_t)w < n ? (size_t)w : n ? n - 1 : 0;
}

/* The JSON "login" event: the fields given, and the protocol when it is
 * not FTP's (as the text line). */
static void login_json(const struct auth_event *ev, const char *result, bool has_reason, const char *reason)
{
	const struct log_field f[] = {
		LOG_FS("user", ev->user),	  LOG_FS("ip", ev->ip),
		LOG_FS("result", result),	  LOG_FS("reason", reason),
		LOG_FS("protocol", ev->protocol), LOG_FS("method", ev->method),
		LOG_FS("key", ev->key),
	};
	/* Left out: reason for a success, protocol when FTP's, method and key
	 * when not given. */
	bool pr = log_protocol_shown(ev->protocol);
	struct log_field g[ARRAY_LEN(f)];
	size_t k = 0;
	for (size_t i = 0; i < ARRAY_LEN(f); i++)
		if ((i != 3 || has_reason) && (i != 4 || pr) && (i != 5 || ev->method) && (i != 6 || ev->key))
			g[k++] = f[i];
	log_json(ev->sid, "login", g, k);
}

/* The text log line (at the outcome's level) and the JSON "login" event. */
static void auth_event_log(const struct auth_event *ev)
{
	char line[1024]; /* the log sink's own limit */
	(void)auth_event_line(ev, line, sizeof(line));
	switch (ev->outcome) {
	case AUTH_LOGIN_OK:
		log_info(ev->sid, "%s", line);
		login_json(ev, "ok", false, NULL);
		return;
	case AUTH_LOGIN_FAILED:
	case AUTH_LOGIN_REFUSED:
		log_warn(ev->sid, "%s", line);
		login_json(ev, "failed", true, ev->reason);
		return;
	case AUTH_LOGIN_STORE_ERROR:
		log_err(ev->sid, "%s", line);
		login_json(ev, "failed", true, "store-error");
		return;
	}
}

void auth_event_ban(uint64_t sid, const char *ip, const struct guard_key *k, uint64_t ban_ms, struct metrics *m)
{
	char group[64];
	guard_key_format(k, group, sizeof(group));
	log_warn(sid, "ban: ip=%s group=%s for=%llus reason=failed-logins", ip, group,
		 (unsigned long long)(ban_ms / 1000));
	METRICS_ADD(m, bans, 1);
	LOG_JSON(sid, "ban", LOG_FS("ip", ip), LOG_FS("group", group), LOG_FU("seconds", ban_ms / 1000),
		 LOG_FS("reason", "failed-logins"));
}

/* [limits]: a failed login from k counts toward a ban of k's address
 * group, here at once and, when the nodes share their bans, in the store
 * (guard_sync.c counts it there); a ban it starts is logged and counted in
 * m. */
static uint64_t failure_counts(struct guard *g, const struct guard_key *k, struct metrics *m, uint64_t sid,
			       const char *ip, uint64_t now_ms)
{
	if (!g || !k)
		return 0;
	uint64_t ban = guard_login_failed(g, k, now_ms);
	guard_failure_share(g, k, now_ms, sid, ip);
	if (ban)
		auth_event_ban(sid, ip, k, ban, m);
	return ban;
}

uint64_t auth_event(const struct auth_event *ev, const struct auth_sink *s, uint64_t now_ms)
{
	auth_event_log(ev);
	struct metrics *m = s ? s->metrics : NULL;
	enum metrics_protocol p = metrics_protocol_of(ev->protocol);
	if (ev->outcome == AUTH_LOGIN_OK) {
		METRICS_ADD(m, logins_ok[p], 1);
		return 0;
	}
	METRICS_ADD(m, logins_failed[p], 1);
	/* SECURITY: only a guess counts toward the ban: a wrong password,
	 * account or one-time password, whichever step of whichever protocol
	 * it was. */
	if (ev->outcome != AUTH_LOGIN_FAILED || !s)
		return 0;
	return failure_counts(s->guard, s->key, m, ev->sid, ev->ip, now_ms);
}
