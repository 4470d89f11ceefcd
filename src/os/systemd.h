/* systemd: the only libsystemd user. Listening sockets passed by socket
 * activation (LISTEN_FDS) and service state reports (sd_notify). Both are
 * no-ops when ferryd is not started by systemd. */
#ifndef FERRY_SYSTEMD_H
#define FERRY_SYSTEMD_H

#include <stdbool.h>
#include <stddef.h>

/* Names (FileDescriptorName=) that mark a passed socket as implicit FTPS
 * or as SFTP; any other name is a plain FTP listener. */
#define SYSTEMD_FDNAME_IMPLICIT "ftps"
#define SYSTEMD_FDNAME_SFTP "sftp"

/* Takes the sockets passed by socket activation: 0 with *n = 0 when there
 * are none. Each fd is checked to be a listening stream socket and made
 * non-blocking and close-on-exec; implicit[i] is true for sockets named
 * SYSTEMD_FDNAME_IMPLICIT, sftp[i] for those named SYSTEMD_FDNAME_SFTP.
 * The caller owns the fds. At most max sockets; more is an error (message
 * in err). */
int systemd_listen_fds(int *fds, bool *implicit, bool *sftp, size_t max, size_t *n, char *err, size_t errsz);

/* Sends one state report ("READY=1", "STATUS=...") to the service manager;
 * silently nothing without NOTIFY_SOCKET. state is borrowed. */
void systemd_notify(const char *state);

/* Like systemd_notify for a reload start: RELOADING=1 with MONOTONIC_USEC,
 * as Type=notify-reload expects. */
void systemd_notify_reloading(void);

#endif
