/* Unit tests for tls_ktls.c: whether PROT P data connections ask for
 * kernel TLS, decided from the answers of machines with and without the
 * tls ULP (fed in), and this machine's own answer checked against the same
 * two questions asked independently. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls.h"

static bool decide(int probe, const char *ulps, int ulps_errno, char *why, size_t n)
{
	struct tls_ktls_facts f = { .openssl = true, .probe_errno = probe, .ulps = ulps, .ulps_errno = ulps_errno };
	return tls_ktls_decide(&f, why, n);
}

static void test_ktls_decide(void **state)
{
	char why[200];
	/* This machine's kind: no tls module, no way to load one. */
	assert_false(decide(ENOENT, "mptcp\n", 0, why, sizeof(why)));
	assert_string_equal(why, "the kernel has no tls ULP (tcp_available_ulp: mptcp)");
	assert_false(decide(ENOENT, "\n", 0, why, sizeof(why)));
	assert_string_equal(why, "the kernel has no tls ULP (tcp_available_ulp: empty)");
	/* A name that only contains "tls" is not it. */
	assert_false(decide(ENOENT, "tlsx mptcp espintcp\n", 0, why, sizeof(why)));
	/* No list to read (Landlock at a reload): the probe alone decides. */
	assert_false(decide(ENOENT, NULL, EACCES, why, sizeof(why)));
	assert_string_equal(why, "the kernel has no tls ULP (setsockopt TCP_ULP: No such file or directory)");
	/* Neither question answered (a sandbox, no /proc). */
	assert_false(decide(EPERM, NULL, EACCES, why, sizeof(why)));
	assert_string_equal(why, "no tls ULP found (setsockopt TCP_ULP: Operation not permitted; "
				 "/proc/sys/net/ipv4/tcp_available_ulp: Permission denied)");
	assert_false(decide(-1, NULL, ENOENT, why, sizeof(why)));
	assert_non_null(strstr(why, "setsockopt TCP_ULP: not tried"));
	/* Client text never, but the list is escaped before it is logged. */
	assert_false(decide(ENOENT, "mp\x1btcp\n", 0, why, sizeof(why)));
	assert_null(strchr(why, '\x1b'));

	/* The ULP exists: the module was loaded (listed), or the probe found
	 * it and it refused only the unconnected socket (ENOTCONN; older
	 * kernels leak ENOTSUPP, 524). */
	assert_true(decide(ENOENT, "espintcp mptcp tls\n", 0, why, sizeof(why)));
	assert_string_equal(why, "tcp_available_ulp lists tls; PROT P downloads use SSL_sendfile");
	assert_true(decide(-1, "tls", 0, why, sizeof(why)));
	assert_true(decide(ENOTCONN, "mptcp\n", 0, why, sizeof(why)));
	assert_string_equal(why, "the kernel has the tls ULP; PROT P downloads use SSL_sendfile");
	assert_true(decide(524, NULL, EACCES, why, sizeof(why)));
	assert_true(decide(0, NULL, EACCES, why, sizeof(why)));

	/* Switched off, or an OpenSSL without it: whatever the kernel has. */
	struct tls_ktls_facts f = { .off = true, .openssl = true, .probe_errno = ENOTCONN, .ulps = "tls" };
	assert_false(tls_ktls_decide(&f, why, sizeof(why)));
	assert_string_equal(why, "[tls] ktls = off");
	f.off = false;
	f.openssl = false;
	assert_false(tls_ktls_decide(&f, why, sizeof(why)));
	assert_string_equal(why, "the OpenSSL library was built without kernel TLS");
}

/* This machine, asked the same two questions independently. */
static void test_ktls_probe_here(void **state)
{
	char why[200], ulps[256] = "";
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");
	if (f) {
		if (!fgets(ulps, sizeof(ulps), f))
			ulps[0] = '\0';
		(void)fclose(f);
	}
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s >= 0);
	int pr = setsockopt(s, IPPROTO_TCP, TCP_ULP, "tls", 3) == 0 ? 0 : errno;
	(void)close(s);
	bool have = pr == 0 || pr == ENOTCONN || pr == 524;
	for (const char *w = ulps; !have && (w = strstr(w, "tls")) != NULL; w += 3)
		have = (w == ulps || w[-1] == ' ') && (w[3] == ' ' || w[3] == '\n' || w[3] == '\0');
	bool got = tls_ktls_probe(false, why, sizeof(why));
	print_message("tls_ktls_probe: %s: %s\n", got ? "available" : "unavailable", why);
	assert_int_equal(got, have);
	assert_false(tls_ktls_probe(true, why, sizeof(why)));
	assert_string_equal(why, "[tls] ktls = off");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ktls_decide),
		cmocka_unit_test(test_ktls_probe_here),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
