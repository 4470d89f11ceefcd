/* ferry_user_set: the policy options of `ferry user set NAME` (issue 18:
 * --groups, --mount, --unmount, --dir-perms, --quota-bytes, --quota-files,
 * --rate-down, --rate-up, --allow-from, --expires, --max-sessions, --perms
 * inherit). They are taken out of argv here and checked before anything
 * changes; what is left (--home, --account, --perms LIST...) is
 * ferry_user.c's, run first; then the policy is written in one
 * transaction. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry_cli.h"
#include "ferry_policy.h"
#include "util.h"

/* ferry_user.c's options that take a value as the next argument. */
static bool cli_user_takes_value(const char *arg)
{
	return strcmp(arg, "--home") == 0 || strcmp(arg, "--account") == 0 || strcmp(arg, "--perms") == 0 ||
	       strcmp(arg, "--host") == 0;
}

int cli_user_set(struct cli *c, int argc, char **argv)
{
	struct cli_policy p = { 0 };
	char **rest = util_xcalloc((size_t)argc + 1, sizeof(*rest));
	int nrest = 0, rc;
	bool perms_list = false;
	const char *name = NULL, *host = NULL;
	char key[CLI_NAME_MAX + CONFIG_VHOST_NAME_MAX + 2];

	rc = cli_policy_parse(&p, POLICY_USER, "user set", argc, argv);
	for (int i = 0; !rc && i < argc; i++) {
		if (i > 0 && cli_policy_is_option(argv[i], i + 1 < argc ? argv[i + 1] : NULL, POLICY_USER)) {
			if (!strchr(argv[i], '='))
				i++;
			continue;
		}
		if (strncmp(argv[i], "--perms", 7) == 0)
			perms_list = true;
		if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
			host = argv[i + 1];
		} else if (strncmp(argv[i], "--host=", 7) == 0) {
			host = argv[i] + 7;
		}
		if (i > 0 && argv[i][0] != '-' && !name && !cli_user_takes_value(argv[i - 1]))
			name = argv[i];
		rest[nrest++] = argv[i];
	}
	if (rc)
		goto out;
	if (p.n == 0 && !p.groups_given && !perms_list) { /* no policy option: all ferry_user.c's */
		rc = cli_user(c, argc, argv);
		goto out;
	}
	/* --perms LIST makes the user's own perms count again. */
	if (perms_list)
		for (size_t i = 0; i < p.n; i++)
			if (strcmp(p.changes[i].attr, POLICY_A_PERMS) == 0)
				rc = cli_usage_err("user set: --perms given twice");
	if (!rc && !name)
		rc = cli_usage_err("user set: missing NAME");
	if (!rc && !cli_name_valid(name)) {
		char esc[128];
		rc = cli_usage_err("user set: invalid user name '%s'", cli_esc(name, esc, sizeof(esc)));
	}
	if (!rc)
		rc = cli_load_config(c);
	if (!rc) /* a virtual host's user (--host): its store key */
		rc = cli_store_key(c, name, host, key, sizeof(key), NULL);
	if (!rc)
		rc = cli_open_store(c, 0);
	if (!rc && !c->ops->policy_write)
		rc = cli_err("[store] backend '%s' has no policies", c->cfg->store_backend);
	if (!rc)
		rc = cli_policy_check(c, &p, "user set");
	if (rc)
		goto out;
	struct user_record u;
	int r = c->ops->lookup(c->store, key, &u);
	if (r) {
		rc = cli_store_err(c, name, r);
		goto out;
	}
	user_record_free(&u);
	/* Options for ferry_user.c beyond "set NAME" and --host */
	bool other = false;
	for (int j = 1; j < nrest; j++)
		if (rest[j] != name && strcmp(rest[j], "--host") != 0 && strncmp(rest[j], "--host=", 7) != 0 &&
		    !(host && rest[j] == host && strcmp(rest[j - 1], "--host") == 0))
			other = true;
	if (other) {
		rc = cli_user(c, nrest, rest); /* --home, --account, --perms LIST ... */
		if (rc)
			goto out;
	}
	r = c->ops->txn(c->store, USERSTORE_BEGIN);
	if (!r) {
		r = cli_policy_apply(c, &p, POLICY_USER, key);
		if (!r && perms_list) {
			r = policy_put(c->ops, c->store, POLICY_USER, key, POLICY_A_PERMS, "", NULL);
			r = r == -ENOENT ? 0 : r;
		}
		r = c->ops->txn(c->store, r ? USERSTORE_ROLLBACK : USERSTORE_COMMIT) ?: r;
	}
	if (r) {
		rc = r == -ENOENT ? cli_err("user set: user '%s' or one of its groups is gone", name)
				  : cli_store_fail(c, r);
		goto out;
	}
	(void)printf("ferry: user '%s' policy updated\n", name);
out:
	free(rest);
	cli_policy_free(&p);
	return rc;
}
