/* quota: the quota book and each upload's account (quota.h). */
#include "quota.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "jobs.h"
#include "log.h"
#include "loop.h"
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
	/* GRANTS (quota.h): the bytes this node holds in the store's grant
	 * (inflight_bytes are reserved from it), its uploads running (the
	 * last to end gives the grant back) and takes running. */
	uint64_t grant_bytes;
	unsigned uploads, takes;
	/* Changes still to reach the store, added up (sums are the same in
	 * any order): the first job of the user's to run sends them all,
	 * holding io, so a take never counts a grant that a commit already
	 * gave back here (GRANTS: a refusal the quota does not justify). */
	pthread_mutex_t io;
	int64_t pend_bytes, pend_files;
	uint64_t pend_back;
};

struct quota_book {
	pthread_mutex_t lock; /* every entry's fields */
	struct jobs *jobs;
	struct quota_user *head;
	char *node; /* GRANTS: this node's name; NULL = none */
	unsigned expiry_s;
	struct loop *loop; /* the renewals' timer's */
	struct loop_timer renew;
};

uint64_t quota_grant_chunk(uint64_t limit)
{
	uint64_t c = limit / 16;
	return c < QUOTA_GRANT_MIN ? QUOTA_GRANT_MIN : c > QUOTA_GRANT_MAX ? QUOTA_GRANT_MAX : c;
}

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
		pthread_mutex_destroy(&q->io);
		free(q->name);
		free(q);
	}
	free(b->node);
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
		pthread_mutex_init(&q->io, NULL);
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
	if (r == 0) {
		q->uploads++;
		u->counted = true;
	}
	pthread_mutex_unlock(&q->book->lock);
	if (r) {
		u->q = NULL;
		quota_user_put(q);
	}
	return r;
}

/* The bytes u may still reserve: from the node's grant (GRANTS), else
 * what the quota leaves after used and inflight. Lock held. */
static uint64_t bytes_left(const struct quota_user *q)
{
	if (!q->book->node || !q->limit_bytes)
		return left_of(q->limit_bytes, q->used_bytes, q->inflight_bytes);
	return q->grant_bytes > q->inflight_bytes ? q->grant_bytes - q->inflight_bytes : 0;
}

static struct quota_take *take_locked(struct quota_user *q, struct quota_wait *w, uint64_t need);
static void take_submit(struct jobs *js, struct quota_take *t);

