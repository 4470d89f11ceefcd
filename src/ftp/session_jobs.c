/* session_jobs: the session's work on the job pool: USER's lookup, the
 * login checks (PASS, ACCT, a GSSAPI principal), GSSAPI context steps, the
 * TYPE A size count, a durable upload's commit (its fsyncs: an I/O job,
 * event/jobs.h), the directory reads of a listing pattern and of STAT, a
 * checksum (HASH, XCRC...), and the release of an abandoned challenge
 * lock. */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "files.h"
#include "gss.h"
#include "guard.h"
#include "hash.h"
#include "jobs.h"
#include "listing.h"
#include "policy_eff.h"
#include "log.h"
#include "proto.h"
#include "session_impl.h"
#include "util.h"
#include "vfs.h"

/* A job for the pool: USER's lookup, PASS's check, a principal check (USER
 * after ADAT: principal set, no password), a GSSAPI context step (gss) or
 * a TYPE A count (count_fd >= 0). */
struct auth_job {
	struct job job;
	atomic_bool cancelled; /* the session closed: skip the hash */
	struct session *s;
	bool lookup; /* USER_LOOKUP (else AUTH_CHECK) */
	char *user;
	char *password;
	char *release_user; /* lookup: a lock to release first */
	struct auth_lookup_req req;
	struct auth_challenge ch; /* check: what USER got; lookup: the result */
	char *principal;
	bool principal_default;
	struct auth_result res;
	struct gss_sess *gss; /* GSS_STEP: the session's context, borrowed */
	struct buf gss_in, gss_out;
	enum gss_step_status gss_status;
	char gss_err[256];
	int count_fd; /* ASCII_SIZE: borrowed from proto, which outlives the job */
	uint64_t count;
	int count_err;
	struct vfs_upload *commit; /* UPLOAD_COMMIT: owned until the job ends it */
	bool committing;	   /* UPLOAD_COMMIT */
	int commit_err;
	/* LIST_READ (list set): borrowed from proto, which outlives the job */
	struct listing *list;
	struct buf *list_out;
	size_t list_step;
	int list_result;
	/* HASH (hash_fd >= 0): borrowed from proto, which outlives the job;
	 * hash_user holds one of the user's hash_jobs slots until done. */
	int hash_fd;
	enum hash_alg hash_alg;
	uint64_t hash_offset, hash_count;
	char *hash_user;
	int hash_err;
	char hash_hex[HASH_HEX_MAX];
};

/* Releases a challenge lock after its connection closed; owns itself. */
struct unlock_job {
	struct job job;
	char *user;
	uint64_t lock;
};

static void unlock_run(struct job *j, void *ctx)
{
	struct unlock_job *u = container_of(j, struct unlock_job, job);
	struct store_handle *h = ctx;
	if (h && h->store)
		auth_release(h->ops, h->store, u->user, u->lock);
}

static void unlock_done(struct job *j)
{
	struct unlock_job *u = container_of(j, struct unlock_job, job);
	free(u->user);
	free(u);
}

/* RFC 2289 §9: a connection that goes away gives up its challenge at
 * once, rather than making the user wait for the lock to expire. */
void session_release_lock(struct session *s, const char *user, uint64_t lock)
{
	struct unlock_job *u = util_xcalloc(1, sizeof(*u));
	u->user = util_xstrdup(user);
	u->lock = lock;
	u->job = (struct job){ .run = unlock_run, .done = unlock_done, .owner = s->host->loop, .quick = true };
	jobs_submit(s->host->jobs, &u->job);
}

static void auth_run(struct job *j, void *ctx)
{
	struct auth_job *a = container_of(j, struct auth_job, job);
	struct store_handle *h = ctx;
	if (a->commit) {
		/* Even for a session that closed meanwhile: the upload was
		 * complete and its commit decided; only the reply is lost. */
		a->commit_err = files_upload_end(a->commit, true, false);
		a->commit = NULL;
		return;
	}
	if (a->count_fd >= 0) {
		if (!atomic_load(&a->cancelled))
			a->count_err = vfs_ascii_size(a->count_fd, ASCII_SIZE_LIMIT, &a->count);
		return;
	}
	if (a->hash_user) {
		/* Polls cancelled between reads: a client that leaves stops it. */
		a->hash_err =
		    hash_fd_range(a->hash_fd, a->hash_alg, a->hash_offset, a->hash_count, &a->cancelled, a->hash_hex);
		return;
	}
	if (a->list) {
		if (!atomic_load(&a->cancelled))
			a->list_result =
			    a->list_out ? listing_read_all(a->list, a->list_out, a->list_step) : listing_peek(a->list);
		return;
	}
	if (atomic_load(&a->cancelled)) {
		if (a->gss)
			return;
		/* Nobody waits for the answer, but a lock must not linger. */
		if (h && h->store && !a->lookup)
			auth_release(h->ops, h->store, a->user, a->ch.lock);
		if (h && h->store && a->lookup)
			auth_release(h->ops, h->store, a->release_user, a->req.release_lock);
		return;
	}
	if (a->gss) {
		a->gss_status =
		    gss_sess_step(a->gss, buf_slice(&a->gss_in), &a->gss_out, a->gss_err, sizeof(a->gss_err));
		return;
	}
	if (!h || !h->store) {
		a->res = (struct auth_result){ .err = -EIO };
		a->ch = (struct auth_challenge){ .err = -EIO };
		return;
	}
	if (a->lookup)
		auth_lookup(h->ops, h->store, &a->req, &a->ch);
	else if (a->principal)
		auth_check_principal(h->ops, h->store, a->user, a->principal, a->principal_default, &a->res);
	else
		auth_login(h->ops, h->store, a->user, a->password, &a->ch, &a->res);
}

