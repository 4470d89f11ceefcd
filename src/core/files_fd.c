/* files_fd: the file service on open files and directories (files.h), for
 * a front-end that holds handles (SFTP): the same permission decision
 * (files_allow) as the operations by path in files.c. */
#include <errno.h>

#include "files.h"

static int add_dir_entry(const char *name, const struct stat *st, void *arg)
{
	return vfs_dir_add_entry(arg, name, st);
}

int files_dir_open(const struct files_user *u, const char *vpath, struct vfs_dir **out)
{
	int fd;
	struct files_where w;
	*out = NULL;
	int r = files_where(u, vpath, &w);
	if (r == 0)
		r = files_allow(w.perms, FILES_OP_LIST);
	if (r == 0)
		r = vfs_opendir(w.vfs, w.sub, &fd);
	if (r == 0)
		r = vfs_dir_open(fd, out); /* takes fd */
	if (r == 0)
		r = files_space_children(u, vpath, add_dir_entry, *out); /* mount points show */
	if (r && *out) {
		vfs_dir_close(*out);
		*out = NULL;
	}
	return r;
}

int files_fd_set_mtime(const struct files_user *u, const char *vpath, int fd, const struct timespec *mtime)
{
	int r = files_allow(files_perms_at(u, vpath), FILES_OP_SET_TIME);
	return r ? r : vfs_fd_set_mtime(fd, mtime);
}

int files_fd_set_mode(const struct files_user *u, const char *vpath, int fd, mode_t mode)
{
	int r = files_allow(files_perms_at(u, vpath), FILES_OP_SET_MODE);
	/* SECURITY: as files_set_mode: no set-ID or sticky bit from a client. */
	return r ? r : vfs_fd_chmod(fd, mode & 0777);
}

/* The quota's part of the figures: what is left of it, when less than
 * the file system has (statvfs@openssh.com, df in sftp). */
static void files_statvfs_quota(const struct files_user *u, struct statvfs *sv)
{
	uint64_t bytes, files;
	if (!u->quota)
		return;
	quota_user_left(u->quota, &bytes, &files);
	uint64_t unit = sv->f_frsize ? sv->f_frsize : 1;
	if (bytes / unit < sv->f_bavail)
		sv->f_bavail = (fsblkcnt_t)(bytes / unit);
	if (bytes / unit < sv->f_bfree)
		sv->f_bfree = (fsblkcnt_t)(bytes / unit);
	if (files < sv->f_favail)
		sv->f_favail = (fsfilcnt_t)files;
	if (files < sv->f_ffree)
		sv->f_ffree = (fsfilcnt_t)files;
}

int files_statvfs(const struct files_user *u, const char *vpath, struct statvfs *out)
{
	struct files_where w;
	int r = files_where(u, vpath, &w);
	if (r == 0)
		r = files_allow(w.perms, FILES_OP_LIST);
	if (r == 0)
		r = vfs_statvfs(w.vfs, w.sub, out);
	if (r == 0 && w.vfs == u->vfs)
		files_statvfs_quota(u, out);
	return r;
}

int files_fd_statvfs(const struct files_user *u, const char *vpath, int fd, struct statvfs *out)
{
	struct files_where w;
	int r = files_where(u, vpath, &w);
	if (r == 0)
		r = files_allow(w.perms, FILES_OP_LIST);
	if (r == 0)
		r = vfs_fd_statvfs(fd, out);
	if (r == 0 && w.vfs == u->vfs)
		files_statvfs_quota(u, out);
	return r;
}

int files_available(const struct files_user *u, const char *vpath, uint64_t *bytes)
{
	struct statvfs sv;
	struct stat st;
	struct files_where w;
	int r = files_where(u, vpath, &w);
	if (r == 0)
		r = vfs_stat(w.vfs, w.sub, &st);
	if (r == 0 && !S_ISDIR(st.st_mode))
		r = -ENOTDIR;
	if (r == 0)
		r = vfs_statvfs(w.vfs, w.sub, &sv);
	if (r)
		return r;
	uint64_t unit = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
	*bytes = (uint64_t)sv.f_bavail > UINT64_MAX / (unit ? unit : 1) ? UINT64_MAX : (uint64_t)sv.f_bavail * unit;
	if (u->quota && w.vfs == u->vfs) {
		uint64_t qb, qf;
		quota_user_left(u->quota, &qb, &qf);
		if (qb < *bytes)
			*bytes = qb;
	}
	return 0;
}

int files_truncate(const struct files_user *u, const char *vpath, uint64_t size)
{
	struct files_where w;
	struct stat st;
	struct quota_upload a = { 0 };
	int r = files_where(u, vpath, &w);
	if (r == 0)
		r = files_allow(w.perms, FILES_OP_UPLOAD);
	if (r)
		return r;
	/* A file of the user's home changes size as an upload written in
	 * place would: an extension is reserved first, the change counted. */
	if (u->quota && w.vfs == u->vfs && vfs_stat(w.vfs, w.sub, &st) == 0 && S_ISREG(st.st_mode)) {
		a = (struct quota_upload){ .q = quota_user_ref(u->quota),
					   .base = (uint64_t)st.st_size,
					   .old_file = true,
					   .pos = (uint64_t)st.st_size,
					   .wait = u->quota_wait };
		r = quota_upload_start(&a);
		uint64_t ok = 0;
		if (r == 0 && size > a.pos) {
			r = quota_upload_reserve(&a, size - a.pos, false, &ok);
			if (r == 0 && ok < size - a.pos)
				r = -EDQUOT;
		}
	}
	if (r == 0)
		r = vfs_truncate(w.vfs, w.sub, size);
	quota_upload_end(&a, r == 0, size);
	return r;
}
