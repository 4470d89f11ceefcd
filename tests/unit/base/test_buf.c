/* Unit tests for src/base/buf.c: the capped byte buffer every reply and every
 * byte of client input goes through. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "buf.h"

static void assert_contents(const struct buf *b, const char *want)
{
	size_t n = strlen(want);
	assert_int_equal(b->len, n);
	if (n)
		assert_memory_equal(buf_data(b), want, n);
}

static void test_buf_empty(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 100);
	assert_int_equal(b.len, 0);
	assert_null(buf_data(&b));
	assert_int_equal(buf_room(&b), 100);
	struct slice s = buf_slice(&b);
	assert_int_equal(s.n, 0);
	/* Appending nothing is fine and allocates nothing. */
	assert_int_equal(buf_append(&b, "", 0), 0);
	assert_int_equal(b.len, 0);
	buf_free(&b);
	buf_free(&b); /* idempotent */
	assert_int_equal(b.max, 100);
}

static void test_buf_append(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 1024);
	assert_int_equal(buf_append(&b, "abc", 3), 0);
	assert_int_equal(buf_append_str(&b, "def"), 0);
	assert_int_equal(buf_append(&b, "\0g", 2), 0); /* binary-safe */
	assert_int_equal(b.len, 8);
	assert_memory_equal(buf_data(&b), "abcdef\0g", 8);
	assert_int_equal(buf_room(&b), 1024 - 8);
	buf_free(&b);
}

static void test_buf_grows_past_initial_allocation(void **state)
{
	(void)state;
	struct buf b;
	char chunk[100];
	buf_init(&b, 1u << 20);
	for (int i = 0; i < 100; i++) {
		memset(chunk, 'a' + i % 26, sizeof(chunk));
		assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), 0);
	}
	assert_int_equal(b.len, 10000);
	for (size_t i = 0; i < 10000; i++)
		assert_int_equal(buf_data(&b)[i], 'a' + (int)(i / 100) % 26);
	buf_free(&b);
}

static void test_buf_cap_exact_fit(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 8);
	assert_int_equal(buf_append(&b, "12345678", 8), 0);
	assert_int_equal(buf_room(&b), 0);
	assert_contents(&b, "12345678");
	buf_free(&b);
}

static void test_buf_cap_enobufs_appends_nothing(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 10);
	assert_int_equal(buf_append(&b, "12345", 5), 0);
	/* Over the cap: refused whole, nothing of it appended. */
	assert_int_equal(buf_append(&b, "678901", 6), -ENOBUFS);
	assert_contents(&b, "12345");
	assert_int_equal(buf_append_str(&b, "abcdefghijk"), -ENOBUFS);
	assert_contents(&b, "12345");
	assert_int_equal(buf_printf(&b, "%s", "abcdefghijk"), -ENOBUFS);
	assert_contents(&b, "12345");
	/* What still fits is accepted afterwards. */
	assert_int_equal(buf_append(&b, "67890", 5), 0);
	assert_contents(&b, "1234567890");
	assert_int_equal(buf_append(&b, "x", 1), -ENOBUFS);
	assert_contents(&b, "1234567890");
	buf_free(&b);
}

static void test_buf_cap_zero(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(buf_append(&b, "x", 1), -ENOBUFS);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_room(&b), 0);
	buf_free(&b);
}

static void test_buf_huge_append_overflow(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, SIZE_MAX);
	assert_int_equal(buf_append(&b, "abc", 3), 0);
	/* len + n wraps around: must be refused, not wrap. */
	int err = 0;
	assert_null(buf_reserve(&b, SIZE_MAX - 1, &err));
	assert_int_equal(err, -ENOBUFS);
	assert_contents(&b, "abc");
	buf_free(&b);
}

static void test_buf_consume_and_compact(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 300);
	char big[250];
	memset(big, 'x', sizeof(big));
	assert_int_equal(buf_append(&b, "hello world", 11), 0);
	buf_consume(&b, 6);
	assert_contents(&b, "world");
	assert_int_equal(buf_room(&b), 295);
	/* The consumed prefix is reused: 5 + 250 fits under the cap of 300
	 * even though 11 + 250 bytes were handed in overall. */
	assert_int_equal(buf_append(&b, big, sizeof(big)), 0);
	assert_int_equal(b.len, 255);
	assert_memory_equal(buf_data(&b), "world", 5);
	assert_memory_equal(buf_data(&b) + 5, big, sizeof(big));
	/* Consume to empty, then start over. */
	buf_consume(&b, 255);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.off, 0);
	assert_int_equal(buf_append(&b, "again", 5), 0);
	assert_contents(&b, "again");
	/* Consuming more than there is empties the buffer. */
	buf_consume(&b, 1000);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void test_buf_consume_then_fill_to_cap(void **state)
{
	(void)state;
	struct buf b;
	char fill[256];
	memset(fill, 'f', sizeof(fill));
	buf_init(&b, 256);
	assert_int_equal(buf_append(&b, fill, 256), 0);
	buf_consume(&b, 200);
	assert_int_equal(buf_room(&b), 200);
	assert_int_equal(buf_append(&b, fill, 200), 0);
	assert_int_equal(b.len, 256);
	assert_int_equal(buf_append(&b, "x", 1), -ENOBUFS);
	buf_free(&b);
}

