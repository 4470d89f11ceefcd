/* Groups and policies (policy.h, schema 5) as both stores must keep them:
 * included by test_store_sqlite.c and test_store_pg.c, which run each case
 * on an open handle of their store. Needs cmocka, errno.h, string.h and
 * userstore.h included first. */
#ifndef FERRY_TEST_POLICY_CASES_H
#define FERRY_TEST_POLICY_CASES_H

#include "policy.h"

static void policy_user(const struct userstore_ops *ops, struct userstore *s, const char *name)
{
	struct user_record u = { .name = (char *)name,
				 .password_hash = (char *)"$y$j9T$abc$def",
				 .home = (char *)"/srv/x",
				 .perms = PERM_READ | PERM_LIST,
				 .enabled = true };
	assert_int_equal(ops->add(s, &u), 0);
}

struct policy_seen {
	char text[512];
};

static int policy_collect1(const char *a, void *arg)
{
	struct policy_seen *p = arg;
	size_t used = strlen(p->text);
	(void)snprintf(p->text + used, sizeof(p->text) - used, "%s%s", used ? " " : "", a);
	return 0;
}

static int policy_collect2(const char *a, const char *b, void *arg)
{
	struct policy_seen *p = arg;
	size_t used = strlen(p->text);
	(void)snprintf(p->text + used, sizeof(p->text) - used, "%s%s:%s", used ? " " : "", a, b);
	return 0;
}

static int policy_collect3(const char *a, const char *b, const char *c, void *arg)
{
	struct policy_seen *p = arg;
	size_t used = strlen(p->text);
	(void)snprintf(p->text + used, sizeof(p->text) - used, "%s%s[%s]=%s", used ? " " : "", a, b, c);
	return 0;
}

static const char *policy_groups_text(const struct userstore_ops *ops, struct userstore *s, struct policy_seen *p)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(policy_group_list(ops, s, policy_collect1, p), 0);
	return p->text;
}

static const char *policy_members_text(const struct userstore_ops *ops, struct userstore *s, const char *user,
				       const char *group, struct policy_seen *p)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(policy_members(ops, s, user, group, policy_collect2, p), 0);
	return p->text;
}

static const char *policy_rows_text(const struct userstore_ops *ops, struct userstore *s, enum policy_kind kind,
				    const char *name, struct policy_seen *p)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(policy_rows(ops, s, kind, name, policy_collect3, p), 0);
	return p->text;
}

/* Groups: added once, listed in byte order, checked, removed once. */
static void policy_case_groups(const struct userstore_ops *ops, struct userstore *s)
{
	struct policy_seen seen;
	assert_string_equal(policy_groups_text(ops, s, &seen), "");
	assert_int_equal(policy_group_add(ops, s, "staff"), 0);
	assert_int_equal(policy_group_add(ops, s, "Admins"), 0);
	assert_int_equal(policy_group_add(ops, s, "x' OR '1'='1"), 0); /* text, never SQL */
	assert_int_equal(policy_group_add(ops, s, "staff"), -EEXIST);
	assert_string_equal(policy_groups_text(ops, s, &seen), "Admins staff x' OR '1'='1");
	assert_int_equal(policy_group_check(ops, s, "staff"), 0);
	assert_int_equal(policy_group_check(ops, s, "STAFF"), -ENOENT);
	assert_int_equal(policy_group_remove(ops, s, "x' OR '1'='1"), 0);
	assert_int_equal(policy_group_remove(ops, s, "x' OR '1'='1"), -ENOENT);
	assert_string_equal(policy_groups_text(ops, s, &seen), "Admins staff");
}

/* A user's groups keep the order given; unknown users and groups are
 * -ENOENT; deleting a user or a group takes its memberships along. */
