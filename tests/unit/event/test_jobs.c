/* Job pool: jobs run off the loop thread with their thread's context and
 * complete on the submitting loop. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "jobs.h"
#include "loop.h"

struct tjob {
	struct job job;
	pthread_t ran_on;
	void *ctx;
	int *done_count;
	int total;
	struct loop *l;
};

static int ctx_token;

static void *init(void *arg)
{
	return &ctx_token;
}

static void fini(void *ctx)
{
	assert_ptr_equal(ctx, &ctx_token);
}

static void run(struct job *j, void *ctx)
{
	struct tjob *t = (struct tjob *)j;
	t->ran_on = pthread_self();
	t->ctx = ctx;
}

static void done(struct job *j)
{
	struct tjob *t = (struct tjob *)j;
	assert_false(pthread_equal(t->ran_on, pthread_self()));
	assert_ptr_equal(t->ctx, &ctx_token);
	if (++*t->done_count == t->total)
		loop_stop(t->l);
	free(t);
}

static void test_jobs_complete_on_loop(void **state)
{
	struct loop *l;
	struct jobs *js;
	int count = 0;
	enum { N = 200 };
	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(jobs_start(&js, 3, init, fini, NULL), 0);
	for (int i = 0; i < N; i++) {
		struct tjob *t = calloc(1, sizeof(*t));
		t->job = (struct job){ .run = run, .done = done, .owner = l };
		t->done_count = &count;
		t->total = N;
		t->l = l;
		jobs_submit(js, &t->job);
	}
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(count, N);
	jobs_stop(js);
	loop_free(l);
}

static void test_jobs_stop_finishes_queue(void **state)
{
	struct loop *l;
	struct jobs *js;
	int count = 0;
	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(jobs_start(&js, 1, init, fini, NULL), 0);
	for (int i = 0; i < 10; i++) {
		struct tjob *t = calloc(1, sizeof(*t));
		t->job = (struct job){ .run = run, .done = done, .owner = l };
		t->done_count = &count;
		t->total = 1000; /* never stops the loop itself */
		t->l = l;
		jobs_submit(js, &t->job);
	}
	jobs_stop(js); /* runs what is queued; completions wait on the loop */
	loop_free(l);  /* delivers them */
	assert_int_equal(count, 10);
}

/* A job without an owner loop (nobody waits: the quota's store updates)
 * completes on its pool thread, right after it ran. */
static void done_here(struct job *j)
{
	struct tjob *t = (struct tjob *)j;
	assert_true(pthread_equal(t->ran_on, pthread_self()));
	__atomic_add_fetch(t->done_count, 1, __ATOMIC_SEQ_CST);
	free(t);
}

static void test_jobs_without_owner_complete_on_the_pool(void **state)
{
	struct jobs *js;
	int count = 0;
	assert_int_equal(jobs_start(&js, 2, init, fini, NULL), 0);
	for (int i = 0; i < 50; i++) {
		struct tjob *t = calloc(1, sizeof(*t));
		t->job = (struct job){ .run = run, .done = done_here, .owner = NULL };
		t->done_count = &count;
		jobs_submit(js, &t->job);
	}
	jobs_stop(js); /* runs what is queued, done() included: no loop involved */
	assert_int_equal(__atomic_load_n(&count, __ATOMIC_SEQ_CST), 50);
}

/* ---- order: first come, first served; quick jobs first (jobs.h) ---- */

struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int started, open;
};

struct ojob {
	struct job job;
	struct gate *gate; /* the blocker: holds the only thread until opened */
	int id;
	int *order, *n;
};

static void order_run(struct job *j, void *ctx)
{
	struct ojob *o = (struct ojob *)j;
	if (o->gate) {
		pthread_mutex_lock(&o->gate->lock);
		o->gate->started = 1;
		pthread_cond_broadcast(&o->gate->cond);
		while (!o->gate->open)
			pthread_cond_wait(&o->gate->cond, &o->gate->lock);
		pthread_mutex_unlock(&o->gate->lock);
		return;
	}
	o->order[(*o->n)++] = o->id; /* one thread: no race */
}

static void order_done(struct job *j)
{
	free(j);
}

static void order_submit(struct jobs *js, int id, bool quick, int *order, int *n)
{
	struct ojob *o = calloc(1, sizeof(*o));
	o->job = (struct job){ .run = order_run, .done = order_done, .quick = quick };
	o->id = id;
	o->order = order;
	o->n = n;
	jobs_submit(js, &o->job);
}

static void gate_init(struct gate *g)
{
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->started = g->open = 0;
}

