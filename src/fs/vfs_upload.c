/* vfs_upload: uploads (vfs.h). A new file is written under a temporary
 * (an O_TMPFILE, or a random hidden name) in the target directory and
 * renamed over the target at commit, so readers see the old file or the
 * whole new one; RESUME and APPEND without temporaries write in place. An
 * interrupted upload's temporary is kept as its owner's partial
 * (vfs_partial.c), which that owner's next APPEND or RESUME continues.
 *
 * Above vfs.c (confined resolution) and vfs_partial.c (partial names):
 * neither calls back into this file. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "str.h"
#include "util.h"
#include "vfs_impl.h"

/* Attempts at a fresh random name before giving up with EEXIST. */
#define VFS_NAME_TRIES 8
#define VFS_FILE_MODE 0644
#define VFS_TMP_RANDOM 8 /* bytes, 16 hex digits */
#define VFS_UNIQUE_PREFIX "ferry."
#define VFS_UNIQUE_RANDOM 4 /* bytes, 8 hex digits */

static int vfs_random_name(const char *prefix, size_t nbytes, char *out, size_t outsz)
{
	unsigned char raw[16];
	if (nbytes > sizeof(raw))
		return -ENAMETOOLONG;
	int r = util_random(raw, nbytes);
	return r ? r : vfs_hex_name(prefix, raw, nbytes, out, outsz);
}

/* Creates a new regular file under a fresh random name in dirfd (which came
 * from a confined walk). SECURITY: the name is generated here, one component
 * without '/', and O_CREAT|O_EXCL never follows or reuses an existing entry
 * (not even a symlink), so this plain openat cannot leave dirfd. name is
 * empty on failure. */
static int vfs_create_random(int dirfd, const char *prefix, size_t nbytes, char *name, size_t namesz, int *fd)
{
	int r = -EEXIST;
	for (int i = 0; i < VFS_NAME_TRIES && r == -EEXIST; i++) {
		r = vfs_random_name(prefix, nbytes, name, namesz);
		if (r)
			break;
		int f =
		    openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, VFS_FILE_MODE);
		if (f >= 0) {
			*fd = f;
			return 0;
		}
		r = -errno;
	}
	name[0] = '\0';
	return r;
}

/* An O_TMPFILE is only useful if this process may give it a name later:
 * linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH, or (Linux >= 6.10) that
 * the file was opened with the caller's own credentials. The kernel checks
 * that before it looks at the new name, so linking onto "." answers EEXIST
 * when a link will work and ENOENT when not, and creates nothing. */
static int vfs_tmpfile_open(int dirfd, int *fd)
{
	int f = openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, VFS_FILE_MODE);
	if (f < 0)
		return -errno; /* EOPNOTSUPP on filesystems without it */
	if (linkat(f, "", dirfd, ".", AT_EMPTY_PATH) == 0 || errno != EEXIST) {
		(void)close(f);
		return -EOPNOTSUPP;
	}
	*fd = f;
	return 0;
}

/* Names the O_TMPFILE under a fresh temporary name (commit then renames it,
 * since linkat cannot replace an existing final name). */
