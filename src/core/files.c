/* files: the file service (files.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "hooks.h"
#include "log.h"
#include "metrics.h"
#include "path.h"
#include "quota.h"
#include "util.h"

int files_open_home(uint64_t sid, const char *user, const char *home, const char *roots, struct vfs *v)
{
	struct log_escaped e;
	if (roots[0] && !path_under_roots(home, roots)) {
		log_err(sid, "home directory outside [sandbox] roots: user=\"%s\" home=\"%s\" roots=\"%s\"",
			log_esc(slice_from_cstr(user), &e), home, roots);
		return -EPERM;
	}
	int r = vfs_open_root(home, v);
	if (r)
		log_err(sid, "home directory unavailable: user=\"%s\" home=\"%s\" error=%s",
			log_esc(slice_from_cstr(user), &e), home, strerror(-r));
	return r;
}

int files_resolve(const struct files_user *u, enum files_op op, const char *cwd, struct slice arg, char *vpath)
{
	/* The bits that apply depend on where the path lands (dir-perms,
	 * shared folders): strings only, so a refused user still learns
	 * nothing about the tree. A user refused everywhere is refused before
	 * the name is even looked at. */
	int r = files_allow_somewhere(u, op);
	if (r == 0)
		r = path_resolve(cwd, arg, vpath, PATH_MAX);
	return r ? r : files_allow(files_perms_at(u, vpath), op);
}

/* files_allow at vpath, and where vpath resolves (files_space.c). */
static int at(const struct files_user *u, const char *vpath, enum files_op op, struct files_where *w)
{
	int r = files_where(u, vpath, w);
	return r ? r : files_allow(w->perms, op);
}

int files_chdir(const struct files_user *u, const char *vpath)
{
	struct stat st;
	struct files_where w;
	int r = at(u, vpath, FILES_OP_CHDIR, &w);
	if (r == 0)
		r = vfs_stat(w.vfs, w.sub, &st);
	if (r == 0 && !S_ISDIR(st.st_mode))
		r = -ENOTDIR;
	if (r == 0) {
		/* The directory must be enterable by the service account too. */
		int fd;
		r = vfs_opendir(w.vfs, w.sub, &fd);
		if (r == 0)
			vfs_fd_close(fd);
	}
	return r;
}

int files_mtime(const struct files_user *u, const char *vpath, time_t *mtime)
{
	struct stat st;
	struct files_where w;
	int r = at(u, vpath, FILES_OP_MTIME, &w);
	if (r == 0)
		r = vfs_stat(w.vfs, w.sub, &st);
	if (r == 0 && !S_ISREG(st.st_mode))
		r = -EISDIR;
	if (r == 0)
		*mtime = st.st_mtime;
	return r;
}

int files_mkdir(const struct files_user *u, const char *vpath)
{
	struct files_where w;
	int r = at(u, vpath, FILES_OP_MKDIR, &w);
	return r ? r : vfs_mkdir(w.vfs, w.sub, 0755);
}

int files_rmdir(const struct files_user *u, const char *vpath)
{
	struct files_where w;
	int r = at(u, vpath, FILES_OP_RMDIR, &w);
	return r ? r : vfs_rmdir(w.vfs, w.sub);
}

/* Whether the quota counts w's file (then its lstat in *st), asked before
 * it goes away: not without a quota, in a shared folder (nobody's own)
 * or for anything but a regular file. */
static bool files_counted(const struct files_user *u, const struct files_where *w, struct stat *st)
{
	return u->quota && w->vfs == u->vfs && vfs_lstat(w->vfs, w->sub, st) == 0 && S_ISREG(st->st_mode);
}

int files_delete(const struct files_user *u, const char *vpath)
{
	struct files_where w;
	struct stat st;
	int r = at(u, vpath, FILES_OP_DELETE, &w);
	bool counted = r == 0 && files_counted(u, &w, &st);
	if (r == 0)
		r = vfs_unlink(w.vfs, w.sub);
	if (r == 0 && counted)
		quota_user_change(u->quota, -(int64_t)st.st_size, -1);
	return r;
}

