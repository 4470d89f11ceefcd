/* ferry_import: `ferry user import --format pureftpd|proftpd|htpasswd FILE`.
 * Moves the users of another FTP server in, keeping each password hash
 * libxcrypt can verify (an old or cheap one becomes yescrypt at the user's
 * next login: core/auth_hash.c). Each line is parsed by base/userfile.c and
 * its hash graded by auth_hash_grade; every user that is not taken gets one
 * line on stderr saying why. The file is read whole before the privilege
 * drop (it is usually root's alone, as /etc/pure-ftpd/pureftpd.passwd is),
 * the users are written in one transaction after it.
 * Pure-FTPd's per-user limits become the user's policy in the same
 * transaction (import_limits): bandwidths, quotas, connections and allowed
 * client addresses are handed to the policy options `ferry user set` takes
 * (ferry_policy.c parses and writes them); what Ferry has no equivalent for
 * (ratios, time restrictions, refused or local addresses, host names) is a
 * warning naming the user.
 * Exit status: 0 every user imported, 1 some were not (or the store
 * failed: then none was), 2 bad usage or an unreadable or unusable file. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth_hash.h"
#include "ferry_cli.h"
#include "ferry_policy.h"
#include "str.h"
#include "userfile.h"
#include "util.h"

#define IMPORT_FILE_MAX (64u << 20) /* bytes: far beyond any real user file */

enum import_opt { OPT_FORMAT = 0x100, OPT_HOME_BASE, OPT_REPLACE, OPT_DRY_RUN, OPT_CREATE_HOMES, OPT_PERMS, OPT_HOST };

static const struct option import_options[] = {
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "home-base", required_argument, NULL, OPT_HOME_BASE },
	{ "replace", no_argument, NULL, OPT_REPLACE },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "create-homes", no_argument, NULL, OPT_CREATE_HOMES },
	{ "perms", required_argument, NULL, OPT_PERMS },
	{ "host", required_argument, NULL, OPT_HOST },
	{ NULL, 0, NULL, 0 },
};

struct import {
	struct cli *c;
	enum userfile_format format;
	const char *path;
	const char *home_base; /* NULL: the file's homes */
	const char *host;      /* --host: a [host NAME] (name or alias), or NULL */
	const char *host_name; /* its section's name: users stored as NAME:HOST */
	bool replace, dry_run, create_homes;
	bool perms_set;
	uint32_t perms;
	char *text; /* the whole file */
	size_t len;
	char **names; /* names met so far (a name twice in the file) */
	size_t *name_lines;
	size_t nnames, cap;
	unsigned imported, skipped, lines;
};

/* Reads the whole file into imp->text (NUL-terminated). */
static int import_read(struct import *imp)
{
	char esc[PATH_MAX];
	int fd = open(imp->path, O_RDONLY | O_CLOEXEC);
	size_t cap = 0;

	(void)cli_esc(imp->path, esc, sizeof(esc));
	if (fd < 0)
		return cli_usage_err("user import: cannot open %s: %s", esc, strerror(errno));
	for (;;) {
		if (imp->len + 1 >= cap) {
			if (cap >= IMPORT_FILE_MAX) {
				(void)close(fd);
				return cli_usage_err("user import: %s is larger than %u MiB", esc,
						     IMPORT_FILE_MAX >> 20);
			}
			cap = cap ? cap * 2 : 65536;
			char *t = realloc(imp->text, cap);
			if (!t) {
				(void)close(fd);
				return cli_err("out of memory");
			}
			imp->text = t;
		}
		ssize_t k = read(fd, imp->text + imp->len, cap - 1 - imp->len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int e = errno;
			(void)close(fd);
			return cli_usage_err("user import: cannot read %s: %s", esc, strerror(e));
		}
		if (k == 0)
			break;
		imp->len += (size_t)k;
	}
	(void)close(fd);
	imp->text[imp->len] = '\0';
	return CLI_EXIT_OK;
}

