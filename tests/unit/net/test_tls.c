/* Unit tests for tls.c: contexts and their error messages, handshakes over
 * non-blocking socketpairs against an in-process OpenSSL client (TLS 1.2,
 * 1.3, refused old versions), SNI, I/O and its end states, bidirectional
 * shutdown back to plaintext, and data-connection session resumption.
 * Certificates (EC P-256, self-signed) are made at test time in a mkdtemp()
 * directory. The client side uses OpenSSL directly. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "loop.h"
#include "tls.h"
#include "tls_fixture.h"

/* Generated once for the whole group. */
static struct {
	char dir[64];
	char a_crt[PATH_MAX], a_key[PATH_MAX]; /* DNS:localhost (the default) */
	char b_crt[PATH_MAX], b_key[PATH_MAX]; /* DNS:other.test, DNS:*.wild.test */
	char c_crt[PATH_MAX], c_key[PATH_MAX]; /* CN=cn.test, no SAN */
	char r_crt[PATH_MAX], r_key[PATH_MAX]; /* RSA 2048, DNS:rsa.test */
	char garbage[PATH_MAX];		       /* not PEM */
	char enc_key[PATH_MAX];		       /* a's key, passphrase-protected */
	char missing[PATH_MAX];
} fx;

static void path_in(char *out, const char *name)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", fx.dir, name);
	assert_true(n > 0 && n < PATH_MAX);
}

