#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
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
