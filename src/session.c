#include "session.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>

#include "buf.h"
#include "conn.h"
#include "datachan.h"
#include "hooks.h"
#include "guard.h"
#include "gss.h"
#include "jobs.h"
#include "log.h"
#include "loop.h"
#include "net.h"
#include "proto.h"
#include "tls.h"
#include "util.h"
#include "vfs.h"


/* Unconsumed input kept while an effect is pending; more waits in the
 * kernel's socket buffer (backpressure). */
#define SESSION_IN_MAX (64u * 1024u)
#define READ_CHUNK 16384u
/* One session's share of a loop round: after this many commands, or this
 * many bytes of replies, it lets the other sessions run (yield) and goes
 * on in the next round. Enough for a burst of pipelined commands from a
 * real client; a flood of them no longer keeps the loop to itself. */
#define PUMP_COMMANDS 32u
#define PUMP_REPLY_BYTES (16u * 1024u)

/* A job for the pool: USER's lookup, PASS's check, a principal check (USER
 * after ADAT: principal set, no password), a GSSAPI context step (gss) or
 * a TYPE A count (count_fd >= 0). */
struct auth_job {
	struct job job;
	atomic_bool cancelled; /* the session closed: skip the hash */
	struct session *s;
	bool lookup;           /* USER_LOOKUP (else AUTH_CHECK) */
	char *user;
	char *password;
	char *release_user;    /* lookup: a lock to release first */
	struct auth_lookup_req req;
	struct auth_challenge ch;  /* check: what USER got; lookup: the result */
	char *principal;
	bool principal_default;
	struct auth_result res;
	struct gss_sess *gss; /* GSS_STEP: the session's context, borrowed */
	struct buf gss_in, gss_out;
	enum gss_step_status gss_status;
	char gss_err[256];
	int count_fd; /* ASCII_SIZE: borrowed from proto, which outlives the job */
	uint64_t count;
	int count_err;
};

/* Releases a challenge lock after its connection closed; owns itself. */
struct unlock_job {
	struct job job;
	char *user;
	uint64_t lock;
};

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
	struct auth_job *job; /* in flight on the pool */
	bool closed;          /* socket gone; freed once no job refers to it */
	bool read_eof;
	bool closing;         /* CLOSE effect: close once the output is flushed */
	bool effect_started;  /* the pending effect has been set in motion */
	bool pumping;         /* re-entrancy guard for pump() */
	bool yielded;         /* resume_pump is deferred: the rest of the input waits for it */
	bool grace_pending;   /* an upload's data EOF waits for commit_grace (on_xfer_done) */
	struct datachan *data; /* made at the first PASV/EPSV/PORT/EPRT (idle sessions stay small) */
	/* TLS on the control connection */
	enum { TLS_IDLE, TLS_FLUSH_THEN_START, TLS_HANDSHAKE, TLS_FLUSH_THEN_STOP, TLS_STOPPING } tphase;
	bool implicit_greet;          /* implicit FTPS: greet once the handshake is done */
	struct tls_ctx *tls_ctx;      /* NULL: TLS not configured */
	struct tls_conn *ctl_tls_old; /* after CCC/REIN: for data resumption checks */
	struct gss_sess *gss;         /* NULL: GSSAPI not configured */
	char peer[64];
	/* [limits] (guard.h): this session counts against its address group
	 * (guarded) and, once logged in, against its user (counted_user). */
	struct guard_key gkey;
	bool guarded;
	char *counted_user;
	/* In the host's list of sessions not logged in ([server] max_sessions
	 * evicts the oldest of them), since prelogin_since. */
	bool prelogin;
	uint64_t prelogin_since;
	struct session *pl_prev, *pl_next;
};

static void pump(struct session *s);
static void release_lock(struct session *s, const char *user, uint64_t lock);
static void on_idle(struct loop_timer *t);
static void on_login_timeout(struct loop_timer *t);
static void grace_end(struct session *s);

struct session *session_next(struct session *s)
{
	return s->next;
}

static void session_free(void *p)
{
	struct session *s = p;
	proto_free(s->proto);
	buf_free(&s->in);
	if (s->ctl_tls_old)
		tls_conn_free(s->ctl_tls_old);
	if (s->tls_ctx)
		tls_ctx_unref(s->tls_ctx);
	gss_sess_free(s->gss);
	free(s->data); /* reset by close_now */
	config_unref(s->cfg);
	free(s);
}

/* [limits] max_per_user: gives back the slot this session's login took. */
static void release_user_slot(struct session *s)
{
	if (!s->counted_user)
		return;
	guard_user_release(s->host->guard, s->counted_user);
	free(s->counted_user);
	s->counted_user = NULL;
}

/* Keeps s in its host's list of sessions not logged in exactly while it is
 * open, not closing and not logged in; a session that logs out (REIN, a
 * new USER) joins again as the newest. */
static void prelogin_sync(struct session *s)
{
	struct session_host *h = s->host;
	bool want = !s->closed && !s->closing && !proto_logged_in(s->proto);
	if (want == s->prelogin)
		return;
	s->prelogin = want;
	if (want) {
		uint64_t now = util_now_ms();
		s->prelogin_since = now ? now : 1; /* 0 means "none" to readers */
		s->pl_next = NULL;
		s->pl_prev = h->prelogin_tail;
		if (h->prelogin_tail)
			h->prelogin_tail->pl_next = s;
		else
			h->prelogin_head = s;
		h->prelogin_tail = s;
	} else {
		if (s->pl_prev)
			s->pl_prev->pl_next = s->pl_next;
		else
			h->prelogin_head = s->pl_next;
		if (s->pl_next)
			s->pl_next->pl_prev = s->pl_prev;
		else
			h->prelogin_tail = s->pl_prev;
		s->pl_prev = s->pl_next = NULL;
	}
	atomic_store_explicit(&h->prelogin_since, h->prelogin_head ? h->prelogin_head->prelogin_since : 0,
			      memory_order_relaxed);
}

