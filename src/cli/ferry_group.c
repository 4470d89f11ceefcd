/* ferry_group: `ferry group add|del|list|show|set` (issue 18). A group
 * holds policy attributes its members inherit in the order of their
 * groups (ferry user set NAME --groups G1,G2); `set` takes the policy
 * options of `ferry user set` (ferry_policy.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ferry_cli.h"
#include "ferry_policy.h"

static int cli_group_print(const char *name, void *arg)
{
	(void)arg;
	(void)printf("%s\n", name);
	return 0;
}

static int cli_group_err(struct cli *c, const char *name, int r)
{
	if (r == -ENOENT)
		return cli_err("no such group '%s'", name);
	if (r == -EEXIST)
		return cli_err("group '%s' already exists", name);
	return cli_store_fail(c, r);
}

/* set: the policy options, checked, then written in one transaction. */
static int cli_group_set(struct cli *c, const char *name, const struct cli_policy *p)
{
	int rc = cli_policy_check(c, p, "group set");
	if (rc)
		return rc;
	int r = policy_group_check(c->ops, c->store, name);
	if (!r)
		r = c->ops->txn(c->store, USERSTORE_BEGIN);
	if (r)
		return cli_group_err(c, name, r);
	r = cli_policy_apply(c, p, POLICY_GROUP, name);
	r = c->ops->txn(c->store, r ? USERSTORE_ROLLBACK : USERSTORE_COMMIT) ?: r;
	if (r)
		return cli_group_err(c, name, r);
	(void)printf("ferry: group '%s' updated\n", name);
	return CLI_EXIT_OK;
}

int cli_group(struct cli *c, int argc, char **argv)
{
	struct cli_policy p = { 0 };
	char esc[128];
	int rc, r;

	if (argc < 1)
		return cli_usage_err("group: missing command (add, del, list, show, set)");
	const char *verb = argv[0];
	bool list = strcmp(verb, "list") == 0, set = strcmp(verb, "set") == 0;
	if (!list && !set && strcmp(verb, "add") != 0 && strcmp(verb, "del") != 0 && strcmp(verb, "show") != 0)
		return cli_usage_err("group: unknown command '%s'", cli_esc(verb, esc, sizeof(esc)));
	const char *name = NULL;
	if (set) {
		rc = cli_policy_parse(&p, POLICY_GROUP, "group set", argc, argv);
		if (rc)
			goto out;
		/* What is left is the NAME: exactly one, no other option. */
		for (int i = 1; i < argc; i++) {
			if (cli_policy_is_option(argv[i], i + 1 < argc ? argv[i + 1] : NULL, POLICY_GROUP)) {
				if (!strchr(argv[i], '='))
					i++;
				continue;
			}
			if (argv[i][0] == '-' || name) {
				rc = cli_usage_err("group set: unexpected argument '%s'",
						   cli_esc(argv[i], esc, sizeof(esc)));
				goto out;
			}
			name = argv[i];
		}
		if (!name) {
			rc = cli_usage_err("group set: missing NAME");
			goto out;
		}
		if (p.n == 0) {
			rc = cli_usage_err("group set: nothing to change (give a policy option, see ferry --help)");
			goto out;
		}
	} else if (list ? argc != 1 : argc != 2) {
		return cli_usage_err(list ? "group list: takes no argument" : "group %s: expected NAME", verb);
	} else if (!list) {
		name = argv[1];
	}
	if (name && !cli_name_valid(name)) {
		rc = cli_usage_err("group %s: invalid group name '%s' (1-%d characters of A-Z a-z 0-9 . _ @ -, not "
				   "starting with '-' or '.')",
				   verb, cli_esc(name, esc, sizeof(esc)), CLI_NAME_MAX);
		goto out;
	}
	rc = cli_load_config(c);
	if (!rc)
		rc = cli_open_store(c, strcmp(verb, "add") == 0 ? USERSTORE_CREATE : 0);
	if (rc)
		goto out;
	if (!c->ops->policy_write) {
		rc = cli_err("[store] backend '%s' has no groups", c->cfg->store_backend);
		goto out;
	}
	if (set) {
		rc = cli_group_set(c, name, &p);
	} else if (list) {
		r = policy_group_list(c->ops, c->store, cli_group_print, NULL);
		rc = r ? cli_store_fail(c, r) : CLI_EXIT_OK;
	} else if (strcmp(verb, "show") == 0) {
		r = policy_group_check(c->ops, c->store, name);
		if (r) {
			rc = cli_group_err(c, name, r);
			goto out;
		}
		(void)printf("name: %s\n", name);
		rc = cli_policy_show(c, POLICY_GROUP, name, NULL);
	} else {
		bool add = strcmp(verb, "add") == 0;
		r = add ? policy_group_add(c->ops, c->store, name) : policy_group_remove(c->ops, c->store, name);
		rc = r ? cli_group_err(c, name, r) : CLI_EXIT_OK;
		if (!rc)
			(void)printf("ferry: group '%s' %s\n", name, add ? "added" : "deleted");
	}
out:
	cli_policy_free(&p);
	return rc;
}
