/* Unit tests for ascii.c, TYPE A conversion (RFC 959 §3.1.1.1): fixed
 * vectors, every chunk split of them (one and two cut points), a CR held at
 * a chunk end, lone CR, bare LF, empty input, exact output capacities, and
 * random buffers (1 MiB included) checked against byte-at-a-time reference
 * models written here independently of the module. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ascii.h"

/* Reference for sending: LF → CRLF, byte by byte. */
static size_t ref_to_wire(const char *in, size_t n, char *out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\n')
			out[k++] = '\r';
		out[k++] = in[i];
	}
	return k;
}

/* Reference for receiving, on the whole stream at once: a CR immediately
 * followed by LF is dropped, every other byte kept. */
static size_t ref_from_wire(const char *in, size_t n, char *out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!(in[i] == '\r' && i + 1 < n && in[i + 1] == '\n'))
			out[k++] = in[i];
	return k;
}

/* Receives in through the module cut at the given points (ascending),
 * then ends the stream; returns the bytes written to out. */
static size_t recv_cut(const char *in, size_t n, const size_t *cuts, size_t ncuts, char *out)
{
	struct ascii_rx st = { 0 };
	size_t k = 0, at = 0;
	for (size_t c = 0; c <= ncuts; c++) {
		size_t to = c < ncuts ? cuts[c] : n;
		k += ascii_from_wire(&st, (struct slice){ in + at, to - at }, out + k);
		at = to;
	}
	k += ascii_rx_end(&st, out + k);
	assert_false(st.pending_cr);
	return k;
}

/* Sends in through the module cut at the given points; the summed
 * ascii_wire_size of the pieces must be what was produced. */
static size_t send_cut(const char *in, size_t n, const size_t *cuts, size_t ncuts, char *out)
{
	size_t k = 0, at = 0;
	uint64_t size = 0;
	for (size_t c = 0; c <= ncuts; c++) {
		size_t to = c < ncuts ? cuts[c] : n;
		struct slice piece = { in + at, to - at };
		k += ascii_to_wire(piece, out + k);
		size += ascii_wire_size(piece);
		at = to;
	}
	assert_int_equal(size, k);
	return k;
}

static const struct {
	const char *file, *wire; /* file bytes and what TYPE A sends */
} send_vectors[] = {
	{ "", "" },
	{ "abc", "abc" },
	{ "a\nb", "a\r\nb" },
	{ "\n", "\r\n" },
	{ "\n\n\n", "\r\n\r\n\r\n" },
	{ "line\n", "line\r\n" },
	{ "a\r\nb", "a\r\r\nb" }, /* the file's own CR stays; the LF still gains one */
	{ "\r", "\r" },
	{ "a\rb", "a\rb" },
};

static const struct {
	const char *wire, *file; /* received bytes and what is stored */
} recv_vectors[] = {
	{ "", "" },
	{ "abc", "abc" },
	{ "a\r\nb", "a\nb" },
	{ "\r\n", "\n" },
	{ "a\r\n\r\n", "a\n\n" },
	{ "a\nb", "a\nb" }, /* bare LF kept */
	{ "a\rb", "a\rb" }, /* lone CR kept */
	{ "\r", "\r" },	    /* CR as the last byte: held, then kept at the end */
	{ "ab\r", "ab\r" },
	{ "\r\r", "\r\r" },
	{ "\r\r\n", "\r\n" }, /* only the CR right before LF goes */
	{ "\r\r\r\n\r", "\r\r\n\r" },
	{ "\n\r", "\n\r" },
	{ "x\r\ny\rz\n\r\n", "x\ny\rz\n\n" },
};

static void test_empty(void **state)
{
	(void)state;
	char out[4] = "zzz";
	struct ascii_rx st = { 0 };
	assert_int_equal(ascii_to_wire((struct slice){ "", 0 }, out), 0);
	assert_int_equal(ascii_wire_size((struct slice){ "", 0 }), 0);
	assert_int_equal(ascii_from_wire(&st, (struct slice){ "", 0 }, out), 0);
	assert_false(st.pending_cr);
	assert_int_equal(ascii_rx_end(&st, out), 0);
	assert_memory_equal(out, "zzz", 4); /* nothing written */
	/* An empty chunk leaves a held CR held. */
	st.pending_cr = true;
	assert_int_equal(ascii_from_wire(&st, (struct slice){ "", 0 }, out), 0);
	assert_true(st.pending_cr);
}

