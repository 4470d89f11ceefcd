/* store_pg: the PostgreSQL user store ([store] postgres = CONNINFO), beside
 * the SQLite one behind the same interface, for several ferryd nodes that
 * share one database. The only libpq user in the tree with its siblings:
 * store_pg_db.c (connection, queries), store_pg_users.c, store_pg_otp.c,
 * store_pg_keys.c, store_pg_bans.c, store_pg_policy.c.
 * This file opens a handle, owns the schema (the same versions as SQLite's,
 * store_migrate.h) and transactions, and joins the ops table.
 *
 * The tables mirror SQLite's, in PostgreSQL's types: booleans for enabled
 * and static_ok, bigint seconds for times, bytea for the secret, foreign
 * keys (ON DELETE CASCADE) where SQLite has triggers; principals names its
 * user column "name" ("user" is reserved in PostgreSQL). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ferry_version.h"
#include "store_migrate.h"
#include "store_pg_impl.h"
#include "str.h"
#include "util.h"

/* pg_advisory_xact_lock's key for migrations: "ferry" in ASCII. */
#define STORE_PG_MIGRATE_LOCK 0x6665727279ll

/* One step per schema version (store_migrate.h). Each runs inside the
 * migration's transaction, so a failed step leaves the version before. */
static const char *const store_pg_steps[STORE_SCHEMA_VERSION] = {
	/* Version 1: users, and the versions table itself. */
	"CREATE TABLE schema_version(version bigint PRIMARY KEY, applied_at bigint NOT NULL, "
	"ferry text NOT NULL);"
	"CREATE TABLE users(name text PRIMARY KEY, password_hash text NOT NULL, home text NOT NULL, "
	"account text, perms text NOT NULL, enabled boolean NOT NULL DEFAULT true, "
	"created_at bigint NOT NULL, updated_at bigint NOT NULL);",
	/* Version 2: one-time passwords (see store_sqlite.c for the columns);
	 * otp_locks may name users that do not exist (made-up challenges). */
	"CREATE TABLE otp(name text PRIMARY KEY REFERENCES users(name) ON DELETE CASCADE, "
	"alg text, seq bigint, seed text, last bigint, totp_secret text, "
	"totp_last_step bigint NOT NULL DEFAULT 0, reply bigint NOT NULL DEFAULT 0, "
	"static_ok boolean NOT NULL DEFAULT false);"
	"CREATE TABLE otp_locks(name text PRIMARY KEY, owner bigint NOT NULL, until bigint NOT NULL);"
	"CREATE TABLE meta(key text PRIMARY KEY, value bytea NOT NULL);",
	/* Version 3: Kerberos principal → user pairs. */
	"CREATE TABLE principals(principal text NOT NULL, "
	"name text NOT NULL REFERENCES users(name) ON DELETE CASCADE, created_at bigint NOT NULL, "
	"PRIMARY KEY(principal, name));"
	"CREATE INDEX principals_name ON principals(name);",
	/* Version 4: failed logins and bans shared by the nodes
	 * (store_pg_bans.c). A change of a ban is announced on channel
	 * ferry_bans (LISTEN/NOTIFY, delivered at commit), whoever made it:
	 * a node, ferry ban del, or an operator's own SQL. */
	"CREATE TABLE bans(address text PRIMARY KEY, failures bigint NOT NULL, window_start bigint NOT NULL, "
	"banned_until bigint NOT NULL DEFAULT 0, offences bigint NOT NULL DEFAULT 0, updated_at bigint NOT NULL);"
	"CREATE INDEX bans_banned_until ON bans(banned_until);"
	"CREATE FUNCTION ferry_bans_notify() RETURNS trigger LANGUAGE plpgsql AS "
	"$$BEGIN PERFORM pg_notify('ferry_bans', ''); RETURN NULL; END$$;"
	"CREATE TRIGGER bans_insert AFTER INSERT ON bans FOR EACH ROW WHEN (NEW.banned_until > 0) "
	"EXECUTE FUNCTION ferry_bans_notify();"
	"CREATE TRIGGER bans_update AFTER UPDATE ON bans FOR EACH ROW "
	"WHEN (NEW.banned_until <> OLD.banned_until) EXECUTE FUNCTION ferry_bans_notify();"
	"CREATE TRIGGER bans_delete AFTER DELETE ON bans FOR EACH ROW WHEN (OLD.banned_until > 0) "
	"EXECUTE FUNCTION ferry_bans_notify();",
	/* Version 5: groups and policies (see store_sqlite.c for the
	 * columns); foreign keys remove a user's or group's rows with it. */
	"CREATE TABLE groups(name text PRIMARY KEY, created_at bigint NOT NULL);"
	"CREATE TABLE group_members(name text NOT NULL REFERENCES users(name) ON DELETE CASCADE, "
	"grp text NOT NULL REFERENCES groups(name) ON DELETE CASCADE, position bigint NOT NULL, "
	"PRIMARY KEY(name, grp));"
	"CREATE INDEX group_members_grp ON group_members(grp);"
	"CREATE TABLE user_policy(name text NOT NULL REFERENCES users(name) ON DELETE CASCADE, attr text NOT NULL, "
	"key text NOT NULL DEFAULT '', value text NOT NULL, PRIMARY KEY(name, attr, key));"
	"CREATE TABLE group_policy(name text NOT NULL REFERENCES groups(name) ON DELETE CASCADE, attr text NOT NULL, "
	"key text NOT NULL DEFAULT '', value text NOT NULL, PRIMARY KEY(name, attr, key));",
	/* Version 6: users' SSH public keys (store_pg_keys.c), keyed by their
	 * SHA256 fingerprint per user. */
	"CREATE TABLE user_keys(name text NOT NULL REFERENCES users(name) ON DELETE CASCADE, "
	"fingerprint text NOT NULL, type text NOT NULL, key text NOT NULL, comment text NOT NULL DEFAULT '', "
	"created_at bigint NOT NULL, PRIMARY KEY(name, fingerprint));",
	/* Version 7: quota usage (see store_sqlite.c). */
	"CREATE TABLE quota_usage(name text PRIMARY KEY REFERENCES users(name) ON DELETE CASCADE, "
	"bytes bigint NOT NULL DEFAULT 0, "
	"files bigint NOT NULL DEFAULT 0);",
	/* Version 8: quota grants (see store_sqlite.c). */
	"CREATE TABLE quota_grants(name text NOT NULL REFERENCES users(name) ON DELETE CASCADE, "
	"node text NOT NULL, bytes bigint NOT NULL DEFAULT 0, files bigint NOT NULL DEFAULT 0, "
	"expires bigint NOT NULL, PRIMARY KEY(name, node));",
};

