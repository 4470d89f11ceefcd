/* USER PASS ACCT REIN QUIT: the login state machine (331 → 230 | 332 → 230,
 * 530 after a loop-timer delay, 421 at the failure limit; 232 after a GSSAPI
 * exchange), and AUTH/PBSZ/PROT/CCC (RFC 4217). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_event.h"
#include "cmd.h"
#include "log.h"
#include "parse.h"
#include "path.h"
#include "policy_eff.h"
#include "proto_impl.h"
#include "reply.h"
#include "util.h"

/* Longer names cannot exist in the store; refuse them before any lookup. */
#define USER_NAME_MAX 256

/* Continuations, carried by the effects they follow. */
static void lookup_done(struct proto *p, const struct proto_result *r);
static void auth_done(struct proto *p, const struct proto_result *r);
static void fail_done(struct proto *p, const struct proto_result *r);
static void tls_started(struct proto *p, const struct proto_result *r);
static void tls_stopped(struct proto *p, const struct proto_result *r);
static void gss_user_done(struct proto *p, const struct proto_result *r);
static void user_gss(struct proto *p);
static void cmd_login_ok(struct proto *p, int code, const char *text);

/* The store key of the name USER gave, in the selected host (userstore.h
 * user_key). A name holding the key separator is never a login name: its
 * key starts with the separator, which no key does, so it is an unknown
 * user like any other (331, then 530). */
static char *user_key_for(struct proto *p, struct slice arg)
{
	char *name = slice_dup(arg);
	const char *host = p->vhost ? p->vhost->name : NULL;
	size_t n = arg.n + (host ? strlen(host) : 0) + 2;
	char *key = util_xcalloc(1, n);
	if (user_key(name, host, key, n) != 0)
		(void)snprintf(key, n, "%c%s", USER_HOST_SEP, name);
	free(name);
	return key;
}

void cmd_user(struct proto *p, struct slice arg)
{
	if (arg.n > USER_NAME_MAX) {
		proto_reply(p, 501, "User name too long.");
		return;
	}
	/* [tls] required = login|all: no credentials in the clear (RFC 4217
	 * §10.1 lets the server insist). */
	if ((p->cfg->tls_required & 1) && !p->tls) {
		proto_reply(p, 530, "TLS is required for login on this server: send AUTH TLS first.");
		return;
	}
	/* RFC 959 §4.1.1: USER flushes user, password and account; transfer
	 * parameters stay as they are. */
	proto_logout(p);
	p->user = user_key_for(p, arg);
	/* RFC 2228 §4: after ADAT the principal may authorise the login. */
	if (p->gss == GSS_ON) {
		p->login = LOGIN_USER;
		user_gss(p);
		return;
	}
	/* Every name is looked up (RFC 2577 §7: the same cost for all): one-time
	 * password users get their challenge in the reply. */
	struct auth_lookup_req req = {
		.user = p->user,
		.fake_unknown = p->cfg->otp_unknown_challenge != 0,
		/* A lock outlasting the login timer would only block others. */
		.lock_s = p->cfg->login_timeout_ms / 1000u + 1u,
		.release_user = p->lock_user,
		.release_lock = p->lock,
	};
	proto_start_effect(p,
			   (struct proto_effect){
			       .kind = PROTO_EFFECT_USER_LOOKUP, .user = p->user, .lookup = req, .then = lookup_done });
}

/* A login ended: logged, counted and, for a FAILED one, counted toward the
 * address's ban, all by core (auth_event). Every way a login ends here
 * comes through this once; reason for FAILED and REFUSED, err for
 * STORE_ERROR. */
static void login_end(struct proto *p, enum auth_outcome outcome, const char *reason, int err)
{
	(void)auth_event(
	    &(struct auth_event){
		.sid = p->sid, .user = p->user, .ip = p->peer, .outcome = outcome, .reason = reason, .err = err },
	    &p->auth_sink, p->now_ms);
}

/* The user's own challenge form, else the server's. */
static int challenge_form(const struct proto *p, const struct auth_challenge *ch)
{
	if (ch->reply == 331 || ch->reply == 336)
		return ch->reply;
	return p->cfg->otp_challenge_336 ? 336 : 331;
}

static void store_failed(struct proto *p, int err)
{
	login_end(p, AUTH_LOGIN_STORE_ERROR, NULL, err);
	proto_close_with(p, "Service not available: the user database cannot be read.");
}