static void close_now(struct session *s)
{
	if (s->closed)
		return;
	s->closed = true;
	/* A transfer still running is aborted through proto, so it is logged
	 * and an upload is discarded (the old file stays). Replies it queues
	 * are never sent. */
	if (s->data && datachan_running(s->data))
		datachan_abort(s->data);
	if (s->grace_pending)
		grace_end(s); /* s->closed: ctl_gone() says gone, the upload is not committed */
	/* Data listener and connection go before the session stops counting:
	 * once it is out of sessions_open, nothing of it is open any more. */
	if (s->data)
		datachan_reset(s->data);
	struct loop *l = s->host->loop;
	/* The slot is free before the socket closes: a client that sees EOF
	 * and reconnects at once must not meet "max_sessions reached". */
	if (s->prev)
		s->prev->next = s->next;
	else
		s->host->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->host->count--;
	prelogin_sync(s);
	if (s->guarded)
		guard_disconnect(s->host->guard, &s->gkey);
	release_user_slot(s);
	s->host->closed(s->host);
	loop_watch_del(l, &s->watch);
	/* RFC 4217 §12.6: end an established TLS control connection properly. */
	if (s->tphase == TLS_IDLE)
		conn_close_notify(&s->conn);
	conn_close(&s->conn);
	loop_timer_cancel(l, &s->idle_timer);
	loop_timer_cancel(l, &s->login_timer);
	loop_timer_cancel(l, &s->effect_timer);
	log_info(s->id, "disconnect: ip=%s", s->peer);
	LOG_JSON(s->id, "disconnect", LOG_FS("ip", s->peer));
	/* A password check still queued or running refers to s: free when it
	 * returns. Cancelling keeps abandoned checks (clients that send PASS and
	 * hang up) from delaying everyone else's logins and shutdown. */
	const char *lock_user;
	uint64_t lock;
	if (proto_challenge_lock(s->proto, &lock_user, &lock))
		release_lock(s, lock_user, lock);
	if (s->job)
		atomic_store(&s->job->cancelled, true);
	else
		loop_defer(l, session_free, s);
}

static void update_interest(struct session *s)
{
	if (s->closed)
		return;
	uint32_t ev = 0;
	if (s->tphase == TLS_HANDSHAKE || s->tphase == TLS_STOPPING) {
		ev = s->conn.want ? s->conn.want : EPOLLIN;
	} else {
		/* No reading while an AUTH TLS reply is still going out: the
		 * next bytes from the client are its ClientHello. */
		if (!s->read_eof && buf_room(&s->in) > 0 && s->tphase == TLS_IDLE)
			ev |= EPOLLIN;
		if (proto_output(s->proto)->len)
			ev |= EPOLLOUT;
		ev |= s->conn.want;
	}
	if (loop_watch_mod(s->host->loop, &s->watch, ev) != 0)
		close_now(s);
}

static void flush(struct session *s)
{
	struct buf *out = proto_output(s->proto);
	while (!s->closed && out->len) {
		size_t put = 0;
		int r = conn_write(&s->conn, buf_data(out), out->len, &put);
		if (r == -EAGAIN)
			break;
		if (r) {
			log_debug(s->id, "write failed: %s", strerror(-r));
			close_now(s);
			return;
		}
		buf_consume(out, put);
	}
	if (!s->closed && s->closing && out->len == 0)
		close_now(s);
}

static void read_some(struct session *s)
{
	while (!s->read_eof && buf_room(&s->in) > 0) {
		size_t want = buf_room(&s->in) < READ_CHUNK ? buf_room(&s->in) : READ_CHUNK;
		int err = 0;
		char *dst = buf_reserve(&s->in, want, &err);
		if (!dst) {
			close_now(s);
			return;
		}
		size_t got = 0;
		int r = conn_read(&s->conn, dst, want, &got);
		if (r == -EAGAIN)
			return;
		if (r) {
			log_debug(s->id, "read failed: %s", strerror(-r));
			close_now(s);
			return;
		}
		if (got == 0) {
			s->read_eof = true;
			return;
		}
		buf_commit(&s->in, got);
		loop_timer_arm(s->host->loop, &s->idle_timer, s->cfg->idle_timeout_ms, s->idle_timer.cb);
		/* A short read drained the socket: the level-triggered watch
		 * reports anything newer, so no read just to see EAGAIN. TLS
		 * may hold more decrypted bytes: pump() asks conn_pending(). */
		if (got < want)
			return;
	}
}

/* Reports the pending effect's outcome to proto. */
static void complete(struct session *s, const struct proto_result *r)
{
	s->effect_started = false;
	proto_complete(s->proto, r);
}

static void unlock_run(struct job *j, void *ctx)
{
	struct unlock_job *u = container_of(j, struct unlock_job, job);
	struct store_handle *h = ctx;
	if (h && h->store)
		auth_release(h->ops, h->store, u->user, u->lock);
}

static void unlock_done(struct job *j)
{
	struct unlock_job *u = container_of(j, struct unlock_job, job);
	free(u->user);
	free(u);
}

