/* sftp_login: what every SSH login method shares, so password, publickey
 * and keyboard-interactive logins cannot differ in the rules FTP's follow:
 * the login service's calls run on the job pool (the thread's struct
 * store_handle, as FTP's jobs); every outcome is raised once with
 * auth_event (the text line, JSON event, counters and ban count, with
 * protocol=sftp and the method); wrong credentials are answered after
 * [server] login_fail_delay (a loop timer) and max_login_failures of them
 * close the connection; good ones take the user's [limits] max_per_user
 * slot and open the home before USERAUTH_SUCCESS. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_event.h"
#include "log.h"
#include "policy_eff.h"
#include "sftp_impl.h"
#include "util.h"

static void job_run(struct job *j, void *ctx)
{
	struct sftp_auth_job *a = container_of(j, struct sftp_auth_job, job);
	struct store_handle *h = ctx;
	/* A lock release runs even for a closed session: that is its point. */
	if (a->kind != SFTP_JOB_RELEASE && atomic_load(&a->cancelled))
		return;
	if (!h || !h->store) {
		a->res = (struct auth_result){ .err = -EIO };
		a->ch = (struct auth_challenge){ .err = -EIO };
		return;
	}
	switch (a->kind) {
	case SFTP_JOB_PASSWORD:
		auth_check(h->ops, h->store, a->user, a->secret, &a->res);
		break;
	case SFTP_JOB_KEY:
		auth_check_key(h->ops, h->store, a->user, a->key.fingerprint, a->key.blob, &a->res);
		break;
	case SFTP_JOB_LOOKUP:
		a->lookup.user = a->user;
		a->lookup.release_user = a->release_user;
		auth_lookup(h->ops, h->store, &a->lookup, &a->ch);
		break;
	case SFTP_JOB_LOGIN:
		auth_login(h->ops, h->store, a->user, a->secret, &a->ch, &a->res);
		break;
	case SFTP_JOB_TOTP:
		auth_check_totp(h->ops, h->store, a->user, a->secret, &a->res);
		break;
	case SFTP_JOB_RELEASE:
		auth_release(h->ops, h->store, a->user, a->ch.lock);
		break;
	}
}

static void job_free(struct sftp_auth_job *a)
{
	auth_result_free(&a->res);
	if (a->secret) {
		util_wipe(a->secret, strlen(a->secret));
		free(a->secret);
	}
	user_key_free(&a->key);
	free(a->release_user);
	free(a->user);
	free(a);
}

static void free_deferred(void *p)
{
	struct sftp_session *s = p;
	s->ops->free(s);
}

static void job_done(struct job *j)
{
	struct sftp_auth_job *a = container_of(j, struct sftp_auth_job, job);
	struct sftp_session *s = a->s;
	if (!s) { /* RELEASE */
		job_free(a);
		return;
	}
	s->job = NULL;
	if (s->closed) {
		/* RFC 2289 §9: a challenge lock taken for a connection that has
		 * gone meanwhile is given back now, not when it expires. */
		if (a->kind == SFTP_JOB_LOOKUP && a->ch.lock) {
			struct sftp_auth_job *r = sftp_login_job(s, SFTP_JOB_RELEASE, a->user, NULL);
			r->ch.lock = a->ch.lock;
			sftp_login_submit(s, r);
		}
		job_free(a);
		loop_defer(s->host->loop, free_deferred, s);
		return;
	}
	a->then(s, a);
	job_free(a);
	if (!s->closed)
		s->ops->drive(s);
}

struct sftp_auth_job *sftp_login_job(struct sftp_session *s, enum sftp_job_kind kind, const char *user,
				     void (*then)(struct sftp_session *s, struct sftp_auth_job *a))
{
	struct sftp_auth_job *a = util_xcalloc(1, sizeof(*a));
	a->kind = kind;
	a->s = kind == SFTP_JOB_RELEASE ? NULL : s;
	a->user = util_xstrdup(user);
	a->then = then;
	/* Store reads and a lock's release are quick (jobs.h): they never
	 * wait behind other users' password hashes. */
	bool quick = kind == SFTP_JOB_LOOKUP || kind == SFTP_JOB_KEY || kind == SFTP_JOB_RELEASE;
	a->job = (struct job){ .run = job_run, .done = job_done, .owner = s->host->loop, .quick = quick };
	return a;
}

void sftp_login_submit(struct sftp_session *s, struct sftp_auth_job *a)
{
	if (a->s)
		s->job = a;
	jobs_submit(s->host->jobs, &a->job);
}

/* A login ended: the same accounting as FTP's (auth_event.h). */
static void login_end_limit(struct sftp_session *s, const char *user, enum auth_outcome outcome, const char *reason,
			    int err, const char *method, const char *key, const struct auth_result *limit)
{
	struct auth_sink sink = { .metrics = s->host->metrics, .guard = s->host->guard, .key = &s->gkey };
	char from[160];
	(void)auth_event(
	    &(struct auth_event){ .sid = s->id,
				  .user = user,
				  .ip = s->peer,
				  .outcome = outcome,
				  .reason = reason,
				  .err = err,
				  .protocol = "sftp",
				  .method = method,
				  .key = key && key[0] ? key : NULL,
				  .limit = limit ? limit->limit : 0,
				  .limit_from = limit ? auth_limit_token(limit, from, sizeof(from)) : NULL },
	    &sink, util_now_ms());
}

