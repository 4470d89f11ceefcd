/* sftp_server: the SFTP requests of one channel (SFTP version 3) carried
 * out through core's file service, so the permission bits (files_allow),
 * the confinement (fs/vfs: openat2 RESOLVE_IN_ROOT under the user's home)
 * and the transfer events are FTP's. Paths are virtual: "/" is the home,
 * as in FTP, and every path is resolved against it (SFTP has no current
 * directory; REALPATH "." is "/").
 *
 * This file frames and dispatches requests and answers those that name a
 * path; sftp_files.c answers those on handles. Requests are answered in
 * order, each completely before the next (file I/O runs on the loop, as
 * FTP's transfers do), so pipelined requests (64 READs in flight) need no
 * bookkeeping beyond the input buffer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "path.h"
#include "vfs.h"
#include "sftp_server_impl.h"
#include "util.h"

struct sftp_server *sftp_server_new(const struct sftp_server_conf *c)
{
	struct sftp_server *srv = util_xcalloc(1, sizeof(*srv));
	srv->c = *c;
	/* A write the node's quota grant cannot take waits for the store
	 * (core/quota.h GRANTS): its request stays at the front of the input
	 * (sftp_server_feed) until the take's end wakes the session. */
	srv->qwait = (struct quota_wait){ .loop = c->loop, .fn = c->wake, .arg = c->wake_arg };
	srv->c.fu.quota_wait = c->wake ? &srv->qwait : NULL;
	return srv;
}

void sftp_server_free(struct sftp_server *srv, bool lost)
{
	if (!srv)
		return;
	sftp_check_cancel(srv);
	sftp_sync_cancel(srv);
	quota_wait_cancel(&srv->qwait);
	sftp_files_close_all(srv);
	free(srv);
}

/* A client path as a virtual path (PATH_MAX), for op: the permission is
 * asked before the name is looked at (files_resolve). SECURITY: a NUL
 * inside the name is refused (-EINVAL), never cut short. */
static int resolve(struct sftp_server *srv, enum files_op op, struct slice path, char *vpath)
{
	if (memchr(path.p, '\0', path.n))
		return -EINVAL;
	return files_resolve(&srv->c.fu, op, "/", path, vpath);
}

static void reply_stat(struct sftp_server *srv, const struct sftp_req *r, struct buf *out, bool follow)
{
	char vpath[PATH_MAX];
	struct stat st;
	int e = resolve(srv, FILES_OP_LIST, r->path, vpath);
	if (e == 0)
		e = follow ? files_stat(&srv->c.fu, vpath, &st) : files_lstat(&srv->c.fu, vpath, &st);
	if (e) {
		(void)sftp_reply_errno(out, r->id, e);
		return;
	}
	struct sftp_attrs a;
	sftp_attrs_from_stat(&st, &a);
	(void)sftp_put_attrs(out, r->id, &a);
}

/* SETSTAT: the permission bits and the modification time, as FTP's SITE
 * CHMOD and MFMT allow them. Owners belong to the service account
 * (PERMISSION_DENIED); a size cuts or extends a plain file ("write").
 * lsetstat@openssh.com (nofollow): the same on the name itself, a final
 * symbolic link not followed (a link has no mode: OP_UNSUPPORTED). */
static void setstat(struct sftp_server *srv, const struct sftp_req *r, struct buf *out, bool nofollow)
{
	const struct sftp_attrs *a = &r->attrs;
	char vpath[PATH_MAX];
	int e = 0;
	if (a->flags & SFTP_ATTR_UIDGID) {
		(void)sftp_put_status(out, r->id, SFTP_PERMISSION_DENIED, "Files belong to the server");
		return;
	}
	if (a->flags & SFTP_ATTR_SIZE) {
		/* A link itself has no size to set: lsetstat follows none. */
		if (nofollow) {
			(void)sftp_put_status(out, r->id, SFTP_OP_UNSUPPORTED, "Setting the size is not supported");
			return;
		}
		e = resolve(srv, FILES_OP_UPLOAD, r->path, vpath);
		if (e == 0)
			e = files_truncate(&srv->c.fu, vpath, a->size);
		if (e == -EINPROGRESS)
			return; /* asked again when the quota's grant came */
	}
	if (e == 0 && (a->flags & SFTP_ATTR_PERMISSIONS)) {
		e = resolve(srv, FILES_OP_SET_MODE, r->path, vpath);
		if (e == 0)
			e = nofollow ? files_lset_mode(&srv->c.fu, vpath, (mode_t)a->perms)
				     : files_set_mode(&srv->c.fu, vpath, (mode_t)a->perms);
	}
	if (e == 0 && (a->flags & SFTP_ATTR_ACMODTIME)) {
		struct timespec ts = { .tv_sec = (time_t)a->mtime };
		e = resolve(srv, FILES_OP_SET_TIME, r->path, vpath);
		if (e == 0)
			e = nofollow ? files_lset_mtime(&srv->c.fu, vpath, &ts)
				     : files_set_mtime(&srv->c.fu, vpath, &ts);
	}
	(void)sftp_reply_errno(out, r->id, e);
}

