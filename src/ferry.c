/* ferry: the admin CLI. Manages the user store and checks configuration
 * files. Started as root it becomes the service account before it touches
 * the database or any home directory, so everything it creates belongs to
 * the account ferryd runs as, and a home is checked with that account's
 * rights. Passwords come from the terminal or stdin, never from argv, where
 * every user on the host could read them. */
#include <crypt.h> /* only for CRYPT_MAX_PASSPHRASE_SIZE in a message */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "ferry_cli.h"
#include "ferry_version.h"
#include "privs.h"
#include "str.h"
#include "util.h"

#ifndef FERRY_DEFAULT_CONFIG
#define FERRY_DEFAULT_CONFIG "/etc/ferry/ferry.conf"
#endif

/* Input bound only: libxcrypt refuses passwords of CRYPT_MAX_PASSPHRASE_SIZE
 * (512) bytes or more, which cli_new_hash reports. */
#define CLI_PASSWORD_MAX 1024
/* Room for the longest password, a CR, an LF and the NUL. */
#define CLI_PASSWORD_BUF (CLI_PASSWORD_MAX + 3)
#define CLI_NAME_MAX 64
#define CLI_HOME_MODE 0750
#define CLI_PERMS_HELP "use read,write,delete,rename,mkdir,list or all"

static const char cli_usage_text[] =
    "Usage: ferry [-c FILE] COMMAND\n"
    "\n"
    "Users:\n"
    "  user add NAME --home DIR [--account ACCT] [--perms LIST] [--create-home] [--disabled]\n"
    "  user del NAME\n"
    "  user list\n"
    "  user show NAME\n"
    "  user passwd NAME\n"
    "  user enable NAME\n"
    "  user disable NAME\n"
    "  user set NAME [--home DIR [--create-home]] [--account ACCT|--no-account] [--perms LIST]\n"
    "\n"
    "One-time passwords:\n"
    "  otp init NAME [--alg md5|sha1] [--count N] [--seed SEED] [--reply 331|336] [--allow-password]\n"
    "  otp show NAME\n"
    "  otp set NAME [--reply 331|336|default] [--allow-password|--no-password]\n"
    "  otp disable NAME\n"
    "  totp enable NAME\n"
    "  totp disable NAME\n"
    "Kerberos principals allowed to log in as a user (AUTH GSSAPI, then USER -> 232):\n"
    "  principal add PRINCIPAL NAME\n"
    "  principal del PRINCIPAL NAME\n"
    "  principal list [NAME]\n"
    "  (without a mapping, PRINCIPAL name@DEFAULT.REALM may log in as name)\n"
    "\n"
    "Configuration:\n"
    "  config check       validate the configuration file\n"
    "\n"
    "Running server (through [admin] socket):\n"
    "  status             live sessions: id, user, address, state, transfer and progress\n"
    "  kick SESSION       close a session (421), by the id status shows\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE  configuration file (default " FERRY_DEFAULT_CONFIG ")\n"
    "  -h, --help         show this help\n"
    "  -V, --version      show the version\n"
    "\n"
    "NAME is 1-64 characters of A-Z a-z 0-9 . _ @ - and starts with neither '-' nor '.'.\n"
    "LIST is a comma-separated subset of read,write,delete,rename,mkdir,list, or all\n"
    "(the default). Passwords are read from the terminal (twice, not echoed) or as\n"
    "one line from standard input, never from the command line; so is the OTP pass\n"
    "phrase (10-63 characters, RFC 2289).\n";

/* Option values start above every character getopt may return. */
enum cli_opt { OPT_HOME = 0x100, OPT_ACCOUNT, OPT_NO_ACCOUNT, OPT_PERMS, OPT_CREATE_HOME, OPT_DISABLED };
#define OPT_BIT(o) (1u << ((o)-OPT_HOME))

static const struct option cli_user_options[] = {
    {"home", required_argument, NULL, OPT_HOME},
    {"account", required_argument, NULL, OPT_ACCOUNT},
    {"no-account", no_argument, NULL, OPT_NO_ACCOUNT},
    {"perms", required_argument, NULL, OPT_PERMS},
    {"create-home", no_argument, NULL, OPT_CREATE_HOME},
    {"disabled", no_argument, NULL, OPT_DISABLED},
    {NULL, 0, NULL, 0},
};

