/* Unit tests for conn.c: the plain transport over non-blocking socket
 * pairs (read, write, the -EAGAIN want flags, end of stream, shutdown),
 * the capability flags of plain and TLS, the zero-copy paths (sendfile
 * from a file, splice into one, and the refusal for O_APPEND files that
 * loses nothing), and a transport stacked through the public ops type. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "loop.h"

/* A connected non-blocking TCP pair on loopback: splice(2) and
 * sendfile(2) behave as on a real data connection. */
static void tcp_pair(int sv[2])
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(l >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
	sv[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(sv[1], (struct sockaddr *)&a, sizeof(a)), 0);
	sv[0] = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	assert_true(sv[0] >= 0);
	(void)close(l);
}

static int tmpfile_fd(int extra_flags)
{
	char path[] = "/tmp/ferry-test-conn-XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC | extra_flags);
	assert_true(fd >= 0);
	(void)unlink(path);
	return fd;
}

static void test_plain_read_write(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	struct conn c;
	conn_init(&c, sv[0]);
	assert_string_equal(c.ops->name, "plain");
	assert_null(c.tls);

	char buf[64];
	size_t got = 99;
	assert_int_equal(conn_read(&c, buf, sizeof(buf), &got), -EAGAIN);
	assert_int_equal(c.want, LOOP_IN);

	assert_int_equal(write(sv[1], "hello", 5), 5);
	assert_int_equal(conn_read(&c, buf, sizeof(buf), &got), 0);
	assert_int_equal(got, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(c.want, 0);
	assert_int_equal(conn_pending(&c), 0);

	size_t put = 0;
	assert_int_equal(conn_write(&c, "world", 5, &put), 0);
	assert_int_equal(put, 5);
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "world", 5);

	/* Fill the socket: the last write waits for LOOP_OUT. */
	static char big[65536];
	int r = 0;
	for (int i = 0; i < 10000 && r == 0; i++)
		r = conn_write(&c, big, sizeof(big), &put);
	assert_int_equal(r, -EAGAIN);
	assert_int_equal(c.want, LOOP_OUT);

	/* The peer's FIN: 0 bytes, no error. */
	int fl = fcntl(sv[1], F_GETFL);
	assert_int_equal(fcntl(sv[1], F_SETFL, fl | O_NONBLOCK), 0);
	while (read(sv[1], big, sizeof(big)) > 0)
		;
	assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
	got = 99;
	assert_int_equal(conn_read(&c, buf, sizeof(buf), &got), 0);
	assert_int_equal(got, 0);

	conn_close(&c);
	assert_int_equal(c.fd, -1);
	conn_close(&c); /* idempotent */
	(void)close(sv[1]);
}

/* A plain stream ends with the FIN of its close: shutdown has nothing to
 * send and nothing to wait for, and the peer sees the end at the close. */
static void test_plain_shutdown(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	struct conn c;
	conn_init(&c, sv[0]);
	size_t put = 0;
	assert_int_equal(conn_write(&c, "abc", 3, &put), 0);
	assert_int_equal(conn_shutdown(&c), 0);
	assert_int_equal(c.want, 0);
	conn_close_notify(&c); /* nothing for plain */
	char buf[8];
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 3);
	assert_int_equal(read(sv[1], buf, sizeof(buf)), -1);
	assert_int_equal(errno, EAGAIN);
	conn_close(&c);
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 0);
	(void)close(sv[1]);
}

static void test_caps(void **state)
{
	(void)state;
	struct conn c;
	conn_init(&c, -1);
	assert_int_equal(conn_caps(&c), CONN_CAP_SENDFILE | CONN_CAP_SPLICE_IN);
	assert_non_null(conn_plain_ops.sendfile);
	assert_non_null(conn_plain_ops.splice_in);
	/* TLS sends files (SSL_sendfile with kernel TLS, else large reads
	 * and whole records), decrypts what it receives in user space (no
	 * splice), and its end waits for the peer's close_notify. */
	assert_int_equal(conn_tls_ops.caps, CONN_CAP_AWAIT_PEER | CONN_CAP_SENDFILE);
	assert_non_null(conn_tls_ops.sendfile);
	assert_null(conn_tls_ops.splice_in);
	assert_string_equal(conn_tls_ops.name, "tls");
	/* Asked anyway, a transport without the path says so. */
	c.ops = &conn_tls_ops;
	size_t n = 0;
	bool ferr = true;
	assert_int_equal(conn_splice_in(&c, 0, 1, &n, &ferr), -EOPNOTSUPP);
	assert_false(ferr);
}

static void test_plain_sendfile(void **state)
{
	(void)state;
	int sv[2];
	tcp_pair(sv);
	int f = tmpfile_fd(0);
	assert_int_equal(write(f, "0123456789", 10), 10);
	struct conn c;
	conn_init(&c, sv[0]);
	uint64_t off = 3;
	size_t put = 0;
	assert_int_equal(conn_sendfile(&c, f, &off, 1u << 20, &put), 0);
	assert_int_equal(put, 7);
	assert_int_equal(off, 10);
	/* At the end of the file: nothing more. */
	assert_int_equal(conn_sendfile(&c, f, &off, 1u << 20, &put), 0);
	assert_int_equal(put, 0);
	char buf[16];
	ssize_t n = recv(sv[1], buf, 7, MSG_WAITALL);
	assert_int_equal(n, 7);
	assert_memory_equal(buf, "3456789", 7);
	conn_close(&c);
	(void)close(sv[1]);
	(void)close(f);
}

