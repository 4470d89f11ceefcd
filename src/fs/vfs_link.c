/* vfs_link: links inside the root (vfs.h): reading and making symbolic
 * links, hard links, and the modification time and mode of a name
 * without following it (SFTP's READLINK, SYMLINK, hardlink@openssh.com,
 * lsetstat@openssh.com).
 *
 * SECURITY: a symbolic link's target is stored as given and never looked
 * at here: every later lookup through the link is vfs_openat2's
 * (RESOLVE_IN_ROOT), so an absolute target means a path under the root
 * (the client's own "/") and ".." stops at the root; no target can lead
 * out of it. A hard link is made between two parents opened inside the
 * root without following the source (linkat without AT_SYMLINK_FOLLOW),
 * so it names only what is already inside. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vfs_impl.h"

int vfs_readlink(struct vfs *v, const char *vpath, char *out, size_t outsz)
{
	const char *rel;
	int fd = -1;
	int r = vfs_check(v);
	if (r)
		return r;
	if (!out || outsz < 2)
		return -EINVAL;
	r = vfs_rel(vpath, &rel);
	if (r)
		return r;
	/* The link itself (O_NOFOLLOW), found by the confined walk. */
	r = vfs_openat2(v->root_fd, rel, O_PATH | O_NOFOLLOW, 0, &fd);
	if (r)
		return r;
	ssize_t n = readlinkat(fd, "", out, outsz);
	if (n < 0)
		r = errno == ENOENT ? -EINVAL : -errno; /* not a link: EINVAL, as readlink(2) */
	else if ((size_t)n >= outsz)
		r = -ENAMETOOLONG;
	else
		out[n] = '\0';
	(void)close(fd);
	return r;
}

int vfs_symlink(struct vfs *v, const char *target, const char *vpath)
{
	struct vfs_where w;
	int dfd = -1;
	if (!target || !target[0])
		return -EINVAL;
	if (strnlen(target, PATH_MAX) >= PATH_MAX)
		return -ENAMETOOLONG;
	int r = vfs_parent(v, vpath, -EEXIST, &w, &dfd);
	if (r)
		return r;
	if (symlinkat(target, dfd, w.name) != 0)
		r = -errno;
	(void)close(dfd);
	return r;
}

int vfs_hardlink(struct vfs *v, const char *from, const char *to)
{
	struct vfs_where wf, wt;
	int fdf, fdt;
	int r = vfs_parents(v, from, -EPERM, &wf, &fdf, to, -EEXIST, &wt, &fdt);
	if (r)
		return r;
	/* A directory cannot be linked (EPERM); an existing name is EEXIST. */
	if (linkat(fdf, wf.name, fdt, wt.name, 0) != 0)
		r = -errno;
	vfs_close_parents(&fdf, &fdt);
	return r;
}

/* The object at vpath itself, a symbolic link not followed (O_PATH). */
static int open_nofollow(struct vfs *v, const char *vpath, int *fd, struct stat *st)
{
	const char *rel;
	int r = vfs_check(v);
	if (r == 0)
		r = vfs_rel(vpath, &rel);
	if (r == 0)
		r = vfs_openat2(v->root_fd, rel, O_PATH | O_NOFOLLOW, 0, fd);
	if (r == 0 && fstat(*fd, st) != 0) {
		r = -errno;
		(void)close(*fd);
	}
	return r;
}

int vfs_lset_mtime(struct vfs *v, const char *vpath, const struct timespec *mtime)
{
	struct stat st;
	int fd = -1;
	if (!mtime || mtime->tv_nsec < 0 || mtime->tv_nsec > 999999999L)
		return -EINVAL;
	int r = open_nofollow(v, vpath, &fd, &st);
	if (r)
		return r;
	/* AT_EMPTY_PATH on the O_PATH fd: the link's own times. */
	return vfs_set_mtime_fd(fd, mtime);
}

int vfs_lchmod(struct vfs *v, const char *vpath, mode_t mode)
{
	struct stat st;
	int fd = -1;
	int r = open_nofollow(v, vpath, &fd, &st);
	if (r)
		return r;
	(void)close(fd);
	/* Linux keeps no mode on a symbolic link; anything else is vfs_chmod's
	 * (a name that became a link since is then followed inside the root). */
	return S_ISLNK(st.st_mode) ? -EOPNOTSUPP : vfs_chmod(v, vpath, mode);
}
