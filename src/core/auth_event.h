/* auth_event: how a login ended, raised once whatever the protocol: the
 * text log line (fail2ban's filters read "login failed: user=... ip=..."
 * exactly) and the JSON "login" event. A front-end maps the login
 * service's results (auth.h) to its replies and raises this. */
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
	const char *reason; /* FAILED, REFUSED: one token ("bad-credentials", "user-limit") */
	int err;	    /* STORE_ERROR: the store's error */
};

/* The text log line for ev into out (pure); returns its length, truncated
 * at n - 1. */
size_t auth_event_line(const struct auth_event *ev, char *out, size_t n);
/* Writes ev to the text log (at the outcome's level) and as a JSON
 * "login" event. */
void auth_event(const struct auth_event *ev);

/* [limits]: a failed login from k (a wrong password, account or one-time
 * password, whatever the protocol) counts toward a ban of k's address
 * group; a ban it starts is logged (text "ban: ...", JSON "ban") and
 * counted in m. g and m may be NULL. Returns the ban's length (ms) or 0. */
uint64_t auth_event_failure_counts(struct guard *g, const struct guard_key *k, struct metrics *m, uint64_t sid,
				   const char *ip, uint64_t now_ms);

#endif
