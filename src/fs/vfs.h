/* vfs: the session's root directory fd and the only syscalls on client
 * paths. Every lookup is openat2(root_fd, path, RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS): the kernel, not string checks, keeps the client
 * inside its home. Operations that create, remove or rename act on a parent
 * opened that way plus one validated final component. Paths given here are
 * virtual absolute paths as produced by path_resolve() ("/", "/a/b").
 * All functions return 0 or -errno. */
#ifndef FERRY_VFS_H
#define FERRY_VFS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

struct vfs_root;

struct vfs {
	int root_fd;		 /* O_PATH|O_DIRECTORY of the user's home; -1 when closed */
	struct vfs_root *shared; /* the shared entry root_fd belongs to */
};

/* True if the kernel has openat2 with RESOLVE_IN_ROOT (Linux >= 5.6). */
bool vfs_supported(void);

/* Opens home (an absolute host path) as the root. -ENOTDIR, -ENOENT, -EACCES.
 * Sessions whose homes are the same directory (same device and inode, checked
 * by opening the path afresh each time) share one descriptor, so a process
 * holds one per home in use, not one per session. Thread-safe (vfs_root.c). */
int vfs_open_root(const char *home, struct vfs *v);
/* Releases the root (the shared descriptor closes with its last user). */
void vfs_close(struct vfs *v);
/* Distinct root descriptors open now (tests, metrics). */
unsigned vfs_roots_open(void);

/* Removes upload temporaries (".ferry-upload.*", regular files) last
 * modified before the wall-clock second `before`, and resumable partials
 * (".ferry-partial.*") last modified before `partial_before`, anywhere
 * under home (an absolute host path: a user's home from the store), without
 * following symlinks. Looks at no more than max_entries directory entries
 * (-E2BIG when it stopped there). *removed counts what went. Blocking: job
 * pool or start-up only (vfs_clean.c). */
int vfs_clean_stale_uploads(const char *home, int64_t before, int64_t partial_before, unsigned long max_entries,
			    unsigned *removed);

/* openat2 inside the root with the given open(2) flags (O_CLOEXEC added).
 * O_CREAT/O_TMPFILE are not allowed here (use the upload functions). */
int vfs_open(struct vfs *v, const char *vpath, int flags, int *fd);
/* fstat of an fd vfs opened (once a file is open, the fd is used, never
 * its path again). 0 or -errno. */
int vfs_fstat(int fd, struct stat *st);
/* Closes an fd vfs handed out (a file or a directory); -1 is ignored. So
 * the protocol layer, which holds such fds, makes no system call itself. */
void vfs_fd_close(int fd);
/* A second descriptor (close-on-exec) of an fd vfs handed out, for a job
 * that may outlive the first (an fsync, a checksum, a write-behind). The
 * new fd, or -errno. */
int vfs_fd_dup(int fd);
/* Octets a TYPE A transfer of the open file fd sends: its size plus one CR
 * per LF, counted by ascii_wire_size as the sender converts. Reads it whole
 * (pread, the offset is untouched), -EFBIG past max bytes: blocking, job
 * pool only. */
int vfs_ascii_size(int fd, uint64_t max, uint64_t *out);
/* stat of the object at vpath, following symlinks inside the root only. */
int vfs_stat(struct vfs *v, const char *vpath, struct stat *st);
/* lstat: the link itself if the final component is a symlink. */
int vfs_lstat(struct vfs *v, const char *vpath, struct stat *st);
/* Opens a directory for reading (listing). -ENOTDIR if it is not one. */
int vfs_opendir(struct vfs *v, const char *vpath, int *fd);

int vfs_mkdir(struct vfs *v, const char *vpath, mode_t mode);
int vfs_rmdir(struct vfs *v, const char *vpath);
/* Removes a file or symlink (never a directory: -EISDIR). */
int vfs_unlink(struct vfs *v, const char *vpath);
/* Renames within the root; replaces an existing file (rename(2) rules). */
int vfs_rename(struct vfs *v, const char *from, const char *to);
/* Sets the modification time (atime left as is). */
int vfs_set_mtime(struct vfs *v, const char *vpath, const struct timespec *mtime);
int vfs_chmod(struct vfs *v, const char *vpath, mode_t mode);

/* Links (vfs_link.c). A symbolic link's target is stored as given and only
 * ever followed by the confined walk, so it cannot lead out of the root
 * (an absolute target is a path under the root). */
/* The target text of the symbolic link vpath into out (NUL-terminated);
 * -EINVAL when vpath is not a link, -ENAMETOOLONG when out is too small. */