int files_rename_check(const struct files_user *u, const char *vpath)
{
	struct stat st;
	struct files_where w;
	int r = at(u, vpath, FILES_OP_RENAME, &w);
	return r ? r : vfs_lstat(w.vfs, w.sub, &st);
}

int files_rename(const struct files_user *u, const char *from, const char *to)
{
	struct files_where wf, wt;
	struct stat st, sf;
	int r = at(u, from, FILES_OP_RENAME, &wf);
	if (r == 0)
		r = at(u, to, FILES_OP_RENAME, &wt);
	/* SECURITY: each root confines its own paths; a rename between two
	 * would need both at once. Refused, and said so (not copied). */
	if (r == 0 && wf.vfs != wt.vfs)
		r = -EXDEV;
	/* A file renamed over another frees the other's share of the quota
	 * (unless both names are one file already). */
	bool counted = r == 0 && files_counted(u, &wt, &st) &&
		       !(vfs_lstat(wf.vfs, wf.sub, &sf) == 0 && sf.st_ino == st.st_ino && sf.st_dev == st.st_dev);
	if (r == 0)
		r = vfs_rename(wf.vfs, wf.sub, wt.sub);
	if (r == 0 && counted)
		quota_user_change(u->quota, -(int64_t)st.st_size, -1);
	return r;
}

/* follow: the object a final symlink names (files_set_*), else the link
 * itself (files_lset_*). */
static int set_mtime(const struct files_user *u, const char *vpath, const struct timespec *mtime, bool follow)
{
	struct files_where w;
	int r = at(u, vpath, FILES_OP_SET_TIME, &w);
	if (r)
		return r;
	return follow ? vfs_set_mtime(w.vfs, w.sub, mtime) : vfs_lset_mtime(w.vfs, w.sub, mtime);
}

static int set_mode(const struct files_user *u, const char *vpath, mode_t mode, bool follow)
{
	struct files_where w;
	int r = at(u, vpath, FILES_OP_SET_MODE, &w);
	if (r)
		return r;
	/* SECURITY: no set-user-ID, set-group-ID or sticky bit from a client
	 * (the files belong to the service account). */
	return follow ? vfs_chmod(w.vfs, w.sub, mode & 0777) : vfs_lchmod(w.vfs, w.sub, mode & 0777);
}

int files_set_mtime(const struct files_user *u, const char *vpath, const struct timespec *mtime)
{
	return set_mtime(u, vpath, mtime, true);
}

int files_set_mode(const struct files_user *u, const char *vpath, mode_t mode)
{
	return set_mode(u, vpath, mode, true);
}

int files_readlink(const struct files_user *u, const char *vpath, char *out, size_t outsz)
{
	struct files_where w;
	int r = at(u, vpath, FILES_OP_LIST, &w);
	return r ? r : vfs_readlink(w.vfs, w.sub, out, outsz);
}

int files_symlink(const struct files_user *u, const char *target, const char *vpath)
{
	struct files_where w;
	int r = at(u, vpath, FILES_OP_SYMLINK, &w);
	/* The target is text followed only by a walk inside the root the link
	 * lives in: one in a shared folder stays in that folder. */
	return r ? r : vfs_symlink(w.vfs, target, w.sub);
}

int files_hardlink(const struct files_user *u, const char *from, const char *to)
{
	struct files_where wf, wt;
	int r = at(u, from, FILES_OP_LINK, &wf);
	if (r == 0)
		r = at(u, to, FILES_OP_LINK, &wt);
	if (r == 0 && wf.vfs != wt.vfs)
		r = -EXDEV; /* as files_rename: never across a mount point */
	return r ? r : vfs_hardlink(wf.vfs, wf.sub, wt.sub);
}

