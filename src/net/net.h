/* net: non-blocking listen/accept and address formatting. */
#ifndef FERRY_NET_H
#define FERRY_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Binds and listens on host:port (numeric address), non-blocking and
 * close-on-exec. Never SO_REUSEPORT: a port in use (by another ferryd too)
 * fails with EADDRINUSE; the workers of one ferryd share the one socket.
 * IPv6 sockets are IPv6-only. On failure writes a message to err. */
int net_listen(const char *host, uint16_t port, int *fd, char *err, size_t errsz);

/* Accepts one connection: 0 with *fd set, -EAGAIN when none is waiting. */
int net_accept(int lfd, int *fd, struct sockaddr_storage *peer);

/* Options for a control connection: SO_OOBINLINE (urgent ABOR bytes arrive
 * in line), TCP_NODELAY. */
int net_control_opts(int fd);

/* Numeric address without port ("127.0.0.1", "::1"; IPv4-mapped IPv6 shown
 * as IPv4). */
void net_addr_str(const struct sockaddr_storage *sa, char *out, size_t outsz);

#endif
