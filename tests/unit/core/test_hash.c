/* Unit tests for core/hash.c: the algorithm table (names, parsing, the FEAT
 * list), range arithmetic, hashing an fd range (digests checked against
 * Python's hashlib and zlib.crc32, across the read-chunk boundary), the
 * cancel flag and the per-user limit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"

static void test_names(void **state)
{
	(void)state;
	enum hash_alg a;
	assert_string_equal(hash_alg_name(HASH_SHA256), "SHA-256");
	assert_string_equal(hash_alg_name(HASH_CRC32), "CRC32");
	assert_int_equal(hash_alg_parse(SLICE_LIT("sha-512"), &a), 0);
	assert_int_equal(a, HASH_SHA512);
	assert_int_equal(hash_alg_parse(SLICE_LIT("Md5"), &a), 0);
	assert_int_equal(a, HASH_MD5);
	assert_int_equal(hash_alg_parse(SLICE_LIT("CRC-37"), &a), -EINVAL);
	assert_int_equal(hash_alg_parse(SLICE_LIT("SHA256"), &a), -EINVAL); /* IANA names only */
	assert_int_equal(hash_alg_parse(SLICE_LIT(""), &a), -EINVAL);
	assert_int_equal(HASH_DEFAULT, HASH_SHA256);
}

static void test_list(void **state)
{
	(void)state;
	char out[96];
	hash_alg_list(HASH_SHA256, out, sizeof(out));
	assert_string_equal(out, "SHA-256*;SHA-512;SHA-1;MD5;CRC32");
	hash_alg_list(HASH_CRC32, out, sizeof(out));
	assert_string_equal(out, "SHA-256;SHA-512;SHA-1;MD5;CRC32*");
	char small[10];
	hash_alg_list(HASH_SHA256, small, sizeof(small)); /* stops cleanly */
	assert_string_equal(small, "SHA-256*");
}

static void test_range(void **state)
{
	(void)state;
	uint64_t f, l, n;
	assert_int_equal(hash_range(10, false, 0, 0, &f, &l, &n), 0);
	assert_true(f == 0 && l == 9 && n == 10);
	assert_int_equal(hash_range(0, false, 0, 0, &f, &l, &n), 0);
	assert_true(f == 0 && l == 0 && n == 0);
	assert_int_equal(hash_range(10, true, 2, 5, &f, &l, &n), 0);
	assert_true(f == 2 && l == 5 && n == 4);
	assert_int_equal(hash_range(10, true, 9, 9, &f, &l, &n), 0);
	assert_true(f == 9 && l == 9 && n == 1);
	assert_int_equal(hash_range(10, true, 5, UINT64_MAX, &f, &l, &n), 0); /* clamped */
	assert_true(f == 5 && l == 9 && n == 5);
	assert_int_equal(hash_range(10, true, 10, 20, &f, &l, &n), -ERANGE);
	assert_int_equal(hash_range(0, true, 0, 0, &f, &l, &n), -ERANGE);
	assert_int_equal(hash_range(10, true, 6, 5, &f, &l, &n), -ERANGE);
}

/* 1 MiB of bytes 0..255 repeated, then "tail": larger than a read chunk. */
static int big_file(void)
{
	char path[] = "/tmp/ferry-test-hash-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(unlink(path), 0);
	unsigned char block[256];
	for (unsigned i = 0; i < 256; i++)
		block[i] = (unsigned char)i;
	for (unsigned i = 0; i < 4096; i++)
		assert_int_equal(write(fd, block, sizeof(block)), (ssize_t)sizeof(block));
	assert_int_equal(write(fd, "tail", 4), 4);
	return fd;
}

static void test_fd(void **state)
{
	(void)state;
	int fd = big_file();
	char hex[HASH_HEX_MAX];
	assert_int_equal(hash_fd_range(fd, HASH_SHA256, 0, 1048580, NULL, hex), 0);
	assert_string_equal(hex, "27179059975dd520b91fa660e46f2d163b957569f8fe2f916fb8ef2a957f54d8");
	assert_int_equal(hash_fd_range(fd, HASH_SHA1, 1000, 300000, NULL, hex), 0);
	assert_string_equal(hex, "200becb2c40885755b2217b96f9392e175eaaec2");
	assert_int_equal(hash_fd_range(fd, HASH_CRC32, 0, 1048580, NULL, hex), 0);
	assert_string_equal(hex, "937cc5b4");
	/* Past the end: the file is shorter than asked. */
	assert_int_equal(hash_fd_range(fd, HASH_MD5, 1048000, 1000, NULL, hex), -EIO);
	atomic_bool cancel = true;
	assert_int_equal(hash_fd_range(fd, HASH_SHA512, 0, 1048580, &cancel, hex), -ECANCELED);
	assert_int_equal(close(fd), 0);
}

static void test_vectors(void **state)
{
	(void)state;
	static const char fox[] = "The quick brown fox jumps over the lazy dog";
	char path[] = "/tmp/ferry-test-hash-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(write(fd, fox, strlen(fox)), (ssize_t)strlen(fox));
	char hex[HASH_HEX_MAX];
	assert_int_equal(hash_fd_range(fd, HASH_MD5, 0, strlen(fox), NULL, hex), 0);
	assert_string_equal(hex, "9e107d9d372bb6826bd81d3542a419d6");
	assert_int_equal(hash_fd_range(fd, HASH_CRC32, 0, strlen(fox), NULL, hex), 0);
	assert_string_equal(hex, "414fa339");
	assert_int_equal(hash_fd_range(fd, HASH_SHA256, 0, 0, NULL, hex), 0);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(hash_fd_range(-1, HASH_SHA256, 0, 1, NULL, hex), -EBADF);
	assert_int_equal(close(fd), 0);
}

static void test_limit(void **state)
{
	(void)state;
	struct hash_limit *l = hash_limit_new();
	assert_true(hash_limit_acquire(l, "bob", 2));
	assert_true(hash_limit_acquire(l, "bob", 2));
	assert_false(hash_limit_acquire(l, "bob", 2));
	assert_true(hash_limit_acquire(l, "alice", 2)); /* per user */
	hash_limit_release(l, "bob");
	assert_true(hash_limit_acquire(l, "bob", 2));
	assert_true(hash_limit_acquire(l, "bob", 0)); /* 0: no limit */
	for (int i = 0; i < 20; i++) {		      /* many users: the table grows */
		char name[16];
		(void)snprintf(name, sizeof(name), "u%d", i);
		assert_true(hash_limit_acquire(l, name, 1));
		assert_false(hash_limit_acquire(l, name, 1));
	}
	for (int i = 0; i < 20; i++) {
		char name[16];
		(void)snprintf(name, sizeof(name), "u%d", i);
		hash_limit_release(l, name);
		assert_true(hash_limit_acquire(l, name, 1));
	}
	hash_limit_release(l, "nobody"); /* harmless */
	hash_limit_free(l);
	assert_true(hash_limit_acquire(NULL, "bob", 1)); /* no limiter: no limit */
	hash_limit_release(NULL, "bob");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names), cmocka_unit_test(test_list),    cmocka_unit_test(test_range),
		cmocka_unit_test(test_fd),    cmocka_unit_test(test_vectors), cmocka_unit_test(test_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
