/* sftp_files: SFTP's handles over core's file service (sftp_server.c
 * dispatches to these).
 *
 * Uploads keep Ferry's promise (README, What uploads guarantee):
 * - OPEN with TRUNC (what put, scp and every client's plain upload send)
 *   starts an upload to a temporary ([transfer] atomic_uploads) that CLOSE
 *   renames into place (files_upload_end's commit): no half file ever
 *   appears under the final name, and an upload whose connection is lost
 *   before CLOSE is discarded, the old file intact.
 * - OPEN with APPEND writes at the end of the file itself (put -a).
 * - OPEN for writing without TRUNC or APPEND writes in place at the
 *   offsets the client gives (reput: resumed uploads continue the visible
 *   file, whose size the client reads first). The file is never truncated.
 * FTP's hidden resumable partials are not used: an SFTP client resumes from
 * what it can see.
 * - With [transfer] fsync, CLOSE of an upload is answered only once its
 *   commit made it durable, as FTP's 226: the commit runs as an I/O job
 *   (sftp_sync.c's sftp_commit_step, through sftp_files_commit_begin/_end).
 *
 * Every transfer's end is one files_event (text log, xferlog, JSON,
 * metrics, hooks), named with FTP's verb for the same operation (RETR,
 * STOR, APPE) and protocol=sftp. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listing.h"
#include "path.h"
#include "sftp_server_impl.h"
#include "util.h"

enum sftp_status sftp_status_of(int err)
{
	switch (-err) {
	case 0:
		return SFTP_OK;
	case ENOENT:
	case ENOTDIR:
	case EBADF:
	case ELOOP:
		return SFTP_NO_SUCH_FILE;
	case EPERM:
	case EACCES:
	case EFAULT:
	case EROFS:
		return SFTP_PERMISSION_DENIED;
	case ENAMETOOLONG:
	case EINVAL:
		return SFTP_BAD_MESSAGE;
	case ENOSYS:
	case ENOTSUP:
		return SFTP_OP_UNSUPPORTED;
	default:
		return SFTP_FAILURE;
	}
}

int sftp_reply_errno(struct buf *out, uint32_t id, int err)
{
	const char *text = err == 0 ? "Success" : err == -EEXIST ? "File exists" : strerror(-err);
	if (err == -EXDEV) /* files_rename: from and to in different roots */
		text = "Cannot rename across a shared folder or file system boundary";
	if (err == -EDQUOT)
		text = "Quota exceeded: the upload is discarded";
	return sftp_put_status(out, id, sftp_status_of(err), text);
}

void sftp_statvfs_fields(const struct statvfs *sv, uint64_t f[11])
{
	/* statvfs@openssh.com's order; its flags: read-only 1, nosuid 2. */
	const uint64_t v[11] = {
		sv->f_bsize,  sv->f_frsize,
		sv->f_blocks, sv->f_bfree,
		sv->f_bavail, sv->f_files,
		sv->f_ffree,  sv->f_favail,
		sv->f_fsid,   ((sv->f_flag & ST_RDONLY) ? 1u : 0u) | ((sv->f_flag & ST_NOSUID) ? 2u : 0u),
		sv->f_namemax
	};
	memcpy(f, v, sizeof(v));
}

void sftp_attrs_from_stat(const struct stat *st, struct sftp_attrs *a)
{
	*a = (struct sftp_attrs){
		.flags = SFTP_ATTR_SIZE | SFTP_ATTR_UIDGID | SFTP_ATTR_PERMISSIONS | SFTP_ATTR_ACMODTIME,
		.size = st->st_size > 0 ? (uint64_t)st->st_size : 0,
		.uid = (uint32_t)st->st_uid,
		.gid = (uint32_t)st->st_gid,
		.perms = (uint32_t)st->st_mode,
		.atime = (uint32_t)st->st_atime,
		.mtime = (uint32_t)st->st_mtime,
	};
}

