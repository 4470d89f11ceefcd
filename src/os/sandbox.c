#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/landlock.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "path.h"
#include "str.h"
#include "util.h"

/* Rights newer than the Debian 12 headers (Linux 6.1 uapi); the numbers are
 * ABI and never change. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif
#define SANDBOX_SCOPE_SIGNAL (1ULL << 1) /* ABI 6 */

/* The full struct of ABI 6; older kernels are handed only its prefix. */
struct sandbox_ll_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

#define LL_FILE_RIGHTS                                                                                                 \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |                   \
	 LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)
#define LL_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define LL_DB                                                                                                          \
	(LL_READ | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_REMOVE_FILE |      \
	 LANDLOCK_ACCESS_FS_TRUNCATE)
/* MAKE_SYM: Landlock treats renaming a symlink as making one, and RNTO
 * must rename the symlinks an administrator put in a home (clients cannot
 * create any; a symlink cannot lead Landlock outside the rules anyway). No
 * EXECUTE, no device/socket/fifo creation, no device ioctls: ferryd never
 * needs them, so a compromised ferryd cannot either. */
#define LL_SERVED                                                                                                      \
	(LL_DB | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REFER |              \
	 LANDLOCK_ACCESS_FS_MAKE_SYM)

/* Paths every ferryd needs, whatever the configuration (GSSAPI's: see
 * add_gss_rules). Missing optional ones are skipped. */
static const struct {
	const char *path;
	unsigned access;
	bool optional;
} sandbox_fixed_paths[] = {
	/* syslog(3) stamps lines in local time: glibc re-reads the zone file. */
	{ "/etc/localtime", SANDBOX_READ, true },
	/* OpenSSL's random source when getrandom() is not enough at reload. */
	{ "/dev/urandom", SANDBOX_READ, true },
};

/* [store] postgres: libpq's connection looks up the local user (its
 * default user name) and the database host by name, and may read a
 * password file and TLS material under the service user's home; the
 * conninfo's own file keywords (sslrootcert, passfile...) are best given
 * under these or under the configuration's directory. */
static const char *const sandbox_pg_paths[] = {
	"/etc/passwd",	    "/etc/group",    "/etc/nsswitch.conf", "/etc/hosts", "/etc/host.conf",
	"/etc/resolv.conf", "/etc/gai.conf", "/etc/services",	   "/etc/ssl",	 "/etc/postgresql-common",
};

/* Sanitizer builds only: LeakSanitizer reads /proc/PID/task and maps at exit. */
static const char *const sanitizer_paths[] = { "/proc/self" };

/* ABI → every file-system right that ABI knows: all of them are handled,
 * so whatever the rules do not grant is denied. */
static uint64_t ll_handled_fs(int abi)
{
	uint64_t fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0..12 */
	if (abi >= 2)
		fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return fs;
}

static uint64_t ll_rights(unsigned access)
{
	switch (access) {
	case SANDBOX_SERVED:
		return LL_SERVED;
	case SANDBOX_DB:
		return LL_DB;
	default:
		return LL_READ;
	}
}

int sandbox_landlock_abi(void)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	return v < 0 ? -errno : (int)v;
}

static int ll_add(int rfd, int abi, const struct sandbox_rule *rule, char *err, size_t errsz)
{
	struct landlock_path_beneath_attr pb = { 0 };
	struct stat st;
	char esc[128];
	int r = 0;
	pb.parent_fd = open(rule->path, O_PATH | O_CLOEXEC);
	if (pb.parent_fd < 0) {
		r = -errno;
		if (!rule->optional)
			log_warn(0, "sandbox: %s: %s; not reachable",
				 str_escape(slice_from_cstr(rule->path), esc, sizeof(esc)), strerror(-r));
		return 0;
	}
	if (fstat(pb.parent_fd, &st) != 0) {
		r = -errno;
		goto fail;
	}
	pb.allowed_access = ll_rights(rule->access) & ll_handled_fs(abi);
	/* Directory rights on a file are EINVAL: a file gets its file rights. */
	if (!S_ISDIR(st.st_mode))
		pb.allowed_access &= LL_FILE_RIGHTS;
	if (syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) != 0)
		r = -errno;
fail:
	if (r)
		(void)snprintf(err, errsz, "Landlock rule for %s: %s",
			       str_escape(slice_from_cstr(rule->path), esc, sizeof(esc)), strerror(-r));
	(void)close(pb.parent_fd);
	return r;
}

