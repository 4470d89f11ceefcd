/* auth: the user-store interface, the backend registry and password checks.
 * Backends are whole files (store_sqlite.c, later store_pg.c) that fill a
 * struct userstore_ops. Everything here may block: the daemon calls it only
 * from the job pool, never on an event loop. */
#ifndef FERRY_AUTH_H
#define FERRY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otp.h"

struct config;

/* Per-user permission bits (names as in the store and on the CLI). */
enum {
	PERM_READ = 1u << 0,   /* "read": RETR, SIZE, MDTM, HASH */
	PERM_WRITE = 1u << 1,  /* "write": STOR, APPE, STOU, MFMT, SITE CHMOD */
	PERM_DELETE = 1u << 2, /* "delete": DELE, RMD */
	PERM_RENAME = 1u << 3, /* "rename": RNFR/RNTO */
	PERM_MKDIR = 1u << 4,  /* "mkdir": MKD */
	PERM_LIST = 1u << 5,   /* "list": LIST, NLST, MLSD, MLST, STAT path */
	PERM_ALL = (1u << 6) - 1,
};

/* Parses "read,write,list" or "all" (case-insensitive, spaces allowed around
 * commas) into bits; -EINVAL names nothing itself, the caller reports it.
 * perms_format writes the canonical comma list ("all" for PERM_ALL). */
int perms_parse(const char *s, uint32_t *out);
void perms_format(uint32_t perms, char *out, size_t outsz);

struct user_record {
	char *name;
	char *password_hash; /* crypt(3) string: $y$ (yescrypt), $2b$, $6$ ... */
	char *home;          /* absolute directory */
	char *account;       /* NULL: ACCT not required */
	uint32_t perms;
	bool enabled;
	int64_t created_at, updated_at; /* seconds since the epoch */
};
void user_record_free(struct user_record *u); /* frees the strings, not u */

/* A user's one-time password settings (table otp; no row = nothing set). */
struct otp_state {
	bool otp;               /* an RFC 2289 key is set */
	enum otp_alg alg;
	unsigned seq;           /* the store holds OTP(seq); the next challenge asks for seq-1 */
	char seed[OTP_SEED_MAX + 1];
	uint64_t last;          /* OTP(seq): the last accepted one-time password */
	char *totp_secret;      /* RFC 6238 key, base32; NULL: no TOTP */
	int64_t totp_last_step; /* last accepted time step (T), so a code works once */
	int reply;              /* 0: server default ([otp] challenge), 331 or 336 */
	bool static_ok;         /* the static password is accepted instead of an OTP */
};
void otp_state_free(struct otp_state *st); /* wipes and frees the secret, not st */

struct userstore; /* one open handle; not shared between threads */

struct userstore_ops {
	const char *name; /* "sqlite" */
	/* Opens the store named by cfg. create: make the database and schema if
	 * missing (else a missing store is -ENOENT). Writes a clear message to
	 * err on failure. */
	int (*open)(const struct config *cfg, bool create, struct userstore **out, char *err, size_t errsz);
	/* 0 and *out filled, -ENOENT if no such user, other -errno on failure. */
	int (*lookup)(struct userstore *s, const char *name, struct user_record *out);
	/* Admin operations (the ferry CLI). -EEXIST / -ENOENT as appropriate. */
	int (*add)(struct userstore *s, const struct user_record *u);
	int (*remove)(struct userstore *s, const char *name);
	/* Replaces every field of the existing row u->name; updated_at = now. */
	int (*update)(struct userstore *s, const struct user_record *u);
	/* Calls fn for each user in name order; stops early if fn returns non-zero. */
	int (*list)(struct userstore *s, int (*fn)(const struct user_record *u, void *arg), void *arg);
	void (*close)(struct userstore *s);

	/* One-time passwords. otp_get: 0, or -ENOENT when nothing is set.
	 * otp_put replaces the user's settings (-ENOENT: no such user); a
	 * state with nothing set removes the row. */
	int (*otp_get)(struct userstore *s, const char *name, struct otp_state *out);
	int (*otp_put)(struct userstore *s, const char *name, const struct otp_state *st);
	/* Compare-and-swap: stores OTP(seq-1) = next only if the row still
	 * holds seq and last; -ESTALE when another login got there first. */
	int (*otp_advance)(struct userstore *s, const char *name, unsigned seq, uint64_t last, uint64_t next);
	/* Records TOTP step as used only if it is later than the last one;
	 * -ESTALE otherwise (a code is accepted once). */
	int (*totp_advance)(struct userstore *s, const char *name, int64_t step);
	/* RFC 2289 §9: one outstanding challenge per name, across connections
	 * and servers sharing the store. lock takes it for owner until the
	 * wall-clock second until (-EBUSY: another owner holds it and it has
	 * not expired); unlock releases it if owner still holds it. */
	int (*challenge_lock)(struct userstore *s, const char *name, uint64_t owner, int64_t now, int64_t until);
	int (*challenge_unlock)(struct userstore *s, const char *name, uint64_t owner);
	/* A random secret made once per store (made-up challenges). */
	int (*server_secret)(struct userstore *s, uint8_t *out, size_t n);
	/* Kerberos principal → user mappings (RFC 2228 GSSAPI logins). check:
	 * 0 if principal may log in as name, -ENOENT if not. add: -EEXIST if
	 * the pair exists, -ENOENT if the user does not. remove: -ENOENT if
	 * absent. list: pairs in (user, principal) order; name NULL = all. */
	int (*principal_check)(struct userstore *s, const char *principal, const char *name);
	int (*principal_add)(struct userstore *s, const char *principal, const char *name);
	int (*principal_remove)(struct userstore *s, const char *principal, const char *name);
	int (*principal_list)(struct userstore *s, const char *name,
			      int (*fn)(const char *principal, const char *name, void *arg), void *arg);
};