/* One "not imported" line on stderr; name may be empty (a line without
 * one). Always returns CLI_EXIT_OK: a skipped user is no reason to stop. */
static int import_skip(struct import *imp, size_t line, struct slice name, const char *why)
{
	char esc[256], file[PATH_MAX];

	(void)cli_esc(imp->path, file, sizeof(file));
	if (name.n)
		(void)cli_err("%s:%zu: user '%s' not imported: %s", file, line, str_escape(name, esc, sizeof(esc)),
			      why);
	else
		(void)cli_err("%s:%zu: line not imported: %s", file, line, why);
	imp->skipped++;
	return CLI_EXIT_OK;
}

/* A warning about a user that is imported all the same. */
#define import_note(name, fmt, ...) (void)fprintf(stderr, "ferry: warning: user '%s': " fmt "\n", (name), __VA_ARGS__)

/* The line a name was first taken from, or 0. */
static size_t import_seen(const struct import *imp, const char *name)
{
	for (size_t i = 0; i < imp->nnames; i++)
		if (strcmp(imp->names[i], name) == 0)
			return imp->name_lines[i];
	return 0;
}

static void import_remember(struct import *imp, const char *name, size_t line)
{
	if (imp->nnames == imp->cap) {
		size_t cap = imp->cap ? imp->cap * 2 : 64;
		char **n = realloc(imp->names, cap * sizeof(*n));
		if (n)
			imp->names = n;
		size_t *l = realloc(imp->name_lines, cap * sizeof(*l));
		if (l)
			imp->name_lines = l;
		if (!n || !l)
			return; /* then a repeat is found in the store instead */
		imp->cap = cap;
	}
	imp->names[imp->nnames] = util_xstrdup(name);
	imp->name_lines[imp->nnames++] = line;
}

/* After the privilege drop: the home as ferryd will open it. Missing:
 * created with --create-homes, else a warning (the user is imported: the
 * data may be copied over afterwards). -1 when creating it failed. */
static int import_home(const struct import *imp, const char *name, const char *home)
{
	int fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int e = fd < 0 ? errno : 0;

	if (fd >= 0) {
		(void)close(fd);
		return 0;
	}
	if (e == ENOENT && imp->create_homes) {
		if (imp->dry_run) {
			(void)printf("would create home %s\n", home);
			return 0;
		}
		int r = cli_mkdir_p(home);
		if (r == 0) {
			(void)printf("created home %s\n", home);
			return 0;
		}
		errno = -r;
		return -1;
	}
	if (e == ENOENT)
		import_note(name, "home %s does not exist (logins fail until it does; --create-homes creates it)",
			    home);
	else
		import_note(name, "home %s cannot be opened by the service account: %s", home, strerror(e));
	return 0;
}

/* ---- Pure-FTPd's limits ---- */

/* The option list handed to cli_policy_parse (argv[0] is not read). */
#define IMPORT_POLICY_ARGS 16
struct import_argv {
	char *v[IMPORT_POLICY_ARGS];
	int n;
};

static void import_argv_add(struct import_argv *a, const char *opt, const char *value)
{
	a->v[a->n++] = util_xstrdup(opt);
	a->v[a->n++] = util_xstrdup(value);
}

static void import_argv_u64(struct import_argv *a, const char *opt, uint64_t v)
{
	char text[32];
	(void)snprintf(text, sizeof(text), "%" PRIu64, v);
	import_argv_add(a, opt, text);
}

static void import_argv_free(struct import_argv *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->v[i]);
	a->n = 0;
}

/* A quota: Pure-FTPd's 0 lets nothing be uploaded, Ferry's 0 is no quota;
 * that one is said, not taken. */
static void import_quota(struct import_argv *a, const char *name, const char *opt, bool has, uint64_t v,
			 const char *what)
{
	if (has && v == 0)
		import_note(name,
			    "its %s quota of 0 (no uploads at all) is not imported: 0 is no quota in Ferry "
			    "(--perms without write forbids uploads)",
			    what);
	else if (has)
		import_argv_u64(a, opt, v);
}

