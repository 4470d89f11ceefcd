/* quota: the quota book and each upload's account (quota.h). */
#include "quota.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "jobs.h"
#include "log.h"
#include "policy.h"
#include "util.h"

struct quota_user {
	struct quota_book *book;
	struct quota_user *next;
	char *name;
	unsigned refs;
	uint64_t limit_bytes, limit_files;
	uint64_t used_bytes, used_files; /* the store's at the last read + this process's changes */
	uint64_t inflight_bytes, inflight_files;
	/* This process's changes still on their way to the store, and when
	 * the last one got there (util_now_us): a login's read of the store
	 * older than that misses it, and must not replace used. */
	unsigned store_pending;
	uint64_t store_done_us;
};

struct quota_book {
	pthread_mutex_t lock; /* every entry's fields */
	struct jobs *jobs;
	struct quota_user *head;
};

struct quota_book *quota_book_new(struct jobs *jobs)
{
	struct quota_book *b = util_xcalloc(1, sizeof(*b));
	pthread_mutex_init(&b->lock, NULL);
	b->jobs = jobs;
	return b;
}

void quota_book_free(struct quota_book *b)
{
	if (!b)
		return;
	while (b->head) {
		struct quota_user *q = b->head;
		b->head = q->next;
		free(q->name);
		free(q);
	}
	pthread_mutex_destroy(&b->lock);
	free(b);
}

void quota_book_stop(struct quota_book *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	b->jobs = NULL;
	pthread_mutex_unlock(&b->lock);
}

struct quota_user *quota_user_get(struct quota_book *b, const char *user, uint64_t limit_bytes, uint64_t limit_files,
				  bool store_known, uint64_t store_bytes, uint64_t store_files, uint64_t read_us)
{
	if (!b || (!limit_bytes && !limit_files))
		return NULL;
	pthread_mutex_lock(&b->lock);
	struct quota_user *q = b->head;
	while (q && strcmp(q->name, user) != 0)
		q = q->next;
	if (!q) {
		q = util_xcalloc(1, sizeof(*q));
		q->book = b;
		q->name = util_xstrdup(user);
		q->next = b->head;
		b->head = q;
	}
	q->refs++;
	q->limit_bytes = limit_bytes;
	q->limit_files = limit_files;
	/* The store has every node's commits (and ferry quota scan's count);
	 * while an upload runs here its commit is still to come, and while a
	 * change of ours is on its way (or arrived after this read) the store's
	 * figure lacks it. */
	if (store_known && !q->inflight_bytes && !q->inflight_files && !q->store_pending &&
	    read_us > q->store_done_us) {
		q->used_bytes = store_bytes;
		q->used_files = store_files;
	}
	pthread_mutex_unlock(&b->lock);
	return q;
}

struct quota_user *quota_user_ref(struct quota_user *q)
{
	if (q) {
		pthread_mutex_lock(&q->book->lock);
		q->refs++;
		pthread_mutex_unlock(&q->book->lock);
	}
	return q;
}

void quota_user_put(struct quota_user *q)
{
	if (!q)
		return;
	/* The entry stays (one per user with a quota who logged in, freed with
	 * the book): its figures and store_done_us outlive the user's
	 * sessions, so a later login can tell a stale read of the store. */
	pthread_mutex_lock(&q->book->lock);
	q->refs--;
	pthread_mutex_unlock(&q->book->lock);
}

static uint64_t left_of(uint64_t limit, uint64_t used, uint64_t inflight)
{
	if (!limit)
		return UINT64_MAX;
	uint64_t taken = used + inflight;
	return taken < used || taken >= limit ? 0 : limit - taken;
}

void quota_user_left(struct quota_user *q, uint64_t *bytes, uint64_t *files)
{
	pthread_mutex_lock(&q->book->lock);
	*bytes = left_of(q->limit_bytes, q->used_bytes, q->inflight_bytes);
	*files = left_of(q->limit_files, q->used_files, q->inflight_files);
	pthread_mutex_unlock(&q->book->lock);
}

uint64_t quota_need(uint64_t base, uint64_t pos, uint64_t n)
{
	uint64_t end = pos + n < pos ? UINT64_MAX : pos + n;
	return end > base ? end - base : 0;
}

int quota_upload_start(struct quota_upload *u)
{
	struct quota_user *q = u->q;
	if (!q)
		return 0;
	int r = 0;
	pthread_mutex_lock(&q->book->lock);
	if (!u->old_file && left_of(q->limit_files, q->used_files, q->inflight_files) == 0)
		r = -EDQUOT;
	else if (!u->old_file && left_of(q->limit_bytes, q->used_bytes, q->inflight_bytes) == 0)
		r = -EDQUOT; /* an empty new file fits, but nothing could be written to it */
	else if (!u->old_file) {
		q->inflight_files++;
		u->file_reserved = true;
	}
	pthread_mutex_unlock(&q->book->lock);
	if (r) {
		u->q = NULL;
		quota_user_put(q);
	}
	return r;
}

