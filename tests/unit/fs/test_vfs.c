/* Unit tests for src/fs/vfs.c: confinement by openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS), the parent + final component operations and the
 * upload protocol (temporaries, commit, abort).
 *
 * Every test builds a fresh tree with mkdtemp:
 *   base/outside/{secret, sub/deep}       must never be read or changed
 *   base/box/{box_secret, root/}          root/ is the vfs root
 *   root/outside/{secret, sub/}           a decoy: where "../outside" lands
 * plus symlinks inside root pointing outside in every way we could think of.
 * After each test a snapshot of everything under base except root/ (names,
 * types, modes, sizes, mtimes, contents, link targets) must be unchanged.
 *
 * The scenarios return 0 or -1 instead of using cmocka asserts so that the
 * same code also runs in forked children (as nobody, under seccomp filters
 * that imitate older kernels), which report through their exit status. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vfs.h"
#include "vfs_dir.h"

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

#define NOBODY 65534
#define ESC "ferry-vfs-escape"
#define SECRET "TOP SECRET outside"
#define DECOY "DECOY inside"
#define TMP_PREFIX ".ferry-upload."

#define CHECK(c)                                                                                                       \
	do {                                                                                                           \
		if (!(c)) {                                                                                            \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                          \
			return -1;                                                                                     \
		}                                                                                                      \
	} while (0)

#define CHECK_EQ(got, want)                                                                                            \
	do {                                                                                                           \
		long long got_v = (long long)(got), want_v = (long long)(want);                                        \
		if (got_v != want_v) {                                                                                 \
			fprintf(stderr, "%s:%d: %s = %lld, want %lld\n", __FILE__, __LINE__, #got, got_v, want_v);     \
			return -1;                                                                                     \
		}                                                                                                      \
	} while (0)

/* Counts attempts to get out of the root (reported per test). */
static unsigned escape_attempts;
/* No fchmodat2: a kernel before 6.6, or a child where seccomp imitates one. */
static bool old_kernel;

#define ATTEMPT(call, want)                                                                                            \
	do {                                                                                                           \
		escape_attempts++;                                                                                     \
		CHECK_EQ((call), (want));                                                                              \
	} while (0)

struct fx {
	char base[PATH_MAX];
	char box[PATH_MAX];
	char root[PATH_MAX];
	char outside[PATH_MAX];
	int outside_fd; /* kept open: target of the /proc/self/fd/N links */
	struct vfs v;
	char *snap;
	struct stat forbidden[16];
	size_t nforbidden;
};

/* ---- host-side helpers (test only; absolute host paths) ---- */

static int hpath(char *out, size_t outsz, const char *dir, const char *rel)
{
	int n = snprintf(out, outsz, "%s/%s", dir, rel);
	return (n < 0 || (size_t)n >= outsz) ? -1 : 0;
}

static int write_host(const char *dir, const char *rel, const char *content)
{
	char p[PATH_MAX];
	CHECK(hpath(p, sizeof(p), dir, rel) == 0);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	size_t n = strlen(content);
	ssize_t w = write(fd, content, n);
	CHECK(close(fd) == 0);
	CHECK(w == (ssize_t)n);
	return 0;
}

static int mkdir_host(const char *dir, const char *rel)
{
	char p[PATH_MAX];
	CHECK(hpath(p, sizeof(p), dir, rel) == 0);
	CHECK(mkdir(p, 0755) == 0);
	return 0;
}

static int link_host(const char *dir, const char *rel, const char *target)
{
	char p[PATH_MAX];
	CHECK(hpath(p, sizeof(p), dir, rel) == 0);
	CHECK(symlink(target, p) == 0);
	return 0;
}

/* Reads a whole small file; -1 if missing. */
static ssize_t read_fd(int fd, char *buf, size_t sz)
{
	size_t got = 0;
	while (got + 1 < sz) {
		ssize_t n = read(fd, buf + got, sz - 1 - got);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	return (ssize_t)got;
}

static ssize_t read_host(const char *dir, const char *rel, char *buf, size_t sz)
{
	char p[PATH_MAX];
	if (hpath(p, sizeof(p), dir, rel) != 0)
		return -1;
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	ssize_t n = read_fd(fd, buf, sz);
	(void)close(fd);
	return n;
}

static bool exists_host(const char *dir, const char *rel)
{
	char p[PATH_MAX];
	struct stat st;
	if (hpath(p, sizeof(p), dir, rel) != 0)
		return false;
	return lstat(p, &st) == 0;
}

static int chmod_host(const char *dir, const char *rel, mode_t mode)
{
	char p[PATH_MAX];
	CHECK(hpath(p, sizeof(p), dir, rel) == 0);
	CHECK(chmod(p, mode) == 0);
	return 0;
}

static int lstat_host(const char *dir, const char *rel, struct stat *st)
{
	char p[PATH_MAX];
	CHECK(hpath(p, sizeof(p), dir, rel) == 0);
	CHECK(lstat(p, st) == 0);
	return 0;
}

static bool same_inode(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Entries of a host directory whose names start with prefix. */
static int count_prefix(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	size_t pl = strlen(prefix);
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, prefix, pl) == 0)
			n++;
	(void)closedir(d);
	return n;
}

/* ---- snapshot of everything that is not the root ---- */

struct snap {
	char *p;
	size_t n, cap;
};

static void snap_add(struct snap *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void snap_add(struct snap *s, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int k = vsnprintf(s->p ? s->p + s->n : NULL, s->p ? s->cap - s->n : 0, fmt, ap);
		va_end(ap);
		if (k < 0)
			abort();
		if (s->p && s->n + (size_t)k < s->cap) {
			s->n += (size_t)k;
			return;
		}
		s->cap = (s->cap + (size_t)k + 1) * 2;
		s->p = realloc(s->p, s->cap);
		if (!s->p)
			abort();
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void snap_walk(struct snap *s, const char *path, size_t baselen, const char *skip)
{
	struct stat st;
	if (strcmp(path, skip) == 0)
		return; /* the root: changes there are expected */
	if (lstat(path, &st) != 0) {
		snap_add(s, "%s: missing\n", path + baselen);
		return;
	}
	snap_add(s, "%s: mode=%o uid=%u size=%lld nlink=%llu mtime=%lld.%09ld", path + baselen, (unsigned)st.st_mode,
		 (unsigned)st.st_uid, (long long)st.st_size, (unsigned long long)st.st_nlink,
		 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	if (S_ISLNK(st.st_mode)) {
		char t[PATH_MAX];
		ssize_t n = readlink(path, t, sizeof(t) - 1);
		t[n < 0 ? 0 : n] = '\0';
		snap_add(s, " -> %s", t);
	} else if (S_ISREG(st.st_mode)) {
		char c[256];
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		ssize_t n = fd >= 0 ? read_fd(fd, c, sizeof(c)) : -1;
		if (fd >= 0)
			(void)close(fd);
		snap_add(s, " content=[%s]", n >= 0 ? c : "?");
	}
	snap_add(s, "\n");
	if (!S_ISDIR(st.st_mode))
		return;
	DIR *d = opendir(path);
	if (!d) {
		snap_add(s, "  (unreadable)\n");
		return;
	}
	char *names[256];
	size_t nn = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && nn < 256)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			names[nn++] = strdup(e->d_name);
	(void)closedir(d);
	qsort(names, nn, sizeof(names[0]), cmp_str);
	for (size_t i = 0; i < nn; i++) {
		char sub[PATH_MAX];
		if (names[i] && hpath(sub, sizeof(sub), path, names[i]) == 0)
			snap_walk(s, sub, baselen, skip);
		free(names[i]);
	}
}

static char *snapshot(const struct fx *f)
{
	struct snap s = { 0 };
	snap_walk(&s, f->base, strlen(f->base), f->root);
	/* Names an escape three or more levels up would create. */
	static const char *const far[] = { "/tmp/" ESC, "/" ESC, "/etc/" ESC };
	for (size_t i = 0; i < sizeof(far) / sizeof(far[0]); i++)
		if (access(far[i], F_OK) == 0)
			snap_add(&s, "%s exists\n", far[i]);
	return s.p;
}

static int outside_unchanged(const struct fx *f)
{
	char *now = snapshot(f);
	CHECK(now != NULL);
	if (strcmp(now, f->snap) != 0) {
		fprintf(stderr, "outside of the root changed!\nbefore:\n%s\nafter:\n%s\n", f->snap, now);
		free(now);
		return -1;
	}
	free(now);
	return 0;
}

/* ---- fixture ---- */

static int add_forbidden(struct fx *f, const char *path)
{
	CHECK(f->nforbidden < sizeof(f->forbidden) / sizeof(f->forbidden[0]));
	if (lstat(path, &f->forbidden[f->nforbidden]) == 0)
		f->nforbidden++;
	return 0;
}

static bool is_forbidden(const struct fx *f, const struct stat *st)
{
	for (size_t i = 0; i < f->nforbidden; i++)
		if (same_inode(&f->forbidden[i], st))
			return true;
	return false;
}

static int chown_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return lchown(p, NOBODY, NOBODY) == 0 ? 0 : -1;
}

static int unlock_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag == FTW_D || flag == FTW_DNR)
		(void)chmod(p, 0700);
	(void)sb;
	return 0;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)ftw;
	(void)((flag == FTW_DP) ? rmdir(p) : unlink(p));
	return 0;
}

static void fx_destroy(struct fx *f)
{
	vfs_close(&f->v);
	if (f->outside_fd >= 0)
		(void)close(f->outside_fd);
	if (f->base[0]) {
		(void)nftw(f->base, unlock_cb, 16, FTW_PHYS);
		(void)nftw(f->base, rm_cb, 16, FTW_PHYS | FTW_DEPTH);
	}
	free(f->snap);
	free(f);
}