/* The allowed client addresses: each item an address or CIDR network the
 * policy parser takes is kept; the rest (host names, which Pure-FTPd
 * resolves at each login) is a warning. Returns false when the list is
 * set but nothing in it maps: the user would be allowed from everywhere. */
static bool import_allow(struct import_argv *a, const char *name, struct slice list)
{
	struct slice rest = list, item;
	char *kept = util_xcalloc(1, list.n + 1), *lost = util_xcalloc(1, list.n + 1), esc[512];
	size_t nk = 0, nl = 0;
	bool more = list.n > 0, ok = true;

	while (more) {
		more = slice_split(rest, ',', &item, &rest);
		item = slice_trim_spaces(item);
		if (item.n == 0)
			continue;
		char *one = slice_dup(item);
		struct policy_net *net = NULL;
		size_t n = 0;
		bool maps = !slice_eq_ci(item, "any") && policy_parse_nets(one, &net, &n, NULL, NULL) == 0;
		free(net);
		free(one);
		char *to = maps ? kept : lost;
		size_t *len = maps ? &nk : &nl;
		if (*len)
			to[(*len)++] = ',';
		memcpy(to + *len, item.p, item.n);
		*len += item.n;
	}
	if (nk)
		import_argv_add(a, "--allow-from", kept);
	if (nl && nk)
		import_note(name,
			    "allowed client IPs %s not imported (Ferry takes addresses and CIDR networks, not host "
			    "names): logins from there are refused",
			    str_escape((struct slice){ lost, nl }, esc, sizeof(esc)));
	ok = nk > 0 || nl == 0;
	free(kept);
	free(lost);
	return ok;
}

/* The warnings for what has no Ferry equivalent. */
static void import_unmapped(const char *name, const struct userfile_limits *l)
{
	char esc[512];

	if (l->deny_client.n)
		import_note(name,
			    "refused client IPs %s not imported: Ferry has no per-user deny list (ferry ban, or an "
			    "--allow-from that leaves them out)",
			    str_escape(l->deny_client, esc, sizeof(esc)));
	if (l->allow_local.n || l->deny_local.n)
		import_note(name,
			    "allowed/refused local IPs %s not imported: Ferry has no per-user rule on the "
			    "server's address",
			    str_escape(l->allow_local.n ? l->allow_local : l->deny_local, esc, sizeof(esc)));
	if (l->ratio_up || l->ratio_down)
		import_note(name, "upload:download ratio %" PRIu64 ":%" PRIu64 " not imported: Ferry has no ratios",
			    l->ratio_up, l->ratio_down);
	if (l->time.n)
		import_note(name, "time restriction %s not imported: Ferry has no login hours",
			    str_escape(l->time, esc, sizeof(esc)));
}

/* Pure-FTPd's limits of one user as policy changes in *p (empty for the
 * other formats). With --replace the limits the line does not set are
 * removed (the file is the truth for them). Returns NULL, or why the user
 * is not imported. */
