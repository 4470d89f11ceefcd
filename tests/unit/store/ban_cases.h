/* The shared bans (userstore.h ban_*) as both stores must keep them:
 * included by test_store_sqlite.c and test_store_pg.c, which run each case
 * on an open handle of their store. The numbers are test_guard.c's (the
 * guard's own count of the same rule, core/guard.c), so the store and the
 * guard ban alike. Needs cmocka, pthread.h, errno.h, string.h and
 * userstore.h included first. */
#ifndef FERRY_TEST_BAN_CASES_H
#define FERRY_TEST_BAN_CASES_H

static const struct ban_rule ban_base = { .failures = 3, .window_ms = 60000, .ban_ms = 10000, .max_ms = 35000 };

/* One failure; returns the ban it started (ms from t), 0 if none. */
static int64_t ban_fail_at(const struct userstore_ops *ops, struct userstore *s, const char *a,
			   const struct ban_rule *rule, int64_t t)
{
	int64_t until = -1;
	bool started = true;
	assert_int_equal(ops->ban_fail(s, a, rule, t, &until, &started), 0);
	if (!started)
		return 0;
	assert_true(until > t);
	return until - t;
}

struct ban_seen {
	char text[256];
	unsigned n;
};

static int ban_collect(const char *address, int64_t until, void *arg)
{
	struct ban_seen *b = arg;
	size_t used = strlen(b->text);
	(void)snprintf(b->text + used, sizeof(b->text) - used, "%s%s=%lld", b->n ? " " : "", address, (long long)until);
	b->n++;
	return 0;
}

static const char *ban_listing(const struct userstore_ops *ops, struct userstore *s, int64_t now, struct ban_seen *b)
{
	memset(b, 0, sizeof(*b));
	assert_int_equal(ops->ban_list(s, now, ban_collect, b), 0);
	return b->text;
}

/* The ban grows with repeat offences, is capped, and is forgotten ban_max
 * after the last one; others are not affected; the list shows bans only. */
static void ban_case_rule(const struct userstore_ops *ops, struct userstore *s)
{
	const char *a = "192.0.2.1", *b = "2001:db8:1:2::/64";
	struct ban_seen seen;
	int64_t t = 1700000000000;
	assert_int_equal(ban_fail_at(ops, s, a, &ban_base, t), 0);
	assert_int_equal(ban_fail_at(ops, s, b, &ban_base, t), 0);
	assert_int_equal(ban_fail_at(ops, s, a, &ban_base, t + 1), 0);
	assert_string_equal(ban_listing(ops, s, t + 1, &seen), "");
	assert_int_equal(ban_fail_at(ops, s, a, &ban_base, t + 2), 10000); /* third: banned */
	assert_string_equal(ban_listing(ops, s, t + 3, &seen), "192.0.2.1=1700000010002");
	t += 2 + 10000; /* the ban ends: listed no more */
	assert_string_equal(ban_listing(ops, s, t, &seen), "");
	for (int i = 0; i < 2; i++)
		assert_int_equal(ban_fail_at(ops, s, a, &ban_base, t), 0);
	assert_int_equal(ban_fail_at(ops, s, a, &ban_base, t), 20000); /* repeat: doubled */
	t += 20000;
	for (int i = 0; i < 2; i++)
		assert_int_equal(ban_fail_at(ops, s, a, &ban_base, t), 0);
	assert_int_equal(ban_fail_at(ops, s, a, &ban_base, t), 35000); /* capped */
	t += 35000 + 35000;					       /* ban_max later: a clean record */
	for (int i = 0; i < 2; i++)
		assert_int_equal(ban_fail_at(ops, s, a, &ban_base, t), 0);
	assert_int_equal(ban_fail_at(ops, s, a, &ban_base, t), 10000);
	/* b's one failure long ago never added up to anything. */
	assert_int_equal(ban_fail_at(ops, s, b, &ban_base, t), 0);
	assert_int_equal(ban_fail_at(ops, s, b, &ban_base, t), 0);
	assert_int_equal(ban_fail_at(ops, s, b, &ban_base, t), 10000);
	assert_int_equal(ban_listing(ops, s, t, &seen)[0] != '\0', 1);
	assert_int_equal(seen.n, 2);
	assert_int_equal(ops->ban_remove(s, a), 0);
	assert_int_equal(ops->ban_remove(s, b), 0);
}

/* Failures further apart than the window do not add up; a threshold of one
 * bans at the first failure (the row is new) and the next doubles it. */
