/* vfs: the only syscalls on client paths (see vfs.h and ARCHITECTURE §5).
 *
 * Two primitives carry the confinement:
 *  - vfs_openat2(): openat2(root_fd, rel, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS).
 *    The kernel treats root_fd as "/" for the whole walk, including ".." and
 *    absolute symlink targets, and refuses /proc magic links.
 *  - vfs_split() + vfs_parent(): the parent directory is opened with openat2
 *    and the operation acts on exactly one validated final component with an
 *    *at() call, which never follows that component if it is a symlink.
 * Nothing here compares path strings to decide what is inside the root. */
#include "vfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ascii.h"
#include "vfs_impl.h"

/* fchmodat2(2), Linux 6.6: one number on every architecture; the Debian 12
 * headers predate it. Older kernels answer ENOSYS. */
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

#define VFS_RESOLVE (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
/* openat2 answers EAGAIN when a rename or mount raced with a confined walk. */
#define VFS_EAGAIN_RETRIES 16

int vfs_check(const struct vfs *v)
{
	return (v && v->root_fd >= 0) ? 0 : -EBADF;
}

/* SECURITY: the one place a client path is resolved. dirfd is the session's
 * root_fd, so "/", ".." and symlinks (absolute or relative, at any depth)
 * cannot leave it; magic links (/proc/self/fd/N, /proc/self/root, ...) are
 * refused with ELOOP instead of being followed anywhere. */
int vfs_openat2(int dirfd, const char *rel, uint64_t flags, uint64_t mode, int *out)
{
	struct open_how how;
	memset(&how, 0, sizeof(how));
	how.flags = flags | O_CLOEXEC;
	if (!(flags & O_PATH))
		how.flags |= O_NOCTTY; /* openat2 refuses any flag O_PATH ignores */
	how.mode = mode;
	how.resolve = VFS_RESOLVE;
	for (int tries = 0;; tries++) {
		long r = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
		if (r >= 0) {
			*out = (int)r;
			return 0;
		}
		int e = errno;
		if ((e == EAGAIN || e == EINTR) && tries < VFS_EAGAIN_RETRIES)
			continue;
		return -e;
	}
}

/* vpath relative to the root: leading slashes dropped, the root itself ".". */
/* SECURITY: upload temporaries and partials are ferryd's own: no client
 * path may name one (to read, replace, rename or delete it), so they are
 * refused like a file the user may not touch, existing or not. */
static int vfs_reserved(const char *name)
{
	return vfs_name_internal(name) ? -EACCES : 0;
}

int vfs_rel(const char *vpath, const char **rel)
{
	if (!vpath)
		return -EINVAL;
	while (*vpath == '/')
		vpath++;
	if (strnlen(vpath, PATH_MAX) >= PATH_MAX)
		return -ENAMETOOLONG;
	const char *last = strrchr(vpath, '/');
	int r = vfs_reserved(last ? last + 1 : vpath);
	if (r)
		return r;
	*rel = *vpath ? vpath : ".";
	return 0;
}

/* SECURITY: the final component is handed to *at() calls relative to the
 * parent fd, outside openat2's walk, so it must be exactly one ordinary
 * name: "." would address the parent itself and ".." the directory above it
 * (above the root when the parent is the root); empty, '/' or over-long
 * names are not one component. */
static int vfs_check_name(const char *name)
{
	size_t n = strnlen(name, NAME_MAX + 1);
	if (n == 0)
		return -EINVAL;
	if (n > NAME_MAX)
		return -ENAMETOOLONG;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || memchr(name, '/', n))
		return -EINVAL;
	return vfs_reserved(name);
}