static void lookup_done(struct proto *p, const struct proto_result *r)
{
	const struct auth_challenge *ch = r ? r->challenge : NULL;
	char name[USER_NAME_MAX + 1];

	/* The job released the lock of an earlier USER (if any) first. */
	free(p->lock_user);
	p->lock_user = NULL;
	p->lock = 0;
	if (!ch || ch->err) {
		store_failed(p, ch ? ch->err : 0);
		return;
	}
	if (ch->lock) {
		p->lock = ch->lock;
		p->lock_user = util_xstrdup(p->user);
	}
	if (!p->challenge)
		p->challenge = util_xcalloc(1, sizeof(*p->challenge));
	*p->challenge = *ch;
	(void)reply_sanitize((struct slice){ p->user, user_key_name_len(p->user) }, name, sizeof(name));
	int form = challenge_form(p, ch);
	switch (ch->kind) {
	case AUTH_KIND_PASSWORD:
		p->login = LOGIN_USER;
		/* RFC 2577 §7: the same 331 whether or not the name exists. */
		proto_reply(p, 331, "Please specify the password.");
		return;
	case AUTH_KIND_OTP:
		p->login = LOGIN_USER;
		/* Decision 2. The 331 text is what lftp and OPIE clients parse:
		 * "otp-md5 N seed" followed by a space; "ext": RFC 2243 answers
		 * ("word:", "hex:") are understood. */
		if (form == 336)
			proto_reply(p, 336, "Username okay, need password. Challenge is \"otp-%s %u %s\".",
				    otp_alg_name(ch->alg), ch->seq, ch->seed);
		else
			proto_reply(p, 331, "Response to otp-%s %u %s ext required for %s.", otp_alg_name(ch->alg),
				    ch->seq, ch->seed, name);
		return;
	case AUTH_KIND_TOTP:
		p->login = LOGIN_USER;
		if (form == 336)
			proto_reply(p, 336,
				    "Username okay, need password. Challenge is \"password followed by the "
				    "6-digit TOTP code\".");
		else
			proto_reply(p, 331, "Password and TOTP code required for %s.", name);
		return;
	case AUTH_KIND_BUSY:
		proto_logout(p);
		/* RFC 2289 §9: no second challenge while one is outstanding.
		 * "try again later" is meant: lftp then reconnects and retries. */
		proto_reply(p, 530, "Another login for %s is in progress; try again later.", name);
		return;
	case AUTH_KIND_EXHAUSTED:
		proto_logout(p);
		proto_reply(p, 530, "No one-time passwords are left for %s; ask the administrator for a new key.",
			    name);
		return;
	}
}

void cmd_pass(struct proto *p, struct slice arg)
{
	if (p->login == LOGIN_DONE) {
		proto_reply(p, 503, "Already logged in.");
		return;
	}
	if (p->login != LOGIN_USER) {
		proto_reply(p, 503, "Login with USER first.");
		return;
	}
	p->password = slice_dup(arg);
	proto_start_effect(p, (struct proto_effect){ .kind = PROTO_EFFECT_AUTH_CHECK,
						     .user = p->user,
						     .password = p->password,
						     .challenge = p->challenge,
						     .then = auth_done });
}

static void login_ok(struct proto *p, bool otp, unsigned otp_left)
{
	char text[128];
	if (otp && otp_left == 0)
		(void)snprintf(text, sizeof(text),
			       "Login successful. That was the last one-time password: ask for a new key now.");
	else if (otp && otp_left < OTP_LOW_WARN)
		(void)snprintf(text, sizeof(text),
			       "Login successful. Only %u one-time passwords are left: ask for a new key soon.",
			       otp_left);
	else
		(void)snprintf(text, sizeof(text), "Login successful.");
	cmd_login_ok(p, 230, text);
}

/* Completes a login: opens the home directory, replies code (230, 232). */
static void cmd_login_ok(struct proto *p, int code, const char *text)
{
	if (files_open_home(p->sid, p->user, p->home, p->cfg->sandbox_roots, &p->vfs) != 0) {
		login_end(p, AUTH_LOGIN_REFUSED, "home-unavailable", 0);
		proto_logout(p);
		proto_reply(p, 530, "Home directory is not available.");
		return;
	}
	p->login = LOGIN_DONE;
	p->failures = 0;
	p->prelogin_cmds = 0;
	free(p->challenge); /* only PASS reads it */
	p->challenge = NULL;
	if (p->account) {
		util_wipe(p->account, strlen(p->account));
		free(p->account);
		p->account = NULL;
	}
	proto_set_str(&p->cwd, "/");
	login_end(p, AUTH_LOGIN_OK, NULL, 0);
	proto_reply(p, code, "%s", text);
}