uint64_t quota_upload_grant(struct quota_upload *u, uint64_t want)
{
	struct quota_user *q = u->q;
	if (!q || want == 0)
		return want;
	uint64_t need = quota_need(u->base, u->pos, want);
	if (need <= u->reserved)
		return want; /* rewriting what the target already counts, or reserved */
	pthread_mutex_lock(&q->book->lock);
	uint64_t left = left_of(q->limit_bytes, q->used_bytes, q->inflight_bytes);
	uint64_t more = need - u->reserved;
	if (more > left) {
		/* Only as far as the quota: the rest of want does not fit. */
		want -= more - left;
		more = left;
	}
	q->inflight_bytes += more;
	u->reserved += more;
	pthread_mutex_unlock(&q->book->lock);
	return want;
}

void quota_upload_wrote(struct quota_upload *u, uint64_t n)
{
	u->pos = u->pos + n < u->pos ? UINT64_MAX : u->pos + n;
}

/* Adds a change to the store, on the job pool (never the loop). */
struct quota_store_job {
	struct job job;
	struct quota_user *q; /* entries live as long as the book */
	char *user;
	int64_t dbytes, dfiles;
};

static void store_run(struct job *j, void *ctx)
{
	struct quota_store_job *s = container_of(j, struct quota_store_job, job);
	struct store_handle *h = ctx;
	int r = h && h->store ? policy_usage_add(h->ops, h->store, s->user, s->dbytes, s->dfiles) : -EIO;
	if (r) {
		struct log_escaped e;
		log_err(0,
			"quota: cannot add %lld bytes, %lld files to %s's usage in the store: %s (ferry quota scan "
			"recounts it)",
			(long long)s->dbytes, (long long)s->dfiles, log_esc(slice_from_cstr(s->user), &e),
			strerror(-r));
	}
}

static void store_done(struct job *j)
{
	struct quota_store_job *s = container_of(j, struct quota_store_job, job);
	struct quota_book *b = s->q->book;
	pthread_mutex_lock(&b->lock);
	s->q->store_pending--;
	s->q->store_done_us = util_now_us();
	pthread_mutex_unlock(&b->lock);
	free(s->user);
	free(s);
}

static void add_used(uint64_t *used, int64_t d)
{
	if (d < 0)
		*used = (uint64_t)-d > *used ? 0 : *used - (uint64_t)-d;
	else
		*used += (uint64_t)d;
}

/* Called with the lock held: the change in memory, and a job for the
 * store (submitted after the lock). */
static struct quota_store_job *change_locked(struct quota_user *q, int64_t dbytes, int64_t dfiles)
{
	add_used(&q->used_bytes, dbytes);
	add_used(&q->used_files, dfiles);
	if (!dbytes && !dfiles)
		return NULL;
	struct quota_store_job *s = util_xcalloc(1, sizeof(*s));
	q->store_pending++;
	s->q = q;
	s->user = util_xstrdup(q->name);
	s->dbytes = dbytes;
	s->dfiles = dfiles;
	s->job = (struct job){ .run = store_run, .done = store_done, .owner = NULL };
	return s;
}

static void submit(struct quota_book *b, struct quota_store_job *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&b->lock);
	struct jobs *js = b->jobs;
	pthread_mutex_unlock(&b->lock);
	if (js)
		jobs_submit(js, &s->job);
	else
		store_done(&s->job);
}

void quota_upload_end(struct quota_upload *u, bool kept, uint64_t final_size)
{
	struct quota_user *q = u->q;
	if (!q)
		return;
	struct quota_book *b = q->book;
	struct quota_store_job *s = NULL;
	pthread_mutex_lock(&b->lock);
	q->inflight_bytes -= u->reserved < q->inflight_bytes ? u->reserved : q->inflight_bytes;
	if (u->file_reserved && q->inflight_files)
		q->inflight_files--;
	if (kept)
		s = change_locked(q, (int64_t)final_size - (int64_t)u->base, u->old_file ? 0 : 1);
	pthread_mutex_unlock(&b->lock);
	submit(b, s);
	u->reserved = 0;
	u->file_reserved = false;
	u->q = NULL;
	quota_user_put(q);
}

void quota_user_change(struct quota_user *q, int64_t dbytes, int64_t dfiles)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->book->lock);
	struct quota_store_job *s = change_locked(q, dbytes, dfiles);
	pthread_mutex_unlock(&q->book->lock);
	submit(q->book, s);
}
