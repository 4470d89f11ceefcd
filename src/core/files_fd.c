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

int files_fd_set_mtime(const struct files_user *u, int fd, const struct timespec *mtime)
{
	int r = files_allow(u->perms, FILES_OP_SET_TIME);
	return r ? r : vfs_fd_set_mtime(fd, mtime);
}

int files_fd_set_mode(const struct files_user *u, int fd, mode_t mode)
{
	int r = files_allow(u->perms, FILES_OP_SET_MODE);
	/* SECURITY: as files_set_mode: no set-ID or sticky bit from a client. */
	return r ? r : vfs_fd_chmod(fd, mode & 0777);
}

int files_statvfs(const struct files_user *u, const char *vpath, struct statvfs *out)
{
	struct files_where w;
	int r = files_where(u, vpath, &w);
	if (r == 0)
		r = files_allow(w.perms, FILES_OP_LIST);
	return r ? r : vfs_statvfs(w.vfs, w.sub, out);
}

int files_fd_truncate(const struct files_user *u, int fd, uint64_t size)
{
	int r = files_allow(u->perms, FILES_OP_UPLOAD);
	return r ? r : vfs_fd_truncate(fd, size);
}

int files_truncate(const struct files_user *u, const char *vpath, uint64_t size)
{
	struct files_where w;
	int r = files_where(u, vpath, &w);
	if (r == 0)
		r = files_allow(w.perms, FILES_OP_UPLOAD);
	return r ? r : vfs_truncate(w.vfs, w.sub, size);
}
