/* libFuzzer driver: src/base/ascii.c (TYPE A). The first input byte picks the
 * chunk size (1..64) the rest is fed in, as a data connection would cut it.
 * Checks: ascii_wire_size summed over the chunks is what ascii_to_wire
 * produced; receiving in chunks equals a whole-stream reference (drop each
 * CR right before LF, keep all else); and sending then receiving returns the
 * input unchanged (for inputs without CR as RFC 959 text has them, and in
 * fact for any input: the CRs sending adds are exactly those receiving
 * drops). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ascii.h"

/* Receives in[0..n) in chunks of step bytes; returns the bytes stored. */
static size_t recv_chunks(const char *in, size_t n, size_t step, char *out)
{
	struct ascii_rx st = { 0 };
	size_t k = 0;
	for (size_t at = 0; at < n; at += step)
		k += ascii_from_wire(&st, (struct slice){ in + at, n - at < step ? n - at : step }, out + k);
	return k + ascii_rx_end(&st, out + k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t step = 1 + data[0] % 64;
	const char *in = (const char *)data + 1;
	size_t n = size - 1;
	char *wire = malloc(ASCII_TO_WIRE_MAX(n) + 1), *back = malloc(ASCII_TO_WIRE_MAX(n) + 1), *ref = malloc(n + 1);
	if (!wire || !back || !ref)
		abort();

	size_t wn = 0;
	uint64_t counted = 0;
	for (size_t at = 0; at < n; at += step) {
		struct slice piece = { in + at, n - at < step ? n - at : step };
		wn += ascii_to_wire(piece, wire + wn);
		counted += ascii_wire_size(piece);
	}
	if (counted != wn || ascii_wire_size((struct slice){ in, n }) != wn)
		abort();

	/* The input itself as received bytes, against the reference. */
	size_t rn = 0;
	for (size_t i = 0; i < n; i++)
		if (!(in[i] == '\r' && i + 1 < n && in[i + 1] == '\n'))
			ref[rn++] = in[i];
	if (recv_chunks(in, n, step, back) != rn || memcmp(back, ref, rn) != 0)
		abort();

	/* Round trip: the wire form received gives the input back. */
	if (recv_chunks(wire, wn, step, back) != n || memcmp(back, in, n) != 0)
		abort();

	free(wire);
	free(back);
	free(ref);
	return 0;
}
