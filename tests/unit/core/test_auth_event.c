/* Unit tests for src/core/auth_event.c: the login lines fail2ban's filters
 * and the integration tests read, byte for byte, and the one decision of
 * what a login's outcome counts (logins ok/failed, the ban). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth_event.h"
#include "log.h"

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
	/* Another front-end's lines name it at the end (fail2ban's filter still
	 * matches); FTP's ("ftp", or none) keep their form. */
	check(&(struct auth_event){ .user = "bob",
				    .ip = "::1",
				    .outcome = AUTH_LOGIN_FAILED,
				    .reason = "bad-credentials",
				    .protocol = "sftp" },
	      "login failed: user=\"bob\" ip=::1 reason=bad-credentials protocol=sftp");
	check(&(struct auth_event){ .user = "bob", .ip = "::1", .outcome = AUTH_LOGIN_OK, .protocol = "ftp" },
	      "login ok: user=\"bob\" ip=::1");
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

static struct guard_key key_of(uint32_t addr)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(addr);
	struct guard_key k;
	guard_key_from_addr(&ss, &k);
	return k;
}

static struct auth_event ev_of(enum auth_outcome o, const char *reason)
{
	return (struct auth_event){ .sid = 1, .user = "bob", .ip = "127.0.0.2", .outcome = o, .reason = reason };
}

/* The ban rule is core's: the third failure within the window starts a ban,
 * counted once in the metrics; the failures before it start none. */
