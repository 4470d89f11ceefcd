#include "writebehind.h"

#include <stdlib.h>

#include "jobs.h"
#include "util.h"
#include "vfs.h"

struct writebehind_job {
	struct job job;
	int fd;		       /* its own descriptor of the upload's file */
	struct writebehind *w; /* NULL once the upload ended */
};

static void wb_run(struct job *j, void *ctx)
{
	struct writebehind_job *b = container_of(j, struct writebehind_job, job);
	(void)ctx;
	vfs_upload_writebehind(b->fd);
	vfs_fd_close(b->fd);
}

/* On the upload's loop. */
static void wb_done(struct job *j)
{
	struct writebehind_job *b = container_of(j, struct writebehind_job, job);
	if (b->w)
		b->w->job = NULL;
	free(b);
}

void writebehind_add(struct writebehind *w, struct jobs *jobs, struct loop *owner, int fd, size_t n)
{
	w->unflushed += n;
	if (w->unflushed < WRITEBEHIND_BYTES || w->job || !jobs)
		return;
	int dup = vfs_fd_dup(fd);
	if (dup < 0)
		return; /* best effort: the commit's fsync does it all */
	struct writebehind_job *b = util_xcalloc(1, sizeof(*b));
	b->job = (struct job){ .run = wb_run, .done = wb_done, .owner = owner, .io = true };
	b->fd = dup;
	b->w = w;
	w->job = b;
	w->unflushed = 0;
	jobs_submit(jobs, &b->job);
}

void writebehind_forget(struct writebehind *w)
{
	if (w->job)
		w->job->w = NULL;
	*w = (struct writebehind){ 0 };
}
