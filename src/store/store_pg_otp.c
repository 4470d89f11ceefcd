/* store_pg_otp: the PostgreSQL backend's one-time password settings (otp),
 * the compare-and-swaps that make each one-time password and TOTP code
 * usable once across every node sharing the database, RFC 2289 §9 challenge
 * locks (otp_locks), the made-up-challenge secret (meta), and Kerberos
 * principal mappings (principals). Tables: store_pg.c's migrations.
 *
 * The compare-and-swaps are single UPDATEs whose WHERE is the compare part:
 * under READ COMMITTED, a second UPDATE of the same row waits for the first
 * to commit and then re-checks its WHERE against the new row, so of two
 * logins (on two nodes) sending the same answer exactly one changes the
 * row; the other changes none and gets -ESTALE. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_pg_impl.h"
#include "str.h"
#include "util.h"

/* Reads row 0 of an otp query into out (a row exists). */
static int store_pg_otp_row(struct userstore *s, const PGresult *res, struct otp_state *out)
{
	char *alg = NULL, *seed = NULL;
	int64_t seq = 0, last = 0, reply = 0;
	int r = store_pg_text(res, 0, 0, true, &alg);
	if (!r)
		r = store_pg_int8(res, 0, 1, &seq);
	if (!r)
		r = store_pg_text(res, 0, 2, true, &seed);
	if (!r)
		r = store_pg_int8(res, 0, 3, &last);
	if (!r)
		r = store_pg_text(res, 0, 4, true, &out->totp_secret);
	if (!r)
		r = store_pg_int8(res, 0, 5, &out->totp_last_step);
	if (!r)
		r = store_pg_int8(res, 0, 6, &reply);
	if (!r)
		r = store_pg_bool(res, 0, 7, &out->static_ok);
	if (r)
		goto done;
	if (alg) {
		/* Hand edits that make no sense fail the lookup rather than
		 * being guessed at. */
		if (otp_alg_parse(slice_from_cstr(alg), &out->alg) != 0 || !seed ||
		    !otp_seed_valid(slice_from_cstr(seed)) || seq < 0 || seq > OTP_COUNT_MAX) {
			r = -EINVAL;
			goto done;
		}
		out->otp = true;
		out->seq = (unsigned)seq;
		(void)str_copy(out->seed, sizeof(out->seed), seed);
		out->last = (uint64_t)last;
	}
	out->reply = reply == 331 || reply == 336 ? (int)reply : 0;
done:
	if (r)
		log_err(0, "%s: invalid one-time password row", s->where);
	free(alg);
	free(seed);
	return r;
}

int store_pg_otp_get(struct userstore *s, const char *name, struct otp_state *out)
{
	struct pg_params p = { 0 };
	PGresult *res;

	*out = (struct otp_state){ 0 };
	pg_param_text(&p, name);
	int r = store_pg_exec(s, "otp lookup",
			      "SELECT alg, seq, seed, last, totp_secret, totp_last_step, reply, static_ok FROM otp "
			      "WHERE name = $1",
			      &p, &res);
	if (r)
		return r;
	r = PQntuples(res) == 0 ? -ENOENT : store_pg_otp_row(s, res, out);
	PQclear(res);
	if (r)
		otp_state_free(out);
	return r;
}

int store_pg_otp_put(struct userstore *s, const char *name, const struct otp_state *o)
{
	struct pg_params p = { 0 };

	pg_param_text(&p, name);
	if (!o->otp && !o->totp_secret && !o->reply && !o->static_ok) {
		int r = store_pg_write(s, "otp remove", "DELETE FROM otp WHERE name = $1", &p);
		return r == -ENOENT ? 0 : r;
	}
	pg_param_text(&p, o->otp ? otp_alg_name(o->alg) : NULL);
	if (o->otp)
		pg_param_int8(&p, o->seq);
	else
		pg_param_text(&p, NULL);
	pg_param_text(&p, o->otp ? o->seed : NULL);
	if (o->otp)
		pg_param_int8(&p, (int64_t)o->last);
	else
		pg_param_text(&p, NULL);
	/* A NULL sent as text into a bigint column: give it the column's type. */
	p.type[2] = p.type[4] = PG_OID_INT8;
	pg_param_text(&p, o->totp_secret);
	pg_param_int8(&p, o->totp_last_step);
	pg_param_int8(&p, o->reply);
	pg_param_bool(&p, o->static_ok);
	/* No such user: no row (-ENOENT), or the foreign key if the user went
	 * meanwhile (also -ENOENT). */
	return store_pg_write(
	    s, "otp update",
	    "INSERT INTO otp(name, alg, seq, seed, last, totp_secret, totp_last_step, reply, "
	    "static_ok) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 WHERE EXISTS(SELECT 1 FROM users "
	    "WHERE name = $1) ON CONFLICT(name) DO UPDATE SET alg = excluded.alg, seq = excluded.seq, "
	    "seed = excluded.seed, last = excluded.last, totp_secret = excluded.totp_secret, "
	    "totp_last_step = excluded.totp_last_step, reply = excluded.reply, "
	    "static_ok = excluded.static_ok",
	    &p);
}

/* A write whose WHERE clause is the compare part of a compare-and-swap:
 * touching no row means someone else changed it first. */
static int store_pg_cas(struct userstore *s, const char *what, const char *sql, const struct pg_params *p)
{
	int r = store_pg_write(s, what, sql, p);
	return r == -ENOENT ? -ESTALE : r;
}

