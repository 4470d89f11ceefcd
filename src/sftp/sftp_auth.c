/* sftp_auth: SSH logins through the same login service as FTP: the
 * password is checked on the job pool by core/auth (auth_check: the same
 * hashes, one crypt whether the user exists or not), [limits] max_per_user
 * and the bans are core/guard's, and every outcome is raised once with
 * auth_event (the text line, JSON event, counters and the ban count) as
 * FTP raises it, with protocol=sftp. A wrong password is answered after
 * [server] login_fail_delay, a loop timer; [server] max_login_failures of
 * them close the connection.
 *
 * Methods: password only for now. "none" (what clients try first),
 * publickey, keyboard-interactive and gssapi-with-mic are answered with
 * the list of methods that can continue: "password". */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "auth_event.h"
#include "jobs.h"
#include "log.h"
#include "policy_eff.h"
#include "sftp_impl.h"
#include "util.h"

struct sftp_auth_job {
	struct job job;
	atomic_bool cancelled; /* the session closed: skip the hash */
	struct sftp_session *s;
	char *user, *password;
	struct auth_result res;
};

static void auth_run(struct job *j, void *ctx)
{
	struct sftp_auth_job *a = container_of(j, struct sftp_auth_job, job);
	struct store_handle *h = ctx;
	if (atomic_load(&a->cancelled))
		return;
	if (!h || !h->store) {
		a->res = (struct auth_result){ .err = -EIO };
		return;
	}
	auth_check(h->ops, h->store, a->user, a->password, &a->res);
}

static void job_free(struct sftp_auth_job *a)
{
	auth_result_free(&a->res);
	util_wipe(a->password, strlen(a->password));
	free(a->password);
	free(a->user);
	free(a);
}

/* A login ended: the same accounting as FTP's (auth_event.h). */
static void login_end(struct sftp_session *s, const char *user, enum auth_outcome outcome, const char *reason, int err)
{
	struct auth_sink sink = { .metrics = s->host->metrics, .guard = s->host->guard, .key = &s->gkey };
	(void)auth_event(&(struct auth_event){ .sid = s->id,
					       .user = user,
					       .ip = s->peer,
					       .outcome = outcome,
					       .reason = reason,
					       .err = err,
					       .protocol = "sftp" },
			 &sink, util_now_ms());
}

/* USERAUTH_FAILURE for the waiting request: password may continue. */
static void reply_failure(struct sftp_session *s)
{
	if (!s->auth_msg)
		return;
	ssh_message_auth_set_methods(s->auth_msg, SSH_AUTH_METHOD_PASSWORD);
	(void)ssh_message_reply_default(s->auth_msg);
	ssh_message_free(s->auth_msg);
	s->auth_msg = NULL;
}

static void on_fail_delay(struct loop_timer *t)
{
	struct sftp_session *s = container_of(t, struct sftp_session, delay_timer);
	reply_failure(s);
	if (++s->failures >= s->cfg->max_login_failures) {
		log_info(s->id, "login failure limit reached: ip=%s protocol=sftp", s->peer);
		s->ops->close(s, "login-failures");
		return;
	}
	s->ops->drive(s); /* the reply goes out */
}

static void free_deferred(void *p)
{
	struct sftp_session *s = p;
	s->ops->free(s);
}

/* (sftp_impl.h) Here, beside the login that sets them, so the login needs
 * nothing from sftp_ssh.c. */
void sftp_session_set_rate(struct sftp_session *s, uint64_t down, uint64_t up)
{
	uint64_t now = util_now_us();
	rate_init(&s->rate_down, down, now);
	rate_init(&s->rate_up, up, now);
}

/* Good credentials: the user's slot ([limits] max_per_user), the home as
 * the root of every path, then USERAUTH_SUCCESS. */