static const char *import_limits(const struct import *imp, const char *name, const struct userfile_entry *e,
				 bool exists, struct cli_policy *p)
{
	const struct userfile_limits *l = &e->lim;
	struct import_argv a = { .v = { util_xstrdup("user import") }, .n = 1 };
	const char *why = NULL;

	*p = (struct cli_policy){ 0 };
	if (imp->format != USERFILE_PUREFTPD) {
		import_argv_free(&a);
		return NULL;
	}
	if (l->has_rate_up)
		import_argv_u64(&a, "--rate-up", l->rate_up);
	if (l->has_rate_down)
		import_argv_u64(&a, "--rate-down", l->rate_down);
	if (l->has_max_sessions)
		import_argv_u64(&a, "--max-sessions", l->max_sessions);
	import_quota(&a, name, "--quota-files", l->has_quota_files, l->quota_files, "files");
	import_quota(&a, name, "--quota-bytes", l->has_quota_bytes, l->quota_bytes, "size");
	if (!import_allow(&a, name, l->allow_client))
		why = "none of its allowed client IPs is an address or CIDR network Ferry can check (host names are "
		      "not): it would be allowed from everywhere";
	if (!why && exists && imp->replace) {
		static const char *const all[] = { "--rate-up",	    "--rate-down",   "--max-sessions",
						   "--quota-files", "--quota-bytes", "--allow-from" };
		for (size_t i = 0; i < ARRAY_LEN(all); i++) {
			bool given = false;
			for (int j = 1; j < a.n; j += 2)
				given |= strcmp(a.v[j], all[i]) == 0;
			if (!given)
				import_argv_add(&a, all[i], "inherit");
		}
	}
	if (!why && cli_policy_parse(p, POLICY_USER, "user import", a.n, a.v) != CLI_EXIT_OK)
		why = "a limit Ferry cannot take (above)";
	if (!why)
		import_unmapped(name, l);
	import_argv_free(&a);
	return why;
}

/* "rate-up 102400, allow-from 10.0.0.0/8" (what is set, not what is
 * removed) into out; false when nothing is set. */
static bool import_policy_text(const struct cli_policy *p, char *out, size_t outsz)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < p->n; i++) {
		if (!p->changes[i].value)
			continue;
		int k = snprintf(out + used, outsz - used, "%s%s %s", used ? ", " : "", p->changes[i].attr,
				 p->changes[i].value);
		if (k < 0 || (size_t)k >= outsz - used)
			break;
		used += (size_t)k;
	}
	return used > 0;
}

/* Writes one user (add, or update with --replace). Returns an exit code:
 * CLI_EXIT_OK also when the user was skipped; anything else is the store
 * failing, which stops the import. */
static int import_store(struct import *imp, size_t line, const struct userfile_entry *e, const char *name,
			const char *hash, const char *home)
{
	struct user_record u = { 0 };
	int r = imp->c->ops->lookup(imp->c->store, name, &u);
	bool exists = r == 0;
	int rc = CLI_EXIT_OK;

	if (r && r != -ENOENT)
		return cli_store_fail(imp->c, r);
	if (exists && !imp->replace) {
		user_record_free(&u);
		return import_skip(imp, line, e->name, "already in the store (--replace replaces it)");
	}
	struct cli_policy pol;
	const char *refused = import_limits(imp, name, e, exists, &pol);
	if (refused) {
		cli_policy_free(&pol);
		user_record_free(&u);
		return import_skip(imp, line, e->name, refused);
	}
	if (import_home(imp, name, home) != 0) {
		char why[PATH_MAX + 64];
		(void)snprintf(why, sizeof(why), "cannot create its home %s: %s", home, strerror(errno));
		cli_policy_free(&pol);
		user_record_free(&u);
		return import_skip(imp, line, e->name, why);
	}
	if (!exists) {
		u.name = util_xstrdup(name);
		u.perms = PERM_ALL;
	}
	free(u.password_hash);
	free(u.home);
	u.password_hash = util_xstrdup(hash);
	u.home = util_xstrdup(home);
	u.enabled = !e->locked;
	if (imp->perms_set)
		u.perms = imp->perms;
	if (!imp->dry_run) {
		r = exists ? imp->c->ops->update(imp->c->store, &u) : imp->c->ops->add(imp->c->store, &u);
		if (!r && pol.n)
			r = cli_policy_apply(imp->c, &pol, POLICY_USER, name);
		if (r)
			rc = cli_store_fail(imp->c, r);
	}
	if (!rc) {
		const char *why = NULL;
		bool old = auth_hash_grade(hash, &why) == AUTH_HASH_UPGRADE;
		(void)printf("%s%s %s (home %s%s%s%s%s)\n", imp->dry_run ? "would " : "",
			     exists ? (imp->dry_run ? "replace" : "replaced") : (imp->dry_run ? "import" : "imported"),
			     name, home, e->locked ? ", disabled" : "", old ? ", " : "",
			     old ? auth_hash_method(hash) : "", old ? ": yescrypt at its next login" : "");
		if (!imp->home_base && e->start[0])
			import_note(name,
				    "the start directory %s inside its chroot is not kept (sessions start at the home)",
				    e->start);
		char text[2048];
		if (import_policy_text(&pol, text, sizeof(text)))
			(void)printf("%s %s's policy: %s\n", imp->dry_run ? "would set" : "set", name, text);
		imp->imported++;
	}
	cli_policy_free(&pol);
	user_record_free(&u);
	return rc;
}

