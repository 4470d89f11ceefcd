/* ferry_common: what every ferry subcommand shares: messages and exit
 * codes, argv text made safe to echo, user-name rules, reading a secret
 * from the terminal or a pipe, and loading the configuration and opening the
 * store (after the privilege drop), making homes. main and the dispatch stay in ferry.c. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "ferry_cli.h"
#include "privs.h"
#include "str.h"
#include "util.h"

int cli_fail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	(void)fputs("ferry: ", stderr);
	(void)vfprintf(stderr, fmt, ap);
	(void)fputs(code == CLI_EXIT_USAGE ? "\nTry 'ferry --help'.\n" : "\n", stderr);
	va_end(ap);
	return code;
}

/* Text from argv echoed in a message: the escape keeps a control byte from
 * rewriting the operator's terminal. Returns out. */
int64_t cli_wall_ms(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *cli_esc(const char *s, char *out, size_t outsz)
{
	return str_escape(slice_from_cstr(s), out, outsz);
}

bool cli_name_valid(const char *s)
{
	static const char allowed[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@-";
	size_t n = strlen(s);

	return n > 0 && n <= CLI_NAME_MAX && s[0] != '-' && s[0] != '.' && strspn(s, allowed) == n;
}

/* Reads up to a newline or EOF into buf (NUL-terminated, newline dropped).
 * With sfd >= 0, a signal on that signalfd aborts the read (-EINTR).
 * -EMSGSIZE if no newline fits; -ENODATA on EOF before any byte. */
static int cli_read_line(int fd, int sfd, char *buf, size_t bufsz, size_t *len)
{
	size_t n = 0;

	for (;;) {
		if (n + 1 >= bufsz)
			return -EMSGSIZE;
		if (sfd >= 0) {
			struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
			if (poll(p, 2, -1) < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			if (p[1].revents)
				return -EINTR;
		}
		ssize_t k = read(fd, buf + n, bufsz - 1 - n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0) {
			if (n == 0)
				return -ENODATA;
			break;
		}
		/* Only the first line counts; anything after it is ignored. */
		char *nl = memchr(buf + n, '\n', (size_t)k);
		if (nl) {
			n = (size_t)(nl - buf);
			break;
		}
		n += (size_t)k;
	}
	if (n && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	return 0;
}

/* Prompts on stderr and reads with echo off. The signals that would kill us
 * are blocked and watched through a signalfd, so echo is always restored
 * first; unblocking afterwards delivers them as usual. */
static int cli_prompt(const char *prompt, char *buf, size_t bufsz, size_t *len)
{
	struct termios saved, quiet;
	sigset_t sigs, oldmask;
	int sfd = -1, r;

	if (tcgetattr(STDIN_FILENO, &saved) != 0)
		return -errno;
	(void)sigemptyset(&sigs);
	(void)sigaddset(&sigs, SIGINT);
	(void)sigaddset(&sigs, SIGTERM);
	(void)sigaddset(&sigs, SIGHUP);
	(void)sigaddset(&sigs, SIGQUIT);
	if (sigprocmask(SIG_BLOCK, &sigs, &oldmask) != 0)
		return -errno;
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0) {
		r = -errno;
		goto fail;
	}
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0) {
		r = -errno;
		goto fail;
	}
	(void)fputs(prompt, stderr);
	(void)fflush(stderr);
	r = cli_read_line(STDIN_FILENO, sfd, buf, bufsz, len);
	(void)fputc('\n', stderr);
	(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
fail:
	if (sfd >= 0)
		(void)close(sfd);
	(void)sigprocmask(SIG_SETMASK, &oldmask, NULL);
	return r;
}

int cli_get_secret(const char *what, char *buf, size_t bufsz, size_t maxlen, size_t *len)
{
	char again[CLI_PASSWORD_BUF], prompt[64];
	size_t n = 0, n2 = 0;
	bool tty = isatty(STDIN_FILENO) == 1;
	int r;

	if (tty) {
		(void)snprintf(prompt, sizeof(prompt), "%c%s: ", what[0] & ~0x20, what + 1);
		r = cli_prompt(prompt, buf, bufsz, &n);
		(void)snprintf(prompt, sizeof(prompt), "Repeat %s: ", what);
		if (r == 0 && n > 0 && n <= maxlen)
			r = cli_prompt(prompt, again, sizeof(again), &n2);
		if (r == 0 && n > 0 && n <= maxlen && !util_ct_equal(buf, n, again, n2)) {
			util_wipe(again, sizeof(again));
			return cli_err("%ss do not match", what);
		}
		util_wipe(again, sizeof(again));
	} else {
		r = cli_read_line(STDIN_FILENO, -1, buf, bufsz, &n);
	}
	if (r == -EMSGSIZE || (r == 0 && n > maxlen))
		return cli_err("%s is longer than %zu bytes", what, maxlen);
	if (r == -ENODATA)
		return tty ? cli_err("no %s entered", what)
			   : cli_err("no %s on standard input (give it as one line)", what);
	if (r == -EINTR)
		return cli_err("interrupted");
	if (r)
		return cli_err("cannot read the %s: %s", what, strerror(-r));
	if (n == 0)
		return cli_err("empty %s", what);
	/* crypt would silently stop at the NUL and hash a shorter password. */
	if (memchr(buf, '\0', n))
		return cli_err("%s contains a NUL byte", what);
	*len = n;
	return CLI_EXIT_OK;
}

/* mkdir -p: every missing component gets CLI_HOME_MODE (less the umask). */
int cli_mkdir_p(const char *path)
{
	char tmp[PATH_MAX];

	if (!str_copy(tmp, sizeof(tmp), path))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(tmp, CLI_HOME_MODE) != 0 && errno != EEXIST)
			return -errno;
		*p = saved;
		if (!saved)
			return 0;
	}
}

int cli_load_config(struct cli *c)
{
	char err[1024];
	const char *path = c->conf_arg ? c->conf_arg : FERRY_DEFAULT_CONFIG;

	/* Without -c, a host with no config file gets the built-in defaults
	 * (the store path among them). An explicit -c must exist. */
	if (!c->conf_arg && access(path, F_OK) != 0 && errno == ENOENT) {
		c->cfg = config_new_default();
		return c->cfg ? CLI_EXIT_OK : cli_err("out of memory");
	}
	int r = config_load(path, &c->cfg, err, sizeof(err));
	if (r)
		return cli_err("%s", err);
	return CLI_EXIT_OK;
}

/* Drops to the service account, then opens the store as that account. */
int cli_open_store(struct cli *c, unsigned flags)
{
	char err[1024];
	int r = privs_drop(c->cfg->run_as, err, sizeof(err));

	if (r)
		return cli_err("%s", err);
	c->ops = auth_backend(c->cfg->store_backend);
	if (!c->ops)
		return cli_err("[store] backend '%s' is not available", c->cfg->store_backend);
	r = c->ops->open(c->cfg, flags, &c->store, err, sizeof(err));
	if (r)
		return cli_err("%s", err);
	return CLI_EXIT_OK;
}

int cli_store_err(const struct cli *c, const char *name, int r)
{
	if (r == -ENOENT)
		return cli_err("no such user '%s'", name);
	if (r == -EEXIST)
		return cli_err("user '%s' already exists", name);
	return cli_store_fail(c, r);
}

int cli_store_fail(const struct cli *c, int r)
{
	char where[512];
	c->ops->where(c->cfg, where, sizeof(where));
	return cli_err("%s: %s", where, strerror(-r));
}

int cli_store_key(const struct cli *c, const char *name, const char *host, char *key, size_t keysz,
		  const char **host_name)
{
	char esc[128];
	const struct config_vhost *h = NULL;
	if (host) {
		h = config_vhost_find(c->cfg, host);
		if (!h)
			return cli_usage_err("--host: unknown host '%s' (no [host %s] section in %s)",
					     cli_esc(host, esc, sizeof(esc)), esc, c->cfg->path);
	}
	if (host_name)
		*host_name = h ? h->name : NULL;
	if (name && user_key(name, h ? h->name : NULL, key, keysz) != 0)
		return cli_usage_err("invalid user name '%s'", cli_esc(name, esc, sizeof(esc)));
	return CLI_EXIT_OK;
}

int cli_host_opt(const char *cmd, int *argc, char **argv, const char **host)
{
	int n = 1;
	*host = NULL;
	for (int i = 1; i < *argc; i++) {
		const char *v = NULL;
		if (strcmp(argv[i], "--host") == 0) {
			if (i + 1 >= *argc)
				return cli_usage_err("%s %s: option '--host' needs a value", cmd, argv[0]);
			v = argv[++i];
		} else if (strncmp(argv[i], "--host=", 7) == 0) {
			v = argv[i] + 7;
		} else {
			argv[n++] = argv[i];
			continue;
		}
		if (*host)
			return cli_usage_err("%s %s: --host given twice", cmd, argv[0]);
		*host = v;
	}
	*argc = n;
	return CLI_EXIT_OK;
}
