/* guard: per-address and per-user limits, with explicit clocks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "guard.h"

static const struct guard_limits base = {
	.max_per_ip = 3,
	.max_per_user = 2,
	.connect_rate = 2,
	.connect_burst = 5,
	.ban_failures = 3,
	.ban_window_ms = 60000,
	.ban_time_ms = 10000,
	.ban_max_ms = 35000,
};

static struct guard_key key4(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;
	a->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
	struct guard_key k;
	guard_key_from_addr(&ss, &k);
	return k;
}

static struct guard_key key6(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
	a->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
	struct guard_key k;
	guard_key_from_addr(&ss, &k);
	return k;
}

static void test_keys(void **state)
{
	(void)state;
	char text[64];
	struct guard_key a = key4("192.0.2.7"), m = key6("::ffff:192.0.2.7");
	assert_memory_equal(&a, &m, sizeof(a)); /* v4-mapped is the same client */
	guard_key_format(&a, text, sizeof(text));
	assert_string_equal(text, "192.0.2.7");
	struct guard_key b = key4("192.0.2.8");
	assert_memory_not_equal(&a, &b, sizeof(a));
	/* IPv6: one /64 is one client, the next /64 another. */
	struct guard_key x = key6("2001:db8:1:2::1"), y = key6("2001:db8:1:2:ffff:1:2:3"), z = key6("2001:db8:1:3::1");
	assert_memory_equal(&x, &y, sizeof(x));
	assert_memory_not_equal(&x, &z, sizeof(x));
	guard_key_format(&y, text, sizeof(text));
	assert_string_equal(text, "2001:db8:1:2::/64");
}

static void test_per_ip(void **state)
{
	(void)state;
	struct guard_limits lim = base;
	lim.connect_rate = 0; /* only the session count here */
	struct guard *g = guard_new(&lim);
	struct guard_key a = key4("192.0.2.1"), b = key4("192.0.2.2");
	for (int i = 0; i < 3; i++)
		assert_int_equal(guard_connect(g, &a, 0, NULL), GUARD_OK);
	assert_int_equal(guard_connect(g, &a, 0, NULL), GUARD_PER_IP);
	assert_int_equal(guard_connect(g, &b, 0, NULL), GUARD_OK); /* others unaffected */
	guard_disconnect(g, &a);
	assert_int_equal(guard_connect(g, &a, 0, NULL), GUARD_OK);
	assert_int_equal(guard_connect(g, &a, 0, NULL), GUARD_PER_IP);
	guard_free(g);
}

static void test_rate(void **state)
{
	(void)state;
	struct guard_limits lim = base;
	lim.max_per_ip = 0;
	struct guard *g = guard_new(&lim);
	struct guard_key a = key4("192.0.2.1");
	uint64_t retry = 99;
	for (int i = 0; i < 5; i++) /* the burst */
		assert_int_equal(guard_connect(g, &a, 1000, &retry), GUARD_OK);
	assert_int_equal(guard_connect(g, &a, 1000, &retry), GUARD_RATE);
	assert_int_equal(retry, 500); /* 2 per second: one every 500 ms */
	assert_int_equal(guard_connect(g, &a, 1499, NULL), GUARD_RATE);
	assert_int_equal(guard_connect(g, &a, 1500, NULL), GUARD_OK);
	assert_int_equal(guard_connect(g, &a, 1500, NULL), GUARD_RATE);
	/* A long pause refills up to the burst, not beyond. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(guard_connect(g, &a, 100000, NULL), GUARD_OK);
	assert_int_equal(guard_connect(g, &a, 100000, NULL), GUARD_RATE);
	guard_free(g);
}

static void test_ban_grows_and_is_forgotten(void **state)
{
	(void)state;
	struct guard_limits lim = base;
	lim.connect_rate = 0;
	struct guard *g = guard_new(&lim);
	struct guard_key a = key4("192.0.2.1"), b = key4("192.0.2.2");
	uint64_t t = 1000, retry = 0;
	assert_int_equal(guard_login_failed(g, &a, t), 0);
	assert_int_equal(guard_login_failed(g, &a, t + 1), 0);
	assert_int_equal(guard_login_failed(g, &a, t + 2), 10000); /* third failure: banned */
	assert_int_equal(guard_bans_active(g, t + 2), 1);
	assert_int_equal(guard_connect(g, &a, t + 3, &retry), GUARD_BANNED);
	assert_int_equal(retry, 9999);
	assert_int_equal(guard_connect(g, &b, t + 3, NULL), GUARD_OK);
	t += 2 + 10000; /* the ban ends */
	assert_int_equal(guard_connect(g, &a, t, NULL), GUARD_OK);
	assert_int_equal(guard_bans_active(g, t), 0);
	/* A repeat offence doubles the ban, then it is capped at ban_max. */
	for (int i = 0; i < 2; i++)
		assert_int_equal(guard_login_failed(g, &a, t), 0);
	assert_int_equal(guard_login_failed(g, &a, t), 20000);
	t += 20000;
	for (int i = 0; i < 2; i++)
		assert_int_equal(guard_login_failed(g, &a, t), 0);
	assert_int_equal(guard_login_failed(g, &a, t), 35000);
	t += 35000;
	/* ban_max after the last ban the record is clean again. */
	t += 35000;
	for (int i = 0; i < 2; i++)
		assert_int_equal(guard_login_failed(g, &a, t), 0);
	assert_int_equal(guard_login_failed(g, &a, t), 10000);
	guard_free(g);
}