/* The backend for cfg->store_backend, or NULL. */
const struct userstore_ops *auth_backend(const char *name);

/* The embedded SQLite backend (store_sqlite.c). */
extern const struct userstore_ops store_sqlite_ops;

/* Hashes password with a fresh random yescrypt salt (libxcrypt); returns a
 * malloc'd crypt string in *out. */
int auth_hash_password(const char *password, char **out);

/* Verifies password against a crypt(3) hash in constant time per hash type. */
bool auth_verify_password(const char *hash, const char *password);

/* Result of a login check, owned by the caller (auth_result_free). */
struct auth_result {
	bool ok;             /* user exists, enabled, password matches */
	char *home;          /* set when ok */
	char *account;       /* set when ok and the user needs ACCT */
	uint32_t perms;
	int err;             /* 0, or -errno when the store itself failed */
	bool user_limit;     /* ok, but [limits] max_per_user sessions are logged in
			      * (set by the session, which counts them) */
	bool otp;            /* logged in with a one-time password ... */
	unsigned otp_left;   /* ... after which this many are left */
};
void auth_result_free(struct auth_result *r);

/* Looks the user up and verifies the password. An unknown or disabled user
 * costs one hash computation against a fixed dummy hash, so timing does not
 * tell which users exist. Blocking: job pool only. */
void auth_check(const struct userstore_ops *ops, struct userstore *s, const char *user, const char *password,
		struct auth_result *out);

/* What USER found out (auth_lookup), kept by proto for PASS. */
enum auth_kind {
	AUTH_KIND_PASSWORD,  /* a password (also: unknown names, unless made-up challenges) */
	AUTH_KIND_OTP,       /* an RFC 2289 challenge: alg, seq, seed */
	AUTH_KIND_TOTP,      /* password followed by a TOTP code */
	AUTH_KIND_BUSY,      /* another connection holds this name's challenge */
	AUTH_KIND_EXHAUSTED, /* no one-time passwords left */
};
struct auth_challenge {
	enum auth_kind kind;
	int reply;        /* the user's own form: 0 (server default), 331 or 336 */
	enum otp_alg alg;
	unsigned seq;     /* the sequence number asked for */
	char seed[OTP_SEED_MAX + 1];
	uint64_t lock;    /* non-zero: this connection holds the challenge lock (token) */
	bool shared;      /* another connection holds the lock: same challenge, one try */
	int err;          /* -errno: the store failed */
};

struct auth_lookup_req {
	const char *user;
	bool fake_unknown;        /* [otp] unknown_users = challenge */
	uint32_t lock_s;          /* how long a challenge lock lasts at most */
	const char *release_user; /* a lock this connection holds from an earlier USER ... */
	uint64_t release_lock;    /* ... released first (0: none) */
};

/* USER: which challenge the name gets, taking its challenge lock when it is
 * an RFC 2289 one. Costs the same for unknown and known names (one lookup).
 * Blocking: job pool only. */
void auth_lookup(const struct userstore_ops *ops, struct userstore *s, const struct auth_lookup_req *req,
		 struct auth_challenge *out);

/* PASS after auth_lookup: a one-time password (advanced in the store with a
 * compare-and-swap), password + TOTP code, or a password, as the user's
 * settings say; always one crypt, so the time does not tell which. Releases
 * ch's lock. ch may be NULL (then only a password can succeed). */
void auth_login(const struct userstore_ops *ops, struct userstore *s, const char *user, const char *password,
		const struct auth_challenge *ch, struct auth_result *out);

/* Releases a challenge lock (a connection that closed). */
void auth_release(const struct userstore_ops *ops, struct userstore *s, const char *user, uint64_t lock);

/* TOTP (RFC 6238, 30-second steps, 6 digits, HMAC-SHA1) through liboath.
 * auth_totp_secret_new: a fresh random secret, base32 in *out (caller
 * frees). auth_totp_uri: the otpauth:// URI for authenticator apps. */
#define AUTH_TOTP_DIGITS 6
int auth_totp_secret_new(char **out);
int auth_totp_uri(const char *user, const char *secret, char *out, size_t outsz);
/* The time step of code at now (±1 step of skew), or -EACCES. */
int auth_totp_check(const char *secret, const char *code, int64_t now, int64_t *step);
/* After a GSSAPI exchange: may principal log in as user? Yes when the user
 * exists and is enabled and either by_default (the default rule matched) or
 * the store maps principal to user. No password is involved. Blocking. */
void auth_check_principal(const struct userstore_ops *ops, struct userstore *s, const char *user,
			  const char *principal, bool by_default, struct auth_result *out);

#endif