/* RFC 2289 §9: a connection that goes away gives up its challenge at
 * once, rather than making the user wait for the lock to expire. */
static void release_lock(struct session *s, const char *user, uint64_t lock)
{
	struct unlock_job *u = util_xcalloc(1, sizeof(*u));
	u->user = util_xstrdup(user);
	u->lock = lock;
	u->job = (struct job){ .run = unlock_run, .done = unlock_done, .owner = s->host->loop };
	jobs_submit(s->host->jobs, &u->job);
}

static void auth_run(struct job *j, void *ctx)
{
	struct auth_job *a = container_of(j, struct auth_job, job);
	struct store_handle *h = ctx;
	if (a->count_fd >= 0) {
		if (!atomic_load(&a->cancelled))
			a->count_err = vfs_ascii_size(a->count_fd, ASCII_SIZE_LIMIT, &a->count);
		return;
	}
	if (atomic_load(&a->cancelled)) {
		if (a->gss)
			return;
		/* Nobody waits for the answer, but a lock must not linger. */
		if (h && h->store && !a->lookup)
			auth_release(h->ops, h->store, a->user, a->ch.lock);
		if (h && h->store && a->lookup)
			auth_release(h->ops, h->store, a->release_user, a->req.release_lock);
		return;
	}
	if (a->gss) {
		a->gss_status = gss_sess_step(a->gss, buf_slice(&a->gss_in), &a->gss_out, a->gss_err, sizeof(a->gss_err));
		return;
	}
	if (!h || !h->store) {
		a->res = (struct auth_result){ .err = -EIO };
		a->ch = (struct auth_challenge){ .err = -EIO };
		return;
	}
	if (a->lookup)
		auth_lookup(h->ops, h->store, &a->req, &a->ch);
	else if (a->principal)
		auth_check_principal(h->ops, h->store, a->user, a->principal, a->principal_default, &a->res);
	else
		auth_login(h->ops, h->store, a->user, a->password, &a->ch, &a->res);
}

static void auth_job_free(struct auth_job *a)
{
	auth_result_free(&a->res);
	if (a->password) {
		util_wipe(a->password, strlen(a->password));
		free(a->password);
	}
	free(a->user);
	free(a->release_user);
	free(a->principal);
	buf_free(&a->gss_in);
	buf_free(&a->gss_out);
	free(a);
}

/* [limits]: a failed login (proto's DELAY effect says so, for PASS and
 * ACCT alike) counts towards a ban of the address group. */
static void guard_login_failed_now(struct session *s)
{
	struct guard *g = s->host->guard;
	uint64_t ban = g ? guard_login_failed(g, &s->gkey, util_now_ms()) : 0;
	if (ban) {
		char group[64];
		guard_key_format(&s->gkey, group, sizeof(group));
		log_warn(s->id, "ban: ip=%s group=%s for=%llus reason=failed-logins", s->peer, group,
			 (unsigned long long)(ban / 1000));
		METRICS_ADD(s->host->metrics, bans, 1);
		LOG_JSON(s->id, "ban", LOG_FS("ip", s->peer), LOG_FS("group", group), LOG_FU("seconds", ban / 1000),
			 LOG_FS("reason", "failed-logins"));
	}
}

/* [limits]: a good login takes a slot of the user's (max_per_user), or is
 * turned into a refusal that proto answers with 421. */
static void guard_login_result(struct session *s, struct auth_job *a)
{
	struct guard *g = s->host->guard;
	if (!g || a->res.err || !a->res.ok)
		return;
	release_user_slot(s); /* a new login on this connection (REIN, USER) */
	if (guard_user_acquire(g, a->user))
		s->counted_user = util_xstrdup(a->user);
	else
		a->res.user_limit = true;
}

static void auth_done(struct job *j)
{
	struct auth_job *a = container_of(j, struct auth_job, job);
	struct session *s = a->s;
	s->job = NULL;
	if (s->closed) {
		/* A lookup that took a lock after the client left. */
		if (a->lookup && a->ch.lock)
			release_lock(s, a->user, a->ch.lock);
		auth_job_free(a);
		if (s->yielded) /* resume_pump, deferred, still refers to s */
			loop_defer(s->host->loop, session_free, s);
		else
			session_free(s);
		return;
	}
	if (!a->lookup && !a->gss && a->count_fd < 0) {
		if (!a->res.err && a->res.ok)
			METRICS_ADD(s->host->metrics, logins_ok, 1);
		else if (!a->res.err)
			METRICS_ADD(s->host->metrics, logins_failed, 1);
		guard_login_result(s, a);
	}
	struct proto_result r = { .auth = &a->res, .challenge = &a->ch };
	if (a->gss) {
		r.gss_status = a->gss_status;
		r.gss_reply = buf_slice(&a->gss_out);
		r.gss_error = a->gss_err;
		r.gss_principal = gss_sess_principal(a->gss);
		r.gss_local = gss_sess_local_name(a->gss);
	}
	if (a->count_fd >= 0) {
		r.err = a->count_err;
		r.bytes = a->count;
	}
	complete(s, &r);
	/* A lookup that finished after a timeout replaced it with CLOSE: proto
	 * never took the lock, so nobody else would release it. */
	const char *held_user;
	uint64_t held = 0;
	if (a->lookup && a->ch.lock && !(proto_challenge_lock(s->proto, &held_user, &held) && held == a->ch.lock))
		release_lock(s, a->user, a->ch.lock);
	auth_job_free(a);
	pump(s);
}

