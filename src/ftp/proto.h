/* proto: the FTP protocol state machine. Bytes in → replies and effects out.
 * No I/O, no sockets, no clocks: anything that needs I/O or may block (a
 * password check, a timer, closing) is an *effect* that the session carries
 * out and reports back with proto_complete(). While an effect is pending no
 * further input is consumed, so pipelined commands wait their turn and their
 * replies come out in order. */
#ifndef FERRY_PROTO_H
#define FERRY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "auth.h"
#include "auth_event.h"
#include "buf.h"
#include "config.h"
#include "files.h"
#include "listing.h"

struct cmdtab;
struct proto;
struct proto_result;

/* TYPE A sizes are computed by reading the file, on the job pool; above
 * this they are not (SIZE answers 550, the RETR 150 reply gives no count),
 * so one command costs a pool thread a bounded time (Decision 6). */
#define ASCII_SIZE_LIMIT (64u * 1024u * 1024u)

enum proto_effect_kind {
	PROTO_EFFECT_NONE = 0,
	PROTO_EFFECT_USER_LOOKUP,   /* USER: the challenge for the name, if any (job pool) */
	PROTO_EFFECT_AUTH_CHECK,    /* verify user/password in the store (job pool) */
	PROTO_EFFECT_DELAY,	    /* wait delay_ms on a loop timer, then complete */
	PROTO_EFFECT_CLOSE,	    /* flush the output, then close; never completes */
	PROTO_EFFECT_DATA_SETUP,    /* PASV/EPSV: listen; PORT/EPRT: remember target */
	PROTO_EFFECT_XFER,	    /* run a transfer on the data connection */
	PROTO_EFFECT_TLS_START,	    /* flush the 234, drop buffered plaintext, TLS handshake */
	PROTO_EFFECT_TLS_STOP,	    /* flush the reply, then close_notify both ways: plaintext again */
	PROTO_EFFECT_GSS_STEP,	    /* ADAT: one GSSAPI security-context step (job pool) */
	PROTO_EFFECT_ASCII_SIZE,    /* TYPE A SIZE/RETR: count what TYPE A sends of a file (job pool) */
	PROTO_EFFECT_UPLOAD_COMMIT, /* a durable upload's commit: fsync, rename, fsync (job pool) */
	PROTO_EFFECT_LIST_READ,	    /* LIST/NLST pattern, STAT dir: read a directory (job pool) */
	PROTO_EFFECT_HASH,	    /* HASH, XCRC, XMD5, XSHA*: checksum a file range (job pool) */
};

/* How the next data connection is made (PASV/EPSV vs PORT/EPRT). */
struct proto_data_setup {
	bool passive;
	int family;			/* passive: AF_INET or AF_INET6 */
	struct sockaddr_storage target; /* active: where to connect */
};

enum proto_xfer_kind { XFER_SEND_FILE, XFER_RECV_FILE, XFER_SEND_LIST };

/* A transfer. The fds and the listing are borrowed from proto for the
 * duration of the effect; proto closes them when it completes. */
struct proto_xfer {
	enum proto_xfer_kind kind;
	int fd;			   /* SEND_FILE: file to read; RECV_FILE: file to write */
	uint64_t offset;	   /* SEND_FILE: where to start (REST) */
	uint64_t size;		   /* SEND_FILE: file size */
	bool ascii;		   /* TYPE A: LF <-> CRLF conversion */
	struct listing *listing;   /* SEND_LIST: stream a directory */
	struct buf *buf;	   /* SEND_LIST: or send these prepared bytes */
	bool abort;		   /* ABOR arrived: stop and complete with XFER_ABORTED */
	bool protect;		   /* PROT P: the data connection is TLS (server side) */
	char gss_prot;		   /* GSSAPI PROT S or P: RFC 2228 §6 wrapped blocks; 0 = clear */
	uint32_t pbsz;		   /* with gss_prot: largest wrapped block either way (PBSZ) */
	bool durable;		   /* RECV_FILE: the commit will fsync ([transfer] fsync): write behind */
	struct vfs_upload *upload; /* RECV_FILE: its writes ask files_upload_ask (quotas) */
};

