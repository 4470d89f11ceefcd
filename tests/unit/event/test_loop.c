/* Event loop: timers fire in deadline order, cancel works, deferred calls
 * run after the round, posts from another thread arrive, watches fire. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "util.h"

struct rec {
	struct loop *l;
	int order[16];
	int n;
	struct loop_timer t[4];
	uint64_t fired[4]; /* util_now_us() when each timer's callback ran */
};

static struct rec *g_rec;

static void on_timer(struct loop_timer *t)
{
	struct rec *r = g_rec;
	int idx = (int)(t - r->t);
	r->fired[idx] = util_now_us();
	r->order[r->n++] = idx;
	if (r->n == 3)
		loop_stop(r->l);
}

/* The three timers ran in deadline order, none before its deadline. The
 * deadlines come from the clock at each arm call, so a slow arming (a tick
 * or a preemption between the calls) moves them: the order is checked
 * against the deadlines the loop was given, not against the delays. */
static void check_deadline_order(const struct rec *r)
{
	assert_int_equal(r->n, 3);
	for (int k = 0; k < 3; k++) {
		const struct loop_timer *t = &r->t[r->order[k]];
		assert_false(loop_timer_armed(t));
		assert_true(r->fired[r->order[k]] >= t->deadline);
		if (k > 0)
			assert_true(r->t[r->order[k - 1]].deadline <= t->deadline);
	}
}

static void test_timer_order(void **state)
{
	struct rec r = { 0 };
	assert_int_equal(loop_new(&r.l), 0);
	g_rec = &r;
	/* t0 before arming: each deadline is at least t0 + its delay (taking
	 * t0 after arming raced with a millisecond tick in between). */
	uint64_t t0 = util_now_us();
	loop_timer_arm(r.l, &r.t[0], 30, on_timer);
	loop_timer_arm(r.l, &r.t[1], 10, on_timer);
	loop_timer_arm(r.l, &r.t[2], 20, on_timer);
	loop_timer_arm(r.l, &r.t[3], 15, on_timer);
	uint64_t t1 = util_now_us();
	loop_timer_cancel(r.l, &r.t[3]);
	assert_false(loop_timer_armed(&r.t[3]));
	assert_int_equal(loop_run(r.l), 0);
	check_deadline_order(&r);
	assert_true(r.fired[0] >= t0 + 30000);
	assert_true(r.fired[1] >= t0 + 10000);
	assert_true(r.fired[2] >= t0 + 20000);
	assert_int_equal(r.fired[3], 0); /* cancelled: never ran */
	/* Arming within 10 ms (always, unless preempted) makes the deadlines
	 * strictly ordered 1 < 2 < 0, so the heap must have reordered them. */
	if (t1 - t0 < 10000) {
		assert_int_equal(r.order[0], 1);
		assert_int_equal(r.order[1], 2);
		assert_int_equal(r.order[2], 0);
	} else {
		print_message("arming took %llu us: order checked by deadline only\n", (unsigned long long)(t1 - t0));
	}
	loop_free(r.l);
}

static void test_timer_rearm(void **state)
{
	struct rec r = { 0 };
	assert_int_equal(loop_new(&r.l), 0);
	g_rec = &r;
	uint64_t t0 = util_now_us();
	loop_timer_arm(r.l, &r.t[0], 10, on_timer);
	loop_timer_arm(r.l, &r.t[0], 40, on_timer); /* re-arm moves it */
	loop_timer_arm(r.l, &r.t[1], 20, on_timer);
	loop_timer_arm(r.l, &r.t[2], 30, on_timer);
	uint64_t t1 = util_now_us();
	assert_int_equal(loop_run(r.l), 0);
	check_deadline_order(&r);
	assert_true(r.fired[0] >= t0 + 40000); /* not at the first arm's 10 ms */
	if (t1 - t0 < 10000) {
		assert_int_equal(r.order[0], 1);
		assert_int_equal(r.order[1], 2);
		assert_int_equal(r.order[2], 0);
	}
	loop_free(r.l);
}

/* Many timers: heap stays consistent under random cancel/arm. */
static void nop_timer(struct loop_timer *t)
{
	(void)t;
}

