/* Unit tests for store_pg*.c through the userstore_ops interface, against a
 * live PostgreSQL server: FERRY_TEST_PG is a libpq connection string to it
 * whose user may create databases. Without it every test is skipped (exit
 * 77 under meson test); tests/integration/test_store_pg.py runs this
 * program against the private server the integration fixtures start.
 *
 * Each test gets a fresh database (dropped afterwards). libpq is used
 * directly only to inspect or tamper with it, on a connection of its own. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "userstore.h"
#include "store_migrate.h"
#include "ban_cases.h"
#include "policy_cases.h"
#include "schema_text.h"

static const char *base_conninfo;
static unsigned db_counter;

struct fixture {
	char db[64];
	struct config *cfg;
	const struct userstore_ops *ops;
	struct userstore *s;
	PGconn *admin; /* on the test's database */
	char err[1024];
};

/* A connection to base_conninfo with dbname replaced (later keywords win). */
static PGconn *connect_db(const char *db)
{
	char info[1024];
	(void)snprintf(info, sizeof(info), "%s dbname=%s", base_conninfo, db);
	PGconn *c = PQconnectdb(info);
	if (PQstatus(c) != CONNECTION_OK)
		print_error("connect %s: %s\n", db, PQerrorMessage(c));
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	return c;
}

