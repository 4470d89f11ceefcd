#include "worker.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "jobs.h"
#include "log.h"
#include "loop.h"
#include "net.h"
#include "tls.h"
#include "util.h"

static void maybe_stop(struct worker *w)
{
	if (w->draining && w->host.count == 0 && w->sftp.count == 0)
		loop_stop(w->loop);
}

static void on_sftp_closed(struct sftp_host *h)
{
	struct worker *w = container_of(h, struct worker, sftp);
	atomic_fetch_sub(&w->shared->sessions, 1);
	atomic_fetch_sub(&w->shared->sessions_by[METRICS_SFTP], 1);
	atomic_fetch_sub(&w->load, 1);
	maybe_stop(w);
}

static void on_session_closed(struct session_host *h)
{
	struct worker *w = container_of(h, struct worker, host);
	atomic_fetch_sub(&w->shared->sessions, 1);
	atomic_fetch_sub(&w->shared->sessions_by[METRICS_FTP], 1);
	atomic_fetch_sub(&w->load, 1);
	maybe_stop(w);
}

void worker_shared_set_tls(struct worker_shared *sh, struct tls_ctx *c)
{
	pthread_mutex_lock(&sh->tls_lock);
	struct tls_ctx *old = sh->tls;
	sh->tls = c;
	pthread_mutex_unlock(&sh->tls_lock);
	if (old)
		tls_ctx_unref(old);
}

static struct tls_ctx *current_tls(struct worker_shared *sh)
{
	pthread_mutex_lock(&sh->tls_lock);
	struct tls_ctx *c = sh->tls ? tls_ctx_ref(sh->tls) : NULL;
	pthread_mutex_unlock(&sh->tls_lock);
	return c;
}

#define ACCEPT_PAUSE_MS 100u

static void on_accept(struct loop_watch *lw, uint32_t events);

/* All workers watch each listening socket (each through its own dup, no
 * SO_REUSEPORT, so a second ferryd cannot join the port): LOOP_EXCLUSIVE
 * wakes one of them per connection, not all. */
static uint32_t listen_events(const struct worker *w)
{
	return LOOP_IN | LOOP_EXCLUSIVE;
}

static void on_accept_resume(struct loop_timer *t)
{
	struct listener *li = container_of(t, struct listener, pause);
	struct worker *w = li->w;
	int fd = w->listen_fds[li - w->listeners];
	if (fd >= 0 && !w->draining && li->watch.fd < 0 &&
	    loop_watch_add(w->loop, &li->watch, fd, listen_events(w), on_accept) != 0)
		log_err(0, "worker %u: cannot resume accepting", w->idx);
}

/* Posted to the worker that held the server's oldest session not logged
 * in: sessions never change thread, so it evicts on its own loop (its
 * oldest one by now; none if they have all logged in or left meanwhile). */
static void evict_posted(void *arg)
{
	struct worker *w = arg;
	if (w->draining)
		return;
	if (!sessions_evict_oldest(&w->reg))
		log_debug(0, "worker %u: nothing to evict any more (logged in or gone)", w->idx);
}

/* The server is full: evicts the oldest session not logged in of any
 * worker and either protocol, so connections that never log in cannot lock
 * out the ones that do. False if every session is logged in. Another
 * worker's session goes on that worker's loop, a little later: until then
 * the server holds one session more than max_sessions per eviction on its
 * way (at most MAX_SESSIONS_SLACK). */
static bool make_room(struct worker *w)
{
	struct worker_shared *sh = w->shared;
	unsigned n = atomic_load_explicit(&sh->n_workers, memory_order_acquire);
	struct worker *oldest = NULL;
	uint64_t oldest_since = 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t since = sessions_prelogin_since(&sh->workers[i]->reg);
		if (since && (!oldest || since < oldest_since)) {
			oldest = sh->workers[i];
			oldest_since = since;
		}
	}
	if (!oldest)
		return false;
	if (oldest == w)
		return sessions_evict_oldest(&w->reg);
	return loop_post(oldest->loop, evict_posted, oldest) == 0;
}

