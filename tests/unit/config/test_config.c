/* Unit tests for config.c: defaults, every value type, exact error
 * messages, relative paths, etc/ferry.conf, references and the current
 * snapshot. Files are written into a fresh mkdtemp() directory per test. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

struct fixture {
	char dir[256]; /* short, so expected messages fit the buffers below */
	char file[272]; /* dir + "/ferry.conf" */
	char err[1024];
	char want[2048];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	if (!fx)
		return -1;
	(void)snprintf(fx->dir, sizeof(fx->dir), "/tmp/ferry-test-config-XXXXXX");
	if (!mkdtemp(fx->dir)) {
		free(fx);
		return -1;
	}
	(void)snprintf(fx->file, sizeof(fx->file), "%s/ferry.conf", fx->dir);
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
	int r = nftw(fx->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return r == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void write_conf(struct fixture *fx, const char *text)
{
	write_file(fx->file, text, strlen(text));
}

/* Loads text that must be refused and checks the whole message:
 * "<file>" followed by suffix (which starts with ":LINE: " or ": "). */
static void expect_error(struct fixture *fx, const char *text, const char *suffix)
{
	struct config *c = NULL;
	write_conf(fx, text);
	int r = config_load(fx->file, &c, fx->err, sizeof(fx->err));
	assert_int_equal(r, -EINVAL);
	assert_null(c);
	(void)snprintf(fx->want, sizeof(fx->want), "%s%s", fx->file, suffix);
	assert_string_equal(fx->err, fx->want);
}

static struct config *load_ok(struct fixture *fx, const char *text)
{
	struct config *c = NULL;
	write_conf(fx, text);
	int r = config_load(fx->file, &c, fx->err, sizeof(fx->err));
	if (r != 0)
		print_error("unexpected error: %s\n", fx->err);
	assert_int_equal(r, 0);
	assert_non_null(c);
	assert_string_equal(fx->err, "");
	return c;
}

static void check_defaults(const struct config *c)
{
	char a[80];
	assert_int_equal(c->n_listen, 1);
	config_listen_format(&c->listen[0], a, sizeof(a));
	assert_string_equal(a, "127.0.0.1:2121");
	assert_string_equal(c->run_as, "ferry");
	assert_int_equal(c->workers, 0);
	assert_int_equal(c->jobs, 0); /* one per CPU (daemon.c) */
	assert_string_equal(c->banner, "Ferry FTP server ready.");
	assert_int_equal(c->max_line, 4096);
	assert_int_equal(c->idle_timeout_ms, 300000);
	assert_int_equal(c->login_timeout_ms, 60000);
	assert_int_equal(c->login_fail_delay_ms, 1000);
	assert_int_equal(c->max_login_failures, 3);
	assert_int_equal(c->drain_timeout_ms, 30000);
	assert_int_equal(c->max_sessions, 10000);
	/* Issue 13: room for rclone --transfers 32 --checkers 32 (65 at once). */
	assert_int_equal(c->max_per_ip, 100);
	assert_int_equal(c->max_per_user, 100);
	assert_int_equal(c->connect_rate, 20);
	assert_int_equal(c->connect_burst, 100);
	assert_string_equal(c->store_backend, "sqlite");
	assert_string_equal(c->sqlite_path, "/var/lib/ferry/users.db");
	assert_int_equal(c->pasv_port_min, 49152);
	assert_int_equal(c->pasv_port_max, 65534);
	assert_string_equal(c->pasv_address, "");
	assert_int_equal(c->log_target, LOG_TO_STDERR);
	assert_int_equal(c->log_level, LOG_LVL_INFO);
	assert_string_equal(c->sandbox_roots, "");
	assert_int_equal(c->sandbox_landlock, 1);
	assert_int_equal(c->sandbox_seccomp, 1);
	assert_string_equal(c->tls_cert, "");
	assert_string_equal(c->tls_key, "");
	assert_int_equal(c->n_tls_implicit, 0);
	assert_int_equal(c->tls_data_reuse, 1);
	assert_int_equal(c->tls_required, 0);
	assert_int_equal(c->tls_min_version, 0);
	assert_int_equal(c->tls_ktls, 1);
	assert_int_equal(c->otp_challenge_336, 0);
	assert_int_equal(c->otp_unknown_challenge, 0);
	assert_string_equal(c->gss_keytab, "");
	assert_string_equal(c->gss_service, "ftp");
	assert_int_equal(c->gss_required, 1);
	/* Loopback FIN gap ~10 us; etc/ferry.conf says why 250us. */
	assert_int_equal(c->commit_grace_us, 250);
	assert_int_equal(c->proxy_protocol, 0);
	assert_int_equal(c->n_proxy_from, 0);
	assert_int_equal(c->proxy_timeout_ms, 5000);
	assert_int_equal(c->pasv_proxy_protocol, 0);
	assert_string_equal(c->tls_ticket_keys, "");
}

static void test_defaults(void **state)
{
	(void)state;
	struct config *c = config_new_default();
	assert_non_null(c);
	assert_int_equal(atomic_load(&c->refs), 1);
	assert_string_equal(c->path, "");
	check_defaults(c);
	config_unref(c);
}

static void test_empty_file_gives_defaults(void **state)
{
	struct fixture *fx = *state;
	struct config *c = load_ok(fx, "# nothing set\n\n[server]\n");
	assert_int_equal(atomic_load(&c->refs), 1);
	assert_string_equal(c->path, fx->file);
	check_defaults(c);
	config_unref(c);
}

static void test_full_valid(void **state)
{
	struct fixture *fx = *state;
	char a[80];
	/* CRLF endings, a BOM, indentation, inline comments and blank lines are
	 * all accepted. */
	struct config *c = load_ok(fx, "\xEF\xBB\xBF; full example\r\n"
				       "[server]\r\n"
				       "  listen = 192.0.2.1:21 , [2001:db8::1]:2121\r\n"
				       "\trun_as = ftpsvc\n"
				       "workers = 8 ; eight loops\n"
				       "jobs = 4\n"
				       "banner = Welcome to example.org; no anonymous access\n"
				       "max_line = 8192\n"
				       "idle_timeout = 10m\n"
				       "login_timeout = 30\n"
				       "login_fail_delay = 500ms\n"
				       "max_login_failures = 5\n"
				       "drain_timeout = 0\n"
				       "max_sessions = 100\n"
				       "\n"
				       "[store]\n"
				       "backend = sqlite\n"
				       "sqlite = /srv/ferry/users.db\n"
				       "[passive]\n"
				       "ports = 50000-50100\n"
				       "address = 203.0.113.7\n"
				       "[log]\n"
				       "target = syslog\n"
				       "level = debug\n");
	assert_int_equal(c->n_listen, 2);
	assert_string_equal(c->listen[0].host, "192.0.2.1");
	assert_int_equal(c->listen[0].port, 21);
	assert_string_equal(c->listen[1].host, "2001:db8::1");
	assert_int_equal(c->listen[1].port, 2121);
	config_listen_format(&c->listen[1], a, sizeof(a));
	assert_string_equal(a, "[2001:db8::1]:2121");
	assert_string_equal(c->run_as, "ftpsvc");
	assert_int_equal(c->workers, 8);
	assert_int_equal(c->jobs, 4);
	/* ";" not preceded by a space is part of the value */
	assert_string_equal(c->banner, "Welcome to example.org; no anonymous access");
	assert_int_equal(c->max_line, 8192);
	assert_int_equal(c->idle_timeout_ms, 600000);
	assert_int_equal(c->login_timeout_ms, 30000);
	assert_int_equal(c->login_fail_delay_ms, 500);
	assert_int_equal(c->max_login_failures, 5);
	assert_int_equal(c->drain_timeout_ms, 0);
	assert_int_equal(c->max_sessions, 100);
	assert_string_equal(c->store_backend, "sqlite");
	assert_string_equal(c->sqlite_path, "/srv/ferry/users.db");
	assert_int_equal(c->pasv_port_min, 50000);
	assert_int_equal(c->pasv_port_max, 50100);
	assert_string_equal(c->pasv_address, "203.0.113.7");
	assert_int_equal(c->log_target, LOG_TO_SYSLOG);
	assert_int_equal(c->log_level, LOG_LVL_DEBUG);
	config_unref(c);
}

/* Every range end is accepted and stored without truncation. */
static void test_limits_accepted(void **state)
{
	struct fixture *fx = *state;
	struct config *c = load_ok(fx, "[server]\n"
				       "workers = 256\n"
				       "jobs = 64\n"
				       "max_line = 65536\n"
				       "idle_timeout = 24h\n"
				       "login_timeout = 1h\n"
				       "login_fail_delay = 30s\n"
				       "max_login_failures = 100\n"
				       "drain_timeout = 1h\n"
				       "max_sessions = 1000000\n"
				       "[passive]\n"
				       "ports = 1024-65535\n");
	assert_int_equal(c->workers, 256);
	assert_int_equal(c->jobs, 64);
	assert_int_equal(c->max_line, 65536);
	assert_int_equal(c->idle_timeout_ms, 86400000u);
	assert_int_equal(c->login_timeout_ms, 3600000u);
	assert_int_equal(c->login_fail_delay_ms, 30000);
	assert_int_equal(c->max_login_failures, 100);
	assert_int_equal(c->drain_timeout_ms, 3600000u);
	assert_int_equal(c->max_sessions, 1000000);
	assert_int_equal(c->pasv_port_min, 1024);
	assert_int_equal(c->pasv_port_max, 65535);
	config_unref(c);

	c = load_ok(fx, "[server]\n"
			"jobs = 1\n"
			"max_line = 512\n"
			"idle_timeout = 10s\n"
			"login_timeout = 1000ms\n"
			"login_fail_delay = 0\n"
			"max_login_failures = 1\n"
			"max_sessions = 1\n");
	assert_int_equal(c->jobs, 1);
	assert_int_equal(c->max_line, 512);
	assert_int_equal(c->idle_timeout_ms, 10000);
	assert_int_equal(c->login_timeout_ms, 1000);
	assert_int_equal(c->login_fail_delay_ms, 0);
	assert_int_equal(c->max_login_failures, 1);
	assert_int_equal(c->max_sessions, 1);
	config_unref(c);
}

static void test_unknown_key(void **state)
{
	expect_error(*state, "[server]\nworkers = 1\nwrokers = 2\n",
		     ":3: [server] wrokers: unknown key");
}

/* [host NAME] sections: names lower case, aliases normalised, relative
 * cert paths resolved, lookups by name or alias without regard to case;
 * "[host NAME]" longer than inih's section buffer still works. */
static void test_host_sections(void **state)
{
	struct fixture *fx = *state;
	char want[PATH_MAX + 32];
	struct config *c = load_ok(fx, "[tls]\ncert = d.pem\nkey = d.key\n"
				       "[host FTP.A.test]\naliases = A.test ,  files-a.test\nbanner = Hello A\n"
				       "cert = a.pem\nkey = /k/a.key\nmax_per_user = 3\n"
				       "[server]\nworkers = 2\n"
				       "[host a-very-long-host-name-that-inih-would-truncate.example.com]\n");
	assert_int_equal(c->n_vhosts, 2);
	assert_string_equal(c->vhosts[0].name, "ftp.a.test");
	assert_string_equal(c->vhosts[0].aliases, "a.test,files-a.test");
	assert_string_equal(c->vhosts[0].banner, "Hello A");
	(void)snprintf(want, sizeof(want), "%s/a.pem", fx->dir);
	assert_string_equal(c->vhosts[0].tls_cert, want);
	assert_string_equal(c->vhosts[0].tls_key, "/k/a.key");
	assert_int_equal(c->vhosts[0].max_per_user, 3);
	assert_int_equal(c->vhosts[0].line, 4);
	assert_int_equal(c->workers, 2);
	assert_string_equal(c->vhosts[1].name, "a-very-long-host-name-that-inih-would-truncate.example.com");
	assert_string_equal(c->vhosts[1].banner, "");
	assert_ptr_equal(config_vhost_find(c, "A.TEST"), &c->vhosts[0]);
	assert_ptr_equal(config_vhost_find(c, "files-a.test"), &c->vhosts[0]);
	assert_ptr_equal(config_vhost_find(c, "ftp.a.test"), &c->vhosts[0]);
	assert_ptr_equal(config_vhost_find(c, "A-VERY-LONG-HOST-NAME-THAT-INIH-WOULD-TRUNCATE.example.com"),
			 &c->vhosts[1]);
	assert_null(config_vhost_find(c, "b.test"));
	assert_null(config_vhost_find(c, "a.tes"));
	assert_null(config_vhost_find(c, ""));
	assert_null(config_vhost_find(c, NULL));
	config_unref(c);
	expect_error(fx, "[host a.test]\n[host b.test]\naliases = A.TEST\n",
		     ":2: [host b.test]: a.test already names [host a.test] (line 1)");
	expect_error(fx, "[host a.test]\nmax_per_user = -1\n", ":2: [host a.test] max_per_user: expected a whole number from 0 to 100000, got \"-1\"");
}

static void test_key_outside_section(void **state)
{
	expect_error(*state, "workers = 1\n", ":1: workers: key outside any [section]");
}

static void test_unknown_section(void **state)
{
	expect_error(*state, "[server]\nworkers = 1\n[sever]\nworkers = 2\n",
		     ":3: [sever]: unknown section");
	/* an unknown section with no keys is still an error */
	expect_error(*state, "[server]\n[pasive] ; typo\n", ":2: [pasive]: unknown section");
}

static void test_duplicate_key(void **state)
{
	expect_error(*state, "[server]\njobs = 2\n[log]\nlevel = info\n[server]\njobs = 3\n",
		     ":6: [server] jobs: given twice (first on line 2)");
}

static void test_bad_number(void **state)
{
	struct fixture *fx = *state;
	expect_error(fx, "[server]\nworkers = x\n",
		     ":2: [server] workers: expected a whole number from 0 to 256, got \"x\"");
	expect_error(fx, "[server]\nworkers = -1\n",
		     ":2: [server] workers: expected a whole number from 0 to 256, got \"-1\"");
	expect_error(fx, "[server]\nworkers =\n",
		     ":2: [server] workers: expected a whole number from 0 to 256, got \"\"");
	expect_error(fx, "[server]\nmax_sessions = 99999999999999999999999\n",
		     ":2: [server] max_sessions: expected a whole number from 1 to 1000000, "
		     "got \"99999999999999999999999\"");
}

static void test_number_out_of_range(void **state)
{
	struct fixture *fx = *state;
	expect_error(fx, "[server]\n\nworkers = 257\n",
		     ":3: [server] workers: expected a whole number from 0 to 256, got \"257\"");
	expect_error(fx, "[server]\njobs = 65\n",
		     ":2: [server] jobs: expected a whole number from 0 to 64, got \"65\"");
	expect_error(fx, "[server]\nmax_line = 511\n",
		     ":2: [server] max_line: expected a whole number from 512 to 65536, got \"511\"");
}

static void test_bad_duration(void **state)
{
	struct fixture *fx = *state;
	expect_error(fx, "[server]\nidle_timeout = 5s\n",
		     ":2: [server] idle_timeout: expected a duration from 10s to 24h such as 90s, "
		     "500ms, 5m or 1h (no unit = seconds), got \"5s\"");
	expect_error(fx, "[server]\nlogin_fail_delay = 1.5s\n",
		     ":2: [server] login_fail_delay: expected a duration from 0 to 30s such as 90s, "
		     "500ms, 5m or 1h (no unit = seconds), got \"1.5s\"");
	expect_error(fx, "[server]\ndrain_timeout = 61m\n",
		     ":2: [server] drain_timeout: expected a duration from 0 to 1h such as 90s, "
		     "500ms, 5m or 1h (no unit = seconds), got \"61m\"");
}

/* [transfer] commit_grace is kept in microseconds (the loop's µs timers):
 * "us" is accepted besides the usual units, which mean what they mean for
 * every other duration. */
static void test_commit_grace_us(void **state)
{
	struct fixture *fx = *state;
	static const struct {
		const char *v;
		uint32_t us;
	} ok[] = { { "250us", 250 },   { "1ms", 1000 },		  { "0", 0 }, { "0us", 0 }, { "2", 2000000 },
		   { "1m", 60000000 }, { "60000000us", 60000000 } };
	char text[128];
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		(void)snprintf(text, sizeof(text), "[transfer]\ncommit_grace = %s\n", ok[i].v);
		struct config *c = load_ok(fx, text);
		assert_int_equal(c->commit_grace_us, ok[i].us);
		config_unref(c);
	}
	static const char *const bad[] = { "250ns", "1.5ms", "us",	   "250 us", "250uss",
					   "-1us",  "61s",   "60000001us", "250US" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char suffix[256];
		(void)snprintf(text, sizeof(text), "[transfer]\ncommit_grace = %s\n", bad[i]);
		(void)snprintf(suffix, sizeof(suffix),
			       ":2: [transfer] commit_grace: expected a duration from 0 to 1m such as 250us, "
			       "5ms, 90s or 5m (no unit = seconds), got \"%s\"",
			       bad[i]);
		expect_error(fx, text, suffix);
	}
	/* "us" stays a commit_grace unit: millisecond keys refuse it. */
	expect_error(fx, "[server]\nlogin_fail_delay = 500us\n",
		     ":2: [server] login_fail_delay: expected a duration from 0 to 30s such as 90s, "
		     "500ms, 5m or 1h (no unit = seconds), got \"500us\"");
}

