/* Unit tests for core/policy_eff.c (the effective policy: first match wins
 * per attribute, mounts and dir-perms merged per path; the login's
 * refusals) and the policy text forms of store/policy.h it reads. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "guard.h"
#include "policy_eff.h"

static struct sockaddr_storage addr(const char *text)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, &v6->sin6_addr), 1);
		v6->sin6_family = AF_INET6;
	}
	return ss;
}

static void attrs(struct policy_attrs *a, const char *const rows[][3])
{
	*a = (struct policy_attrs){ 0 };
	for (size_t i = 0; rows[i][0]; i++)
		assert_int_equal(policy_attr_apply(a, rows[i][0], rows[i][1], rows[i][2]), 0);
}

static void test_sizes(void **state)
{
	uint64_t v;
	assert_int_equal(policy_parse_size("0", 'G', &v), 0);
	assert_true(v == 0);
	assert_int_equal(policy_parse_size("10K", 'G', &v), 0);
	assert_true(v == 10240);
	assert_int_equal(policy_parse_size("3m", 'M', &v), 0);
	assert_true(v == 3ull << 20);
	assert_int_equal(policy_parse_size("2G", 'G', &v), 0);
	assert_true(v == 2ull << 30);
	assert_int_equal(policy_parse_size("2G", 'M', &v), -EINVAL); /* rates: K and M */
	assert_int_equal(policy_parse_size("5K", '\0', &v), -EINVAL); /* counts: none */
	assert_int_equal(policy_parse_size("", 'G', &v), -EINVAL);
	assert_int_equal(policy_parse_size("K", 'G', &v), -EINVAL);
	assert_int_equal(policy_parse_size("-1", 'G', &v), -EINVAL);
	assert_int_equal(policy_parse_size("1.5M", 'G', &v), -EINVAL);
	assert_int_equal(policy_parse_size("99999999999999999999", 'G', &v), -EINVAL);
	assert_int_equal(policy_parse_size("17179869184G", 'G', &v), -EINVAL); /* overflows 64 bits */
}

static void test_nets(void **state)
{
	struct policy_net *n;
	size_t cnt, badlen;
	const char *bad;
	char text[256];
	assert_int_equal(policy_parse_nets("10.1.2.3/8, 2001:db8::1/32,127.0.0.1", &n, &cnt, &bad, &badlen), 0);
	assert_int_equal(cnt, 3);
	policy_format_nets(n, cnt, text, sizeof(text));
	assert_string_equal(text, "10.0.0.0/8,2001:db8::/32,127.0.0.1/32");
	struct sockaddr_storage a = addr("10.200.0.1"), b = addr("11.0.0.1"), c = addr("2001:db8:ffff::5"),
				d = addr("::ffff:10.9.9.9"), e = addr("127.0.0.2");
	assert_true(policy_nets_match(n, cnt, &a));
	assert_false(policy_nets_match(n, cnt, &b));
	assert_true(policy_nets_match(n, cnt, &c));
	assert_true(policy_nets_match(n, cnt, &d)); /* a v4-mapped peer is its IPv4 address */
	assert_false(policy_nets_match(n, cnt, &e));
	free(n);
	assert_int_equal(policy_parse_nets("any", &n, &cnt, NULL, NULL), 0);
	assert_true(policy_nets_match(n, cnt, &b) && policy_nets_match(n, cnt, &c));
	free(n);
	assert_int_equal(policy_parse_nets("10.0.0.0/8,10.0.0.0/33", &n, &cnt, &bad, &badlen), -EINVAL);
	assert_int_equal((int)badlen, 11);
	assert_memory_equal(bad, "10.0.0.0/33", 11);
	assert_null(n);
	assert_int_equal(policy_parse_nets("", &n, &cnt, &bad, &badlen), -EINVAL);
	assert_int_equal(policy_parse_nets("10.0.0.0/8,", &n, &cnt, &bad, &badlen), -EINVAL);
	assert_int_equal(policy_parse_nets("host.example", &n, &cnt, &bad, &badlen), -EINVAL);
	assert_int_equal(policy_parse_nets("::1/129", &n, &cnt, &bad, &badlen), -EINVAL);
}

