/* sftp_impl: what the libssh files of the SFTP front-end share (the host
 * keys, the session and its parts); nothing else includes it. Calls run
 * one way: sftp_ssh.c (the connection) → sftp_auth.c (logins: password,
 * publickey) → sftp_auth_kbd.c (keyboard-interactive) → sftp_login.c (the
 * jobs and outcomes both share) → sftp_pubkey.c (keys); and sftp_ssh.c →
 * sftp_server.c (the SFTP requests) → sftp_check.c (check-file) →
 * sftp_files.c (handles). */
#ifndef FERRY_SFTP_IMPL_H
#define FERRY_SFTP_IMPL_H

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "auth.h"
#include "buf.h"
#include "files.h"
#include "guard.h"
#include "jobs.h"
#include "loop.h"
#include "rate.h"
#include "sessions.h"
#include "sftp.h"

#define SFTP_MAX_KEYS 4
/* The shortest RSA host key served. */
#define RSA_MIN_BITS 2048

struct sftp_keys {
	ssh_key keys[SFTP_MAX_KEYS];
	size_t n;
};

/* sftp_keys.c: key's "SHA256:..." fingerprint as ssh-keygen -l prints
 * it ("?" if it cannot be computed). */
#define SFTP_FP_MAX 80
void sftp_key_fingerprint(ssh_key key, char *out, size_t outsz);
/* Whether an RSA key (private or public) has RSA_MIN_BITS or more: libssh
 * tells a key's size only to a bind importing it (with the same minimum
 * the workers' binds set: sftp_ssh.c). */
bool sftp_rsa_size_ok(ssh_key key);

/* sftp_pubkey.c: a client's public key as the store keeps it (type,
 * base64 blob, fingerprint; no comment) into *out (the caller's:
 * user_key_free). 0, or -EINVAL for a key type not accepted (DSA,
 * certificates, RSA under RSA_MIN_BITS), -ENOMEM. */
int sftp_key_describe(ssh_key key, struct user_key *out);

struct sftp_auth_job;
struct sftp_proxy;
struct sftp_server;
struct sftp_session;

/* What sftp_auth.c asks of the connection (sftp_ssh.c), handed to it as
 * data so the calls run one way (sftp_ssh.c → sftp_auth.c). */
struct sftp_conn_ops {
	/* Closes the connection at once; the session is freed when nothing
	 * refers to it. */
	void (*close)(struct sftp_session *s, const char *why);
	/* Moves the connection along (a reply to send). */
	void (*drive)(struct sftp_session *s);
	/* Frees a closed session (the job that referred to it has ended). */
	void (*free)(struct sftp_session *s);
	/* The PROXY header was read (sftp_proxy.c): client is whose the
	 * connection is; refuse and room_needed are the worker's at accept. */
	void (*begin)(struct sftp_session *s, const struct sockaddr_storage *client, const char *refuse,
		      bool room_needed);
};

/* A session channel the client opened. SFTP runs on one; the others
 * only get their requests refused, and are kept until the client's
 * CLOSE for them (libssh would free a channel given up earlier on its own
 * when that CLOSE comes, under a request message that may refer to it). */
#define SFTP_MAX_CHANNELS 4
struct sftp_chan {
	struct sftp_session *s;
	ssh_channel ch; /* NULL: a free slot */
	struct ssh_channel_callbacks_struct cb;
	size_t pending;		      /* bytes libssh holds, before SFTP starts on it */
	bool eof, closed, close_sent; /* the client's EOF, its CLOSE; ours */
};

/* Good credentials of a user who needs an account (FTP's 332) or, after
 * a key, a TOTP code, kept until those are given as keyboard-interactive
 * answers. */
struct sftp_login_hold {
	char *user; /* NULL: nothing held */
	struct auth_result res;
	const char *method; /* static: "password", "publickey", "keyboard-interactive" */
	char key[SFTP_FP_MAX];
};

/* Where a keyboard-interactive exchange stands (sftp_auth_kbd.c). */
enum sftp_kbd_stage {
	SFTP_KBD_NONE,
	SFTP_KBD_ANSWER,  /* the challenge's prompts were sent */
	SFTP_KBD_TOTP,	  /* the TOTP code prompt after a key was sent (hold is set) */
	SFTP_KBD_ACCOUNT, /* the account prompt was sent (hold is set) */
};
struct sftp_kbd {
	enum sftp_kbd_stage stage;
	char *user;		  /* the name the challenge is for */
	struct auth_challenge ch; /* auth_lookup's answer, for auth_login */
	char *lock_user;	  /* a challenge lock this connection holds ... */
	uint64_t lock;		  /* ... (0: none): released by the next lookup, the login or the close */
};

