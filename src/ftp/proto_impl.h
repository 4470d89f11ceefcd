/* proto_impl: the protocol state shared by proto.c, proto_state.c, cmdtab.c
 * and cmd_*.c. Nothing outside the protocol layer includes this. */
#ifndef FERRY_PROTO_IMPL_H
#define FERRY_PROTO_IMPL_H

#include <limits.h>
#include <netinet/in.h>

#include "files.h"
#include "hash.h"
#include "listing.h"
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

/* An IPv4 or IPv6 socket address in 28 bytes rather than a 128-byte
 * sockaddr_storage: every idle session carries two. */
union proto_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

struct cmdtab;

struct proto {
	const struct config *cfg;
	const struct cmdtab *cmds; /* the command table, for FEAT, HELP and SITE */
	uint64_t sid;
	const char *peer; /* borrowed from the session */
	struct buf out;
	bool out_overflow;

	/* input framing */
	char *line;
	size_t line_len;
	size_t line_cap; /* bytes allocated at line (grows for long RFC 2228 lines) */
	bool discarding; /* inside an over-long line: drop to its LF */
	enum telnet_state tn;
	unsigned char tn_cmd;

	/* login */
	enum login_state login;
	char *user;
	char *password; /* only while PASS's AUTH_CHECK runs */
	char *account;	/* account the user needs (LOGIN_ACCT) */
	char *home;
	uint32_t perms;
	unsigned failures;
	unsigned prelogin_cmds;		 /* commands since the connection or the last login */
	struct auth_challenge challenge; /* what USER found (LOGIN_USER) */
	/* A challenge lock outlives the login attempt that took it (REIN,
	 * AUTH): it is released by the next USER or PASS, or at close. */
	char *lock_user;
	uint64_t lock;

	/* virtual host (RFC 7151 HOST, TLS SNI): the [host NAME] selected
	 * (in cfg), NULL for the default host; what the SNI named */
	const struct config_vhost *vhost;
	const struct config_vhost *sni_vhost;
	bool sni_given;

	/* security (RFC 4217) */
	bool tls_available;   /* a certificate is configured */
	bool tls;	      /* the control connection is TLS now */
	bool pbsz;	      /* PBSZ received since TLS started */
	char prot;	      /* 'C' or 'P' */
	bool rein_after_stop; /* TLS_STOP for REIN (not CCC) */

	/* security (RFC 2228 GSSAPI) */
	const struct proto_gss_ops *gss_ops; /* NULL: no keytab, AUTH GSSAPI → 431 */
	void *gss_ctx;
	enum gss_state gss;
	bool gss_cleared;    /* a protected CCC: plaintext commands allowed again */
	char *gss_principal; /* the client's principal once GSS_ON */
	char *gss_local;     /* the user the default rule maps it to, or NULL */
	uint32_t pbsz_size;  /* PBSZ under GSSAPI (valid when pbsz) */
	char level;	     /* the running command's protection: 'C', 'S' (MIC), 'P' (ENC) */
	struct buf stage;    /* a reply under MIC/ENC, wrapped once complete */
	struct buf gss_tok;  /* decoded ADAT data while GSS_STEP runs */

	/* transfer parameters (RFC 959 §5.3.2) */
	char type; /* 'A' or 'I' */
	char *cwd; /* virtual path; heap, so an idle session stays small */

	/* files (valid while logged in) */
	struct vfs vfs;
	struct quota_user *quota;  /* borrowed from the session (proto_set_quota) */
	struct files_space *space; /* shared folders and dir-perms (NULL: none) */
	uint64_t rest;		   /* REST marker for the next RETR/STOR/APPE */
	char *rnfr;		   /* pending RNFR source (virtual path) */
	unsigned mlst_facts;	   /* OPTS MLST selection */
	/* HASH (draft-bryan-ftpext-hash) and RANG (draft-bryan-ftp-range),
	 * cmd_hash.c: the OPTS HASH selection (enum hash_alg; REIN resets
	 * it), a pending RANG for the next HASH, RETR or STOR (cleared like
	 * REST's marker, and by REST), and the running hash's reply. */
	unsigned char hash_alg;
	bool rang;
	uint64_t rang_start, rang_end;
	bool hash_x;			/* XCRC/XMD5/XSHA*: 250 with the hex only */
	unsigned char hash_running;	/* the running checksum's algorithm (enum hash_alg) */
	uint64_t hash_first, hash_last; /* the range the 213 names */
	char *hash_name;		/* the pathname as the client gave it */
	/* Metrics and hooks of the file service's events (files_event). */
	struct files_sink files_sink;
	/* Metrics and bans of a login's outcome (auth_event). */
	struct auth_sink auth_sink;

	/* data connection */
	bool data_ready; /* PASV/EPSV/PORT/EPRT done since the last transfer */
	bool data_passive;
	bool epsv_all;				    /* EPSV ALL: only EPSV may set up data connections */
	union proto_sockaddr local_addr, peer_addr; /* the control connection */
	char pasv_reply[96];			    /* PASV/EPSV reply being built */
	bool pasv_extended;

	/* running transfer */
	enum xfer_cmd xcmd;
	uint64_t xfer_start_ms;	   /* monotonic, for the logged duration */
	char verb[8];		   /* the running command's verb (upper case, XSHA512 the longest), for logs */
	char xfer_verb[8];	   /* the verb that started the running transfer */
	struct vfs_upload *upload; /* open upload (heap: only while one runs) */
	int xfer_fd;		   /* RETR's file; also a TYPE A SIZE's while it is counted */
	char *xfer_name;	   /* virtual path, for logs and replies */
	uint64_t xfer_bytes;
	struct listing *xfer_listing;
	struct buf xfer_buf; /* a one-entry listing */
	/* Commands that arrived during the transfer, run after it in order:
	 * records of one kind byte ('L' a line, 'T' a line that was too long),
	 * the line, '\n'. Bounded; input waits in the socket beyond it. */
	struct buf held;
	unsigned abor_count; /* ABORs received during this transfer */
	/* How the transfer ended, kept while a durable upload's commit runs
	 * (PROTO_EFFECT_UPLOAD_COMMIT) for the event and the replies after it. */
	struct {
		enum proto_xfer_status status;
		int err;
		uint64_t bytes;
		bool ctl_closed;
		unsigned abors;
	} xend;
	const char *setup_verb; /* "PORT" or "EPRT", for the 200 text */

	/* The pending effect (kind NONE: none). Its continuation travels with
	 * it (effect.then), so completion names no command file; a CLOSE never
	 * completes and an XFER keeps ABOR and STAT readable. */
	struct proto_effect effect;

	/* Clocks, given by the session (proto_set_now): proto reads none. */
	uint64_t now_ms; /* monotonic, for transfer durations */
	int64_t wall_s;	 /* seconds since the epoch, for listings */
};

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
	return p->effect.kind == PROTO_EFFECT_XFER;
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
