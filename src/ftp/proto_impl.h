/* proto_impl: the protocol state shared by proto.c, proto_state.c, cmdtab.c
 * and cmd_*.c. Nothing outside the protocol layer includes this. */
#ifndef FERRY_PROTO_IMPL_H
#define FERRY_PROTO_IMPL_H

#include <limits.h>
#include <netinet/in.h>

#include "files.h"
#include "hash.h"
#include "listing.h"
#include "net.h"
#include "proto.h"
#include "str.h"
#include "vfs.h"

enum login_state {
	LOGIN_NONE, /* nothing yet, or after a failure / REIN */
	LOGIN_USER, /* USER answered 331: PASS expected */
	LOGIN_ACCT, /* PASS answered 332: ACCT expected */
	LOGIN_DONE, /* 230 sent */
};

/* RFC 2228 §2.2 security states for GSSAPI (PROTOCOL.md §2.2 S0/S1/S2). */
enum gss_state { GSS_OFF, GSS_NEED_ADAT, GSS_ON };

/* What the running transfer is, so completion can reply and clean up. */
enum xfer_cmd { XCMD_RETR, XCMD_STOR, XCMD_APPE, XCMD_STOU, XCMD_LIST };

enum telnet_state { TN_DATA, TN_IAC, TN_OPT, TN_SB, TN_SB_IAC };

struct cmdtab;

/* RFC 2228 GSSAPI state only a session that uses AUTH GSSAPI needs: made
 * on first use (proto_gss_state), so an idle session does not carry it. */
struct proto_gss_state {
	struct buf stage; /* a reply under MIC/ENC, wrapped once complete */
	struct buf tok;	  /* decoded ADAT data while GSS_STEP runs */
	char *principal;  /* the client's principal once GSS_ON */
	char *local;	  /* the user the default rule maps it to, or NULL */
};

/* One per FTP session, idle ones included: memory per idle session is a
 * benchmark target (issue 15: <= 2 KiB plain, bench/ "Memory per idle
 * session"), so what only a running command, transfer or effect needs
 * lives on the heap while it runs (effect, line, upload, listings, the
 * buffers), and the fields are ordered to leave no padding. proto.c
 * asserts the size (PROTO_SIZE_BUDGET). */
struct proto {
	const struct config *cfg;
	const struct cmdtab *cmds; /* the command table, for FEAT, HELP and SITE */
	uint64_t sid;
	const char *peer; /* borrowed from the session */
	struct buf out;

	/* input framing */
	char *line;
	size_t line_len;
	size_t line_cap; /* bytes allocated at line (grows for long RFC 2228 lines) */
	enum telnet_state tn;
	unsigned char tn_cmd;
	bool discarding; /* inside an over-long line: drop to its LF */
	bool out_overflow;

	/* security (RFC 4217) */
	bool tls_available;   /* a certificate is configured */
	bool tls;	      /* the control connection is TLS now */
	bool pbsz;	      /* PBSZ received since TLS started */
	char prot;	      /* 'C' or 'P' */
	bool rein_after_stop; /* TLS_STOP for REIN (not CCC) */

	/* login */
	enum login_state login;
	uint32_t perms;
	unsigned failures;
	unsigned prelogin_cmds; /* commands since the connection or the last login */
	unsigned mlst_facts;	/* OPTS MLST selection */
	char *user;
	char *password; /* only while PASS's AUTH_CHECK runs */
	char *account;	/* account the user needs (LOGIN_ACCT) */
	char *home;
	/* What USER found (LOGIN_USER): on the heap from USER's answer until
	 * the login ends (cmd_login_ok, proto_logout); NULL: none. */
	struct auth_challenge *challenge;
	/* A challenge lock outlives the login attempt that took it (REIN,
	 * AUTH): it is released by the next USER or PASS, or at close. */
	char *lock_user;
	uint64_t lock;

	/* virtual host (RFC 7151 HOST, TLS SNI): the [host NAME] selected
	 * (in cfg), NULL for the default host; what the SNI named */
	const struct config_vhost *vhost;
	const struct config_vhost *sni_vhost;

