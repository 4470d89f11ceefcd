/* libFuzzer driver: the argument parsers of src/parse.c (numbers,
 * durations, host:port, port ranges, MFMT times, IP literals) and the
 * escaping of echoed client text (str_escape, reply_sanitize). The first
 * byte picks the parser; the rest is the argument, as an unterminated slice
 * (parse_is_ip gets a NUL-terminated copy). Results are checked against
 * the documented ranges. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "reply.h"
#include "str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned which = data[0];
	/* A heap copy of exactly the argument: ASan sees any read past it. */
	char *arg = malloc(size);
	if (!arg)
		return 0;
	memcpy(arg, data + 1, size - 1);
	struct slice s = { arg, size - 1 };
	switch (which % 8) {
	case 0: {
		uint64_t v = 0, max = which & 0x80 ? UINT64_MAX : 65535;
		if (parse_u64(s, max, &v) == 0 && v > max)
			abort();
		break;
	}
	case 1: {
		uint64_t ms = 0;
		if (parse_duration_ms(s, 24ull * 3600 * 1000, &ms) == 0 && ms > 24ull * 3600 * 1000)
			abort();
		break;
	}
	case 2: {
		char host[64];
		uint16_t port = 0;
		if (parse_hostport(s, host, sizeof(host), &port) == 0 && strnlen(host, sizeof(host)) == sizeof(host))
			abort();
		break;
	}
	case 3: {
		uint16_t lo = 0, hi = 0;
		if (parse_port_range(s, &lo, &hi) == 0 && lo > hi)
			abort();
		break;
	}
	case 4: {
		int64_t sec = 0;
		long nsec = 0;
		if (parse_time_val(s, &sec, &nsec) == 0 && (nsec < 0 || nsec > 999999999))
			abort();
		break;
	}
	case 5: {
		char *z = malloc(s.n + 1);
		int fam = 0;
		if (!z)
			break;
		memcpy(z, s.p, s.n);
		z[s.n] = '\0';
		(void)parse_is_ip(z, &fam);
		free(z);
		break;
	}
	case 6: {
		char out[64];
		(void)str_escape(s, out, (which >> 3) % sizeof(out) + 1);
		if (strlen(out) >= (which >> 3) % sizeof(out) + 1)
			abort();
		break;
	}
	default: {
		char out[300];
		(void)reply_sanitize(s, out, sizeof(out));
		for (const char *c = out; *c; c++)
			if (*c == '\r' || *c == '\n')
				abort(); /* an echoed name must never end a reply line */
		break;
	}
	}
	free(arg);
	return 0;
}
