#include "session.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmdtab.h"
#include "conn.h"
#include "datachan.h"
#include "guard.h"
#include "gss.h"
#include "log.h"
#include "metrics.h"
#include "loop.h"
#include "net.h"
#include "proto.h"
#include "session_impl.h"
#include "tls.h"
#include "util.h"

/* Unconsumed input kept while an effect is pending; more waits in the
 * kernel's socket buffer (backpressure). */
#define SESSION_IN_MAX (64u * 1024u)
#define READ_CHUNK 16384u
/* Memory per idle session (issue 15, bench/ "Memory per idle session"):
 * see PROTO_SIZE_BUDGET in proto.c, the other half of an idle session. */
#define SESSION_SIZE_BUDGET 496u
_Static_assert(
    sizeof(struct session) <= SESSION_SIZE_BUDGET,
    "struct session outgrew the idle-session budget (issue 15): put new state behind a pointer made when used");
/* One session's share of a loop round: after this many commands, or this
 * many bytes of replies, it lets the other sessions run (yield) and goes
 * on in the next round. Enough for a burst of pipelined commands from a
 * real client; a flood of them no longer keeps the loop to itself. */
#define PUMP_COMMANDS 32u
#define PUMP_REPLY_BYTES (16u * 1024u)

static void on_login_timeout(struct loop_timer *t);
static const struct sessions_ops session_reg_ops;

void session_free(void *p)
{
	struct session *s = p;
	proto_free(s->proto);
	quota_user_put(s->quota);
	buf_free(&s->in);
	if (s->ctl_tls_old)
		tls_conn_free(s->ctl_tls_old);
	if (s->tls_ctx)
		tls_ctx_unref(s->tls_ctx);
	gss_sess_free(s->gss);
	session_proxy_free(s->pp);
	free(s->data); /* reset by session_close_now */
	free(s->rate);
	config_unref(s->cfg);
	free(s);
}

/* [limits] max_per_user: gives back the slot this session's login took. */
void session_release_user_slot(struct session *s)
{
	if (!s->counted_user)
		return;
	guard_user_release(s->host->guard, s->counted_user);
	free(s->counted_user);
	s->counted_user = NULL;
}

/* Keeps s in the registry's list of sessions not logged in exactly while it
 * is open, not closing and not logged in; a session that logs out (REIN, a
 * new USER) joins again as the newest. */
static void prelogin_sync(struct session *s)
{
	sessions_set_prelogin(s->host->reg, &s->reg, !s->closed && !s->closing && !proto_logged_in(s->proto));
}

void session_close_now(struct session *s)
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
		session_grace_end(s); /* s->closed: ctl_gone() says gone, the upload is not committed */
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
	sessions_remove(s->host->reg, &s->reg);
	if (s->guarded)
		guard_disconnect(s->host->guard, &s->gkey);
	session_release_user_slot(s);
	s->host->closed(s->host);
	loop_watch_del(l, &s->watch);
	/* RFC 4217 §12.6: end an established TLS control connection properly. */
	if (s->tphase == TLS_IDLE)
		conn_close_notify(&s->conn);
	conn_close(&s->conn);
	loop_timer_cancel(l, &s->idle_timer);
	loop_timer_cancel(l, &s->login_timer);
	loop_timer_cancel(l, &s->effect_timer);
	if (s->begun) { /* else refused before it had an address (session_proxy.c) */
		log_info(s->id, "disconnect: ip=%s", s->peer);
		LOG_JSON(s->id, "disconnect", LOG_FS("ip", s->peer));
	}
	/* A password check still queued or running refers to s: free when it
	 * returns. Cancelling keeps abandoned checks (clients that send PASS and
	 * hang up) from delaying everyone else's logins and shutdown. */
	const char *lock_user;
	uint64_t lock;
	if (proto_challenge_lock(s->proto, &lock_user, &lock))
		session_release_lock(s, lock_user, lock);
	if (s->job)
		session_cancel_job(s->job);
	else
		loop_defer(l, session_free, s);
}