/* ---- the handle table ---- */

static struct sftp_handle *handle_new(struct sftp_server *srv, enum sftp_handle_kind kind, const char *vpath,
				      uint8_t wire[SFTP_HANDLE_LEN])
{
	for (uint32_t i = 0; i < SFTP_MAX_HANDLES; i++) {
		struct sftp_handle *h = &srv->h[i];
		if (h->kind != SFTP_H_FREE)
			continue;
		uint16_t gen = (uint16_t)(h->gen + 1);
		*h = (struct sftp_handle){ .kind = kind, .gen = gen, .fd = -1, .started_ms = util_now_ms() };
		h->vpath = util_xstrdup(vpath);
		wire[0] = (uint8_t)(i >> 8);
		wire[1] = (uint8_t)i;
		wire[2] = (uint8_t)(gen >> 8);
		wire[3] = (uint8_t)gen;
		return h;
	}
	return NULL;
}

/* SECURITY: a handle is only ever an index into this channel's own table
 * plus its generation: bytes from another session, a closed handle or a
 * made-up one find nothing (NULL), whatever their length. */
static struct sftp_handle *handle_get(struct sftp_server *srv, struct slice wire, unsigned kinds)
{
	if (wire.n != SFTP_HANDLE_LEN)
		return NULL;
	const unsigned char *q = (const unsigned char *)wire.p;
	uint32_t i = (uint32_t)q[0] << 8 | q[1];
	uint16_t gen = (uint16_t)(q[2] << 8 | q[3]);
	if (i >= SFTP_MAX_HANDLES)
		return NULL;
	struct sftp_handle *h = &srv->h[i];
	if (h->kind == SFTP_H_FREE || h->gen != gen || !(kinds & (1u << h->kind)))
		return NULL;
	return h;
}

#define K(kind) (1u << (kind))

static void reply_bad_handle(struct buf *out, uint32_t id)
{
	(void)sftp_put_status(out, id, SFTP_FAILURE, "Invalid handle");
}

static void handle_free(struct sftp_handle *h)
{
	writebehind_forget(&h->wb); /* a job in flight no longer points here */
	free(h->vpath);
	uint16_t gen = h->gen;
	*h = (struct sftp_handle){ .kind = SFTP_H_FREE, .gen = gen, .fd = -1 };
}

/* The transfer's one event (files.h). */
static void transfer_event(struct sftp_server *srv, struct sftp_handle *h, enum files_result res, const char *reason,
			   int err)
{
	struct files_event ev = {
		.sid = srv->c.sid,
		.user = srv->c.user,
		.ip = srv->c.ip,
		.protocol = "sftp",
		.home = srv->c.home,
		.kind = h->kind == SFTP_H_READ ? FILES_XFER_READ : FILES_XFER_WRITE,
		.cmd = h->cmd,
		.verb = h->cmd,
		.path = h->vpath,
		.bytes = h->bytes,
		.duration_ms = util_now_ms() - h->started_ms,
		.result = res,
		.reason = reason,
		.local_error = err != 0,
		.err = err,
	};
	files_event(&srv->c.sink, &ev);
}

/* A failed commit's reason, FTP's for the same failure (its 451/552). */
static const char *commit_reason(int err)
{
	if (err == 0)
		return NULL;
	return err == -ENOSPC ? "disk-full" : err == -EDQUOT ? "quota" : err == -EFBIG ? "file-too-big" : "local-error";
}

/* ---- OPEN, OPENDIR, CLOSE ---- */

static int open_read(struct sftp_server *srv, const char *vpath, struct sftp_handle **hp, uint8_t *wire)
{
	struct files_read fr;
	int e = files_open_read(&srv->c.fu, vpath, 0, &fr);
	if (e)
		return e;
	struct sftp_handle *h = handle_new(srv, SFTP_H_READ, vpath, wire);
	if (!h) {
		vfs_fd_close(fr.fd);
		return -EMFILE;
	}
	h->fd = fr.fd;
	h->cmd = "RETR";
	*hp = h;
	return 0;
}

