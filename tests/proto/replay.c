/* proto_replay: replays a protocol transcript against the real protocol state
 * machine (src/ftp/proto.c and the command handlers) with no sockets, no timers
 * and no user database. It plays the part of the session: it feeds client
 * bytes, checks the reply bytes proto produces and carries out its effects
 * from a fake user table.
 *
 * Usage: proto_replay [-v] FILE.t
 *   Exit 0 when every step matched; 1 at the first mismatch, with one line
 *   "FILE:LINE: expected ... got ..." on stderr; 2 for a usage error or a
 *   malformed transcript. -v leaves proto's log lines (level debug) on stderr.
 *
 * Transcript format: one step per line. Text after the directive is taken
 * literally, trailing spaces included (only the line end is stripped).
 *
 *   # comment             ignored, as are blank lines
 *   set KEY VALUE         config, before the first step that touches proto
 *                         (greet, C:, C<, S:, S<, E:, T:). Keys: max_line,
 *                         max_login_failures, prelogin_commands, login_fail_delay_ms (decimal),
 *                         family (4 or 6: the control connection's addresses,
 *                         see below) and banner (the rest of the line).
 *   user NAME PASSWORD [account=ACCT] [disabled] [otp=ALG:N:SEED] [totp]
 *        [reply=331|336] [busy] [exhausted] [shared]
 *                         adds a user to the fake store; may appear anywhere.
 *                         PASSWORD takes the C< escapes (\x20 for a space:
 *                         a six-word OTP). otp=: USER gets the RFC 2289
 *                         challenge "otp-ALG N SEED" and a successful PASS
 *                         reports N-1 one-time passwords left; totp: the
 *                         TOTP form; reply=: the user's own challenge form;
 *                         busy: another connection holds the challenge;
 *                         exhausted: no one-time passwords are left;
 *                         shared: another connection holds the challenge
 *                         lock, so this one gets the challenge without it.
 *   USER_LOOKUP effects (every USER) are completed from this table as soon
 *   as they appear, unless "set lookup manual": then each one waits for
 *                E: USER_LOOKUP NAME [ERROR | release=USER]
 *                         (ERROR: the store fails; release=: the lookup must
 *                         hand back the challenge lock USER's lookup took). Unknown names get a
 *                         password prompt, or with "set otp_unknown 1" the
 *                         made-up challenge "otp-md5 123 fake0".
 *                         "set otp_challenge 336" is [otp] challenge = 336.
 *                         Challenges other than password ones hold a lock
 *                         token, which the AUTH_CHECK must carry back.
 *   greet                 proto_greet() (queues the 220).
 *   C: text               feeds text + "\r\n".
 *   C< bytes              feeds bytes with C escapes (\r \n \t \\ \xHH) and
 *                         no line end added.
 *                         Bytes that proto leaves unconsumed because an effect
 *                         is pending are kept and fed again, in order, after
 *                         that effect completes (as the session does). While
 *                         the pending effect is XFER, input is still fed (as
 *                         the session does) until proto stops taking it.
 *   S: text               the next reply line in proto's output must be
 *                         exactly text + "\r\n".
 *   S< bytes              the next raw output bytes must equal the escaped
 *                         bytes (Telnet answers such as \xff\xfe\x01).
 *   S-                    the output must be empty now (nothing answered yet).
 *   E: AUTH_CHECK NAME    the pending effect must be AUTH_CHECK for user NAME
 *                         (which may use the C< escapes, e.g. a\xffb);
 *                         it is resolved from the user table (ok iff the user
 *                         exists, is enabled and the password matches; the
 *                         user's account becomes auth_result.account, home is
 *                         a temporary directory made for the run (every user
 *                         shares it), perms PERM_ALL) and completed.
 *   E: AUTH_ERROR NAME    as AUTH_CHECK, but the store "fails" (err = -EIO).
 *   E: DELAY MS           the pending effect must be DELAY of MS ms; completed.
 *   E: CLOSE              the pending effect must be CLOSE; nothing may be fed
 *                         after it (it may be repeated, e.g. after a T: line).
 *   E: NONE               no effect may be pending.
 *   E: ENOBUFS            proto_feed must have failed with -ENOBUFS (the
 *                         client does not read its replies and the output
 *                         reached its cap): the session is closed without
 *                         flushing, so nothing may be fed after it and the
 *                         output is not checked at the end. Any other step
 *                         after an unexpected -ENOBUFS is a mismatch.
 *   T: IDLE|LOGIN|SHUTDOWN  proto_timeout() of that kind.
 *   X: COMPLETE           proto_complete(NULL) whatever is pending: models a
 *                         session timer or job that finishes after a timeout
 *                         replaced its effect with CLOSE.
 * A LIST_READ effect (a listing pattern's first match, STAT of a directory:
 * the session reads the directory on the job pool) is carried out at once,
 * as USER_LOOKUP is: transcripts see only its outcome.
 *
 * The home directory (every user's root) starts empty and is removed with
 * everything in it after the run (symlinks are not followed). NAMEs are
 * relative to it and take the C< escapes (\x20 for a space); directives may
 * appear anywhere (usually before the first C: line):
 *   file NAME CONTENT     creates NAME (parent directories as needed) holding
 *                         the escaped CONTENT (empty if omitted).
 *   mkdir NAME            creates a directory (parents as needed).
 *   symlink NAME TARGET   creates a symlink NAME -> TARGET (TARGET literal).
 *   mtime NAME SECONDS    sets NAME's modification time (utimensat).
 *   clock SECONDS [MS]    the clocks proto is given (proto_set_now): wall
 *                         time SECONDS since the epoch (LIST dates) and, if
 *                         given, the monotonic clock MS. Until then both are
 *                         the real clocks at the start of the run; they do
 *                         not move by themselves.
 *   F: NAME CONTENT       NAME must be a regular file holding exactly CONTENT.
 *   F! NAME               NAME must not exist (lstat).
 *   D: NAME               NAME must be a directory (lstat: not a symlink).
 *                         In these three a NAME with * ? or [ is a glob(3)
 *                         pattern (names the server chooses: STOU, upload
 *                         temporaries): F: and D: need exactly one match, F!
 *                         none.
 *
 * Transfers (the session's data channel is played by the replayer):
 *   S~ REGEX              the next reply line (without its CRLF) must match
 *                         the POSIX extended REGEX as a whole.
 *   E: DATA_SETUP PASSIVE [FAIL]
 *                         the pending effect must be a passive DATA_SETUP for
 *                         the control connection's family; completed with
 *                         port 50000 (FAIL: err = -EADDRINUSE).
 *   E: DATA_SETUP ACTIVE ADDR:PORT
 *                         an active DATA_SETUP whose target is ADDR:PORT
 *                         ([v6]:PORT for IPv6); completed.
 *   E: XFER SEND_FILE|RECV_FILE|SEND_LIST [KEY=VALUE ...]
 *                         the pending effect must be XFER of that kind, with
 *                         a usable fd (files) and, for each KEY given, that
 *                         value: offset=N size=N ascii=0|1 abort=0|1
 *                         protect=0|1 (TLS) gss=0|1|2 (GSSAPI PROT C|S|P)
 *                         pbsz=N;
 *                         content=ESCAPED: SEND_FILE: the fd holds exactly
 *                         these bytes from offset to its end (read with
 *                         pread); SEND_LIST: the listing's lines, compared in
 *                         any order (it drains the listing); lines=N:
 *                         SEND_LIST produced N lines. The effect stays
 *                         pending: C: lines are still fed (proto reads ABOR
 *                         and STAT, and holds one other command).
 *   E: ABORT_REQUESTED    the pending XFER effect has abort == true.
 *   E: ASCII_SIZE [FAIL]  the pending effect must be ASCII_SIZE (TYPE A SIZE
 *                         or RETR: the count is read on the job pool); it
 *                         is counted from its fd as the session's job does
 *                         and completed (FAIL: with err = -EIO).
 *   P: N                  proto_xfer_progress(p, N).
 *   X: XFER_DONE OK BYTES [data=ESCAPED]
 *   X: XFER_DONE LOST|NOCONN|ABORTED [BYTES] [data=ESCAPED]
 *   X: XFER_DONE LOCAL_ERROR ERRNO [BYTES] [data=ESCAPED]
 *   X: XFER_DONE TLS_FAILED|TLS_NO_REUSE|PROT_FAILED [BYTES]
 *                         completes the pending XFER with that status
 *                         (ERRNO: a name such as ENOSPC, or a number); data=
 *                         (RECV_FILE only) is first written to the effect's
 *                         fd with write(2), as the session writes uploads
 *                         (already converted: TYPE A CRLF -> LF is not done
 *                         here).
 *
 * proto runs with the built-in config (config_new_default() plus the set
 * lines), session id 1, peer "192.0.2.1" (what STAT shows) and the addresses
 * local 192.0.2.10:21, peer 192.0.2.1:40000 (proto_set_addrs). "set family 6"
 * switches to local [2001:db8::10]:21, peer [2001:db8::1]:40000.
 * "set tls available" offers AUTH TLS (a certificate is configured), "set tls
 * implicit" starts the connection as TLS; "set tls_required N" sets [tls]
 * required (0 none, 1 login, 2 data, 3 all). E: TLS_START [FAIL] and
 * E: TLS_STOP [FAIL] check the pending TLS effect and report the session's
 * handshake or shutdown as done (or failed).
 *
 * GSSAPI (RFC 2228), with the stand-in of replay_gss.c (a wrapped token is
 * the level byte S or P and the plaintext): "set gss available" offers AUTH
 * GSSAPI, "set gss_required 0|1" sets [gssapi] required.
 *   E: GSS_STEP TOKEN CONTINUE|COMPLETE|FAIL [reply=ESCAPED] [principal=P] [local=L]
 *                         the pending effect must be GSS_STEP for the
 *                         decoded ADAT bytes TOKEN (escaped); completed with
 *                         that status, reply token, principal and the user
 *                         the default rule gives it. E: AUTH_CHECK for a
 *                         USER after the exchange succeeds iff the user
 *                         exists, is enabled and local= named it.
 *   C{S}: text / C{P}: text   sends text as MIC / ENC.
 *   S{S}: text / S{P}: text   the next line of the protected replies: a 631 /
 *                         632 reply is unwrapped whole (all its fragments,
 *                         each at that level) and then checked line by line.
 *
 * At the end of the file the output must be empty (no unexpected replies) and
 * no effect may be pending unless the last step was "E: CLOSE" (or the session
 * ended with "E: ENOBUFS"). An effect still
 * pending when the next C: line comes is fine (the bytes queue), but an S: step
 * while an effect is pending and the output is empty is a mismatch. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"
#include "cmdtab.h"
#include "config.h"
#include "hash.h"
#include "listing.h"
#include "log.h"
#include "parse.h"
#include "proto.h"
#include "replay_gss.h"
#include "str.h"
#include "util.h"
#include "vfs.h"

/* The home directory every fake user logs into: login opens it as the
 * session's root (vfs), so it must exist. */