/* store_migrate's view of the database. The tables are looked up through
 * the connection's search_path, so a conninfo with options=-csearch_path=X
 * keeps ferry's tables in schema X. */
static int store_pg_mig_version(void *db, int64_t *version, bool *foreign)
{
	struct userstore *s = db;
	PGresult *res;
	bool has_version = false, has_users = false;
	int r = store_pg_exec(s, "schema version",
			      "SELECT to_regclass('schema_version') IS NOT NULL, to_regclass('users') IS NOT NULL",
			      NULL, &res);
	if (r)
		return r;
	if (PQntuples(res) != 1 || store_pg_bool(res, 0, 0, &has_version) || store_pg_bool(res, 0, 1, &has_users))
		r = -EIO;
	PQclear(res);
	*version = 0;
	*foreign = !has_version && has_users;
	if (r || !has_version)
		return r;
	r = store_pg_exec(s, "schema version", "SELECT coalesce(max(version), 0) FROM schema_version", NULL, &res);
	if (r)
		return r;
	if (PQntuples(res) != 1 || store_pg_int8(res, 0, 0, version))
		r = -EIO;
	PQclear(res);
	return r;
}

/* A session advisory lock, taken before BEGIN: a second node starting at
 * the same moment waits here, and its transaction then starts after the
 * first one's commit, so it sees the tables that one made (a lock taken
 * inside the transaction would leave it reading the catalog as it was when
 * the transaction began). Released after COMMIT or ROLLBACK, and by the
 * server if the connection goes. */
