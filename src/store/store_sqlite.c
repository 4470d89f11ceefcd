/* store_sqlite: the embedded user store, one SQLite file. The only SQLite
 * user in the tree. The database is shared between ferryd (many readers, one
 * handle per job thread) and the ferry CLI (an occasional writer), so it runs
 * in WAL mode with a busy timeout: the CLI never makes a login fail and a
 * login never makes the CLI fail. This file opens the database, owns the
 * schema and its migrations and the users table; the OTP statements are in
 * store_sqlite_otp.c, the principal ones in store_sqlite_principal.c, the
 * bans in store_sqlite_bans.c, and the ops table below joins them. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "store_migrate.h"
#include "store_sqlite_impl.h"
#include "str.h"
#include "util.h"

#define STORE_SQLITE_BUSY_MS 5000
/* The pause between tries where SQLite itself does not wait (store_set_wal). */
#define STORE_SQLITE_RETRY_MS 10
/* Long enough for every permission name joined by commas. */
#define STORE_SQLITE_PERMS_MAX 64

/* The schema, one step per version (store_migrate.h); PRAGMA user_version
 * holds the version. Every statement is IF NOT EXISTS, so a database that
 * already has a step's tables (version 2 files got the principals table
 * without a version of its own) takes the step unharmed. */
static const char *const store_sqlite_steps[STORE_SCHEMA_VERSION] = {
	/* Version 1: users. Column names are a contract: operators' scripts
	 * read this table. */
	"CREATE TABLE IF NOT EXISTS users("
	"name TEXT PRIMARY KEY NOT NULL, "
	"password_hash TEXT NOT NULL, "
	"home TEXT NOT NULL, "
	"account TEXT, "
	"perms TEXT NOT NULL, "
	"enabled INTEGER NOT NULL DEFAULT 1, "
	"created_at INTEGER NOT NULL, "
	"updated_at INTEGER NOT NULL);",
	/* Version 2: one-time passwords. A table of its own, so version 1's
	 * users table (and scripts reading it) stays as it was; the trigger
	 * keeps "user remove" from leaving a key behind for a later user of
	 * the same name. last is OTP(seq) as a 64-bit integer (the RFC's hex
	 * form, read as a number); otp_locks holds outstanding challenges (RFC
	 * 2289 §9) and may name users that do not exist (made-up challenges);
	 * meta holds the secret those are made from. */
	"CREATE TABLE IF NOT EXISTS otp("
	"name TEXT PRIMARY KEY NOT NULL, "
	"alg TEXT, seq INTEGER, seed TEXT, last INTEGER, "
	"totp_secret TEXT, totp_last_step INTEGER NOT NULL DEFAULT 0, "
	"reply INTEGER NOT NULL DEFAULT 0, "
	"static_ok INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS otp_locks(name TEXT PRIMARY KEY NOT NULL, owner INTEGER NOT NULL, "
	"until INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL);"
	"CREATE TRIGGER IF NOT EXISTS users_delete_otp AFTER DELETE ON users "
	"BEGIN DELETE FROM otp WHERE name = old.name; END;",
	/* Version 3: Kerberos principal → user pairs (RFC 2228 GSSAPI logins);
	 * a user's pairs go with the user (trigger). */
	"CREATE TABLE IF NOT EXISTS principals("
	"principal TEXT NOT NULL, "
	"user TEXT NOT NULL, "
	"created_at INTEGER NOT NULL, "
	"PRIMARY KEY(principal, user));"
	"CREATE TRIGGER IF NOT EXISTS principals_user_deleted AFTER DELETE ON users "
	"BEGIN DELETE FROM principals WHERE user = OLD.name; END;",
	/* Version 4: failed logins and bans of client address groups, shared
	 * by every ferryd using the file (store_sqlite_bans.c); times in
	 * milliseconds since the epoch. */
	"CREATE TABLE IF NOT EXISTS bans("
	"address TEXT PRIMARY KEY NOT NULL, "
	"failures INTEGER NOT NULL, "
	"window_start INTEGER NOT NULL, "
	"banned_until INTEGER NOT NULL DEFAULT 0, "
	"offences INTEGER NOT NULL DEFAULT 0, "
	"updated_at INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS bans_banned_until ON bans(banned_until);",
	/* Version 5: groups and policies (policy.h, store_sqlite_policy.c).
	 * group_members keeps each user's groups in order (position); the
	 * policies are one row per attribute (attr: "quota-bytes", "mount"...;
	 * key: "" or the virtual path of a mount or dir-perms), so a new
	 * attribute needs no schema step. A user's or group's rows go with it
	 * (triggers). */
	"CREATE TABLE IF NOT EXISTS groups(name TEXT PRIMARY KEY NOT NULL, created_at INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS group_members(name TEXT NOT NULL, grp TEXT NOT NULL, position INTEGER NOT NULL, "
	"PRIMARY KEY(name, grp));"
	"CREATE INDEX IF NOT EXISTS group_members_grp ON group_members(grp);"
	"CREATE TABLE IF NOT EXISTS user_policy(name TEXT NOT NULL, attr TEXT NOT NULL, key TEXT NOT NULL DEFAULT '', "
	"value TEXT NOT NULL, PRIMARY KEY(name, attr, key));"
	"CREATE TABLE IF NOT EXISTS group_policy(name TEXT NOT NULL, attr TEXT NOT NULL, key TEXT NOT NULL DEFAULT '', "
	"value TEXT NOT NULL, PRIMARY KEY(name, attr, key));"
	"CREATE TRIGGER IF NOT EXISTS users_delete_policy AFTER DELETE ON users BEGIN "
	"DELETE FROM user_policy WHERE name = old.name; DELETE FROM group_members WHERE name = old.name; END;"
	"CREATE TRIGGER IF NOT EXISTS groups_delete_policy AFTER DELETE ON groups BEGIN "
	"DELETE FROM group_policy WHERE name = old.name; DELETE FROM group_members WHERE grp = old.name; END;",
	/* Version 6: users' SSH public keys (store_sqlite_keys.c), one row
	 * per key, keyed by its SHA256 fingerprint; they go with the user
	 * (trigger). */
	"CREATE TABLE IF NOT EXISTS user_keys("
	"name TEXT NOT NULL, "
	"fingerprint TEXT NOT NULL, "
	"type TEXT NOT NULL, "
	"key TEXT NOT NULL, "
	"comment TEXT NOT NULL DEFAULT '', "
	"created_at INTEGER NOT NULL, "
	"PRIMARY KEY(name, fingerprint));"
	"CREATE TRIGGER IF NOT EXISTS user_keys_user_deleted AFTER DELETE ON users "
	"BEGIN DELETE FROM user_keys WHERE name = OLD.name; END;",
	/* Version 7: each user's quota usage (bytes and files under the home,
	 * core/quota.h), kept up to date by every node's uploads and deletes
	 * and recounted by ferry quota scan; it goes with the user. */
	"CREATE TABLE IF NOT EXISTS quota_usage(name TEXT PRIMARY KEY NOT NULL, bytes INTEGER NOT NULL DEFAULT 0, "
	"files INTEGER NOT NULL DEFAULT 0);"
	"CREATE TRIGGER IF NOT EXISTS users_delete_usage AFTER DELETE ON users BEGIN "
	"DELETE FROM quota_usage WHERE name = old.name; END;",
	/* Version 8: quota grants (policy.h policy_grant_take): the bytes a
	 * node (ferryd's name for itself) holds for the user's running
	 * uploads beyond the usage, until expires (seconds since the epoch)
	 * unless the node renews it; files is 0 (kept for file grants). */
	"CREATE TABLE IF NOT EXISTS quota_grants(name TEXT NOT NULL, node TEXT NOT NULL, "
	"bytes INTEGER NOT NULL DEFAULT 0, files INTEGER NOT NULL DEFAULT 0, expires INTEGER NOT NULL, "
	"PRIMARY KEY(name, node));"
	"CREATE TRIGGER IF NOT EXISTS users_delete_grants AFTER DELETE ON users BEGIN "
	"DELETE FROM quota_grants WHERE name = old.name; END;",
};