int vfs_split(const char *vpath, struct vfs_where *w)
{
	if (!vpath)
		return -EINVAL;
	while (*vpath == '/')
		vpath++;
	size_t len = strnlen(vpath, PATH_MAX);
	if (len >= PATH_MAX)
		return -ENAMETOOLONG;
	w->parent[0] = '.';
	w->parent[1] = '\0';
	w->name = NULL;
	if (len == 0)
		return 0; /* the root itself */
	const char *slash = memrchr(vpath, '/', len);
	if (slash) {
		size_t plen = (size_t)(slash - vpath); /* >= 1: leading slashes were skipped */
		memcpy(w->parent, vpath, plen);
		w->parent[plen] = '\0';
		w->name = slash + 1;
	} else {
		w->name = vpath;
	}
	return vfs_check_name(w->name);
}

/* Splits vpath and opens its parent (O_PATH) inside the root. root_err is
 * the answer when vpath is the root itself, which has no parent here. */
int vfs_parent(struct vfs *v, const char *vpath, int root_err, struct vfs_where *w, int *dfd)
{
	int r = vfs_check(v);
	if (r)
		return r;
	r = vfs_split(vpath, w);
	if (r)
		return r;
	if (!w->name)
		return root_err;
	return vfs_openat2(v->root_fd, w->parent, O_PATH | O_DIRECTORY, 0, dfd);
}

/* Opens vpath inside the root with flags and stats the result. */
static int vfs_stat_with(struct vfs *v, const char *vpath, uint64_t flags, struct stat *st)
{
	const char *rel;
	int fd = -1;
	int r = vfs_check(v);
	if (r)
		return r;
	if (!st)
		return -EINVAL;
	r = vfs_rel(vpath, &rel);
	if (r)
		return r;
	r = vfs_openat2(v->root_fd, rel, flags, 0, &fd);
	if (r)
		return r;
	if (fstat(fd, st) != 0)
		r = -errno;
	(void)close(fd);
	return r;
}

bool vfs_supported(void)
{
	/* Initialised although vfs_openat2 sets it on success: gcc -O3 cannot
	 * see that through the inlined syscall wrapper (-Wmaybe-uninitialized). */
	int fd = -1;
	/* Any failure (ENOSYS, or a sandbox refusing the call) means no openat2. */
	if (vfs_openat2(AT_FDCWD, "/", O_PATH | O_DIRECTORY, 0, &fd) != 0)
		return false;
	(void)close(fd);
	return true;
}

/* *fd is the caller's to close (also for vfs_opendir). */
int vfs_open(struct vfs *v, const char *vpath, int flags, int *fd)
{
	const char *rel;
	int r = vfs_check(v);
	if (r)
		return r;
	/* Creation belongs to the upload functions (temporary names, modes). The
	 * O_TMPFILE test uses its own bit: O_TMPFILE includes O_DIRECTORY. */
	if (!fd || (flags & (O_CREAT | (O_TMPFILE & ~O_DIRECTORY))))
		return -EINVAL;
	r = vfs_rel(vpath, &rel);
	if (r)
		return r;
	return vfs_openat2(v->root_fd, rel, (unsigned int)flags, 0, fd);
}

int vfs_fstat(int fd, struct stat *st)
{
	return fstat(fd, st) == 0 ? 0 : -errno;
}

void vfs_fd_close(int fd)
{
	if (fd >= 0)
		(void)close(fd);
}

int vfs_fd_dup(int fd)
{
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return d >= 0 ? d : -errno;
}

