/* ferry_store: `ferry store migrate` (bring the configured store's schema to
 * this ferry's version, and say which it is) and `ferry store copy --to
 * CONNINFO [--force]` (move an installation to PostgreSQL: every user with
 * its OTP/TOTP settings, principal mappings and SSH keys, groups and policies,
 * and the failed-login counts and bans of table bans, in one transaction of the
 * target, through the store interface, so what is copied is exactly what
 * ferryd reads). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "ferry_cli.h"
#include "ferry_policy.h"
#include "str.h"
#include "util.h"

static int cli_store_migrate(struct cli *c, int argc, char **argv)
{
	char where[512];
	int version = 0, found = 0;

	if (argc > 1)
		return cli_usage_err("store migrate: unexpected argument '%s'", argv[1]);
	int rc = cli_load_config(c);
	if (!rc)
		rc = cli_open_store(c, USERSTORE_CREATE);
	if (rc)
		return rc;
	c->ops->where(c->cfg, where, sizeof(where));
	c->ops->schema(c->store, &version, &found);
	if (found == version)
		(void)printf("ferry: %s: schema version %d (up to date)\n", where, version);
	else if (found == 0)
		(void)printf("ferry: %s: schema version %d (created)\n", where, version);
	else
		(void)printf("ferry: %s: schema version %d (migrated from %d)\n", where, version, found);
	return CLI_EXIT_OK;
}

/* What a copy carries along, and where it stopped. */
struct cli_copy {
	const struct userstore_ops *from_ops, *to_ops;
	struct userstore *from, *to;
	char **names; /* the target's users before the copy */
	size_t n_names;
	unsigned users, otp, principals, keys, groups;
	unsigned ban_rows, banned; /* rows of table bans; of them banned now */
	int64_t now_ms;		   /* wall clock, for "banned now" */
	const char *failed_user;   /* borrowed while the list runs */
	char failed[CLI_NAME_MAX * 4 + 1];
	int err;
};

static int cli_copy_collect(const struct user_record *u, void *arg)
{
	struct cli_copy *cp = arg;
	char **more = realloc(cp->names, (cp->n_names + 1) * sizeof(*more));
	if (!more)
		return -ENOMEM;
	cp->names = more;
	cp->names[cp->n_names++] = util_xstrdup(u->name);
	return 0;
}

static int cli_copy_failed(struct cli_copy *cp, const char *name, int r)
{
	(void)str_escape(slice_from_cstr(name), cp->failed, sizeof(cp->failed));
	cp->err = r;
	return r;
}

/* One user, then its one-time password settings (TOTP's last used step
 * with them, so a code used before the copy is not accepted again). */
static int cli_copy_user(const struct user_record *u, void *arg)
{
	struct cli_copy *cp = arg;
	struct otp_state st;
	int r = cp->to_ops->add(cp->to, u);
	if (r)
		return cli_copy_failed(cp, u->name, r);
	cp->users++;
	r = cp->from_ops->otp_get(cp->from, u->name, &st);
	if (r == -ENOENT)
		return 0;
	if (!r) {
		r = cp->to_ops->otp_put(cp->to, u->name, &st);
		otp_state_free(&st);
	}
	if (r)
		return cli_copy_failed(cp, u->name, r);
	cp->otp++;
	return 0;
}

static int cli_copy_principal(const char *principal, const char *name, void *arg)
{
	struct cli_copy *cp = arg;
	int r = cp->to_ops->principal_add(cp->to, principal, name);
	if (r)
		return cli_copy_failed(cp, name, r);
	cp->principals++;
	return 0;
}

static int cli_copy_key(const char *name, const struct user_key *k, void *arg)
{
	struct cli_copy *cp = arg;
	int r = cp->to_ops->key_add(cp->to, name, k);
	if (r)
		return cli_copy_failed(cp, name, r);
	cp->keys++;
	return 0;
}

/* One row of table bans as it is: failures, window, ban and earlier bans,
 * so the target bans (and counts toward a ban) exactly as the source did.
 * A row the target has for the address is replaced. */
static int cli_copy_ban(const struct ban_row *row, void *arg)
{
	struct cli_copy *cp = arg;
	int r = cp->to_ops->ban_put(cp->to, row);
	if (r)
		return r;
	cp->ban_rows++;
	cp->banned += row->banned_until > cp->now_ms;
	return 0;
}

/* The copy proper, inside the target's transaction. */
static int cli_copy_run(struct cli_copy *cp, bool force, const char *to_where)
{
	int r = cp->to_ops->list(cp->to, cli_copy_collect, cp);
	if (r)
		return cli_err("%s: cannot list its users: %s", to_where, strerror(-r));
	if (cp->n_names && !force)
		return cli_err("%s already has %zu user%s; nothing was copied (--force replaces them with the copy)",
			       to_where, cp->n_names, cp->n_names == 1 ? "" : "s");
	for (size_t i = 0; i < cp->n_names; i++) {
		r = cp->to_ops->remove(cp->to, cp->names[i]);
		if (r && r != -ENOENT)
			return cli_err("%s: cannot remove user '%s': %s", to_where, cp->names[i], strerror(-r));
	}
	r = cp->from_ops->list(cp->from, cli_copy_user, cp);
	if (!r && cp->from_ops->principal_list)
		r = cp->from_ops->principal_list(cp->from, NULL, cli_copy_principal, cp);
	if (!r) { /* groups and policies (ferry_policy.c) */
		r = cli_policy_copy(cp->from_ops, cp->from, cp->to_ops, cp->to, &cp->groups);
		if (r)
			return cli_err("cannot copy the groups and policies: %s; nothing was copied", strerror(-r));
	}
	if (!r && cp->from_ops->key_list && cp->to_ops->key_add)
		r = cp->from_ops->key_list(cp->from, NULL, cli_copy_key, cp);
	if (r && cp->err)
		return cli_err("cannot copy user '%s': %s; nothing was copied", cp->failed, strerror(-cp->err));
	if (r)
		return cli_err("cannot read the users to copy: %s; nothing was copied", strerror(-r));
	if (cp->from_ops->ban_rows && cp->to_ops->ban_put) {
		r = cp->from_ops->ban_rows(cp->from, cli_copy_ban, cp);
		if (r)
			return cli_err("cannot copy the failed-login counts and bans: %s; nothing was copied",
				       strerror(-r));
	}
	return CLI_EXIT_OK;
}