static bool make_room_ftp(struct session_host *h)
{
	return make_room(container_of(h, struct worker, host));
}

static bool make_room_sftp(struct sftp_host *h)
{
	return make_room(container_of(h, struct worker, sftp));
}

/* A connection accepted by one worker for another (see least_loaded);
 * it owns the descriptor and a reference to the config and TLS context. */
struct handoff {
	struct worker *to;
	const struct config *cfg;
	struct tls_ctx *tls;
	int fd;
	bool implicit, sftp, room_needed;
	uint64_t sid;
	struct sockaddr_storage peer;
};

/* tls: the FTP session's reference (NULL for SFTP, which has none). */
static void start_here(struct worker *w, const struct config *cfg, int fd, const struct sockaddr_storage *peer,
		       uint64_t sid, const char *refuse, struct tls_ctx *tls, bool implicit, bool sftp,
		       bool room_needed)
{
	if (sftp) {
		w->sftp.room_needed = room_needed;
		sftp_session_start(&w->sftp, cfg, fd, peer, sid, refuse);
		w->sftp.room_needed = false;
		return;
	}
	w->host.room_needed = room_needed;
	session_start(&w->host, cfg, fd, peer, sid, refuse, tls, implicit, w->shared->gss);
	w->host.room_needed = false;
}

static void handoff_run(void *arg)
{
	struct handoff *h = arg;
	struct worker *w = h->to;
	if (w->draining) {
		/* Stopped accepting meanwhile: the connection is dropped, as if
		 * it had come a moment later. */
		(void)close(h->fd);
		config_unref(h->cfg);
		if (h->tls)
			tls_ctx_unref(h->tls);
		atomic_fetch_sub(&w->shared->sessions, 1);
		atomic_fetch_sub(&w->shared->sessions_by[h->sftp ? METRICS_SFTP : METRICS_FTP], 1);
		atomic_fetch_sub(&w->load, 1);
		maybe_stop(w);
	} else {
		start_here(w, h->cfg, h->fd, &h->peer, h->sid, NULL, h->tls, h->implicit, h->sftp, h->room_needed);
	}
	free(h);
}

/* The worker with the fewest sessions (FTP and SFTP), w itself on a tie. EPOLLEXCLUSIVE
 * wakes whichever loop waits, and the one woken takes every connection
 * queued by then, so connections that come together (a client's parallel
 * transfers) would all land on one thread while the others idle: bench/'s
 * RETR x4 ran its four streams on one worker in most runs (per-thread CPU
 * from /proc/PID/task/N/schedstat). A refused connection (421) stays. */
static struct worker *least_loaded(struct worker *w)
{
	struct worker_shared *sh = w->shared;
	unsigned n = atomic_load_explicit(&sh->n_workers, memory_order_acquire);
	struct worker *best = w;
	unsigned best_load = atomic_load_explicit(&w->load, memory_order_relaxed);
	for (unsigned i = 0; i < n && best_load; i++) {
		struct worker *o = sh->workers[i];
		unsigned l = atomic_load_explicit(&o->load, memory_order_relaxed);
		if (l < best_load) {
			best = o;
			best_load = l;
		}
	}
	return best;
}

/* Sessions admitted over max_sessions while their evictions are still on
 * their way to other workers; beyond it new connections are refused. */
#define MAX_SESSIONS_SLACK 128u

