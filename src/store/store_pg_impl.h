/* store_pg_impl: what the PostgreSQL backend's files share: the handle, the
 * parameter builder and the query helpers. Calls go one way, top to bottom:
 * store_pg.c (open, migrations, transactions, the ops table) ->
 * store_pg_users.c, store_pg_otp.c, store_pg_keys.c, store_pg_bans.c (the rest of
 * store_pg_ops) ->
 * store_pg_db.c (the connection and the query helpers). Nothing outside the
 * backend may include it; only these files include libpq. */
#ifndef FERRY_STORE_PG_IMPL_H
#define FERRY_STORE_PG_IMPL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "userstore.h"

/* Type OIDs of the parameters and columns the backend uses (pg_type.h is
 * in the server's headers, not libpq's; these numbers never change). */
enum { PG_OID_BOOL = 16, PG_OID_BYTEA = 17, PG_OID_INT8 = 20, PG_OID_TEXT = 25 };

/* One handle = one connection, owned by one thread (libpq connections are
 * not shared): a job thread's, or the ferry CLI's. */
struct userstore {
	PGconn *conn;	      /* NULL before the first connection (LAZY) */
	char *conninfo;	      /* [store] postgres: may hold a password, never logged */
	const char *app;      /* application_name: "ferryd" or "ferry" */
	char where[320];      /* the store in messages, without the password */
	char err[512];	      /* the last error's text (migrations report it) */
	bool in_txn;	      /* a transaction is open: never reconnect inside it */
	bool mig_locked;      /* holds the migration's advisory lock */
	bool closing;	      /* the server said FATAL while idle: it is going */
	bool checked;	      /* this connection's schema version was checked */
	bool lost;	      /* a connection was lost: say so when it is back */
	uint64_t retry_at_ms; /* monotonic: no new attempt before (backoff) */
	uint32_t backoff_ms;  /* 0 after a good connection */
	int found_version;    /* what open's migration found */
	unsigned conn_gen;    /* counts connections made (a new one has no LISTEN yet) */
	unsigned listen_gen;  /* the connection LISTEN ferry_bans was sent on */
};

/* Parameters, all sent in binary: text as its bytes, integers as 8 bytes in
 * network order. The strings are borrowed until the query ran. */
#define PG_MAX_PARAMS 10
struct pg_params {
	int n;
	const char *val[PG_MAX_PARAMS];
	int len[PG_MAX_PARAMS];
	int fmt[PG_MAX_PARAMS];
	unsigned int type[PG_MAX_PARAMS];
	unsigned char num[PG_MAX_PARAMS][8];
};
void pg_param_text(struct pg_params *p, const char *s); /* NULL: SQL NULL */
void pg_param_int8(struct pg_params *p, int64_t v);
void pg_param_bool(struct pg_params *p, bool v);
void pg_param_bytea(struct pg_params *p, const void *b, size_t n);

/* store_pg_db.c: the connection. Connects (or reconnects: a connection the
 * server closed is noticed before a query is sent on it) unless the last
 * attempt failed within the backoff; -EIO when there is no connection. */
int store_pg_ensure(struct userstore *s);
/* Connects now, whatever the backoff says (open without LAZY), and leaves
 * the schema check to the caller's migration. -EIO with s->err. */
int store_pg_open_conn(struct userstore *s);
/* Runs sql (p may be NULL) and returns 0 with *res (the caller PQclears it)
 * when it succeeded, rows in binary. Errors: -EEXIST (a unique key),
 * -ENOENT (a foreign key: no such user), -EBUSY (a lock or serialisation
 * conflict), -EACCES, -EIO (no connection, or it broke: the next call
 * reconnects); the server's text is logged with what and kept in s->err. */
int store_pg_exec(struct userstore *s, const char *what, const char *sql, const struct pg_params *p, PGresult **res);
/* Fixed SQL without parameters, possibly several statements (migrations,
 * BEGIN/COMMIT): 0 or the error, as store_pg_exec. */