/* The upload mode for OPEN's flags (see the top of this file). */
static int open_write(struct sftp_server *srv, const char *vpath, uint32_t fl, struct sftp_handle **hp, uint8_t *wire)
{
	struct stat st;
	/* Whether (and how big) the file is: asked with the list permission,
	 * which a write-only user lacks; such a user may only upload anew. */
	int se = files_stat(&srv->c.fu, vpath, &st);
	bool exists = se == 0;
	if (se == -EACCES && (fl & SFTP_FXF_TRUNC))
		se = -ENOENT, exists = false; /* a new upload either way: REPLACE */
	if (se && se != -ENOENT)
		return se;
	if (exists && (fl & SFTP_FXF_CREAT) && (fl & SFTP_FXF_EXCL))
		return -EEXIST;
	if (!exists && se == -ENOENT && !(fl & SFTP_FXF_CREAT))
		return -ENOENT;
	if (exists && S_ISDIR(st.st_mode))
		return -EISDIR;
	enum vfs_upload_mode mode = VFS_UPLOAD_REPLACE;
	uint64_t offset = 0;
	const char *cmd = "STOR";
	if (fl & SFTP_FXF_APPEND) {
		mode = VFS_UPLOAD_APPEND;
		cmd = "APPE";
	} else if (!(fl & SFTP_FXF_TRUNC)) {
		/* In place from the current end: nothing is cut off. */
		mode = VFS_UPLOAD_RESUME;
		offset = exists && st.st_size > 0 ? (uint64_t)st.st_size : 0;
	}
	struct vfs_upload *up = NULL;
	int e = files_upload_begin(&srv->c.fu, vpath, mode, offset, &up);
	if (e)
		return e;
	struct sftp_handle *h = handle_new(srv, SFTP_H_WRITE, vpath, wire);
	if (!h) {
		(void)files_upload_end(up, false, false);
		return -EMFILE;
	}
	h->up = up;
	h->fd = up->fd;
	h->cmd = cmd;
	*hp = h;
	return 0;
}

void sftp_files_open(struct sftp_server *srv, const struct sftp_req *r, struct buf *out)
{
	uint32_t fl = r->pflags;
	bool rd = fl & SFTP_FXF_READ, wr = fl & SFTP_FXF_WRITE;
	if (rd == wr) {
		(void)sftp_put_status(out, r->id, SFTP_OP_UNSUPPORTED,
				      rd ? "Opening for both reading and writing is not supported"
					 : "Open for reading or for writing");
		return;
	}
	char vpath[PATH_MAX];
	uint8_t wire[SFTP_HANDLE_LEN];
	struct sftp_handle *h = NULL;
	int e = memchr(r->path.p, '\0', r->path.n)
		    ? -EINVAL
		    : files_resolve(&srv->c.fu, rd ? FILES_OP_READ : FILES_OP_UPLOAD, "/", r->path, vpath);
	if (e == 0)
		e = rd ? open_read(srv, vpath, &h, wire) : open_write(srv, vpath, fl, &h, wire);
	if (e) {
		(void)sftp_reply_errno(out, r->id, e);
		return;
	}
	if (sftp_put_handle(out, r->id, wire, sizeof(wire)) != 0)
		(void)sftp_put_status(out, r->id, SFTP_FAILURE, "Out of buffer space");
}

void sftp_files_opendir(struct sftp_server *srv, const struct sftp_req *r, struct buf *out)
{
	char vpath[PATH_MAX];
	uint8_t wire[SFTP_HANDLE_LEN];
	struct vfs_dir *d = NULL;
	int e = memchr(r->path.p, '\0', r->path.n) ? -EINVAL
						   : files_resolve(&srv->c.fu, FILES_OP_LIST, "/", r->path, vpath);
	if (e == 0)
		e = files_dir_open(&srv->c.fu, vpath, &d);
	if (e) {
		(void)sftp_reply_errno(out, r->id, e);
		return;
	}
	struct sftp_handle *h = handle_new(srv, SFTP_H_DIR, vpath, wire);
	if (!h) {
		vfs_dir_close(d);
		(void)sftp_reply_errno(out, r->id, -EMFILE);
		return;
	}
	h->dir = d;
	(void)sftp_put_handle(out, r->id, wire, sizeof(wire));
}

