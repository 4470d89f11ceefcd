/* tls: the only OpenSSL user (ARCHITECTURE.md §3). One SSL_CTX per
 * certificate/key pair, all configured alike; the first is the default and
 * owns the server-side session cache, the others are switched to by SNI.
 *
 * Data-connection resumption (RFC 4217 §10.2). A connection's "lineage" is
 * a random 16-byte token of its own, or, when it resumed a session, the
 * lineage of that session. So all sessions that descend from one full
 * handshake share its token, and tls_resumed_from() is "data resumed a
 * session of control's lineage". A session carries its lineage in one of
 * two places, both out of the client's reach:
 *  - in a session ticket (TLS 1.3, and TLS 1.2 clients that offer the
 *    extension), as the ticket's app data, encrypted and authenticated with
 *    the ticket keys, which OpenSSL makes at random per context and keeps
 *    in memory only. Go's crypto/tls resumes TLS 1.2 with tickets only.
 *  - in the session id (TLS 1.2 clients without tickets, through the
 *    server-side cache): every id this server issues is 32 bytes, the
 *    lineage followed by 16 random bytes, fixed before the session enters
 *    the shared cache, so nothing in a cached session is mutated (the cache
 *    is shared by all worker threads).
 * A ticket-resumed TLS 1.2 session has the id the client chose, so the id
 * counts only when no ticket was accepted (tls_note_resumption).
 *
 * Data connections issue no tickets (tls_conn_new_data): a TLS 1.3 ticket
 * comes after the handshake, a client that only writes (an upload) never
 * reads it, and its kernel answers the close of a socket with unread bytes
 * by an RST that destroys the end of the upload on the server side.
 *
 * Keeping the control connection's session in the cache. OpenSSL drops a
 * session from the cache when a connection that used it ends uncleanly: on
 * SSL_free without close_notify sent, and on any fatal alert, including the
 * one it raises itself for a TCP close without close_notify. Every data
 * connection resumes the control connection's session, so one client that
 * drops a data connection (or one ABOR) would make every later transfer of
 * that session fail with 522. TLS >= 1.1 allows resuming after an unclean
 * close (RFC 5246 §7.2.1), so: SSL_OP_IGNORE_UNEXPECTED_EOF keeps an EOF
 * from being fatal, an info callback records whether a real close_notify
 * alert arrived (so a truncated stream is still reported as -ECONNRESET),
 * and tls_conn_free() marks the connection shut down before freeing it. */
#include "tls.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "log.h"
#include "loop.h"
#include "str.h"
#include "tls_tickets.h"
#include "tls_local.h"

#define TLS_SID_LEN 32 /* SSL3_SSL_SESSION_ID_LENGTH: lineage + random */
#define TLS_SESSION_TIMEOUT_S 3600L
#define TLS_SESSION_CACHE_SIZE 8192L
static const unsigned char tls_sid_ctx[] = "ferry";

/* Mozilla "intermediate" (TLS 1.2 part). DHE stays: set_dh_auto supplies
 * RFC 7919 groups sized to the certificate. */
static const char tls_ciphers12[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
				    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
				    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
				    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384";
static const char tls_ciphers13[] = "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384";
static const char tls_groups[] = "X25519:P-256:P-384";

/* ---- context ---------------------------------------------------------- */

struct tls_list {
	size_t n;
	char item[TLS_MAX_PAIRS][PATH_MAX];
};

/* Splits config's normalised "a,b,c" (config.c trims and resolves). */
static int tls_split(const char *s, struct tls_list *out)
{
	struct slice rest = slice_from_cstr(s), item;
	bool more = true;
	out->n = 0;
	while (more) {
		more = slice_split(rest, ',', &item, &rest);
		item = slice_trim_spaces(item);
		if (item.n == 0)
			return -EINVAL;
		if (out->n == TLS_MAX_PAIRS || item.n >= sizeof(out->item[0]))
			return -E2BIG;
		memcpy(out->item[out->n], item.p, item.n);
		out->item[out->n][item.n] = '\0';
		out->n++;
	}
	return 0;
}

/* The earliest error on the thread's queue is the root cause ("No such
 * file or directory", "no start line"); later ones only say where. */
static const char *tls_reason(const char *fallback)
{
	unsigned long e = ERR_peek_error();
	if (e && ERR_SYSTEM_ERROR(e))
		return strerror(ERR_GET_REASON(e));
	if (e && ERR_GET_LIB(e) == ERR_LIB_OSSL_DECODER)
		return "no PEM private key found"; /* the decoder only says "unsupported" */
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	return r ? r : fallback;
}

/* ferryd has no terminal to ask for a passphrase on; OpenSSL's default
 * callback would try to read one from /dev/tty. */
static int tls_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	if (u)
		*(bool *)u = true;
	return -1;
}

