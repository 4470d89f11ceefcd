/* Unit tests for src/core/auth_event.c: the login lines fail2ban's filters
 * and the integration tests read, byte for byte. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_user_escaped),
		cmocka_unit_test(test_truncates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