/* A NAME with one entry: a resolved path (REALPATH and its kin). */
static void reply_name(struct buf *out, uint32_t id, const char *vpath)
{
	size_t mark;
	struct sftp_attrs none = { 0 };
	if (sftp_name_begin(out, id, &mark) != 0)
		return;
	if (sftp_name_add(out, slice_from_cstr(vpath), slice_from_cstr(vpath), &none) == 0)
		sftp_name_end(out, mark, 1);
	else
		sftp_name_end(out, mark, 0);
}

/* REALPATH, expand-path@openssh.com ("~" and "~/x" are the home, which is
 * "/"; "~name" only for the user's own name) and home-directory. */
static void realpath_of(struct sftp_server *srv, const struct sftp_req *r, struct buf *out)
{
	struct slice p = r->path;
	char vpath[PATH_MAX];
	if (r->ext == SFTP_EXT_HOME) {
		if (p.n && !slice_eq(p, slice_from_cstr(srv->c.user))) {
			(void)sftp_put_status(out, r->id, SFTP_NO_SUCH_FILE, "No such user");
			return;
		}
		p = SLICE_LIT("/");
	} else if (r->ext == SFTP_EXT_EXPAND_PATH && p.n && p.p[0] == '~') {
		struct slice name, rest;
		bool more = slice_split((struct slice){ p.p + 1, p.n - 1 }, '/', &name, &rest);
		if (name.n && !slice_eq(name, slice_from_cstr(srv->c.user))) {
			(void)sftp_put_status(out, r->id, SFTP_NO_SUCH_FILE, "No such user");
			return;
		}
		p = more ? rest : SLICE_LIT("/");
	}
	if (p.n == 0)
		p = SLICE_LIT("/");
	int e = resolve(srv, FILES_OP_CHDIR, p, vpath);
	if (e)
		(void)sftp_reply_errno(out, r->id, e);
	else
		reply_name(out, r->id, vpath);
}

/* RENAME (version 3: the target must not exist, as OpenSSH's server
 * does it) and posix-rename@openssh.com (replaces the target). */
static void rename_to(struct sftp_server *srv, const struct sftp_req *r, struct buf *out, bool replace)
{
	char from[PATH_MAX], to[PATH_MAX];
	struct stat st;
	int e = resolve(srv, FILES_OP_RENAME, r->path, from);
	if (e == 0)
		e = resolve(srv, FILES_OP_RENAME, r->path2, to);
	if (e == 0)
		e = files_rename_check(&srv->c.fu, from);
	if (e == 0 && !replace && files_lstat(&srv->c.fu, to, &st) == 0)
		e = -EEXIST;
	if (e == 0)
		e = files_rename(&srv->c.fu, from, to);
	(void)sftp_reply_errno(out, r->id, e);
}

/* READLINK: the link's target text, as it was stored (a NAME of one). */
static void readlink_of(struct sftp_server *srv, const struct sftp_req *r, struct buf *out)
{
	char vpath[PATH_MAX], target[PATH_MAX];
	int e = resolve(srv, FILES_OP_LIST, r->path, vpath);
	if (e == 0)
		e = files_readlink(&srv->c.fu, vpath, target, sizeof(target));
	if (e)
		(void)sftp_reply_errno(out, r->id, e);
	else
		reply_name(out, r->id, target);
}

