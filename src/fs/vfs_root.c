/* Session roots shared between sessions with the same home directory.
 *
 * Every logged-in session needs an O_PATH descriptor of its home for
 * openat2(RESOLVE_IN_ROOT). One per session would make the descriptor
 * limit, not memory, the bound on idle sessions (two per session with the
 * control socket). Sessions of one home share a refcounted descriptor.
 *
 * SECURITY: the entry is found by the (device, inode) of a descriptor
 * opened from the home path at this login, never by the path string: if
 * the home was renamed or replaced since, the new directory gets its own
 * entry, exactly as an unshared open would. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "vfs.h"

#define ROOT_BUCKETS 256u

struct vfs_root {
	struct vfs_root *next;
	dev_t dev;
	ino_t ino;
	int fd;
	unsigned refs;
};

static pthread_mutex_t roots_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vfs_root *roots[ROOT_BUCKETS];
static unsigned roots_count;

static unsigned bucket(dev_t dev, ino_t ino)
{
	return (unsigned)(((uint64_t)dev * 31u + (uint64_t)ino) % ROOT_BUCKETS);
}

int vfs_open_root(const char *home, struct vfs *v)
{
	if (!v)
		return -EINVAL;
	v->root_fd = -1;
	v->shared = NULL;
	/* home comes from the user store, not the client: a plain open is right. */
	if (!home || home[0] != '/')
		return -EINVAL;
	int fd = open(home, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int err = -errno;
		(void)close(fd);
		return err;
	}
	unsigned b = bucket(st.st_dev, st.st_ino);
	pthread_mutex_lock(&roots_lock);
	struct vfs_root *r = roots[b];
	while (r && !(r->dev == st.st_dev && r->ino == st.st_ino))
		r = r->next;
	if (r) {
		r->refs++;
		pthread_mutex_unlock(&roots_lock);
		(void)close(fd);
	} else {
		r = util_xcalloc(1, sizeof(*r));
		*r = (struct vfs_root){ .next = roots[b], .dev = st.st_dev, .ino = st.st_ino, .fd = fd, .refs = 1 };
		roots[b] = r;
		roots_count++;
		pthread_mutex_unlock(&roots_lock);
	}
	v->root_fd = r->fd;
	v->shared = r;
	return 0;
}

void vfs_close(struct vfs *v)
{
	if (!v || v->root_fd < 0)
		return;
	struct vfs_root *r = v->shared;
	v->root_fd = -1;
	v->shared = NULL;
	if (!r)
		return;
	int fd = -1;
	pthread_mutex_lock(&roots_lock);
	if (--r->refs == 0) {
		struct vfs_root **pp = &roots[bucket(r->dev, r->ino)];
		while (*pp != r)
			pp = &(*pp)->next;
		*pp = r->next;
		roots_count--;
		fd = r->fd;
		free(r);
	}
	pthread_mutex_unlock(&roots_lock);
	if (fd >= 0)
		(void)close(fd);
}

unsigned vfs_roots_open(void)
{
	pthread_mutex_lock(&roots_lock);
	unsigned n = roots_count;
	pthread_mutex_unlock(&roots_lock);
	return n;
}