/* Submits a blocker (of the I/O class when io) and waits until a thread
 * holds it; it runs until order_release opens the gate. */
static void submit_blocker(struct jobs *js, struct gate *g, bool io)
{
	struct ojob *b = calloc(1, sizeof(*b));
	b->job = (struct job){ .run = order_run, .done = order_done, .io = io };
	b->gate = g;
	jobs_submit(js, &b->job);
	pthread_mutex_lock(&g->lock);
	while (!g->started)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

/* One thread, held by a blocker until every job is queued, so the order
 * the jobs run in is the pool's choice alone (no timing involved). */
static struct jobs *order_pool(struct gate *g)
{
	struct jobs *js;
	gate_init(g);
	assert_int_equal(jobs_start(&js, 1, NULL, NULL, NULL), 0);
	submit_blocker(js, g, false);
	return js;
}

static void order_release(struct jobs *js, struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->open = 1;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
	jobs_stop(js); /* runs everything queued */
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
}

/* Each queue serves in submission order, and a quick job (USER's lookup)
 * is taken before the password checks queued ahead of it: a login passes
 * the checks' queue once (bench/ logins p99). */
static void test_jobs_quick_first_then_fifo(void **state)
{
	struct gate g;
	int order[16], n = 0;
	struct jobs *js = order_pool(&g);
	order_submit(js, 1, false, order, &n);
	order_submit(js, 101, true, order, &n);
	order_submit(js, 2, false, order, &n);
	order_submit(js, 3, false, order, &n);
	order_submit(js, 102, true, order, &n);
	order_submit(js, 4, false, order, &n);
	order_submit(js, 103, true, order, &n);
	order_release(js, &g);
	const int want[] = { 101, 102, 103, 1, 2, 3, 4 };
	assert_int_equal(n, 7);
	for (int i = 0; i < 7; i++)
		assert_int_equal(order[i], want[i]);
}

/* A flood of quick jobs cannot starve the others: one waiting job runs
 * after at most JOBS_QUICK_BURST quick ones, then the count starts again. */
static void test_jobs_quick_burst_is_bounded(void **state)
{
	enum { B = JOBS_QUICK_BURST, Q = 2 * JOBS_QUICK_BURST + 3 };
	struct gate g;
	int order[Q + 2], n = 0;
	struct jobs *js = order_pool(&g);
	order_submit(js, -1, false, order, &n);
	order_submit(js, -2, false, order, &n);
	for (int i = 0; i < Q; i++)
		order_submit(js, i, true, order, &n);
	order_release(js, &g);
	assert_int_equal(n, Q + 2);
	int k = 0;
	for (int i = 0; i < B; i++)
		assert_int_equal(order[k++], i);
	assert_int_equal(order[k++], -1);
	for (int i = B; i < 2 * B; i++)
		assert_int_equal(order[k++], i);
	assert_int_equal(order[k++], -2);
	for (int i = 2 * B; i < Q; i++)
		assert_int_equal(order[k++], i);
}

/* ---- I/O jobs: threads of their own (jobs.h) ---- */

/* Signalled by a job when it ran; waited for with a bound far beyond any
 * scheduling delay (a pool that never runs the job fails, never hangs). */
struct flag {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int set;
};

struct fjob {
	struct job job;
	struct flag *flag;
};

static void flag_run(struct job *j, void *ctx)
{
	struct fjob *f = (struct fjob *)j;
	pthread_mutex_lock(&f->flag->lock);
	f->flag->set = 1;
	pthread_cond_broadcast(&f->flag->cond);
	pthread_mutex_unlock(&f->flag->lock);
}

static void flag_submit(struct jobs *js, struct flag *fl, bool quick, bool io)
{
	pthread_mutex_init(&fl->lock, NULL);
	pthread_cond_init(&fl->cond, NULL);
	fl->set = 0;
	struct fjob *f = calloc(1, sizeof(*f));
	f->job = (struct job){ .run = flag_run, .done = order_done, .quick = quick, .io = io };
	f->flag = fl;
	jobs_submit(js, &f->job);
}

/* 1 once the flag is set, 0 after a minute without. */
static int flag_wait(struct flag *fl)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 60;
	pthread_mutex_lock(&fl->lock);
	int r = 0;
	while (!fl->set && r == 0)
		r = pthread_cond_timedwait(&fl->cond, &fl->lock, &until);
	int set = fl->set;
	pthread_mutex_unlock(&fl->lock);
	return set;
}

static void flag_free(struct flag *fl)
{
	pthread_cond_destroy(&fl->cond);
	pthread_mutex_destroy(&fl->lock);
}