enum proto_xfer_status {
	XFER_OK = 0,
	XFER_NO_CONNECTION, /* 425: could not open the data connection */
	XFER_CONN_LOST,	    /* 426: the data connection broke */
	XFER_ABORTED,	    /* ABOR */
	XFER_LOCAL_ERROR,   /* 451: reading or writing the file failed (err says why) */
	XFER_TLS_FAILED,    /* 522: the data connection's TLS handshake failed */
	XFER_TLS_NO_REUSE,  /* 522: it did not resume the control connection's session */
	XFER_PROT_FAILED,   /* 535: a protected block was bad or larger than PBSZ (RFC 2228 §6) */
};

struct proto_effect {
	enum proto_effect_kind kind;
	const char *user;			/* USER_LOOKUP, AUTH_CHECK; borrowed until proto_complete */
	const char *password;			/* AUTH_CHECK; borrowed, wiped after completion */
	const struct auth_challenge *challenge; /* AUTH_CHECK: what USER got (borrowed) */
	struct auth_lookup_req lookup;		/* USER_LOOKUP (strings borrowed) */
	/* AUTH_CHECK after a GSSAPI exchange (password NULL): may this
	 * principal log in as user? principal_default: the default rule
	 * (name@DEFAULT.REALM) already says yes; the user must still exist. */
	const char *principal;
	bool principal_default;
	struct slice gss_token;	      /* GSS_STEP: the decoded ADAT data, borrowed */
	uint32_t delay_ms;	      /* DELAY */
	struct proto_data_setup data; /* DATA_SETUP */
	struct proto_xfer xfer;	      /* XFER (abort may turn true while pending) */
	/* ASCII_SIZE: reading a whole file (up to ASCII_SIZE_LIMIT bytes, else
	 * -EFBIG) takes tens of milliseconds, too long for the loop. count_fd
	 * is borrowed (proto closes it); the result is r->err or r->bytes. */
	int count_fd;
	/* UPLOAD_COMMIT: a complete upload whose commit waits for the disk
	 * ([transfer] fsync). The session takes it: it ends it with
	 * files_upload_end(upload, true, false) off the loop, whatever happens
	 * to the connection meanwhile, and completes with that result in
	 * r->err (the 226 or the 451 waits for it). */
	struct vfs_upload *upload;
	/* LIST_READ: a directory on slow storage may take any time to read,
	 * so it is read on the job pool. list_read (borrowed: proto frees it)
	 * is peeked when list_out is NULL (is there an entry to list? r->bytes
	 * 1 or 0), else read into list_out (borrowed) until the listing ends
	 * (r->bytes 0) or list_out is full (1), list_step bytes at a time
	 * (listing_read_all). r->err < 0: the directory could not be read. */
	struct listing *list_read;
	struct buf *list_out;
	size_t list_step;
	/* HASH: hash_count bytes of hash_fd (borrowed: proto closes it) from
	 * hash_offset with hash_alg (enum hash_alg, core/hash.h), bounded by
	 * the user's [limits] hash_jobs (the session answers -EBUSY when they
	 * are all in use). Result: r->err, else r->hash_hex. */
	int hash_fd;
	unsigned hash_alg;
	uint64_t hash_offset, hash_count;
	const char *hash_path; /* the path as the client gave it, for the log (borrowed) */
	/* Every effect but CLOSE: the command's continuation, which
	 * proto_complete calls with the result (internal to proto). */
	void (*then)(struct proto *p, const struct proto_result *r);
};