static void auth_job_free(struct auth_job *a)
{
	auth_result_free(&a->res);
	if (a->password) {
		util_wipe(a->password, strlen(a->password));
		free(a->password);
	}
	free(a->user);
	free(a->release_user);
	free(a->principal);
	free(a->hash_user);
	buf_free(&a->gss_in);
	buf_free(&a->gss_out);
	free(a);
}

/* A good login is admitted by the user's policy (core's auth_admit:
 * allow-from and expires, answered 530, then a slot of the user's
 * max-sessions / [limits] max_per_user, answered 421), or turned into the
 * refusal proto answers. */
static void guard_login_result(struct session *s, struct auth_job *a)
{
	bool counted = false;
	if (a->res.err || !a->res.ok)
		return;
	session_release_user_slot(s); /* a new login on this connection (REIN, USER) */
	struct sockaddr_storage peer = session_peer_addr(s);
	const char *why = auth_admit(s->host->guard, s->cfg, a->user, &a->res, &peer, util_wall_s(), &counted);
	if (counted)
		s->counted_user = util_xstrdup(a->user);
	if (why && strcmp(why, "user-limit") == 0)
		a->res.user_limit = true;
	else
		a->res.refused = why;
	/* The user's own rates (user, then groups; 0 = unlimited), in front
	 * of the server's: a refused login leaves none behind. */
	if (why)
		session_set_rate(s, 0, 0);
	else
		session_set_rate(s, a->res.policy.rate_down, a->res.policy.rate_up);
	/* The user's quota (user, then groups): this login's usage from the
	 * store into the book the workers share. */
	quota_user_put(s->quota);
	s->quota =
	    why ? NULL
		: quota_user_get(s->host->quota, a->user, a->res.policy.quota_bytes, a->res.policy.quota_files,
				 a->res.usage_known, a->res.usage_bytes, a->res.usage_files, a->res.usage_read_us);
	proto_set_quota(s->proto, s->quota);
}

static void auth_done(struct job *j)
{
	struct auth_job *a = container_of(j, struct auth_job, job);
	struct session *s = a->s;
	s->job = NULL;
	if (a->hash_user)
		hash_limit_release(s->host->hashlim, a->hash_user);
	if (s->closed) {
		/* A lookup that took a lock after the client left. */
		if (a->lookup && a->ch.lock)
			session_release_lock(s, a->user, a->ch.lock);
		auth_job_free(a);
		if (s->yielded) /* resume_pump, deferred, still refers to s */
			loop_defer(s->host->loop, session_free, s);
		else
			session_free(s);
		return;
	}
	/* How the login ends (and so what is counted) is proto's to say, once
	 * it has the result (auth_event). */
	if (!a->lookup && !a->gss && a->count_fd < 0 && !a->committing && !a->list && !a->hash_user)
		guard_login_result(s, a);
	struct proto_result r = { .auth = &a->res, .challenge = &a->ch };
	if (a->gss) {
		r.gss_status = a->gss_status;
		r.gss_reply = buf_slice(&a->gss_out);
		r.gss_error = a->gss_err;
		r.gss_principal = gss_sess_principal(a->gss);
		r.gss_local = gss_sess_local_name(a->gss);
	}
	if (a->count_fd >= 0) {
		r.err = a->count_err;
		r.bytes = a->count;
	}
	if (a->committing)
		r.err = a->commit_err;
	if (a->list) {
		r.err = a->list_result < 0 ? a->list_result : 0;
		r.bytes = a->list_result > 0;
	}
	if (a->hash_user) {
		r.err = a->hash_err;
		r.hash_hex = a->hash_hex;
		loop_timer_arm(s->host->loop, &s->idle_timer, s->cfg->idle_timeout_ms, session_on_idle);
	}
	session_complete(s, &r);
	/* A lookup that finished after a timeout replaced it with CLOSE: proto
	 * never took the lock, so nobody else would release it. */
	const char *held_user;
	uint64_t held = 0;
	if (a->lookup && a->ch.lock && !(proto_challenge_lock(s->proto, &held_user, &held) && held == a->ch.lock))
		session_release_lock(s, a->user, a->ch.lock);
	auth_job_free(a);
	if (s->drain_end) {
		/* Past the drain deadline (session_host_drain_end): the
		 * commit's reply, then the 421; no command behind it runs. */
		session_shutdown(s);
		return;
	}
	session_pump(s);
}