/* SYMLINK, with its two paths in the order OpenSSH sends them (target,
 * then the link's path: the reverse of filexfer-02, which every common
 * client follows). The target is stored as the client gave it, relative
 * or absolute; the file system layer only ever follows it inside the home
 * (RESOLVE_IN_ROOT), where an absolute target is a path from the home,
 * the client's "/", as every path it sends. */
static void symlink_to(struct sftp_server *srv, const struct sftp_req *r, struct buf *out)
{
	char vpath[PATH_MAX], target[PATH_MAX];
	int e = resolve(srv, FILES_OP_SYMLINK, r->path2, vpath);
	if (e == 0 && (memchr(r->path.p, '\0', r->path.n) || r->path.n == 0))
		e = -EINVAL;
	else if (e == 0 && r->path.n >= sizeof(target))
		e = -ENAMETOOLONG;
	if (e == 0) {
		memcpy(target, r->path.p, r->path.n);
		target[r->path.n] = '\0';
		e = files_symlink(&srv->c.fu, target, vpath);
	}
	(void)sftp_reply_errno(out, r->id, e);
}

/* hardlink@openssh.com: a new name (path2) for the file at path, both
 * inside the home; a directory cannot be linked. */
static void hardlink_to(struct sftp_server *srv, const struct sftp_req *r, struct buf *out)
{
	char from[PATH_MAX], to[PATH_MAX];
	int e = resolve(srv, FILES_OP_LINK, r->path, from);
	if (e == 0)
		e = resolve(srv, FILES_OP_LINK, r->path2, to);
	if (e == 0)
		e = files_hardlink(&srv->c.fu, from, to);
	(void)sftp_reply_errno(out, r->id, e);
}

static void by_path(struct sftp_server *srv, const struct sftp_req *r, struct buf *out,
		    int (*fn)(const struct files_user *, const char *), enum files_op op)
{
	char vpath[PATH_MAX];
	int e = resolve(srv, op, r->path, vpath);
	if (e == 0)
		e = fn(&srv->c.fu, vpath);
	(void)sftp_reply_errno(out, r->id, e);
}

static void statvfs_of(struct sftp_server *srv, const struct sftp_req *r, struct buf *out)
{
	char vpath[PATH_MAX];
	struct statvfs sv;
	int e = resolve(srv, FILES_OP_LIST, r->path, vpath);
	if (e == 0)
		e = files_statvfs(&srv->c.fu, vpath, &sv);
	if (e) {
		(void)sftp_reply_errno(out, r->id, e);
		return;
	}
	uint64_t f[11];
	sftp_statvfs_fields(&sv, f);
	(void)sftp_put_statvfs(out, r->id, f);
}

static void extended(struct sftp_server *srv, const struct sftp_req *r, struct buf *out)
{
	switch (r->ext) {
	case SFTP_EXT_POSIX_RENAME:
		rename_to(srv, r, out, true);
		return;
	case SFTP_EXT_STATVFS:
		statvfs_of(srv, r, out);
		return;
	case SFTP_EXT_FSTATVFS:
		sftp_files_fstatvfs(srv, r, out);
		return;
	case SFTP_EXT_LIMITS:
		(void)sftp_put_limits(out, r->id, SFTP_MAX_HANDLES);
		return;
	case SFTP_EXT_EXPAND_PATH:
	case SFTP_EXT_HOME:
		realpath_of(srv, r, out);
		return;
	case SFTP_EXT_HARDLINK:
		hardlink_to(srv, r, out);
		return;
	case SFTP_EXT_LSETSTAT:
		setstat(srv, r, out, true);
		return;
	case SFTP_EXT_COPY_DATA:       /* sftp_server_feed's, a step at a time */
	case SFTP_EXT_CHECK_FILE_NAME: /* sftp_server_feed's, on the job pool (sftp_check.c) */
	case SFTP_EXT_CHECK_FILE_HANDLE:
	case SFTP_EXT_FSYNC: /* sftp_server_feed's, an I/O job (sftp_sync.c) */
	case SFTP_EXT_UNKNOWN:
	case SFTP_EXT_NONE:
		break;
	}
	(void)sftp_put_status(out, r->id, SFTP_OP_UNSUPPORTED, "Unsupported extension");
}