static int tls_gen_session_id(SSL *ssl, unsigned char *id, unsigned int *len)
{
	const struct tls_conn *t = SSL_get_app_data(ssl);
	if (!t || *len < TLS_SID_LEN)
		return 0;
	memcpy(id, t->lineage, TLS_TOKEN_LEN);
	if (RAND_bytes(id + TLS_TOKEN_LEN, TLS_SID_LEN - TLS_TOKEN_LEN) != 1)
		return 0;
	*len = TLS_SID_LEN;
	return 1;
}

/* Called while the ClientHello is processed, after OpenSSL decided whether
 * the session is resumed (both TLS 1.2 session ids and TLS 1.3 PSKs) and
 * before any new session id or ticket is made. */
static void tls_note_resumption(struct tls_conn *t)
{
	if (t->resumed || !SSL_session_reused(t->ssl))
		return;
	SSL_SESSION *s = SSL_get_session(t->ssl);
	const unsigned char *lineage = NULL;
	if (s && t->ticket_used) {
		/* SECURITY: with a ticket the session id is the client's choice;
		 * only the ticket's authenticated app data says whose it is. */
		void *data = NULL;
		size_t n = 0;
		if (SSL_SESSION_get0_ticket_appdata(s, &data, &n) == 1 && n == TLS_TOKEN_LEN)
			lineage = data;
	} else if (s) {
		/* Only ids made by tls_gen_session_id are in our cache. A TLS 1.2
		 * ticket made now would be written into this cached session,
		 * which other threads share: none is made. */
		unsigned int len = 0;
		const unsigned char *id = SSL_SESSION_get_id(s, &len);
		if (id && len == TLS_SID_LEN)
			lineage = id;
		(void)SSL_set_options(t->ssl, SSL_OP_NO_TICKET);
	}
	/* Anything else leaves resumed false: tls_resumed_from() fails closed. */
	if (!lineage)
		return;
	memcpy(t->lineage, lineage, TLS_TOKEN_LEN);
	t->resumed = true;
	/* A resumed connection issues no tickets of its own: clients keep using
	 * the control connection's session, and the shared cache is not churned
	 * by every data connection. */
	(void)SSL_set_num_tickets(t->ssl, 0);
}

/* Every ticket carries the lineage of the connection that issues it.
 * OpenSSL calls this on the session the ticket will hold: a new one, a
 * TLS 1.3 copy of a resumed one, or one decrypted from a ticket, all this
 * connection's own. A session resumed from the shared cache gets no ticket
 * (tls_note_resumption), nor does a data connection: 0 (a failed
 * handshake) if one ever got here. */
static int tls_on_ticket_gen(SSL *ssl, void *arg)
{
	(void)arg;
	const struct tls_conn *t = SSL_get_app_data(ssl);
	SSL_SESSION *s = SSL_get_session(ssl);
	if (!t || t->data || !s || (SSL_session_reused(ssl) && !t->ticket_used))
		return 0;
	return SSL_SESSION_set1_ticket_appdata(s, t->lineage, TLS_TOKEN_LEN) == 1;
}

/* Called for the session ticket extension of a TLS 1.2 ClientHello (also
 * when empty) and for each TLS 1.3 ticket offered. Same decisions as
 * OpenSSL's default, except that a data connection neither renews a ticket
 * nor answers an empty one with a new ticket. */
