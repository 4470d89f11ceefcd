/* Unit tests for src/os/sandbox.c and src/os/sandbox_seccomp.c. The layers are
 * applied for real, each in a forked child (they cannot be undone): Landlock
 * must make a path outside the rules unreachable even to root, seccomp must
 * fail a call outside the allow-list with ENOSYS and name it on stderr. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "sandbox.h"

/* Runs fn in a child with stderr on a pipe; returns its exit status and
 * what it wrote (NUL-terminated, truncated to outsz). */
static int in_child(int (*fn)(void *), void *arg, char *out, size_t outsz)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		(void)dup2(p[1], STDERR_FILENO);
		(void)close(p[0]);
		_exit(fn(arg)); /* _exit: no atexit handlers (LeakSanitizer) under the filter */
	}
	(void)close(p[1]);
	size_t o = 0;
	ssize_t n;
	while (o + 1 < outsz && (n = read(p[0], out + o, outsz - 1 - o)) > 0)
		o += (size_t)n;
	out[o] = '\0';
	(void)close(p[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

struct ll_case {
	char dir[64];
};

static int expect_errno(int fd, int want)
{
	if (fd >= 0) {
		(void)close(fd);
		return 0;
	}
	return errno == want;
}

static int ll_child(void *arg)
{
	struct ll_case *c = arg;
	struct sandbox_rule rule = { .access = SANDBOX_SERVED };
	char path[PATH_MAX], other[PATH_MAX], err[256];
	int abi = 0;
	(void)snprintf(rule.path, sizeof(rule.path), "%s/root", c->dir);
	if (sandbox_landlock_apply(&rule, 1, &abi, err, sizeof(err)) != 0) {
		(void)fprintf(stderr, "apply: %s\n", err);
		return 10;
	}
	/* Outside: unreachable even to root, directly or through a symlink. */
	if (!expect_errno(open("/etc/passwd", O_RDONLY | O_CLOEXEC), EACCES))
		return 11;
	(void)snprintf(path, sizeof(path), "%s/outside/secret", c->dir);
	if (!expect_errno(open(path, O_RDONLY | O_CLOEXEC), EACCES))
		return 12;
	(void)snprintf(path, sizeof(path), "%s/root/link", c->dir);
	if (!expect_errno(open(path, O_RDONLY | O_CLOEXEC), EACCES))
		return 13;
	/* No executing, no device nodes, even inside. */
	(void)snprintf(path, sizeof(path), "%s/root/fifo", c->dir);
	if (mkfifo(path, 0600) == 0 || errno != EACCES)
		return 14;
	/* Inside: what an FTP session does works. */
	(void)snprintf(path, sizeof(path), "%s/root/sub/new", c->dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, "x", 1) != 1 || close(fd) != 0)
		return 15;
	(void)snprintf(other, sizeof(other), "%s/root/moved", c->dir);
	if (rename(path, other) != 0 || unlink(other) != 0)
		return 16;
	(void)snprintf(path, sizeof(path), "%s/root/d", c->dir);
	if (mkdir(path, 0700) != 0 || rmdir(path) != 0)
		return 17;
	return 0;
}

static void test_landlock_confines(void **state)
{
	(void)state;
	int abi = sandbox_landlock_abi();
	if (abi < 2) {
		print_message("Landlock unavailable (%d): skipped\n", abi);
		skip();
	}
	struct ll_case c;
	char path[PATH_MAX], out[1024];
	(void)snprintf(c.dir, sizeof(c.dir), "/tmp/ferry-test-sandbox-XXXXXX");
	assert_non_null(mkdtemp(c.dir));
	(void)snprintf(path, sizeof(path), "%s/root", c.dir);
	assert_int_equal(mkdir(path, 0700), 0);
	(void)snprintf(path, sizeof(path), "%s/root/sub", c.dir);
	assert_int_equal(mkdir(path, 0700), 0);
	(void)snprintf(path, sizeof(path), "%s/outside", c.dir);
	assert_int_equal(mkdir(path, 0700), 0);
	(void)snprintf(path, sizeof(path), "%s/outside/secret", c.dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	(void)close(fd);
	char link[PATH_MAX];
	(void)snprintf(link, sizeof(link), "%s/root/link", c.dir);
	assert_int_equal(symlink(path, link), 0);

	int st = in_child(ll_child, &c, out, sizeof(out));
	if (st != 0)
		fail_msg("Landlock child failed at step %d: %s", st, out);
	char cmd[PATH_MAX + 16];
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c.dir);
	assert_int_equal(system(cmd), 0);
}

static int seccomp_child(void *arg)
{
	char err[256];
	(void)arg;
	if (sandbox_seccomp_apply(err, sizeof(err)) != 0) {
		(void)fprintf(stderr, "apply: %s\n", err);
		return 10;
	}
	if (syscall(SYS_kexec_load, 0, 0, NULL, 0) != -1 || errno != ENOSYS)
		return 11;
	if (mount("none", "/mnt", "tmpfs", 0, NULL) != -1 || errno != ENOSYS)
		return 12;
	if (socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0) != -1 || errno != ENOSYS)
		return 13;
	/* Allowed calls still work, and so do allowed socket families. */
	int s = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 && errno == ENOSYS)
		return 14;
	if (s >= 0)
		(void)close(s);
	if (getpid() <= 0)
		return 15;
	return 0;
}