static char g_home[] = "/tmp/ferry-replay-XXXXXX";

#define REPLAY_MAX_USERS 64
#define REPLAY_IN_MAX (16u * 1024u * 1024u)
/* How many bytes of a mismatching value are shown. */
#define REPLAY_SHOW_MAX 240

enum { EXIT_MISMATCH = 1, EXIT_USAGE = 2 };

struct fake_user {
	char *name;
	char *password;
	char *account; /* NULL: no ACCT needed */
	bool disabled;
	enum auth_kind kind; /* what USER gets */
	enum otp_alg alg;
	unsigned seq;
	char seed[OTP_SEED_MAX + 1];
	int reply;
	bool shared; /* another connection holds the challenge lock */
};

struct replay {
	const char *file;
	unsigned line;
	unsigned steps;
	struct config *cfg;
	struct proto *p;
	struct fake_user users[REPLAY_MAX_USERS];
	size_t n_users;
	struct buf in;	      /* client bytes proto has not consumed yet */
	bool closed;	      /* an E: CLOSE or E: ENOBUFS was checked */
	bool overflow;	      /* proto_feed returned -ENOBUFS */
	bool overflow_seen;   /* ... and E: ENOBUFS acknowledged it */
	bool last_was_close;  /* the most recent step was E: CLOSE */
	int family;	      /* AF_INET or AF_INET6: the control connection */
	bool tls_available;   /* set tls available|implicit: a certificate is configured */
	bool tls_implicit;    /* ... and the connection is implicit FTPS */
	bool lookup_manual;   /* set lookup manual: E: USER_LOOKUP completes them */
	uint64_t next_lock;   /* lock tokens handed out */
	bool gss;	      /* set gss available: AUTH GSSAPI offered (replay_gss.c) */
	struct buf gss_plain; /* unwrapped protected replies not yet checked by S{S}:/S{P}: */
	uint64_t now_ms;      /* the clocks given to proto (clock) */
	int64_t wall_s;
};

/* Writes bytes to stderr in the transcript's escape syntax, quoted. */
static void show(const char *p, size_t n)
{
	size_t shown = n > REPLAY_SHOW_MAX ? REPLAY_SHOW_MAX : n;
	fputc('"', stderr);
	for (size_t i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)p[i];
		switch (c) {
		case '\r':
			fputs("\\r", stderr);
			break;
		case '\n':
			fputs("\\n", stderr);
			break;
		case '\t':
			fputs("\\t", stderr);
			break;
		case '\\':
			fputs("\\\\", stderr);
			break;
		case '"':
			fputs("\\\"", stderr);
			break;
		default:
			if (c < 0x20 || c >= 0x7f)
				fprintf(stderr, "\\x%02x", c);
			else
				fputc(c, stderr);
		}
	}
	fputc('"', stderr);
	if (shown < n)
		fprintf(stderr, "... (%zu bytes)", n);
}

static void show_cstr(const char *s)
{
	if (!s)
		s = "(null)";
	show(s, strlen(s));
}

/* "FILE:LINE: " prefix of every diagnostic. */
static void where(const struct replay *r)
{
	fprintf(stderr, "%s:%u: ", r->file, r->line);
}

__attribute__((format(printf, 2, 3))) static int fail(const struct replay *r, const char *fmt, ...)
{
	va_list ap;
	where(r);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_MISMATCH;
}

