#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

uint64_t util_now_ms(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t util_now_us(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int64_t util_wall_s(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

static void oom(void)
{
	(void)fputs("ferry: out of memory\n", stderr);
	abort();
}

void *util_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *util_xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		oom();
	return p;
}

char *util_xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		oom();
	return p;
}

char *util_xstrndup(const char *s, size_t n)
{
	/* Copies exactly n bytes: s is often a slice with no NUL after it, so
	 * strndup (which looks for one) could read past its end. */
	size_t sz;
	if (ckd_add(&sz, n, (size_t)1))
		oom();
	char *p = malloc(sz);
	if (!p)
		oom();
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

bool util_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	const unsigned char *x = a, *y = b;
	unsigned char diff = (unsigned char)(alen != blen);
	size_t n = alen < blen ? alen : blen;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(x[i] ^ y[i]);
	return diff == 0;
}

void util_wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

uint32_t util_random_u32(void)
{
	static _Thread_local uint32_t pool[64];
	static _Thread_local unsigned left;
	if (left == 0) {
		if (util_random(pool, sizeof(pool)) != 0) {
			/* getrandom cannot fail after boot; never return a constant */
			pool[0] = (uint32_t)util_now_ms() ^ (uint32_t)(uintptr_t)&left;
			return pool[0];
		}
		left = 64;
	}
	return pool[--left];
}

int util_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int util_random(void *out, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom((char *)out + got, n - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)r;
	}
	return 0;
}
