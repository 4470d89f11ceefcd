/* sec: the pure parts of RFC 2228 — base64 as the security commands and
 * replies carry it (§10), protected replies (§5.2) and the framing of
 * protected data blocks (§6). No GSSAPI here: gss.c wraps and unwraps. */
#ifndef FERRY_SEC_H
#define FERRY_SEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "str.h"

/* Largest plaintext put in one protected reply line: its base64 token stays
 * well under REPLY_MAX_LINE, so one 63z line never needs splitting by the
 * client (curl decodes only single-line protected replies). */
#define SEC_REPLY_FRAGMENT 2048u

/* Appends the base64 (RFC 4648 §4, padded) form of n bytes to out.
 * Returns 0 or -ENOBUFS. */
int sec_b64_encode(const void *in, size_t n, struct buf *out);

/* Strict base64 decode (RFC 2228 §10: no line breaks; case matters):
 * the length must be a multiple of 4, padding only at the end, no other
 * bytes, unused bits of the last symbol zero. Appends to out; -EINVAL on any
 * deviation (nothing is appended), -ENOBUFS over out's cap. An empty input
 * is -EINVAL too: no security command carries an empty token. */
int sec_b64_decode(struct slice in, struct buf *out);

/* Appends one line of a protected reply (RFC 2228 §5.2): code (631/632/
 * 633), '-' unless last, the base64 of token, CRLF. A reply whose plaintext
 * was split into fragments is one such line per fragment. */
int sec_reply_line(struct buf *out, int code, bool last, struct slice token);

/* §6 block header: the 4-byte big-endian length of the next token. */
void sec_block_header(uint32_t len, unsigned char hdr[4]);
/* Reads a header from the first 4 bytes of in (in.n >= 4). */
uint32_t sec_block_len(struct slice in);

#endif