static int group_setup(void **state)
{
	/* ferryd blocks SIGPIPE; writes to a closed peer must fail, not kill */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return -1;
	(void)snprintf(fx.dir, sizeof(fx.dir), "/tmp/ferry-test-tls-XXXXXX");
	if (!mkdtemp(fx.dir))
		return -1;
	path_in(fx.a_crt, "a.crt");
	path_in(fx.a_key, "a.key");
	path_in(fx.b_crt, "b.crt");
	path_in(fx.b_key, "b.key");
	path_in(fx.c_crt, "c.crt");
	path_in(fx.c_key, "c.key");
	path_in(fx.garbage, "garbage.pem");
	path_in(fx.enc_key, "enc.key");
	path_in(fx.missing, "missing.pem");
	path_in(fx.r_crt, "r.crt");
	path_in(fx.r_key, "r.key");
	EVP_PKEY *a = make_pair(fx.a_crt, fx.a_key, "localhost", "DNS:localhost", false);
	EVP_PKEY_free(make_pair(fx.b_crt, fx.b_key, "other.test", "DNS:other.test,DNS:*.wild.test", false));
	EVP_PKEY_free(make_pair(fx.c_crt, fx.c_key, "cn.test", NULL, false));
	EVP_PKEY_free(make_pair(fx.r_crt, fx.r_key, "rsa.test", "DNS:rsa.test", true));
	write_key(fx.enc_key, a, "secret");
	EVP_PKEY_free(a);
	FILE *f = fopen(fx.garbage, "w");
	if (!f || fputs("this is not a certificate\n", f) < 0 || fclose(f) != 0)
		return -1;
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int group_teardown(void **state)
{
	return nftw(fx.dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* ---- helpers ---------------------------------------------------------- */

static struct config *cfg_with(const char *certs, const char *keys, int min_version)
{
	struct config *c = config_new_default();
	assert_non_null(c);
	assert_true((size_t)snprintf(c->tls_cert, sizeof(c->tls_cert), "%s", certs) < sizeof(c->tls_cert));
	assert_true((size_t)snprintf(c->tls_key, sizeof(c->tls_key), "%s", keys) < sizeof(c->tls_key));
	c->tls_min_version = min_version;
	return c;
}

static struct tls_ctx *ctx_ok(const char *certs, const char *keys, int min_version)
{
	char err[512] = "x";
	struct tls_ctx *t = NULL;
	struct config *c = cfg_with(certs, keys, min_version);
	int r = tls_ctx_new(c, &t, err, sizeof(err));
	if (r)
		print_error("tls_ctx_new: %s\n", err);
	assert_int_equal(r, 0);
	assert_non_null(t);
	assert_string_equal(err, "");
	config_unref(c);
	return t;
}

static struct tls_ctx *default_ctx(void)
{
	return ctx_ok(fx.a_crt, fx.a_key, 0);
}

static void expect_ctx_error(const char *certs, const char *keys, const char *want)
{
	char err[512];
	struct tls_ctx *t = NULL;
	struct config *c = cfg_with(certs, keys, 0);
	int r = tls_ctx_new(c, &t, err, sizeof(err));
	/* never -ENOENT: the daemon reads that as "TLS is off" */
	assert_int_equal(r, -EINVAL);
	assert_null(t);
	assert_string_equal(err, want);
	config_unref(c);
	assert_int_equal(ERR_peek_error(), 0); /* the thread's queue is left clean */
}

/* The session the client would keep for later connections: in TLS 1.3 it
 * comes with the ticket, read after the handshake. */
static SSL_SESSION *client_session(struct pair *p)
{
	char c;
	srv_write_all(p, "!", 1);
	cli_read_exact(p, &c, 1);
	assert_int_equal(c, '!');
	SSL_SESSION *s = SSL_get1_session(p->cli);
	assert_non_null(s);
	assert_true(SSL_SESSION_is_resumable(s));
	return s;
}

/* ---- contexts --------------------------------------------------------- */

static void test_ctx_off(void **state)
{
	char err[64] = "x";
	struct tls_ctx *t = (struct tls_ctx *)&err; /* must be reset to NULL */
	struct config *c = config_new_default();
	assert_non_null(c);
	assert_string_equal(c->tls_cert, "");
	assert_int_equal(tls_ctx_new(c, &t, err, sizeof(err)), -ENOENT);
	assert_null(t);
	assert_string_equal(err, ""); /* no message: TLS off is not an error */
	config_unref(c);
}

static void test_ctx_ok_and_refs(void **state)
{
	struct tls_ctx *t = default_ctx();
	assert_ptr_equal(tls_ctx_ref(t), t);
	tls_ctx_unref(t);
	assert_null(tls_ctx_ref(NULL));
	tls_ctx_unref(NULL);

	/* a connection holds its own reference to the context */
	struct pair p;
	SSL_CTX *cc = client_ctx(TLS1_2_VERSION, TLS1_3_VERSION);
	pair_open(&p, t, cc, NULL, NULL);
	tls_ctx_unref(t);
	handshake_ok(&p);
	pair_close(&p);
	SSL_CTX_free(cc);

	/* three pairs, TLS 1.3 minimum; no error buffer is allowed */
	char certs[3 * PATH_MAX + 4], keys[3 * PATH_MAX + 4];
	(void)snprintf(certs, sizeof(certs), "%s,%s,%s", fx.a_crt, fx.b_crt, fx.c_crt);
	(void)snprintf(keys, sizeof(keys), "%s,%s,%s", fx.a_key, fx.b_key, fx.c_key);
	struct config *c = cfg_with(certs, keys, 1);
	assert_int_equal(tls_ctx_new(c, &t, NULL, 0), 0);
	tls_ctx_unref(t);
	config_unref(c);
}

static void test_ctx_errors(void **state)
{
	char want[PATH_MAX + 128], two[2 * PATH_MAX + 2];

	(void)snprintf(want, sizeof(want), "[tls] cert %s: No such file or directory", fx.missing);
	expect_ctx_error(fx.missing, fx.a_key, want);

	(void)snprintf(want, sizeof(want), "[tls] cert %s: no start line", fx.garbage);
	expect_ctx_error(fx.garbage, fx.a_key, want);

	(void)snprintf(want, sizeof(want), "[tls] key %s: No such file or directory", fx.missing);
	expect_ctx_error(fx.a_crt, fx.missing, want);

	(void)snprintf(want, sizeof(want), "[tls] key %s: no PEM private key found", fx.garbage);
	expect_ctx_error(fx.a_crt, fx.garbage, want);

	(void)snprintf(want, sizeof(want), "[tls] key %s: no PEM private key found", fx.a_crt);
	expect_ctx_error(fx.a_crt, fx.a_crt, want);

	/* a key file given as the certificate */
	(void)snprintf(want, sizeof(want), "[tls] cert %s: no start line", fx.a_key);
	expect_ctx_error(fx.a_key, fx.a_key, want);

	(void)snprintf(want, sizeof(want), "[tls] key %s: does not match the certificate", fx.b_key);
	expect_ctx_error(fx.a_crt, fx.b_key, want);

	(void)snprintf(want, sizeof(want),
		       "[tls] key %s: is encrypted; ferryd cannot ask for a passphrase (store it "
		       "unencrypted, readable by root only)",
		       fx.enc_key);
	expect_ctx_error(fx.a_crt, fx.enc_key, want);

	/* a later pair's failure is reported too */
	char keys2[2 * PATH_MAX + 2];
	(void)snprintf(two, sizeof(two), "%s,%s", fx.a_crt, fx.b_crt);
	(void)snprintf(keys2, sizeof(keys2), "%s,%s", fx.a_key, fx.a_key);
	(void)snprintf(want, sizeof(want), "[tls] key %s: does not match the certificate", fx.a_key);
	expect_ctx_error(two, keys2, want);

	/* counts are checked even for a struct config not made by config_load */
	expect_ctx_error(two, fx.a_key, "[tls] key: 2 certificates but 1 key");
	expect_ctx_error(fx.a_crt, "", "[tls] key: 1 certificate but 0 keys");
}

/* ---- handshakes ------------------------------------------------------- */

static void test_handshake_tls13(void **state)
{
	struct tls_ctx *t = default_ctx();
	SSL_CTX *cc = client_ctx(TLS1_2_VERSION, TLS1_3_VERSION);
	struct pair p;
	pair_open(&p, t, cc, NULL, NULL);
	handshake_ok(&p);
	assert_string_equal(tls_version(p.srv), "TLSv1.3");
	/* OpenSSL's client lists AES-256 first; the server's order wins */
	assert_string_equal(tls_cipher(p.srv), "TLS_AES_128_GCM_SHA256");
	assert_null(tls_sni(p.srv));
	assert_int_equal(tls_want(p.srv), 0);
	assert_false(SSL_session_reused(p.cli));
	pair_close(&p);

	/* a client that puts ChaCha20 first (no AES hardware) gets it */
	assert_int_equal(SSL_CTX_set_ciphersuites(cc, "TLS_CHACHA20_POLY1305_SHA256:"
						      "TLS_AES_128_GCM_SHA256"),
			 1);
	pair_open(&p, t, cc, NULL, NULL);
	handshake_ok(&p);
	assert_string_equal(tls_cipher(p.srv), "TLS_CHACHA20_POLY1305_SHA256");
	pair_close(&p);
	SSL_CTX_free(cc);
	tls_ctx_unref(t);
}

static void test_handshake_tls12(void **state)
{
	struct tls_ctx *t = default_ctx();
	SSL_CTX *cc = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
	struct pair p;
	pair_open(&p, t, cc, "localhost", NULL);
	handshake_ok(&p);
	assert_string_equal(tls_version(p.srv), "TLSv1.2");
	assert_string_equal(tls_cipher(p.srv), "ECDHE-ECDSA-AES128-GCM-SHA256");
	assert_string_equal(SSL_get_cipher_name(p.cli), "ECDHE-ECDSA-AES128-GCM-SHA256");
	assert_string_equal(tls_sni(p.srv), "localhost");
	pair_close(&p);

	/* an RSA certificate: ECDHE-RSA first, DHE-RSA with RFC 7919 groups */
	struct tls_ctx *tr = ctx_ok(fx.r_crt, fx.r_key, 0);
	pair_open(&p, tr, cc, NULL, NULL);
	handshake_ok(&p);
	assert_string_equal(tls_cipher(p.srv), "ECDHE-RSA-AES128-GCM-SHA256");
	pair_close(&p);
	assert_int_equal(SSL_CTX_set_cipher_list(cc, "DHE-RSA-AES256-GCM-SHA384"), 1);
	pair_open(&p, tr, cc, NULL, NULL);
	handshake_ok(&p);
	assert_string_equal(tls_cipher(p.srv), "DHE-RSA-AES256-GCM-SHA384");
	pair_close(&p);
	tls_ctx_unref(tr);

	/* a client offering only CBC suites finds nothing in common */
	assert_int_equal(SSL_CTX_set_cipher_list(cc, "ECDHE-ECDSA-AES128-SHA"), 1);
	pair_open(&p, t, cc, NULL, NULL);
	assert_int_equal(drive(&p, NULL), -EPROTO);
	assert_non_null(strstr(tls_error(p.srv), "no shared cipher"));
	pair_close(&p);
	SSL_CTX_free(cc);
	tls_ctx_unref(t);
}

static void test_min_version_13(void **state)
{
	struct tls_ctx *t = ctx_ok(fx.a_crt, fx.a_key, 1);
	SSL_CTX *c12 = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
	SSL_CTX *c13 = client_ctx(TLS1_2_VERSION, TLS1_3_VERSION);
	struct pair p;
	bool cok = true;
	pair_open(&p, t, c12, NULL, NULL);
	assert_int_equal(drive(&p, &cok), -EPROTO);
	assert_false(cok);
	assert_non_null(strstr(tls_error(p.srv), "unsupported protocol"));
	assert_int_equal(tls_want(p.srv), 0);
	pair_close(&p);

	pair_open(&p, t, c13, NULL, NULL);
	handshake_ok(&p);
	assert_string_equal(tls_version(p.srv), "TLSv1.3");
	pair_close(&p);
	SSL_CTX_free(c12);
	SSL_CTX_free(c13);
	tls_ctx_unref(t);
}

static void test_old_versions_refused(void **state)
{
	struct tls_ctx *t = default_ctx();
	static const int versions[] = { TLS1_VERSION, TLS1_1_VERSION };
	for (size_t i = 0; i < 2; i++) {
		SSL_CTX *cc = client_ctx(versions[i], versions[i]);
		struct pair p;
		bool cok = true;
		pair_open(&p, t, cc, NULL, NULL);
		assert_int_equal(drive(&p, &cok), -EPROTO);
		assert_false(cok);
		assert_non_null(strstr(tls_error(p.srv), "unsupported protocol"));
		pair_close(&p);
		SSL_CTX_free(cc);
	}
	tls_ctx_unref(t);
}

/* SNI: the pair whose DNS names (or CN without SAN) match, else the first. */
static void test_sni(void **state)
{
	char certs[3 * PATH_MAX + 4], keys[3 * PATH_MAX + 4];
	(void)snprintf(certs, sizeof(certs), "%s, %s ,%s", fx.a_crt, fx.b_crt, fx.c_crt);
	(void)snprintf(keys, sizeof(keys), "%s,%s,%s", fx.a_key, fx.b_key, fx.c_key);
	struct tls_ctx *t = ctx_ok(certs, keys, 0);
	static const struct {
		const char *sni;
		const char *cn; /* of the certificate the client must see */
		int maxv;
	} cases[] = {
		{ NULL, "localhost", TLS1_3_VERSION },
		{ "localhost", "localhost", TLS1_3_VERSION },
		{ "other.test", "other.test", TLS1_3_VERSION },
		{ "OTHER.Test", "other.test", TLS1_3_VERSION },
		{ "other.test", "other.test", TLS1_2_VERSION },
		{ "ftp.wild.test", "other.test", TLS1_3_VERSION },
		{ "a.b.wild.test", "localhost", TLS1_3_VERSION }, /* "*" is one label */
		{ "wild.test", "localhost", TLS1_3_VERSION },
		{ "cn.test", "cn.test", TLS1_3_VERSION },
		{ "cn.test", "cn.test", TLS1_2_VERSION },
		{ "unknown.test", "localhost", TLS1_3_VERSION },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		SSL_CTX *cc = client_ctx(TLS1_2_VERSION, cases[i].maxv);
		struct pair p;
		char cn[64] = "";
		pair_open(&p, t, cc, cases[i].sni, NULL);
		handshake_ok(&p);
		X509 *peer = SSL_get1_peer_certificate(p.cli);
		assert_non_null(peer);
		assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn)) > 0);
		if (strcmp(cn, cases[i].cn) != 0)
			print_error("case %zu (%s): got %s\n", i, cases[i].sni ? cases[i].sni : "-", cn);
		assert_string_equal(cn, cases[i].cn);
		if (cases[i].sni)
			assert_string_equal(tls_sni(p.srv), cases[i].sni);
		else
			assert_null(tls_sni(p.srv));
		X509_free(peer);
		pair_close(&p);
		SSL_CTX_free(cc);
	}
	tls_ctx_unref(t);
}