static void submit_job(struct session *s, struct auth_job *a)
{
	a->s = s;
	a->job = (struct job){ .run = auth_run, .done = auth_done, .owner = s->host->loop };
	s->job = a;
	jobs_submit(s->host->jobs, &a->job);
}

static void start_auth_job(struct session *s, const struct proto_effect *e)
{
	struct auth_job *a = util_xcalloc(1, sizeof(*a));
	a->count_fd = -1;
	a->user = util_xstrdup(e->user);
	if (e->kind == PROTO_EFFECT_USER_LOOKUP) {
		a->lookup = true;
		a->req = e->lookup;
		a->req.user = a->user;
		a->release_user = e->lookup.release_user ? util_xstrdup(e->lookup.release_user) : NULL;
		a->req.release_user = a->release_user;
	} else if (e->principal) {
		a->principal = util_xstrdup(e->principal);
		a->principal_default = e->principal_default;
	} else {
		a->password = util_xstrdup(e->password);
		if (e->challenge)
			a->ch = *e->challenge;
	}
	submit_job(s, a);
}

static void on_effect_timer(struct loop_timer *t)
{
	struct session *s = container_of(t, struct session, effect_timer);
	complete(s, NULL);
	pump(s);
}

static void on_xfer_done(struct datachan *d, enum proto_xfer_status st, int err, uint64_t bytes);

/* The data channel, made on first use: most of an idle session's memory
 * would otherwise be a data channel it may never use. The control
 * connection's addresses are read again from the socket. */
static struct datachan *data_chan(struct session *s)
{
	if (s->data)
		return s->data;
	struct datachan *d = util_xcalloc(1, sizeof(*d));
	datachan_init(d);
	socklen_t len = sizeof(d->ctl_local);
	if (getsockname(s->conn.fd, (struct sockaddr *)&d->ctl_local, &len) != 0)
		d->ctl_local.ss_family = AF_UNSPEC; /* PASV/PORT then fail cleanly */
	len = sizeof(d->ctl_peer);
	if (getpeername(s->conn.fd, (struct sockaddr *)&d->ctl_peer, &len) != 0)
		d->ctl_peer.ss_family = AF_UNSPEC;
	d->loop = s->host->loop;
	d->port_min = s->cfg->pasv_port_min;
	d->port_max = s->cfg->pasv_port_max;
	d->timeout_ms = s->cfg->data_timeout_ms;
	d->sid = s->id;
	d->metrics = s->host->metrics;
	d->done = on_xfer_done;
	d->owner = s;
	d->require_reuse = s->cfg->tls_data_reuse != 0;
	s->data = d;
	return d;
}

static void start_effect(struct session *s, const struct proto_effect *e)
{
	switch (e->kind) {
	case PROTO_EFFECT_USER_LOOKUP:
	case PROTO_EFFECT_AUTH_CHECK:
		if (!s->job)
			start_auth_job(s, e);
		break;
	case PROTO_EFFECT_GSS_STEP:
		if (!s->gss) { /* proto offers GSSAPI only with a context */
			struct proto_result r = { .gss_status = GSS_STEP_FAILED };
			complete(s, &r);
		} else if (!s->job) {
			struct auth_job *a = util_xcalloc(1, sizeof(*a));
			a->count_fd = -1;
			a->gss = s->gss;
			/* Sized to fit: the copy cannot fail. The reply token (an
			 * AP-REP) is small; a larger one fails the step. */
			buf_init(&a->gss_in, e->gss_token.n + 1);
			buf_init(&a->gss_out, 64 * 1024);
			(void)buf_append(&a->gss_in, e->gss_token.p, e->gss_token.n);
			submit_job(s, a);
		}
		break;
	case PROTO_EFFECT_DELAY:
		if (e->login_failed && !loop_timer_armed(&s->effect_timer))
			guard_login_failed_now(s);
		if (!loop_timer_armed(&s->effect_timer))
			loop_timer_arm(s->host->loop, &s->effect_timer, e->delay_ms, on_effect_timer);
		break;
	case PROTO_EFFECT_CLOSE:
		s->closing = true;
		break;
	case PROTO_EFFECT_DATA_SETUP:
		if (e->data.passive) {
			struct proto_result r = { 0 };
			r.err = datachan_passive(data_chan(s), &r.port);
			complete(s, &r);
		} else {
			datachan_active(data_chan(s), &e->data.target);
			complete(s, NULL);
		}
		break;
	case PROTO_EFFECT_XFER:
		/* A running transfer counts as activity: no idle timeout. */
		loop_timer_cancel(s->host->loop, &s->idle_timer);
		data_chan(s)->tls_ctx = s->tls_ctx;
		s->data->ctl_tls = s->conn.tls ? s->conn.tls : s->ctl_tls_old;
		s->data->gss = s->gss;
		datachan_start(s->data, &e->xfer);
		break;
	case PROTO_EFFECT_TLS_START:
		s->tphase = TLS_FLUSH_THEN_START;
		break;
	case PROTO_EFFECT_TLS_STOP:
		s->tphase = TLS_FLUSH_THEN_STOP;
		break;
	case PROTO_EFFECT_ASCII_SIZE:
		if (!s->job) {
			struct auth_job *a = util_xcalloc(1, sizeof(*a));
			a->count_fd = e->count_fd;
			submit_job(s, a);
		}
		break;
	case PROTO_EFFECT_NONE:
		break;
	}
}