static void test_timer_heap_many(void **state)
{
	struct loop *l;
	assert_int_equal(loop_new(&l), 0);
	enum { N = 500 };
	static struct loop_timer ts[N];
	memset(ts, 0, sizeof(ts));
	unsigned seed = 7;
	for (int i = 0; i < N; i++)
		loop_timer_arm(l, &ts[i], 1000 + (rand_r(&seed) % 1000), nop_timer);
	for (int i = 0; i < N; i += 3)
		loop_timer_cancel(l, &ts[i]);
	for (int i = 0; i < N; i++)
		assert_int_equal(loop_timer_armed(&ts[i]), i % 3 != 0);
	for (int i = 0; i < N; i++)
		loop_timer_cancel(l, &ts[i]);
	loop_free(l);
}

struct posted {
	struct loop *l;
	int count;
	int deferred_ran;
};

static void on_post(void *arg)
{
	struct posted *p = arg;
	if (++p->count == 100)
		loop_stop(p->l);
}

static void *poster(void *arg)
{
	struct posted *p = arg;
	for (int i = 0; i < 100; i++)
		assert_int_equal(loop_post(p->l, on_post, p), 0);
	return NULL;
}

static void test_post_cross_thread(void **state)
{
	struct posted p = { 0 };
	assert_int_equal(loop_new(&p.l), 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, poster, &p), 0);
	assert_int_equal(loop_run(p.l), 0);
	pthread_join(th, NULL);
	assert_int_equal(p.count, 100);
	loop_free(p.l);
}

struct watched {
	struct loop *l;
	struct loop_watch w;
	int fds[2];
	int fired;
	int deferred;
};

static void on_deferred(void *arg)
{
	struct watched *x = arg;
	x->deferred = x->fired;
	loop_stop(x->l);
}

static void on_readable(struct loop_watch *w, uint32_t ev)
{
	struct watched *x = (struct watched *)((char *)w - offsetof(struct watched, w));
	char c;
	assert_true(ev & EPOLLIN);
	assert_int_equal(read(w->fd, &c, 1), 1);
	x->fired++;
	loop_watch_del(x->l, w);
	assert_int_equal(w->fd, -1);
	loop_defer(x->l, on_deferred, x);
}

static void test_watch_and_defer(void **state)
{
	struct watched x = { 0 };
	assert_int_equal(loop_new(&x.l), 0);
	assert_int_equal(pipe(x.fds), 0);
	assert_int_equal(loop_watch_add(x.l, &x.w, x.fds[0], EPOLLIN, on_readable), 0);
	assert_int_equal(write(x.fds[1], "x", 1), 1);
	assert_int_equal(loop_run(x.l), 0);
	assert_int_equal(x.fired, 1);
	assert_int_equal(x.deferred, 1);
	close(x.fds[0]);
	close(x.fds[1]);
	loop_free(x.l);
}

/* A callback that defers itself again (a session yielding after its share
 * of pipelined commands) must let the loop take new events between its
 * runs, not spin in one round until it stops by itself. */
struct yielder {
	struct loop *l;
	struct loop_watch w;
	int fds[2];
	int runs;          /* times the yielding callback ran */
	int runs_at_event; /* ... when the watch fired; -1: not yet */
};

#define YIELD_MAX_RUNS 100000

static void on_yield(void *arg)
{
	struct yielder *y = arg;
	if (++y->runs == 1) /* an event arrives while it is running */
		assert_int_equal(write(y->fds[1], "x", 1), 1);
	if (y->runs < YIELD_MAX_RUNS && y->runs_at_event < 0)
		loop_defer(y->l, on_yield, y);
	else
		loop_stop(y->l);
}

static void on_yield_readable(struct loop_watch *w, uint32_t ev)
{
	struct yielder *y = (struct yielder *)((char *)w - offsetof(struct yielder, w));
	char c;
	assert_int_equal(read(w->fd, &c, 1), 1);
	y->runs_at_event = y->runs;
	loop_watch_del(y->l, w);
}

