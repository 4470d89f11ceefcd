/* hash_args: the pure parts of FTP's checksum commands (cmd_hash.c):
 * RANG's arguments (draft-bryan-ftp-range §3), the XCRC, XMD5 and XSHA1/256/512
 * arguments as ProFTPD's mod_digest takes them, and the hex case of the
 * replies. No I/O: tested on its own (tests/unit/ftp/test_hash_args.c). */
#ifndef FERRY_HASH_ARGS_H
#define FERRY_HASH_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "str.h"

enum hash_rang { HASH_RANG_SET, HASH_RANG_RESET, HASH_RANG_SYNTAX, HASH_RANG_BACKWARDS };

/* "RANG start end" (decimal numbers, end inclusive): SET with *start and *end;
 * "RANG 1 0" is RESET (the whole file again); anything else not two
 * decimal numbers is SYNTAX; start > end is BACKWARDS (the draft: 501 and
 * reset). */
enum hash_rang hash_args_rang(struct slice arg, uint64_t *start, uint64_t *end);

/* "XCRC path" or "XCRC path start end" (end exclusive, as ProFTPD's
 * mod_digest): the last two space-separated words are taken as the range
 * when both are decimal numbers, otherwise the whole argument is the path.
 * *path is a part of arg. Returns 0, or -EINVAL when only one trailing
 * number could be a range ("path 100": ambiguous, refused as mod_digest
 * does) — unless the whole argument names a file, which the caller checks
 * first. */
int hash_args_x(struct slice arg, struct slice *path, bool *ranged, uint64_t *start, uint64_t *end);

/* Upper-cases a hex digest in place (the X commands' replies, as
 * mod_digest sends them; HASH replies stay lower case, draft §3). */
void hash_args_upper(char *hex);

#endif