static void test_bad_listen(void **state)
{
	struct fixture *fx = *state;
	expect_error(fx, "[server]\nlisten = 127.0.0.1:2121, localhost:21\n",
		     ":2: [server] listen: entry \"localhost:21\" is not host:port (numeric IP "
		     "address, IPv6 in brackets as [::1]:2121, port 1-65535)");
	expect_error(fx, "[server]\nlisten = ::1:21\n",
		     ":2: [server] listen: entry \"::1:21\" is not host:port (numeric IP "
		     "address, IPv6 in brackets as [::1]:2121, port 1-65535)");
	expect_error(fx, "[server]\nlisten = 127.0.0.1:0\n",
		     ":2: [server] listen: entry \"127.0.0.1:0\" is not host:port (numeric IP "
		     "address, IPv6 in brackets as [::1]:2121, port 1-65535)");
	expect_error(fx, "[server]\nlisten = 127.0.0.1:21,,127.0.0.1:22\n",
		     ":2: [server] listen: entry \"\" is not host:port (numeric IP "
		     "address, IPv6 in brackets as [::1]:2121, port 1-65535)");
	expect_error(fx, "[server]\nlisten =\n",
		     ":2: [server] listen: expected at least one host:port entry");
	/* two spellings of one address are one address */
	expect_error(fx, "[server]\nlisten = [::1]:2121, [0:0::1]:2121\n",
		     ":2: [server] listen: [::1]:2121 is listed twice");
	expect_error(fx, "[server]\nlisten = *:21, 0.0.0.0:21\n",
		     ":2: [server] listen: 0.0.0.0:21 is listed twice");
}

