/* libFuzzer driver: the PROXY protocol parser (src/net/proxyproto.c). The
 * first byte picks the mode (v1, v2, any) and, in its high bits, a prefix
 * length for the proxy_from check; the rest is what a connection received,
 * as an exact heap copy (ASan sees any read past it). Checked: the answer
 * is one of the three; a wait never asks for fewer bytes than it has nor
 * more than the largest header; a complete header is no longer than the
 * input and every shorter prefix of it waits (so the reader never takes a
 * byte past the header); a parsed address has the family of its kind. */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxyproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static const enum proxy_mode modes[] = { PROXY_V1, PROXY_V2, PROXY_ANY, PROXY_ANY };
	enum proxy_mode mode = modes[data[0] & 3];
	size_t n = size - 1;
	uint8_t *p = malloc(n ? n : 1);
	if (!p)
		abort();
	memcpy(p, data + 1, n);
	struct proxy_hdr h;
	const char *why = NULL;
	size_t len = 0;
	enum proxy_status st = proxy_parse(mode, p, n, &len, &h, &why);
	if (!why)
		abort();
	switch (st) {
	case PROXY_NEED:
		if (len <= n || len > PROXY_V2_MAX)
			abort();
		break;
	case PROXY_DONE:
		if (len == 0 || len > n || len > PROXY_V2_MAX)
			abort();
		if (h.version != 1 && h.version != 2)
			abort();
		if (h.has_addr &&
		    (h.src.ss_family != h.dst.ss_family || (h.src.ss_family != AF_INET && h.src.ss_family != AF_INET6)))
			abort();
		/* Prefixes of a complete header wait (bounded: quadratic). */
		for (size_t i = len > 300 ? len - 300 : 0; i < len; i++) {
			size_t l2 = 0;
			struct proxy_hdr h2;
			if (proxy_parse(mode, p, i, &l2, &h2, &why) != PROXY_NEED || l2 <= i)
				abort();
		}
		if (h.has_addr) {
			bool v4 = h.src.ss_family == AF_INET;
			struct config_cidr c = { .family = v4 ? 4 : 6,
						 .bits = (uint8_t)((data[0] >> 2) % (v4 ? 33 : 129)) };
			(void)proxy_from_allows(&h.src, &c, 1);
		}
		break;
	case PROXY_BAD:
		if (!why[0])
			abort();
		break;
	default:
		abort();
	}
	free(p);
	return 0;
}
