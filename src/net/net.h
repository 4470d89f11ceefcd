/* net: non-blocking listen/accept and address formatting. */
#ifndef FERRY_NET_H
#define FERRY_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proxyproto.h"

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

/* TCP_CORK on or off. On a listening socket it is inherited by the
 * connections it accepts (no system call per connection): a passive data
 * connection then holds a partial segment until it is full or the socket
 * closes, so a small file leaves in one segment with its FIN. */
int net_cork(int fd, bool on);

/* Numeric address without port ("127.0.0.1", "::1"; IPv4-mapped IPv6 shown
 * as IPv4). */
void net_addr_str(const struct sockaddr_storage *sa, char *out, size_t outsz);

/* Whether net_addr_str would show a and b alike (the address alone, an
 * IPv4-mapped IPv6 address equal to its IPv4 one), without formatting
 * either: a data connection's check against its control peer. */
bool net_addr_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b);

/* An IPv4 or IPv6 socket address in 28 bytes rather than a 128-byte
 * sockaddr_storage, for what every idle session keeps (the listeners are
 * TCP). net_addr_pack keeps the family and as many bytes as an IPv6 one
 * (IPv4's for any other family); net_addr_unpack gives the
 * sockaddr_storage back, the rest of it zeroed. */
union net_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};
void net_addr_pack(union net_sockaddr *out, const struct sockaddr_storage *in);
void net_addr_unpack(struct sockaddr_storage *out, const union net_sockaddr *in);

/* Reads a PROXY protocol header (proxyproto.h) off a new connection, never
 * a byte beyond it: peeks at what the socket holds, lets proxy_parse say
 * how much of it is header, and consumes exactly that, so the client's own
 * first bytes (a TLS ClientHello) stay in the socket. Non-blocking: call
 * again when fd is readable. Owns a buffer (at most PROXY_V2_MAX bytes,
 * usually ~100): net_proxy_reader_free. */
struct net_proxy_reader {
	enum proxy_mode mode;
	uint8_t *buf;
	size_t have, cap; /* header bytes consumed so far; buf's size */
};

void net_proxy_reader_init(struct net_proxy_reader *r, enum proxy_mode mode);
void net_proxy_reader_free(struct net_proxy_reader *r);
/* 0 with *hdr the complete header; -EAGAIN: wait for fd to be readable;
 * -EPROTO: not a valid header (*why, static text); -ECONNRESET: the peer
 * closed before the header was complete (*why); another -errno. */
int net_proxy_read(int fd, struct net_proxy_reader *r, struct proxy_hdr *hdr, const char **why);

#endif
