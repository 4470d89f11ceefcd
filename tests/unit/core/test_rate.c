/* rate: token buckets with an injected clock (no real time). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rate.h"

#define T0 (1000ull * 1000 * 1000) /* µs: a clock well past its first burst */
#define MB (1024ull * 1024)

static void test_unlimited(void **state)
{
	(void)state;
	struct rate_bucket b;
	rate_init(&b, 0, T0);
	assert_false(rate_limited(&b));
	assert_false(rate_limited(NULL));
	assert_int_equal(rate_take(&b, 5 * MB, T0), 5 * MB);
	assert_int_equal(rate_take(NULL, 7, T0), 7);
	assert_int_equal(rate_wait_us(&b, 5 * MB, T0), 0);
	uint64_t w = 9;
	assert_int_equal(rate_take2(NULL, &b, 123, T0, &w), 123);
	assert_int_equal(w, 0);
}

static void test_burst_size(void **state)
{
	(void)state;
	assert_int_equal(rate_burst(20 * MB), 2 * MB); /* 100 ms worth */
	assert_int_equal(rate_burst(1000), 64 * 1024); /* at least a chunk */
	assert_int_equal(rate_burst(RATE_MAX), 1ull << 30);
}

/* A fresh bucket holds one burst; then it refills at the rate and never
 * holds more than a burst however long it stays idle. */
static void test_burst_then_refill(void **state)
{
	(void)state;
	struct rate_bucket b;
	rate_init(&b, 10 * MB, T0);
	assert_true(rate_limited(&b));
	uint64_t burst = rate_burst(10 * MB);
	assert_int_equal(rate_take(&b, 100 * MB, T0), burst);
	assert_int_equal(rate_take(&b, 1, T0), 0);
	/* 10 ms later: 10 ms worth. */
	assert_int_equal(rate_take(&b, 100 * MB, T0 + 10000), 10 * MB / 100);
	/* an hour idle: still one burst */
	uint64_t later = T0 + 3600ull * 1000 * 1000;
	assert_int_equal(rate_take(&b, 100 * MB, later), burst);
	assert_int_equal(rate_take(&b, 100 * MB, later), 0);
}

/* Over 10 s of steady asking, what is granted is the rate times the time
 * plus the first burst: within 1% at 20 MiB/s. */
static void test_long_run_accuracy(void **state)
{
	(void)state;
	struct rate_bucket b;
	rate_init(&b, 20 * MB, T0);
	uint64_t total = 0;
	for (uint64_t t = 0; t <= 10ull * 1000 * 1000; t += 777)
		total += rate_take(&b, 64 * 1024, T0 + t);
	uint64_t ideal = 10 * 20 * MB;
	assert_true(total >= ideal - 64 * 1024);
	assert_true(total <= ideal + rate_burst(20 * MB) + 64 * 1024);
	assert_true(total * 100 <= ideal * 101);
}

/* How long until n bytes may go; then exactly that. */
static void test_wait(void **state)
{
	(void)state;
	struct rate_bucket b;
	rate_init(&b, 1000 * 1000, T0); /* 1 byte per µs */
	assert_int_equal(rate_wait_us(&b, 1000, T0), 0);
	(void)rate_take(&b, rate_burst(1000 * 1000), T0);
	assert_int_equal(rate_wait_us(&b, 1000, T0), 1000);
	assert_int_equal(rate_take(&b, 1000, T0 + 999), 999);
	assert_int_equal(rate_wait_us(&b, 1000, T0 + 999), 1000);
	/* asking for more than a burst waits for a burst */
	assert_int_equal(rate_wait_us(&b, 1ull << 40, T0 + 999), rate_burst(1000 * 1000));
	assert_int_equal(rate_resume(&b), 10000); /* 10 ms worth */
}

/* Bytes granted and not moved go back; a charge (a listing chunk already
 * made) puts the bucket in debt and the next grant waits for it. */