struct sftp_session {
	struct sftp_host *host;
	struct sessions_entry reg; /* in the worker's registry: status, kick, eviction */
	const struct sftp_conn_ops *ops;
	struct sftp_session *prev, *next;
	uint64_t id;
	const struct config *cfg;
	char peer[64];
	struct sockaddr_storage peer_addr;
	struct guard_key gkey;
	bool guarded;
	bool begun;	       /* session_begin ran: connect was logged, disconnect will be */
	struct sftp_proxy *pp; /* waiting for the PROXY header (sftp_proxy.c) */
	struct loop_watch watch;
	struct loop_timer login_timer, idle_timer, delay_timer;
	ssh_session ssh;
	ssh_event ev;
	bool kex_done;
	bool closed;  /* gone: freed once no job refers to it */
	bool driving; /* re-entrancy guard of sftp_drive */
	/* login (sftp_auth.c, sftp_auth_kbd.c, sftp_login.c) */
	ssh_message auth_msg; /* a request waiting for its check, its failure delay or its next step */
	struct sftp_auth_job *job;
	unsigned failures;
	int methods;		     /* SSH_AUTH_METHOD_* that may continue (announced on failure) */
	struct sftp_login_hold hold; /* good credentials waiting for the account */
	struct sftp_kbd kbd;	     /* a keyboard-interactive exchange under way */
	char *user;		     /* once logged in */
	char *home;		     /* once logged in */
	uint32_t perms;		     /* once logged in */
	char *counted_user;	     /* [limits] max_per_user slot held */
	struct vfs vfs;		     /* the user's root once logged in */
	struct files_space *space;   /* its shared folders and dir-perms (NULL: none) */
	bool logged_in;
	/* the session channels open (sftp_ssh.c), and the one SFTP runs on */
	struct sftp_chan chans[SFTP_MAX_CHANNELS];
	ssh_channel chan;
	struct sftp_server *srv; /* after the "sftp" subsystem request */
	struct buf in, out;
	size_t chan_pending; /* bytes libssh still holds for us (in was full) */
	bool chan_eof, chan_closed;
	struct quota_user *quota; /* the user's quota (core/quota.h), lent to the server */
	/* the session's own rates (sftp_session_set_rate; zeroed = unlimited),
	 * and the timer that resumes requests held back by a rate limit */
	struct rate_bucket rate_down, rate_up;
	struct loop_timer rate_timer;
	/* The end of the SFTP channel: our exit-status, EOF and CLOSE sent
	 * (ending); closed both ways (over): the client, not us, then ends
	 * the connection (the idle timeout if it does not). */
	bool chan_ending, chan_over;
	/* The drain deadline came while its fsync or commit job ran
	 * (sftp_host_drain_end): that reply, then the session closes. */
	bool drain_end;
};

/* sftp_login.c: the session's own transfer rates, bytes/s (0 =
 * unlimited), in front of the server's [limits] rate_down/rate_up: the
 * policy of the user logged in (set at login). Applies from the next
 * request. */
void sftp_session_set_rate(struct sftp_session *s, uint64_t down, uint64_t up);

/* sftp_auth.c: the authentication requests (password, publickey; the
 * keyboard-interactive ones go on to sftp_auth_kbd.c). */
/* The methods a new connection announces. */
#define SFTP_AUTH_METHODS (SSH_AUTH_METHOD_PASSWORD | SSH_AUTH_METHOD_PUBLICKEY | SSH_AUTH_METHOD_INTERACTIVE)
/* An authentication request (owns msg). */
void sftp_auth_request(struct sftp_session *s, ssh_message msg);
/* The session closed: a check in flight finishes and frees it. */
void sftp_auth_cancel(struct sftp_session *s);
/* Gives back what a login holds (user slot, root, pending reply,
 * challenge lock). */
void sftp_auth_release(struct sftp_session *s);

/* sftp_auth_kbd.c: keyboard-interactive (password, RFC 2289 challenge,
 * password + TOTP code, the account). */
/* A keyboard-interactive request or response (s->auth_msg holds it). */
void sftp_kbd_request(struct sftp_session *s);
/* Releases the challenge lock (a job nobody waits for) and the state. */
void sftp_kbd_release(struct sftp_session *s);

/* sftp_login.c: what every method shares: the jobs on the pool, the
 * outcome (auth_event, the failure delay, the user's slot, the home). */
enum sftp_job_kind {
	SFTP_JOB_PASSWORD, /* auth_check(user, secret) */
	SFTP_JOB_KEY,	   /* auth_check_key(user, key) */
	SFTP_JOB_LOOKUP,   /* auth_lookup(lookup) -> ch */
	SFTP_JOB_LOGIN,	   /* auth_login(user, secret, ch) */
	SFTP_JOB_TOTP,	   /* auth_check_totp(user, secret) */
	SFTP_JOB_RELEASE,  /* auth_release(user, ch.lock); no session waits */
};
struct sftp_auth_job {
	struct job job;
	atomic_bool cancelled; /* the session closed: skip the work */
	enum sftp_job_kind kind;
	struct sftp_session *s; /* NULL for RELEASE */
	char *user, *secret;	/* secret: wiped when freed */
	struct user_key key;
	bool probe;	    /* KEY: offered without a signature */
	char *release_user; /* LOOKUP: an earlier challenge lock to release first */
	struct auth_lookup_req lookup;
	struct auth_challenge ch;
	struct auth_result res;
	/* On the loop after run, while the session is open; the job is freed
	 * afterwards. */
	void (*then)(struct sftp_session *s, struct sftp_auth_job *a);
};
/* A new job of kind for user (copied) that continues with then. */
struct sftp_auth_job *sftp_login_job(struct sftp_session *s, enum sftp_job_kind kind, const char *user,
				     void (*then)(struct sftp_session *s, struct sftp_auth_job *a));