static void test_listen_count(void **state)
{
	struct fixture *fx = *state;
	char text[400];
	size_t o = (size_t)snprintf(text, sizeof(text), "[server]\nlisten = ");
	/* "*:" keeps 16 entries inside inih's 199-character line */
	for (int i = 0; i < CONFIG_MAX_LISTEN; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%s*:%d", i ? "," : "", 1000 + i);
	(void)snprintf(text + o, sizeof(text) - o, "\n");
	struct config *c = load_ok(fx, text);
	assert_int_equal(c->n_listen, CONFIG_MAX_LISTEN);
	assert_int_equal(c->listen[CONFIG_MAX_LISTEN - 1].port, 1000 + CONFIG_MAX_LISTEN - 1);
	config_unref(c);

	(void)snprintf(text + o, sizeof(text) - o, ",*:9\n");
	expect_error(fx, text, ":2: [server] listen: at most 16 entries are allowed");
}

static void test_ipv6_listen(void **state)
{
	struct fixture *fx = *state;
	char a[80];
	struct config *c = load_ok(fx, "[server]\nlisten = [::1]:2121, *:21, [::]:990\n");
	assert_int_equal(c->n_listen, 3);
	assert_string_equal(c->listen[0].host, "::1");
	assert_int_equal(c->listen[0].port, 2121);
	config_listen_format(&c->listen[0], a, sizeof(a));
	assert_string_equal(a, "[::1]:2121");
	config_listen_format(&c->listen[1], a, sizeof(a));
	assert_string_equal(a, "0.0.0.0:21");
	config_listen_format(&c->listen[2], a, sizeof(a));
	assert_string_equal(a, "[::]:990");
	/* a short buffer truncates and still terminates */
	config_listen_format(&c->listen[0], a, 5);
	assert_string_equal(a, "[::1");
	config_unref(c);
}

static void test_strings(void **state)
{
	struct fixture *fx = *state;
	char text[512];
	expect_error(fx, "[server]\nbanner = Hello\tworld\n",
		     ":2: [server] banner: control characters are not allowed, got "
		     "\"Hello\\x09world\"");
	expect_error(fx, "[server]\nbanner = Hello\x1b[2Jworld\n",
		     ":2: [server] banner: control characters are not allowed, got "
		     "\"Hello\\x1b[2Jworld\"");
	expect_error(fx, "[server]\nrun_as =\n", ":2: [server] run_as: must not be empty");
	(void)snprintf(text, sizeof(text), "[server]\nrun_as = %0*d\n", 64, 0);
	expect_error(fx, text, ":2: [server] run_as: longer than 63 characters (64 given)");

	/* a value can keep a " ;" only by losing it: it starts a comment */
	struct config *c = load_ok(fx, "[server]\nbanner = Hi ; there\n");
	assert_string_equal(c->banner, "Hi");
	config_unref(c);
}

static void test_line_too_long(void **state)
{
	struct fixture *fx = *state;
	char text[600], want[64];
	/* inih's buffer is 200 bytes: a longer line must be refused, never
	 * split into a value and a second line */
	(void)snprintf(text, sizeof(text), "[server]\nbanner = %0*d\nworkers = 1\n", 191, 0);
	(void)snprintf(want, sizeof(want), ":2: line is longer than %d characters", 199);
	expect_error(fx, text, want);

	/* a long comment is fine, and so is the longest line allowed */
	(void)snprintf(text, sizeof(text), "# %0*d\n[server]\nbanner = %0*d\n", 300, 0, 190, 0);
	struct config *c = load_ok(fx, text);
	assert_int_equal(strlen(c->banner), 190);
	config_unref(c);
}

static void test_nul_byte(void **state)
{
	struct fixture *fx = *state;
	static const char text[] = "[server]\nbanner = a\0b\n";
	struct config *c = NULL;
	write_file(fx->file, text, sizeof(text) - 1);
	assert_int_equal(config_load(fx->file, &c, fx->err, sizeof(fx->err)), -EINVAL);
	(void)snprintf(fx->want, sizeof(fx->want), "%s:2: line contains a NUL byte", fx->file);
	assert_string_equal(fx->err, fx->want);
}

static void test_syntax_error(void **state)
{
	struct fixture *fx = *state;
	expect_error(fx, "[server]\nworkers\n",
		     ":2: syntax error: expected \"[section]\", \"key = value\" or a comment");
	expect_error(fx, "[server\n",
		     ":1: syntax error: expected \"[section]\", \"key = value\" or a comment");
	/* the first error in the file is the one reported */
	expect_error(fx, "[server]\njunk\nwrokers = 1\n",
		     ":2: syntax error: expected \"[section]\", \"key = value\" or a comment");
	expect_error(fx, "[server]\nwrokers = 1\njunk\n", ":2: [server] wrokers: unknown key");
}

static void test_enums(void **state)
{
	struct fixture *fx = *state;
	expect_error(fx, "[log]\ntarget = file\n",
		     ":2: [log] target: expected one of: stderr, syslog, got \"file\"");
	expect_error(fx, "[log]\nlevel = verbose\n",
		     ":2: [log] level: expected one of: error, warn, info, debug, got \"verbose\"");
	expect_error(fx, "[store]\nbackend = ldap\n",
		     ":2: [store] backend: expected one of: sqlite, postgres, got \"ldap\"");
	struct config *c = load_ok(fx, "[log]\ntarget = stderr\nlevel = error\n");
	assert_int_equal(c->log_target, LOG_TO_STDERR);
	assert_int_equal(c->log_level, LOG_LVL_ERROR);
	config_unref(c);
}

static void test_ports(void **state)
{
	struct fixture *fx = *state;
	expect_error(fx, "[passive]\nports = 60000-50000\n",
		     ":2: [passive] ports: expected a port range lo-hi with 1024 <= lo <= hi <= "
		     "65535, got \"60000-50000\"");
	expect_error(fx, "[passive]\nports = 21-1100\n",
		     ":2: [passive] ports: expected a port range lo-hi with 1024 <= lo <= hi <= "
		     "65535, got \"21-1100\"");
	expect_error(fx, "[passive]\nports = 50000\n",
		     ":2: [passive] ports: expected a port range lo-hi with 1024 <= lo <= hi <= "
		     "65535, got \"50000\"");
	struct config *c = load_ok(fx, "[passive]\nports = 40000-40000\n");
	assert_int_equal(c->pasv_port_min, 40000);
	assert_int_equal(c->pasv_port_max, 40000);
	config_unref(c);
}

static void test_pasv_address(void **state)
{
	struct fixture *fx = *state;
	expect_error(fx, "[passive]\naddress = 2001:db8::1\n",
		     ":2: [passive] address: expected a numeric IPv4 address or nothing (PASV "
		     "cannot advertise IPv6), got \"2001:db8::1\"");
	expect_error(fx, "[passive]\naddress = ftp.example.org\n",
		     ":2: [passive] address: expected a numeric IPv4 address or nothing (PASV "
		     "cannot advertise IPv6), got \"ftp.example.org\"");
	struct config *c = load_ok(fx, "[passive]\naddress =\n");
	assert_string_equal(c->pasv_address, "");
	config_unref(c);
}

static void test_relative_sqlite_path(void **state)
{
	struct fixture *fx = *state;
	char want[PATH_MAX + 32];
	struct config *c = load_ok(fx, "[store]\nsqlite = db/users.db\n");
	(void)snprintf(want, sizeof(want), "%s/db/users.db", fx->dir);
	assert_string_equal(c->sqlite_path, want);
	config_unref(c);

	expect_error(fx, "[store]\nsqlite =\n", ":2: [store] sqlite: expected a path");
}

/* A config file named by a relative path: c->path and the paths inside
 * it become absolute, so a later chdir() changes nothing. */
/* [store] postgres: exactly one of sqlite and postgres names the store,
 * and --check says which lines clash. */
static void test_store_postgres(void **state)
{
	struct fixture *fx = *state;
	struct config *c = load_ok(fx, "[store]\npostgres = host=db.example port=5433 dbname=ferry user=ferry\n");
	assert_string_equal(c->store_backend, "postgres");
	assert_string_equal(c->pg_conninfo, "host=db.example port=5433 dbname=ferry user=ferry");
	config_unref(c);
	c = load_ok(fx, "[store]\nbackend = postgres\npostgres = postgresql://ferry@db.example:5433/ferry\n");
	assert_string_equal(c->store_backend, "postgres");
	assert_string_equal(c->pg_conninfo, "postgresql://ferry@db.example:5433/ferry");
	config_unref(c);
	/* Empty: not set (the shipped file lists it so). */
	c = load_ok(fx, "[store]\nsqlite = /srv/users.db\npostgres =\n");
	assert_string_equal(c->store_backend, "sqlite");
	assert_string_equal(c->pg_conninfo, "");
	config_unref(c);
	expect_error(fx, "[store]\nsqlite = /srv/users.db\npostgres = dbname=ferry\n",
		     ":3: [store] postgres: only one of [store] sqlite and [store] postgres may be set (this file sets "
		     "both: sqlite on line 2, postgres on line 3)");
	expect_error(fx, "[store]\npostgres = dbname=ferry\n\nsqlite = /srv/users.db\n",
		     ":4: [store] sqlite: only one of [store] sqlite and [store] postgres may be set (this file sets "
		     "both: sqlite on line 4, postgres on line 2)");
	expect_error(fx, "[store]\nbackend = sqlite\npostgres = dbname=ferry\n",
		     ":2: [store] backend: is sqlite, but [store] postgres is set");
	expect_error(fx, "[store]\nbackend = postgres\n",
		     ":2: [store] backend: postgres needs [store] postgres = CONNINFO");
}

static void test_relative_config_file(void **state)
{
	struct fixture *fx = *state;
	char cwd[PATH_MAX], want[PATH_MAX + 32];
	struct config *c = NULL;
	write_conf(fx, "[store]\nsqlite = ./users.db\n");
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(fx->dir), 0);
	int r = config_load("ferry.conf", &c, fx->err, sizeof(fx->err));
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(r, 0);
	assert_string_equal(c->path, fx->file);
	(void)snprintf(want, sizeof(want), "%s/./users.db", fx->dir);
	assert_string_equal(c->sqlite_path, want);
	config_unref(c);
}

