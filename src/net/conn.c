/* conn: the calls every transport answers, and the plain TCP transport
 * (with sendfile and splice as its zero-copy paths). TLS is conn_tls.c. */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"
#include "util.h"

void conn_init(struct conn *c, int fd)
{
	*c = (struct conn){ .fd = fd, .ops = &conn_plain_ops, .pipe = { -1, -1 } };
}

void conn_stack(struct conn *c, struct conn *lower, const struct conn_ops *ops, void *xprt)
{
	*c = (struct conn){ .fd = lower->fd, .ops = ops, .lower = lower, .xprt = xprt, .pipe = { -1, -1 } };
}

int conn_read(struct conn *c, void *p, size_t n, size_t *got)
{
	return c->ops->read(c, p, n, got);
}

int conn_write(struct conn *c, const void *p, size_t n, size_t *put)
{
	return c->ops->write(c, p, n, put);
}

int conn_shutdown(struct conn *c)
{
	return c->ops->shutdown(c);
}

uint32_t conn_caps(const struct conn *c)
{
	return c->ops->caps;
}

int conn_sendfile(struct conn *c, int fd, uint64_t *off, size_t n, size_t *put)
{
	return c->ops->sendfile ? c->ops->sendfile(c, fd, off, n, put) : -EOPNOTSUPP;
}

int conn_splice_in(struct conn *c, int fd, size_t n, size_t *got, bool *file_err)
{
	*file_err = false;
	return c->ops->splice_in && !c->no_splice ? c->ops->splice_in(c, fd, n, got, file_err) : -EOPNOTSUPP;
}

size_t conn_pending(const struct conn *c)
{
	return c->ops->pending ? c->ops->pending(c) : 0;
}

void conn_close_notify(struct conn *c)
{
	if (c->ops->close_notify)
		c->ops->close_notify(c);
}

void conn_close(struct conn *c)
{
	if (c->ops && c->ops->free)
		c->ops->free(c);
	for (int i = 0; i < 2; i++) {
		if (c->pipe[i] >= 0)
			(void)close(c->pipe[i]);
		c->pipe[i] = -1;
	}
	if (!c->lower && c->fd >= 0)
		(void)close(c->fd);
	c->fd = -1;
	c->lower = NULL;
	c->ops = &conn_plain_ops;
}

/* ---- plain TCP */

static int plain_errno(void)
{
	return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

static int plain_read(struct conn *c, void *p, size_t n, size_t *got)
{
	for (;;) {
		ssize_t r = recv(c->fd, p, n, 0);
		if (r >= 0) {
			*got = (size_t)r;
			c->want = 0;
			return 0;
		}
		if (errno == EINTR)
			continue;
		c->want = errno == EWOULDBLOCK ? LOOP_IN : 0;
		return plain_errno();
	}
}

static int plain_write(struct conn *c, const void *p, size_t n, size_t *put)
{
	for (;;) {
		ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
		if (r >= 0) {
			*put = (size_t)r;
			c->want = 0;
			return 0;
		}
		if (errno == EINTR)
			continue;
		c->want = errno == EWOULDBLOCK ? LOOP_OUT : 0;
		return plain_errno();
	}
}

/* The end of a plain stream is the FIN that closing the socket sends. */
static int plain_shutdown(struct conn *c)
{
	c->want = 0;
	return 0;
}

/* A path this short (µs of round trip: the same host, or a switch away)
 * needs little buffer to keep it full; beyond it the kernel's autotuning
 * (sized to the bandwidth-delay product) is left alone. */
#define NEAR_RTT_US 100u
#define NEAR_SNDBUF_MIN (128u * 1024u)
#define NEAR_BYTES_PER_US (8u * 1024u) /* 8 GB/s: more than one core can send */

/* Sets up a socket for a bulk send (see plain_sendfile). */
static void plain_bulk(struct conn *c)
{
	int one = 1;
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &one, sizeof(one)); /* optimisations only */
	c->corked = true;
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 || len < sizeof(ti) || ti.tcpi_rtt == 0 ||
	    ti.tcpi_rtt >= NEAR_RTT_US)
		return;
	int buf = (int)(ti.tcpi_rtt * NEAR_BYTES_PER_US);
	if (buf < (int)NEAR_SNDBUF_MIN)
		buf = (int)NEAR_SNDBUF_MIN;
	(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf)); /* the kernel doubles it */
}

