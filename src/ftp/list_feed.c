/* list_feed: a data connection's listing, one chunk at a time on the job
 * pool (list_feed.h). The feed is one allocation shared by the loop and at
 * most one job: while a job is in flight only the job touches `work` and
 * the listing, and the pool's queue lock and loop_post order the hand-over
 * both ways. A cancelled feed with a job in flight is freed by that job's
 * completion, on the loop, so nothing of it outlives the job or is freed
 * under it. */
#include "list_feed.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "util.h"

/* One chunk: bytes (a few socket writes) and time. The time bound keeps a
 * directory on slow storage from holding a pool thread, and the client
 * without news, for long. */
#define FEED_CHUNK (128u * 1024u)
#define FEED_CHUNK_US 20000u
/* The buffers' cap: a chunk ends after the line that crosses FEED_CHUNK,
 * and one LIST line is at most a name, a symlink target and the head. */
#define FEED_BUF_MAX (FEED_CHUNK + 16u * 1024u)

struct list_feed {
	struct job job;
	struct jobs *jobs;
	struct listing *l; /* our reference */
	struct buf work;   /* the chunk being made (the job's while in flight) */
	struct buf ready;  /* a chunk made and not yet taken */
	int result;	   /* the last chunk's listing_next_until: 1 more, 0 end, <0 error */
	atomic_bool cancelled;
	bool in_flight, finished, waiting;
	void (*wake)(void *arg);
	void *arg;
};

static void feed_free(struct list_feed *f)
{
	listing_free(f->l);
	buf_free(&f->work);
	buf_free(&f->ready);
	free(f);
}

static void feed_run(struct job *j, void *thread_ctx)
{
	(void)thread_ctx;
	struct list_feed *f = container_of(j, struct list_feed, job);
	if (atomic_load(&f->cancelled))
		return;
	f->result = listing_next_until(f->l, &f->work, FEED_CHUNK, util_now_us() + FEED_CHUNK_US, &f->cancelled);
}

/* Swaps the storage of two buffers (their caps stay). */
static void buf_swap_storage(struct buf *a, struct buf *b)
{
	struct buf t = *a;
	a->p = b->p;
	a->len = b->len;
	a->off = b->off;
	a->cap = b->cap;
	b->p = t.p;
	b->len = t.len;
	b->off = t.off;
	b->cap = t.cap;
}

static void feed_submit(struct list_feed *f)
{
	buf_reset(&f->work);
	f->in_flight = true;
	jobs_submit(f->jobs, &f->job);
}

static void feed_done(struct job *j)
{
	struct list_feed *f = container_of(j, struct list_feed, job);
	f->in_flight = false;
	if (atomic_load(&f->cancelled)) {
		feed_free(f);
		return;
	}
	/* ready is empty here: a chunk is started only once the last was taken. */
	buf_swap_storage(&f->ready, &f->work);
	f->finished = f->result <= 0;
	if (f->ready.len == 0 && !f->finished) {
		/* Nothing yet (the time ran out on vanished entries, say). */
		feed_submit(f);
		return;
	}
	if (f->waiting) {
		f->waiting = false;
		f->wake(f->arg);
	}
}

int list_feed_start(struct list_feed **out, struct jobs *js, struct loop *loop, struct listing *l,
		    void (*wake)(void *arg), void *arg)
{
	struct list_feed *f = calloc(1, sizeof(*f));
	*out = NULL;
	if (!f)
		return -ENOMEM;
	f->jobs = js;
	f->l = listing_hold(l);
	buf_init(&f->work, FEED_BUF_MAX);
	buf_init(&f->ready, FEED_BUF_MAX);
	atomic_init(&f->cancelled, false);
	f->wake = wake;
	f->arg = arg;
	f->job = (struct job){ .run = feed_run, .done = feed_done, .owner = loop };
	feed_submit(f);
	*out = f;
	return 0;
}

int list_feed_take(struct list_feed *f, struct buf *out)
{
	if (f->ready.len == 0) {
		if (f->in_flight) {
			f->waiting = true;
			return -EAGAIN;
		}
		/* The last chunk was taken (or was empty). */
		return f->result < 0 ? f->result : 1;
	}
	if (out->len == 0) {
		buf_swap_storage(out, &f->ready);
	} else {
		int r = buf_append(out, buf_data(&f->ready), f->ready.len);
		if (r)
			return r;
	}
	buf_reset(&f->ready);
	if (!f->finished)
		feed_submit(f);
	return 0;
}

void list_feed_cancel(struct list_feed *f)
{
	if (!f)
		return;
	atomic_store(&f->cancelled, true);
	if (!f->in_flight)
		feed_free(f);
	/* else feed_done frees it */
}
