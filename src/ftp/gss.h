/* gss: the only GSSAPI (MIT Kerberos) user. The RFC 2228 GSSAPI mechanism
 * (App. I): acceptor credentials from a keytab, security-context steps for
 * ADAT, wrap/unwrap for MIC/ENC and for PROT S/P data blocks. */
#ifndef FERRY_GSS_H
#define FERRY_GSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "str.h"

/* The server's credentials: the keytab's keys for the configured service,
 * copied into memory. Shared by all sessions and threads; immutable. */
struct gss_acceptor;

/* Reads keytab (while still root: the file may be readable by root only)
 * and keeps the keys of principals "service/HOST@REALM", any HOST. Also
 * reads the default realm for the default authorization rule. Writes one
 * clear message to err on failure. *out is owned by the caller. */
int gss_acceptor_new(const char *keytab, const char *service, struct gss_acceptor **out, char *err, size_t errsz);
void gss_acceptor_free(struct gss_acceptor *a);
/* Number of keys loaded (for the start-up log). */
size_t gss_acceptor_keys(const struct gss_acceptor *a);

/* One control connection's security context. Not thread-safe: one step at
 * a time, on the job pool; wrap/unwrap on the session's loop. */
struct gss_sess;

/* a is borrowed and must outlive the session context. */
struct gss_sess *gss_sess_new(const struct gss_acceptor *a);
void gss_sess_free(struct gss_sess *g);
/* Deletes the security context (AUTH again, REIN: RFC 2228 App. I). */
void gss_sess_reset(struct gss_sess *g);

enum gss_step_status { GSS_STEP_FAILED = -1, GSS_STEP_CONTINUE = 0, GSS_STEP_COMPLETE = 1 };

/* One gss_accept_sec_context step with the client's token. The token to
 * send back (if any) is appended to out; on failure err gets the GSSAPI
 * message. No channel bindings (PROTOCOL.md Decision 11). Blocking (keytab,
 * replay cache): job pool only. */
enum gss_step_status gss_sess_step(struct gss_sess *g, struct slice token, struct buf *out, char *err, size_t errsz);
/* After COMPLETE: the client's principal ("bob@REALM"), and the user name
 * the default rule gives it ("bob" for a one-component principal of the
 * default realm, else NULL). Borrowed until the next reset. */
const char *gss_sess_principal(const struct gss_sess *g);
const char *gss_sess_local_name(const struct gss_sess *g);

/* GSS_Wrap with conf (ENC, 632, PROT P) or without (MIC, 631, PROT S);
 * the token is appended to out. 0, -EPROTO, -ENOBUFS. */
int gss_sess_wrap(struct gss_sess *g, bool conf, struct slice plain, struct buf *out);
/* GSS_Unwrap: plaintext appended to out, *conf = it was encrypted.
 * -EBADMSG for a bad token (checksum, sequence, replay). */
int gss_sess_unwrap(struct gss_sess *g, struct slice token, struct buf *out, bool *conf);
/* The largest plaintext whose token fits in max_token bytes (PBSZ);
 * 0 if none fits. */
uint32_t gss_sess_max_plain(struct gss_sess *g, bool conf, uint32_t max_token);

struct config;
/* Config check of this build (buildinfo.c): nonzero, with the key and why,
 * when c asks for GSSAPI and it is not built in (gss_none.c). */
int gss_check_config(const struct config *c, const char **section, const char **key, char *why, size_t whysz);

#endif