/* Bulk sendfile (from CONN_BULK_MIN on) over loopback (bench/, 1 GiB from
 * the page cache, 2 cores, RT priority, medians of 4-5 alternating runs):
 * - TCP_CORK: RETR x1 ~1,650 -> ~2,150 MiB/s, server CPU per GiB ~650 ->
 *   ~480 ms (the client's ~500 -> ~380): without it each sendfile's tail
 *   leaves as a short segment and segments stay below the 64 KiB the stack
 *   could build;
 * - on a near path (round trip under NEAR_RTT_US), a send buffer of a few
 *   hundred KiB instead of the autotuned 4 MiB: x4 ~2,800 -> ~4,800 MiB/s,
 *   x1 server CPU per GiB ~450 -> ~280 ms. Autotuning grows the buffer on
 *   loopback as if it were a long path, and the megabytes in flight make
 *   the receiver send (from its ACKs) what the sender queued, so it does
 *   the sender's work on its own core. TCP_NOTSENT_LOWAT (128 KiB-1 MiB)
 *   only moved CPU from client to server, no faster.
 * Small files skip both system calls: they are one segment anyway. */
static int plain_sendfile(struct conn *c, int fd, uint64_t *off, size_t n, size_t *put)
{
	if (!c->corked && n >= CONN_BULK_MIN)
		plain_bulk(c);
	off_t o = (off_t)*off;
	ssize_t r = sendfile(c->fd, fd, &o, n);
	if (r < 0) {
		c->want = errno == EAGAIN || errno == EWOULDBLOCK ? LOOP_OUT : 0;
		return plain_errno();
	}
	c->want = 0;
	*off = (uint64_t)o;
	*put = (size_t)r;
	return 0;
}

static int pipe_to_file(struct conn *c, int fd, size_t left)
{
	char tmp[64 * 1024];
	while (left) {
		ssize_t n = read(c->pipe[0], tmp, left < sizeof(tmp) ? left : sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		int r = util_write_all(fd, tmp, (size_t)n);
		if (r)
			return r;
		left -= (size_t)n;
	}
	return 0;
}

#define SPLICE_PIPE (1u << 20)

/* socket → pipe → file, the pipe emptied into the file before returning,
 * so nothing is left in it when the stream ends. */
static int plain_splice_in(struct conn *c, int fd, size_t n, size_t *got, bool *file_err)
{
	if (c->pipe[0] < 0) {
		/* splice(2) refuses O_APPEND targets (APPE, resumed uploads). */
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || (fl & O_APPEND) || pipe2(c->pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
			c->no_splice = true;
			return -EOPNOTSUPP;
		}
		/* A bigger pipe means fewer splice calls; the default 64 KiB works too. */
		(void)fcntl(c->pipe[1], F_SETPIPE_SZ, SPLICE_PIPE);
	}
	ssize_t r;
	do
		r = splice(c->fd, NULL, c->pipe[1], NULL, n < SPLICE_PIPE ? n : SPLICE_PIPE,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		c->want = errno == EAGAIN ? LOOP_IN : 0;
		if (errno == EAGAIN)
			return -EAGAIN;
		if (errno == EINVAL || errno == ENOSYS) {
			/* Nothing moved yet on this call: the caller reads instead. */
			c->no_splice = true;
			return -EOPNOTSUPP;
		}
		return -errno;
	}
	c->want = 0;
	*got = (size_t)r;
	for (size_t left = (size_t)r; left;) {
		ssize_t w = splice(c->pipe[0], NULL, fd, NULL, left, SPLICE_F_MOVE);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EINVAL) {
			/* The file system does not take splice: copy what the
			 * pipe holds, then read/write for the rest. */
			int e = pipe_to_file(c, fd, left);
			*file_err = e != 0;
			c->no_splice = true;
			return e;
		}
		if (w <= 0) {
			*file_err = true;
			return w < 0 ? -errno : -EIO;
		}
		left -= (size_t)w;
	}
	return 0;
}

const struct conn_ops conn_plain_ops = {
	.name = "plain",
	.caps = CONN_CAP_SENDFILE | CONN_CAP_SPLICE_IN,
	.read = plain_read,
	.write = plain_write,
	.shutdown = plain_shutdown,
	.sendfile = plain_sendfile,
	.splice_in = plain_splice_in,
};