static void dispatch(struct sftp_server *srv, const struct sftp_req *r, struct buf *out)
{
	switch (r->type) {
	case SFTP_OPEN:
		sftp_files_open(srv, r, out);
		return;
	case SFTP_READ:
		sftp_files_read(srv, r, out);
		return;
	case SFTP_WRITE:
		sftp_files_write(srv, r, out);
		return;
	case SFTP_LSTAT:
		reply_stat(srv, r, out, false);
		return;
	case SFTP_STAT:
		reply_stat(srv, r, out, true);
		return;
	case SFTP_FSTAT:
		sftp_files_fstat(srv, r, out);
		return;
	case SFTP_SETSTAT:
		setstat(srv, r, out, false);
		return;
	case SFTP_FSETSTAT:
		sftp_files_fsetstat(srv, r, out);
		return;
	case SFTP_OPENDIR:
		sftp_files_opendir(srv, r, out);
		return;
	case SFTP_READDIR:
		sftp_files_readdir(srv, r, out);
		return;
	case SFTP_REMOVE:
		by_path(srv, r, out, files_delete, FILES_OP_DELETE);
		return;
	case SFTP_MKDIR:
		by_path(srv, r, out, files_mkdir, FILES_OP_MKDIR);
		return;
	case SFTP_RMDIR:
		by_path(srv, r, out, files_rmdir, FILES_OP_RMDIR);
		return;
	case SFTP_REALPATH:
		realpath_of(srv, r, out);
		return;
	case SFTP_RENAME:
		rename_to(srv, r, out, false);
		return;
	case SFTP_EXTENDED:
		extended(srv, r, out);
		return;
	case SFTP_READLINK:
		readlink_of(srv, r, out);
		return;
	case SFTP_SYMLINK:
		symlink_to(srv, r, out);
		return;
	default: /* sftp_parse answered the others -ENOTSUP; CLOSE, INIT and
		  * the job-backed extensions never come here (sftp_server_feed) */
		(void)sftp_put_status(out, r->id, SFTP_OP_UNSUPPORTED, "Operation not supported");
		return;
	}
}

bool sftp_server_waiting(const struct sftp_server *srv)
{
	return sftp_check_waiting(srv) || sftp_sync_waiting(srv) || srv->qwait.take;
}

uint64_t sftp_server_rate_wait(const struct sftp_server *srv)
{
	return srv->rate_wait_us;
}

/* Bandwidth: a READ's reply and a WRITE's data pass the buckets whole
 * (a short READ would cost clients a round trip): granted anything, the
 * request goes and the rest is owed (the next one waits for it); granted
 * nothing, it waits in the input (false), behind it the requests
 * pipelined after it, and libssh opens the client's window no further. */
static bool rate_admit(struct sftp_server *srv, const struct sftp_req *r)
{
	bool down = r->type == SFTP_READ;
	struct rate_bucket *own = down ? srv->c.own_down : srv->c.own_up;
	struct rate_bucket *sb = down ? srv->c.srv_down : srv->c.srv_up;
	if ((r->type != SFTP_READ && r->type != SFTP_WRITE) || (!rate_limited(own) && !rate_limited(sb)))
		return true;
	uint64_t want = down ? r->len : r->data.n, now = util_now_us();
	uint64_t g = rate_take2(own, sb, want, now, &srv->rate_wait_us);
	if (g == 0)
		return false;
	rate_settle2(own, sb, g, want, now); /* the rest is owed */
	return true;
}

/* A READ answered with less than it asked (the end of the file, an
 * error) gives back what it did not send. */
static void rate_settle_read(struct sftp_server *srv, const struct sftp_req *r, const struct buf *out, size_t before)
{
	if (r->type != SFTP_READ || (!rate_limited(srv->c.own_down) && !rate_limited(srv->c.srv_down)))
		return;
	/* DATA: length, type, id, string length, then the bytes */
	size_t sent = 0, hdr = 4 + 1 + 4 + 4;
	if (out->len > before + hdr && (uint8_t)buf_data(out)[before + 4] == SFTP_DATA)
		sent = out->len - before - hdr;
	rate_settle2(srv->c.own_down, srv->c.srv_down, r->len, sent, util_now_us());
}

