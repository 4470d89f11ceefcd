#include "conn.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls.h"

void conn_init(struct conn *c, int fd)
{
	c->fd = fd;
	c->tls = NULL;
	c->want = 0;
}

static int plain_errno(void)
{
	return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

int conn_read(struct conn *c, void *p, size_t n, size_t *got)
{
	if (c->tls) {
		int r = tls_read(c->tls, p, n, got);
		c->want = r == -EAGAIN ? tls_want(c->tls) : 0;
		return r;
	}
	for (;;) {
		ssize_t r = recv(c->fd, p, n, 0);
		if (r >= 0) {
			*got = (size_t)r;
			c->want = 0;
			return 0;
		}
		if (errno == EINTR)
			continue;
		c->want = errno == EWOULDBLOCK ? EPOLLIN : 0;
		return plain_errno();
	}
}

int conn_write(struct conn *c, const void *p, size_t n, size_t *put)
{
	if (c->tls) {
		int r = tls_write(c->tls, p, n, put);
		c->want = r == -EAGAIN ? tls_want(c->tls) : 0;
		return r;
	}
	for (;;) {
		ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
		if (r >= 0) {
			*put = (size_t)r;
			c->want = 0;
			return 0;
		}
		if (errno == EINTR)
			continue;
		c->want = errno == EWOULDBLOCK ? EPOLLOUT : 0;
		return plain_errno();
	}
}

int conn_start_tls(struct conn *c, struct tls_ctx *ctx)
{
	if (c->tls)
		return -EALREADY;
	return tls_conn_new(ctx, c->fd, &c->tls);
}

int conn_handshake(struct conn *c)
{
	int r = tls_handshake(c->tls);
	c->want = r == -EAGAIN ? tls_want(c->tls) : 0;
	return r;
}

int conn_stop_tls(struct conn *c, struct tls_conn **old)
{
	int r = tls_shutdown(c->tls);
	c->want = r == -EAGAIN ? tls_want(c->tls) : 0;
	if (r == 0) {
		*old = c->tls;
		c->tls = NULL;
	}
	return r;
}

size_t conn_pending(const struct conn *c)
{
	return c->tls ? tls_pending(c->tls) : 0;
}

void conn_close_notify(struct conn *c)
{
	if (c->tls)
		(void)tls_close_notify(c->tls);
}

void conn_close(struct conn *c)
{
	if (c->tls) {
		tls_conn_free(c->tls);
		c->tls = NULL;
	}
	if (c->fd >= 0) {
		(void)close(c->fd);
		c->fd = -1;
	}
}