int vfs_ascii_size(int fd, uint64_t max, uint64_t *out)
{
	char buf[65536];
	uint64_t n = 0, size = 0;
	for (;;) {
		/* pread: the file offset stays where a transfer expects it. */
		ssize_t got = pread(fd, buf, sizeof(buf), (off_t)n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			break;
		n += (uint64_t)got;
		if (n > max) /* it grew: the work stays bounded */
			return -EFBIG;
		size += ascii_wire_size((struct slice){ buf, (size_t)got });
	}
	*out = size;
	return 0;
}

int vfs_stat(struct vfs *v, const char *vpath, struct stat *st)
{
	return vfs_stat_with(v, vpath, O_PATH, st);
}

/* O_PATH|O_NOFOLLOW yields the final symlink itself while openat2 still
 * confines every other component; unlike fstatat(parent, name) it also
 * handles "/", "." and ".." as final components without leaving the root. */
int vfs_lstat(struct vfs *v, const char *vpath, struct stat *st)
{
	return vfs_stat_with(v, vpath, O_PATH | O_NOFOLLOW, st);
}

int vfs_opendir(struct vfs *v, const char *vpath, int *fd)
{
	const char *rel;
	int r = vfs_check(v);
	if (r)
		return r;
	if (!fd)
		return -EINVAL;
	r = vfs_rel(vpath, &rel);
	if (r)
		return r;
	return vfs_openat2(v->root_fd, rel, O_RDONLY | O_DIRECTORY, 0, fd);
}

int vfs_mkdir(struct vfs *v, const char *vpath, mode_t mode)
{
	struct vfs_where w;
	int dfd = -1;
	int r = vfs_parent(v, vpath, -EEXIST, &w, &dfd);
	if (r)
		return r;
	/* SECURITY: permission bits only; no set-id or sticky bits from a client. */
	if (mkdirat(dfd, w.name, mode & 0777) != 0)
		r = -errno;
	(void)close(dfd);
	return r;
}

/* The root has no parent inside the root, so it is never a final component
 * here: removing or renaming it is refused before any syscall. */
int vfs_rmdir(struct vfs *v, const char *vpath)
{
	struct vfs_where w;
	int dfd = -1;
	int r = vfs_parent(v, vpath, -EBUSY, &w, &dfd);
	if (r)
		return r;
	if (unlinkat(dfd, w.name, AT_REMOVEDIR) != 0)
		r = -errno;
	(void)close(dfd);
	return r;
}

int vfs_unlink(struct vfs *v, const char *vpath)
{
	struct vfs_where w;
	int dfd = -1;
	int r = vfs_parent(v, vpath, -EISDIR, &w, &dfd);
	if (r)
		return r;
	/* Linux answers EISDIR for a directory; a symlink is removed itself. */
	if (unlinkat(dfd, w.name, 0) != 0)
		r = -errno;
	(void)close(dfd);
	return r;
}

int vfs_parents(struct vfs *v, const char *from, int from_err, struct vfs_where *wf, int *fdf, const char *to,
		int to_err, struct vfs_where *wt, int *fdt)
{
	*fdf = *fdt = -1;
	int r = vfs_parent(v, from, from_err, wf, fdf);
	if (r == 0)
		r = vfs_parent(v, to, to_err, wt, fdt);
	if (r)
		vfs_close_parents(fdf, fdt);
	return r;
}

void vfs_close_parents(int *fdf, int *fdt)
{
	if (*fdf >= 0)
		(void)close(*fdf);
	if (*fdt >= 0)
		(void)close(*fdt);
	*fdf = *fdt = -1;
}

int vfs_rename(struct vfs *v, const char *from, const char *to)
{
	struct vfs_where wf, wt;
	int fdf, fdt;
	int r = vfs_parents(v, from, -EBUSY, &wf, &fdf, to, -EBUSY, &wt, &fdt);
	if (r)
		return r;
	/* A directory moved into its own subtree: the kernel answers EINVAL. */
	if (renameat(fdf, wf.name, fdt, wt.name) != 0)
		r = -errno;
	vfs_close_parents(&fdf, &fdt);
	return r;
}

int vfs_set_mtime_fd(int fd, const struct timespec *mtime)
{
	int r = 0;
	const struct timespec ts[2] = { { .tv_sec = 0, .tv_nsec = UTIME_OMIT }, *mtime };
	if (utimensat(fd, "", ts, AT_EMPTY_PATH) != 0)
		r = -errno;
	(void)close(fd);
	return r;
}

/* utimensat(AT_EMPTY_PATH) on an O_PATH fd (Linux >= 5.8): the object that
 * the confined walk found is the one changed, with no second lookup and no
 * need to be able to read or write it. */
int vfs_set_mtime(struct vfs *v, const char *vpath, const struct timespec *mtime)
{
	const char *rel;
	int fd = -1;
	int r = vfs_check(v);
	if (r)
		return r;
	if (!mtime || mtime->tv_nsec < 0 || mtime->tv_nsec > 999999999L)
		return -EINVAL;
	r = vfs_rel(vpath, &rel);
	if (r)
		return r;
	r = vfs_openat2(v->root_fd, rel, O_PATH, 0, &fd);
	if (r)
		return r;
	return vfs_set_mtime_fd(fd, mtime);
}

/* chmod before fchmodat2 (Linux < 6.6): O_PATH fds refuse fchmod, so the
 * object is opened for reading (or writing, if that is what its mode allows)
 * by a second confined lookup, used only if it found the same inode. A file
 * with neither permission cannot be changed on such kernels. */
static int vfs_chmod_reopen(int root_fd, const char *rel, const struct stat *want, mode_t mode)
{
	struct stat st;
	int fd = -1;
	int r = vfs_openat2(root_fd, rel, O_RDONLY | O_NONBLOCK, 0, &fd);
	if (r == -EACCES && !S_ISDIR(want->st_mode))
		r = vfs_openat2(root_fd, rel, O_WRONLY | O_NONBLOCK, 0, &fd);
	if (r)
		return r;
	if (fstat(fd, &st) != 0) {
		r = -errno;
		goto fail;
	}
	if (st.st_dev != want->st_dev || st.st_ino != want->st_ino) {
		r = -EAGAIN; /* replaced between the two lookups */
		goto fail;
	}
	if (fchmod(fd, mode) != 0)
		r = -errno;
fail:
	(void)close(fd);
	return r;
}

int vfs_chmod(struct vfs *v, const char *vpath, mode_t mode)
{
	const char *rel;
	struct stat st, root_st;
	int fd = -1;
	int r = vfs_check(v);
	if (r)
		return r;
	/* SECURITY: permission bits only. A set-id bit would let anyone on the
	 * host who can reach an uploaded program run it as the service account. */
	if (mode & ~(mode_t)0777)
		return -EPERM;
	r = vfs_rel(vpath, &rel);
	if (r)
		return r;
	r = vfs_openat2(v->root_fd, rel, O_PATH, 0, &fd);
	if (r)
		return r;
	if (fstat(fd, &st) != 0 || fstat(v->root_fd, &root_st) != 0) {
		r = -errno;
		goto fail;
	}
	/* The home's own mode is the administrator's: a client that set it to
	 * 000 would lock itself out of every lookup. Compared by identity, so
	 * "/..", "/dir/.." and symlinks to "/" are covered too. */
	if (st.st_dev == root_st.st_dev && st.st_ino == root_st.st_ino) {
		r = -EPERM;
		goto fail;
	}
	if (syscall(SYS_fchmodat2, fd, "", (unsigned int)mode, AT_EMPTY_PATH) != 0) {
		r = -errno;
		if (r == -ENOSYS)
			r = vfs_chmod_reopen(v->root_fd, rel, &st, mode);
	}
fail:
	(void)close(fd);
	return r;
}

/* ---- names ---- */

/* prefix followed by the n bytes of raw in hex; names never contain '/'. */
int vfs_hex_name(const char *prefix, const unsigned char *raw, size_t n, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	size_t plen = strlen(prefix);
	if (plen + 2 * n + 1 > outsz)
		return -ENAMETOOLONG;
	memcpy(out, prefix, plen);
	for (size_t i = 0; i < n; i++) {
		out[plen + 2 * i] = hex[raw[i] >> 4];
		out[plen + 2 * i + 1] = hex[raw[i] & 0x0f];
	}
	out[plen + 2 * n] = '\0';
	return 0;
}
