#include "daemon_clean.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "files.h"
#include "jobs.h"
#include "log.h"
#include "userstore.h"
#include "util.h"
#include "vfs.h"

struct clean_job {
	struct job job;
	int64_t before, partial_before;
	unsigned removed, homes, folders;
	char **seen;
	size_t n_seen;
};

#define CLEAN_MAX_ENTRIES 1000000ul
#define CLEAN_MIN_AGE_S 600

/* A home, or a shared folder's directory (folder: counted as one). */
static int clean_dir(struct clean_job *c, const char *dir, bool folder)
{
	for (size_t i = 0; i < c->n_seen; i++)
		if (strcmp(c->seen[i], dir) == 0)
			return 0;
	c->seen = realloc(c->seen, (c->n_seen + 1) * sizeof(*c->seen));
	if (!c->seen)
		return -ENOMEM;
	c->seen[c->n_seen++] = util_xstrdup(dir);
	unsigned n = 0;
	int r = vfs_clean_stale_uploads(dir, c->before, c->partial_before, CLEAN_MAX_ENTRIES, &n);
	if (r == -E2BIG)
		log_warn(0, "stale upload clean-up stopped after %lu entries in %s", CLEAN_MAX_ENTRIES, dir);
	c->removed += n;
	*(folder ? &c->folders : &c->homes) += 1;
	return 0;
}

static int clean_user(const struct user_record *u, void *arg)
{
	return clean_dir(arg, u->home, false);
}

static int clean_folder(const char *dir, void *arg)
{
	return clean_dir(arg, dir, true);
}

static void clean_run(struct job *j, void *ctx)
{
	struct clean_job *c = container_of(j, struct clean_job, job);
	struct store_handle *h = ctx;
	if (h && h->store && h->ops->list(h->store, clean_user, c) != 0)
		log_warn(0, "stale upload clean-up: cannot list the users");
	if (h && h->store && files_space_dirs(h->ops, h->store, clean_folder, c) != 0)
		log_warn(0, "stale upload clean-up: cannot list the shared folders");
}

static void clean_done(struct job *j)
{
	struct clean_job *c = container_of(j, struct clean_job, job);
	if (c->removed)
		log_warn(0, "removed %u stale upload temporaries (left by an earlier ferryd that did not exit cleanly)",
			 c->removed);
	log_info(0, "stale upload clean-up done: %u home(s) looked at, %u shared folder(s)", c->homes, c->folders);
	for (size_t i = 0; i < c->n_seen; i++)
		free(c->seen[i]);
	free(c->seen);
	free(c);
}

void daemon_clean_start(struct jobs *jobs, struct loop *owner, const struct config *cfg)
{
	struct clean_job *c = util_xcalloc(1, sizeof(*c));
	int64_t age = (int64_t)cfg->data_timeout_ms / 1000 * 2;
	c->before = util_wall_s() - (age > CLEAN_MIN_AGE_S ? age : CLEAN_MIN_AGE_S);
	/* Resumable partials live [transfer] partial_keep (0: none are kept). */
	c->partial_before = util_wall_s() - (int64_t)(cfg->partial_keep_ms / 1000);
	/* An I/O job: a walk of every home may take seconds on a slow disk,
	 * and must not hold a thread logins need (event/jobs.h). */
	c->job = (struct job){ .run = clean_run, .done = clean_done, .owner = owner, .io = true };
	jobs_submit(jobs, &c->job);
}
