/* daemon_clean: the start-up clean-up of upload temporaries a killed ferryd
 * left (fs/vfs_clean.c) in every user's home and every shared folder's
 * directory, on the job pool so the server answers meanwhile. Two jobs in
 * turn: the store's list of homes and folders (a job like a login's, on a
 * thread with a store handle), then the walk of those directories, which
 * may take seconds on a slow disk: an I/O job (event/jobs.h), so it never
 * holds a thread logins need. */
#ifndef FERRY_DAEMON_CLEAN_H
#define FERRY_DAEMON_CLEAN_H

#include <stdatomic.h>

#include "config.h"

struct jobs;
struct loop;

/* Submits the clean-up to jobs; it logs what it removed when done, on
 * owner's loop. stop (borrowed; set on owner's loop, before jobs_stop):
 * once set, the walk is not started, or ends before its next directory. */
void daemon_clean_start(struct jobs *jobs, struct loop *owner, const struct config *cfg, const atomic_bool *stop);

#endif
