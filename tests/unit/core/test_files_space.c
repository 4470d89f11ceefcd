/* Unit tests for src/core/files_space.c (and base/path.c's path_under it
 * stands on, tested in tests/unit/base/test_path.c): which root a virtual path resolves in (the longest mount at
 * or above it, component by component), the path relative to that root,
 * the permission bits that apply there (deepest dir-perms or mount PERMS),
 * and, on a real tree, mount points in listings, missing folders left
 * out, renames across a mount refused and symlinks kept in their folder. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "path.h"

/* A space of mounts with made-up descriptors: files_where looks at
 * strings only. */
static struct files_mount mounts[] = {
	{ .vpath = "/shared", .vfs = { .root_fd = 101 }, .perms = PERM_READ | PERM_LIST, .has_perms = true },
	{ .vpath = "/shared/drop", .vfs = { .root_fd = 102 }, .perms = PERM_WRITE, .has_perms = true },
	{ .vpath = "/plain", .vfs = { .root_fd = 103 } },
	{ .vpath = "/a/b/c", .vfs = { .root_fd = 104 }, .perms = PERM_ALL, .has_perms = true },
};
static struct files_rule rules[] = {
	{ .vpath = "/incoming", .perms = PERM_WRITE | PERM_MKDIR },
	{ .vpath = "/incoming/deep", .perms = PERM_READ },
	{ .vpath = "/plain/ro", .perms = PERM_READ | PERM_LIST },
	{ .vpath = "/shared/drop", .perms = PERM_WRITE | PERM_LIST }, /* beats the mount's own */
};
static const struct files_space space = { mounts, 4, rules, 4 };
static struct vfs home = { .root_fd = 100 };

static void where(const char *vpath, int want_fd, const char *want_sub, uint32_t want_perms)
{
	struct files_user u = { .vfs = &home, .space = &space, .perms = PERM_ALL & ~PERM_DELETE };
	struct files_where w;
	assert_int_equal(files_where(&u, vpath, &w), 0);
	if (w.vfs->root_fd != want_fd || strcmp(w.sub, want_sub) != 0 || w.perms != want_perms)
		fail_msg("files_where(\"%s\") = (%d, \"%s\", %#x), want (%d, \"%s\", %#x)", vpath, w.vfs->root_fd,
			 w.sub, w.perms, want_fd, want_sub, want_perms);
	assert_int_equal(files_perms_at(&u, vpath), want_perms);
}

static void test_where_longest_prefix(void **state)
{
	(void)state;
	const uint32_t user = PERM_ALL & ~PERM_DELETE, ro = PERM_READ | PERM_LIST;
	where("/", 100, "/", user);
	where("/x/y", 100, "/x/y", user);
	where("/sharedx", 100, "/sharedx", user); /* not under "/shared" */
	where("/shared", 101, "/", ro);		  /* the mount point is its root */
	where("/shared/f.txt", 101, "/f.txt", ro);
	where("/shared/sub/f", 101, "/sub/f", ro);
	where("/shared/drop", 102, "/", PERM_WRITE | PERM_LIST); /* longest mount; dir-perms on it wins */
	where("/shared/drop/in/f", 102, "/in/f", PERM_WRITE | PERM_LIST);
	where("/shared/dropx", 101, "/dropx", ro);
	where("/plain/f", 103, "/f", user); /* a mount without PERMS: the user's */
	where("/plain/ro/f", 103, "/ro/f", ro);
	where("/a", 100, "/a", user);
	where("/a/b/c/d", 104, "/d", PERM_ALL);
}

static void test_where_dir_perms_deepest(void **state)
{
	(void)state;
	const uint32_t user = PERM_ALL & ~PERM_DELETE;
	where("/incoming", 100, "/incoming", PERM_WRITE | PERM_MKDIR);
	where("/incoming/x/y.bin", 100, "/incoming/x/y.bin", PERM_WRITE | PERM_MKDIR);
	where("/incoming/deep/z", 100, "/incoming/deep/z", PERM_READ);
	where("/incomingx", 100, "/incomingx", user);
}

static void test_allow_somewhere(void **state)
{
	(void)state;
	struct files_user none = { .vfs = &home, .space = NULL, .perms = 0 };
	assert_int_equal(files_allow_somewhere(&none, FILES_OP_READ), -EACCES);
	struct files_user u = { .vfs = &home, .space = &space, .perms = 0 };
	assert_int_equal(files_allow_somewhere(&u, FILES_OP_READ), 0);
	assert_int_equal(files_allow_somewhere(&u, FILES_OP_DELETE), 0); /* /a/b/c: all */
	static const struct files_space only = { NULL, 0, rules, 1 };
	u.space = &only;
	assert_int_equal(files_allow_somewhere(&u, FILES_OP_UPLOAD), 0);
	assert_int_equal(files_allow_somewhere(&u, FILES_OP_LIST), -EACCES);
}

