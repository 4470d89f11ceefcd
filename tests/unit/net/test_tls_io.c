/* Unit tests for tls_io.c: the bulk paths of PROT P data connections
 * (several records per read, records gathered into large socket writes
 * whose bytes all arrive, files sent by tls_send_file from any offset,
 * what a failure or an end read together with the data leaves). The kernel
 * TLS send path (SSL_sendfile) needs a kernel with the tls ULP: on one
 * without it these tests check that data connections fall back, with
 * [tls] ktls = auto and off (tls_ktls.c is test_tls_ktls.c's). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "loop.h"
#include "tls.h"
#include "tls_fixture.h"

static struct {
	char dir[64];
	char crt[PATH_MAX], key[PATH_MAX];
	char file[PATH_MAX]; /* FILE_SIZE bytes of pattern */
} fx;

#define FILE_SIZE (300u * 1024u + 123u) /* not a multiple of a record or a buffer */
#define BIG (1u << 20)

static unsigned char pattern_at(uint64_t off)
{
	return (unsigned char)((off * 7u + off / 251u) & 0xff);
}

static int group_setup(void **state)
{
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return -1;
	(void)snprintf(fx.dir, sizeof(fx.dir), "/tmp/ferry-test-tlsio-XXXXXX");
	if (!mkdtemp(fx.dir))
		return -1;
	(void)snprintf(fx.crt, sizeof(fx.crt), "%s/a.crt", fx.dir);
	(void)snprintf(fx.key, sizeof(fx.key), "%s/a.key", fx.dir);
	(void)snprintf(fx.file, sizeof(fx.file), "%s/file", fx.dir);
	EVP_PKEY_free(make_pair(fx.crt, fx.key, "localhost", "DNS:localhost", false));
	FILE *f = fopen(fx.file, "w");
	if (!f)
		return -1;
	for (uint64_t i = 0; i < FILE_SIZE; i++)
		if (fputc(pattern_at(i), f) == EOF)
			return -1;
	return fclose(f) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)unlink(fx.crt);
	(void)unlink(fx.key);
	(void)unlink(fx.file);
	return rmdir(fx.dir);
}

/* ---- data connections ------------------------------------------------- */

static struct tls_ctx *data_ctx(bool ktls)
{
	struct config *c = config_new_default();
	assert_non_null(c);
	assert_true((size_t)snprintf(c->tls_cert, sizeof(c->tls_cert), "%s", fx.crt) < sizeof(c->tls_cert));
	assert_true((size_t)snprintf(c->tls_key, sizeof(c->tls_key), "%s", fx.key) < sizeof(c->tls_key));
	c->tls_ktls = ktls ? 1 : 0;
	struct tls_ctx *t = NULL;
	char err[512];
	assert_int_equal(tls_ctx_new(c, &t, err, sizeof(err)), 0);
	config_unref(c);
	return t;
}

/* A server context ([tls] ktls as asked) and a client context (TLS 1.2
 * up to max). */
struct dctx {
	struct tls_ctx *t;
	SSL_CTX *cc;
};

static struct dctx dctx_new(bool ktls, int max)
{
	return (struct dctx){ .t = data_ctx(ktls), .cc = client_ctx(TLS1_2_VERSION, max) };
}

static void dctx_free(struct dctx *c)
{
	SSL_CTX_free(c->cc);
	tls_ctx_unref(c->t);
}

/* A PROT P data connection, handshake done, over TCP or a socket pair. */
static void data_open(struct pair *p, const struct dctx *c, bool tcp)
{
	int sv[2];
	if (tcp)
		tcp_pair(sv);
	else
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	pair_open_on(p, sv, c->t, c->cc, "localhost", NULL);
	tls_conn_free(p->srv);
	assert_int_equal(tls_conn_new_data(c->t, p->sfd, &p->srv), 0);
	handshake_ok(p);
}

/* How long a loop waits for what the kernel still has to do (loopback TCP
 * may finish a transmission later, from a tasklet): a bound, never a
 * duration the test depends on. */
#define PATIENCE_S 60.0

