/* tls: the only OpenSSL user. A server context (certificates, SNI, the
 * session cache) and TLS streams over non-blocking sockets, for the control
 * connection (AUTH TLS, implicit FTPS) and for PROT P data connections
 * (RFC 4217: the server is always the TLS server). Every call that would
 * block returns -EAGAIN and tls_want() says which readiness to wait for. */
#ifndef FERRY_TLS_H
#define FERRY_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct tls_ctx;
struct tls_conn;

/* Builds a server context from cfg's [tls] keys and [host NAME] sections
 * (a host's cert answers an SNI or HOST naming it): cert/key PEM files (the
 * first pair is the default; further pairs are chosen by SNI when the
 * client's server name matches one of their DNS names), TLS >= min_version
 * (1.2 or 1.3), Mozilla "intermediate" ciphers with AES-128-GCM and
 * ChaCha20 first, session tickets (TLS 1.2 and 1.3) and a server-side
 * session cache so data connections can resume the control connection's
 * session. -ENOENT when no certificate is
 * configured; other failures write a clear message ("[tls] key FILE: ...")
 * to err. Returns a reference (refs = 1). */
int tls_ctx_new(const struct config *cfg, struct tls_ctx **out, char *err, size_t errsz);
struct tls_ctx *tls_ctx_ref(struct tls_ctx *c);
void tls_ctx_unref(struct tls_ctx *c);

/* A TLS server stream over fd (borrowed; the caller closes it). */
int tls_conn_new(struct tls_ctx *ctx, int fd, struct tls_conn **out);
/* The same for a PROT P data connection: it resumes the control
 * connection's session but issues no session ticket of its own (a TLS 1.3
 * ticket that an uploading client never reads makes its close an RST). */
int tls_conn_new_data(struct tls_ctx *ctx, int fd, struct tls_conn **out);
void tls_conn_free(struct tls_conn *t);

/* Each returns 0 when done, -EAGAIN to retry on tls_want() readiness,
 * -EPROTO when the peer broke the protocol (tls_error() says how), or
 * another -errno. */
int tls_handshake(struct tls_conn *t);
/* Before the handshake: the [host NAME] (a name or alias) a HOST command
 * selected; its certificate answers whatever the SNI says. NULL/"": none. */
void tls_conn_set_host(struct tls_conn *t, const char *host);
/* 0 with *got > 0; 0 with *got == 0 at a clean close (close_notify);
 * -ECONNRESET when the peer closed the TCP connection without
 * close_notify (a possibly truncated stream). */
int tls_read(struct tls_conn *t, void *p, size_t n, size_t *got);
int tls_write(struct tls_conn *t, const void *p, size_t n, size_t *put);
/* Sends up to n bytes of the file fd from *off (advanced): 0 with *put
 * (0: the file ends before *off), -EAGAIN, -ECONNRESET or -EPIPE when the
 * stream is lost (tls_error says how), another -errno when the file could
 * not be read. A data connection only. With kernel TLS sending (tls_ktls_sending)
 * the kernel encrypts straight from the page cache (SSL_sendfile); without
 * it the file is read in large blocks into a buffer of the connection and
 * written as whole records. */
int tls_send_file(struct tls_conn *t, int fd, uint64_t *off, size_t n, size_t *put);
/* Hands the kernel what a data connection's writes left buffered (they
 * count as written): 0 when nothing is left, -EAGAIN, or -errno when the
 * stream failed before they went out. */
int tls_flush(struct tls_conn *t);
/* True once the kernel encrypts what this connection sends. */
bool tls_ktls_sending(const struct tls_conn *t);
/* Sends close_notify and waits for the peer's (bidirectional shutdown, so
 * the socket can carry plaintext afterwards: CCC, REIN). 0 when complete. */
int tls_shutdown(struct tls_conn *t);
/* Sends close_notify only (data connections, before closing), after
 * anything tls_flush would send. */
int tls_close_notify(struct tls_conn *t);
/* LOOP_IN and/or LOOP_OUT wanted by the last -EAGAIN. */
uint32_t tls_want(const struct tls_conn *t);
/* Decrypted bytes already buffered inside OpenSSL (read them before
 * waiting for the socket again). */
size_t tls_pending(const struct tls_conn *t);

/* True if data resumed a session that was issued on control's handshake
 * (RFC 4217 §10.2: the data connection belongs to this client). */
bool tls_resumed_from(const struct tls_conn *data, const struct tls_conn *control);

/* Kernel TLS (the "tls" TCP upper-layer protocol). What the decision is
 * made from, so a test can feed in any machine's answers: */
struct tls_ktls_facts {
	bool off;	  /* [tls] ktls = off */
	bool openssl;	  /* libssl was built with kernel TLS (not OPENSSL_NO_KTLS) */
	int probe_errno;  /* setsockopt(TCP_ULP, "tls") on an unconnected TCP
			   * socket: 0 or its errno (ENOTCONN: the ULP exists
			   * but wants a connection; ENOENT: no such ULP); -1:
			   * not tried */
	const char *ulps; /* /proc/sys/net/ipv4/tcp_available_ulp, or NULL */
	int ulps_errno;	  /* why ulps is NULL */
};
/* Decides whether data connections ask for kernel TLS, and writes why to
 * reason ("the kernel has no tls ULP (tcp_available_ulp: mptcp)"). */
bool tls_ktls_decide(const struct tls_ktls_facts *f, char *reason, size_t reasonsz);
/* Gathers the facts of this machine (a probe socket, the /proc list; as
 * root the probe loads the tls module where it exists) and decides. */
bool tls_ktls_probe(bool off, char *reason, size_t reasonsz);

const char *tls_version(const struct tls_conn *t); /* "TLSv1.3" */
const char *tls_cipher(const struct tls_conn *t);  /* "TLS_AES_128_GCM_SHA256" */
const char *tls_sni(const struct tls_conn *t);	   /* server name sent, or NULL */
const char *tls_error(const struct tls_conn *t);   /* last failure, for logs */

#endif
