/* otp: RFC 2289 key generation, folding and the six-word / hex forms. The
 * hashes come from OpenSSL's EVP interface (the default provider has MD5 and
 * SHA1); everything else is plain byte work. */
#include "otp.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* Where the four-letter words start in otp_words (see otp_words.c). */
#define OTP_WORDS_LONG 571
#define OTP_HASH_MAX 20 /* SHA1 */

const char *otp_alg_name(enum otp_alg alg)
{
	return alg == OTP_SHA1 ? "sha1" : "md5";
}

int otp_alg_parse(struct slice s, enum otp_alg *out)
{
	if (slice_eq_ci(s, "md5"))
		*out = OTP_MD5;
	else if (slice_eq_ci(s, "sha1"))
		*out = OTP_SHA1;
	else
		return -EINVAL;
	return 0;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static char to_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static char to_upper(char c)
{
	return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

bool otp_seed_valid(struct slice seed)
{
	if (seed.n < 1 || seed.n > OTP_SEED_MAX)
		return false;
	for (size_t i = 0; i < seed.n; i++)
		if (!is_alnum(seed.p[i]))
			return false;
	return true;
}

/* Hashes the concatenation of a and b (either may be empty) into md. */
static int otp_hash(enum otp_alg alg, const void *a, size_t an, const void *b, size_t bn, uint8_t *md)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = 0;
	int ok = ctx && EVP_DigestInit_ex(ctx, alg == OTP_SHA1 ? EVP_sha1() : EVP_md5(), NULL) == 1 &&
		 EVP_DigestUpdate(ctx, a, an) == 1 && EVP_DigestUpdate(ctx, b, bn) == 1 &&
		 EVP_DigestFinal_ex(ctx, md, &len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -EIO;
}

/* RFC 2289 Appendix A. MD5: XOR the two halves. SHA1: XOR the five 32-bit
 * words down to two (w0^w2^w4, w1^w3); the RFC's reference code does this
 * on words in host order on a little-endian machine and copies them out,
 * so each word's bytes end up reversed relative to the digest — the
 * Appendix C vectors are in that order, so we reverse them too. */
static uint64_t otp_fold(enum otp_alg alg, const uint8_t *md)
{
	uint8_t r[8];

	if (alg == OTP_SHA1) {
		for (int i = 0; i < 4; i++) {
			r[3 - i] = md[i] ^ md[8 + i] ^ md[16 + i];
			r[7 - i] = md[4 + i] ^ md[12 + i];
		}
	} else {
		for (int i = 0; i < 8; i++)
			r[i] = md[i] ^ md[i + 8];
	}
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | r[i];
	return v;
}

int otp_step(enum otp_alg alg, uint64_t in, uint64_t *out)
{
	uint8_t b[8], md[OTP_HASH_MAX];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(in >> (56 - 8 * i));
	int r = otp_hash(alg, b, sizeof(b), NULL, 0, md);
	if (r)
		return r;
	*out = otp_fold(alg, md);
	return 0;
}

int otp_generate(enum otp_alg alg, struct slice seed, struct slice passphrase, unsigned count, uint64_t *out)
{
	char lseed[OTP_SEED_MAX];
	uint8_t md[OTP_HASH_MAX];
	uint64_t v;
	int r;

	if (!otp_seed_valid(seed))
		return -EINVAL;
	for (size_t i = 0; i < seed.n; i++)
		lseed[i] = to_lower(seed.p[i]);
	r = otp_hash(alg, lseed, seed.n, passphrase.p, passphrase.n, md);
	if (r)
		return r;
	v = otp_fold(alg, md);
	for (unsigned i = 0; i < count && r == 0; i++)
		r = otp_step(alg, v, &v);
	util_wipe(md, sizeof(md));
	if (r)
		return r;
	*out = v;
	return 0;
}

/* RFC 2289 Appendix A: the sum of the 32 two-bit pairs, modulo 4. */
static unsigned otp_checksum(uint64_t v)
{
	unsigned sum = 0;
	for (int i = 0; i < 64; i += 2)
		sum += (unsigned)(v >> i) & 3u;
	return sum & 3u;
}

/* The i-th 11-bit group (0..5) of the 66 bits v ‖ checksum. */
static unsigned otp_word_index(uint64_t v, unsigned cs, int i)
{
	int shift = 66 - 11 * (i + 1); /* position of the group's low bit */
	if (shift >= 2)
		return (unsigned)(v >> (shift - 2)) & 0x7ffu;
	/* The last group: the low 9 bits of v and the checksum. */
	return (unsigned)((v & 0x1ffu) << 2 | cs);
}

void otp_format_words(uint64_t v, char *out, size_t outsz)
{
	unsigned cs = otp_checksum(v);
	size_t used = 0;

	if (outsz == 0)
		return;
	out[0] = '\0';
	for (int i = 0; i < 6; i++) {
		int n = snprintf(out + used, outsz - used, "%s%s", i ? " " : "", otp_words[otp_word_index(v, cs, i)]);
		if (n < 0 || (size_t)n >= outsz - used)
			return;
		used += (size_t)n;
	}
}

void otp_format_hex(uint64_t v, char *out, size_t outsz)
{
	(void)snprintf(out, outsz, "%04X %04X %04X %04X", (unsigned)(v >> 48) & 0xffffu, (unsigned)(v >> 32) & 0xffffu,
		       (unsigned)(v >> 16) & 0xffffu, (unsigned)v & 0xffffu);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Compares a candidate (upper case, 1-4 letters) with a dictionary word. */
static int word_cmp(const char *w, size_t n, const char *dict)
{
	size_t dn = strlen(dict);
	int c = memcmp(w, dict, n < dn ? n : dn);
	if (c)
		return c;
	return n < dn ? -1 : n > dn ? 1 : 0;
}

/* Index of the word (any case) or -1: a binary search in the range of its
 * length, both ranges being sorted. */
static int otp_word_find(struct slice w)
{
	char up[4];
	int lo, hi;

	if (w.n < 1 || w.n > 4)
		return -1;
	for (size_t i = 0; i < w.n; i++)
		up[i] = to_upper(w.p[i]);
	lo = w.n == 4 ? OTP_WORDS_LONG : 0;
	hi = w.n == 4 ? OTP_WORDS - 1 : OTP_WORDS_LONG - 1;
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		int c = word_cmp(up, w.n, otp_words[mid]);
		if (c == 0)
			return mid;
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return -1;
}

/* Next whitespace-separated token of *s, or an empty slice at the end. */
static struct slice next_token(struct slice *s)
{
	while (s->n && is_space(s->p[0])) {
		s->p++;
		s->n--;
	}
	size_t n = 0;
	while (n < s->n && !is_space(s->p[n]))
		n++;
	struct slice t = { s->p, n };
	s->p += n;
	s->n -= n;
	return t;
}

static int otp_parse_words(struct slice s, uint64_t *out)
{
	uint64_t bits = 0; /* the first 64 of the 66 bits */
	unsigned last = 0;

	for (int i = 0; i < 6; i++) {
		int idx = otp_word_find(next_token(&s));
		if (idx < 0)
			return -EINVAL;
		if (i < 5)
			bits = bits << 11 | (uint64_t)idx;
		last = (unsigned)idx;
	}
	if (next_token(&s).n != 0)
		return -EINVAL;
	/* 55 bits so far; the sixth word brings 9 more and the checksum. */
	bits = bits << 9 | (last >> 2);
	if (otp_checksum(bits) != (last & 3u))
		return -EBADMSG;
	*out = bits;
	return 0;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = to_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int otp_parse_hex(struct slice s, uint64_t *out)
{
	uint64_t v = 0;
	int digits = 0;

	for (size_t i = 0; i < s.n; i++) {
		if (is_space(s.p[i]))
			continue;
		int h = hex_value(s.p[i]);
		if (h < 0 || ++digits > 16)
			return -EINVAL;
		v = v << 4 | (uint64_t)h;
	}
	if (digits != 16)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Strips a case-insensitive prefix such as "hex:"; true if it was there. */
static bool strip_prefix(struct slice *s, const char *prefix)
{
	size_t n = strlen(prefix);
	if (s->n < n || !slice_eq_ci((struct slice){ s->p, n }, prefix))
		return false;
	s->p += n;
	s->n -= n;
	return true;
}

int otp_parse_answer(struct slice s, uint64_t *out)
{
	/* SECURITY: client text; every byte is looked at once, nothing is
	 * copied beyond four letters at a time. */
	struct slice t = s;
	while (t.n && is_space(t.p[0])) {
		t.p++;
		t.n--;
	}
	if (strip_prefix(&t, "word:"))
		return otp_parse_words(t, out);
	if (strip_prefix(&t, "hex:"))
		return otp_parse_hex(t, out);
	/* RFC 2289 §6: six words first, then hex. */
	int r = otp_parse_words(t, out);
	if (r != -EINVAL)
		return r;
	return otp_parse_hex(t, out);
}

void otp_seed_from_bytes(const uint8_t *rnd, size_t rnd_len, char *out, size_t outsz)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	size_t n = OTP_SEED_DEFAULT_LEN;

	if (outsz == 0)
		return;
	if (n > rnd_len)
		n = rnd_len;
	if (n > outsz - 1)
		n = outsz - 1;
	/* 256 % 36 = 4: the first letters are very slightly more likely; a
	 * seed only needs to differ between keys, not to be secret. */
	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
	out[n] = '\0';
}

int otp_fake_challenge(const uint8_t *secret, size_t secret_len, const char *name, unsigned *seq, char *seed,
		       size_t seedsz)
{
	uint8_t md[OTP_HASH_MAX];
	int r = otp_hash(OTP_SHA1, secret, secret_len, name, strlen(name), md);
	if (r)
		return r;
	unsigned span = OTP_FAKE_SEQ_MAX - OTP_FAKE_SEQ_MIN + 1;
	*seq = OTP_FAKE_SEQ_MIN + ((unsigned)md[0] << 8 | md[1]) % span;
	otp_seed_from_bytes(md + 2, sizeof(md) - 2, seed, seedsz);
	return 0;
}