struct cli_args;
struct cli_user_cmd {
	const char *verb;
	int (*run)(struct cli *c, const struct cli_args *a);
	int (*change)(struct user_record *u, const struct cli_args *a);
	const char *done;
	unsigned options; /* OPT_BIT of each option it accepts */
	bool takes_name;
	bool create;
};

struct cli_args {
	const struct cli_user_cmd *cmd;
	const char *name;
	const char *home;
	const char *account;
	const char *perms_text;
	uint32_t perms;
	unsigned seen; /* OPT_BIT of every option given */
};

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

/* perms_parse only says "invalid": find the item to name in the message. */
static int cli_parse_perms(const char *text, uint32_t *out)
{
	struct slice rest = slice_from_cstr(text), word;
	char esc[128];
	bool more = true;

	if (perms_parse(text, out) == 0)
		return 0;
	if (slice_trim_spaces(rest).n == 0)
		return cli_err("--perms: empty permission list (" CLI_PERMS_HELP ")");
	while (more) {
		uint32_t bits;
		more = slice_split(rest, ',', &word, &rest);
		word = slice_trim_spaces(word);
		char *item = slice_dup(word);
		int r = perms_parse(item, &bits);
		free(item);
		if (r != 0)
			break;
	}
	if (word.n == 0)
		return cli_err("--perms: empty item in '%s' (" CLI_PERMS_HELP ")", cli_esc(text, esc, sizeof(esc)));
	return cli_err("--perms: unknown permission '%s' (" CLI_PERMS_HELP ")", str_escape(word, esc, sizeof(esc)));
}

/* Checks everything that needs neither the config nor the store, so a typo
 * is reported before anything is opened or created. */
static int cli_validate_args(struct cli_args *a)
{
	char esc[PATH_MAX];

	if (a->name && !cli_name_valid(a->name))
		return cli_err("invalid user name '%s' (1-%d characters of A-Z a-z 0-9 . _ @ -, not starting with "
			       "'-' or '.')",
			       cli_esc(a->name, esc, sizeof(esc)), CLI_NAME_MAX);
	if (a->home) {
		struct slice h = slice_from_cstr(a->home);
		if (h.n == 0 || h.p[0] != '/')
			return cli_err("--home: '%s' is not an absolute path", cli_esc(a->home, esc, sizeof(esc)));
		if (slice_has_ctl(h))
			return cli_err("--home: '%s' contains control characters", cli_esc(a->home, esc, sizeof(esc)));
		if (h.n >= PATH_MAX)
			return cli_err("--home: path is too long");
	}
	if (a->account) {
		if (!a->account[0])
			return cli_err("--account: must not be empty (use --no-account to remove it)");
		if (slice_has_ctl(slice_from_cstr(a->account)))
			return cli_err("--account: must not contain control characters");
	}
	a->perms = PERM_ALL;
	if (a->perms_text)
		return cli_parse_perms(a->perms_text, &a->perms);
	return 0;
}

static void cli_whoami(char *out, size_t outsz)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &res) == 0 && res)
		(void)str_copy(out, outsz, pw.pw_name);
	else
		(void)snprintf(out, outsz, "uid %u", (unsigned)geteuid());
}

/* mkdir -p: every missing component gets CLI_HOME_MODE (less the umask). */
static int cli_mkdir_p(const char *path)
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

/* Runs after the privilege drop: ferryd opens the home as the service user,
 * so that is whose rights decide. O_RDONLY (not O_PATH) also proves the
 * directory can be listed. */