struct proto_result {
	struct auth_result *auth;		/* AUTH_CHECK: proto takes the strings (and clears them) */
	const struct auth_challenge *challenge; /* USER_LOOKUP (copied) */
	/* DATA_SETUP (passive): the port listened on, or err < 0 */
	uint16_t port;
	int err;
	/* TLS_START / TLS_STOP: err < 0 if the handshake or shutdown failed */
	/* XFER */
	enum proto_xfer_status xfer_status;
	uint64_t bytes; /* XFER: bytes moved; ASCII_SIZE: the count (err < 0: failed) */
	/* UPLOAD_COMMIT: err is files_upload_end's result */
	/* an upload that ended because the control connection was gone (a
	 * killed client): never committed, logged reason=control-closed */
	bool ctl_closed;
	/* GSS_STEP (all borrowed until proto_complete returns): gss_status is
	 * -1 failed (gss_error says why), 0 more data needed, 1 complete;
	 * gss_reply the token for the client (may be empty); on completion
	 * the client's principal and the user the default rule maps it to. */
	int gss_status;
	struct slice gss_reply;
	const char *gss_error, *gss_principal, *gss_local;
	/* HASH: the lowercase hex digest (borrowed until proto_complete
	 * returns); err -EBUSY: the user's hash_jobs are all running. */
	const char *hash_hex;
};

/* RFC 2228 protection for the control connection, provided by the session
 * (gss.c) so the protocol layer stays free of GSSAPI: it sees opaque bytes.
 * wrap/unwrap append to out; unwrap fails (-EBADMSG) for a bad, replayed or
 * out-of-order token; reset deletes the security context (AUTH, REIN). */
struct proto_gss_ops {
	int (*wrap)(void *ctx, bool conf, struct slice plain, struct buf *out);
	int (*unwrap)(void *ctx, struct slice token, struct buf *out, bool *conf);
	void (*reset)(void *ctx);
};

/* Why the session ends from outside (421): EVICTED = the server is full and
 * this connection, the oldest not logged in, makes room for a new one. */
enum proto_timeout_kind { PROTO_TIMEOUT_IDLE, PROTO_TIMEOUT_LOGIN, PROTO_TIMEOUT_SHUTDOWN, PROTO_TIMEOUT_EVICTED };

/* Creates a protocol state for one control connection. cfg is borrowed and
 * must outlive the proto (the session holds a reference); cmds is the
 * command table the dispatcher reads (cmdtab_get(), borrowed: static); peer
 * is the client's address as text (borrowed: it must outlive the proto, as
 * the session's copy does), used in STAT and logs. */
struct proto *proto_new(const struct config *cfg, const struct cmdtab *cmds, uint64_t sid, const char *peer);
void proto_free(struct proto *p);

/* Queues the 220 greeting. */
void proto_greet(struct proto *p);
/* Virtual hosts (RFC 7151, [host NAME]): after a TLS handshake the session
 * passes the client's server name (SNI; NULL if none), which selects the
 * host when no HOST did. proto_vhost_name: the [host] selected, or NULL. */
void proto_set_sni(struct proto *p, const char *sni);
const char *proto_vhost_name(const struct proto *p);
/* Queues "421 text" for a connection refused at accept (e.g. server full)
 * and makes CLOSE the pending effect. */
void proto_refuse(struct proto *p, const char *text);

/* Consumes input. *used is how many bytes were taken; the rest must be fed
 * again after the pending effect completes. Returns 0, or -ENOBUFS when the
 * output would exceed its cap (the session must close). */
int proto_feed(struct proto *p, const char *bytes, size_t len, size_t *used);
/* As proto_feed, but runs at most *budget commands (each one run takes one
 * off) and then stops taking input, effect or not: the session's share of
 * a loop round, so one client's pipelined commands cannot hold up others. */
int proto_feed_some(struct proto *p, const char *bytes, size_t len, unsigned *budget, size_t *used);

/* Commands that waited for a transfer are still to run: feed proto (even
 * with no new input) once nothing is pending. */
