/* daemon_clean: the start-up clean-up of upload temporaries a killed ferryd
 * left (fs/vfs_clean.c) in every user's home and every shared folder's
 * directory, on the job pool so the server answers meanwhile. */
#ifndef FERRY_DAEMON_CLEAN_H
#define FERRY_DAEMON_CLEAN_H

#include "config.h"

struct jobs;
struct loop;

/* Submits the clean-up to jobs; it logs what it removed when done, on
 * owner's loop. */
void daemon_clean_start(struct jobs *jobs, struct loop *owner, const struct config *cfg);

#endif