/* A failed PASS or ACCT: the 530 comes after the configured delay, which is
 * a loop timer (RFC 2577 §5); the attempt counter is per connection. */
static void login_failed(struct proto *p, const char *why)
{
	/* SECURITY: counted toward the address's ban whichever step failed
	 * (a wrong ACCT is as much a guess as a wrong PASS). */
	login_end(p, AUTH_LOGIN_FAILED, why, 0);
	proto_logout(p);
	proto_start_effect(p, (struct proto_effect){ .kind = PROTO_EFFECT_DELAY,
						     .delay_ms = p->cfg->login_fail_delay_ms,
						     .then = fail_done });
}

/* [limits] max_per_user: good credentials, but the user has as many
 * sessions as allowed (the session found no free slot): 421 and close.
 * The limit is the user's own max-sessions when its policy has one
 * (auth_admit counted against it), else [host] or [limits] max_per_user. */
static void user_limit_refused(struct proto *p, const struct auth_result *res)
{
	char from[160], setting[160];
	(void)auth_event(&(struct auth_event){ .sid = p->sid,
					       .user = p->user,
					       .ip = p->peer,
					       .outcome = AUTH_LOGIN_REFUSED,
					       .reason = "user-limit",
					       .limit = res->limit,
					       .limit_from = auth_limit_token(res, from, sizeof(from)) },
			 &p->auth_sink, p->now_ms);
	/* Issue 13: say which limit, so a client's user can tell a refusal
	 * from a fault (rclone only showed its retries); issue 18: and whose
	 * (the user's, a group's or the server's setting). */
	char name[64], text[400], safe[160];
	(void)reply_sanitize((struct slice){ p->user, user_key_name_len(p->user) }, name, sizeof(name));
	const char *what = auth_limit_setting(res, setting, sizeof(setting));
	(void)reply_sanitize(slice_from_cstr(what), safe, sizeof(safe));
	(void)snprintf(text, sizeof(text), "Too many sessions for user %s (limit %u); close some or raise %s.", name,
		       res->limit, safe);
	proto_logout(p);
	proto_close_with(p, text);
}

/* Good credentials that the user's policy refuses (allow-from, expired):
 * the log says why; the client gets what a wrong password gets, the same
 * 530 after the same delay, and nothing counts toward a ban. */
static void policy_refused(struct proto *p, const char *why)
{
	login_end(p, AUTH_LOGIN_REFUSED, why, 0);
	proto_logout(p);
	proto_start_effect(p, (struct proto_effect){ .kind = PROTO_EFFECT_DELAY,
						     .delay_ms = p->cfg->login_fail_delay_ms,
						     .then = fail_done });
}

static void fail_done(struct proto *p, const struct proto_result *r)
{
	p->failures++;
	/* Neutral text: lftp retries on words like "try again later". */
	proto_reply(p, 530, "Login incorrect.");
	if (p->failures >= p->cfg->max_login_failures)
		proto_close_with(p, "Login failure limit reached, closing control connection.");
}

static void auth_done(struct proto *p, const struct proto_result *r)
{
	struct auth_result *res = r ? r->auth : NULL;
	if (p->password) {
		util_wipe(p->password, strlen(p->password));
		free(p->password);
		p->password = NULL;
	}
	/* The check released the challenge lock (if this USER took one). */
	if (p->challenge && p->challenge->lock && p->challenge->lock == p->lock) {
		free(p->lock_user);
		p->lock_user = NULL;
		p->lock = 0;
	}
	if (!res || res->err) {
		store_failed(p, res ? res->err : 0);
		return;
	}
	if (!res->ok) {
		/* SECURITY: RFC 2289 §9: a challenge another connection holds
		 * gets one answer here (auth_otp.c says why). */
		bool shared = p->challenge && p->challenge->shared;
		if (shared && p->cfg->max_login_failures)
			p->failures = p->cfg->max_login_failures - 1;
		login_failed(p, shared ? "bad-credentials-shared-challenge" : "bad-credentials");
		return;
	}
	if (res->user_limit) {
		user_limit_refused(p, res);
		return;
	}
	if (res->refused) {
		policy_refused(p, res->refused);
		return;
	}
	p->home = res->home;
	res->home = NULL;
	p->perms = res->perms;
	files_space_free(p->space); /* shared folders and dir-perms: core/files_space.c */
	files_space_open(p->sid, p->user, &res->policy, p->cfg->sandbox_roots, &p->space);
	if (res->account) {
		p->account = res->account;
		res->account = NULL;
		p->login = LOGIN_ACCT;
		/* Decision 1: 332 only ever answers PASS. */
		proto_reply(p, 332, "Need account for login.");
		return;
	}
	login_ok(p, res->otp, res->otp_left);
}

