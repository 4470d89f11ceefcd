/* Unit tests for store_sqlite.c through the userstore_ops interface: create
 * and open rules, the schema contract (column names, user_version, WAL),
 * every operation and its errors, reopening, and a second handle seeing a
 * first handle's writes. Each test gets a fresh mkdtemp() directory; SQLite
 * is used directly only to inspect or tamper with the file. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "userstore.h"
#include "store_migrate.h"
#include "config.h"
#include "str.h"
#include "ban_cases.h"
#include "policy_cases.h"
#include "schema_text.h"

struct fixture {
	char dir[256];
	struct config *cfg;
	const struct userstore_ops *ops;
	struct userstore *s;
	char err[1024];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	if (!fx)
		return -1;
	(void)snprintf(fx->dir, sizeof(fx->dir), "/tmp/ferry-test-store-XXXXXX");
	fx->cfg = config_new_default();
	if (!mkdtemp(fx->dir) || !fx->cfg) {
		free(fx);
		return -1;
	}
	(void)snprintf(fx->cfg->sqlite_path, sizeof(fx->cfg->sqlite_path), "%s/users.db", fx->dir);
	fx->ops = &store_sqlite_ops;
	*state = fx;
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	if (fx->s)
		fx->ops->close(fx->s);
	config_unref(fx->cfg);
	int r = nftw(fx->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return r == 0 ? 0 : -1;
}

/* Opens (creating) the store into fx->s, failing the test on error. */
static void open_store(struct fixture *fx, bool create)
{
	int r = fx->ops->open(fx->cfg, create, &fx->s, fx->err, sizeof(fx->err));
	if (r != 0)
		print_error("open: %s\n", fx->err);
	assert_int_equal(r, 0);
	assert_non_null(fx->s);
}

static void reopen_store(struct fixture *fx)
{
	fx->ops->close(fx->s);
	fx->s = NULL;
	open_store(fx, false);
}

/* A record borrowing string literals; add/update only read it. */
static struct user_record rec(const char *name, const char *home, const char *account, uint32_t perms, bool enabled)
{
	return (struct user_record){
	    .name = (char *)name,
	    .password_hash = (char *)"$y$j9T$abc$def",
	    .home = (char *)home,
	    .account = (char *)account,
	    .perms = perms,
	    .enabled = enabled,
	};
}

