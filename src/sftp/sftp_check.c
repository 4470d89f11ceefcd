/* sftp_check: check-file-name and check-file-handle (draft-ietf-secsh-
 * filexfer-extensions-00 §3; paramiko's "check-file" is the handle form):
 * the digests of a range of a file, whole or per block, computed by
 * core/hash.c (FTP's HASH code) on the job pool, never on the loop.
 *
 * Requests are answered in order, so the request stays at the front of
 * the input while its job runs (sftp_server_feed asks again each turn:
 * sftp_check_step answers false until the job is done), the requests
 * behind it waiting; the job's end wakes the session (conf.wake), which
 * then writes the reply and goes on. The job owns what it reads (its own
 * descriptor of the file: the handle's duplicated, or the file opened by
 * name) and one of the user's [limits] hash_jobs slots, given back when it
 * ends; a channel that ends meanwhile cancels it (hash_fd_blocks polls the
 * flag between reads) and the job frees itself. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "path.h"
#include "sftp_server_impl.h"
#include "util.h"
#include "vfs.h"

/* The digests of one reply (a SHA-512 per block: 2048 blocks; MD5: 8192),
 * well inside a packet (SFTP_MAX_PACKET). */
#define SFTP_CHECK_MAX_REPLY (128u * 1024u)
/* The smallest block (the draft's minimum). */
#define SFTP_CHECK_MIN_BLOCK 256u

struct sftp_check {
	struct job job;
	atomic_bool cancel;
	struct sftp_server *srv; /* NULL once the channel ended: the job frees itself */
	struct hash_limit *lim;
	char *user; /* holds one of its hash_jobs slots until the job ends */
	uint64_t sid;
	uint32_t id; /* the request's */
	int fd;	     /* owned */
	enum hash_alg alg;
	uint64_t offset, count, block;
	unsigned char *digests;
	size_t n; /* bytes of digests */
	bool done;
	int err;
};

static void check_free(struct sftp_check *c)
{
	free(c->user);
	free(c->digests);
	free(c);
}

static void check_run(struct job *j, void *thread_ctx)
{
	struct sftp_check *c = container_of(j, struct sftp_check, job);
	c->err = hash_fd_blocks(c->fd, c->alg, c->offset, c->count, c->block, &c->cancel, c->digests, c->n);
}

static void check_done(struct job *j)
{
	struct sftp_check *c = container_of(j, struct sftp_check, job);
	vfs_fd_close(c->fd);
	c->fd = -1;
	hash_limit_release(c->lim, c->user);
	log_info(c->sid, "sftp: check-file end: result=%s",
		 c->err == 0		? "ok"
		 : c->err == -ECANCELED ? "cancelled"
					: "error");
	c->done = true;
	if (!c->srv) {
		check_free(c);
		return;
	}
	c->srv->c.wake(c->srv->c.wake_arg);
}

/* The file to hash, as a descriptor of its own: 0, or a STATUS in out
 * (-1). */
static int open_target(struct sftp_server *srv, const struct sftp_req *r, struct buf *out, int *fd,
		       char vpath[PATH_MAX])
{
	if (r->ext == SFTP_EXT_CHECK_FILE_HANDLE) {
		int hfd;
		const char *hpath;
		/* Only a handle open for reading: the read permission was
		 * asked when it was opened. */
		if (sftp_files_read_fd(srv, r->handle, &hfd, &hpath) != 0) {
			(void)sftp_put_status(out, r->id, SFTP_FAILURE, "Invalid handle");
			return -1;
		}
		*fd = vfs_fd_dup(hfd);
		if (*fd < 0) {
			(void)sftp_reply_errno(out, r->id, *fd);
			return -1;
		}
		(void)snprintf(vpath, PATH_MAX, "%s", hpath);
		return 0;
	}
	struct files_read fr;
	int e = memchr(r->path.p, '\0', r->path.n) ? -EINVAL
						   : files_resolve(&srv->c.fu, FILES_OP_READ, "/", r->path, vpath);
	if (e == 0)
		e = files_open_read(&srv->c.fu, vpath, 0, &fr);
	if (e) {
		(void)sftp_reply_errno(out, r->id, e);
		return -1;
	}
	*fd = fr.fd;
	return 0;
}