void cmd_acct(struct proto *p, struct slice arg)
{
	switch (p->login) {
	case LOGIN_NONE:
	case LOGIN_USER:
		proto_reply(p, 503, "Login with USER and PASS first.");
		return;
	case LOGIN_DONE:
		proto_reply(p, 202, "ACCT not needed.");
		return;
	case LOGIN_ACCT:
		break;
	}
	if (util_ct_equal(arg.p, arg.n, p->account, strlen(p->account)))
		login_ok(p, false, 0);
	else
		login_failed(p, "bad-account");
}

void cmd_rein(struct proto *p, struct slice arg)
{
	proto_logout(p);
	proto_reset_params(p);
	proto_reply(p, 220, "Service ready for new user.");
	/* RFC 7151 §3.2.1: REIN forgets the HOST (the SNI goes with TLS). */
	p->vhost = NULL;
	/* RFC 2228 App. I: REIN deletes the security context (after the 220,
	 * which goes out protected). */
	if (p->gss != GSS_OFF)
		gss_drop(p);
	if (p->tls) {
		/* RFC 4217 §13: the 220 goes out protected, then TLS ends. */
		p->rein_after_stop = true;
		proto_start_effect(p, (struct proto_effect){ .kind = PROTO_EFFECT_TLS_STOP, .then = tls_stopped });
	}
}

/* ---- RFC 4217: AUTH TLS, PBSZ, PROT, CCC ---- */

void cmd_auth(struct proto *p, struct slice arg)
{
	arg = slice_trim_spaces(arg);
	if (slice_eq_ci(arg, "GSSAPI")) {
		cmd_auth_gssapi(p);
		return;
	}
	bool tls = slice_eq_ci(arg, "TLS") || slice_eq_ci(arg, "TLS-C") || slice_eq_ci(arg, "SSL") ||
		   slice_eq_ci(arg, "TLS-P");
	if (!tls) {
		proto_reply(p, 504, "Unknown AUTH type.");
		return;
	}
	if (!p->tls_available) {
		proto_reply(p, 431, "TLS is not configured on this server.");
		return;
	}
	if (p->tls) {
		proto_reply(p, 503, "Already using TLS.");
		return;
	}
	/* RFC 2228 §3 534 (unwilling): one security mechanism per connection. */
	if (p->gss != GSS_OFF) {
		proto_reply(p, 534, "AUTH TLS is not available after AUTH GSSAPI on this connection.");
		return;
	}
	proto_reply(p, 234, "Proceed with negotiation.");
	/* Anything the client pipelined behind this line was sent in the
	 * clear and is discarded by the session, never executed. */
	proto_start_effect(p, (struct proto_effect){ .kind = PROTO_EFFECT_TLS_START, .then = tls_started });
}

static void tls_started(struct proto *p, const struct proto_result *r)
{
	if (r && r->err) {
		/* RFC 4217 §10.1: a failed handshake ends the connection. */
		proto_start_effect(p, (struct proto_effect){ .kind = PROTO_EFFECT_CLOSE });
		return;
	}
	/* RFC 4217 §4.2: almost as if a REIN: user, TYPE/STRU/MODE, cwd. */
	proto_logout(p);
	proto_reset_params(p);
	p->tls = true;
}

static void tls_stopped(struct proto *p, const struct proto_result *r)
{
	if (r && r->err) {
		proto_start_effect(p, (struct proto_effect){ .kind = PROTO_EFFECT_CLOSE });
		return;
	}
	p->tls = false;
	p->pbsz = false;
	p->sni_given = false;
	p->sni_vhost = NULL;
	if (p->rein_after_stop)
		p->prot = 'C';
	p->rein_after_stop = false;
}