static void update_interest(struct session *s)
{
	if (s->closed)
		return;
	uint32_t ev = 0;
	if (s->tphase == TLS_HANDSHAKE || s->tphase == TLS_STOPPING) {
		ev = s->conn.want ? s->conn.want : LOOP_IN;
	} else {
		/* No reading while an AUTH TLS reply is still going out: the
		 * next bytes from the client are its ClientHello. */
		if (!s->read_eof && buf_room(&s->in) > 0 && s->tphase == TLS_IDLE)
			ev |= LOOP_IN;
		if (proto_output(s->proto)->len)
			ev |= LOOP_OUT;
		ev |= s->conn.want;
	}
	if (loop_watch_mod(s->host->loop, &s->watch, ev) != 0)
		session_close_now(s);
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
			session_close_now(s);
			return;
		}
		buf_consume(out, put);
	}
	if (!s->closed && s->closing && out->len == 0)
		session_close_now(s);
}

void session_read_some(struct session *s)
{
	while (!s->read_eof && buf_room(&s->in) > 0) {
		size_t want = buf_room(&s->in) < READ_CHUNK ? buf_room(&s->in) : READ_CHUNK;
		int err = 0;
		char *dst = buf_reserve(&s->in, want, &err);
		if (!dst) {
			session_close_now(s);
			return;
		}
		size_t got = 0;
		int r = conn_read(&s->conn, dst, want, &got);
		if (r == -EAGAIN)
			return;
		if (r) {
			log_debug(s->id, "read failed: %s", strerror(-r));
			session_close_now(s);
			return;
		}
		if (got == 0) {
			s->read_eof = true;
			return;
		}
		buf_commit(&s->in, got);
		loop_timer_arm(s->host->loop, &s->idle_timer, s->cfg->idle_timeout_ms, s->idle_timer.cb);
		sessions_touch(&s->reg);
		/* A short read drained the socket: the level-triggered watch
		 * reports anything newer, so no read just to see EAGAIN. TLS
		 * may hold more decrypted bytes: session_pump() asks conn_pending(). */
		if (got < want)
			return;
	}
}

/* Reports the pending effect's outcome to proto. */
void session_complete(struct session *s, const struct proto_result *r)
{
	s->effect_started = false;
	proto_set_now(s->proto, util_now_ms(), util_wall_s());
	proto_complete(s->proto, r);
}

static void on_effect_timer(struct loop_timer *t)
{
	struct session *s = container_of(t, struct session, effect_timer);
	session_complete(s, NULL);
	session_pump(s);
}