/* One line of the file: parsed, checked, stored. Returns CLI_EXIT_OK or
 * the store's failure. */
static int import_line(struct import *imp, size_t line, struct slice text, unsigned *entries)
{
	struct userfile_entry e;
	char home[PATH_MAX], msg[256], key[256];
	const char *why;
	int rc = CLI_EXIT_OK;

	enum userfile_verdict v = userfile_parse(imp->format, text, &e, &why);
	if (v == USERFILE_SKIP)
		return CLI_EXIT_OK;
	if (v == USERFILE_BAD)
		return import_skip(imp, line, e.name, why);
	(*entries)++;
	char *name = slice_dup(e.name);
	char *hash = slice_dup(e.hash);
	size_t first = import_seen(imp, name);
	if (!cli_name_valid(name)) {
		rc = import_skip(imp, line, e.name,
				 "not a Ferry user name (1-64 characters of A-Z a-z 0-9 . _ @ -, not starting with "
				 "'-' or '.')");
	} else if (first) {
		(void)snprintf(msg, sizeof(msg), "appears again (first on line %zu)", first);
		rc = import_skip(imp, line, e.name, msg);
	} else if (auth_hash_grade(hash, &why) == AUTH_HASH_UNUSABLE) {
		(void)snprintf(msg, sizeof(msg), "password hash: %s", why);
		rc = import_skip(imp, line, e.name, msg);
	} else if ((imp->home_base ? snprintf(home, sizeof(home), "%s/%s", imp->home_base, name)
				   : snprintf(home, sizeof(home), "%s", e.home)) >= (int)sizeof(home)) {
		rc = import_skip(imp, line, e.name, "home directory is too long");
	} else if (user_key(name, imp->host_name, key, sizeof(key)) != 0) {
		rc = import_skip(imp, line, e.name, "name too long for a user of this host");
	} else {
		/* --host: the store's name is NAME:HOST; messages show it so. */
		import_remember(imp, name, line);
		rc = import_store(imp, line, &e, key, hash, home);
	}
	free(name);
	free(hash);
	return rc;
}

