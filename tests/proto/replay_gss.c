#include "replay_gss.h"

#include <errno.h>
#include <string.h>

#include "sec.h"

unsigned replay_gss_resets;

static int fake_wrap(void *ctx, bool conf, struct slice plain, struct buf *out)
{
	(void)ctx;
	char level = conf ? 'P' : 'S';
	int r = buf_append(out, &level, 1);
	return r ? r : buf_append(out, plain.p, plain.n);
}

static int fake_unwrap(void *ctx, struct slice token, struct buf *out, bool *conf)
{
	(void)ctx;
	if (token.n == 0 || (token.p[0] != 'S' && token.p[0] != 'P'))
		return -EBADMSG;
	*conf = token.p[0] == 'P';
	return buf_append(out, token.p + 1, token.n - 1);
}

static void fake_reset(void *ctx)
{
	(void)ctx;
	replay_gss_resets++;
}

const struct proto_gss_ops replay_gss_ops = { .wrap = fake_wrap, .unwrap = fake_unwrap, .reset = fake_reset };

int replay_gss_command(char level, struct slice line, struct buf *out)
{
	struct buf tok;
	buf_init(&tok, line.n + 3);
	int r = buf_append(&tok, &level, 1);
	if (!r)
		r = buf_append(&tok, line.p, line.n);
	if (!r)
		r = buf_append(&tok, "\r\n", 2);
	if (!r)
		r = buf_append_str(out, level == 'P' ? "ENC " : "MIC ");
	if (!r)
		r = sec_b64_encode(buf_data(&tok), tok.len, out);
	if (!r)
		r = buf_append(out, "\r\n", 2);
	buf_free(&tok);
	return r;
}

int replay_gss_reply(char level, struct buf *out, struct buf *plain, const char **why)
{
	const char *code = level == 'P' ? "632" : "631";
	for (;;) {
		struct slice o = buf_slice(out);
		const char *lf = o.n ? memchr(o.p, '\n', o.n) : NULL;
		if (!lf || lf == o.p || lf[-1] != '\r' || o.n < 5 || memcmp(o.p, code, 3) != 0 ||
		    (o.p[3] != ' ' && o.p[3] != '-')) {
			*why = "a protected reply line";
			return -EINVAL;
		}
		bool last = o.p[3] == ' ';
		size_t n = (size_t)(lf - o.p) + 1;
		struct buf tok;
		buf_init(&tok, n);
		int r = sec_b64_decode((struct slice){ o.p + 4, n - 6 }, &tok);
		if (r || tok.len == 0 || buf_data(&tok)[0] != level) {
			buf_free(&tok);
			*why = "a fragment wrapped at the reply's level";
			return -EINVAL;
		}
		r = buf_append(plain, buf_data(&tok) + 1, tok.len - 1);
		buf_free(&tok);
		buf_consume(out, n);
		if (r) {
			*why = "a shorter reply";
			return r;
		}
		if (last)
			return 0;
	}
}