/* ---- I/O -------------------------------------------------------------- */

static void test_read_write_pending(void **state)
{
	struct tls_ctx *t = default_ctx();
	SSL_CTX *cc = client_ctx(TLS1_2_VERSION, TLS1_3_VERSION);
	struct pair p;
	char buf[256];
	size_t got = 99, put = 0;
	pair_open(&p, t, cc, NULL, NULL);
	handshake_ok(&p);

	/* nothing to read yet */
	assert_int_equal(tls_read(p.srv, buf, sizeof(buf), &got), -EAGAIN);
	assert_int_equal(got, 0);
	assert_int_equal(tls_want(p.srv), LOOP_IN);
	assert_int_equal(tls_read(p.srv, buf, 0, &got), -EINVAL);

	/* one record of 100 bytes, read 10 at a time: the rest is pending */
	char msg[100];
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (char)('a' + i % 26);
	assert_int_equal(SSL_write_ex(p.cli, msg, sizeof(msg), &put), 1);
	assert_int_equal(tls_pending(p.srv), 0);
	assert_int_equal(tls_read(p.srv, buf, 10, &got), 0);
	assert_int_equal(got, 10);
	assert_int_equal(tls_want(p.srv), 0);
	assert_int_equal(tls_pending(p.srv), 90);
	assert_int_equal(tls_read(p.srv, buf + 10, sizeof(buf) - 10, &got), 0);
	assert_int_equal(got, 90);
	assert_memory_equal(buf, msg, sizeof(msg));
	assert_int_equal(tls_pending(p.srv), 0);

	/* a write larger than the socket takes: partial writes, then -EAGAIN
	 * wanting LOOP_OUT until the client reads */
	size_t total = 4u << 20, sent = 0, recvd = 0;
	char *big = malloc(total), *back = malloc(total);
	assert_non_null(big);
	assert_non_null(back);
	for (size_t i = 0; i < total; i++)
		big[i] = (char)(i * 7 + i / 4096);
	bool saw_eagain = false, saw_partial = false;
	for (int rounds = 0; rounds < 100000 && recvd < total; rounds++) {
		/* fill the socket without reading: a partial write, then -EAGAIN */
		while (sent < total) {
			int r = tls_write(p.srv, big + sent, total - sent, &put);
			if (r == -EAGAIN) {
				saw_eagain = true;
				assert_int_equal(tls_want(p.srv), LOOP_OUT);
				assert_int_equal(put, 0);
				break;
			}
			assert_int_equal(r, 0);
			assert_true(put > 0 && put <= total - sent);
			saw_partial |= put < total - sent;
			sent += put;
		}
		size_t g = 0;
		while (recvd < total && SSL_read_ex(p.cli, back + recvd, total - recvd, &g) == 1)
			recvd += g;
	}
	assert_true(saw_eagain);
	assert_true(saw_partial);
	assert_int_equal(recvd, total);
	assert_memory_equal(big, back, total);
	free(big);
	free(back);

	assert_int_equal(tls_write(p.srv, "", 0, &put), 0);
	assert_int_equal(put, 0);
	pair_close(&p);
	SSL_CTX_free(cc);
	tls_ctx_unref(t);
}