/* Ends h: a download or a listing just closes; an upload commits (CLOSE,
 * complete) or is discarded (a write failed, or the channel was lost).
 * Returns the commit's error. */
static int handle_end(struct sftp_server *srv, struct sftp_handle *h, bool lost)
{
	int e = 0;
	switch (h->kind) {
	case SFTP_H_READ:
		vfs_fd_close(h->fd);
		transfer_event(srv, h, lost ? FILES_ABORTED : FILES_OK, lost ? "conn-lost" : NULL, 0);
		break;
	case SFTP_H_WRITE:
		if (h->committing) {
			/* The channel ended while the commit job runs: the job ends
			 * the upload (its commit was decided), only the reply and
			 * the event are lost, as for an FTP session that closes
			 * meanwhile. */
		} else if (lost || h->err) {
			(void)files_upload_end(h->up, false, false);
			e = h->err;
			transfer_event(srv, h, lost ? FILES_ABORTED : FILES_FAILED,
				       lost					? "conn-lost"
				       : h->err == -ENOSPC || h->err == -EDQUOT ? "disk-full"
										: "write-error",
				       lost ? 0 : h->err);
		} else {
			e = files_upload_end(h->up, true, false);
			transfer_event(srv, h, e ? FILES_FAILED : FILES_OK, commit_reason(e), e);
		}
		break;
	case SFTP_H_DIR:
		vfs_dir_close(h->dir);
		break;
	case SFTP_H_FREE:
		break;
	}
	handle_free(h);
	return e;
}

void sftp_files_close(struct sftp_server *srv, const struct sftp_req *r, struct buf *out)
{
	struct sftp_handle *h = handle_get(srv, r->handle, K(SFTP_H_READ) | K(SFTP_H_WRITE) | K(SFTP_H_DIR));
	if (!h) {
		reply_bad_handle(out, r->id);
		return;
	}
	(void)sftp_reply_errno(out, r->id, handle_end(srv, h, false));
}

struct vfs_upload *sftp_files_commit_begin(struct sftp_server *srv, struct slice handle, const char **vpath)
{
	struct sftp_handle *h = handle_get(srv, handle, K(SFTP_H_WRITE));
	if (!h || h->err || h->committing || !h->up->durable)
		return NULL;
	struct vfs_upload *up = h->up;
	*vpath = h->vpath;
	h->up = NULL;
	h->fd = -1;
	h->committing = true;
	return up;
}

void sftp_files_commit_end(struct sftp_server *srv, const struct sftp_req *r, int err, struct buf *out)
{
	struct sftp_handle *h = handle_get(srv, r->handle, K(SFTP_H_WRITE));
	if (h && h->committing) {
		transfer_event(srv, h, err ? FILES_FAILED : FILES_OK, commit_reason(err), err);
		handle_free(h);
	}
	if (err == 0) {
		(void)sftp_put_status(out, r->id, SFTP_OK, "Success");
		return;
	}
	/* FAILURE whatever the errno (ENOSYS from a sandbox is no
	 * "unsupported" here): the upload is not on disk as promised. */
	char text[160];
	(void)snprintf(text, sizeof(text), "Upload not committed: %s", strerror(-err));
	(void)sftp_put_status(out, r->id, SFTP_FAILURE, text);
}

void sftp_files_close_all(struct sftp_server *srv)
{
	for (uint32_t i = 0; i < SFTP_MAX_HANDLES; i++)
		if (srv->h[i].kind != SFTP_H_FREE)
			(void)handle_end(srv, &srv->h[i], true);
}