/* A disk-bound job that never ends (a blocked fsync) holds its I/O thread
 * only: quick and slow jobs (a login's lookup and password check) still
 * run on the one other thread, and jobs_queued counts neither it nor the
 * I/O job queued behind it: jobs_io_queued counts the one queued. */
static void test_jobs_io_never_holds_login_threads(void **state)
{
	struct jobs *js;
	struct gate g;
	gate_init(&g);
	assert_int_equal(jobs_start(&js, 1, NULL, NULL, NULL), 0);
	assert_int_equal(jobs_start_io(js, 1), 0);
	submit_blocker(js, &g, true);
	struct flag io2, quick, slow;
	flag_submit(js, &io2, false, true); /* waits behind the blocker */
	flag_submit(js, &quick, true, false);
	flag_submit(js, &slow, false, false);
	assert_int_equal(flag_wait(&quick), 1);
	assert_int_equal(flag_wait(&slow), 1);
	assert_int_equal(io2.set, 0); /* its thread is still held */
	assert_int_equal(jobs_queued(js), 0);
	assert_int_equal(jobs_io_queued(js), 1); /* io2, not the running blocker */
	order_release(js, &g);			 /* the blocker ends; jobs_stop runs io2 */
	assert_int_equal(io2.set, 1);
	flag_free(&io2);
	flag_free(&quick);
	flag_free(&slow);
}

/* The other way round: the jobs of the login threads (all held) never
 * hold up an I/O job (a commit's fsync waits for no password check). */
static void test_jobs_io_runs_while_login_threads_busy(void **state)
{
	struct gate g;
	struct jobs *js = order_pool(&g); /* its only login thread held */
	assert_int_equal(jobs_start_io(js, 1), 0);
	assert_int_equal(jobs_start_io(js, 1), -EALREADY);
	struct flag io;
	flag_submit(js, &io, false, true);
	assert_int_equal(flag_wait(&io), 1);
	order_release(js, &g);
	flag_free(&io);
}

/* I/O jobs run without a thread context (no store handle: jobs.h); the
 * other threads keep theirs (init and fini run for them alone: fini
 * checks the context it gets). */
struct cjob {
	struct job job;
	void **seen; /* where run puts its context */
};

static void ctx_run(struct job *j, void *ctx)
{
	*((struct cjob *)j)->seen = ctx;
}

static void test_jobs_io_has_no_thread_context(void **state)
{
	struct jobs *js;
	int dummy;
	void *seen[2] = { &dummy, &dummy };
	assert_int_equal(jobs_start(&js, 1, init, fini, NULL), 0);
	assert_int_equal(jobs_start_io(js, 2), 0);
	for (int i = 0; i < 2; i++) {
		struct cjob *c = calloc(1, sizeof(*c));
		c->job = (struct job){ .run = ctx_run, .done = order_done, .io = i == 0 };
		c->seen = &seen[i];
		jobs_submit(js, &c->job);
	}
	jobs_stop(js); /* runs both; joining orders their writes before the reads */
	assert_null(seen[0]);
	assert_ptr_equal(seen[1], &ctx_token);
}

/* Without I/O threads (a pool started by jobs_start alone) an I/O job is
 * a slow one: after the quick jobs, first come first served with the
 * other slow ones, and counted as waiting. */
static void test_jobs_io_without_io_threads_is_slow(void **state)
{
	struct gate g;
	int order[8], n = 0;
	struct jobs *js = order_pool(&g);
	order_submit(js, 1, false, order, &n);
	struct ojob *o = calloc(1, sizeof(*o));
	o->job = (struct job){ .run = order_run, .done = order_done, .io = true };
	o->id = 50;
	o->order = order;
	o->n = &n;
	jobs_submit(js, &o->job);
	order_submit(js, 101, true, order, &n);
	order_submit(js, 2, false, order, &n);
	assert_int_equal(jobs_queued(js), 4);
	order_release(js, &g);
	const int want[] = { 101, 1, 50, 2 };
	assert_int_equal(n, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(order[i], want[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jobs_complete_on_loop),
		cmocka_unit_test(test_jobs_stop_finishes_queue),
		cmocka_unit_test(test_jobs_without_owner_complete_on_the_pool),
		cmocka_unit_test(test_jobs_quick_first_then_fifo),
		cmocka_unit_test(test_jobs_quick_burst_is_bounded),
		cmocka_unit_test(test_jobs_io_never_holds_login_threads),
		cmocka_unit_test(test_jobs_io_runs_while_login_threads_busy),
		cmocka_unit_test(test_jobs_io_has_no_thread_context),
		cmocka_unit_test(test_jobs_io_without_io_threads_is_slow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