static void test_clean_close(void **state)
{
	struct tls_ctx *t = default_ctx();
	SSL_CTX *cc = client_ctx(TLS1_2_VERSION, TLS1_3_VERSION);
	for (int v = 0; v < 2; v++) {
		struct pair p;
		char buf[16];
		size_t got = 99, put = 0;
		assert_int_equal(SSL_CTX_set_max_proto_version(cc, v ? TLS1_3_VERSION : TLS1_2_VERSION), 1);
		pair_open(&p, t, cc, NULL, NULL);
		handshake_ok(&p);
		assert_int_equal(SSL_write_ex(p.cli, "bye", 3, &put), 1);
		assert_int_equal(SSL_shutdown(p.cli), 0);
		assert_int_equal(tls_read(p.srv, buf, sizeof(buf), &got), 0);
		assert_int_equal(got, 3);
		assert_int_equal(tls_read(p.srv, buf, sizeof(buf), &got), 0);
		assert_int_equal(got, 0); /* close_notify: a clean end */
		assert_int_equal(tls_read(p.srv, buf, sizeof(buf), &got), 0);
		assert_int_equal(got, 0);
		/* our close_notify may still go out */
		assert_int_equal(tls_close_notify(p.srv), 0);
		pair_close(&p);
	}
	SSL_CTX_free(cc);
	tls_ctx_unref(t);
}

