/* worker: one thread with its own event loop, a descriptor of each of the
 * daemon's listening sockets (shared by all workers, LOOP_EXCLUSIVE) and the
 * sessions it accepted; a session never changes thread. */
#ifndef FERRY_WORKER_H
#define FERRY_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "loop.h"
#include "metrics.h"
#include "rate.h"
#include "sessions.h"
#include "session.h"
#include "sftp.h"

struct jobs;
struct tls_ctx;
struct gss_acceptor;

struct worker;

/* [server] workers is at most this (config.c). */
#define WORKER_MAX 256u

/* State shared by all workers (read-mostly; counters are atomic). */
struct worker_shared {
	struct jobs *jobs;
	struct guard *guard;	    /* [limits], shared by all workers */
	struct hash_limit *hashlim; /* [limits] hash_jobs, shared by all workers */
	struct quota_book *quota;   /* users' quotas (core/quota.h) */
	atomic_uint_fast64_t next_sid;
	atomic_uint sessions;			    /* whole server, for [server] max_sessions */
	atomic_uint sessions_by[METRICS_PROTOCOLS]; /* the same by protocol (metrics) */
	/* Every worker, for evicting a session not logged in on whichever
	 * worker holds the oldest: entries below n_workers are set (each
	 * before n_workers grows past it) and stay until the workers are freed. */
	struct worker *workers[WORKER_MAX];
	atomic_uint n_workers;
	/* The TLS context for new sessions (NULL: TLS off); swapped on reload. */
	pthread_mutex_t tls_lock;
	struct tls_ctx *tls;
	/* GSSAPI acceptor (NULL: off); set before the workers start, freed
	 * after they stop, never swapped (a new keytab needs a restart). */
	const struct gss_acceptor *gss;
	struct metrics *metrics;
	struct hooks *hooks; /* NULL = no [hooks] */
	/* [limits] rate_down/rate_up: one bucket each for the whole server
	 * (core/rate.h; lock-free, rate 0 = unlimited); a reload sets the rate. */
	struct rate_bucket rate_down, rate_up;
	/* SFTP host keys (NULL: no [sftp] listen); set before the workers
	 * start, freed after they stop. */
	const struct sftp_keys *sftp_keys;
	/* Called (from the worker's thread) when a worker has stopped. */
	void (*stopped)(void *arg);
	void *stopped_arg;
};

struct listener {
	struct loop_watch watch;
	struct worker *w;
	bool implicit;		 /* implicit FTPS */
	bool sftp;		 /* SSH/SFTP ([sftp] listen) */
	struct loop_timer pause; /* accept paused: out of descriptors or memory */
};

#define WORKER_MAX_LISTEN (3 * CONFIG_MAX_LISTEN)

struct worker {
	unsigned idx;
	pthread_t thread;
	struct loop *loop;
	struct worker_shared *shared;
	struct session_host host;
	struct sftp_host sftp; /* its SFTP sessions (bind NULL: SFTP off) */
	struct sessions reg;   /* both hosts' sessions: status, kick, evictions */
	int listen_fds[WORKER_MAX_LISTEN];
	struct listener listeners[WORKER_MAX_LISTEN];
	size_t n_listen;
	bool draining;
	struct loop_timer drain_timer;
	/* Sessions on this worker (FTP and SFTP), counted when one is accepted for it (maybe
	 * by another worker) and lowered when it closes: read by every worker
	 * to hand a new connection to the least loaded one. */
	atomic_uint load;
};

/* Prepares a worker that will serve the given listening sockets (takes
 * ownership of the fds); implicit[i] marks implicit-FTPS listeners,
 * sftp[i] SSH/SFTP ones. */
int worker_init(struct worker *w, unsigned idx, struct worker_shared *shared, const int *fds, const bool *implicit,
		const bool *sftp, size_t n);
/* Replaces the TLS context for new sessions (takes ownership of c). */
void worker_shared_set_tls(struct worker_shared *sh, struct tls_ctx *c);
int worker_start(struct worker *w);
/* Thread-safe: stop accepting, let sessions finish within [server]
 * drain_timeout, then close the rest with 421, except those whose upload's
 * commit runs: they send its reply first (session_host_drain_end,
 * sftp_host_drain_end). The thread stops when no session is left. */
void worker_drain(struct worker *w);
void worker_join(struct worker *w);
/* After worker_join and after the job pool has stopped (its completions are
 * delivered here): closes what is left and frees the loop. */
void worker_free(struct worker *w);

#endif