/* Runs one SQL statement on the file behind SQLite's back. */
static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		print_error("%s: %s\n", sql, msg ? msg : "?");
	sqlite3_free(msg);
	assert_int_equal(rc, SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void raw_query_text(const char *path, const char *sql, char *out, size_t outsz)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	(void)snprintf(out, outsz, "%s", (const char *)sqlite3_column_text(st, 0));
	assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void test_open_missing_without_create(void **state)
{
	struct fixture *fx = *state;
	struct stat st;
	assert_int_equal(fx->ops->open(fx->cfg, false, &fx->s, fx->err, sizeof(fx->err)), -ENOENT);
	assert_null(fx->s);
	assert_non_null(strstr(fx->err, fx->cfg->sqlite_path));
	assert_non_null(strstr(fx->err, "does not exist"));
	assert_non_null(strstr(fx->err, "user add"));
	/* Looking must not create anything. */
	assert_int_equal(stat(fx->cfg->sqlite_path, &st), -1);
	assert_int_equal(errno, ENOENT);
}

static void test_open_missing_directory(void **state)
{
	struct fixture *fx = *state;
	char want[512];
	(void)snprintf(fx->cfg->sqlite_path, sizeof(fx->cfg->sqlite_path), "%s/nodir/users.db", fx->dir);
	assert_int_equal(fx->ops->open(fx->cfg, true, &fx->s, fx->err, sizeof(fx->err)), -ENOENT);
	(void)snprintf(want, sizeof(want), "directory %s/nodir does not exist", fx->dir);
	assert_non_null(strstr(fx->err, want));
	/* Directories are never created. */
	(void)snprintf(want, sizeof(want), "%s/nodir", fx->dir);
	assert_int_equal(access(want, F_OK), -1);
}

static void test_open_unset_path(void **state)
{
	struct fixture *fx = *state;
	fx->cfg->sqlite_path[0] = '\0';
	assert_int_equal(fx->ops->open(fx->cfg, true, &fx->s, fx->err, sizeof(fx->err)), -EINVAL);
	assert_non_null(strstr(fx->err, "[store]"));
}

static void test_create_schema(void **state)
{
	struct fixture *fx = *state;
	char text[256];
	struct stat st;
	open_store(fx, true);

	/* The column names are read by operators' scripts. */
	raw_query_text(fx->cfg->sqlite_path,
		       "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info('users') ORDER BY cid)",
		       text, sizeof(text));
	assert_string_equal(text, "name,password_hash,home,account,perms,enabled,created_at,updated_at");
	raw_query_text(fx->cfg->sqlite_path, "PRAGMA user_version", text, sizeof(text));
	assert_string_equal(text, SCHEMA_TEXT);
	raw_query_text(fx->cfg->sqlite_path, "PRAGMA journal_mode", text, sizeof(text));
	assert_string_equal(text, "wal");
	/* It holds password hashes: owner only. */
	assert_int_equal(stat(fx->cfg->sqlite_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_add_lookup(void **state)
{
	struct fixture *fx = *state;
	struct user_record u = rec("bob", "/srv/ftp/bob", NULL, PERM_READ | PERM_LIST, true);
	struct user_record got;
	int64_t before = (int64_t)time(NULL);
	open_store(fx, true);

	assert_int_equal(fx->ops->add(fx->s, &u), 0);
	assert_int_equal(fx->ops->lookup(fx->s, "bob", &got), 0);
	assert_string_equal(got.name, "bob");
	assert_string_equal(got.password_hash, "$y$j9T$abc$def");
	assert_string_equal(got.home, "/srv/ftp/bob");
	assert_null(got.account);
	assert_int_equal(got.perms, PERM_READ | PERM_LIST);
	assert_true(got.enabled);
	assert_true(got.created_at >= before);
	assert_int_equal(got.created_at, got.updated_at);
	user_record_free(&got);
	assert_null(got.name);

	u = rec("carol", "/srv/ftp/carol", "acct-7", PERM_ALL, false);
	assert_int_equal(fx->ops->add(fx->s, &u), 0);
	assert_int_equal(fx->ops->lookup(fx->s, "carol", &got), 0);
	assert_string_equal(got.account, "acct-7");
	assert_int_equal(got.perms, PERM_ALL);
	assert_false(got.enabled);
	user_record_free(&got);

	/* Names are exact: no case folding, no prefix match. */
	assert_int_equal(fx->ops->lookup(fx->s, "Bob", &got), -ENOENT);
	assert_int_equal(fx->ops->lookup(fx->s, "bo", &got), -ENOENT);
	assert_int_equal(fx->ops->lookup(fx->s, "nobody", &got), -ENOENT);
}

static void test_perms_stored_canonically(void **state)
{
	struct fixture *fx = *state;
	struct user_record u = rec("bob", "/h", NULL, PERM_LIST | PERM_READ | PERM_MKDIR, true);
	char text[64];
	open_store(fx, true);
	assert_int_equal(fx->ops->add(fx->s, &u), 0);
	u = rec("ann", "/h", NULL, PERM_ALL, true);
	assert_int_equal(fx->ops->add(fx->s, &u), 0);
	raw_query_text(fx->cfg->sqlite_path, "SELECT perms FROM users WHERE name = 'bob'", text, sizeof(text));
	assert_string_equal(text, "read,mkdir,list");
	raw_query_text(fx->cfg->sqlite_path, "SELECT perms FROM users WHERE name = 'ann'", text, sizeof(text));
	assert_string_equal(text, "all");
}

static void test_add_duplicate(void **state)
{
	struct fixture *fx = *state;
	struct user_record u = rec("bob", "/srv/ftp/bob", NULL, PERM_ALL, true);
	struct user_record v = rec("bob", "/elsewhere", NULL, PERM_READ, true);
	struct user_record got;
	open_store(fx, true);
	assert_int_equal(fx->ops->add(fx->s, &u), 0);
	assert_int_equal(fx->ops->add(fx->s, &v), -EEXIST);
	/* The first row is untouched. */
	assert_int_equal(fx->ops->lookup(fx->s, "bob", &got), 0);
	assert_string_equal(got.home, "/srv/ftp/bob");
	user_record_free(&got);
}

static void test_add_invalid_record(void **state)
{
	struct fixture *fx = *state;
	struct user_record u = rec("bob", NULL, NULL, PERM_ALL, true);
	open_store(fx, true);
	assert_int_equal(fx->ops->add(fx->s, &u), -EINVAL);
	u = rec(NULL, "/h", NULL, PERM_ALL, true);
	assert_int_equal(fx->ops->add(fx->s, &u), -EINVAL);
	assert_int_equal(fx->ops->update(fx->s, &u), -EINVAL);
}

static void test_update(void **state)
{
	struct fixture *fx = *state;
	struct user_record u = rec("bob", "/srv/ftp/bob", "acct", PERM_READ, true);
	struct user_record got;
	open_store(fx, true);
	/* An old created_at (an import) is kept as given. */
	u.created_at = 1000;
	assert_int_equal(fx->ops->add(fx->s, &u), 0);

	u = rec("bob", "/srv/ftp/new", NULL, PERM_READ | PERM_WRITE, false);
	u.password_hash = (char *)"$6$salt$hash";
	assert_int_equal(fx->ops->update(fx->s, &u), 0);
	assert_int_equal(fx->ops->lookup(fx->s, "bob", &got), 0);
	assert_string_equal(got.home, "/srv/ftp/new");
	assert_string_equal(got.password_hash, "$6$salt$hash");
	assert_null(got.account);
	assert_int_equal(got.perms, PERM_READ | PERM_WRITE);
	assert_false(got.enabled);
	assert_int_equal(got.created_at, 1000);
	assert_true(got.updated_at > 1000);
	user_record_free(&got);

	u = rec("ghost", "/h", NULL, PERM_ALL, true);
	assert_int_equal(fx->ops->update(fx->s, &u), -ENOENT);
	assert_int_equal(fx->ops->lookup(fx->s, "ghost", &got), -ENOENT);
}

static void test_remove(void **state)
{
	struct fixture *fx = *state;
	struct user_record u = rec("bob", "/h", NULL, PERM_ALL, true);
	struct user_record got;
	open_store(fx, true);
	assert_int_equal(fx->ops->add(fx->s, &u), 0);
	assert_int_equal(fx->ops->remove(fx->s, "bob"), 0);
	assert_int_equal(fx->ops->lookup(fx->s, "bob", &got), -ENOENT);
	assert_int_equal(fx->ops->remove(fx->s, "bob"), -ENOENT);
	assert_int_equal(fx->ops->remove(fx->s, "never"), -ENOENT);
	/* The name can be used again. */
	assert_int_equal(fx->ops->add(fx->s, &u), 0);
}

struct collect {
	char names[8][16];
	size_t n;
	size_t stop_after; /* 0: never stop */
};

static int collect_fn(const struct user_record *u, void *arg)
{
	struct collect *c = arg;
	assert_true(c->n < 8);
	(void)snprintf(c->names[c->n], sizeof(c->names[c->n]), "%s", u->name);
	c->n++;
	return c->stop_after && c->n == c->stop_after ? 42 : 0;
}

static void test_list(void **state)
{
	struct fixture *fx = *state;
	static const char *const names[] = {"mallory", "alice", "zed", "bob"};
	struct collect c = {0};
	open_store(fx, true);
	assert_int_equal(fx->ops->list(fx->s, collect_fn, &c), 0);
	assert_int_equal(c.n, 0);

	for (size_t i = 0; i < 4; i++) {
		struct user_record u = rec(names[i], "/h", NULL, PERM_ALL, true);
		assert_int_equal(fx->ops->add(fx->s, &u), 0);
	}
	assert_int_equal(fx->ops->list(fx->s, collect_fn, &c), 0);
	assert_int_equal(c.n, 4);
	assert_string_equal(c.names[0], "alice");
	assert_string_equal(c.names[1], "bob");
	assert_string_equal(c.names[2], "mallory");
	assert_string_equal(c.names[3], "zed");

	/* Stopping early returns the callback's value and leaves the handle
	 * usable (the statement was reset). */
	c = (struct collect){.stop_after = 2};
	assert_int_equal(fx->ops->list(fx->s, collect_fn, &c), 42);
	assert_int_equal(c.n, 2);
	c = (struct collect){0};
	assert_int_equal(fx->ops->list(fx->s, collect_fn, &c), 0);
	assert_int_equal(c.n, 4);
}

static void test_reopen(void **state)
{
	struct fixture *fx = *state;
	struct user_record u = rec("bob", "/srv/ftp/bob", "a", PERM_READ, true);
	struct user_record got;
	open_store(fx, true);
	assert_int_equal(fx->ops->add(fx->s, &u), 0);
	reopen_store(fx);
	assert_int_equal(fx->ops->lookup(fx->s, "bob", &got), 0);
	assert_string_equal(got.home, "/srv/ftp/bob");
	assert_string_equal(got.account, "a");
	user_record_free(&got);
	/* create=true on an existing store keeps its rows. */
	fx->ops->close(fx->s);
	fx->s = NULL;
	open_store(fx, true);
	assert_int_equal(fx->ops->lookup(fx->s, "bob", &got), 0);
	user_record_free(&got);
}

static void test_two_handles(void **state)
{
	struct fixture *fx = *state;
	struct userstore *reader = NULL;
	struct user_record u = rec("bob", "/h", NULL, PERM_ALL, true);
	struct user_record got;
	open_store(fx, true);
	assert_int_equal(fx->ops->open(fx->cfg, false, &reader, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(fx->ops->lookup(reader, "bob", &got), -ENOENT);
	assert_int_equal(fx->ops->add(fx->s, &u), 0);
	assert_int_equal(fx->ops->lookup(reader, "bob", &got), 0);
	user_record_free(&got);
	assert_int_equal(fx->ops->remove(fx->s, "bob"), 0);
	assert_int_equal(fx->ops->lookup(reader, "bob", &got), -ENOENT);
	fx->ops->close(reader);
}

static void test_newer_schema_refused(void **state)
{
	struct fixture *fx = *state;
	open_store(fx, true);
	fx->ops->close(fx->s);
	fx->s = NULL;
	char future[48];
	(void)snprintf(future, sizeof(future), "PRAGMA user_version = %d", STORE_SCHEMA_VERSION + 1);
	raw_exec(fx->cfg->sqlite_path, future);
	assert_int_equal(fx->ops->open(fx->cfg, false, &fx->s, fx->err, sizeof(fx->err)), -EPROTONOSUPPORT);
	assert_null(fx->s);
	assert_non_null(strstr(fx->err, newer_refusal()));
	/* create=true must not "fix" it either. */
	assert_int_equal(fx->ops->open(fx->cfg, true, &fx->s, fx->err, sizeof(fx->err)), -EPROTONOSUPPORT);
}

/* A users.db written by a ferry before one-time passwords (schema 1) is
 * migrated in place: its users stay, the OTP tables appear. */
static void test_migrate_v1(void **state)
{
	struct fixture *fx = *state;
	char text[256];
	raw_exec(fx->cfg->sqlite_path,
		 "CREATE TABLE users(name TEXT PRIMARY KEY NOT NULL, password_hash TEXT NOT NULL, home TEXT NOT NULL, "
		 "account TEXT, perms TEXT NOT NULL, enabled INTEGER NOT NULL DEFAULT 1, created_at INTEGER NOT NULL, "
		 "updated_at INTEGER NOT NULL);"
		 "INSERT INTO users VALUES('old', '$y$j9T$abc$def', '/srv/old', NULL, 'all', 1, 5, 6);"
		 "PRAGMA user_version = 1;");
	open_store(fx, false);
	raw_query_text(fx->cfg->sqlite_path, "PRAGMA user_version", text, sizeof(text));
	assert_string_equal(text, SCHEMA_TEXT);
	int version, found;
	fx->ops->schema(fx->s, &version, &found);
	assert_int_equal(version, STORE_SCHEMA_VERSION);
	assert_int_equal(found, 1);
	struct user_record got;
	assert_int_equal(fx->ops->lookup(fx->s, "old", &got), 0);
	assert_string_equal(got.home, "/srv/old");
	assert_int_equal(got.created_at, 5);
	user_record_free(&got);
	/* The old user takes groups and policies (the newest step). */
	assert_int_equal(policy_group_add(fx->ops, fx->s, "g"), 0);
	const char *g = "g";
	assert_int_equal(policy_groups_set(fx->ops, fx->s, "old", &g, 1), 0);
	assert_int_equal(policy_put(fx->ops, fx->s, POLICY_USER, "old", POLICY_A_MAX_SESSIONS, "", "2"), 0);
	struct otp_state st = { .otp = true, .alg = OTP_SHA1, .seq = 100, .seed = "test", .last = 0x8000000000000001ull };
	assert_int_equal(fx->ops->otp_put(fx->s, "old", &st), 0);
	reopen_store(fx);
	struct otp_state back;
	assert_int_equal(fx->ops->otp_get(fx->s, "old", &back), 0);
	assert_true(back.otp);
	assert_int_equal(back.alg, OTP_SHA1);
	assert_int_equal(back.seq, 100);
	assert_string_equal(back.seed, "test");
	assert_true(back.last == 0x8000000000000001ull);
	otp_state_free(&back);
}

static void test_otp_state(void **state)
{
	struct fixture *fx = *state;
	struct user_record u = rec("bob", "/srv/bob", NULL, PERM_ALL, true);
	struct otp_state st = { .otp = true, .alg = OTP_MD5, .seq = 100, .seed = "test", .last = 42, .reply = 336 };
	struct otp_state got;
	open_store(fx, true);
	assert_int_equal(fx->ops->otp_get(fx->s, "bob", &got), -ENOENT);
	assert_int_equal(fx->ops->otp_put(fx->s, "bob", &st), -ENOENT); /* no such user yet */
	assert_int_equal(fx->ops->add(fx->s, &u), 0);
	assert_int_equal(fx->ops->otp_put(fx->s, "bob", &st), 0);
	/* Compare-and-swap: the first advance wins, a second with the same
	 * old values (a replay, or a racing connection) loses. */
	assert_int_equal(fx->ops->otp_advance(fx->s, "bob", 100, 42, 41), 0);
	assert_int_equal(fx->ops->otp_advance(fx->s, "bob", 100, 42, 41), -ESTALE);
	assert_int_equal(fx->ops->otp_advance(fx->s, "bob", 99, 42, 40), -ESTALE);
	reopen_store(fx);
	assert_int_equal(fx->ops->otp_get(fx->s, "bob", &got), 0);
	assert_int_equal(got.seq, 99);
	assert_true(got.last == 41);
	assert_int_equal(got.reply, 336);
	assert_false(got.static_ok);
	assert_null(got.totp_secret);
	otp_state_free(&got);
	/* TOTP steps only move forward. */
	st = (struct otp_state){ .totp_secret = (char *)"JBSWY3DPEHPK3PXP", .totp_last_step = 10 };
	assert_int_equal(fx->ops->otp_put(fx->s, "bob", &st), 0);
	assert_int_equal(fx->ops->totp_advance(fx->s, "bob", 10), -ESTALE);
	assert_int_equal(fx->ops->totp_advance(fx->s, "bob", 11), 0);
	assert_int_equal(fx->ops->totp_advance(fx->s, "bob", 11), -ESTALE);
	assert_int_equal(fx->ops->otp_get(fx->s, "bob", &got), 0);
	assert_false(got.otp);
	assert_string_equal(got.totp_secret, "JBSWY3DPEHPK3PXP");
	assert_int_equal(got.totp_last_step, 11);
	otp_state_free(&got);
	/* Nothing set: the row goes. Removing the user removes it too. */
	st = (struct otp_state){ 0 };
	assert_int_equal(fx->ops->otp_put(fx->s, "bob", &st), 0);
	assert_int_equal(fx->ops->otp_get(fx->s, "bob", &got), -ENOENT);
	st = (struct otp_state){ .static_ok = true };
	assert_int_equal(fx->ops->otp_put(fx->s, "bob", &st), 0);
	assert_int_equal(fx->ops->remove(fx->s, "bob"), 0);
	assert_int_equal(fx->ops->add(fx->s, &u), 0);
	assert_int_equal(fx->ops->otp_get(fx->s, "bob", &got), -ENOENT);
}

static void test_challenge_locks(void **state)
{
	struct fixture *fx = *state;
	uint8_t a[32], b[32];
	open_store(fx, true);
	/* Any name (made-up challenges lock names that do not exist). */
	assert_int_equal(fx->ops->challenge_lock(fx->s, "ghost", 1, 1000, 1060), 0);
	assert_int_equal(fx->ops->challenge_lock(fx->s, "ghost", 2, 1001, 1061), -EBUSY);
	assert_int_equal(fx->ops->challenge_lock(fx->s, "ghost", 1, 1001, 1061), 0); /* the owner renews */
	assert_int_equal(fx->ops->challenge_unlock(fx->s, "ghost", 2), 0);          /* not 2's: stays */
	assert_int_equal(fx->ops->challenge_lock(fx->s, "ghost", 2, 1002, 1062), -EBUSY);
	assert_int_equal(fx->ops->challenge_unlock(fx->s, "ghost", 1), 0);
	assert_int_equal(fx->ops->challenge_lock(fx->s, "ghost", 2, 1002, 1062), 0);
	/* An expired lock is taken over. */
	assert_int_equal(fx->ops->challenge_lock(fx->s, "ghost", 3, 1063, 1100), 0);
	/* The secret is made once and stays. */
	assert_int_equal(fx->ops->server_secret(fx->s, a, sizeof(a)), 0);
	reopen_store(fx);
	assert_int_equal(fx->ops->server_secret(fx->s, b, sizeof(b)), 0);
	assert_memory_equal(a, b, sizeof(a));
}

static void test_foreign_database_refused(void **state)
{
	struct fixture *fx = *state;
	raw_exec(fx->cfg->sqlite_path, "CREATE TABLE other(x)");
	assert_int_equal(fx->ops->open(fx->cfg, true, &fx->s, fx->err, sizeof(fx->err)), -EINVAL);
	assert_non_null(strstr(fx->err, "not a ferry user database"));
}

static void test_empty_file(void **state)
{
	struct fixture *fx = *state;
	FILE *f = fopen(fx->cfg->sqlite_path, "w");
	assert_non_null(f);
	assert_int_equal(fclose(f), 0);
	/* An empty file is an empty database: only create fills it. */
	assert_int_equal(fx->ops->open(fx->cfg, false, &fx->s, fx->err, sizeof(fx->err)), -ENOENT);
	assert_non_null(strstr(fx->err, "is empty"));
	open_store(fx, true);
}

static void test_not_sqlite(void **state)
{
	struct fixture *fx = *state;
	FILE *f = fopen(fx->cfg->sqlite_path, "w");
	assert_non_null(f);
	assert_true(fputs("this is not an SQLite database, just some text long enough to have a header\n", f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_not_equal(fx->ops->open(fx->cfg, true, &fx->s, fx->err, sizeof(fx->err)), 0);
	assert_null(fx->s);
	assert_non_null(strstr(fx->err, fx->cfg->sqlite_path));
}

static void test_bad_perms_row(void **state)
{
	struct fixture *fx = *state;
	struct user_record u = rec("bob", "/h", NULL, PERM_ALL, true);
	struct user_record got;
	open_store(fx, true);
	assert_int_equal(fx->ops->add(fx->s, &u), 0);
	raw_exec(fx->cfg->sqlite_path, "UPDATE users SET perms = 'read,fly' WHERE name = 'bob'");
	/* A hand-edited value we cannot read fails instead of guessing. */
	assert_int_equal(fx->ops->lookup(fx->s, "bob", &got), -EINVAL);
	/* Operators may write any case and spaces, as perms_parse accepts. */
	raw_exec(fx->cfg->sqlite_path, "UPDATE users SET perms = 'READ, List' WHERE name = 'bob'");
	assert_int_equal(fx->ops->lookup(fx->s, "bob", &got), 0);
	assert_int_equal(got.perms, PERM_READ | PERM_LIST);
	user_record_free(&got);
}

static void test_hostile_names_are_data(void **state)
{
	struct fixture *fx = *state;
	static const char evil[] = "x' OR '1'='1";
	struct user_record u = rec("bob", "/h", NULL, PERM_ALL, true);
	struct user_record got;
	open_store(fx, true);
	assert_int_equal(fx->ops->add(fx->s, &u), 0);
	assert_int_equal(fx->ops->lookup(fx->s, evil, &got), -ENOENT);
	assert_int_equal(fx->ops->remove(fx->s, "bob' --"), -ENOENT);
	u = rec(evil, "/h'; DROP TABLE users; --", NULL, PERM_ALL, true);
	assert_int_equal(fx->ops->add(fx->s, &u), 0);
	assert_int_equal(fx->ops->lookup(fx->s, evil, &got), 0);
	assert_string_equal(got.name, evil);
	assert_string_equal(got.home, "/h'; DROP TABLE users; --");
	user_record_free(&got);
	assert_int_equal(fx->ops->lookup(fx->s, "bob", &got), 0);
	user_record_free(&got);
}

/* ---- principal → user mappings (RFC 2228 GSSAPI logins) ---- */

struct pairs {
	char text[256];
	size_t n;
};

static int pairs_fn(const char *principal, const char *name, void *arg)
{
	struct pairs *p = arg;
	size_t used = strlen(p->text);
	(void)snprintf(p->text + used, sizeof(p->text) - used, "%s=%s;", principal, name);
	p->n++;
	return 0;
}

static void list_pairs(struct fixture *fx, const char *name, const char *want)
{
	struct pairs p = {0};
	assert_int_equal(fx->ops->principal_list(fx->s, name, pairs_fn, &p), 0);
	assert_string_equal(p.text, want);
}

static void test_principals(void **state)
{
	struct fixture *fx = *state;
	struct user_record bob = rec("bob", "/h", NULL, PERM_ALL, true), al = rec("al", "/h", NULL, PERM_ALL, true);
	open_store(fx, true);
	assert_int_equal(fx->ops->add(fx->s, &bob), 0);
	assert_int_equal(fx->ops->add(fx->s, &al), 0);
	assert_int_equal(fx->ops->principal_check(fx->s, "x@R", "bob"), -ENOENT);
	assert_int_equal(fx->ops->principal_add(fx->s, "x@R", "bob"), 0);
	assert_int_equal(fx->ops->principal_add(fx->s, "x@R", "bob"), -EEXIST);
	assert_int_equal(fx->ops->principal_add(fx->s, "x@R", "al"), 0); /* one principal, two users */
	assert_int_equal(fx->ops->principal_add(fx->s, "a/h@R", "bob"), 0);
	assert_int_equal(fx->ops->principal_add(fx->s, "x@R", "nosuch"), -ENOENT);
	assert_int_equal(fx->ops->principal_check(fx->s, "x@R", "bob"), 0);
	assert_int_equal(fx->ops->principal_check(fx->s, "X@R", "bob"), -ENOENT); /* exact match */
	assert_int_equal(fx->ops->principal_check(fx->s, "x@R", "nosuch"), -ENOENT);
	list_pairs(fx, NULL, "x@R=al;a/h@R=bob;x@R=bob;");
	list_pairs(fx, "bob", "a/h@R=bob;x@R=bob;");
	list_pairs(fx, "nosuch", "");
	/* Survives reopening; goes with the user. */
	reopen_store(fx);
	assert_int_equal(fx->ops->principal_remove(fx->s, "x@R", "al"), 0);
	assert_int_equal(fx->ops->principal_remove(fx->s, "x@R", "al"), -ENOENT);
	assert_int_equal(fx->ops->remove(fx->s, "bob"), 0);
	list_pairs(fx, NULL, "");
	assert_int_equal(fx->ops->add(fx->s, &bob), 0);
	assert_int_equal(fx->ops->principal_check(fx->s, "x@R", "bob"), -ENOENT);
}

/* A version 2 database made before principal mappings existed gets the
 * table in step 3 (version 3); one whose principals table a ferry of that
 * time already added (without a version of its own) takes step 3 unharmed,
 * its mappings kept. */
static void test_principals_added_to_old_database(void **state)
{
	struct fixture *fx = *state;
	char text[64];
	struct user_record bob = rec("bob", "/h", NULL, PERM_ALL, true);
	open_store(fx, true);
	assert_int_equal(fx->ops->add(fx->s, &bob), 0);
	assert_int_equal(fx->ops->principal_add(fx->s, "kept@R", "bob"), 0);
	fx->ops->close(fx->s);
	fx->s = NULL;
	raw_exec(fx->cfg->sqlite_path, "PRAGMA user_version = 2");
	open_store(fx, false);
	raw_query_text(fx->cfg->sqlite_path, "PRAGMA user_version", text, sizeof(text));
	assert_string_equal(text, SCHEMA_TEXT);
	assert_int_equal(fx->ops->principal_check(fx->s, "kept@R", "bob"), 0);
	fx->ops->close(fx->s);
	fx->s = NULL;

	raw_exec(fx->cfg->sqlite_path,
		 "DROP TRIGGER principals_user_deleted; DROP TABLE principals; PRAGMA user_version = 2");
	open_store(fx, false);
	raw_query_text(fx->cfg->sqlite_path, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'principals%'", text,
		       sizeof(text));
	assert_string_equal(text, "2");
	raw_query_text(fx->cfg->sqlite_path, "PRAGMA user_version", text, sizeof(text));
	assert_string_equal(text, SCHEMA_TEXT);
	assert_int_equal(fx->ops->principal_add(fx->s, "bob@R", "bob"), 0);
	assert_int_equal(fx->ops->principal_check(fx->s, "bob@R", "bob"), 0);
	/* Opening again has nothing to do. */
	reopen_store(fx);
	int version, found;
	fx->ops->schema(fx->s, &version, &found);
	assert_int_equal(found, STORE_SCHEMA_VERSION);
}

/* sqlite3_sleep() sleeps through the default VFS: this copy of it COMMITs
 * sleep_hook_db (once) before the real sleep, so a test acts at the exact
 * moment the store decides to wait, with no timing involved. */
static sqlite3_vfs *real_vfs;
static sqlite3_vfs hook_vfs;
static sqlite3 *sleep_hook_db; /* COMMITs this on the first sleep */
static int sleep_hook_rc;      /* what that COMMIT returned */
static int sleep_calls;

static int hook_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	sleep_calls++;
	if (sleep_hook_db) {
		sleep_hook_rc = sqlite3_exec(sleep_hook_db, "COMMIT", NULL, NULL, NULL);
		sleep_hook_db = NULL;
	}
	return real_vfs->xSleep(real_vfs, us);
}

/* A file still in rollback-journal mode (new, or an older ferry's) while
 * another ferry holds its write lock (migrating it, or switching it to WAL
 * itself): SQLite fails the switch to WAL at once, without the busy
 * handler, so the store must wait and retry rather than fail the open.
 * (test_concurrent_migration hit this about once in a hundred runs.) */
static void test_wal_switch_waits_for_writer(void **state)
{
	struct fixture *fx = *state;
	char text[64];
	sqlite3 *other = NULL;
	open_store(fx, true);
	fx->ops->close(fx->s);
	fx->s = NULL;
	raw_exec(fx->cfg->sqlite_path, "PRAGMA journal_mode=DELETE");

	real_vfs = sqlite3_vfs_find(NULL);
	assert_non_null(real_vfs);
	hook_vfs = *real_vfs;
	hook_vfs.zName = "ferry-test-sleep-hook";
	hook_vfs.xSleep = hook_sleep;
	assert_int_equal(sqlite3_vfs_register(&hook_vfs, 1), SQLITE_OK);
	sleep_calls = 0;
	sleep_hook_rc = SQLITE_OK;
	assert_int_equal(sqlite3_open(fx->cfg->sqlite_path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	sleep_hook_db = other;
	int r = fx->ops->open(fx->cfg, false, &fx->s, fx->err, sizeof(fx->err));
	if (r)
		print_error("open: %s\n", fx->err);
	int calls = sleep_calls;
	if (sleep_hook_db) /* never slept: release it here */
		assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sleep_hook_db = NULL;
	assert_int_equal(sqlite3_close(other), SQLITE_OK);
	assert_int_equal(sqlite3_vfs_unregister(&hook_vfs), SQLITE_OK);

	assert_int_equal(r, 0);
	assert_true(calls >= 1); /* it did meet the lock and wait */
	assert_int_equal(sleep_hook_rc, SQLITE_OK);
	struct user_record got;
	assert_int_equal(fx->ops->lookup(fx->s, "nobody", &got), -ENOENT);
	raw_query_text(fx->cfg->sqlite_path, "PRAGMA journal_mode", text, sizeof(text));
	assert_string_equal(text, "wal");
}

/* Several ferry processes opening an old database at the same moment (two
 * nodes starting, ferryd and the CLI): BEGIN IMMEDIATE serialises them,
 * each re-reads the version under the lock, all succeed, the users stay. */
static void test_concurrent_migration(void **state)
{
	struct fixture *fx = *state;
	enum { PROCS = 6 };
	pid_t pids[PROCS];
	int pipes[2];
	char text[64];
	raw_exec(fx->cfg->sqlite_path,
		 "CREATE TABLE users(name TEXT PRIMARY KEY NOT NULL, password_hash TEXT NOT NULL, home TEXT NOT NULL, "
		 "account TEXT, perms TEXT NOT NULL, enabled INTEGER NOT NULL DEFAULT 1, created_at INTEGER NOT NULL, "
		 "updated_at INTEGER NOT NULL);"
		 "INSERT INTO users VALUES('old', '$y$j9T$abc$def', '/srv/old', NULL, 'all', 1, 5, 6);"
		 "PRAGMA user_version = 1;");
	assert_int_equal(pipe(pipes), 0);
	for (int i = 0; i < PROCS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			char go;
			struct userstore *s = NULL;
			char err[512];
			(void)close(pipes[1]);
			/* Everyone starts when the parent closes the pipe. */
			if (read(pipes[0], &go, 1) != 0)
				_exit(3);
			int r = fx->ops->open(fx->cfg, 0, &s, err, sizeof(err));
			if (r)
				(void)fprintf(stderr, "child %d: %s\n", i, err);
			struct user_record got;
			if (!r)
				r = fx->ops->lookup(s, "old", &got);
			if (!r)
				user_record_free(&got);
			if (s)
				fx->ops->close(s);
			_exit(r ? 1 : 0);
		}
	}
	(void)close(pipes[0]);
	(void)close(pipes[1]);
	/* Reap them all before judging any: a failed assertion must not leave
	 * children working in a directory the teardown is removing. */
	int status[PROCS] = { 0 };
	for (int i = 0; i < PROCS; i++)
		assert_int_equal(waitpid(pids[i], &status[i], 0), pids[i]);
	for (int i = 0; i < PROCS; i++) {
		assert_true(WIFEXITED(status[i]));
		assert_int_equal(WEXITSTATUS(status[i]), 0);
	}
	raw_query_text(fx->cfg->sqlite_path, "PRAGMA user_version", text, sizeof(text));
	assert_string_equal(text, SCHEMA_TEXT);
	raw_query_text(fx->cfg->sqlite_path, "SELECT count(*) FROM users", text, sizeof(text));
	assert_string_equal(text, "1");
}

/* ---- shared bans (ban_cases.h) ---- */

static void test_bans(void **state)
{
	struct fixture *fx = *state;
	open_store(fx, true);
	ban_cases_run(fx->ops, fx->s);
}

/* ---- groups and policies (policy_cases.h) ---- */

static void test_policies(void **state)
{
	struct fixture *fx = *state;
	open_store(fx, true);
	policy_cases_run(fx->ops, fx->s);
}

static void test_bans_race(void **state)
{
	struct fixture *fx = *state;
	open_store(fx, true);
	ban_cases_race(fx->ops, fx->cfg, 0, fx->s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_missing_without_create, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_missing_directory, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_unset_path, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_schema, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_add_lookup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_perms_stored_canonically, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_add_duplicate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_add_invalid_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_update, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_two_handles, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_v1, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_otp_state, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_challenge_locks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_foreign_database_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_sqlite, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_perms_row, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_names_are_data, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_principals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_principals_added_to_old_database, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wal_switch_waits_for_writer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_migration, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bans, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_policies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bans_race, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
