/* proto_replay: replays a protocol transcript against the real protocol state
 * machine (src/proto.c and the command handlers) with no sockets, no timers
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
 *                         max_login_failures, login_fail_delay_ms (decimal)
 *                         and banner (the rest of the line).
 *   user NAME PASSWORD [account=ACCT] [disabled]
 *                         adds a user to the fake store; may appear anywhere.
 *   greet                 proto_greet() (queues the 220).
 *   C: text               feeds text + "\r\n".
 *   C< bytes              feeds bytes with C escapes (\r \n \t \\ \xHH) and
 *                         no line end added.
 *                         Bytes that proto leaves unconsumed because an effect
 *                         is pending are kept and fed again, in order, after
 *                         that effect completes (as the session does).
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
 *
 * proto runs with the built-in config (config_new_default() plus the set
 * lines), session id 1 and peer "192.0.2.1" (what STAT shows).
 *
 * At the end of the file the output must be empty (no unexpected replies) and
 * no effect may be pending unless the last step was "E: CLOSE" (or the session
 * ended with "E: ENOBUFS"). An effect still
 * pending when the next C: line comes is fine (the bytes queue), but an S: step
 * while an effect is pending and the output is empty is a mismatch. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"
#include "config.h"
#include "log.h"
#include "parse.h"
#include "proto.h"
#include "str.h"
#include "util.h"

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
};

struct replay {
	const char *file;
	unsigned line;
	unsigned steps;
	struct config *cfg;
	struct proto *p;
	struct fake_user users[REPLAY_MAX_USERS];
	size_t n_users;
	struct buf in;          /* client bytes proto has not consumed yet */
	bool closed;            /* an E: CLOSE or E: ENOBUFS was checked */
	bool overflow;          /* proto_feed returned -ENOBUFS */
	bool overflow_seen;     /* ... and E: ENOBUFS acknowledged it */
	bool last_was_close;    /* the most recent step was E: CLOSE */
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
	case PROTO_EFFECT_AUTH_CHECK:
		return "AUTH_CHECK";
	case PROTO_EFFECT_DELAY:
		return "DELAY";
	case PROTO_EFFECT_CLOSE:
		return "CLOSE";
	}
	return "?";
}

/* Describes the pending effect (or "no effect") after "got ". */
static void show_effect(const struct proto_effect *e)
{
	if (!e) {
		fputs("no effect pending", stderr);
		return;
	}
	fprintf(stderr, "effect %s", effect_name(e->kind));
	if (e->kind == PROTO_EFFECT_AUTH_CHECK) {
		fputc(' ', stderr);
		show_cstr(e->user);
	} else if (e->kind == PROTO_EFFECT_DELAY) {
		fprintf(stderr, " %u", (unsigned)e->delay_ms);
	}
}

/* Feeds the queued client bytes until they are gone or an effect is pending. */
static int pump(struct replay *r)
{
	while (r->in.len && !proto_effect(r->p)) {
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
	}
	return 0;
}

/* proto is created at the first step that needs it, so that set lines
 * (before it) shape its config. */
static void ensure_proto(struct replay *r)
{
	if (!r->p)
		r->p = proto_new(r->cfg, 1, "192.0.2.1");
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
	} else if (slice_eq_ci(key, "login_fail_delay_ms")) {
		if (parse_u64(val, UINT32_MAX, &v))
			return bad_syntax(r, "login_fail_delay_ms must be 0-4294967295");
		r->cfg->login_fail_delay_ms = (uint32_t)v;
	} else {
		return bad_syntax(r, "unknown set key (max_line, max_login_failures, login_fail_delay_ms, banner)");
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
	struct fake_user u = { .name = slice_dup(name), .password = slice_dup(pw) };
	while (rest.n) {
		(void)slice_split(rest, ' ', &opt, &rest);
		if (opt.n > 8 && memcmp(opt.p, "account=", 8) == 0) {
			free(u.account);
			u.account = slice_dup((struct slice){ opt.p + 8, opt.n - 8 });
		} else if (slice_eq(opt, SLICE_LIT("disabled"))) {
			u.disabled = true;
		} else {
			free(u.name);
			free(u.password);
			free(u.account);
			return bad_syntax(r, "unknown user option (account=ACCT, disabled)");
		}
	}
	r->users[r->n_users++] = u;
	return 0;
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

static int do_auth(struct replay *r, struct slice escaped_name, bool store_error)
{
	const struct proto_effect *e;
	int rc = expect_effect(r, PROTO_EFFECT_AUTH_CHECK, &e);
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
		fputs("expected AUTH_CHECK for user ", stderr);
		show(name.p, name.n);
		fputs(" got user ", stderr);
		show_cstr(e->user);
		fputc('\n', stderr);
	}
	buf_free(&nb);
	if (!same)
		return EXIT_MISMATCH;
	struct auth_result res = { 0 };
	if (store_error) {
		res.err = -EIO;
	} else {
		const struct fake_user *u = find_user(r, e->user);
		if (u && !u->disabled && e->password && strcmp(u->password, e->password) == 0) {
			res.ok = true;
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
	if (arg.n)
		return bad_syntax(r, "E: CLOSE and E: NONE take no argument");
	if (slice_eq(kind, SLICE_LIT("CLOSE"))) {
		int rc = expect_effect(r, PROTO_EFFECT_CLOSE, &e);
		if (rc)
			return rc;
		r->closed = true;
		return 0;
	}
	if (slice_eq(kind, SLICE_LIT("ENOBUFS"))) {
		if (!r->overflow)
			return fail(r, "expected proto_feed to have returned -ENOBUFS got no overflow (output %zu bytes)",
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
	return bad_syntax(r, "unknown effect (AUTH_CHECK, AUTH_ERROR, DELAY, CLOSE, ENOBUFS, NONE)");
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
	} else if (directive(line, "S-", &rest) && rest.n == 0) {
		rc = expect_nothing(r);
	} else if (directive(line, "X:", &rest) && slice_eq(rest, SLICE_LIT("COMPLETE"))) {
		proto_complete(r->p, NULL);
		rc = pump(r);
	} else if (directive(line, "E:", &rest)) {
		rc = do_effect(r, rest);
		close_step = slice_eq(rest, SLICE_LIT("CLOSE")) || slice_eq(rest, SLICE_LIT("ENOBUFS"));
	} else if (directive(line, "T:", &rest)) {
		rc = do_timeout(r, rest);
	} else {
		return bad_syntax(r, "unknown directive (set user greet C: C< S: S< S- E: T: X:)");
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

	struct replay r = { .file = argv[argi] };
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

	int rc = run(&r, f);
	fclose(f);
	(void)rmdir(g_home);
	if (rc == 0)
		printf("%s: %u steps ok\n", r.file, r.steps);

	proto_free(r.p);
	config_unref(r.cfg);
	buf_free(&r.in);
	for (size_t i = 0; i < r.n_users; i++) {
		free(r.users[i].name);
		free(r.users[i].password);
		free(r.users[i].account);
	}
	return rc;
}