	/* security (RFC 2228 GSSAPI) */
	const struct proto_gss_ops *gss_ops; /* NULL: no keytab, AUTH GSSAPI → 431 */
	void *gss_ctx;
	struct proto_gss_state *gx; /* NULL until GSSAPI is used */
	enum gss_state gss;
	uint32_t pbsz_size; /* PBSZ under GSSAPI (valid when pbsz) */
	char level;	    /* the running command's protection: 'C', 'S' (MIC), 'P' (ENC) */
	bool gss_cleared;   /* a protected CCC: plaintext commands allowed again */
	bool sni_given;

	/* transfer parameters (RFC 959 §5.3.2) */
	char type; /* 'A' or 'I' */

	/* HASH (draft-bryan-ftpext-hash) and RANG (draft-bryan-ftp-range),
	 * cmd_hash.c: the OPTS HASH selection (enum hash_alg; REIN resets
	 * it), a pending RANG for the next HASH, RETR or STOR (cleared like
	 * REST's marker, and by REST), and the running hash's reply. */
	unsigned char hash_alg;
	bool rang;
	bool hash_x;		    /* XCRC/XMD5/XSHA*: 250 with the hex only */
	unsigned char hash_running; /* the running checksum's algorithm (enum hash_alg) */
	uint64_t rang_start, rang_end;
	uint64_t hash_first, hash_last; /* the range the 213 names */
	char *hash_name;		/* the pathname as the client gave it */

	char *cwd; /* virtual path; heap, so an idle session stays small */

	/* files (valid while logged in) */
	struct vfs vfs;
	struct quota_user *quota;  /* borrowed from the session (proto_set_quota) */
	struct files_space *space; /* shared folders and dir-perms (NULL: none) */
	uint64_t rest;		   /* REST marker for the next RETR/STOR/APPE */
	char *rnfr;		   /* pending RNFR source (virtual path) */
	/* Metrics and hooks of the file service's events (files_event). */
	struct files_sink files_sink;
	/* Metrics and bans of a login's outcome (auth_event). */
	struct auth_sink auth_sink;

	/* data connection */
	union net_sockaddr local_addr, peer_addr; /* the control connection (net.h: 28 bytes each) */
	bool data_ready;			  /* PASV/EPSV/PORT/EPRT done since the last transfer */
	bool data_passive;
	bool epsv_all; /* EPSV ALL: only EPSV may set up data connections */
	bool pasv_extended;

	/* running transfer */
	enum xfer_cmd xcmd;
	int xfer_fd;		   /* RETR's file; also a TYPE A SIZE's while it is counted */
	unsigned abor_count;	   /* ABORs received during this transfer */
	char verb[8];		   /* the running command's verb (upper case, XSHA512 the longest), for logs */
	char xfer_verb[8];	   /* the verb that started the running transfer */
	uint64_t xfer_start_ms;	   /* monotonic, for the logged duration */
	struct vfs_upload *upload; /* open upload (heap: only while one runs) */
	char *xfer_name;	   /* virtual path, for logs and replies */
	uint64_t xfer_bytes;
	struct listing *xfer_listing;
	struct buf xfer_buf; /* a one-entry listing */
	/* Commands that arrived during the transfer, run after it in order:
	 * records of one kind byte ('L' a line, 'T' a line that was too long),
	 * the line, '\n'. Bounded; input waits in the socket beyond it. */
	struct buf held;
	/* How the transfer ended, kept while a durable upload's commit runs
	 * (PROTO_EFFECT_UPLOAD_COMMIT) for the event and the replies after it. */
	struct {
		enum proto_xfer_status status;
		int err;
		uint64_t bytes;
		unsigned abors;
		bool ctl_closed;
	} xend;
	const char *setup_verb; /* "PORT" or "EPRT", for the 200 text */

	/* The pending effect (NULL or kind NONE: none), on the heap from its
	 * start until the session is idle again (proto_trim): an idle session
	 * does not carry its 400 bytes. Its continuation travels with it
	 * (effect->then), so completion names no command file; a CLOSE never
	 * completes and an XFER keeps ABOR and STAT readable. */
	struct proto_effect *effect;

	/* Clocks, given by the session (proto_set_now): proto reads none. */
	uint64_t now_ms; /* monotonic, for transfer durations */
	int64_t wall_s;	 /* seconds since the epoch, for listings */
};

