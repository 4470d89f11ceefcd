/* store_sqlite_keys: the SQLite backend's SSH public keys (table
 * user_keys, created at open by store_sqlite.c). Rare statements (an SFTP
 * publickey login, the CLI), so they are prepared per call. */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>

#include "store_sqlite_impl.h"
#include "util.h"

/* Prepares sql and binds the texts of t (NULL entries: SQL NULL) to ?1...
 * in order. SQLITE_OK, or the failing call's code. */
static int store_key_prepare(struct userstore *s, const char *sql, const char *const *t, int n, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
	for (int i = 0; rc == SQLITE_OK && i < n; i++)
		rc = t[i] ? sqlite3_bind_text(*st, i + 1, t[i], -1, SQLITE_STATIC) : sqlite3_bind_null(*st, i + 1);
	return rc;
}

int store_sqlite_key_add(struct userstore *s, const char *name, const struct user_key *k)
{
	sqlite3_stmt *st = NULL;
	/* The user must exist (SQLite has no foreign key here: a trigger
	 * removes the keys with the user); the fingerprint must be new. */
	const char *t[] = { name, k->fingerprint, k->type, k->blob, k->comment ? k->comment : "" };
	int rc = store_key_prepare(s,
				   "INSERT INTO user_keys(name, fingerprint, type, key, comment, created_at) "
				   "SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS(SELECT 1 FROM users WHERE name = ?1)",
				   t, 5, &st);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 6, k->created_at ? k->created_at : util_wall_s());
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	int r = rc != SQLITE_DONE ? store_sqlite_fail(s, "key add", rc) : sqlite3_changes(s->db) == 0 ? -ENOENT : 0;
	(void)sqlite3_finalize(st);
	return r;
}

int store_sqlite_key_remove(struct userstore *s, const char *name, const char *fingerprint)
{
	sqlite3_stmt *st = NULL;
	const char *t[] = { name, fingerprint };
	int rc = store_key_prepare(s, "DELETE FROM user_keys WHERE name = ?1 AND fingerprint = ?2", t, 2, &st);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	int r = rc != SQLITE_DONE ? store_sqlite_fail(s, "key remove", rc) : sqlite3_changes(s->db) == 0 ? -ENOENT : 0;
	(void)sqlite3_finalize(st);
	return r;
}

int store_sqlite_key_check(struct userstore *s, const char *name, const char *fingerprint, const char *blob)
{
	sqlite3_stmt *st = NULL;
	const char *t[] = { name, fingerprint, blob };
	int rc = store_key_prepare(s, "SELECT 1 FROM user_keys WHERE name = ?1 AND fingerprint = ?2 AND key = ?3", t, 3,
				   &st);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	int r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : store_sqlite_fail(s, "key check", rc);
	(void)sqlite3_finalize(st);
	return r;
}

int store_sqlite_key_list(struct userstore *s, const char *name,
			  int (*fn)(const char *name, const struct user_key *k, void *arg), void *arg)
{
	sqlite3_stmt *st = NULL;
	const char *t[] = { name };
	int r = 0;
	int rc = store_key_prepare(s,
				   "SELECT name, fingerprint, type, key, comment, created_at FROM user_keys "
				   "WHERE ?1 IS NULL OR name = ?1 ORDER BY name, created_at, fingerprint",
				   t, 1, &st);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct user_key k = { 0 };
		char *user = NULL;
		r = store_sqlite_column_dup(st, 0, false, &user);
		if (!r)
			r = store_sqlite_column_dup(st, 1, false, &k.fingerprint);
		if (!r)
			r = store_sqlite_column_dup(st, 2, false, &k.type);
		if (!r)
			r = store_sqlite_column_dup(st, 3, false, &k.blob);
		if (!r)
			r = store_sqlite_column_dup(st, 4, false, &k.comment);
		k.created_at = sqlite3_column_int64(st, 5);
		if (!r)
			r = fn(user, &k, arg);
		free(user);
		user_key_free(&k);
		if (r)
			break;
		rc = SQLITE_OK;
	}
	if (!r && rc != SQLITE_DONE)
		r = store_sqlite_fail(s, "key list", rc);
	(void)sqlite3_finalize(st);
	return r;
}