int files_lset_mtime(const struct files_user *u, const char *vpath, const struct timespec *mtime)
{
	return set_mtime(u, vpath, mtime, false);
}

int files_lset_mode(const struct files_user *u, const char *vpath, mode_t mode)
{
	return set_mode(u, vpath, mode, false);
}

int files_stat(const struct files_user *u, const char *vpath, struct stat *st)
{
	struct files_where w;
	int r = at(u, vpath, FILES_OP_LIST, &w);
	return r ? r : vfs_stat(w.vfs, w.sub, st);
}

int files_lstat(const struct files_user *u, const char *vpath, struct stat *st)
{
	struct files_where w;
	int r = at(u, vpath, FILES_OP_LIST, &w);
	return r ? r : vfs_lstat(w.vfs, w.sub, st);
}

static int add_listing_entry(const char *name, const struct stat *st, void *arg)
{
	return listing_add_entry(arg, name, st);
}

int files_list_open(const struct files_user *u, const char *vpath, enum listing_format fmt,
		    const struct listing_opts *o, struct listing **out)
{
	int fd;
	struct files_where w;
	*out = NULL;
	int r = at(u, vpath, FILES_OP_LIST, &w);
	if (r == 0)
		r = vfs_opendir(w.vfs, w.sub, &fd);
	if (r == 0) {
		struct listing_opts lo = o ? *o : (struct listing_opts){ .facts = FACT_DEFAULT, .now = util_wall_s() };
		lo.perms = w.perms;		     /* MLSD's perm fact: the bits that apply here */
		r = listing_open(fd, fmt, &lo, out); /* takes fd */
	}
	if (r == 0)
		r = files_space_children(u, vpath, add_listing_entry, *out);
	if (r && *out) {
		listing_free(*out);
		*out = NULL;
	}
	return r;
}

int files_open_read(const struct files_user *u, const char *vpath, uint64_t offset, struct files_read *out)
{
	struct stat st;
	struct files_where w;
	*out = (struct files_read){ .fd = -1 };
	int r = at(u, vpath, FILES_OP_READ, &w);
	if (r == 0)
		r = vfs_open(w.vfs, w.sub, O_RDONLY | O_NONBLOCK, &out->fd); /* a FIFO must not block the loop */
	if (r == 0)
		r = vfs_fstat(out->fd, &st);
	if (r == 0 && !S_ISREG(st.st_mode)) {
		out->not_plain = true;
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EACCES;
	}
	if (r == 0) {
		out->size = (uint64_t)st.st_size;
		if (offset > out->size)
			r = -ERANGE;
	}
	if (r) {
		vfs_fd_close(out->fd);
		out->fd = -1;
	}
	return r;
}

int files_partial_size(const struct files_user *u, const char *vpath, uint64_t *size)
{
	struct files_where w;
	int r = at(u, vpath, FILES_OP_READ, &w);
	if (r == 0 && !(u->atomic && u->partials))
		r = -ENOENT; /* none is ever kept */
	return r ? r : vfs_partial_size(w.vfs, w.sub, u->name, size);
}

/* An upload and its quota account: files_upload_begin hands out &up,
 * the rest finds its way back with container_of. */
struct files_upload {
	struct vfs_upload up;
	struct quota_upload acct;
	bool append; /* every write lands at the end, whatever its offset */
};

/* Opens u's quota account of an upload to vpath (before the upload
 * starts: the target's size as it is now is what the quota counts). */
static int files_quota_begin(const struct files_user *u, const struct files_where *w, enum vfs_upload_mode mode,
			     struct quota_upload *a)
{
	struct stat st;
	if (!u->quota || w->vfs != u->vfs)
		return 0; /* no quota, or a shared folder: not the user's to count */
	*a = (struct quota_upload){ .q = quota_user_ref(u->quota), .wait = u->quota_wait };
	if (mode != VFS_UPLOAD_UNIQUE && files_counted(u, w, &st)) {
		a->base = (uint64_t)st.st_size;
		a->old_file = true;
	}
	return quota_upload_start(a);
}

