/* auth_otp: the USER side of one-time passwords (which challenge a name
 * gets, the RFC 2289 §9 challenge lock) and TOTP (RFC 6238) through liboath.
 * Dependencies run one way: auth.c (the PASS side) calls into this file;
 * this file uses only the store interface (userstore.h) and otp.c, never
 * auth.c. Everything here may block: job pool only. */
#ifndef FERRY_AUTH_OTP_H
#define FERRY_AUTH_OTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otp.h"
#include "userstore.h"

/* What USER found out (auth_lookup), kept by proto for PASS. */
enum auth_kind {
	AUTH_KIND_PASSWORD,  /* a password (also: unknown names, unless made-up challenges) */
	AUTH_KIND_OTP,	     /* an RFC 2289 challenge: alg, seq, seed */
	AUTH_KIND_TOTP,	     /* password followed by a TOTP code */
	AUTH_KIND_BUSY,	     /* another connection holds this name's challenge */
	AUTH_KIND_EXHAUSTED, /* no one-time passwords left */
};
struct auth_challenge {
	enum auth_kind kind;
	int reply; /* the user's own form: 0 (server default), 331 or 336 */
	enum otp_alg alg;
	unsigned seq; /* the sequence number asked for */
	char seed[OTP_SEED_MAX + 1];
	uint64_t lock; /* non-zero: this connection holds the challenge lock (token) */
	bool shared;   /* another connection holds the lock: same challenge, one try */
	int err;       /* -errno: the store failed */
};

struct auth_lookup_req {
	const char *user;
	bool fake_unknown;	  /* [otp] unknown_users = challenge */
	uint32_t lock_s;	  /* how long a challenge lock lasts at most */
	const char *release_user; /* a lock this connection holds from an earlier USER ... */
	uint64_t release_lock;	  /* ... released first (0: none) */
};

/* USER: which challenge the name gets, taking its challenge lock when it is
 * an RFC 2289 one. Costs the same for unknown and known names (one lookup).
 * Blocking: job pool only. */
void auth_lookup(const struct userstore_ops *ops, struct userstore *s, const struct auth_lookup_req *req,
		 struct auth_challenge *out);

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

#endif
