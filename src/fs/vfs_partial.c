/* vfs_partial: resumable atomic uploads (vfs.h). An interrupted upload's
 * temporary becomes its owner's hidden partial in the target directory
 * (vfs_upload_keep); that owner's APPEND or RESUME continues it and commit
 * (vfs_upload.c) renames it over the target. The partial's name is derived from the owner and the
 * file name, so nothing has to be stored to find it again, also after a
 * restart. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "vfs_impl.h"

/* The owner's partial for final: the prefix and a hash of both, so another
 * user (sharing the directory) never meets it and the name fits any
 * file system whatever the lengths. */
int vfs_partial_name(const char *owner, const char *final, char *out, size_t outsz)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	/* The NUL keeps ("ab", "c") and ("a", "bc") apart. */
	bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
		  EVP_DigestUpdate(ctx, owner, strlen(owner) + 1) == 1 &&
		  EVP_DigestUpdate(ctx, final, strlen(final)) == 1 && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 &&
		  mdlen >= VFS_PARTIAL_HASH;
	EVP_MD_CTX_free(ctx);
	return ok ? vfs_hex_name(VFS_PARTIAL_PREFIX, md, VFS_PARTIAL_HASH, out, outsz) : -ENOMEM;
}

/* Continues u->partial (APPEND at its end, RESUME at offset): -ENOENT when
 * there is none. SECURITY: one generated component under the confined
 * dirfd, O_NOFOLLOW, regular files only. */
int vfs_begin_partial(struct vfs_upload *u, enum vfs_upload_mode mode, uint64_t offset)
{
	struct stat st;
	int fd = openat(u->dirfd, u->partial, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ELOOP ? -ENOENT : -errno;
	int r = fstat(fd, &st) != 0 ? -errno : S_ISREG(st.st_mode) ? 0 : -ENOENT;
	uint64_t at = mode == VFS_UPLOAD_APPEND ? (uint64_t)st.st_size : offset;
	if (r == 0 && at > (uint64_t)st.st_size)
		r = -EINVAL; /* REST beyond what arrived: 554 */
	if (r == 0 && (ftruncate(fd, (off_t)at) != 0 || lseek(fd, (off_t)at, SEEK_SET) < 0))
		r = -errno;
	if (r) {
		(void)close(fd);
		return r;
	}
	u->fd = fd;
	u->temp = true;
	u->resumed = true;
	memcpy(u->tmpname, u->partial, sizeof(u->tmpname));
	return 0;
}

int vfs_partial_size(struct vfs *v, const char *vpath, const char *owner, uint64_t *size)
{
	struct vfs_where w;
	struct stat st;
	char name[sizeof(((struct vfs_upload *)0)->partial)];
	int dfd = -1;
	if (!owner)
		return -ENOENT;
	int r = vfs_parent(v, vpath, -ENOENT, &w, &dfd);
	if (r == 0)
		r = vfs_partial_name(owner, w.name, name, sizeof(name));
	if (r == 0 && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		r = -errno;
	if (r == 0 && !S_ISREG(st.st_mode))
		r = -ENOENT;
	if (dfd >= 0)
		(void)close(dfd);
	if (r == 0)
		*size = (uint64_t)st.st_size;
	return r;
}