/* ---- READ, WRITE ---- */

/* The data goes straight from the file into the reply (one copy; libssh
 * then encrypts it into its own buffer). */
void sftp_files_read(struct sftp_server *srv, const struct sftp_req *r, struct buf *out)
{
	struct sftp_handle *h = handle_get(srv, r->handle, K(SFTP_H_READ));
	if (!h) {
		reply_bad_handle(out, r->id);
		return;
	}
	size_t want = r->len < SFTP_MAX_DATA ? r->len : SFTP_MAX_DATA;
	int err = 0;
	char *dst = sftp_data_begin(out, r->id, want, &err);
	if (!dst) {
		(void)sftp_put_status(out, r->id, SFTP_FAILURE, "Out of buffer space");
		return;
	}
	size_t got = 0;
	int e = want ? vfs_fd_pread(h->fd, dst, want, r->offset, &got) : 0;
	if (e || got == 0) {
		/* Nothing was committed: the reserved room is simply unused. */
		if (e)
			(void)sftp_reply_errno(out, r->id, e);
		else
			(void)sftp_put_status(out, r->id, SFTP_EOF, "End of file");
		return;
	}
	sftp_data_end(out, dst, want, got);
	h->bytes += got;
}

/* n more bytes are in h's file: a durable upload's write-behind follows
 * them (core/writebehind.h), as FTP's does. */
static void wrote(struct sftp_server *srv, struct sftp_handle *h, size_t n)
{
	if (n && h->up && h->up->durable)
		writebehind_add(&h->wb, srv->c.jobs, srv->c.loop, h->fd, n);
}

void sftp_files_write(struct sftp_server *srv, const struct sftp_req *r, struct buf *out)
{
	struct sftp_handle *h = handle_get(srv, r->handle, K(SFTP_H_WRITE));
	if (!h) {
		reply_bad_handle(out, r->id);
		return;
	}
	if (h->err) { /* the upload already failed: it will not be committed */
		(void)sftp_reply_errno(out, r->id, h->err);
		return;
	}
	/* The quota's check (core/files.h): a write that would pass it fails
	 * the upload, which CLOSE then discards. */
	int e = files_upload_reserve(h->up, r->offset, r->data.n);
	if (e == -EINPROGRESS)
		return; /* asked again when the quota's grant came (sftp_server_feed) */
	if (!e)
		e = vfs_fd_pwrite(h->fd, r->data.p, r->data.n, r->offset);
	if (e) {
		h->err = e;
	} else {
		h->bytes += r->data.n;
		wrote(srv, h, r->data.n);
	}
	(void)sftp_reply_errno(out, r->id, e);
}

/* ---- copy-data ---- */

/* draft-ietf-secsh-filexfer-extensions-00 copy-data: length bytes (0: up
 * to the end) of the file open for reading at offset go into the file
 * open for writing at offset2 (its end when opened to append), as reads
 * and writes would, in the kernel where it can. The end of the source
 * before length is reached ends the copy with OK, as OpenSSH's server
 * does. Two handles of the same file (by inode: also through another
 * link) are refused, their ranges could overlap; a truncating upload of
 * the source writes a new file and may copy from the old one. The copy is done SFTP_COPY_STEP bytes per call, so a big
 * one never holds the loop (sftp_server_feed calls again on the next turn); permissions were asked when the two handles
 * were opened. */
