/* session: one client. Owns the control connection and its proto, reads
 * bytes into proto, writes its replies, and carries out its effects (job
 * pool for password checks, loop timers for delays and timeouts, close). */
#ifndef FERRY_SESSION_H
#define FERRY_SESSION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "auth.h"
#include "config.h"

struct loop;
struct jobs;
struct session;
struct tls_ctx;
struct gss_acceptor;
struct sessions;

/* What the owning worker lends its sessions. */
struct guard;
struct rate_bucket;
struct hash_limit;

struct session_host {
	struct loop *loop;
	struct jobs *jobs;
	struct guard *guard;	    /* abuse limits shared by all hosts; NULL = none */
	struct metrics *metrics;    /* counters shared by all hosts; NULL = none */
	struct hooks *hooks;	    /* upload hooks; NULL = none */
	struct hash_limit *hashlim; /* [limits] hash_jobs, shared by all hosts; NULL = none */
	struct quota_book *quota;   /* users' quotas, shared by all hosts (core/quota.h); NULL = none */
	struct session *head;	    /* the host's sessions (session.c links them) */
	size_t count;
	/* [limits] rate_down/rate_up: the server's buckets, shared by all
	 * hosts (core/rate.h); NULL = none */
	struct rate_bucket *rate_down, *rate_up;
	/* The worker's sessions of every protocol (core/sessions.h): each
	 * session is listed there, and so is whether it has logged in, for
	 * `ferry status`/`kick` and for max_sessions' evictions. */
	struct sessions *reg;
	/* Called on the loop after a session closed (count already lowered). */
	void (*closed)(struct session_host *h);
	/* Set by the host around session_start when the new connection takes
	 * the server past [server] max_sessions: once [limits] admitted it,
	 * make_room(h) must evict a session not logged in (of any protocol:
	 * sessions_evict_oldest), or it is refused with 421. */
	bool room_needed;
	bool (*make_room)(struct session_host *h);
};

/* Starts a session on an accepted socket (takes ownership of fd and of a
 * reference to cfg and to tls, which may be NULL when TLS is not
 * configured). If refuse is not NULL the client gets "421 refuse" and is
 * closed. implicit: the listener is implicit FTPS (TLS before the greeting).
 * gss: the GSSAPI acceptor (borrowed; outlives every session), or NULL. */
void session_start(struct session_host *h, const struct config *cfg, int fd, const struct sockaddr_storage *peer,
		   uint64_t id, const char *refuse, struct tls_ctx *tls, bool implicit, const struct gss_acceptor *gss);

/* Server shutdown deadline: 421 to the client and close. */
void session_shutdown(struct session *s);
/* The drain deadline (server/worker.c): every session of h gets its 421
 * and closes, except one whose durable upload's commit runs on the job
 * pool: it reads no more commands, and once the commit has ended sends
 * its reply (226, or 451 when it failed), then the 421, and closes.
 * Returns how many sessions wait so (each logs that it does). */
size_t session_host_drain_end(struct session_host *h);
/* The session's own transfer rates, bytes/s (0 = unlimited), in front of
 * the server's [limits] rate_down/rate_up: the policy of the user logged
 * in (its own, then its groups'). Applies from the next byte, a running
 * transfer's too. */
void session_set_rate(struct session *s, uint64_t down, uint64_t up);

#endif
