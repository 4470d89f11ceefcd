/* guard_sync: two guards (two ferryd) sharing their bans through one SQLite
 * store in a fresh mkdtemp() directory, each with its sync thread: failures
 * queued on both add up in the store, the ban reaches both guards, and a
 * ban removed from the store ends in both. Waits are bounded polls of the
 * guards' state (the threads read the store every half second). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "guard_sync.h"
#include "metrics.h"
#include "util.h"

#define WAIT_MS 10000u

static const struct guard_limits lim = {
	.ban_failures = 3,
	.ban_window_ms = 600000,
	.ban_time_ms = 600000,
	.ban_max_ms = 3600000,
};

struct fixture {
	char dir[64];
	struct config *cfg;
	struct guard *g[2];
	struct guard_sync *gs[2];
	struct metrics m[2];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char err[512];
	struct userstore *s = NULL;
	if (!fx)
		return -1;
	(void)snprintf(fx->dir, sizeof(fx->dir), "/tmp/ferry-test-sync-XXXXXX");
	fx->cfg = config_new_default();
	if (!mkdtemp(fx->dir) || !fx->cfg)
		return -1;
	(void)snprintf(fx->cfg->sqlite_path, sizeof(fx->cfg->sqlite_path), "%s/users.db", fx->dir);
	if (store_sqlite_ops.open(fx->cfg, USERSTORE_CREATE, &s, err, sizeof(err)) != 0)
		return -1;
	store_sqlite_ops.close(s);
	for (int i = 0; i < 2; i++) {
		fx->g[i] = guard_new(&lim);
		if (guard_sync_start(&fx->gs[i], fx->g[i], &store_sqlite_ops, fx->cfg, &fx->m[i], err, sizeof(err)))
			return -1;
	}
	*state = fx;
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	for (int i = 0; i < 2; i++) {
		guard_sync_stop(fx->gs[i]);
		guard_free(fx->g[i]);
	}
	config_unref(fx->cfg);
	int r = nftw(fx->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return r == 0 ? 0 : -1;
}

static struct guard_key key(const char *ip)
{
	struct guard_key k;
	assert_int_equal(guard_key_parse(ip, &k), 0);
	return k;
}

/* Polls until guard g says v for k (bounded). */
static void wait_verdict(struct guard *g, const struct guard_key *k, enum guard_verdict v)
{
	for (unsigned t = 0; t < WAIT_MS; t += 10) {
		enum guard_verdict got = guard_connect(g, k, util_now_ms(), NULL);
		if (got == GUARD_OK)
			guard_disconnect(g, k);
		if (got == v)
			return;
		(void)usleep(10000);
	}
	fail_msg("no verdict %d after %u ms", (int)v, WAIT_MS);
}

/* A failed login counted in guard i, and queued for the store, as
 * auth_event does. */
static void failed(struct fixture *fx, int i, const struct guard_key *k)
{
	uint64_t now = util_now_ms();
	(void)guard_login_failed(fx->g[i], k, now);
	guard_failure_share(fx->g[i], k, now, 1, "192.0.2.44");
}

static void test_failures_add_up_and_the_ban_reaches_both(void **state)
{
	struct fixture *fx = *state;
	struct guard_key k = key("192.0.2.44"), other = key("192.0.2.45");
	failed(fx, 0, &k);
	failed(fx, 0, &k);
	failed(fx, 1, &k); /* neither guard saw three; the store did */
	wait_verdict(fx->g[0], &k, GUARD_BANNED);
	wait_verdict(fx->g[1], &k, GUARD_BANNED);
	assert_int_equal(guard_connect(fx->g[0], &other, util_now_ms(), NULL), GUARD_OK);
	/* The guard that counted the third failure started the ban. */
	assert_int_equal(atomic_load(&fx->m[0].bans) + atomic_load(&fx->m[1].bans), 1);
	/* Lifted in the store (ferry ban del): lifted in both. */
	char err[512];
	struct userstore *s = NULL;
	assert_int_equal(store_sqlite_ops.open(fx->cfg, 0, &s, err, sizeof(err)), 0);
	assert_int_equal(store_sqlite_ops.ban_remove(s, "192.0.2.44"), 0);
	store_sqlite_ops.close(s);
	wait_verdict(fx->g[0], &k, GUARD_OK);
	wait_verdict(fx->g[1], &k, GUARD_OK);
}

/* Stopping with failures still queued loses them, nothing else (the
 * sanitizers watch); a guard whose sharing stopped keeps its own count. */
static void test_stop_with_failures_queued(void **state)
{
	struct fixture *fx = *state;
	struct guard_key k = key("2001:db8::1"), j = key("2001:db8:0:1::1");
	for (int i = 0; i < 200; i++)
		failed(fx, i & 1, &k);
	guard_sync_stop(fx->gs[0]);
	fx->gs[0] = NULL;
	for (int i = 0; i < 3; i++)
		failed(fx, 0, &j);
	assert_int_equal(guard_connect(fx->g[0], &j, util_now_ms(), NULL), GUARD_BANNED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_failures_add_up_and_the_ban_reaches_both, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_with_failures_queued, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