typedef size_t convert_cut_fn(const char *in, size_t n, const size_t *cuts, size_t ncuts, char *out);

/* in converted whole and with every single and double cut gives want. */
static void check_every_cut(convert_cut_fn *convert, const char *in, const char *want)
{
	size_t n = strlen(in), wn = strlen(want);
	char out[64];
	assert_int_equal(convert(in, n, NULL, 0, out), wn);
	assert_memory_equal(out, want, wn);
	for (size_t i = 0; i <= n; i++) {
		for (size_t j = i; j <= n; j++) {
			size_t cuts[2] = { i, j };
			memset(out, 0, sizeof(out));
			assert_int_equal(convert(in, n, cuts, 2, out), wn);
			assert_memory_equal(out, want, wn);
		}
	}
}

static void test_send_vectors(void **state)
{
	(void)state;
	for (size_t v = 0; v < sizeof(send_vectors) / sizeof(send_vectors[0]); v++) {
		const char *in = send_vectors[v].file, *want = send_vectors[v].wire;
		char out[64];
		assert_int_equal(ascii_to_wire((struct slice){ in, strlen(in) }, out), strlen(want));
		assert_memory_equal(out, want, strlen(want));
		assert_int_equal(ascii_wire_size((struct slice){ in, strlen(in) }), strlen(want));
		check_every_cut(send_cut, in, want);
	}
}

static void test_recv_vectors(void **state)
{
	(void)state;
	for (size_t v = 0; v < sizeof(recv_vectors) / sizeof(recv_vectors[0]); v++)
		check_every_cut(recv_cut, recv_vectors[v].wire, recv_vectors[v].file);
}

static void test_cr_at_chunk_end(void **state)
{
	(void)state;
	char out[16];
	struct ascii_rx st = { 0 };
	/* The CR is held, not written, until the next byte decides. */
	assert_int_equal(ascii_from_wire(&st, (struct slice){ "ab\r", 3 }, out), 2);
	assert_memory_equal(out, "ab", 2);
	assert_true(st.pending_cr);
	/* ... an LF: it was a CRLF, so only the LF is stored. */
	assert_int_equal(ascii_from_wire(&st, (struct slice){ "\ncd", 3 }, out), 3);
	assert_memory_equal(out, "\ncd", 3);
	assert_false(st.pending_cr);

	/* ... another byte: the CR was the file's own and comes first. */
	assert_int_equal(ascii_from_wire(&st, (struct slice){ "\r", 1 }, out), 0);
	assert_true(st.pending_cr);
	assert_int_equal(ascii_from_wire(&st, (struct slice){ "x", 1 }, out), 2);
	assert_memory_equal(out, "\rx", 2);
	assert_false(st.pending_cr);

	/* ... another CR: the first is kept, the second held in its place. */
	assert_int_equal(ascii_from_wire(&st, (struct slice){ "\r", 1 }, out), 0);
	assert_int_equal(ascii_from_wire(&st, (struct slice){ "\r", 1 }, out), 1);
	assert_memory_equal(out, "\r", 1);
	assert_true(st.pending_cr);

	/* ... the end of the stream: the held CR is written once. */
	assert_int_equal(ascii_rx_end(&st, out), 1);
	assert_int_equal(out[0], '\r');
	assert_false(st.pending_cr);
	assert_int_equal(ascii_rx_end(&st, out), 0);
}

/* The documented capacities are enough and are used in full in the worst
 * case: outputs into buffers of exactly that size (ASan would see more). */
