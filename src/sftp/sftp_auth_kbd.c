/* sftp_auth_kbd: keyboard-interactive logins (RFC 4256), SFTP's form of
 * FTP's USER/PASS/ACCT steps, on the same login service:
 * - the request: auth_lookup on the job pool says what the name needs (as
 *   FTP's USER): a password ("Password: "), an RFC 2289 challenge (the
 *   prompt carries "otp-md5 N seed ext", FTP's 331/336 text; a made-up one
 *   for an unknown name with [otp] unknown_users = challenge, and the
 *   challenge lock of RFC 2289 §9), or a password and a TOTP code (two
 *   prompts). No one-time passwords left, or another connection's
 *   challenge outstanding: refused at once, as FTP's 530 (nothing counted).
 * - the answers: auth_login on the pool (as FTP's PASS), the same crypt
 *   for every name; the user who needs an account gets a second prompt,
 *   "Account: " (FTP's 332), checked here in constant time.
 * - after a good password or key (partial success, sftp_auth.c): the
 *   account, and after a key the TOTP code of a user with TOTP
 *   ("TOTP code: ", auth_check_totp on the pool).
 * The outcomes are sftp_login.c's, so they are FTP's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sftp_impl.h"
#include "util.h"

#define KBD_METHOD "keyboard-interactive"
/* Room for "otp-sha1 N seed ext" and the words around it. */
#define KBD_PROMPT_MAX (OTP_SEED_MAX + 96)

/* Sends an INFO_REQUEST on s->auth_msg, which it answers (freed). */
static void ask(struct sftp_session *s, enum sftp_kbd_stage stage, unsigned n, const char **prompts)
{
	char echo[2] = { 0, 0 };
	s->kbd.stage = stage;
	(void)ssh_message_auth_interactive_request(s->auth_msg, "", "", n, prompts, echo);
	ssh_message_free(s->auth_msg);
	s->auth_msg = NULL;
}

/* Forgets the exchange (not the lock, which the login released or the
 * next lookup or the close releases). */
static void kbd_reset(struct sftp_session *s)
{
	s->kbd.stage = SFTP_KBD_NONE;
	free(s->kbd.user);
	s->kbd.user = NULL;
}

/* What good credentials still wait for: the TOTP code (after a key),
 * then the account. */
static void ask_held(struct sftp_session *s)
{
	const char *totp[] = { "TOTP code: " }, *acct[] = { "Account: " };
	if (s->hold.res.totp_next)
		ask(s, SFTP_KBD_TOTP, 1, totp);
	else
		ask(s, SFTP_KBD_ACCOUNT, 1, acct);
}

static void lookup_done(struct sftp_session *s, struct sftp_auth_job *a)
{
	const struct auth_challenge *ch = &a->ch;
	struct log_escaped e;
	/* The job released the lock of an earlier exchange (if any) first. */
	free(s->kbd.lock_user);
	s->kbd.lock_user = NULL;
	s->kbd.lock = 0;
	if (ch->err) {
		sftp_login_store_error(s, a->user, ch->err, KBD_METHOD);
		return;
	}
	if (ch->lock) {
		s->kbd.lock = ch->lock;
		s->kbd.lock_user = util_xstrdup(a->user);
	}
	kbd_reset(s);
	s->kbd.user = util_xstrdup(a->user);
	s->kbd.ch = *ch;
	char otp[KBD_PROMPT_MAX];
	const char *prompts[2];
	switch (ch->kind) {
	case AUTH_KIND_PASSWORD:
		prompts[0] = "Password: ";
		ask(s, SFTP_KBD_ANSWER, 1, prompts);
		return;
	case AUTH_KIND_OTP:
		/* FTP's 331 text, which OPIE/S/Key calculators read: "otp-md5
		 * N seed ext" ("ext": RFC 2243 "word:"/"hex:" answers too). */
		(void)snprintf(otp, sizeof(otp), "Response to otp-%s %u %s ext: ", otp_alg_name(ch->alg), ch->seq,
			       ch->seed);
		prompts[0] = otp;
		ask(s, SFTP_KBD_ANSWER, 1, prompts);
		return;
	case AUTH_KIND_TOTP:
		prompts[0] = "Password: ";
		prompts[1] = "TOTP code: ";
		ask(s, SFTP_KBD_ANSWER, 2, prompts);
		return;
	case AUTH_KIND_BUSY:
	case AUTH_KIND_EXHAUSTED:
		/* As FTP's 530 after USER: no credentials were tried, nothing
		 * is counted. */
		log_info(s->id, "login not possible: user=\"%s\" ip=%s protocol=sftp reason=%s",
			 log_esc(slice_from_cstr(a->user), &e), s->peer,
			 ch->kind == AUTH_KIND_BUSY ? "challenge-in-progress" : "no-one-time-passwords-left");
		kbd_reset(s);
		sftp_login_reply_failure(s);
		return;
	}
}

