/* ferry_policy: the policy options of `ferry user set` and `ferry group
 * set`, and the policy lines of their `show` (see ferry_policy.h). Every
 * option takes `inherit` to remove the owner's own value (then the
 * groups' or the server's applies). */
#include "ferry_policy.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "policy_eff.h"
#include "str.h"
#include "util.h"

#define CLI_INHERIT "inherit"

/* The options, and the attribute each one sets (NULL: handled apart). */
static const struct {
	const char *opt;
	const char *attr;
	bool users_only;
} cli_policy_opts[] = {
	{ "--groups", NULL, true },
	{ "--perms", POLICY_A_PERMS, false },
	{ "--mount", POLICY_A_MOUNT, false },
	{ "--unmount", POLICY_A_MOUNT, false },
	{ "--dir-perms", POLICY_A_DIR_PERMS, false },
	{ "--quota-bytes", POLICY_A_QUOTA_BYTES, false },
	{ "--quota-files", POLICY_A_QUOTA_FILES, false },
	{ "--rate-down", POLICY_A_RATE_DOWN, false },
	{ "--rate-up", POLICY_A_RATE_UP, false },
	{ "--allow-from", POLICY_A_ALLOW_FROM, false },
	{ "--expires", POLICY_A_EXPIRES, false },
	{ "--max-sessions", POLICY_A_MAX_SESSIONS, false },
};

void cli_policy_free(struct cli_policy *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->changes[i].key);
		free(p->changes[i].value);
	}
	for (size_t i = 0; i < p->n_groups; i++)
		free(p->groups[i]);
	for (size_t i = 0; i < p->n_mount_dirs; i++)
		free(p->mount_dirs[i]);
	free(p->changes);
	free(p->groups);
	free(p->mount_dirs);
	*p = (struct cli_policy){ 0 };
}

/* The option arg names (its length up to '=' or its end), or -1. */
static int cli_policy_opt_index(const char *arg, const char **inline_value)
{
	*inline_value = NULL;
	for (size_t i = 0; i < ARRAY_LEN(cli_policy_opts); i++) {
		size_t n = strlen(cli_policy_opts[i].opt);
		if (strncmp(arg, cli_policy_opts[i].opt, n) != 0 || (arg[n] != '\0' && arg[n] != '='))
			continue;
		if (arg[n] == '=')
			*inline_value = arg + n + 1;
		return (int)i;
	}
	return -1;
}

bool cli_policy_is_option(const char *arg, const char *next, enum policy_kind kind)
{
	const char *v;
	int i = cli_policy_opt_index(arg, &v);
	if (i < 0)
		return false;
	if (kind == POLICY_USER && strcmp(cli_policy_opts[i].opt, "--perms") == 0)
		return strcmp(v ? v : next ? next : "", CLI_INHERIT) == 0;
	return true;
}

static void cli_policy_add(struct cli_policy *p, const char *attr, const char *key, const char *value)
{
	struct cli_policy_change *c = realloc(p->changes, (p->n + 1) * sizeof(*c));
	if (!c)
		abort();
	p->changes = c;
	c[p->n++] = (struct cli_policy_change){ .attr = attr,
						.key = util_xstrdup(key),
						.value = value ? util_xstrdup(value) : NULL };
}

static int cli_policy_groups(struct cli_policy *p, const char *what, const char *v)
{
	struct slice rest = slice_from_cstr(v), item;
	bool more = true;
	char esc[128];
	p->groups_given = true;
	if (slice_trim_spaces(rest).n == 0 || strcmp(v, "none") == 0)
		return CLI_EXIT_OK;
	while (more) {
		more = slice_split(rest, ',', &item, &rest);
		item = slice_trim_spaces(item);
		char *name = slice_dup(item);
		if (!cli_name_valid(name)) {
			int rc = cli_usage_err("%s --groups: invalid group name '%s'", what,
					       cli_esc(name, esc, sizeof(esc)));
			free(name);
			return rc;
		}
		for (size_t i = 0; i < p->n_groups; i++) {
			if (strcmp(p->groups[i], name) == 0) {
				int rc = cli_usage_err("%s --groups: group '%s' is named twice", what, name);
				free(name);
				return rc;
			}
		}
		char **g = realloc(p->groups, (p->n_groups + 1) * sizeof(*g));
		if (!g)
			abort();
		p->groups = g;
		p->groups[p->n_groups++] = name;
	}
	return CLI_EXIT_OK;
}