#define STORE_SQLITE_COLUMNS "name, password_hash, home, account, perms, enabled, created_at, updated_at"

/* Every statement is fixed text with bound parameters; user text never
 * becomes SQL. Insert and update share one binding order (?1..?8, see
 * store_bind_record); update leaves created_at (?7) alone. */
static const char *const store_sqlite_sql[STMT_COUNT] = {
	[STMT_LOOKUP] = "SELECT " STORE_SQLITE_COLUMNS " FROM users WHERE name = ?1",
	[STMT_INSERT] = "INSERT INTO users(" STORE_SQLITE_COLUMNS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[STMT_DELETE] = "DELETE FROM users WHERE name = ?1",
	[STMT_UPDATE] = "UPDATE users SET password_hash = ?2, home = ?3, account = ?4, perms = ?5, enabled = ?6, "
			"updated_at = ?8 WHERE name = ?1",
	[STMT_LIST] = "SELECT " STORE_SQLITE_COLUMNS " FROM users ORDER BY name",
};

/* Makes sure the file exists before SQLite opens it, so that "missing" gets a
 * clear message and a new database is created 0600: it holds password
 * hashes. SQLite gives the -wal and -shm files the same mode. */
static int store_prepare_file(const struct config *cfg, const char *path, bool create, char *err, size_t errsz)
{
	struct stat st;
	int fd;

	if (stat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode)) {
			(void)snprintf(err, errsz, "user database %s is not a regular file", path);
			return -EINVAL;
		}
		return 0;
	}
	if (errno != ENOENT) {
		int r = -errno;
		(void)snprintf(err, errsz, "cannot access user database %s: %s", path, strerror(-r));
		return r;
	}
	if (!create) {
		(void)snprintf(err, errsz, "user database %s does not exist (run: ferry%s%s user add NAME --home DIR)",
			       path, cfg->path[0] ? " -c " : "", cfg->path);
		return -ENOENT;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		int r = -errno;
		if (r == -EEXIST) /* another ferry created it meanwhile */
			return 0;
		/* Directories are the operator's (or the package's) to create,
		 * with the ownership they choose; say which one is missing. */
		const char *slash = strrchr(path, '/');
		if (r == -ENOENT && slash && slash != path) {
			(void)snprintf(err, errsz, "cannot create user database %s: directory %.*s does not exist",
				       path, (int)(slash - path), path);
		} else {
			(void)snprintf(err, errsz, "cannot create user database %s: %s", path, strerror(-r));
		}
		return r;
	}
	(void)close(fd);
	return 0;
}