static void on_accept(struct loop_watch *lw, uint32_t events)
{
	struct listener *li = container_of(lw, struct listener, watch);
	struct worker *w = li->w;
	/* Bounded per wake-up so one busy listener cannot starve the loop. */
	for (int i = 0; i < 64 && lw->fd >= 0; i++) {
		int fd;
		struct sockaddr_storage peer;
		int r = net_accept(lw->fd, &fd, &peer);
		if (r == -EAGAIN)
			return;
		if (r) {
			/* EMFILE and friends: the connection stays queued and the
			 * level-triggered listener would wake the loop at once, in
			 * a busy loop. Stop listening for a moment instead. */
			log_warn(0, "accept failed: %s; pausing accepts for %u ms", strerror(-r), ACCEPT_PAUSE_MS);
			/* Removed, not modified: epoll refuses to modify a
			 * LOOP_EXCLUSIVE watch. */
			loop_watch_del(w->loop, lw);
			loop_timer_arm(w->loop, &li->pause, ACCEPT_PAUSE_MS, on_accept_resume);
			return;
		}
		const struct config *cfg = config_current();
		uint64_t sid = atomic_fetch_add(&w->shared->next_sid, 1);
		unsigned n = atomic_fetch_add(&w->shared->sessions, 1) + 1;
		atomic_fetch_add(&w->shared->sessions_by[li->sftp ? METRICS_SFTP : METRICS_FTP], 1);
		const char *refuse = NULL;
		char text[160];
		if (n > cfg->max_sessions + MAX_SESSIONS_SLACK) {
			(void)snprintf(text, sizeof(text), "Too many connections (server limit %u); try again later.",
				       cfg->max_sessions);
			refuse = text;
		}
		/* SFTP's refusal is a log line, not a reply: its words differ. */
		if (refuse && li->sftp)
			(void)snprintf(text, sizeof(text), "server-full max_sessions=%u", cfg->max_sessions);
		/* Over max_sessions: room is made only for a connection that
		 * [limits] admit, so refused ones cannot evict anybody. SFTP
		 * sessions count toward max_sessions with FTP's, make room the
		 * same way (make_room) and are placed the same way. */
		bool room = n > cfg->max_sessions;
		struct worker *to = refuse ? w : least_loaded(w);
		atomic_fetch_add(&to->load, 1);
		if (to != w) {
			struct handoff *h = util_xcalloc(1, sizeof(*h));
			*h = (struct handoff){ .to = to,
					       .cfg = cfg,
					       .tls = li->sftp ? NULL : current_tls(w->shared),
					       .fd = fd,
					       .implicit = li->implicit,
					       .sftp = li->sftp,
					       .room_needed = room,
					       .sid = sid,
					       .peer = peer };
			if (loop_post(to->loop, handoff_run, h) == 0)
				continue;
			atomic_fetch_sub(&to->load, 1);
			atomic_fetch_add(&w->load, 1);
			if (h->tls)
				tls_ctx_unref(h->tls);
			free(h);
		}
		start_here(w, cfg, fd, &peer, sid, refuse, li->sftp ? NULL : current_tls(w->shared), li->implicit,
			   li->sftp, room);
	}
}