bool proto_has_held(const struct proto *p);
/* Pending effect, or NULL. */
const struct proto_effect *proto_effect(const struct proto *p);
/* Reports the outcome of the pending effect (r may be NULL for DELAY). */
void proto_complete(struct proto *p, const struct proto_result *r);
/* The clocks, given by the session before it feeds input or completes an
 * effect: proto reads none itself (a transcript sets them). now_ms is
 * monotonic (transfer durations), wall_s seconds since the epoch (the
 * six-month rule of LIST dates). */
void proto_set_now(struct proto *p, uint64_t now_ms, int64_t wall_s);
/* Where the file service's events go besides the logs (metrics, upload
 * hooks; files.h); the pointers are borrowed for the session's life. */
void proto_set_files_sink(struct proto *p, struct files_sink sink);
/* The logged-in user's quota (core/quota.h; NULL: none), borrowed: the
 * session keeps its reference until proto_free or the next call. */
void proto_set_quota(struct proto *p, struct quota_user *q);
/* Where login outcomes are counted (metrics, the address's ban; the
 * pointers are borrowed for the session's life): every login this proto
 * decides is raised once through auth_event() (core/auth_event.h). */
void proto_set_auth_sink(struct proto *p, struct auth_sink sink);
/* The running transfer, for `ferry status`: false when none; otherwise
 * its verb and virtual path (borrowed) and, for a download, the file's
 * size (0 otherwise). */
bool proto_xfer_running(const struct proto *p, const char **verb, const char **path, uint64_t *size);
/* A durable upload's commit (PROTO_EFFECT_UPLOAD_COMMIT) is pending: its
 * reply (226 or 451) comes once it ends. *path: the upload's virtual path
 * (borrowed). */
bool proto_committing(const struct proto *p, const char **path);

/* A timer of the session fired: queues 421 and a CLOSE effect. */
void proto_timeout(struct proto *p, enum proto_timeout_kind kind);

/* TLS on the control connection: available = a certificate is configured
 * (AUTH TLS is offered); implicit = the connection is TLS from the start
 * (implicit FTPS listener). Call before the first command. */
void proto_set_tls(struct proto *p, bool available, bool implicit);

/* GSSAPI on the control connection (AUTH GSSAPI is offered when ops is not
 * NULL); ops and ctx are borrowed for the proto's lifetime. Call before the
 * first command. */
void proto_set_gss(struct proto *p, const struct proto_gss_ops *ops, void *ctx);

/* While a transfer runs: bytes moved so far, for STAT. */
void proto_xfer_progress(struct proto *p, uint64_t bytes);

/* The control connection's addresses, for PASV replies and PORT checks.
 * Must be set before the first command is fed. */
void proto_set_addrs(struct proto *p, const struct sockaddr_storage *local, const struct sockaddr_storage *peer);

/* Replies waiting to be sent; the session consumes what it wrote. */
struct buf *proto_output(struct proto *p);
/* Between bursts: releases what only a running effect needs, so an idle
 * session holds no more than struct proto (the pointer proto_effect()
 * returned is then gone; nothing may be pending). */
void proto_trim(struct proto *p);

bool proto_logged_in(const struct proto *p);
/* Logged in, or good credentials waiting for ACCT (332): the login holds
 * the user's session slot ([limits] max_per_user, max-sessions) exactly
 * while this is true (a failed ACCT, REIN, USER and AUTH end it). */
bool proto_login_holds_slot(const struct proto *p);
/* True if a QUIT is queued behind the running transfer. */
bool proto_quit_queued(const struct proto *p);
/* Name of the logged-in (or pending) user, or NULL. */
const char *proto_user(const struct proto *p);
/* The challenge lock (RFC 2289 §9) this connection holds, if any: the
 * session releases it when the connection closes. *user is borrowed. */
bool proto_challenge_lock(const struct proto *p, const char **user, uint64_t *lock);

#endif