static int store_pg_advisory(struct userstore *s, const char *sql)
{
	struct pg_params p = { 0 };
	PGresult *res;
	pg_param_int8(&p, STORE_PG_MIGRATE_LOCK);
	int r = store_pg_exec(s, "migrate", sql, &p, &res);
	PQclear(res);
	return r;
}

static int store_pg_mig_lock(void *db)
{
	struct userstore *s = db;
	int r = store_pg_advisory(s, "SELECT pg_advisory_lock($1)");
	if (r)
		return r;
	s->mig_locked = true;
	r = store_pg_script(s, "migrate", "BEGIN");
	s->in_txn = r == 0;
	return r;
}

static void store_pg_mig_unlock(struct userstore *s)
{
	if (s->mig_locked)
		(void)store_pg_advisory(s, "SELECT pg_advisory_unlock($1)");
	s->mig_locked = false;
}

static int store_pg_mig_step(void *db, int to)
{
	struct userstore *s = db;
	struct pg_params p = { 0 };
	int r = store_pg_script(s, "migrate", store_pg_steps[to - 1]);
	if (r)
		return r;
	pg_param_int8(&p, to);
	pg_param_int8(&p, util_wall_s());
	pg_param_text(&p, FERRY_VERSION);
	return store_pg_write(s, "migrate", "INSERT INTO schema_version(version, applied_at, ferry) VALUES($1, $2, $3)",
			      &p);
}

static int store_pg_mig_commit(void *db, int version)
{
	struct userstore *s = db;
	(void)version; /* each step recorded its own row */
	int r = store_pg_script(s, "migrate", "COMMIT");
	s->in_txn = false;
	if (!r)
		store_pg_mig_unlock(s);
	return r;
}

static void store_pg_mig_rollback(void *db)
{
	struct userstore *s = db;
	char keep[sizeof(s->err)];
	/* The error that made us roll back is the one to report. */
	memcpy(keep, s->err, sizeof(keep));
	if (s->in_txn)
		(void)store_pg_script(s, "migrate", "ROLLBACK");
	s->in_txn = false;
	store_pg_mig_unlock(s);
	memcpy(s->err, keep, sizeof(keep));
}

static const char *store_pg_mig_errmsg(void *db)
{
	return ((struct userstore *)db)->err;
}

static const struct store_migrate_ops store_pg_migrate_ops = {
	.version = store_pg_mig_version,
	.lock = store_pg_mig_lock,
	.step = store_pg_mig_step,
	.commit = store_pg_mig_commit,
	.rollback = store_pg_mig_rollback,
	.errmsg = store_pg_mig_errmsg,
};

static void store_pg_close(struct userstore *s)
{
	if (!s)
		return;
	if (s->conn)
		PQfinish(s->conn);
	if (s->conninfo) {
		util_wipe(s->conninfo, strlen(s->conninfo));
		free(s->conninfo);
	}
	free(s);
}

static void store_pg_where(const struct config *cfg, char *out, size_t outsz)
{
	store_pg_describe(cfg->pg_conninfo, out, outsz);
}

/* Borrows cfg; the handle returned in *out belongs to the caller (close).
 * Without LAZY it connects and migrates now (a database that exists is
 * always given the schema: CREATE only matters to SQLite's file). */
