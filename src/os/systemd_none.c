/* systemd_none: stands in for systemd.c in a build without libsystemd
 * (-Dsystemd=disabled). State reports are dropped; sockets passed by socket
 * activation are refused (not silently replaced by [server] listen), so a
 * unit that relies on them fails at start with the reason. */
#include "systemd.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parse.h"

int systemd_listen_fds(int *fds, bool *implicit, bool *sftp, size_t max, size_t *n, char *err, size_t errsz)
{
	*n = 0;
	/* Like sd_listen_fds: the variables count only when LISTEN_PID names
	 * this process (not a parent's left-overs). */
	const char *pid = getenv("LISTEN_PID"), *nfds = getenv("LISTEN_FDS");
	uint64_t v = 0;
	if (!pid || !nfds || parse_u64((struct slice){ pid, strlen(pid) }, UINT32_MAX, &v) != 0 ||
	    v != (uint64_t)getpid())
		return 0;
	(void)snprintf(err, errsz,
		       "socket activation: sockets were passed (LISTEN_FDS) but ferryd was built "
		       "without systemd support (meson -Dsystemd=disabled)");
	return -ENOTSUP;
}

void systemd_notify(const char *state) {}

void systemd_notify_reloading(void) {}