/* VPATH=REST: the virtual path normalised into vpath, *rest after '='. */
static int cli_policy_vpath(const char *what, const char *opt, const char *v, char *vpath, size_t vsz,
			    const char **rest)
{
	char esc[256];
	const char *eq = strchr(v, '=');
	if (rest && !eq)
		return cli_usage_err("%s %s: '%s' is not VPATH=%s", what, opt, cli_esc(v, esc, sizeof(esc)),
				     strcmp(opt, "--mount") == 0 ? "DIR[:PERMS]" : "PERMS");
	char *path = rest ? util_xstrndup(v, (size_t)(eq - v)) : util_xstrdup(v);
	int r = policy_parse_vpath(path, vpath, vsz);
	if (r)
		(void)cli_esc(path, esc, sizeof(esc));
	free(path);
	if (r)
		return cli_usage_err("%s %s: '%s' is not a virtual path (absolute, below /, without . or ..)", what,
				     opt, esc);
	if (rest)
		*rest = eq + 1;
	return CLI_EXIT_OK;
}

static int cli_policy_one(struct cli_policy *p, enum policy_kind kind, const char *what, int i, const char *v)
{
	const char *opt = cli_policy_opts[i].opt, *attr = cli_policy_opts[i].attr;
	char esc[256], vpath[PATH_MAX], text[64];
	bool inherit = strcmp(v, CLI_INHERIT) == 0;
	uint64_t n;
	cli_esc(v, esc, sizeof(esc));

	if (cli_policy_opts[i].users_only && kind != POLICY_USER)
		return cli_usage_err("%s: option '%s' does not apply here", what, opt);
	if (strcmp(opt, "--groups") == 0)
		return cli_policy_groups(p, what, v);
	if (strcmp(opt, "--unmount") == 0) {
		int rc = cli_policy_vpath(what, opt, v, vpath, sizeof(vpath), NULL);
		if (!rc)
			cli_policy_add(p, attr, vpath, NULL);
		return rc;
	}
	if (strcmp(opt, "--mount") == 0 || strcmp(opt, "--dir-perms") == 0) {
		const char *rest;
		int rc = cli_policy_vpath(what, opt, v, vpath, sizeof(vpath), &rest);
		if (rc)
			return rc;
		uint32_t perms;
		if (strcmp(opt, "--dir-perms") == 0) {
			if (strcmp(rest, CLI_INHERIT) == 0) {
				cli_policy_add(p, attr, vpath, NULL);
				return CLI_EXIT_OK;
			}
			if (perms_parse(rest, &perms) != 0)
				return cli_usage_err("%s --dir-perms: '%s' is not a permission list (use "
						     "read,write,delete,rename,mkdir,list, all or none)",
						     what, cli_esc(rest, esc, sizeof(esc)));
			perms_format(perms, text, sizeof(text));
			cli_policy_add(p, attr, vpath, text);
			return CLI_EXIT_OK;
		}
		char *dir = NULL;
		bool has_perms;
		if (policy_parse_mount(rest, &dir, &perms, &has_perms) != 0 || !dir[0] || dir[0] != '/') {
			free(dir);
			return cli_usage_err("%s --mount: directory '%s' is not an absolute path", what,
					     cli_esc(rest, esc, sizeof(esc)));
		}
		char value[PATH_MAX + 80];
		perms_format(perms, text, sizeof(text));
		(void)snprintf(value, sizeof(value), "%s%s%s", dir, has_perms ? ":" : "", has_perms ? text : "");
		char **d = realloc(p->mount_dirs, (p->n_mount_dirs + 1) * sizeof(*d));
		if (!d)
			abort();
		p->mount_dirs = d;
		p->mount_dirs[p->n_mount_dirs++] = dir;
		cli_policy_add(p, attr, vpath, value);
		return CLI_EXIT_OK;
	}
	if (inherit) {
		/* A user's perms are always set (users.perms): inherit is a
		 * marker that puts the groups' first; a group's is removed. */
		bool marker = kind == POLICY_USER && strcmp(opt, "--perms") == 0;
		cli_policy_add(p, attr, "", marker ? POLICY_PERMS_INHERIT : NULL);
		return CLI_EXIT_OK;
	}
	if (strcmp(opt, "--perms") == 0) {
		uint32_t perms;
		if (perms_parse(v, &perms) != 0)
			return cli_usage_err("%s --perms: '%s' is not a permission list (use "
					     "read,write,delete,rename,mkdir,list, all, none or inherit)",
					     what, esc);
		perms_format(perms, text, sizeof(text));
		cli_policy_add(p, attr, "", text);
		return CLI_EXIT_OK;
	}
	if (strcmp(opt, "--allow-from") == 0) {
		struct policy_net *nets;
		size_t cnt, badlen = 0;
		const char *bad = NULL;
		char value[2048];
		if (policy_parse_nets(v, &nets, &cnt, &bad, &badlen) != 0) {
			char item[128];
			(void)str_escape((struct slice){ bad ? bad : "", badlen }, item, sizeof(item));
			return cli_usage_err("%s --allow-from: '%s' is not an address or CIDR network (like 10.0.0.0/8 "
					     "or 2001:db8::/32; 'any' for everywhere)",
					     what, item);
		}
		policy_format_nets(nets, cnt, value, sizeof(value));
		free(nets);
		cli_policy_add(p, attr, "", value);
		return CLI_EXIT_OK;
	}
	if (strcmp(opt, "--expires") == 0) {
		int64_t t;
		if (policy_parse_date(v, &t) != 0)
			return cli_usage_err("%s --expires: '%s' is not a date (YYYY-MM-DD: the last day the account "
					     "works, or YYYY-MM-DDTHH:MM:SSZ, or never)",
					     what, esc);
		(void)snprintf(text, sizeof(text), "%" PRId64, t);
		cli_policy_add(p, attr, "", text);
		return CLI_EXIT_OK;
	}
	if (strcmp(opt, "--max-sessions") == 0) {
		if (policy_parse_size(v, '\0', &n) != 0 || n > 1000000)
			return cli_usage_err("%s --max-sessions: '%s' is not a number from 0 (no limit) to 1000000",
					     what, esc);
	} else {
		bool rate = strncmp(opt, "--rate", 6) == 0;
		if (policy_parse_size(v, rate ? 'M' : 'G', &n) != 0)
			return cli_usage_err("%s %s: '%s' is not a %s (digits with an optional %s suffix; 0 = %s)",
					     what, opt, esc, rate ? "rate in bytes/s" : "size",
					     rate ? "K or M" : "K, M or G", rate ? "unlimited" : "no quota");
	}
	(void)snprintf(text, sizeof(text), "%" PRIu64, n);
	cli_policy_add(p, attr, "", text);
	return CLI_EXIT_OK;
}

