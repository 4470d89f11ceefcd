/* proto: input framing (Telnet, CRLF, over-long lines), dispatch through
 * the command table, and the effect protocol with the session. */
#include "proto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdtab.h"
#include "log.h"
#include "parse.h"
#include "proto_impl.h"
#include "reply.h"
#include "sec.h"
#include "util.h"

/* Replies to one client are small; a client that never reads them is
 * dropped when this much is queued. */
#define PROTO_OUT_MAX (256u * 1024u)
/* Commands queued behind a running transfer: this much, plus room for one
 * more line of the longest kind (see proto_new). */
#define HELD_MAX (64u * 1024u)

/* Memory per idle session is a target (issue 15: <= 2 KiB plain; bench/
 * rows "Memory per idle session, 1,000" and "10,000", the server tree's
 * PSS with the sessions logged in and idle). An idle logged-in FTP session
 * is one struct proto and one struct session (session.c,
 * SESSION_SIZE_BUDGET) and a few short strings (user, home, cwd): about
 * 1.3 KiB of heap in use, 1.6-1.7 KiB of anonymous memory with malloc's
 * overhead on a fresh ferryd (2.4 KiB before these budgets). Whatever only
 * a command, an effect, a transfer or a feature some users have needs goes
 * behind a pointer made when it is used (proto_trim frees what a finished
 * effect left); raising this budget is a decision that needs a new bench
 * figure, with headroom under 2 KiB at 10,000 sessions. */
#define PROTO_SIZE_BUDGET 648u
_Static_assert(
    sizeof(struct proto) <= PROTO_SIZE_BUDGET,
    "struct proto outgrew the idle-session budget (issue 15): put new state behind a pointer made when used");

enum { TN_IAC_BYTE = 255, TN_DONT = 254, TN_DO = 253, TN_WONT = 252, TN_WILL = 251, TN_SB_BYTE = 250, TN_SE = 240 };

struct proto *proto_new(const struct config *cfg, const struct cmdtab *cmds, uint64_t sid, const char *peer)
{
	struct proto *p = util_xcalloc(1, sizeof(*p));
	p->cfg = cfg;
	p->cmds = cmds;
	p->sid = sid;
	p->peer = peer ? peer : "";
	buf_init(&p->out, PROTO_OUT_MAX);
	p->vfs.root_fd = -1;
	p->xfer_fd = -1;
	p->mlst_facts = FACT_DEFAULT;
	buf_init(&p->xfer_buf, 64 * 1024);
	/* reading() takes a line during a transfer only while one of the
	 * longest kind (and its framing) still fits: sized from max_line (up to
	 * 64 KiB), so that with such a line held ABOR and STAT are still read. */
	size_t longest = (cfg->max_line > PROTO_SEC_LINE_MAX ? cfg->max_line : PROTO_SEC_LINE_MAX) + 3;
	buf_init(&p->held, (HELD_MAX > longest ? HELD_MAX : longest) + longest);
	p->level = 'C';
	proto_reset_params(p);
	return p;
}