static int store_pg_open(const struct config *cfg, unsigned flags, struct userstore **out, char *err, size_t errsz)
{
	struct userstore *s = NULL;
	char *perr = NULL;
	int r;

	*out = NULL;
	if (!cfg->pg_conninfo[0]) {
		(void)snprintf(err, errsz, "[store] postgres is not set");
		return -EINVAL;
	}
	PQconninfoOption *opts = PQconninfoParse(cfg->pg_conninfo, &perr);
	if (!opts) {
		(void)snprintf(err, errsz, "[store] postgres: %s", perr ? perr : "out of memory");
		PQfreemem(perr);
		return -EINVAL;
	}
	PQconninfoFree(opts);
	s = calloc(1, sizeof(*s));
	if (!s || !(s->conninfo = strdup(cfg->pg_conninfo))) {
		free(s);
		(void)snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	s->app = program_invocation_short_name;
	store_pg_describe(s->conninfo, s->where, sizeof(s->where));
	s->found_version = STORE_SCHEMA_VERSION;
	if (flags & USERSTORE_LAZY) {
		*out = s;
		return 0;
	}
	r = store_pg_open_conn(s);
	if (r) {
		(void)snprintf(err, errsz, "cannot connect to the %s: %s", s->where, s->err);
		goto fail;
	}
	r = store_migrate(&store_pg_migrate_ops, s, s->where, true, &s->found_version, err, errsz);
	if (r)
		goto fail;
	*out = s;
	return 0;
fail:
	store_pg_close(s);
	return r;
}

static void store_pg_schema(struct userstore *s, int *version, int *found)
{
	*version = STORE_SCHEMA_VERSION;
	*found = s->found_version;
}

static int store_pg_txn(struct userstore *s, enum userstore_txn what)
{
	static const char *const sql[] = {
		[USERSTORE_BEGIN] = "BEGIN",
		[USERSTORE_COMMIT] = "COMMIT",
		[USERSTORE_ROLLBACK] = "ROLLBACK",
	};
	if (what != USERSTORE_BEGIN && !s->in_txn)
		return -EINVAL;
	int r = store_pg_script(s, sql[what], sql[what]);
	s->in_txn = what == USERSTORE_BEGIN && r == 0;
	return r;
}

int store_pg_check_config(const struct config *c, const char **section, const char **key, char *why, size_t whysz)
{
	char *perr = NULL;
	if (!c->pg_conninfo[0])
		return 0;
	PQconninfoOption *opts = PQconninfoParse(c->pg_conninfo, &perr);
	if (opts) {
		PQconninfoFree(opts);
		return 0;
	}
	*section = "store";
	*key = "postgres";
	/* libpq's message names the bad part (a keyword, a missing '='). */
	size_t n = perr ? strcspn(perr, "\n") : 0;
	(void)snprintf(why, whysz, "not a valid libpq connection string: %.*s", (int)n, perr ? perr : "out of memory");
	PQfreemem(perr);
	return -1;
}

const struct userstore_ops store_pg_ops = {
	.name = "postgres",
	.open = store_pg_open,
	.where = store_pg_where,
	.schema = store_pg_schema,
	.txn = store_pg_txn,
	.lookup = store_pg_lookup,
	.add = store_pg_add,
	.remove = store_pg_remove,
	.update = store_pg_update,
	.password_swap = store_pg_password_swap,
	.list = store_pg_list,
	.close = store_pg_close,
	.otp_get = store_pg_otp_get,
	.otp_put = store_pg_otp_put,
	.otp_advance = store_pg_otp_advance,
	.totp_advance = store_pg_totp_advance,
	.challenge_lock = store_pg_challenge_lock,
	.challenge_unlock = store_pg_challenge_unlock,
	.server_secret = store_pg_server_secret,
	.principal_check = store_pg_principal_check,
	.principal_add = store_pg_principal_add,
	.principal_remove = store_pg_principal_remove,
	.principal_list = store_pg_principal_list,
	.key_add = store_pg_key_add,
	.key_remove = store_pg_key_remove,
	.key_list = store_pg_key_list,
	.key_check = store_pg_key_check,
	.ban_fail = store_pg_ban_fail,
	.ban_list = store_pg_ban_list,
	.ban_remove = store_pg_ban_remove,
	.ban_purge = store_pg_ban_purge,
	.ban_rows = store_pg_ban_rows,
	.ban_put = store_pg_ban_put,
	.ban_watch = store_pg_ban_watch,
	.policy_write = store_pg_policy_write,
	.policy_read = store_pg_policy_read,
};