void cmd_pbsz(struct proto *p, struct slice arg)
{
	uint64_t v;
	if (p->gss == GSS_ON) {
		cmd_pbsz_gss(p, arg);
		return;
	}
	if (!p->tls) {
		proto_reply(p, 503, "PBSZ needs a TLS connection (AUTH TLS).");
		return;
	}
	if (parse_u64(slice_trim_spaces(arg), UINT32_MAX, &v) != 0) {
		proto_reply(p, 501, "PBSZ needs a decimal size.");
		return;
	}
	p->pbsz = true;
	/* RFC 4217 §9: TLS has no buffer size; the answer is always 0. */
	proto_reply(p, 200, "PBSZ=0");
}

void cmd_prot(struct proto *p, struct slice arg)
{
	arg = slice_trim_spaces(arg);
	if (p->gss == GSS_ON) {
		cmd_prot_gss(p, arg);
		return;
	}
	if (!p->tls) {
		proto_reply(p, 503, "PROT needs a TLS connection (AUTH TLS).");
		return;
	}
	if (!p->pbsz) {
		proto_reply(p, 503, "PROT needs PBSZ first.");
		return;
	}
	if (slice_eq_ci(arg, "C") || slice_eq_ci(arg, "P")) {
		p->prot = (char)(arg.p[0] & ~0x20);
		proto_reply(p, 200, "Protection level set to %c.", p->prot);
	} else if (slice_eq_ci(arg, "S") || slice_eq_ci(arg, "E")) {
		proto_reply(p, 536, "PROT S and E are not supported with TLS.");
	} else {
		proto_reply(p, 504, "Unknown PROT level.");
	}
}

void cmd_ccc(struct proto *p, struct slice arg)
{
	if (p->gss == GSS_ON) {
		cmd_ccc_gss(p);
		return;
	}
	if (!p->tls) {
		proto_reply(p, 533, "CCC needs a TLS control connection.");
		return;
	}
	proto_reply(p, 200, "Clearing control channel; plaintext follows.");
	p->rein_after_stop = false;
	proto_start_effect(p, (struct proto_effect){ .kind = PROTO_EFFECT_TLS_STOP, .then = tls_stopped });
}

void cmd_quit(struct proto *p, struct slice arg)
{
	proto_reply(p, 221, "Goodbye.");
	proto_start_effect(p, (struct proto_effect){ .kind = PROTO_EFFECT_CLOSE });
}

/* ---- USER after the exchange (RFC 2228 §4, Decision 11) ---- */

static void user_gss(struct proto *p)
{
	const struct proto_gss_state *gx = proto_gss_state(p);
	bool by_default = gx->local && strcmp(gx->local, p->user) == 0;
	proto_start_effect(p, (struct proto_effect){ .kind = PROTO_EFFECT_AUTH_CHECK,
						     .user = p->user,
						     .principal = gx->principal,
						     .principal_default = by_default,
						     .then = gss_user_done });
}

static void gss_user_done(struct proto *p, const struct proto_result *r)
{
	struct auth_result *res = r ? r->auth : NULL;
	struct log_escaped e, ep;
	if (!res || res->err) {
		store_failed(p, res ? res->err : 0);
		return;
	}
	/* A user who needs ACCT logs in with PASS (332 only answers PASS).
	 * Not the end of the login, which goes on with a password: nothing
	 * is counted (auth_event comes with PASS's outcome). */
	if (!res->ok || res->account) {
		log_info(p->sid, "GSSAPI principal not authorized for user: principal=\"%s\" user=\"%s\"",
			 log_esc(slice_from_cstr(proto_gss_state(p)->principal), &ep),
			 log_esc(slice_from_cstr(p->user), &e));
		proto_reply(p, 331, "Principal not authorized for this user; send the password.");
		return;
	}
	if (res->user_limit) {
		user_limit_refused(p, res);
		return;
	}
	if (res->refused) {
		policy_refused(p, res->refused);
		return;
	}
	p->home = res->home;
	res->home = NULL;
	p->perms = res->perms;
	files_space_free(p->space); /* shared folders and dir-perms: core/files_space.c */
	files_space_open(p->sid, p->user, &res->policy, p->cfg->sandbox_roots, &p->space);
	cmd_login_ok(p, 232, "User logged in, authorized by security data exchange.");
}
