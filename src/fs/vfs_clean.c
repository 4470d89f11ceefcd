/* Stale upload temporaries: what a killed ferryd leaves behind.
 *
 * Uploads are written to an O_TMPFILE where the kernel lets this process
 * name it later, else to a named ".ferry-upload.*" file renamed into place
 * on success (vfs_upload.c). A crash or SIGKILL leaves nothing in the first case
 * and an orphaned temporary in the second (e.g. Debian 12's 6.1 kernel, a
 * non-root service user). At start ferryd walks the homes and removes the
 * ones nobody has written to for a while: a server sharing the homes may
 * have uploads running, and those keep their temporaries fresh.
 *
 * Resumable partials (".ferry-partial.*", vfs.h) are kept on purpose, for
 * [transfer] partial_keep after their last write; older ones go here. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vfs.h"
#include "vfs_impl.h"

#define CLEAN_MAX_DEPTH 64

struct clean {
	int64_t before;		/* remove temporaries last modified before this */
	int64_t partial_before; /* and partials last modified before this */
	unsigned long budget;	/* directory entries left to look at */
	unsigned removed;
};

/* Takes fd (a directory). SECURITY: directories are entered with O_NOFOLLOW and every
 * name is one component from readdir, so a symlink planted by a user never
 * leads the walk (running with the service account's rights) elsewhere. */
static void clean_dir(struct clean *c, int fd, int depth)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		(void)close(fd);
		return;
	}
	struct dirent *de;
	while (c->budget && (de = readdir(d)) != NULL) {
		c->budget--;
		const char *n = de->d_name;
		if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0')))
			continue;
		if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) {
			if (depth >= CLEAN_MAX_DEPTH)
				continue;
			int sub = openat(fd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0) {
				clean_dir(c, sub, depth + 1);
				continue;
			}
			if (de->d_type == DT_DIR)
				continue;
		}
		int64_t cutoff;
		if (strncmp(n, VFS_TMP_PREFIX, sizeof(VFS_TMP_PREFIX) - 1) == 0)
			cutoff = c->before;
		else if (strncmp(n, VFS_PARTIAL_PREFIX, sizeof(VFS_PARTIAL_PREFIX) - 1) == 0)
			cutoff = c->partial_before;
		else
			continue;
		struct stat st;
		if (fstatat(fd, n, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
			continue;
		if ((int64_t)st.st_mtim.tv_sec >= cutoff)
			continue;
		if (unlinkat(fd, n, 0) == 0)
			c->removed++;
	}
	(void)closedir(d);
}

int vfs_clean_stale_uploads(const char *home, int64_t before, int64_t partial_before, unsigned long max_entries,
			    unsigned *removed)
{
	*removed = 0;
	if (!home || home[0] != '/')
		return -EINVAL;
	int fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct clean c = { .before = before, .partial_before = partial_before, .budget = max_entries };
	clean_dir(&c, fd, 0);
	*removed = c.removed;
	return c.budget ? 0 : -E2BIG;
}