static int cli_check_home(const char *home, bool create)
{
	char who[64], esc[PATH_MAX];
	int fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int e = fd < 0 ? errno : 0;

	cli_whoami(who, sizeof(who));
	(void)cli_esc(home, esc, sizeof(esc));
	if (fd < 0 && e == ENOENT && create) {
		int r = cli_mkdir_p(home);
		if (r == -EACCES)
			return cli_err("cannot create home %s: permission denied for user %s", esc, who);
		if (r)
			return cli_err("cannot create home %s: %s", esc, strerror(-r));
		fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		e = fd < 0 ? errno : 0;
	}
	if (fd >= 0) {
		(void)close(fd);
		return 0;
	}
	switch (e) {
	case ENOENT:
		return cli_err("home %s does not exist (create it, or add --create-home)", esc);
	case ENOTDIR:
		return cli_err("home %s is not a directory", esc);
	case EACCES:
		return cli_err("home %s is not accessible to user %s", esc, who);
	default:
		return cli_err("home %s: %s", esc, strerror(e));
	}
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
			struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
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

/* Reads a password and hashes it into *hash (caller frees). */
static int cli_new_hash(char **hash)
{
	char pw[CLI_PASSWORD_BUF];
	size_t n;
	int rc = cli_get_secret("password", pw, sizeof(pw), CLI_PASSWORD_MAX, &n);

	if (rc == CLI_EXIT_OK) {
		int r = auth_hash_password(pw, hash);
		if (r == -ERANGE)
			rc = cli_err("password is too long to hash (at most %d bytes)", CRYPT_MAX_PASSPHRASE_SIZE - 1);
		else if (r)
			rc = cli_err("cannot hash the password: %s", strerror(-r));
	}
	util_wipe(pw, sizeof(pw));
	return rc;
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
int cli_open_store(struct cli *c, bool create)
{
	char err[1024];
	int r = privs_drop(c->cfg->run_as, err, sizeof(err));

	if (r)
		return cli_err("%s", err);
	c->ops = auth_backend(c->cfg->store_backend);
	if (!c->ops)
		return cli_err("[store] backend '%s' is not available", c->cfg->store_backend);
	r = c->ops->open(c->cfg, create, &c->store, err, sizeof(err));
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
	return cli_err("user database %s: %s", c->cfg->sqlite_path, strerror(-r));
}

/* Fetches an existing user for the commands that modify one. */
static int cli_lookup(const struct cli *c, const char *name, struct user_record *u)
{
	int r = c->ops->lookup(c->store, name, u);
	return r ? cli_store_err(c, name, r) : CLI_EXIT_OK;
}

static int cli_user_add(struct cli *c, const struct cli_args *a)
{
	struct user_record u = {0};
	int rc, r;

	/* Ask for the password only once the name is known to be free. */
	r = c->ops->lookup(c->store, a->name, &u);
	user_record_free(&u);
	if (r != -ENOENT)
		return cli_store_err(c, a->name, r ? r : -EEXIST);
	rc = cli_check_home(a->home, a->seen & OPT_BIT(OPT_CREATE_HOME));
	if (rc)
		return rc;
	rc = cli_new_hash(&u.password_hash);
	if (rc)
		goto fail;
	u.name = util_xstrdup(a->name);
	u.home = util_xstrdup(a->home);
	u.account = a->account ? util_xstrdup(a->account) : NULL;
	u.perms = a->perms;
	u.enabled = !(a->seen & OPT_BIT(OPT_DISABLED));
	r = c->ops->add(c->store, &u);
	if (r) {
		rc = cli_store_err(c, a->name, r);
		goto fail;
	}
	(void)printf("ferry: user '%s' added (home %s)\n", a->name, a->home);
fail:
	user_record_free(&u);
	return rc;
}

static int cli_user_del(struct cli *c, const struct cli_args *a)
{
	int r = c->ops->remove(c->store, a->name);
	if (r)
		return cli_store_err(c, a->name, r);
	(void)printf("ferry: user '%s' deleted\n", a->name);
	return CLI_EXIT_OK;
}

static int cli_print_row(const struct user_record *u, void *arg)
{
	char perms[64];

	perms_format(u->perms, perms, sizeof(perms));
	/* Tab-separated: ferry never writes a tab into a name, home or perms. */
	(void)printf("%s\t%s\t%s\t%s\taccount=%s\n", u->name, u->enabled ? "enabled" : "disabled", u->home, perms,
		     u->account ? "yes" : "no");
	return 0;
}

static int cli_user_list(struct cli *c, const struct cli_args *a)
{
	int r = c->ops->list(c->store, cli_print_row, NULL);
	return r ? cli_err("user database %s: %s", c->cfg->sqlite_path, strerror(-r)) : CLI_EXIT_OK;
}

/* The scheme, never the hash: the hash is an offline-guessable secret. */
static const char *cli_hash_scheme(const char *hash)
{
	static const struct {
		const char *prefix, *name;
	} schemes[] = {
	    {"$y$", "yescrypt"},    {"$gy$", "gost-yescrypt"}, {"$7$", "scrypt"},
	    {"$2b$", "bcrypt"},	    {"$2a$", "bcrypt"},	       {"$2y$", "bcrypt"},
	    {"$6$", "sha512crypt"}, {"$5$", "sha256crypt"},    {"$1$", "md5crypt (weak)"},
	};
	if (hash[0] == '*' || hash[0] == '!')
		return "locked";
	for (size_t i = 0; i < ARRAY_LEN(schemes); i++)
		if (strncmp(hash, schemes[i].prefix, strlen(schemes[i].prefix)) == 0)
			return schemes[i].name;
	return "unknown";
}

static void cli_format_time(int64_t t, char *out, size_t outsz)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (!gmtime_r(&tt, &tm) || strftime(out, outsz, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		(void)snprintf(out, outsz, "%lld", (long long)t);
}

static int cli_user_show(struct cli *c, const struct cli_args *a)
{
	struct user_record u;
	char perms[64], created[64], updated[64];
	int rc = cli_lookup(c, a->name, &u);

	if (rc)
		return rc;
	perms_format(u.perms, perms, sizeof(perms));
	cli_format_time(u.created_at, created, sizeof(created));
	cli_format_time(u.updated_at, updated, sizeof(updated));
	(void)printf("name: %s\nstatus: %s\nhome: %s\nperms: %s\naccount: %s\npassword: %s\ncreated: %s\n"
		     "updated: %s\n",
		     u.name, u.enabled ? "enabled" : "disabled", u.home, perms, u.account ? u.account : "(none)",
		     cli_hash_scheme(u.password_hash), created, updated);
	user_record_free(&u);
	return CLI_EXIT_OK;
}

/* The commands that change one existing user: each changes the record
 * read from the store; cli_user_modify writes it back. */
static int cli_change_password(struct user_record *u, const struct cli_args *a)
{
	char *hash = NULL;
	int rc = cli_new_hash(&hash);

	if (rc)
		return rc;
	free(u->password_hash);
	u->password_hash = hash;
	return CLI_EXIT_OK;
}

static int cli_change_enable(struct user_record *u, const struct cli_args *a)
{
	u->enabled = true;
	return CLI_EXIT_OK;
}

static int cli_change_disable(struct user_record *u, const struct cli_args *a)
{
	u->enabled = false;
	return CLI_EXIT_OK;
}

static int cli_change_set(struct user_record *u, const struct cli_args *a)
{
	if (a->home) {
		int rc = cli_check_home(a->home, a->seen & OPT_BIT(OPT_CREATE_HOME));
		if (rc)
			return rc;
		free(u->home);
		u->home = util_xstrdup(a->home);
	}
	if (a->account || (a->seen & OPT_BIT(OPT_NO_ACCOUNT))) {
		free(u->account);
		u->account = a->account ? util_xstrdup(a->account) : NULL;
	}
	if (a->perms_text)
		u->perms = a->perms;
	return CLI_EXIT_OK;
}

static int cli_user_modify(struct cli *c, const struct cli_args *a)
{
	struct user_record u;
	int r, rc = cli_lookup(c, a->name, &u);

	if (rc)
		return rc;
	rc = a->cmd->change(&u, a);
	if (rc)
		goto fail;
	r = c->ops->update(c->store, &u);
	if (r) {
		rc = cli_store_err(c, a->name, r);
		goto fail;
	}
	(void)printf("ferry: user '%s' %s\n", a->name, a->cmd->done);
fail:
	user_record_free(&u);
	return rc;
}

#define OPTS_ADD                                                                                                       \
	(OPT_BIT(OPT_HOME) | OPT_BIT(OPT_ACCOUNT) | OPT_BIT(OPT_PERMS) | OPT_BIT(OPT_CREATE_HOME) |                    \
	 OPT_BIT(OPT_DISABLED))
#define OPTS_SET                                                                                                       \
	(OPT_BIT(OPT_HOME) | OPT_BIT(OPT_ACCOUNT) | OPT_BIT(OPT_NO_ACCOUNT) | OPT_BIT(OPT_PERMS) |                     \
	 OPT_BIT(OPT_CREATE_HOME))

/* One row per `ferry user VERB`: what it accepts and whether it may create
 * the database (only add: a typo in the path must not leave empty files).
 * Rows that modify one user name the change and the word reporting it. */
static const struct cli_user_cmd cli_user_cmds[] = {
    {"add", cli_user_add, NULL, NULL, OPTS_ADD, true, true},
    {"del", cli_user_del, NULL, NULL, 0, true, false},
    {"list", cli_user_list, NULL, NULL, 0, false, false},
    {"show", cli_user_show, NULL, NULL, 0, true, false},
    {"passwd", cli_user_modify, cli_change_password, "has a new password", 0, true, false},
    {"enable", cli_user_modify, cli_change_enable, "enabled", 0, true, false},
    {"disable", cli_user_modify, cli_change_disable, "disabled", 0, true, false},
    {"set", cli_user_modify, cli_change_set, "updated", OPTS_SET, true, false},
};

/* argv[0] is the verb. GNU getopt permutes, so NAME may come anywhere. */
static int cli_parse_user_args(const struct cli_user_cmd *cmd, int argc, char **argv, struct cli_args *a)
{
	int o;

	*a = (struct cli_args){.cmd = cmd};
	opterr = 0;
	optind = 0; /* 0 makes glibc's getopt start over on a new vector */
	while ((o = getopt_long(argc, argv, ":", cli_user_options, NULL)) != -1) {
		/* After a failed match optind may point past an option's value or
		 * still into a "-xyz" group: name the option from what we know. */
		if (o == ':')
			return cli_usage_err("user %s: option '%s' needs a value", cmd->verb, argv[optind - 1]);
		if (o == '?' && optopt)
			return cli_usage_err("user %s: unknown option '-%c'", cmd->verb, optopt);
		if (o < OPT_HOME || o > OPT_DISABLED)
			return cli_usage_err("user %s: unknown option '%s'", cmd->verb, argv[optind - 1]);
		if (!(cmd->options & OPT_BIT(o)))
			return cli_usage_err("user %s: option '--%s' does not apply here", cmd->verb,
					     cli_user_options[o - OPT_HOME].name);
		a->seen |= OPT_BIT(o);
		if (o == OPT_HOME)
			a->home = optarg;
		else if (o == OPT_ACCOUNT)
			a->account = optarg;
		else if (o == OPT_PERMS)
			a->perms_text = optarg;
	}
	int nargs = argc - optind;
	if (cmd->takes_name && nargs < 1)
		return cli_usage_err("user %s: missing NAME", cmd->verb);
	if (nargs > (cmd->takes_name ? 1 : 0))
		return cli_usage_err("user %s: unexpected argument '%s'", cmd->verb,
				     argv[optind + (cmd->takes_name ? 1 : 0)]);
	a->name = cmd->takes_name ? argv[optind] : NULL;

	if (cmd->run == cli_user_add && !a->home)
		return cli_usage_err("user add: --home DIR is required");
	if (a->account && (a->seen & OPT_BIT(OPT_NO_ACCOUNT)))
		return cli_usage_err("user %s: --account and --no-account exclude each other", cmd->verb);
	if (cmd->change == cli_change_set && !(a->seen & ~OPT_BIT(OPT_CREATE_HOME)))
		return cli_usage_err("user set: nothing to change (give --home, --account, --no-account or --perms)");
	if ((a->seen & OPT_BIT(OPT_CREATE_HOME)) && !a->home)
		return cli_usage_err("user %s: --create-home needs --home", cmd->verb);
	return CLI_EXIT_OK;
}

static int cli_user(struct cli *c, int argc, char **argv)
{
	const struct cli_user_cmd *cmd = NULL;
	struct cli_args a;
	int rc;

	if (argc < 1)
		return cli_usage_err("user: missing command (add, del, list, show, passwd, enable, disable, set)");
	for (size_t i = 0; i < ARRAY_LEN(cli_user_cmds); i++)
		if (strcmp(argv[0], cli_user_cmds[i].verb) == 0)
			cmd = &cli_user_cmds[i];
	if (!cmd) {
		char esc[128];
		return cli_usage_err("user: unknown command '%s'", cli_esc(argv[0], esc, sizeof(esc)));
	}
	rc = cli_parse_user_args(cmd, argc, argv, &a);
	if (!rc)
		rc = cli_validate_args(&a);
	if (!rc)
		rc = cli_load_config(c);
	if (!rc)
		rc = cli_open_store(c, cmd->create);
	if (!rc)
		rc = cmd->run(c, &a);
	return rc;
}

/* The same check as ferryd --check: load and validate, report, no side
 * effects (no privilege drop, nothing opened besides the file). */
static int cli_config(struct cli *c, int argc, char **argv)
{
	char err[1024];
	const char *path = c->conf_arg ? c->conf_arg : FERRY_DEFAULT_CONFIG;

	if (argc < 1 || strcmp(argv[0], "check") != 0)
		return cli_usage_err("config: expected 'config check'");
	if (argc > 1)
		return cli_usage_err("config check: unexpected argument '%s'", argv[1]);
	int r = config_load(path, &c->cfg, err, sizeof(err));
	if (r)
		return cli_err("%s", err);
	(void)printf("%s: OK\n", path);
	return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option global[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct cli c = {0};
	int o, rc = CLI_EXIT_OK;

	opterr = 0;
	/* '+': stop at the command word; its own options are parsed later. */
	while ((o = getopt_long(argc, argv, "+:c:hV", global, NULL)) != -1) {
		switch (o) {
		case 'c':
			c.conf_arg = optarg;
			break;
		case 'h':
			(void)fputs(cli_usage_text, stdout);
			goto out;
		case 'V':
			(void)printf("ferry %s\n", FERRY_VERSION);
			goto out;
		case ':':
			return cli_usage_err("option '%s' needs a value", argv[optind - 1]);
		default:
			if (optopt)
				return cli_usage_err("unknown option '-%c'", optopt);
			return cli_usage_err("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_err("missing command");
	if (strcmp(argv[optind], "user") == 0) {
		rc = cli_user(&c, argc - optind - 1, argv + optind + 1);
	} else if (strcmp(argv[optind], "otp") == 0) {
		rc = cli_otp(&c, argc - optind - 1, argv + optind + 1);
	} else if (strcmp(argv[optind], "totp") == 0) {
		rc = cli_totp(&c, argc - optind - 1, argv + optind + 1);
	} else if (strcmp(argv[optind], "principal") == 0) {
		rc = cli_principal(&c, argc - optind - 1, argv + optind + 1);
	} else if (strcmp(argv[optind], "status") == 0) {
		rc = cli_status(&c, argc - optind - 1, argv + optind + 1);
	} else if (strcmp(argv[optind], "kick") == 0) {
		rc = cli_kick(&c, argc - optind - 1, argv + optind + 1);
	} else if (strcmp(argv[optind], "config") == 0) {
		rc = cli_config(&c, argc - optind - 1, argv + optind + 1);
	} else {
		char esc[128];
		rc = cli_usage_err("unknown command '%s'", cli_esc(argv[optind], esc, sizeof(esc)));
	}

out:
	if (c.store)
		c.ops->close(c.store);
	if (c.cfg)
		config_unref(c.cfg);
	/* A full disk or closed pipe must not look like success to a script. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		(void)fprintf(stderr, "ferry: cannot write output: %s\n", strerror(errno));
		return CLI_EXIT_FAIL;
	}
	return rc;
}
