/* tls_tickets: shared session ticket keys ([tls] ticket_keys). The file
 * format and the cipher choice are nginx's for 80-byte keys (its
 * ssl_session_ticket_key), so the same `openssl rand 80` files can serve
 * both; the callback follows OpenSSL 3's SSL_CTX_set_tlsext_ticket_key_evp_cb
 * contract. */
#include "tls_tickets.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "str.h"

#define TICKET_FILE_SIZE 80
#define TICKET_MAX_KEYS 8 /* CONFIG_MAX_TICKET_KEYS (config_row.h) */

struct tls_ticket_key {
	unsigned char name[16];
	unsigned char hmac[32];
	unsigned char aes[32];
};

struct tls_tickets {
	size_t n;
	struct tls_ticket_key key[TICKET_MAX_KEYS]; /* [0] encrypts */
};

/* One file into k. SECURITY: whoever reads a ticket key can decrypt every
 * session ticket made with it, and so the traffic of those sessions; a
 * key others may read is refused rather than used. */
static int load_one(const char *file, struct tls_ticket_key *k, char *err, size_t errsz)
{
	unsigned char buf[TICKET_FILE_SIZE + 1];
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		/* Not -ENOENT: to tls_ctx_new's callers that means "TLS off". */
		(void)snprintf(err, errsz, "[tls] ticket_keys %s: %s", file, strerror(errno));
		return -EINVAL;
	}
	struct stat st;
	int r = 0;
	if (fstat(fd, &st) != 0) {
		r = -errno;
		(void)snprintf(err, errsz, "[tls] ticket_keys %s: %s", file, strerror(-r));
	} else if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		(void)snprintf(err, errsz, "[tls] ticket_keys %s: not a regular file", file);
	} else if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		r = -EPERM;
		(void)snprintf(err, errsz,
			       "[tls] ticket_keys %s: readable or writable by group or others (mode %04o); "
			       "a ticket key must be private: chmod 600 %s",
			       file, (unsigned)(st.st_mode & 07777), file);
	} else {
		ssize_t got = 0, n;
		/* One byte more than a key, to tell a longer file apart. */
		while ((size_t)got < sizeof(buf) &&
		       ((n = read(fd, buf + got, sizeof(buf) - (size_t)got)) > 0 || (n < 0 && errno == EINTR)))
			got += n > 0 ? n : 0;
		if (got != TICKET_FILE_SIZE) {
			r = -EINVAL;
			char size[32];
			if (got > TICKET_FILE_SIZE)
				(void)snprintf(size, sizeof(size), "more than %d bytes", TICKET_FILE_SIZE);
			else
				(void)snprintf(size, sizeof(size), "%zd bytes", got);
			(void)snprintf(
			    err, errsz,
			    "[tls] ticket_keys %s: %s, expected exactly %d (make one with: openssl rand %d > %s)", file,
			    size, TICKET_FILE_SIZE, TICKET_FILE_SIZE, file);
		} else {
			/* nginx's order for an 80-byte key: name, HMAC secret, AES key. */
			memcpy(k->name, buf, 16);
			memcpy(k->hmac, buf + 16, 32);
			memcpy(k->aes, buf + 48, 32);
		}
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	(void)close(fd);
	return r;
}

int tls_tickets_load(const char *list, struct tls_tickets **out, char *err, size_t errsz)
{
	*out = NULL;
	struct tls_tickets *k = calloc(1, sizeof(*k));
	if (!k) {
		(void)snprintf(err, errsz, "[tls] ticket_keys: out of memory");
		return -ENOMEM;
	}
	struct slice rest = slice_from_cstr(list), item;
	bool more = list[0] != '\0';
	while (more) {
		char file[4096];
		more = slice_split(rest, ',', &item, &rest);
		item = slice_trim_spaces(item);
		if (item.n == 0 || item.n >= sizeof(file) || k->n == TICKET_MAX_KEYS) {
			(void)snprintf(err, errsz, "[tls] ticket_keys: expected 1 to %d file names", TICKET_MAX_KEYS);
			tls_tickets_free(k);
			return -EINVAL;
		}
		memcpy(file, item.p, item.n);
		file[item.n] = '\0';
		int r = load_one(file, &k->key[k->n], err, errsz);
		if (r) {
			tls_tickets_free(k);
			return r;
		}
		for (size_t i = 0; i < k->n; i++) {
			if (memcmp(k->key[i].name, k->key[k->n].name, 16) == 0) {
				(void)snprintf(
				    err, errsz,
				    "[tls] ticket_keys %s: same key name (first 16 bytes) as an earlier file", file);
				tls_tickets_free(k);
				return -EINVAL;
			}
		}
		k->n++;
	}
	if (k->n == 0) {
		tls_tickets_free(k);
		(void)snprintf(err, errsz, "[tls] ticket_keys: no file given");
		return -EINVAL;
	}
	*out = k;
	return 0;
}

void tls_tickets_free(struct tls_tickets *k)
{
	if (!k)
		return;
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
}

/* HMAC-SHA256 with the key's secret (RFC 5077 §4's recommended MAC). */
static bool set_hmac(EVP_MAC_CTX *h, const struct tls_ticket_key *key)
{
	OSSL_PARAM params[3];
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)key->hmac, sizeof(key->hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	return EVP_MAC_CTX_set_params(h, params) == 1;
}

int tls_tickets_cb(const struct tls_tickets *k, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *c,
		   EVP_MAC_CTX *h, int enc)
{
	const EVP_CIPHER *aes = EVP_aes_256_cbc();
	if (enc) {
		const struct tls_ticket_key *key = &k->key[0];
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(aes)) != 1 ||
		    EVP_EncryptInit_ex(c, aes, NULL, key->aes, iv) != 1 || !set_hmac(h, key))
			return -1;
		memcpy(name, key->name, 16);
		return 1;
	}
	for (size_t i = 0; i < k->n; i++) {
		const struct tls_ticket_key *key = &k->key[i];
		if (memcmp(name, key->name, 16) != 0)
			continue;
		if (!set_hmac(h, key) || EVP_DecryptInit_ex(c, aes, NULL, key->aes, iv) != 1)
			return -1;
		return i == 0 ? 1 : 2;
	}
	return 0;
}
