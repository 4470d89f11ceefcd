/* store_pg_policy: the PostgreSQL backend's groups and policies (tables of
 * store_pg.c's migration 5; the SQL is store_policy_sql.h's, shared with
 * SQLite). Every parameter is text. */
#include <errno.h>
#include <stdlib.h>

#include "store_pg_impl.h"

#define POL_P1 "$1"
#define POL_P2 "$2"
#define POL_P3 "$3"
#define POL_P4 "$4"
#define POL_ORDER " COLLATE \"C\""
#include "store_policy_sql.h"

static const char *const store_pg_policy_sql[STORE_POL_COUNT] = { STORE_POLICY_SQL_INIT };

static void store_pg_policy_params(struct pg_params *p, const char *const *args, int n)
{
	for (int i = 0; i < n; i++)
		pg_param_text(p, args[i]);
}

int store_pg_policy_write(struct userstore *s, enum store_policy_sql q, const char *const *args, int n)
{
	struct pg_params p = { 0 };
	store_pg_policy_params(&p, args, n);
	return store_pg_write(s, "policy", store_pg_policy_sql[q], &p);
}

int store_pg_policy_read(struct userstore *s, enum store_policy_sql q, const char *const *args, int n,
			 int (*fn)(const char *const *cols, void *arg), void *arg)
{
	struct pg_params p = { 0 };
	PGresult *res;
	store_pg_policy_params(&p, args, n);
	int r = store_pg_exec(s, "policy read", store_pg_policy_sql[q], &p, &res);
	if (r)
		return r;
	int nc = PQnfields(res);
	for (int i = 0; !r && i < PQntuples(res); i++) {
		char *cols[STORE_POL_MAX_COLS] = { NULL, NULL, NULL };
		for (int c = 0; !r && c < nc && c < STORE_POL_MAX_COLS; c++)
			r = store_pg_text(res, i, c, false, &cols[c]);
		if (!r) {
			const char *view[STORE_POL_MAX_COLS];
			for (int c = 0; c < STORE_POL_MAX_COLS; c++)
				view[c] = cols[c] ? cols[c] : "";
			r = fn(view, arg);
		}
		for (int c = 0; c < STORE_POL_MAX_COLS; c++)
			free(cols[c]);
	}
	PQclear(res);
	return r;
}