/* RFC 2228 protection for proto (proto_gss_ops): the session's context. */
static int gss_op_wrap(void *ctx, bool conf, struct slice plain, struct buf *out)
{
	return gss_sess_wrap(ctx, conf, plain, out);
}

static int gss_op_unwrap(void *ctx, struct slice token, struct buf *out, bool *conf)
{
	return gss_sess_unwrap(ctx, token, out, conf);
}

static void gss_op_reset(void *ctx)
{
	gss_sess_reset(ctx);
}

static const struct proto_gss_ops session_gss_ops = {
	.wrap = gss_op_wrap,
	.unwrap = gss_op_unwrap,
	.reset = gss_op_reset,
};

/* After the upload was committed (proto renamed it into place). */
static void run_upload_hooks(struct session *s)
{
	uint64_t bytes;
	const char *home;
	char *vpath = proto_take_upload(s->proto, &bytes, &home);
	if (!vpath)
		return;
	if (s->host->hooks && home) {
		struct hook_upload u = { .sid = s->id, .user = proto_user(s->proto), .vpath = vpath, .home = home,
					 .ip = s->peer, .protocol = s->conn.tls ? "ftps" : "ftp", .bytes = bytes };
		hooks_upload(s->host->hooks, &u);
	}
	free(vpath);
}

/* True when the client is gone: FIN or reset on the control connection
 * and no QUIT before it. In stream mode an upload ends with the data
 * connection's FIN, and a killed client's kernel sends that FIN too, so
 * the data EOF alone cannot tell a complete upload from a killed client.
 * A live client waits for the 226 before it closes the control connection
 * (or says QUIT first). The check sees only a FIN that has arrived: the
 * kernel closes a dying process's sockets one by one in no guaranteed
 * order (on loopback the data connection's FIN is often first), and across
 * a network nothing orders two TCP connections; on_xfer_done's grace
 * covers the gap (README: "What uploads guarantee"). */
static bool ctl_gone(struct session *s)
{
	if (!s->read_eof && !s->closed) {
		struct pollfd pfd = { .fd = s->conn.fd, .events = POLLIN | POLLRDHUP };
		if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
			/* What the client sent before its FIN decides (a QUIT);
			 * a reset closes the session. */
			read_some(s);
			if (!s->closed && s->in.len) {
				size_t used = 0;
				if (proto_feed(s->proto, buf_data(&s->in), s->in.len, &used) == 0)
					buf_consume(&s->in, used);
			}
		}
	}
	return s->closed || (s->read_eof && s->in.len == 0 && !proto_quit_queued(s->proto));
}

/* Reports a transfer's end to proto (which commits or discards an upload). */
static void xfer_finish(struct session *s, bool upload, enum proto_xfer_status st, int err, uint64_t bytes)
{
	struct metrics *m = s->host->metrics;
	bool ctl_closed = upload && (st == XFER_OK || st == XFER_ABORTED) && ctl_gone(s);
	if (ctl_closed && st == XFER_OK) {
		log_info(s->id, "upload ended by the data connection's EOF with the control connection closed: "
				"not committed");
		st = XFER_ABORTED;
	}
	struct proto_result r = { .xfer_status = st, .err = err, .bytes = bytes, .ctl_closed = ctl_closed };
	if (upload)
		METRICS_ADD(m, bytes_in, bytes);
	else
		METRICS_ADD(m, bytes_out, bytes);
	if (st == XFER_OK)
		METRICS_ADD(m, xfer_ok, 1);
	else if (st == XFER_ABORTED)
		METRICS_ADD(m, xfer_aborted, 1);
	else
		METRICS_ADD(m, xfer_failed, 1);
	complete(s, &r);
	if (upload)
		run_upload_hooks(s);
	if (s->closed)
		return; /* ctl_gone() met a reset, or close_now() ended a grace */
	loop_timer_arm(s->host->loop, &s->idle_timer, s->cfg->idle_timeout_ms, on_idle);
	if (!s->pumping)
		pump(s);
}

/* The end of an upload's grace (see on_xfer_done): commit unless the
 * control connection went meanwhile. */
static void grace_end(struct session *s)
{
	s->grace_pending = false;
	loop_timer_cancel(s->host->loop, &s->effect_timer);
	xfer_finish(s, true, XFER_OK, 0, s->data ? datachan_bytes(s->data) : 0);
}

static void on_grace_timer(struct loop_timer *t)
{
	grace_end(container_of(t, struct session, effect_timer));
}

static void on_xfer_done(struct datachan *d, enum proto_xfer_status st, int err, uint64_t bytes)
{
	struct session *s = d->owner;
	bool upload = d->x.kind == XFER_RECV_FILE;
	/* A plain stream upload ends with a bare FIN, which a killed client's
	 * kernel sends as well, and the kernel does not order its closes of
	 * the client's sockets (the data connection's FIN often comes first,
	 * microseconds ahead). So the commit waits [transfer] commit_grace for
	 * the control connection's FIN; a live client is waiting for the 226
	 * and sends nothing. TLS (close_notify) and RFC 2228 (the empty
	 * block) uploads end with an explicit marker a killed client never
	 * sends, and need no grace. effect_timer is free during a transfer. */
	if (upload && st == XFER_OK && !d->tls && !d->x.gss_prot && s->cfg->commit_grace_ms && !s->closed &&
	    !ctl_gone(s)) {
		s->grace_pending = true;
		log_debug(s->id, "upload EOF: waiting up to %ums for the control connection before the commit",
			  (unsigned)s->cfg->commit_grace_ms);
		loop_timer_arm(s->host->loop, &s->effect_timer, s->cfg->commit_grace_ms, on_grace_timer);
		return;
	}
	xfer_finish(s, upload, st, err, bytes);
}