static void login_ok(struct sftp_session *s, struct sftp_auth_job *a)
{
	struct guard *g = s->host->guard;
	const char *refused = NULL;
	bool counted = false;
	if (a->res.account) {
		/* FTP's ACCT step has no SSH password form yet (a keyboard-
		 * interactive prompt will carry it): refused, not guessed. */
		refused = "account-required";
	} else if ((refused = auth_admit(g, s->cfg, a->user, &a->res, &s->peer_addr, util_wall_s(), &counted))) {
		/* allow-from, expired, user-limit: the log line says which; the
		 * client learns only that authentication failed. */
	} else {
		if (counted)
			s->counted_user = util_xstrdup(a->user);
		if (files_open_home(s->id, a->user, a->res.home, s->cfg->sandbox_roots, &s->vfs) != 0)
			refused = "home-unavailable";
	}
	if (refused) {
		login_end(s, a->user, AUTH_LOGIN_REFUSED, refused, 0);
		reply_failure(s);
		s->ops->close(s, refused);
		return;
	}
	s->logged_in = true;
	s->user = util_xstrdup(a->user);
	s->home = a->res.home;
	a->res.home = NULL;
	s->perms = a->res.perms;
	sftp_session_set_rate(s, a->res.policy.rate_down, a->res.policy.rate_up);
	s->quota = quota_user_get(s->host->quota, a->user, a->res.policy.quota_bytes, a->res.policy.quota_files,
				  a->res.usage_known, a->res.usage_bytes, a->res.usage_files);
	loop_timer_cancel(s->host->loop, &s->login_timer);
	(void)ssh_message_auth_reply_success(s->auth_msg, 0);
	ssh_message_free(s->auth_msg);
	s->auth_msg = NULL;
	login_end(s, a->user, AUTH_LOGIN_OK, NULL, 0);
}

static void auth_done(struct job *j)
{
	struct sftp_auth_job *a = container_of(j, struct sftp_auth_job, job);
	struct sftp_session *s = a->s;
	s->job = NULL;
	if (s->closed) {
		job_free(a);
		loop_defer(s->host->loop, free_deferred, s);
		return;
	}
	if (a->res.err) {
		login_end(s, a->user, AUTH_LOGIN_STORE_ERROR, NULL, a->res.err);
		reply_failure(s);
		s->ops->close(s, "store-error");
	} else if (!a->res.ok) {
		/* SECURITY: unknown users, disabled users and wrong passwords
		 * look the same: one crypt (auth_check), the same delay. */
		login_end(s, a->user, AUTH_LOGIN_FAILED, "bad-credentials", 0);
		loop_timer_arm(s->host->loop, &s->delay_timer, s->cfg->login_fail_delay_ms, on_fail_delay);
	} else {
		login_ok(s, a);
	}
	job_free(a);
	if (!s->closed)
		s->ops->drive(s);
}

/* The password of a request. libssh 0.10 marks its message API deprecated
 * in favour of callbacks, whose answer must be given before they return;
 * a check on the job pool answers later, which only a kept message can. */
static const char *message_password(ssh_message msg)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	return ssh_message_auth_password(msg);
#pragma GCC diagnostic pop
}

void sftp_auth_request(struct sftp_session *s, ssh_message msg)
{
	int method = ssh_message_subtype(msg);
	const char *user = ssh_message_auth_user(msg);
	const char *pw = method == SSH_AUTH_METHOD_PASSWORD ? message_password(msg) : NULL;
	/* One request at a time: a client waits for the answer. */
	if (s->logged_in || s->auth_msg || s->job || !pw || !user || !user[0]) {
		if (method != SSH_AUTH_METHOD_NONE && method != SSH_AUTH_METHOD_PASSWORD)
			log_debug(s->id, "sftp: authentication method %d not offered: ip=%s", method, s->peer);
		ssh_message_auth_set_methods(msg, SSH_AUTH_METHOD_PASSWORD);
		(void)ssh_message_reply_default(msg);
		ssh_message_free(msg);
		return;
	}
	struct sftp_auth_job *a = util_xcalloc(1, sizeof(*a));
	a->s = s;
	a->user = util_xstrdup(user);
	a->password = util_xstrdup(pw);
	a->job = (struct job){ .run = auth_run, .done = auth_done, .owner = s->host->loop };
	s->auth_msg = msg;
	s->job = a;
	jobs_submit(s->host->jobs, &a->job);
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
	if (s->auth_msg) {
		ssh_message_free(s->auth_msg);
		s->auth_msg = NULL;
	}
}
