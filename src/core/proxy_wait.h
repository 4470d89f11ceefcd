/* proxy_wait: the protocol-neutral part of a connection behind a TCP
 * balancer ([server] proxy_protocol) before its front-end starts, shared by
 * ftp/session_proxy.c and sftp/sftp_proxy.c: the [server] proxy_from check,
 * reading the PROXY header off the socket (net_proxy_read, never a byte
 * past it), and turning the outcome into a refusal or the client's address,
 * each with its log lines. The front-end keeps the socket's watch, the
 * proxy_timeout timer, what it passes on once the header is read, and
 * closing the connection on a refusal. */
#ifndef FERRY_PROXY_WAIT_H
#define FERRY_PROXY_WAIT_H

#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "net.h"

/* Who waits, for the logs. */
struct proxy_wait_who {
	uint64_t id;	      /* the session's */
	const char *ip;	      /* the socket's peer (the balancer), as text */
	const char *protocol; /* NULL: no protocol in the lines (FTP's); else " protocol=X" ends each */
};

/* Logs "refused: ip=IP reason=REASON (DETAIL)[ protocol=X]" (and the JSON
 * "refused" event). */
void proxy_wait_refused(const struct proxy_wait_who *w, const char *reason, const char *detail);

/* SECURITY: only a balancer may say who the client is. NULL when peer is
 * in [server] proxy_from; else the refusal's reason, logged. */
const char *proxy_wait_check(const struct proxy_wait_who *w, const struct sockaddr_storage *peer,
			     const struct config *cfg);

/* proxy_timeout ran out before the header was complete: logs the refusal
 * and returns its reason. */
const char *proxy_wait_timeout(const struct proxy_wait_who *w, const struct config *cfg);

/* Reads on from fd (rd: net_proxy_reader_init'd with cfg's proxy_protocol).
 * -EAGAIN: wait for fd to be readable; 0: the header is complete, logged,
 * and *client is the client's address (the header's, or peer, the
 * balancer's, when it carries none); another value: a refusal, logged,
 * with its reason in *reason. */
int proxy_wait_read(const struct proxy_wait_who *w, int fd, struct net_proxy_reader *rd,
		    const struct sockaddr_storage *peer, struct sockaddr_storage *client, const char **reason);

#endif