static void test_failures_count_toward_a_ban(void **state)
{
	(void)state;
	struct guard_limits lim = {
		.ban_failures = 3, .ban_window_ms = 60000, .ban_time_ms = 10000, .ban_max_ms = 40000
	};
	struct guard *g = guard_new(&lim);
	assert_non_null(g);
	struct metrics m = { 0 };
	struct guard_key k = key_of(0x7f000002);
	struct auth_sink s = { .metrics = &m, .guard = g, .key = &k };
	struct auth_event ev = ev_of(AUTH_LOGIN_FAILED, "bad-credentials");
	assert_int_equal(auth_event(&ev, &s, 1000), 0);
	assert_int_equal(auth_event(&ev, &s, 2000), 0);
	assert_int_equal(auth_event(&ev, &s, 3000), 10000);
	assert_int_equal(atomic_load(&m.bans), 1);
	assert_int_equal(atomic_load(&m.logins_failed[METRICS_FTP]), 3);
	/* No guard (limits off), no sink at all: logged, nothing else. */
	s.guard = NULL;
	assert_int_equal(auth_event(&ev, &s, 4000), 0);
	assert_int_equal(atomic_load(&m.logins_failed[METRICS_FTP]), 4);
	assert_int_equal(auth_event(&ev, NULL, 5000), 0);
	assert_int_equal(atomic_load(&m.bans), 1);
	guard_free(g);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static const char *slurp(const char *path)
{
	static char buf[16384];
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	(void)fclose(f);
	return buf;
}

/* Every outcome counts exactly once, as its JSON event's result says (OK:
 * ok; FAILED, REFUSED, STORE_ERROR: failed), with one text line and one
 * JSON event; only FAILED counts toward the ban (ban_failures = 2 here: two
 * refusals and two store errors ban nobody, the second FAILED does). */
static void test_each_outcome_counts_once(void **state)
{
	(void)state;
	char dir[] = "/tmp/ferry-test-auth-event-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char xl[128], js[128], txt[128], err[256] = "";
	(void)snprintf(xl, sizeof(xl), "%s/xferlog", dir);
	(void)snprintf(js, sizeof(js), "%s/events.json", dir);
	(void)snprintf(txt, sizeof(txt), "%s/stderr", dir);
	assert_int_equal(log_files_open(xl, js, (uid_t)-1, (gid_t)-1, err, sizeof(err)), 0);
	log_setup(LOG_TO_STDERR, LOG_LVL_INFO, "test");
	/* The text log is stderr: into a file for the test's length. */
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	FILE *cap = fopen(txt, "w");
	assert_true(saved >= 0 && cap);
	assert_true(dup2(fileno(cap), STDERR_FILENO) >= 0);

	struct guard_limits lim = {
		.ban_failures = 2, .ban_window_ms = 60000, .ban_time_ms = 10000, .ban_max_ms = 40000
	};
	struct guard *g = guard_new(&lim);
	struct metrics m = { 0 };
	struct guard_key k = key_of(0x7f000002);
	struct auth_sink s = { .metrics = &m, .guard = g, .key = &k };

	struct auth_event ok = ev_of(AUTH_LOGIN_OK, NULL);
	assert_int_equal(auth_event(&ok, &s, 1000), 0);
	assert_int_equal(atomic_load(&m.logins_ok[METRICS_FTP]), 1);
	assert_int_equal(atomic_load(&m.logins_failed[METRICS_FTP]), 0);
	for (int i = 0; i < 2; i++) {
		struct auth_event refused = ev_of(AUTH_LOGIN_REFUSED, "user-limit");
		struct auth_event store = ev_of(AUTH_LOGIN_STORE_ERROR, NULL);
		store.err = -5;
		assert_int_equal(auth_event(&refused, &s, 2000), 0);
		assert_int_equal(auth_event(&store, &s, 2000), 0);
	}
	assert_int_equal(atomic_load(&m.logins_failed[METRICS_FTP]), 4);
	assert_int_equal(atomic_load(&m.bans), 0);
	struct auth_event failed = ev_of(AUTH_LOGIN_FAILED, "bad-account");
	assert_int_equal(auth_event(&failed, &s, 3000), 0);
	assert_int_equal(atomic_load(&m.bans), 0);
	assert_int_equal(auth_event(&failed, &s, 4000), 10000);
	assert_int_equal(atomic_load(&m.bans), 1);
	assert_int_equal(atomic_load(&m.logins_ok[METRICS_FTP]), 1);
	assert_int_equal(atomic_load(&m.logins_failed[METRICS_FTP]), 6);
	guard_free(g);

	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	(void)close(saved);
	(void)fclose(cap);
	log_files_close();
	const char *t = slurp(txt);
	assert_int_equal(count(t, "login ok: user=\"bob\" ip=127.0.0.2\n"), 1);
	assert_int_equal(count(t, "login refused: user=\"bob\" ip=127.0.0.2 reason=user-limit\n"), 2);
	assert_int_equal(count(t, "user store failed during login: user=\"bob\" error=-5\n"), 2);
	assert_int_equal(count(t, "login failed: user=\"bob\" ip=127.0.0.2 reason=bad-account\n"), 2);
	assert_int_equal(count(t, "ban: ip=127.0.0.2 group=127.0.0.2 for=10s reason=failed-logins\n"), 1);
	assert_int_equal(count(t, "\n"), 8);
	const char *j = slurp(js);
	assert_int_equal(count(j, "\"event\":\"login\""), 7);
	assert_int_equal(count(j, "\"event\":\"login\",\"user\":\"bob\",\"ip\":\"127.0.0.2\",\"result\":\"ok\"}"), 1);
	assert_int_equal(count(j, "\"result\":\"failed\",\"reason\":\"user-limit\"}"), 2);
	assert_int_equal(count(j, "\"result\":\"failed\",\"reason\":\"store-error\"}"), 2);
	assert_int_equal(count(j, "\"result\":\"failed\",\"reason\":\"bad-account\"}"), 2);
	assert_int_equal(count(j, "\"event\":\"ban\""), 1);
	(void)unlink(xl);
	(void)unlink(js);
	(void)unlink(txt);
	(void)rmdir(dir);
}

static void woke(void *arg)
{
	(*(unsigned *)arg)++;
}

/* With the nodes sharing bans, a wrong credential is also queued for the
 * store's count (guard_sync.c), with its session and address; a refusal
 * or a store error is not. */
static void test_failures_are_shared(void **state)
{
	(void)state;
	struct guard_limits lim = {
		.ban_failures = 3, .ban_window_ms = 60000, .ban_time_ms = 10000, .ban_max_ms = 40000
	};
	struct guard *g = guard_new(&lim);
	unsigned woken = 0;
	guard_share(g, woke, &woken);
	struct guard_key k = key_of(0x7f000002);
	struct auth_sink s = { .guard = g, .key = &k };
	struct auth_event failed = ev_of(AUTH_LOGIN_FAILED, "bad-credentials");
	struct auth_event refused = ev_of(AUTH_LOGIN_REFUSED, "user-limit");
	struct auth_event store = ev_of(AUTH_LOGIN_STORE_ERROR, NULL);
	(void)auth_event(&refused, &s, 1000);
	(void)auth_event(&store, &s, 1000);
	(void)auth_event(&failed, &s, 2000);
	struct guard_failure f[2];
	uint64_t dropped;
	assert_int_equal(guard_failures_take(g, f, 2, &dropped), 1);
	assert_int_equal(woken, 1);
	assert_memory_equal(&f[0].key, &k, sizeof(k));
	assert_int_equal(f[0].at_ms, 2000);
	assert_int_equal(f[0].sid, 1);
	assert_string_equal(f[0].ip, "127.0.0.2");
	guard_share(g, NULL, NULL);
	guard_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_user_escaped),
		cmocka_unit_test(test_truncates),
		cmocka_unit_test(test_failures_count_toward_a_ban),
		cmocka_unit_test(test_failures_are_shared),
		cmocka_unit_test(test_each_outcome_counts_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