static void test_missing_file(void **state)
{
	struct fixture *fx = *state;
	struct config *c = NULL;
	char path[300];
	(void)snprintf(path, sizeof(path), "%s/absent.conf", fx->dir);
	assert_int_equal(config_load(path, &c, fx->err, sizeof(fx->err)), -ENOENT);
	assert_null(c);
	(void)snprintf(fx->want, sizeof(fx->want), "%s: cannot open: %s", path, strerror(ENOENT));
	assert_string_equal(fx->err, fx->want);

	/* a directory opens but cannot be read */
	assert_int_equal(config_load(fx->dir, &c, fx->err, sizeof(fx->err)), -EISDIR);
	assert_null(c);
	(void)snprintf(fx->want, sizeof(fx->want), "%s: cannot read: %s", fx->dir, strerror(EISDIR));
	assert_string_equal(fx->err, fx->want);

	/* no error buffer is allowed, and a tiny one is truncated safely */
	assert_int_equal(config_load(path, &c, NULL, 0), -ENOENT);
	assert_int_equal(config_load(path, &c, fx->err, 4), -ENOENT);
	assert_int_equal(strlen(fx->err), 3);
}

/* The repository root, from FERRY_SOURCE_ROOT or else from this file's
 * path as the compiler saw it (relative to the build directory, which is
 * where meson runs tests). */