static void test_plain_splice_in(void **state)
{
	(void)state;
	int sv[2];
	tcp_pair(sv);
	int f = tmpfile_fd(0);
	struct conn c;
	conn_init(&c, sv[0]);
	size_t got = 99;
	bool ferr = true;
	assert_int_equal(conn_splice_in(&c, f, 1u << 20, &got, &ferr), -EAGAIN);
	assert_int_equal(c.want, LOOP_IN);
	assert_int_equal(send(sv[1], "payload", 7, 0), 7);
	assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
	size_t total = 0;
	int r = 0;
	/* Bounded: the 7 bytes and the FIN are on their way over loopback. */
	for (int i = 0; i < 100000; i++) {
		r = conn_splice_in(&c, f, 1u << 20, &got, &ferr);
		if (r == -EAGAIN)
			continue;
		assert_int_equal(r, 0);
		if (got == 0)
			break;
		total += got;
	}
	assert_int_equal(r, 0);
	assert_int_equal(got, 0);
	assert_int_equal(total, 7);
	char buf[16];
	assert_int_equal(pread(f, buf, sizeof(buf), 0), 7);
	assert_memory_equal(buf, "payload", 7);
	conn_close(&c);
	(void)close(sv[1]);
	(void)close(f);
}

/* splice(2) refuses O_APPEND files: the stream says so before taking any
 * byte, so the caller reads them instead. */
static void test_plain_splice_refused(void **state)
{
	(void)state;
	int sv[2];
	tcp_pair(sv);
	int f = tmpfile_fd(O_APPEND);
	struct conn c;
	conn_init(&c, sv[0]);
	assert_int_equal(send(sv[1], "kept", 4, 0), 4);
	size_t got = 0;
	bool ferr = true;
	assert_int_equal(conn_splice_in(&c, f, 1u << 20, &got, &ferr), -EOPNOTSUPP);
	assert_false(ferr);
	assert_true(c.no_splice);
	assert_int_equal(conn_splice_in(&c, f, 1u << 20, &got, &ferr), -EOPNOTSUPP);
	char buf[8];
	int r = -EAGAIN;
	for (int i = 0; i < 100000 && r == -EAGAIN; i++)
		r = conn_read(&c, buf, sizeof(buf), &got);
	assert_int_equal(r, 0);
	assert_int_equal(got, 4);
	assert_memory_equal(buf, "kept", 4);
	conn_close(&c);
	(void)close(sv[1]);
	(void)close(f);
}

/* A transport stacked through the public ops type (as ftp/'s RFC 2228
 * blocks are): here one that upper-cases what it writes. */
static int upper_write(struct conn *c, const void *p, size_t n, size_t *put)
{
	char tmp[64];
	size_t k = n < sizeof(tmp) ? n : sizeof(tmp);
	for (size_t i = 0; i < k; i++) {
		char ch = ((const char *)p)[i];
		tmp[i] = ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
	}
	int r = conn_write(c->lower, tmp, k, put);
	c->want = c->lower->want;
	return r;
}

static int upper_read(struct conn *c, void *p, size_t n, size_t *got)
{
	int r = conn_read(c->lower, p, n, got);
	c->want = c->lower->want;
	return r;
}

static int upper_shutdown(struct conn *c)
{
	return conn_shutdown(c->lower);
}

static int upper_frees;
static void upper_free(struct conn *c)
{
	upper_frees++;
	c->xprt = NULL;
}

static const struct conn_ops upper_ops = {
	.name = "upper",
	.read = upper_read,
	.write = upper_write,
	.shutdown = upper_shutdown,
	.free = upper_free,
};

static void test_stacked(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	struct conn base, top;
	int token = 0;
	conn_init(&base, sv[0]);
	conn_stack(&top, &base, &upper_ops, &token);
	assert_int_equal(top.fd, sv[0]);
	assert_ptr_equal(top.lower, &base);
	assert_int_equal(conn_caps(&top), 0); /* no zero-copy path through it */
	size_t put = 0, got = 0;
	assert_int_equal(conn_write(&top, "abc", 3, &put), 0);
	assert_int_equal(put, 3);
	char buf[8];
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "ABC", 3);
	assert_int_equal(conn_read(&top, buf, sizeof(buf), &got), -EAGAIN);
	assert_int_equal(top.want, LOOP_IN);
	assert_int_equal(conn_shutdown(&top), 0);
	/* Closing the stacked conn frees its state, not the socket. */
	upper_frees = 0;
	conn_close(&top);
	assert_int_equal(upper_frees, 1);
	assert_int_equal(conn_write(&base, "x", 1, &put), 0);
	conn_close(&base);
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 1);
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 0);
	(void)close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_read_write),
		cmocka_unit_test(test_plain_shutdown),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_plain_sendfile),
		cmocka_unit_test(test_plain_splice_in),
		cmocka_unit_test(test_plain_splice_refused),
		cmocka_unit_test(test_stacked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