static void login_done(struct sftp_session *s, struct sftp_auth_job *a)
{
	/* auth_login released the challenge lock this exchange took. */
	if (a->ch.lock && a->ch.lock == s->kbd.lock) {
		free(s->kbd.lock_user);
		s->kbd.lock_user = NULL;
		s->kbd.lock = 0;
	}
	kbd_reset(s);
	if (a->res.err) {
		sftp_login_store_error(s, a->user, a->res.err, KBD_METHOD);
	} else if (!a->res.ok) {
		/* SECURITY: RFC 2289 §9: a challenge another connection holds
		 * gets one answer (auth_otp.c says why), as in FTP. */
		if (a->ch.shared && s->cfg->max_login_failures)
			s->failures = s->cfg->max_login_failures - 1;
		sftp_login_failed(s, a->user, a->ch.shared ? "bad-credentials-shared-challenge" : "bad-credentials",
				  KBD_METHOD, NULL);
	} else if (a->res.account) {
		sftp_login_hold(s, a->user, &a->res, KBD_METHOD, NULL);
		ask_held(s);
	} else {
		if (a->res.otp)
			log_info(s->id, "one-time password used: ip=%s protocol=sftp left=%u", s->peer,
				 a->res.otp_left);
		sftp_login_finish(s, a->user, &a->res, KBD_METHOD, NULL);
	}
}

/* The answers to the challenge's prompts. */
static void answers(struct sftp_session *s)
{
	unsigned want = s->kbd.ch.kind == AUTH_KIND_TOTP ? 2 : 1;
	int n = ssh_userauth_kbdint_getnanswers(s->ssh);
	const char *a0 = n >= 1 ? ssh_userauth_kbdint_getanswer(s->ssh, 0) : NULL;
	const char *a1 = n >= 2 ? ssh_userauth_kbdint_getanswer(s->ssh, 1) : NULL;
	struct sftp_auth_job *a = sftp_login_job(s, SFTP_JOB_LOGIN, s->kbd.user, login_done);
	a->ch = s->kbd.ch;
	if (n != (int)want || !a0 || (want == 2 && !a1)) {
		/* Still one crypt (auth_login), so a short answer costs what a
		 * wrong one does. */
		a->secret = util_xstrdup("");
	} else if (want == 2) {
		/* auth_login reads "<password><6 digits>", FTP's PASS form. */
		size_t n0 = strlen(a0), n1 = strlen(a1);
		a->secret = util_xcalloc(1, n0 + n1 + 1);
		memcpy(a->secret, a0, n0);
		memcpy(a->secret + n0, a1, n1);
	} else {
		a->secret = util_xstrdup(a0);
	}
	sftp_login_submit(s, a);
}

/* The held credentials are complete: the login. */
static void finish_held(struct sftp_session *s)
{
	struct sftp_login_hold *h = &s->hold;
	char *user = util_xstrdup(h->user);
	char key[SFTP_FP_MAX];
	(void)snprintf(key, sizeof(key), "%s", h->key);
	const char *method = h->method;
	struct auth_result res = h->res;
	h->res = (struct auth_result){ 0 };
	sftp_login_hold_free(s);
	sftp_login_finish(s, user, &res, method, key);
	if (res.account)
		util_wipe(res.account, strlen(res.account));
	auth_result_free(&res);
	free(user);
}

