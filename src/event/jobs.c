#include "jobs.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "log.h"
#include "loop.h"
#include "util.h"

/* A first-come-first-served queue. */
struct jobq {
	struct job *head, **tail;
};

struct jobs {
	pthread_mutex_t lock;
	pthread_cond_t cond;	 /* jobs for the threads of jobs_start */
	pthread_cond_t io_cond;	 /* jobs for the I/O threads */
	struct jobq quick, slow; /* jobs.h: quick first, slow after a burst */
	struct jobq io;		 /* jobs.h: I/O jobs, for the I/O threads only */
	unsigned burst;		 /* quick jobs taken in a row while a slow one waited */
	bool stopping;
	unsigned queued;    /* jobs waiting for a thread of jobs_start (metrics) */
	unsigned io_queued; /* I/O jobs waiting for an I/O thread (metrics) */
	unsigned n, n_io;
	pthread_t *threads, *io_threads;
	void *(*init)(void *);
	void (*fini)(void *);
	void *arg;
};

static void deliver(void *p)
{
	struct job *j = p;
	j->done(j);
}

static void jobq_push(struct jobq *q, struct job *j)
{
	j->next = NULL;
	*q->tail = j;
	q->tail = &j->next;
}

static struct job *jobq_pop(struct jobq *q)
{
	struct job *j = q->head;
	if (j) {
		q->head = j->next;
		if (!q->head)
			q->tail = &q->head;
	}
	return j;
}

/* The next job to run (jobs.h "Order"), or NULL; under js->lock. */
static struct job *jobs_take(struct jobs *js)
{
	bool slow_waits = js->slow.head != NULL;
	bool quick = js->quick.head && !(slow_waits && js->burst >= JOBS_QUICK_BURST);
	struct job *j = jobq_pop(quick ? &js->quick : &js->slow);
	js->burst = quick && slow_waits ? js->burst + 1 : 0;
	if (j)
		js->queued--;
	return j;
}

/* Runs the jobs of one class: io, the I/O queue (no thread context:
 * jobs.h); else quick and slow. */
static void thread_loop(struct jobs *js, bool io)
{
	void *ctx = js->init && !io ? js->init(js->arg) : NULL;
	for (;;) {
		pthread_mutex_lock(&js->lock);
		if (io)
			while (!js->io.head && !js->stopping)
				pthread_cond_wait(&js->io_cond, &js->lock);
		else
			while (!js->quick.head && !js->slow.head && !js->stopping)
				pthread_cond_wait(&js->cond, &js->lock);
		struct job *j = io ? jobq_pop(&js->io) : jobs_take(js);
		if (j && io)
			js->io_queued--;
		pthread_mutex_unlock(&js->lock);
		if (!j)
			break; /* stopping and the queue is empty */
		j->run(j, ctx);
		if (!j->owner) { /* nobody waits: done() here */
			j->done(j);
			continue;
		}
		while (loop_post(j->owner, deliver, j) != 0) {
			/* Out of memory for a tiny node: retrying is the only way
			 * not to lose a session's continuation. */
			log_err(0, "jobs: cannot post a completion, retrying");
		}
	}
	if (js->fini && !io)
		js->fini(ctx);
}

static void *thread_main(void *p)
{
	thread_loop(p, false);
	return NULL;
}

static void *io_thread_main(void *p)
{
	thread_loop(p, true);
	return NULL;
}

/* Starts n threads running fn into *ts, counting the started in *started. */
static int start_threads(struct jobs *js, pthread_t **ts, unsigned *started, unsigned n, void *(*fn)(void *))
{
	*ts = util_xcalloc(n ? n : 1, sizeof(pthread_t));
	for (unsigned i = 0; i < n; i++) {
		int r = pthread_create(&(*ts)[i], NULL, fn, js);
		if (r)
			return -r;
		*started = i + 1;
	}
	return 0;
}

int jobs_start(struct jobs **out, unsigned n, void *(*thread_init)(void *), void (*thread_fini)(void *), void *arg)
{
	struct jobs *js = util_xcalloc(1, sizeof(*js));
	pthread_mutex_init(&js->lock, NULL);
	pthread_cond_init(&js->cond, NULL);
	pthread_cond_init(&js->io_cond, NULL);
	js->quick.tail = &js->quick.head;
	js->slow.tail = &js->slow.head;
	js->io.tail = &js->io.head;
	js->init = thread_init;
	js->fini = thread_fini;
	js->arg = arg;
	int r = start_threads(js, &js->threads, &js->n, n, thread_main);
	if (r) {
		jobs_stop(js);
		return r;
	}
	*out = js;
	return 0;
}

int jobs_start_io(struct jobs *js, unsigned n)
{
	if (js->io_threads)
		return -EALREADY;
	unsigned started = 0;
	int r = start_threads(js, &js->io_threads, &started, n, io_thread_main);
	pthread_mutex_lock(&js->lock); /* jobs_submit reads n_io */
	js->n_io = started;
	pthread_mutex_unlock(&js->lock);
	return r;
}

void jobs_submit(struct jobs *js, struct job *j)
{
	pthread_mutex_lock(&js->lock);
	if (j->io && js->n_io) {
		jobq_push(&js->io, j);
		js->io_queued++;
		pthread_cond_signal(&js->io_cond);
	} else {
		jobq_push(j->quick && !j->io ? &js->quick : &js->slow, j);
		js->queued++;
		pthread_cond_signal(&js->cond);
	}
	pthread_mutex_unlock(&js->lock);
}

unsigned jobs_queued(struct jobs *js)
{
	pthread_mutex_lock(&js->lock);
	unsigned n = js->queued;
	pthread_mutex_unlock(&js->lock);
	return n;
}

unsigned jobs_io_queued(struct jobs *js)
{
	pthread_mutex_lock(&js->lock);
	unsigned n = js->io_queued;
	pthread_mutex_unlock(&js->lock);
	return n;
}

void jobs_stop(struct jobs *js)
{
	if (!js)
		return;
	pthread_mutex_lock(&js->lock);
	js->stopping = true;
	pthread_cond_broadcast(&js->cond);
	pthread_cond_broadcast(&js->io_cond);
	pthread_mutex_unlock(&js->lock);
	for (unsigned i = 0; i < js->n; i++)
		(void)pthread_join(js->threads[i], NULL);
	for (unsigned i = 0; i < js->n_io; i++)
		(void)pthread_join(js->io_threads[i], NULL);
	pthread_cond_destroy(&js->io_cond);
	pthread_cond_destroy(&js->cond);
	pthread_mutex_destroy(&js->lock);
	free(js->threads);
	free(js->io_threads);
	free(js);
}