/* ---- a real tree: home, a shared folder, a secret beside it ---- */

struct tree {
	char base[64], home[96], share[96];
};

static int tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));
	(void)snprintf(t->base, sizeof(t->base), "/tmp/ferry-space-XXXXXX");
	assert_non_null(mkdtemp(t->base));
	(void)snprintf(t->home, sizeof(t->home), "%s/home", t->base);
	(void)snprintf(t->share, sizeof(t->share), "%s/share", t->base);
	assert_int_equal(mkdir(t->home, 0755), 0);
	assert_int_equal(mkdir(t->share, 0755), 0);
	char p[160];
	(void)snprintf(p, sizeof(p), "%s/secret", t->base);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	(void)fputs("secret", f);
	(void)fclose(f);
	(void)snprintf(p, sizeof(p), "%s/in-share.txt", t->share);
	f = fopen(p, "w");
	assert_non_null(f);
	(void)fputs("shared", f);
	(void)fclose(f);
	(void)snprintf(p, sizeof(p), "%s/up", t->share);
	assert_int_equal(symlink("../../secret", p), 0);
	(void)snprintf(p, sizeof(p), "%s/home.txt", t->home);
	f = fopen(p, "w");
	assert_non_null(f);
	(void)fputs("home", f);
	(void)fclose(f);
	*state = t;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;
	(void)nftw(t->base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

static void test_real_tree(void **state)
{
	struct tree *t = *state;
	char missing[128];
	(void)snprintf(missing, sizeof(missing), "%s/none", t->base);
	struct policy_mount pm[] = {
		{ .vpath = "/shared", .dir = t->share, .perms = PERM_READ | PERM_LIST, .has_perms = true },
		{ .vpath = "/gone", .dir = missing },
	};
	struct policy_attrs pol = { .mounts = pm, .n_mounts = 2 };
	struct vfs v;
	struct files_space *sp;
	assert_int_equal(files_open_home(1, "bob", t->home, "", &v), 0);
	files_space_open(1, "bob", &pol, "", &sp);
	assert_non_null(sp);
	assert_int_equal(sp->n_mounts, 1); /* the missing folder is left out */
	struct files_user u = { .vfs = &v, .space = sp, .perms = PERM_ALL };

	/* The mount point is listed in "/" (no such directory in the home). */
	struct listing *l;
	struct buf out;
	buf_init(&out, 1 << 16);
	assert_int_equal(files_list_open(&u, "/", LISTING_NLST, NULL, &l), 0);
	assert_int_equal(listing_read_all(l, &out, 4096), 0);
	listing_free(l);
	assert_non_null(memmem(out.p + out.off, out.len, "shared\r\n", 8));
	assert_non_null(memmem(out.p + out.off, out.len, "home.txt\r\n", 10));
	assert_null(memmem(out.p + out.off, out.len, "gone", 4));
	buf_free(&out);
	struct vfs_dir *d;
	const char *name;
	struct stat st;
	char target[64];
	bool seen = false;
	assert_int_equal(files_dir_open(&u, "/", &d), 0);
	while (vfs_dir_next(d, &name, &st, target, sizeof(target)) == 1)
		if (strcmp(name, "shared") == 0)
			seen = S_ISDIR(st.st_mode);
	vfs_dir_close(d);
	assert_true(seen);

	/* Read-only inside; reading works. */
	struct files_read fr;
	assert_int_equal(files_open_read(&u, "/shared/in-share.txt", 0, &fr), 0);
	assert_int_equal(fr.size, 6);
	vfs_fd_close(fr.fd);
	assert_int_equal(files_delete(&u, "/shared/in-share.txt"), -EACCES);
	assert_int_equal(files_mkdir(&u, "/shared/new"), -EACCES);
	/* SECURITY: a symlink climbing out of the folder stays inside it. */
	assert_int_equal(files_open_read(&u, "/shared/up", 0, &fr), -ENOENT);
	/* Renames never cross a mount point. */
	u.space = sp;
	sp->mounts[0].perms = PERM_ALL;
	assert_int_equal(files_rename(&u, "/home.txt", "/shared/home.txt"), -EXDEV);
	assert_int_equal(files_rename(&u, "/shared/in-share.txt", "/x.txt"), -EXDEV);
	assert_int_equal(files_stat(&u, "/home.txt", &st), 0);
	assert_int_equal(files_stat(&u, "/shared/in-share.txt", &st), 0);
	assert_int_equal(files_rename(&u, "/shared/in-share.txt", "/shared/y.txt"), 0);
	files_space_free(sp);
	vfs_close(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_where_longest_prefix),
		cmocka_unit_test(test_where_dir_perms_deepest),
		cmocka_unit_test(test_allow_somewhere),
		cmocka_unit_test_setup_teardown(test_real_tree, tree_setup, tree_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