static void test_defer_yields_to_events(void **state)
{
	struct yielder y = { .runs_at_event = -1 };
	assert_int_equal(loop_new(&y.l), 0);
	assert_int_equal(pipe(y.fds), 0);
	assert_int_equal(loop_watch_add(y.l, &y.w, y.fds[0], EPOLLIN, on_yield_readable), 0);
	loop_defer(y.l, on_yield, &y);
	assert_int_equal(loop_run(y.l), 0);
	/* The next round's epoll_wait reports it. */
	assert_int_equal(y.runs_at_event, 1);
	close(y.fds[0]);
	close(y.fds[1]);
	loop_free(y.l);
}

/* A sub-millisecond timer: its deadline is kept to the microsecond (not
 * rounded to a whole ms either way) and it never fires before it. How LATE
 * it fires is the scheduler's business, so it is not asserted here; that
 * the wait is not stretched to 1 ms is checked on the pure conversions
 * below. */
static void test_timer_us(void **state)
{
	struct rec r = { 0 };
	assert_int_equal(loop_new(&r.l), 0);
	g_rec = &r;
	uint64_t t0 = util_now_us();
	loop_timer_arm_us(r.l, &r.t[0], 300, on_timer);
	loop_timer_arm_us(r.l, &r.t[1], 100, on_timer);
	loop_timer_arm(r.l, &r.t[2], 2, on_timer); /* ms callers: still ms */
	uint64_t t1 = util_now_us();
	assert_true(r.t[0].deadline >= t0 + 300 && r.t[0].deadline <= t1 + 300);
	assert_true(r.t[1].deadline >= t0 + 100 && r.t[1].deadline <= t1 + 100);
	assert_true(r.t[2].deadline >= t0 + 2000 && r.t[2].deadline <= t1 + 2000);
	assert_int_equal(loop_run(r.l), 0);
	check_deadline_order(&r);
	assert_true(r.fired[0] >= t0 + 300);
	assert_true(r.fired[1] >= t0 + 100);
	assert_true(r.fired[2] >= t0 + 2000);
	/* loop_now() stays in ms, on the same monotonic clock. */
	uint64_t ms = loop_now(r.l);
	assert_true(ms <= util_now_ms() && ms + 1000 > util_now_ms());
	loop_free(r.l);
}

/* The loop's wait for its next deadline: to the nanosecond for
 * epoll_pwait2, and rounded UP to whole ms for the epoll_wait fallback
 * (rounding down would wake early and spin a round for nothing). */
static void test_wait_timeout(void **state)
{
	(void)state;
	struct timespec ts;
	loop_timeout_ts(1300, 1000, &ts); /* a 300 us timer armed at 1000 */
	assert_int_equal(ts.tv_sec, 0);
	assert_int_equal(ts.tv_nsec, 300000);
	loop_timeout_ts(1000, 1000, &ts); /* due */
	assert_int_equal(ts.tv_sec, 0);
	assert_int_equal(ts.tv_nsec, 0);
	loop_timeout_ts(1000, 5000, &ts); /* overdue */
	assert_int_equal(ts.tv_sec, 0);
	assert_int_equal(ts.tv_nsec, 0);
	loop_timeout_ts(2500001, 1, &ts);
	assert_int_equal(ts.tv_sec, 2);
	assert_int_equal(ts.tv_nsec, 500000000);

	assert_int_equal(loop_timeout_ms(1300, 1000), 1);	   /* 300 us → 1 ms, not 0 */
	assert_int_equal(loop_timeout_ms(2000, 1000), 1);	   /* exactly 1 ms */
	assert_int_equal(loop_timeout_ms(2001, 1000), 2);	   /* 1.001 ms → 2 */
	assert_int_equal(loop_timeout_ms(1000, 1000), 0);	   /* due */
	assert_int_equal(loop_timeout_ms(1000, 5000), 0);	   /* overdue */
	assert_int_equal(loop_timeout_ms(UINT64_MAX, 0), INT_MAX); /* capped */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timer_order),	cmocka_unit_test(test_timer_rearm),
		cmocka_unit_test(test_timer_heap_many), cmocka_unit_test(test_post_cross_thread),
		cmocka_unit_test(test_watch_and_defer), cmocka_unit_test(test_defer_yields_to_events),
		cmocka_unit_test(test_timer_us),	cmocka_unit_test(test_wait_timeout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
