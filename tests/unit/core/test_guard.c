/* guard: per-address and per-user limits, with explicit clocks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
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

static void test_key_parse(void **state)
{
	(void)state;
	struct guard_key k, want;
	char text[64];
	assert_int_equal(guard_key_parse("192.0.2.7", &k), 0);
	want = key4("192.0.2.7");
	assert_memory_equal(&k, &want, sizeof(k));
	assert_int_equal(guard_key_parse("::ffff:192.0.2.7", &k), 0); /* the same client */
	assert_memory_equal(&k, &want, sizeof(k));
	/* An IPv6 address means its /64, written either way. */
	want = key6("2001:db8:1:2::5");
	assert_int_equal(guard_key_parse("2001:db8:1:2:ffff::9", &k), 0);
	assert_memory_equal(&k, &want, sizeof(k));
	guard_key_format(&k, text, sizeof(text));
	assert_int_equal(guard_key_parse(text, &k), 0);
	assert_memory_equal(&k, &want, sizeof(k));
	const char *bad[] = { "", "x", "192.0.2.7/64", "192.0.2.256", "2001:db8::/48", "2001:db8::/64 ", "/64",
			      "1.2.3" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(guard_key_parse(bad[i], &k), -EINVAL);
}

static void note(void *arg)
{
	(*(unsigned *)arg)++;
}

/* Shared failures wait in a bounded queue, oldest first; nothing is queued
 * without sharing or with bans off; a full queue drops and says how many. */
static void test_failure_queue(void **state)
{
	(void)state;
	struct guard_limits lim = base;
	struct guard *g = guard_new(&lim);
	struct guard_key a = key4("192.0.2.1"), b = key4("192.0.2.2");
	struct guard_failure f[4];
	uint64_t dropped = 9;
	unsigned woken = 0;
	guard_failure_share(g, &a, 1, 1, "192.0.2.1"); /* not sharing: dropped silently */
	guard_share(g, note, &woken);
	guard_failure_share(g, &a, 5, 7, "192.0.2.1");
	guard_failure_share(g, &b, 6, 8, "192.0.2.2");
	assert_int_equal(woken, 2);
	assert_int_equal(guard_failures_take(g, f, 4, &dropped), 2);
	assert_int_equal(dropped, 0);
	assert_memory_equal(&f[0].key, &a, sizeof(a));
	assert_int_equal(f[0].at_ms, 5);
	assert_int_equal(f[0].sid, 7);
	assert_string_equal(f[1].ip, "192.0.2.2");
	assert_int_equal(guard_failures_take(g, f, 4, &dropped), 0);
	for (unsigned i = 0; i < 1030; i++)
		guard_failure_share(g, &a, i, i, "192.0.2.1");
	size_t n = 0, got;
	while ((got = guard_failures_take(g, f, 4, &dropped)) > 0) {
		if (n == 0)
			assert_int_equal(dropped, 6);
		n += got;
	}
	assert_int_equal(n, 1024);
	assert_int_equal(f[3].at_ms, 1023); /* the last full batch */
	lim.ban_failures = 0;
	guard_set_limits(g, &lim);
	guard_failure_share(g, &a, 1, 1, "192.0.2.1");
	assert_int_equal(guard_failures_take(g, f, 4, &dropped), 0);
	guard_share(g, NULL, NULL);
	guard_free(g);
}

/* The store's bans become the guard's; a pass lifts the store's bans that
 * are gone from it, never a ban this node counted on its own. */
static void test_store_bans(void **state)
{
	(void)state;
	struct guard_limits lim = base;
	lim.connect_rate = 0;
	struct guard *g = guard_new(&lim);
	struct guard_key a = key4("192.0.2.1"), b = key4("192.0.2.2"), own = key4("192.0.2.3");
	uint64_t retry = 0;
	for (int i = 0; i < 3; i++)
		(void)guard_login_failed(g, &own, 100);
	/* a: banned by another node (new here); then confirmed again. */
	assert_true(guard_ban_apply(g, &a, 5000, 100));
	assert_int_equal(guard_connect(g, &a, 200, &retry), GUARD_BANNED);
	assert_int_equal(retry, 4800);
	assert_false(guard_ban_apply(g, &a, 6000, 200));
	/* own: this node banned it first; the store's count agrees. */
	assert_false(guard_ban_apply(g, &own, 10100, 150));
	/* A pass that lists a and own leaves all as they are... */
	guard_bans_pass(g);
	assert_false(guard_ban_apply(g, &a, 6000, 300));
	assert_false(guard_ban_apply(g, &own, 10100, 300));
	assert_int_equal(guard_bans_pass_end(g, 300), 0);
	assert_int_equal(guard_bans_active(g, 300), 2);
	/* ... one that lists only own lifts a (ferry ban del)... */
	guard_bans_pass(g);
	assert_false(guard_ban_apply(g, &own, 10100, 400));
	assert_int_equal(guard_bans_pass_end(g, 400), 1);
	assert_int_equal(guard_connect(g, &a, 400, NULL), GUARD_OK);
	/* ... and its failures and offences are forgotten: three more are a
	 * first ban again. */
	for (int i = 0; i < 2; i++)
		assert_int_equal(guard_login_failed(g, &a, 500), 0);
	assert_int_equal(guard_login_failed(g, &a, 500), 10000);
	/* b: banned here while the store could not be told: no pass lifts it. */
	for (int i = 0; i < 3; i++)
		(void)guard_login_failed(g, &b, 500);
	guard_bans_pass(g);
	assert_int_equal(guard_bans_pass_end(g, 600), 1); /* own, gone from the store */
	assert_int_equal(guard_connect(g, &b, 600, NULL), GUARD_BANNED);
	assert_int_equal(guard_connect(g, &a, 600, NULL), GUARD_BANNED); /* counted here, never shared */
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
		cmocka_unit_test(test_key_parse),
		cmocka_unit_test(test_failure_queue),
		cmocka_unit_test(test_store_bans),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