static SSL_TICKET_RETURN tls_on_ticket_dec(SSL *ssl, SSL_SESSION *ss, const unsigned char *keyname, size_t keyname_len,
					   SSL_TICKET_STATUS status, void *arg)
{
	(void)ss, (void)keyname, (void)keyname_len, (void)arg;
	struct tls_conn *t = SSL_get_app_data(ssl);
	if (!t)
		return SSL_TICKET_RETURN_ABORT;
	switch (status) {
	case SSL_TICKET_SUCCESS:
	case SSL_TICKET_SUCCESS_RENEW:
		t->ticket_used = true;
		return status == SSL_TICKET_SUCCESS_RENEW && !t->data ? SSL_TICKET_RETURN_USE_RENEW
								      : SSL_TICKET_RETURN_USE;
	case SSL_TICKET_EMPTY:
	case SSL_TICKET_NO_DECRYPT:
		return t->data ? SSL_TICKET_RETURN_IGNORE : SSL_TICKET_RETURN_IGNORE_RENEW;
	default:
		return SSL_TICKET_RETURN_ABORT;
	}
}

/* [tls] ticket_keys: tickets are sealed with the shared keys
 * (tls_tickets.c), so another node holding them can resume the session. */
static int tls_on_ticket_key(SSL *ssl, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *c, EVP_MAC_CTX *h,
			     int enc)
{
	const struct tls_conn *t = SSL_get_app_data(ssl);
	if (!t || !t->ctx->tickets)
		return -1;
	return tls_tickets_cb(t->ctx->tickets, name, iv, c, h, enc);
}

/* With SSL_OP_IGNORE_UNEXPECTED_EOF an EOF looks like close_notify to the
 * caller (SSL_ERROR_ZERO_RETURN); only a real alert passes through here. */
static void tls_on_info(const SSL *ssl, int where, int ret)
{
	if (!(where & SSL_CB_READ_ALERT) || (ret & 0xff) != SSL_AD_CLOSE_NOTIFY)
		return;
	struct tls_conn *t = SSL_get_app_data(ssl);
	if (t)
		t->peer_notify = true;
}

/* The [host NAME] whose name or alias is name (case-insensitive), or NULL. */
static const struct tls_vhost *tls_vhost_find(const struct tls_ctx *c, const char *name)
{
	if (!name || !name[0])
		return NULL;
	size_t n = strlen(name);
	for (size_t i = 0; i < c->n_vhosts; i++) {
		struct slice rest = slice_from_cstr(c->vhosts[i].names), item;
		bool more = true;
		while (more) {
			more = slice_split(rest, ',', &item, &rest);
			if (item.n == n && strncasecmp(item.p, name, n) == 0)
				return &c->vhosts[i];
		}
	}
	return NULL;
}

