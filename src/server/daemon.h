/* daemon: binds, drops privileges, starts the job pool and the workers,
 * and handles signals through a signalfd: SIGTERM/SIGINT drain, SIGHUP
 * reloads the configuration for new sessions. */
#ifndef FERRY_DAEMON_H
#define FERRY_DAEMON_H

#include "config.h"

/* Runs the server until it has drained after SIGTERM. Takes ownership of
 * cfg. Returns the process exit status (0 on a clean stop). */
int daemon_run(struct config *cfg);

#endif
