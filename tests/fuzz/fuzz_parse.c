/* libFuzzer driver: the argument parsers of src/base/parse.c (numbers,
 * durations, host:port, port ranges, MFMT times, IP literals, the PORT,
 * EPRT and EPSV arguments) and the
 * escaping of echoed client text (str_escape, reply_sanitize). The first
 * byte picks the parser; the rest is the argument, as an unterminated slice
 * (parse_is_ip gets a NUL-terminated copy). Results are checked against
 * the documented ranges. */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
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
	switch (which % 11) {
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
	case 8: {
		/* A PORT target formats back into an argument that parses to it. */
		struct sockaddr_storage t, again;
		if (parse_port_arg(s, &t) != 0)
			break;
		const struct sockaddr_in *a = (const struct sockaddr_in *)&t;
		const uint8_t *ip = (const uint8_t *)&a->sin_addr;
		unsigned port = ntohs(a->sin_port);
		char text[32];
		(void)snprintf(text, sizeof(text), "%u,%u,%u,%u,%u,%u", ip[0], ip[1], ip[2], ip[3], port >> 8,
			       port & 255);
		if (a->sin_family != AF_INET || parse_port_arg(slice_from_cstr(text), &again) != 0 ||
		    memcmp(&t, &again, sizeof(t)) != 0)
			abort();
		break;
	}
	case 9: {
		struct sockaddr_storage t;
		int af = -1;
		int r = parse_eprt_arg(s, &af, &t);
		/* af is known exactly when the parser got past the af field. */
		if ((r == 0 || r == -EADDRNOTAVAIL) && af != 1 && af != 2)
			abort();
		if ((r == -EAFNOSUPPORT && af != 0) || (r && r != -EINVAL && r != -EAFNOSUPPORT && r != -EADDRNOTAVAIL))
			abort();
		if (r == 0) {
			int fam = af == 1 ? AF_INET : AF_INET6;
			in_port_t port = fam == AF_INET ? ((const struct sockaddr_in *)&t)->sin_port
							: ((const struct sockaddr_in6 *)&t)->sin6_port;
			if (t.ss_family != fam || port == 0)
				abort();
		}
		break;
	}
	case 10: {
		enum parse_epsv e = PARSE_EPSV_ANY;
		if (parse_epsv_arg(s, &e) == 0 && e != PARSE_EPSV_ANY && e != PARSE_EPSV_ALL && e != PARSE_EPSV_V4 &&
		    e != PARSE_EPSV_V6)
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