static void ban_case_window_and_one(const struct userstore_ops *ops, struct userstore *s)
{
	const char *a = "198.51.100.7", *c = "198.51.100.8";
	struct ban_rule one = ban_base;
	one.failures = 1;
	assert_int_equal(ban_fail_at(ops, s, a, &ban_base, 0), 0);
	assert_int_equal(ban_fail_at(ops, s, a, &ban_base, 1), 0);
	assert_int_equal(ban_fail_at(ops, s, a, &ban_base, 60001), 0); /* a new window */
	assert_int_equal(ban_fail_at(ops, s, a, &ban_base, 60002), 0);
	assert_int_equal(ban_fail_at(ops, s, a, &ban_base, 60003), 10000);
	assert_int_equal(ban_fail_at(ops, s, c, &one, 5000), 10000);
	assert_int_equal(ban_fail_at(ops, s, c, &one, 5001), 20000);
	assert_int_equal(ops->ban_remove(s, a), 0);
	assert_int_equal(ops->ban_remove(s, c), 0);
}

/* ferry ban del forgets the ban and the failures; purge keeps what still
 * counts and deletes the rest. */
static void ban_case_remove_and_purge(const struct userstore_ops *ops, struct userstore *s)
{
	const char *a = "203.0.113.1", *b = "203.0.113.2", *c = "203.0.113.3";
	struct ban_seen seen;
	int64_t t = 1000000;
	assert_int_equal(ops->ban_remove(s, a), -ENOENT);
	for (int i = 0; i < 2; i++)
		assert_int_equal(ban_fail_at(ops, s, a, &ban_base, t), 0);
	assert_int_equal(ban_fail_at(ops, s, a, &ban_base, t), 10000);
	assert_int_equal(ops->ban_remove(s, a), 0);
	assert_string_equal(ban_listing(ops, s, t, &seen), "");
	for (int i = 0; i < 2; i++)
		assert_int_equal(ban_fail_at(ops, s, a, &ban_base, t), 0); /* counting starts over */
	assert_int_equal(ops->ban_remove(s, a), 0);
	/* b: banned at t (offences remembered until t + 10000 + 35000); c: one
	 * failure at t + 40000 (in its window until t + 100000). */
	for (int i = 0; i < 3; i++)
		(void)ban_fail_at(ops, s, b, &ban_base, t);
	assert_int_equal(ban_fail_at(ops, s, c, &ban_base, t + 40000), 0);
	assert_int_equal(ops->ban_purge(s, &ban_base, t + 45000), 0); /* b still counts */
	assert_int_equal(ops->ban_purge(s, &ban_base, t + 45001), 0);
	assert_int_equal(ops->ban_remove(s, b), -ENOENT); /* purged */
	assert_int_equal(ops->ban_purge(s, &ban_base, t + 99999), 0);
	assert_int_equal(ops->ban_remove(s, c), 0); /* was kept */
}

#define BAN_RACE_ROUNDS 40

struct ban_racer {
	const struct userstore_ops *ops;
	struct userstore *s;
	pthread_barrier_t *go;
	unsigned errors;
};

static void *ban_racer_run(void *arg)
{
	struct ban_racer *r = arg;
	struct ban_rule rule = ban_base;
	rule.failures = 2 * BAN_RACE_ROUNDS + 1;
	(void)pthread_barrier_wait(r->go);
	for (int k = 0; k < BAN_RACE_ROUNDS; k++) {
		int64_t until;
		bool started;
		r->errors += r->ops->ban_fail(r->s, "192.0.2.99", &rule, 5000 + k, &until, &started) != 0 || started;
	}
	return NULL;
}

/* Two handles (two nodes) counting failures of one address at the same
 * time: every one counts, so the next one reaches the threshold exactly. */
static void ban_case_race(const struct userstore_ops *ops, struct userstore *s, struct userstore *h1,
			  struct userstore *h2)
{
	pthread_barrier_t go;
	struct ban_racer r[2] = { { ops, h1, &go, 0 }, { ops, h2, &go, 0 } };
	pthread_t t[2];
	struct ban_rule rule = ban_base;
	rule.failures = 2 * BAN_RACE_ROUNDS + 1;
	assert_int_equal(pthread_barrier_init(&go, NULL, 2), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, ban_racer_run, &r[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	(void)pthread_barrier_destroy(&go);
	assert_int_equal(r[0].errors + r[1].errors, 0);
	assert_int_equal(ban_fail_at(ops, s, "192.0.2.99", &rule, 6000), 10000);
}

/* Every case above on s, and the race on two more handles opened with
 * flags (both stores' tests call these). */
static void ban_cases_run(const struct userstore_ops *ops, struct userstore *s)
{
	ban_case_rule(ops, s);
	ban_case_window_and_one(ops, s);
	ban_case_remove_and_purge(ops, s);
}

static void ban_cases_race(const struct userstore_ops *ops, const struct config *cfg, unsigned flags,
			   struct userstore *s)
{
	struct userstore *h[2] = { NULL, NULL };
	char err[512];
	for (int i = 0; i < 2; i++)
		assert_int_equal(ops->open(cfg, flags, &h[i], err, sizeof(err)), 0);
	ban_case_race(ops, s, h[0], h[1]);
	for (int i = 0; i < 2; i++)
		ops->close(h[i]);
}

#endif