/* OpenSSL calls this for every ClientHello, with or without SNI. */
static int tls_on_servername(SSL *ssl, int *alert, void *arg)
{
	struct tls_ctx *c = arg;
	struct tls_conn *t = SSL_get_app_data(ssl);
	if (!t) {
		*alert = SSL_AD_INTERNAL_ERROR;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	tls_note_resumption(t);
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (name && name[0]) {
		/* SECURITY: the name is client text; it reaches logs escaped. */
		(void)str_escape(slice_from_cstr(name), t->sni, sizeof(t->sni));
		t->has_sni = true;
	}
	/* [host NAME]: a HOST sent before AUTH TLS (RFC 7151 §3.2.2) names the
	 * host, else the SNI does; its own certificate answers. */
	const struct tls_vhost *vh = tls_vhost_find(c, t->host[0] ? t->host : name);
	if (vh) {
		if (!SSL_set_SSL_CTX(ssl, c->ssl[vh->ssl])) {
			*alert = SSL_AD_INTERNAL_ERROR;
			return SSL_TLSEXT_ERR_ALERT_FATAL;
		}
		return name && name[0] ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_NOACK;
	}
	if (!name || !name[0])
		return SSL_TLSEXT_ERR_NOACK;
	for (size_t i = 0; i < c->n_global; i++) {
		X509 *x = SSL_CTX_get0_certificate(c->ssl[i]);
		/* DNS SANs, or the CN when there are none; "*." covers one label;
		 * case-insensitive (RFC 6125). */
		if (!x || X509_check_host(x, name, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) != 1)
			continue;
		if (i > 0 && !SSL_set_SSL_CTX(ssl, c->ssl[i])) {
			*alert = SSL_AD_INTERNAL_ERROR;
			return SSL_TLSEXT_ERR_ALERT_FATAL;
		}
		return SSL_TLSEXT_ERR_OK;
	}
	ERR_clear_error();
	return SSL_TLSEXT_ERR_NOACK; /* the default certificate answers */
}

static int tls_ssl_ctx_new(const struct config *cfg, SSL_CTX **out, char *err, size_t errsz)
{
	int minv = cfg->tls_min_version == 1 ? TLS1_3_VERSION : TLS1_2_VERSION;
	SSL_CTX *s = SSL_CTX_new(TLS_server_method());
	if (!s) {
		(void)snprintf(err, errsz, "[tls] cannot create a TLS context: %s", tls_reason("out of memory"));
		return -ENOMEM;
	}
	/* SSL_OP_IGNORE_UNEXPECTED_EOF only keeps the session cached (see the
	 * top of the file); truncation is still detected, by tls_on_info. */
	(void)SSL_CTX_set_options(s, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA |
					 SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
					 SSL_OP_IGNORE_UNEXPECTED_EOF);
	(void)SSL_CTX_set_mode(s, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_default_passwd_cb(s, tls_no_passphrase);
	/* Stateless tickets (TLS 1.3, and TLS 1.2 when offered) carry the
	 * session, encrypted with keys OpenSSL keeps in this context; TLS 1.2
	 * clients without tickets resume by session id through this server-side
	 * cache (see tls_gen_session_id). One ticket per full handshake. */
	(void)SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_SERVER);
	(void)SSL_CTX_sess_set_cache_size(s, TLS_SESSION_CACHE_SIZE);
	(void)SSL_CTX_set_timeout(s, TLS_SESSION_TIMEOUT_S);
	if (SSL_CTX_set_min_proto_version(s, minv) != 1 || SSL_CTX_set_max_proto_version(s, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(s, tls_ciphers12) != 1 || SSL_CTX_set_ciphersuites(s, tls_ciphers13) != 1 ||
	    SSL_CTX_set1_groups_list(s, tls_groups) != 1 || SSL_CTX_set_dh_auto(s, 1) != 1 ||
	    SSL_CTX_set_num_tickets(s, 1) != 1 ||
	    SSL_CTX_set_session_ticket_cb(s, tls_on_ticket_gen, tls_on_ticket_dec, NULL) != 1 ||
	    SSL_CTX_set_session_id_context(s, tls_sid_ctx, sizeof(tls_sid_ctx) - 1) != 1 ||
	    SSL_CTX_set_generate_session_id(s, tls_gen_session_id) != 1) {
		(void)snprintf(err, errsz, "[tls] cannot configure the TLS context: %s",
			       tls_reason("unknown OpenSSL error"));
		SSL_CTX_free(s);
		return -EINVAL;
	}
	*out = s;
	return 0;
}

static EVP_PKEY *tls_read_key(const char *file, char *err, size_t errsz)
{
	bool asked = false;
	EVP_PKEY *k = NULL;
	BIO *b = BIO_new_file(file, "r");
	if (b) {
		k = PEM_read_bio_PrivateKey(b, NULL, tls_no_passphrase, &asked);
		(void)BIO_free(b);
	}
	if (!k && asked)
		(void)snprintf(err, errsz,
			       "[tls] key %s: is encrypted; ferryd cannot ask for a passphrase "
			       "(store it unencrypted, readable by root only)",
			       file);
	else if (!k)
		(void)snprintf(err, errsz, "[tls] key %s: %s", file, tls_reason("no private key found"));
	return k;
}

/* Loads one pair into s. The key is read and checked here rather than by
 * SSL_CTX_use_PrivateKey_file so that "wrong key" gets its own message. */
static int tls_load_pair(SSL_CTX *s, const char *cert, const char *key, char *err, size_t errsz)
{
	ERR_clear_error();
	if (SSL_CTX_use_certificate_chain_file(s, cert) != 1) {
		(void)snprintf(err, errsz, "[tls] cert %s: %s", cert, tls_reason("no certificate found"));
		return -EINVAL;
	}
	X509 *x = SSL_CTX_get0_certificate(s);
	EVP_PKEY *k = tls_read_key(key, err, errsz);
	if (!k)
		return -EINVAL;
	int r = 0;
	if (!x || X509_check_private_key(x, k) != 1) {
		(void)snprintf(err, errsz, "[tls] key %s: does not match the certificate", key);
		r = -EINVAL;
	} else if (SSL_CTX_use_PrivateKey(s, k) != 1 || SSL_CTX_check_private_key(s) != 1) {
		(void)snprintf(err, errsz, "[tls] key %s: %s", key, tls_reason("does not match the certificate"));
		r = -EINVAL;
	}
	EVP_PKEY_free(k); /* s holds its own reference */
	return r;
}

/* One context per [host NAME] with a certificate, after the [tls] ones. */
static int tls_load_vhosts(const struct config *cfg, struct tls_ctx *c, char *err, size_t errsz)
{
	for (size_t i = 0; i < cfg->n_vhosts; i++) {
		const struct config_vhost *h = &cfg->vhosts[i];
		if (!h->tls_cert[0])
			continue;
		if (c->n >= TLS_MAX_PAIRS) {
			(void)snprintf(err, errsz, "[host %s] cert: more than %d certificates in all", h->name,
				       TLS_MAX_PAIRS);
			return -EINVAL;
		}
		int r = tls_ssl_ctx_new(cfg, &c->ssl[c->n], err, errsz);
		if (r)
			return r;
		c->n++;
		char why[512];
		r = tls_load_pair(c->ssl[c->n - 1], h->tls_cert, h->tls_key, why, sizeof(why));
		if (r) {
			(void)snprintf(err, errsz, "[host %s] %s", h->name, why + (strncmp(why, "[tls] ", 6) ? 0 : 6));
			return r;
		}
		struct tls_vhost *v = &c->vhosts[c->n_vhosts++];
		v->ssl = c->n - 1;
		(void)snprintf(v->names, sizeof(v->names), "%s%s%s", h->name, h->aliases[0] ? "," : "", h->aliases);
	}
	return 0;
}

int tls_ctx_new(const struct config *cfg, struct tls_ctx **out, char *err, size_t errsz)
{
	char dummy[1];
	struct tls_list *certs = NULL, *keys = NULL;
	struct tls_ctx *c = NULL;
	int r;

	*out = NULL;
	if (!err || errsz == 0) {
		err = dummy;
		errsz = sizeof(dummy);
	}
	err[0] = '\0';
	if (slice_trim_spaces(slice_from_cstr(cfg->tls_cert)).n == 0)
		return -ENOENT; /* TLS off: not an error */
	certs = calloc(1, sizeof(*certs));
	keys = calloc(1, sizeof(*keys));
	c = calloc(1, sizeof(*c));
	if (!certs || !keys || !c) {
		(void)snprintf(err, errsz, "[tls] out of memory");
		r = -ENOMEM;
		goto fail;
	}
	atomic_init(&c->refs, 1u);
	if (tls_split(cfg->tls_cert, certs) != 0) {
		(void)snprintf(err, errsz, "[tls] cert: expected 1 to %d file names", TLS_MAX_PAIRS);
		r = -EINVAL;
		goto fail;
	}
	/* config_load() checks this too; a struct config built elsewhere may not. */
	if ((cfg->tls_key[0] ? tls_split(cfg->tls_key, keys) : 0) != 0 || keys->n != certs->n) {
		(void)snprintf(err, errsz, "[tls] key: %zu certificate%s but %zu key%s", certs->n,
			       certs->n == 1 ? "" : "s", keys->n, keys->n == 1 ? "" : "s");
		r = -EINVAL;
		goto fail;
	}
	for (size_t i = 0; i < certs->n; i++) {
		r = tls_ssl_ctx_new(cfg, &c->ssl[i], err, errsz);
		if (r)
			goto fail;
		c->n = i + 1;
		r = tls_load_pair(c->ssl[i], certs->item[i], keys->item[i], err, errsz);
		if (r)
			goto fail;
	}
	c->n_global = c->n;
	r = tls_load_vhosts(cfg, c, err, errsz);
	if (r)
		goto fail;
	if (cfg->tls_ticket_keys[0]) {
		r = tls_tickets_load(cfg->tls_ticket_keys, &c->tickets, err, errsz);
		if (r)
			goto fail;
		for (size_t i = 0; i < c->n; i++)
			(void)SSL_CTX_set_tlsext_ticket_key_evp_cb(c->ssl[i], tls_on_ticket_key);
	}
	/* Once per context (start, and each reload): a reload may find a
	 * module loaded since. */
	char why[200];
	c->ktls = tls_ktls_probe(cfg->tls_ktls == 0, why, sizeof(why));
	log_info(0, "tls: kernel TLS offload %s: %s", c->ktls ? "available" : "unavailable", why);
	/* Only the context SSL_new() uses: OpenSSL calls the initial one. */
	(void)SSL_CTX_set_tlsext_servername_callback(c->ssl[0], tls_on_servername);
	(void)SSL_CTX_set_tlsext_servername_arg(c->ssl[0], c);
	*out = c;
	c = NULL;
	r = 0;
fail:
	ERR_clear_error();
	tls_ctx_unref(c);
	free(certs);
	free(keys);
	return r;
}

struct tls_ctx *tls_ctx_ref(struct tls_ctx *c)
{
	if (c)
		(void)atomic_fetch_add_explicit(&c->refs, 1u, memory_order_relaxed);
	return c;
}

void tls_ctx_unref(struct tls_ctx *c)
{
	if (!c || atomic_fetch_sub_explicit(&c->refs, 1u, memory_order_acq_rel) != 1u)
		return;
	for (size_t i = 0; i < c->n; i++)
		SSL_CTX_free(c->ssl[i]);
	tls_tickets_free(c->tickets);
	free(c);
}

/* ---- connections ------------------------------------------------------ */

static int tls_conn_make(struct tls_ctx *ctx, int fd, bool data, struct tls_conn **out)
{
	struct tls_conn *t;
	int r;

	*out = NULL;
	if (!ctx || fd < 0)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	ERR_clear_error();
	/* The lineage token only has to be unique: resuming a session needs
	 * its secret, which the id does not carry. */
	if (RAND_bytes(t->lineage, sizeof(t->lineage)) != 1) {
		r = -EIO;
		goto fail;
	}
	t->ssl = SSL_new(ctx->ssl[0]);
	if (!t->ssl) {
		r = -ENOMEM;
		goto fail;
	}
	if (SSL_set_app_data(t->ssl, t) != 1 || SSL_set_fd(t->ssl, fd) != 1) {
		r = -ENOMEM;
		goto fail;
	}
	/* TLS 1.3 tickets; TLS 1.2 ones are refused by tls_on_ticket_dec. */
	if (data && SSL_set_num_tickets(t->ssl, 0) != 1) {
		r = -EINVAL;
		goto fail;
	}
	t->data = data;
	if (data) {
		/* A data connection lives for one transfer and is never idle:
		 * OpenSSL keeps its record buffers rather than freeing and
		 * allocating them again for every record. */
		(void)SSL_clear_mode(t->ssl, SSL_MODE_RELEASE_BUFFERS);
		/* Kernel TLS where the kernel has it (tls_ktls_probe): OpenSSL
		 * hands the keys to the socket after the handshake when it can,
		 * and silently stays in user space when it cannot. Never on a
		 * control connection: CCC and REIN go back to plaintext. */
		if (ctx->ktls) {
			(void)SSL_set_options(t->ssl, SSL_OP_ENABLE_KTLS);
			t->ktls = true;
		}
	}
	SSL_set_accept_state(t->ssl);
	SSL_set_info_callback(t->ssl, tls_on_info); /* per SSL: survives SSL_set_SSL_CTX */
	t->ctx = tls_ctx_ref(ctx);
	*out = t;
	return 0;
fail:
	ERR_clear_error();
	SSL_free(t->ssl);
	free(t);
	return r;
}

int tls_conn_new(struct tls_ctx *ctx, int fd, struct tls_conn **out)
{
	return tls_conn_make(ctx, fd, false, out);
}

int tls_conn_new_data(struct tls_ctx *ctx, int fd, struct tls_conn **out)
{
	return tls_conn_make(ctx, fd, true, out);
}

void tls_conn_free(struct tls_conn *t)
{
	if (!t)
		return;
	/* Keeps the session resumable after an unclean end (see the top of the
	 * file); sends nothing. The fd is borrowed: the BIO does not close it. */
	SSL_set_shutdown(t->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(t->ssl);
	tls_data_free(t);
	tls_ctx_unref(t->ctx);
	free(t);
}

void tls_conn_set_host(struct tls_conn *t, const char *host)
{
	(void)str_copy(t->host, sizeof(t->host), host ? host : "");
}

int tls_handshake(struct tls_conn *t)
{
	if (t->fatal)
		return t->fatal;
	ERR_clear_error();
	errno = 0;
	int ret = SSL_do_handshake(t->ssl);
	int se = errno;
	if (ret == 1) {
		t->want = 0;
		t->established = true;
		/* Normally done in tls_on_servername already; a no-op then. In
		 * TLS 1.2 the resumed id is still current here; in TLS 1.3 a late
		 * call could only see our own lineage, which fails closed. */
		tls_note_resumption(t);
		return 0;
	}
	return tls_fail(t, ret, se, "the handshake");
}

int tls_shutdown(struct tls_conn *t)
{
	if (t->fatal)
		return t->fatal;
	for (int i = 0; i < 2; i++) {
		ERR_clear_error();
		errno = 0;
		int ret = SSL_shutdown(t->ssl);
		int se = errno;
		if (ret == 1 && !t->peer_notify) {
			/* "received" only because the peer closed the TCP stream */
			(void)snprintf(t->err, sizeof(t->err),
				       "connection closed by peer without close_notify during the shutdown");
			ERR_clear_error();
			t->want = 0;
			t->fatal = -ECONNRESET;
			return t->fatal;
		}
		if (ret == 1) {
			t->want = 0;
			t->notify_sent = true;
			return 0;
		}
		if (ret < 0)
			return tls_fail(t, ret, se, "the shutdown");
		/* 0: our close_notify is out; the next call waits for the peer's.
		 * OpenSSL reads only whole records, so plaintext that follows the
		 * peer's close_notify stays in the socket for the caller. */
		t->notify_sent = true;
	}
	t->want = LOOP_IN;
	return -EAGAIN;
}

bool tls_resumed_from(const struct tls_conn *data, const struct tls_conn *control)
{
	if (!data || !control || data == control || !data->established || !control->established)
		return false;
	if (!data->resumed || !SSL_session_reused(data->ssl))
		return false;
	return CRYPTO_memcmp(data->lineage, control->lineage, TLS_TOKEN_LEN) == 0;
}

const char *tls_version(const struct tls_conn *t)
{
	return SSL_get_version(t->ssl);
}

const char *tls_cipher(const struct tls_conn *t)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(t->ssl);
	return c ? SSL_CIPHER_get_name(c) : "(none)";
}

const char *tls_sni(const struct tls_conn *t)
{
	return t->has_sni ? t->sni : NULL;
}

const char *tls_error(const struct tls_conn *t)
{
	return t->err[0] ? t->err : "no error";
}