static void test_dates_and_paths(void **state)
{
	int64_t t;
	char v[64];
	assert_int_equal(policy_parse_date("2020-01-01", &t), 0);
	assert_true(t == 1577836800 + 86400); /* works through that day */
	assert_int_equal(policy_parse_date("2020-01-01T00:00:10Z", &t), 0);
	assert_true(t == 1577836810);
	assert_int_equal(policy_parse_date("never", &t), 0);
	assert_true(t == 0);
	assert_int_equal(policy_parse_date("2026-02-30", &t), -EINVAL);
	assert_int_equal(policy_parse_date("2026-13-01", &t), -EINVAL);
	assert_int_equal(policy_parse_date("2026-1-01", &t), -EINVAL);
	assert_int_equal(policy_parse_date("2026-01-01x", &t), -EINVAL);
	assert_int_equal(policy_parse_vpath("//shared//x/", v, sizeof(v)), 0);
	assert_string_equal(v, "/shared/x");
	assert_int_equal(policy_parse_vpath("/", v, sizeof(v)), -EINVAL);
	assert_int_equal(policy_parse_vpath("shared", v, sizeof(v)), -EINVAL);
	assert_int_equal(policy_parse_vpath("/a/../b", v, sizeof(v)), -EINVAL);
	assert_int_equal(policy_parse_vpath("/a/./b", v, sizeof(v)), -EINVAL);
	assert_int_equal(policy_parse_vpath("/a\nb", v, sizeof(v)), -EINVAL);
	char *dir;
	uint32_t perms;
	bool has;
	assert_int_equal(policy_parse_mount("/srv/a:b:read", &dir, &perms, &has), 0);
	assert_string_equal(dir, "/srv/a:b");
	assert_true(has && perms == PERM_READ);
	free(dir);
	assert_int_equal(policy_parse_mount("/srv/a:b", &dir, &perms, &has), 0);
	assert_string_equal(dir, "/srv/a:b"); /* "b" is no permission: part of the name */
	assert_false(has);
	free(dir);
}

/* The rule of policy_eff.h, attribute by attribute. */
static void test_resolve_order(void **state)
{
	struct user_record u = { .name = (char *)"ann", .perms = PERM_ALL };
	static const char *const user_rows[][3] = {
		{ "rate-down", "", "50" }, { "mount", "/shared", "/srv/user" }, { NULL, NULL, NULL }
	};
	static const char *const g1_rows[][3] = { { "perms", "", "read,list" },
						  { "rate-down", "", "100" },
						  { "allow-from", "", "10.0.0.0/8" },
						  { "mount", "/shared", "/srv/g1" },
						  { "dir-perms", "/in", "write" },
						  { NULL, NULL, NULL } };
	static const char *const g2_rows[][3] = { { "perms", "", "all" },
						  { "rate-up", "", "300" },
						  { "max-sessions", "", "4" },
						  { "allow-from", "", "192.0.2.0/24" },
						  { "mount", "/drop", "/srv/g2:write" },
						  { "dir-perms", "/in", "read" },
						  { "expires", "", "1000" },
						  { NULL, NULL, NULL } };
	struct policy_attrs user, g[2], out;
	struct policy_defaults server = { .rate_down = 7, .rate_up = 8, .quota_bytes = 9, .max_sessions = 10 };
	attrs(&user, user_rows);
	attrs(&g[0], g1_rows);
	attrs(&g[1], g2_rows);

	policy_resolve(&u, &user, g, 2, &server, &out);
	assert_int_equal(out.perms, PERM_ALL); /* the user's own */
	assert_true(out.rate_down == 50);      /* user */
	assert_true(out.rate_up == 300);       /* g2: neither user nor g1 */
	assert_int_equal(out.max_sessions, 4);
	assert_true(out.quota_bytes == 9); /* nobody: the server */
	assert_false(out.has & POLICY_HAS_QUOTA_BYTES);
	assert_true(out.expires == 1000);
	assert_int_equal(out.n_allow, 1); /* g1's list whole, g2's not merged in */
	struct sockaddr_storage ten = addr("10.1.1.1"), doc = addr("192.0.2.5");
	assert_true(policy_nets_match(out.allow, out.n_allow, &ten));
	assert_false(policy_nets_match(out.allow, out.n_allow, &doc));
	assert_int_equal(out.n_mounts, 2); /* merged per path: the user's /shared, g2's /drop */
	assert_string_equal(out.mounts[0].vpath, "/shared");
	assert_string_equal(out.mounts[0].dir, "/srv/user");
	assert_string_equal(out.mounts[1].dir, "/srv/g2");
	assert_true(out.mounts[1].has_perms && out.mounts[1].perms == PERM_WRITE);
	assert_int_equal(out.n_dir_perms, 1);
	assert_int_equal(out.dir_perms[0].perms, PERM_WRITE); /* g1 before g2 */
	policy_attrs_free(&out);

	/* perms inherit: the first group that sets perms. */
	user.perms_inherit = true;
	policy_resolve(&u, &user, g, 2, NULL, &out);
	assert_int_equal(out.perms, PERM_READ | PERM_LIST);
	policy_attrs_free(&out);
	policy_resolve(&u, &user, g + 1, 1, NULL, &out);
	assert_int_equal(out.perms, PERM_ALL);
	policy_attrs_free(&out);
	/* ... and the user's own when no group does. */
	u.perms = PERM_READ;
	policy_resolve(&u, &user, NULL, 0, NULL, &out);
	assert_int_equal(out.perms, PERM_READ);
	assert_true(out.rate_up == 0); /* no server given: unlimited */
	policy_attrs_free(&out);
	policy_attrs_free(&user);
	policy_attrs_free(&g[0]);
	policy_attrs_free(&g[1]);
}

