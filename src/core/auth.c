/* auth: password hashing and checks, the PASS side of a login (auth_login:
 * password, one-time password or password + TOTP, always one crypt) and
 * Kerberos principal logins, plus the backend registry. Calls go one way:
 * auth.c -> auth_otp.c (TOTP check) -> userstore.c, and auth.c ->
 * auth_hash.c (making hashes, upgrading old ones); see auth.h. */
#include "auth.h"

#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth_hash.h"
#include "policy_eff.h"
#include "str.h"
#include "util.h"

/* A valid yescrypt hash (default cost, as auth_hash_password makes them) of a
 * password nobody knows. auth_check verifies against it when there is no real
 * hash to try, so a missing or disabled user costs the same as a wrong
 * password. It must stay a well-formed $y$ string: a malformed one would make
 * crypt fail fast and bring the timing difference back. */
static const char auth_dummy_hash[] = "$y$j9T$2/5M4F5xS643Ok2hER1km0$7cxcxrmrS4.g9ylguQPYO6AR2MIuz/tad2jm6BoXMeA";

void auth_result_free(struct auth_result *r)
{
	if (!r)
		return;
	free(r->home);
	free(r->account);
	policy_attrs_free(&r->policy);
	*r = (struct auth_result){ 0 };
}

const struct userstore_ops *auth_backend(const char *name)
{
	static const struct userstore_ops *const backends[] = { &store_sqlite_ops, &store_pg_ops };

	if (!name)
		return NULL;
	for (size_t i = 0; i < ARRAY_LEN(backends); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

/* Runs crypt once and compares; false on any failure. Callers decide which
 * hash to pass so that exactly one crypt runs per login attempt. */
static bool auth_crypt_matches(const char *hash, const char *password)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	bool ok = false;

	if (!cd)
		return false;
	const char *h = crypt_rn(password, hash, cd, (int)sizeof(*cd));
	/* crypt_rn returns NULL on failure, never the "*0" token, but a result
	 * that is not a hash must never compare equal to anything. */
	if (h && h[0] != '*')
		ok = util_ct_equal(h, strlen(h), hash, strlen(hash));
	util_wipe(cd, sizeof(*cd));
	free(cd);
	return ok;
}

/* Locked ('*', '!') or empty hashes can never match and must not reach crypt,
 * which could treat some of them as legacy DES settings. */
static bool auth_hash_usable(const char *hash)
{
	return hash && hash[0] != '\0' && hash[0] != '*' && hash[0] != '!';
}

bool auth_verify_password(const char *hash, const char *password)
{
	if (!auth_hash_usable(hash) || !password)
		return false;
	return auth_crypt_matches(hash, password);
}

void auth_check(const struct userstore_ops *ops, struct userstore *s, const char *user, const char *password,
		struct auth_result *out)
{
	/* SECURITY: a login name is never a virtual host's key ("NAME:HOST",
	 * userstore.h): SFTP logins are users of the default host. The name
	 * becomes one no key can be, so the cost is that of an unknown user. */
	if (user && strchr(user, USER_HOST_SEP))
		user = "";
	auth_login(ops, s, user, password, NULL, out);
}

/* A compare-and-swap's outcome: -ESTALE (another login used it first) is
 * a plain refusal; any other error is the store's, kept in *err so the
 * login ends in 421 like any store failure, not in a 530 that blames the
 * password (and counts toward a ban). */
static bool auth_cas_ok(int r, int *err)
{
	if (r && r != -ESTALE && !*err)
		*err = r;
	return r == 0;
}

/* RFC 2289 §7: decode the answer, hash it once; equal to the stored OTP(n)
 * ⇒ it is OTP(n-1), which then replaces it (compare-and-swap, so only one
 * of two simultaneous logins with it succeeds). Only for the challenge
 * this connection was shown. */
static bool auth_otp_matches(const struct userstore_ops *ops, struct userstore *s, const char *user,
			     const struct otp_state *st, const struct auth_challenge *ch, const char *answer, int *err)
{
	uint64_t v, hashed;

	if (!ch || ch->kind != AUTH_KIND_OTP || ch->alg != st->alg || ch->seq + 1 != st->seq ||
	    strcmp(ch->seed, st->seed) != 0)
		return false;
	if (otp_parse_answer(slice_from_cstr(answer), &v) != 0 || otp_step(st->alg, v, &hashed) != 0)
		return false;
	if (!util_ct_equal(&hashed, sizeof(hashed), &st->last, sizeof(st->last)))
		return false;
	return auth_cas_ok(ops->otp_advance(s, user, st->seq, st->last, v), err);
}

/* A successful check: the user's effective policy (its groups' too) from
 * the store, then the strings moved over rather than copied. A store
 * failure there is the login's (out->err, never ok). */
static void auth_result_take(const struct userstore_ops *ops, struct userstore *s, struct auth_result *out,
			     struct user_record *u)
{
	int r = policy_eff_load(ops, s, u, &out->policy);
	if (r) {
		policy_attrs_free(&out->policy);
		out->err = r;
		return;
	}
	/* A quota's usage as the store counts it (every node's uploads), for
	 * the quota book (quota.h) on the loop. */
	out->usage_read_us = util_now_us();
	if ((out->policy.quota_bytes || out->policy.quota_files) &&
	    policy_usage_get(ops, s, u->name, &out->usage_bytes, &out->usage_files) == 0)
		out->usage_known = true;
	out->ok = true;
	out->home = u->home;
	out->account = u->account;
	out->perms = out->policy.perms;
	u->home = u->account = NULL;
}

void auth_login(const struct userstore_ops *ops, struct userstore *s, const char *user, const char *password,
		const struct auth_challenge *ch, struct auth_result *out)
{
	struct user_record u = { 0 };
	struct otp_state st = { 0 };
	bool found = false, have_st = false, otp_ok = false, code_ok = false;
	char *static_pw = NULL;
	int64_t step = 0;

	*out = (struct auth_result){ 0 };
	if (!ops || !s || !user || !password)
		out->err = -EINVAL;
	else
		out->err = userstore_load(ops, s, user, &u, &st, &found, &have_st);

	bool real = found && u.enabled && !out->err;
	bool otp_user = real && have_st && st.otp;
	bool totp_user = real && have_st && !st.otp && st.totp_secret;
	if (otp_user)
		otp_ok = auth_otp_matches(ops, s, user, &st, ch, password, &out->err);
	if (totp_user) {
		/* "PASS <password><6 digits>": the code is checked here, the
		 * password below with everyone else's. */
		size_t n = strlen(password);
		if (n >= AUTH_TOTP_DIGITS) {
			static_pw = util_xstrndup(password, n - AUTH_TOTP_DIGITS);
			code_ok =
			    auth_totp_check(st.totp_secret, password + n - AUTH_TOTP_DIGITS, util_wall_s(), &step) == 0;
		}
	}

	/* SECURITY: one crypt per attempt whatever happened above, so response
	 * time does not reveal which names exist, are disabled or use OTP. */
	bool use_hash = real && auth_hash_usable(u.password_hash) && (!otp_user || st.static_ok);
	const char *pw = static_pw ? static_pw : (password ? password : "");
	bool match = auth_crypt_matches(use_hash ? u.password_hash : auth_dummy_hash, pw);
	bool ok;
	if (otp_user)
		ok = otp_ok || (use_hash && match);
	else if (totp_user)
		ok = use_hash && match && code_ok && auth_cas_ok(ops->totp_advance(s, user, step), &out->err);
	else
		ok = use_hash && match;
	ok = ok && !out->err; /* a store failure is never a login */
	/* The password is known only now: an old or cheap hash becomes a
	 * yescrypt one (auth_hash.c; never fails the login). */
	if (ok && use_hash && match)
		auth_rehash(ops, s, user, pw, u.password_hash);
	if (ch && ch->lock && ops && s && user && ops->challenge_unlock)
		(void)ops->challenge_unlock(s, user, ch->lock);
	if (ok)
		auth_result_take(ops, s, out, &u);
	if (out->ok && otp_ok) {
		out->otp = true;
		out->otp_left = ch->seq > 0 ? ch->seq - 1 : 0;
	}
	if (static_pw) {
		util_wipe(static_pw, strlen(static_pw));
		free(static_pw);
	}
	otp_state_free(&st);
	user_record_free(&u);
}

void auth_check_principal(const struct userstore_ops *ops, struct userstore *s, const char *user, const char *principal,
			  bool by_default, struct auth_result *out)
{
	struct user_record u = { 0 };
	*out = (struct auth_result){ 0 };
	if (!ops || !s || !user || !principal) {
		out->err = -EINVAL;
		return;
	}
	int r = ops->lookup(s, user, &u);
	if (r) {
		if (r != -ENOENT)
			out->err = r;
		return;
	}
	bool allowed = by_default;
	if (u.enabled && !allowed && ops->principal_check) {
		r = ops->principal_check(s, principal, user);
		if (r == 0)
			allowed = true;
		else if (r != -ENOENT)
			out->err = r;
	}
	if (u.enabled && allowed && !out->err)
		auth_result_take(ops, s, out, &u);
	user_record_free(&u);
}

void auth_check_key(const struct userstore_ops *ops, struct userstore *s, const char *user, const char *fingerprint,
		    const char *blob, struct auth_result *out)
{
	struct user_record u = { 0 };
	struct otp_state st = { 0 };
	bool found = false, have_st = false;
	*out = (struct auth_result){ 0 };
	if (!ops || !s || !user || !fingerprint || !blob || !ops->key_check) {
		out->err = -EINVAL;
		return;
	}
	/* SECURITY: the same lookups whether or not the user exists, so the
	 * time does not tell either. */
	int r = userstore_load(ops, s, user, &u, &st, &found, &have_st);
	int k = ops->key_check(s, user, fingerprint, blob);
	if (r)
		out->err = r;
	else if (k && k != -ENOENT)
		out->err = k;
	else if (found && k == 0 && u.enabled) {
		auth_result_take(ops, s, out, &u);
		out->totp_next = have_st && st.totp_secret;
	}
	otp_state_free(&st);
	user_record_free(&u);
}

void auth_check_totp(const struct userstore_ops *ops, struct userstore *s, const char *user, const char *code,
		     struct auth_result *out)
{
	struct user_record u = { 0 };
	struct otp_state st = { 0 };
	bool found = false, have_st = false;
	int64_t step = 0;
	*out = (struct auth_result){ 0 };
	if (!ops || !s || !user || !code) {
		out->err = -EINVAL;
		return;
	}
	out->err = userstore_load(ops, s, user, &u, &st, &found, &have_st);
	bool ok = !out->err && found && u.enabled && have_st && st.totp_secret &&
		  auth_totp_check(st.totp_secret, code, util_wall_s(), &step) == 0 &&
		  auth_cas_ok(ops->totp_advance(s, user, step), &out->err);
	if (ok && !out->err)
		auth_result_take(ops, s, out, &u);
	otp_state_free(&st);
	user_record_free(&u);
}
