/* Unit tests for sec.c: strict base64 (RFC 4648 §10 vectors, every kind of
 * malformed input RFC 2228 §10 commands can carry), protected reply lines
 * (RFC 2228 §5.2) and the §6 block header. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "sec.h"

static const char *const vectors[][2] = {
	{ "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
};

static void assert_buf(const struct buf *b, const char *want, size_t n)
{
	assert_int_equal(b->len, n);
	assert_memory_equal(buf_data(b), want, n);
}

static void test_encode_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		struct buf b;
		buf_init(&b, 64);
		assert_int_equal(sec_b64_encode(vectors[i][0], strlen(vectors[i][0]), &b), 0);
		assert_buf(&b, vectors[i][1], strlen(vectors[i][1]));
		buf_free(&b);
	}
	struct buf e;
	buf_init(&e, 8);
	assert_int_equal(sec_b64_encode("", 0, &e), 0);
	assert_int_equal(e.len, 0);
	buf_free(&e);
}

static void test_decode_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		struct buf b;
		buf_init(&b, 64);
		assert_int_equal(sec_b64_decode(slice_from_cstr(vectors[i][1]), &b), 0);
		assert_buf(&b, vectors[i][0], strlen(vectors[i][0]));
		buf_free(&b);
	}
}

static void test_roundtrip_all_bytes(void **state)
{
	(void)state;
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)(255 - i);
	for (size_t n = 0; n <= sizeof(all); n += 37) {
		struct buf enc, dec;
		buf_init(&enc, 1024);
		buf_init(&dec, 1024);
		assert_int_equal(sec_b64_encode(all, n, &enc), 0);
		assert_int_equal(enc.len, (n + 2) / 3 * 4);
		if (n) {
			assert_int_equal(sec_b64_decode(buf_slice(&enc), &dec), 0);
			assert_buf(&dec, (const char *)all, n);
		}
		buf_free(&enc);
		buf_free(&dec);
	}
}

static void test_decode_rejects(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",         /* no token */
		"Zg",       /* not a multiple of 4 */
		"Zg=",      /* short padding */
		"Zh==",     /* bits set under the padding (non-canonical) */
		"Zm9=",     /* same, one pad */
		"Z===",     /* three pads */
		"=Zg=",     /* pad first */
		"Zg==Zg==", /* pad in the middle */
		"Zm 9",     /* space */
		"Zm9v\n",   /* line break (RFC 2228 §10) */
		"Zm9-",     /* base64url alphabet */
		"Zm9_",
		"Zm9v!AAA",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf b;
		buf_init(&b, 64);
		assert_int_equal(buf_append(&b, "keep", 4), 0);
		assert_int_equal(sec_b64_decode(slice_from_cstr(bad[i]), &b), -EINVAL);
		assert_buf(&b, "keep", 4); /* nothing appended on failure */
		buf_free(&b);
	}
	/* A NUL inside is a bad byte too (slices are not C strings). */
	struct buf b;
	buf_init(&b, 64);
	assert_int_equal(sec_b64_decode((struct slice){ "Zm\0v", 4 }, &b), -EINVAL);
	buf_free(&b);
}

static void test_caps(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 5);
	assert_int_equal(sec_b64_decode(slice_from_cstr("Zm9vYmFy"), &b), -ENOBUFS);
	assert_int_equal(b.len, 0);
	assert_int_equal(sec_b64_encode("foobar", 6, &b), -ENOBUFS);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void test_reply_lines(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 256);
	assert_int_equal(sec_reply_line(&b, 632, false, SLICE_LIT("foo")), 0);
	assert_int_equal(sec_reply_line(&b, 632, true, SLICE_LIT("fooba")), 0);
	assert_buf(&b, "632-Zm9v\r\n632 Zm9vYmE=\r\n", 24);
	buf_reset(&b);
	assert_int_equal(sec_reply_line(&b, 631, true, (struct slice){ "\0\xff", 2 }), 0);
	assert_buf(&b, "631 AP8=\r\n", 10);
	buf_free(&b);
}

static void test_block_header(void **state)
{
	(void)state;
	static const uint32_t v[] = { 0, 1, 255, 256, 0x01020304u, 65536, UINT32_MAX };
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		unsigned char h[4];
		sec_block_header(v[i], h);
		assert_int_equal(h[0], v[i] >> 24);
		assert_int_equal(h[3], v[i] & 255);
		assert_int_equal(sec_block_len((struct slice){ (const char *)h, 4 }), v[i]);
	}
	unsigned char h[4];
	sec_block_header(0x01020304u, h);
	assert_memory_equal(h, "\x01\x02\x03\x04", 4); /* big-endian (RFC 2228 §6) */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_vectors),   cmocka_unit_test(test_decode_vectors),
		cmocka_unit_test(test_roundtrip_all_bytes), cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_caps),             cmocka_unit_test(test_reply_lines),
		cmocka_unit_test(test_block_header),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
