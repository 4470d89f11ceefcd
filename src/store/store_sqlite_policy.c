/* store_sqlite_policy: the SQLite backend's groups and policies (tables of
 * schema 5, created by store_sqlite.c; the SQL is store_policy_sql.h's,
 * shared with PostgreSQL). Every login reads a user's policy and its
 * groups', so a statement is prepared at its first use and kept for the
 * handle's life (store_sqlite_close finalizes it). */
#include <errno.h>
#include <sqlite3.h>

#include "store_sqlite_impl.h"

#define POL_P1 "?1"
#define POL_P2 "?2"
#define POL_P3 "?3"
#define POL_P4 "?4"
#define POL_ORDER ""
#include "store_policy_sql.h"

static const char *const store_sqlite_policy_sql[STORE_POL_COUNT] = { STORE_POLICY_SQL_INIT };

static int store_policy_prepare(struct userstore *s, enum store_policy_sql q, const char *const *args, int n,
				sqlite3_stmt **st)
{
	int rc = SQLITE_OK;
	if (!s->policy_stmt[q])
		rc = sqlite3_prepare_v3(s->db, store_sqlite_policy_sql[q], -1, SQLITE_PREPARE_PERSISTENT,
					&s->policy_stmt[q], NULL);
	*st = s->policy_stmt[q];
	for (int i = 0; rc == SQLITE_OK && i < n; i++)
		rc =
		    args[i] ? sqlite3_bind_text(*st, i + 1, args[i], -1, SQLITE_STATIC) : sqlite3_bind_null(*st, i + 1);
	return rc;
}

int store_sqlite_policy_write(struct userstore *s, enum store_policy_sql q, const char *const *args, int n)
{
	sqlite3_stmt *st = NULL;
	int rc = store_policy_prepare(s, q, args, n, &st);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	int r = rc != SQLITE_DONE ? store_sqlite_fail(s, "policy", rc) : sqlite3_changes(s->db) == 0 ? -ENOENT : 0;
	if (st)
		store_sqlite_stmt_done(st);
	return r;
}

int store_sqlite_policy_read(struct userstore *s, enum store_policy_sql q, const char *const *args, int n,
			     int (*fn)(const char *const *cols, void *arg), void *arg)
{
	sqlite3_stmt *st = NULL;
	int r = 0;
	int rc = store_policy_prepare(s, q, args, n, &st);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *cols[STORE_POL_MAX_COLS] = { "", "", "" };
		int nc = sqlite3_column_count(st);
		for (int i = 0; i < nc && i < STORE_POL_MAX_COLS; i++) {
			const char *t = (const char *)sqlite3_column_text(st, i);
			cols[i] = t ? t : "";
		}
		r = fn(cols, arg);
		if (r)
			break;
		rc = SQLITE_OK;
	}
	if (!r && rc != SQLITE_DONE)
		r = store_sqlite_fail(s, "policy read", rc);
	if (st)
		store_sqlite_stmt_done(st);
	return r;
}