int quota_upload_reserve(struct quota_upload *u, uint64_t want, bool partial, uint64_t *ok)
{
	struct quota_user *q = u->q;
	*ok = want;
	if (!q || want == 0)
		return 0;
	uint64_t need = quota_need(u->base, u->pos, want);
	if (need <= u->reserved)
		return 0; /* rewriting what the target already counts, or reserved */
	struct quota_book *b = q->book;
	pthread_mutex_lock(&b->lock);
	uint64_t left = bytes_left(q);
	uint64_t more = need - u->reserved;
	if (more <= left && u->wait)
		u->wait->refused = false; /* a refusal is for the write that waited, if it still needs one */
	bool short_ = partial ? left == 0 : more > left;
	if (short_ && b->node && q->limit_bytes && u->wait && b->jobs && !u->refused) {
		struct quota_wait *w = u->wait;
		if (w->refused) {
			/* The store said no: from now on the book answers this
			 * upload, which fails at the quota. */
			w->refused = false;
			u->refused = true;
		} else {
			struct quota_take *t = w->take ? NULL : take_locked(q, w, partial ? 0 : more - left);
			struct jobs *js = b->jobs;
			pthread_mutex_unlock(&b->lock);
			take_submit(js, t);
			return -EINPROGRESS;
		}
	}
	if (more > left) {
		/* Only as far as the quota: the rest of want does not fit. */
		*ok -= more - left;
		more = left;
	}
	q->inflight_bytes += more;
	u->reserved += more;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

uint64_t quota_upload_grant(struct quota_upload *u, uint64_t want)
{
	struct quota_wait *w = u->wait;
	uint64_t ok;
	u->wait = NULL;
	(void)quota_upload_reserve(u, want, false, &ok);
	u->wait = w;
	return ok;
}

void quota_upload_wrote(struct quota_upload *u, uint64_t n)
{
	u->pos = u->pos + n < u->pos ? UINT64_MAX : u->pos + n;
}

/* Sends the user's changes to the store, on the job pool (never the
 * loop): the usage's, then what goes back to the node's grant (in that
 * order, so that in between the store counts more, never less). */
struct quota_store_job {
	struct job job;
	struct quota_user *q; /* entries live as long as the book */
};

static void store_log(const char *what, const char *user, int r)
{
	struct log_escaped e;
	log_err(0, "quota: cannot %s %s in the store: %s", what, log_esc(slice_from_cstr(user), &e), strerror(-r));
}

/* Sends what is pending (io held; h the pool thread's store). */
static void flush_io(struct quota_user *q, struct store_handle *h)
{
	struct quota_book *b = q->book;
	pthread_mutex_lock(&b->lock);
	int64_t db = q->pend_bytes, df = q->pend_files;
	uint64_t back = q->pend_back;
	q->pend_bytes = q->pend_files = 0;
	q->pend_back = 0;
	pthread_mutex_unlock(&b->lock);
	bool ok = h && h->store;
	int r = !ok ? -EIO : db || df ? policy_usage_add(h->ops, h->store, q->name, db, df) : 0;
	if (r && (db || df)) {
		struct log_escaped e;
		log_err(0,
			"quota: cannot add %lld bytes, %lld files to %s's usage in the store: %s (ferry quota scan "
			"recounts it)",
			(long long)db, (long long)df, log_esc(slice_from_cstr(q->name), &e), strerror(-r));
	}
	/* The book's node outlives the jobs (jobs_stop before quota_book_free). */
	r = !back ? 0 : !ok ? -EIO : policy_grant_sub(h->ops, h->store, q->name, b->node, back);
	if (r)
		store_log("give back a grant of", q->name, r); /* it expires */
}

static void store_run(struct job *j, void *ctx)
{
	struct quota_store_job *s = container_of(j, struct quota_store_job, job);
	pthread_mutex_lock(&s->q->io);
	flush_io(s->q, ctx);
	pthread_mutex_unlock(&s->q->io);
}

static void store_done(struct job *j)
{
	struct quota_store_job *s = container_of(j, struct quota_store_job, job);
	struct quota_book *b = s->q->book;
	pthread_mutex_lock(&b->lock);
	s->q->store_pending--;
	s->q->store_done_us = util_now_us();
	pthread_mutex_unlock(&b->lock);
	free(s);
}

static void add_used(uint64_t *used, int64_t d)
{
	if (d < 0)
		*used = (uint64_t)-d > *used ? 0 : *used - (uint64_t)-d;
	else
		*used += (uint64_t)d;
}

/* Called with the lock held: a job for the store (submitted after the
 * lock), or NULL when there is nothing to send. */
static struct quota_store_job *store_job_locked(struct quota_user *q, int64_t dbytes, int64_t dfiles,
						uint64_t grant_back)
{
	if (!dbytes && !dfiles && !grant_back)
		return NULL;
	struct quota_store_job *s = util_xcalloc(1, sizeof(*s));
	q->store_pending++;
	s->q = q;
	q->pend_bytes += dbytes;
	q->pend_files += dfiles;
	q->pend_back += grant_back;
	s->job = (struct job){ .run = store_run, .done = store_done, .owner = NULL };
	return s;
}

/* Called with the lock held: the change in memory, and a job for the
 * store. */
static struct quota_store_job *change_locked(struct quota_user *q, int64_t dbytes, int64_t dfiles)
{
	add_used(&q->used_bytes, dbytes);
	add_used(&q->used_files, dfiles);
	return store_job_locked(q, dbytes, dfiles, 0);
}

static struct jobs *book_jobs(struct quota_book *b)
{
	pthread_mutex_lock(&b->lock);
	struct jobs *js = b->jobs;
	pthread_mutex_unlock(&b->lock);
	return js;
}

static void submit(struct quota_book *b, struct quota_store_job *s)
{
	if (!s)
		return;
	struct jobs *js = book_jobs(b);
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
	int64_t db = 0, df = 0;
	uint64_t back = 0;
	pthread_mutex_lock(&b->lock);
	uint64_t res = u->reserved < q->inflight_bytes ? u->reserved : q->inflight_bytes;
	q->inflight_bytes -= res;
	if (u->file_reserved && q->inflight_files)
		q->inflight_files--;
	if (kept) {
		db = (int64_t)final_size - (int64_t)u->base;
		df = u->old_file ? 0 : 1;
		add_used(&q->used_bytes, db);
		add_used(&q->used_files, df);
		/* GRANTS: the reservation is in the usage now. */
		back = res < q->grant_bytes ? res : q->grant_bytes;
		q->grant_bytes -= back;
	}
	if (u->counted && q->uploads)
		q->uploads--;
	if (!q->uploads && q->grant_bytes) {
		back += q->grant_bytes; /* the user's last upload here: the rest goes back */
		q->grant_bytes = 0;
	}
	struct quota_store_job *s = store_job_locked(q, db, df, b->node ? back : 0);
	pthread_mutex_unlock(&b->lock);
	submit(b, s);
	u->reserved = 0;
	u->file_reserved = false;
	u->counted = false;
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

/* ---- GRANTS: takes, renewals, the release ---- */

struct quota_take {
	struct job job;
	struct quota_user *q;
	char *user;
	struct quota_wait *w; /* NULL once cancelled (on the owner loop) */
	uint64_t need, chunk, limit;
	bool refused;
};

static struct quota_take *take_locked(struct quota_user *q, struct quota_wait *w, uint64_t need)
{
	struct quota_take *t = util_xcalloc(1, sizeof(*t));
	t->q = q;
	t->user = util_xstrdup(q->name);
	t->w = w;
	/* A chunk, or what the write needs if more; refused only when
	 * nothing is left, else as much of that as there is (the book then
	 * answers with what it got). */
	uint64_t chunk = quota_grant_chunk(q->limit_bytes);
	t->need = 1;
	t->limit = q->limit_bytes;
	t->chunk = need > chunk ? need : chunk;
	w->take = t;
	q->takes++;
	return t;
}

static void take_run(struct job *j, void *ctx)
{
	struct quota_take *t = container_of(j, struct quota_take, job);
	struct store_handle *h = ctx;
	struct quota_book *b = t->q->book;
	int64_t now = util_wall_s();
	uint64_t got = 0;
	pthread_mutex_lock(&t->q->io);
	flush_io(t->q, h); /* this node's give-backs first: its room is theirs too */
	int r = h && h->store ? policy_grant_take(h->ops, h->store, t->user, b->node, t->need, t->chunk, t->limit, now,
						  now + (int64_t)b->expiry_s, &got)
			      : -EIO;
	pthread_mutex_unlock(&t->q->io);
	if (r)
		store_log("take a quota grant for", t->user, r); /* the upload gets the quota error */
	pthread_mutex_lock(&b->lock);
	t->q->takes--;
	t->q->grant_bytes += got; /* the waiter's retry reserves from it */
	pthread_mutex_unlock(&b->lock);
	t->refused = got == 0;
}

static void take_done(struct job *j)
{
	struct quota_take *t = container_of(j, struct quota_take, job);
	struct quota_wait *w = t->w;
	bool refused = t->refused;
	struct quota_user *q = t->q;
	free(t->user);
	free(t);
	if (w) {
		w->take = NULL;
		w->refused = refused;
		w->fn(w->arg);
		return;
	}
	/* Nobody waits any more: with no upload of the user's running here,
	 * the grant goes back at once. */
	struct quota_store_job *s = NULL;
	pthread_mutex_lock(&q->book->lock);
	if (!q->uploads && !q->takes && q->grant_bytes) {
		s = store_job_locked(q, 0, 0, q->grant_bytes);
		q->grant_bytes = 0;
	}
	pthread_mutex_unlock(&q->book->lock);
	submit(q->book, s);
}

static void take_submit(struct jobs *js, struct quota_take *t)
{
	if (!t)
		return;
	t->job = (struct job){ .run = take_run, .done = take_done, .owner = t->w->loop, .quick = true };
	jobs_submit(js, &t->job);
}

void quota_wait_cancel(struct quota_wait *w)
{
	if (w && w->take) {
		w->take->w = NULL;
		w->take = NULL;
	}
}

static void on_renew(struct loop_timer *t)
{
	struct quota_book *b = container_of(t, struct quota_book, renew);
	quota_book_renew(b);
	loop_timer_arm(b->loop, &b->renew, (uint64_t)b->expiry_s * 1000 / 3, on_renew);
}

void quota_book_grants(struct quota_book *b, struct loop *loop, const char *node, unsigned expiry_s)
{
	char made[128];
	if (!node) {
		char host[64] = "";
		(void)gethostname(host, sizeof(host) - 1);
		(void)snprintf(made, sizeof(made), "%s:%ld:%08x", host, (long)getpid(), util_random_u32());
		node = made;
	}
	free(b->node);
	b->node = util_xstrdup(node);
	b->expiry_s = expiry_s ? expiry_s : 1;
	b->loop = loop;
	if (loop)
		loop_timer_arm(loop, &b->renew, (uint64_t)b->expiry_s * 1000 / 3, on_renew);
}

const char *quota_book_node(const struct quota_book *b)
{
	return b ? b->node : NULL;
}

/* A renewal or the release: one statement on this node's grants. */
struct quota_node_job {
	struct job job;
	struct quota_book *b;
	bool drop;
};

static void node_run(struct job *j, void *ctx)
{
	struct quota_node_job *n = container_of(j, struct quota_node_job, job);
	struct store_handle *h = ctx;
	if (!h || !h->store)
		return;
	int r = n->drop ? policy_grant_drop(h->ops, h->store, n->b->node)
			: policy_grant_renew(h->ops, h->store, n->b->node, util_wall_s() + (int64_t)n->b->expiry_s);
	if (r)
		log_err(0, "quota: cannot %s this node's grants in the store: %s", n->drop ? "give back" : "renew",
			strerror(-r));
}

static void node_done(struct job *j)
{
	free(container_of(j, struct quota_node_job, job));
}

static void node_submit(struct quota_book *b, bool drop)
{
	struct jobs *js = b && b->node ? book_jobs(b) : NULL;
	if (!js)
		return;
	struct quota_node_job *n = util_xcalloc(1, sizeof(*n));
	n->b = b;
	n->drop = drop;
	n->job = (struct job){ .run = node_run, .done = node_done, .owner = NULL, .quick = true };
	jobs_submit(js, &n->job);
}

void quota_book_renew(struct quota_book *b)
{
	node_submit(b, false);
}

void quota_book_release(struct quota_book *b)
{
	if (b && b->loop)
		loop_timer_cancel(b->loop, &b->renew);
	node_submit(b, true);
}