/* Runs a fixed single-row query whose first column is an integer. */
static int store_query_int(struct userstore *s, const char *sql, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int64(st, 0);
			rc = SQLITE_OK;
		}
	}
	(void)sqlite3_finalize(st);
	return rc;
}

/* store_migrate's view of the database (store_migrate.h). */
static int store_mig_version(void *db, int64_t *version, bool *foreign)
{
	struct userstore *s = db;
	int64_t objects = 0;
	int rc = store_query_int(s, "PRAGMA user_version", version);
	if (rc == SQLITE_OK && *version == 0)
		rc = store_query_int(s, "SELECT count(*) FROM sqlite_master", &objects);
	*foreign = objects != 0;
	return rc == SQLITE_OK ? 0 : store_sqlite_errno(s, rc);
}

static int store_mig_exec(struct userstore *s, const char *sql)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : store_sqlite_errno(s, rc);
}

/* IMMEDIATE takes the write lock first: a second ferry waits here (busy
 * timeout), then finds the work done. */
static int store_mig_lock(void *db)
{
	return store_mig_exec(db, "BEGIN IMMEDIATE");
}

static int store_mig_step(void *db, int to)
{
	return store_mig_exec(db, store_sqlite_steps[to - 1]);
}

static int store_mig_commit(void *db, int version)
{
	char sql[48];
	(void)snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version);
	int r = store_mig_exec(db, sql);
	return r ? r : store_mig_exec(db, "COMMIT");
}

static void store_mig_rollback(void *db)
{
	/* Nothing to roll back if BEGIN failed; the error is already set. */
	(void)store_mig_exec(db, "ROLLBACK");
}

static const char *store_mig_errmsg(void *db)
{
	return sqlite3_errmsg(((struct userstore *)db)->db);
}

static const struct store_migrate_ops store_sqlite_migrate_ops = {
	.version = store_mig_version,
	.lock = store_mig_lock,
	.step = store_mig_step,
	.commit = store_mig_commit,
	.rollback = store_mig_rollback,
	.errmsg = store_mig_errmsg,
};

/* Checks the schema version and brings it up to date (a new, empty file
 * gets the whole schema when create is set). The version is what lets a
 * later ferry migrate the tables safely, and an older ferry refuse a newer
 * layout rather than misread it. */