bool sftp_files_copy_step(struct sftp_server *srv, const struct sftp_req *r, struct buf *out)
{
	struct sftp_handle *rh = handle_get(srv, r->handle, K(SFTP_H_READ));
	struct sftp_handle *wh = handle_get(srv, r->handle2, K(SFTP_H_WRITE));
	uint64_t done = srv->copied, off_in, off_out;
	int e = 0;
	srv->copied = 0;
	if (!rh || !wh) {
		reply_bad_handle(out, r->id);
		return true;
	}
	struct stat rs, ws;
	e = vfs_fstat(rh->fd, &rs);
	if (e == 0)
		e = vfs_fstat(wh->fd, &ws);
	if (e) {
		(void)sftp_reply_errno(out, r->id, e);
		return true;
	}
	if (rs.st_dev == ws.st_dev && rs.st_ino == ws.st_ino) {
		(void)sftp_put_status(out, r->id, SFTP_FAILURE, "Source and destination are the same file");
		return true;
	}
	if (wh->err) { /* the upload already failed: it will not be committed */
		(void)sftp_reply_errno(out, r->id, wh->err);
		return true;
	}
	uint64_t left = r->length ? r->length - done : SFTP_COPY_STEP;
	size_t step = left < SFTP_COPY_STEP ? (size_t)left : SFTP_COPY_STEP, got = 0;
	if (__builtin_add_overflow(r->offset, done, &off_in) || __builtin_add_overflow(r->offset2, done, &off_out))
		e = -EFBIG;
	if (e == 0)
		e = files_upload_copy(wh->up, rh->fd, off_in, off_out, step, &got); /* the quota's check */
	if (e == -EINPROGRESS) {
		srv->copied = done; /* this step again when the quota's grant came */
		return false;
	}
	rh->bytes += got;
	wh->bytes += got;
	wrote(srv, wh, got);
	if (e) {
		wh->err = e;
		(void)sftp_reply_errno(out, r->id, e);
		return true;
	}
	done += got;
	if (got == step && got && (!r->length || done < r->length)) {
		srv->copied = done;
		return false;
	}
	(void)sftp_reply_errno(out, r->id, 0);
	return true;
}

/* ---- READDIR ---- */

/* Entries per NAME reply: OpenSSH's server sends up to 100. */
#define READDIR_MAX 100u

void sftp_files_readdir(struct sftp_server *srv, const struct sftp_req *r, struct buf *out)
{
	struct sftp_handle *h = handle_get(srv, r->handle, K(SFTP_H_DIR));
	if (!h) {
		reply_bad_handle(out, r->id);
		return;
	}
	size_t mark;
	if (sftp_name_begin(out, r->id, &mark) != 0) {
		(void)sftp_put_status(out, r->id, SFTP_FAILURE, "Out of buffer space");
		return;
	}
	struct listing_opts lo = { .all = true, .perms = srv->c.fu.perms, .now = util_wall_s() };
	struct buf line;
	buf_init(&line, 1024);
	uint32_t n = 0;
	int e = 0;
	while (n < READDIR_MAX && out->len - mark < 64u * 1024u) {
		const char *name;
		struct stat st;
		char target[PATH_MAX];
		e = vfs_dir_next(h->dir, &name, &st, target, sizeof(target));
		if (e <= 0)
			break;
		/* The long name is FTP's LIST line (ls -l), which clients show. */
		buf_reset(&line);
		struct slice longname = slice_from_cstr(name);
		if (listing_list_line(&line, name, &st, target[0] ? target : NULL, &lo) == 0 && line.len >= 2)
			longname = (struct slice){ buf_data(&line), line.len - 2 }; /* without CRLF */
		struct sftp_attrs a;
		sftp_attrs_from_stat(&st, &a);
		if (sftp_name_add(out, slice_from_cstr(name), longname, &a) != 0) {
			e = -ENOBUFS;
			break;
		}
		n++;
	}
	buf_free(&line);
	if (n) {
		sftp_name_end(out, mark, n);
		return;
	}
	out->len = mark; /* the empty NAME is dropped */
	if (e < 0)
		(void)sftp_reply_errno(out, r->id, e);
	else
		(void)sftp_put_status(out, r->id, SFTP_EOF, "End of directory");
}

/* ---- FSTAT, FSETSTAT, fstatvfs (fsync: sftp_sync.c) ---- */