int sandbox_landlock_apply(const struct sandbox_rule *rules, size_t n, int *abi_out, char *err, size_t errsz)
{
	int abi = sandbox_landlock_abi();
	*abi_out = abi;
	if (abi < 0) {
		(void)snprintf(err, errsz, "the kernel has no Landlock (%s%s)", strerror(-abi),
			       abi == -EOPNOTSUPP ? ": add landlock to the lsm= boot parameter" : ": Linux 5.13+");
		return abi;
	}
	/* ABI 1 refuses every rename across directories: RNTO would break. */
	if (abi < 2) {
		(void)snprintf(err, errsz,
			       "Landlock ABI %d cannot allow renames across directories (Linux 5.19+ needed)", abi);
		return -EOPNOTSUPP;
	}
	struct sandbox_ll_attr attr = { .handled_access_fs = ll_handled_fs(abi) };
	size_t attr_size = sizeof(uint64_t);
	/* Network rights stay unhandled: PORT/EPRT may connect to any port
	 * >= 1024 of the client and PASV binds in the configured range, so a
	 * rule set would allow nearly everything; seccomp limits socket
	 * families instead. ABI 6 scope: no signals to processes outside the
	 * sandbox. Abstract UNIX sockets stay reachable: systemd's
	 * NOTIFY_SOCKET may be one (sd_notify opens it at each report). */
	if (abi >= 6) {
		attr.scoped = SANDBOX_SCOPE_SIGNAL;
		attr_size = sizeof(attr);
	}
	int rfd = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
	if (rfd < 0) {
		int r = -errno;
		(void)snprintf(err, errsz, "landlock_create_ruleset: %s", strerror(-r));
		return r;
	}
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++)
		r = ll_add(rfd, abi, &rules[i], err, errsz);
	if (r == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		r = -errno;
		(void)snprintf(err, errsz, "PR_SET_NO_NEW_PRIVS: %s", strerror(-r));
	}
	if (r == 0 && syscall(SYS_landlock_restrict_self, rfd, 0) != 0) {
		r = -errno;
		(void)snprintf(err, errsz, "landlock_restrict_self: %s", strerror(-r));
	}
	(void)close(rfd);
	return r;
}

static size_t add_rule(struct sandbox_rule *rules, size_t n, size_t cap, const char *path, size_t len, unsigned access,
		       bool optional)
{
	if (n >= cap || len == 0 || len >= sizeof(rules[n].path)) {
		if (n >= cap)
			log_warn(0, "sandbox: too many paths; %.*s not reachable", (int)len, path);
		return n;
	}
	memcpy(rules[n].path, path, len);
	rules[n].path[len] = '\0';
	rules[n].access = access;
	rules[n].optional = optional;
	return n + 1;
}

/* The directory holding path (and, if path is a symlink such as
 * certbot's live/, the one holding its target): files there may be
 * replaced by new inodes before a SIGHUP reload. */
static size_t add_parent(struct sandbox_rule *rules, size_t n, size_t cap, const char *path, unsigned access)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return n;
	n = add_rule(rules, n, cap, path, slash == path ? 1 : (size_t)(slash - path), access, false);
	char *real = realpath(path, NULL);
	if (real && strcmp(real, path) != 0) {
		slash = strrchr(real, '/');
		n = add_rule(rules, n, cap, real, slash == real ? 1 : (size_t)(slash - real), access, false);
	}
	free(real);
	return n;
}

static size_t add_list(struct sandbox_rule *rules, size_t n, size_t cap, const char *list, unsigned access, bool parent)
{
	struct slice rest = slice_from_cstr(list), item;
	bool more = list[0] != '\0';
	while (more) {
		char one[PATH_MAX];
		more = slice_split(rest, ',', &item, &rest);
		item = slice_trim_spaces(item);
		if (item.n == 0 || item.n >= sizeof(one))
			continue;
		memcpy(one, item.p, item.n);
		one[item.n] = '\0';
		n = parent ? add_parent(rules, n, cap, one, access)
			   : add_rule(rules, n, cap, one, item.n, access, false);
	}
	return n;
}

/* What MIT Kerberos reads and writes while accepting contexts, after the
 * sandbox is up: its configuration ($KRB5_CONFIG, a colon list, or
 * /etc/krb5.conf and krb5.conf.d), the GSS mechanism list (/etc/gss), the
 * plugins it may dlopen (under /usr/lib), and the replay cache
 * ($KRB5RCACHEDIR, else /var/tmp), where it creates and rewrites a file. */