static void test_exact_capacity(void **state)
{
	(void)state;
	enum { N = 4096 };
	char *lfs = malloc(N), *out = malloc(ASCII_TO_WIRE_MAX(N));
	assert_non_null(lfs);
	assert_non_null(out);
	memset(lfs, '\n', N);
	assert_int_equal(ascii_to_wire((struct slice){ lfs, N }, out), ASCII_TO_WIRE_MAX(N));
	for (size_t i = 0; i < ASCII_TO_WIRE_MAX(N); i += 2)
		assert_memory_equal(out + i, "\r\n", 2);
	free(out);

	char *in = malloc(N), *rx = malloc(ASCII_FROM_WIRE_MAX(N));
	assert_non_null(in);
	assert_non_null(rx);
	memset(in, 'x', N);
	struct ascii_rx st = { .pending_cr = true };
	assert_int_equal(ascii_from_wire(&st, (struct slice){ in, N }, rx), ASCII_FROM_WIRE_MAX(N));
	assert_int_equal(rx[0], '\r');
	assert_int_equal(rx[N], 'x');
	free(in);
	free(rx);
	free(lfs);
}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint32_t next_rand(void)
{
	/* xorshift64: fixed seed, the same bytes on every run */
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

/* Mostly CR, LF and one letter, so every neighbourhood of them occurs. */
static void fill_random(char *p, size_t n, bool with_cr)
{
	static const char alphabet[] = "\r\n\n\raaab\0\x80\xff";
	size_t span = sizeof(alphabet) - 1;
	for (size_t i = 0; i < n; i++) {
		char c = alphabet[next_rand() % span];
		p[i] = !with_cr && c == '\r' ? 'c' : c;
	}
}

/* Random cut points, ascending, from 0..n. */
static size_t random_cuts(size_t n, size_t *cuts, size_t max)
{
	size_t k = next_rand() % (max + 1), at = 0;
	for (size_t i = 0; i < k; i++) {
		at += (n - at) ? next_rand() % (n - at + 1) : 0;
		cuts[i] = at;
	}
	return k;
}

static void test_random_against_reference(void **state)
{
	(void)state;
	char in[300], out[2 * sizeof(in) + 1], want[2 * sizeof(in) + 1];
	size_t cuts[16];
	for (int round = 0; round < 5000; round++) {
		size_t n = next_rand() % sizeof(in);
		fill_random(in, n, true);
		size_t k = random_cuts(n, cuts, 16);
		size_t wn = ref_from_wire(in, n, want);
		assert_int_equal(recv_cut(in, n, cuts, k, out), wn);
		assert_memory_equal(out, want, wn);
		wn = ref_to_wire(in, n, want);
		assert_int_equal(send_cut(in, n, cuts, k, out), wn);
		assert_memory_equal(out, want, wn);
	}
}

/* Sending then receiving gives back the file, for any bytes: every CR that
 * sending adds stands right before an LF, and receiving drops exactly those
 * (a file's own CR before its LF is followed by the added CR, so it stays). */
static void test_round_trip(void **state)
{
	(void)state;
	char in[300], wire[2 * sizeof(in)], back[2 * sizeof(in) + 1];
	size_t cuts[16];
	for (int round = 0; round < 5000; round++) {
		size_t n = next_rand() % sizeof(in);
		fill_random(in, n, round % 2 == 0);
		size_t wn = ascii_to_wire((struct slice){ in, n }, wire);
		size_t k = random_cuts(wn, cuts, 16);
		assert_int_equal(recv_cut(wire, wn, cuts, k, back), n);
		assert_memory_equal(back, in, n);
	}
}

static void test_large_buffer(void **state)
{
	(void)state;
	enum { N = 1 << 20, PIECE = 65536 };
	char *in = malloc(N), *wire = malloc(ASCII_TO_WIRE_MAX((size_t)N)), *back = malloc(N + 1),
	     *want = malloc(ASCII_TO_WIRE_MAX((size_t)N));
	assert_non_null(in);
	assert_non_null(wire);
	assert_non_null(back);
	assert_non_null(want);
	fill_random(in, N, false);
	/* Sent in 64 KiB pieces as the data channel does, received in pieces
	 * of an odd size so cuts fall inside CRLFs. */
	size_t wn = 0;
	uint64_t size = 0;
	for (size_t at = 0; at < N; at += PIECE) {
		struct slice piece = { in + at, PIECE };
		wn += ascii_to_wire(piece, wire + wn);
		size += ascii_wire_size(piece);
	}
	assert_int_equal(size, wn);
	assert_int_equal(ref_to_wire(in, N, want), wn);
	assert_memory_equal(wire, want, wn);
	struct ascii_rx st = { 0 };
	size_t bn = 0;
	for (size_t at = 0; at < wn; at += 4099) {
		size_t len = wn - at < 4099 ? wn - at : 4099;
		bn += ascii_from_wire(&st, (struct slice){ wire + at, len }, back + bn);
	}
	bn += ascii_rx_end(&st, back + bn);
	assert_int_equal(bn, N);
	assert_memory_equal(back, in, N);
	free(in);
	free(wire);
	free(back);
	free(want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),	       cmocka_unit_test(test_send_vectors),
		cmocka_unit_test(test_recv_vectors),   cmocka_unit_test(test_cr_at_chunk_end),
		cmocka_unit_test(test_exact_capacity), cmocka_unit_test(test_random_against_reference),
		cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_large_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
