#include "ascii.h"

#include <string.h>

size_t ascii_to_wire(struct slice in, char *out)
{
	size_t k = 0;
	const char *p = in.p, *end = in.p + in.n;
	/* memchr finds the LFs; the runs between them are copied whole. */
	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t run = (size_t)((lf ? lf : end) - p);
		memcpy(out + k, p, run);
		k += run;
		p += run;
		if (lf) {
			out[k++] = '\r';
			out[k++] = '\n';
			p++;
		}
	}
	return k;
}

uint64_t ascii_wire_size(struct slice in)
{
	uint64_t lf = 0;
	for (size_t i = 0; i < in.n; i++)
		lf += in.p[i] == '\n';
	return (uint64_t)in.n + lf;
}

size_t ascii_from_wire(struct ascii_rx *st, struct slice in, char *out)
{
	size_t k = 0;
	for (size_t i = 0; i < in.n; i++) {
		if (st->pending_cr) {
			st->pending_cr = false;
			if (in.p[i] != '\n')
				out[k++] = '\r';
		}
		if (in.p[i] == '\r')
			st->pending_cr = true;
		else
			out[k++] = in.p[i];
	}
	return k;
}

size_t ascii_rx_end(struct ascii_rx *st, char *out)
{
	if (!st->pending_cr)
		return 0;
	st->pending_cr = false;
	out[0] = '\r';
	return 1;
}
