/* store_sqlite_bans: the SQLite backend's shared failed-login counts and
 * bans (table bans, created by store_sqlite.c's schema; the SQL is
 * store_bans_sql.h's, shared with PostgreSQL). Several ferryd on one
 * machine may share the file: each statement runs under SQLite's write
 * lock, so their failures add up. Statements are prepared per call: a
 * failed login, a poll every half second, the CLI. */
#include <errno.h>
#include <sqlite3.h>

#include "store_sqlite_impl.h"

#define BAN_P1 "?1"
#define BAN_P2 "?2"
#define BAN_P3 "?3"
#define BAN_P4 "?4"
#define BAN_P5 "?5"
#define BAN_P6 "?6"
#define BAN_MIN "min"
#define BAN_SHIFT_OPEN ""
#define BAN_SHIFT_CLOSE ""
#include "store_bans_sql.h"

/* Prepares sql and binds the int64 parameters after an optional text ?1. */
static int store_ban_prepare(struct userstore *s, const char *sql, const char *text, const int64_t *v, int nv,
			     sqlite3_stmt **st)
{
	int first = text ? 2 : 1;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
	if (rc == SQLITE_OK && text)
		rc = sqlite3_bind_text(*st, 1, text, -1, SQLITE_STATIC);
	for (int i = 0; rc == SQLITE_OK && i < nv; i++)
		rc = sqlite3_bind_int64(*st, first + i, v[i]);
	return rc;
}

int store_sqlite_ban_fail(struct userstore *s, const char *address, const struct ban_rule *rule, int64_t now_ms,
			  int64_t *until, bool *started)
{
	static const char sql[] = STORE_BAN_FAIL_SQL;
	const int64_t v[] = { now_ms, rule->window_ms, rule->failures, rule->ban_ms, rule->max_ms };
	sqlite3_stmt *st = NULL;
	int r = 0;

	*until = 0;
	*started = false;
	int rc = store_ban_prepare(s, sql, address, v, 5, &st);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*started = sqlite3_column_int64(st, 0) == 0;
		*until = sqlite3_column_int64(st, 1);
		rc = sqlite3_step(st); /* RETURNING's statement is done after its row */
	}
	if (rc != SQLITE_DONE)
		r = store_sqlite_fail(s, "ban count", rc);
	(void)sqlite3_finalize(st);
	return r;
}

int store_sqlite_ban_list(struct userstore *s, int64_t now_ms, int (*fn)(const char *address, int64_t until, void *arg),
			  void *arg)
{
	sqlite3_stmt *st = NULL;
	int r = 0;
	int rc = store_ban_prepare(s, STORE_BAN_LIST_SQL, NULL, &now_ms, 1, &st);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *a = (const char *)sqlite3_column_text(st, 0);
		r = fn(a ? a : "", sqlite3_column_int64(st, 1), arg);
		if (r)
			break;
		rc = SQLITE_OK;
	}
	if (!r && rc != SQLITE_DONE)
		r = store_sqlite_fail(s, "ban list", rc);
	(void)sqlite3_finalize(st);
	return r;
}

int store_sqlite_ban_remove(struct userstore *s, const char *address)
{
	sqlite3_stmt *st = NULL;
	int rc = store_ban_prepare(s, STORE_BAN_REMOVE_SQL, address, NULL, 0, &st);
	int r = store_sqlite_write(s, st, "ban remove", rc);
	(void)sqlite3_finalize(st);
	return r;
}

int store_sqlite_ban_rows(struct userstore *s, int (*fn)(const struct ban_row *row, void *arg), void *arg)
{
	sqlite3_stmt *st = NULL;
	int r = 0;
	int rc = store_ban_prepare(s, STORE_BAN_ROWS_SQL, NULL, NULL, 0, &st);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *a = (const char *)sqlite3_column_text(st, 0);
		struct ban_row row = { .address = a ? a : "",
				       .failures = sqlite3_column_int64(st, 1),
				       .window_start = sqlite3_column_int64(st, 2),
				       .banned_until = sqlite3_column_int64(st, 3),
				       .offences = sqlite3_column_int64(st, 4),
				       .updated_at = sqlite3_column_int64(st, 5) };
		r = fn(&row, arg);
		if (r)
			break;
		rc = SQLITE_OK;
	}
	if (!r && rc != SQLITE_DONE)
		r = store_sqlite_fail(s, "ban rows", rc);
	(void)sqlite3_finalize(st);
	return r;
}

int store_sqlite_ban_put(struct userstore *s, const struct ban_row *row)
{
	const int64_t v[] = { row->failures, row->window_start, row->banned_until, row->offences, row->updated_at };
	sqlite3_stmt *st = NULL;
	int rc = store_ban_prepare(s, STORE_BAN_PUT_SQL, row->address, v, 5, &st);
	int r = store_sqlite_write(s, st, "ban put", rc);
	(void)sqlite3_finalize(st);
	return r;
}

int store_sqlite_ban_purge(struct userstore *s, const struct ban_rule *rule, int64_t now_ms)
{
	const int64_t v[] = { now_ms, rule->max_ms, rule->window_ms };
	sqlite3_stmt *st = NULL;
	int rc = store_ban_prepare(s, STORE_BAN_PURGE_SQL, NULL, v, 3, &st);
	int r = store_sqlite_write(s, st, "ban purge", rc);
	(void)sqlite3_finalize(st);
	return r == -ENOENT ? 0 : r;
}