static int fx_build(struct fx *f, bool to_nobody)
{
	char t[PATH_MAX];
	CHECK(snprintf(f->base, sizeof(f->base), "/tmp/ferry-vfs-XXXXXX") > 0);
	CHECK(mkdtemp(f->base) != NULL);
	CHECK(chmod(f->base, 0755) == 0);
	CHECK(hpath(f->outside, sizeof(f->outside), f->base, "outside") == 0);
	CHECK(hpath(f->box, sizeof(f->box), f->base, "box") == 0);
	CHECK(hpath(f->root, sizeof(f->root), f->box, "root") == 0);
	CHECK(mkdir_host(f->base, "outside") == 0);
	CHECK(write_host(f->outside, "secret", SECRET) == 0);
	CHECK(mkdir_host(f->outside, "sub") == 0);
	CHECK(write_host(f->outside, "sub/deep", "DEEP SECRET") == 0);
	CHECK(mkdir_host(f->base, "box") == 0);
	CHECK(write_host(f->box, "box_secret", "BOX SECRET") == 0);
	CHECK(mkdir_host(f->box, "root") == 0);

	const char *r = f->root;
	CHECK(write_host(r, "file.txt", "hello world\n") == 0);
	CHECK(mkdir_host(r, "dir") == 0);
	CHECK(write_host(r, "dir/inner.txt", "inner") == 0);
	CHECK(mkdir_host(r, "dir/sub") == 0);
	CHECK(mkdir_host(r, "empty") == 0);
	CHECK(mkdir_host(r, "outside") == 0);
	CHECK(write_host(r, "outside/secret", DECOY) == 0);
	CHECK(mkdir_host(r, "outside/sub") == 0);
	CHECK(link_host(r, "link_abs_dir", f->outside) == 0);
	CHECK(hpath(t, sizeof(t), f->outside, "secret") == 0);
	CHECK(link_host(r, "link_abs_file", t) == 0);
	CHECK(link_host(r, "link_rel", "../outside") == 0);
	CHECK(link_host(r, "dir/link_rel2", "../../outside/secret") == 0);
	CHECK(link_host(r, "dir/link_up", "../..") == 0);
	CHECK(link_host(r, "link_rel_deep", "../../../../../../../outside/secret") == 0);
	CHECK(link_host(r, "link_box", "../box_secret") == 0);
	CHECK(link_host(r, "link_root", "/") == 0);
	CHECK(link_host(r, "link_dotdot", "..") == 0);
	CHECK(link_host(r, "link_dir", "dir") == 0);
	CHECK(link_host(r, "chain1", "chain2") == 0);
	CHECK(link_host(r, "chain2", "chain3") == 0);
	CHECK(link_host(r, "chain3", f->outside) == 0);
	CHECK(link_host(r, "chainrel1", "chainrel2") == 0);
	CHECK(link_host(r, "chainrel2", "/../outside/secret") == 0);
	CHECK(link_host(r, "loop1", "loop2") == 0);
	CHECK(link_host(r, "loop2", "loop1") == 0);
	CHECK(link_host(r, "link_proc_root", "/proc/self/root") == 0);
	CHECK(link_host(r, "link_proc_cwd", "/proc/self/cwd") == 0);
	f->outside_fd = open(f->outside, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(f->outside_fd >= 0);
	CHECK(snprintf(t, sizeof(t), "/proc/self/fd/%d", f->outside_fd) > 0);
	CHECK(link_host(r, "link_proc_fd", t) == 0);
	CHECK(link_host(r, "link_etc", "/etc/passwd") == 0);
	CHECK(link_host(r, "dangle", "/created_by_dangle") == 0);
	CHECK(hpath(t, sizeof(t), f->outside, "created_by_dangle") == 0);
	CHECK(link_host(r, "dangle_out", t) == 0);

	if (to_nobody)
		CHECK(nftw(f->base, chown_cb, 16, FTW_PHYS) == 0);

	static const char *const sys[] = { "/", "/etc", "/etc/passwd", "/tmp", "/proc" };
	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
		CHECK(add_forbidden(f, sys[i]) == 0);
	const char *const mine[] = { f->base, f->box, f->outside };
	for (size_t i = 0; i < sizeof(mine) / sizeof(mine[0]); i++)
		CHECK(add_forbidden(f, mine[i]) == 0);
	static const char *const files[] = { "secret", "sub", "sub/deep" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		CHECK(hpath(t, sizeof(t), f->outside, files[i]) == 0);
		CHECK(add_forbidden(f, t) == 0);
	}
	CHECK(hpath(t, sizeof(t), f->box, "box_secret") == 0);
	CHECK(add_forbidden(f, t) == 0);
	return 0;
}

/* Builds the tree (owned by nobody if asked), then the snapshot is taken and
 * the root opened by whoever runs the scenario (fx_start). */
static struct fx *fx_new(bool to_nobody)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->outside_fd = -1;
	f->v.root_fd = -1;
	if (fx_build(f, to_nobody) != 0) {
		fx_destroy(f);
		return NULL;
	}
	return f;
}

static int fx_start(struct fx *f)
{
	CHECK_EQ(vfs_open_root(f->root, &f->v), 0);
	f->snap = snapshot(f);
	CHECK(f->snap != NULL);
	return 0;
}

/* ---- escape scenarios ---- */

struct read_case {
	const char *path;
	int want;	    /* vfs_stat result */
	const char *target; /* when 0: what it must be, relative to the root ("" = root) */
};

static const struct read_case read_cases[] = {
	{ "../outside/secret", 0, "outside/secret" },
	{ "/../outside/secret", 0, "outside/secret" },
	{ "a/../../outside/secret", -ENOENT, NULL },
	{ "dir/../../outside/secret", 0, "outside/secret" },
	{ "/../../../../../../../../../../../../outside/secret", 0, "outside/secret" },
	{ "/../../../../../../../../../../../../etc/passwd", -ENOENT, NULL },
	{ "/../../../../../../../../../../../../box/box_secret", -ENOENT, NULL },
	{ "/../box_secret", -ENOENT, NULL },
	{ "/..", 0, "" },
	{ "/../..", 0, "" },
	{ "..", 0, "" },
	{ "../../..", 0, "" },
	{ "/link_abs_dir", -ENOENT, NULL },
	{ "/link_abs_dir/secret", -ENOENT, NULL },
	{ "/link_abs_dir/sub/deep", -ENOENT, NULL },
	{ "/link_abs_dir/../box/box_secret", -ENOENT, NULL },
	{ "/link_abs_file", -ENOENT, NULL },
	{ "/link_rel", 0, "outside" },
	{ "/link_rel/secret", 0, "outside/secret" },
	{ "/link_rel/../../box_secret", -ENOENT, NULL },
	{ "/link_rel/../../../box/box_secret", -ENOENT, NULL },
	{ "/dir/link_rel2", 0, "outside/secret" },
	{ "/link_rel_deep", 0, "outside/secret" },
	{ "/link_box", -ENOENT, NULL },
	{ "/chain1", -ENOENT, NULL },
	{ "/chain1/secret", -ENOENT, NULL },
	{ "/chainrel1", 0, "outside/secret" },
	{ "/loop1", -ELOOP, NULL },
	{ "/link_root", 0, "" },
	{ "/link_root/..", 0, "" },
	{ "/link_root/../outside/secret", 0, "outside/secret" },
	{ "/link_root/file.txt", 0, "file.txt" },
	{ "/link_dotdot", 0, "" },
	{ "/link_dotdot/outside/secret", 0, "outside/secret" },
	{ "/link_dotdot/../../box_secret", -ENOENT, NULL },
	{ "/dir/link_up", 0, "" },
	{ "/dir/link_up/../outside", 0, "outside" },
	{ "/link_proc_root", -ENOENT, NULL },
	{ "/link_proc_root/etc/passwd", -ENOENT, NULL },
	{ "/link_proc_fd", -ENOENT, NULL },
	{ "/link_proc_fd/secret", -ENOENT, NULL },
	{ "/link_proc_cwd/secret", -ENOENT, NULL },
	{ "/proc/self/root/etc/passwd", -ENOENT, NULL },
	{ "/proc/self/fd/3", -ENOENT, NULL },
	{ "/proc/self/cwd", -ENOENT, NULL },
	{ "/link_etc", -ENOENT, NULL },
	{ "//..//..//outside//secret", 0, "outside/secret" },
	{ "/./../outside/./secret", 0, "outside/secret" },
	{ "/dir/sub/../../../../outside/sub/deep", -ENOENT, NULL },
	{ "/outside/../../box/box_secret", -ENOENT, NULL },
	{ "/outside/sub/../../../../../../outside/sub/../secret", 0, "outside/secret" },
	{ "/dangle", -ENOENT, NULL },
	{ "/dangle_out", -ENOENT, NULL },
	{ "/file.txt/..", -ENOTDIR, NULL },
	{ "/link_dir/../../outside/secret", 0, "outside/secret" },
};

/* stat, lstat, open and opendir of one hostile path: each either fails or
 * yields an object inside the root. */
static int read_escape(struct fx *f, const char *path, int want, const char *target)
{
	struct stat st;
	char buf[256];
	int fd = -1;
	escape_attempts += 4;

	int r = vfs_stat(&f->v, path, &st);
	if (r != want)
		fprintf(stderr, "vfs_stat(\"%s\") = %d, want %d\n", path, r, want);
	CHECK_EQ(r, want);
	if (r == 0) {
		struct stat t;
		CHECK(!is_forbidden(f, &st));
		CHECK(lstat_host(f->root, target, &t) == 0);
		CHECK(same_inode(&st, &t));
	}
	r = vfs_lstat(&f->v, path, &st);
	CHECK(r <= 0);
	CHECK(r != 0 || !is_forbidden(f, &st));
	r = vfs_open(&f->v, path, O_RDONLY, &fd);
	CHECK(r <= 0);
	if (r == 0) {
		CHECK(fstat(fd, &st) == 0);
		CHECK(!is_forbidden(f, &st));
		if (S_ISREG(st.st_mode)) {
			CHECK(read_fd(fd, buf, sizeof(buf)) >= 0);
			CHECK(strstr(buf, "SECRET") == NULL);
		}
		CHECK(close(fd) == 0);
	}
	r = vfs_opendir(&f->v, path, &fd);
	CHECK(r <= 0);
	if (r == 0) {
		CHECK(fstat(fd, &st) == 0);
		CHECK(S_ISDIR(st.st_mode));
		CHECK(!is_forbidden(f, &st));
		CHECK(close(fd) == 0);
	}
	return 0;
}

static int scen_escape_reads(struct fx *f)
{
	struct stat st, rootst;
	char p[PATH_MAX];
	for (size_t i = 0; i < sizeof(read_cases) / sizeof(read_cases[0]); i++)
		CHECK(read_escape(f, read_cases[i].path, read_cases[i].want, read_cases[i].target) == 0);
	/* The host's own absolute paths mean nothing inside the root. */
	CHECK(hpath(p, sizeof(p), f->outside, "secret") == 0);
	CHECK(read_escape(f, p, -ENOENT, NULL) == 0);
	CHECK(read_escape(f, f->outside, -ENOENT, NULL) == 0);
	CHECK(hpath(p, sizeof(p), f->box, "box_secret") == 0);
	CHECK(read_escape(f, p, -ENOENT, NULL) == 0);
	/* lstat with ".." as the final component still stops at the root. */
	CHECK(lstat_host(f->root, "", &rootst) == 0);
	ATTEMPT(vfs_lstat(&f->v, "/..", &st), 0);
	CHECK(same_inode(&st, &rootst));
	ATTEMPT(vfs_lstat(&f->v, "../..", &st), 0);
	CHECK(same_inode(&st, &rootst));
	/* lstat of an outward symlink describes the link, which is inside. */
	ATTEMPT(vfs_lstat(&f->v, "/link_abs_file", &st), 0);
	CHECK(S_ISLNK(st.st_mode));
	ATTEMPT(vfs_lstat(&f->v, "/link_abs_dir/secret", &st), -ENOENT);
	/* The decoy is what "../outside/secret" reads. */
	int fd;
	char buf[64];
	ATTEMPT(vfs_open(&f->v, "/../outside/secret", O_RDONLY, &fd), 0);
	CHECK(read_fd(fd, buf, sizeof(buf)) >= 0);
	CHECK(close(fd) == 0);
	CHECK(strcmp(buf, DECOY) == 0);
	/* opendir through "/" symlink lists the root itself. */
	ATTEMPT(vfs_opendir(&f->v, "/link_root", &fd), 0);
	CHECK(fstat(fd, &st) == 0);
	CHECK(close(fd) == 0);
	CHECK(same_inode(&st, &rootst));
	return 0;
}

/* Links made and read through vfs (SFTP's SYMLINK, READLINK, hardlink,
 * lsetstat) and copies between fds: stored as given, followed only
 * inside the root. */
