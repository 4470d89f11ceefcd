/* files_fd: the file service on open files and directories (files.h), for
 * a front-end that holds handles (SFTP): the same permission decision
 * (files_allow) as the operations by path in files.c. */
#include <errno.h>

#include "files.h"

int files_dir_open(const struct files_user *u, const char *vpath, struct vfs_dir **out)
{
	int fd;
	*out = NULL;
	int r = files_allow(u->perms, FILES_OP_LIST);
	if (r == 0)
		r = vfs_opendir(u->vfs, vpath, &fd);
	if (r == 0)
		r = vfs_dir_open(fd, out); /* takes fd */
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
	int r = files_allow(u->perms, FILES_OP_LIST);
	return r ? r : vfs_statvfs(u->vfs, vpath, out);
}

int files_fd_truncate(const struct files_user *u, int fd, uint64_t size)
{
	int r = files_allow(u->perms, FILES_OP_UPLOAD);
	return r ? r : vfs_fd_truncate(fd, size);
}

int files_truncate(const struct files_user *u, const char *vpath, uint64_t size)
{
	int r = files_allow(u->perms, FILES_OP_UPLOAD);
	return r ? r : vfs_truncate(u->vfs, vpath, size);
}