int files_upload_begin(const struct files_user *u, const char *vpath, enum vfs_upload_mode mode, uint64_t offset,
		       struct vfs_upload **out)
{
	struct files_where w;
	*out = NULL;
	int r = at(u, vpath, FILES_OP_UPLOAD, &w);
	if (r)
		return r;
	struct files_upload *fu = util_xcalloc(1, sizeof(*fu));
	r = files_quota_begin(u, &w, mode, &fu->acct);
	if (r) {
		free(fu);
		return r;
	}
	struct vfs_upload *up = &fu->up;
	/* The uploader's interrupted upload of this file, if kept, is what a
	 * resumed upload or an append continues (vfs.h). */
	r = vfs_upload_begin_as(w.vfs, w.sub, mode, offset, u->atomic, u->partials ? u->name : NULL, up);
	if (r) {
		quota_upload_end(&fu->acct, false, 0);
		free(fu);
		return (r == -EINVAL || r == -ENOENT) && mode == VFS_UPLOAD_RESUME ? -ERANGE : r;
	}
	/* Where the writes start: 0, a partial's end, an append's end or a
	 * resume's offset. */
	struct stat st;
	if (fu->acct.q && vfs_fstat(up->fd, &st) == 0)
		fu->acct.pos = (uint64_t)st.st_size;
	up->durable = u->durable;
	fu->append = mode == VFS_UPLOAD_APPEND;
	*out = up;
	return 0;
}

int files_upload_ask(struct vfs_upload *up, uint64_t want, uint64_t *ok)
{
	return quota_upload_reserve(&container_of(up, struct files_upload, up)->acct, want, true, ok);
}

void files_upload_set_wait(struct vfs_upload *up, struct quota_wait *w)
{
	container_of(up, struct files_upload, up)->acct.wait = w;
}

void files_upload_wrote(struct vfs_upload *up, uint64_t n)
{
	quota_upload_wrote(&container_of(up, struct files_upload, up)->acct, n);
}

/* Reserves what leaves the upload's file end bytes long: 0, -EDQUOT or
 * -EINPROGRESS (files_upload_ask). */
static int reserve_to(struct quota_upload *a, uint64_t end)
{
	if (!a->q || end <= a->pos)
		return 0;
	uint64_t want = end - a->pos, ok;
	int r = quota_upload_reserve(a, want, false, &ok);
	if (r)
		return r;
	if (ok < want)
		return -EDQUOT;
	quota_upload_wrote(a, want);
	return 0;
}

int files_upload_reserve(struct vfs_upload *up, uint64_t offset, uint64_t n)
{
	struct files_upload *fu = container_of(up, struct files_upload, up);
	uint64_t end;
	/* An append's write lands at the end (O_APPEND), not at its offset. */
	if (fu->append)
		offset = fu->acct.pos;
	if (__builtin_add_overflow(offset, n, &end))
		end = UINT64_MAX;
	return reserve_to(&fu->acct, end);
}

int files_upload_copy(struct vfs_upload *up, int in, uint64_t off_in, uint64_t off_out, size_t n, size_t *copied)
{
	*copied = 0;
	int r = files_upload_reserve(up, off_out, n);
	return r ? r : vfs_fd_copy(in, off_in, up->fd, off_out, n, copied);
}

int files_upload_truncate(const struct files_user *u, const char *vpath, struct vfs_upload *up, uint64_t size)
{
	int r = files_allow(files_perms_at(u, vpath), FILES_OP_UPLOAD);
	if (r == 0)
		r = reserve_to(&container_of(up, struct files_upload, up)->acct, size);
	return r ? r : vfs_fd_truncate(up->fd, size);
}