static int scen_links(struct fx *f)
{
	struct vfs *v = &f->v;
	char p[PATH_MAX], t[PATH_MAX], buf[128];
	struct stat st;
	int fd;
	CHECK(hpath(p, sizeof(p), f->outside, "secret") == 0);
	/* Targets are stored as given, absolute or not. */
	ATTEMPT(vfs_symlink(v, p, "/sl_host_abs"), 0);
	ATTEMPT(vfs_symlink(v, "../../../outside/secret", "/sl_up"), 0);
	ATTEMPT(vfs_symlink(v, "/dir/inner.txt", "/sl_virt_abs"), 0);
	ATTEMPT(vfs_readlink(v, "/sl_host_abs", t, sizeof(t)), 0);
	CHECK(strcmp(t, p) == 0);
	ATTEMPT(vfs_readlink(v, "/sl_up", t, sizeof(t)), 0);
	CHECK(strcmp(t, "../../../outside/secret") == 0);
	CHECK(lstat_host(f->root, "sl_up", &st) == 0 && S_ISLNK(st.st_mode));
	/* Followed, they stay inside: the host path means nothing, ".." stops
	 * at the root (the decoy), an absolute target is under the root. */
	ATTEMPT(vfs_open(v, "/sl_host_abs", O_RDONLY, &fd), -ENOENT);
	ATTEMPT(vfs_open(v, "/sl_up", O_RDONLY, &fd), 0);
	CHECK(read_fd(fd, buf, sizeof(buf)) >= 0);
	CHECK(close(fd) == 0);
	CHECK(strcmp(buf, DECOY) == 0);
	ATTEMPT(vfs_stat(v, "/sl_virt_abs", &st), 0);
	CHECK(S_ISREG(st.st_mode));
	/* Made through an outward link or with an escaping name: nothing outside. */
	ATTEMPT(vfs_symlink(v, "x", "/link_abs_dir/" ESC), -ENOENT);
	ATTEMPT(vfs_symlink(v, "x", "/../../" ESC), 0);
	CHECK(lstat_host(f->root, ESC, &st) == 0 && S_ISLNK(st.st_mode));
	ATTEMPT(vfs_symlink(v, "x", "/.."), -EINVAL);
	ATTEMPT(vfs_symlink(v, "x", "/"), -EEXIST);
	ATTEMPT(vfs_symlink(v, "", "/empty_target"), -EINVAL);
	ATTEMPT(vfs_symlink(v, "x", "/file.txt"), -EEXIST);
	ATTEMPT(vfs_readlink(v, "/file.txt", t, sizeof(t)), -EINVAL);
	ATTEMPT(vfs_readlink(v, "/link_abs_dir/secret", t, sizeof(t)), -ENOENT);
	/* Hard links: never of what an outward link points at. */
	ATTEMPT(vfs_hardlink(v, "/link_abs_dir/secret", "/stolen"), -ENOENT);
	ATTEMPT(vfs_hardlink(v, "/../../box/box_secret", "/stolen"), -ENOENT);
	ATTEMPT(vfs_hardlink(v, "/link_abs_file", "/hl_link"), 0); /* the link itself */
	CHECK(lstat_host(f->root, "hl_link", &st) == 0 && S_ISLNK(st.st_mode));
	ATTEMPT(vfs_hardlink(v, "/dir/inner.txt", "/hl_inner"), 0);
	CHECK(lstat_host(f->root, "hl_inner", &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 2);
	ATTEMPT(vfs_hardlink(v, "/dir/inner.txt", "/link_abs_dir/" ESC), -ENOENT);
	ATTEMPT(vfs_hardlink(v, "/dir/inner.txt", "/hl_inner"), -EEXIST);
	ATTEMPT(vfs_hardlink(v, "/dir", "/hl_dir"), -EPERM);
	ATTEMPT(vfs_hardlink(v, "/", "/hl_root"), -EPERM);
	/* A link's own time; a link has no mode, a file's is set. */
	struct timespec ts = { .tv_sec = 1000000000 };
	ATTEMPT(vfs_lset_mtime(v, "/link_abs_file", &ts), 0);
	CHECK(lstat_host(f->root, "link_abs_file", &st) == 0 && st.st_mtime == 1000000000);
	ATTEMPT(vfs_lset_mtime(v, "/link_abs_dir/secret", &ts), -ENOENT);
	ATTEMPT(vfs_lchmod(v, "/link_abs_file", 0600), -EOPNOTSUPP);
	ATTEMPT(vfs_lchmod(v, "/hl_inner", 0600), 0);
	CHECK(lstat_host(f->root, "hl_inner", &st) == 0 && (st.st_mode & 0777) == 0600);
	/* Copies between fds, also to an O_APPEND fd and past the end. */
	int in, out;
	size_t copied;
	CHECK(write_host(f->root, "src.bin", "0123456789") == 0);
	CHECK(write_host(f->root, "dst.bin", "abcdefghij") == 0);
	ATTEMPT(vfs_open(v, "/src.bin", O_RDONLY, &in), 0);
	ATTEMPT(vfs_open(v, "/dst.bin", O_WRONLY, &out), 0);
	CHECK_EQ(vfs_fd_copy(in, 2, out, 4, 3, &copied), 0);
	CHECK_EQ(copied, 3);
	CHECK_EQ(vfs_fd_copy(in, 8, out, 10, 100, &copied), 0);
	CHECK_EQ(copied, 2);
	CHECK(close(out) == 0);
	CHECK_EQ(read_host(f->root, "dst.bin", buf, sizeof(buf)), 12);
	CHECK(memcmp(buf, "abcd234hij89", 12) == 0);
	ATTEMPT(vfs_open(v, "/dst.bin", O_WRONLY | O_APPEND, &out), 0);
	CHECK_EQ(vfs_fd_copy(in, 0, out, 0, 2, &copied), 0);
	CHECK_EQ(copied, 2);
	CHECK(close(out) == 0);
	CHECK(close(in) == 0);
	CHECK_EQ(read_host(f->root, "dst.bin", buf, sizeof(buf)), 14);
	CHECK(memcmp(buf, "abcd234hij8901", 14) == 0);
	return 0;
}

static int scen_escape_writes(struct fx *f)
{
	struct vfs *v = &f->v;
	char p[PATH_MAX], buf[128];
	struct timespec ts = { .tv_sec = 1000000000, .tv_nsec = 0 };
	struct stat st;
	struct vfs_upload u;

	/* mkdir */
	ATTEMPT(vfs_mkdir(v, "/link_abs_dir/" ESC, 0755), -ENOENT);
	ATTEMPT(vfs_mkdir(v, "/chain1/" ESC, 0755), -ENOENT);
	ATTEMPT(vfs_mkdir(v, "/link_proc_fd/" ESC, 0755), -ENOENT);
	ATTEMPT(vfs_mkdir(v, "/link_proc_root/tmp/" ESC, 0755), -ENOENT);
	ATTEMPT(vfs_mkdir(v, "/../../box/" ESC, 0755), -ENOENT);
	ATTEMPT(vfs_mkdir(v, "/link_rel/" ESC, 0755), 0);
	CHECK(exists_host(f->root, "outside/" ESC));
	ATTEMPT(vfs_mkdir(v, "/../" ESC, 0755), 0);
	CHECK(exists_host(f->root, ESC));
	ATTEMPT(vfs_mkdir(v, "/../../../../" ESC "2", 0755), 0);
	CHECK(exists_host(f->root, ESC "2"));
	CHECK(hpath(p, sizeof(p), f->outside, ESC) == 0);
	ATTEMPT(vfs_mkdir(v, p, 0755), -ENOENT);
	ATTEMPT(vfs_mkdir(v, "/..", 0755), -EINVAL);
	ATTEMPT(vfs_mkdir(v, "/.", 0755), -EINVAL);
	ATTEMPT(vfs_mkdir(v, "/dir/..", 0755), -EINVAL);
	ATTEMPT(vfs_mkdir(v, "/", 0755), -EEXIST);
	ATTEMPT(vfs_mkdir(v, "", 0755), -EEXIST);

	/* unlink */
	ATTEMPT(vfs_unlink(v, "/link_abs_dir/secret"), -ENOENT);
	ATTEMPT(vfs_unlink(v, "/chain1/secret"), -ENOENT);
	ATTEMPT(vfs_unlink(v, "/link_rel/../../box_secret"), -ENOENT);
	ATTEMPT(vfs_unlink(v, "/../../box/box_secret"), -ENOENT);
	ATTEMPT(vfs_unlink(v, "/.."), -EINVAL);
	ATTEMPT(vfs_unlink(v, "/link_rel/.."), -EINVAL);
	ATTEMPT(vfs_unlink(v, "/"), -EISDIR);
	ATTEMPT(vfs_unlink(v, "/link_abs_file"), 0); /* the link itself */
	CHECK(!exists_host(f->root, "link_abs_file"));
	ATTEMPT(vfs_unlink(v, "/../outside/secret"), 0); /* the decoy */
	CHECK(!exists_host(f->root, "outside/secret"));

	/* rmdir */
	ATTEMPT(vfs_rmdir(v, "/link_abs_dir/sub"), -ENOENT);
	ATTEMPT(vfs_rmdir(v, "/link_rel"), -ENOTDIR);
	ATTEMPT(vfs_rmdir(v, "/link_root"), -ENOTDIR);
	ATTEMPT(vfs_rmdir(v, "/"), -EBUSY);
	ATTEMPT(vfs_rmdir(v, "//"), -EBUSY);
	ATTEMPT(vfs_rmdir(v, "/.."), -EINVAL);
	ATTEMPT(vfs_rmdir(v, "/dir/."), -EINVAL);
	ATTEMPT(vfs_rmdir(v, "/link_root/.."), -EINVAL);
	ATTEMPT(vfs_rmdir(v, "/../outside/sub"), 0);
	CHECK(!exists_host(f->root, "outside/sub"));

	/* rename */
	ATTEMPT(vfs_rename(v, "/file.txt", "/link_abs_dir/" ESC), -ENOENT);
	ATTEMPT(vfs_rename(v, "/link_abs_dir/secret", "/stolen"), -ENOENT);
	ATTEMPT(vfs_rename(v, "/link_rel/../../box_secret", "/stolen"), -ENOENT);
	ATTEMPT(vfs_rename(v, "/", "/x"), -EBUSY);
	ATTEMPT(vfs_rename(v, "/dir", "/"), -EBUSY);
	ATTEMPT(vfs_rename(v, "/..", "/x"), -EINVAL);
	ATTEMPT(vfs_rename(v, "/empty", "/.."), -EINVAL);
	ATTEMPT(vfs_rename(v, "/empty", "/dir/."), -EINVAL);
	ATTEMPT(vfs_rename(v, "/file.txt", "../outside/moved.txt"), 0);
	CHECK(exists_host(f->root, "outside/moved.txt"));
	ATTEMPT(vfs_rename(v, "/empty", "/../../../" ESC "3"), 0);
	CHECK(exists_host(f->root, ESC "3"));
	ATTEMPT(vfs_rename(v, "/link_rel", "/moved_link"), 0);
	CHECK(lstat_host(f->root, "moved_link", &st) == 0);
	CHECK(S_ISLNK(st.st_mode));

	/* chmod */
	ATTEMPT(vfs_chmod(v, "/link_abs_dir", 0777), -ENOENT);
	ATTEMPT(vfs_chmod(v, "/link_abs_dir/secret", 0777), -ENOENT);
	ATTEMPT(vfs_chmod(v, "/dangle_out", 0777), -ENOENT);
	ATTEMPT(vfs_chmod(v, "/link_proc_fd", 0777), -ENOENT);
	ATTEMPT(vfs_chmod(v, "/chain3", 0777), -ENOENT);
	ATTEMPT(vfs_chmod(v, "/", 0700), -EPERM);
	ATTEMPT(vfs_chmod(v, "/..", 0700), -EPERM);
	ATTEMPT(vfs_chmod(v, "/link_root", 0700), -EPERM);
	ATTEMPT(vfs_chmod(v, "/dir/link_up", 0700), -EPERM);
	ATTEMPT(vfs_chmod(v, "/dir/inner.txt", 04755), -EPERM);
	ATTEMPT(vfs_chmod(v, "/dir/inner.txt", 02755), -EPERM);
	ATTEMPT(vfs_chmod(v, "/../outside/moved.txt", 0700), 0); /* inside */
	CHECK(lstat_host(f->root, "outside/moved.txt", &st) == 0);
	CHECK_EQ(st.st_mode & 07777, 0700);

	/* set_mtime */
	ATTEMPT(vfs_set_mtime(v, "/link_abs_dir", &ts), -ENOENT);
	ATTEMPT(vfs_set_mtime(v, "/link_abs_dir/secret", &ts), -ENOENT);
	ATTEMPT(vfs_set_mtime(v, "/chain1", &ts), -ENOENT);
	ATTEMPT(vfs_set_mtime(v, "/link_proc_cwd", &ts), -ENOENT);
	ATTEMPT(vfs_set_mtime(v, "/../../box_secret", &ts), -ENOENT);
	ATTEMPT(vfs_set_mtime(v, "/dir/link_rel2", &ts), -ENOENT); /* decoy was unlinked above */
	ATTEMPT(vfs_set_mtime(v, "/chainrel1", &ts), -ENOENT);
	ATTEMPT(vfs_set_mtime(v, "/..", &ts), 0); /* the root itself */
	CHECK(lstat_host(f->root, "", &st) == 0);
	CHECK_EQ(st.st_mtim.tv_sec, ts.tv_sec);

	/* uploads */
	ATTEMPT(vfs_upload_begin(v, "/link_abs_dir/" ESC, VFS_UPLOAD_REPLACE, 0, true, &u), -ENOENT);
	CHECK_EQ(u.fd, -1);
	ATTEMPT(vfs_upload_begin(v, "/link_abs_dir/" ESC, VFS_UPLOAD_REPLACE, 0, false, &u), -ENOENT);
	ATTEMPT(vfs_upload_begin(v, "/dangle_out", VFS_UPLOAD_REPLACE, 0, false, &u), -ENOENT);
	ATTEMPT(vfs_upload_begin(v, "/dangle_out", VFS_UPLOAD_APPEND, 0, false, &u), -ENOENT);
	ATTEMPT(vfs_upload_begin(v, "/link_abs_dir/secret", VFS_UPLOAD_APPEND, 0, false, &u), -ENOENT);
	ATTEMPT(vfs_upload_begin(v, "/link_abs_dir/secret", VFS_UPLOAD_RESUME, 0, false, &u), -ENOENT);
	ATTEMPT(vfs_upload_begin(v, "/link_abs_dir/secret", VFS_UPLOAD_RESUME, 3, false, &u), -ENOENT);
	ATTEMPT(vfs_upload_begin(v, "/link_abs_dir", VFS_UPLOAD_UNIQUE, 0, false, &u), -ENOENT);
	ATTEMPT(vfs_upload_begin(v, "/link_proc_fd", VFS_UPLOAD_UNIQUE, 0, false, &u), -ENOENT);
	ATTEMPT(vfs_upload_begin(v, "/chain1/" ESC, VFS_UPLOAD_REPLACE, 0, true, &u), -ENOENT);
	ATTEMPT(vfs_upload_begin(v, "/..", VFS_UPLOAD_REPLACE, 0, true, &u), -EINVAL);
	ATTEMPT(vfs_upload_begin(v, "/..", VFS_UPLOAD_APPEND, 0, true, &u), -EINVAL);
	ATTEMPT(vfs_upload_begin(v, "/", VFS_UPLOAD_REPLACE, 0, true, &u), -EISDIR);
	ATTEMPT(vfs_upload_begin(v, "/link_root", VFS_UPLOAD_REPLACE, 0, true, &u), -EISDIR);
	ATTEMPT(vfs_upload_begin(v, "/link_root", VFS_UPLOAD_REPLACE, 0, false, &u), -EISDIR);
	ATTEMPT(vfs_upload_begin(v, "/link_root", VFS_UPLOAD_APPEND, 0, false, &u), -EISDIR);
	/* A dangling link is created at its target, resolved inside the root. */
	ATTEMPT(vfs_upload_begin(v, "/dangle", VFS_UPLOAD_REPLACE, 0, false, &u), 0);
	CHECK(write(u.fd, "x", 1) == 1);
	CHECK_EQ(vfs_upload_commit(&u), 0);
	CHECK(read_host(f->root, "created_by_dangle", buf, sizeof(buf)) == 1);
	/* Replacing an outward link through a temporary replaces the link. */
	CHECK(hpath(p, sizeof(p), f->outside, "secret") == 0);
	CHECK(link_host(f->root, "link_abs_file", p) == 0);
	ATTEMPT(vfs_upload_begin(v, "/link_abs_file", VFS_UPLOAD_REPLACE, 0, true, &u), 0);
	CHECK(write(u.fd, "new", 3) == 3);
	CHECK_EQ(vfs_upload_commit(&u), 0);
	CHECK(lstat_host(f->root, "link_abs_file", &st) == 0);
	CHECK(S_ISREG(st.st_mode));
	ATTEMPT(vfs_upload_begin(v, "/../../" ESC "4", VFS_UPLOAD_REPLACE, 0, true, &u), 0);
	CHECK_EQ(vfs_upload_commit(&u), 0);
	CHECK(exists_host(f->root, ESC "4"));
	ATTEMPT(vfs_upload_begin(v, "/moved_link", VFS_UPLOAD_UNIQUE, 0, true, &u), 0); /* decoy dir */
	CHECK(u.unique_name[0] != '\0');
	CHECK(hpath(p, sizeof(p), "outside", u.unique_name) == 0);
	CHECK_EQ(vfs_upload_commit(&u), 0);
	CHECK(exists_host(f->root, p));
	ATTEMPT(vfs_upload_begin(v, "/moved_link/appended", VFS_UPLOAD_APPEND, 0, true, &u), 0);
	CHECK(write(u.fd, "+", 1) == 1);
	CHECK_EQ(vfs_upload_commit(&u), 0);
	CHECK(exists_host(f->root, "outside/appended"));
	return 0;
}

/* ---- positive cases ---- */

static int scen_basic(struct fx *f)
{
	struct vfs *v = &f->v;
	struct stat st, t;
	int fd;
	char buf[64];

	CHECK(vfs_supported());
	CHECK_EQ(vfs_stat(v, "/file.txt", &st), 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK_EQ(st.st_size, 12);
	CHECK_EQ(vfs_stat(v, "file.txt", &st), 0);
	CHECK_EQ(vfs_stat(v, "/", &st), 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_EQ(vfs_stat(v, "", &st), 0);
	CHECK_EQ(vfs_stat(v, "/missing", &st), -ENOENT);
	CHECK_EQ(vfs_stat(v, "/file.txt/x", &st), -ENOTDIR);
	CHECK_EQ(vfs_stat(v, "/link_dir/inner.txt", &st), 0);
	CHECK(lstat_host(f->root, "dir/inner.txt", &t) == 0);
	CHECK(same_inode(&st, &t));
	CHECK_EQ(vfs_lstat(v, "/link_dir", &st), 0);
	CHECK(S_ISLNK(st.st_mode));
	CHECK_EQ(vfs_stat(v, "/link_dir", &st), 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_EQ(vfs_lstat(v, "/dir", &st), 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_EQ(vfs_lstat(v, "/", &st), 0);
	CHECK_EQ(vfs_lstat(v, "/link_dir/", &st), 0); /* a trailing slash follows */
	CHECK(S_ISDIR(st.st_mode));

	CHECK_EQ(vfs_open(v, "/dir/inner.txt", O_RDONLY, &fd), 0);
	CHECK(read_fd(fd, buf, sizeof(buf)) == 5);
	CHECK(strcmp(buf, "inner") == 0);
	CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	CHECK(close(fd) == 0);
	CHECK_EQ(vfs_open(v, "/link_dir/inner.txt", O_RDONLY, &fd), 0);
	CHECK(close(fd) == 0);
	CHECK_EQ(vfs_open(v, "/dir/inner.txt", O_RDONLY | O_NOFOLLOW, &fd), 0);
	CHECK(close(fd) == 0);
	CHECK_EQ(vfs_open(v, "/link_dir", O_RDONLY | O_NOFOLLOW, &fd), -ELOOP);
	CHECK_EQ(vfs_open(v, "/new", O_WRONLY | O_CREAT, &fd), -EINVAL);
	CHECK_EQ(vfs_open(v, "/", O_WRONLY | O_TMPFILE, &fd), -EINVAL);
	CHECK_EQ(vfs_open(v, "/missing", O_RDONLY, &fd), -ENOENT);
	CHECK_EQ(vfs_open(v, "/dir", O_WRONLY, &fd), -EISDIR);

	CHECK_EQ(vfs_opendir(v, "/dir", &fd), 0);
	CHECK(fstat(fd, &st) == 0 && S_ISDIR(st.st_mode));
	DIR *d = fdopendir(fd);
	CHECK(d != NULL);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, "inner.txt") == 0;
	CHECK(closedir(d) == 0);
	CHECK_EQ(n, 1);
	CHECK_EQ(vfs_opendir(v, "/", &fd), 0);
	CHECK(close(fd) == 0);
	CHECK_EQ(vfs_opendir(v, "/file.txt", &fd), -ENOTDIR);
	CHECK_EQ(vfs_opendir(v, "/missing", &fd), -ENOENT);

	/* Names and lengths. */
	char longname[NAME_MAX + 3];
	memset(longname, 'a', sizeof(longname));
	longname[0] = '/';
	longname[NAME_MAX + 2] = '\0'; /* 256 characters after the slash */
	CHECK_EQ(vfs_mkdir(v, longname, 0755), -ENAMETOOLONG);
	longname[NAME_MAX + 1] = '\0'; /* exactly NAME_MAX */
	CHECK_EQ(vfs_mkdir(v, longname, 0755), 0);
	CHECK_EQ(vfs_rmdir(v, longname), 0);
	char *huge = malloc(PATH_MAX + 2);
	CHECK(huge != NULL);
	memset(huge, 'b', PATH_MAX + 1);
	huge[PATH_MAX + 1] = '\0';
	int rh = vfs_stat(v, huge, &st);
	int rm = vfs_mkdir(v, huge, 0755);
	free(huge);
	CHECK_EQ(rh, -ENAMETOOLONG);
	CHECK_EQ(rm, -ENAMETOOLONG);
	CHECK_EQ(vfs_mkdir(v, "/dir/", 0755), -EINVAL); /* empty final component */
	CHECK_EQ(vfs_mkdir(v, "a/b", 0755), -ENOENT);	/* "a" does not exist */
	CHECK_EQ(vfs_stat(v, NULL, &st), -EINVAL);
	return 0;
}

static int scen_modify(struct fx *f)
{
	struct vfs *v = &f->v;
	struct stat st;
	char buf[64];

	/* mkdir: permission bits only, umask applies */
	CHECK_EQ(vfs_mkdir(v, "/newdir", 0755), 0);
	CHECK(lstat_host(f->root, "newdir", &st) == 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_EQ(st.st_mode & 07777, 0755);
	CHECK_EQ(vfs_mkdir(v, "/newdir", 0755), -EEXIST);
	CHECK_EQ(vfs_mkdir(v, "/dir/sub/nested", 06777), 0);
	CHECK(lstat_host(f->root, "dir/sub/nested", &st) == 0);
	CHECK_EQ(st.st_mode & 07777, 0755);
	CHECK_EQ(vfs_mkdir(v, "/link_dir/via_link", 0755), 0);
	CHECK(exists_host(f->root, "dir/via_link"));
	CHECK_EQ(vfs_mkdir(v, "/missing/x", 0755), -ENOENT);
	CHECK_EQ(vfs_mkdir(v, "/file.txt/x", 0755), -ENOTDIR);
	CHECK_EQ(vfs_mkdir(v, "/dangle", 0755), -EEXIST); /* mkdirat never follows */

	/* rmdir */
	CHECK_EQ(vfs_rmdir(v, "/newdir"), 0);
	CHECK(!exists_host(f->root, "newdir"));
	CHECK_EQ(vfs_rmdir(v, "/dir"), -ENOTEMPTY);
	CHECK_EQ(vfs_rmdir(v, "/file.txt"), -ENOTDIR);
	CHECK_EQ(vfs_rmdir(v, "/missing"), -ENOENT);
	CHECK_EQ(vfs_rmdir(v, "/link_dir/via_link"), 0);

	/* unlink */
	CHECK_EQ(vfs_unlink(v, "/dir"), -EISDIR);
	CHECK_EQ(vfs_unlink(v, "/missing"), -ENOENT);
	CHECK_EQ(vfs_unlink(v, "/link_dir"), 0); /* the link, not the directory */
	CHECK(exists_host(f->root, "dir/inner.txt"));
	CHECK_EQ(vfs_unlink(v, "/dir/inner.txt"), 0);
	CHECK(!exists_host(f->root, "dir/inner.txt"));

	/* rename */
	CHECK(write_host(f->root, "a.txt", "AAA") == 0);
	CHECK(write_host(f->root, "b.txt", "BBB") == 0);
	CHECK_EQ(vfs_rename(v, "/a.txt", "/dir/c.txt"), 0);
	CHECK(read_host(f->root, "dir/c.txt", buf, sizeof(buf)) == 3);
	CHECK_EQ(vfs_rename(v, "/dir/c.txt", "/b.txt"), 0); /* replaces */
	CHECK(read_host(f->root, "b.txt", buf, sizeof(buf)) == 3);
	CHECK(strcmp(buf, "AAA") == 0);
	CHECK_EQ(vfs_rename(v, "/missing", "/x"), -ENOENT);
	CHECK_EQ(vfs_rename(v, "/dir", "/dir/sub/x"), -EINVAL); /* own subtree: the kernel says no */
	CHECK_EQ(vfs_rename(v, "/dir", "/renamed"), 0);
	CHECK(exists_host(f->root, "renamed/sub"));
	CHECK_EQ(vfs_rename(v, "/b.txt", "/renamed"), -EISDIR);
	CHECK_EQ(vfs_rename(v, "/renamed", "/b.txt"), -ENOTDIR);

	/* chmod: files, directories, through symlinks (to the target) */
	CHECK_EQ(vfs_chmod(v, "/b.txt", 0600), 0);
	CHECK(lstat_host(f->root, "b.txt", &st) == 0);
	CHECK_EQ(st.st_mode & 07777, 0600);
	CHECK_EQ(vfs_chmod(v, "/renamed", 0700), 0);
	CHECK(lstat_host(f->root, "renamed", &st) == 0);
	CHECK_EQ(st.st_mode & 07777, 0700);
	CHECK(link_host(f->root, "to_b", "/b.txt") == 0);
	CHECK_EQ(vfs_chmod(v, "/to_b", 0640), 0);
	CHECK(lstat_host(f->root, "b.txt", &st) == 0);
	CHECK_EQ(st.st_mode & 07777, 0640);
	/* A file the owner cannot read or write is not a trap (fchmodat2 on
	 * the O_PATH fd); before Linux 6.6 it is for anyone but root. */
	CHECK_EQ(vfs_chmod(v, "/b.txt", 0), 0);
	int r0 = vfs_chmod(v, "/b.txt", 0644);
	if (old_kernel && geteuid() != 0) {
		CHECK_EQ(r0, -EACCES);
		CHECK(write_host(f->root, "wo", "w") == 0);
		CHECK(chmod_host(f->root, "wo", 0200) == 0); /* write-only: reopened O_WRONLY */
		CHECK_EQ(vfs_chmod(v, "/wo", 0600), 0);
		CHECK(lstat_host(f->root, "wo", &st) == 0);
		CHECK_EQ(st.st_mode & 07777, 0600);
		CHECK(chmod_host(f->root, "b.txt", 0644) == 0);
	} else {
		CHECK_EQ(r0, 0);
	}
	CHECK(lstat_host(f->root, "b.txt", &st) == 0);
	CHECK_EQ(st.st_mode & 07777, 0644);
	CHECK_EQ(vfs_chmod(v, "/missing", 0644), -ENOENT);

	/* set_mtime: mtime changes, atime does not */
	struct stat before;
	CHECK(lstat_host(f->root, "b.txt", &before) == 0);
	struct timespec ts = { .tv_sec = 1234567890, .tv_nsec = 500 };
	CHECK_EQ(vfs_set_mtime(v, "/b.txt", &ts), 0);
	CHECK(lstat_host(f->root, "b.txt", &st) == 0);
	CHECK_EQ(st.st_mtim.tv_sec, 1234567890);
	CHECK_EQ(st.st_mtim.tv_nsec, 500);
	CHECK_EQ(st.st_atim.tv_sec, before.st_atim.tv_sec);
	CHECK_EQ(vfs_set_mtime(v, "/to_b", &ts), 0);
	CHECK_EQ(vfs_set_mtime(v, "/renamed", &ts), 0);
	CHECK(lstat_host(f->root, "renamed", &st) == 0);
	CHECK_EQ(st.st_mtim.tv_sec, 1234567890);
	struct timespec bad = { .tv_sec = 1, .tv_nsec = 1000000000L };
	CHECK_EQ(vfs_set_mtime(v, "/b.txt", &bad), -EINVAL);
	CHECK_EQ(vfs_set_mtime(v, "/b.txt", NULL), -EINVAL);
	CHECK_EQ(vfs_set_mtime(v, "/missing", &ts), -ENOENT);
	return 0;
}

/* ---- uploads ---- */

static int write_all(int fd, const char *s)
{
	size_t n = strlen(s);
	CHECK(write(fd, s, n) == (ssize_t)n);
	return 0;
}

static int host_eq(const struct fx *f, const char *rel, const char *want)
{
	char buf[256];
	ssize_t n = read_host(f->root, rel, buf, sizeof(buf));
	if (n < 0 || strcmp(buf, want) != 0) {
		fprintf(stderr, "%s: \"%s\", want \"%s\"\n", rel, n < 0 ? "(missing)" : buf, want);
		return -1;
	}
	return 0;
}

/* Whether this process may name an O_TMPFILE in dir, found out the plain
 * way (a real link), independently of vfs.c's probe: CAP_DAC_READ_SEARCH in
 * the initial user namespace, or Linux >= 6.10 and the same credentials. */
static int flink_works(const char *dir)
{
	char name[PATH_MAX];
	int d = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		return -1;
	int t = openat(d, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	int works = 0;
	if (t >= 0 && snprintf(name, sizeof(name), "flink-probe-%d", (int)getpid()) > 0 &&
	    linkat(t, "", d, name, AT_EMPTY_PATH) == 0) {
		works = 1;
		(void)unlinkat(d, name, 0);
	}
	if (t >= 0)
		(void)close(t);
	(void)close(d);
	return works;
}

/* expect_tmpfile: whether REPLACE must use O_TMPFILE (1) or a named
 * temporary (0); -1 asks flink_works(). */
static int scen_uploads(struct fx *f, int expect_tmpfile)
{
	struct vfs *v = &f->v;
	struct vfs_upload u, u2;
	struct stat st;
	char dir[PATH_MAX];

	CHECK(hpath(dir, sizeof(dir), f->root, "dir") == 0);
	if (expect_tmpfile < 0)
		expect_tmpfile = flink_works(dir);
	CHECK(expect_tmpfile >= 0);
	/* REPLACE via a temporary: a new file appears only at commit. */
	CHECK_EQ(vfs_upload_begin(v, "/dir/up.txt", VFS_UPLOAD_REPLACE, 0, true, &u), 0);
	CHECK(u.temp);
	CHECK_EQ(u.tmpfile, expect_tmpfile);
	fprintf(stderr, "    uid %u%s: REPLACE upload used %s\n", (unsigned)geteuid(),
		old_kernel ? " (old kernel)" : "", u.tmpfile ? "O_TMPFILE" : "a named temporary");
	CHECK(strcmp(u.final, "up.txt") == 0);
	CHECK(u.dirfd >= 0 && u.fd >= 0);
	CHECK(write_all(u.fd, "fresh") == 0);
	CHECK(!exists_host(f->root, "dir/up.txt"));
	CHECK_EQ(count_prefix(dir, TMP_PREFIX), u.tmpfile ? 0 : 1);
	if (!u.tmpfile)
		CHECK(strncmp(u.tmpname, TMP_PREFIX, strlen(TMP_PREFIX)) == 0 && strlen(u.tmpname) == 30);
	CHECK_EQ(vfs_upload_commit(&u), 0);
	CHECK(host_eq(f, "dir/up.txt", "fresh") == 0);
	CHECK(lstat_host(f->root, "dir/up.txt", &st) == 0);
	CHECK_EQ(st.st_mode & 07777, 0644);
	CHECK_EQ(count_prefix(dir, TMP_PREFIX), 0);
	CHECK_EQ(u.fd, -1);
	CHECK_EQ(u.dirfd, -1);
	CHECK_EQ(vfs_upload_commit(&u), -EBADF); /* once only */
	vfs_upload_abort(&u);			 /* harmless after commit */

	/* REPLACE over an existing file: abort keeps the old content. */
	CHECK_EQ(vfs_upload_begin(v, "/file.txt", VFS_UPLOAD_REPLACE, 0, true, &u), 0);
	CHECK(write_all(u.fd, "half-writ") == 0);
	CHECK(host_eq(f, "file.txt", "hello world\n") == 0);
	vfs_upload_abort(&u);
	CHECK(host_eq(f, "file.txt", "hello world\n") == 0);
	CHECK_EQ(count_prefix(f->root, TMP_PREFIX), 0);
	CHECK_EQ(u.fd, -1);
	vfs_upload_abort(&u); /* twice is fine */
	/* ... and commit replaces it atomically. */
	CHECK_EQ(vfs_upload_begin(v, "/file.txt", VFS_UPLOAD_REPLACE, 0, true, &u), 0);
	CHECK(write_all(u.fd, "replaced") == 0);
	CHECK(host_eq(f, "file.txt", "hello world\n") == 0);
	CHECK_EQ(vfs_upload_commit(&u), 0);
	CHECK(host_eq(f, "file.txt", "replaced") == 0);
	CHECK_EQ(count_prefix(f->root, TMP_PREFIX), 0);
	/* Two concurrent uploads of one name: last commit wins, no leftovers. */
	CHECK_EQ(vfs_upload_begin(v, "/file.txt", VFS_UPLOAD_REPLACE, 0, true, &u), 0);
	CHECK_EQ(vfs_upload_begin(v, "/file.txt", VFS_UPLOAD_REPLACE, 0, true, &u2), 0);
	CHECK(write_all(u.fd, "one") == 0);
	CHECK(write_all(u2.fd, "two") == 0);
	CHECK_EQ(vfs_upload_commit(&u2), 0);
	CHECK_EQ(vfs_upload_commit(&u), 0);
	CHECK(host_eq(f, "file.txt", "one") == 0);
	CHECK_EQ(count_prefix(f->root, TMP_PREFIX), 0);
	/* A directory at the final name is refused at begin, also via a link. */
	CHECK_EQ(vfs_upload_begin(v, "/dir", VFS_UPLOAD_REPLACE, 0, true, &u), -EISDIR);
	CHECK_EQ(u.fd, -1);
	CHECK_EQ(vfs_upload_begin(v, "/link_dir", VFS_UPLOAD_REPLACE, 0, true, &u), -EISDIR);
	CHECK_EQ(vfs_upload_begin(v, "/dir", VFS_UPLOAD_REPLACE, 0, false, &u), -EISDIR);
	CHECK_EQ(vfs_upload_begin(v, "/missing/x", VFS_UPLOAD_REPLACE, 0, true, &u), -ENOENT);
	CHECK_EQ(count_prefix(f->root, TMP_PREFIX), 0);
	/* A directory that appears during the upload makes commit fail cleanly. */
	CHECK_EQ(vfs_upload_begin(v, "/late", VFS_UPLOAD_REPLACE, 0, true, &u), 0);
	CHECK(mkdir_host(f->root, "late") == 0);
	CHECK(write_host(f->root, "late/keep", "k") == 0);
	CHECK(vfs_upload_commit(&u) < 0);
	CHECK_EQ(count_prefix(f->root, TMP_PREFIX), 0);
	CHECK(host_eq(f, "late/keep", "k") == 0);

	/* REPLACE in place (temp_uploads off): truncates at begin. */
	CHECK_EQ(vfs_upload_begin(v, "/file.txt", VFS_UPLOAD_REPLACE, 0, false, &u), 0);
	CHECK(!u.temp);
	CHECK(lstat_host(f->root, "file.txt", &st) == 0);
	CHECK_EQ(st.st_size, 0);
	CHECK(write_all(u.fd, "inplace") == 0);
	CHECK_EQ(vfs_upload_commit(&u), 0);
	CHECK(host_eq(f, "file.txt", "inplace") == 0);
	CHECK_EQ(vfs_upload_begin(v, "/dir/new_inplace", VFS_UPLOAD_REPLACE, 0, false, &u), 0);
	CHECK_EQ(vfs_upload_commit(&u), 0);
	CHECK(host_eq(f, "dir/new_inplace", "") == 0);

	/* APPEND */
	CHECK_EQ(vfs_upload_begin(v, "/file.txt", VFS_UPLOAD_APPEND, 0, true, &u), 0);
	CHECK(!u.temp);
	CHECK(write_all(u.fd, "+more") == 0);
	CHECK_EQ(vfs_upload_commit(&u), 0);
	CHECK(host_eq(f, "file.txt", "inplace+more") == 0);
	CHECK_EQ(vfs_upload_begin(v, "/appended_new", VFS_UPLOAD_APPEND, 0, true, &u), 0);
	CHECK(write_all(u.fd, "abc") == 0);
	vfs_upload_abort(&u); /* partial data stays: it is an append */
	CHECK(host_eq(f, "appended_new", "abc") == 0);
	CHECK_EQ(vfs_upload_begin(v, "/dir", VFS_UPLOAD_APPEND, 0, true, &u), -EISDIR);

	/* RESUME: truncate at the offset and write from there. */
	CHECK(write_host(f->root, "digits", "0123456789") == 0);
	CHECK_EQ(vfs_upload_begin(v, "/digits", VFS_UPLOAD_RESUME, 4, true, &u), 0);
	CHECK(!u.temp);
	CHECK(lstat_host(f->root, "digits", &st) == 0);
	CHECK_EQ(st.st_size, 4);
	CHECK(write_all(u.fd, "XY") == 0);
	CHECK_EQ(vfs_upload_commit(&u), 0);
	CHECK(host_eq(f, "digits", "0123XY") == 0);
	CHECK_EQ(vfs_upload_begin(v, "/digits", VFS_UPLOAD_RESUME, 6, true, &u), 0); /* offset == size */
	CHECK(write_all(u.fd, "Z") == 0);
	CHECK_EQ(vfs_upload_commit(&u), 0);
	CHECK(host_eq(f, "digits", "0123XYZ") == 0);
	CHECK_EQ(vfs_upload_begin(v, "/digits", VFS_UPLOAD_RESUME, 8, true, &u), -EINVAL);
	CHECK_EQ(u.fd, -1);
	CHECK_EQ(vfs_upload_begin(v, "/digits", VFS_UPLOAD_RESUME, UINT64_MAX, true, &u), -EINVAL);
	CHECK(host_eq(f, "digits", "0123XYZ") == 0);
	CHECK_EQ(vfs_upload_begin(v, "/resume_missing", VFS_UPLOAD_RESUME, 5, true, &u), -ENOENT);
	CHECK(!exists_host(f->root, "resume_missing"));
	CHECK_EQ(vfs_upload_begin(v, "/resume_missing", VFS_UPLOAD_RESUME, 0, true, &u), 0);
	CHECK_EQ(vfs_upload_commit(&u), 0);
	CHECK(host_eq(f, "resume_missing", "") == 0);

	/* UNIQUE: distinct fresh names in the named directory. */
	CHECK_EQ(vfs_upload_begin(v, "/dir", VFS_UPLOAD_UNIQUE, 0, true, &u), 0);
	CHECK_EQ(vfs_upload_begin(v, "/dir", VFS_UPLOAD_UNIQUE, 0, true, &u2), 0);
	CHECK(strncmp(u.unique_name, "ferry.", 6) == 0 && strlen(u.unique_name) == 14);
	CHECK(strcmp(u.unique_name, u2.unique_name) != 0);
	CHECK(strcmp(u.final, u.unique_name) == 0);
	CHECK(!u.temp);
	CHECK(write_all(u.fd, "u1") == 0);
	CHECK(write_all(u2.fd, "u2") == 0);
	char p1[PATH_MAX], p2[PATH_MAX];
	CHECK(hpath(p1, sizeof(p1), "dir", u.unique_name) == 0);
	CHECK(hpath(p2, sizeof(p2), "dir", u2.unique_name) == 0);
	CHECK_EQ(vfs_upload_commit(&u), 0);
	CHECK_EQ(vfs_upload_commit(&u2), 0);
	CHECK(host_eq(f, p1, "u1") == 0);
	CHECK(host_eq(f, p2, "u2") == 0);
	CHECK_EQ(vfs_upload_begin(v, "/", VFS_UPLOAD_UNIQUE, 0, true, &u), 0);
	CHECK_EQ(vfs_upload_commit(&u), 0);
	CHECK_EQ(vfs_upload_begin(v, "/file.txt", VFS_UPLOAD_UNIQUE, 0, true, &u), -ENOTDIR);
	CHECK_EQ(vfs_upload_begin(v, "/nodir", VFS_UPLOAD_UNIQUE, 0, true, &u), -ENOENT);

	CHECK_EQ(vfs_upload_begin(v, "/x", (enum vfs_upload_mode)42, 0, true, &u), -EINVAL);
	CHECK_EQ(count_prefix(f->root, TMP_PREFIX), 0);
	CHECK_EQ(count_prefix(dir, TMP_PREFIX), 0);
	return 0;
}

/* ---- running scenarios as root (cmocka) ---- */

static int setup(void **state)
{
	struct fx *f = fx_new(false);
	if (!f || fx_start(f) != 0)
		return -1;
	escape_attempts = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int r = outside_unchanged(f);
	if (escape_attempts)
		print_message("    %u escape attempts, outside unchanged: %s\n", escape_attempts, r ? "NO" : "yes");
	fx_destroy(f);
	return r;
}

static void test_vfs_escape_reads(void **state)
{
	assert_int_equal(scen_escape_reads(*state), 0);
	assert_int_equal(outside_unchanged(*state), 0);
}

static void test_vfs_escape_writes(void **state)
{
	assert_int_equal(scen_escape_writes(*state), 0);
	assert_int_equal(outside_unchanged(*state), 0);
}

static void test_vfs_links(void **state)
{
	assert_int_equal(scen_links(*state), 0);
	assert_int_equal(outside_unchanged(*state), 0);
}

static void test_vfs_basic(void **state)
{
	assert_int_equal(scen_basic(*state), 0);
}

static void test_vfs_modify(void **state)
{
	assert_int_equal(scen_modify(*state), 0);
	assert_int_equal(outside_unchanged(*state), 0);
}

static void test_vfs_uploads(void **state)
{
	assert_int_equal(scen_uploads(*state, -1), 0);
	assert_int_equal(outside_unchanged(*state), 0);
}

#define PARTIAL_PREFIX ".ferry-partial."

/* Resumable atomic uploads (vfs.h): an interrupted upload kept for its
 * owner, continued by RESUME/APPEND, renamed over the target only at the
 * end; other owners never meet it and no client path names it. */
static int scen_partials(struct fx *f)
{
	struct vfs *v = &f->v;
	struct vfs_upload u;
	uint64_t size = 0;
	char name[NAME_MAX + 2] = "";
	CHECK_EQ(vfs_upload_begin_as(v, "/file.txt", VFS_UPLOAD_REPLACE, 0, true, "bob", &u), 0);
	CHECK(write_all(u.fd, "new-con") == 0);
	vfs_upload_keep(&u);
	CHECK_EQ(u.fd, -1);
	CHECK(host_eq(f, "file.txt", "hello world\n") == 0);
	CHECK_EQ(count_prefix(f->root, PARTIAL_PREFIX), 1);
	CHECK_EQ(count_prefix(f->root, TMP_PREFIX), 0);
	CHECK_EQ(vfs_partial_size(v, "/file.txt", "bob", &size), 0);
	CHECK_EQ(size, 7);
	CHECK_EQ(vfs_partial_size(v, "/file.txt", "eve", &size), -ENOENT);
	CHECK_EQ(vfs_partial_size(v, "/other.txt", "bob", &size), -ENOENT);
	/* No client path names a partial or a temporary. */
	DIR *d = opendir(f->root);
	CHECK(d != NULL);
	for (struct dirent *de; (de = readdir(d)) != NULL;)
		if (strncmp(de->d_name, PARTIAL_PREFIX, strlen(PARTIAL_PREFIX)) == 0)
			(void)snprintf(name, sizeof(name), "/%s", de->d_name);
	(void)closedir(d);
	struct stat st;
	int fd = -1;
	CHECK_EQ(vfs_stat(v, name, &st), -EACCES);
	CHECK_EQ(vfs_open(v, name, O_RDONLY, &fd), -EACCES);
	CHECK_EQ(vfs_unlink(v, name), -EACCES);
	CHECK_EQ(vfs_rename(v, name, "/stolen"), -EACCES);
	CHECK_EQ(vfs_upload_begin(v, name, VFS_UPLOAD_REPLACE, 0, true, &u), -EACCES);
	CHECK_EQ(vfs_stat(v, "/dir/.ferry-upload.0123456789abcdef", &st), -EACCES);
	/* Another owner's APPEND writes the file itself, in place. */
	CHECK_EQ(vfs_upload_begin_as(v, "/file.txt", VFS_UPLOAD_APPEND, 0, true, "eve", &u), 0);
	CHECK(!u.resumed);
	vfs_upload_abort(&u);
	/* REST beyond what arrived is refused and the partial stays. */
	CHECK_EQ(vfs_upload_begin_as(v, "/file.txt", VFS_UPLOAD_RESUME, 8, true, "bob", &u), -EINVAL);
	CHECK_EQ(count_prefix(f->root, PARTIAL_PREFIX), 1);
	/* REST 4 + STOR continues at 4; interrupted again, it stays the partial. */
	CHECK_EQ(vfs_upload_begin_as(v, "/file.txt", VFS_UPLOAD_RESUME, 4, true, "bob", &u), 0);
	CHECK(u.resumed);
	CHECK(write_all(u.fd, "XYZ") == 0);
	vfs_upload_keep(&u);
	CHECK_EQ(vfs_partial_size(v, "/file.txt", "bob", &size), 0);
	CHECK_EQ(size, 7);
	CHECK(host_eq(f, "file.txt", "hello world\n") == 0);
	/* APPE continues at its end; commit puts the whole in place. */
	CHECK_EQ(vfs_upload_begin_as(v, "/file.txt", VFS_UPLOAD_APPEND, 0, true, "bob", &u), 0);
	CHECK(write_all(u.fd, "!!") == 0);
	CHECK_EQ(vfs_upload_commit(&u), 0);
	CHECK(host_eq(f, "file.txt", "new-XYZ!!") == 0);
	CHECK_EQ(count_prefix(f->root, PARTIAL_PREFIX), 0);
	/* A fresh REPLACE supersedes a partial; an empty one is not kept. */
	CHECK_EQ(vfs_upload_begin_as(v, "/file.txt", VFS_UPLOAD_REPLACE, 0, true, "bob", &u), 0);
	CHECK(write_all(u.fd, "a") == 0);
	vfs_upload_keep(&u);
	CHECK_EQ(count_prefix(f->root, PARTIAL_PREFIX), 1);
	CHECK_EQ(vfs_upload_begin_as(v, "/file.txt", VFS_UPLOAD_REPLACE, 0, true, "bob", &u), 0);
	vfs_upload_keep(&u);
	CHECK_EQ(count_prefix(f->root, PARTIAL_PREFIX), 1); /* the older one stays */
	CHECK_EQ(vfs_upload_begin_as(v, "/file.txt", VFS_UPLOAD_REPLACE, 0, true, "bob", &u), 0);
	CHECK(write_all(u.fd, "fresh") == 0);
	CHECK_EQ(vfs_upload_commit(&u), 0);
	CHECK(host_eq(f, "file.txt", "fresh") == 0);
	CHECK_EQ(count_prefix(f->root, PARTIAL_PREFIX), 0);
	CHECK_EQ(count_prefix(f->root, TMP_PREFIX), 0);
	/* A continued partial that fails (abort) goes. */
	CHECK_EQ(vfs_upload_begin_as(v, "/file.txt", VFS_UPLOAD_REPLACE, 0, true, "bob", &u), 0);
	CHECK(write_all(u.fd, "b") == 0);
	vfs_upload_keep(&u);
	CHECK_EQ(vfs_upload_begin_as(v, "/file.txt", VFS_UPLOAD_APPEND, 0, true, "bob", &u), 0);
	vfs_upload_abort(&u);
	CHECK_EQ(count_prefix(f->root, PARTIAL_PREFIX), 0);
	CHECK(host_eq(f, "file.txt", "fresh") == 0);
	return 0;
}

static void test_vfs_partials(void **state)
{
	assert_int_equal(scen_partials(*state), 0);
	assert_int_equal(outside_unchanged(*state), 0);
}

/* The upload's descriptor now refers to a pipe, on which fsync fails
 * (EINVAL): a failing disk, as far as commit can tell. */
static int break_fsync(struct vfs_upload *u)
{
	int p[2];
	CHECK(pipe(p) == 0);
	CHECK(dup2(p[1], u->fd) == u->fd);
	(void)close(p[0]);
	(void)close(p[1]);
	return 0;
}

/* [transfer] fsync (vfs.h: durable): commit syncs the file before the
 * rename and the directory after it; a failed fsync leaves the old file as
 * it was and no temporary (or STOU name) behind. */
static int scen_durable(struct fx *f)
{
	struct vfs *v = &f->v;
	struct vfs_upload u;
	CHECK_EQ(vfs_upload_begin(v, "/file.txt", VFS_UPLOAD_REPLACE, 0, true, &u), 0);
	CHECK(write_all(u.fd, "durable") == 0);
	u.durable = true;
	CHECK_EQ(vfs_upload_commit(&u), 0);
	CHECK(host_eq(f, "file.txt", "durable") == 0);
	/* The file's fsync fails: nothing is renamed, the temporary goes. */
	CHECK_EQ(vfs_upload_begin(v, "/file.txt", VFS_UPLOAD_REPLACE, 0, true, &u), 0);
	CHECK(write_all(u.fd, "lost") == 0);
	CHECK(break_fsync(&u) == 0);
	u.durable = true;
	CHECK_EQ(vfs_upload_commit(&u), -EINVAL);
	CHECK_EQ(u.fd, -1);
	CHECK_EQ(u.dirfd, -1);
	CHECK(host_eq(f, "file.txt", "durable") == 0);
	CHECK_EQ(count_prefix(f->root, TMP_PREFIX), 0);
	/* In place (APPE): the file, then its directory (opened at begin). */
	CHECK_EQ(vfs_upload_begin(v, "/file.txt", VFS_UPLOAD_APPEND, 0, true, &u), 0);
	CHECK(u.dirfd >= 0);
	CHECK(write_all(u.fd, "+more") == 0);
	u.durable = true;
	CHECK_EQ(vfs_upload_commit(&u), 0);
	CHECK(host_eq(f, "file.txt", "durable+more") == 0);
	/* STOU whose fsync fails leaves no file under the name it chose. */
	CHECK_EQ(vfs_upload_begin(v, "/", VFS_UPLOAD_UNIQUE, 0, true, &u), 0);
	CHECK_EQ(count_prefix(f->root, "ferry."), 1);
	CHECK(break_fsync(&u) == 0);
	u.durable = true;
	CHECK_EQ(vfs_upload_commit(&u), -EINVAL);
	CHECK_EQ(count_prefix(f->root, "ferry."), 0);
	return 0;
}

static void test_vfs_durable(void **state)
{
	assert_int_equal(scen_durable(*state), 0);
	assert_int_equal(outside_unchanged(*state), 0);
}

/* Sessions of one home share a descriptor; a home renamed away and
 * recreated under the same path is a different directory and gets its own. */
static void test_vfs_root_shared(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/ferry-vfsroot-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	char home[PATH_MAX], moved[PATH_MAX];
	(void)snprintf(home, sizeof(home), "%s/home", tmpl);
	(void)snprintf(moved, sizeof(moved), "%s/moved", tmpl);
	assert_int_equal(mkdir(home, 0755), 0);
	unsigned base = vfs_roots_open();
	struct vfs a = { .root_fd = -1 }, b = { .root_fd = -1 }, c = { .root_fd = -1 }, t = { .root_fd = -1 };
	assert_int_equal(vfs_open_root(home, &a), 0);
	assert_int_equal(vfs_open_root(home, &b), 0);
	assert_int_equal(a.root_fd, b.root_fd);
	assert_int_equal(vfs_roots_open(), base + 1);
	assert_int_equal(vfs_open_root(tmpl, &t), 0); /* another directory */
	assert_int_not_equal(t.root_fd, a.root_fd);
	assert_int_equal(vfs_roots_open(), base + 2);
	/* The path now names a new, empty directory: not the old entry. */
	assert_int_equal(rename(home, moved), 0);
	assert_int_equal(mkdir(home, 0755), 0);
	assert_int_equal(vfs_open_root(home, &c), 0);
	assert_int_not_equal(c.root_fd, a.root_fd);
	struct stat st;
	assert_int_equal(vfs_stat(&c, "/", &st), 0);
	assert_int_equal(vfs_roots_open(), base + 3);
	/* The first user leaving keeps the descriptor for the second. */
	vfs_close(&a);
	assert_int_equal(a.root_fd, -1);
	assert_int_equal(fcntl(b.root_fd, F_GETFD), FD_CLOEXEC);
	assert_int_equal(vfs_stat(&b, "/", &st), 0);
	assert_int_equal(vfs_roots_open(), base + 3);
	int last = b.root_fd;
	vfs_close(&b);
	assert_int_equal(fcntl(last, F_GETFD), -1); /* closed with its last user */
	vfs_close(&c);
	vfs_close(&t);
	assert_int_equal(vfs_roots_open(), base);
	assert_int_equal(rmdir(home), 0);
	assert_int_equal(rmdir(moved), 0);
	assert_int_equal(rmdir(tmpl), 0);
}

static void test_vfs_root_handling(void **state)
{
	(void)state;
	struct vfs v = { .root_fd = -1 };
	struct stat st;
	struct vfs_upload u;
	assert_int_equal(vfs_open_root("relative/path", &v), -EINVAL);
	assert_int_equal(v.root_fd, -1);
	assert_int_equal(vfs_open_root(NULL, &v), -EINVAL);
	assert_int_equal(vfs_open_root("/nonexistent-ferry-dir", &v), -ENOENT);
	assert_int_equal(vfs_open_root("/etc/passwd", &v), -ENOTDIR);
	assert_int_equal(vfs_stat(&v, "/", &st), -EBADF);
	assert_int_equal(vfs_mkdir(&v, "/x", 0755), -EBADF);
	assert_int_equal(vfs_upload_begin(&v, "/x", VFS_UPLOAD_REPLACE, 0, true, &u), -EBADF);
	assert_int_equal(u.fd, -1);
	assert_int_equal(vfs_stat(NULL, "/", &st), -EBADF);
	assert_int_equal(vfs_open_root("/", &v), 0);
	assert_true(v.root_fd >= 0);
	vfs_close(&v);
	assert_int_equal(v.root_fd, -1);
	vfs_close(&v);
	vfs_close(NULL);
	vfs_upload_abort(NULL);
	assert_int_equal(vfs_upload_commit(NULL), -EBADF);
}

/* ---- forked children ---- */

/* Makes the listed syscalls fail with the given errno (like an older kernel
 * or a sandbox would). Native ABI only: this is a test, not a sandbox. */
static int deny_syscalls(const long *nrs, const int *errs, size_t n)
{
	struct sock_filter prog[2 + 2 * 8];
	size_t k = 0;
	CHECK(n <= 8);
	prog[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (size_t i = 0; i < n; i++) {
		prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nrs[i], 0, 1);
		prog[k++] =
		    (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)errs[i] & 0xffff));
	}
	prog[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog fp = { .len = (unsigned short)k, .filter = prog };
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp) == 0);
	return 0;
}

static int drop_to_nobody(void)
{
	CHECK(setgroups(0, NULL) == 0);
	CHECK(setresgid(NOBODY, NOBODY, NOBODY) == 0);
	CHECK(setresuid(NOBODY, NOBODY, NOBODY) == 0);
	CHECK(geteuid() == NOBODY && getuid() == NOBODY);
	return 0;
}

/* Runs every scenario on its own fresh tree. */
static int run_all(struct fx **fx, int expect_tmpfile)
{
	int (*const scen[])(struct fx *) = { scen_escape_reads, scen_escape_writes, scen_basic, scen_modify };
	for (size_t i = 0; i < sizeof(scen) / sizeof(scen[0]); i++) {
		CHECK(fx_start(fx[i]) == 0);
		if (scen[i](fx[i]) != 0) {
			fprintf(stderr, "scenario %zu failed\n", i);
			return -1;
		}
		CHECK(outside_unchanged(fx[i]) == 0);
	}
	CHECK(fx_start(fx[4]) == 0);
	CHECK(scen_uploads(fx[4], expect_tmpfile) == 0);
	CHECK(outside_unchanged(fx[4]) == 0);
	return 0;
}

#define NOBODY_FX 10

/* Child: trees built by root and chowned to nobody, then privileges dropped
 * for good. Round one as the kernel allows; round two with linkat denied
 * (the named-temporary upload path: Linux < 6.10 without the capability)
 * and fchmodat2 missing (Linux < 6.6: chmod through a reopened fd). */
static int nobody_child(void)
{
	struct fx *fx[NOBODY_FX] = { 0 };
	int r = -1;
	for (size_t i = 0; i < NOBODY_FX; i++) {
		fx[i] = fx_new(true);
		if (!fx[i])
			goto out;
	}
	if (drop_to_nobody() != 0)
		goto out;
	escape_attempts = 0;
	if (run_all(fx, -1) != 0)
		goto out;
	const long nrs[] = { SYS_linkat, SYS_fchmodat2 };
	const int errs[] = { ENOENT, ENOSYS };
	old_kernel = true;
	if (deny_syscalls(nrs, errs, 2) != 0 || run_all(fx + 5, 0) != 0)
		goto out;
	fprintf(stderr, "    as nobody: %u escape attempts\n", escape_attempts);
	r = 0;
out:
	for (size_t i = 0; i < NOBODY_FX; i++)
		if (fx[i])
			fx_destroy(fx[i]);
	return r;
}

static int wait_child(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static void test_vfs_as_nobody(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	(void)fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(nobody_child() == 0 ? 0 : 1);
	assert_int_equal(wait_child(pid), 0);
}

/* Child: with openat2 gone (ENOSYS) nothing falls back to anything. */
static int no_openat2_child(void)
{
	const long nrs[] = { SYS_openat2 };
	const int errs[] = { ENOSYS };
	struct vfs v = { .root_fd = -1 };
	struct stat st;
	struct vfs_upload u;
	CHECK(vfs_open_root("/tmp", &v) == 0);
	CHECK(deny_syscalls(nrs, errs, 1) == 0);
	CHECK(!vfs_supported());
	CHECK_EQ(vfs_stat(&v, "/", &st), -ENOSYS);
	CHECK_EQ(vfs_lstat(&v, "/", &st), -ENOSYS);
	CHECK_EQ(vfs_mkdir(&v, "/" ESC, 0755), -ENOSYS);
	CHECK_EQ(vfs_unlink(&v, "/" ESC), -ENOSYS);
	CHECK_EQ(vfs_upload_begin(&v, "/" ESC, VFS_UPLOAD_REPLACE, 0, true, &u), -ENOSYS);
	vfs_close(&v);
	return 0;
}

static void test_vfs_supported_without_openat2(void **state)
{
	(void)state;
	(void)fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(no_openat2_child() == 0 ? 0 : 1);
	assert_int_equal(wait_child(pid), 0);
}

/* Child: procfs mounted inside the root (private mount namespace). Magic
 * links must be refused (ELOOP), never followed out of the root. */
static int proc_child(struct fx *f)
{
	char p[PATH_MAX];
	struct stat st;
	struct vfs_upload u;
	int fd;
	if (unshare(CLONE_NEWNS) != 0) {
		fprintf(stderr, "    skipped: unshare(CLONE_NEWNS): %s\n", strerror(errno));
		return 77;
	}
	/* SECURITY (of the test machine): without this the procfs mount below
	 * could propagate to the host's mount namespace. */
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	CHECK(mkdir_host(f->root, "proc") == 0);
	CHECK(hpath(p, sizeof(p), f->root, "proc") == 0);
	if (mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
		fprintf(stderr, "    skipped: mount proc: %s\n", strerror(errno));
		return 77;
	}
	CHECK(fx_start(f) == 0);
	struct vfs *v = &f->v;
	escape_attempts = 0;
	CHECK(snprintf(p, sizeof(p), "/proc/self/fd/%d", f->outside_fd) > 0);
	ATTEMPT(vfs_stat(v, p, &st), -ELOOP);
	ATTEMPT(vfs_opendir(v, p, &fd), -ELOOP);
	CHECK(snprintf(p, sizeof(p), "/proc/self/fd/%d/secret", f->outside_fd) > 0);
	ATTEMPT(vfs_open(v, p, O_RDONLY, &fd), -ELOOP);
	ATTEMPT(vfs_unlink(v, p), -ELOOP);
	ATTEMPT(vfs_chmod(v, p, 0777), -ELOOP);
	ATTEMPT(vfs_upload_begin(v, p, VFS_UPLOAD_REPLACE, 0, true, &u), -ELOOP);
	ATTEMPT(vfs_upload_begin(v, p, VFS_UPLOAD_APPEND, 0, true, &u), -ELOOP);
	CHECK(snprintf(p, sizeof(p), "/proc/self/fd/%d/" ESC, f->outside_fd) > 0);
	ATTEMPT(vfs_mkdir(v, p, 0755), -ELOOP);
	ATTEMPT(vfs_stat(v, "/proc/self/root", &st), -ELOOP);
	ATTEMPT(vfs_stat(v, "/proc/self/root/etc/passwd", &st), -ELOOP);
	ATTEMPT(vfs_open(v, "/proc/self/root/etc/passwd", O_RDONLY, &fd), -ELOOP);
	ATTEMPT(vfs_stat(v, "/proc/self/cwd", &st), -ELOOP);
	ATTEMPT(vfs_stat(v, "/proc/thread-self/root/etc", &st), -ELOOP);
	/* Another process's links: a ptrace check may refuse them first. */
	escape_attempts++;
	int r1 = vfs_stat(v, "/proc/1/root/etc/passwd", &st);
	CHECK(r1 == -ELOOP || r1 == -EACCES);
	ATTEMPT(vfs_stat(v, "/link_proc_root/etc/passwd", &st), -ELOOP);
	ATTEMPT(vfs_stat(v, "/link_proc_cwd", &st), -ELOOP);
	ATTEMPT(vfs_stat(v, "/link_proc_fd", &st), -ELOOP);
	ATTEMPT(vfs_stat(v, "/link_proc_fd/secret", &st), -ELOOP);
	const struct timespec ts = { .tv_sec = 1, .tv_nsec = 0 };
	ATTEMPT(vfs_set_mtime(v, "/link_proc_fd/secret", &ts), -ELOOP);
	ATTEMPT(vfs_rename(v, "/file.txt", "/link_proc_fd/" ESC), -ELOOP);
	ATTEMPT(vfs_rmdir(v, "/link_proc_fd/sub"), -ELOOP);
	ATTEMPT(vfs_upload_begin(v, "/link_proc_root/tmp", VFS_UPLOAD_UNIQUE, 0, true, &u), -ELOOP);
	/* lstat of a magic link describes the link (inside /proc, inside the root). */
	ATTEMPT(vfs_lstat(v, "/proc/self/root", &st), 0);
	CHECK(S_ISLNK(st.st_mode));
	CHECK(!is_forbidden(f, &st));
	/* Ordinary procfs files are just files inside the root. */
	ATTEMPT(vfs_open(v, "/proc/self/status", O_RDONLY, &fd), 0);
	CHECK(close(fd) == 0);
	CHECK(outside_unchanged(f) == 0);
	fprintf(stderr, "    procfs inside the root: %u escape attempts\n", escape_attempts);
	vfs_close(v);
	CHECK(hpath(p, sizeof(p), f->root, "proc") == 0);
	CHECK(umount(p) == 0);
	return 0;
}

/* 1 when "/" is a mount point, 0 when not (a chroot into a plain directory,
 * as debootstrap makes), -1 when the kernel cannot tell (before 5.8). */
static int root_is_mount_point(void)
{
	struct statx stx;
	if (statx(AT_FDCWD, "/", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) != 0 ||
	    !(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
		return -1;
	return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
}

static void test_vfs_magic_links(void **state)
{
	struct fx *f = *state;
	if (geteuid() != 0) {
		print_message("    skipped: mounting procfs needs root\n");
		skip();
	}
	/* The child makes "/" a private mount (so its procfs mount cannot
	 * propagate out), which needs "/" to be a mount point. */
	if (root_is_mount_point() == 0) {
		print_message("    skipped: / is not a mount point (a chroot?): cannot make it private\n");
		skip();
	}
	vfs_close(&f->v);
	(void)fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int r = proc_child(f);
		_exit(r == 77 ? 77 : r == 0 ? 0 : 1);
	}
	int st = wait_child(pid);
	if (st == 77)
		skip();
	assert_int_equal(st, 0);
	/* The child's mounts died with its namespace. */
	char p[PATH_MAX];
	assert_int_equal(hpath(p, sizeof(p), f->root, "proc"), 0);
	assert_int_equal(rmdir(p), 0);
	assert_int_equal(vfs_open_root(f->root, &f->v), 0);
}

int main(void)
{
	(void)umask(022);
	/* Before Linux 6.6 there is no fchmodat2 (EBADF here means there is). */
	old_kernel = syscall(SYS_fchmodat2, -1, "", 0, AT_EMPTY_PATH) != 0 && errno == ENOSYS;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_vfs_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vfs_modify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vfs_escape_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vfs_escape_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vfs_uploads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vfs_partials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vfs_durable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vfs_magic_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vfs_links, setup, teardown),
		cmocka_unit_test(test_vfs_root_handling),
		cmocka_unit_test(test_vfs_root_shared),
		cmocka_unit_test(test_vfs_supported_without_openat2),
		cmocka_unit_test(test_vfs_as_nobody),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
