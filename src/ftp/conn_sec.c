/* conn_sec: the RFC 2228 §6 protected-block transport (conn_sec.h).
 * Sending gathers plaintext into blocks of max_plain bytes, so the blocks
 * on the wire are full until the last; receiving keeps a block whole until
 * it is unwrapped. A block over PBSZ, a bad token or one at the wrong
 * level is refused (-EMSGSIZE, -EBADMSG: the transfer fails with 535). */
#include "conn_sec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "gss.h"
#include "log.h"
#include "sec.h"
#include "util.h"

/* Bytes read from the carrier per step. */
#define SEC_READ_CHUNK (64u * 1024u)

struct sec_xprt {
	struct gss_sess *gss;
	uint64_t sid;		  /* for logs */
	bool conf;		  /* PROT P: tokens must be encrypted */
	uint32_t pbsz, max_plain; /* token limit; plaintext per block */
	struct buf wire;	  /* framed tokens to send / received */
	struct buf plain;	  /* plaintext gathered for a block / unwrapped, not yet read */
	bool end;		  /* the empty block: sent (queued) / seen */
};

int conn_sec_start(struct conn *c, struct conn *lower, struct gss_sess *g, bool conf, uint32_t pbsz, uint64_t sid)
{
	/* RFC 2228 §6: every token at most PBSZ. */
	uint32_t max_plain = g ? gss_sess_max_plain(g, conf, pbsz) : 0;
	if (!max_plain)
		return -EPROTO;
	struct sec_xprt *x = util_xcalloc(1, sizeof(*x));
	x->gss = g;
	x->sid = sid;
	x->conf = conf;
	x->pbsz = pbsz;
	x->max_plain = max_plain;
	buf_init(&x->wire, (size_t)pbsz + 4 + SEC_READ_CHUNK);
	buf_init(&x->plain, pbsz);
	conn_stack(c, lower, &conn_sec_ops, x);
	return 0;
}

/* Sends what wire holds: 0 when it is empty, -EAGAIN, -errno. */
static int flush(struct conn *c)
{
	struct sec_xprt *x = c->xprt;
	while (x->wire.len) {
		size_t put = 0;
		int r = conn_write(c->lower, buf_data(&x->wire), x->wire.len, &put);
		c->want = c->lower->want;
		if (r)
			return r;
		buf_consume(&x->wire, put);
	}
	c->want = 0;
	return 0;
}

/* The gathered plaintext (maybe none: the end mark) as one framed block
 * into the empty wire buffer. */
static int wrap(struct conn *c)
{
	struct sec_xprt *x = c->xprt;
	unsigned char hdr[4] = { 0 };
	int r = buf_append(&x->wire, hdr, sizeof(hdr));
	if (r == 0)
		r = gss_sess_wrap(x->gss, x->conf, buf_slice(&x->plain), &x->wire);
	if (r) {
		buf_reset(&x->wire);
		return -EBADMSG;
	}
	sec_block_header((uint32_t)(x->wire.len - sizeof(hdr)), (unsigned char *)buf_data(&x->wire));
	x->end = x->plain.len == 0;
	buf_reset(&x->plain);
	return 0;
}

static int sec_write(struct conn *c, const void *p, size_t n, size_t *put)
{
	struct sec_xprt *x = c->xprt;
	int r = flush(c);
	if (r && r != -EAGAIN)
		return r;
	if (x->plain.len == x->max_plain) {
		if (r)
			return r; /* the previous block is still on its way */
		r = wrap(c);
		if (r == 0)
			r = flush(c);
		if (r && r != -EAGAIN)
			return r;
	}
	size_t k = x->max_plain - x->plain.len;
	k = n < k ? n : k;
	r = buf_append(&x->plain, p, k);
	if (r)
		return r;
	*put = k;
	return 0;
}

/* The rest of the plaintext as a last block, then the empty block, then
 * the carrier's own end. */
static int sec_shutdown(struct conn *c)
{
	struct sec_xprt *x = c->xprt;
	for (;;) {
		int r = flush(c);
		if (r)
			return r;
		if (x->end) {
			r = conn_shutdown(c->lower);
			c->want = c->lower->want;
			return r;
		}
		r = wrap(c);
		if (r)
			return r;
	}
}

/* A whole block at the front of wire unwrapped into plain: 1, or 0 when
 * more bytes are needed, or the refusal. */
static int unwrap(struct conn *c)
{
	struct sec_xprt *x = c->xprt;
	if (x->wire.len < 4)
		return 0;
	uint32_t len = sec_block_len(buf_slice(&x->wire));
	if (len > x->pbsz) {
		log_info(x->sid, "protected block of %u bytes exceeds PBSZ %u", len, x->pbsz);
		return -EMSGSIZE;
	}
	if (x->wire.len - 4 < len)
		return 0;
	bool was_conf = false;
	buf_reset(&x->plain);
	int r = gss_sess_unwrap(x->gss, (struct slice){ buf_data(&x->wire) + 4, len }, &x->plain, &was_conf);
	if (r || was_conf != x->conf) {
		log_info(x->sid, "bad protected data block");
		return -EBADMSG;
	}
	buf_consume(&x->wire, 4 + (size_t)len);
	x->end = x->plain.len == 0;
	return 1;
}

static int sec_read(struct conn *c, void *p, size_t n, size_t *got)
{
	struct sec_xprt *x = c->xprt;
	for (;;) {
		if (x->plain.len) {
			size_t k = n < x->plain.len ? n : x->plain.len;
			memcpy(p, buf_data(&x->plain), k);
			buf_consume(&x->plain, k);
			*got = k;
			return 0;
		}
		if (x->end) { /* the empty block: the stream is whole */
			*got = 0;
			return 0;
		}
		int r = unwrap(c);
		if (r < 0)
			return r;
		if (r)
			continue;
		/* Bounded: each read adds at least one byte to a block that
		 * fits wire, or ends. */
		size_t room = buf_room(&x->wire), want = room < SEC_READ_CHUNK ? room : SEC_READ_CHUNK;
		char *dst = buf_reserve(&x->wire, want, &r);
		if (!dst || want == 0)
			return -EMSGSIZE;
		size_t g = 0;
		r = conn_read(c->lower, dst, want, &g);
		c->want = c->lower->want;
		if (r)
			return r;
		if (g == 0) /* the carrier ended before the empty block: truncated */
			return -ECONNRESET;
		buf_commit(&x->wire, g);
	}
}

static size_t sec_pending(const struct conn *c)
{
	const struct sec_xprt *x = c->xprt;
	if (x->plain.len)
		return x->plain.len;
	if (!x->end && x->wire.len >= 4 && x->wire.len - 4 >= sec_block_len(buf_slice(&x->wire)))
		return x->wire.len;
	return conn_pending(c->lower);
}

static void sec_free(struct conn *c)
{
	struct sec_xprt *x = c->xprt;
	if (!x)
		return;
	buf_free(&x->wire);
	buf_free(&x->plain);
	free(x);
	c->xprt = NULL;
}

const struct conn_ops conn_sec_ops = {
	.name = "rfc2228",
	.read = sec_read,
	.write = sec_write,
	.shutdown = sec_shutdown,
	.pending = sec_pending,
	.free = sec_free,
};