__attribute__((format(printf, 2, 3))) static int bad_syntax(const struct replay *r, const char *fmt, ...)
{
	va_list ap;
	where(r);
	fputs("bad transcript: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes the escape syntax of C< and S< into out. -EINVAL on a bad escape. */
static int unescape(struct slice s, struct buf *out)
{
	for (size_t i = 0; i < s.n; i++) {
		char c = s.p[i];
		if (c == '\\') {
			if (++i >= s.n)
				return -EINVAL;
			switch (s.p[i]) {
			case 'r':
				c = '\r';
				break;
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case '\\':
				c = '\\';
				break;
			case 'x': {
				if (s.n - i < 3) /* two hex digits must follow */
					return -EINVAL;
				int hi = hexval(s.p[i + 1]), lo = hexval(s.p[i + 2]);
				if (hi < 0 || lo < 0)
					return -EINVAL;
				c = (char)(hi * 16 + lo);
				i += 2;
				break;
			}
			default:
				return -EINVAL;
			}
		}
		int rc = buf_append(out, &c, 1);
		if (rc)
			return rc;
	}
	return 0;
}

static const char *effect_name(enum proto_effect_kind k)
{
	switch (k) {
	case PROTO_EFFECT_NONE:
		return "NONE";
	case PROTO_EFFECT_USER_LOOKUP:
		return "USER_LOOKUP";
	case PROTO_EFFECT_AUTH_CHECK:
		return "AUTH_CHECK";
	case PROTO_EFFECT_DELAY:
		return "DELAY";
	case PROTO_EFFECT_CLOSE:
		return "CLOSE";
	case PROTO_EFFECT_DATA_SETUP:
		return "DATA_SETUP";
	case PROTO_EFFECT_XFER:
		return "XFER";
	case PROTO_EFFECT_TLS_START:
		return "TLS_START";
	case PROTO_EFFECT_TLS_STOP:
		return "TLS_STOP";
	case PROTO_EFFECT_GSS_STEP:
		return "GSS_STEP";
	case PROTO_EFFECT_ASCII_SIZE:
		return "ASCII_SIZE";
	case PROTO_EFFECT_UPLOAD_COMMIT:
		return "UPLOAD_COMMIT";
	case PROTO_EFFECT_LIST_READ:
		return "LIST_READ";
	case PROTO_EFFECT_HASH:
		return "HASH";
	}
	return "?";
}

static const char *xfer_kind_name(enum proto_xfer_kind k)
{
	switch (k) {
	case XFER_SEND_FILE:
		return "SEND_FILE";
	case XFER_RECV_FILE:
		return "RECV_FILE";
	case XFER_SEND_LIST:
		return "SEND_LIST";
	}
	return "?";
}

/* "192.0.2.1:40001" or "[2001:db8::1]:40001" into out. */
static void format_addr(const struct sockaddr_storage *ss, char *out, size_t outsz)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss;
		(void)inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
		(void)snprintf(out, outsz, "%s:%u", host, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;
		(void)inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
		(void)snprintf(out, outsz, "[%s]:%u", host, port);
	} else {
		(void)snprintf(out, outsz, "(family %d)", (int)ss->ss_family);
	}
}

/* Describes the pending effect (or "no effect") after "got ". */
static void show_effect(const struct proto_effect *e)
{
	if (!e) {
		fputs("no effect pending", stderr);
		return;
	}
	fprintf(stderr, "effect %s", effect_name(e->kind));
	if (e->kind == PROTO_EFFECT_AUTH_CHECK || e->kind == PROTO_EFFECT_USER_LOOKUP) {
		fputc(' ', stderr);
		show_cstr(e->user);
	} else if (e->kind == PROTO_EFFECT_DELAY) {
		fprintf(stderr, " %u", (unsigned)e->delay_ms);
	} else if (e->kind == PROTO_EFFECT_DATA_SETUP) {
		if (e->data.passive) {
			fprintf(stderr, " PASSIVE family=%s", e->data.family == AF_INET6 ? "inet6" : "inet");
		} else {
			char a[INET6_ADDRSTRLEN + 16];
			format_addr(&e->data.target, a, sizeof(a));
			fprintf(stderr, " ACTIVE %s", a);
		}
	} else if (e->kind == PROTO_EFFECT_XFER) {
		const struct proto_xfer *x = &e->xfer;
		fprintf(stderr, " %s", xfer_kind_name(x->kind));
		if (x->kind == XFER_SEND_FILE)
			fprintf(stderr, " offset=%llu size=%llu", (unsigned long long)x->offset,
				(unsigned long long)x->size);
		if (x->kind != XFER_SEND_LIST)
			fprintf(stderr, " ascii=%d", x->ascii ? 1 : 0);
		fprintf(stderr, " abort=%d", x->abort ? 1 : 0);
	}
}

/* Input is fed while nothing is pending, and during a transfer (proto reads
 * ABOR and STAT then, and holds one other command), as the session does. */
static bool feeding(const struct replay *r)
{
	const struct proto_effect *e = proto_effect(r->p);
	return !e || e->kind == PROTO_EFFECT_XFER;
}

/* Feeds the queued client bytes until they are gone or proto stops taking
 * them (an effect other than XFER is pending, or a transfer holds a command). */
static void complete_lookup(struct replay *r, bool store_error);
static int expect_effect(struct replay *r, enum proto_effect_kind kind, const struct proto_effect **out);

/* LIST_READ, as the session's job does it (session_jobs.c). */
static void complete_list_read(struct replay *r, const struct proto_effect *e)
{
	int got = e->list_out ? listing_read_all(e->list_read, e->list_out, e->list_step) : listing_peek(e->list_read);
	struct proto_result res = { .err = got < 0 ? got : 0, .bytes = got > 0 };
	proto_complete(r->p, &res);
}

static int pump(struct replay *r)
{
	for (;;) {
		const struct proto_effect *e = proto_effect(r->p);
		if (e && e->kind == PROTO_EFFECT_UPLOAD_COMMIT) {
			/* A durable upload's commit, carried out at once as the
			 * session's job would (the transcripts' files are real). */
			struct proto_result res = { .err = files_upload_end(e->upload, true, false) };
			proto_complete(r->p, &res);
			continue;
		}
		if (e && e->kind == PROTO_EFFECT_LIST_READ) {
			complete_list_read(r, e);
			continue;
		}
		if (!e || e->kind != PROTO_EFFECT_USER_LOOKUP || r->lookup_manual)
			break;
		complete_lookup(r, false);
	}
	while ((r->in.len || (!proto_effect(r->p) && proto_has_held(r->p))) && feeding(r)) {
		size_t used = 0, have = r->in.len;
		int rc = proto_feed(r->p, buf_data(&r->in), have, &used);
		if (used > have)
			return fail(r, "proto_feed reported %zu bytes used of %zu", used, have);
		buf_consume(&r->in, used);
		if (rc == -ENOBUFS) {
			r->overflow = true; /* checked by the next step (E: ENOBUFS) */
			return 0;
		}
		if (rc)
			return fail(r, "expected proto_feed to return 0 or -ENOBUFS got %d (%s)", rc, strerror(-rc));
		/* proto.h: input stops early only for a pending effect. */
		if (used < have && !proto_effect(r->p))
			return fail(r, "expected proto_feed to consume all %zu bytes (no effect pending) got %zu", have,
				    used);
		if (used == 0)
			break; /* a transfer holds a command: the rest waits for it */
		const struct proto_effect *e = proto_effect(r->p);
		if (e &&
		    ((e->kind == PROTO_EFFECT_USER_LOOKUP && !r->lookup_manual) || e->kind == PROTO_EFFECT_LIST_READ))
			return pump(r);
	}
	return 0;
}

/* proto is created at the first step that needs it, so that set lines
 * (before it) shape its config. */
static void ensure_proto(struct replay *r)
{
	if (r->p)
		return;
	struct sockaddr_storage local = { 0 }, peer = { 0 };
	if (r->family == AF_INET6) {
		struct sockaddr_in6 *l = (struct sockaddr_in6 *)&local, *c = (struct sockaddr_in6 *)&peer;
		l->sin6_family = c->sin6_family = AF_INET6;
		(void)inet_pton(AF_INET6, "2001:db8::10", &l->sin6_addr);
		(void)inet_pton(AF_INET6, "2001:db8::1", &c->sin6_addr);
		l->sin6_port = htons(21);
		c->sin6_port = htons(40000);
		r->p = proto_new(r->cfg, cmdtab_get(), 1, "2001:db8::1");
	} else {
		struct sockaddr_in *l = (struct sockaddr_in *)&local, *c = (struct sockaddr_in *)&peer;
		l->sin_family = c->sin_family = AF_INET;
		(void)inet_pton(AF_INET, "192.0.2.10", &l->sin_addr);
		(void)inet_pton(AF_INET, "192.0.2.1", &c->sin_addr);
		l->sin_port = htons(21);
		c->sin_port = htons(40000);
		r->p = proto_new(r->cfg, cmdtab_get(), 1, "192.0.2.1");
	}
	proto_set_addrs(r->p, &local, &peer);
	proto_set_now(r->p, r->now_ms, r->wall_s);
	proto_set_tls(r->p, r->tls_available, r->tls_implicit);
	if (r->gss)
		proto_set_gss(r->p, &replay_gss_ops, NULL);
}

static const struct fake_user *find_user(const struct replay *r, const char *name)
{
	for (size_t i = 0; i < r->n_users; i++)
		if (strcmp(r->users[i].name, name) == 0)
			return &r->users[i];
	return NULL;
}

static int do_set(struct replay *r, struct slice rest)
{
	struct slice key, val;
	if (r->p)
		return bad_syntax(r, "set must come before the first step that uses proto");
	if (!slice_split(rest, ' ', &key, &val))
		return bad_syntax(r, "set KEY VALUE");
	if (slice_eq_ci(key, "host")) {
		/* set host NAME [BANNER]: a [host NAME] section */
		struct slice name, banner = { "", 0 };
		struct config_vhost *h = &r->cfg->vhosts[r->cfg->n_vhosts];
		if (!slice_split(val, ' ', &name, &banner))
			banner = (struct slice){ "", 0 };
		if (r->cfg->n_vhosts >= CONFIG_MAX_VHOSTS || name.n == 0 || name.n >= sizeof(h->name) ||
		    banner.n >= sizeof(h->banner))
			return bad_syntax(r, "set host NAME [BANNER]");
		*h = (struct config_vhost){ 0 };
		memcpy(h->name, name.p, name.n);
		memcpy(h->banner, banner.p, banner.n);
		r->cfg->n_vhosts++;
		return 0;
	}
	if (slice_eq_ci(key, "banner")) {
		if (val.n >= sizeof(r->cfg->banner))
			return bad_syntax(r, "banner too long");
		memcpy(r->cfg->banner, val.p, val.n);
		r->cfg->banner[val.n] = '\0';
		return 0;
	}
	uint64_t v;
	if (slice_eq_ci(key, "max_line")) {
		if (parse_u64(val, 1024u * 1024u, &v) || v == 0)
			return bad_syntax(r, "max_line must be 1-1048576");
		r->cfg->max_line = (size_t)v;
	} else if (slice_eq_ci(key, "max_login_failures")) {
		if (parse_u64(val, 1000, &v) || v == 0)
			return bad_syntax(r, "max_login_failures must be 1-1000");
		r->cfg->max_login_failures = (unsigned)v;
	} else if (slice_eq_ci(key, "family")) {
		if (slice_eq(val, SLICE_LIT("4")))
			r->family = AF_INET;
		else if (slice_eq(val, SLICE_LIT("6")))
			r->family = AF_INET6;
		else
			return bad_syntax(r, "family must be 4 or 6");
	} else if (slice_eq_ci(key, "tls")) {
		/* none | available (AUTH TLS offered) | implicit (TLS from the start) */
		r->tls_available = !slice_eq(val, SLICE_LIT("none"));
		r->tls_implicit = slice_eq(val, SLICE_LIT("implicit"));
		if (!r->tls_available && !slice_eq(val, SLICE_LIT("none")))
			return bad_syntax(r, "tls must be none, available or implicit");
	} else if (slice_eq_ci(key, "tls_required")) {
		if (parse_u64(val, 3, &v))
			return bad_syntax(r, "tls_required must be 0-3 (none, login, data, all)");
		r->cfg->tls_required = (int)v;
	} else if (slice_eq_ci(key, "prelogin_commands")) {
		if (parse_u64(val, 10000, &v) || v == 0)
			return bad_syntax(r, "prelogin_commands must be 1-10000");
		r->cfg->prelogin_commands = (unsigned)v;
	} else if (slice_eq_ci(key, "gss")) {
		if (!slice_eq(val, SLICE_LIT("available")) && !slice_eq(val, SLICE_LIT("none")))
			return bad_syntax(r, "gss must be none or available");
		r->gss = slice_eq(val, SLICE_LIT("available"));
	} else if (slice_eq_ci(key, "gss_required")) {
		if (parse_u64(val, 1, &v))
			return bad_syntax(r, "gss_required must be 0 or 1");
		r->cfg->gss_required = (int)v;
	} else if (slice_eq_ci(key, "login_fail_delay_ms")) {
		if (parse_u64(val, UINT32_MAX, &v))
			return bad_syntax(r, "login_fail_delay_ms must be 0-4294967295");
		r->cfg->login_fail_delay_ms = (uint32_t)v;
	} else if (slice_eq_ci(key, "lookup")) {
		if (!slice_eq(val, SLICE_LIT("manual")) && !slice_eq(val, SLICE_LIT("auto")))
			return bad_syntax(r, "lookup must be manual or auto");
		r->lookup_manual = slice_eq(val, SLICE_LIT("manual"));
	} else if (slice_eq_ci(key, "otp_challenge")) {
		if (!slice_eq(val, SLICE_LIT("331")) && !slice_eq(val, SLICE_LIT("336")))
			return bad_syntax(r, "otp_challenge must be 331 or 336");
		r->cfg->otp_challenge_336 = slice_eq(val, SLICE_LIT("336"));
	} else if (slice_eq_ci(key, "otp_unknown")) {
		if (parse_u64(val, 1, &v))
			return bad_syntax(r, "otp_unknown must be 0 or 1");
		r->cfg->otp_unknown_challenge = (int)v;
	} else {
		return bad_syntax(r, "unknown set key (max_line, max_login_failures, prelogin_commands, "
				     "login_fail_delay_ms, family, banner, lookup, otp_challenge, otp_unknown)");
	}
	return 0;
}

static int do_user(struct replay *r, struct slice rest)
{
	struct slice name, pw, opt;
	if (r->n_users == REPLAY_MAX_USERS)
		return bad_syntax(r, "too many users");
	(void)slice_split(rest, ' ', &name, &rest);
	(void)slice_split(rest, ' ', &pw, &rest);
	if (!name.n || !pw.n)
		return bad_syntax(r, "user NAME PASSWORD [account=ACCT] [disabled]");
	struct buf pb;
	buf_init(&pb, 4096);
	if (unescape(pw, &pb)) {
		buf_free(&pb);
		return bad_syntax(r, "bad escape in password");
	}
	struct fake_user u = { .name = slice_dup(name), .password = slice_dup(buf_slice(&pb)) };
	buf_free(&pb);
	while (rest.n) {
		(void)slice_split(rest, ' ', &opt, &rest);
		if (opt.n > 8 && memcmp(opt.p, "account=", 8) == 0) {
			free(u.account);
			u.account = slice_dup((struct slice){ opt.p + 8, opt.n - 8 });
		} else if (slice_eq(opt, SLICE_LIT("disabled"))) {
			u.disabled = true;
		} else if (opt.n > 4 && memcmp(opt.p, "otp=", 4) == 0) {
			struct slice alg, seq, seed;
			uint64_t n;
			(void)slice_split((struct slice){ opt.p + 4, opt.n - 4 }, ':', &alg, &seq);
			(void)slice_split(seq, ':', &seq, &seed);
			if (otp_alg_parse(alg, &u.alg) || parse_u64(seq, OTP_COUNT_MAX, &n) || !otp_seed_valid(seed))
				goto bad;
			u.kind = AUTH_KIND_OTP;
			u.seq = (unsigned)n;
			memcpy(u.seed, seed.p, seed.n);
		} else if (slice_eq(opt, SLICE_LIT("totp"))) {
			u.kind = AUTH_KIND_TOTP;
		} else if (slice_eq(opt, SLICE_LIT("busy"))) {
			u.kind = AUTH_KIND_BUSY;
		} else if (slice_eq(opt, SLICE_LIT("exhausted"))) {
			u.kind = AUTH_KIND_EXHAUSTED;
		} else if (slice_eq(opt, SLICE_LIT("shared"))) {
			u.shared = true;
		} else if (slice_eq(opt, SLICE_LIT("reply=331")) || slice_eq(opt, SLICE_LIT("reply=336"))) {
			u.reply = opt.p[8] == '1' ? 331 : 336;
		} else {
			goto bad;
		}
	}
	r->users[r->n_users++] = u;
	return 0;
bad:
	free(u.name);
	free(u.password);
	free(u.account);
	return bad_syntax(r, "unknown user option (account=ACCT, disabled, otp=ALG:N:SEED, totp, reply=331|336, busy, "
			     "exhausted, shared)");
}

/* Completes the pending USER_LOOKUP from the user table. */
static void complete_lookup(struct replay *r, bool store_error)
{
	const struct proto_effect *e = proto_effect(r->p);
	const struct fake_user *u = find_user(r, e->user);
	struct auth_challenge ch = { .kind = AUTH_KIND_PASSWORD };
	if (store_error) {
		ch.err = -EIO;
	} else if (u && !u->disabled) {
		ch.kind = u->kind;
		ch.alg = u->alg;
		ch.seq = u->seq;
		(void)str_copy(ch.seed, sizeof(ch.seed), u->seed);
		ch.reply = u->reply;
		ch.shared = u->shared;
	} else if (e->lookup.fake_unknown) {
		ch.kind = AUTH_KIND_OTP;
		ch.alg = OTP_MD5;
		ch.seq = 123;
		(void)str_copy(ch.seed, sizeof(ch.seed), "fake0");
	}
	if (ch.kind == AUTH_KIND_OTP && !ch.shared)
		ch.lock = ++r->next_lock;
	struct proto_result pr = { .challenge = &ch };
	proto_complete(r->p, &pr);
}

static int expect_user_effect(struct replay *r, enum proto_effect_kind kind, struct slice escaped_name,
			      const struct proto_effect **out);

static int do_lookup(struct replay *r, struct slice escaped_name, bool store_error)
{
	const struct proto_effect *e;
	int rc = expect_user_effect(r, PROTO_EFFECT_USER_LOOKUP, escaped_name, &e);
	if (rc)
		return rc;
	complete_lookup(r, store_error);
	return pump(r);
}

static int do_feed(struct replay *r, struct slice bytes, bool escaped)
{
	if (r->closed)
		return bad_syntax(r, "nothing may be fed after E: CLOSE or E: ENOBUFS");
	if (escaped) {
		int rc = unescape(bytes, &r->in);
		if (rc == -EINVAL)
			return bad_syntax(r, "bad escape (use \\r \\n \\t \\\\ \\xHH)");
		if (rc)
			return bad_syntax(r, "input queue full");
	} else if (buf_append(&r->in, bytes.p, bytes.n) || buf_append(&r->in, "\r\n", 2)) {
		return bad_syntax(r, "input queue full");
	}
	return pump(r);
}

/* S: and S<: the output must start with want. */
static int do_expect(struct replay *r, struct slice want, bool raw)
{
	struct buf tmp;
	buf_init(&tmp, 1u << 20);
	int rc = 0;
	if (raw) {
		if (unescape(want, &tmp)) {
			buf_free(&tmp);
			return bad_syntax(r, "bad escape (use \\r \\n \\t \\\\ \\xHH)");
		}
	} else if (buf_append(&tmp, want.p, want.n) || buf_append(&tmp, "\r\n", 2)) {
		buf_free(&tmp);
		return bad_syntax(r, "expected line too long");
	}
	if (tmp.len == 0) {
		buf_free(&tmp);
		return bad_syntax(r, "S< needs at least one byte (use S- for \"no output\")");
	}
	struct buf *out = proto_output(r->p);
	struct slice got = buf_slice(out);
	struct slice exp = buf_slice(&tmp);
	if (got.n >= exp.n && memcmp(got.p, exp.p, exp.n) == 0) {
		buf_consume(out, exp.n);
		buf_free(&tmp);
		return 0;
	}
	where(r);
	fputs("expected ", stderr);
	show(exp.p, exp.n);
	fputs(" got ", stderr);
	if (got.n == 0) {
		const struct proto_effect *e = proto_effect(r->p);
		fputs("no output", stderr);
		if (e) {
			fputs(" (proto is waiting for ", stderr);
			show_effect(e);
			fputc(')', stderr);
		}
	} else {
		/* Show the next line (or as many bytes as a raw match wanted). */
		size_t n = got.n;
		const char *lf = memchr(got.p, '\n', got.n);
		if (!raw && lf)
			n = (size_t)(lf - got.p) + 1;
		else if (raw && n > exp.n)
			n = exp.n;
		show(got.p, n);
	}
	fputc('\n', stderr);
	rc = EXIT_MISMATCH;
	buf_free(&tmp);
	return rc;
}

/* S-: nothing may have been answered yet. */
static int expect_nothing(struct replay *r)
{
	struct slice got = buf_slice(proto_output(r->p));
	if (got.n == 0)
		return 0;
	where(r);
	fputs("expected no output yet got ", stderr);
	const char *lf = memchr(got.p, '\n', got.n);
	show(got.p, lf ? (size_t)(lf - got.p) + 1 : got.n);
	fputc('\n', stderr);
	return EXIT_MISMATCH;
}

static int expect_effect(struct replay *r, enum proto_effect_kind kind, const struct proto_effect **out)
{
	const struct proto_effect *e = proto_effect(r->p);
	if (!e || e->kind != kind) {
		where(r);
		fprintf(stderr, "expected effect %s got ", effect_name(kind));
		show_effect(e);
		fputc('\n', stderr);
		return EXIT_MISMATCH;
	}
	*out = e;
	return 0;
}

/* The pending effect must be kind for the user named by escaped_name. */
static int expect_user_effect(struct replay *r, enum proto_effect_kind kind, struct slice escaped_name,
			      const struct proto_effect **out)
{
	const struct proto_effect *e;
	int rc = expect_effect(r, kind, &e);
	if (rc)
		return rc;
	struct buf nb;
	buf_init(&nb, 4096);
	if (unescape(escaped_name, &nb)) {
		buf_free(&nb);
		return bad_syntax(r, "bad escape in user name (use \\r \\n \\t \\\\ \\xHH)");
	}
	struct slice name = buf_slice(&nb);
	bool same = e->user && slice_eq(slice_from_cstr(e->user), name);
	if (!same) {
		where(r);
		fprintf(stderr, "expected %s for user ", effect_name(kind));
		show(name.p, name.n);
		fputs(" got user ", stderr);
		show_cstr(e->user);
		fputc('\n', stderr);
	}
	buf_free(&nb);
	*out = e;
	return same ? 0 : EXIT_MISMATCH;
}

static int do_auth(struct replay *r, struct slice escaped_name, bool store_error)
{
	const struct proto_effect *e;
	int rc = expect_user_effect(r, PROTO_EFFECT_AUTH_CHECK, escaped_name, &e);
	if (rc)
		return rc;
	struct auth_result res = { 0 };
	if (store_error) {
		res.err = -EIO;
	} else {
		const struct fake_user *u = find_user(r, e->user);
		/* The lock a challenge took comes back with the check (a shared
		 * challenge has none). */
		if (e->challenge && e->challenge->kind == AUTH_KIND_OTP && !e->challenge->lock && !e->challenge->shared)
			return fail(r, "expected the AUTH_CHECK to carry its challenge's lock got none");
		/* After a GSSAPI exchange (principal set, no password): only the
		 * default rule authorises here. */
		bool by_principal = e->principal && !e->password && e->principal_default;
		if (u && !u->disabled && (by_principal || (e->password && strcmp(u->password, e->password) == 0))) {
			res.ok = true;
			if (u->kind == AUTH_KIND_OTP) {
				res.otp = true;
				res.otp_left = u->seq - 1;
			}
			res.home = util_xstrdup(g_home);
			res.account = u->account ? util_xstrdup(u->account) : NULL;
			res.perms = PERM_ALL;
		}
	}
	struct proto_result pr = { .auth = &res };
	proto_complete(r->p, &pr);
	/* proto takes the strings it keeps (and sets them to NULL). */
	free(res.home);
	free(res.account);
	return pump(r);
}

/* ---- the home directory: set-up directives and checks ---- */

/* Turns an escaped NAME (relative to the home) into a host path in out.
 * Names that could leave the home are a transcript error. */
static int home_path(struct replay *r, struct slice escaped, char *out, size_t outsz)
{
	struct buf nb;
	buf_init(&nb, PATH_MAX);
	if (unescape(escaped, &nb)) {
		buf_free(&nb);
		return bad_syntax(r, "bad escape in NAME (use \\r \\n \\t \\\\ \\xHH)");
	}
	struct slice name = buf_slice(&nb);
	bool bad = name.n == 0 || name.p[0] == '/' || memchr(name.p, '\0', name.n);
	for (size_t i = 0; !bad && i < name.n;) {
		size_t j = i;
		while (j < name.n && name.p[j] != '/')
			j++;
		if (j - i == 2 && name.p[i] == '.' && name.p[i + 1] == '.')
			bad = true;
		i = j + 1;
	}
	int n = bad ? -1 : snprintf(out, outsz, "%s/%.*s", g_home, (int)name.n, name.p);
	buf_free(&nb);
	if (bad)
		return bad_syntax(r, "NAME must be relative to the home, without \"..\"");
	if (n < 0 || (size_t)n >= outsz)
		return bad_syntax(r, "NAME too long");
	return 0;
}

/* mkdir -p of every directory above the last component of path (and of
 * path itself when whole is set), below g_home. */
static int make_parents(struct replay *r, char *path, bool whole)
{
	size_t base = strlen(g_home);
	size_t n = strlen(path);
	for (size_t i = base + 1; i <= n; i++) {
		if (path[i] != '/' && !(whole && path[i] == '\0'))
			continue;
		char c = path[i];
		path[i] = '\0';
		int rc = mkdir(path, 0755);
		int e = errno;
		path[i] = c;
		if (rc != 0 && e != EEXIST)
			return bad_syntax(r, "mkdir %s: %s", path, strerror(e));
	}
	return 0;
}

static int do_file(struct replay *r, struct slice rest)
{
	struct slice name, content;
	char path[PATH_MAX];
	(void)slice_split(rest, ' ', &name, &content);
	int rc = home_path(r, name, path, sizeof(path));
	if (rc)
		return rc;
	struct buf data;
	buf_init(&data, REPLAY_IN_MAX);
	if (unescape(content, &data)) {
		buf_free(&data);
		return bad_syntax(r, "bad escape in CONTENT (use \\r \\n \\t \\\\ \\xHH)");
	}
	rc = make_parents(r, path, false);
	int fd = rc ? -1 : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (!rc && fd < 0)
		rc = bad_syntax(r, "creating %s: %s", path, strerror(errno));
	const char *p = buf_data(&data);
	size_t left = data.len;
	while (!rc && left) {
		ssize_t w = write(fd, p, left);
		if (w < 0) {
			rc = bad_syntax(r, "writing %s: %s", path, strerror(errno));
			break;
		}
		p += w;
		left -= (size_t)w;
	}
	if (fd >= 0)
		(void)close(fd);
	buf_free(&data);
	return rc;
}

static int do_mkdir(struct replay *r, struct slice rest)
{
	char path[PATH_MAX];
	int rc = home_path(r, rest, path, sizeof(path));
	return rc ? rc : make_parents(r, path, true);
}

static int do_symlink(struct replay *r, struct slice rest)
{
	struct slice name, target;
	char path[PATH_MAX];
	if (!slice_split(rest, ' ', &name, &target) || !target.n)
		return bad_syntax(r, "symlink NAME TARGET");
	int rc = home_path(r, name, path, sizeof(path));
	if (rc)
		return rc;
	rc = make_parents(r, path, false);
	if (rc)
		return rc;
	char *t = slice_dup(target);
	if (symlink(t, path) != 0)
		rc = bad_syntax(r, "symlink %s: %s", path, strerror(errno));
	free(t);
	return rc;
}

static int do_mtime(struct replay *r, struct slice rest)
{
	struct slice name, secs;
	char path[PATH_MAX];
	uint64_t v;
	if (!slice_split(rest, ' ', &name, &secs) || parse_u64(secs, INT64_MAX, &v))
		return bad_syntax(r, "mtime NAME SECONDS");
	int rc = home_path(r, name, path, sizeof(path));
	if (rc)
		return rc;
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_sec = (time_t)v } };
	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) != 0)
		return bad_syntax(r, "utimensat %s: %s", path, strerror(errno));
	return 0;
}