static void test_failures_outside_window_do_not_add_up(void **state)
{
	(void)state;
	struct guard *g = guard_new(&base);
	struct guard_key a = key4("192.0.2.1");
	assert_int_equal(guard_login_failed(g, &a, 0), 0);
	assert_int_equal(guard_login_failed(g, &a, 1), 0);
	assert_int_equal(guard_login_failed(g, &a, 60001), 0); /* a new window */
	assert_int_equal(guard_login_failed(g, &a, 60002), 0);
	assert_int_equal(guard_login_failed(g, &a, 60003), 10000);
	guard_free(g);
}

static void test_bans_off(void **state)
{
	(void)state;
	struct guard_limits lim = base;
	lim.ban_failures = 0;
	struct guard *g = guard_new(&lim);
	struct guard_key a = key4("192.0.2.1");
	for (int i = 0; i < 100; i++)
		assert_int_equal(guard_login_failed(g, &a, (uint64_t)i), 0);
	assert_int_equal(guard_connect(g, &a, 100, NULL), GUARD_OK);
	guard_free(g);
}

static void test_per_user(void **state)
{
	(void)state;
	struct guard *g = guard_new(&base);
	assert_true(guard_user_acquire(g, "bob"));
	assert_true(guard_user_acquire(g, "bob"));
	assert_false(guard_user_acquire(g, "bob"));
	assert_true(guard_user_acquire(g, "alice"));
	guard_user_release(g, "bob");
	assert_true(guard_user_acquire(g, "bob"));
	guard_user_release(g, "bob");
	guard_user_release(g, "bob");
	guard_user_release(g, "bob"); /* extra release: harmless */
	assert_true(guard_user_acquire(g, "bob"));
	assert_true(guard_user_acquire(g, "bob"));
	/* New limits apply at once; counts are kept. */
	struct guard_limits lim = base;
	lim.max_per_user = 0;
	guard_set_limits(g, &lim);
	assert_true(guard_user_acquire(g, "bob"));
	guard_free(g);
}

/* Many addresses that come once and go leave no lasting entries: the
 * sweep keeps the table bounded (checked through behaviour: a swept
 * address starts with a full bucket). */
static void test_sweep_keeps_state_that_matters(void **state)
{
	(void)state;
	struct guard_limits lim = base;
	lim.max_per_ip = 0;
	struct guard *g = guard_new(&lim);
	struct guard_key banned = key4("198.51.100.1"), busy = key4("198.51.100.2");
	for (int i = 0; i < 3; i++)
		(void)guard_login_failed(g, &banned, 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(guard_connect(g, &busy, 0, NULL), GUARD_OK);
	char ip[32];
	for (unsigned i = 0; i < 5000; i++) {
		(void)snprintf(ip, sizeof(ip), "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		struct guard_key k = key4(ip);
		assert_int_equal(guard_connect(g, &k, 1000 + i, NULL), GUARD_OK);
		guard_disconnect(g, &k);
	}
	/* The ban and the empty bucket survived the sweeps. */
	assert_int_equal(guard_connect(g, &banned, 6000, NULL), GUARD_BANNED);
	assert_int_equal(guard_connect(g, &busy, 0, NULL), GUARD_RATE);
	guard_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_per_ip),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_ban_grows_and_is_forgotten),
		cmocka_unit_test(test_failures_outside_window_do_not_add_up),
		cmocka_unit_test(test_bans_off),
		cmocka_unit_test(test_per_user),
		cmocka_unit_test(test_sweep_keeps_state_that_matters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