/* A wrong TOTP code or account after good credentials: a failed login
 * (counted toward the ban, as FTP's wrong ACCT), and the login starts
 * over. */
static void held_failed(struct sftp_session *s, const char *reason)
{
	char *user = util_xstrdup(s->hold.user);
	char key[SFTP_FP_MAX];
	(void)snprintf(key, sizeof(key), "%s", s->hold.key);
	const char *method = s->hold.method;
	sftp_login_hold_free(s);
	s->methods = SFTP_AUTH_METHODS;
	sftp_login_failed(s, user, reason, method, key);
	free(user);
}

static void totp_done(struct sftp_session *s, struct sftp_auth_job *a)
{
	if (!s->hold.user) /* not reached: nothing else ends a hold meanwhile */
		return;
	if (a->res.err) {
		sftp_login_store_error(s, a->user, a->res.err, s->hold.method);
	} else if (!a->res.ok) {
		held_failed(s, "bad-credentials");
	} else {
		s->hold.res.totp_next = false;
		if (s->hold.res.account) {
			ask_held(s);
			return;
		}
		finish_held(s);
	}
}

/* The answer to "TOTP code: ". */
static void totp(struct sftp_session *s)
{
	int n = ssh_userauth_kbdint_getnanswers(s->ssh);
	const char *code = n == 1 ? ssh_userauth_kbdint_getanswer(s->ssh, 0) : NULL;
	s->kbd.stage = SFTP_KBD_NONE;
	struct sftp_auth_job *a = sftp_login_job(s, SFTP_JOB_TOTP, s->hold.user, totp_done);
	a->secret = util_xstrdup(code ? code : "");
	sftp_login_submit(s, a);
}

/* The answer to "Account: ". */
static void account(struct sftp_session *s)
{
	int n = ssh_userauth_kbdint_getnanswers(s->ssh);
	const char *acct = n == 1 ? ssh_userauth_kbdint_getanswer(s->ssh, 0) : NULL;
	const char *want = s->hold.res.account;
	s->kbd.stage = SFTP_KBD_NONE;
	if (acct && util_ct_equal(acct, strlen(acct), want, strlen(want)))
		finish_held(s);
	else
		held_failed(s, "bad-account");
}

void sftp_kbd_request(struct sftp_session *s)
{
	ssh_message msg = s->auth_msg;
	if (ssh_message_auth_kbdint_is_response(msg)) {
		if (s->kbd.stage == SFTP_KBD_ANSWER && s->kbd.user)
			answers(s);
		else if (s->kbd.stage == SFTP_KBD_ACCOUNT && s->hold.user)
			account(s);
		else if (s->kbd.stage == SFTP_KBD_TOTP && s->hold.user)
			totp(s);
		else
			sftp_login_reply_failure(s);
		return;
	}
	/* A new exchange: the account of credentials already good, or the
	 * challenge for this name. */
	if (s->hold.user) {
		ask_held(s);
		return;
	}
	struct sftp_auth_job *a = sftp_login_job(s, SFTP_JOB_LOOKUP, ssh_message_auth_user(msg), lookup_done);
	a->lookup = (struct auth_lookup_req){
		.fake_unknown = s->cfg->otp_unknown_challenge != 0,
		/* A lock outlasting the login timer would only block others. */
		.lock_s = s->cfg->login_timeout_ms / 1000u + 1u,
		.release_lock = s->kbd.lock,
	};
	if (s->kbd.lock_user)
		a->release_user = util_xstrdup(s->kbd.lock_user);
	sftp_login_submit(s, a);
}

void sftp_kbd_release(struct sftp_session *s)
{
	if (s->kbd.lock && s->kbd.lock_user && s->host->jobs) {
		/* RFC 2289 §9: the next connection gets its own challenge at
		 * once rather than when the lock expires. */
		struct sftp_auth_job *a = sftp_login_job(s, SFTP_JOB_RELEASE, s->kbd.lock_user, NULL);
		a->ch.lock = s->kbd.lock;
		sftp_login_submit(s, a);
	}
	free(s->kbd.lock_user);
	s->kbd.lock_user = NULL;
	s->kbd.lock = 0;
	kbd_reset(s);
}
