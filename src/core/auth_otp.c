/* auth_otp: the USER side of one-time passwords (which challenge a name
 * gets, the RFC 2289 §9 challenge lock) and TOTP through liboath. The PASS
 * side is auth_login in auth.c, next to the password check it must cost the
 * same as. auth.c calls into this file, never the reverse: this file uses
 * only the store interface (userstore.h). Everything here may block: job
 * pool only. */
#include <errno.h>
#include <liboath/oath.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_otp.h"
#include "log.h"
#include "str.h"
#include "util.h"

#define AUTH_TOTP_STEP_S 30
#define AUTH_TOTP_SECRET_BYTES 20 /* RFC 4226 §4: 160 bits recommended */
#define AUTH_SECRET_BYTES 32

/* A challenge for a name that has no key ([otp] unknown_users = challenge). */
static void auth_fake(const struct userstore_ops *ops, struct userstore *s, const char *user,
		      struct auth_challenge *out)
{
	uint8_t secret[AUTH_SECRET_BYTES];
	int r = ops->server_secret ? ops->server_secret(s, secret, sizeof(secret)) : -ENOSYS;
	if (r == 0)
		r = otp_fake_challenge(secret, sizeof(secret), user, &out->seq, out->seed, sizeof(out->seed));
	util_wipe(secret, sizeof(secret));
	if (r) {
		out->err = r;
		return;
	}
	out->kind = AUTH_KIND_OTP;
	out->alg = OTP_MD5;
}

void auth_lookup(const struct userstore_ops *ops, struct userstore *s, const struct auth_lookup_req *req,
		 struct auth_challenge *out)
{
	struct user_record u = { 0 };
	struct otp_state st = { 0 };
	bool found = false, have_st = false;
	int r;

	*out = (struct auth_challenge){ 0 };
	if (!ops || !s || !req || !req->user) {
		out->err = -EINVAL;
		return;
	}
	if (req->release_lock && req->release_user && ops->challenge_unlock)
		(void)ops->challenge_unlock(s, req->release_user, req->release_lock);
	out->err = userstore_load(ops, s, req->user, &u, &st, &found, &have_st);
	if (out->err)
		goto done;
	bool real = found && u.enabled;
	out->reply = have_st ? st.reply : 0;
	if (real && have_st && st.otp) {
		/* A challenge must ask for a sequence ≥ 1 (lftp refuses 0). */
		if (st.seq < 2) {
			out->kind = AUTH_KIND_EXHAUSTED;
			goto done;
		}
		out->kind = AUTH_KIND_OTP;
		out->alg = st.alg;
		out->seq = st.seq - 1;
		(void)str_copy(out->seed, sizeof(out->seed), st.seed);
	} else if (real && have_st && st.totp_secret) {
		/* Codes are single-use by their time step: no lock needed. */
		out->kind = AUTH_KIND_TOTP;
		goto done;
	} else if (!real && req->fake_unknown) {
		auth_fake(ops, s, req->user, out);
		if (out->err)
			goto done;
	} else {
		out->kind = AUTH_KIND_PASSWORD;
		goto done;
	}

	/* SECURITY: RFC 2289 §9 race attack (someone who saw most of an answer
	 * guesses the rest on a second connection). The first connection to
	 * ask holds the name's challenge lock (until its PASS, its close or
	 * the login timeout). A second one is not refused: USER needs no
	 * credentials, so a refusal would let anyone lock a user out for as
	 * long as they keep asking. It gets the same challenge, shared: the
	 * store's compare-and-swap (otp_advance) still accepts each one-time
	 * password once, whoever sends it, and a wrong answer on a shared
	 * challenge ends that connection and counts toward its address's ban
	 * (cmd_login.c), so the guesses a race needs cost a connection and a
	 * ban count each. Made-up challenges are locked and shared the same
	 * way, or a second connection would tell them apart. */
	uint64_t token = 0;
	while (token == 0 && (r = util_random(&token, sizeof(token))) == 0) {
	}
	if (r == 0) {
		int64_t now = util_wall_s();
		r = ops->challenge_lock ? ops->challenge_lock(s, req->user, token, now, now + req->lock_s) : -ENOSYS;
	}
	if (r == -EBUSY) {
		out->shared = true;
	} else if (r) {
		out->err = r;
	} else {
		out->lock = token;
	}
done:
	otp_state_free(&st);
	user_record_free(&u);
}

void auth_release(const struct userstore_ops *ops, struct userstore *s, const char *user, uint64_t lock)
{
	if (ops && s && user && lock && ops->challenge_unlock)
		(void)ops->challenge_unlock(s, user, lock);
}

/* liboath wants oath_init before use; once per process is enough. */
static pthread_once_t auth_oath_once = PTHREAD_ONCE_INIT;
static int auth_oath_status = -1;

static void auth_oath_init(void)
{
	auth_oath_status = oath_init();
}

static int auth_oath_ready(void)
{
	(void)pthread_once(&auth_oath_once, auth_oath_init);
	return auth_oath_status == OATH_OK ? 0 : -EIO;
}

int auth_totp_secret_new(char **out)
{
	char raw[AUTH_TOTP_SECRET_BYTES];
	size_t len = 0;
	int r = auth_oath_ready();

	*out = NULL;
	if (r == 0)
		r = util_random(raw, sizeof(raw));
	if (r == 0 && oath_base32_encode(raw, sizeof(raw), out, &len) != OATH_OK)
		r = -ENOMEM;
	util_wipe(raw, sizeof(raw));
	return r;
}

/* Percent-encodes s (RFC 3986 unreserved characters kept) into out. */
static bool auth_uri_escape(const char *s, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
			    c == '.' || c == '_' || c == '~';
		if (o + (keep ? 1 : 3) >= outsz)
			return false;
		if (keep) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return true;
}

int auth_totp_uri(const char *user, const char *secret, char *out, size_t outsz)
{
	char name[3 * 256 + 1];

	if (!auth_uri_escape(user, name, sizeof(name)))
		return -ENAMETOOLONG;
	/* The Key Uri Format of authenticator apps: issuer in the label and
	 * as a parameter; the defaults (SHA1, 6 digits, 30 s) spelled out. */
	int n =
	    snprintf(out, outsz, "otpauth://totp/Ferry:%s?secret=%s&issuer=Ferry&algorithm=SHA1&digits=%d&period=%d",
		     name, secret, AUTH_TOTP_DIGITS, AUTH_TOTP_STEP_S);
	return n < 0 || (size_t)n >= outsz ? -ENAMETOOLONG : 0;
}

int auth_totp_check(const char *secret, const char *code, int64_t now, int64_t *step)
{
	char *raw = NULL;
	size_t rawlen = 0;
	uint64_t counter = 0;
	int pos = 0, r;

	if (auth_oath_ready() != 0 || !secret || !code || strlen(code) != AUTH_TOTP_DIGITS)
		return -EACCES;
	for (const char *c = code; *c; c++)
		if (*c < '0' || *c > '9')
			return -EACCES;
	if (oath_base32_decode(secret, strlen(secret), &raw, &rawlen) != OATH_OK)
		return -EACCES;
	/* Window 1: the code of the step before or after now is accepted too
	 * (clock skew, RFC 6238 §5.2). */
	r = oath_totp_validate4(raw, rawlen, (time_t)now, AUTH_TOTP_STEP_S, 0, 1, &pos, &counter, 0, code);
	util_wipe(raw, rawlen);
	free(raw);
	if (r < 0)
		return -EACCES;
	*step = (int64_t)counter;
	return 0;
}