static void test_truncation(void **state)
{
	struct tls_ctx *t = default_ctx();
	SSL_CTX *cc = client_ctx(TLS1_2_VERSION, TLS1_3_VERSION);
	struct pair p;
	char buf[16];
	size_t got = 99, put = 0;
	pair_open(&p, t, cc, NULL, NULL);
	handshake_ok(&p);
	assert_int_equal(SSL_write_ex(p.cli, "part", 4, &put), 1);
	assert_int_equal(close(p.cfd), 0); /* no close_notify */
	p.cfd = -1;
	assert_int_equal(tls_read(p.srv, buf, sizeof(buf), &got), 0);
	assert_int_equal(got, 4);
	assert_int_equal(tls_read(p.srv, buf, sizeof(buf), &got), -ECONNRESET);
	assert_int_equal(got, 0);
	assert_non_null(strstr(tls_error(p.srv), "without close_notify"));
	/* the failure sticks: no further SSL calls are made */
	assert_int_equal(tls_read(p.srv, buf, sizeof(buf), &got), -ECONNRESET);
	assert_int_equal(tls_close_notify(p.srv), -ECONNRESET);
	assert_int_equal(tls_shutdown(p.srv), -ECONNRESET);
	pair_close(&p);

	/* a client that drops mid-handshake */
	pair_open(&p, t, cc, NULL, NULL);
	assert_int_equal(SSL_do_handshake(p.cli), -1); /* ClientHello sent */
	assert_int_equal(tls_handshake(p.srv), -EAGAIN);
	assert_int_equal(close(p.cfd), 0);
	p.cfd = -1;
	assert_int_equal(tls_handshake(p.srv), -ECONNRESET);
	pair_close(&p);

	/* ... or before sending anything */
	pair_open(&p, t, cc, NULL, NULL);
	assert_int_equal(close(p.cfd), 0);
	p.cfd = -1;
	assert_int_equal(tls_handshake(p.srv), -ECONNRESET);
	pair_close(&p);
	SSL_CTX_free(cc);
	tls_ctx_unref(t);
}

static void test_garbage_client_hello(void **state)
{
	static const char *const junk[] = {
		"USER anonymous\r\n", /* a plaintext FTP client after AUTH TLS */
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"\x16\x03\x01\x00\x05\x01\x00\x00\x01\xff", /* a truncated, malformed hello */
	};
	struct tls_ctx *t = default_ctx();
	SSL_CTX *cc = client_ctx(TLS1_2_VERSION, TLS1_3_VERSION);
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		struct pair p;
		pair_open(&p, t, cc, NULL, NULL);
		size_t n = i == 2 ? 10 : strlen(junk[i]);
		assert_int_equal(write(p.cfd, junk[i], n), (ssize_t)n);
		int r = -EAGAIN;
		for (int k = 0; k < 10 && r == -EAGAIN; k++)
			r = tls_handshake(p.srv);
		assert_int_equal(r, -EPROTO);
		assert_true(strlen(tls_error(p.srv)) > 10);
		assert_string_not_equal(tls_error(p.srv), "no error");
		assert_int_equal(ERR_peek_error(), 0);
		pair_close(&p);
	}
	SSL_CTX_free(cc);
	tls_ctx_unref(t);
}

/* CCC/REIN: after a bidirectional shutdown the same socket carries
 * plaintext, even when it arrives right behind the peer's close_notify. */
static void test_shutdown_to_plaintext(void **state)
{
	struct tls_ctx *t = default_ctx();
	SSL_CTX *cc = client_ctx(TLS1_2_VERSION, TLS1_3_VERSION);
	for (int v = 0; v < 2; v++) {
		struct pair p;
		char buf[64];
		assert_int_equal(SSL_CTX_set_max_proto_version(cc, v ? TLS1_3_VERSION : TLS1_2_VERSION), 1);
		pair_open(&p, t, cc, NULL, NULL);
		handshake_ok(&p);
		srv_write_all(&p, "200 CCC ok\r\n", 12);
		assert_int_equal(tls_shutdown(p.srv), -EAGAIN);
		assert_int_equal(tls_want(p.srv), LOOP_IN);
		assert_int_equal(tls_shutdown(p.srv), -EAGAIN); /* still waiting */

		/* the client reads the reply and the close_notify, answers it
		 * and goes on in plaintext at once */
		cli_read_exact(&p, buf, 12);
		assert_memory_equal(buf, "200 CCC ok\r\n", 12);
		size_t got = 0;
		assert_int_equal(SSL_read_ex(p.cli, buf, sizeof(buf), &got), 0);
		assert_int_equal(SSL_get_error(p.cli, 0), SSL_ERROR_ZERO_RETURN);
		assert_int_equal(SSL_shutdown(p.cli), 1);
		assert_int_equal(write(p.cfd, "PWD\r\n", 5), 5);

		assert_int_equal(tls_shutdown(p.srv), 0);
		assert_int_equal(tls_want(p.srv), 0);
		assert_int_equal(read(p.sfd, buf, sizeof(buf)), 5);
		assert_memory_equal(buf, "PWD\r\n", 5);
		assert_int_equal(write(p.sfd, "257 \"/\"\r\n", 9), 9);
		assert_int_equal(read(p.cfd, buf, sizeof(buf)), 9);
		assert_memory_equal(buf, "257 \"/\"\r\n", 9);
		pair_close(&p);
	}

	/* a client that sends data after our close_notify (a command pipelined
	 * behind CCC) breaks the protocol: OpenSSL 3 refuses it */
	for (int v = 0; v < 2; v++) {
		struct pair q;
		size_t put = 0;
		assert_int_equal(SSL_CTX_set_max_proto_version(cc, v ? TLS1_3_VERSION : TLS1_2_VERSION), 1);
		pair_open(&q, t, cc, NULL, NULL);
		handshake_ok(&q);
		assert_int_equal(tls_shutdown(q.srv), -EAGAIN);
		assert_int_equal(SSL_write_ex(q.cli, "NOOP\r\n", 6, &put), 1);
		assert_int_equal(tls_shutdown(q.srv), -EPROTO);
		assert_non_null(strstr(tls_error(q.srv), "application data after close notify"));
		pair_close(&q);
	}

	/* the client shut down first: one call completes it */
	struct pair p;
	char buf[8];
	size_t got = 0;
	pair_open(&p, t, cc, NULL, NULL);
	handshake_ok(&p);
	assert_int_equal(SSL_shutdown(p.cli), 0);
	assert_int_equal(tls_read(p.srv, buf, sizeof(buf), &got), 0);
	assert_int_equal(got, 0);
	assert_int_equal(tls_shutdown(p.srv), 0);
	assert_int_equal(SSL_shutdown(p.cli), 1);
	pair_close(&p);
	SSL_CTX_free(cc);
	tls_ctx_unref(t);
}