int sftp_server_feed(struct sftp_server *srv, struct buf *in, struct buf *out, size_t out_high, unsigned *budget)
{
	srv->rate_wait_us = 0;
	while (*budget && out->len < out_high) {
		size_t size = 0;
		int r = sftp_frame(buf_data(in), in->len, &size);
		if (r <= 0)
			return r; /* 0: wait for more; a bad length breaks the stream */
		struct sftp_req req;
		bool has_id;
		const char *body = buf_data(in) + 4;
		r = sftp_parse(body, size - 4, &req, &has_id);
		(*budget)--;
		if (!srv->inited) {
			/* SECURITY: the first packet must be INIT (filexfer-02 §4). */
			if (r != 0 || req.type != SFTP_INIT)
				return -EPROTO;
			srv->inited = true;
			(void)sftp_put_version(out);
		} else if (r == -EBADMSG) {
			if (!has_id)
				return -EBADMSG;
			(void)sftp_put_status(out, req.id, SFTP_BAD_MESSAGE, "Malformed request");
		} else if (r == -ENOTSUP) {
			(void)sftp_put_status(out, req.id, SFTP_OP_UNSUPPORTED, "Operation not supported");
		} else if (req.type == SFTP_EXTENDED && req.ext == SFTP_EXT_COPY_DATA) {
			/* A copy goes a bounded step per turn of the loop; the
			 * request stays at the front of in until its last step
			 * (requests are answered in order). */
			if (!sftp_files_copy_step(srv, &req, out)) {
				if (srv->qwait.take)
					(*budget)++; /* waits for the quota's grant: woken */
				else
					*budget = 0;
				return 0;
			}
		} else if (req.type == SFTP_EXTENDED &&
			   (req.ext == SFTP_EXT_CHECK_FILE_NAME || req.ext == SFTP_EXT_CHECK_FILE_HANDLE)) {
			/* Hashed on the job pool: the request stays at the front
			 * of in until its reply is written; the job's end wakes
			 * the session (sftp_check.c). */
			if (!sftp_check_step(srv, &req, out)) {
				(*budget)++;
				return 0;
			}
		} else if (req.type == SFTP_EXTENDED && req.ext == SFTP_EXT_FSYNC) {
			/* The same, the fsync on an I/O thread (sftp_sync.c). */
			if (!sftp_sync_step(srv, &req, out)) {
				(*budget)++;
				return 0;
			}
		} else if (req.type == SFTP_CLOSE) {
			/* A durable upload's commit is an I/O job the same way
			 * (sftp_sync.c); any other CLOSE is answered at once. */
			if (!sftp_commit_step(srv, &req, out)) {
				(*budget)++;
				return 0;
			}
		} else if (req.type != SFTP_INIT) {
			/* A request that waited for a quota grant paid its
			 * bandwidth the first time. */
			if (!srv->quota_retry && !rate_admit(srv, &req)) {
				(*budget)++;
				return 0; /* held back: sftp_server_rate_wait */
			}
			size_t before = out->len;
			dispatch(srv, &req, out);
			srv->quota_retry = srv->qwait.take != NULL;
			if (srv->quota_retry) {
				/* Not answered: waits for the quota's grant in
				 * the store, then asked again (woken). */
				(*budget)++;
				return 0;
			}
			rate_settle_read(srv, &req, out, before);
		}
		buf_consume(in, size);
	}
	return 0;
}

bool sftp_server_transfer(const struct sftp_server *srv, const char **cmd, const char **path, uint64_t *bytes,
			  uint64_t *size)
{
	const struct sftp_handle *best = NULL;
	for (size_t i = 0; i < SFTP_MAX_HANDLES; i++) {
		const struct sftp_handle *h = &srv->h[i];
		if ((h->kind == SFTP_H_READ || h->kind == SFTP_H_WRITE) && (!best || h->started_ms >= best->started_ms))
			best = h;
	}
	if (!best)
		return false;
	struct stat st;
	*cmd = best->cmd;
	*path = best->vpath;
	*bytes = best->bytes;
	*size = best->fd >= 0 && vfs_fstat(best->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return true;
}