static void policy_case_members(const struct userstore_ops *ops, struct userstore *s)
{
	struct policy_seen seen;
	const char *order[] = { "zeta", "alpha", "mid" };
	const char *bad[] = { "alpha", "nosuch" };
	policy_user(ops, s, "ann");
	policy_user(ops, s, "bob");
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(policy_group_add(ops, s, order[i]), 0);
	assert_int_equal(policy_groups_set(ops, s, "ann", order, 3), 0);
	assert_int_equal(policy_groups_set(ops, s, "bob", order + 1, 1), 0);
	assert_string_equal(policy_members_text(ops, s, "ann", NULL, &seen), "ann:zeta ann:alpha ann:mid");
	assert_string_equal(policy_members_text(ops, s, NULL, "alpha", &seen), "ann:alpha bob:alpha");
	/* Replaced, not added to. */
	assert_int_equal(policy_groups_set(ops, s, "ann", order + 2, 1), 0);
	assert_string_equal(policy_members_text(ops, s, "ann", NULL, &seen), "ann:mid");
	assert_int_equal(ops->txn(s, USERSTORE_BEGIN), 0);
	assert_int_equal(policy_groups_set(ops, s, "ann", bad, 2), -ENOENT);
	assert_int_equal(ops->txn(s, USERSTORE_ROLLBACK), 0);
	assert_string_equal(policy_members_text(ops, s, "ann", NULL, &seen), "ann:mid");
	assert_int_equal(policy_groups_set(ops, s, "nobody", order, 1), -ENOENT);
	assert_int_equal(policy_groups_set(ops, s, "ann", NULL, 0), 0);
	assert_string_equal(policy_members_text(ops, s, "ann", NULL, &seen), "");
	assert_int_equal(policy_groups_set(ops, s, "ann", order, 3), 0);
	assert_int_equal(policy_group_remove(ops, s, "alpha"), 0);
	assert_string_equal(policy_members_text(ops, s, NULL, NULL, &seen), "ann:zeta ann:mid");
	assert_int_equal(ops->remove(s, "ann"), 0);
	assert_string_equal(policy_members_text(ops, s, NULL, NULL, &seen), "");
}

/* Attributes of users and groups: set, replaced, removed, read back as
 * text and parsed; only for owners that exist; gone with their owner. */
