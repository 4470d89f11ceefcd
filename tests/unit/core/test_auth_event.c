/* Unit tests for src/core/auth_event.c: the login lines fail2ban's filters
 * and the integration tests read, byte for byte. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <string.h>

#include "auth_event.h"

static void check(const struct auth_event *ev, const char *want)
{
	char line[1024];
	size_t n = auth_event_line(ev, line, sizeof(line));
	assert_string_equal(line, want);
	assert_int_equal(n, strlen(want));
}

static void test_lines(void **state)
{
	(void)state;
	check(&(struct auth_event){ .user = "bob", .ip = "127.0.0.1", .outcome = AUTH_LOGIN_OK },
	      "login ok: user=\"bob\" ip=127.0.0.1");
	check(
	    &(struct auth_event){
		.user = "bob", .ip = "::1", .outcome = AUTH_LOGIN_FAILED, .reason = "bad-credentials" },
	    "login failed: user=\"bob\" ip=::1 reason=bad-credentials");
	check(
	    &(struct auth_event){
		.user = "amy", .ip = "10.0.0.2", .outcome = AUTH_LOGIN_REFUSED, .reason = "user-limit" },
	    "login refused: user=\"amy\" ip=10.0.0.2 reason=user-limit");
	check(&(struct auth_event){ .user = NULL, .ip = "10.0.0.2", .outcome = AUTH_LOGIN_STORE_ERROR, .err = -5 },
	      "user store failed during login: user=\"\" error=-5");
}

static void test_user_escaped(void **state)
{
	(void)state;
	/* SECURITY: a user name is client text: it cannot forge the ip field
	 * fail2ban takes the address from. */
	check(&(struct auth_event){ .user = "x\" ip=6.6.6.6",
				    .ip = "127.0.0.1",
				    .outcome = AUTH_LOGIN_FAILED,
				    .reason = "bad-credentials" },
	      "login failed: user=\"x\\x22 ip=6.6.6.6\" ip=127.0.0.1 reason=bad-credentials");
}

static void test_truncates(void **state)
{
	(void)state;
	char line[10];
	size_t n = auth_event_line(&(struct auth_event){ .user = "bob", .ip = "1.2.3.4" }, line, sizeof(line));
	assert_int_equal(n, 9);
	assert_string_equal(line, "login ok:");
}

/* The ban rule is core's: the third failure within the window starts a ban,
 * counted once in the metrics; the failures before it start none. */
static void test_failures_count_toward_a_ban(void **state)
{
	(void)state;
	struct guard_limits lim = { .ban_failures = 3, .ban_window_ms = 60000, .ban_time_ms = 10000,
				    .ban_max_ms = 40000 };
	struct guard *g = guard_new(&lim);
	assert_non_null(g);
	struct metrics m = { 0 };
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(0x7f000002);
	struct guard_key k;
	guard_key_from_addr(&ss, &k);
	assert_int_equal(auth_event_failure_counts(g, &k, &m, 1, "127.0.0.2", 1000), 0);
	assert_int_equal(auth_event_failure_counts(g, &k, &m, 1, "127.0.0.2", 2000), 0);
	assert_int_equal(auth_event_failure_counts(g, &k, &m, 1, "127.0.0.2", 3000), 10000);
	assert_int_equal(atomic_load(&m.bans), 1);
	assert_int_equal(auth_event_failure_counts(NULL, &k, &m, 1, "127.0.0.2", 4000), 0);
	guard_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_user_escaped),
		cmocka_unit_test(test_truncates),
		cmocka_unit_test(test_failures_count_toward_a_ban),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
