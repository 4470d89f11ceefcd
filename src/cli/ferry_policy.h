/* ferry_policy: the policy options `ferry user set` and `ferry group set`
 * share (ferry_policy.c): parsed and checked before anything changes
 * (bad input: exit 2), then written in one transaction; and the policy
 * part of `ferry user show` / `ferry group show`. */
#ifndef FERRY_FERRY_POLICY_H
#define FERRY_FERRY_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "ferry_cli.h"
#include "policy.h"

/* One change: attr's row key set to value (NULL: removed). */
struct cli_policy_change {
	const char *attr;
	char *key;
	char *value;
};

struct cli_policy {
	struct cli_policy_change *changes;
	size_t n;
	bool groups_given; /* --groups (users only) */
	char **groups;
	size_t n_groups;
	char **mount_dirs; /* --mount directories, checked once the config is loaded */
	size_t n_mount_dirs;
};
void cli_policy_free(struct cli_policy *p);

/* Is argv[i] one of the policy options (--opt VALUE or --opt=VALUE)? For a
 * user, --perms inherit is one too (other --perms values are ferry_user.c's). */
bool cli_policy_is_option(const char *arg, const char *next, enum policy_kind kind);
/* Parses every policy option in argv (others are skipped): syntax only;
 * an exit code (CLI_EXIT_USAGE for bad input). what: "user set". */
int cli_policy_parse(struct cli_policy *p, enum policy_kind kind, const char *what, int argc, char **argv);
/* With the store open: unknown groups, mount directories that do not exist
 * (exit 2). */
int cli_policy_check(struct cli *c, const struct cli_policy *p, const char *what);
/* Writes the changes for name (no transaction of its own). -errno. */
int cli_policy_apply(struct cli *c, const struct cli_policy *p, enum policy_kind kind, const char *name);
/* Prints name's groups (users), own attributes and, for a user u, the
 * effective policy. Returns an exit code. */
int cli_policy_show(struct cli *c, enum policy_kind kind, const char *name, const struct user_record *u);

/* ferry store copy: every group with its attributes, every user's
 * attributes and memberships, from one store into another (inside the
 * caller's transaction; the target's groups are replaced). -errno. */
int cli_policy_copy(const struct userstore_ops *from_ops, struct userstore *from, const struct userstore_ops *to_ops,
		    struct userstore *to, unsigned *groups);

#endif