static int import_run(struct import *imp)
{
	char esc[PATH_MAX];
	struct slice rest = { imp->text, imp->len }, text;
	unsigned entries = 0;
	size_t line = 0;
	int rc = CLI_EXIT_OK;
	bool more = imp->len > 0;

	if (!imp->dry_run) {
		int r = imp->c->ops->txn(imp->c->store, USERSTORE_BEGIN);
		if (r)
			return cli_store_fail(imp->c, r);
	}
	while (more && rc == CLI_EXIT_OK) {
		more = slice_split(rest, '\n', &text, &rest);
		line++;
		if (!more && text.n == 0)
			break; /* the file's final newline */
		rc = import_line(imp, line, text, &entries);
	}
	if (!imp->dry_run) {
		int r = imp->c->ops->txn(imp->c->store, rc == CLI_EXIT_OK ? USERSTORE_COMMIT : USERSTORE_ROLLBACK);
		if (r && rc == CLI_EXIT_OK)
			rc = cli_store_fail(imp->c, r);
	}
	(void)cli_esc(imp->path, esc, sizeof(esc));
	if (rc != CLI_EXIT_OK)
		return cli_err("nothing imported from %s (the store failed)", esc);
	if (entries == 0) {
		static const char *const names[] = { "pureftpd", "proftpd", "htpasswd" };
		return cli_usage_err("user import: %s has no %s user lines (is --format right?)", esc,
				     names[imp->format]);
	}
	(void)printf("%s %u user%s from %s, %u not imported\n", imp->dry_run ? "would import" : "imported",
		     imp->imported, imp->imported == 1 ? "" : "s", esc, imp->skipped);
	return imp->skipped ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static int import_args(struct import *imp, int argc, char **argv)
{
	const char *format = NULL, *perms = NULL;
	char esc[PATH_MAX];
	int o;

	opterr = 0;
	optind = 0;
	while ((o = getopt_long(argc, argv, ":", import_options, NULL)) != -1) {
		if (o == ':')
			return cli_usage_err("user import: option '%s' needs a value", argv[optind - 1]);
		if (o < OPT_FORMAT || o > OPT_HOST)
			return cli_usage_err("user import: unknown option '%s'", argv[optind - 1]);
		if (o == OPT_FORMAT)
			format = optarg;
		else if (o == OPT_HOME_BASE)
			imp->home_base = optarg;
		else if (o == OPT_PERMS)
			perms = optarg;
		else if (o == OPT_HOST)
			imp->host = optarg;
		else if (o == OPT_REPLACE)
			imp->replace = true;
		else if (o == OPT_DRY_RUN)
			imp->dry_run = true;
		else
			imp->create_homes = true;
	}
	if (argc - optind != 1)
		return cli_usage_err(argc - optind < 1 ? "user import: missing FILE"
						       : "user import: more than one FILE");
	imp->path = argv[optind];
	if (!format)
		return cli_usage_err("user import: --format pureftpd|proftpd|htpasswd is required");
	if (userfile_format_parse(format, &imp->format) != 0)
		return cli_usage_err("user import: unknown --format '%s' (pureftpd, proftpd or htpasswd)",
				     cli_esc(format, esc, sizeof(esc)));
	if (imp->format == USERFILE_HTPASSWD && !imp->home_base)
		return cli_usage_err("user import: an htpasswd file has no homes: give --home-base DIR (each user "
				     "gets DIR/NAME)");
	if (imp->home_base && (imp->home_base[0] != '/' || slice_has_ctl(slice_from_cstr(imp->home_base))))
		return cli_usage_err("user import: --home-base '%s' is not an absolute path",
				     cli_esc(imp->home_base, esc, sizeof(esc)));
	if (perms) {
		if (perms_parse(perms, &imp->perms) != 0)
			return cli_usage_err(
			    "user import: --perms '%s': use read,write,delete,rename,mkdir,list or all",
			    cli_esc(perms, esc, sizeof(esc)));
		imp->perms_set = true;
	}
	return CLI_EXIT_OK;
}

int cli_user_import(struct cli *c, int argc, char **argv)
{
	struct import imp = { .c = c };
	int rc = import_args(&imp, argc, argv);

	if (!rc)
		rc = import_read(&imp);
	if (!rc)
		rc = cli_load_config(c);
	/* --host: an unknown host is a usage error before the store opens. */
	if (!rc && imp.host)
		rc = cli_store_key(c, NULL, imp.host, NULL, 0, &imp.host_name);
	/* --dry-run writes nothing, so it does not create a store either. */
	if (!rc)
		rc = cli_open_store(c, imp.dry_run ? 0 : USERSTORE_CREATE);
	if (!rc)
		rc = import_run(&imp);
	for (size_t i = 0; i < imp.nnames; i++)
		free(imp.names[i]);
	free(imp.names);
	free(imp.name_lines);
	if (imp.text)
		util_wipe(imp.text, imp.len); /* password hashes */
	free(imp.text);
	return rc;
}
