/* sftp_sync: fsync@openssh.com, whose fsync takes as long as the disk
 * needs: an I/O job (event/jobs.h) on a descriptor of its own (the
 * handle's, duplicated), never on the loop, whose other sessions (their
 * logins too) would wait for the disk meanwhile.
 *
 * The CLOSE of a durable upload ([transfer] fsync, README "What uploads
 * guarantee") is one too: its commit (files_upload_end: the file's fsync,
 * the rename of a temporary into place, the directory's fsync) runs as
 * the job, which owns the upload, and OK is sent only once it succeeded,
 * as FTP's 226 (ftp/session_jobs.c).
 *
 * Like check-file (sftp_check.c): the request stays at the front of the
 * input while its job runs, the requests behind it (a CLOSE of the same
 * handle, say) waiting, and the job's end wakes the session. A channel
 * that ends meanwhile leaves the job to finish and free itself. */
#include <stdlib.h>

#include "sftp_server_impl.h"
#include "util.h"
#include "vfs.h"

struct sftp_sync {
	struct job job;
	struct sftp_server *srv; /* NULL once the channel ended: the job frees itself */
	int fd;			 /* owned; -1 for a commit */
	struct vfs_upload *up;	 /* a commit's: owned until the job ends it */
	const char *vpath;	 /* the handle's (borrowed: it outlives the job while srv is set) */
	bool commit;		 /* a CLOSE's commit (else fsync@openssh.com) */
	bool done;
	int err;
};

static void sync_run(struct job *j, void *thread_ctx)
{
	(void)thread_ctx;
	struct sftp_sync *s = container_of(j, struct sftp_sync, job);
	if (s->up) {
		/* Even for a channel that ended meanwhile: the upload was
		 * complete and its commit decided; only the reply is lost. */
		s->err = files_upload_end(s->up, true, false);
		s->up = NULL;
		return;
	}
	s->err = vfs_fd_sync(s->fd);
}

static void sync_done(struct job *j)
{
	struct sftp_sync *s = container_of(j, struct sftp_sync, job);
	if (s->fd >= 0)
		vfs_fd_close(s->fd);
	s->fd = -1;
	s->done = true;
	if (!s->srv) {
		free(s);
		return;
	}
	s->srv->c.wake(s->srv->c.wake_arg);
}

static void sync_submit(struct sftp_server *srv, int fd, struct vfs_upload *up, const char *vpath)
{
	struct sftp_sync *s = util_xcalloc(1, sizeof(*s));
	s->srv = srv;
	s->fd = fd;
	s->up = up;
	s->vpath = vpath;
	s->commit = up != NULL;
	s->job = (struct job){ .run = sync_run, .done = sync_done, .owner = srv->c.loop, .io = true };
	srv->sync = s;
	jobs_submit(srv->c.jobs, &s->job);
}

/* The job at the front of the input: still running (true: the session
 * waits, its end wakes it), or none (*ended false), or ended (*ended true,
 * *err its result, the job freed). */
static bool front_running(struct sftp_server *srv, bool *ended, int *err)
{
	struct sftp_sync *s = srv->sync;
	*ended = false;
	if (!s)
		return false;
	if (!s->done)
		return true;
	srv->sync = NULL;
	*ended = true;
	*err = s->err;
	free(s);
	return false;
}

bool sftp_sync_step(struct sftp_server *srv, const struct sftp_req *r, struct buf *out)
{
	bool ended;
	int err;
	if (front_running(srv, &ended, &err))
		return false;
	if (ended) {
		(void)sftp_reply_errno(out, r->id, err);
		return true;
	}
	int hfd;
	const char *vpath;
	if (sftp_files_handle_fd(srv, r->handle, &hfd, &vpath) != 0) {
		(void)sftp_put_status(out, r->id, SFTP_FAILURE, "Invalid handle");
		return true;
	}
	int fd = vfs_fd_dup(hfd);
	if (fd < 0) {
		(void)sftp_reply_errno(out, r->id, fd);
		return true;
	}
	sync_submit(srv, fd, NULL, vpath);
	return false;
}

bool sftp_commit_step(struct sftp_server *srv, const struct sftp_req *r, struct buf *out)
{
	bool ended;
	int err;
	if (front_running(srv, &ended, &err))
		return false;
	if (ended) {
		sftp_files_commit_end(srv, r, err, out);
		return true;
	}
	const char *vpath;
	struct vfs_upload *up = sftp_files_commit_begin(srv, r->handle, &vpath);
	if (!up) {
		sftp_files_close(srv, r, out);
		return true;
	}
	sync_submit(srv, -1, up, vpath);
	return false;
}

bool sftp_sync_waiting(const struct sftp_server *srv)
{
	return srv->sync && !srv->sync->done;
}

bool sftp_server_syncing(const struct sftp_server *srv, const char **what, const char **path)
{
	if (!srv->sync)
		return false;
	*what = srv->sync->commit ? "commit" : "fsync";
	*path = srv->sync->vpath ? srv->sync->vpath : "";
	return true;
}

void sftp_sync_cancel(struct sftp_server *srv)
{
	struct sftp_sync *s = srv->sync;
	srv->sync = NULL;
	if (!s)
		return;
	if (s->done)
		free(s);
	else
		s->srv = NULL; /* sync_done frees it */
}
