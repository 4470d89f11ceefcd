/* Job pool: jobs run off the loop thread with their thread's context and
 * complete on the submitting loop. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jobs_complete_on_loop),
		cmocka_unit_test(test_jobs_stop_finishes_queue),
		cmocka_unit_test(test_jobs_without_owner_complete_on_the_pool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
