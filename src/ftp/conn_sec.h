/* conn_sec: RFC 2228 §6 protected data connections (PROT S/P under AUTH
 * GSSAPI) as a conn transport stacked on another conn (plain or TLS), so
 * the data pump moves plaintext through conn_read/conn_write like any
 * other stream. On the wire, plaintext travels as blocks of a 4-byte
 * big-endian length and a GSSAPI token of at most PBSZ bytes (sec.c frames
 * the header, gss.c wraps and unwraps); an empty block ends the stream in
 * both directions. */
#ifndef FERRY_CONN_SEC_H
#define FERRY_CONN_SEC_H

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"

struct gss_sess;

extern const struct conn_ops conn_sec_ops;

/* Stacks the transport on lower (borrowed; conn_close(c) frees the
 * transport's state only): conf is PROT P (else S), every token at most
 * pbsz bytes. -EPROTO when no block fits PBSZ or there is no security
 * context (the transfer fails with 535); c is then unused. sid: for logs. */
int conn_sec_start(struct conn *c, struct conn *lower, struct gss_sess *g, bool conf, uint32_t pbsz, uint64_t sid);

#endif