static void start_effect(struct session *s, const struct proto_effect *e)
{
	switch (e->kind) {
	case PROTO_EFFECT_USER_LOOKUP:
	case PROTO_EFFECT_AUTH_CHECK:
	case PROTO_EFFECT_GSS_STEP:
	case PROTO_EFFECT_ASCII_SIZE:
	case PROTO_EFFECT_UPLOAD_COMMIT:
	case PROTO_EFFECT_LIST_READ:
	case PROTO_EFFECT_HASH:
		session_start_job(s, e);
		break;
	case PROTO_EFFECT_DELAY:
		if (!loop_timer_armed(&s->effect_timer))
			loop_timer_arm(s->host->loop, &s->effect_timer, e->delay_ms, on_effect_timer);
		break;
	case PROTO_EFFECT_CLOSE:
		s->closing = true;
		break;
	case PROTO_EFFECT_DATA_SETUP:
	case PROTO_EFFECT_XFER:
		session_start_data(s, e);
		break;
	case PROTO_EFFECT_TLS_START:
		s->tphase = TLS_FLUSH_THEN_START;
		break;
	case PROTO_EFFECT_TLS_STOP:
		s->tphase = TLS_FLUSH_THEN_STOP;
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

static void resume_pump(void *arg)
{
	struct session *s = arg;
	s->yielded = false;
	if (!s->closed)
		session_pump(s);
}

/* Feeds buffered input to proto, sets the pending effect in motion (some
 * complete at once: DATA_SETUP, a failed connect, ABOR), and writes the
 * replies. During a transfer input is still fed, so ABOR and STAT act.
 * SECURITY: a share of commands per call (PUMP_COMMANDS), then the rest
 * waits for resume_pump in the next loop round, after other sessions. */
void session_pump(struct session *s)
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
			proto_set_now(s->proto, util_now_ms(), util_wall_s());
			int r = proto_feed_some(s->proto, buf_data(&s->in), s->in.len, &budget, &used);
			buf_consume(&s->in, used);
			if (r) {
				log_warn(s->id, "client does not read its replies; closing");
				session_close_now(s);
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
			session_read_some(s);
			if (s->in.len)
				continue;
		}
		/* RFC 959 §4.1.1: a control connection closed during a transfer
		 * is ABOR + QUIT (an upload is then discarded), unless the client
		 * sent QUIT first and only stopped talking. */
		bool gone = s->read_eof && s->in.len == 0 && !proto_quit_queued(s->proto);
		if (s->grace_pending && s->read_eof) {
			session_grace_end(s); /* the control connection's FIN came within the grace */
			continue;
		}
		if (e && e->kind == PROTO_EFFECT_XFER && (e->xfer.abort || gone) && s->data &&
		    datachan_running(s->data)) {
			datachan_abort(s->data);
			continue;
		}
		/* Nobody will read a checksum's reply: stop reading the file. */
		if (e && e->kind == PROTO_EFFECT_HASH && gone && s->job)
			session_cancel_job(s->job);
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
	/* A login that ended without logging in (a wrong ACCT after 332, a
	 * GSSAPI USER answered 331) or was left (REIN, USER, AUTH) gives its
	 * slot back before the reply goes out. */
	if (!proto_login_holds_slot(s->proto))
		session_release_user_slot(s);
	prelogin_sync(s);
	flush(s);
	if (s->closed)
		return;
	if (session_tls_step(s)) {
		session_pump(s);
		return;
	}
	if (s->closed)
		return;
	/* The client has gone and everything it sent has been handled. */
	if (s->read_eof && !proto_effect(s->proto) && s->in.len == 0 && !proto_has_held(s->proto)) {
		session_close_now(s);
		return;
	}
	/* Between bursts an idle session keeps no buffers (memory per idle
	 * session is a target: bench/). */
	buf_trim(&s->in);
	buf_trim(proto_output(s->proto));
	proto_trim(s->proto);
	update_interest(s);
}

static void on_io(struct loop_watch *w, uint32_t events)
{
	struct session *s = container_of(w, struct session, watch);
	if (s->pp) {
		session_proxy_io(s);
		return;
	}
	if (s->tphase == TLS_HANDSHAKE || s->tphase == TLS_STOPPING) {
		if (session_tls_step(s))
			session_pump(s);
		else if (!s->closed && (events & (LOOP_HUP | LOOP_ERR)))
			session_close_now(s);
		else if (!s->closed)
			session_pump(s); /* flushes (implicit greeting) and re-arms */
		return;
	}
	if ((events & (LOOP_IN | LOOP_HUP | LOOP_ERR)) && s->tphase == TLS_IDLE)
		session_read_some(s);
	if (s->closed)
		return;
	session_pump(s);
	/* Both directions are gone (HUP cannot be masked): waiting for a
	 * pending effect would only spin; nothing can reach the client now. */
	if (events & (LOOP_HUP | LOOP_ERR))
		session_close_now(s);
}

void session_on_idle(struct loop_timer *t)
{
	struct session *s = container_of(t, struct session, idle_timer);
	log_info(s->id, "idle timeout: ip=%s", s->peer);
	if (s->tphase != TLS_IDLE) { /* mid-handshake: no reply can be sent */
		session_close_now(s);
		return;
	}
	proto_timeout(s->proto, PROTO_TIMEOUT_IDLE);
	session_pump(s);
}

static void on_login_timeout(struct loop_timer *t)
{
	struct session *s = container_of(t, struct session, login_timer);
	if (proto_logged_in(s->proto))
		return;
	log_info(s->id, "login timeout: ip=%s", s->peer);
	if (s->tphase != TLS_IDLE) { /* mid-handshake: no reply can be sent */
		session_close_now(s);
		return;
	}
	proto_timeout(s->proto, PROTO_TIMEOUT_LOGIN);
	session_pump(s);
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
	net_addr_pack(&s->peer_addr, peer); /* the balancer's, until a PROXY header says whose */
	net_addr_str(peer, s->peer, sizeof(s->peer));
	s->proto = proto_new(cfg, cmdtab_get(), id, s->peer);
	proto_set_files_sink(s->proto, (struct files_sink){ .metrics = h->metrics, .hooks = h->hooks });
	proto_set_auth_sink(s->proto, (struct auth_sink){ .metrics = h->metrics, .guard = h->guard, .key = &s->gkey });
	s->tls_ctx = tls;
	proto_set_tls(s->proto, tls != NULL, implicit);
	if (gss) {
		s->gss = gss_sess_new(gss);
		proto_set_gss(s->proto, &session_gss_ops, s->gss);
	}
	s->idle_timer.cb = session_on_idle;
	s->next = h->head;
	if (h->head)
		h->head->prev = s;
	h->head = s;
	h->count++;
	sessions_add(h->reg, &s->reg, &session_reg_ops, id, s->peer);
	int r = net_control_opts(fd);
	if (r == 0)
		r = loop_watch_add(h->loop, &s->watch, fd, LOOP_IN, on_io);
	if (r) {
		log_warn(id, "cannot set up connection: ip=%s: %s", s->peer, strerror(-r));
		s->watch.fd = -1;
		session_close_now(s);
		return;
	}
	if (cfg->proxy_protocol)
		session_proxy_start(s, refuse, h->room_needed, implicit);
	else
		session_begin(s, peer, refuse, h->room_needed, implicit);
}

void session_begin(struct session *s, const struct sockaddr_storage *peer, const char *refuse, bool room_needed,
		   bool implicit)
{
	struct session_host *h = s->host;
	const struct config *cfg = s->cfg;
	uint64_t id = s->id;
	s->begun = true;
	net_addr_pack(&s->peer_addr, peer);
	net_addr_str(peer, s->peer, sizeof(s->peer)); /* proto reads it there */
	struct sockaddr_storage local;
	socklen_t llen = sizeof(local);
	memset(&local, 0, sizeof(local));
	if (getsockname(s->conn.fd, (struct sockaddr *)&local, &llen) != 0)
		local.ss_family = peer->ss_family;
	proto_set_addrs(s->proto, &local, peer);
	log_info(id, "connect: ip=%s", s->peer);
	METRICS_ADD(h->metrics, connections[METRICS_FTP], 1);
	LOG_JSON(id, "connect", LOG_FS("ip", s->peer), LOG_FS("tls", implicit ? "implicit" : "none"));
	char refuse_buf[200];
	if (!refuse && h->guard)
		refuse = guard_admit(s, peer, refuse_buf, sizeof(refuse_buf));
	if (!refuse && room_needed && !(h->make_room && h->make_room(h))) {
		log_warn(id, "refused: ip=%s reason=server-full max_sessions=%u (all logged in)", s->peer,
			 cfg->max_sessions);
		(void)snprintf(refuse_buf, sizeof(refuse_buf),
			       "Too many connections (server limit %u, all logged in); try again later or raise "
			       "[server] max_sessions.",
			       cfg->max_sessions);
		refuse = refuse_buf;
	}
	if (refuse)
		LOG_JSON(id, "refused", LOG_FS("ip", s->peer), LOG_FS("reason", refuse));
	if (refuse && implicit) {
		/* A TLS client would read a plaintext 421 as garbage: just close. */
		log_info(id, "refused (%s): ip=%s", refuse, s->peer);
		session_close_now(s);
		return;
	}
	if (refuse) {
		proto_refuse(s->proto, refuse);
	} else {
		if (implicit) {
			/* Implicit FTPS: TLS first, then the greeting. */
			if (!s->tls_ctx || conn_start_tls(&s->conn, s->tls_ctx) != 0) {
				log_warn(id, "cannot start TLS on an implicit FTPS connection");
				session_close_now(s);
				return;
			}
			s->tphase = TLS_HANDSHAKE;
			s->implicit_greet = true;
		} else {
			proto_greet(s->proto);
		}
		loop_timer_arm(h->loop, &s->idle_timer, cfg->idle_timeout_ms, session_on_idle);
		loop_timer_arm(h->loop, &s->login_timer, cfg->login_timeout_ms, on_login_timeout);
	}
	if (s->tphase == TLS_HANDSHAKE)
		on_io(&s->watch, 0);
	else
		session_pump(s);
}

/* 421 with the reason (unless a TLS handshake is under way: no reply can be
 * sent then) and close at once, so the slot is free when this returns. */
static void end_with(struct session *s, enum proto_timeout_kind why)
{
	if (s->closed)
		return;
	if (s->tphase == TLS_IDLE && !s->pp) { /* waiting for a PROXY header: nobody to tell yet */
		proto_timeout(s->proto, why);
		session_pump(s);
	}
	session_close_now(s); /* whatever the client has not read by now is lost */
}

void session_shutdown(struct session *s)
{
	end_with(s, PROTO_TIMEOUT_SHUTDOWN);
}

size_t session_host_drain_end(struct session_host *h)
{
	size_t waiting = 0;
	struct session *next;
	for (struct session *s = h->head; s; s = next) {
		next = s->next; /* end_with closes s only */
		const char *path;
		if (!s->job || !proto_committing(s->proto, &path)) {
			end_with(s, PROTO_TIMEOUT_SHUTDOWN);
			continue;
		}
		/* The upload is complete and its commit decided; the job cannot
		 * be stopped midway, and ferryd waits for it anyway (jobs_stop):
		 * closing now would lose nothing but its reply. */
		struct log_escaped esc;
		s->drain_end = true;
		waiting++;
		log_info(s->id,
			 "shutdown: waiting for the commit of \"%s\"; its reply goes out, then the session closes",
			 log_esc(slice_from_cstr(path), &esc));
	}
	return waiting;
}

/* [server] max_sessions reached: the oldest session not logged in (of
 * this protocol) gets a 421 saying why and is closed, so a new connection
 * can take its slot. */
static bool reg_evict(struct sessions_entry *e)
{
	struct session *s = container_of(e, struct session, reg);
	if (s->closed || proto_logged_in(s->proto))
		return false;
	/* SECURITY: connections that never log in must not lock logged-in
	 * users out (issue 13: a distributed slowloris filled max_sessions). */
	log_warn(s->id, "evicted: ip=%s reason=server-full max_sessions=%u not-logged-in-for=%llums", s->peer,
		 s->cfg->max_sessions, (unsigned long long)(util_now_ms() - s->reg.prelogin_since));
	LOG_JSON(s->id, "evicted", LOG_FS("ip", s->peer), LOG_FS("reason", "server-full"));
	METRICS_ADD(s->host->metrics, evictions[METRICS_FTP], 1);
	end_with(s, PROTO_TIMEOUT_EVICTED);
	return true;
}

static void reg_kick(struct sessions_entry *e)
{
	session_shutdown(container_of(e, struct session, reg));
}

/* `ferry status`: user, state and the running transfer with its progress. */
static void reg_view(const struct sessions_entry *e, struct sessions_view *v)
{
	const struct session *s = container_of(e, struct session, reg);
	uint64_t size = 0;
	v->user = proto_user(s->proto);
	v->xfer = proto_xfer_running(s->proto, &v->verb, &v->path, &size);
	/* "proxy": still waiting for the PROXY header; ip is the balancer's. */
	v->state = s->pp ? "proxy" : !proto_logged_in(s->proto) ? "login" : v->xfer ? "transfer" : "idle";
	v->extra = s->conn.tls ? "tls=yes" : "tls=no";
	v->size = size;
	v->bytes = v->xfer && s->data ? datachan_bytes(s->data) : 0;
}

static const struct sessions_ops session_reg_ops = {
	.protocol = "ftp", .view = reg_view, .kick = reg_kick, .evict = reg_evict
};