static void test_buf_reset(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 100);
	assert_int_equal(buf_append(&b, "abc", 3), 0);
	buf_consume(&b, 1);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_room(&b), 100);
	assert_int_equal(buf_append(&b, "xyz", 3), 0);
	assert_contents(&b, "xyz");
	buf_free(&b);
}

static void test_buf_reserve_commit(void **state)
{
	(void)state;
	struct buf b;
	int err = 0;
	buf_init(&b, 16);
	char *w = buf_reserve(&b, 4, &err);
	assert_non_null(w);
	memcpy(w, "abcd", 4);
	buf_commit(&b, 4);
	assert_contents(&b, "abcd");
	assert_null(buf_reserve(&b, 13, &err));
	assert_int_equal(err, -ENOBUFS);
	assert_null(buf_reserve(&b, 13, NULL)); /* err is optional */
	w = buf_reserve(&b, 12, &err);
	assert_non_null(w);
	buf_commit(&b, 0);
	assert_contents(&b, "abcd");
	buf_free(&b);
}

static void test_buf_printf(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 1u << 16);
	assert_int_equal(buf_printf(&b, "%d-%s", 42, "x"), 0);
	assert_contents(&b, "42-x");
	assert_int_equal(buf_printf(&b, "%s", ""), 0);
	assert_contents(&b, "42-x");
	/* Growth: output far larger than the first allocation. */
	char big[5000];
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(buf_printf(&b, "[%s]", big), 0);
	assert_int_equal(b.len, 4 + 2 + 4999);
	assert_int_equal(buf_data(&b)[4], '[');
	assert_int_equal(buf_data(&b)[4 + 1 + 4998], 'q');
	assert_int_equal(buf_data(&b)[b.len - 1], ']');
	/* No NUL is counted in len. */
	assert_int_equal(buf_printf(&b, "%c", 'z'), 0);
	assert_int_equal(buf_data(&b)[b.len - 1], 'z');
	buf_free(&b);
}

static void test_buf_printf_after_consume(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 64);
	assert_int_equal(buf_printf(&b, "%s", "0123456789012345678901234567890123456789"), 0);
	buf_consume(&b, 38);
	assert_int_equal(buf_printf(&b, "%s", "abcdefghijabcdefghijabcdefghijabcdefghij"), 0);
	assert_contents(&b, "89abcdefghijabcdefghijabcdefghijabcdefghij");
	buf_free(&b);
}

/* buf.h: max is "a hard limit on len; appends beyond it fail". A formatted
 * append that ends exactly at the cap is not beyond it (buf_append of the
 * same bytes succeeds). */
static void test_buf_printf_exact_fit(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 8);
	assert_int_equal(buf_printf(&b, "%s", "12345678"), 0);
	assert_contents(&b, "12345678");
	buf_free(&b);
}

static int vwrap(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int vwrap(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

static void test_buf_vprintf(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 100);
	assert_int_equal(vwrap(&b, "%s=%u", "n", 7u), 0);
	assert_contents(&b, "n=7");
	buf_free(&b);
}

/* buf_trim releases the storage of an empty buffer only; the cap stays. */
static void test_buf_trim(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 1024);
	buf_trim(&b); /* never allocated: no-op */
	assert_null(b.p);
	assert_int_equal(buf_append_str(&b, "abc"), 0);
	buf_trim(&b); /* not empty: kept */
	assert_non_null(b.p);
	assert_int_equal(b.len, 3);
	buf_consume(&b, 3);
	buf_trim(&b);
	assert_null(b.p);
	assert_int_equal(b.cap, 0);
	assert_int_equal(b.max, 1024);
	assert_int_equal(buf_append_str(&b, "xy"), 0); /* usable again */
	assert_memory_equal(buf_data(&b), "xy", 2);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_empty),
		cmocka_unit_test(test_buf_append),
		cmocka_unit_test(test_buf_grows_past_initial_allocation),
		cmocka_unit_test(test_buf_cap_exact_fit),
		cmocka_unit_test(test_buf_cap_enobufs_appends_nothing),
		cmocka_unit_test(test_buf_cap_zero),
		cmocka_unit_test(test_buf_huge_append_overflow),
		cmocka_unit_test(test_buf_consume_and_compact),
		cmocka_unit_test(test_buf_consume_then_fill_to_cap),
		cmocka_unit_test(test_buf_reset),
		cmocka_unit_test(test_buf_reserve_commit),
		cmocka_unit_test(test_buf_printf),
		cmocka_unit_test(test_buf_printf_after_consume),
		cmocka_unit_test(test_buf_printf_exact_fit),
		cmocka_unit_test(test_buf_vprintf),
		cmocka_unit_test(test_buf_trim),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
