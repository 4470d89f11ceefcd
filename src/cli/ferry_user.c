/* ferry_user: `ferry user add|del|list|show|passwd|enable|disable|set`.
 * One table row per verb says which options it takes; a home is checked (or
 * created) after the privilege drop, with the rights of the account ferryd
 * runs as. Passwords come from the terminal or stdin, never from argv, where
 * every user on the host could read them. */
#include <crypt.h> /* only for CRYPT_MAX_PASSPHRASE_SIZE in a message */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "ferry_cli.h"
#include "ferry_policy.h"
#include "str.h"
#include "util.h"

#define CLI_PERMS_HELP "use read,write,delete,rename,mkdir,list or all"

/* Option values start above every character getopt may return. */
enum cli_opt { OPT_HOME = 0x100, OPT_ACCOUNT, OPT_NO_ACCOUNT, OPT_PERMS, OPT_CREATE_HOME, OPT_DISABLED, OPT_HOST };
#define OPT_BIT(o) (1u << ((o)-OPT_HOME))

static const struct option cli_user_options[] = {
	{ "home", required_argument, NULL, OPT_HOME },	       { "account", required_argument, NULL, OPT_ACCOUNT },
	{ "no-account", no_argument, NULL, OPT_NO_ACCOUNT },   { "perms", required_argument, NULL, OPT_PERMS },
	{ "create-home", no_argument, NULL, OPT_CREATE_HOME }, { "disabled", no_argument, NULL, OPT_DISABLED },
	{ "host", required_argument, NULL, OPT_HOST },	       { NULL, 0, NULL, 0 },
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
	unsigned seen;	  /* OPT_BIT of every option given */
	const char *host; /* --host: a [host NAME] (name or alias), or NULL */
	/* The store key of name (user_key: "NAME:HOST" in a [host], else the
	 * name) and the host's canonical name, once the config is loaded. */
	char key[CLI_NAME_MAX + CONFIG_VHOST_NAME_MAX + 2];
	const char *host_name;
	/* name as messages quote it: "bob", or "bob' in host 'a.test" */
	char shown[CLI_NAME_MAX + CONFIG_VHOST_NAME_MAX + 16];
};

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

/* Fetches an existing user for the commands that modify one. */
static int cli_lookup(const struct cli *c, const char *key, const char *shown, struct user_record *u)
{
	int r = c->ops->lookup(c->store, key, u);
	return r ? cli_store_err(c, shown, r) : CLI_EXIT_OK;
}

static int cli_user_add(struct cli *c, const struct cli_args *a)
{
	struct user_record u = { 0 };
	int rc, r;

	/* Ask for the password only once the name is known to be free. */
	r = c->ops->lookup(c->store, a->key, &u);
	user_record_free(&u);
	if (r != -ENOENT)
		return cli_store_err(c, a->shown, r ? r : -EEXIST);
	rc = cli_check_home(a->home, a->seen & OPT_BIT(OPT_CREATE_HOME));
	if (rc)
		return rc;
	rc = cli_new_hash(&u.password_hash);
	if (rc)
		goto fail;
	u.name = util_xstrdup(a->key);
	u.home = util_xstrdup(a->home);
	u.account = a->account ? util_xstrdup(a->account) : NULL;
	u.perms = a->perms;
	u.enabled = !(a->seen & OPT_BIT(OPT_DISABLED));
	r = c->ops->add(c->store, &u);
	if (r) {
		rc = cli_store_err(c, a->shown, r);
		goto fail;
	}
	(void)printf("ferry: user '%s' added (home %s)\n", a->shown, a->home);
fail:
	user_record_free(&u);
	return rc;
}

static int cli_user_del(struct cli *c, const struct cli_args *a)
{
	int r = c->ops->remove(c->store, a->key);
	if (r)
		return cli_store_err(c, a->shown, r);
	(void)printf("ferry: user '%s' deleted\n", a->shown);
	return CLI_EXIT_OK;
}

static int cli_print_row(const struct user_record *u, void *arg)
{
	const struct cli_args *a = arg;
	const char *host = user_key_host(u->name);
	char perms[64];

	/* --host lists that host's users only. */
	if (a->host_name && (!host || strcmp(host, a->host_name) != 0))
		return 0;
	perms_format(u->perms, perms, sizeof(perms));
	/* Tab-separated: ferry never writes a tab into a name, home or perms.
	 * A [host] user's line ends in a sixth field, host=NAME. */
	(void)printf("%.*s\t%s\t%s\t%s\taccount=%s%s%s\n", (int)user_key_name_len(u->name), u->name,
		     u->enabled ? "enabled" : "disabled", u->home, perms, u->account ? "yes" : "no",
		     host ? "\thost=" : "", host ? host : "");
	return 0;
}

static int cli_user_list(struct cli *c, const struct cli_args *a)
{
	int r = c->ops->list(c->store, cli_print_row, (void *)a);
	return r ? cli_store_fail(c, r) : CLI_EXIT_OK;
}