int cli_policy_parse(struct cli_policy *p, enum policy_kind kind, const char *what, int argc, char **argv)
{
	*p = (struct cli_policy){ 0 };
	for (int i = 1; i < argc; i++) {
		const char *v;
		if (!cli_policy_is_option(argv[i], i + 1 < argc ? argv[i + 1] : NULL, kind))
			continue;
		int o = cli_policy_opt_index(argv[i], &v);
		if (!v) {
			if (i + 1 >= argc)
				return cli_usage_err("%s: option '%s' needs a value", what, argv[i]);
			v = argv[++i];
		}
		int rc = cli_policy_one(p, kind, what, o, v);
		if (rc)
			return rc;
	}
	return CLI_EXIT_OK;
}

int cli_policy_check(struct cli *c, const struct cli_policy *p, const char *what)
{
	char esc[PATH_MAX];
	for (size_t i = 0; i < p->n_groups; i++) {
		int r = policy_group_check(c->ops, c->store, p->groups[i]);
		if (r == -ENOENT)
			return cli_usage_err("%s --groups: no such group '%s' (see: ferry group list)", what,
					     p->groups[i]);
		if (r)
			return cli_store_fail(c, r);
	}
	/* As the home: checked with the rights of the account ferryd runs as. */
	for (size_t i = 0; i < p->n_mount_dirs; i++) {
		struct stat st;
		cli_esc(p->mount_dirs[i], esc, sizeof(esc));
		if (stat(p->mount_dirs[i], &st) != 0)
			return cli_usage_err("%s --mount: directory %s does not exist (%s)", what, esc,
					     strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return cli_usage_err("%s --mount: %s is not a directory", what, esc);
	}
	return CLI_EXIT_OK;
}

int cli_policy_apply(struct cli *c, const struct cli_policy *p, enum policy_kind kind, const char *name)
{
	int r = 0;
	if (p->groups_given)
		r = policy_groups_set(c->ops, c->store, name, (const char *const *)p->groups, p->n_groups);
	for (size_t i = 0; !r && i < p->n; i++) {
		const struct cli_policy_change *ch = &p->changes[i];
		r = policy_put(c->ops, c->store, kind, name, ch->attr, ch->key, ch->value);
		if (r == -ENOENT && !ch->value)
			r = 0; /* removing what was not set */
	}
	return r;
}

/* ---- show ---- */

static void cli_policy_time(int64_t t, char *out, size_t outsz)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (t == 0)
		(void)snprintf(out, outsz, "never");
	else if (!gmtime_r(&tt, &tm) || strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)snprintf(out, outsz, "%" PRId64, t);
}

