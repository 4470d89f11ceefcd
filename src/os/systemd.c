#include "systemd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int make_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
		return -errno;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
		return -errno;
	return 0;
}

int systemd_listen_fds(int *fds, bool *implicit, bool *sftp, size_t max, size_t *n, char *err, size_t errsz)
{
	char **names = NULL;
	*n = 0;
	/* unset_environment: the variables describe this process only; a
	 * program ferryd ever runs must not believe they are its own. */
	int got = sd_listen_fds_with_names(1, &names);
	if (got < 0) {
		(void)snprintf(err, errsz, "socket activation: %s", strerror(-got));
		return got;
	}
	int r = 0;
	if ((size_t)got > max) {
		(void)snprintf(err, errsz, "socket activation: %d sockets passed, at most %zu supported", got, max);
		r = -E2BIG;
		goto fail;
	}
	for (int i = 0; i < got; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		/* SECURITY: only listening stream sockets; an inherited file or a
		 * connected socket would be served as if it were a listener. */
		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
			(void)snprintf(err, errsz, "socket activation: fd %d is not a listening stream socket", fd);
			r = -EINVAL;
			goto fail;
		}
		r = make_nonblocking(fd);
		if (r) {
			(void)snprintf(err, errsz, "socket activation: fd %d: %s", fd, strerror(-r));
			goto fail;
		}
		fds[i] = fd;
		implicit[i] = names && names[i] && strcmp(names[i], SYSTEMD_FDNAME_IMPLICIT) == 0;
		sftp[i] = names && names[i] && strcmp(names[i], SYSTEMD_FDNAME_SFTP) == 0;
	}
	*n = (size_t)got;
fail:
	if (r)
		for (int i = 0; i < got; i++)
			(void)close(SD_LISTEN_FDS_START + i);
	if (names)
		for (int i = 0; i < got; i++)
			free(names[i]);
	free(names);
	return r;
}

void systemd_notify(const char *state)
{
	int r = sd_notify(0, state);
	if (r < 0)
		log_warn(0, "sd_notify: %s", strerror(-r));
}

void systemd_notify_reloading(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	char msg[80];
	(void)snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		       (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000u);
	systemd_notify(msg);
}