int store_pg_otp_advance(struct userstore *s, const char *name, unsigned seq, uint64_t last, uint64_t next)
{
	struct pg_params p = { 0 };
	pg_param_text(&p, name);
	pg_param_int8(&p, seq);
	pg_param_int8(&p, (int64_t)last);
	pg_param_int8(&p, (int64_t)next);
	return store_pg_cas(s, "otp advance",
			    "UPDATE otp SET seq = $2 - 1, last = $4 WHERE name = $1 AND alg IS NOT NULL AND seq = $2 "
			    "AND last = $3",
			    &p);
}

int store_pg_totp_advance(struct userstore *s, const char *name, int64_t step)
{
	struct pg_params p = { 0 };
	pg_param_text(&p, name);
	pg_param_int8(&p, step);
	return store_pg_cas(s, "totp advance",
			    "UPDATE otp SET totp_last_step = $2 WHERE name = $1 AND totp_secret IS NOT NULL "
			    "AND totp_last_step < $2",
			    &p);
}

int store_pg_challenge_lock(struct userstore *s, const char *name, uint64_t owner, int64_t now, int64_t until)
{
	struct pg_params p = { 0 };
	/* Expired locks of names nobody asks for again would pile up. */
	pg_param_int8(&p, now);
	int r = store_pg_write(s, "lock purge", "DELETE FROM otp_locks WHERE until < $1", &p);
	if (r && r != -ENOENT)
		return r;
	p = (struct pg_params){ 0 };
	pg_param_text(&p, name);
	pg_param_int8(&p, (int64_t)owner);
	pg_param_int8(&p, now);
	pg_param_int8(&p, until);
	r = store_pg_write(s, "lock",
			   "INSERT INTO otp_locks(name, owner, until) VALUES($1, $2, $4) ON CONFLICT(name) DO UPDATE "
			   "SET owner = excluded.owner, until = excluded.until WHERE otp_locks.until < $3 OR "
			   "otp_locks.owner = $2",
			   &p);
	return r == -ENOENT ? -EBUSY : r;
}

int store_pg_challenge_unlock(struct userstore *s, const char *name, uint64_t owner)
{
	struct pg_params p = { 0 };
	pg_param_text(&p, name);
	pg_param_int8(&p, (int64_t)owner);
	int r = store_pg_write(s, "unlock", "DELETE FROM otp_locks WHERE name = $1 AND owner = $2", &p);
	return r == -ENOENT ? 0 : r;
}

/* Reads the secret, making it first if the store has none (ON CONFLICT DO
 * NOTHING: two nodes racing agree on whichever came first). */
int store_pg_server_secret(struct userstore *s, uint8_t *out, size_t n)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		PGresult *res;
		int r = store_pg_exec(s, "secret", "SELECT value FROM meta WHERE key = 'challenge_secret'", NULL, &res);
		if (r)
			return r;
		r = -ENOENT;
		if (PQntuples(res) == 1 && PQftype(res, 0) == PG_OID_BYTEA && (size_t)PQgetlength(res, 0, 0) >= n) {
			memcpy(out, PQgetvalue(res, 0, 0), n);
			r = 0;
		}
		PQclear(res);
		if (r != -ENOENT || attempt == 1)
			return r;
		uint8_t fresh[64];
		if (n > sizeof(fresh) || util_random(fresh, sizeof(fresh)) != 0)
			return -EIO;
		struct pg_params p = { 0 };
		pg_param_bytea(&p, fresh, sizeof(fresh));
		r = store_pg_write(s, "secret",
				   "INSERT INTO meta(key, value) VALUES('challenge_secret', $1) ON CONFLICT DO NOTHING",
				   &p);
		util_wipe(fresh, sizeof(fresh));
		if (r && r != -ENOENT)
			return r;
	}
	return -EIO;
}

/* ---- Kerberos principal -> user pairs ---- */

int store_pg_principal_check(struct userstore *s, const char *principal, const char *name)
{
	struct pg_params p = { 0 };
	PGresult *res;
	pg_param_text(&p, principal);
	pg_param_text(&p, name);
	int r = store_pg_exec(s, "principal check", "SELECT 1 FROM principals WHERE principal = $1 AND name = $2", &p,
			      &res);
	if (r)
		return r;
	r = PQntuples(res) > 0 ? 0 : -ENOENT;
	PQclear(res);
	return r;
}

/* The user must exist (the foreign key: -ENOENT); the pair must be new
 * (the primary key: -EEXIST). */
int store_pg_principal_add(struct userstore *s, const char *principal, const char *name)
{
	struct pg_params p = { 0 };
	pg_param_text(&p, principal);
	pg_param_text(&p, name);
	pg_param_int8(&p, util_wall_s());
	int r = store_pg_write(s, "principal add",
			       "INSERT INTO principals(principal, name, created_at) VALUES($1, $2, $3)", &p);
	return r;
}

int store_pg_principal_remove(struct userstore *s, const char *principal, const char *name)
{
	struct pg_params p = { 0 };
	pg_param_text(&p, principal);
	pg_param_text(&p, name);
	return store_pg_write(s, "principal remove", "DELETE FROM principals WHERE principal = $1 AND name = $2", &p);
}

int store_pg_principal_list(struct userstore *s, const char *name,
			    int (*fn)(const char *principal, const char *name, void *arg), void *arg)
{
	struct pg_params p = { 0 };
	PGresult *res;
	pg_param_text(&p, name);
	int r = store_pg_exec(s, "principal list",
			      "SELECT principal, name FROM principals WHERE $1::text IS NULL OR name = $1 "
			      "ORDER BY name COLLATE \"C\", principal COLLATE \"C\"",
			      &p, &res);
	if (r)
		return r;
	for (int i = 0; !r && i < PQntuples(res); i++)
		r = fn(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), arg);
	PQclear(res);
	return r;
}
