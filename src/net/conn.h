/* conn: a byte stream over a socket, plain or TLS behind the same calls, so
 * the session never cares which it has. want says which readiness the last
 * -EAGAIN is waiting for (a TLS read can need the socket writable). */
#ifndef FERRY_CONN_H
#define FERRY_CONN_H

#include <stddef.h>
#include <stdint.h>

struct tls_ctx;
struct tls_conn;

struct conn {
	int fd;
	struct tls_conn *tls; /* NULL: plaintext */
	uint32_t want;	      /* EPOLLIN/EPOLLOUT needed by the last -EAGAIN */
};

void conn_init(struct conn *c, int fd);
/* Reads up to n bytes: 0 with *got > 0; 0 with *got == 0 at end of stream;
 * -EAGAIN when nothing is ready; other -errno on failure. */
int conn_read(struct conn *c, void *p, size_t n, size_t *got);
/* Writes up to n bytes: 0 with *put set (may be short); -EAGAIN; -errno. */
int conn_write(struct conn *c, const void *p, size_t n, size_t *put);
/* Starts TLS as the server on this connection (the handshake runs in
 * conn_handshake). */
int conn_start_tls(struct conn *c, struct tls_ctx *ctx);
/* 0 when the handshake is complete, -EAGAIN, or an error. */
int conn_handshake(struct conn *c);
/* Bidirectional close_notify; on 0 the stream is plaintext again and the
 * TLS state is handed to *old (kept for data-connection resumption checks;
 * the caller frees it). */
int conn_stop_tls(struct conn *c, struct tls_conn **old);
/* Decrypted bytes waiting inside the TLS layer. */
size_t conn_pending(const struct conn *c);
/* Best effort: a TLS close_notify before closing (one non-blocking try). */
void conn_close_notify(struct conn *c);
/* Closes the socket and frees TLS state (idempotent). */
void conn_close(struct conn *c);

#endif
