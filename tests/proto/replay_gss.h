/* replay_gss: a stand-in for gss.c in protocol transcripts. A "wrapped"
 * token is one level byte ('S' integrity, 'P' confidentiality) followed by
 * the plaintext, so transcripts stay readable and deterministic; a token
 * starting with anything else fails to unwrap (a bad or replayed token). */
#ifndef FERRY_REPLAY_GSS_H
#define FERRY_REPLAY_GSS_H

#include <stdbool.h>

#include "buf.h"
#include "proto.h"
#include "str.h"

extern const struct proto_gss_ops replay_gss_ops;
/* How often proto deleted the context (AUTH, REIN, a failed ADAT). */
extern unsigned replay_gss_resets;

/* "MIC b64(S line CRLF)" or "ENC b64(P line CRLF)" plus CRLF, for C{S}: / C{P}:. */
int replay_gss_command(char level, struct slice line, struct buf *out);

/* Takes one protected reply (all its 63z lines) from the front of out,
 * checks the code (631 for 'S', 632 for 'P') and each fragment's level, and
 * appends the plaintext to plain. Returns 0, or -EINVAL with why set. */
int replay_gss_reply(char level, struct buf *out, struct buf *plain, const char **why);

#endif
