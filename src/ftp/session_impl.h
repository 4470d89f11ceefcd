/* session_impl: the session state shared by session.c (the control
 * connection: reading, pumping proto, writing, closing), session_jobs.c
 * (job-pool work), session_xfer.c (data channel and upload commit) and
 * session_tls.c (TLS on the control connection). Nothing else includes
 * this. */
#ifndef FERRY_SESSION_IMPL_H
#define FERRY_SESSION_IMPL_H

#include <stdbool.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "conn.h"
#include "guard.h"
#include "loop.h"
#include "net.h"
#include "proto.h"
#include "rate.h"
#include "session.h"
#include "sessions.h"

struct auth_job;
struct datachan;
struct gss_sess;
struct session_proxy;
struct tls_conn;
struct tls_ctx;

/* A session's own bandwidth buckets (session_set_rate), made only for a
 * user with a rate of their own: datachan points at them. */
struct session_rate {
	struct rate_bucket down, up;
};

/* One per FTP connection, idle ones included: memory per idle session is a
 * benchmark target (issue 15: <= 2 KiB plain, bench/ "Memory per idle
 * session"), so what only some sessions use is a pointer to state made
 * when it is needed (data channel, rates, PROXY wait, GSSAPI), addresses
 * are kept packed (net_sockaddr) and the fields are ordered to leave no
 * padding. session.c asserts the size (SESSION_SIZE_BUDGET). */
struct session {
	struct session_host *host;
	struct session *prev, *next;
	uint64_t id;
	const struct config *cfg;
	struct conn conn;
	struct loop_watch watch;
	struct proto *proto;
	struct buf in;
	struct loop_timer idle_timer, login_timer, effect_timer;
	struct auth_job *job;	      /* in flight on the pool */
	struct datachan *data;	      /* made at the first PASV/EPSV/PORT/EPRT (idle sessions stay small) */
	struct session_rate *rate;    /* session_set_rate: NULL until the user has a rate of their own */
	struct tls_ctx *tls_ctx;      /* TLS on the control connection; NULL: TLS not configured */
	struct tls_conn *ctl_tls_old; /* after CCC/REIN: for data resumption checks */
	struct gss_sess *gss;	      /* NULL: GSSAPI not configured */
	struct session_proxy *pp;     /* waiting for the PROXY header (session_proxy.c) */
	/* [limits] (guard.h): this session counts against its address group
	 * (guarded) and, once logged in, against its user (counted_user). */
	struct guard_key gkey;
	char *counted_user;
	struct quota_user *quota; /* the logged-in user's quota (core/quota.h), lent to proto */
	/* The client's address, set once (session_begin): the PROXY header's
	 * behind a balancer, else the socket's peer. Everything that names or
	 * checks the client uses it (session_peer_addr) or peer, its text:
	 * [limits], logs, proto's PORT/EPRT check, the data connections' peer
	 * check. */
	union net_sockaddr peer_addr;
	char peer[INET6_ADDRSTRLEN];
	/* Flags as bits: every idle session carries them. */
	enum { TLS_IDLE, TLS_FLUSH_THEN_START, TLS_HANDSHAKE, TLS_FLUSH_THEN_STOP, TLS_STOPPING } tphase;
	bool closed : 1; /* socket gone; freed once no job refers to it */
	bool read_eof : 1;
	bool closing : 1;	 /* CLOSE effect: close once the output is flushed */
	bool effect_started : 1; /* the pending effect has been set in motion */
	bool pumping : 1;	 /* re-entrancy guard for session_pump() */
	bool yielded : 1;	 /* resume_pump is deferred: the rest of the input waits for it */
	bool grace_pending : 1;	 /* an upload's data EOF waits for commit_grace (on_xfer_done) */
	bool implicit_greet : 1; /* implicit FTPS: greet once the handshake is done */
	bool begun : 1;		 /* session_begin ran: connect was logged, disconnect will be */
	bool guarded : 1;
	bool drain_end : 1; /* the drain deadline came during its commit: its reply, then 421 and close */
	/* Its entry in the worker's registry (core/sessions.h): `ferry
	 * status`/`kick`, and [server] max_sessions evicts the oldest of those
	 * not logged in. */
	struct sessions_entry reg;
};

/* The client's address as a sockaddr_storage (what core and net take). */
static inline struct sockaddr_storage session_peer_addr(const struct session *s)
{
	struct sockaddr_storage ss;
	net_addr_unpack(&ss, &s->peer_addr);
	return ss;
}

/* session.c */
/* Frees s once nothing refers to it (a loop_defer callback: p is s). */
void session_free(void *p);
/* Closes the connection at once; s is freed later (see session_free). */
void session_close_now(struct session *s);
/* Reads what the socket has into s->in; may close s. */
void session_read_some(struct session *s);
/* Reports the pending effect's outcome to proto. */
void session_complete(struct session *s, const struct proto_result *r);
/* Feeds input to proto, starts its effect and writes its replies. */
void session_pump(struct session *s);
/* [limits] max_per_user: gives back the slot this session's login took. */
void session_release_user_slot(struct session *s);
/* The idle timer's callback (idle_timeout). */
void session_on_idle(struct loop_timer *t);
/* The client's address is known (peer, borrowed): logs the connection,
 * applies [limits] and [server] max_sessions (room_needed) or refuse (the
 * worker's 421 text, or NULL), then greets or starts implicit TLS. */
void session_begin(struct session *s, const struct sockaddr_storage *peer, const char *refuse, bool room_needed,
		   bool implicit);

/* session_proxy.c */
/* [server] proxy_protocol: checks proxy_from and waits (proxy_timeout) for
 * the PROXY header, then calls session_begin with its address; refuse,
 * room_needed and implicit are passed on. May close s. */
void session_proxy_start(struct session *s, const char *refuse, bool room_needed, bool implicit);
/* The control socket is readable while s->pp is set. May close s. */
void session_proxy_io(struct session *s);
void session_proxy_free(struct session_proxy *pp);

/* session_jobs.c */
/* Puts a USER_LOOKUP, AUTH_CHECK, GSS_STEP or ASCII_SIZE effect on the job
 * pool (one job per session at a time: s->job); its end completes it. */
void session_start_job(struct session *s, const struct proto_effect *e);
/* The session closed: the job skips its work and frees s when it returns. */
void session_cancel_job(struct auth_job *a);
/* Releases a challenge lock on the job pool (copies user). */
void session_release_lock(struct session *s, const char *user, uint64_t lock);

/* session_xfer.c */
/* Carries out a DATA_SETUP or XFER effect on the session's data channel. */
void session_start_data(struct session *s, const struct proto_effect *e);
/* Ends an upload's commit grace: commits unless the control connection went. */
void session_grace_end(struct session *s);

/* session_tls.c */
/* Moves the control connection's TLS phase along; true when it completed a
 * proto effect. */
bool session_tls_step(struct session *s);

#endif