static int store_check_schema(struct userstore *s, const struct config *cfg, bool create, char *err, size_t errsz)
{
	char where[PATH_MAX + 32];
	(void)snprintf(where, sizeof(where), "user database %s", s->path);
	int r = store_migrate(&store_sqlite_migrate_ops, s, where, create, &s->found_version, err, errsz);
	if (r == -ENOENT)
		(void)snprintf(err, errsz, "user database %s is empty (run: ferry%s%s user add NAME --home DIR)",
			       s->path, cfg->path[0] ? " -c " : "", cfg->path);
	return r;
}

/* WAL lets ferryd keep reading while the CLI writes. The mode is stored in
 * the file, so this is a no-op after the first open.
 *
 * The first switch (a new file, or one an older ferry left in rollback mode)
 * reads the header, then upgrades to the write lock to mark it; SQLite never
 * runs the busy handler for that upgrade (waiting with the read lock held
 * could deadlock), so when another ferry holds the write lock at that moment
 * (ferryd and the CLI opening a new file together: the other is migrating it
 * or switching it too) the step fails at once with SQLITE_BUSY. Retry, for
 * as long as the busy timeout waits elsewhere; a retry that finds the file
 * switched already is done. */
static int store_set_wal(struct userstore *s, char *err, size_t errsz)
{
	sqlite3_stmt *st = NULL;
	int r = 0;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	for (int waited = 0; st && (rc & 0xff) == SQLITE_BUSY && waited < STORE_SQLITE_BUSY_MS;
	     waited += STORE_SQLITE_RETRY_MS) {
		(void)sqlite3_reset(st);
		(void)sqlite3_sleep(STORE_SQLITE_RETRY_MS);
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_ROW) {
		(void)snprintf(err, errsz, "cannot switch %s to WAL mode: %s", s->path, sqlite3_errmsg(s->db));
		r = store_sqlite_errno(s, rc);
		goto fail;
	}
	const char *mode = (const char *)sqlite3_column_text(st, 0);
	if (!mode || strcmp(mode, "wal") != 0) {
		(void)snprintf(err, errsz, "cannot switch %s to WAL mode (it stays in %s mode)", s->path,
			       mode ? mode : "an unknown");
		r = -EIO;
		goto fail;
	}
fail:
	(void)sqlite3_finalize(st);
	return r;
}

static void store_sqlite_close(struct userstore *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < ARRAY_LEN(s->stmt); i++)
		(void)sqlite3_finalize(s->stmt[i]);
	for (size_t i = 0; i < ARRAY_LEN(s->otp_stmt); i++)
		(void)sqlite3_finalize(s->otp_stmt[i]);
	for (size_t i = 0; i < ARRAY_LEN(s->policy_stmt); i++)
		(void)sqlite3_finalize(s->policy_stmt[i]);
	/* All statements are finalized, so close cannot be left pending. */
	if (s->db && sqlite3_close(s->db) != SQLITE_OK)
		log_err(0, "user database %s: close: %s", s->path, sqlite3_errmsg(s->db));
	free(s);
}

/* Prepares n fixed statements (sql[i] into st[i]) for the handle's life. */
static int store_prepare_all(struct userstore *s, const char *const *sql, sqlite3_stmt **st, size_t n, char *err,
			     size_t errsz)
{
	for (size_t i = 0; i < n; i++) {
		int rc = sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st[i], NULL);
		if (rc != SQLITE_OK) {
			(void)snprintf(err, errsz, "user database %s: %s", s->path, sqlite3_errmsg(s->db));
			return store_sqlite_errno(s, rc);
		}
	}
	return 0;
}

/* Borrows cfg; the handle returned in *out belongs to the caller (close).
 * USERSTORE_LAZY means nothing here: the file is local. */
