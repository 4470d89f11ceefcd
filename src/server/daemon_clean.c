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

/* Two jobs in turn (daemon_clean.h): the listing (store reads, on a thread
 * with a store handle), then the walk (disk only, an I/O job). */
struct clean_job {
	struct job job;
	struct jobs *jobs;
	const atomic_bool *stop;
	int64_t before, partial_before;
	unsigned removed, homes, folders;
	char **dirs;	 /* to walk, each once */
	bool *is_folder; /* dirs[i] is a shared folder's directory */
	size_t n_dirs;
	bool stopped; /* the walk ended early: ferryd is stopping */
};

#define CLEAN_MAX_ENTRIES 1000000ul
#define CLEAN_MIN_AGE_S 600

/* A home, or a shared folder's directory, to walk (duplicates are dropped
 * once all are listed: dedupe_dirs). */
static int add_dir(struct clean_job *c, const char *dir, bool folder)
{
	char **dirs = realloc(c->dirs, (c->n_dirs + 1) * sizeof(*dirs));
	if (dirs)
		c->dirs = dirs;
	bool *f = dirs ? realloc(c->is_folder, (c->n_dirs + 1) * sizeof(*f)) : NULL;
	if (f)
		c->is_folder = f;
	if (!dirs || !f)
		return -ENOMEM;
	c->dirs[c->n_dirs] = util_xstrdup(dir);
	c->is_folder[c->n_dirs++] = folder;
	return 0;
}

struct dir_ref {
	const char *dir;
	size_t i; /* its place in the listing: the first one listed is kept */
};

static int dir_ref_cmp(const void *a, const void *b)
{
	const struct dir_ref *x = a, *y = b;
	int r = strcmp(x->dir, y->dir);
	return r ? r : (x->i > y->i) - (x->i < y->i);
}

/* Keeps the first listing of each directory, in the listing's order (homes
 * before shared folders). O(n log n): a node with 100,000 users used to
 * compare every home with every other one on a job thread. */
static void dedupe_dirs(struct clean_job *c)
{
	if (c->n_dirs < 2)
		return;
	struct dir_ref *refs = calloc(c->n_dirs, sizeof(*refs));
	bool *drop = calloc(c->n_dirs, sizeof(*drop));
	if (!refs || !drop) {
		free(refs);
		free(drop);
		return; /* walked twice: harmless, only slower */
	}
	for (size_t i = 0; i < c->n_dirs; i++)
		refs[i] = (struct dir_ref){ .dir = c->dirs[i], .i = i };
	qsort(refs, c->n_dirs, sizeof(*refs), dir_ref_cmp);
	for (size_t k = 1; k < c->n_dirs; k++)
		if (strcmp(refs[k].dir, refs[k - 1].dir) == 0)
			drop[refs[k].i] = true;
	size_t n = 0;
	for (size_t i = 0; i < c->n_dirs; i++) {
		if (drop[i]) {
			free(c->dirs[i]);
			continue;
		}
		c->dirs[n] = c->dirs[i];
		c->is_folder[n++] = c->is_folder[i];
	}
	c->n_dirs = n;
	free(refs);
	free(drop);
}

static int list_user(const struct user_record *u, void *arg)
{
	return add_dir(arg, u->home, false);
}

static int list_folder(const char *dir, void *arg)
{
	return add_dir(arg, dir, true);
}

static void list_run(struct job *j, void *ctx)
{
	struct clean_job *c = container_of(j, struct clean_job, job);
	struct store_handle *h = ctx;
	if (h && h->store && h->ops->list(h->store, list_user, c) != 0)
		log_warn(0, "stale upload clean-up: cannot list the users");
	if (h && h->store && files_space_dirs(h->ops, h->store, list_folder, c) != 0)
		log_warn(0, "stale upload clean-up: cannot list the shared folders");
	dedupe_dirs(c);
}

/* On an I/O thread: stops between directories once ferryd is stopping. */
static void walk_run(struct job *j, void *ctx)
{
	(void)ctx;
	struct clean_job *c = container_of(j, struct clean_job, job);
	for (size_t i = 0; i < c->n_dirs; i++) {
		if (atomic_load(c->stop)) {
			c->stopped = true;
			return;
		}
		unsigned n = 0;
		int r = vfs_clean_stale_uploads(c->dirs[i], c->before, c->partial_before, CLEAN_MAX_ENTRIES, &n);
		if (r == -E2BIG)
			log_warn(0, "stale upload clean-up stopped after %lu entries in %s", CLEAN_MAX_ENTRIES,
				 c->dirs[i]);
		c->removed += n;
		*(c->is_folder[i] ? &c->folders : &c->homes) += 1;
	}
}

static void walk_done(struct job *j)
{
	struct clean_job *c = container_of(j, struct clean_job, job);
	if (c->removed)
		log_warn(0, "removed %u stale upload temporaries (left by an earlier ferryd that did not exit cleanly)",
			 c->removed);
	if (c->stopped)
		log_info(0, "stale upload clean-up stopped early: ferryd is stopping");
	log_info(0, "stale upload clean-up done: %u home(s) looked at, %u shared folder(s)", c->homes, c->folders);
	for (size_t i = 0; i < c->n_dirs; i++)
		free(c->dirs[i]);
	free(c->dirs);
	free(c->is_folder);
	free(c);
}

/* On the owner loop, as is the stop flag's setting: once it is set, the
 * pool may be gone, and the walk is not submitted. */
static void list_done(struct job *j)
{
	struct clean_job *c = container_of(j, struct clean_job, job);
	if (!c->n_dirs || atomic_load(c->stop)) {
		c->stopped = c->n_dirs > 0;
		walk_done(j);
		return;
	}
	c->job = (struct job){ .run = walk_run, .done = walk_done, .owner = c->job.owner, .io = true };
	jobs_submit(c->jobs, &c->job);
}

void daemon_clean_start(struct jobs *jobs, struct loop *owner, const struct config *cfg, const atomic_bool *stop)
{
	struct clean_job *c = util_xcalloc(1, sizeof(*c));
	int64_t age = (int64_t)cfg->data_timeout_ms / 1000 * 2;
	c->before = util_wall_s() - (age > CLEAN_MIN_AGE_S ? age : CLEAN_MIN_AGE_S);
	/* Resumable partials live [transfer] partial_keep (0: none are kept). */
	c->partial_before = util_wall_s() - (int64_t)(cfg->partial_keep_ms / 1000);
	c->jobs = jobs;
	c->stop = stop;
	c->job = (struct job){ .run = list_run, .done = list_done, .owner = owner };
	jobs_submit(jobs, &c->job);
}
