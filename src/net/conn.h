/* conn: a byte stream over a socket behind one set of calls, whatever
 * carries it. A transport is a small ops table (read, write, the end of
 * the stream, the optional zero-copy paths); plain TCP and TLS live here,
 * and a layer may stack a transport of its own on another conn through
 * the same table (ftp/: RFC 2228 protected blocks over plain or TLS), so
 * neither the control connection nor the data pump branches on which it
 * has. want says which readiness the last -EAGAIN is waiting for (a TLS
 * read can need the socket writable). */
#ifndef FERRY_CONN_H
#define FERRY_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tls_ctx;
struct tls_conn;
struct conn;

/* Sends from a file without copying through user space (sendfile(2)). */
#define CONN_CAP_SENDFILE 1u
/* Receives into a file without copying through user space (splice(2)). */
#define CONN_CAP_SPLICE_IN 2u
/* After our end of the stream the peer's end is awaited (conn_shutdown
 * then read until end of stream) so its own close never meets a reset. */
#define CONN_CAP_AWAIT_PEER 4u

struct conn_ops {
	const char *name; /* "plain", "tls", ... for logs and tests */
	uint32_t caps;	  /* CONN_CAP_* */
	/* As conn_read/conn_write below; set c->want on -EAGAIN. */
	int (*read)(struct conn *c, void *p, size_t n, size_t *got);
	int (*write)(struct conn *c, const void *p, size_t n, size_t *put);
	/* Ends our direction of the stream, as conn_shutdown. */
	int (*shutdown)(struct conn *c);
	/* Best effort, one non-blocking try, as conn_close_notify. */
	void (*close_notify)(struct conn *c);
	/* Bytes read from the socket but not yet returned by read. */
	size_t (*pending)(const struct conn *c);
	/* CONN_CAP_SENDFILE, as conn_sendfile. */
	int (*sendfile)(struct conn *c, int fd, uint64_t *off, size_t n, size_t *put);
	/* CONN_CAP_SPLICE_IN, as conn_splice_in. */
	int (*splice_in)(struct conn *c, int fd, size_t n, size_t *got, bool *file_err);
	/* Frees the transport's own state (not the socket, not lower). */
	void (*free)(struct conn *c);
};

struct conn {
	int fd; /* the socket (a stacked conn: its lower's, for polling) */
	const struct conn_ops *ops;
	struct tls_conn *tls; /* the TLS transport's state; NULL otherwise */
	struct conn *lower;   /* a stacked transport's carrier; NULL: the socket */
	void *xprt;	      /* a stacked transport's own state */
	uint32_t want;	      /* LOOP_IN/LOOP_OUT needed by the last -EAGAIN */
	int pipe[2];	      /* plain splice_in: socket → pipe → file */
	bool no_splice;	      /* splice refused on this stream: read/write instead */
	bool corked;	      /* plain sendfile: TCP_CORK set (the close flushes it) */
};

extern const struct conn_ops conn_plain_ops;
extern const struct conn_ops conn_tls_ops;

/* A plain stream over fd. */
void conn_init(struct conn *c, int fd);
/* c carries its transport over lower (borrowed): fd and want follow it. */
void conn_stack(struct conn *c, struct conn *lower, const struct conn_ops *ops, void *xprt);
/* Reads up to n bytes: 0 with *got > 0; 0 with *got == 0 at end of stream
 * (plain: FIN; TLS: close_notify; a stacked transport: its own end mark);
 * -EAGAIN when nothing is ready; -ECONNRESET when the stream ended without
 * its end mark (possibly truncated); other -errno on failure. A stacked
 * transport that refuses the peer's framing or protection says -EBADMSG
 * or -EMSGSIZE. */
int conn_read(struct conn *c, void *p, size_t n, size_t *got);
/* Writes up to n bytes: 0 with *put set (may be short); -EAGAIN; -errno. */
int conn_write(struct conn *c, const void *p, size_t n, size_t *put);
/* Ends our direction once everything written is out: 0 when done (then,
 * with CONN_CAP_AWAIT_PEER, read until end of stream); 1 when the peer
 * left before our end mark but all written bytes had gone out; -EAGAIN;
 * other -errno when written bytes may be lost. */
int conn_shutdown(struct conn *c);
/* Transport capabilities, CONN_CAP_*. */
uint32_t conn_caps(const struct conn *c);
/* CONN_CAP_SENDFILE: up to n bytes of fd from *off (advanced): 0 with *put
 * (0: the file ends before *off); -EAGAIN; -errno. A bulk sender asks for
 * large n: from CONN_BULK_MIN on, the stream is corked for good (only full
 * segments leave; closing it sends the rest with the FIN), which saves the
 * kernel on both ends a good part of its work per byte. */
#define CONN_BULK_MIN (256u * 1024u)
int conn_sendfile(struct conn *c, int fd, uint64_t *off, size_t n, size_t *put);
/* CONN_CAP_SPLICE_IN: up to n bytes of the stream appended to the file fd:
 * 0 with *got (0 at end of stream); -EAGAIN; -EOPNOTSUPP when this file
 * or stream cannot take it and nothing was lost (read and write instead,
 * from now on); other -errno, *file_err telling whether writing the file
 * failed rather than the stream. */
int conn_splice_in(struct conn *c, int fd, size_t n, size_t *got, bool *file_err);
/* Starts TLS as the server on this plain connection (the handshake runs
 * in conn_handshake). data: a PROT P data connection (tls_conn_new_data). */
int conn_start_tls(struct conn *c, struct tls_ctx *ctx);
int conn_start_tls_data(struct conn *c, struct tls_ctx *ctx);
/* 0 when the handshake is complete, -EAGAIN, or an error. */
int conn_handshake(struct conn *c);
/* Bidirectional close_notify; on 0 the stream is plaintext again and the
 * TLS state is handed to *old (kept for data-connection resumption checks;
 * the caller frees it). */
int conn_stop_tls(struct conn *c, struct tls_conn **old);
/* Bytes waiting inside the transport: read them before polling again. */
size_t conn_pending(const struct conn *c);
/* Best effort: the transport's end mark (TLS close_notify) before closing
 * (one non-blocking try). */
void conn_close_notify(struct conn *c);
/* Frees the transport state; a conn over the socket closes it too
 * (idempotent). A stacked conn is closed before its lower. */
void conn_close(struct conn *c);

#endif
