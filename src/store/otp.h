/* otp: RFC 2289 one-time passwords as pure functions: key generation and
 * folding (MD5, SHA1), the six-word and hex encodings, parsing of client
 * answers, seeds and challenges. No I/O and no state; the store keeps the
 * user's sequence and last OTP, auth verifies answers against them.
 * An OTP value is the 64-bit folded hash read big-endian, so its hex form
 * is the RFC's ("9E87 6134 D904 99DD" is 0x9E876134D90499DD). */
#ifndef FERRY_OTP_H
#define FERRY_OTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "str.h"

/* MD4 (RFC 2289 "MAY") is left out: OpenSSL 3 keeps it in the legacy
 * provider, which is not loaded. */
enum otp_alg { OTP_MD5, OTP_SHA1 };

#define OTP_SEED_MAX 16 /* RFC 2289 §6: 1-16 alphanumeric characters */
#define OTP_SEED_DEFAULT_LEN 10
#define OTP_PASSPHRASE_MIN 10 /* RFC 2289 §6: generators accept 10-63 */
#define OTP_PASSPHRASE_MAX 63
#define OTP_WORDS 2048
#define OTP_WORDS_TEXT_MAX 32 /* six words of up to 4 letters, 5 spaces, NUL */
#define OTP_HEX_TEXT_MAX 20   /* "9E87 6134 D904 99DD" and NUL */
/* Sequence numbers the CLI accepts; a challenge needs one left (≥ 1). */
#define OTP_COUNT_MAX 9999
/* A login that leaves fewer than this many warns in its 230 text. */
#define OTP_LOW_WARN 10

/* RFC 2289 Appendix D, index = 11-bit value (otp_words.c). */
extern const char otp_words[OTP_WORDS][5];

/* "md5" / "sha1" (as in "otp-md5"). */
const char *otp_alg_name(enum otp_alg alg);
/* Case-insensitive "md5" or "sha1"; -EINVAL otherwise. */
int otp_alg_parse(struct slice s, enum otp_alg *out);

/* True if seed is 1-16 ASCII letters or digits (RFC 2289 §6). */
bool otp_seed_valid(struct slice seed);

/* OTP(count) for pass phrase and seed: the seed is lower-cased, prefixed to
 * the pass phrase, hashed and folded, then hashed and folded count more
 * times (RFC 2289 §6, Appendix A). 0 or -EINVAL (bad seed) / -EIO (the
 * hash failed). Borrows everything. */
int otp_generate(enum otp_alg alg, struct slice seed, struct slice passphrase, unsigned count, uint64_t *out);
/* One more hash-and-fold: what a server applies to an answer for sequence
 * n-1 to compare it with the stored OTP(n). */
int otp_step(enum otp_alg alg, uint64_t in, uint64_t *out);

/* The six upper-case words with the 2-bit checksum (out ≥ OTP_WORDS_TEXT_MAX). */
void otp_format_words(uint64_t v, char *out, size_t outsz);
/* "9E87 6134 D904 99DD" (out ≥ OTP_HEX_TEXT_MAX). */
void otp_format_hex(uint64_t v, char *out, size_t outsz);

/* Decodes a client's answer: six dictionary words in any case with any
 * whitespace between them (checksum verified), else 16 hex digits in any
 * case with any whitespace; an RFC 2243 "word:" or "hex:" prefix selects
 * the form. 0, -EBADMSG (six words whose checksum is wrong) or -EINVAL. */
int otp_parse_answer(struct slice s, uint64_t *out);

/* A seed of OTP_SEED_DEFAULT_LEN lower-case letters and digits made from
 * the caller's random bytes (rnd_len ≥ OTP_SEED_DEFAULT_LEN; out ≥ 17). */
void otp_seed_from_bytes(const uint8_t *rnd, size_t rnd_len, char *out, size_t outsz);

/* A plausible challenge for a name that has no OTP key: the same name and
 * secret always give the same sequence (OTP_FAKE_SEQ_MIN..MAX) and seed, so
 * asking twice does not tell a made-up challenge from a real one. -EIO if
 * the hash failed. Borrows everything. */
#define OTP_FAKE_SEQ_MIN 20
#define OTP_FAKE_SEQ_MAX 499
int otp_fake_challenge(const uint8_t *secret, size_t secret_len, const char *name, unsigned *seq, char *seed,
		       size_t seedsz);

#endif