/* The scheme, never the hash: the hash is an offline-guessable secret. */
static const char *cli_hash_scheme(const char *hash)
{
	static const struct {
		const char *prefix, *name;
	} schemes[] = {
		{ "$y$", "yescrypt" },	  { "$gy$", "gost-yescrypt" }, { "$7$", "scrypt" },
		{ "$2b$", "bcrypt" },	  { "$2a$", "bcrypt" },	       { "$2y$", "bcrypt" },
		{ "$6$", "sha512crypt" }, { "$5$", "sha256crypt" },    { "$1$", "md5crypt (weak)" },
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
	int rc = cli_lookup(c, a->key, a->shown, &u);

	if (rc)
		return rc;
	perms_format(u.perms, perms, sizeof(perms));
	cli_format_time(u.created_at, created, sizeof(created));
	cli_format_time(u.updated_at, updated, sizeof(updated));
	if (a->host_name)
		(void)printf("name: %s\nhost: %s\n", a->name, a->host_name);
	else
		(void)printf("name: %s\n", u.name);
	(void)printf("status: %s\nhome: %s\nperms: %s\naccount: %s\npassword: %s\ncreated: %s\n"
		     "updated: %s\n",
		     u.enabled ? "enabled" : "disabled", u.home, perms, u.account ? u.account : "(none)",
		     cli_hash_scheme(u.password_hash), created, updated);
	rc = cli_policy_show(c, POLICY_USER, a->name, &u); /* issue 18 */
	user_record_free(&u);
	return rc;
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
	int r, rc = cli_lookup(c, a->key, a->shown, &u);

	if (rc)
		return rc;
	rc = a->cmd->change(&u, a);
	if (rc)
		goto fail;
	r = c->ops->update(c->store, &u);
	if (r) {
		rc = cli_store_err(c, a->shown, r);
		goto fail;
	}
	(void)printf("ferry: user '%s' %s\n", a->shown, a->cmd->done);
fail:
	user_record_free(&u);
	return rc;
}

/* --host HOSTNAME: every verb; the user is one of that [host NAME]. */
#define OPT_H OPT_BIT(OPT_HOST)
#define OPTS_ADD                                                                                                       \
	(OPT_BIT(OPT_HOME) | OPT_BIT(OPT_ACCOUNT) | OPT_BIT(OPT_PERMS) | OPT_BIT(OPT_CREATE_HOME) |                    \
	 OPT_BIT(OPT_DISABLED) | OPT_H)
#define OPTS_SET                                                                                                       \
	(OPT_BIT(OPT_HOME) | OPT_BIT(OPT_ACCOUNT) | OPT_BIT(OPT_NO_ACCOUNT) | OPT_BIT(OPT_PERMS) |                     \
	 OPT_BIT(OPT_CREATE_HOME) | OPT_H)

/* One row per `ferry user VERB`: what it accepts and whether it may create
 * the database (only add: a typo in the path must not leave empty files).
 * Rows that modify one user name the change and the word reporting it. */
static const struct cli_user_cmd cli_user_cmds[] = {
	{ "add", cli_user_add, NULL, NULL, OPTS_ADD, true, true },
	{ "del", cli_user_del, NULL, NULL, OPT_H, true, false },
	{ "list", cli_user_list, NULL, NULL, OPT_H, false, false },
	{ "show", cli_user_show, NULL, NULL, OPT_H, true, false },
	{ "passwd", cli_user_modify, cli_change_password, "has a new password", OPT_H, true, false },
	{ "enable", cli_user_modify, cli_change_enable, "enabled", OPT_H, true, false },
	{ "disable", cli_user_modify, cli_change_disable, "disabled", OPT_H, true, false },
	{ "set", cli_user_modify, cli_change_set, "updated", OPTS_SET, true, false },
};

/* argv[0] is the verb. GNU getopt permutes, so NAME may come anywhere. */
static int cli_parse_user_args(const struct cli_user_cmd *cmd, int argc, char **argv, struct cli_args *a)
{
	int o;

	*a = (struct cli_args){ .cmd = cmd };
	opterr = 0;
	optind = 0; /* 0 makes glibc's getopt start over on a new vector */
	while ((o = getopt_long(argc, argv, ":", cli_user_options, NULL)) != -1) {
		/* After a failed match optind may point past an option's value or
		 * still into a "-xyz" group: name the option from what we know. */
		if (o == ':')
			return cli_usage_err("user %s: option '%s' needs a value", cmd->verb, argv[optind - 1]);
		if (o == '?' && optopt)
			return cli_usage_err("user %s: unknown option '-%c'", cmd->verb, optopt);
		if (o < OPT_HOME || o > OPT_HOST)
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
		else if (o == OPT_HOST)
			a->host = optarg;
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
	if (cmd->change == cli_change_set && !(a->seen & ~(OPT_BIT(OPT_CREATE_HOME) | OPT_H)))
		return cli_usage_err("user set: nothing to change (give --home, --account, --no-account or --perms)");
	if ((a->seen & OPT_BIT(OPT_CREATE_HOME)) && !a->home)
		return cli_usage_err("user %s: --create-home needs --home", cmd->verb);
	return CLI_EXIT_OK;
}

/* --host: the [host NAME] must exist in the configuration; the store key
 * is then "NAME:HOST" (userstore.h user_key). */
static int cli_user_host(const struct cli *c, struct cli_args *a)
{
	int rc = cli_store_key(c, a->name, a->host, a->key, sizeof(a->key), &a->host_name);
	if (rc)
		return rc;
	if (a->name)
		(void)snprintf(a->shown, sizeof(a->shown), "%s%s%s", a->name, a->host_name ? "' in host '" : "",
			       a->host_name ? a->host_name : "");
	return CLI_EXIT_OK;
}

int cli_user(struct cli *c, int argc, char **argv)
{
	const struct cli_user_cmd *cmd = NULL;
	struct cli_args a;
	int rc;

	if (argc < 1)
		return cli_usage_err(
		    "user: missing command (add, del, list, show, passwd, enable, disable, set, import, key)");
	if (strcmp(argv[0], "key") == 0)
		return cli_user_key(c, argc - 1, argv + 1);
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
	if (!rc && !c->cfg)
		rc = cli_load_config(c);
	if (!rc)
		rc = cli_user_host(c, &a);
	if (!rc && !c->store)
		rc = cli_open_store(c, cmd->create ? USERSTORE_CREATE : 0);
	if (!rc)
		rc = cmd->run(c, &a);
	return rc;
}
