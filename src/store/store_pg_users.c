/* store_pg_users: the PostgreSQL backend's users table (created by the
 * migrations in store_pg.c). Fixed SQL with bound parameters: user text
 * never becomes SQL. Names compare byte for byte, as in SQLite, and list in
 * byte order (COLLATE "C"), whatever the database's collation. */
#include <errno.h>
#include <stdlib.h>

#include "log.h"
#include "store_pg_impl.h"
#include "util.h"

#define STORE_PG_COLUMNS "name, password_hash, home, account, perms, enabled, created_at, updated_at"
/* Long enough for every permission name joined by commas. */
#define STORE_PG_PERMS_MAX 64

/* Fills u (owned by the caller afterwards) from row i. */
static int store_pg_row(const struct userstore *s, const PGresult *res, int i, struct user_record *u)
{
	char *perms = NULL;
	int r;

	*u = (struct user_record){ 0 };
	r = store_pg_text(res, i, 0, false, &u->name);
	if (!r)
		r = store_pg_text(res, i, 1, false, &u->password_hash);
	if (!r)
		r = store_pg_text(res, i, 2, false, &u->home);
	if (!r)
		r = store_pg_text(res, i, 3, true, &u->account);
	if (!r)
		r = store_pg_text(res, i, 4, false, &perms);
	if (!r)
		r = store_pg_bool(res, i, 5, &u->enabled);
	if (!r)
		r = store_pg_int8(res, i, 6, &u->created_at);
	if (!r)
		r = store_pg_int8(res, i, 7, &u->updated_at);
	if (r) {
		log_err(0, "%s: the users table does not have the columns this ferry expects", s->where);
		goto fail;
	}
	/* An operator may edit the table by hand: a perms value we cannot read
	 * fails the lookup instead of guessing what was meant. */
	if (perms_parse(perms, &u->perms) != 0) {
		struct log_escaped e1, e2;
		log_err(0, "%s: user '%s' has invalid perms '%s'", s->where, log_esc(slice_from_cstr(u->name), &e1),
			log_esc(slice_from_cstr(perms), &e2));
		r = -EINVAL;
		goto fail;
	}
	free(perms);
	return 0;
fail:
	free(perms);
	user_record_free(u);
	return r;
}

int store_pg_lookup(struct userstore *s, const char *name, struct user_record *out)
{
	struct pg_params p = { 0 };
	PGresult *res;
	pg_param_text(&p, name);
	int r = store_pg_exec(s, "lookup", "SELECT " STORE_PG_COLUMNS " FROM users WHERE name = $1", &p, &res);
	if (r)
		return r;
	r = PQntuples(res) == 0 ? -ENOENT : store_pg_row(s, res, 0, out);
	PQclear(res);
	return r;
}

static bool store_pg_record_valid(const struct user_record *u)
{
	return u && u->name && u->password_hash && u->home;
}

/* $1..$6 in the order of STORE_PG_COLUMNS; perms is the caller's buffer. */
static void store_pg_bind_record(struct pg_params *p, const struct user_record *u, char *perms, size_t permsz)
{
	perms_format(u->perms, perms, permsz);
	pg_param_text(p, u->name);
	pg_param_text(p, u->password_hash);
	pg_param_text(p, u->home);
	pg_param_text(p, u->account);
	pg_param_text(p, perms);
	pg_param_bool(p, u->enabled);
}

/* created_at 0 means "now"; a non-zero value is kept (ferry store copy),
 * and so is updated_at with it. */
int store_pg_add(struct userstore *s, const struct user_record *u)
{
	struct pg_params p = { 0 };
	char perms[STORE_PG_PERMS_MAX];
	int64_t now = util_wall_s();

	if (!store_pg_record_valid(u))
		return -EINVAL;
	store_pg_bind_record(&p, u, perms, sizeof(perms));
	pg_param_int8(&p, u->created_at ? u->created_at : now);
	pg_param_int8(&p, u->created_at && u->updated_at ? u->updated_at : now);
	int r = store_pg_write(s, "add",
			       "INSERT INTO users(" STORE_PG_COLUMNS ") VALUES($1, $2, $3, $4, $5, $6, $7, $8)", &p);
	return r == -ENOENT ? -EIO : r; /* an insert that inserted nothing */
}

int store_pg_remove(struct userstore *s, const char *name)
{
	struct pg_params p = { 0 };
	pg_param_text(&p, name);
	return store_pg_write(s, "remove", "DELETE FROM users WHERE name = $1", &p);
}

int store_pg_update(struct userstore *s, const struct user_record *u)
{
	struct pg_params p = { 0 };
	char perms[STORE_PG_PERMS_MAX];

	if (!store_pg_record_valid(u))
		return -EINVAL;
	store_pg_bind_record(&p, u, perms, sizeof(perms));
	pg_param_int8(&p, util_wall_s());
	return store_pg_write(s, "update",
			      "UPDATE users SET password_hash = $2, home = $3, account = $4, perms = $5, enabled = $6, "
			      "updated_at = $7 WHERE name = $1",
			      &p);
}

int store_pg_password_swap(struct userstore *s, const char *name, const char *old_hash, const char *new_hash)
{
	struct pg_params p = { 0 };
	pg_param_text(&p, name);
	pg_param_text(&p, old_hash);
	pg_param_text(&p, new_hash);
	int r = store_pg_write(s, "password swap",
			       "UPDATE users SET password_hash = $3 WHERE name = $1 AND password_hash = $2", &p);
	return r == -ENOENT ? -ESTALE : r;
}

/* Each record passed to fn is freed when fn returns. Returns 0 after the last
 * row, or the non-zero value fn returned to stop early. */
int store_pg_list(struct userstore *s, int (*fn)(const struct user_record *u, void *arg), void *arg)
{
	PGresult *res;
	int r =
	    store_pg_exec(s, "list", "SELECT " STORE_PG_COLUMNS " FROM users ORDER BY name COLLATE \"C\"", NULL, &res);
	if (r)
		return r;
	for (int i = 0; !r && i < PQntuples(res); i++) {
		struct user_record u;
		r = store_pg_row(s, res, i, &u);
		if (r)
			break;
		r = fn(&u, arg);
		user_record_free(&u);
	}
	PQclear(res);
	return r;
}