static int cli_store_copy(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *to = NULL;
	bool force = false;
	char err[1024], from_where[512], to_where[512];
	int o, rc;

	opterr = 0;
	optind = 0;
	while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (o == 't')
			to = optarg;
		else if (o == 'f')
			force = true;
		else if (o == ':')
			return cli_usage_err("store copy: option '%s' needs a value", argv[optind - 1]);
		else
			return cli_usage_err("store copy: unknown option '%s'", argv[optind - 1]);
	}
	if (optind < argc)
		return cli_usage_err("store copy: unexpected argument '%s'", argv[optind]);
	if (!to || !to[0])
		return cli_usage_err("store copy: --to CONNINFO is required (a PostgreSQL connection string or URI)");
	rc = cli_load_config(c);
	if (rc)
		return rc;
	struct config *tcfg = util_xcalloc(1, sizeof(*tcfg));
	memcpy(tcfg, c->cfg, sizeof(*tcfg));
	(void)str_copy(tcfg->store_backend, sizeof(tcfg->store_backend), "postgres");
	if (!str_copy(tcfg->pg_conninfo, sizeof(tcfg->pg_conninfo), to)) {
		free(tcfg);
		return cli_usage_err("store copy: --to is longer than %zu bytes", sizeof(tcfg->pg_conninfo) - 1);
	}
	struct cli_copy cp = { .to_ops = auth_backend("postgres"), .now_ms = cli_wall_ms() };
	rc = cli_open_store(c, 0);
	if (rc)
		goto out;
	cp.from_ops = c->ops;
	cp.from = c->store;
	c->ops->where(c->cfg, from_where, sizeof(from_where));
	cp.to_ops->where(tcfg, to_where, sizeof(to_where));
	/* Opening migrates the target to this ferry's schema first. */
	if (cp.to_ops->open(tcfg, USERSTORE_CREATE, &cp.to, err, sizeof(err)) != 0) {
		rc = cli_err("%s", err);
		goto out;
	}
	if (strcmp(c->cfg->store_backend, "postgres") == 0 && strcmp(c->cfg->pg_conninfo, to) == 0) {
		rc = cli_err("store copy: %s is the configured store itself", to_where);
		goto out;
	}
	int r = cp.to_ops->txn(cp.to, USERSTORE_BEGIN);
	if (!r && cp.from_ops->txn)
		r = cp.from_ops->txn(cp.from, USERSTORE_BEGIN); /* one consistent snapshot to read */
	if (r) {
		rc = cli_err("cannot start the copy: %s", strerror(-r));
		goto out;
	}
	rc = cli_copy_run(&cp, force, to_where);
	if (cp.from_ops->txn)
		(void)cp.from_ops->txn(cp.from, USERSTORE_ROLLBACK); /* it only read */
	r = cp.to_ops->txn(cp.to, rc == CLI_EXIT_OK ? USERSTORE_COMMIT : USERSTORE_ROLLBACK);
	if (rc == CLI_EXIT_OK && r)
		rc = cli_err("%s: the copy could not be committed: %s; nothing was copied", to_where, strerror(-r));
	if (rc == CLI_EXIT_OK)
		(void)printf("ferry: copied %u user%s (%u with one-time password settings), %u principal "
			     "mapping%s and %u SSH key%s from %s to %s%s\n",
			     cp.users, cp.users == 1 ? "" : "s", cp.otp, cp.principals, cp.principals == 1 ? "" : "s",
			     cp.keys, cp.keys == 1 ? "" : "s", from_where, to_where,
			     cp.n_names ? " (its earlier users were replaced)" : "");
	if (rc == CLI_EXIT_OK)
		(void)printf("ferry: copied the failed-login records of %u address%s (%u banned now)\n", cp.ban_rows,
			     cp.ban_rows == 1 ? "" : "es", cp.banned);
out:
	if (cp.to)
		cp.to_ops->close(cp.to);
	for (size_t i = 0; i < cp.n_names; i++)
		free(cp.names[i]);
	free(cp.names);
	util_wipe(tcfg->pg_conninfo, sizeof(tcfg->pg_conninfo));
	free(tcfg);
	return rc;
}

int cli_store(struct cli *c, int argc, char **argv)
{
	if (argc < 1)
		return cli_usage_err("store: missing command (migrate, copy)");
	if (strcmp(argv[0], "migrate") == 0)
		return cli_store_migrate(c, argc, argv);
	if (strcmp(argv[0], "copy") == 0)
		return cli_store_copy(c, argc, argv);
	char esc[128];
	return cli_usage_err("store: unknown command '%s'", cli_esc(argv[0], esc, sizeof(esc)));
}