static void test_close_notify(void **state)
{
	struct tls_ctx *t = default_ctx();
	SSL_CTX *cc = client_ctx(TLS1_2_VERSION, TLS1_3_VERSION);
	struct pair p;
	char buf[8];
	size_t got = 0;
	pair_open(&p, t, cc, NULL, NULL);
	handshake_ok(&p);
	srv_write_all(&p, "data", 4);
	assert_int_equal(tls_close_notify(p.srv), 0);
	assert_int_equal(tls_want(p.srv), 0);
	assert_int_equal(tls_close_notify(p.srv), 0); /* once is enough */
	cli_read_exact(&p, buf, 4);
	assert_int_equal(SSL_read_ex(p.cli, buf, sizeof(buf), &got), 0);
	assert_int_equal(SSL_get_error(p.cli, 0), SSL_ERROR_ZERO_RETURN);
	pair_close(&p);
	SSL_CTX_free(cc);
	tls_ctx_unref(t);
}

/* ---- data-connection resumption (RFC 4217 §10.2) ---------------------- */

static void open_data(struct pair *p, struct tls_ctx *t, SSL_CTX *cc, SSL_SESSION *s)
{
	pair_open(p, t, cc, "localhost", s);
	handshake_ok(p);
}

/* tickets: the client offers session tickets (else TLS 1.2 resumes by
 * session id through the server's cache). */