static bool find_example(char *out, size_t outsz)
{
	static const char suffix[] = "tests/unit/test_config.c";
	const char *root = getenv("FERRY_SOURCE_ROOT");
	if (root && root[0]) {
		(void)snprintf(out, outsz, "%s/etc/ferry.conf", root);
	} else {
		const char *file = __FILE__;
		size_t n = strlen(file), k = sizeof(suffix) - 1;
		if (n < k || strcmp(file + n - k, suffix) != 0)
			return false;
		(void)snprintf(out, outsz, "%.*setc/ferry.conf", (int)(n - k), file);
	}
	return access(out, R_OK) == 0;
}

static void test_example_file_loads(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX];
	struct config *c = NULL;
	if (!find_example(path, sizeof(path))) {
		print_message("etc/ferry.conf not found (set FERRY_SOURCE_ROOT)\n");
		skip();
	}
	int r = config_load(path, &c, fx->err, sizeof(fx->err));
	if (r != 0)
		print_error("%s\n", fx->err);
	assert_int_equal(r, 0);
	/* it documents the defaults, so it must load as exactly them */
	check_defaults(c);
	assert_int_equal(c->path[0], '/');
	config_unref(c);
}

/* ---- [tls] ---- */

static void test_tls_valid(void **state)
{
	struct fixture *fx = *state;
	char want[2 * PATH_MAX];
	char a[80];
	struct config *c = load_ok(fx, "[server]\n"
				       "listen = 127.0.0.1:21, [::1]:21\n"
				       "[tls]\n"
				       "cert = certs/a.pem , /etc/ferry/b.pem\n"
				       "key = keys/a.key,/etc/ferry/b.key\n"
				       "implicit_listen = 127.0.0.1:990, [::]:990, 127.0.0.2:21\n"
				       "data_reuse = off\n"
				       "required = all\n"
				       "min_version = 1.3\n"
				       "ktls = off\n");
	(void)snprintf(want, sizeof(want), "%s/certs/a.pem,/etc/ferry/b.pem", fx->dir);
	assert_string_equal(c->tls_cert, want);
	(void)snprintf(want, sizeof(want), "%s/keys/a.key,/etc/ferry/b.key", fx->dir);
	assert_string_equal(c->tls_key, want);
	assert_int_equal(c->n_tls_implicit, 3);
	config_listen_format(&c->tls_implicit[0], a, sizeof(a));
	assert_string_equal(a, "127.0.0.1:990");
	config_listen_format(&c->tls_implicit[1], a, sizeof(a));
	assert_string_equal(a, "[::]:990");
	config_listen_format(&c->tls_implicit[2], a, sizeof(a));
	assert_string_equal(a, "127.0.0.2:21");
	assert_int_equal(c->tls_data_reuse, 0);
	assert_int_equal(c->tls_required, 3);
	assert_int_equal(c->tls_min_version, 1);
	assert_int_equal(c->tls_ktls, 0);
	/* [server] listen is untouched by implicit_listen */
	assert_int_equal(c->n_listen, 2);
	config_unref(c);

	static const struct {
		const char *v;
		int want;
	} req[] = { { "none", 0 }, { "login", 1 }, { "data", 2 }, { "all", 3 } };
	for (size_t i = 0; i < 4; i++) {
		char text[256];
		(void)snprintf(text, sizeof(text),
			       "[tls]\ncert = a.pem\nkey = a.key\nrequired = %s\n"
			       "data_reuse = require\nmin_version = 1.2\nimplicit_listen =\nktls = auto\n",
			       req[i].v);
		c = load_ok(fx, text);
		assert_int_equal(c->tls_required, req[i].want);
		assert_int_equal(c->tls_data_reuse, 1);
		assert_int_equal(c->tls_min_version, 0);
		assert_int_equal(c->tls_ktls, 1);
		assert_int_equal(c->n_tls_implicit, 0);
		config_unref(c);
	}

	/* explicitly empty: TLS off */
	c = load_ok(fx, "[tls]\ncert =\nkey =\n");
	assert_string_equal(c->tls_cert, "");
	assert_string_equal(c->tls_key, "");
	config_unref(c);
}

