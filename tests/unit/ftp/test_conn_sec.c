/* Unit tests for conn_sec.c, the RFC 2228 §6 protected-block transport,
 * stacked on a plain conn over a socketpair, with a stand-in for GSSAPI
 * (a token is the level byte 'S' or 'P' and the plaintext), so the exact
 * bytes on the wire can be checked: full blocks of the plaintext that fits
 * PBSZ, the last one short, the empty block at the end; received blocks
 * unwrapped whatever the read sizes, the empty block as the end of stream,
 * and every refusal (over PBSZ, wrong level, a bad token, the connection
 * closing before the empty block). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "conn_sec.h"
#include "gss.h"
#include "loop.h"
#include "sec.h"

/* ---- the GSSAPI stand-in (these replace gss.c's for this test) */

static int wrap_fail;

int gss_sess_wrap(struct gss_sess *g, bool conf, struct slice plain, struct buf *out)
{
	(void)g;
	if (wrap_fail)
		return -EPROTO;
	char level = conf ? 'P' : 'S';
	int r = buf_append(out, &level, 1);
	return r ? r : buf_append(out, plain.p, plain.n);
}

int gss_sess_unwrap(struct gss_sess *g, struct slice token, struct buf *out, bool *conf)
{
	(void)g;
	if (token.n == 0 || (token.p[0] != 'S' && token.p[0] != 'P'))
		return -EBADMSG;
	*conf = token.p[0] == 'P';
	return buf_append(out, token.p + 1, token.n - 1);
}

uint32_t gss_sess_max_plain(struct gss_sess *g, bool conf, uint32_t max_token)
{
	(void)g;
	(void)conf;
	return max_token > 1 ? max_token - 1 : 0;
}

/* ---- helpers */

#define FAKE_GSS ((struct gss_sess *)&wrap_fail) /* any non-NULL context */

struct pair {
	int peer;
	struct conn base, sec;
};

static void pair_open(struct pair *p, bool conf, uint32_t pbsz)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	p->peer = sv[1];
	conn_init(&p->base, sv[0]);
	assert_int_equal(conn_sec_start(&p->sec, &p->base, FAKE_GSS, conf, pbsz, 1), 0);
	assert_int_equal(conn_caps(&p->sec), 0); /* no zero-copy path through blocks */
}

static void pair_close(struct pair *p)
{
	conn_close(&p->sec);
	conn_close(&p->base);
	(void)close(p->peer);
}

static void send_block(int fd, const char *token, size_t n)
{
	unsigned char hdr[4];
	sec_block_header((uint32_t)n, hdr);
	assert_int_equal(write(fd, hdr, 4), 4);
	if (n)
		assert_int_equal(write(fd, token, n), (ssize_t)n);
}

/* Everything the sec conn reads until the end, -errno on failure. */
static int read_all(struct conn *c, char *out, size_t max, size_t *len)
{
	*len = 0;
	for (int i = 0; i < 1000; i++) {
		size_t got = 0;
		int r = conn_read(c, out + *len, max - *len < 3 ? max - *len : 3, &got);
		if (r)
			return r;
		if (got == 0)
			return 0;
		*len += got;
	}
	return -ELOOP;
}

/* ---- tests */

static void test_start_refused(void **state)
{
	(void)state;
	struct conn base, sec;
	conn_init(&base, -1);
	assert_int_equal(conn_sec_start(&sec, &base, NULL, true, 100, 1), -EPROTO);
	assert_int_equal(conn_sec_start(&sec, &base, FAKE_GSS, true, 1, 1), -EPROTO); /* no block fits */
}

/* PBSZ 5: 4 plaintext bytes per block; 10 bytes go as 4 + 4 + 2, then the
 * empty block, exactly. */
static void test_send_blocks(void **state)
{
	(void)state;
	struct pair p;
	pair_open(&p, true, 5);
	const char *msg = "0123456789";
	size_t off = 0;
	for (int i = 0; i < 100 && off < 10; i++) {
		size_t put = 0;
		assert_int_equal(conn_write(&p.sec, msg + off, 10 - off, &put), 0);
		assert_true(put <= 4);
		off += put;
	}
	assert_int_equal(off, 10);
	assert_int_equal(conn_shutdown(&p.sec), 0);
	static const unsigned char want[] = { 0,   0,	0,   5, 'P', '0', '1', '2', '3', 0,   0, 0, 5, 'P', '4',
					      '5', '6', '7', 0, 0,   0,	  3,   'P', '8', '9', 0, 0, 0, 1,   'P' };
	unsigned char got[64];
	assert_int_equal(read(p.peer, got, sizeof(got)), (ssize_t)sizeof(want));
	assert_memory_equal(got, want, sizeof(want));
	pair_close(&p);
}

/* A full socket: the block waits in the transport, the write says -EAGAIN
 * with the socket's interest, and shutdown sends it all once there is room. */
