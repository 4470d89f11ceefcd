#include "conn.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

void conn_init(struct conn *c, int fd)
{
	c->fd = fd;
}

int conn_read(struct conn *c, void *p, size_t n, size_t *got)
{
	for (;;) {
		ssize_t r = recv(c->fd, p, n, 0);
		if (r >= 0) {
			*got = (size_t)r;
			return 0;
		}
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

int conn_write(struct conn *c, const void *p, size_t n, size_t *put)
{
	for (;;) {
		ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
		if (r >= 0) {
			*put = (size_t)r;
			return 0;
		}
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

void conn_close(struct conn *c)
{
	if (c->fd >= 0) {
		(void)close(c->fd);
		c->fd = -1;
	}
}