static void test_seccomp_blocks_and_names(void **state)
{
	(void)state;
	char out[4096];
	int st = in_child(seccomp_child, NULL, out, sizeof(out));
	if (st != 0)
		fail_msg("seccomp child failed at step %d: %s", st, out);
	char want[128];
	(void)snprintf(want, sizeof(want), "error seccomp: blocked system call kexec_load (%d); it failed with ENOSYS",
		       SYS_kexec_load);
	if (!strstr(out, want))
		fail_msg("no \"%s\" in: %s", want, out);
	if (!strstr(out, "blocked system call mount (") || !strstr(out, "blocked system call socket ("))
		fail_msg("mount/socket not named in: %s", out);
	/* One line per blocked call, nothing else. */
	size_t lines = 0;
	for (const char *c = out; *c; c++)
		lines += *c == '\n';
	assert_int_equal(lines, 3);
}

/* A store with only list(): the homes given. */
static const char *const *fake_homes;

static int fake_list(struct userstore *s, int (*fn)(const struct user_record *u, void *arg), void *arg)
{
	(void)s;
	for (size_t i = 0; fake_homes[i]; i++) {
		struct user_record u = { .home = (char *)fake_homes[i] };
		int r = fn(&u, arg);
		if (r)
			return r;
	}
	return 0;
}

static void derive(const char *const *homes, const char *want)
{
	static const struct userstore_ops ops = { .list = fake_list };
	char out[1024];
	fake_homes = homes;
	assert_int_equal(sandbox_derive_roots(&ops, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void test_derive_roots(void **state)
{
	(void)state;
	derive((const char *const[]){ NULL }, "");
	derive((const char *const[]){ "/srv/ftp/bob", "/srv/ftp/alice/", NULL }, "/srv/ftp");
	derive((const char *const[]){ "/srv/ftp/a/x", "/srv/ftp/b", "/home/c", NULL }, "/srv/ftp,/home");
	derive((const char *const[]){ "/srv/ftp/a/x", "/srv/ftp/a/y", "/srv/b", NULL }, "/srv");
	derive((const char *const[]){ "/data", "/srv/ftp/b", NULL }, "/");
	derive((const char *const[]){ "/srv/a/../b/c", "relative", NULL }, "/srv/b");
}

static void test_rules_from_config(void **state)
{
	(void)state;
	struct config *c = config_new_default();
	struct sandbox_rule rules[16];
	(void)snprintf(c->sandbox_roots, sizeof(c->sandbox_roots), "/srv/ftp,/home");
	(void)snprintf(c->sqlite_path, sizeof(c->sqlite_path), "/var/lib/ferry/users.db");
	(void)snprintf(c->path, sizeof(c->path), "/etc/ferry/ferry.conf");
	(void)snprintf(c->tls_cert, sizeof(c->tls_cert), "/etc/ferry/tls/a.pem");
	(void)snprintf(c->tls_key, sizeof(c->tls_key), "/etc/ferry/keys/a.key");
	size_t n = sandbox_rules_from_config(c, rules, 16);
	static const struct {
		const char *path;
		unsigned access;
	} want[] = {
		{ "/srv/ftp", SANDBOX_SERVED },	    { "/home", SANDBOX_SERVED },
		{ "/var/lib/ferry", SANDBOX_DB },   { "/etc/ferry", SANDBOX_READ },
		{ "/etc/ferry/tls", SANDBOX_READ }, { "/etc/ferry/keys", SANDBOX_READ },
		{ "/etc/localtime", SANDBOX_READ }, { "/dev/urandom", SANDBOX_READ },
	};
	/* Sanitizer builds add /proc/self (LeakSanitizer) at the end. */
	assert_int_equal(n, sizeof(want) / sizeof(want[0]) + FERRY_SANITIZER);
	n -= FERRY_SANITIZER;
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(rules[i].path, want[i].path);
		assert_int_equal(rules[i].access, want[i].access);
	}
	config_unref(c);
}

/* A PostgreSQL store: no SQLite directory (the default path stays in the
 * config but is not the store), the name-service and libpq files instead. */
static void test_rules_for_postgres(void **state)
{
	(void)state;
	struct sandbox_rule rules[40];
	struct config *c = config_new_default();
	assert_non_null(c);
	(void)snprintf(c->store_backend, sizeof(c->store_backend), "postgres");
	(void)snprintf(c->pg_conninfo, sizeof(c->pg_conninfo), "host=db dbname=ferry");
	size_t n = sandbox_rules_from_config(c, rules, 40);
	bool hosts = false, passwd = false;
	for (size_t i = 0; i < n; i++) {
		assert_string_not_equal(rules[i].path, "/var/lib/ferry");
		hosts |= strcmp(rules[i].path, "/etc/hosts") == 0 && rules[i].access == SANDBOX_READ;
		passwd |= strcmp(rules[i].path, "/etc/passwd") == 0 && rules[i].access == SANDBOX_READ;
	}
	assert_true(hosts && passwd);
	config_unref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_landlock_confines),
		cmocka_unit_test(test_seccomp_blocks_and_names),
		cmocka_unit_test(test_derive_roots),
		cmocka_unit_test(test_rules_from_config),
		cmocka_unit_test(test_rules_for_postgres),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