static int store_sqlite_open(const struct config *cfg, unsigned flags, struct userstore **out, char *err, size_t errsz)
{
	struct userstore *s = NULL;
	bool create = flags & USERSTORE_CREATE;
	int r, rc;

	*out = NULL;
	if (!cfg->sqlite_path[0]) {
		(void)snprintf(err, errsz, "[store] no SQLite database path is configured");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		(void)snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	if (!str_copy(s->path, sizeof(s->path), cfg->sqlite_path)) {
		(void)snprintf(err, errsz, "user database path is too long");
		r = -ENAMETOOLONG;
		goto fail;
	}
	r = store_prepare_file(cfg, s->path, create, err, errsz);
	if (r)
		goto fail;
	/* The file exists now: never let SQLite create a new one elsewhere. */
	rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK) {
		r = store_sqlite_errno(s, rc);
		(void)snprintf(err, errsz, "cannot open user database %s: %s", s->path,
			       s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		goto fail;
	}
	(void)sqlite3_extended_result_codes(s->db, 1);
	(void)sqlite3_busy_timeout(s->db, STORE_SQLITE_BUSY_MS);
	r = store_check_schema(s, cfg, create, err, errsz);
	if (r)
		goto fail;
	r = store_set_wal(s, err, errsz);
	if (r)
		goto fail;
	r = store_prepare_all(s, store_sqlite_sql, s->stmt, STMT_COUNT, err, errsz);
	if (!r)
		r = store_prepare_all(s, store_sqlite_otp_sql, s->otp_stmt, STMT_OTP_COUNT, err, errsz);
	if (r)
		goto fail;
	*out = s;
	return 0;
fail:
	store_sqlite_close(s);
	return r;
}

/* Fills u (owned by the caller afterwards) from the current row. */
static int store_row_read(const struct userstore *s, sqlite3_stmt *st, struct user_record *u)
{
	const char *perms = (const char *)sqlite3_column_text(st, 4);
	int r;

	*u = (struct user_record){ 0 };
	r = store_sqlite_column_dup(st, 0, false, &u->name);
	if (!r)
		r = store_sqlite_column_dup(st, 1, false, &u->password_hash);
	if (!r)
		r = store_sqlite_column_dup(st, 2, false, &u->home);
	if (!r)
		r = store_sqlite_column_dup(st, 3, true, &u->account);
	if (r)
		goto fail;
	/* An operator may edit the table by hand: a perms value we cannot read
	 * fails the lookup instead of guessing what was meant. */
	if (!perms || perms_parse(perms, &u->perms) != 0) {
		struct log_escaped e1, e2;
		log_err(0, "user database %s: user '%s' has invalid perms '%s'", s->path,
			log_esc(slice_from_cstr(u->name), &e1), log_esc(slice_from_cstr(perms ? perms : ""), &e2));
		r = -EINVAL;
		goto fail;
	}
	u->enabled = sqlite3_column_int64(st, 5) != 0;
	u->created_at = sqlite3_column_int64(st, 6);
	u->updated_at = sqlite3_column_int64(st, 7);
	return 0;
fail:
	user_record_free(u);
	return r;
}

static int store_sqlite_lookup(struct userstore *s, const char *name, struct user_record *out)
{
	sqlite3_stmt *st = s->stmt[STMT_LOOKUP];
	int r;

	int rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = store_row_read(s, st, out);
	else if (rc == SQLITE_DONE)
		r = -ENOENT;
	else
		r = store_sqlite_fail(s, "lookup", rc);
	store_sqlite_stmt_done(st);
	return r;
}

/* Binds ?1..?8 in the shared insert/update order. */
static int store_bind_record(sqlite3_stmt *st, const struct user_record *u, int64_t now)
{
	char perms[STORE_SQLITE_PERMS_MAX];
	int rc;

	perms_format(u->perms, perms, sizeof(perms));
	rc = sqlite3_bind_text(st, 1, u->name, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 2, u->password_hash, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 3, u->home, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = u->account ? sqlite3_bind_text(st, 4, u->account, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 4);
	/* perms lives on this stack frame: SQLite must take its own copy. */
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 5, perms, -1, SQLITE_TRANSIENT);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(st, 6, u->enabled ? 1 : 0);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 7, u->created_at ? u->created_at : now);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 8, now);
	return rc;
}

static bool store_record_valid(const struct user_record *u)
{
	return u && u->name && u->password_hash && u->home;
}

/* created_at 0 means "now"; a non-zero value is kept (imports). */
static int store_sqlite_add(struct userstore *s, const struct user_record *u)
{
	sqlite3_stmt *st = s->stmt[STMT_INSERT];

	if (!store_record_valid(u))
		return -EINVAL;
	return store_sqlite_write(s, st, "add", store_bind_record(st, u, util_wall_s()));
}

