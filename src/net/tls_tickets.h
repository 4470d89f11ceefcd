/* tls_tickets: [tls] ticket_keys, session ticket keys shared by several
 * nodes so a TLS session made with one resumes on another. Private to
 * net/tls.c (the OpenSSL user), which owns the SSL_CTX and calls in here. */
#ifndef FERRY_TLS_TICKETS_H
#define FERRY_TLS_TICKETS_H

#include <stddef.h>

#include <openssl/evp.h>

struct tls_tickets;

/* Reads list, config's normalised "a,b,c" of files each holding exactly
 * 80 bytes in nginx's ssl_session_ticket_key layout (16 bytes key name,
 * 32 bytes HMAC-SHA256 secret, 32 bytes AES-256 key). A file that is not a
 * regular file, has another size, or is readable by group or others is
 * refused with a message naming it in err. Returns ownership in *out. */
int tls_tickets_load(const char *list, struct tls_tickets **out, char *err, size_t errsz);
/* Wipes the keys and frees k (NULL is fine). */
void tls_tickets_free(struct tls_tickets *k);

/* The body of OpenSSL's ticket key callback
 * (SSL_CTX_set_tlsext_ticket_key_evp_cb): enc = 1 encrypts a new ticket
 * with the first key (AES-256-CBC, random IV, HMAC-SHA256); enc = 0 finds
 * the key named name and sets the contexts up for decryption: 1, or 2 when
 * the key is not the first (the client gets a ticket under the current
 * key); 0 for an unknown name (a full handshake); -1 on an error. */
int tls_tickets_cb(const struct tls_tickets *k, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *c,
		   EVP_MAC_CTX *h, int enc);

#endif