static void test_send_backpressure(void **state)
{
	(void)state;
	struct pair p;
	pair_open(&p, false, 4097);
	int sz = 4096;
	(void)setsockopt(p.base.fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	static char chunk[4096];
	memset(chunk, 'x', sizeof(chunk));
	size_t total = 0;
	int r = 0;
	for (int i = 0; i < 100000 && r == 0; i++) {
		size_t put = 0;
		r = conn_write(&p.sec, chunk, sizeof(chunk), &put);
		total += r == 0 ? put : 0;
	}
	assert_int_equal(r, -EAGAIN);
	assert_int_equal(p.sec.want, LOOP_OUT);
	/* Drain the peer while shutting down: every byte arrives, in blocks
	 * of 4096, then the empty block. */
	size_t plain = 0;
	char hdr_tok[4 + 4097];
	size_t have = 0;
	bool end = false;
	for (int i = 0; i < 100000 && !end; i++) {
		r = conn_shutdown(&p.sec);
		assert_true(r == 0 || r == -EAGAIN);
		ssize_t n = read(p.peer, hdr_tok + have, sizeof(hdr_tok) - have);
		if (n > 0)
			have += (size_t)n;
		while (have >= 4) {
			uint32_t len = sec_block_len((struct slice){ hdr_tok, have });
			assert_true(len >= 1 && len <= 4097);
			if (have < 4 + len)
				break;
			assert_int_equal(hdr_tok[4], 'S');
			plain += len - 1;
			end = len == 1;
			memmove(hdr_tok, hdr_tok + 4 + len, have - 4 - len);
			have -= 4 + len;
		}
	}
	assert_true(end);
	assert_int_equal(plain, total);
	assert_int_equal(conn_shutdown(&p.sec), 0);
	pair_close(&p);
}

static void test_send_wrap_refused(void **state)
{
	(void)state;
	struct pair p;
	pair_open(&p, true, 100);
	size_t put = 0;
	assert_int_equal(conn_write(&p.sec, "abc", 3, &put), 0);
	wrap_fail = 1;
	assert_int_equal(conn_shutdown(&p.sec), -EBADMSG);
	wrap_fail = 0;
	pair_close(&p);
}

static void test_recv_blocks(void **state)
{
	(void)state;
	struct pair p;
	pair_open(&p, true, 16);
	send_block(p.peer, "Phello ", 7);
	send_block(p.peer, "Pworld", 6);
	send_block(p.peer, "P", 1);
	send_block(p.peer, "Pafter the end", 14); /* never read */
	char out[64];
	size_t len = 0;
	assert_int_equal(read_all(&p.sec, out, sizeof(out), &len), 0);
	assert_int_equal(len, 11);
	assert_memory_equal(out, "hello world", 11);
	size_t got = 9;
	assert_int_equal(conn_read(&p.sec, out, sizeof(out), &got), 0); /* still the end */
	assert_int_equal(got, 0);
	pair_close(&p);
}

/* Bytes arrive split anywhere: a block is unwrapped only when whole. */
static void test_recv_partial(void **state)
{
	(void)state;
	struct pair p;
	pair_open(&p, false, 16);
	char out[16];
	size_t got = 0;
	assert_int_equal(write(p.peer, "\0\0", 2), 2);
	assert_int_equal(conn_read(&p.sec, out, sizeof(out), &got), -EAGAIN);
	assert_int_equal(p.sec.want, LOOP_IN);
	assert_int_equal(write(p.peer, "\0\4Sa", 4), 4);
	assert_int_equal(conn_read(&p.sec, out, sizeof(out), &got), -EAGAIN);
	assert_int_equal(write(p.peer, "bc", 2), 2);
	assert_int_equal(conn_read(&p.sec, out, 2, &got), 0);
	assert_int_equal(got, 2);
	assert_true(conn_pending(&p.sec) > 0); /* "c" is waiting inside */
	assert_int_equal(conn_read(&p.sec, out + 2, sizeof(out) - 2, &got), 0);
	assert_int_equal(got, 1);
	assert_memory_equal(out, "abc", 3);
	pair_close(&p);
}

static void test_recv_refusals(void **state)
{
	(void)state;
	char out[64];
	size_t len = 0;
	struct pair p;

	pair_open(&p, true, 8); /* a block over PBSZ */
	send_block(p.peer, "P12345678", 9);
	assert_int_equal(read_all(&p.sec, out, sizeof(out), &len), -EMSGSIZE);
	pair_close(&p);

	pair_open(&p, true, 16); /* PROT P, but a PROT S token */
	send_block(p.peer, "Sclear", 6);
	assert_int_equal(read_all(&p.sec, out, sizeof(out), &len), -EBADMSG);
	pair_close(&p);

	pair_open(&p, false, 16); /* not a token */
	send_block(p.peer, "Xjunk", 5);
	assert_int_equal(read_all(&p.sec, out, sizeof(out), &len), -EBADMSG);
	pair_close(&p);

	/* The connection closes before the empty block: truncated. */
	pair_open(&p, false, 16);
	send_block(p.peer, "Spart", 5);
	assert_int_equal(shutdown(p.peer, SHUT_WR), 0);
	assert_int_equal(read_all(&p.sec, out, sizeof(out), &len), -ECONNRESET);
	assert_int_equal(len, 4);
	pair_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_refused),	  cmocka_unit_test(test_send_blocks),
		cmocka_unit_test(test_send_backpressure), cmocka_unit_test(test_send_wrap_refused),
		cmocka_unit_test(test_recv_blocks),	  cmocka_unit_test(test_recv_partial),
		cmocka_unit_test(test_recv_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