static int do_clock(struct replay *r, struct slice rest)
{
	struct slice secs, ms;
	uint64_t s, m = r->now_ms;
	bool has_ms = slice_split(rest, ' ', &secs, &ms);
	if (parse_u64(secs, INT64_MAX, &s) || (has_ms && parse_u64(ms, UINT64_MAX, &m)))
		return bad_syntax(r, "clock SECONDS [MS]");
	r->wall_s = (int64_t)s;
	r->now_ms = m;
	if (r->p)
		proto_set_now(r->p, r->now_ms, r->wall_s);
	return 0;
}

/* Reads all of fd from offset with pread into out. */
static int pread_all(int fd, uint64_t offset, struct buf *out)
{
	char chunk[65536];
	for (;;) {
		ssize_t n = pread(fd, chunk, sizeof(chunk), (off_t)offset);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return 0;
		if (buf_append(out, chunk, (size_t)n))
			return -ENOBUFS;
		offset += (uint64_t)n;
	}
}

/* Reports a content mismatch: "expected ... got ...". */
static int content_mismatch(struct replay *r, const char *what, struct slice want, struct slice got)
{
	where(r);
	fprintf(stderr, "expected %s ", what);
	show(want.p, want.n);
	fputs(" got ", stderr);
	show(got.p, got.n);
	fputc('\n', stderr);
	return EXIT_MISMATCH;
}