int store_pg_script(struct userstore *s, const char *what, const char *sql);
/* A command: 0, or -ENOENT when it changed no row. */
int store_pg_write(struct userstore *s, const char *what, const char *sql, const struct pg_params *p);
/* Binary column readers; -EIO when the column is not of the expected type
 * (a hand-altered table), never a guess. */
int store_pg_text(const PGresult *res, int row, int col, bool nullable, char **out);
int store_pg_int8(const PGresult *res, int row, int col, int64_t *out);
int store_pg_bool(const PGresult *res, int row, int col, bool *out);
/* Fills s->where from the conninfo (which libpq has already accepted). */
void store_pg_describe(const char *conninfo, char *out, size_t outsz);

/* store_pg_users.c and store_pg_otp.c: the userstore_ops of the same names. */
int store_pg_lookup(struct userstore *s, const char *name, struct user_record *out);
int store_pg_add(struct userstore *s, const struct user_record *u);
int store_pg_remove(struct userstore *s, const char *name);
int store_pg_update(struct userstore *s, const struct user_record *u);
int store_pg_password_swap(struct userstore *s, const char *name, const char *old_hash, const char *new_hash);
int store_pg_list(struct userstore *s, int (*fn)(const struct user_record *u, void *arg), void *arg);
int store_pg_otp_get(struct userstore *s, const char *name, struct otp_state *out);
int store_pg_otp_put(struct userstore *s, const char *name, const struct otp_state *o);
int store_pg_otp_advance(struct userstore *s, const char *name, unsigned seq, uint64_t last, uint64_t next);
int store_pg_totp_advance(struct userstore *s, const char *name, int64_t step);
int store_pg_challenge_lock(struct userstore *s, const char *name, uint64_t owner, int64_t now, int64_t until);
int store_pg_challenge_unlock(struct userstore *s, const char *name, uint64_t owner);
int store_pg_server_secret(struct userstore *s, uint8_t *out, size_t n);
int store_pg_principal_check(struct userstore *s, const char *principal, const char *name);
int store_pg_principal_add(struct userstore *s, const char *principal, const char *name);
int store_pg_principal_remove(struct userstore *s, const char *principal, const char *name);
int store_pg_principal_list(struct userstore *s, const char *name,
			    int (*fn)(const char *principal, const char *name, void *arg), void *arg);

/* store_pg_keys.c: the userstore_ops of the same names. */
int store_pg_key_add(struct userstore *s, const char *name, const struct user_key *k);
int store_pg_key_remove(struct userstore *s, const char *name, const char *fingerprint);
int store_pg_key_list(struct userstore *s, const char *name,
		      int (*fn)(const char *name, const struct user_key *k, void *arg), void *arg);
int store_pg_key_check(struct userstore *s, const char *name, const char *fingerprint, const char *blob);

/* store_pg_bans.c: the userstore_ops of the same names. */
int store_pg_ban_fail(struct userstore *s, const char *address, const struct ban_rule *rule, int64_t now_ms,
		      int64_t *until, bool *started);
int store_pg_ban_list(struct userstore *s, int64_t now_ms, int (*fn)(const char *address, int64_t until, void *arg),
		      void *arg);
int store_pg_ban_remove(struct userstore *s, const char *address);
int store_pg_ban_rows(struct userstore *s, int (*fn)(const struct ban_row *row, void *arg), void *arg);
int store_pg_ban_put(struct userstore *s, const struct ban_row *row);
int store_pg_ban_purge(struct userstore *s, const struct ban_rule *rule, int64_t now_ms);
int store_pg_ban_watch(struct userstore *s, int wake_fd, int timeout_ms);

/* store_pg_policy.c: the userstore_ops of the same names. */
int store_pg_policy_write(struct userstore *s, enum store_policy_sql q, const char *const *args, int n);
int store_pg_policy_read(struct userstore *s, enum store_policy_sql q, const char *const *args, int n,
			 int (*fn)(const char *const *cols, void *arg), void *arg);

#endif