/* Runs sql on c; returns the first column of the first row (or "") in out. */
static void raw(PGconn *c, const char *sql, char *out, size_t outsz)
{
	PGresult *res = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
		print_error("%s: %s\n", sql, PQresultErrorMessage(res));
	assert_true(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK);
	if (out)
		(void)snprintf(out, outsz, "%s", st == PGRES_TUPLES_OK && PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char sql[128];
	if (!fx)
		return -1;
	(void)snprintf(fx->db, sizeof(fx->db), "ferry_unit_%ld_%u", (long)getpid(), db_counter++);
	PGconn *c = connect_db("postgres");
	(void)snprintf(sql, sizeof(sql), "CREATE DATABASE %s", fx->db);
	raw(c, sql, NULL, 0);
	PQfinish(c);
	fx->cfg = config_new_default();
	if (!fx->cfg)
		return -1;
	(void)snprintf(fx->cfg->pg_conninfo, sizeof(fx->cfg->pg_conninfo), "%s dbname=%s", base_conninfo, fx->db);
	(void)snprintf(fx->cfg->store_backend, sizeof(fx->cfg->store_backend), "postgres");
	fx->ops = &store_pg_ops;
	fx->admin = connect_db(fx->db);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char sql[128];
	if (fx->s)
		fx->ops->close(fx->s);
	PQfinish(fx->admin);
	PGconn *c = connect_db("postgres");
	(void)snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", fx->db);
	raw(c, sql, NULL, 0);
	PQfinish(c);
	config_unref(fx->cfg);
	free(fx);
	return 0;
}

static void open_store(struct fixture *fx, unsigned flags)
{
	int r = fx->ops->open(fx->cfg, flags, &fx->s, fx->err, sizeof(fx->err));
	if (r != 0)
		print_error("open: %s\n", fx->err);
	assert_int_equal(r, 0);
	assert_non_null(fx->s);
}

static void reopen_store(struct fixture *fx)
{
	fx->ops->close(fx->s);
	fx->s = NULL;
	open_store(fx, 0);
}

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

/* ---- schema and migrations ---- */

static void test_migrate_fresh_and_again(void **state)
{
	struct fixture *fx = *state;
	char text[128];
	int version, found;
	open_store(fx, USERSTORE_CREATE);
	fx->ops->schema(fx->s, &version, &found);
	assert_int_equal(version, STORE_SCHEMA_VERSION);
	assert_int_equal(found, 0);
	raw(fx->admin, "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_version", text,
	    sizeof(text));
	char all[64] = "1";
	for (int v = 2; v <= STORE_SCHEMA_VERSION; v++)
		(void)snprintf(all + strlen(all), sizeof(all) - strlen(all), ",%d", v);
	assert_string_equal(text, all);
	/* The column names are the same contract as SQLite's. */
	raw(fx->admin,
	    "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns "
	    "WHERE table_name = 'users'",
	    text, sizeof(text));
	assert_string_equal(text, "name,password_hash,home,account,perms,enabled,created_at,updated_at");
	/* Idempotent: opening again (ferryd, ferry, another node) changes nothing. */
	reopen_store(fx);
	fx->ops->schema(fx->s, &version, &found);
	assert_int_equal(found, STORE_SCHEMA_VERSION);
	raw(fx->admin, "SELECT count(*) FROM schema_version", text, sizeof(text));
	assert_string_equal(text, SCHEMA_TEXT);
}

static void test_migrate_from_version_1(void **state)
{
	struct fixture *fx = *state;
	char text[64];
	int version, found;
	raw(fx->admin,
	    "CREATE TABLE schema_version(version bigint PRIMARY KEY, applied_at bigint NOT NULL, ferry text NOT NULL);"
	    "INSERT INTO schema_version VALUES(1, 0, 'old');"
	    "CREATE TABLE users(name text PRIMARY KEY, password_hash text NOT NULL, home text NOT NULL, "
	    "account text, perms text NOT NULL, enabled boolean NOT NULL DEFAULT true, "
	    "created_at bigint NOT NULL, updated_at bigint NOT NULL);"
	    "INSERT INTO users VALUES('old', '$y$j9T$abc$def', '/srv/old', NULL, 'all', true, 5, 6);",
	    NULL, 0);
	open_store(fx, 0);
	fx->ops->schema(fx->s, &version, &found);
	assert_int_equal(found, 1);
	assert_int_equal(version, STORE_SCHEMA_VERSION);
	struct user_record got;
	assert_int_equal(fx->ops->lookup(fx->s, "old", &got), 0);
	assert_int_equal(got.created_at, 5);
	assert_int_equal(got.updated_at, 6);
	user_record_free(&got);
	assert_int_equal(fx->ops->principal_add(fx->s, "old@R", "old"), 0);
	/* The old user takes groups and policies (the newest step). */
	assert_int_equal(policy_group_add(fx->ops, fx->s, "g"), 0);
	const char *g = "g";
	assert_int_equal(policy_groups_set(fx->ops, fx->s, "old", &g, 1), 0);
	assert_int_equal(policy_put(fx->ops, fx->s, POLICY_USER, "old", POLICY_A_MAX_SESSIONS, "", "2"), 0);
	raw(fx->admin, "SELECT max(version) FROM schema_version", text, sizeof(text));
	assert_string_equal(text, SCHEMA_TEXT);
}

/* Two nodes (here six processes) starting at once on an empty database:
 * the advisory lock makes one migrate and the others find it done. */
static void test_concurrent_migration(void **state)
{
	struct fixture *fx = *state;
	enum { PROCS = 6 };
	pid_t pids[PROCS];
	int pipes[2];
	char text[64];
	assert_int_equal(pipe(pipes), 0);
	for (int i = 0; i < PROCS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			char go, err[512];
			struct userstore *s = NULL;
			(void)close(pipes[1]);
			if (read(pipes[0], &go, 1) != 0)
				_exit(3);
			int r = fx->ops->open(fx->cfg, USERSTORE_CREATE, &s, err, sizeof(err));
			if (r)
				(void)fprintf(stderr, "child %d: %s\n", i, err);
			struct user_record u = rec("u", "/h", NULL, PERM_ALL, true);
			char name[8];
			(void)snprintf(name, sizeof(name), "u%d", i);
			u.name = name;
			if (!r)
				r = fx->ops->add(s, &u);
			if (s)
				fx->ops->close(s);
			_exit(r ? 1 : 0);
		}
	}
	(void)close(pipes[0]);
	(void)close(pipes[1]);
	for (int i = 0; i < PROCS; i++) {
		int status = 0;
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	raw(fx->admin, "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_version", text,
	    sizeof(text));
	char all[64] = "1";
	for (int v = 2; v <= STORE_SCHEMA_VERSION; v++)
		(void)snprintf(all + strlen(all), sizeof(all) - strlen(all), ",%d", v);
	assert_string_equal(text, all);
	raw(fx->admin, "SELECT count(*) FROM users", text, sizeof(text));
	assert_string_equal(text, "6");
}

static void test_newer_schema_refused(void **state)
{
	struct fixture *fx = *state;
	struct user_record got;
	open_store(fx, USERSTORE_CREATE);
	fx->ops->close(fx->s);
	fx->s = NULL;
	char future[80];
	(void)snprintf(future, sizeof(future), "INSERT INTO schema_version VALUES(%d, 0, 'future')",
		       STORE_SCHEMA_VERSION + 1);
	raw(fx->admin, future, NULL, 0);
	assert_int_equal(fx->ops->open(fx->cfg, USERSTORE_CREATE, &fx->s, fx->err, sizeof(fx->err)), -EPROTONOSUPPORT);
	assert_null(fx->s);
	assert_non_null(strstr(fx->err, newer_refusal()));
	/* A job thread's lazy handle checks at its first connection. */
	open_store(fx, USERSTORE_LAZY);
	assert_int_equal(fx->ops->lookup(fx->s, "bob", &got), -EPROTONOSUPPORT);
}

static void test_foreign_database_refused(void **state)
{
	struct fixture *fx = *state;
	raw(fx->admin, "CREATE TABLE users(x int)", NULL, 0);
	assert_int_equal(fx->ops->open(fx->cfg, USERSTORE_CREATE, &fx->s, fx->err, sizeof(fx->err)), -EINVAL);
	assert_non_null(strstr(fx->err, "not a ferry user database"));
}

static void test_bad_conninfo(void **state)
{
	struct fixture *fx = *state;
	const char *section = NULL, *key = NULL;
	char why[256];
	(void)snprintf(fx->cfg->pg_conninfo, sizeof(fx->cfg->pg_conninfo), "host=x bogus=1");
	assert_int_equal(fx->ops->open(fx->cfg, 0, &fx->s, fx->err, sizeof(fx->err)), -EINVAL);
	assert_non_null(strstr(fx->err, "bogus"));
	assert_int_not_equal(store_pg_check_config(fx->cfg, &section, &key, why, sizeof(why)), 0);
	assert_string_equal(key, "postgres");
	assert_non_null(strstr(why, "bogus"));
	/* The password never reaches a message. */
	(void)snprintf(fx->cfg->pg_conninfo, sizeof(fx->cfg->pg_conninfo),
		       "host=127.0.0.1 port=1 dbname=d user=u password=s3cret connect_timeout=2");
	fx->ops->where(fx->cfg, why, sizeof(why));
	assert_string_equal(why, "PostgreSQL user store host=127.0.0.1 port=1 dbname=d user=u");
	assert_int_equal(fx->ops->open(fx->cfg, 0, &fx->s, fx->err, sizeof(fx->err)), -EIO);
	assert_null(strstr(fx->err, "s3cret"));
}

/* ---- users ---- */

struct collect {
	char names[8][16];
	size_t n;
};

static int collect_fn(const struct user_record *u, void *arg)
{
	struct collect *c = arg;
	assert_true(c->n < 8);
	(void)snprintf(c->names[c->n], sizeof(c->names[c->n]), "%s", u->name);
	c->n++;
	return 0;
}

static void test_users(void **state)
{
	struct fixture *fx = *state;
	struct user_record u = rec("bob", "/srv/ftp/bob", NULL, PERM_READ | PERM_LIST, true);
	struct user_record got;
	char text[64];
	int64_t before = (int64_t)time(NULL);
	open_store(fx, USERSTORE_CREATE);
	assert_int_equal(fx->ops->add(fx->s, &u), 0);
	assert_int_equal(fx->ops->add(fx->s, &u), -EEXIST);
	assert_int_equal(fx->ops->lookup(fx->s, "bob", &got), 0);
	assert_string_equal(got.home, "/srv/ftp/bob");
	assert_null(got.account);
	assert_int_equal(got.perms, PERM_READ | PERM_LIST);
	assert_true(got.enabled);
	assert_true(got.created_at >= before);
	assert_int_equal(got.created_at, got.updated_at);
	user_record_free(&got);
	raw(fx->admin, "SELECT perms FROM users WHERE name = 'bob'", text, sizeof(text));
	assert_string_equal(text, "read,list");
	assert_int_equal(fx->ops->lookup(fx->s, "Bob", &got), -ENOENT);

	/* Update replaces every field but created_at; copies keep both stamps. */
	u = rec("carol", "/c", "acct-7", PERM_ALL, false);
	u.created_at = 1000;
	u.updated_at = 2000;
	assert_int_equal(fx->ops->add(fx->s, &u), 0);
	assert_int_equal(fx->ops->lookup(fx->s, "carol", &got), 0);
	assert_int_equal(got.updated_at, 2000);
	assert_false(got.enabled);
	assert_string_equal(got.account, "acct-7");
	user_record_free(&got);
	u = rec("carol", "/new", NULL, PERM_WRITE, true);
	assert_int_equal(fx->ops->update(fx->s, &u), 0);
	assert_int_equal(fx->ops->lookup(fx->s, "carol", &got), 0);
	assert_string_equal(got.home, "/new");
	assert_null(got.account);
	assert_int_equal(got.perms, PERM_WRITE);
	assert_int_equal(got.created_at, 1000);
	assert_true(got.updated_at >= before);
	user_record_free(&got);
	u = rec("ghost", "/h", NULL, PERM_ALL, true);
	assert_int_equal(fx->ops->update(fx->s, &u), -ENOENT);

	/* Byte order, whatever the database's collation. */
	static const char *const more[] = { "alice", "Zed", "_x" };
	for (size_t i = 0; i < 3; i++) {
		u = rec(more[i], "/h", NULL, PERM_ALL, true);
		assert_int_equal(fx->ops->add(fx->s, &u), 0);
	}
	struct collect c = { 0 };
	assert_int_equal(fx->ops->list(fx->s, collect_fn, &c), 0);
	assert_int_equal(c.n, 5);
	assert_string_equal(c.names[0], "Zed");
	assert_string_equal(c.names[1], "_x");
	assert_string_equal(c.names[2], "alice");
	assert_string_equal(c.names[3], "bob");
	assert_string_equal(c.names[4], "carol");

	assert_int_equal(fx->ops->remove(fx->s, "bob"), 0);
	assert_int_equal(fx->ops->remove(fx->s, "bob"), -ENOENT);
	assert_int_equal(fx->ops->lookup(fx->s, "bob", &got), -ENOENT);

	/* Hostile text is data; a hand-edited perms value fails the lookup. */
	u = rec("x' OR '1'='1", "/h'; DROP TABLE users; --", NULL, PERM_ALL, true);
	assert_int_equal(fx->ops->add(fx->s, &u), 0);
	assert_int_equal(fx->ops->lookup(fx->s, "x' OR '1'='1", &got), 0);
	assert_string_equal(got.home, "/h'; DROP TABLE users; --");
	user_record_free(&got);
	raw(fx->admin, "UPDATE users SET perms = 'read,fly' WHERE name = 'alice'", NULL, 0);
	assert_int_equal(fx->ops->lookup(fx->s, "alice", &got), -EINVAL);
}

/* ---- one-time passwords, locks, the secret, principals ---- */

static void test_otp_state(void **state)
{
	struct fixture *fx = *state;
	struct user_record u = rec("bob", "/srv/bob", NULL, PERM_ALL, true);
	struct otp_state st = {
		.otp = true, .alg = OTP_SHA1, .seq = 100, .seed = "test", .last = 0x8000000000000001ull, .reply = 336
	};
	struct otp_state got;
	open_store(fx, USERSTORE_CREATE);
	assert_int_equal(fx->ops->otp_get(fx->s, "bob", &got), -ENOENT);
	assert_int_equal(fx->ops->otp_put(fx->s, "bob", &st), -ENOENT); /* no such user yet */
	assert_int_equal(fx->ops->add(fx->s, &u), 0);
	assert_int_equal(fx->ops->otp_put(fx->s, "bob", &st), 0);
	assert_int_equal(fx->ops->otp_get(fx->s, "bob", &got), 0);
	assert_true(got.otp);
	assert_int_equal(got.alg, OTP_SHA1);
	assert_true(got.last == 0x8000000000000001ull); /* all 64 bits */
	otp_state_free(&got);
	assert_int_equal(fx->ops->otp_advance(fx->s, "bob", 100, 0x8000000000000001ull, 41), 0);
	assert_int_equal(fx->ops->otp_advance(fx->s, "bob", 100, 0x8000000000000001ull, 41), -ESTALE);
	assert_int_equal(fx->ops->otp_advance(fx->s, "bob", 99, 42, 40), -ESTALE);
	reopen_store(fx);
	assert_int_equal(fx->ops->otp_get(fx->s, "bob", &got), 0);
	assert_int_equal(got.seq, 99);
	assert_true(got.last == 41);
	assert_int_equal(got.reply, 336);
	assert_false(got.static_ok);
	assert_null(got.totp_secret);
	otp_state_free(&got);
	st = (struct otp_state){ .totp_secret = (char *)"JBSWY3DPEHPK3PXP", .totp_last_step = 10, .static_ok = true };
	assert_int_equal(fx->ops->otp_put(fx->s, "bob", &st), 0);
	assert_int_equal(fx->ops->totp_advance(fx->s, "bob", 10), -ESTALE);
	assert_int_equal(fx->ops->totp_advance(fx->s, "bob", 11), 0);
	assert_int_equal(fx->ops->totp_advance(fx->s, "bob", 11), -ESTALE);
	assert_int_equal(fx->ops->otp_get(fx->s, "bob", &got), 0);
	assert_false(got.otp);
	assert_true(got.static_ok);
	assert_string_equal(got.totp_secret, "JBSWY3DPEHPK3PXP");
	assert_int_equal(got.totp_last_step, 11);
	otp_state_free(&got);
	st = (struct otp_state){ 0 };
	assert_int_equal(fx->ops->otp_put(fx->s, "bob", &st), 0);
	assert_int_equal(fx->ops->otp_get(fx->s, "bob", &got), -ENOENT);
	/* Removing the user removes its settings (foreign key cascade). */
	st = (struct otp_state){ .static_ok = true };
	assert_int_equal(fx->ops->otp_put(fx->s, "bob", &st), 0);
	assert_int_equal(fx->ops->remove(fx->s, "bob"), 0);
	assert_int_equal(fx->ops->add(fx->s, &u), 0);
	assert_int_equal(fx->ops->otp_get(fx->s, "bob", &got), -ENOENT);
}

static void test_challenge_locks_and_secret(void **state)
{
	struct fixture *fx = *state;
	uint8_t a[32], b[32];
	open_store(fx, USERSTORE_CREATE);
	assert_int_equal(fx->ops->challenge_lock(fx->s, "ghost", 1, 1000, 1060), 0);
	assert_int_equal(fx->ops->challenge_lock(fx->s, "ghost", 2, 1001, 1061), -EBUSY);
	assert_int_equal(fx->ops->challenge_lock(fx->s, "ghost", 1, 1001, 1061), 0);
	assert_int_equal(fx->ops->challenge_unlock(fx->s, "ghost", 2), 0);
	assert_int_equal(fx->ops->challenge_lock(fx->s, "ghost", 2, 1002, 1062), -EBUSY);
	assert_int_equal(fx->ops->challenge_unlock(fx->s, "ghost", 1), 0);
	assert_int_equal(fx->ops->challenge_lock(fx->s, "ghost", 2, 1002, 1062), 0);
	assert_int_equal(fx->ops->challenge_lock(fx->s, "ghost", 3, 1063, 1100), 0);
	assert_int_equal(fx->ops->server_secret(fx->s, a, sizeof(a)), 0);
	reopen_store(fx);
	assert_int_equal(fx->ops->server_secret(fx->s, b, sizeof(b)), 0);
	assert_memory_equal(a, b, sizeof(a));
}

struct pairs {
	char text[256];
};

static int pairs_fn(const char *principal, const char *name, void *arg)
{
	struct pairs *p = arg;
	size_t used = strlen(p->text);
	(void)snprintf(p->text + used, sizeof(p->text) - used, "%s=%s;", principal, name);
	return 0;
}

static void test_principals(void **state)
{
	struct fixture *fx = *state;
	struct user_record bob = rec("bob", "/h", NULL, PERM_ALL, true), al = rec("al", "/h", NULL, PERM_ALL, true);
	struct pairs p = { "" };
	open_store(fx, USERSTORE_CREATE);
	assert_int_equal(fx->ops->add(fx->s, &bob), 0);
	assert_int_equal(fx->ops->add(fx->s, &al), 0);
	assert_int_equal(fx->ops->principal_check(fx->s, "x@R", "bob"), -ENOENT);
	assert_int_equal(fx->ops->principal_add(fx->s, "x@R", "bob"), 0);
	assert_int_equal(fx->ops->principal_add(fx->s, "x@R", "bob"), -EEXIST);
	assert_int_equal(fx->ops->principal_add(fx->s, "x@R", "al"), 0);
	assert_int_equal(fx->ops->principal_add(fx->s, "a/h@R", "bob"), 0);
	assert_int_equal(fx->ops->principal_add(fx->s, "x@R", "nosuch"), -ENOENT);
	assert_int_equal(fx->ops->principal_check(fx->s, "x@R", "bob"), 0);
	assert_int_equal(fx->ops->principal_check(fx->s, "X@R", "bob"), -ENOENT);
	assert_int_equal(fx->ops->principal_list(fx->s, NULL, pairs_fn, &p), 0);
	assert_string_equal(p.text, "x@R=al;a/h@R=bob;x@R=bob;");
	p = (struct pairs){ "" };
	assert_int_equal(fx->ops->principal_list(fx->s, "bob", pairs_fn, &p), 0);
	assert_string_equal(p.text, "a/h@R=bob;x@R=bob;");
	assert_int_equal(fx->ops->principal_remove(fx->s, "x@R", "al"), 0);
	assert_int_equal(fx->ops->principal_remove(fx->s, "x@R", "al"), -ENOENT);
	assert_int_equal(fx->ops->remove(fx->s, "bob"), 0);
	p = (struct pairs){ "" };
	assert_int_equal(fx->ops->principal_list(fx->s, NULL, pairs_fn, &p), 0);
	assert_string_equal(p.text, "");
}

static void test_transaction(void **state)
{
	struct fixture *fx = *state;
	struct user_record u = rec("bob", "/h", NULL, PERM_ALL, true), got;
	struct userstore *other = NULL;
	open_store(fx, USERSTORE_CREATE);
	assert_int_equal(fx->ops->open(fx->cfg, 0, &other, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(fx->ops->txn(fx->s, USERSTORE_BEGIN), 0);
	assert_int_equal(fx->ops->add(fx->s, &u), 0);
	assert_int_equal(fx->ops->lookup(other, "bob", &got), -ENOENT); /* not yet visible */
	assert_int_equal(fx->ops->txn(fx->s, USERSTORE_ROLLBACK), 0);
	assert_int_equal(fx->ops->lookup(fx->s, "bob", &got), -ENOENT);
	assert_int_equal(fx->ops->txn(fx->s, USERSTORE_BEGIN), 0);
	assert_int_equal(fx->ops->add(fx->s, &u), 0);
	assert_int_equal(fx->ops->txn(fx->s, USERSTORE_COMMIT), 0);
	assert_int_equal(fx->ops->lookup(other, "bob", &got), 0);
	user_record_free(&got);
	assert_int_equal(fx->ops->txn(fx->s, USERSTORE_COMMIT), -EINVAL); /* none open */
	fx->ops->close(other);
}

/* ---- compare-and-swap under concurrency ---- */

enum { RACE_ROUNDS = 100 };

struct racer {
	struct fixture *fx;
	struct userstore *s;
	pthread_barrier_t *go;
	int won_otp, won_totp, errors;
};

/* Round k: the row holds OTP(100-k) = 1000-k; both threads try to replace
 * it with the next one at the same moment. */
static void *racer_run(void *arg)
{
	struct racer *r = arg;
	for (int k = 0; k < RACE_ROUNDS; k++) {
		(void)pthread_barrier_wait(r->go);
		int a =
		    r->fx->ops->otp_advance(r->s, "bob", 100u - (unsigned)k, 1000u - (unsigned)k, 999u - (unsigned)k);
		int b = r->fx->ops->totp_advance(r->s, "tom", 10 + k);
		r->won_otp += a == 0;
		r->won_totp += b == 0;
		r->errors += (a != 0 && a != -ESTALE) + (b != 0 && b != -ESTALE);
		(void)pthread_barrier_wait(r->go); /* the round is over for both */
	}
	return NULL;
}

static void test_cas_race(void **state)
{
	struct fixture *fx = *state;
	struct user_record bob = rec("bob", "/h", NULL, PERM_ALL, true), tom = rec("tom", "/h", NULL, PERM_ALL, true);
	struct otp_state st = { .otp = true, .alg = OTP_MD5, .seq = 100, .seed = "race", .last = 1000 };
	struct otp_state tt = { .totp_secret = (char *)"JBSWY3DPEHPK3PXP", .totp_last_step = 9 };
	pthread_barrier_t go;
	struct racer r[2] = { { .fx = fx, .go = &go }, { .fx = fx, .go = &go } };
	pthread_t t[2];
	open_store(fx, USERSTORE_CREATE);
	assert_int_equal(fx->ops->add(fx->s, &bob), 0);
	assert_int_equal(fx->ops->add(fx->s, &tom), 0);
	assert_int_equal(fx->ops->otp_put(fx->s, "bob", &st), 0);
	assert_int_equal(fx->ops->otp_put(fx->s, "tom", &tt), 0);
	assert_int_equal(pthread_barrier_init(&go, NULL, 2), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(fx->ops->open(fx->cfg, USERSTORE_LAZY, &r[i].s, fx->err, sizeof(fx->err)), 0);
		assert_int_equal(pthread_create(&t[i], NULL, racer_run, &r[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	(void)pthread_barrier_destroy(&go);
	for (int i = 0; i < 2; i++)
		fx->ops->close(r[i].s);
	/* Every round exactly one of the two won, and nothing failed otherwise. */
	assert_int_equal(r[0].errors + r[1].errors, 0);
	assert_int_equal(r[0].won_otp + r[1].won_otp, RACE_ROUNDS);
	assert_int_equal(r[0].won_totp + r[1].won_totp, RACE_ROUNDS);
	struct otp_state got;
	assert_int_equal(fx->ops->otp_get(fx->s, "bob", &got), 0);
	assert_int_equal(got.seq, 100 - RACE_ROUNDS);
	assert_true(got.last == 1000 - RACE_ROUNDS);
	otp_state_free(&got);
}

/* ---- lost connections ---- */

/* Waits (bounded) until no backend but admin's is connected to the test's
 * database: the terminated ones are gone. */
static void wait_backends_gone(struct fixture *fx)
{
	char sql[256], text[32];
	(void)snprintf(sql, sizeof(sql),
		       "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' AND pid <> pg_backend_pid()",
		       fx->db);
	for (int i = 0; i < 500; i++) {
		raw(fx->admin, sql, text, sizeof(text));
		if (strcmp(text, "0") == 0)
			return;
		(void)usleep(20000);
	}
	fail_msg("backends still connected after 10 s");
}

static void terminate_others(struct fixture *fx)
{
	char sql[256];
	(void)snprintf(sql, sizeof(sql),
		       "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s' AND "
		       "pid <> pg_backend_pid()",
		       fx->db);
	raw(fx->admin, sql, NULL, 0);
	wait_backends_gone(fx);
}

/* The server closed the connection between two calls (restart, killed
 * backend): the next call notices before sending and reconnects. */
static void test_reconnect_between_calls(void **state)
{
	struct fixture *fx = *state;
	struct user_record u = rec("bob", "/h", NULL, PERM_ALL, true), got;
	open_store(fx, USERSTORE_CREATE);
	assert_int_equal(fx->ops->add(fx->s, &u), 0);
	for (int i = 0; i < 3; i++) {
		terminate_others(fx);
		assert_int_equal(fx->ops->lookup(fx->s, "bob", &got), 0);
		user_record_free(&got);
	}
}

struct blocked {
	struct fixture *fx;
	struct userstore *s;
	int r;
};

static void *blocked_lookup(void *arg)
{
	struct blocked *b = arg;
	struct user_record got;
	b->r = b->fx->ops->lookup(b->s, "bob", &got);
	if (b->r == 0)
		user_record_free(&got);
	return NULL;
}

/* The connection breaks while a query runs: that call fails with -EIO (the
 * login gets 421), never a wrong answer, and the next call reconnects. */
static void test_lost_during_a_query(void **state)
{
	struct fixture *fx = *state;
	struct user_record u = rec("bob", "/h", NULL, PERM_ALL, true), got;
	struct blocked b = { .fx = fx };
	char sql[256], text[32];
	pthread_t t;
	/* admin holds the lock in a transaction, whose statistics snapshot
	 * would not change: another connection watches. */
	PGconn *mon = connect_db(fx->db);
	open_store(fx, USERSTORE_CREATE);
	assert_int_equal(fx->ops->add(fx->s, &u), 0);
	assert_int_equal(fx->ops->open(fx->cfg, USERSTORE_LAZY, &b.s, fx->err, sizeof(fx->err)), 0);
	/* The lookup waits on this lock until its backend is terminated. */
	raw(fx->admin, "BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE", NULL, 0);
	assert_int_equal(pthread_create(&t, NULL, blocked_lookup, &b), 0);
	(void)snprintf(sql, sizeof(sql),
		       "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' AND wait_event_type = 'Lock'",
		       fx->db);
	for (int i = 0; i < 500; i++) {
		raw(mon, sql, text, sizeof(text));
		if (strcmp(text, "1") == 0)
			break;
		(void)usleep(20000);
	}
	assert_string_equal(text, "1");
	(void)snprintf(sql, sizeof(sql),
		       "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s' AND "
		       "wait_event_type = 'Lock'",
		       fx->db);
	raw(mon, sql, NULL, 0);
	PQfinish(mon);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(b.r, -EIO);
	raw(fx->admin, "COMMIT", NULL, 0);
	assert_int_equal(fx->ops->lookup(b.s, "bob", &got), 0);
	user_record_free(&got);
	fx->ops->close(b.s);
}

/* A lazy handle to a server that is not there: open succeeds (a job thread
 * starting during an outage), calls fail with -EIO at once. */
static void test_lazy_unreachable(void **state)
{
	struct fixture *fx = *state;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	struct user_record got;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	(void)close(fd); /* nothing listens there now */
	(void)snprintf(fx->cfg->pg_conninfo, sizeof(fx->cfg->pg_conninfo), "host=127.0.0.1 port=%u dbname=x user=y",
		       ntohs(sa.sin_port));
	open_store(fx, USERSTORE_LAZY);
	assert_int_equal(fx->ops->lookup(fx->s, "bob", &got), -EIO);
	assert_int_equal(fx->ops->lookup(fx->s, "bob", &got), -EIO); /* within the backoff */
	/* Without LAZY (the ferry CLI, ferryd's start) it is an error now. */
	struct userstore *direct = NULL;
	assert_int_equal(fx->ops->open(fx->cfg, 0, &direct, fx->err, sizeof(fx->err)), -EIO);
	assert_null(direct);
	assert_non_null(strstr(fx->err, "cannot connect to the PostgreSQL user store host=127.0.0.1"));
}

/* ---- shared bans (ban_cases.h) ---- */

static void test_bans(void **state)
{
	struct fixture *fx = *state;
	open_store(fx, USERSTORE_CREATE);
	ban_cases_run(fx->ops, fx->s);
}

/* ---- groups and policies (policy_cases.h) ---- */

static void test_policies(void **state)
{
	struct fixture *fx = *state;
	open_store(fx, USERSTORE_CREATE);
	policy_cases_run(fx->ops, fx->s);
}

static void test_bans_race(void **state)
{
	struct fixture *fx = *state;
	open_store(fx, USERSTORE_CREATE);
	ban_cases_race(fx->ops, fx->cfg, USERSTORE_LAZY, fx->s);
}

/* LISTEN/NOTIFY: a handle that watches hears of a ban another handle (node)
 * starts or lifts, not of a failure that changes no ban; wake_fd ends a
 * wait. Each wait for news is bounded (it returns as soon as news come). */
static void test_ban_watch(void **state)
{
	struct fixture *fx = *state;
	struct userstore *w = NULL;
	struct ban_rule one = { .failures = 1, .window_ms = 60000, .ban_ms = 10000, .max_ms = 20000 };
	struct ban_rule two = one;
	int64_t until;
	bool started;
	int fds[2];
	two.failures = 2;
	open_store(fx, USERSTORE_CREATE);
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(fx->ops->open(fx->cfg, USERSTORE_LAZY, &w, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(fx->ops->ban_watch(w, fds[0], 0), 1); /* a new connection: read everything */
	assert_int_equal(fx->ops->ban_watch(w, fds[0], 0), 0);
	assert_int_equal(fx->ops->ban_fail(fx->s, "192.0.2.1", &two, 1000, &until, &started), 0);
	assert_false(started);
	assert_int_equal(fx->ops->ban_watch(w, fds[0], 200), 0); /* counted, nobody banned */
	assert_int_equal(fx->ops->ban_fail(fx->s, "192.0.2.2", &one, 1000, &until, &started), 0);
	assert_true(started);
	assert_int_equal(fx->ops->ban_watch(w, fds[0], 10000), 1);
	assert_int_equal(fx->ops->ban_remove(fx->s, "192.0.2.2"), 0);
	assert_int_equal(fx->ops->ban_watch(w, fds[0], 10000), 1);
	assert_int_equal(fx->ops->ban_remove(fx->s, "192.0.2.1"), 0); /* had no ban */
	assert_int_equal(write(fds[1], "x", 1), 1);
	assert_int_equal(fx->ops->ban_watch(w, fds[0], 10000), 0); /* woken, no news */
	fx->ops->close(w);
	(void)close(fds[0]);
	(void)close(fds[1]);
}

int main(void)
{
	base_conninfo = getenv("FERRY_TEST_PG");
	if (!base_conninfo || !base_conninfo[0]) {
		(void)printf("FERRY_TEST_PG is not set: skipped (tests/integration/test_store_pg.py runs these "
			     "against a private PostgreSQL server)\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrate_fresh_and_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_from_version_1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_migration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_database_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_conninfo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_users, setup, teardown),
		cmocka_unit_test_setup_teardown(test_otp_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_challenge_locks_and_secret, setup, teardown),
		cmocka_unit_test_setup_teardown(test_principals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cas_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect_between_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_during_a_query, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lazy_unreachable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bans_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ban_watch, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