static int vfs_tmpfile_link(struct vfs_upload *u)
{
	char name[sizeof(u->tmpname)];
	for (int i = 0; i < VFS_NAME_TRIES; i++) {
		int r = vfs_random_name(VFS_TMP_PREFIX, VFS_TMP_RANDOM, name, sizeof(name));
		if (r)
			return r;
		if (linkat(u->fd, "", u->dirfd, name, AT_EMPTY_PATH) == 0) {
			memcpy(u->tmpname, name, sizeof(name));
			return 0;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/* The directory of an in-place upload (O_PATH, like a temporary's), so a
 * durable commit can fsync the name's directory too. Best effort: the
 * target itself opened already, and without it only the file is synced. */
static void vfs_inplace_dir(struct vfs *v, const char *vpath, struct vfs_upload *u)
{
	struct vfs_where w;
	if (u->dirfd < 0 && vfs_split(vpath, &w) == 0)
		(void)vfs_openat2(v->root_fd, w.parent, O_PATH | O_DIRECTORY, 0, &u->dirfd);
}

/* fsync of the directory dirfd (an O_PATH descriptor, which fsync refuses:
 * opened again for reading through ".", which cannot leave it). */
static int vfs_sync_dir(int dirfd)
{
	if (dirfd < 0)
		return 0;
	int d = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		return -errno;
	int r = fsync(d) == 0 ? 0 : -errno;
	(void)close(d);
	return r;
}

/* Opens an upload target in place. O_NONBLOCK keeps a FIFO from stalling the
 * worker at open; anything but a regular file is refused. */
static int vfs_open_inplace(int root_fd, const char *rel, uint64_t flags, int *out)
{
	struct stat st;
	int fd = -1;
	int r = vfs_openat2(root_fd, rel, flags | O_NONBLOCK, (flags & O_CREAT) ? VFS_FILE_MODE : 0, &fd);
	if (r)
		return r;
	if (fstat(fd, &st) != 0) {
		r = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		goto fail;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
		r = -errno;
		goto fail;
	}
	*out = fd;
	return 0;
fail:
	(void)close(fd);
	return r;
}

/* RFC 3659 §5.3: STOR after REST n rewrites the file from byte n, so the
 * offset must lie within the file (-EINVAL otherwise: the caller answers
 * 554). A missing file is created only when the offset is 0. */
static int vfs_begin_resume(struct vfs *v, const char *rel, uint64_t offset, struct vfs_upload *u)
{
	struct stat st;
	int r = vfs_open_inplace(v->root_fd, rel, O_WRONLY | (offset == 0 ? O_CREAT : 0), &u->fd);
	if (r)
		return r;
	if (fstat(u->fd, &st) != 0)
		return -errno;
	if (offset > (uint64_t)st.st_size)
		return -EINVAL;
	if (ftruncate(u->fd, (off_t)offset) != 0)
		return -errno;
	if (lseek(u->fd, (off_t)offset, SEEK_SET) < 0)
		return -errno;
	return 0;
}

static int vfs_begin_replace_temp(struct vfs *v, const char *rel, struct vfs_upload *u)
{
	struct stat st;
	int fd = -1;
	/* Refuse a directory now (also one reached through a symlink, resolved
	 * inside the root) rather than after the whole upload. */
	int r = vfs_openat2(v->root_fd, rel, O_PATH, 0, &fd);
	if (r == 0) {
		if (fstat(fd, &st) != 0)
			r = -errno;
		else if (S_ISDIR(st.st_mode))
			r = -EISDIR;
		(void)close(fd);
		if (r)
			return r;
	} else if (r != -ENOENT) {
		return r;
	}
	u->temp = true;
	if (vfs_tmpfile_open(u->dirfd, &u->fd) == 0) {
		u->tmpfile = true;
		return 0;
	}
	return vfs_create_random(u->dirfd, VFS_TMP_PREFIX, VFS_TMP_RANDOM, u->tmpname, sizeof(u->tmpname), &u->fd);
}

static void vfs_upload_init(struct vfs_upload *u)
{
	memset(u, 0, sizeof(*u));
	u->fd = -1;
	u->dirfd = -1;
}

/* u is filled in and owns its fds until commit or abort. On failure nothing
 * stays open (u->fd == -1, abort not needed) and no temporary stays on disk;
 * a RESUME target keeps its content (truncation is the last step). */
int vfs_upload_begin(struct vfs *v, const char *vpath, enum vfs_upload_mode mode, uint64_t offset, bool temp_uploads,
		     struct vfs_upload *u)
{
	return vfs_upload_begin_as(v, vpath, mode, offset, temp_uploads, NULL, u);
}

int vfs_upload_begin_as(struct vfs *v, const char *vpath, enum vfs_upload_mode mode, uint64_t offset, bool temp_uploads,
			const char *owner, struct vfs_upload *u)
{
	struct vfs_where w;
	const char *rel;
	if (!u)
		return -EINVAL;
	vfs_upload_init(u);
	int r = vfs_check(v);
	if (r)
		return r;
	r = vfs_rel(vpath, &rel);
	if (r)
		return r;
	if (mode == VFS_UPLOAD_UNIQUE) {
		/* vpath names the directory; the file name is ours. */
		r = vfs_openat2(v->root_fd, rel, O_PATH | O_DIRECTORY, 0, &u->dirfd);
		if (r)
			goto fail;
		r = vfs_create_random(u->dirfd, VFS_UNIQUE_PREFIX, VFS_UNIQUE_RANDOM, u->unique_name,
				      sizeof(u->unique_name), &u->fd);
		if (r)
			goto fail;
		memcpy(u->final, u->unique_name, sizeof(u->final));
		return 0;
	}
	r = vfs_split(vpath, &w);
	if (r)
		goto fail;
	if (!w.name) {
		r = -EISDIR; /* the root */
		goto fail;
	}
	if (!str_copy(u->final, sizeof(u->final), w.name)) {
		r = -ENAMETOOLONG;
		goto fail;
	}
	if (owner && temp_uploads) {
		r = vfs_openat2(v->root_fd, w.parent, O_PATH | O_DIRECTORY, 0, &u->dirfd);
		if (r == 0)
			r = vfs_partial_name(owner, u->final, u->partial, sizeof(u->partial));
		if (r == 0 && mode != VFS_UPLOAD_REPLACE) {
			r = vfs_begin_partial(u, mode, offset);
			if (r != -ENOENT)
				goto done; /* continued, or a real error */
			r = 0;
		}
		if (r)
			goto fail;
	}
	switch (mode) {
	case VFS_UPLOAD_REPLACE:
		if (!temp_uploads) {
			/* O_CREAT through a symlink final component creates its
			 * target, which openat2 resolves inside the root. */
			r = vfs_open_inplace(v->root_fd, rel, O_WRONLY | O_CREAT | O_TRUNC, &u->fd);
			break;
		}
		if (u->dirfd < 0)
			r = vfs_openat2(v->root_fd, w.parent, O_PATH | O_DIRECTORY, 0, &u->dirfd);
		if (r == 0)
			r = vfs_begin_replace_temp(v, rel, u);
		break;
	case VFS_UPLOAD_APPEND:
		r = vfs_open_inplace(v->root_fd, rel, O_WRONLY | O_APPEND | O_CREAT, &u->fd);
		break;
	case VFS_UPLOAD_RESUME:
		r = vfs_begin_resume(v, rel, offset, u);
		break;
	default:
		r = -EINVAL;
		break;
	}
done:
	if (r)
		goto fail;
	vfs_inplace_dir(v, vpath, u);
	return 0;
fail:
	vfs_upload_abort(u);
	vfs_upload_init(u);
	return r;
}

int vfs_upload_commit(struct vfs_upload *u)
{
	int r = 0;
	if (!u || u->fd < 0)
		return -EBADF;
	/* Durable: the content first, while a failure can still leave
	 * everything as it was (an O_TMPFILE has no name yet). */
	if (u->durable && fsync(u->fd) != 0) {
		r = -errno;
		goto fail;
	}
	if (u->temp && u->tmpfile) {
		r = vfs_tmpfile_link(u);
		if (r)
			goto fail;
	}
	/* close() is where NFS or a quota may report a failed write: a file
	 * that reports one is not put in place. */
	int fd = u->fd;
	u->fd = -1;
	if (close(fd) != 0 && errno != EINTR) {
		r = -errno;
		goto fail;
	}
	if (u->temp) {
		/* Atomically replaces an old file; EISDIR if a directory appeared. */
		if (renameat(u->dirfd, u->tmpname, u->dirfd, u->final) != 0) {
			r = -errno;
			goto fail;
		}
		u->tmpname[0] = '\0';
		/* A fresh upload supersedes its owner's partial. */
		if (!u->resumed && u->partial[0])
			(void)unlinkat(u->dirfd, u->partial, 0);
	}
	u->unique_name[0] = '\0'; /* committed: the STOU file stays */
	/* The new name: after this the upload survives a crash. Nothing is
	 * undone if it fails (the file is in place); the caller reports it. */
	if (u->durable)
		r = vfs_sync_dir(u->dirfd);
fail:
	vfs_upload_abort(u); /* closes the rest; removes the temporary on failure */
	return r;
}

void vfs_upload_writebehind(int fd)
{
	/* WRITE alone: queue what is dirty (pages already being written are
	 * skipped), wait for nothing. 0, 0: the whole file, as far as it goes. */
	(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

/* Safe after commit or a failed begin (everything is -1 / empty then). */
void vfs_upload_abort(struct vfs_upload *u)
{
	if (!u)
		return;
	if (u->fd >= 0) {
		(void)close(u->fd);
		u->fd = -1;
	}
	if (u->tmpname[0] && u->dirfd >= 0)
		(void)unlinkat(u->dirfd, u->tmpname, 0); /* nothing better to do if it fails */
	u->tmpname[0] = '\0';
	/* A failed STOU leaves nothing behind under the name it chose. */
	if (u->unique_name[0] && u->dirfd >= 0)
		(void)unlinkat(u->dirfd, u->unique_name, 0);
	u->unique_name[0] = '\0';
	if (u->dirfd >= 0) {
		(void)close(u->dirfd);
		u->dirfd = -1;
	}
}

void vfs_upload_keep(struct vfs_upload *u)
{
	struct stat st;
	if (!u || u->fd < 0 || !u->temp || !u->partial[0] || u->resumed) {
		if (u && u->resumed)
			u->tmpname[0] = '\0'; /* it is the partial already */
		vfs_upload_abort(u);
		return;
	}
	/* Nothing arrived: nothing worth resuming (an older partial stays). */
	if (fstat(u->fd, &st) != 0 || st.st_size == 0) {
		vfs_upload_abort(u);
		return;
	}
	if (u->tmpfile) {
		/* linkat cannot replace: an older partial of the same upload goes. */
		for (int i = 0; i < 2; i++)
			if (linkat(u->fd, "", u->dirfd, u->partial, AT_EMPTY_PATH) == 0 || errno != EEXIST ||
			    unlinkat(u->dirfd, u->partial, 0) != 0)
				break;
	} else if (renameat(u->dirfd, u->tmpname, u->dirfd, u->partial) == 0) {
		u->tmpname[0] = '\0';
	}
	vfs_upload_abort(u); /* an unnamed temporary that could not be linked vanishes */
}
