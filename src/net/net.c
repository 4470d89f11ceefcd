#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "str.h"

int net_listen(const char *host, uint16_t port, int *fdp, char *err, size_t errsz)
{
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		len = sizeof(*v4);
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		len = sizeof(*v6);
	} else {
		(void)snprintf(err, errsz, "listen %s:%u: not a numeric address", host, port);
		return -EINVAL;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
		goto fail;
	if (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 511) != 0)
		goto fail;
	*fdp = fd;
	return 0;
fail:;
	int r = -errno;
	(void)snprintf(err, errsz, "listen %s%s%s:%u: %s", strchr(host, ':') ? "[" : "", host,
		       strchr(host, ':') ? "]" : "", port, strerror(errno));
	if (fd >= 0)
		close(fd);
	return r;
}

int net_accept(int lfd, int *fd, struct sockaddr_storage *peer)
{
	socklen_t len = sizeof(*peer);
	int c = accept4(lfd, (struct sockaddr *)peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	*fd = c;
	return 0;
}

int net_control_opts(int fd)
{
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one)) != 0)
		return -errno;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
		return -errno;
	return 0;
}

int net_cork(int fd, bool on)
{
	int v = on;
	return setsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, sizeof(v)) == 0 ? 0 : -errno;
}

void net_addr_str(const struct sockaddr_storage *sa, char *out, size_t outsz)
{
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *v4 = (const void *)sa;
		if (!inet_ntop(AF_INET, &v4->sin_addr, out, (socklen_t)outsz))
			(void)str_copy(out, outsz, "?");
	} else if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *v6 = (const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
			if (!inet_ntop(AF_INET, &v6->sin6_addr.s6_addr[12], out, (socklen_t)outsz))
				(void)str_copy(out, outsz, "?");
		} else if (!inet_ntop(AF_INET6, &v6->sin6_addr, out, (socklen_t)outsz)) {
			(void)str_copy(out, outsz, "?");
		}
	} else {
		(void)str_copy(out, outsz, "?");
	}
}

/* The bytes net_addr_str shows: 4 for IPv4 (mapped or not), 16 for IPv6,
 * 0 for anything else (shown as "?"). */
static size_t addr_bytes(const struct sockaddr_storage *sa, const unsigned char **p)
{
	if (sa->ss_family == AF_INET) {
		*p = (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		return 4;
	}
	if (sa->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		*p = IN6_IS_ADDR_V4MAPPED(a) ? &a->s6_addr[12] : a->s6_addr;
		return IN6_IS_ADDR_V4MAPPED(a) ? 4 : 16;
	}
	*p = NULL;
	return 0;
}

bool net_addr_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const unsigned char *x, *y;
	size_t n = addr_bytes(a, &x);
	return n == addr_bytes(b, &y) && (n == 0 || memcmp(x, y, n) == 0);
}

void net_addr_pack(union net_sockaddr *out, const struct sockaddr_storage *in)
{
	memset(out, 0, sizeof(*out));
	memcpy(out, in, in->ss_family == AF_INET6 ? sizeof(out->in6) : sizeof(out->in4));
}

void net_addr_unpack(struct sockaddr_storage *out, const union net_sockaddr *in)
{
	memset(out, 0, sizeof(*out));
	memcpy(out, in, in->sa.sa_family == AF_INET6 ? sizeof(in->in6) : sizeof(in->in4));
}

void net_proxy_reader_init(struct net_proxy_reader *r, enum proxy_mode mode)
{
	memset(r, 0, sizeof(*r));
	r->mode = mode;
}

void net_proxy_reader_free(struct net_proxy_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->have = r->cap = 0;
}

/* recv, retried on EINTR; -errno or the count. */
static ssize_t net_recv(int fd, void *p, size_t n, int flags)
{
	ssize_t got;
	do
		got = recv(fd, p, n, flags);
	while (got < 0 && errno == EINTR);
	return got < 0 ? -errno : got;
}

int net_proxy_read(int fd, struct net_proxy_reader *r, struct proxy_hdr *hdr, const char **why)
{
	/* Each round consumes header bytes or returns: a v2 header takes two
	 * (fixed part, then the rest), a v1 line one. */
	for (int round = 0; round < 4; round++) {
		size_t want = 0;
		enum proxy_status st = proxy_parse(r->mode, r->buf, r->have, &want, hdr, why);
		if (st == PROXY_BAD)
			return -EPROTO;
		if (st == PROXY_DONE) /* not reached: a complete header returned below */
			return 0;
		if (want > r->cap) {
			uint8_t *nb = realloc(r->buf, want);
			if (!nb)
				return -ENOMEM;
			r->buf = nb;
			r->cap = want;
		}
		/* SECURITY: only a peek may look past what is surely header. */
		ssize_t got = net_recv(fd, r->buf + r->have, want - r->have, MSG_PEEK);
		if (got == -EAGAIN || got == -EWOULDBLOCK)
			return -EAGAIN;
		if (got < 0)
			return (int)got;
		if (got == 0) {
			*why = r->have ? "the connection closed in the middle of the PROXY header"
				       : "the connection closed before sending the PROXY header";
			return -ECONNRESET;
		}
		size_t n = r->have + (size_t)got, len = 0;
		st = proxy_parse(r->mode, r->buf, n, &len, hdr, why);
		if (st == PROXY_BAD)
			return -EPROTO;
		size_t take = st == PROXY_DONE ? len : n; /* PROXY_NEED: all of it is header */
		got = net_recv(fd, r->buf + r->have, take - r->have, 0);
		if (got < 0)
			return (int)got;
		if ((size_t)got != take - r->have)
			return -EIO; /* the kernel gave fewer bytes than it showed */
		r->have = take;
		if (st == PROXY_DONE)
			return 0;
	}
	return -EAGAIN;
}
