/* jobs: a small pool of threads for work that may block (password hashing,
 * database queries). A job runs on a pool thread; its done() callback then
 * runs on the loop that submitted it, delivered through loop_post. */
#ifndef FERRY_JOBS_H
#define FERRY_JOBS_H

struct loop;
struct jobs;

struct job {
	/* Runs on a pool thread with that thread's context (see jobs_start). */
	void (*run)(struct job *j, void *thread_ctx);
	/* Runs on the owner loop afterwards (owner NULL: on the pool
	 * thread right after run, for work nobody waits for); may free the
	 * job. */
	void (*done)(struct job *j);
	struct loop *owner;
	struct job *next; /* queue link, owned by jobs.c */
};

/* Starts n threads. thread_init(arg) runs first on each thread and returns
 * its context (may be NULL); thread_fini(ctx) runs when the thread ends. */
int jobs_start(struct jobs **out, unsigned n, void *(*thread_init)(void *arg), void (*thread_fini)(void *ctx),
	       void *arg);
/* Queues j (borrowed until done() runs). */
void jobs_submit(struct jobs *js, struct job *j);
/* Jobs waiting for a thread now (thread-safe; for metrics). */
unsigned jobs_queued(struct jobs *js);
/* Finishes the queued jobs, stops and joins the threads, frees the pool.
 * The owner loops must still be able to take posts (they run later). */
void jobs_stop(struct jobs *js);

#endif
