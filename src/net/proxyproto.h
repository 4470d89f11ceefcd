/* proxyproto: the PROXY protocol header a TCP balancer (HAProxy send-proxy,
 * send-proxy-v2) puts before a connection's first byte, version 1 (text) and
 * version 2 (binary), as haproxy's doc/proxy-protocol.txt specifies. A pure
 * parser over the bytes received so far (no sockets: the reader that feeds
 * it is net_proxy_read in net.h), and the [server] proxy_from check.
 *
 * The parser never asks for a byte beyond the header: while it needs more,
 * every byte it was given belongs to the header (version 1 ends at the first
 * LF, version 2 is 16 bytes and then its length), so a reader that peeks,
 * parses and then consumes only what the parser took leaves the client's own
 * first bytes (a TLS ClientHello) in the socket. */
#ifndef FERRY_PROXYPROTO_H
#define FERRY_PROXYPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"

/* [server] proxy_protocol and [passive] proxy_protocol (config.c stores the
 * index of off, v1, v2, any). */
enum proxy_mode { PROXY_OFF = 0, PROXY_V1 = 1, PROXY_V2 = 2, PROXY_ANY = 3 };

/* The longest version 1 line, CRLF included (spec §2.1). */
#define PROXY_V1_MAX 107u
/* The fixed part of a version 2 header; its length field adds up to 65535. */
#define PROXY_V2_FIXED 16u
#define PROXY_V2_MAX (PROXY_V2_FIXED + 65535u)

struct proxy_hdr {
	int version; /* 1 or 2 */
	/* false: the header carries no usable address (v2 LOCAL, a health
	 * check; v1 UNKNOWN; v2 UNSPEC, AF_UNIX or a datagram protocol): the
	 * spec says to use the connection's own endpoints. */
	bool has_addr;
	struct sockaddr_storage src, dst; /* has_addr: the client and the address it connected to */
	const char *kind;		  /* for logs: "TCP4", "TCP6", "LOCAL", "UNKNOWN", "UNSPEC", "UNIX"... */
};

enum proxy_status {
	PROXY_NEED = 0, /* more bytes needed: *len is how many in all at least */
	PROXY_DONE = 1, /* a complete, valid header of *len bytes; *out filled */
	PROXY_BAD = -1, /* not a valid header for mode: *why says what is wrong */
};

/* Parses the first n bytes a connection received (p: from its very first
 * byte) as a header of mode (V1, V2 or ANY: either). PROXY_NEED when every
 * byte of p belongs to a header not yet complete, with *len the total to
 * wait for (at most PROXY_V1_MAX or PROXY_V2_MAX); PROXY_DONE with *len the
 * header's exact length (bytes of p after it are the client's); PROXY_BAD
 * with a static text in *why as soon as p cannot start a valid header.
 * SECURITY: p is untrusted; v2 TLVs are walked and must fill the declared
 * length exactly. */
enum proxy_status proxy_parse(enum proxy_mode mode, const uint8_t *p, size_t n, size_t *len, struct proxy_hdr *out,
			      const char **why);

/* True if addr (IPv4-mapped IPv6 counts as IPv4) is in one of the n
 * networks of list ([server] proxy_from). */
bool proxy_from_allows(const struct sockaddr_storage *addr, const struct config_cidr *list, size_t n);

#endif
