/* hash: file checksums for every front-end (FTP HASH/XCRC/XMD5/XSHA*,
 * draft-bryan-ftpext-hash; SFTP check-file): the algorithm table, range
 * arithmetic, and the hashing itself (OpenSSL EVP, zlib's crc32) over an
 * already-opened fd. Hashing reads the whole range, so callers run
 * hash_fd_range on the job pool, never on a loop. hash_limit bounds how
 * many hashes one user runs at once, across every session and worker. */
#ifndef FERRY_HASH_H
#define FERRY_HASH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "str.h"

/* In the order FEAT lists them (draft-bryan-ftpext-hash §3.1). */
enum hash_alg { HASH_SHA256, HASH_SHA512, HASH_SHA1, HASH_MD5, HASH_CRC32, HASH_ALG_COUNT };

#define HASH_DEFAULT HASH_SHA256
/* Longest lowercase hex digest (SHA-512) plus its NUL. */
#define HASH_HEX_MAX 129

/* The IANA "Hash Function Textual Names" name ("SHA-256", "CRC32"). */
const char *hash_alg_name(enum hash_alg a);
/* The algorithm named s (case-insensitive), or -EINVAL. */
int hash_alg_parse(struct slice s, enum hash_alg *out);
/* "SHA-256*;SHA-512;SHA-1;MD5;CRC32" with cur starred, into out. */
void hash_alg_list(enum hash_alg cur, char *out, size_t outsz);

/* The bytes to hash of a file of size bytes: [*first, *last] (inclusive).
 * ranged: a RANG start..end was given (end inclusive; an end past the end
 * of the file is clamped to it, as RETR does, draft-bryan-ftp-range §4.3).
 * Returns 0, or -ERANGE: start past the end of the file (or a range of an
 * empty file). Without a range an empty file gives 0-0 with no bytes
 * (*count 0): the draft's grammar has no empty range. */
int hash_range(uint64_t size, bool ranged, uint64_t start, uint64_t end, uint64_t *first, uint64_t *last,
	       uint64_t *count);

/* Hashes count bytes of fd from offset (pread; the fd's position is not
 * used) into hex (lowercase, NUL-terminated). cancel (may be NULL) is
 * polled between reads: -ECANCELED once it is true. Returns 0, -EIO for a
 * file shorter than offset+count, or a negative errno. */
int hash_fd_range(int fd, enum hash_alg a, uint64_t offset, uint64_t count, const atomic_bool *cancel,
		  char hex[HASH_HEX_MAX]);

/* Running hashes per user (thread-safe; shared by all workers). */
struct hash_limit;
struct hash_limit *hash_limit_new(void);
void hash_limit_free(struct hash_limit *l);
/* Takes one of user's max slots (max 0: no limit): false when all are in
 * use. l NULL: always true. */
bool hash_limit_acquire(struct hash_limit *l, const char *user, unsigned max);
/* Gives back a slot acquire gave. */
void hash_limit_release(struct hash_limit *l, const char *user);

#endif