/* A NAME with glob characters: replaces path with its only match (F:, D:)
 * or checks that nothing matches (F!). */
static int expand_glob(struct replay *r, char *path, size_t pathsz, bool none, bool *done)
{
	*done = false;
	if (!strpbrk(path + strlen(g_home), "*?["))
		return 0;
	glob_t g;
	int gr = glob(path, GLOB_NOSORT, NULL, &g);
	size_t n = gr == 0 ? g.gl_pathc : 0;
	int rc = 0;
	if (gr != 0 && gr != GLOB_NOMATCH) {
		rc = fail(r, "glob %s failed (%d)", path, gr);
	} else if (none) {
		if (n)
			rc = fail(r, "expected nothing matching %s got %s%s", path, g.gl_pathv[0], n > 1 ? " ..." : "");
		*done = true;
	} else if (n != 1) {
		rc = fail(r, "expected exactly one match for %s got %zu", path, n);
	} else if (!str_copy(path, pathsz, g.gl_pathv[0])) {
		rc = fail(r, "matching path too long");
	}
	if (gr == 0)
		globfree(&g);
	return rc;
}

/* F: NAME CONTENT */
static int check_file(struct replay *r, struct slice rest)
{
	struct slice name, content;
	char path[PATH_MAX];
	bool done;
	(void)slice_split(rest, ' ', &name, &content);
	int rc = home_path(r, name, path, sizeof(path));
	if (rc == 0)
		rc = expand_glob(r, path, sizeof(path), false, &done);
	if (rc)
		return rc;
	struct buf want, got;
	buf_init(&want, REPLAY_IN_MAX);
	buf_init(&got, REPLAY_IN_MAX);
	if (unescape(content, &want)) {
		buf_free(&want);
		return bad_syntax(r, "bad escape in CONTENT (use \\r \\n \\t \\\\ \\xHH)");
	}
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rc = fail(r, "expected file %s got %s", path, strerror(errno));
	} else if (fstat(fd, &st) != 0) {
		rc = fail(r, "fstat %s: %s", path, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		rc = fail(r, "expected %s to be a regular file got mode %o", path, (unsigned)st.st_mode);
	} else {
		int e = pread_all(fd, 0, &got);
		if (e)
			rc = fail(r, "reading %s: %s", path, strerror(-e));
		else if (!slice_eq(buf_slice(&want), buf_slice(&got)))
			rc = content_mismatch(r, "file content", buf_slice(&want), buf_slice(&got));
	}
	if (fd >= 0)
		(void)close(fd);
	buf_free(&want);
	buf_free(&got);
	return rc;
}

/* F! NAME and D: NAME */
static int check_absent_or_dir(struct replay *r, struct slice rest, bool dir)
{
	char path[PATH_MAX];
	bool done;
	int rc = home_path(r, rest, path, sizeof(path));
	if (rc == 0)
		rc = expand_glob(r, path, sizeof(path), !dir, &done);
	if (rc || done)
		return rc;
	struct stat st;
	int s = lstat(path, &st);
	if (dir) {
		if (s != 0)
			return fail(r, "expected directory %s got %s", path, strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return fail(r, "expected directory %s got mode %o", path, (unsigned)st.st_mode);
		return 0;
	}
	if (s == 0)
		return fail(r, "expected %s not to exist got mode %o", path, (unsigned)st.st_mode);
	if (errno != ENOENT)
		return fail(r, "expected %s not to exist got %s", path, strerror(errno));
	return 0;
}

/* S~ REGEX: the next reply line must match (whole line, CRLF excluded). */
static int do_expect_regex(struct replay *r, struct slice pattern)
{
	char *anchored = util_xcalloc(1, pattern.n + 5);
	(void)snprintf(anchored, pattern.n + 5, "^(%.*s)$", (int)pattern.n, pattern.p);
	regex_t re;
	int e = regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB);
	free(anchored);
	if (e != 0)
		return bad_syntax(r, "bad regular expression");
	struct buf *out = proto_output(r->p);
	struct slice got = buf_slice(out);
	const char *lf = got.n ? memchr(got.p, '\n', got.n) : NULL;
	int rc = 0;
	if (lf && lf > got.p && lf[-1] == '\r') {
		size_t n = (size_t)(lf - got.p) - 1;
		char *line = util_xstrndup(got.p, n);
		bool match = strlen(line) == n && regexec(&re, line, 0, NULL, 0) == 0;
		free(line);
		if (match) {
			buf_consume(out, n + 2);
			regfree(&re);
			return 0;
		}
	}
	where(r);
	fputs("expected a line matching ", stderr);
	show(pattern.p, pattern.n);
	fputs(" got ", stderr);
	if (got.n == 0) {
		fputs("no output", stderr);
		const struct proto_effect *pe = proto_effect(r->p);
		if (pe) {
			fputs(" (proto is waiting for ", stderr);
			show_effect(pe);
			fputc(')', stderr);
		}
	} else {
		show(got.p, lf ? (size_t)(lf - got.p) + 1 : got.n);
	}
	fputc('\n', stderr);
	rc = EXIT_MISMATCH;
	regfree(&re);
	return rc;
}

/* ---- data connections and transfers ---- */

/* "192.0.2.1:40001" or "[2001:db8::1]:40001". */
static bool parse_addr(struct slice s, struct sockaddr_storage *out)
{
	char host[INET6_ADDRSTRLEN];
	struct slice h, port;
	uint64_t pn;
	memset(out, 0, sizeof(*out));
	if (s.n && s.p[0] == '[') {
		const char *close = memchr(s.p, ']', s.n);
		if (!close || (size_t)(close - s.p) + 1 >= s.n || close[1] != ':')
			return false;
		h = (struct slice){ s.p + 1, (size_t)(close - s.p) - 1 };
		port = (struct slice){ close + 2, s.n - (size_t)(close - s.p) - 2 };
	} else {
		const char *colon = memchr(s.p, ':', s.n);
		if (!colon)
			return false;
		h = (struct slice){ s.p, (size_t)(colon - s.p) };
		port = (struct slice){ colon + 1, s.n - (size_t)(colon - s.p) - 1 };
	}
	if (h.n == 0 || h.n >= sizeof(host) || parse_u64(port, 65535, &pn))
		return false;
	memcpy(host, h.p, h.n);
	host[h.n] = '\0';
	struct sockaddr_in *a4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)pn);
		return true;
	}
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)pn);
		return true;
	}
	return false;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && memcmp(&x->sin_addr, &y->sin_addr, 4) == 0;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return false;
}

/* E: DATA_SETUP PASSIVE [FAIL] | ACTIVE ADDR:PORT */
static int do_data_setup(struct replay *r, struct slice arg)
{
	struct slice mode, rest;
	const struct proto_effect *e;
	(void)slice_split(arg, ' ', &mode, &rest);
	bool passive = slice_eq(mode, SLICE_LIT("PASSIVE"));
	bool fail_listen = false;
	struct sockaddr_storage want;
	if (passive) {
		if (rest.n && !slice_eq(rest, SLICE_LIT("FAIL")))
			return bad_syntax(r, "E: DATA_SETUP PASSIVE [FAIL]");
		fail_listen = rest.n != 0;
	} else if (!slice_eq(mode, SLICE_LIT("ACTIVE")) || !parse_addr(rest, &want)) {
		return bad_syntax(r, "E: DATA_SETUP PASSIVE [FAIL] | ACTIVE ADDR:PORT");
	}
	int rc = expect_effect(r, PROTO_EFFECT_DATA_SETUP, &e);
	if (rc)
		return rc;
	if (e->data.passive != passive) {
		where(r);
		fprintf(stderr, "expected DATA_SETUP %s got ", passive ? "PASSIVE" : "ACTIVE");
		show_effect(e);
		fputc('\n', stderr);
		return EXIT_MISMATCH;
	}
	struct proto_result res = { 0 };
	if (passive) {
		if (e->data.family != r->family)
			return fail(r, "expected a passive DATA_SETUP for family %s got family %d",
				    r->family == AF_INET6 ? "inet6" : "inet", e->data.family);
		if (fail_listen)
			res.err = -EADDRINUSE;
		else
			res.port = 50000;
	} else if (!same_addr(&e->data.target, &want)) {
		char a[INET6_ADDRSTRLEN + 16], b[INET6_ADDRSTRLEN + 16];
		format_addr(&want, a, sizeof(a));
		format_addr(&e->data.target, b, sizeof(b));
		return fail(r, "expected DATA_SETUP ACTIVE %s got ACTIVE %s", a, b);
	}
	proto_complete(r->p, &res);
	return pump(r);
}

/* Splits text into lines (CRLF or LF ends) and sorts them, so listings can
 * be compared whatever readdir's order. The lines point into text. */
static int cmp_slices(const void *a, const void *b)
{
	const struct slice *x = a, *y = b;
	size_t n = x->n < y->n ? x->n : y->n;
	int c = memcmp(x->p, y->p, n);
	return c ? c : (x->n > y->n) - (x->n < y->n);
}

static size_t sorted_lines(struct slice text, struct slice **out)
{
	size_t n = 0, cap = 16;
	struct slice *v = util_xcalloc(cap, sizeof(*v));
	while (text.n) {
		struct slice line, rest;
		(void)slice_split(text, '\n', &line, &rest);
		if (n == cap) {
			struct slice *w = util_xcalloc(cap * 2, sizeof(*w));
			memcpy(w, v, n * sizeof(*v));
			free(v);
			v = w;
			cap *= 2;
		}
		v[n++] = line; /* the CR stays: CRLF line ends are part of the check */
		text = rest;
	}
	qsort(v, n, sizeof(*v), cmp_slices);
	*out = v;
	return n;
}

