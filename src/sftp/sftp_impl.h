/* sftp_impl: what the libssh files of the SFTP front-end share (the host
 * keys, the session and its parts); nothing else includes it. Calls run
 * one way: sftp_ssh.c (the connection) → sftp_auth.c (logins) and
 * sftp_server.c (the SFTP requests) → sftp_files.c (handles). */
#ifndef FERRY_SFTP_IMPL_H
#define FERRY_SFTP_IMPL_H

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "auth.h"
#include "buf.h"
#include "files.h"
#include "guard.h"
#include "loop.h"
#include "rate.h"
#include "sftp.h"

#define SFTP_MAX_KEYS 4
/* The shortest RSA host key served. */
#define RSA_MIN_BITS 2048

struct sftp_keys {
	ssh_key keys[SFTP_MAX_KEYS];
	size_t n;
};

struct sftp_auth_job;
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

struct sftp_session {
	struct sftp_host *host;
	const struct sftp_conn_ops *ops;
	struct sftp_session *prev, *next;
	uint64_t id;
	const struct config *cfg;
	char peer[64];
	struct sockaddr_storage peer_addr;
	struct guard_key gkey;
	bool guarded;
	struct loop_watch watch;
	struct loop_timer login_timer, idle_timer, delay_timer;
	ssh_session ssh;
	ssh_event ev;
	bool kex_done;
	bool closed;  /* gone: freed once no job refers to it */
	bool driving; /* re-entrancy guard of sftp_drive */
	/* login (sftp_auth.c) */
	ssh_message auth_msg; /* a password request waiting for its check or its failure delay */
	struct sftp_auth_job *job;
	unsigned failures;
	char *user;	    /* once logged in */
	char *home;	    /* once logged in */
	uint32_t perms;	    /* once logged in */
	char *counted_user; /* [limits] max_per_user slot held */
	struct vfs vfs;	    /* the user's root once logged in */
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
};

/* sftp_auth.c */
/* The session's own transfer rates, bytes/s (0 = unlimited), in front of
 * the server's [limits] rate_down/rate_up: the policy of the user logged
 * in (set at login). Applies from the next request. */
void sftp_session_set_rate(struct sftp_session *s, uint64_t down, uint64_t up);
/* An authentication request (owns msg). */
void sftp_auth_request(struct sftp_session *s, ssh_message msg);
/* The session closed: a check in flight finishes and frees it. */
void sftp_auth_cancel(struct sftp_session *s);
/* Gives back what a login holds (user slot, root, pending reply). */
void sftp_auth_release(struct sftp_session *s);

/* sftp_server.c: the SFTP requests of one channel, over core/files. */
struct sftp_server_conf {
	uint64_t sid;
	const char *user, *ip, *home; /* borrowed for the server's life */
	struct files_user fu;	      /* its vfs borrowed */
	struct files_sink sink;
	/* READ replies and WRITE data pass these buckets (borrowed; NULL =
	 * none): the session's own, then the server's */
	struct rate_bucket *own_down, *own_up, *srv_down, *srv_up;
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
/* After sftp_server_feed: microseconds until the request it held back for
 * a rate limit may go (drive again then), 0 = none held back. */
uint64_t sftp_server_rate_wait(const struct sftp_server *srv);

#endif