static void clear_secret(char **s)
{
	if (*s) {
		util_wipe(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

void proto_free(struct proto *p)
{
	if (!p)
		return;
	clear_secret(&p->password);
	clear_secret(&p->account);
	free(p->user);
	free(p->lock_user);
	free(p->challenge);
	free(p->home);
	free(p->line);
	free(p->cwd);
	free(p->xfer_name);
	free(p->hash_name);
	buf_free(&p->held);
	free(p->rnfr);
	if (p->upload)
		(void)files_upload_end(p->upload, false, false);
	if (p->xfer_listing)
		listing_free(p->xfer_listing);
	vfs_fd_close(p->xfer_fd);
	vfs_close(&p->vfs);
	files_space_free(p->space);
	buf_free(&p->xfer_buf);
	if (p->gx) {
		buf_free(&p->gx->stage);
		buf_free(&p->gx->tok);
		free(p->gx->principal);
		free(p->gx->local);
		free(p->gx);
	}
	buf_free(&p->out);
	free(p->effect);
	free(p);
}

/* The reply helpers format the text once and record an output overflow in
 * one place; the session closes the connection when it sees it. */
#define FORMAT_TEXT(text, fmt)                                                                                         \
	char text[REPLY_MAX_LINE];                                                                                     \
	do {                                                                                                           \
		va_list ap_;                                                                                           \
		va_start(ap_, fmt);                                                                                    \
		(void)vsnprintf(text, sizeof(text), fmt, ap_);                                                         \
		va_end(ap_);                                                                                           \
	} while (0)

static void put(struct proto *p, int r)
{
	if (r)
		p->out_overflow = true;
}

/* RFC 2228 §7: a reply is protected at the level of the command that
 * produced it; it is collected whole, then wrapped (protect_flush). */
static struct buf *reply_buf(struct proto *p)
{
	return p->level == 'C' ? &p->out : &proto_gss_state(p)->stage;
}

struct proto_gss_state *proto_gss_state(struct proto *p)
{
	if (!p->gx) {
		p->gx = util_xcalloc(1, sizeof(*p->gx));
		buf_init(&p->gx->stage, PROTO_OUT_MAX);
		buf_init(&p->gx->tok, PROTO_SEC_LINE_MAX);
	}
	return p->gx;
}

/* Wraps the reply in p->gx->stage into 631/632 lines on p->out. */
static void protect_flush(struct proto *p)
{
	if (p->level == 'C' || !p->gx || p->gx->stage.len == 0)
		return;
	struct buf *stage = &p->gx->stage;
	/* A command unwrapped during a transfer may run after an AUTH or REIN
	 * that waited before it deleted the context: nothing can protect its
	 * reply any more, so it goes out as plaintext. */
	if (p->gss != GSS_ON) {
		if (buf_append(&p->out, buf_data(stage), stage->len) != 0)
			p->out_overflow = true;
		buf_reset(stage);
		return;
	}
	bool conf = p->level == 'P';
	int code = conf ? 632 : 631;
	struct slice plain = buf_slice(stage);
	struct buf tok;
	buf_init(&tok, 2 * SEC_REPLY_FRAGMENT);
	/* RFC 2228 §5.2: the plaintext (CRLFs included) is split into
	 * fragments, each wrapped and sent as one 63z line. */
	for (size_t off = 0; off < plain.n && !p->out_overflow;) {
		size_t n = plain.n - off < SEC_REPLY_FRAGMENT ? plain.n - off : SEC_REPLY_FRAGMENT;
		buf_reset(&tok);
		int r = p->gss_ops->wrap(p->gss_ctx, conf, (struct slice){ plain.p + off, n }, &tok);
		if (r == 0)
			r = sec_reply_line(&p->out, code, off + n == plain.n, buf_slice(&tok));
		if (r) {
			/* Nothing sensible can reach the client: the session closes. */
			log_err(p->sid, "cannot protect a reply (GSSAPI wrap failed)");
			p->out_overflow = true;
		}
		off += n;
	}
	buf_free(&tok);
	buf_reset(stage);
}

/* Command errors (5xx) go to the JSON event log with the verb they answer. */
static void log_command_error(struct proto *p, int code, const char *text)
{
	if (code >= 500 && log_json_on())
		LOG_JSON(p->sid, "command_error", LOG_FS("ip", p->peer), LOG_FS("user", p->user),
			 LOG_FS("cmd", p->verb), LOG_FU("code", (unsigned)code), LOG_FS("text", text));
}

void proto_reply(struct proto *p, int code, const char *fmt, ...)
{
	FORMAT_TEXT(text, fmt);
	log_command_error(p, code, text);
	log_debug_reply(p->sid, code, ' ', text);
	put(p, reply_line(reply_buf(p), code, "%s", text));
	protect_flush(p);
}

void proto_reply_begin(struct proto *p, int code, const char *fmt, ...)
{
	FORMAT_TEXT(text, fmt);
	log_debug_reply(p->sid, code, '-', text);
	put(p, reply_begin(reply_buf(p), code, "%s", text));
}

void proto_reply_cont(struct proto *p, const char *fmt, ...)
{
	FORMAT_TEXT(text, fmt);
	log_debug_reply(p->sid, 0, 0, text);
	put(p, reply_cont(reply_buf(p), "%s", text));
}

void proto_reply_end(struct proto *p, int code, const char *fmt, ...)
{
	FORMAT_TEXT(text, fmt);
	log_command_error(p, code, text);
	log_debug_reply(p->sid, code, ' ', text);
	put(p, reply_end(reply_buf(p), code, "%s", text));
	protect_flush(p);
}

void proto_start_effect(struct proto *p, struct proto_effect e)
{
	if (!p->effect)
		p->effect = util_xcalloc(1, sizeof(*p->effect));
	*p->effect = e;
}

void proto_trim(struct proto *p)
{
	if (p->effect && p->effect->kind == PROTO_EFFECT_NONE) {
		free(p->effect);
		p->effect = NULL;
	}
}

void proto_count_ascii(struct proto *p, int fd, void (*then)(struct proto *, const struct proto_result *))
{
	proto_start_effect(p, (struct proto_effect){ .kind = PROTO_EFFECT_ASCII_SIZE, .count_fd = fd, .then = then });
}

void proto_read_listing(struct proto *p, struct listing *l, struct buf *out, size_t step,
			void (*then)(struct proto *, const struct proto_result *))
{
	proto_start_effect(
	    p, (struct proto_effect){
		   .kind = PROTO_EFFECT_LIST_READ, .list_read = l, .list_out = out, .list_step = step, .then = then });
}

void proto_close_with(struct proto *p, const char *text)
{
	proto_reply(p, 421, "%s", text);
	proto_start_effect(p, (struct proto_effect){ .kind = PROTO_EFFECT_CLOSE });
}

void proto_set_str(char **dst, const char *s)
{
	char *copy = util_xstrdup(s);
	free(*dst);
	*dst = copy;
}

void proto_logout(struct proto *p)
{
	p->login = LOGIN_NONE;
	free(p->user);
	p->user = NULL;
	free(p->home);
	p->home = NULL;
	clear_secret(&p->account);
	p->perms = 0;
	/* The lock, if any, stays recorded in lock/lock_user. */
	free(p->challenge);
	p->challenge = NULL;
	vfs_close(&p->vfs);
	files_space_free(p->space);
	p->space = NULL;
	free(p->rnfr);
	p->rnfr = NULL;
	p->rest = 0;
	proto_set_str(&p->cwd, "/");
}

void proto_reset_params(struct proto *p)
{
	p->type = 'A';
	p->prot = 'C';
	p->pbsz = false;
	p->data_ready = false;
	p->epsv_all = false;
	p->mlst_facts = FACT_DEFAULT;
	p->hash_alg = HASH_DEFAULT; /* HASH draft §3.2: until OPTS HASH or REIN */
	p->rang = false;
	proto_set_str(&p->cwd, "/");
}

void proto_greet(struct proto *p)
{
	proto_reply(p, 220, "%s", p->vhost && p->vhost->banner[0] ? p->vhost->banner : p->cfg->banner);
}

void proto_timeout(struct proto *p, enum proto_timeout_kind kind)
{
	if (proto_effect_kind(p) == PROTO_EFFECT_CLOSE)
		return;
	static const char *const text[] = {
		[PROTO_TIMEOUT_IDLE] = "Idle timeout, closing control connection.",
		[PROTO_TIMEOUT_LOGIN] = "Login timeout, closing control connection.",
		[PROTO_TIMEOUT_SHUTDOWN] = "Server shutting down, closing control connection.",
		[PROTO_TIMEOUT_EVICTED] = ("Server full; closing the oldest connection not logged in to make room. "
					   "Try again later."),
	};
	clear_secret(&p->password);
	proto_close_with(p, text[kind]);
}

static void hold(struct proto *p, char kind, struct slice line)
{
	/* reading() keeps room for one more line plus its framing. */
	if (buf_append(&p->held, &kind, 1) != 0 || buf_append(&p->held, line.p, line.n) != 0 ||
	    buf_append(&p->held, "\n", 1) != 0)
		p->out_overflow = true;
}

static void run_line(struct proto *p, struct slice line);
static void run_command(struct proto *p, struct slice line);

/* ABOR and STAT (without argument) act at once during a transfer. */
static bool acts_in_xfer(const struct proto *p, struct slice line)
{
	struct slice verb, arg;
	bool has_arg = slice_split(line, ' ', &verb, &arg);
	const struct cmd_row *row =
	    verb.n <= 4 && !parse_has_forbidden_byte(line) ? cmd_rows_find(p->cmds->verbs, verb) : NULL;
	return row && (row->flags & CMD_IN_XFER) && !(has_arg && arg.n);
}

/* RFC 2228 §3/§7: after the GSSAPI exchange commands must be protected
 * (policy [gssapi] required) until a protected CCC. */
static bool protect_refuses_plain(const struct proto *p)
{
	return p->gss == GSS_ON && !p->gss_cleared && p->cfg->gss_required;
}

/* Decodes and unwraps the argument of MIC (level 'S') or ENC ('P') into
 * inner (CRLF removed). Returns 0, or the reply code of the failure
 * (501/503/535/500) for protect_reply_failure. */
static int protect_unwrap(struct proto *p, char level, struct slice arg, struct buf *inner)
{
	if (p->gss != GSS_ON)
		return 503;
	struct buf tok;
	buf_init(&tok, PROTO_SEC_LINE_MAX);
	int code = 0;
	bool conf = false;
	if (sec_b64_decode(slice_trim_spaces(arg), &tok) != 0) {
		code = 501;
	} else {
		int r = p->gss_ops->unwrap(p->gss_ctx, buf_slice(&tok), inner, &conf);
		/* SECURITY: MIC must be integrity-only and ENC confidential
		 * (App. I); a token at another level is refused, not run. */
		if (r == -ENOBUFS)
			code = 500;
		else if (r || conf != (level == 'P'))
			code = 535;
	}
	buf_free(&tok);
	if (code)
		return code;
	/* The EOL inside the protected text is optional (RFC 2228 §3). */
	if (inner->len && buf_data(inner)[inner->len - 1] == '\n')
		inner->len--;
	if (inner->len && buf_data(inner)[inner->len - 1] == '\r')
		inner->len--;
	if (inner->len > p->cfg->max_line)
		return 500;
	return 0;
}

static void protect_reply_failure(struct proto *p, int code)
{
	/* Without a context nothing can be protected (503). */
	if (p->gss != GSS_ON)
		p->level = 'C';
	switch (code) {
	case 503:
		proto_reply(p, 503, "Protected commands need a completed security exchange (AUTH GSSAPI, ADAT).");
		break;
	case 501:
		proto_reply(p, 501, "Cannot decode the protected command (base64).");
		break;
	case 500:
		proto_reply(p, 500, "Command line too long.");
		break;
	default:
		proto_reply(p, 535, "Protected command failed the security check.");
		break;
	}
}

/* RFC 2228: the one place a protected command (MIC: level 'S', ENC: 'P')
 * is unwrapped. Replies, failures included, go out at its level (§7).
 * During a transfer it is unwrapped on arrival, in order (GSSAPI sequence
 * numbers), and then acts (ABOR, STAT) or waits like a plaintext command;
 * a failure's reply waits too. */
static void run_protected(struct proto *p, char level, struct slice arg, bool in_xfer)
{
	struct buf inner;
	buf_init(&inner, p->cfg->max_line + 2); /* the line and its CRLF */
	int code = protect_unwrap(p, level, arg, &inner);
	if (code && in_xfer) {
		char rec[5] = { level, (char)('0' + code / 100), (char)('0' + code / 10 % 10), (char)('0' + code % 10),
				0 };
		hold(p, 'E', (struct slice){ rec, 4 });
	} else if (in_xfer && !acts_in_xfer(p, buf_slice(&inner))) {
		hold(p, level, buf_slice(&inner));
	} else {
		char saved = p->level;
		p->level = level;
		if (code)
			protect_reply_failure(p, code);
		else
			run_command(p, buf_slice(&inner));
		/* The running transfer's replies keep its own command's level;
		 * otherwise the level stays for the replies to this command's
		 * effect. */
		if (in_xfer)
			p->level = saved;
	}
	buf_free(&inner);
}

/* Runs one complete command line (CRLF/LF already stripped). */
static void execute(struct proto *p, struct slice line)
{
	if (line.n == 0)
		return; /* empty lines are ignored, as vsftpd and ProFTPD do */
	if (proto_in_xfer(p)) {
		/* RFC 959 §4.1.3 / RFC 1123 §4.1.3.3: ABOR and STAT act during a
		 * transfer; everything else (errors included, so replies stay in
		 * order; QUIT too, so its 221 follows the 226) waits for it. */
		struct slice verb, arg;
		(void)slice_split(line, ' ', &verb, &arg);
		if (acts_in_xfer(p, line)) {
			char saved = p->level;
			p->level = 'C';
			log_debug_command(p->sid, line);
			cmd_rows_find(p->cmds->verbs, verb)->fn(p, arg);
			p->level = saved;
			return;
		}
		char level = slice_eq_ci(verb, "MIC") ? 'S' : slice_eq_ci(verb, "ENC") ? 'P' : 0;
		if (level && p->gss == GSS_ON)
			run_protected(p, level, arg, true);
		else
			hold(p, 'L', line);
		return;
	}
	/* SECURITY: a connection that never logs in cannot keep the server
	 * busy (or probe it) for ever; the login timeout bounds it in time. */
	if (p->login != LOGIN_DONE && ++p->prelogin_cmds > p->cfg->prelogin_commands) {
		log_warn(p->sid, "too many commands before login: ip=%s", p->peer);
		proto_close_with(p, "Too many commands before login, closing control connection.");
		return;
	}
	run_line(p, line);
}

/* A plaintext command line: its replies are plaintext. */
static void run_line(struct proto *p, struct slice line)
{
	p->level = 'C';
	run_command(p, line);
}

/* Runs one command line at the protection level p->level. */
static void run_command(struct proto *p, struct slice line)
{
	log_debug_command(p->sid, line);
	struct slice verb, arg;
	bool has_arg = slice_split(line, ' ', &verb, &arg);
	/* Remembered for the logs only: at most 4 letters, upper-cased. */
	size_t vn = 0;
	for (; vn < verb.n && vn < sizeof(p->verb) - 1; vn++) {
		unsigned char c = (unsigned char)verb.p[vn];
		p->verb[vn] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
	}
	p->verb[vn] = '\0';

	/* SECURITY: NUL, CR and LF never reach a handler or a path (Decision 13;
	 * TAB and other bytes are a pathname's own). */
	if (parse_has_forbidden_byte(line)) {
		proto_reply(p, 501, "NUL, CR and LF are not allowed in commands.");
		return;
	}
	/* Four letters (RFC 959 §5.3), and the de-facto XSHA256 and XSHA512. */
	const struct cmd_row *row = verb.n <= 7 ? cmd_rows_find(p->cmds->verbs, verb) : NULL;
	if (p->level == 'C' && protect_refuses_plain(p) && !(row && (row->flags & CMD_SEC_PLAIN))) {
		proto_reply(p, 533, "Command protection level denied: send it as MIC or ENC.");
		return;
	}
	/* Decisions 4 and 5: a pending REST marker or RNFR survives only the
	 * commands whose rows say so. */
	if (!row || !(row->flags & CMD_KEEP_RNFR)) {
		free(p->rnfr);
		p->rnfr = NULL;
	}
	if (!row || !(row->flags & CMD_KEEP_REST)) {
		p->rest = 0;
		p->rang = false; /* RANG's range lives as long as a REST marker */
	}
	if (!row) {
		/* Before login every other verb gets 530, known or not, so the
		 * command set is not probed anonymously (as vsftpd does). */
		if (p->login != LOGIN_DONE)
			proto_reply(p, 530, "Please login with USER and PASS.");
		else
			proto_reply(p, 500, "Unknown command.");
		return;
	}
	if (!(row->flags & CMD_PRELOGIN) && p->login != LOGIN_DONE) {
		proto_reply(p, 530, "Please login with USER and PASS.");
		return;
	}
	if (row->arg == ARG_NONE && has_arg && arg.n) {
		proto_reply(p, 501, "%s takes no argument.", row->verb);
		return;
	}
	if (row->arg == ARG_REQUIRED && arg.n == 0) {
		proto_reply(p, 501, "%s needs an argument.", row->verb);
		return;
	}
	if (!(row->flags & CMD_WRAPS)) {
		row->fn(p, arg);
	} else if (p->level != 'C') {
		proto_reply(p, 501, "Protected commands cannot be nested.");
	} else {
		run_protected(p, row->verb[0] == 'E' ? 'P' : 'S', arg, false);
	}
}

/* The longest line that may be read: a security command's may be longer. */
static size_t line_max(const struct proto *p)
{
	return p->gss_ops && p->cfg->max_line < PROTO_SEC_LINE_MAX ? PROTO_SEC_LINE_MAX : p->cfg->max_line;
}

/* The limit for the line being read: max_line, or PROTO_SEC_LINE_MAX once
 * it shows itself to be ADAT, MIC, CONF or ENC (RFC 2228 §10). */
static size_t line_limit(const struct proto *p)
{
	struct slice verb, arg, line = { p->line, p->line_len };
	if (!p->gss_ops || !slice_split(line, ' ', &verb, &arg))
		return p->cfg->max_line;
	bool sec = slice_eq_ci(verb, "ADAT") || slice_eq_ci(verb, "MIC") || slice_eq_ci(verb, "CONF") ||
		   slice_eq_ci(verb, "ENC");
	return sec ? line_max(p) : p->cfg->max_line;
}

/* One data byte after Telnet processing. Returns true when a command ran. */
static bool take_byte(struct proto *p, unsigned char c)
{
	if (c == '\n') {
		bool too_long = p->discarding;
		size_t n = p->line_len;
		p->discarding = false;
		p->line_len = 0;
		if (too_long) {
			if (proto_in_xfer(p)) {
				hold(p, 'T', (struct slice){ "", 0 });
			} else {
				p->level = 'C'; /* its protection is unknown: plaintext */
				proto_reply(p, 500, "Command line too long.");
			}
			return true;
		}
		if (n && p->line[n - 1] == '\r')
			n--;
		execute(p, (struct slice){ p->line, n });
		return true;
	}
	if (p->discarding)
		return false;
	/* ABOR's LF may never come: Python's ftplib sends "ABOR\r\n" as TCP
	 * urgent data, and a proxy that reads without SO_OOBINLINE (HAProxy)
	 * drops the urgent byte, the LF. A CR right after ABOR ends the line;
	 * the LF, when it does come, is an empty line, ignored (Decision 10). */
	if (c == '\r' && p->line_len == 4 && slice_eq_ci((struct slice){ p->line, 4 }, "ABOR")) {
		p->line_len = 0;
		execute(p, (struct slice){ p->line, 4 });
		return true;
	}
	/* The limit counts the command without its line end; one byte of
	 * slack keeps the CR of a CRLF-terminated line of exactly max_line. */
	size_t limit = p->line_len < p->cfg->max_line ? p->cfg->max_line : line_limit(p);
	if (p->line_len >= limit + (c == '\r' ? 1 : 0)) {
		p->discarding = true;
		p->line_len = 0;
		return false;
	}
	/* Allocated per burst of input and released when no partial line is
	 * left (proto_feed), so an idle session holds no line buffer. */
	if (!p->line) {
		p->line_cap = p->cfg->max_line + 1;
		/* Not zeroed: only line_len bytes are ever read, and clearing
		 * 4 KiB per command was a third of a small file's cost. */
		p->line = util_xmalloc(p->line_cap);
	}
	if (p->line_len >= p->line_cap) { /* a long security line: grow once */
		char *bigger = util_xcalloc(1, line_max(p) + 1);
		memcpy(bigger, p->line, p->line_len);
		free(p->line);
		p->line = bigger;
		p->line_cap = line_max(p) + 1;
	}
	p->line[p->line_len++] = (char)c;
	return false;
}

static void telnet_answer(struct proto *p, unsigned char verb, unsigned char opt)
{
	/* Refuse every option (RFC 1123 §4.1.2.12); never negotiate ourselves. */
	unsigned char ans[3] = { TN_IAC_BYTE, verb, opt };
	if (buf_append(&p->out, ans, sizeof(ans)) != 0)
		p->out_overflow = true;
}

/* Input is read while nothing is pending, and during a transfer until a
 * command has to wait for it. */
static bool reading(const struct proto *p)
{
	if (p->out_overflow)
		return false;
	if (proto_in_xfer(p))
		return buf_room(&p->held) >= line_max(p) + 3;
	return proto_effect_kind(p) == PROTO_EFFECT_NONE && p->held.len == 0;
}

/* Runs the commands that waited for a transfer, in order, until one of
 * them starts an effect of its own or the budget is spent. */
static void drain_held(struct proto *p, unsigned *budget)
{
	while (p->held.len && proto_effect_kind(p) == PROTO_EFFECT_NONE && !p->out_overflow && *budget) {
		--*budget;
		struct slice rec = buf_slice(&p->held), line, rest;
		(void)slice_split(rec, '\n', &line, &rest);
		char kind = line.p[0];
		char *copy = util_xstrndup(line.p + 1, line.n - 1);
		size_t n = line.n - 1;
		buf_consume(&p->held, line.n + 1);
		if (kind == 'T') {
			p->level = 'C';
			proto_reply(p, 500, "Command line too long.");
		} else if (kind == 'S' || kind == 'P') { /* unwrapped during the transfer */
			p->level = kind;
			run_command(p, (struct slice){ copy, n });
		} else if (kind == 'E' && n == 4) { /* a protected command that failed */
			p->level = copy[0];
			protect_reply_failure(p, (copy[1] - '0') * 100 + (copy[2] - '0') * 10 + (copy[3] - '0'));
		} else {
			run_line(p, (struct slice){ copy, n });
		}
		free(copy);
	}
}

int proto_feed(struct proto *p, const char *bytes, size_t len, size_t *used)
{
	unsigned budget = UINT_MAX;
	return proto_feed_some(p, bytes, len, &budget, used);
}

int proto_feed_some(struct proto *p, const char *bytes, size_t len, unsigned *budget, size_t *used)
{
	size_t i = 0;
	drain_held(p, budget);
	while (i < len && *budget && reading(p)) {
		unsigned char c = (unsigned char)bytes[i++];
		switch (p->tn) {
		case TN_DATA:
			if (c == TN_IAC_BYTE)
				p->tn = TN_IAC;
			else if (take_byte(p, c))
				--*budget;
			break;
		case TN_IAC:
			p->tn = TN_DATA;
			if (c == TN_IAC_BYTE) {
				if (take_byte(p, c)) /* IAC IAC = one 0xFF data byte */
					--*budget;
			} else if (c >= TN_WILL && c <= TN_DONT) {
				p->tn_cmd = c;
				p->tn = TN_OPT;
			} else if (c == TN_SB_BYTE) {
				p->tn = TN_SB;
			} else if (c < TN_SE && take_byte(p, c)) {
				/* Not a Telnet command (they are 240-255): the IAC
				 * was the first half of a Synch whose DM, sent as
				 * urgent data, a proxy dropped (lftp's ABOR through
				 * HAProxy). The byte is data. */
				--*budget;
			}
			/* IP, DM, AYT, NOP ... carry no data: dropped. */
			break;
		case TN_OPT:
			p->tn = TN_DATA;
			if (p->tn_cmd == TN_WILL)
				telnet_answer(p, TN_DONT, c);
			else if (p->tn_cmd == TN_DO)
				telnet_answer(p, TN_WONT, c);
			break;
		case TN_SB:
			if (c == TN_IAC_BYTE)
				p->tn = TN_SB_IAC;
			break;
		case TN_SB_IAC:
			p->tn = c == TN_SE ? TN_DATA : TN_SB;
			break;
		}
	}
	*used = i;
	if (p->line_len == 0) {
		free(p->line);
		p->line = NULL;
		p->line_cap = 0;
	}
	if (p->held.len == 0)
		buf_free(&p->held);
	return p->out_overflow ? -ENOBUFS : 0;
}

void proto_complete(struct proto *p, const struct proto_result *r)
{
	if (!p->effect)
		return;
	void (*then)(struct proto *, const struct proto_result *) = p->effect->then;
	/* CLOSE never completes: a timer or job that finishes after a timeout
	 * replaced its effect with CLOSE is ignored. */
	if (p->effect->kind == PROTO_EFFECT_CLOSE)
		return;
	/* Kept (zeroed) for the next effect until proto_trim: the session may
	 * still hold the pointer proto_effect() gave it. */
	*p->effect = (struct proto_effect){ 0 };
	if (then)
		then(p, r);
	/* Commands held behind a transfer run at the next proto_feed, within
	 * the session's budget (proto_has_held). */
}