static void policy_case_attrs(const struct userstore_ops *ops, struct userstore *s)
{
	struct policy_seen seen;
	struct policy_attrs a;
	policy_user(ops, s, "carol");
	assert_int_equal(policy_group_add(ops, s, "g"), 0);
	assert_int_equal(policy_put(ops, s, POLICY_USER, "carol", POLICY_A_QUOTA_BYTES, "", "1024"), 0);
	assert_int_equal(policy_put(ops, s, POLICY_USER, "carol", POLICY_A_QUOTA_BYTES, "", "2048"), 0);
	assert_int_equal(policy_put(ops, s, POLICY_USER, "carol", POLICY_A_MOUNT, "/shared", "/srv/share:read,list"),
			 0);
	assert_int_equal(policy_put(ops, s, POLICY_USER, "carol", POLICY_A_MOUNT, "/drop", "/srv/drop"), 0);
	assert_int_equal(policy_put(ops, s, POLICY_USER, "carol", POLICY_A_ALLOW_FROM, "", "10.0.0.0/8,::1/128"), 0);
	assert_int_equal(policy_put(ops, s, POLICY_USER, "nobody", POLICY_A_RATE_UP, "", "1"), -ENOENT);
	assert_int_equal(policy_put(ops, s, POLICY_GROUP, "nogroup", POLICY_A_RATE_UP, "", "1"), -ENOENT);
	assert_int_equal(policy_put(ops, s, POLICY_GROUP, "g", POLICY_A_RATE_DOWN, "", "65536"), 0);
	assert_int_equal(policy_put(ops, s, POLICY_GROUP, "g", POLICY_A_PERMS, "", "read,write"), 0);
	assert_string_equal(
	    policy_rows_text(ops, s, POLICY_USER, "carol", &seen),
	    "allow-from[]=10.0.0.0/8,::1/128 mount[/drop]=/srv/drop mount[/shared]=/srv/share:read,list "
	    "quota-bytes[]=2048");
	assert_string_equal(policy_rows_text(ops, s, POLICY_GROUP, "g", &seen), "perms[]=read,write rate-down[]=65536");
	/* A user and a group of the same name are different owners. */
	assert_string_equal(policy_rows_text(ops, s, POLICY_GROUP, "carol", &seen), "");

	assert_int_equal(policy_load(ops, s, POLICY_USER, "carol", &a), 0);
	assert_int_equal(a.has, POLICY_HAS_QUOTA_BYTES | POLICY_HAS_ALLOW_FROM);
	assert_true(a.quota_bytes == 2048);
	assert_int_equal(a.n_allow, 2);
	assert_int_equal(a.n_mounts, 2);
	assert_string_equal(a.mounts[0].vpath, "/drop");
	assert_string_equal(a.mounts[0].dir, "/srv/drop");
	assert_false(a.mounts[0].has_perms);
	assert_string_equal(a.mounts[1].dir, "/srv/share");
	assert_int_equal(a.mounts[1].perms, PERM_READ | PERM_LIST);
	policy_attrs_free(&a);

	assert_int_equal(policy_put(ops, s, POLICY_USER, "carol", POLICY_A_MOUNT, "/drop", NULL), 0);
	assert_int_equal(policy_put(ops, s, POLICY_USER, "carol", POLICY_A_MOUNT, "/drop", NULL), -ENOENT);
	/* A value this ferry cannot read fails the load rather than guess. */
	assert_int_equal(policy_put(ops, s, POLICY_USER, "carol", POLICY_A_EXPIRES, "", "soon"), 0);
	assert_int_equal(policy_load(ops, s, POLICY_USER, "carol", &a), -EINVAL);
	policy_attrs_free(&a);
	assert_int_equal(ops->remove(s, "carol"), 0);
	assert_int_equal(policy_group_remove(ops, s, "g"), 0);
	policy_user(ops, s, "carol"); /* a new carol inherits nothing */
	assert_string_equal(policy_rows_text(ops, s, POLICY_USER, "carol", &seen), "");
	assert_int_equal(policy_group_add(ops, s, "g"), 0);
	assert_string_equal(policy_rows_text(ops, s, POLICY_GROUP, "g", &seen), "");
}

/* Usage changes reach the store as separate jobs in any order: a delete's
 * -500 stored before the upload's +1000 must still leave 500 (a total
 * clamped at 0 at each step left 1000). */
static void policy_case_usage_order(const struct userstore_ops *ops, struct userstore *s)
{
	uint64_t b = 9, f = 9;
	policy_user(ops, s, "uma");
	assert_int_equal(policy_usage_get(ops, s, "uma", &b, &f), 0);
	assert_true(b == 0 && f == 0);
	assert_int_equal(policy_usage_add(ops, s, "uma", -500, -1), 0);
	assert_int_equal(policy_usage_get(ops, s, "uma", &b, &f), 0);
	assert_true(b == 0 && f == 0); /* read as 0 while below it */
	assert_int_equal(policy_usage_add(ops, s, "uma", 1000, 1), 0);
	assert_int_equal(policy_usage_get(ops, s, "uma", &b, &f), 0);
	assert_true(b == 500 && f == 0);
	assert_int_equal(policy_usage_add(ops, s, "uma", 32, 2), 0);
	assert_int_equal(policy_usage_get(ops, s, "uma", &b, &f), 0);
	assert_true(b == 532 && f == 2);
	assert_int_equal(policy_usage_add(ops, s, "nobody-here", 1, 1), -ENOENT);
}

static int policy_grant_seen(const char *node, uint64_t bytes, int64_t expires, void *arg)
{
	struct policy_seen *p = arg;
	size_t used = strlen(p->text);
	(void)snprintf(p->text + used, sizeof(p->text) - used, "%s%s=%llu@%lld", used ? " " : "", node,
		       (unsigned long long)bytes, (long long)expires);
	return 0;
}

