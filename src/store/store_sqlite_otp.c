/* store_sqlite_otp: the SQLite backend's one-time password statements:
 * RFC 2289 / TOTP settings (table otp), the compare-and-swaps that make each
 * one-time password usable once, RFC 2289 §9 challenge locks (otp_locks) and
 * the made-up-challenge secret (meta). The tables are created with the
 * schema in store_sqlite.c; the statements are prepared there, at open. */
#include <errno.h>
#include <sqlite3.h>
#include <string.h>

#include "log.h"
#include "store_sqlite_impl.h"
#include "str.h"
#include "util.h"

/* Fixed text with bound parameters, like the user statements. */
const char *const store_sqlite_otp_sql[STMT_OTP_COUNT] = {
	[STMT_OTP_GET] = "SELECT alg, seq, seed, last, totp_secret, totp_last_step, reply, static_ok FROM otp "
			 "WHERE name = ?1",
	[STMT_OTP_PUT] =
	    "INSERT OR REPLACE INTO otp(name, alg, seq, seed, last, totp_secret, totp_last_step, reply, "
	    "static_ok) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 WHERE EXISTS(SELECT 1 FROM users WHERE name = ?1)",
	[STMT_OTP_DELETE] = "DELETE FROM otp WHERE name = ?1",
	/* The compare-and-swap that makes each OTP usable once, even by two
	 * connections (or servers) that verified it at the same moment. */
	[STMT_OTP_ADVANCE] = "UPDATE otp SET seq = ?2 - 1, last = ?4 WHERE name = ?1 AND alg IS NOT NULL AND seq = ?2 "
			     "AND last = ?3",
	[STMT_TOTP_ADVANCE] = "UPDATE otp SET totp_last_step = ?2 WHERE name = ?1 AND totp_secret IS NOT NULL "
			      "AND totp_last_step < ?2",
	[STMT_LOCK_PURGE] = "DELETE FROM otp_locks WHERE until < ?1",
	[STMT_LOCK] =
	    "INSERT INTO otp_locks(name, owner, until) VALUES(?1, ?2, ?4) ON CONFLICT(name) DO UPDATE SET "
	    "owner = excluded.owner, until = excluded.until WHERE otp_locks.until < ?3 OR otp_locks.owner = ?2",
	[STMT_UNLOCK] = "DELETE FROM otp_locks WHERE name = ?1 AND owner = ?2",
	[STMT_SECRET_GET] = "SELECT value FROM meta WHERE key = 'challenge_secret'",
	[STMT_SECRET_PUT] = "INSERT OR IGNORE INTO meta(key, value) VALUES('challenge_secret', ?1)",
};

int store_sqlite_otp_get(struct userstore *s, const char *name, struct otp_state *out)
{
	sqlite3_stmt *st = s->otp_stmt[STMT_OTP_GET];
	int r = 0;

	*out = (struct otp_state){ 0 };
	int rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else if (rc != SQLITE_ROW) {
		r = store_sqlite_fail(s, "otp lookup", rc);
	} else {
		const char *alg = (const char *)sqlite3_column_text(st, 0);
		const char *seed = (const char *)sqlite3_column_text(st, 2);
		int64_t seq = sqlite3_column_int64(st, 1);
		if (alg) {
			/* Hand edits that make no sense fail the lookup rather
			 * than being guessed at. */
			if (otp_alg_parse(slice_from_cstr(alg), &out->alg) != 0 || !seed ||
			    !otp_seed_valid(slice_from_cstr(seed)) || seq < 0 || seq > OTP_COUNT_MAX) {
				log_err(0, "user database %s: invalid one-time password row", s->path);
				r = -EINVAL;
				goto done;
			}
			out->otp = true;
			out->seq = (unsigned)seq;
			(void)str_copy(out->seed, sizeof(out->seed), seed);
			out->last = (uint64_t)sqlite3_column_int64(st, 3);
		}
		r = store_sqlite_column_dup(st, 4, true, &out->totp_secret);
		out->totp_last_step = sqlite3_column_int64(st, 5);
		int64_t reply = sqlite3_column_int64(st, 6);
		out->reply = reply == 331 || reply == 336 ? (int)reply : 0;
		out->static_ok = sqlite3_column_int64(st, 7) != 0;
	}
done:
	store_sqlite_stmt_done(st);
	if (r)
		otp_state_free(out);
	return r;
}