static void test_tls_enums(void **state)
{
	struct fixture *fx = *state;
	expect_error(fx, "[tls]\ndata_reuse = yes\n",
		     ":2: [tls] data_reuse: expected one of: off, require, got \"yes\"");
	expect_error(fx, "[tls]\n\nrequired = always\n",
		     ":3: [tls] required: expected one of: none, login, data, all, got \"always\"");
	expect_error(fx, "[tls]\nktls = on\n", ":2: [tls] ktls: expected one of: off, auto, got \"on\"");
	expect_error(fx, "[tls]\nmin_version = 1.1\n",
		     ":2: [tls] min_version: expected one of: 1.2, 1.3, got \"1.1\"");
	expect_error(fx, "[tls]\nmin_version = TLSv1.3\n",
		     ":2: [tls] min_version: expected one of: 1.2, 1.3, got \"TLSv1.3\"");
	expect_error(fx, "[tls]\ncertificate = a.pem\n", ":2: [tls] certificate: unknown key");
}

static void test_sandbox_keys(void **state)
{
	struct fixture *fx = *state;
	char want[PATH_MAX + 64];
	expect_error(fx, "[sandbox]\nlandlock = yes\n",
		     ":2: [sandbox] landlock: expected one of: off, auto, require, got \"yes\"");
	expect_error(fx, "[sandbox]\n\nseccomp = strict\n",
		     ":3: [sandbox] seccomp: expected one of: off, auto, require, got \"strict\"");
	expect_error(fx, "[sandbox]\nroots = /srv/ftp,,/home\n",
		     ":2: [sandbox] roots: empty entry in the list \"/srv/ftp,,/home\"");
	struct config *c = load_ok(fx, "[sandbox]\nroots = /srv/ftp , homes\nlandlock = require\nseccomp = off\n");
	(void)snprintf(want, sizeof(want), "/srv/ftp,%s/homes", fx->dir);
	assert_string_equal(c->sandbox_roots, want);
	assert_int_equal(c->sandbox_landlock, 2);
	assert_int_equal(c->sandbox_seccomp, 0);
	config_unref(c);
}

static void test_otp_keys(void **state)
{
	struct fixture *fx = *state;
	expect_error(fx, "[otp]\nchallenge = 332\n", ":2: [otp] challenge: expected one of: 331, 336, got \"332\"");
	expect_error(fx, "[otp]\nunknown_users = fake\n",
		     ":2: [otp] unknown_users: expected one of: password, challenge, got \"fake\"");
	expect_error(fx, "[otp]\nreply = 336\n", ":2: [otp] reply: unknown key");
	struct config *c = load_ok(fx, "[otp]\nchallenge = 336\nunknown_users = challenge\n");
	assert_int_equal(c->otp_challenge_336, 1);
	assert_int_equal(c->otp_unknown_challenge, 1);
	config_unref(c);
	c = load_ok(fx, "[otp]\nchallenge = 331\nunknown_users = password\n");
	assert_int_equal(c->otp_challenge_336, 0);
	assert_int_equal(c->otp_unknown_challenge, 0);
	config_unref(c);
}

static void test_gssapi_keys(void **state)
{
	struct fixture *fx = *state;
	char want[PATH_MAX];
	struct config *c = load_ok(fx, "[gssapi]\nkeytab = krb/ftp.keytab\nservice = host\nrequired = no\n");
	(void)snprintf(want, sizeof(want), "%s/krb/ftp.keytab", fx->dir);
	assert_string_equal(c->gss_keytab, want);
	assert_string_equal(c->gss_service, "host");
	assert_int_equal(c->gss_required, 0);
	config_unref(c);
	c = load_ok(fx, "[gssapi]\nkeytab = /etc/krb5.keytab\nrequired = yes\n");
	assert_string_equal(c->gss_keytab, "/etc/krb5.keytab");
	assert_int_equal(c->gss_required, 1);
	config_unref(c);
	expect_error(fx, "[gssapi]\nrequired = maybe\n",
		     ":2: [gssapi] required: expected one of: no, yes, got \"maybe\"");
	expect_error(fx, "[gssapi]\nservice = ftp/host\n",
		     ":2: [gssapi] service: a bare service name like \"ftp\" (no '/', '@', '\\' or spaces)");
	expect_error(fx, "[gssapi]\n\nservice = ftp@EXAMPLE\n",
		     ":3: [gssapi] service: a bare service name like \"ftp\" (no '/', '@', '\\' or spaces)");
	expect_error(fx, "[gssapi]\nkeytab = a.keytab,b.keytab\n", ":2: [gssapi] keytab: at most 1 files are allowed");
	expect_error(fx, "[gssapi]\nprincipal = x\n", ":2: [gssapi] principal: unknown key");
}

