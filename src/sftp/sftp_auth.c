/* sftp_auth: SSH authentication requests through the same login service
 * as FTP (sftp_login.c holds what every method shares: the jobs, the
 * outcome, the delay, the user's slot).
 *
 * Methods (announced as password, publickey, keyboard-interactive):
 * - password: auth_check on the job pool (the same hashes, one crypt
 *   whether the user exists or not).
 * - publickey: the client's key is looked up in the user's list
 *   (auth_check_key, ferry user key add) on the job pool. A key offered
 *   without a signature (the "probe") is answered PK_OK only when it is on
 *   the list of an enabled user, else with the same failure an unknown
 *   user gets; a signed one logs in when libssh found the signature good
 *   (SSH_PUBLICKEY_STATE_VALID) and the key is listed.
 * - keyboard-interactive: sftp_auth_kbd.c (password, the RFC 2289
 *   challenge, password + TOTP code, the account).
 * A user who needs an account (FTP's 332) and gave a good password or key
 * gets a partial success: the account follows as a keyboard-interactive
 * answer; so does the TOTP code of a user with TOTP who gave a good key
 * (the key stands for the password, the second factor stays). "none" (what clients try first) and anything else is
 * answered with the methods that may continue. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sftp_impl.h"
#include "util.h"

/* libssh 0.10 marks its message API deprecated in favour of callbacks,
 * whose answer must be given before they return; a check on the job pool
 * answers later, which only a kept message can. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static const char *message_password(ssh_message msg)
{
	return ssh_message_auth_password(msg);
}

static ssh_key message_pubkey(ssh_message msg)
{
	return ssh_message_auth_pubkey(msg);
}

static enum ssh_publickey_state_e message_pubkey_state(ssh_message msg)
{
	return ssh_message_auth_publickey_state(msg);
}
#pragma GCC diagnostic pop

/* Good credentials: the TOTP code after a key and the account when the
 * user needs them (partial success: keyboard-interactive asks for them),
 * else the login. */
static void credentials_good(struct sftp_session *s, struct sftp_auth_job *a, const char *method)
{
	const char *fp = a->key.fingerprint;
	if (a->res.account || a->res.totp_next) {
		sftp_login_hold(s, a->user, &a->res, method, fp);
		s->methods = SSH_AUTH_METHOD_INTERACTIVE;
		ssh_message_auth_set_methods(s->auth_msg, s->methods);
		(void)ssh_message_auth_reply_success(s->auth_msg, 1);
		ssh_message_free(s->auth_msg);
		s->auth_msg = NULL;
		return;
	}
	sftp_login_finish(s, a->user, &a->res, method, fp);
}

static void password_done(struct sftp_session *s, struct sftp_auth_job *a)
{
	if (a->res.err)
		sftp_login_store_error(s, a->user, a->res.err, "password");
	else if (!a->res.ok)
		sftp_login_failed(s, a->user, "bad-credentials", "password", NULL);
	else
		credentials_good(s, a, "password");
}

static void key_done(struct sftp_session *s, struct sftp_auth_job *a)
{
	bool probe = a->probe;
	if (a->res.err) {
		sftp_login_store_error(s, a->user, a->res.err, "publickey");
	} else if (probe && a->res.ok) {
		/* RFC 4252 §7: this key would do; the signed request follows. */
		(void)ssh_message_auth_reply_pk_ok_simple(s->auth_msg);
		ssh_message_free(s->auth_msg);
		s->auth_msg = NULL;
	} else if (probe) {
		/* SECURITY: an unknown user, a disabled one and a key not on the
		 * list get the same answer after the same lookups. A probe is
		 * no guess at a secret: clients offer each key they hold. */
		sftp_login_reply_failure(s);
	} else if (!a->res.ok) {
		sftp_login_failed(s, a->user, "bad-credentials", "publickey", a->key.fingerprint);
	} else {
		credentials_good(s, a, "publickey");
	}
}

/* A publickey request (s->auth_msg). */
static void key_request(struct sftp_session *s, const char *user)
{
	enum ssh_publickey_state_e st = message_pubkey_state(s->auth_msg);
	struct user_key key;
	if (st == SSH_PUBLICKEY_STATE_WRONG || st == SSH_PUBLICKEY_STATE_ERROR ||
	    sftp_key_describe(message_pubkey(s->auth_msg), &key) != 0) {
		/* A signature that does not verify, or a key type refused for
		 * everyone: no lookup can change the answer. */
		if (st == SSH_PUBLICKEY_STATE_WRONG)
			sftp_login_failed(s, user, "bad-signature", "publickey", NULL);
		else
			sftp_login_reply_failure(s);
		return;
	}
	struct sftp_auth_job *a = sftp_login_job(s, SFTP_JOB_KEY, user, key_done);
	a->key = key;
	/* Not a probe: libssh checked the signature when the request came. */
	a->probe = st != SSH_PUBLICKEY_STATE_VALID;
	sftp_login_submit(s, a);
}

void sftp_auth_request(struct sftp_session *s, ssh_message msg)
{
	int method = ssh_message_subtype(msg);
	const char *user = ssh_message_auth_user(msg);
	if (s->methods == 0)
		s->methods = SFTP_AUTH_METHODS;
	/* One request at a time: a client waits for the answer. After a
	 * partial success only keyboard-interactive (the account) goes on. */
	bool busy = s->logged_in || s->auth_msg || s->job;
	/* A keyboard-interactive response names no user: the exchange does. */
	bool response = method == SSH_AUTH_METHOD_INTERACTIVE && ssh_message_auth_kbdint_is_response(msg);
	bool allowed = (method & s->methods) != 0 && (response || (user && user[0]));
	if (busy || !allowed) {
		if (method != SSH_AUTH_METHOD_NONE && !busy)
			log_debug(s->id, "sftp: authentication method %d not offered: ip=%s", method, s->peer);
		ssh_message_auth_set_methods(msg, s->methods);
		(void)ssh_message_reply_default(msg);
		ssh_message_free(msg);
		return;
	}
	s->auth_msg = msg;
	if (method == SSH_AUTH_METHOD_INTERACTIVE) {
		sftp_kbd_request(s);
		return;
	}
	/* Another method gives up a keyboard-interactive exchange. */
	s->kbd.stage = SFTP_KBD_NONE;
	if (method == SSH_AUTH_METHOD_PUBLICKEY) {
		key_request(s, user);
		return;
	}
	const char *pw = message_password(msg);
	if (!pw) {
		sftp_login_reply_failure(s);
		return;
	}
	struct sftp_auth_job *a = sftp_login_job(s, SFTP_JOB_PASSWORD, user, password_done);
	a->secret = util_xstrdup(pw);
	sftp_login_submit(s, a);
}

void sftp_auth_cancel(struct sftp_session *s)
{
	atomic_store(&s->job->cancelled, true);
}

void sftp_auth_release(struct sftp_session *s)
{
	if (s->counted_user) {
		guard_user_release(s->host->guard, s->counted_user);
		free(s->counted_user);
		s->counted_user = NULL;
	}
	quota_user_put(s->quota);
	s->quota = NULL;
	if (s->vfs.root_fd >= 0)
		vfs_close(&s->vfs);
	files_space_free(s->space);
	s->space = NULL;
	if (s->auth_msg) {
		ssh_message_free(s->auth_msg);
		s->auth_msg = NULL;
	}
	sftp_login_hold_free(s);
	sftp_kbd_release(s);
}