/* p->gx, made on first use. */
struct proto_gss_state *proto_gss_state(struct proto *p);

/* What is pending: PROTO_EFFECT_NONE when nothing is. */
static inline enum proto_effect_kind proto_effect_kind(const struct proto *p)
{
	return p->effect ? p->effect->kind : PROTO_EFFECT_NONE;
}

/* Reply helpers: append to p->out, remembering an overflow. */
void proto_reply(struct proto *p, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void proto_reply_begin(struct proto *p, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void proto_reply_cont(struct proto *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void proto_reply_end(struct proto *p, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Starts an effect; the handler returns right after. e.then (NULL for
 * CLOSE) is what proto_complete calls with the result. */
void proto_start_effect(struct proto *p, struct proto_effect e);
/* The pending effect is a transfer (ABOR and STAT are still read). */
static inline bool proto_in_xfer(const struct proto *p)
{
	return proto_effect_kind(p) == PROTO_EFFECT_XFER;
}
/* Queues "421 text" and the CLOSE effect. */
void proto_close_with(struct proto *p, const char *text);
/* Replaces *dst with a copy of s (frees the old string). */
void proto_set_str(char **dst, const char *s);
/* Forgets the user (USER, REIN, AUTH): login state back to none. */
void proto_logout(struct proto *p);
/* Resets transfer parameters to the RFC 959 defaults (TYPE A N, MODE S, STRU F). */
void proto_reset_params(struct proto *p);

/* Starts the ASCII_SIZE effect for fd (borrowed: the caller keeps it open
 * until then runs, which proto_complete calls with the count). */
void proto_count_ascii(struct proto *p, int fd, void (*then)(struct proto *, const struct proto_result *));
/* Starts the LIST_READ effect (proto.h): peeks l (out NULL) or reads it
 * into out; both borrowed until then() runs. */
void proto_read_listing(struct proto *p, struct listing *l, struct buf *out, size_t step,
			void (*then)(struct proto *, const struct proto_result *));

/* Replies for a failed file operation (errno → 450/550/552/553/451). */
void proto_reply_errno(struct proto *p, int err);
/* Joins arg onto the cwd into out (PATH_MAX); replies 553 itself and
 * returns false if the name cannot be used. */
bool proto_resolve(struct proto *p, struct slice arg, char *out);
/* The file service's permission decision (files_allow) for op; a refusal
 * is answered (550) and false returned. */
bool proto_allow(struct proto *p, enum files_op op);
/* The session's user for the file service (files.h); borrows p. */
struct files_user proto_files_user(struct proto *p);
/* files_resolve for op: arg joined onto the cwd into vpath (PATH_MAX);
 * a refusal (550) or a name that cannot be used (553) is answered and
 * false returned. */
bool proto_files_resolve(struct proto *p, enum files_op op, struct slice arg, char *vpath);

/* Decision 14: if arg's last component is a pattern (and no entry has that
 * very name), opens a listing of the matching entries of its directory,
 * keeps it in p->xfer_listing and its directory in p->xfer_name, and looks
 * for a first match on the job pool (LIST_READ: the directory may be large
 * and slow); then() gets the result (proto_list_glob_found says what to
 * do). Returns 1 when that was started, 0 when arg is not a pattern (list
 * it as a path), -1 after replying (550...). */
int proto_list_glob(struct proto *p, struct slice arg, enum listing_format fmt, const struct listing_opts *o,
		    void (*then)(struct proto *, const struct proto_result *));
/* In proto_list_glob's then(): true when p->xfer_listing has a match to
 * list; else it was freed and the reply given (450 no match, or the read
 * error). */
bool proto_list_glob_found(struct proto *p, const struct proto_result *r);

/* RFC 2228 §10: base64 arguments of ADAT, MIC, CONF and ENC must not be
 * refused for their length (a Kerberos ticket with authorization data can
 * be many KiB), so those lines may be this long whatever [server] max_line
 * says, when GSSAPI is offered; the command inside MIC/ENC still obeys
 * max_line. */
#define PROTO_SEC_LINE_MAX (32u * 1024u)

#endif