static int check_list_content(struct replay *r, const struct proto_xfer *x, const struct slice *want, uint64_t lines,
			      bool check_lines)
{
	struct buf got, wb;
	buf_init(&got, REPLAY_IN_MAX);
	buf_init(&wb, REPLAY_IN_MAX);
	int rc = 0;
	if (x->buf) {
		if (buf_append(&got, buf_data(x->buf), x->buf->len))
			rc = fail(r, "listing too large");
	} else if (x->listing) {
		int lr;
		while ((lr = listing_next(x->listing, &got, 64 * 1024)) == 1)
			;
		if (lr < 0)
			rc = fail(r, "listing_next failed: %s", strerror(-lr));
	} else {
		rc = fail(r, "expected SEND_LIST with a listing or a buffer got neither");
	}
	if (!rc && want && unescape(*want, &wb))
		rc = bad_syntax(r, "bad escape in content=");
	if (!rc) {
		struct slice *gl, *wl = NULL;
		size_t gn = sorted_lines(buf_slice(&got), &gl), wn = 0;
		bool ok = true;
		if (want) {
			wn = sorted_lines(buf_slice(&wb), &wl);
			ok = gn == wn;
			for (size_t i = 0; ok && i < gn; i++)
				ok = slice_eq(gl[i], wl[i]);
			if (!ok)
				rc = content_mismatch(r, "listing (any order)", buf_slice(&wb), buf_slice(&got));
		}
		if (!rc && check_lines && gn != lines) {
			where(r);
			fprintf(stderr, "expected a listing of %llu lines got %zu: ", (unsigned long long)lines, gn);
			show(buf_data(&got), got.len);
			fputc('\n', stderr);
			rc = EXIT_MISMATCH;
		}
		free(gl);
		free(wl);
	}
	buf_free(&got);
	buf_free(&wb);
	return rc;
}

/* E: XFER KIND [offset=N] [size=N] [ascii=0|1] [abort=0|1] [content=ESC] [lines=N] */
static int do_xfer_effect(struct replay *r, struct slice arg)
{
	struct slice kind, rest, tok;
	const struct proto_effect *e;
	enum proto_xfer_kind want_kind;
	(void)slice_split(arg, ' ', &kind, &rest);
	if (slice_eq(kind, SLICE_LIT("SEND_FILE")))
		want_kind = XFER_SEND_FILE;
	else if (slice_eq(kind, SLICE_LIT("RECV_FILE")))
		want_kind = XFER_RECV_FILE;
	else if (slice_eq(kind, SLICE_LIT("SEND_LIST")))
		want_kind = XFER_SEND_LIST;
	else
		return bad_syntax(r, "E: XFER SEND_FILE|RECV_FILE|SEND_LIST [KEY=VALUE ...]");
	int rc = expect_effect(r, PROTO_EFFECT_XFER, &e);
	if (rc)
		return rc;
	const struct proto_xfer *x = &e->xfer;
	if (x->kind != want_kind) {
		where(r);
		fprintf(stderr, "expected XFER %s got ", xfer_kind_name(want_kind));
		show_effect(e);
		fputc('\n', stderr);
		return EXIT_MISMATCH;
	}
	if (want_kind != XFER_SEND_LIST) {
		int fl = fcntl(x->fd, F_GETFL);
		if (fl < 0)
			return fail(r, "expected a usable fd in the XFER effect got fd %d (%s)", x->fd,
				    strerror(errno));
		if (want_kind == XFER_RECV_FILE && (fl & O_ACCMODE) == O_RDONLY)
			return fail(r, "expected RECV_FILE's fd to be writable got a read-only fd");
		if (want_kind == XFER_SEND_FILE && (fl & O_ACCMODE) == O_WRONLY)
			return fail(r, "expected SEND_FILE's fd to be readable got a write-only fd");
	}
	bool have_content = false, have_lines = false;
	struct slice content = { 0 };
	uint64_t lines = 0;
	while (rest.n) {
		struct slice key, val;
		uint64_t v;
		(void)slice_split(rest, ' ', &tok, &rest);
		if (!slice_split(tok, '=', &key, &val))
			return bad_syntax(r, "XFER fields are KEY=VALUE");
		if (slice_eq(key, SLICE_LIT("content"))) {
			have_content = true;
			content = val;
			continue;
		}
		if (parse_u64(val, UINT64_MAX, &v))
			return bad_syntax(r, "XFER field %.*s needs a number", (int)key.n, key.p);
		uint64_t got;
		if (slice_eq(key, SLICE_LIT("offset")) && want_kind == XFER_SEND_FILE) {
			got = x->offset;
		} else if (slice_eq(key, SLICE_LIT("size")) && want_kind == XFER_SEND_FILE) {
			got = x->size;
		} else if (slice_eq(key, SLICE_LIT("ascii")) && want_kind != XFER_SEND_LIST && v <= 1) {
			got = x->ascii;
		} else if (slice_eq(key, SLICE_LIT("abort")) && v <= 1) {
			got = x->abort;
		} else if (slice_eq(key, SLICE_LIT("gss")) && v <= 2) {
			got = x->gss_prot == 'S' ? 1 : x->gss_prot == 'P' ? 2 : 0;
		} else if (slice_eq(key, SLICE_LIT("pbsz"))) {
			got = x->pbsz;
		} else if (slice_eq(key, SLICE_LIT("protect")) && v <= 1) {
			got = x->protect;
		} else if (slice_eq(key, SLICE_LIT("lines")) && want_kind == XFER_SEND_LIST) {
			have_lines = true;
			lines = v;
			continue;
		} else {
			return bad_syntax(r,
					  "unknown XFER field for %s (SEND_FILE: offset size ascii content; "
					  "RECV_FILE: ascii; SEND_LIST: content lines; all: abort gss pbsz protect)",
					  xfer_kind_name(want_kind));
		}
		if (got != v)
			return fail(r, "expected XFER %s %.*s=%llu got %.*s=%llu", xfer_kind_name(want_kind),
				    (int)key.n, key.p, (unsigned long long)v, (int)key.n, key.p,
				    (unsigned long long)got);
	}
	if (want_kind == XFER_SEND_LIST) {
		if (have_content || have_lines)
			return check_list_content(r, x, have_content ? &content : NULL, lines, have_lines);
		return 0;
	}
	if (have_content) {
		if (want_kind != XFER_SEND_FILE)
			return bad_syntax(r, "content= is for SEND_FILE and SEND_LIST (use F: after an upload)");
		struct buf want, got;
		buf_init(&want, REPLAY_IN_MAX);
		buf_init(&got, REPLAY_IN_MAX);
		if (unescape(content, &want)) {
			buf_free(&want);
			return bad_syntax(r, "bad escape in content=");
		}
		int e2 = pread_all(x->fd, x->offset, &got);
		if (e2)
			rc = fail(r, "reading the SEND_FILE fd: %s", strerror(-e2));
		else if (!slice_eq(buf_slice(&want), buf_slice(&got)))
			rc =
			    content_mismatch(r, "SEND_FILE content from the offset", buf_slice(&want), buf_slice(&got));
		buf_free(&want);
		buf_free(&got);
	}
	return rc;
}

static int do_abort_requested(struct replay *r)
{
	const struct proto_effect *e;
	int rc = expect_effect(r, PROTO_EFFECT_XFER, &e);
	if (rc)
		return rc;
	if (!e->xfer.abort)
		return fail(r, "expected the XFER effect to have abort set got abort=0");
	return 0;
}