static void check_resumption(int version, bool tickets)
{
	struct tls_ctx *t = default_ctx();
	SSL_CTX *cc = client_ctx(TLS1_2_VERSION, version);
	if (!tickets)
		(void)SSL_CTX_set_options(cc, SSL_OP_NO_TICKET);
	struct pair ctl, ctl2, ctl3, d;

	/* two clients' control connections, each a full handshake */
	open_data(&ctl, t, cc, NULL);
	SSL_SESSION *s1 = client_session(&ctl);
	open_data(&ctl2, t, cc, NULL);
	SSL_SESSION *s2 = client_session(&ctl2);
	assert_false(tls_resumed_from(ctl.srv, ctl.srv));
	assert_false(tls_resumed_from(ctl2.srv, ctl.srv));

	/* a data connection resuming control's session belongs to it, and
	 * the same session can be resumed for every transfer */
	for (int i = 0; i < 3; i++) {
		open_data(&d, t, cc, s1);
		assert_true(SSL_session_reused(d.cli));
		assert_string_equal(tls_version(d.srv), version == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2");
		assert_true(tls_resumed_from(d.srv, ctl.srv));
		assert_false(tls_resumed_from(d.srv, ctl2.srv));
		assert_false(tls_resumed_from(ctl.srv, d.srv));
		/* a transfer still works on it */
		char c;
		srv_write_all(&d, "x", 1);
		cli_read_exact(&d, &c, 1);
		/* and it issued no ticket of its own: the client keeps s1 */
		assert_ptr_equal(SSL_get_session(d.cli), s1);
		pair_close(&d);
	}

	/* data connections that end badly do not cost the control connection
	 * its session: freed without close_notify, truncated, reset */
	for (int how = 0; how < 3; how++) {
		char b[8];
		size_t got = 0;
		if (how == 2) {
			int sv[2];
			tcp_pair(sv);
			pair_open_on(&d, sv, t, cc, "localhost", s1);
			handshake_ok(&d);
		} else {
			open_data(&d, t, cc, s1);
		}
		assert_true(tls_resumed_from(d.srv, ctl.srv));
		if (how == 1) {
			assert_int_equal(close(d.cfd), 0);
			d.cfd = -1;
			assert_int_equal(tls_read(d.srv, b, sizeof(b), &got), -ECONNRESET);
		} else if (how == 2) {
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };
			assert_int_equal(setsockopt(d.cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
			assert_int_equal(close(d.cfd), 0); /* RST */
			d.cfd = -1;
			int r = -EAGAIN;
			for (int k = 0; k < 1000 && r == -EAGAIN; k++)
				r = tls_read(d.srv, b, sizeof(b), &got);
			assert_int_equal(r, -ECONNRESET);
		}
		pair_close(&d);
		open_data(&d, t, cc, s1);
		assert_true(SSL_session_reused(d.cli));
		assert_true(tls_resumed_from(d.srv, ctl.srv));
		pair_close(&d);
	}

	/* a fresh handshake on the data connection (Python ftplib) */
	open_data(&d, t, cc, NULL);
	assert_false(SSL_session_reused(d.cli));
	assert_false(tls_resumed_from(d.srv, ctl.srv));
	assert_false(tls_resumed_from(d.srv, ctl2.srv));
	pair_close(&d);

	/* a session issued to another client's control connection */
	open_data(&d, t, cc, s2);
	assert_true(SSL_session_reused(d.cli));
	assert_false(tls_resumed_from(d.srv, ctl.srv));
	assert_true(tls_resumed_from(d.srv, ctl2.srv));
	pair_close(&d);

	/* a session issued on a data connection (a full handshake there) is
	 * not control's, even though the same client could hold it */
	open_data(&d, t, cc, NULL);
	SSL_SESSION *sd = client_session(&d);
	pair_close(&d);
	open_data(&d, t, cc, sd);
	assert_true(SSL_session_reused(d.cli));
	assert_false(tls_resumed_from(d.srv, ctl.srv));
	pair_close(&d);
	SSL_SESSION_free(sd);

	/* a reconnected control connection that resumed s1 (same client):
	 * data connections resuming s1 belong to it too */
	open_data(&ctl3, t, cc, s1);
	assert_true(SSL_session_reused(ctl3.cli));
	open_data(&d, t, cc, s1);
	assert_true(tls_resumed_from(d.srv, ctl3.srv));
	assert_false(tls_resumed_from(d.srv, ctl2.srv));
	pair_close(&d);
	pair_close(&ctl3);

	/* after CCC the old control TLS state still answers */
	assert_int_equal(SSL_shutdown(ctl.cli), 0);
	{
		char b[4];
		size_t got = 0;
		assert_int_equal(tls_read(ctl.srv, b, sizeof(b), &got), 0);
		assert_int_equal(got, 0);
	}
	assert_int_equal(tls_shutdown(ctl.srv), 0);
	open_data(&d, t, cc, s1);
	assert_true(tls_resumed_from(d.srv, ctl.srv));
	pair_close(&d);

	/* the session cache belongs to the context: after a reload (a new
	 * context) old sessions are not resumed */
	struct tls_ctx *t2 = default_ctx();
	open_data(&d, t2, cc, s1);
	assert_false(SSL_session_reused(d.cli));
	assert_false(tls_resumed_from(d.srv, ctl.srv));
	pair_close(&d);
	tls_ctx_unref(t2);

	/* a data connection whose handshake has not finished */
	pair_open(&d, t, cc, NULL, s1);
	assert_false(tls_resumed_from(d.srv, ctl.srv));
	pair_close(&d);

	SSL_SESSION_free(s1);
	SSL_SESSION_free(s2);
	pair_close(&ctl);
	pair_close(&ctl2);
	SSL_CTX_free(cc);
	tls_ctx_unref(t);
}

static void test_resumption_tls12(void **state)
{
	check_resumption(TLS1_2_VERSION, true);
}

static void test_resumption_tls12_session_ids(void **state)
{
	check_resumption(TLS1_2_VERSION, false);
}

static void test_resumption_tls13(void **state)
{
	check_resumption(TLS1_3_VERSION, true);
}

/* A PROT P data connection: tls_conn_new_data instead of tls_conn_new. */
static void open_data_conn(struct pair *p, struct tls_ctx *t, SSL_CTX *cc, SSL_SESSION *s)
{
	pair_open(p, t, cc, "localhost", s);
	tls_conn_free(p->srv);
	assert_int_equal(tls_conn_new_data(t, p->sfd, &p->srv), 0);
	handshake_ok(p);
	char c;
	srv_write_all(p, "x", 1); /* the client reads past any ticket sent */
	cli_read_exact(p, &c, 1);
}

/* Data connections issue no session tickets, fresh or resumed (a TLS 1.3
 * ticket an uploading client never reads makes its close an RST). */
static void check_data_tickets(int version)
{
	struct tls_ctx *t = default_ctx();
	SSL_CTX *cc = client_ctx(TLS1_2_VERSION, version);
	struct pair ctl, d;
	open_data(&ctl, t, cc, NULL);
	SSL_SESSION *s1 = client_session(&ctl);
	assert_true(SSL_SESSION_has_ticket(s1)); /* control connections do issue them */

	open_data_conn(&d, t, cc, NULL);
	assert_false(SSL_session_reused(d.cli));
	assert_false(SSL_SESSION_has_ticket(SSL_get_session(d.cli)));
	pair_close(&d);

	open_data_conn(&d, t, cc, s1);
	assert_true(SSL_session_reused(d.cli));
	assert_true(tls_resumed_from(d.srv, ctl.srv));
	assert_ptr_equal(SSL_get_session(d.cli), s1); /* no new or renewed ticket */
	pair_close(&d);

	SSL_SESSION_free(s1);
	pair_close(&ctl);
	SSL_CTX_free(cc);
	tls_ctx_unref(t);
}

static void test_data_tickets_tls12(void **state)
{
	check_data_tickets(TLS1_2_VERSION);
}

static void test_data_tickets_tls13(void **state)
{
	check_data_tickets(TLS1_3_VERSION);
}

/* TLS 1.2 clients: one that resumes by session id only (SSL_OP_NO_TICKET)
 * and one that offers tickets; ctl is a control connection of the first,
 * whose session (an id in the server's cache, no ticket) is returned. */
struct tls12_clients {
	SSL_CTX *by_id, *cc;
};

static SSL_SESSION *tls12_id_session(struct tls12_clients *k, struct tls_ctx *t, struct pair *ctl)
{
	k->by_id = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
	k->cc = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
	(void)SSL_CTX_set_options(k->by_id, SSL_OP_NO_TICKET);
	open_data(ctl, t, k->by_id, NULL);
	SSL_SESSION *s = client_session(ctl);
	assert_false(SSL_SESSION_has_ticket(s));
	return s;
}

/* SECURITY: with a TLS 1.2 ticket the session id is the client's choice.
 * A session id of ours (sent in clear in the ServerHello) starts with its
 * control connection's lineage; an attacker's own ticket sent under the
 * victim's session id must still count as the attacker's. */
static void test_ticket_under_foreign_session_id(void **state)
{
	struct tls_ctx *t = default_ctx();
	struct tls12_clients k;
	struct pair victim, attacker, d;
	SSL_SESSION *sv = tls12_id_session(&k, t, &victim);
	SSL_CTX *by_id = k.by_id, *cc = k.cc;
	unsigned int idlen = 0;
	const unsigned char *id = SSL_SESSION_get_id(sv, &idlen);
	assert_int_equal(idlen, 32);
	open_data(&attacker, t, cc, NULL);
	SSL_SESSION *sa = client_session(&attacker);
	assert_true(SSL_SESSION_has_ticket(sa));
	SSL_SESSION *forged = SSL_SESSION_dup(sa);
	assert_non_null(forged);
	assert_int_equal(SSL_SESSION_set1_id(forged, id, idlen), 1);

	open_data_conn(&d, t, cc, forged);
	assert_true(SSL_session_reused(d.cli)); /* the ticket resumed TLS */
	assert_false(tls_resumed_from(d.srv, victim.srv));
	assert_true(tls_resumed_from(d.srv, attacker.srv));
	pair_close(&d);
	open_data_conn(&d, t, by_id, sv); /* the victim's own data connection */
	assert_true(SSL_session_reused(d.cli));
	assert_true(tls_resumed_from(d.srv, victim.srv));
	pair_close(&d);

	SSL_SESSION_free(forged);
	SSL_SESSION_free(sa);
	SSL_SESSION_free(sv);
	pair_close(&attacker);
	pair_close(&victim);
	SSL_CTX_free(cc);
	SSL_CTX_free(by_id);
	tls_ctx_unref(t);
}

/* A TLS 1.2 session resumed from the server's cache (by id) while the
 * client also offers tickets: no ticket is issued, since making one would
 * write into the cached session that other threads share. */
static void test_cached_session_gets_no_ticket(void **state)
{
	struct tls_ctx *t = default_ctx();
	struct tls12_clients k;
	struct pair ctl, again, d;
	SSL_SESSION *s = tls12_id_session(&k, t, &ctl);
	SSL_CTX *by_id = k.by_id, *cc = k.cc;
	open_data(&again, t, cc, s); /* a control connection, tickets offered */
	assert_true(SSL_session_reused(again.cli));
	SSL_SESSION *got = client_session(&again);
	assert_false(SSL_SESSION_has_ticket(got));
	open_data_conn(&d, t, cc, s);
	assert_true(SSL_session_reused(d.cli));
	assert_true(tls_resumed_from(d.srv, ctl.srv));
	assert_true(tls_resumed_from(d.srv, again.srv));
	pair_close(&d);
	SSL_SESSION_free(got);
	SSL_SESSION_free(s);
	pair_close(&again);
	pair_close(&ctl);
	SSL_CTX_free(cc);
	SSL_CTX_free(by_id);
	tls_ctx_unref(t);
}

/* A client resuming under another SNI name still resumes the session; the
 * lineage, not the certificate, decides. */
static void test_resumption_with_sni(void **state)
{
	char certs[2 * PATH_MAX + 2], keys[2 * PATH_MAX + 2];
	(void)snprintf(certs, sizeof(certs), "%s,%s", fx.a_crt, fx.b_crt);
	(void)snprintf(keys, sizeof(keys), "%s,%s", fx.a_key, fx.b_key);
	struct tls_ctx *t = ctx_ok(certs, keys, 0);
	for (int v = 0; v < 2; v++) {
		SSL_CTX *cc = client_ctx(TLS1_2_VERSION, v ? TLS1_3_VERSION : TLS1_2_VERSION);
		struct pair ctl, d;
		pair_open(&ctl, t, cc, "other.test", NULL);
		handshake_ok(&ctl);
		SSL_SESSION *s = client_session(&ctl);
		pair_open(&d, t, cc, "other.test", s);
		handshake_ok(&d);
		assert_true(SSL_session_reused(d.cli));
		assert_true(tls_resumed_from(d.srv, ctl.srv));
		assert_string_equal(tls_sni(d.srv), "other.test");
		pair_close(&d);
		SSL_SESSION_free(s);
		pair_close(&ctl);
		SSL_CTX_free(cc);
	}
	tls_ctx_unref(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctx_off),
		cmocka_unit_test(test_ctx_ok_and_refs),
		cmocka_unit_test(test_ctx_errors),
		cmocka_unit_test(test_handshake_tls13),
		cmocka_unit_test(test_handshake_tls12),
		cmocka_unit_test(test_min_version_13),
		cmocka_unit_test(test_old_versions_refused),
		cmocka_unit_test(test_sni),
		cmocka_unit_test(test_read_write_pending),
		cmocka_unit_test(test_clean_close),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_garbage_client_hello),
		cmocka_unit_test(test_shutdown_to_plaintext),
		cmocka_unit_test(test_close_notify),
		cmocka_unit_test(test_resumption_tls12),
		cmocka_unit_test(test_resumption_tls12_session_ids),
		cmocka_unit_test(test_resumption_tls13),
		cmocka_unit_test(test_data_tickets_tls12),
		cmocka_unit_test(test_data_tickets_tls13),
		cmocka_unit_test(test_ticket_under_foreign_session_id),
		cmocka_unit_test(test_cached_session_gets_no_ticket),
		cmocka_unit_test(test_resumption_with_sni),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