int files_upload_end(struct vfs_upload *up, bool complete, bool interrupted)
{
	struct files_upload *fu = container_of(up, struct files_upload, up);
	int r = 0;
	/* What the quota counts afterwards: a file written in place stays
	 * whatever happens; a temporary only once committed. */
	bool in_place = !up->temp && !up->resumed;
	uint64_t final = 0;
	struct stat st;
	if (fu->acct.q && (complete || in_place) && vfs_fstat(up->fd, &st) == 0)
		final = (uint64_t)st.st_size;
	if (complete)
		r = vfs_upload_commit(up);
	else if (interrupted)
		vfs_upload_keep(up); /* interrupted, not failed: resumable by its uploader */
	else
		vfs_upload_abort(up);
	quota_upload_end(&fu->acct, in_place || (complete && r == 0), final);
	free(fu);
	return r;
}

static const char *const result_names[] = { [FILES_OK] = "ok", [FILES_ABORTED] = "aborted", [FILES_FAILED] = "failed" };

size_t files_event_line(const struct files_event *ev, char *out, size_t n)
{
	struct log_escaped e, ep;
	bool le = ev->local_error;
	bool pr = log_protocol_shown(ev->protocol);
	int w = snprintf(out, n, "transfer: user=\"%s\" ip=%s cmd=%s path=\"%s\" bytes=%llu status=%s%s%s%s%s%s%s%s",
			 log_esc(slice_from_cstr(ev->user ? ev->user : ""), &e), ev->ip, ev->cmd,
			 log_esc(slice_from_cstr(ev->path ? ev->path : ""), &ep), (unsigned long long)ev->bytes,
			 result_names[ev->result], ev->reason ? " reason=" : "", ev->reason ? ev->reason : "",
			 le ? " error=\"" : "", le ? strerror(-ev->err) : "", le ? "\"" : "", pr ? " protocol=" : "",
			 pr ? ev->protocol : "");
	if (w < 0)
		return 0;
	return (size_t)w < n ? (size_t)w : n ? n - 1 : 0;
}

void files_event(const struct files_sink *sink, const struct files_event *ev)
{
	struct log_xfer lx = {
		.user = ev->user,
		.ip = ev->ip,
		.cmd = ev->verb,
		.path = ev->path,
		.bytes = ev->bytes,
		.duration_ms = ev->duration_ms,
		.result = result_names[ev->result],
		.reason = ev->reason,
		.direction = ev->kind == FILES_XFER_READ   ? 'o'
			     : ev->kind == FILES_XFER_LIST ? 0
							   : 'i',
		.ascii = ev->ascii,
		.protocol = ev->protocol,
	};
	log_xfer(ev->sid, &lx);
	if (log_enabled(LOG_LVL_INFO)) { /* formatted for nothing otherwise: once per file */
		char line[1024];	 /* log_info's own limit */
		(void)files_event_line(ev, line, sizeof(line));
		log_info(ev->sid, "%s", line);
	}
	if (!sink)
		return;
	struct metrics *m = sink->metrics;
	enum metrics_protocol p = metrics_protocol_of(ev->protocol);
	if (ev->kind == FILES_XFER_WRITE)
		METRICS_ADD(m, bytes_in[p], ev->bytes);
	else
		METRICS_ADD(m, bytes_out[p], ev->bytes);
	if (ev->result == FILES_OK)
		METRICS_ADD(m, xfer_ok[p], 1);
	else if (ev->result == FILES_ABORTED)
		METRICS_ADD(m, xfer_aborted[p], 1);
	else
		METRICS_ADD(m, xfer_failed[p], 1);
	if (ev->kind == FILES_XFER_WRITE && ev->result == FILES_OK && sink->hooks && ev->home) {
		struct hook_upload u = { .sid = ev->sid,
					 .user = ev->user,
					 .vpath = ev->path,
					 .home = ev->home,
					 .ip = ev->ip,
					 .protocol = ev->protocol,
					 .bytes = ev->bytes };
		hooks_upload(sink->hooks, &u);
	}
}