static int store_sqlite_remove(struct userstore *s, const char *name)
{
	sqlite3_stmt *st = s->stmt[STMT_DELETE];

	return store_sqlite_write(s, st, "remove", sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC));
}

static int store_sqlite_update(struct userstore *s, const struct user_record *u)
{
	sqlite3_stmt *st = s->stmt[STMT_UPDATE];

	if (!store_record_valid(u))
		return -EINVAL;
	return store_sqlite_write(s, st, "update", store_bind_record(st, u, util_wall_s()));
}

/* Rare (once per upgraded user), so prepared per call. */
static int store_sqlite_password_swap(struct userstore *s, const char *name, const char *old_hash, const char *new_hash)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, "UPDATE users SET password_hash = ?3 WHERE name = ?1 AND password_hash = ?2",
				    -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 2, old_hash, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 3, new_hash, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	int r = rc != SQLITE_DONE	      ? store_sqlite_fail(s, "password swap", rc)
		: sqlite3_changes(s->db) == 0 ? -ESTALE
					      : 0;
	(void)sqlite3_finalize(st);
	return r;
}

/* Each record passed to fn is freed when fn returns. Returns 0 after the last
 * row, or the non-zero value fn returned to stop early. */
static int store_sqlite_list(struct userstore *s, int (*fn)(const struct user_record *u, void *arg), void *arg)
{
	sqlite3_stmt *st = s->stmt[STMT_LIST];
	int r = 0, rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct user_record u;
		r = store_row_read(s, st, &u);
		if (r)
			break;
		r = fn(&u, arg);
		user_record_free(&u);
		if (r)
			break;
	}
	if (!r && rc != SQLITE_DONE)
		r = store_sqlite_fail(s, "list", rc);
	store_sqlite_stmt_done(st);
	return r;
}

static void store_sqlite_where(const struct config *cfg, char *out, size_t outsz)
{
	(void)snprintf(out, outsz, "user database %s", cfg->sqlite_path);
}

static void store_sqlite_schema(struct userstore *s, int *version, int *found)
{
	*version = STORE_SCHEMA_VERSION;
	*found = s->found_version;
}

/* A deferred BEGIN: a reader (ferry store copy's source) gets one snapshot
 * without holding the write lock ferryd's logins need. */
static int store_sqlite_txn(struct userstore *s, enum userstore_txn what)
{
	static const char *const sql[] = {
		[USERSTORE_BEGIN] = "BEGIN",
		[USERSTORE_COMMIT] = "COMMIT",
		[USERSTORE_ROLLBACK] = "ROLLBACK",
	};
	int rc = sqlite3_exec(s->db, sql[what], NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : store_sqlite_fail(s, sql[what], rc);
}

const struct userstore_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = store_sqlite_open,
	.where = store_sqlite_where,
	.schema = store_sqlite_schema,
	.txn = store_sqlite_txn,
	.lookup = store_sqlite_lookup,
	.add = store_sqlite_add,
	.remove = store_sqlite_remove,
	.update = store_sqlite_update,
	.password_swap = store_sqlite_password_swap,
	.list = store_sqlite_list,
	.close = store_sqlite_close,
	.otp_get = store_sqlite_otp_get,
	.otp_put = store_sqlite_otp_put,
	.otp_advance = store_sqlite_otp_advance,
	.totp_advance = store_sqlite_totp_advance,
	.challenge_lock = store_sqlite_challenge_lock,
	.challenge_unlock = store_sqlite_challenge_unlock,
	.server_secret = store_sqlite_server_secret,
	.principal_check = store_sqlite_principal_check,
	.principal_add = store_sqlite_principal_add,
	.principal_remove = store_sqlite_principal_remove,
	.principal_list = store_sqlite_principal_list,
	.key_add = store_sqlite_key_add,
	.key_remove = store_sqlite_key_remove,
	.key_list = store_sqlite_key_list,
	.key_check = store_sqlite_key_check,
	.ban_fail = store_sqlite_ban_fail,
	.ban_list = store_sqlite_ban_list,
	.ban_remove = store_sqlite_ban_remove,
	.ban_purge = store_sqlite_ban_purge,
	.ban_rows = store_sqlite_ban_rows,
	.ban_put = store_sqlite_ban_put,
	.policy_write = store_sqlite_policy_write,
	.policy_read = store_sqlite_policy_read,
};