static double now_s(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Nothing moved in this round: sleep until the client can read or the
 * server can write (bounded), rather than spin. */
static void await_io(const struct pair *p, bool server_out)
{
	struct pollfd f[2] = { { .fd = p->cfd, .events = POLLIN }, { .fd = p->sfd, .events = POLLOUT } };
	(void)poll(f, server_out ? 2 : 1, 50);
}

/* Whatever the client can read now; -1 at its end of stream. */
static long cli_drain(struct pair *p, unsigned char *buf, size_t cap, size_t *have)
{
	long n = 0;
	for (int i = 0; i < 100000; i++) {
		if (*have == cap) {
			/* Only the end of the stream may follow. */
			unsigned char c;
			size_t one = 0;
			if (SSL_read_ex(p->cli, &c, 1, &one) == 1)
				fail_msg("the client got more than %zu bytes", cap);
			int e = SSL_get_error(p->cli, 0);
			ERR_clear_error();
			if (e == SSL_ERROR_ZERO_RETURN)
				return -1;
			assert_int_equal(e, SSL_ERROR_WANT_READ);
			break;
		}
		size_t got = 0;
		if (SSL_read_ex(p->cli, buf + *have, cap - *have, &got) == 1) {
			*have += got;
			n += (long)got;
			continue;
		}
		int e = SSL_get_error(p->cli, 0);
		if (e == SSL_ERROR_ZERO_RETURN)
			return -1;
		assert_int_equal(e, SSL_ERROR_WANT_READ);
		break;
	}
	ERR_clear_error();
	return n;
}

/* Sends the file from off with tls_send_file while the client reads;
 * checks every byte, the close_notify after them, and returns the count. */
static uint64_t send_file_and_check(struct pair *p, int fd, uint64_t off)
{
	unsigned char *got = malloc(FILE_SIZE);
	assert_non_null(got);
	size_t have = 0;
	uint64_t start = off;
	bool eof = false, notified = false, cli_end = false;
	for (double t0 = now_s(); !cli_end && now_s() - t0 < PATIENCE_S;) {
		int r = 0;
		if (!eof) {
			size_t put = 0;
			r = tls_send_file(p->srv, fd, &off, BIG, &put);
			if (r == 0 && put == 0)
				eof = true;
			else if (r)
				assert_int_equal(r, -EAGAIN);
		} else if (!notified) {
			r = tls_close_notify(p->srv);
			if (r == 0)
				notified = true;
			else
				assert_int_equal(r, -EAGAIN);
		}
		long n = cli_drain(p, got, FILE_SIZE, &have);
		cli_end = n < 0;
		if (n == 0 && (r == -EAGAIN || notified))
			await_io(p, r == -EAGAIN);
	}
	if (!(eof && notified && cli_end))
		print_error("eof %d notified %d cli_end %d off %llu have %zu: %s\n", eof, notified, cli_end,
			    (unsigned long long)off, have, tls_error(p->srv));
	assert_true(eof && notified && cli_end);
	assert_int_equal(off, FILE_SIZE);
	assert_int_equal(have, FILE_SIZE - start);
	for (size_t i = 0; i < have; i++)
		if (got[i] != pattern_at(start + i))
			fail_msg("byte %zu of the file: %u, expected %u", (size_t)start + i, got[i],
				 pattern_at(start + i));
	free(got);
	return have;
}

/* Without kernel TLS (here, or switched off) a file goes out as records
 * read from it in large blocks, from any offset (REST), and ends with the
 * end of the file. */
static void test_send_file(void **state)
{
	for (int ktls = 0; ktls < 2; ktls++) {
		struct dctx x = dctx_new(ktls, ktls ? TLS1_2_VERSION : TLS1_3_VERSION);
		int fd = open(fx.file, O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		uint64_t offs[] = { 0, 100001, FILE_SIZE - 1 };
		for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
			struct pair p;
			data_open(&p, &x, i == 0);
			(void)send_file_and_check(&p, fd, offs[i]);
			if (!tls_ktls_probe(false, (char[200]){ 0 }, 200))
				assert_false(tls_ktls_sending(p.srv));
			pair_close(&p);
		}
		(void)close(fd);
		dctx_free(&x);
	}
}

/* Past the end: nothing sent, 0; a file that cannot be read: its error,
 * and the connection still works. A control connection has no such path. */
static void test_send_file_edges(void **state)
{
	struct dctx x = dctx_new(true, TLS1_3_VERSION);
	struct pair p;
	data_open(&p, &x, false);
	int fd = open(fx.file, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	uint64_t off = FILE_SIZE + 5;
	size_t put = 99;
	assert_int_equal(tls_send_file(p.srv, fd, &off, BIG, &put), 0);
	assert_int_equal(put, 0);
	assert_int_equal(off, FILE_SIZE + 5);
	int wfd = open(fx.file, O_WRONLY | O_CLOEXEC);
	assert_true(wfd >= 0);
	off = 0;
	assert_int_equal(tls_send_file(p.srv, wfd, &off, BIG, &put), -EBADF);
	assert_int_equal(off, 0);
	(void)close(wfd);
	assert_int_equal(tls_send_file(p.srv, fd, &off, 0, &put), -EINVAL);
	char c;
	srv_write_all(&p, "k", 1);
	cli_read_exact(&p, &c, 1);
	assert_int_equal(c, 'k');
	pair_close(&p);

	pair_open(&p, x.t, x.cc, "localhost", NULL);
	handshake_ok(&p);
	off = 0;
	assert_int_equal(tls_send_file(p.srv, fd, &off, BIG, &put), -EOPNOTSUPP);
	pair_close(&p);
	(void)close(fd);
	dctx_free(&x);
}

/* Writes gathered into large sends count as written: every byte counted
 * reaches the client, the ones still buffered when the socket was full
 * included, before the close_notify. After -EAGAIN the writer offers the
 * same bytes again, as for any TLS write. */
static void test_buffered_writes_arrive(void **state)
{
	struct dctx x = dctx_new(false, TLS1_3_VERSION);
	struct pair p;
	data_open(&p, &x, true);
	const size_t total = 6 * BIG;
	unsigned char *src = malloc(BIG), *got = malloc(total);
	assert_non_null(src);
	assert_non_null(got);
	for (size_t i = 0; i < BIG; i++)
		src[i] = pattern_at(i);
	size_t written = 0, have = 0;
	bool blocked = false, flushed = false, notified = false, end = false;
	for (double t0 = now_s(); !end && now_s() - t0 < PATIENCE_S;) {
		int r = 0;
		if (written < total) {
			size_t put = 0;
			/* chunks that end mid-record, as a caller's buffer does */
			size_t n = BIG - written % BIG < 100000 ? BIG - written % BIG : 100000;
			r = tls_write(p.srv, src + written % BIG, n, &put);
			written += put;
			if (r == -EAGAIN) {
				assert_int_equal(tls_want(p.srv), LOOP_OUT);
				blocked = true;
			} else {
				assert_int_equal(r, 0);
			}
			if (!blocked)
				continue; /* the client reads nothing until the socket is full */
		} else if (!flushed) {
			r = tls_flush(p.srv);
			flushed = r == 0;
			if (r)
				assert_int_equal(r, -EAGAIN);
		} else if (!notified) {
			r = tls_close_notify(p.srv);
			notified = r == 0;
			if (r)
				assert_int_equal(r, -EAGAIN);
		}
		long n = cli_drain(&p, got, total, &have);
		end = n < 0;
		if (n == 0 && (r == -EAGAIN || notified))
			await_io(&p, r == -EAGAIN);
	}
	assert_true(blocked && end);
	assert_int_equal(written, total);
	assert_int_equal(have, total);
	for (size_t i = 0; i < have; i++)
		if (got[i] != src[i % BIG])
			fail_msg("byte %zu differs", i);
	free(src);
	free(got);
	pair_close(&p);
	dctx_free(&x);
}

/* Bytes buffered in the connection that cannot go out any more (the
 * client reset the connection) are a lost stream, not a short success:
 * the transfer must not be reported complete. */
static void test_buffered_writes_lost(void **state)
{
	struct dctx x = dctx_new(false, TLS1_3_VERSION);
	struct pair p;
	data_open(&p, &x, true);
	struct conn c;
	conn_init(&c, p.sfd);
	c.ops = &conn_tls_ops;
	c.tls = p.srv;
	unsigned char *src = calloc(1, BIG);
	assert_non_null(src);
	int r = 0;
	for (int i = 0; i < 1000 && r == 0; i++) {
		size_t put = 0;
		r = conn_write(&c, src, BIG, &put);
	}
	assert_int_equal(r, -EAGAIN);
	/* SO_LINGER 0: the client's close is an RST. */
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	assert_int_equal(setsockopt(p.cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	(void)close(p.cfd);
	p.cfd = -1;
	for (double t0 = now_s(); r == -EAGAIN && now_s() - t0 < PATIENCE_S;) {
		r = conn_shutdown(&c);
		if (r == -EAGAIN)
			(void)poll(&(struct pollfd){ .fd = p.sfd, .events = POLLOUT }, 1, 50);
	}
	assert_true(r < 0 && r != -EAGAIN);
	assert_int_equal(r, -ECONNRESET);
	print_message("after the reset: %s\n", tls_error(p.srv));
	free(src);
	pair_close(&p);
	dctx_free(&x);
}

/* The client writes records faster than the server reads: one read takes
 * several records (one file write per 64 KiB of upload, not per 16 KiB
 * record), tls_pending tells of records still inside, and the close_notify
 * after them is a clean end. */
static void test_reads_take_several_records(void **state)
{
	struct dctx x = dctx_new(false, TLS1_3_VERSION);
	struct pair p;
	data_open(&p, &x, true);
	unsigned char *src = malloc(BIG), *got = malloc(BIG);
	assert_non_null(src);
	assert_non_null(got);
	for (size_t i = 0; i < BIG; i++)
		src[i] = pattern_at(i * 3);
	size_t sent = 0, have = 0, biggest = 0;
	bool shut = false, end = false, small_done = false, blocked = false;
	(void)SSL_set_mode(p.cli, SSL_MODE_ENABLE_PARTIAL_WRITE);
	for (double t0 = now_s(); !end && now_s() - t0 < PATIENCE_S;) {
		if (sent < BIG) {
			size_t w = 0;
			if (SSL_write_ex(p.cli, src + sent, BIG - sent, &w) == 1)
				sent += w;
			else
				blocked = true;
			ERR_clear_error();
		} else if (!shut) {
			shut = SSL_shutdown(p.cli) >= 0;
			ERR_clear_error();
		}
		if (!blocked && !shut)
			continue; /* let records pile up first */
		size_t want = small_done ? 64 * 1024 : 10;
		size_t n = 0;
		int r = tls_read(p.srv, got + have, want < BIG - have ? want : BIG - have + 1, &n);
		if (r == -EAGAIN) {
			struct pollfd f[2] = { { .fd = p.sfd, .events = POLLIN }, { .fd = p.cfd, .events = POLLOUT } };
			(void)poll(f, 2, 50);
			continue;
		}
		assert_int_equal(r, 0);
		if (!small_done) {
			/* The rest of the records read from the socket are inside. */
			assert_true(tls_pending(p.srv) > 0);
			small_done = true;
		}
		if (n == 0)
			end = true;
		have += n;
		if (n > biggest)
			biggest = n;
	}
	assert_true(end);
	assert_int_equal(have, BIG);
	assert_memory_equal(got, src, BIG);
	print_message("largest read: %zu bytes\n", biggest);
	assert_true(biggest > 16384);
	free(src);
	free(got);
	pair_close(&p);
	dctx_free(&x);
}

/* Records read ahead and then a TCP close without close_notify: every
 * byte first, then the possible truncation (-ECONNRESET), never a clean
 * end. */
static void test_reads_then_truncation(void **state)
{
	struct dctx x = dctx_new(false, TLS1_3_VERSION);
	struct pair p;
	data_open(&p, &x, true);
	unsigned char src[100000], got[sizeof(src)];
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = pattern_at(i);
	size_t w = 0;
	assert_int_equal(fcntl(p.cfd, F_SETFL, 0), 0); /* blocking: all of it now */
	assert_int_equal(SSL_write_ex(p.cli, src, sizeof(src), &w), 1);
	assert_int_equal(w, sizeof(src));
	assert_int_equal(shutdown(p.cfd, SHUT_WR), 0);
	size_t have = 0;
	int r = 0;
	for (double t0 = now_s(); now_s() - t0 < PATIENCE_S;) {
		size_t n = 0;
		r = tls_read(p.srv, got + have, sizeof(got) - have + 1, &n);
		if (r == -EAGAIN) {
			(void)poll(&(struct pollfd){ .fd = p.sfd, .events = POLLIN }, 1, 50);
			continue;
		}
		if (r)
			break;
		assert_true(n > 0); /* never a clean end */
		have += n;
	}
	assert_int_equal(have, sizeof(src));
	assert_memory_equal(got, src, sizeof(src));
	assert_int_equal(r, -ECONNRESET);
	assert_string_equal(tls_error(p.srv), "connection closed by peer without close_notify during a read");
	pair_close(&p);
	dctx_free(&x);
}

/* The last records and the close_notify arrive together: the read that
 * returns the data has taken the close_notify from the buffer too, so the
 * socket will never signal it again. tls_pending() must tell the caller
 * to read once more (before, an upload whose end came that way hung until
 * the data timeout). */
static void test_end_read_with_the_data_is_pending(void **state)
{
	/* a record the server cannot decrypt */
	static const unsigned char bad_record[] = { 23, 3, 3, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8,
						    9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20 };
	for (int failure = 0; failure < 2; failure++) {
		struct dctx x = dctx_new(false, TLS1_3_VERSION);
		struct pair p;
		data_open(&p, &x, true);
		unsigned char src[3 * 16384 + 100], got[sizeof(src) + 1];
		memset(src, 'u', sizeof(src));
		size_t w = 0;
		assert_int_equal(fcntl(p.cfd, F_SETFL, 0), 0);
		uint64_t before = BIO_number_written(SSL_get_wbio(p.cli)); /* the handshake */
		assert_int_equal(SSL_write_ex(p.cli, src, sizeof(src), &w), 1);
		if (failure) {
			assert_int_equal(write(p.cfd, bad_record, sizeof(bad_record)), (ssize_t)sizeof(bad_record));
		} else {
			assert_true(SSL_shutdown(p.cli) >= 0);
		}
		/* Everything the client wrote is in the server's socket before it
		 * reads (loopback TCP may deliver the last of it a moment later). */
		uint64_t wire = BIO_number_written(SSL_get_wbio(p.cli)) - before + (failure ? sizeof(bad_record) : 0);
		int inq = 0;
		for (double t0 = now_s(); now_s() - t0 < PATIENCE_S;) {
			assert_int_equal(ioctl(p.sfd, FIONREAD, &inq), 0);
			if ((uint64_t)inq >= wire)
				break;
			(void)poll(&(struct pollfd){ .fd = p.sfd, .events = POLLIN }, 1, 50);
		}
		assert_int_equal(inq, wire);
		size_t have = 0, n = 0;
		int r = 0;
		while (r == 0 && have < sizeof(src)) {
			r = tls_read(p.srv, got + have, sizeof(got) - have, &n);
			have += n;
		}
		assert_int_equal(r, 0);
		assert_int_equal(have, sizeof(src));
		/* Whatever is still to come is already inside: say so. */
		assert_true(tls_pending(p.srv) > 0);
		r = tls_read(p.srv, got, sizeof(got), &n);
		if (failure) {
			assert_int_equal(r, -EPROTO);
		} else {
			assert_int_equal(r, 0);
			assert_int_equal(n, 0); /* the clean end */
		}
		assert_int_equal(tls_pending(p.srv), 0);
		pair_close(&p);
		dctx_free(&x);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_send_file),
		cmocka_unit_test(test_send_file_edges),
		cmocka_unit_test(test_buffered_writes_arrive),
		cmocka_unit_test(test_buffered_writes_lost),
		cmocka_unit_test(test_reads_take_several_records),
		cmocka_unit_test(test_reads_then_truncation),
		cmocka_unit_test(test_end_read_with_the_data_is_pending),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