void sftp_files_fstat(struct sftp_server *srv, const struct sftp_req *r, struct buf *out)
{
	struct sftp_handle *h = handle_get(srv, r->handle, K(SFTP_H_READ) | K(SFTP_H_WRITE));
	struct stat st;
	if (!h) {
		reply_bad_handle(out, r->id);
		return;
	}
	int e = vfs_fstat(h->fd, &st);
	if (e) {
		(void)sftp_reply_errno(out, r->id, e);
		return;
	}
	struct sftp_attrs a;
	sftp_attrs_from_stat(&st, &a);
	(void)sftp_put_attrs(out, r->id, &a);
}

void sftp_files_fsetstat(struct sftp_server *srv, const struct sftp_req *r, struct buf *out)
{
	struct sftp_handle *h = handle_get(srv, r->handle, K(SFTP_H_READ) | K(SFTP_H_WRITE));
	const struct sftp_attrs *a = &r->attrs;
	if (!h) {
		reply_bad_handle(out, r->id);
		return;
	}
	if (a->flags & SFTP_ATTR_UIDGID) {
		(void)sftp_put_status(out, r->id, SFTP_PERMISSION_DENIED, "Files belong to the server");
		return;
	}
	int e = 0;
	if (a->flags & SFTP_ATTR_SIZE) {
		/* OpenSSH's scp writes in place and cuts the file at its end
		 * (a temporary of a truncating upload is cut, the old file
		 * then untouched until CLOSE). */
		if (h->kind != SFTP_H_WRITE) {
			(void)sftp_put_status(out, r->id, SFTP_PERMISSION_DENIED, "Not open for writing");
			return;
		}
		e = h->err ? h->err : files_upload_truncate(&srv->c.fu, h->vpath, h->up, a->size);
		if (e == -EINPROGRESS)
			return; /* asked again when the quota's grant came */
		if (e == -EDQUOT)
			h->err = e; /* as a WRITE past the quota: CLOSE discards the upload */
	}
	if (e == 0 && (a->flags & SFTP_ATTR_PERMISSIONS))
		e = files_fd_set_mode(&srv->c.fu, h->vpath, h->fd, (mode_t)a->perms);
	if (e == 0 && (a->flags & SFTP_ATTR_ACMODTIME)) {
		struct timespec ts = { .tv_sec = (time_t)a->mtime };
		e = files_fd_set_mtime(&srv->c.fu, h->vpath, h->fd, &ts);
	}
	(void)sftp_reply_errno(out, r->id, e);
}

void sftp_files_fstatvfs(struct sftp_server *srv, const struct sftp_req *r, struct buf *out)
{
	struct sftp_handle *h = handle_get(srv, r->handle, K(SFTP_H_READ) | K(SFTP_H_WRITE));
	struct statvfs sv;
	if (!h) {
		reply_bad_handle(out, r->id);
		return;
	}
	int e = files_fd_statvfs(&srv->c.fu, h->vpath, h->fd, &sv); /* the quota's figures too */
	if (e) {
		(void)sftp_reply_errno(out, r->id, e);
		return;
	}
	uint64_t f[11];
	sftp_statvfs_fields(&sv, f);
	(void)sftp_put_statvfs(out, r->id, f);
}

int sftp_files_read_fd(struct sftp_server *srv, struct slice handle, int *fd, const char **vpath)
{
	struct sftp_handle *h = handle_get(srv, handle, K(SFTP_H_READ));
	if (!h)
		return -EBADF;
	*fd = h->fd;
	*vpath = h->vpath;
	return 0;
}

int sftp_files_handle_fd(struct sftp_server *srv, struct slice handle, int *fd, const char **vpath)
{
	struct sftp_handle *h = handle_get(srv, handle, K(SFTP_H_READ) | K(SFTP_H_WRITE));
	if (!h)
		return -EBADF;
	*fd = h->fd;
	*vpath = h->vpath;
	return 0;
}
