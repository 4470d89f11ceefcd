/* jobs: a small pool of threads for work that may block (password hashing,
 * database queries). A job runs on a pool thread; its done() callback then
 * runs on the loop that submitted it, delivered through loop_post.
 *
 * Order: two first-come-first-served queues. Quick jobs (a few store reads,
 * no password hash: USER's lookup, a challenge lock's release) are taken
 * before the others, so that a login passes the queue of password checks
 * once, not twice: with one queue, a USER lookup waited behind the checks
 * queued before it and then its PASS behind those queued meanwhile, and
 * some logins took 1.5-2 rounds of the queue (bench/ logins p99). A job of
 * the other queue waits for at most JOBS_QUICK_BURST quick ones taken in a
 * row, so a flood of quick jobs cannot starve it.
 *
 * I/O jobs (disk-bound work that takes as long as the disk needs: a
 * durable upload's fsyncs and write-behind, the start-up clean-up's walk of
 * every home) have threads of their own (jobs_start_io, [server] io_jobs)
 * and a third first-come-first-served queue: the threads above never take
 * them, so a slow disk never holds the threads logins need. Without I/O
 * threads an I/O job is served as a slow one. */
#ifndef FERRY_JOBS_H
#define FERRY_JOBS_H

#include <stdbool.h>

struct loop;
struct jobs;

/* Quick jobs taken in a row while another job waits, at most. */
#define JOBS_QUICK_BURST 32u

struct job {
	/* Runs on a pool thread with that thread's context (see jobs_start;
	 * NULL for an I/O job). */
	void (*run)(struct job *j, void *thread_ctx);
	/* Runs on the owner loop afterwards (owner NULL: on the pool
	 * thread right after run, for work nobody waits for); may free the
	 * job. */
	void (*done)(struct job *j);
	struct loop *owner;
	/* A quick job (see above): set before jobs_submit. */
	bool quick;
	/* An I/O job (see above; not quick): set before jobs_submit. */
	bool io;
	struct job *next; /* queue link, owned by jobs.c */
};

/* Starts n threads. thread_init(arg) runs first on each thread and returns
 * its context (may be NULL); thread_fini(ctx) runs when the thread ends. */
int jobs_start(struct jobs **out, unsigned n, void *(*thread_init)(void *arg), void (*thread_fini)(void *ctx),
	       void *arg);
/* Adds n threads that take I/O jobs only (see above); their jobs run with
 * a NULL thread context (disk work needs no store handle, and a
 * PostgreSQL store then has no connection more per thread). Call once,
 * before the first I/O job is submitted. 0 or -errno (a thread that did
 * start still serves the I/O queue; jobs_stop joins it). */
int jobs_start_io(struct jobs *js, unsigned n);
/* Queues j (borrowed until done() runs) at the end of its queue (I/O,
 * quick or slow: j->io, j->quick). */
void jobs_submit(struct jobs *js, struct job *j);
/* Jobs waiting for one of jobs_start's threads now, the ones logins use
 * (I/O jobs waiting for theirs not counted; thread-safe; for metrics). */
unsigned jobs_queued(struct jobs *js);
/* I/O jobs waiting for an I/O thread now (0 without I/O threads: their
 * I/O jobs wait as slow ones, in jobs_queued; thread-safe; for metrics). */
unsigned jobs_io_queued(struct jobs *js);
/* Finishes the queued jobs, stops and joins the threads, frees the pool.
 * The owner loops must still be able to take posts (they run later). */
void jobs_stop(struct jobs *js);

#endif
