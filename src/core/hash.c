/* hash: the algorithm table, range arithmetic, hashing an fd range and the
 * per-user limit (hash.h). */
#include "hash.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "util.h"

static const char *const names[HASH_ALG_COUNT] = {
	[HASH_SHA256] = "SHA-256", [HASH_SHA512] = "SHA-512", [HASH_SHA1] = "SHA-1",
	[HASH_MD5] = "MD5",	   [HASH_CRC32] = "CRC32",
};

const char *hash_alg_name(enum hash_alg a)
{
	return (unsigned)a < HASH_ALG_COUNT ? names[a] : "?";
}

int hash_alg_parse(struct slice s, enum hash_alg *out)
{
	for (unsigned i = 0; i < HASH_ALG_COUNT; i++)
		if (slice_eq_ci(s, names[i])) {
			*out = (enum hash_alg)i;
			return 0;
		}
	return -EINVAL;
}

void hash_alg_list(enum hash_alg cur, char *out, size_t outsz)
{
	size_t len = 0;
	if (outsz)
		out[0] = '\0';
	for (unsigned i = 0; i < HASH_ALG_COUNT; i++) {
		int w = snprintf(out + len, outsz - len, "%s%s%s", i ? ";" : "", names[i], i == cur ? "*" : "");
		if (w < 0 || (size_t)w >= outsz - len) {
			out[len] = '\0'; /* whole names only */
			return;
		}
		len += (size_t)w;
	}
}

int hash_range(uint64_t size, bool ranged, uint64_t start, uint64_t end, uint64_t *first, uint64_t *last,
	       uint64_t *count)
{
	if (!ranged) {
		*first = 0;
		*last = size ? size - 1 : 0;
		*count = size;
		return 0;
	}
	if (start >= size || end < start)
		return -ERANGE;
	*first = start;
	*last = end < size - 1 ? end : size - 1;
	*count = *last - *first + 1;
	return 0;
}

static const EVP_MD *md_of(enum hash_alg a)
{
	switch (a) {
	case HASH_SHA256:
		return EVP_sha256();
	case HASH_SHA512:
		return EVP_sha512();
	case HASH_SHA1:
		return EVP_sha1();
	case HASH_MD5:
		return EVP_md5();
	default:
		return NULL;
	}
}

static void to_hex(const unsigned char *md, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * n] = '\0';
}

#define HASH_CHUNK (256u * 1024u)

int hash_fd_range(int fd, enum hash_alg a, uint64_t offset, uint64_t count, const atomic_bool *cancel,
		  char hex[HASH_HEX_MAX])
{
	if ((unsigned)a >= HASH_ALG_COUNT)
		return -EINVAL;
	unsigned char *chunk = malloc(HASH_CHUNK);
	EVP_MD_CTX *ctx = a == HASH_CRC32 ? NULL : EVP_MD_CTX_new();
	uLong crc = crc32(0L, Z_NULL, 0);
	int rc = 0;
	if (!chunk || (a != HASH_CRC32 && (!ctx || EVP_DigestInit_ex(ctx, md_of(a), NULL) != 1))) {
		rc = -ENOMEM;
		goto out;
	}
	while (count) {
		if (cancel && atomic_load(cancel)) {
			rc = -ECANCELED;
			goto out;
		}
		size_t want = count < HASH_CHUNK ? (size_t)count : HASH_CHUNK;
		ssize_t got = pread(fd, chunk, want, (off_t)offset);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = -errno;
			goto out;
		}
		if (got == 0) { /* shrank under us */
			rc = -EIO;
			goto out;
		}
		if (ctx && EVP_DigestUpdate(ctx, chunk, (size_t)got) != 1) {
			rc = -EIO;
			goto out;
		}
		if (!ctx)
			crc = crc32(crc, chunk, (uInt)got);
		offset += (uint64_t)got;
		count -= (uint64_t)got;
	}
	if (ctx) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned n = 0;
		if (EVP_DigestFinal_ex(ctx, md, &n) != 1) {
			rc = -EIO;
			goto out;
		}
		to_hex(md, n, hex);
	} else {
		unsigned char be[4] = { (unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
					(unsigned char)(crc >> 8), (unsigned char)crc };
		to_hex(be, 4, hex);
	}
out:
	EVP_MD_CTX_free(ctx);
	free(chunk);
	return rc;
}

struct hash_slot {
	char *user;
	unsigned n;
};

struct hash_limit {
	pthread_mutex_t mu;
	struct hash_slot *slot; /* users with a running hash */
	size_t n, cap;
};

struct hash_limit *hash_limit_new(void)
{
	struct hash_limit *l = util_xcalloc(1, sizeof(*l));
	pthread_mutex_init(&l->mu, NULL);
	return l;
}

void hash_limit_free(struct hash_limit *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->slot[i].user);
	free(l->slot);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

static struct hash_slot *find(struct hash_limit *l, const char *user)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->slot[i].user, user) == 0)
			return &l->slot[i];
	return NULL;
}

bool hash_limit_acquire(struct hash_limit *l, const char *user, unsigned max)
{
	if (!l)
		return true;
	bool ok = true;
	pthread_mutex_lock(&l->mu);
	struct hash_slot *s = find(l, user);
	if (s && max && s->n >= max) {
		ok = false;
	} else if (s) {
		s->n++;
	} else {
		if (l->n == l->cap) {
			size_t cap = l->cap ? 2 * l->cap : 8;
			struct hash_slot *grown = realloc(l->slot, cap * sizeof(*grown));
			if (!grown) {
				pthread_mutex_unlock(&l->mu);
				return false;
			}
			l->slot = grown;
			l->cap = cap;
		}
		l->slot[l->n++] = (struct hash_slot){ util_xstrdup(user), 1 };
	}
	pthread_mutex_unlock(&l->mu);
	return ok;
}

void hash_limit_release(struct hash_limit *l, const char *user)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	struct hash_slot *s = find(l, user);
	if (s && --s->n == 0) {
		free(s->user);
		*s = l->slot[--l->n];
	}
	pthread_mutex_unlock(&l->mu);
}