/* Checks the request and starts its job: false while it runs, true when
 * it was answered at once (an error). */
static bool check_start(struct sftp_server *srv, const struct sftp_req *r, struct buf *out)
{
	enum hash_alg alg;
	if (r->block_size != 0 && r->block_size < SFTP_CHECK_MIN_BLOCK) {
		(void)sftp_put_status(out, r->id, SFTP_FAILURE, "Block size must be 0 or at least 256");
		return true;
	}
	if (sftp_check_alg_pick(r->algs, &alg) != 0) {
		(void)sftp_put_status(out, r->id, SFTP_OP_UNSUPPORTED,
				      "No supported hash algorithm (md5, sha1, sha256, sha512, crc32)");
		return true;
	}
	char vpath[PATH_MAX];
	int fd = -1;
	if (open_target(srv, r, out, &fd, vpath) != 0)
		return true;
	struct stat st;
	int e = vfs_fstat(fd, &st);
	const char *why = NULL;
	uint64_t size = e == 0 && st.st_size > 0 ? (uint64_t)st.st_size : 0, count = 0;
	if (e == 0 && !S_ISREG(st.st_mode))
		why = "Not a regular file";
	else if (e == 0 && r->offset > size)
		why = "Start offset past the end of the file";
	if (e == 0 && !why) {
		count = size - r->offset;
		if (r->length && r->length < count)
			count = r->length;
		uint64_t blocks = hash_block_count(count, r->block_size);
		if (blocks > SFTP_CHECK_MAX_REPLY / hash_alg_size(alg))
			why = "Too many blocks: ask for larger blocks or a shorter range";
		else if (!hash_limit_acquire(srv->c.hashlim, srv->c.user, srv->c.hash_jobs))
			why = "Too many checksums running: [limits] hash_jobs";
	}
	if (e || why) {
		vfs_fd_close(fd);
		if (e)
			(void)sftp_reply_errno(out, r->id, e);
		else
			(void)sftp_put_status(out, r->id, SFTP_FAILURE, why);
		return true;
	}
	struct sftp_check *c = util_xcalloc(1, sizeof(*c));
	c->srv = srv;
	c->lim = srv->c.hashlim;
	c->user = util_xstrdup(srv->c.user);
	c->sid = srv->c.sid;
	c->id = r->id;
	c->fd = fd;
	c->alg = alg;
	c->offset = r->offset;
	c->count = count;
	c->block = r->block_size;
	c->n = (size_t)hash_block_count(count, r->block_size) * hash_alg_size(alg);
	c->digests = util_xcalloc(1, c->n ? c->n : 1);
	c->job = (struct job){ .run = check_run, .done = check_done, .owner = srv->c.loop };
	srv->check = c;
	struct log_escaped esc;
	log_info(srv->c.sid, "sftp: check-file: alg=%s offset=%llu length=%llu block=%u path=\"%s\"",
		 sftp_check_alg_name(alg), (unsigned long long)c->offset, (unsigned long long)count,
		 (unsigned)r->block_size, log_esc(slice_from_cstr(vpath), &esc));
	jobs_submit(srv->c.jobs, &c->job);
	return false;
}

bool sftp_check_step(struct sftp_server *srv, const struct sftp_req *r, struct buf *out)
{
	struct sftp_check *c = srv->check;
	if (!c)
		return check_start(srv, r, out);
	if (!c->done)
		return false; /* its end wakes the session */
	srv->check = NULL;
	if (c->err)
		(void)sftp_reply_errno(out, r->id, c->err);
	else if (sftp_put_check_file(out, r->id, sftp_check_alg_name(c->alg), c->digests, c->n) != 0)
		(void)sftp_put_status(out, r->id, SFTP_FAILURE, "Out of buffer space");
	check_free(c);
	return true;
}

bool sftp_check_waiting(const struct sftp_server *srv)
{
	return srv->check && !srv->check->done;
}

void sftp_check_cancel(struct sftp_server *srv)
{
	struct sftp_check *c = srv->check;
	srv->check = NULL;
	if (!c)
		return;
	if (c->done) {
		check_free(c);
		return;
	}
	atomic_store(&c->cancel, true);
	c->srv = NULL; /* check_done frees it */
}