static void test_give_back_and_charge(void **state)
{
	(void)state;
	struct rate_bucket b;
	rate_init(&b, 1000 * 1000, T0);
	uint64_t burst = rate_burst(1000 * 1000);
	assert_int_equal(rate_take(&b, burst, T0), burst);
	rate_give_back(&b, 5000);
	assert_int_equal(rate_take(&b, burst, T0), 5000);
	rate_charge(&b, 20000, T0);
	assert_int_equal(rate_take(&b, 1, T0 + 19999), 0);
	assert_int_equal(rate_wait_us(&b, 1, T0), 20001);
	assert_int_equal(rate_take(&b, 100, T0 + 20100), 100);
}

/* A session's bucket in front of the server's: the smaller grant wins and
 * both lose what went; an empty server bucket gives the session's back. */
static void test_take2(void **state)
{
	(void)state;
	struct rate_bucket own, srv;
	rate_init(&own, 1000 * 1000, T0);
	rate_init(&srv, 2000 * 1000, T0);
	uint64_t w = 0;
	uint64_t ob = rate_burst(1000 * 1000), sb = rate_burst(2000 * 1000);
	assert_int_equal(rate_take2(&own, &srv, 1ull << 30, T0, &w), ob);
	assert_int_equal(w, 0);
	assert_int_equal(rate_take(&srv, 1ull << 30, T0), sb - ob);
	/* server empty, session full again after 100 ms: nothing, and the
	 * session keeps its tokens */
	rate_charge(&srv, 400000, T0 + 100000); /* paid until T0 + 200 ms */
	assert_int_equal(rate_take2(&own, &srv, 1000, T0 + 100000, &w), 0);
	assert_int_equal(w, 100000 + 10000); /* the debt, then 10 ms worth */
	assert_int_equal(rate_take(&own, 1ull << 30, T0 + 100000), 100000);
	/* a sliver is not granted: it waits for 10 ms worth */
	rate_init(&srv, 0, T0);
	rate_init(&own, 1000 * 1000, T0);
	assert_int_equal(rate_take(&own, 1ull << 30, T0), ob);
	assert_int_equal(rate_take2(&own, &srv, 65536, T0 + 50, &w), 0);
	assert_int_equal(w, 10000 - 50);
	assert_int_equal(rate_take2(&own, &srv, 65536, T0 + 10000, &w), 10000);
	assert_int_equal(rate_take2(&own, &srv, 100, T0 + 10100, &w), 100); /* less wanted: less needed */
	rate_init(&srv, 2000 * 1000, T0);
	/* either bucket alone */
	rate_init(&own, 0, T0);
	assert_int_equal(rate_take2(&own, &srv, 1000, T0 + 400000, &w), 1000);
	assert_int_equal(rate_take2(NULL, NULL, 1000, T0, &w), 1000);
	/* a reload's new rate applies to the next grants */
	rate_set(&srv, 0);
	assert_int_equal(rate_take2(NULL, &srv, 1ull << 35, T0, &w), 1ull << 35);
}

/* A step's settlement on both buckets: what was not moved comes back,
 * what was moved beyond the grant is owed by both. */
static void test_settle2(void **state)
{
	(void)state;
	struct rate_bucket own, srv;
	uint64_t w = 0;
	rate_init(&own, 1000 * 1000, T0);
	rate_init(&srv, 1000 * 1000, T0);
	uint64_t burst = rate_burst(1000 * 1000);
	assert_int_equal(rate_take2(&own, &srv, burst, T0, &w), burst);
	rate_settle2(&own, &srv, burst, burst - 5000, T0);
	assert_int_equal(rate_take(&own, burst, T0), 5000);
	assert_int_equal(rate_take(&srv, burst, T0), 5000);
	rate_settle2(&own, &srv, 0, 20000, T0);
	assert_int_equal(rate_wait_us(&own, 1, T0), 20001);
	assert_int_equal(rate_wait_us(&srv, 1, T0), 20001);
	rate_settle2(&own, &srv, 100, 100, T0); /* moved what was granted: nothing */
	assert_int_equal(rate_wait_us(&own, 1, T0), 20001);
	rate_settle2(NULL, NULL, 10, 20, T0); /* no buckets: nothing */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_burst_size),
		cmocka_unit_test(test_burst_then_refill),
		cmocka_unit_test(test_long_run_accuracy),
		cmocka_unit_test(test_wait),
		cmocka_unit_test(test_give_back_and_charge),
		cmocka_unit_test(test_take2),
		cmocka_unit_test(test_settle2),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