/* Queues a on the pool; s waits for it (s->job). RELEASE jobs: no wait. */
void sftp_login_submit(struct sftp_session *s, struct sftp_auth_job *a);
/* USERAUTH_FAILURE for s->auth_msg now, listing s->methods. */
void sftp_login_reply_failure(struct sftp_session *s);
/* Wrong credentials: raised (auth_event FAILED), answered after [server]
 * login_fail_delay; max_login_failures close the connection. */
void sftp_login_failed(struct sftp_session *s, const char *user, const char *reason, const char *method,
		       const char *key);
/* The store failed: raised, answered, the connection closed. */
void sftp_login_store_error(struct sftp_session *s, const char *user, int err, const char *method);
/* Keeps good credentials (res moved) until the account is given. */
void sftp_login_hold(struct sftp_session *s, const char *user, struct auth_result *res, const char *method,
		     const char *key);
void sftp_login_hold_free(struct sftp_session *s);
/* Good credentials (res moved): the user's slot ([limits] max_per_user),
 * the home, USERAUTH_SUCCESS and the event; or a refusal and the close. */
void sftp_login_finish(struct sftp_session *s, const char *user, struct auth_result *res, const char *method,
		       const char *key);
/* sftp_proxy.c: [server] proxy_protocol on the SFTP listeners. */
/* The connection (its fd watched, no SSH yet) must come from proxy_from
 * and send a PROXY header within proxy_timeout; then ops->begin, else
 * ops->close. refuse, room_needed: kept for begin. */
void sftp_proxy_start(struct sftp_session *s, const char *refuse, bool room_needed);
/* The socket is readable while s->pp is set. */
void sftp_proxy_io(struct sftp_session *s);
void sftp_proxy_free(struct sftp_proxy *pp);

/* sftp_server.c: the SFTP requests of one channel, over core/files. */
struct sftp_server_conf {
	uint64_t sid;
	const char *user, *ip, *home; /* borrowed for the server's life */
	struct files_user fu;	      /* its vfs borrowed */
	struct files_sink sink;
	/* READ replies and WRITE data pass these buckets (borrowed; NULL =
	 * none): the session's own, then the server's */
	struct rate_bucket *own_down, *own_up, *srv_down, *srv_up;
	/* check-file (sftp_check.c): its job goes to jobs, its end comes back
	 * on loop and calls wake(wake_arg) (the session drives again); the
	 * user's [limits] hash_jobs slots are counted in hashlim (NULL: none) */
	struct loop *loop;
	struct jobs *jobs;
	struct hash_limit *hashlim;
	unsigned hash_jobs;
	void (*wake)(void *arg);
	void *wake_arg;
};
struct sftp_server *sftp_server_new(const struct sftp_server_conf *c);
/* Answers the whole packets at the front of in (consumed) into out while
 * out holds less than out_high bytes, at most *budget packets. 0, or
 * -EMSGSIZE/-EBADMSG when the stream is broken (close the channel), or
 * -EPROTO for a request before INIT. */
int sftp_server_feed(struct sftp_server *srv, struct buf *in, struct buf *out, size_t out_high, unsigned *budget);
/* The channel ended: open handles close (an upload not closed is
 * discarded, the old file stays), each transfer logged. */
void sftp_server_free(struct sftp_server *srv, bool lost);
/* `ferry status`: the file transfer open most recently (its event's
 * verb, path, bytes so far and the file's size now); false if none. */
bool sftp_server_transfer(const struct sftp_server *srv, const char **cmd, const char **path, uint64_t *bytes,
			  uint64_t *size);
/* After sftp_server_feed: microseconds until the request it held back for
 * a rate limit may go (drive again then), 0 = none held back. */
uint64_t sftp_server_rate_wait(const struct sftp_server *srv);
/* A request waits for a job (check-file): the session is not idle. */
bool sftp_server_waiting(const struct sftp_server *srv);
/* The request at the front of the input is a durable CLOSE or an
 * fsync@openssh.com whose job runs or has ended unanswered (sftp_sync.c):
 * the next sftp_server_feed after the job's end answers it. *what:
 * "commit" or "fsync"; *path: the file's virtual path (borrowed). */
bool sftp_server_syncing(const struct sftp_server *srv, const char **what, const char **path);

#endif