/* Quota grants (schema 8): two nodes take from one quota of 10,000 bytes
 * with 1,000 used; what they hold and the usage never pass it; a grant
 * given back or expired leaves room again; the asking node's own expired
 * grant still counts (it renews them), another's does not and is dropped. */
static void policy_case_grants(const struct userstore_ops *ops, struct userstore *s)
{
	uint64_t got = 9;
	struct policy_seen seen = { "" };
	policy_user(ops, s, "gil");
	assert_int_equal(policy_usage_set(ops, s, "gil", 1000, 1), 0);
	/* A: a chunk of 4,000. */
	assert_int_equal(policy_grant_take(ops, s, "gil", "A", 1, 4000, 10000, 100, 200, &got), 0);
	assert_int_equal(got, 4000);
	/* B asks 6,000: only 5,000 left. */
	assert_int_equal(policy_grant_take(ops, s, "gil", "B", 1, 6000, 10000, 100, 200, &got), 0);
	assert_int_equal(got, 5000);
	/* Nothing left for either, however little. */
	assert_int_equal(policy_grant_take(ops, s, "gil", "A", 1, 4000, 10000, 100, 200, &got), 0);
	assert_int_equal(got, 0);
	assert_int_equal(policy_grant_list(ops, s, "gil", policy_grant_seen, &seen), 0);
	assert_string_equal(seen.text, "A=4000@200 B=5000@200");
	/* A commits 3,000 of its grant and gives the rest back. */
	assert_int_equal(policy_usage_add(ops, s, "gil", 3000, 1), 0);
	assert_int_equal(policy_grant_sub(ops, s, "gil", "A", 4000), 0);
	assert_int_equal(policy_grant_sub(ops, s, "gil", "A", 10), 0); /* clamped at 0 */
	assert_int_equal(policy_grant_take(ops, s, "gil", "A", 1, 4000, 10000, 100, 200, &got), 0);
	assert_int_equal(got, 1000);
	/* At 300 B's grant has expired: not counted for A, and dropped. */
	assert_int_equal(policy_grant_take(ops, s, "gil", "A", 1, 4000, 10000, 300, 400, &got), 0);
	assert_int_equal(got, 4000);
	seen.text[0] = '\0';
	assert_int_equal(policy_grant_list(ops, s, "gil", policy_grant_seen, &seen), 0);
	assert_string_equal(seen.text, "A=5000@400");
	/* Renewed to 1000, then at 1100 A's own expired grant still counts
	 * for A (its node renews what it holds) and stays... */
	assert_int_equal(policy_grant_renew(ops, s, "A", 1000), 0);
	assert_int_equal(policy_grant_take(ops, s, "gil", "A", 1, 4000, 10000, 1100, 1200, &got), 0);
	assert_int_equal(got, 1000);
	/* ...and B finds nothing left. */
	assert_int_equal(policy_grant_take(ops, s, "gil", "B", 1, 4000, 10000, 1100, 1200, &got), 0);
	assert_int_equal(got, 0);
	seen.text[0] = '\0';
	assert_int_equal(policy_grant_list(ops, s, "gil", policy_grant_seen, &seen), 0);
	assert_string_equal(seen.text, "A=6000@1200");
	/* ferry quota scan drops what expired; a node's shutdown drops its own. */
	assert_int_equal(policy_grant_clear(ops, s, "gil", 5000), 0);
	assert_int_equal(policy_grant_drop(ops, s, "B"), 0);
	seen.text[0] = '\0';
	assert_int_equal(policy_grant_list(ops, s, "gil", policy_grant_seen, &seen), 0);
	assert_string_equal(seen.text, "");
	assert_int_equal(policy_grant_take(ops, s, "nobody-here", "A", 1, 10, 100, 1, 2, &got), -ENOENT);
}

static void policy_cases_run(const struct userstore_ops *ops, struct userstore *s)
{
	policy_case_groups(ops, s);
	policy_case_members(ops, s);
	policy_case_attrs(ops, s);
	policy_case_usage_order(ops, s);
	policy_case_grants(ops, s);
}

#endif
