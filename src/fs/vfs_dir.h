/* vfs_dir: what a front-end does with an fd vfs opened, beyond streaming
 * it (SFTP's reads and writes at offsets, directory entries one by one with
 * their attributes, fsync, times and modes of the open file), and the file
 * system's figures (statvfs): the system calls stay in fs/. */
#ifndef FERRY_VFS_DIR_H
#define FERRY_VFS_DIR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include "vfs.h"

/* pread of up to n bytes at off: *got is 0 at the end of the file. */
int vfs_fd_pread(int fd, void *buf, size_t n, uint64_t off, size_t *got);
/* pwrite of all n bytes at off (short writes continued). With O_APPEND
 * the kernel appends whatever off says. */
int vfs_fd_pwrite(int fd, const void *buf, size_t n, uint64_t off);
int vfs_fd_sync(int fd);
/* Cuts or extends the open file fd to size bytes (ftruncate). */
int vfs_fd_truncate(int fd, uint64_t size);
/* The same on the plain file at vpath (inside the root): -EISDIR for a
 * directory, -EINVAL for anything else not plain. */
int vfs_truncate(struct vfs *v, const char *vpath, uint64_t size);
/* Copies up to n bytes from fd in at off_in to fd out at off_out, in the
 * kernel where it can (copy_file_range; read and write otherwise, so also
 * to an O_APPEND fd, whose data goes to its end). *copied is what was
 * copied, less than n only at the end of in. Blocks for as long as n bytes
 * take: callers bound n. */
int vfs_fd_copy(int in, uint64_t off_in, int out, uint64_t off_out, size_t n, size_t *copied);
int vfs_fd_set_mtime(int fd, const struct timespec *mtime);
int vfs_fd_chmod(int fd, mode_t mode);
/* statvfs of the file system holding vpath (inside the root). */
int vfs_statvfs(struct vfs *v, const char *vpath, struct statvfs *out);
/* fstatvfs of an fd vfs opened. */
int vfs_fd_statvfs(int fd, struct statvfs *out);

/* A directory read entry by entry, each with its lstat and, for a
 * symlink, its target text. Upload temporaries and partials (vfs.h) are
 * never returned; "." and ".." are. */
struct vfs_dir;
/* Takes dirfd (from vfs_opendir); *out is the caller's (vfs_dir_close). */
int vfs_dir_open(int dirfd, struct vfs_dir **out);
/* 1 with the next entry (*name valid until the next call; target "" unless
 * a symlink), 0 at the end, -errno on a read error. An entry that vanished
 * between readdir and lstat is skipped. */
int vfs_dir_next(struct vfs_dir *d, const char **name, struct stat *st, char *target, size_t targetsz);
/* Adds an entry that is not in the directory (as listing_add_entry: after
 * the directory's own, which lose one of the same name). Before the first
 * vfs_dir_next only. */
int vfs_dir_add_entry(struct vfs_dir *d, const char *name, const struct stat *st);
void vfs_dir_close(struct vfs_dir *d);

#endif