static void test_tls_cert_lists(void **state)
{
	struct fixture *fx = *state;
	char text[512];
	size_t o;

	expect_error(fx, "[tls]\ncert = a.pem,,b.pem\nkey = a.key\n",
		     ":2: [tls] cert: empty entry in the list \"a.pem,,b.pem\"");
	expect_error(fx, "[tls]\ncert = a.pem\nkey = a.key,\n",
		     ":3: [tls] key: empty entry in the list \"a.key,\"");
	expect_error(fx, "[tls]\ncert = a\x01.pem\n",
		     ":2: [tls] cert: control characters are not allowed, got \"a\\x01.pem\"");

	/* 8 files at most */
	o = (size_t)snprintf(text, sizeof(text), "[tls]\ncert = ");
	for (int i = 0; i < 8; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%d.pem", i ? "," : "", i);
	o += (size_t)snprintf(text + o, sizeof(text) - o, "\nkey = ");
	for (int i = 0; i < 8; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%d.key", i ? "," : "", i);
	(void)snprintf(text + o, sizeof(text) - o, "\n");
	struct config *c = load_ok(fx, text);
	char want[PATH_MAX + 32];
	(void)snprintf(want, sizeof(want), "%s/7.key", fx->dir);
	assert_non_null(strstr(c->tls_key, want));
	config_unref(c);
	expect_error(fx, "[tls]\ncert = 0,1,2,3,4,5,6,7,8\n",
		     ":2: [tls] cert: at most 8 files are allowed");

	/* counts must agree, reported on the key line, or on the cert line
	 * when no key is given */
	expect_error(fx, "[tls]\ncert = a.pem, b.pem\nkey = a.key\n",
		     ":3: [tls] key: 2 certificates but 1 key");
	expect_error(fx, "[tls]\nkey = a.key\n\n[log]\nlevel = info\n",
		     ":2: [tls] key: 0 certificates but 1 key");
	expect_error(fx, "[tls]\ncert = a.pem\n", ":2: [tls] key: 1 certificate but 0 keys");
	expect_error(fx, "[tls]\nkey = a.key, b.key\ncert = c.pem\n",
		     ":2: [tls] key: 1 certificate but 2 keys");
}

/* Relative entries are resolved against the file's directory, and the
 * resolved list must fit. */
static void test_tls_cert_list_too_long(void **state)
{
	struct fixture *fx = *state;
	char dir[512], file[600], text[256], want[700];
	struct config *c = NULL;
	size_t o = (size_t)snprintf(dir, sizeof(dir), "%s", fx->dir);
	/* about 215 bytes: four resolved entries fit in 1023, five do not */
	for (int i = 0; i < 3; i++) {
		o += (size_t)snprintf(dir + o, sizeof(dir) - o, "/%060d", i);
		assert_int_equal(mkdir(dir, 0700), 0);
	}
	(void)snprintf(file, sizeof(file), "%s/ferry.conf", dir);
	(void)snprintf(text, sizeof(text), "[tls]\ncert = 1,2,3,4\nkey = 1,2,3,4\n");
	write_file(file, text, strlen(text));
	assert_int_equal(config_load(file, &c, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(strlen(c->tls_cert), 4 * (strlen(dir) + 2) + 3);
	config_unref(c);

	(void)snprintf(text, sizeof(text), "[tls]\ncert = 1,2,3,4,5\nkey = 1,2,3,4,5\n");
	write_file(file, text, strlen(text));
	assert_int_equal(config_load(file, &c, fx->err, sizeof(fx->err)), -EINVAL);
	(void)snprintf(want, sizeof(want),
		       "%s:2: [tls] cert: the list is longer than 1023 bytes once paths are resolved",
		       file);
	assert_string_equal(fx->err, want);
}

static void test_tls_implicit_listen(void **state)
{
	struct fixture *fx = *state;
	expect_error(fx, "[server]\nlisten = 127.0.0.1:2121\n[tls]\ncert = a\nkey = a\n"
			 "implicit_listen = 127.0.0.1:990, 127.0.0.1:2121\n",
		     ":6: [tls] implicit_listen: 127.0.0.1:2121 is also a [server] listen address");
	expect_error(fx, "[tls]\ncert = a\nkey = a\nimplicit_listen = [::1]:21, [0::1]:21\n",
		     ":4: [tls] implicit_listen: [::1]:21 is listed twice");
	/* a wildcard of the same family on the same port overlaps */
	expect_error(fx, "[server]\nlisten = 0.0.0.0:21\n[tls]\ncert = a\nkey = a\n"
			 "implicit_listen = 192.0.2.1:21\n",
		     ":6: [tls] implicit_listen: 192.0.2.1:21 overlaps [server] listen 0.0.0.0:21");
	expect_error(fx, "[tls]\nimplicit_listen = *:2121\ncert = a\nkey = a\n",
		     ":2: [tls] implicit_listen: 0.0.0.0:2121 overlaps [server] listen "
		     "127.0.0.1:2121");
	expect_error(fx, "[tls]\nimplicit_listen = x:990\n",
		     ":2: [tls] implicit_listen: entry \"x:990\" is not host:port (numeric IP "
		     "address, IPv6 in brackets as [::1]:2121, port 1-65535)");
	expect_error(fx, "[tls]\nimplicit_listen = 127.0.0.1:990\n",
		     ":2: [tls] implicit_listen: needs a certificate ([tls] cert and key)");
	expect_error(fx, "[tls]\nrequired = login\n",
		     ":2: [tls] required: login needs a certificate ([tls] cert and key)");
	/* IPv6 listeners are V6ONLY: [::] does not cover IPv4 */
	struct config *c = load_ok(fx, "[server]\nlisten = 0.0.0.0:21\n[tls]\ncert = a\nkey = a\n"
				       "implicit_listen = [::]:21, 127.0.0.1:990\n");
	assert_int_equal(c->n_tls_implicit, 2);
	config_unref(c);
}

static void test_refcount(void **state)
{
	(void)state;
	struct config *c = config_new_default();
	assert_non_null(c);
	assert_ptr_equal(config_ref(c), c);
	assert_int_equal(atomic_load(&c->refs), 2);
	config_unref(c);
	assert_int_equal(atomic_load(&c->refs), 1);
	assert_null(config_ref(NULL));
	config_unref(NULL);
	config_unref(c); /* frees: ASan reports a leak or a double free */
}

static void test_current(void **state)
{
	(void)state;
	assert_null(config_current());

	struct config *a = config_new_default();
	config_set_current(a); /* takes a's reference */
	const struct config *cur = config_current();
	assert_ptr_equal(cur, a);
	assert_int_equal(atomic_load(&a->refs), 2);

	struct config *b = config_new_default();
	config_set_current(b);
	/* the old snapshot lives on for its remaining holder */
	assert_int_equal(atomic_load(&cur->refs), 1);
	assert_string_equal(cur->run_as, "ferry");
	config_unref(cur);

	cur = config_current();
	assert_ptr_equal(cur, b);
	config_unref(cur);
	config_set_current(NULL);
	assert_null(config_current());
}

static atomic_bool stress_stop;

static void *stress_reader(void *arg)
{
	(void)arg;
	unsigned long n = 0;
	while (!atomic_load(&stress_stop)) {
		const struct config *c = config_current();
		if (c) {
			n += c->jobs; /* touch it: ASan flags a use after free */
			config_unref(c);
		}
	}
	return (void *)(uintptr_t)n;
}

/* Readers take references while the snapshot is swapped underneath them. */
static void test_current_concurrent(void **state)
{
	(void)state;
	pthread_t t[4];
	atomic_store(&stress_stop, false);
	config_set_current(config_new_default());
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, stress_reader, NULL), 0);
	for (int i = 0; i < 20000; i++)
		config_set_current(config_new_default());
	atomic_store(&stress_stop, true);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	config_set_current(NULL);
}

/* ---- PROXY protocol and ticket keys (issue 16) ---- */

static void test_proxy_keys(void **state)
{
	struct fixture *fx = *state;
	struct config *c = load_ok(fx, "[server]\nproxy_protocol = v2\n"
				       "proxy_from = 127.0.0.1, 10.0.0.0/8 ,192.0.2.0/28, ::1, 2001:db8::/32, 0.0.0.0/0\n"
				       "proxy_timeout = 2s\n[passive]\nproxy_protocol = any\n");
	assert_int_equal(c->proxy_protocol, 2);
	assert_int_equal(c->pasv_proxy_protocol, 3);
	assert_int_equal(c->proxy_timeout_ms, 2000);
	assert_int_equal(c->n_proxy_from, 6);
	static const unsigned char v4[4] = { 127, 0, 0, 1 }, net10[4] = { 10, 0, 0, 0 };
	static const unsigned char v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	assert_int_equal(c->proxy_from[0].family, 4);
	assert_int_equal(c->proxy_from[0].bits, 32);
	assert_memory_equal(c->proxy_from[0].addr, v4, 4);
	assert_int_equal(c->proxy_from[1].bits, 8);
	assert_memory_equal(c->proxy_from[1].addr, net10, 4);
	assert_int_equal(c->proxy_from[2].bits, 28);
	assert_int_equal(c->proxy_from[3].family, 6);
	assert_int_equal(c->proxy_from[3].bits, 128);
	assert_int_equal(c->proxy_from[3].addr[15], 1);
	assert_int_equal(c->proxy_from[4].bits, 32);
	assert_memory_equal(c->proxy_from[4].addr, v6, 16);
	assert_int_equal(c->proxy_from[5].bits, 0);
	config_unref(c);

	static const char *const modes[] = { "off", "v1", "v2", "any" };
	for (int i = 0; i < 4; i++) {
		char text[128];
		(void)snprintf(text, sizeof(text), "[server]\nproxy_protocol = %s\nproxy_from = 127.0.0.1\n", modes[i]);
		c = load_ok(fx, text);
		assert_int_equal(c->proxy_protocol, i);
		config_unref(c);
	}
	/* proxy_from alone is harmless: nothing trusts it */
	c = load_ok(fx, "[server]\nproxy_from = 127.0.0.1\n");
	assert_int_equal(c->proxy_protocol, 0);
	config_unref(c);
}

static void test_proxy_errors(void **state)
{
	struct fixture *fx = *state;
	/* the contract: on without proxy_from is refused, naming what to add */
	expect_error(fx, "[server]\nlisten = 127.0.0.1:21\nproxy_protocol = v1\n",
		     ":3: [server] proxy_protocol: v1 needs [server] proxy_from, the addresses of the balancers "
		     "allowed to send the PROXY header (e.g. proxy_from = 10.0.0.5, 192.0.2.0/28)");
	expect_error(fx, "[server]\nproxy_protocol = any\nproxy_from =\n",
		     ":2: [server] proxy_protocol: any needs [server] proxy_from, the addresses of the balancers "
		     "allowed to send the PROXY header (e.g. proxy_from = 10.0.0.5, 192.0.2.0/28)");
	expect_error(fx, "[passive]\nproxy_protocol = v2\n",
		     ":2: [passive] proxy_protocol: v2 needs [server] proxy_from, the addresses of the balancers "
		     "allowed to send the PROXY header (e.g. proxy_from = 10.0.0.5, 192.0.2.0/28)");
	expect_error(fx, "[server]\nproxy_protocol = yes\n",
		     ":2: [server] proxy_protocol: expected one of: off, v1, v2, any, got \"yes\"");
	static const char *const bad[] = { "10.0.0.0/33", "::1/129", "10.0.0.0/", "/8", "host.example", "10.0.0.0/8/8",
					   "10.0.0", "1.2.3.4 5.6.7.8", "10.0.0.0/+8", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[128], want[256];
		(void)snprintf(text, sizeof(text), "[server]\nproxy_from = 127.0.0.1,%s\n", bad[i]);
		(void)snprintf(want, sizeof(want),
			       ":2: [server] proxy_from: entry \"%s\" is not an address or network such as 192.0.2.7, "
			       "10.0.0.0/8 or 2001:db8::/32 (prefix length at most 32 for IPv4, 128 for IPv6)",
			       bad[i]);
		expect_error(fx, text, want);
	}
	expect_error(fx, "[server]\nproxy_from = 10.1.2.3/8\n",
		     ":2: [server] proxy_from: entry \"10.1.2.3/8\" has bits set past its /8 prefix (the network is "
		     "10.0.0.0/8)");
	expect_error(fx, "[server]\nproxy_from = 2001:db8::1/64\n",
		     ":2: [server] proxy_from: entry \"2001:db8::1/64\" has bits set past its /64 prefix (the network "
		     "is 2001:db8::/64)");
	/* short entries: a line holds at most 199 characters */
	char many[600] = "[server]\nproxy_from = ::1";
	for (int i = 2; i <= 33; i++)
		(void)snprintf(many + strlen(many), sizeof(many) - strlen(many), ",::%x", i);
	(void)snprintf(many + strlen(many), sizeof(many) - strlen(many), "\n");
	expect_error(fx, many, ":2: [server] proxy_from: at most 32 entries are allowed");
	expect_error(fx, "[server]\nproxy_timeout = 500ms\n",
		     ":2: [server] proxy_timeout: expected a duration from 1s to 5m such as 90s, 500ms, 5m or 1h "
		     "(no unit = seconds), got \"500ms\"");
}

static void test_ticket_keys(void **state)
{
	struct fixture *fx = *state;
	char want[2 * PATH_MAX];
	struct config *c = load_ok(fx, "[tls]\nticket_keys = keys/new.key, /etc/ferry/old.key\n");
	(void)snprintf(want, sizeof(want), "%s/keys/new.key,/etc/ferry/old.key", fx->dir);
	assert_string_equal(c->tls_ticket_keys, want);
	config_unref(c);
	expect_error(fx, "[tls]\nticket_keys = a,b,c,d,e,f,g,h,i\n",
		     ":2: [tls] ticket_keys: at most 8 files are allowed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test_setup_teardown(test_empty_file_gives_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_sections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_outside_section, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_section, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_number, setup, teardown),
		cmocka_unit_test_setup_teardown(test_number_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_duration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_grace_us, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_listen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_listen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_strings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nul_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enums, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pasv_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relative_sqlite_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_postgres, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relative_config_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_example_file_loads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_enums, setup, teardown),
		cmocka_unit_test_setup_teardown(test_otp_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sandbox_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_cert_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_cert_list_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_implicit_listen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gssapi_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proxy_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proxy_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ticket_keys, setup, teardown),
		cmocka_unit_test(test_refcount),
		cmocka_unit_test(test_current),
		cmocka_unit_test(test_current_concurrent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
