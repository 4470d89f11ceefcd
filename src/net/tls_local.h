/* tls_local: what tls.c (contexts, connections, handshakes) and tls_io.c
 * (reads, writes, the bulk paths of PROT P data connections) share. Not
 * for use outside src/net/tls*.c. */
#ifndef FERRY_TLS_LOCAL_H
#define FERRY_TLS_LOCAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

/* [tls] pairs, then one per [host NAME] with a certificate. */
#define TLS_MAX_PAIRS 24
#define TLS_TOKEN_LEN 16

struct tls_tickets;

struct tls_ctx {
	atomic_uint refs;
	size_t n;	 /* certificate/key pairs */
	size_t n_global; /* ssl[0..n_global-1]: the [tls] pairs; then the hosts' */
	/* Per [host NAME] with a cert: its names and its ssl[] index. */
	struct tls_vhost {
		char names[640]; /* "name,alias,..." lower case */
		size_t ssl;
	} vhosts[TLS_MAX_PAIRS];
	size_t n_vhosts;
	SSL_CTX *ssl[TLS_MAX_PAIRS]; /* [0]: default, session cache, callbacks */
	bool ktls;		     /* data connections ask for kernel TLS (tls_ktls_probe) */
	struct tls_tickets *tickets; /* [tls] ticket_keys; NULL: OpenSSL's own per-context keys */
};

struct tls_conn {
	SSL *ssl;
	struct tls_ctx *ctx; /* a reference: the SNI callback reads ctx->ssl[] */
	uint32_t want;	     /* LOOP_IN/LOOP_OUT after -EAGAIN */
	int fatal;	     /* 0, or the -errno of a fatal failure (no more SSL calls) */
	bool established;    /* handshake completed */
	bool resumed;	     /* resumed a session of ours; lineage is its origin */
	bool data;	     /* a data connection: issues no tickets */
	bool ticket_used;    /* the ClientHello's ticket was accepted */
	bool notify_sent;    /* tls_close_notify() done */
	bool peer_notify;    /* the peer's close_notify alert arrived */
	bool has_sni;
	bool read_deferred; /* tls_read left an end or failure for its next call */
	/* Data connections (tls_io.c): */
	bool ktls;			      /* SSL_OP_ENABLE_KTLS asked for at the handshake */
	bool rbuffered;			      /* reads go through a buffering BIO */
	bool wbuffered;			      /* writes go through a buffering BIO */
	unsigned char *fbuf;		      /* tls_send_file without kernel TLS: file bytes */
	uint64_t foff;			      /* file offset of fbuf[0] */
	size_t flen;			      /* bytes in fbuf */
	unsigned char lineage[TLS_TOKEN_LEN]; /* in our tickets and session ids */
	char sni[256];			      /* escaped for logs */
	char host[128];			      /* a HOST before the handshake: its certificate answers */
	char err[256];
};

/* Maps a failed SSL call (ret <= 0, with the errno it left) to our return
 * codes; fatal outcomes are remembered in t->fatal (tls_io.c). */
int tls_fail(struct tls_conn *t, int ret, int sys_errno, const char *what);

/* Frees what the data paths of tls_io.c allocated. */
void tls_data_free(struct tls_conn *t);

#endif