/* Moves the control connection's TLS state along: starts the handshake
 * once the 234 is out, runs it, and shuts TLS down for CCC/REIN once their
 * reply is out. Returns true when it completed a proto effect. */
static bool tls_step(struct session *s)
{
	struct proto_result res = { 0 };
	for (;;) {
		switch (s->tphase) {
		case TLS_IDLE:
			return false;
		case TLS_FLUSH_THEN_START:
			if (proto_output(s->proto)->len)
				return false;
			/* RFC 4217 §4 / PROTOCOL.md §4.4: plaintext pipelined after
			 * AUTH TLS is never executed. */
			buf_reset(&s->in);
			res.err = conn_start_tls(&s->conn, s->tls_ctx);
			if (res.err) {
				s->tphase = TLS_IDLE;
				complete(s, &res);
				return true;
			}
			s->tphase = TLS_HANDSHAKE;
			continue;
		case TLS_HANDSHAKE: {
			int r = conn_handshake(&s->conn);
			if (r == -EAGAIN)
				return false;
			s->tphase = TLS_IDLE;
			METRICS_ADD(s->host->metrics, tls_ok, r == 0);
			METRICS_ADD(s->host->metrics, tls_failed, r != 0);
			if (r) {
				log_info(s->id, "TLS handshake failed: ip=%s error=\"%s\"", s->peer,
					 s->conn.tls ? tls_error(s->conn.tls) : strerror(-r));
				if (s->implicit_greet) {
					close_now(s);
					return false;
				}
				res.err = r;
				complete(s, &res);
				return true;
			}
			const char *sni = tls_sni(s->conn.tls);
			log_info(s->id, "TLS established: ip=%s version=%s cipher=%s sni=%s", s->peer,
				 tls_version(s->conn.tls), tls_cipher(s->conn.tls), sni ? sni : "-");
			if (s->implicit_greet) {
				s->implicit_greet = false;
				proto_greet(s->proto);
				return false;
			}
			complete(s, &res);
			return true;
		}
		case TLS_FLUSH_THEN_STOP:
			if (proto_output(s->proto)->len)
				return false;
			s->tphase = TLS_STOPPING;
			continue;
		case TLS_STOPPING: {
			struct tls_conn *old = NULL;
			int r = conn_stop_tls(&s->conn, &old);
			if (r == -EAGAIN)
				return false;
			s->tphase = TLS_IDLE;
			if (r == 0) {
				if (s->ctl_tls_old)
					tls_conn_free(s->ctl_tls_old);
				s->ctl_tls_old = old;
			}
			res.err = r;
			complete(s, &res);
			return true;
		}
		}
	}
}

static void resume_pump(void *arg)
{
	struct session *s = arg;
	s->yielded = false;
	if (!s->closed)
		pump(s);
}

/* Feeds buffered input to proto, sets the pending effect in motion (some
 * complete at once: DATA_SETUP, a failed connect, ABOR), and writes the
 * replies. During a transfer input is still fed, so ABOR and STAT act.
 * SECURITY: a share of commands per call (PUMP_COMMANDS), then the rest
 * waits for resume_pump in the next loop round, after other sessions. */
static void pump(struct session *s)
{
	unsigned budget = PUMP_COMMANDS;
	size_t out_start = proto_output(s->proto)->len;
	s->pumping = true;
	while (!s->closed) {
		const struct proto_effect *e = proto_effect(s->proto);
		if ((!e || e->kind == PROTO_EFFECT_XFER) && (s->in.len || (!e && proto_has_held(s->proto))) &&
		    !s->yielded) {
			size_t used = 0;
			unsigned before = budget;
			size_t out_len = proto_output(s->proto)->len;
			if (!budget || (out_len > out_start && out_len - out_start >= PUMP_REPLY_BYTES)) {
				s->yielded = true;
				loop_defer(s->host->loop, resume_pump, s);
				break;
			}
			if (e)
				proto_xfer_progress(s->proto, s->data ? datachan_bytes(s->data) : 0);
			int r = proto_feed_some(s->proto, buf_data(&s->in), s->in.len, &budget, &used);
			buf_consume(&s->in, used);
			if (r) {
				log_warn(s->id, "client does not read its replies; closing");
				close_now(s);
				break;
			}
			if ((used || budget != before) && !proto_effect(s->proto))
				continue;
		}
		e = proto_effect(s->proto);
		if (e && !s->effect_started) {
			s->effect_started = true;
			start_effect(s, e);
			if (!s->effect_started)
				continue; /* completed at once */
			e = proto_effect(s->proto);
		}
		/* TLS may hold decrypted bytes the socket will not signal again. */
		if (!e && s->in.len == 0 && s->tphase == TLS_IDLE && conn_pending(&s->conn)) {
			read_some(s);
			if (s->in.len)
				continue;
		}
		/* RFC 959 §4.1.1: a control connection closed during a transfer
		 * is ABOR + QUIT (an upload is then discarded), unless the client
		 * sent QUIT first and only stopped talking. */
		bool gone = s->read_eof && s->in.len == 0 && !proto_quit_queued(s->proto);
		if (s->grace_pending && s->read_eof) {
			grace_end(s); /* the control connection's FIN came within the grace */
			continue;
		}
		if (e && e->kind == PROTO_EFFECT_XFER && (e->xfer.abort || gone) && s->data &&
		    datachan_running(s->data)) {
			datachan_abort(s->data);
			continue;
		}
		break;
	}
	s->pumping = false;
	if (s->closed)
		return;
	/* The login timer runs whenever nobody is logged in: also after REIN
	 * or a new USER on a logged-in connection. */
	if (proto_logged_in(s->proto))
		loop_timer_cancel(s->host->loop, &s->login_timer);
	else if (!loop_timer_armed(&s->login_timer) && !s->closing)
		loop_timer_arm(s->host->loop, &s->login_timer, s->cfg->login_timeout_ms, on_login_timeout);
	prelogin_sync(s);
	flush(s);
	if (s->closed)
		return;
	if (tls_step(s)) {
		pump(s);
		return;
	}
	if (s->closed)
		return;
	/* The client has gone and everything it sent has been handled. */
	if (s->read_eof && !proto_effect(s->proto) && s->in.len == 0 && !proto_has_held(s->proto)) {
		close_now(s);
		return;
	}
	/* Between bursts an idle session keeps no buffers (memory per idle
	 * session is a target: bench/). */
	buf_trim(&s->in);
	buf_trim(proto_output(s->proto));
	update_interest(s);
}