static size_t add_gss_rules(struct sandbox_rule *rules, size_t n, size_t cap)
{
	const char *conf = getenv("KRB5_CONFIG");
	if (conf && conf[0]) {
		struct slice rest = slice_from_cstr(conf), item;
		bool more = true;
		while (more) {
			more = slice_split(rest, ':', &item, &rest);
			const char *slash = item.n ? memrchr(item.p, '/', item.n) : NULL;
			if (slash)
				n = add_rule(rules, n, cap, item.p, slash == item.p ? 1 : (size_t)(slash - item.p),
					     SANDBOX_READ, true);
		}
	} else {
		n = add_rule(rules, n, cap, "/etc/krb5.conf", strlen("/etc/krb5.conf"), SANDBOX_READ, true);
		n = add_rule(rules, n, cap, "/etc/krb5.conf.d", strlen("/etc/krb5.conf.d"), SANDBOX_READ, true);
	}
	n = add_rule(rules, n, cap, "/etc/gss", strlen("/etc/gss"), SANDBOX_READ, true);
	n = add_rule(rules, n, cap, "/usr/lib", strlen("/usr/lib"), SANDBOX_READ, true);
	const char *rc = getenv("KRB5RCACHEDIR");
	if (!rc || rc[0] != '/')
		rc = "/var/tmp";
	return add_rule(rules, n, cap, rc, strlen(rc), SANDBOX_DB, true);
}

/* libpq reads its password file ($PGPASSFILE, else ~/.pgpass) and TLS
 * files (~/.postgresql) at each connection, and ferryd reconnects after
 * the sandbox is up: the service user's (the sandbox comes after the
 * privilege drop). */
static size_t add_pg_rules(struct sandbox_rule *rules, size_t n, size_t cap)
{
	char buf[4096], path[PATH_MAX];
	struct passwd pw, *res = NULL;
	for (size_t i = 0; i < ARRAY_LEN(sandbox_pg_paths); i++)
		n = add_rule(rules, n, cap, sandbox_pg_paths[i], strlen(sandbox_pg_paths[i]), SANDBOX_READ, true);
	const char *passfile = getenv("PGPASSFILE");
	if (passfile && passfile[0] == '/')
		n = add_rule(rules, n, cap, passfile, strlen(passfile), SANDBOX_READ, true);
	if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &res) != 0 || !res || res->pw_dir[0] != '/')
		return n;
	static const char *const own[] = { ".pgpass", ".postgresql" };
	for (size_t i = 0; i < ARRAY_LEN(own); i++) {
		int k = snprintf(path, sizeof(path), "%s/%s", strcmp(res->pw_dir, "/") == 0 ? "" : res->pw_dir, own[i]);
		if (k > 0 && (size_t)k < sizeof(path))
			n = add_rule(rules, n, cap, path, (size_t)k, SANDBOX_READ, true);
	}
	return n;
}

size_t sandbox_rules_from_config(const struct config *cfg, struct sandbox_rule *rules, size_t cap)
{
	size_t n = add_list(rules, 0, cap, cfg->sandbox_roots, SANDBOX_SERVED, false);
	/* A PostgreSQL store is a socket (connect is not a Landlock right);
	 * libpq reads only what the name service and its own files need. */
	if (strcmp(cfg->store_backend, "sqlite") == 0)
		n = add_parent(rules, n, cap, cfg->sqlite_path, SANDBOX_DB);
	else
		n = add_pg_rules(rules, n, cap);
	if (cfg->path[0])
		n = add_parent(rules, n, cap, cfg->path, SANDBOX_READ);
	n = add_list(rules, n, cap, cfg->tls_cert, SANDBOX_READ, true);
	n = add_list(rules, n, cap, cfg->tls_key, SANDBOX_READ, true);
	n = add_list(rules, n, cap, cfg->tls_ticket_keys, SANDBOX_READ, true);
	/* [host NAME] certificates are re-read on SIGHUP too. */
	for (size_t i = 0; i < cfg->n_vhosts; i++) {
		n = add_list(rules, n, cap, cfg->vhosts[i].tls_cert, SANDBOX_READ, true);
		n = add_list(rules, n, cap, cfg->vhosts[i].tls_key, SANDBOX_READ, true);
	}
	if (cfg->gss_keytab[0])
		n = add_gss_rules(rules, n, cap);
	/* [log] xferlog and json are reopened on SIGUSR1 (logrotate). */
	if (cfg->log_xferlog[0])
		n = add_parent(rules, n, cap, cfg->log_xferlog, SANDBOX_DB);
	if (cfg->log_json[0])
		n = add_parent(rules, n, cap, cfg->log_json, SANDBOX_DB);
	for (size_t i = 0; i < ARRAY_LEN(sandbox_fixed_paths); i++)
		n = add_rule(rules, n, cap, sandbox_fixed_paths[i].path, strlen(sandbox_fixed_paths[i].path),
			     sandbox_fixed_paths[i].access, sandbox_fixed_paths[i].optional);
	for (size_t i = 0; FERRY_SANITIZER && i < ARRAY_LEN(sanitizer_paths); i++)
		n = add_rule(rules, n, cap, sanitizer_paths[i], strlen(sanitizer_paths[i]), SANDBOX_READ, true);
	return n;
}