int store_sqlite_otp_put(struct userstore *s, const char *name, const struct otp_state *o)
{
	sqlite3_stmt *st;
	int rc;

	if (!o->otp && !o->totp_secret && !o->reply && !o->static_ok) {
		st = s->otp_stmt[STMT_OTP_DELETE];
		int r = store_sqlite_write(s, st, "otp remove", sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC));
		return r == -ENOENT ? 0 : r;
	}
	st = s->otp_stmt[STMT_OTP_PUT];
	rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = o->otp ? sqlite3_bind_text(st, 2, otp_alg_name(o->alg), -1, SQLITE_STATIC)
			    : sqlite3_bind_null(st, 2);
	if (rc == SQLITE_OK)
		rc = o->otp ? sqlite3_bind_int64(st, 3, o->seq) : sqlite3_bind_null(st, 3);
	if (rc == SQLITE_OK)
		rc = o->otp ? sqlite3_bind_text(st, 4, o->seed, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 4);
	if (rc == SQLITE_OK)
		rc = o->otp ? sqlite3_bind_int64(st, 5, (int64_t)o->last) : sqlite3_bind_null(st, 5);
	if (rc == SQLITE_OK)
		rc = o->totp_secret ? sqlite3_bind_text(st, 6, o->totp_secret, -1, SQLITE_STATIC)
				    : sqlite3_bind_null(st, 6);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 7, o->totp_last_step);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(st, 8, o->reply);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(st, 9, o->static_ok ? 1 : 0);
	return store_sqlite_write(s, st, "otp update", rc);
}

/* A write whose WHERE clause is the compare part of a compare-and-swap:
 * touching no row means someone else changed it first. */
static int store_cas(struct userstore *s, sqlite3_stmt *st, const char *what, int rc)
{
	int r = store_sqlite_write(s, st, what, rc);
	return r == -ENOENT ? -ESTALE : r;
}

int store_sqlite_otp_advance(struct userstore *s, const char *name, unsigned seq, uint64_t last, uint64_t next)
{
	sqlite3_stmt *st = s->otp_stmt[STMT_OTP_ADVANCE];
	int rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, seq);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 3, (int64_t)last);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 4, (int64_t)next);
	return store_cas(s, st, "otp advance", rc);
}

int store_sqlite_totp_advance(struct userstore *s, const char *name, int64_t step)
{
	sqlite3_stmt *st = s->otp_stmt[STMT_TOTP_ADVANCE];
	int rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, step);
	return store_cas(s, st, "totp advance", rc);
}

int store_sqlite_challenge_lock(struct userstore *s, const char *name, uint64_t owner, int64_t now, int64_t until)
{
	sqlite3_stmt *st = s->otp_stmt[STMT_LOCK_PURGE];
	/* Expired locks of names nobody asks for again would pile up. */
	int r = store_sqlite_write(s, st, "lock purge", sqlite3_bind_int64(st, 1, now));
	if (r && r != -ENOENT)
		return r;
	st = s->otp_stmt[STMT_LOCK];
	int rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, (int64_t)owner);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 3, now);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 4, until);
	r = store_sqlite_write(s, st, "lock", rc);
	return r == -ENOENT ? -EBUSY : r;
}

int store_sqlite_challenge_unlock(struct userstore *s, const char *name, uint64_t owner)
{
	sqlite3_stmt *st = s->otp_stmt[STMT_UNLOCK];
	int rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, (int64_t)owner);
	int r = store_sqlite_write(s, st, "unlock", rc);
	return r == -ENOENT ? 0 : r;
}

/* Reads the secret, making it first if the store has none (INSERT OR
 * IGNORE: two servers racing agree on whichever came first). */
int store_sqlite_server_secret(struct userstore *s, uint8_t *out, size_t n)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		sqlite3_stmt *st = s->otp_stmt[STMT_SECRET_GET];
		int r = -ENOENT;
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW && (size_t)sqlite3_column_bytes(st, 0) >= n) {
			memcpy(out, sqlite3_column_blob(st, 0), n);
			r = 0;
		} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			r = store_sqlite_fail(s, "secret", rc);
		}
		store_sqlite_stmt_done(st);
		if (r != -ENOENT || attempt == 1)
			return r;
		uint8_t fresh[64];
		if (n > sizeof(fresh) || util_random(fresh, sizeof(fresh)) != 0)
			return -EIO;
		st = s->otp_stmt[STMT_SECRET_PUT];
		r = store_sqlite_write(s, st, "secret",
				       sqlite3_bind_blob(st, 1, fresh, (int)sizeof(fresh), SQLITE_TRANSIENT));
		util_wipe(fresh, sizeof(fresh));
		if (r && r != -ENOENT)
			return r;
	}
	return -EIO;
}
