/* tls_fixture: what the TLS unit tests share (test_tls.c, test_tls_io.c):
 * certificates made with OpenSSL at test time, an in-process OpenSSL
 * client on the other end of a non-blocking socket pair, and the loops
 * that drive both handshakes. Each test includes it once; a test that does
 * not use a helper is fine (FIXTURE marks them unused). */
#ifndef FERRY_TEST_TLS_FIXTURE_H
#define FERRY_TEST_TLS_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "loop.h"
#include "tls.h"

#define FIXTURE static __attribute__((unused))

static long next_serial __attribute__((unused)) = 1;

FIXTURE void write_key(const char *path, EVP_PKEY *k, const char *pass)
{
	BIO *b = BIO_new_file(path, "w");
	assert_non_null(b);
	if (pass)
		assert_int_equal(PEM_write_bio_PrivateKey(b, k, EVP_aes_128_cbc(), (const unsigned char *)pass,
							  (int)strlen(pass), NULL, NULL),
				 1);
	else
		assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
	assert_int_equal(BIO_free(b), 1);
}

/* A self-signed certificate (EC P-256 unless rsa); san NULL = subject CN only. */
FIXTURE EVP_PKEY *make_pair(const char *crt, const char *key, const char *cn, const char *san, bool rsa)
{
	EVP_PKEY *k = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
	X509 *x = X509_new();
	assert_non_null(k);
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), next_serial++), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_int_equal(X509_set_pubkey(x, k), 1);
	X509_NAME *nm = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, nm), 1);
	if (san) {
		X509V3_CTX v;
		X509V3_set_ctx_nodb(&v);
		X509V3_set_ctx(&v, x, x, NULL, NULL, 0);
		X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v, NID_subject_alt_name, san);
		assert_non_null(e);
		assert_int_equal(X509_add_ext(x, e, -1), 1);
		X509_EXTENSION_free(e);
	}
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	BIO *b = BIO_new_file(crt, "w");
	assert_non_null(b);
	assert_int_equal(PEM_write_bio_X509(b, x), 1);
	assert_int_equal(BIO_free(b), 1);
	write_key(key, k, NULL);
	X509_free(x);
	return k;
}

FIXTURE SSL_CTX *client_ctx(int minv, int maxv)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	assert_non_null(c);
	SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
	if (minv < TLS1_2_VERSION) {
		/* let this client offer what the system policy forbids */
		SSL_CTX_set_security_level(c, 0);
		assert_int_equal(SSL_CTX_set_cipher_list(c, "DEFAULT@SECLEVEL=0"), 1);
	}
	assert_int_equal(SSL_CTX_set_min_proto_version(c, minv), 1);
	assert_int_equal(SSL_CTX_set_max_proto_version(c, maxv), 1);
	return c;
}

struct pair {
	int sfd, cfd;
	struct tls_conn *srv;
	SSL *cli;
};

/* A connected TCP pair on 127.0.0.1, for what only TCP does (RST). */
FIXTURE void tcp_pair(int sv[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	sv[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(sv[1] >= 0);
	assert_int_equal(connect(sv[1], (struct sockaddr *)&a, sizeof(a)), 0);
	sv[0] = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	assert_true(sv[0] >= 0);
	assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(close(l), 0);
}

FIXTURE void pair_open_on(struct pair *p, int sv[2], struct tls_ctx *ctx, SSL_CTX *cctx, const char *sni,
			  SSL_SESSION *sess)
{
	p->sfd = sv[0];
	p->cfd = sv[1];
	assert_int_equal(tls_conn_new(ctx, p->sfd, &p->srv), 0);
	p->cli = SSL_new(cctx);
	assert_non_null(p->cli);
	assert_int_equal(SSL_set_fd(p->cli, p->cfd), 1);
	SSL_set_connect_state(p->cli);
	if (sni)
		assert_int_equal(SSL_set_tlsext_host_name(p->cli, sni), 1);
	if (sess)
		assert_int_equal(SSL_set_session(p->cli, sess), 1);
}

FIXTURE void pair_open(struct pair *p, struct tls_ctx *ctx, SSL_CTX *cctx, const char *sni, SSL_SESSION *sess)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	pair_open_on(p, sv, ctx, cctx, sni, sess);
}

FIXTURE void pair_close(struct pair *p)
{
	tls_conn_free(p->srv);
	/* OpenSSL's client marks its session not resumable when freed without
	 * close_notify; the tests reuse sessions after such ends on purpose. */
	SSL_set_shutdown(p->cli, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(p->cli);
	if (p->sfd >= 0)
		(void)close(p->sfd);
	if (p->cfd >= 0)
		(void)close(p->cfd);
	ERR_clear_error();
}

/* Runs both handshakes to their end; returns the server's result. The
 * client's outcome goes to *cli_ok. */
FIXTURE int drive(struct pair *p, bool *cli_ok)
{
	int sr = -EAGAIN;
	bool sdone = false, cdone = false, cok = false;
	for (int i = 0; i < 100 && !(sdone && cdone); i++) {
		if (!sdone) {
			sr = tls_handshake(p->srv);
			if (sr == -EAGAIN)
				assert_true(tls_want(p->srv) == LOOP_IN || tls_want(p->srv) == LOOP_OUT);
			else
				sdone = true;
		}
		if (!cdone) {
			int r = SSL_do_handshake(p->cli);
			int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(p->cli, r);
			if (r == 1)
				cdone = cok = true;
			else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				cdone = true;
		}
		if (sdone && sr != 0)
			break; /* the client learns of it from the alert, or not at all */
	}
	assert_true(sdone);
	if (cli_ok)
		*cli_ok = cok;
	ERR_clear_error();
	return sr;
}

FIXTURE void handshake_ok(struct pair *p)
{
	bool cok = false;
	int r = drive(p, &cok);
	if (r)
		print_error("server handshake: %s\n", tls_error(p->srv));
	assert_int_equal(r, 0);
	assert_true(cok);
}

/* Client reads exactly n bytes (it also takes in TLS 1.3 tickets). */
FIXTURE void cli_read_exact(struct pair *p, char *buf, size_t n)
{
	size_t have = 0;
	for (int i = 0; i < 1000 && have < n; i++) {
		size_t got = 0;
		if (SSL_read_ex(p->cli, buf + have, n - have, &got) == 1) {
			have += got;
			continue;
		}
		assert_int_equal(SSL_get_error(p->cli, 0), SSL_ERROR_WANT_READ);
	}
	assert_int_equal(have, n);
}

FIXTURE void srv_write_all(struct pair *p, const char *s, size_t n)
{
	size_t put = 0;
	assert_int_equal(tls_write(p->srv, s, n, &put), 0);
	assert_int_equal(put, n);
}

#endif
