/* util: checked arithmetic, clocks, small helpers shared by every layer. */
#ifndef FERRY_UTIL_H
#define FERRY_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* The struct that holds member m at p (callbacks get the embedded part). */
#define container_of(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))
#define UNUSED(x) ((void)(x))

/* Checked arithmetic: return true on overflow (same convention as C23 ckd_*). */
#define ckd_add(r, a, b) __builtin_add_overflow((a), (b), (r))
#define ckd_sub(r, a, b) __builtin_sub_overflow((a), (b), (r))
#define ckd_mul(r, a, b) __builtin_mul_overflow((a), (b), (r))

/* Monotonic clock in milliseconds; never goes backwards. */
uint64_t util_now_ms(void);
/* The same clock in microseconds (util_now_us() / 1000 == util_now_ms()). */
uint64_t util_now_us(void);
/* Wall clock in seconds since the epoch. */
int64_t util_wall_s(void);

/* Allocation that aborts the process on failure: only for small, bounded
 * allocations where out-of-memory cannot be reported usefully anyway. */
void *util_xcalloc(size_t n, size_t size);
/* The same, not zeroed. */
void *util_xmalloc(size_t size);
char *util_xstrdup(const char *s);
/* Copies exactly n bytes of s (which need not be NUL-terminated) plus a NUL. */
char *util_xstrndup(const char *s, size_t n);

/* Constant-time comparison of two byte strings (length is not secret). */
bool util_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* n bytes from the kernel's random source (getrandom); 0 or -errno. */
int util_random(void *out, size_t n);
/* 32 random bits from a per-thread pool refilled by getrandom (one system
 * call per 64 values); for choices like passive ports, not keys. */
uint32_t util_random_u32(void);

/* Writes all n bytes to fd (a file: short writes continue, EINTR is
 * retried); 0 or -errno. */
int util_write_all(int fd, const void *p, size_t n);

/* Wipe memory that held a secret; not optimised away. */
void util_wipe(void *p, size_t n);

#endif