static void on_io(struct loop_watch *w, uint32_t events)
{
	struct session *s = container_of(w, struct session, watch);
	if (s->tphase == TLS_HANDSHAKE || s->tphase == TLS_STOPPING) {
		if (tls_step(s))
			pump(s);
		else if (!s->closed && (events & (EPOLLHUP | EPOLLERR)))
			close_now(s);
		else if (!s->closed)
			pump(s); /* flushes (implicit greeting) and re-arms */
		return;
	}
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && s->tphase == TLS_IDLE)
		read_some(s);
	if (s->closed)
		return;
	pump(s);
	/* Both directions are gone (HUP cannot be masked): waiting for a
	 * pending effect would only spin; nothing can reach the client now. */
	if (events & (EPOLLHUP | EPOLLERR))
		close_now(s);
}

static void on_idle(struct loop_timer *t)
{
	struct session *s = container_of(t, struct session, idle_timer);
	log_info(s->id, "idle timeout: ip=%s", s->peer);
	if (s->tphase != TLS_IDLE) { /* mid-handshake: no reply can be sent */
		close_now(s);
		return;
	}
	proto_timeout(s->proto, PROTO_TIMEOUT_IDLE);
	pump(s);
}

static void on_login_timeout(struct loop_timer *t)
{
	struct session *s = container_of(t, struct session, login_timer);
	if (proto_logged_in(s->proto))
		return;
	log_info(s->id, "login timeout: ip=%s", s->peer);
	if (s->tphase != TLS_IDLE) { /* mid-handshake: no reply can be sent */
		close_now(s);
		return;
	}
	proto_timeout(s->proto, PROTO_TIMEOUT_LOGIN);
	pump(s);
}

/* [limits] at connect: NULL when admitted (then counted until close), else
 * the text of the 421 (in buf), which names the limit and its value. */
static const char *guard_admit(struct session *s, const struct sockaddr_storage *peer, char *buf, size_t bufsz)
{
	uint64_t retry = 0;
	guard_key_from_addr(peer, &s->gkey);
	enum guard_verdict v = guard_connect(s->host->guard, &s->gkey, util_now_ms(), &retry);
	if (v == GUARD_OK) {
		s->guarded = true;
		return NULL;
	}
	char group[64];
	guard_key_format(&s->gkey, group, sizeof(group));
	switch (v) {
	case GUARD_BANNED:
		log_warn(s->id, "refused: ip=%s reason=banned group=%s remaining=%llus", s->peer, group,
			 (unsigned long long)((retry + 999) / 1000));
		return "Too many failed logins from your address; try again later.";
	case GUARD_RATE:
		log_warn(s->id, "refused: ip=%s reason=connect-rate group=%s", s->peer, group);
		(void)snprintf(buf, bufsz,
			       "Too many new connections from your address (limit %u per second, %u at once); "
			       "slow down or raise [limits] connect_rate.",
			       s->cfg->connect_rate, s->cfg->connect_burst);
		return buf;
	default:
		log_warn(s->id, "refused: ip=%s reason=per-ip-limit group=%s", s->peer, group);
		(void)snprintf(buf, bufsz,
			       "Too many connections from your address (limit %u); close some or raise [limits] "
			       "max_per_ip.",
			       s->cfg->max_per_ip);
		return buf;
	}
}

