/* pattern: the deterministic content of benchmark files. The harness writes
 * files with `ferry-bench gen`, the load generator regenerates the stream to
 * check every downloaded byte and to produce uploads, and `ferry-bench
 * verify` checks uploaded files on disk. */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t pattern_splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

void pattern_init(struct pattern *p, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (const char *c = base; *c; c++)
		h = (h ^ (uint8_t)*c) * 0x100000001b3ull;
	for (size_t i = 0; i < PATTERN_BLOCK; i += 8) {
		uint64_t v = pattern_splitmix(&h);
		memcpy(p->block + i, &v, 8);
	}
	p->off = 0;
}

/* Byte k (0..7) of the header of block b. */
static inline uint8_t pattern_head(const struct pattern *p, uint64_t b, unsigned k)
{
	return p->block[k] ^ (uint8_t)(b >> (8 * k));
}

/* libc's memcpy, called: gcc inlines a 4 KiB memcpy as "rep movsq", which
 * took half the generator's CPU in FTPS STOR (perf), capping every server's
 * figure at the generator's; glibc's vector copy is about twice as fast. */
static void *(*volatile block_copy)(void *, const void *, size_t) = memcpy;

void pattern_fill(const struct pattern *p, uint64_t off, uint8_t *buf, size_t n)
{
	while (n > 0) {
		uint64_t b = off / PATTERN_BLOCK;
		size_t o = (size_t)(off % PATTERN_BLOCK);
		size_t l = PATTERN_BLOCK - o < n ? PATTERN_BLOCK - o : n;
		block_copy(buf, p->block + o, l);
		for (size_t k = o; k < 8 && k < o + l; k++)
			buf[k - o] = pattern_head(p, b, (unsigned)k);
		buf += l;
		off += l;
		n -= l;
	}
}

int pattern_check(struct pattern *p, const uint8_t *buf, size_t n, uint64_t *bad)
{
	while (n > 0) {
		uint64_t b = p->off / PATTERN_BLOCK;
		size_t o = (size_t)(p->off % PATTERN_BLOCK);
		size_t l = PATTERN_BLOCK - o < n ? PATTERN_BLOCK - o : n;
		for (size_t k = o; k < 8 && k < o + l; k++) {
			if (buf[k - o] != pattern_head(p, b, (unsigned)k)) {
				*bad = p->off + (k - o);
				return -1;
			}
		}
		size_t skip = o < 8 ? 8 - o : 0;
		if (skip < l && memcmp(buf + skip, p->block + o + skip, l - skip) != 0) {
			for (size_t k = skip; k < l; k++) {
				if (buf[k] != p->block[o + k]) {
					*bad = p->off + k;
					return -1;
				}
			}
		}
		buf += l;
		p->off += l;
		n -= l;
	}
	return 0;
}

static int pattern_parse_size(const char *s, uint64_t *out)
{
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-')
		return -EINVAL;
	*out = v;
	return 0;
}

/* ferry-bench gen PATH SIZE: writes PATH with SIZE bytes of its pattern. */
int pattern_gen(int argc, char **argv)
{
	uint64_t size = 0;
	if (argc != 3 || pattern_parse_size(argv[2], &size) != 0) {
		fprintf(stderr, "usage: ferry-bench gen PATH SIZE\n");
		return 2;
	}
	static struct pattern p;
	static uint8_t buf[1 << 20];
	pattern_init(&p, argv[1]);
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "ferry-bench gen: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (uint64_t off = 0; off < size;) {
		size_t n = size - off < sizeof(buf) ? (size_t)(size - off) : sizeof(buf);
		pattern_fill(&p, off, buf, n);
		for (size_t done = 0; done < n;) {
			ssize_t w = write(fd, buf + done, n - done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				fprintf(stderr, "ferry-bench gen: %s: %s\n", argv[1], strerror(errno));
				(void)close(fd);
				return 1;
			}
			done += (size_t)w;
		}
		off += n;
	}
	if (close(fd) != 0) {
		fprintf(stderr, "ferry-bench gen: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	return 0;
}

/* ferry-bench verify PATH SIZE: exit 0 when PATH holds exactly its pattern. */
int pattern_verify(int argc, char **argv)
{
	uint64_t size = 0, bad = 0, got = 0;
	if (argc != 3 || pattern_parse_size(argv[2], &size) != 0) {
		fprintf(stderr, "usage: ferry-bench verify PATH SIZE\n");
		return 2;
	}
	static struct pattern p;
	static uint8_t buf[1 << 20];
	pattern_init(&p, argv[1]);
	int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "ferry-bench verify: FAIL: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "ferry-bench verify: FAIL: %s: %s\n", argv[1], strerror(errno));
			(void)close(fd);
			return 1;
		}
		if (r == 0)
			break;
		if (got + (uint64_t)r > size) {
			fprintf(stderr, "ferry-bench verify: FAIL: %s: longer than %llu bytes\n", argv[1],
				(unsigned long long)size);
			(void)close(fd);
			return 1;
		}
		if (pattern_check(&p, buf, (size_t)r, &bad) != 0) {
			fprintf(stderr, "ferry-bench verify: FAIL: %s: wrong byte at offset %llu\n", argv[1],
				(unsigned long long)bad);
			(void)close(fd);
			return 1;
		}
		got += (uint64_t)r;
	}
	(void)close(fd);
	if (got != size) {
		fprintf(stderr, "ferry-bench verify: FAIL: %s: %llu bytes, expected %llu\n", argv[1],
			(unsigned long long)got, (unsigned long long)size);
		return 1;
	}
	printf("{\"mode\":\"verify\",\"ok\":true,\"path\":\"%s\",\"bytes\":%llu}\n", argv[1],
	       (unsigned long long)got);
	return 0;
}