static void login_end(struct sftp_session *s, const char *user, enum auth_outcome outcome, const char *reason, int err,
		      const char *method, const char *key)
{
	login_end_limit(s, user, outcome, reason, err, method, key, NULL);
}

void sftp_login_reply_failure(struct sftp_session *s)
{
	if (!s->auth_msg)
		return;
	ssh_message_auth_set_methods(s->auth_msg, s->methods);
	(void)ssh_message_reply_default(s->auth_msg);
	ssh_message_free(s->auth_msg);
	s->auth_msg = NULL;
}

static void on_fail_delay(struct loop_timer *t)
{
	struct sftp_session *s = container_of(t, struct sftp_session, delay_timer);
	sftp_login_reply_failure(s);
	if (++s->failures >= s->cfg->max_login_failures) {
		log_info(s->id, "login failure limit reached: ip=%s protocol=sftp", s->peer);
		s->ops->close(s, "login-failures");
		return;
	}
	s->ops->drive(s); /* the reply goes out */
}

void sftp_login_failed(struct sftp_session *s, const char *user, const char *reason, const char *method,
		       const char *key)
{
	/* SECURITY: unknown users, disabled users and wrong credentials look
	 * the same: the same work on the pool, the same delay. */
	login_end(s, user, AUTH_LOGIN_FAILED, reason, 0, method, key);
	loop_timer_arm(s->host->loop, &s->delay_timer, s->cfg->login_fail_delay_ms, on_fail_delay);
}

void sftp_login_store_error(struct sftp_session *s, const char *user, int err, const char *method)
{
	login_end(s, user, AUTH_LOGIN_STORE_ERROR, NULL, err, method, NULL);
	sftp_login_reply_failure(s);
	s->ops->close(s, "store-error");
}

void sftp_login_hold_free(struct sftp_session *s)
{
	struct sftp_login_hold *h = &s->hold;
	if (h->res.account)
		util_wipe(h->res.account, strlen(h->res.account));
	auth_result_free(&h->res);
	free(h->user);
	*h = (struct sftp_login_hold){ 0 };
}

void sftp_login_hold(struct sftp_session *s, const char *user, struct auth_result *res, const char *method,
		     const char *key)
{
	sftp_login_hold_free(s);
	s->hold.user = util_xstrdup(user);
	s->hold.res = *res;
	*res = (struct auth_result){ 0 };
	s->hold.method = method;
	(void)snprintf(s->hold.key, sizeof(s->hold.key), "%s", key ? key : "");
}

/* (sftp_impl.h) Here, beside the login that sets them. */
void sftp_session_set_rate(struct sftp_session *s, uint64_t down, uint64_t up)
{
	uint64_t now = util_now_us();
	rate_init(&s->rate_down, down, now);
	rate_init(&s->rate_up, up, now);
}

void sftp_login_finish(struct sftp_session *s, const char *user, struct auth_result *res, const char *method,
		       const char *key)
{
	struct guard *g = s->host->guard;
	const char *refused = NULL;
	bool counted = false;
	if ((refused = auth_admit(g, s->cfg, user, res, &s->peer_addr, util_wall_s(), &counted))) {
		/* allow-from, expired, user-limit: the log line says which; the
		 * client learns only that authentication failed. */
	} else {
		if (counted)
			s->counted_user = util_xstrdup(user);
		if (files_open_home(s->id, user, res->home, s->cfg->sandbox_roots, &s->vfs) != 0)
			refused = "home-unavailable";
		else /* shared folders and dir-perms (core/files_space.c) */
			files_space_open(s->id, user, &res->policy, s->cfg->sandbox_roots, &s->space);
	}
	if (refused) {
		/* Issue 18: a user-limit refusal's line names the limit and whose. */
		login_end_limit(s, user, AUTH_LOGIN_REFUSED, refused, 0, method, key,
				strcmp(refused, "user-limit") == 0 ? res : NULL);
		sftp_login_reply_failure(s);
		s->ops->close(s, refused);
		return;
	}
	s->logged_in = true;
	s->user = util_xstrdup(user);
	s->home = res->home;
	res->home = NULL;
	s->perms = res->perms;
	/* The user's own rates and quota (user, then groups), as FTP's login. */
	sftp_session_set_rate(s, res->policy.rate_down, res->policy.rate_up);
	s->quota = quota_user_get(s->host->quota, user, res->policy.quota_bytes, res->policy.quota_files,
				  res->usage_known, res->usage_bytes, res->usage_files, res->usage_read_us);
	loop_timer_cancel(s->host->loop, &s->login_timer);
	(void)ssh_message_auth_reply_success(s->auth_msg, 0);
	ssh_message_free(s->auth_msg);
	s->auth_msg = NULL;
	login_end(s, user, AUTH_LOGIN_OK, NULL, 0, method, key);
}