static void test_login_refusal(void **state)
{
	static const char *const rows[][3] = {
		{ "allow-from", "", "127.0.0.0/8,::1" }, { "expires", "", "2000" }, { NULL, NULL, NULL }
	};
	struct policy_attrs a;
	struct sockaddr_storage lo = addr("127.0.0.1"), lo6 = addr("::1"), other = addr("10.0.0.1");
	attrs(&a, rows);
	assert_null(policy_login_refusal(&a, &lo, 1999));
	assert_null(policy_login_refusal(&a, &lo6, 1999));
	assert_string_equal(policy_login_refusal(&a, &other, 1999), "allow-from");
	assert_string_equal(policy_login_refusal(&a, &lo, 2000), "expired");
	assert_string_equal(policy_login_refusal(&a, NULL, 0), "allow-from");
	policy_attrs_free(&a);
	struct policy_attrs none = { 0 };
	assert_null(policy_login_refusal(&none, &other, INT64_MAX));
	static const char *const never[][3] = { { "expires", "", "0" }, { NULL, NULL, NULL } };
	attrs(&a, never);
	assert_null(policy_login_refusal(&a, &lo, INT64_MAX));
	policy_attrs_free(&a);
}

/* auth_admit: the user's max-sessions beats [limits] max_per_user, in the
 * guard's one count of the user's sessions. */
static void test_admit_max_sessions(void **state)
{
	struct guard_limits lim = { .max_per_user = 1 };
	struct guard *g = guard_new(&lim);
	struct sockaddr_storage lo = addr("127.0.0.1");
	struct auth_result res = { .ok = true };
	bool counted;
	assert_null(auth_admit(g, NULL, "ann", &res, &lo, 0, &counted));
	assert_true(counted);
	assert_string_equal(auth_admit(g, NULL, "ann", &res, &lo, 0, &counted), "user-limit");
	assert_false(counted);
	res.policy.has |= POLICY_HAS_MAX_SESSIONS;
	res.policy.max_sessions = 2;
	assert_null(auth_admit(g, NULL, "ann", &res, &lo, 0, &counted));
	assert_string_equal(auth_admit(g, NULL, "ann", &res, &lo, 0, &counted), "user-limit");
	res.policy.max_sessions = 0; /* the user's own "no limit" */
	assert_null(auth_admit(g, NULL, "ann", &res, &lo, 0, &counted));
	for (int i = 0; i < 3; i++)
		guard_user_release(g, "ann");
	/* A refusal by address takes no slot. */
	static const char *const rows[][3] = { { "allow-from", "", "10.0.0.0/8" }, { NULL, NULL, NULL } };
	attrs(&res.policy, rows);
	assert_string_equal(auth_admit(g, NULL, "ann", &res, &lo, 0, &counted), "allow-from");
	assert_false(counted);
	assert_true(guard_user_acquire(g, "ann")); /* the one slot is free */
	guard_user_release(g, "ann");
	policy_attrs_free(&res.policy);
	guard_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_nets),
		cmocka_unit_test(test_dates_and_paths),
		cmocka_unit_test(test_resolve_order),
		cmocka_unit_test(test_login_refusal),
		cmocka_unit_test(test_admit_max_sessions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
