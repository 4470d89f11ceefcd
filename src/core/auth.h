/* auth: password hashing and checks, and the login decisions: PASS after
 * USER (auth_login: password, one-time password or password + TOTP), plain
 * password checks and Kerberos principal logins; plus the backend registry.
 * It sits on top of auth_otp.h (the USER side and TOTP) and userstore.h (the
 * user model and store interface), which never call back into it; including
 * auth.h brings in both. Everything here may block: the daemon calls it only
 * from the job pool, never on an event loop. */
#ifndef FERRY_AUTH_H
#define FERRY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth_otp.h"
#include "policy.h"
#include "userstore.h"

/* The per-thread context of the job pool: each pool thread has its own store
 * handle (SQLite connections are not shared between threads); every
 * front-end's login jobs get it. */
struct store_handle {
	const struct userstore_ops *ops;
	struct userstore *store; /* NULL if it could not be opened */
};

/* The backend for cfg->store_backend, or NULL. */
const struct userstore_ops *auth_backend(const char *name);

/* Hashes password with a fresh random yescrypt salt (libxcrypt); returns a
 * malloc'd crypt string in *out. */
int auth_hash_password(const char *password, char **out);

/* Verifies password against a crypt(3) hash in constant time per hash type. */
bool auth_verify_password(const char *hash, const char *password);

/* Where a login's max-sessions limit came from (auth_admit). */
enum auth_limit_from {
	AUTH_LIMIT_NONE,   /* not admitted (yet) */
	AUTH_LIMIT_USER,   /* the user's own max-sessions */
	AUTH_LIMIT_GROUP,  /* a group's (policy.max_sessions_group) */
	AUTH_LIMIT_HOST,   /* its [host] max_per_user */
	AUTH_LIMIT_SERVER, /* [limits] max_per_user */
};

/* Result of a login check, owned by the caller (auth_result_free). */
struct auth_result {
	bool ok;       /* user exists, enabled, password matches */
	char *home;    /* set when ok */
	char *account; /* set when ok and the user needs ACCT */
	uint32_t perms;
	int err;	   /* 0, or -errno when the store itself failed */
	bool user_limit;   /* ok, but [limits] max_per_user sessions are logged in
			    * (set by the session, which counts them) */
	bool totp_next;	   /* ok, but the user's TOTP code must follow (auth_check_key) */
	bool otp;	   /* logged in with a one-time password ... */
	unsigned otp_left; /* ... after which this many are left */
	/* When ok: the user's effective policy (policy_eff.h: user, groups,
	 * then the server's defaults, which auth_admit adds on the loop).
	 * perms above is policy.perms. Front-ends take what they enforce
	 * from here: allow-from, expires, max-sessions (auth_admit), later
	 * mounts, dir-perms, quotas and rates. */
	struct policy_attrs policy;
	/* When ok and the user has a quota: its usage in the store
	 * (usage_known: read; else the store had none to give). */
	uint64_t usage_bytes, usage_files;
	uint64_t usage_read_us; /* util_now_us() just before the read */
	bool usage_known;
	const char *refused; /* set by the front-end from auth_admit: why a
			      * good login was refused ("allow-from", ...) */
	/* Set by auth_admit: the max-sessions limit (0 = none) and where it
	 * came from (auth_limit_token, auth_limit_setting). */
	unsigned limit;
	enum auth_limit_from limit_from;
};
void auth_result_free(struct auth_result *r);

/* Looks the user up and verifies the password (a name holding ':', the
 * key of a [host] user, is refused as unknown: callers that select a host
 * build its key with user_key and call auth_login). An unknown or disabled user
 * costs one hash computation against a fixed dummy hash, so timing does not
 * tell which users exist. Blocking: job pool only. */
void auth_check(const struct userstore_ops *ops, struct userstore *s, const char *user, const char *password,
		struct auth_result *out);

/* PASS after auth_lookup: a one-time password (advanced in the store with a
 * compare-and-swap), password + TOTP code, or a password, as the user's
 * settings say; always one crypt, so the time does not tell which. Releases
 * ch's lock. ch may be NULL (then only a password can succeed). */
void auth_login(const struct userstore_ops *ops, struct userstore *s, const char *user, const char *password,
		const struct auth_challenge *ch, struct auth_result *out);

/* After a GSSAPI exchange: may principal log in as user? Yes when the user
 * exists and is enabled and either by_default (the default rule matched) or
 * the store maps principal to user. No password is involved. Blocking. */
void auth_check_principal(const struct userstore_ops *ops, struct userstore *s, const char *user, const char *principal,
			  bool by_default, struct auth_result *out);

/* An SSH public key login: may the key of fingerprint and blob (base64, as
 * the store keeps it) log in as user? Yes when the user exists, is enabled
 * and has the key on its list (userstore key_check). An unknown user, a
 * disabled one and a key not on the list look the same (!ok); no password
 * is involved. A user with TOTP gets totp_next: the key stands for the
 * password, the code must still follow (auth_check_totp). Blocking: job
 * pool only. */
void auth_check_key(const struct userstore_ops *ops, struct userstore *s, const char *user, const char *fingerprint,
		    const char *blob, struct auth_result *out);

/* The TOTP code after a key (totp_next): ok when the enabled user's code
 * is good for now (±1 step) and not used before (the store's
 * compare-and-swap, as auth_login's). Blocking: job pool only. */
void auth_check_totp(const struct userstore_ops *ops, struct userstore *s, const char *user, const char *code,
		     struct auth_result *out);

#endif
