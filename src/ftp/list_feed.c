/* list_feed: a data connection's listing, made in chunks on the job pool
 * (list_feed.h). Two jobs make chunks at once while the pool has nothing
 * else waiting (listing_fill takes names under the listing's lock and stats
 * them in parallel: the name lookup of each statx is most of a listing's
 * cost), and a job starts again only once its chunk was taken, so a feed
 * holds at most two chunks besides the one being sent. Chunks go out in the
 * order they were finished. The second job starts once the first chunk
 * shows there is more than one, so a small directory costs one job.
 *
 * Each slot's job owns its `work` buffer while in flight; the pool's queue
 * lock and loop_post order the hand-over both ways. A cancelled feed with
 * jobs in flight is freed by the last of them to complete, on the loop, so
 * nothing of it outlives a job or is freed under one. */
#include "list_feed.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "util.h"

/* One chunk: bytes (a few socket writes) and time. The time bound keeps a
 * directory on slow storage from holding a pool thread, and the client
 * without news, for long. */
#define FEED_CHUNK (96u * 1024u)
/* The first chunk is small: its bytes reach the client sooner, and the
 * second job starts sooner when it shows there is more. */
#define FEED_FIRST_CHUNK (16u * 1024u)
#define FEED_CHUNK_US 20000u
/* The buffers' cap: listing_fill may overshoot the chunk by 32 lines, and
 * a LIST line is at most its head, a name and a symlink target. */
#define FEED_BUF_MAX (FEED_CHUNK + 32u * (96u + 256u + 4u + 4096u + 2u))
#define FEED_SLOTS 2

struct feed_slot {
	struct job job;
	struct list_feed *f;
	struct buf work; /* the chunk being made, or made and not yet taken */
	size_t budget;	 /* bytes for the chunk being made */
	int result;	 /* listing_fill's: 1 more, 0 no names left, <0 error */
	bool in_flight;
	atomic_bool started; /* its job left the pool's queue (see may_add_job) */
};

struct list_feed {
	struct feed_slot slot[FEED_SLOTS];
	struct jobs *jobs;
	struct listing *l; /* our reference */
	atomic_bool cancelled;
	unsigned in_flight;
	unsigned ready[FEED_SLOTS]; /* slots with a chunk to take, oldest first */
	unsigned nready;
	bool names_done; /* a job found no names left */
	int err;
	bool waiting; /* take said -EAGAIN: wake when there is news */
	void (*wake)(void *arg);
	void *arg;
};

static void feed_free(struct list_feed *f)
{
	listing_free(f->l);
	for (unsigned i = 0; i < FEED_SLOTS; i++)
		buf_free(&f->slot[i].work);
	free(f);
}

static void slot_run(struct job *j, void *thread_ctx)
{
	(void)thread_ctx;
	struct feed_slot *s = container_of(j, struct feed_slot, job);
	struct list_feed *f = s->f;
	atomic_store_explicit(&s->started, true, memory_order_relaxed);
	if (atomic_load(&f->cancelled))
		return;
	s->result = listing_fill(f->l, &s->work, s->budget, util_now_us() + FEED_CHUNK_US, &f->cancelled);
}

static void slot_submit(struct list_feed *f, struct feed_slot *s, size_t budget)
{
	buf_reset(&s->work);
	s->budget = budget;
	s->result = 1;
	s->in_flight = true;
	atomic_store_explicit(&s->started, false, memory_order_relaxed);
	f->in_flight++;
	jobs_submit(f->jobs, &s->job);
}

/* A second job of the same listing only while the pool keeps up: when
 * other sessions' jobs (logins, say) wait, one listing takes one thread.
 * Our own job still in the queue is not another session's: counting it
 * (the one slot_done submitted a moment before the take) kept the second
 * job from ever starting, and the two slots took turns. A job between
 * the pool's dequeue and `started` may count as ours: a heuristic. */
static bool may_add_job(struct list_feed *f)
{
	if (f->in_flight == 0)
		return true;
	unsigned own = 0;
	for (unsigned i = 0; i < FEED_SLOTS; i++)
		own += f->slot[i].in_flight && !atomic_load_explicit(&f->slot[i].started, memory_order_relaxed);
	return jobs_queued(f->jobs) <= own;
}

unsigned list_feed_jobs(const struct list_feed *f)
{
	return f->in_flight;
}

static void slot_done(struct job *j)
{
	struct feed_slot *s = container_of(j, struct feed_slot, job);
	struct list_feed *f = s->f;
	s->in_flight = false;
	f->in_flight--;
	if (atomic_load(&f->cancelled)) {
		if (f->in_flight == 0)
			feed_free(f);
		return;
	}
	if (s->result == 0)
		f->names_done = true;
	else if (s->result < 0 && !f->err)
		f->err = s->result;
	if (s->work.len)
		f->ready[f->nready++] = (unsigned)(s - f->slot);
	/* Idle slots (no chunk waiting) go on while names remain: this one
	 * if it made nothing (the time ran out on vanished entries, say), the
	 * other one after the first chunk. */
	for (unsigned i = 0; i < FEED_SLOTS && !f->names_done && !f->err; i++) {
		struct feed_slot *o = &f->slot[i];
		if (!o->in_flight && o->work.len == 0 && may_add_job(f))
			slot_submit(f, o, FEED_CHUNK);
	}
	if (f->waiting && (f->nready || f->err || f->in_flight == 0)) {
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
	atomic_init(&f->cancelled, false);
	f->wake = wake;
	f->arg = arg;
	for (unsigned i = 0; i < FEED_SLOTS; i++) {
		struct feed_slot *s = &f->slot[i];
		s->f = f;
		buf_init(&s->work, FEED_BUF_MAX);
		atomic_init(&s->started, false);
		s->job = (struct job){ .run = slot_run, .done = slot_done, .owner = loop };
	}
	slot_submit(f, &f->slot[0], FEED_FIRST_CHUNK);
	*out = f;
	return 0;
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

int list_feed_take(struct list_feed *f, struct buf *out)
{
	if (f->err)
		return f->err; /* lines were lost with it: the listing has failed */
	if (f->nready == 0) {
		if (f->in_flight) {
			f->waiting = true;
			return -EAGAIN;
		}
		return 1; /* every name listed and every chunk taken */
	}
	struct feed_slot *s = &f->slot[f->ready[0]];
	f->nready--;
	for (unsigned i = 0; i < f->nready; i++)
		f->ready[i] = f->ready[i + 1];
	if (out->len == 0) {
		buf_swap_storage(out, &s->work);
	} else {
		int r = buf_append(out, buf_data(&s->work), s->work.len);
		if (r)
			return r;
	}
	buf_reset(&s->work);
	if (!f->names_done && may_add_job(f))
		slot_submit(f, s, FEED_CHUNK);
	return 0;
}

void list_feed_cancel(struct list_feed *f)
{
	if (!f)
		return;
	atomic_store(&f->cancelled, true);
	if (f->in_flight == 0)
		feed_free(f);
	/* else the last slot_done frees it */
}
