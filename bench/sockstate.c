/* sockstate: a TCP socket's state in words, for FAIL messages. A stall
 * whose message says what the kernel holds (bytes the generator has not
 * read, bytes the server has not acknowledged, a FIN already received)
 * explains itself without a second run. */
#include "bench.h"

#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static const char *tcp_state_name(unsigned s)
{
	static const char *const names[] = {
		"?",	     "ESTABLISHED", "SYN_SENT",	  "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
		"TIME_WAIT", "CLOSE",	    "CLOSE_WAIT", "LAST_ACK", "LISTEN",	   "CLOSING",
	};
	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

void bench_sock_state(int fd, char *out, size_t n)
{
	if (fd < 0) {
		(void)snprintf(out, n, "closed");
		return;
	}
	struct tcp_info ti;
	socklen_t l = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) != 0) {
		(void)snprintf(out, n, "unknown (TCP_INFO: %s)", strerror(errno));
		return;
	}
	int inq = -1, outq = -1, err = 0;
	socklen_t el = sizeof(err);
	(void)ioctl(fd, SIOCINQ, &inq);
	(void)ioctl(fd, SIOCOUTQ, &outq);
	(void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
	(void)snprintf(out, n, "%s, %d bytes received and not read, %d sent and not acknowledged%s%s",
		       tcp_state_name(ti.tcpi_state), inq, outq, err ? ", error: " : "", err ? strerror(err) : "");
}