static int cli_policy_print_row(const char *attr, const char *key, const char *value, void *arg)
{
	char when[64];
	if (strcmp(attr, POLICY_A_EXPIRES) == 0) {
		int64_t t = strtoll(value, NULL, 10);
		cli_policy_time(t, when, sizeof(when));
		value = when;
	}
	if (key[0])
		(void)printf("%s: %s=%s\n", attr, key, value);
	else
		(void)printf("%s: %s\n", attr, value);
	return 0;
}

struct cli_names {
	bool any;
	bool second; /* print the second name (members of a group) */
};

static int cli_policy_print_name(const char *user, const char *group, void *arg)
{
	struct cli_names *n = arg;
	(void)printf("%s%s", n->any ? ", " : "", n->second ? user : group);
	n->any = true;
	return 0;
}

static void cli_policy_effective(const struct policy_attrs *e, const struct config *cfg)
{
	char perms[64], nets[2048], when[64];
	perms_format(e->perms, perms, sizeof(perms));
	(void)printf("effective perms: %s\n", perms);
	if (e->has & POLICY_HAS_ALLOW_FROM)
		policy_format_nets(e->allow, e->n_allow, nets, sizeof(nets));
	(void)printf("effective allow-from: %s\n", (e->has & POLICY_HAS_ALLOW_FROM) ? nets : "any");
	cli_policy_time(e->expires, when, sizeof(when));
	(void)printf("effective expires: %s\n", when);
	if (e->has & POLICY_HAS_MAX_SESSIONS)
		(void)printf("effective max-sessions: %u\n", e->max_sessions);
	else
		(void)printf("effective max-sessions: %u ([limits] max_per_user)\n", cfg ? cfg->max_per_user : 0);
	(void)printf("effective quota-bytes: %" PRIu64 "\neffective quota-files: %" PRIu64 "\n", e->quota_bytes,
		     e->quota_files);
	(void)printf("effective rate-down: %" PRIu64 "\neffective rate-up: %" PRIu64 "\n", e->rate_down, e->rate_up);
	for (size_t i = 0; i < e->n_mounts; i++) {
		perms_format(e->mounts[i].perms, perms, sizeof(perms));
		(void)printf("effective mount: %s=%s%s%s\n", e->mounts[i].vpath, e->mounts[i].dir,
			     e->mounts[i].has_perms ? ":" : "", e->mounts[i].has_perms ? perms : "");
	}
	for (size_t i = 0; i < e->n_dir_perms; i++) {
		perms_format(e->dir_perms[i].perms, perms, sizeof(perms));
		(void)printf("effective dir-perms: %s=%s\n", e->dir_perms[i].vpath, perms);
	}
}

int cli_policy_show(struct cli *c, enum policy_kind kind, const char *name, const struct user_record *u)
{
	struct cli_names names = { .second = kind == POLICY_GROUP };
	if (!c->ops->policy_read)
		return CLI_EXIT_OK;
	(void)printf("%s: ", kind == POLICY_USER ? "groups" : "members");
	int r = policy_members(c->ops, c->store, kind == POLICY_USER ? name : NULL, kind == POLICY_GROUP ? name : NULL,
			       cli_policy_print_name, &names);
	(void)printf("%s\n", names.any ? "" : "(none)");
	if (!r)
		r = policy_rows(c->ops, c->store, kind, name, cli_policy_print_row, NULL);
	if (!r && u) {
		struct policy_attrs e;
		struct policy_defaults d;
		r = policy_eff_load(c->ops, c->store, u, &e);
		if (!r) {
			/* The server's part, as a login would add it. */
			struct policy_attrs full;
			policy_defaults_from_config(c->cfg, &d);
			policy_resolve(u, &e, NULL, 0, &d, &full);
			full.perms = e.perms;
			cli_policy_effective(&full, c->cfg);
			policy_attrs_free(&full);
		}
		policy_attrs_free(&e);
	}
	return r ? cli_store_fail(c, r) : CLI_EXIT_OK;
}

