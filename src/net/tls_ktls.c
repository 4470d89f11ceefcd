/* tls_ktls: whether PROT P data connections ask OpenSSL for kernel TLS.
 * With it the kernel encrypts the records (the "tls" TCP upper-layer
 * protocol), so a download goes from the page cache to the socket with
 * sendfile(2) (SSL_sendfile) and never through user space. OpenSSL falls
 * back to user space on its own when the kernel refuses a connection, but
 * the attempt costs a failing setsockopt per connection and says nothing,
 * so the machine is asked once, when a TLS context is built, and the
 * answer is logged. */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/opensslconf.h>

#include "str.h"

/* The kernel's internal ENOTSUPP, which older kernels let escape from
 * setsockopt(TCP_ULP) on an unconnected socket: the ULP exists there too. */
#define TLS_KERNEL_ENOTSUPP 524

#ifdef OPENSSL_NO_KTLS
#define TLS_OPENSSL_KTLS false
#else
#define TLS_OPENSSL_KTLS true
#endif

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

static const char tls_ulp_file[] = "/proc/sys/net/ipv4/tcp_available_ulp";

/* list: names separated by spaces (the kernel's format), maybe a newline. */
static bool tls_word_in(const char *list, const char *word)
{
	struct slice rest = slice_from_cstr(list), w = slice_from_cstr(word);
	while (rest.n) {
		size_t i = 0;
		while (i < rest.n && (rest.p[i] == ' ' || rest.p[i] == '\t' || rest.p[i] == '\n'))
			i++;
		size_t j = i;
		while (j < rest.n && rest.p[j] != ' ' && rest.p[j] != '\t' && rest.p[j] != '\n')
			j++;
		if (j - i == w.n && memcmp(rest.p + i, w.p, w.n) == 0)
			return true;
		rest = (struct slice){ rest.p + j, rest.n - j };
	}
	return false;
}

bool tls_ktls_decide(const struct tls_ktls_facts *f, char *reason, size_t reasonsz)
{
	if (f->off) {
		(void)snprintf(reason, reasonsz, "[tls] ktls = off");
		return false;
	}
	if (!f->openssl) {
		(void)snprintf(reason, reasonsz, "the OpenSSL library was built without kernel TLS");
		return false;
	}
	if (f->probe_errno == 0 || f->probe_errno == ENOTCONN || f->probe_errno == TLS_KERNEL_ENOTSUPP) {
		(void)snprintf(reason, reasonsz, "the kernel has the tls ULP; PROT P downloads use SSL_sendfile");
		return true;
	}
	if (f->ulps && tls_word_in(f->ulps, "tls")) {
		(void)snprintf(reason, reasonsz, "tcp_available_ulp lists tls; PROT P downloads use SSL_sendfile");
		return true;
	}
	char list[96];
	if (f->ulps) {
		/* SECURITY: only printable text reaches the log. */
		struct slice l = slice_from_cstr(f->ulps);
		while (l.n && (l.p[l.n - 1] == '\n' || l.p[l.n - 1] == ' '))
			l.n--;
		(void)str_escape(l, list, sizeof(list));
		(void)snprintf(reason, reasonsz, "the kernel has no tls ULP (tcp_available_ulp: %s)",
			       list[0] ? list : "empty");
	} else if (f->probe_errno == ENOENT) {
		/* No such ULP, and none this process could load: conclusive. */
		(void)snprintf(reason, reasonsz, "the kernel has no tls ULP (setsockopt TCP_ULP: %s)",
			       strerror(ENOENT));
	} else {
		(void)snprintf(reason, reasonsz, "no tls ULP found (setsockopt TCP_ULP: %s; %s: %s)",
			       f->probe_errno > 0 ? strerror(f->probe_errno) : "not tried", tls_ulp_file,
			       strerror(f->ulps_errno));
	}
	return false;
}

/* setsockopt(TCP_ULP) finds the ULP (loading its module when the caller
 * may) before the ULP itself refuses a socket that is not connected. */
static int tls_probe_ulp(void)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	int r = setsockopt(s, IPPROTO_TCP, TCP_ULP, "tls", 3) == 0 ? 0 : errno;
	(void)close(s);
	return r;
}

static int tls_read_ulps(char *buf, size_t bufsz)
{
	int fd = open(tls_ulp_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	ssize_t n;
	do
		n = read(fd, buf, bufsz - 1);
	while (n < 0 && errno == EINTR);
	int e = n < 0 ? errno : 0;
	(void)close(fd);
	if (n < 0)
		return e;
	buf[n] = '\0';
	return 0;
}

bool tls_ktls_probe(bool off, char *reason, size_t reasonsz)
{
	char ulps[256];
	struct tls_ktls_facts f = { .off = off, .openssl = TLS_OPENSSL_KTLS, .probe_errno = -1 };
	if (!off && f.openssl) {
		f.probe_errno = tls_probe_ulp();
		f.ulps_errno = tls_read_ulps(ulps, sizeof(ulps));
		f.ulps = f.ulps_errno ? NULL : ulps;
	}
	return tls_ktls_decide(&f, reason, reasonsz);
}
