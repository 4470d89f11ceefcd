/* store_pg_keys: the PostgreSQL backend's SSH public keys (table
 * user_keys, created by the migrations in store_pg.c). The foreign key
 * removes a user's keys with the user and refuses a key for a user that
 * does not exist (-ENOENT); the primary key refuses a second key of the
 * same fingerprint (-EEXIST). */
#include <errno.h>
#include <stdlib.h>

#include "store_pg_impl.h"
#include "util.h"

int store_pg_key_add(struct userstore *s, const char *name, const struct user_key *k)
{
	struct pg_params p = { 0 };
	pg_param_text(&p, name);
	pg_param_text(&p, k->fingerprint);
	pg_param_text(&p, k->type);
	pg_param_text(&p, k->blob);
	pg_param_text(&p, k->comment ? k->comment : "");
	pg_param_int8(&p, k->created_at ? k->created_at : util_wall_s());
	return store_pg_write(s, "key add",
			      "INSERT INTO user_keys(name, fingerprint, type, key, comment, created_at) "
			      "VALUES($1, $2, $3, $4, $5, $6)",
			      &p);
}

int store_pg_key_remove(struct userstore *s, const char *name, const char *fingerprint)
{
	struct pg_params p = { 0 };
	pg_param_text(&p, name);
	pg_param_text(&p, fingerprint);
	return store_pg_write(s, "key remove", "DELETE FROM user_keys WHERE name = $1 AND fingerprint = $2", &p);
}

int store_pg_key_check(struct userstore *s, const char *name, const char *fingerprint, const char *blob)
{
	struct pg_params p = { 0 };
	PGresult *res;
	pg_param_text(&p, name);
	pg_param_text(&p, fingerprint);
	pg_param_text(&p, blob);
	int r = store_pg_exec(s, "key check",
			      "SELECT 1 FROM user_keys WHERE name = $1 AND fingerprint = $2 AND key = $3", &p, &res);
	if (r)
		return r;
	r = PQntuples(res) > 0 ? 0 : -ENOENT;
	PQclear(res);
	return r;
}

int store_pg_key_list(struct userstore *s, const char *name,
		      int (*fn)(const char *name, const struct user_key *k, void *arg), void *arg)
{
	struct pg_params p = { 0 };
	PGresult *res;
	pg_param_text(&p, name);
	int r = store_pg_exec(s, "key list",
			      "SELECT name, fingerprint, type, key, comment, created_at FROM user_keys "
			      "WHERE $1::text IS NULL OR name = $1 "
			      "ORDER BY name COLLATE \"C\", created_at, fingerprint COLLATE \"C\"",
			      &p, &res);
	if (r)
		return r;
	for (int i = 0; !r && i < PQntuples(res); i++) {
		struct user_key k = { 0 };
		char *user = NULL;
		r = store_pg_text(res, i, 0, false, &user);
		if (!r)
			r = store_pg_text(res, i, 1, false, &k.fingerprint);
		if (!r)
			r = store_pg_text(res, i, 2, false, &k.type);
		if (!r)
			r = store_pg_text(res, i, 3, false, &k.blob);
		if (!r)
			r = store_pg_text(res, i, 4, false, &k.comment);
		if (!r)
			r = store_pg_int8(res, i, 5, &k.created_at);
		if (!r)
			r = fn(user, &k, arg);
		free(user);
		user_key_free(&k);
	}
	PQclear(res);
	return r;
}