/* ---- ferry store copy ---- */

struct cli_policy_copy {
	const struct userstore_ops *from_ops, *to_ops;
	struct userstore *from, *to;
	enum policy_kind kind;
	const char *owner;
	char *user; /* memberships: the user being collected */
	char **groups;
	size_t n_groups;
	unsigned copied;
};

static int cli_copy_row(const char *attr, const char *key, const char *value, void *arg)
{
	struct cli_policy_copy *cp = arg;
	return policy_put(cp->to_ops, cp->to, cp->kind, cp->owner, attr, key, value);
}

static int cli_copy_owner_rows(struct cli_policy_copy *cp, enum policy_kind kind, const char *name)
{
	cp->kind = kind;
	cp->owner = name;
	return policy_rows(cp->from_ops, cp->from, kind, name, cli_copy_row, cp);
}

static int cli_copy_group(const char *name, void *arg)
{
	struct cli_policy_copy *cp = arg;
	int r = policy_group_add(cp->to_ops, cp->to, name);
	if (!r)
		r = cli_copy_owner_rows(cp, POLICY_GROUP, name);
	cp->copied += r == 0;
	return r;
}

static int cli_copy_flush_members(struct cli_policy_copy *cp)
{
	int r = 0;
	if (cp->user)
		r = policy_groups_set(cp->to_ops, cp->to, cp->user, (const char *const *)cp->groups, cp->n_groups);
	for (size_t i = 0; i < cp->n_groups; i++)
		free(cp->groups[i]);
	free(cp->user);
	cp->user = NULL;
	cp->n_groups = 0;
	return r;
}

static int cli_copy_member(const char *user, const char *group, void *arg)
{
	struct cli_policy_copy *cp = arg;
	int r = 0;
	if (cp->user && strcmp(cp->user, user) != 0)
		r = cli_copy_flush_members(cp);
	if (!cp->user)
		cp->user = util_xstrdup(user);
	char **g = realloc(cp->groups, (cp->n_groups + 1) * sizeof(*g));
	if (!g)
		return -ENOMEM;
	cp->groups = g;
	cp->groups[cp->n_groups++] = util_xstrdup(group);
	return r;
}

static int cli_copy_user_rows(const struct user_record *u, void *arg)
{
	struct cli_policy_copy *cp = arg;
	uint64_t bytes = 0, files = 0;
	int r = cli_copy_owner_rows(cp, POLICY_USER, u->name);
	/* The quota usage too (schema 6), so the new store starts right. */
	if (!r)
		r = policy_usage_get(cp->from_ops, cp->from, u->name, &bytes, &files);
	if (!r && (bytes || files))
		r = policy_usage_set(cp->to_ops, cp->to, u->name, bytes, files);
	return r;
}

static int cli_copy_collect_group(const char *name, void *arg)
{
	struct cli_policy_copy *cp = arg;
	char **g = realloc(cp->groups, (cp->n_groups + 1) * sizeof(*g));
	if (!g)
		return -ENOMEM;
	cp->groups = g;
	cp->groups[cp->n_groups++] = util_xstrdup(name);
	return 0;
}

int cli_policy_copy(const struct userstore_ops *from_ops, struct userstore *from, const struct userstore_ops *to_ops,
		    struct userstore *to, unsigned *groups)
{
	struct cli_policy_copy cp = { .from_ops = from_ops, .to_ops = to_ops, .from = from, .to = to };
	int r = 0;
	*groups = 0;
	if (!from_ops->policy_read || !to_ops->policy_write)
		return 0;
	/* The target's own groups go, as its users did (--force). */
	r = policy_group_list(to_ops, to, cli_copy_collect_group, &cp);
	for (size_t i = 0; !r && i < cp.n_groups; i++)
		r = policy_group_remove(to_ops, to, cp.groups[i]);
	for (size_t i = 0; i < cp.n_groups; i++)
		free(cp.groups[i]);
	cp.n_groups = 0;
	if (!r)
		r = policy_group_list(from_ops, from, cli_copy_group, &cp);
	if (!r)
		r = from_ops->list(from, cli_copy_user_rows, &cp);
	if (!r)
		r = policy_members(from_ops, from, NULL, NULL, cli_copy_member, &cp);
	int f = cli_copy_flush_members(&cp);
	free(cp.groups);
	*groups = cp.copied;
	return r ? r : f;
}
