/* vfs_dir: fds vfs opened, used by the SFTP front-end (vfs_dir.h). */
#include "vfs_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "vfs_impl.h"

int vfs_fd_pread(int fd, void *buf, size_t n, uint64_t off, size_t *got)
{
	*got = 0;
	if (off > (uint64_t)INT64_MAX)
		return -EINVAL;
	for (;;) {
		ssize_t r = pread(fd, buf, n, (off_t)off);
		if (r >= 0) {
			*got = (size_t)r;
			return 0;
		}
		if (errno != EINTR)
			return -errno;
	}
}

int vfs_fd_pwrite(int fd, const void *buf, size_t n, uint64_t off)
{
	const char *p = buf;
	uint64_t end;
	if (__builtin_add_overflow(off, (uint64_t)n, &end) || end > (uint64_t)INT64_MAX)
		return -EFBIG;
	while (n) {
		ssize_t r = pwrite(fd, p, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

/* read + write through a buffer: copy_file_range cannot (another file
 * system before Linux 5.19, an O_APPEND fd, a kernel without it). */
static int copy_by_hand(int in, uint64_t off_in, int out, uint64_t off_out, size_t n, size_t *copied)
{
	char buf[64 * 1024];
	while (*copied < n) {
		size_t want = n - *copied < sizeof(buf) ? n - *copied : sizeof(buf), got;
		int r = vfs_fd_pread(in, buf, want, off_in + *copied, &got);
		if (r == 0 && got)
			r = vfs_fd_pwrite(out, buf, got, off_out + *copied);
		if (r || !got)
			return r;
		*copied += got;
	}
	return 0;
}

int vfs_fd_copy(int in, uint64_t off_in, int out, uint64_t off_out, size_t n, size_t *copied)
{
	uint64_t end;
	*copied = 0;
	if (off_in > (uint64_t)INT64_MAX || __builtin_add_overflow(off_out, (uint64_t)n, &end) ||
	    end > (uint64_t)INT64_MAX)
		return -EFBIG;
	int fl = fcntl(out, F_GETFL);
	while (!(fl & O_APPEND) && *copied < n) {
		loff_t oi = (loff_t)(off_in + *copied), oo = (loff_t)(off_out + *copied);
		ssize_t r = copy_file_range(in, &oi, out, &oo, n - *copied, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 &&
		    (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP || errno == EBADF))
			break; /* the kernel cannot here: by hand from where it stopped */
		if (r < 0)
			return -errno;
		if (r == 0)
			return 0; /* the end of in */
		*copied += (size_t)r;
	}
	return copy_by_hand(in, off_in, out, off_out, n, copied);
}

int vfs_fd_truncate(int fd, uint64_t size)
{
	if (size > (uint64_t)INT64_MAX)
		return -EFBIG;
	return ftruncate(fd, (off_t)size) == 0 ? 0 : -errno;
}

int vfs_truncate(struct vfs *v, const char *vpath, uint64_t size)
{
	struct stat st;
	int fd = -1;
	/* O_NONBLOCK: a FIFO must not block the loop (it is refused below). */
	int r = vfs_open(v, vpath, O_WRONLY | O_NONBLOCK, &fd);
	if (r == 0 && fstat(fd, &st) != 0)
		r = -errno;
	if (r == 0 && !S_ISREG(st.st_mode))
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	if (r == 0)
		r = vfs_fd_truncate(fd, size);
	if (fd >= 0)
		(void)close(fd);
	return r;
}

int vfs_fd_sync(int fd)
{
	return fsync(fd) == 0 ? 0 : -errno;
}

int vfs_fd_set_mtime(int fd, const struct timespec *mtime)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, *mtime };
	return futimens(fd, ts) == 0 ? 0 : -errno;
}

int vfs_fd_chmod(int fd, mode_t mode)
{
	return fchmod(fd, mode) == 0 ? 0 : -errno;
}

int vfs_statvfs(struct vfs *v, const char *vpath, struct statvfs *out)
{
	const char *rel;
	int fd = -1;
	int r = vfs_check(v);
	if (r == 0)
		r = vfs_rel(vpath, &rel);
	if (r == 0)
		r = vfs_openat2(v->root_fd, rel, O_PATH, 0, &fd);
	if (r == 0)
		r = vfs_fd_statvfs(fd, out);
	if (fd >= 0)
		(void)close(fd);
	return r;
}

int vfs_fd_statvfs(int fd, struct statvfs *out)
{
	return fstatvfs(fd, out) == 0 ? 0 : -errno;
}

struct vfs_dir {
	DIR *d;
	struct vfs_dir_extra {
		char *name;
		struct stat st;
	} * extra;
	size_t n_extra, extra_pos;
	bool started, eof;
};

static bool hidden_by_extra(const struct vfs_dir *d, const char *name)
{
	for (size_t i = 0; i < d->n_extra; i++)
		if (strcmp(d->extra[i].name, name) == 0)
			return true;
	return false;
}

int vfs_dir_add_entry(struct vfs_dir *d, const char *name, const struct stat *st)
{
	if (!d || d->started || !name[0] || strchr(name, '/'))
		return -EINVAL;
	struct vfs_dir_extra *x = realloc(d->extra, (d->n_extra + 1) * sizeof(*x));
	if (!x)
		return -ENOMEM;
	d->extra = x;
	x[d->n_extra].name = util_xstrdup(name);
	x[d->n_extra].st = *st;
	d->n_extra++;
	return 0;
}

int vfs_dir_open(int dirfd, struct vfs_dir **out)
{
	*out = NULL;
	DIR *d = fdopendir(dirfd);
	if (!d) {
		int e = errno;
		(void)close(dirfd);
		return -e;
	}
	struct vfs_dir *vd = util_xcalloc(1, sizeof(*vd));
	vd->d = d;
	*out = vd;
	return 0;
}

int vfs_dir_next(struct vfs_dir *d, const char **name, struct stat *st, char *target, size_t targetsz)
{
	d->started = true;
	for (;;) {
		if (d->eof) {
			if (d->extra_pos >= d->n_extra)
				return 0;
			const struct vfs_dir_extra *x = &d->extra[d->extra_pos++];
			*name = x->name;
			*st = x->st;
			target[0] = '\0';
			return 1;
		}
		errno = 0;
		struct dirent *de = readdir(d->d);
		if (!de) {
			if (errno)
				return -errno;
			d->eof = true;
			continue;
		}
		if (vfs_name_internal(de->d_name) || hidden_by_extra(d, de->d_name))
			continue;
		/* SECURITY: fstatat on one component of a directory opened
		 * inside the root, without following a link: nothing outside
		 * is looked at. */
		if (fstatat(dirfd(d->d), de->d_name, st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		target[0] = '\0';
		if (S_ISLNK(st->st_mode) && targetsz > 1) {
			ssize_t n = readlinkat(dirfd(d->d), de->d_name, target, targetsz - 1);
			target[n > 0 ? (size_t)n : 0] = '\0';
		}
		*name = de->d_name;
		return 1;
	}
}

void vfs_dir_close(struct vfs_dir *d)
{
	if (!d)
		return;
	(void)closedir(d->d);
	for (size_t i = 0; i < d->n_extra; i++)
		free(d->extra[i].name);
	free(d->extra);
	free(d);
}
