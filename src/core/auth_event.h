/* auth_event: how a login ended, decided once whatever the protocol and
 * the login path: the text log line (fail2ban's filters read "login
 * failed: user=... ip=..." exactly), the JSON "login" event, the login
 * counters (ferry_logins_total) and the failure that counts toward an
 * address's ban. A front-end maps the login service's results (auth.h) to
 * its replies and, when a login is decided, raises this (auth_event()). */
#ifndef FERRY_AUTH_EVENT_H
#define FERRY_AUTH_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "guard.h"
#include "metrics.h"

enum auth_outcome {
	AUTH_LOGIN_OK,
	AUTH_LOGIN_FAILED,	/* wrong credentials (reason says which way) */
	AUTH_LOGIN_REFUSED,	/* right credentials, but a limit said no (reason) */
	AUTH_LOGIN_STORE_ERROR, /* the user store failed (err) */
};

/* One login's outcome; strings borrowed. */
struct auth_event {
	uint64_t sid;
	const char *user; /* NULL: logged as "" */
	const char *ip;
	enum auth_outcome outcome;
	const char *reason;   /* FAILED, REFUSED: one token ("bad-credentials", "user-limit") */
	int err;	      /* STORE_ERROR: the store's error */
	const char *protocol; /* NULL: FTP (the form fail2ban reads); "sftp": logged as protocol=sftp */
	const char *method;   /* NULL: not logged; SSH's method ("password", "publickey",
			       * "keyboard-interactive"): method=... */
	const char *key;      /* NULL: not logged; a public key's fingerprint: key=SHA256:... */
	/* NULL: not logged; a user-limit refusal: the limit and where it came
	 * from (auth_limit_token): limit=N limit-from=... */
	const char *limit_from;
	unsigned limit;
};

/* Where a session's login outcomes are counted besides the logs; all
 * borrowed for the session's life, each may be NULL (not counted, no
 * bans). */
struct auth_sink {
	struct metrics *metrics;
	struct guard *guard;
	const struct guard_key *key; /* the client's address group (guard) */
};

/* The text log line for ev into out (pure); returns its length, truncated
 * at n - 1. */
size_t auth_event_line(const struct auth_event *ev, char *out, size_t n);

/* A login ended. The one call every front-end makes, once per login,
 * whatever the path (password, account, one-time password, TOTP, a
 * principal, a refusal after good credentials), when the login is decided;
 * a step that continues it (an account asked for, a principal that may not
 * log in as the user and falls back to a password) raises nothing.
 * Writes ev to the text log (at the outcome's level) and as a JSON "login"
 * event, and counts it in s->metrics: OK as ok, every other outcome as
 * failed (as the JSON event's result says). [limits]: a FAILED login (wrong
 * credentials) also counts toward a ban of s->key's address group at
 * now_ms (monotonic); a ban it starts is logged (text "ban: ...", JSON
 * "ban") and counted. A refusal or a store error never does: the client
 * guessed nothing. With sharing on (guard_sync.h) the failure is also
 * queued for the store's count. Returns the ban's length (ms) or 0. */
uint64_t auth_event(const struct auth_event *ev, const struct auth_sink *s, uint64_t now_ms);

/* A ban of k's group for ban_ms started by a failed login of session sid
 * from ip: the text line ("ban: ip=... group=... for=Ns
 * reason=failed-logins"), the JSON "ban" event and the bans counter of m
 * (may be NULL). auth_event raises it for a ban this node's own count
 * starts; guard_sync.c for one the store's count (every node's) starts. */
void auth_event_ban(uint64_t sid, const char *ip, const struct guard_key *k, uint64_t ban_ms, struct metrics *m);

#endif