int worker_init(struct worker *w, unsigned idx, struct worker_shared *shared, const int *fds, const bool *implicit,
		const bool *sftp, size_t n)
{
	memset(w, 0, sizeof(*w));
	w->idx = idx;
	w->shared = shared;
	int r = loop_new(&w->loop);
	if (r)
		return r;
	w->host.loop = w->loop;
	w->host.jobs = shared->jobs;
	w->host.guard = shared->guard;
	w->host.hashlim = shared->hashlim;
	w->host.quota = shared->quota;
	w->host.metrics = shared->metrics;
	w->host.hooks = shared->hooks;
	w->host.rate_down = &shared->rate_down;
	w->host.rate_up = &shared->rate_up;
	w->host.closed = on_session_closed;
	w->host.make_room = make_room_ftp;
	w->host.reg = &w->reg;
	w->sftp.loop = w->loop;
	w->sftp.jobs = shared->jobs;
	w->sftp.guard = shared->guard;
	w->sftp.quota = shared->quota;
	w->sftp.metrics = shared->metrics;
	w->sftp.hooks = shared->hooks;
	w->sftp.rate_down = &shared->rate_down;
	w->sftp.rate_up = &shared->rate_up;
	w->sftp.hashlim = shared->hashlim;
	w->sftp.closed = on_sftp_closed;
	w->sftp.make_room = make_room_sftp;
	w->sftp.reg = &w->reg;
	if (shared->sftp_keys) {
		char err[256];
		r = sftp_host_init(&w->sftp, shared->sftp_keys, err, sizeof(err));
		if (r) {
			log_err(0, "worker %u: %s", idx, err);
			return r;
		}
	}
	if (idx >= WORKER_MAX)
		return -EINVAL;
	shared->workers[idx] = w;
	for (size_t i = 0; i < n; i++) {
		w->listen_fds[i] = fds[i];
		w->listeners[i].w = w;
		w->listeners[i].implicit = implicit[i];
		w->listeners[i].sftp = sftp[i];
		r = loop_watch_add(w->loop, &w->listeners[i].watch, fds[i], listen_events(w), on_accept);
		if (r)
			return r;
		w->n_listen = i + 1;
	}
	/* Published last: other workers may now look at this one's sessions. */
	atomic_store_explicit(&shared->n_workers, idx + 1, memory_order_release);
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int r = loop_run(w->loop);
	if (r)
		log_err(0, "worker %u: event loop failed: %s", w->idx, strerror(-r));
	/* Anything still open (loop failure) is closed here, on its thread. */
	while (w->host.head)
		session_shutdown(w->host.head);
	sftp_host_close_all(&w->sftp);
	loop_timer_cancel(w->loop, &w->drain_timer);
	if (w->shared->stopped)
		w->shared->stopped(w->shared->stopped_arg);
	return NULL;
}

int worker_start(struct worker *w)
{
	return -pthread_create(&w->thread, NULL, worker_main, w);
}

/* Sessions still open get their 421 (SSH disconnect) and close, except
 * those whose upload's commit (its fsyncs and rename, a job on the I/O
 * threads) is under way: the loop runs on until the last of them has sent
 * that commit's reply and closed (maybe_stop). Waiting costs nothing more:
 * ferryd could not exit before the job ends anyway (jobs_stop). */
static void on_drain_deadline(struct loop_timer *t)
{
	struct worker *w = container_of(t, struct worker, drain_timer);
	size_t n_open = w->host.count + w->sftp.count;
	if (n_open)
		log_info(0, "worker %u: drain deadline reached, closing %zu session(s)", w->idx, n_open);
	size_t waiting = session_host_drain_end(&w->host) + sftp_host_drain_end(&w->sftp);
	if (waiting) {
		log_info(0, "worker %u: %zu of them close once their upload's commit has been answered", w->idx,
			 waiting);
		return;
	}
	loop_stop(w->loop);
}

static void drain_on_loop(void *arg)
{
	struct worker *w = arg;
	if (w->draining)
		return;
	w->draining = true;
	for (size_t i = 0; i < w->n_listen; i++) {
		loop_watch_del(w->loop, &w->listeners[i].watch);
		loop_timer_cancel(w->loop, &w->listeners[i].pause);
		(void)close(w->listen_fds[i]);
		w->listen_fds[i] = -1;
	}
	const struct config *cfg = config_current();
	loop_timer_arm(w->loop, &w->drain_timer, cfg->drain_timeout_ms, on_drain_deadline);
	config_unref(cfg);
	maybe_stop(w);
}

void worker_drain(struct worker *w)
{
	if (loop_post(w->loop, drain_on_loop, w) != 0)
		log_err(0, "worker %u: cannot post drain request", w->idx);
}

void worker_join(struct worker *w)
{
	(void)pthread_join(w->thread, NULL);
}

void worker_free(struct worker *w)
{
	for (size_t i = 0; i < w->n_listen; i++)
		if (w->listen_fds[i] >= 0)
			(void)close(w->listen_fds[i]);
	sftp_host_fini(&w->sftp);
	loop_free(w->loop);
	w->loop = NULL;
}