static int errno_value(struct slice s, int *out)
{
	static const struct {
		const char *name;
		int value;
	} names[] = {
		{ "ENOSPC", ENOSPC }, { "EDQUOT", EDQUOT }, { "EFBIG", EFBIG },		  { "EIO", EIO },
		{ "EACCES", EACCES }, { "EPIPE", EPIPE },   { "ECONNRESET", ECONNRESET }, { "ETIMEDOUT", ETIMEDOUT },
		{ "EROFS", EROFS },   { "EPERM", EPERM },   { "ENOENT", ENOENT },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (slice_eq(s, slice_from_cstr(names[i].name))) {
			*out = names[i].value;
			return 0;
		}
	}
	uint64_t v;
	if (parse_u64(s, 4095, &v) || v == 0)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* X: XFER_DONE STATUS ... */
static int do_xfer_done(struct replay *r, struct slice arg)
{
	struct slice st, rest, tok;
	const struct proto_effect *e;
	struct proto_result res = { 0 };
	bool need_bytes = false, need_errno = false;
	(void)slice_split(arg, ' ', &st, &rest);
	if (slice_eq(st, SLICE_LIT("OK"))) {
		res.xfer_status = XFER_OK;
		need_bytes = true;
	} else if (slice_eq(st, SLICE_LIT("LOST"))) {
		res.xfer_status = XFER_CONN_LOST;
		res.err = -ECONNRESET;
	} else if (slice_eq(st, SLICE_LIT("NOCONN"))) {
		res.xfer_status = XFER_NO_CONNECTION;
		res.err = -ECONNREFUSED;
	} else if (slice_eq(st, SLICE_LIT("ABORTED"))) {
		res.xfer_status = XFER_ABORTED;
	} else if (slice_eq(st, SLICE_LIT("LOCAL_ERROR"))) {
		res.xfer_status = XFER_LOCAL_ERROR;
		need_errno = true;
	} else if (slice_eq(st, SLICE_LIT("TLS_FAILED"))) {
		res.xfer_status = XFER_TLS_FAILED;
		res.err = -EPROTO;
	} else if (slice_eq(st, SLICE_LIT("TLS_NO_REUSE"))) {
		res.xfer_status = XFER_TLS_NO_REUSE;
		res.err = -EPERM;
	} else if (slice_eq(st, SLICE_LIT("PROT_FAILED"))) {
		res.xfer_status = XFER_PROT_FAILED;
		res.err = -EBADMSG;
	} else {
		return bad_syntax(r, "X: XFER_DONE OK|LOST|NOCONN|ABORTED|LOCAL_ERROR|TLS_FAILED|TLS_NO_REUSE ...");
	}
	if (need_errno) {
		int v;
		(void)slice_split(rest, ' ', &tok, &rest);
		if (errno_value(tok, &v))
			return bad_syntax(r, "X: XFER_DONE LOCAL_ERROR ERRNO (a name such as ENOSPC, or a number)");
		res.err = -v;
	}
	bool have_data = false;
	struct slice data = { 0 };
	bool have_bytes = false;
	while (rest.n) {
		(void)slice_split(rest, ' ', &tok, &rest);
		if (tok.n > 5 && memcmp(tok.p, "data=", 5) == 0) {
			have_data = true;
			data = (struct slice){ tok.p + 5, tok.n - 5 };
		} else if (!have_bytes && !parse_u64(tok, UINT64_MAX, &res.bytes)) {
			have_bytes = true;
		} else {
			return bad_syntax(r, "X: XFER_DONE STATUS [ERRNO] [BYTES] [data=ESCAPED]");
		}
	}
	if (need_bytes && !have_bytes)
		return bad_syntax(r, "X: XFER_DONE OK BYTES [data=ESCAPED]");
	int rc = expect_effect(r, PROTO_EFFECT_XFER, &e);
	if (rc)
		return rc;
	if (have_data) {
		if (e->xfer.kind != XFER_RECV_FILE)
			return fail(r, "expected a RECV_FILE transfer for data= got %s", xfer_kind_name(e->xfer.kind));
		struct buf b;
		buf_init(&b, REPLAY_IN_MAX);
		if (unescape(data, &b)) {
			buf_free(&b);
			return bad_syntax(r, "bad escape in data=");
		}
		const char *p = buf_data(&b);
		size_t left = b.len;
		while (left) {
			ssize_t w = write(e->xfer.fd, p, left);
			if (w < 0) {
				int err = errno;
				buf_free(&b);
				return fail(r, "writing the upload to the RECV_FILE fd: %s", strerror(err));
			}
			p += w;
			left -= (size_t)w;
		}
		buf_free(&b);
	}
	proto_complete(r->p, &res);
	return pump(r);
}

static int do_progress(struct replay *r, struct slice arg)
{
	uint64_t v;
	if (parse_u64(arg, UINT64_MAX, &v))
		return bad_syntax(r, "P: BYTES");
	proto_xfer_progress(r->p, v);
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

/* Removes the home and everything in it (never following symlinks). */
static void remove_home(void)
{
	(void)nftw(g_home, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int do_gss_step(struct replay *r, struct slice arg);

static int do_effect(struct replay *r, struct slice rest)
{
	struct slice kind, arg;
	const struct proto_effect *e;
	(void)slice_split(rest, ' ', &kind, &arg);
	if (slice_eq(kind, SLICE_LIT("AUTH_CHECK")) || slice_eq(kind, SLICE_LIT("AUTH_ERROR"))) {
		if (!arg.n)
			return bad_syntax(r, "E: AUTH_CHECK NAME");
		return do_auth(r, arg, slice_eq(kind, SLICE_LIT("AUTH_ERROR")));
	}
	if (slice_eq(kind, SLICE_LIT("USER_LOOKUP"))) {
		struct slice name, flag;
		(void)slice_split(arg, ' ', &name, &flag);
		bool err = slice_eq(flag, SLICE_LIT("ERROR"));
		if (!name.n || (flag.n && !err && (flag.n < 9 || memcmp(flag.p, "release=", 8) != 0)))
			return bad_syntax(r, "E: USER_LOOKUP NAME [ERROR | release=NAME]");
		if (flag.n && !err) {
			/* The lock an earlier USER took is handed back by this lookup. */
			e = proto_effect(r->p);
			struct slice want = { flag.p + 8, flag.n - 8 };
			if (!e || e->kind != PROTO_EFFECT_USER_LOOKUP || !e->lookup.release_user ||
			    !e->lookup.release_lock || !slice_eq(slice_from_cstr(e->lookup.release_user), want))
				return fail(r, "expected USER_LOOKUP releasing %.*s's challenge lock got %s",
					    (int)want.n, want.p,
					    e && e->kind == PROTO_EFFECT_USER_LOOKUP && e->lookup.release_user
						? e->lookup.release_user
						: "no release");
		}
		return do_lookup(r, name, err);
	}
	if (slice_eq(kind, SLICE_LIT("DELAY"))) {
		uint64_t ms;
		if (parse_u64(arg, UINT32_MAX, &ms))
			return bad_syntax(r, "E: DELAY MS");
		int rc = expect_effect(r, PROTO_EFFECT_DELAY, &e);
		if (rc)
			return rc;
		if (e->delay_ms != ms)
			return fail(r, "expected DELAY %llu got DELAY %u", (unsigned long long)ms,
				    (unsigned)e->delay_ms);
		proto_complete(r->p, NULL);
		return pump(r);
	}
	if (slice_eq(kind, SLICE_LIT("DATA_SETUP")))
		return do_data_setup(r, arg);
	if (slice_eq(kind, SLICE_LIT("TLS_START")) || slice_eq(kind, SLICE_LIT("TLS_STOP"))) {
		/* E: TLS_START [FAIL] / E: TLS_STOP [FAIL]: the session's handshake
		 * or shutdown finished (or failed). */
		bool start = slice_eq(kind, SLICE_LIT("TLS_START"));
		/* TLS_START host=NAME|- : the [host] whose certificate the
		 * handshake uses (a HOST before AUTH TLS); sni=NAME: the
		 * server name the client sent (proto_set_sni). */
		char sni[128] = "", host[128] = "", *opt = NULL;
		struct slice a0, opts = arg;
		bool fail = false;
		arg = (struct slice){ "", 0 };
		while (opts.n) {
			(void)slice_split(opts, ' ', &a0, &opts);
			opt = a0.n > 4 && memcmp(a0.p, "sni=", 4) == 0	  ? sni
			      : a0.n > 5 && memcmp(a0.p, "host=", 5) == 0 ? host
									  : NULL;
			if (slice_eq(a0, SLICE_LIT("FAIL")))
				fail = true;
			else if (!start || !opt || a0.n >= 128)
				return bad_syntax(r, "E: TLS_START [FAIL] [host=NAME|-] [sni=NAME] | TLS_STOP [FAIL]");
			else
				(void)snprintf(opt, 128, "%.*s", (int)(a0.n - (opt == sni ? 4 : 5)),
					       a0.p + (opt == sni ? 4 : 5));
		}
		int rc = expect_effect(r, start ? PROTO_EFFECT_TLS_START : PROTO_EFFECT_TLS_STOP, &e);
		if (rc)
			return rc;
		if (host[0]) {
			const char *got = proto_vhost_name(r->p);
			if (strcmp(got ? got : "-", host) != 0) {
				where(r);
				fprintf(stderr, "expected TLS_START host=%s got host=%s\n", host, got ? got : "-");
				return EXIT_MISMATCH;
			}
		}
		struct proto_result res = { .err = fail ? -EPROTO : 0 };
		if (start && !fail && sni[0])
			proto_set_sni(r->p, sni);
		/* Like the session: plaintext buffered behind AUTH TLS is
		 * discarded, never executed (RFC 4217 §4, PROTOCOL.md §4.4). */
		if (start)
			buf_reset(&r->in);
		proto_complete(r->p, &res);
		return pump(r);
	}
	if (slice_eq(kind, SLICE_LIT("XFER")))
		return do_xfer_effect(r, arg);
	if (slice_eq(kind, SLICE_LIT("ASCII_SIZE"))) {
		/* E: ASCII_SIZE [FAIL]: counted here as the session's job does
		 * (FAIL: the read fails with EIO). */
		if (arg.n && !slice_eq(arg, SLICE_LIT("FAIL")))
			return bad_syntax(r, "E: ASCII_SIZE [FAIL]");
		int rc = expect_effect(r, PROTO_EFFECT_ASCII_SIZE, &e);
		if (rc)
			return rc;
		struct proto_result res = { .err = -EIO };
		if (!arg.n)
			res.err = vfs_ascii_size(e->count_fd, ASCII_SIZE_LIMIT, &res.bytes);
		if (res.err && !arg.n)
			return fail(r, "expected ASCII_SIZE of a readable fd got error %d (%s)", res.err,
				    strerror(-res.err));
		proto_complete(r->p, &res);
		return pump(r);
	}
	if (slice_eq(kind, SLICE_LIT("HASH"))) {
		/* E: HASH [BUSY]: hashed here as the session's job does (BUSY:
		 * the user's [limits] hash_jobs are all in use). */
		if (arg.n && !slice_eq(arg, SLICE_LIT("BUSY")))
			return bad_syntax(r, "E: HASH [BUSY]");
		int rc = expect_effect(r, PROTO_EFFECT_HASH, &e);
		if (rc)
			return rc;
		char hex[HASH_HEX_MAX] = "";
		struct proto_result res = { .err = -EBUSY, .hash_hex = hex };
		if (!arg.n)
			res.err = hash_fd_range(e->hash_fd, (enum hash_alg)e->hash_alg, e->hash_offset, e->hash_count,
						NULL, hex);
		proto_complete(r->p, &res);
		return pump(r);
	}
	if (slice_eq(kind, SLICE_LIT("GSS_STEP")))
		return do_gss_step(r, arg);
	if (arg.n)
		return bad_syntax(r, "E: CLOSE, E: NONE and E: ABORT_REQUESTED take no argument");
	if (slice_eq(kind, SLICE_LIT("ABORT_REQUESTED")))
		return do_abort_requested(r);
	if (slice_eq(kind, SLICE_LIT("CLOSE"))) {
		int rc = expect_effect(r, PROTO_EFFECT_CLOSE, &e);
		if (rc)
			return rc;
		r->closed = true;
		return 0;
	}
	if (slice_eq(kind, SLICE_LIT("ENOBUFS"))) {
		if (!r->overflow)
			return fail(r,
				    "expected proto_feed to have returned -ENOBUFS got no overflow (output %zu bytes)",
				    proto_output(r->p)->len);
		r->overflow_seen = true;
		r->closed = true;
		return 0;
	}
	if (slice_eq(kind, SLICE_LIT("NONE"))) {
		e = proto_effect(r->p);
		if (e) {
			where(r);
			fputs("expected no effect got ", stderr);
			show_effect(e);
			fputc('\n', stderr);
			return EXIT_MISMATCH;
		}
		return 0;
	}
	return bad_syntax(
	    r, "unknown effect (USER_LOOKUP, AUTH_CHECK, AUTH_ERROR, DELAY, DATA_SETUP, XFER, ABORT_REQUESTED, "
	       "ASCII_SIZE, CLOSE, ENOBUFS, NONE)");
}

/* E: GSS_STEP TOKEN CONTINUE|COMPLETE|FAIL [reply=ESCAPED] [principal=P] [local=L] */
static int do_gss_step(struct replay *r, struct slice arg)
{
	const struct proto_effect *e;
	struct slice tok, rest, status, opt;
	if (!slice_split(arg, ' ', &tok, &rest))
		return bad_syntax(r, "E: GSS_STEP TOKEN CONTINUE|COMPLETE|FAIL [reply=..] [principal=..] [local=..]");
	(void)slice_split(rest, ' ', &status, &rest);
	int rc = expect_effect(r, PROTO_EFFECT_GSS_STEP, &e);
	if (rc)
		return rc;
	struct buf want, reply;
	buf_init(&want, 65536);
	buf_init(&reply, 65536);
	char principal[256] = "", local[256] = "";
	struct proto_result res = { .gss_status = slice_eq(status, SLICE_LIT("COMPLETE")) ? 1 : 0,
				    .gss_error = "replayed failure" };
	if (slice_eq(status, SLICE_LIT("FAIL")))
		res.gss_status = -1;
	else if (!slice_eq(status, SLICE_LIT("CONTINUE")) && !slice_eq(status, SLICE_LIT("COMPLETE")))
		rc = bad_syntax(r, "GSS_STEP status must be CONTINUE, COMPLETE or FAIL");
	if (!rc && unescape(tok, &want))
		rc = bad_syntax(r, "bad escape in the GSS_STEP token");
	while (!rc && rest.n) {
		(void)slice_split(rest, ' ', &opt, &rest);
		if (opt.n > 6 && memcmp(opt.p, "reply=", 6) == 0)
			rc = unescape((struct slice){ opt.p + 6, opt.n - 6 }, &reply) ? bad_syntax(r, "bad reply=") : 0;
		else if (opt.n > 10 && memcmp(opt.p, "principal=", 10) == 0 && opt.n - 10 < sizeof(principal))
			memcpy(principal, opt.p + 10, opt.n - 10);
		else if (opt.n > 6 && memcmp(opt.p, "local=", 6) == 0 && opt.n - 6 < sizeof(local))
			memcpy(local, opt.p + 6, opt.n - 6);
		else
			rc = bad_syntax(r, "GSS_STEP options: reply=ESCAPED principal=P local=L");
	}
	if (!rc && !slice_eq(e->gss_token, buf_slice(&want))) {
		where(r);
		fputs("expected GSS_STEP token ", stderr);
		show(buf_data(&want), want.len);
		fputs(" got ", stderr);
		show(e->gss_token.p, e->gss_token.n);
		fputc('\n', stderr);
		rc = EXIT_MISMATCH;
	}
	if (!rc) {
		res.gss_reply = buf_slice(&reply);
		res.gss_principal = principal;
		res.gss_local = local[0] ? local : NULL;
		proto_complete(r->p, &res);
		rc = pump(r);
	}
	buf_free(&want);
	buf_free(&reply);
	return rc;
}

/* S{S}: / S{P}: the next line of the protected replies (unwrapped). */
static int do_expect_protected(struct replay *r, char level, struct slice want)
{
	const char *why = NULL;
	if (r->gss_plain.len == 0 && replay_gss_reply(level, proto_output(r->p), &r->gss_plain, &why) != 0) {
		where(r);
		fprintf(stderr, "expected %s (%s) got ", level == 'P' ? "632" : "631", why);
		struct slice got = buf_slice(proto_output(r->p));
		const char *lf = got.n ? memchr(got.p, '\n', got.n) : NULL;
		if (got.n)
			show(got.p, lf ? (size_t)(lf - got.p) + 1 : got.n);
		else
			fputs("no output", stderr);
		fputc('\n', stderr);
		return EXIT_MISMATCH;
	}
	struct slice got = buf_slice(&r->gss_plain);
	const char *lf = memchr(got.p, '\n', got.n);
	size_t n = lf ? (size_t)(lf - got.p) + 1 : got.n;
	if (n == want.n + 2 && memcmp(got.p, want.p, want.n) == 0 && memcmp(got.p + want.n, "\r\n", 2) == 0) {
		buf_consume(&r->gss_plain, n);
		return 0;
	}
	where(r);
	fputs("expected protected ", stderr);
	show(want.p, want.n);
	fputs(" got ", stderr);
	show(got.p, n);
	fputc('\n', stderr);
	return EXIT_MISMATCH;
}

static int do_timeout(struct replay *r, struct slice rest)
{
	if (slice_eq(rest, SLICE_LIT("IDLE")))
		proto_timeout(r->p, PROTO_TIMEOUT_IDLE);
	else if (slice_eq(rest, SLICE_LIT("LOGIN")))
		proto_timeout(r->p, PROTO_TIMEOUT_LOGIN);
	else if (slice_eq(rest, SLICE_LIT("SHUTDOWN")))
		proto_timeout(r->p, PROTO_TIMEOUT_SHUTDOWN);
	else
		return bad_syntax(r, "T: IDLE|LOGIN|SHUTDOWN");
	return 0;
}

/* True and *rest set if line starts with prefix followed by a space or the
 * end of the line. */
static bool directive(struct slice line, const char *prefix, struct slice *rest)
{
	size_t k = strlen(prefix);
	if (line.n < k || memcmp(line.p, prefix, k) != 0)
		return false;
	if (line.n == k) {
		*rest = (struct slice){ line.p + k, 0 };
		return true;
	}
	if (line.p[k] != ' ')
		return false;
	*rest = (struct slice){ line.p + k + 1, line.n - k - 1 };
	return true;
}

/* An -ENOBUFS that no E: ENOBUFS step acknowledged is a mismatch. */
static int unexpected_overflow(const struct replay *r)
{
	return fail(r, "expected proto_feed to return 0 got -ENOBUFS (output over its cap: %zu bytes queued)",
		    proto_output(r->p)->len);
}

static int step(struct replay *r, struct slice line)
{
	struct slice rest;
	bool close_step = false;
	int rc;
	if (r->overflow && !r->overflow_seen && !slice_eq(line, SLICE_LIT("E: ENOBUFS")))
		return unexpected_overflow(r);
	if (directive(line, "set", &rest))
		return do_set(r, rest);
	if (directive(line, "user", &rest))
		return do_user(r, rest);
	/* The home directory: no proto involved. */
	if (directive(line, "file", &rest))
		return do_file(r, rest);
	if (directive(line, "mkdir", &rest))
		return do_mkdir(r, rest);
	if (directive(line, "symlink", &rest))
		return do_symlink(r, rest);
	if (directive(line, "mtime", &rest))
		return do_mtime(r, rest);
	if (directive(line, "clock", &rest))
		return do_clock(r, rest);
	if (directive(line, "F:", &rest))
		return check_file(r, rest);
	if (directive(line, "F!", &rest))
		return check_absent_or_dir(r, rest, false);
	if (directive(line, "D:", &rest))
		return check_absent_or_dir(r, rest, true);
	ensure_proto(r);
	if (directive(line, "greet", &rest) && rest.n == 0) {
		proto_greet(r->p);
		rc = 0;
	} else if (directive(line, "C:", &rest)) {
		rc = do_feed(r, rest, false);
	} else if (directive(line, "C<", &rest)) {
		rc = do_feed(r, rest, true);
	} else if (directive(line, "S:", &rest)) {
		rc = do_expect(r, rest, false);
	} else if (directive(line, "S<", &rest)) {
		rc = do_expect(r, rest, true);
	} else if (directive(line, "S~", &rest)) {
		rc = do_expect_regex(r, rest);
	} else if (directive(line, "C{S}:", &rest) || directive(line, "C{P}:", &rest)) {
		if (r->closed)
			return bad_syntax(r, "nothing may be fed after E: CLOSE or E: ENOBUFS");
		if (replay_gss_command(line.p[2], rest, &r->in))
			return bad_syntax(r, "input queue full");
		rc = pump(r);
	} else if (directive(line, "S{S}:", &rest) || directive(line, "S{P}:", &rest)) {
		rc = do_expect_protected(r, line.p[2], rest);
	} else if (directive(line, "S-", &rest) && rest.n == 0) {
		rc = expect_nothing(r);
	} else if (directive(line, "X:", &rest) && slice_eq(rest, SLICE_LIT("COMPLETE"))) {
		proto_complete(r->p, NULL);
		rc = pump(r);
	} else if (directive(line, "X:", &rest) && directive(rest, "XFER_DONE", &rest)) {
		rc = do_xfer_done(r, rest);
	} else if (directive(line, "P:", &rest)) {
		rc = do_progress(r, rest);
	} else if (directive(line, "E:", &rest)) {
		rc = do_effect(r, rest);
		close_step = slice_eq(rest, SLICE_LIT("CLOSE")) || slice_eq(rest, SLICE_LIT("ENOBUFS"));
	} else if (directive(line, "T:", &rest)) {
		rc = do_timeout(r, rest);
	} else {
		return bad_syntax(
		    r, "unknown directive (set user file mkdir symlink mtime clock F: F! D: greet C: C< S: S< S~ "
		       "S- E: T: X: P:)");
	}
	r->last_was_close = close_step;
	return rc;
}

static int at_end(struct replay *r)
{
	if (r->steps == 0)
		return bad_syntax(r, "no steps");
	ensure_proto(r);
	if (r->overflow && !r->overflow_seen)
		return unexpected_overflow(r);
	if (r->overflow_seen)
		return 0; /* closed without flushing: what is queued is dropped */
	struct slice got = buf_slice(proto_output(r->p));
	if (r->gss_plain.len)
		got = buf_slice(&r->gss_plain);
	if (got.n) {
		where(r);
		fputs("expected end of output at end of transcript got ", stderr);
		const char *lf = memchr(got.p, '\n', got.n);
		show(got.p, lf ? (size_t)(lf - got.p) + 1 : got.n);
		fputc('\n', stderr);
		return EXIT_MISMATCH;
	}
	const struct proto_effect *e = proto_effect(r->p);
	if (e && !r->last_was_close) {
		where(r);
		fputs("expected no pending effect at end of transcript got ", stderr);
		show_effect(e);
		fputc('\n', stderr);
		return EXIT_MISMATCH;
	}
	return 0;
}

static int run(struct replay *r, FILE *f)
{
	char *text = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = 0;
	while (rc == 0 && (len = getline(&text, &cap, f)) >= 0) {
		r->line++;
		struct slice line = { text, (size_t)len };
		if (line.n && line.p[line.n - 1] == '\n')
			line.n--;
		if (line.n && line.p[line.n - 1] == '\r')
			line.n--;
		if (line.n == 0 || line.p[0] == '#')
			continue;
		r->steps++;
		rc = step(r, line);
	}
	free(text);
	if (rc == 0 && ferror(f)) {
		fprintf(stderr, "%s: read error: %s\n", r->file, strerror(errno));
		rc = EXIT_USAGE;
	}
	if (rc == 0)
		rc = at_end(r);
	return rc;
}

int main(int argc, char **argv)
{
	bool verbose = false;
	int argi = 1;
	if (argi < argc && strcmp(argv[argi], "-v") == 0) {
		verbose = true;
		argi++;
	}
	if (argc - argi != 1) {
		fputs("usage: proto_replay [-v] FILE.t\n", stderr);
		return EXIT_USAGE;
	}
	log_setup(LOG_TO_STDERR, verbose ? LOG_LVL_DEBUG : LOG_LVL_ERROR, "proto_replay");

	struct replay r = { .file = argv[argi], .family = AF_INET, .now_ms = util_now_ms(), .wall_s = util_wall_s() };
	FILE *f = fopen(r.file, "r");
	if (!f) {
		fprintf(stderr, "%s: %s\n", r.file, strerror(errno));
		return EXIT_USAGE;
	}
	if (!mkdtemp(g_home)) {
		fprintf(stderr, "%s: mkdtemp: %s\n", r.file, strerror(errno));
		fclose(f);
		return EXIT_USAGE;
	}
	r.cfg = config_new_default();
	if (!r.cfg) {
		fprintf(stderr, "%s: config_new_default() failed\n", r.file);
		fclose(f);
		return EXIT_USAGE;
	}
	buf_init(&r.in, REPLAY_IN_MAX);
	buf_init(&r.gss_plain, REPLAY_IN_MAX);

	int rc = run(&r, f);
	fclose(f);
	if (rc == 0)
		printf("%s: %u steps ok\n", r.file, r.steps);

	/* proto first: it closes the fds it holds into the home (and discards
	 * an unfinished upload's temporary) before the tree goes. */
	proto_free(r.p);
	remove_home();
	config_unref(r.cfg);
	buf_free(&r.in);
	buf_free(&r.gss_plain);
	for (size_t i = 0; i < r.n_users; i++) {
		free(r.users[i].name);
		free(r.users[i].password);
		free(r.users[i].account);
	}
	return rc;
}