void session_start(struct session_host *h, const struct config *cfg, int fd, const struct sockaddr_storage *peer,
		   uint64_t id, const char *refuse, struct tls_ctx *tls, bool implicit, const struct gss_acceptor *gss)
{
	struct session *s = util_xcalloc(1, sizeof(*s));
	s->host = h;
	s->id = id;
	s->cfg = cfg;
	conn_init(&s->conn, fd);
	buf_init(&s->in, SESSION_IN_MAX);
	net_addr_str(peer, s->peer, sizeof(s->peer));
	s->proto = proto_new(cfg, id, s->peer);
	s->tls_ctx = tls;
	proto_set_tls(s->proto, tls != NULL, implicit);
	if (gss) {
		s->gss = gss_sess_new(gss);
		proto_set_gss(s->proto, &session_gss_ops, s->gss);
	}
	s->idle_timer.cb = on_idle;
	struct sockaddr_storage local;
	socklen_t llen = sizeof(local);
	memset(&local, 0, sizeof(local));
	if (getsockname(fd, (struct sockaddr *)&local, &llen) != 0)
		local.ss_family = peer->ss_family;
	proto_set_addrs(s->proto, &local, peer);
	s->next = h->head;
	if (h->head)
		h->head->prev = s;
	h->head = s;
	h->count++;
	log_info(id, "connect: ip=%s", s->peer);
	METRICS_ADD(h->metrics, connections, 1);
	LOG_JSON(id, "connect", LOG_FS("ip", s->peer), LOG_FS("tls", implicit ? "implicit" : "none"));
	char refuse_buf[200];
	if (!refuse && h->guard)
		refuse = guard_admit(s, peer, refuse_buf, sizeof(refuse_buf));
	if (!refuse && h->room_needed && !(h->make_room && h->make_room(h))) {
		log_warn(id, "refused: ip=%s reason=server-full max_sessions=%u (all logged in)", s->peer,
			 cfg->max_sessions);
		(void)snprintf(refuse_buf, sizeof(refuse_buf),
			       "Too many connections (server limit %u, all logged in); try again later or raise "
			       "[server] max_sessions.",
			       cfg->max_sessions);
		refuse = refuse_buf;
	}

	int r = net_control_opts(fd);
	if (r == 0)
		r = loop_watch_add(h->loop, &s->watch, fd, EPOLLIN, on_io);
	if (r) {
		log_warn(id, "cannot set up connection: %s", strerror(-r));
		s->watch.fd = -1;
		close_now(s);
		return;
	}
	if (refuse)
		LOG_JSON(id, "refused", LOG_FS("ip", s->peer), LOG_FS("reason", refuse));
	if (refuse && implicit) {
		/* A TLS client would read a plaintext 421 as garbage: just close. */
		log_info(id, "refused (%s): ip=%s", refuse, s->peer);
		close_now(s);
		return;
	}
	if (refuse) {
		proto_refuse(s->proto, refuse);
	} else {
		if (implicit) {
			/* Implicit FTPS: TLS first, then the greeting. */
			if (!tls || conn_start_tls(&s->conn, tls) != 0) {
				log_warn(id, "cannot start TLS on an implicit FTPS connection");
				close_now(s);
				return;
			}
			s->tphase = TLS_HANDSHAKE;
			s->implicit_greet = true;
		} else {
			proto_greet(s->proto);
		}
		loop_timer_arm(h->loop, &s->idle_timer, cfg->idle_timeout_ms, on_idle);
		loop_timer_arm(h->loop, &s->login_timer, cfg->login_timeout_ms, on_login_timeout);
	}
	if (s->tphase == TLS_HANDSHAKE)
		on_io(&s->watch, 0);
	else
		pump(s);
}

/* 421 with the reason (unless a TLS handshake is under way: no reply can be
 * sent then) and close at once, so the slot is free when this returns. */
static void end_with(struct session *s, enum proto_timeout_kind why)
{
	if (s->closed)
		return;
	if (s->tphase == TLS_IDLE) {
		proto_timeout(s->proto, why);
		pump(s);
	}
	close_now(s); /* whatever the client has not read by now is lost */
}

void session_shutdown(struct session *s)
{
	end_with(s, PROTO_TIMEOUT_SHUTDOWN);
}

bool session_evict_oldest_prelogin(struct session_host *h)
{
	struct session *s = h->prelogin_head;
	if (!s)
		return false;
	/* SECURITY: connections that never log in must not lock logged-in
	 * users out (issue 13: a distributed slowloris filled max_sessions). */
	log_warn(s->id, "evicted: ip=%s reason=server-full max_sessions=%u not-logged-in-for=%llums", s->peer,
		 s->cfg->max_sessions, (unsigned long long)(util_now_ms() - s->prelogin_since));
	LOG_JSON(s->id, "evicted", LOG_FS("ip", s->peer), LOG_FS("reason", "server-full"));
	METRICS_ADD(h->metrics, evictions, 1);
	end_with(s, PROTO_TIMEOUT_EVICTED);
	return true;
}

uint64_t session_host_prelogin_since(struct session_host *h)
{
	return atomic_load_explicit(&h->prelogin_since, memory_order_relaxed);
}

uint64_t session_id(const struct session *s)
{
	return s->id;
}

void session_describe(const struct session *s, char *out, size_t outsz)
{
	struct log_escaped eu, ep;
	const char *user = proto_user(s->proto);
	const char *verb, *path;
	uint64_t size = 0;
	bool xfer = proto_xfer_running(s->proto, &verb, &path, &size);
	const char *state = !proto_logged_in(s->proto) ? "login" : xfer ? "transfer" : "idle";
	int n = snprintf(out, outsz, "%llu user=\"%s\" ip=%s state=%s tls=%s", (unsigned long long)s->id,
			 log_esc(slice_from_cstr(user ? user : ""), &eu), s->peer, state, s->conn.tls ? "yes" : "no");
	if (!xfer || n < 0 || (size_t)n >= outsz)
		return;
	uint64_t done = s->data ? datachan_bytes(s->data) : 0;
	(void)snprintf(out + n, outsz - (size_t)n, " cmd=%s path=\"%s\" bytes=%llu size=%llu", verb,
		       log_esc(slice_from_cstr(path), &ep), (unsigned long long)done, (unsigned long long)size);
}