static void submit_job(struct session *s, struct auth_job *a)
{
	a->s = s;
	/* USER's lookup and a principal check are store reads, no password
	 * hash: quick (jobs.h), so that 331 never waits behind the password
	 * checks of other sessions, and a login passes their queue once. */
	bool quick = a->lookup || a->principal;
	/* A durable commit's fsyncs take as long as the disk needs: an I/O
	 * job, on threads logins never wait for. */
	a->job = (struct job){
		.run = auth_run, .done = auth_done, .owner = s->host->loop, .quick = quick, .io = a->committing
	};
	s->job = a;
	jobs_submit(s->host->jobs, &a->job);
}

static void start_auth_job(struct session *s, const struct proto_effect *e)
{
	struct auth_job *a = util_xcalloc(1, sizeof(*a));
	a->count_fd = -1;
	a->user = util_xstrdup(e->user);
	if (e->kind == PROTO_EFFECT_USER_LOOKUP) {
		a->lookup = true;
		a->req = e->lookup;
		a->req.user = a->user;
		a->release_user = e->lookup.release_user ? util_xstrdup(e->lookup.release_user) : NULL;
		a->req.release_user = a->release_user;
	} else if (e->principal) {
		a->principal = util_xstrdup(e->principal);
		a->principal_default = e->principal_default;
	} else {
		a->password = util_xstrdup(e->password);
		if (e->challenge)
			a->ch = *e->challenge;
	}
	submit_job(s, a);
}

/* HASH: one of the user's [limits] hash_jobs slots, or -EBUSY (450) at
 * once; the slot is given back when the job is done (auth_done). */
static void start_hash_job(struct session *s, const struct proto_effect *e)
{
	const char *user = proto_user(s->proto);
	if (!user || !hash_limit_acquire(s->host->hashlim, user, s->cfg->hash_jobs)) {
		struct proto_result r = { .err = -EBUSY };
		session_complete(s, &r);
		return;
	}
	struct log_escaped esc;
	log_info(s->id, "hash: start alg=%s range=%llu-%llu path=\"%s\"", hash_alg_name((enum hash_alg)e->hash_alg),
		 (unsigned long long)e->hash_offset,
		 (unsigned long long)(e->hash_count ? e->hash_offset + e->hash_count - 1 : e->hash_offset),
		 log_esc(slice_from_cstr(e->hash_path ? e->hash_path : ""), &esc));
	/* Like a transfer, a long checksum is not idleness (README). */
	loop_timer_cancel(s->host->loop, &s->idle_timer);
	struct auth_job *a = util_xcalloc(1, sizeof(*a));
	a->count_fd = -1;
	a->hash_user = util_xstrdup(user);
	a->hash_fd = e->hash_fd;
	a->hash_alg = (enum hash_alg)e->hash_alg;
	a->hash_offset = e->hash_offset;
	a->hash_count = e->hash_count;
	submit_job(s, a);
}

void session_start_job(struct session *s, const struct proto_effect *e)
{
	switch (e->kind) {
	case PROTO_EFFECT_USER_LOOKUP:
	case PROTO_EFFECT_AUTH_CHECK:
		if (!s->job)
			start_auth_job(s, e);
		break;
	case PROTO_EFFECT_GSS_STEP:
		if (!s->gss) { /* proto offers GSSAPI only with a context */
			struct proto_result r = { .gss_status = GSS_STEP_FAILED };
			session_complete(s, &r);
		} else if (!s->job) {
			struct auth_job *a = util_xcalloc(1, sizeof(*a));
			a->count_fd = -1;
			a->gss = s->gss;
			/* Sized to fit: the copy cannot fail. The reply token (an
			 * AP-REP) is small; a larger one fails the step. */
			buf_init(&a->gss_in, e->gss_token.n + 1);
			buf_init(&a->gss_out, 64 * 1024);
			(void)buf_append(&a->gss_in, e->gss_token.p, e->gss_token.n);
			submit_job(s, a);
		}
		break;
	case PROTO_EFFECT_ASCII_SIZE:
		if (!s->job) {
			struct auth_job *a = util_xcalloc(1, sizeof(*a));
			a->count_fd = e->count_fd;
			submit_job(s, a);
		}
		break;
	case PROTO_EFFECT_UPLOAD_COMMIT:
		if (!s->job) {
			struct auth_job *a = util_xcalloc(1, sizeof(*a));
			a->count_fd = -1;
			a->commit = e->upload;
			a->committing = true;
			submit_job(s, a);
		}
		break;
	case PROTO_EFFECT_LIST_READ:
		if (!s->job) {
			struct auth_job *a = util_xcalloc(1, sizeof(*a));
			a->count_fd = -1;
			a->list = e->list_read;
			a->list_out = e->list_out;
			a->list_step = e->list_step;
			submit_job(s, a);
		}
		break;
	case PROTO_EFFECT_HASH:
		if (!s->job)
			start_hash_job(s, e);
		break;
	default:
		break;
	}
}

void session_cancel_job(struct auth_job *a)
{
	atomic_store(&a->cancelled, true);
}