int vfs_readlink(struct vfs *v, const char *vpath, char *out, size_t outsz);
/* Makes vpath a symbolic link to target (any text but empty). */
int vfs_symlink(struct vfs *v, const char *target, const char *vpath);
/* Makes to a hard link of from (not followed if a symlink); both inside. */
int vfs_hardlink(struct vfs *v, const char *from, const char *to);
/* The modification time and the mode of vpath itself, a final symbolic
 * link not followed (Linux has no mode on a link: -EOPNOTSUPP). */
int vfs_lset_mtime(struct vfs *v, const char *vpath, const struct timespec *mtime);
int vfs_lchmod(struct vfs *v, const char *vpath, mode_t mode);

/* Uploads. A REPLACE upload writes a new unnamed/temporary file in the
 * target's directory and only vfs_upload_commit() makes it appear under
 * the final name (atomically replacing an old file), so no half-written
 * file is ever visible under that name and an aborted upload leaves the
 * old file intact. APPEND opens the existing file (created if missing)
 * for appending; RESUME opens it for writing at offset (truncating there).
 * UNIQUE creates a new file with a fresh name (STOU) in the directory of
 * vpath (vpath names a directory), reported back in unique_name. */
enum vfs_upload_mode { VFS_UPLOAD_REPLACE, VFS_UPLOAD_APPEND, VFS_UPLOAD_RESUME, VFS_UPLOAD_UNIQUE };

struct vfs_upload {
	int fd;		       /* write here */
	int dirfd;	       /* the target's directory (O_PATH) */
	bool temp;	       /* REPLACE: fd is a temporary that commit renames */
	bool tmpfile;	       /* the temporary is an O_TMPFILE (no name yet) */
	bool resumed;	       /* fd is the owner's partial (tmpname names it) */
	char final[256];       /* final component */
	char tmpname[64];      /* named temporary (when O_TMPFILE is unavailable) */
	char unique_name[256]; /* UNIQUE: the name chosen */
	char partial[64];      /* the owner's partial for this target ("" = none kept) */
	/* Set by the caller after begin ([transfer] fsync): commit makes the
	 * upload durable before it returns 0 (see vfs_upload_commit). */
	bool durable;
};

/* temp_uploads=false makes REPLACE write in place (truncate) instead. */
int vfs_upload_begin(struct vfs *v, const char *vpath, enum vfs_upload_mode mode, uint64_t offset, bool temp_uploads,
		     struct vfs_upload *u);

/* Resumable atomic uploads. With temp_uploads and an owner (the user name),
 * an interrupted upload can be kept (vfs_upload_keep) as a hidden partial
 * ".ferry-partial.<hash of owner and name>" in the target's directory,
 * which no client path can name (-ENOENT) and no listing shows. While it
 * exists, that owner's APPEND continues it at its end and RESUME (REST n)
 * at n <= its size (-EINVAL beyond), and commit renames it over the target;
 * the target itself stays as it was until then. Without a partial both
 * write in place as before. A new REPLACE upload starts afresh; its commit
 * removes the owner's partial. owner NULL: vfs_upload_begin. */
int vfs_upload_begin_as(struct vfs *v, const char *vpath, enum vfs_upload_mode mode, uint64_t offset, bool temp_uploads,
			const char *owner, struct vfs_upload *u);
/* Size of owner's partial for vpath: -ENOENT when there is none. */
int vfs_partial_size(struct vfs *v, const char *vpath, const char *owner, uint64_t *size);
/* Links/renames the temporary into place and closes everything. With
 * u->durable it first fsyncs the file (a failure discards the temporary
 * and leaves the old file as it was) and, once the name is in place, the
 * directory holding it, so 0 means the content and the name survive a
 * crash; a failed directory fsync is returned too, the new file then being
 * in place already. Blocking (fsync): job pool only when durable. */
int vfs_upload_commit(struct vfs_upload *u);
/* A durable upload's write-behind: starts the kernel writing back what
 * has arrived in the upload's file fd so far (sync_file_range, no waiting
 * for it), so the fsync at commit has little left and the dirty pages of
 * a large upload never pile up. Best effort; does not block on the disk
 * (the device's queue aside), so the loop may call it. */
void vfs_upload_writebehind(int fd);
/* Discards a temporary (the old file stays) and closes everything; a
 * continued partial is removed too. */
void vfs_upload_abort(struct vfs_upload *u);
/* Keeps an interrupted REPLACE or continued upload as its owner's partial
 * (replacing an older one) and closes everything; other uploads are
 * aborted. The target is not touched either way. */
void vfs_upload_keep(struct vfs_upload *u);

#endif
