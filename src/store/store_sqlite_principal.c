/* store_sqlite_principal: the SQLite backend's Kerberos principal -> user
 * mappings (table principals, created at open by store_sqlite.c). Rare
 * statements (a GSSAPI login, the CLI), so they are prepared per call. */
#include <errno.h>
#include <sqlite3.h>

#include "store_sqlite_impl.h"
#include "util.h"

/* Runs sql with ?1 = a, ?2 = b (if not NULL), ?3 = now (if stamp). A query
 * (row_means_ok): 0 if it returned a row, -ENOENT if none. A write: 0, or
 * -ENOENT if it changed nothing. */
static int store_principal_run(struct userstore *s, const char *sql, const char *a, const char *b, bool stamp,
			       bool row_means_ok, const char *what)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK && b)
		rc = sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK && stamp)
		rc = sqlite3_bind_int64(st, 3, util_wall_s());
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	int r;
	if (row_means_ok)
		r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : store_sqlite_fail(s, what, rc);
	else
		r = rc != SQLITE_DONE ? store_sqlite_fail(s, what, rc) : sqlite3_changes(s->db) == 0 ? -ENOENT : 0;
	(void)sqlite3_finalize(st);
	return r;
}

int store_sqlite_principal_check(struct userstore *s, const char *principal, const char *name)
{
	return store_principal_run(s, "SELECT 1 FROM principals WHERE principal = ?1 AND user = ?2", principal, name,
				   false, true, "principal check");
}

int store_sqlite_principal_add(struct userstore *s, const char *principal, const char *name)
{
	/* The user must exist; the pair must be new (-EEXIST). */
	int r = store_principal_run(s, "SELECT 1 FROM users WHERE name = ?1", name, NULL, false, true, "principal add");
	if (r == 0)
		r = store_principal_run(s, "INSERT INTO principals(principal, user, created_at) VALUES(?1, ?2, ?3)",
					principal, name, true, false, "principal add");
	return r;
}

int store_sqlite_principal_remove(struct userstore *s, const char *principal, const char *name)
{
	return store_principal_run(s, "DELETE FROM principals WHERE principal = ?1 AND user = ?2", principal, name,
				   false, false, "principal remove");
}

int store_sqlite_principal_list(struct userstore *s, const char *name,
				int (*fn)(const char *principal, const char *name, void *arg), void *arg)
{
	sqlite3_stmt *st = NULL;
	int r = 0;
	int rc = sqlite3_prepare_v2(s->db,
				    "SELECT principal, user FROM principals WHERE ?1 IS NULL OR user = ?1 "
				    "ORDER BY user, principal",
				    -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = name ? sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 1);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *pr = (const char *)sqlite3_column_text(st, 0);
		const char *us = (const char *)sqlite3_column_text(st, 1);
		r = fn(pr ? pr : "", us ? us : "", arg);
		if (r)
			break;
		rc = SQLITE_OK;
	}
	if (!r && rc != SQLITE_DONE)
		r = store_sqlite_fail(s, "principal list", rc);
	(void)sqlite3_finalize(st);
	return r;
}