struct derive {
	char *out;
	size_t outsz;
	int err;
};

/* Keeps out a list of directories none of which lies under another. */
static void derive_add(struct derive *d, const char *dir)
{
	if (path_under_roots(dir, d->out))
		return;
	char kept[1024] = "";
	struct slice rest = slice_from_cstr(d->out), item;
	bool more = d->out[0] != '\0';
	size_t k = 0;
	while (more) {
		char one[PATH_MAX];
		more = slice_split(rest, ',', &item, &rest);
		if (item.n >= sizeof(one))
			continue;
		memcpy(one, item.p, item.n);
		one[item.n] = '\0';
		if (path_under_roots(one, dir))
			continue; /* folded into dir */
		int w = snprintf(kept + k, sizeof(kept) - k, "%s%s", k ? "," : "", one);
		if (w < 0 || (size_t)w >= sizeof(kept) - k) {
			d->err = -ENOSPC;
			return;
		}
		k += (size_t)w;
	}
	int w = snprintf(d->out, d->outsz, "%s%s%s", kept, k ? "," : "", dir);
	if (w < 0 || (size_t)w >= d->outsz)
		d->err = -ENOSPC;
}

static int derive_one(const struct user_record *u, void *arg)
{
	struct derive *d = arg;
	char dir[PATH_MAX];
	if (!u->home || u->home[0] != '/' || path_resolve("/", slice_from_cstr(u->home), dir, sizeof(dir)) != 0)
		return 0;
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0'; /* a home directly under "/": its parent is "/" */
	else
		*slash = '\0';
	derive_add(d, dir);
	return d->err;
}

int sandbox_derive_roots(const struct userstore_ops *ops, struct userstore *s, char *out, size_t outsz)
{
	struct derive d = { out, outsz, 0 };
	if (outsz == 0 || outsz > 1024)
		return -EINVAL;
	out[0] = '\0';
	int r = ops->list(s, derive_one, &d);
	return r ? r : d.err;
}

static int layer_fail(int mode, const char *what, const char *why, char *err, size_t errsz)
{
	if (mode == SANDBOX_REQUIRE) {
		(void)snprintf(err, errsz, "[sandbox] %s = require, but %s; refusing to start", what, why);
		return -EPERM;
	}
	log_warn(0, "sandbox: %s is OFF: %s (set [sandbox] %s = require to refuse to start instead)", what, why, what);
	return 0;
}

int sandbox_apply(const struct config *cfg, char *err, size_t errsz)
{
	char why[512];
	int r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		(void)snprintf(err, errsz, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -errno;
	}
	if (cfg->sandbox_landlock == SANDBOX_OFF) {
		log_info(0, "sandbox: Landlock off ([sandbox] landlock = off)");
	} else {
		struct sandbox_rule *rules = util_xcalloc(128, sizeof(*rules)); /* [host] certificates: up to 64 more */
		size_t n = sandbox_rules_from_config(cfg, rules, 128);
		int abi = 0;
		r = sandbox_landlock_apply(rules, n, &abi, why, sizeof(why));
		free(rules);
		if (r == 0)
			log_info(0,
				 "sandbox: Landlock ABI %d on; files reachable: roots %s, database, config, TLS files",
				 abi, cfg->sandbox_roots[0] ? cfg->sandbox_roots : "(none)");
		else if (layer_fail(cfg->sandbox_landlock, "landlock", why, err, errsz) != 0)
			return -EPERM;
	}
	if (cfg->sandbox_seccomp == SANDBOX_OFF) {
		log_info(0, "sandbox: seccomp off ([sandbox] seccomp = off)");
		return 0;
	}
	r = sandbox_seccomp_apply(why, sizeof(why));
	if (r == 0)
		log_info(0, "sandbox: seccomp allow-list on; a blocked system call is logged by name");
	else if (layer_fail(cfg->sandbox_seccomp, "seccomp", why, err, errsz) != 0)
		return -EPERM;
	return 0;
}
