/* store_sqlite_impl: what the SQLite backend's files share: the handle and
 * its statement slots, and the functions each file offers the others. Calls
 * go one way, top to bottom: store_sqlite.c (open, schema, users, the ops
 * table) -> store_sqlite_otp.c, store_sqlite_principal.c,
 * store_sqlite_keys.c, store_sqlite_bans.c (the rest of store_sqlite_ops) -> store_sqlite_db.c
 * (statement helpers). Nothing
 * outside the backend may include it. */
#ifndef FERRY_STORE_SQLITE_IMPL_H
#define FERRY_STORE_SQLITE_IMPL_H

#include <limits.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "userstore.h"

/* User statements (SQL in store_sqlite.c). */
enum store_stmt { STMT_LOOKUP, STMT_INSERT, STMT_DELETE, STMT_UPDATE, STMT_LIST, STMT_COUNT };

/* One-time password statements (SQL in store_sqlite_otp.c). */
enum store_otp_stmt {
	STMT_OTP_GET,
	STMT_OTP_PUT,
	STMT_OTP_DELETE,
	STMT_OTP_ADVANCE,
	STMT_TOTP_ADVANCE,
	STMT_LOCK_PURGE,
	STMT_LOCK,
	STMT_UNLOCK,
	STMT_SECRET_GET,
	STMT_SECRET_PUT,
	STMT_OTP_COUNT
};
extern const char *const store_sqlite_otp_sql[STMT_OTP_COUNT];

/* Every fixed statement is prepared once at open and kept for the handle's
 * life; store_sqlite_close finalizes them. */
struct userstore {
	sqlite3 *db;
	sqlite3_stmt *stmt[STMT_COUNT];
	sqlite3_stmt *otp_stmt[STMT_OTP_COUNT];
	sqlite3_stmt *policy_stmt[STORE_POL_COUNT]; /* prepared at first use (store_sqlite_policy.c) */
	char path[PATH_MAX];
	int found_version; /* the schema version open found (store_migrate) */
};

/* store_sqlite_db.c: the statement helpers. */
/* Maps an SQLite result code to -errno (-EEXIST only for a primary key). */
int store_sqlite_errno(const struct userstore *s, int rc);
/* Logs SQLite's message about what and returns store_sqlite_errno. */
int store_sqlite_fail(const struct userstore *s, const char *what, int rc);
/* Resets and unbinds a reused statement. */
void store_sqlite_stmt_done(sqlite3_stmt *st);
/* Steps a bound write statement (rc: the binding's result) and resets it;
 * -ENOENT when it changed no row. */
int store_sqlite_write(struct userstore *s, sqlite3_stmt *st, const char *what, int rc);
/* Copies text column i into *out (malloc'd; NULL for SQL NULL if nullable). */
int store_sqlite_column_dup(sqlite3_stmt *st, int i, bool nullable, char **out);

/* store_sqlite_otp.c: the userstore_ops of the same names (userstore.h). */
int store_sqlite_otp_get(struct userstore *s, const char *name, struct otp_state *out);
int store_sqlite_otp_put(struct userstore *s, const char *name, const struct otp_state *o);
int store_sqlite_otp_advance(struct userstore *s, const char *name, unsigned seq, uint64_t last, uint64_t next);
int store_sqlite_totp_advance(struct userstore *s, const char *name, int64_t step);
int store_sqlite_challenge_lock(struct userstore *s, const char *name, uint64_t owner, int64_t now, int64_t until);
int store_sqlite_challenge_unlock(struct userstore *s, const char *name, uint64_t owner);
int store_sqlite_server_secret(struct userstore *s, uint8_t *out, size_t n);

/* store_sqlite_principal.c: the userstore_ops of the same names. */
int store_sqlite_principal_check(struct userstore *s, const char *principal, const char *name);
int store_sqlite_principal_add(struct userstore *s, const char *principal, const char *name);
int store_sqlite_principal_remove(struct userstore *s, const char *principal, const char *name);
int store_sqlite_principal_list(struct userstore *s, const char *name,
				int (*fn)(const char *principal, const char *name, void *arg), void *arg);

/* store_sqlite_keys.c: the userstore_ops of the same names. */
int store_sqlite_key_add(struct userstore *s, const char *name, const struct user_key *k);
int store_sqlite_key_remove(struct userstore *s, const char *name, const char *fingerprint);
int store_sqlite_key_list(struct userstore *s, const char *name,
			  int (*fn)(const char *name, const struct user_key *k, void *arg), void *arg);
int store_sqlite_key_check(struct userstore *s, const char *name, const char *fingerprint, const char *blob);

/* store_sqlite_bans.c: the userstore_ops of the same names. */
int store_sqlite_ban_fail(struct userstore *s, const char *address, const struct ban_rule *rule, int64_t now_ms,
			  int64_t *until, bool *started);
int store_sqlite_ban_list(struct userstore *s, int64_t now_ms, int (*fn)(const char *address, int64_t until, void *arg),
			  void *arg);
int store_sqlite_ban_remove(struct userstore *s, const char *address);
int store_sqlite_ban_rows(struct userstore *s, int (*fn)(const struct ban_row *row, void *arg), void *arg);
int store_sqlite_ban_put(struct userstore *s, const struct ban_row *row);
int store_sqlite_ban_purge(struct userstore *s, const struct ban_rule *rule, int64_t now_ms);

/* store_sqlite_policy.c: the userstore_ops of the same names. */
int store_sqlite_policy_write(struct userstore *s, enum store_policy_sql q, const char *const *args, int n);
int store_sqlite_policy_read(struct userstore *s, enum store_policy_sql q, const char *const *args, int n,
			     int (*fn)(const char *const *cols, void *arg), void *arg);

#endif
