/* vfs_impl: what the files of fs/vfs* share; not for other modules. They
 * call downwards only: vfs_upload.c → vfs_partial.c → vfs.c. */
#ifndef FERRY_VFS_IMPL_H
#define FERRY_VFS_IMPL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vfs.h"

/* Upload temporaries and resumable partials (vfs.h): no client path may
 * name them (vfs.c), no listing shows them (listing.c, vfs_dir.c), and the
 * stale clean-up removes them (vfs_clean.c). */
#define VFS_TMP_PREFIX ".ferry-upload."
#define VFS_PARTIAL_PREFIX ".ferry-partial."

/* A name of ferryd's own (a temporary or a partial), never a client's. */
static inline bool vfs_name_internal(const char *name)
{
	return strncmp(name, VFS_TMP_PREFIX, sizeof(VFS_TMP_PREFIX) - 1) == 0 ||
	       strncmp(name, VFS_PARTIAL_PREFIX, sizeof(VFS_PARTIAL_PREFIX) - 1) == 0;
}
#define VFS_PARTIAL_HASH 16 /* bytes of SHA-256, 32 hex digits */

/* A client path split into its parent (relative to the root) and final
 * component. name points into the caller's vpath; NULL means the root. */
struct vfs_where {
	char parent[PATH_MAX];
	const char *name;
};

/* vfs.c: 0 when v has a root. */
int vfs_check(const struct vfs *v);
/* vfs.c, SECURITY: the one place a client path is resolved (openat2 with
 * RESOLVE_IN_ROOT from dirfd, the root). */
int vfs_openat2(int dirfd, const char *rel, uint64_t flags, uint64_t mode, int *out);
/* vfs.c: vpath relative to the root ("." for the root); -EACCES for the
 * names of temporaries and partials. */
int vfs_rel(const char *vpath, const char **rel);
/* vfs.c: vpath split into parent and one checked final component. */
int vfs_split(const char *vpath, struct vfs_where *w);
/* Splits vpath and opens its parent (O_PATH) inside the root. root_err is
 * the answer when vpath is the root itself, which has no parent here. */
int vfs_parent(struct vfs *v, const char *vpath, int root_err, struct vfs_where *w, int *dfd);
/* vfs.c: the two parents of an operation on two names (rename, link), each
 * as vfs_parent with its own root_err. On failure neither is left open (both
 * -1); else the caller closes both with vfs_close_parents. */
int vfs_parents(struct vfs *v, const char *from, int from_err, struct vfs_where *wf, int *fdf, const char *to,
		int to_err, struct vfs_where *wt, int *fdt);
void vfs_close_parents(int *fdf, int *fdt);
/* vfs.c: sets the mtime (atime left) of what the O_PATH fd is, itself
 * (utimensat AT_EMPTY_PATH), and closes fd. */
int vfs_set_mtime_fd(int fd, const struct timespec *mtime);
/* prefix followed by the n bytes of raw in hex; names never contain '/'. */
int vfs_hex_name(const char *prefix, const unsigned char *raw, size_t n, char *out, size_t outsz);
/* The owner's partial for final (vfs_partial.c). */
int vfs_partial_name(const char *owner, const char *final, char *out, size_t outsz);
/* Continues u->partial (APPEND at its end, RESUME at offset); -ENOENT when
 * there is none (vfs_partial.c). */
int vfs_begin_partial(struct vfs_upload *u, enum vfs_upload_mode mode, uint64_t offset);

#endif
