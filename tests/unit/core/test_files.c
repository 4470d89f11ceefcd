/* Unit tests for src/core/files.c: the file service's permission decision
 * (every operation against every combination of PERM_* bits) and the text
 * log line of a transfer event, whose exact form fail2ban filters read;
 * the operations on a real temporary tree: a refused operation changes
 * nothing, an allowed one does what it says. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"

/* The table as the FTP commands have always applied it (userstore.h),
 * written out independently of files.c's. */
static uint32_t expected_need(enum files_op op)
{
	switch (op) {
	case FILES_OP_CHDIR:
	case FILES_OP_MTIME:
		return 0;
	case FILES_OP_LIST:
		return PERM_LIST;
	case FILES_OP_READ:
		return PERM_READ;
	case FILES_OP_UPLOAD:
	case FILES_OP_SET_TIME:
	case FILES_OP_SET_MODE:
	case FILES_OP_SYMLINK: /* SFTP's SYMLINK and hardlink: a new name */
	case FILES_OP_LINK:
		return PERM_WRITE;
	case FILES_OP_MKDIR:
		return PERM_MKDIR;
	case FILES_OP_RMDIR:
	case FILES_OP_DELETE:
		return PERM_DELETE;
	case FILES_OP_RENAME:
		return PERM_RENAME;
	case FILES_OP_COUNT:
		break;
	}
	fail_msg("operation %d missing from the test's table", (int)op);
	return PERM_ALL;
}

static void test_allow_every_op_and_perms(void **state)
{
	(void)state;
	for (int op = 0; op < FILES_OP_COUNT; op++) {
		uint32_t need = expected_need((enum files_op)op);
		for (uint32_t perms = 0; perms <= PERM_ALL; perms++) {
			int want = (perms & need) == need ? 0 : -EACCES;
			int got = files_allow(perms, (enum files_op)op);
			if (got != want)
				fail_msg("op %d perms %#x: got %d, want %d", op, (unsigned)perms, got, want);
		}
	}
}

static void test_allow_single_bits(void **state)
{
	(void)state;
	/* Each bit grants exactly its operations and no other. */
	assert_int_equal(files_allow(PERM_READ, FILES_OP_READ), 0);
	assert_int_equal(files_allow(PERM_READ, FILES_OP_LIST), -EACCES);
	assert_int_equal(files_allow(PERM_LIST, FILES_OP_READ), -EACCES);
	assert_int_equal(files_allow(PERM_WRITE, FILES_OP_UPLOAD), 0);
	assert_int_equal(files_allow(PERM_WRITE, FILES_OP_DELETE), -EACCES);
	assert_int_equal(files_allow(PERM_DELETE, FILES_OP_RMDIR), 0);
	assert_int_equal(files_allow(PERM_DELETE, FILES_OP_RENAME), -EACCES);
	assert_int_equal(files_allow(PERM_MKDIR, FILES_OP_MKDIR), 0);
	assert_int_equal(files_allow(PERM_RENAME, FILES_OP_MKDIR), -EACCES);
	assert_int_equal(files_allow(0, FILES_OP_CHDIR), 0);
	assert_int_equal(files_allow(0, FILES_OP_MTIME), 0);
	assert_int_equal(files_allow(PERM_ALL & ~PERM_WRITE, FILES_OP_SET_MODE), -EACCES);
}

static void test_allow_unknown_op_refused(void **state)
{
	(void)state;
	assert_int_equal(files_allow(PERM_ALL, FILES_OP_COUNT), -EACCES);
	assert_int_equal(files_allow(PERM_ALL, (enum files_op) - 1), -EACCES);
}

static void test_event_line_ok(void **state)
{
	(void)state;
	struct files_event ev = { .user = "bob",
				  .ip = "127.0.0.1",
				  .cmd = "STOR",
				  .verb = "STOR",
				  .path = "/up/a b",
				  .bytes = 12345,
				  .result = FILES_OK,
				  .kind = FILES_XFER_WRITE };
	char line[1024];
	size_t n = files_event_line(&ev, line, sizeof(line));
	assert_string_equal(line,
			    "transfer: user=\"bob\" ip=127.0.0.1 cmd=STOR path=\"/up/a b\" bytes=12345 status=ok");
	assert_int_equal(n, strlen(line));
	/* FTP's protocols keep the form; another front-end is named. */
	ev.protocol = "ftps";
	(void)files_event_line(&ev, line, sizeof(line));
	assert_string_equal(line,
			    "transfer: user=\"bob\" ip=127.0.0.1 cmd=STOR path=\"/up/a b\" bytes=12345 status=ok");
	ev.protocol = "sftp";
	(void)files_event_line(&ev, line, sizeof(line));
	assert_string_equal(
	    line, "transfer: user=\"bob\" ip=127.0.0.1 cmd=STOR path=\"/up/a b\" bytes=12345 status=ok protocol=sftp");
}

static void test_event_line_failed_local_error(void **state)
{
	(void)state;
	struct files_event ev = { .user = "carol",
				  .ip = "::1",
				  .cmd = "STOR",
				  .verb = "STOR",
				  .path = "/f",
				  .bytes = 0,
				  .result = FILES_FAILED,
				  .reason = "disk-full",
				  .local_error = true,
				  .err = -ENOSPC };
	char line[1024];
	(void)files_event_line(&ev, line, sizeof(line));
	char want[256];
	(void)snprintf(want, sizeof(want),
		       "transfer: user=\"carol\" ip=::1 cmd=STOR path=\"/f\" bytes=0 status=failed reason=disk-full "
		       "error=\"%s\"",
		       strerror(ENOSPC));
	assert_string_equal(line, want);
}

static void test_event_line_escapes_client_text(void **state)
{
	(void)state;
	/* A listing is logged as LIST whatever its verb; the user and the path
	 * are client text: a quote or a line break cannot forge a field. */
	struct files_event ev = { .user = NULL,
				  .ip = "10.0.0.1",
				  .cmd = "LIST",
				  .verb = "MLSD",
				  .path = "/x\" status=ok\nfake",
				  .bytes = 7,
				  .result = FILES_ABORTED,
				  .reason = "aborted",
				  .kind = FILES_XFER_LIST };
	char line[1024];
	(void)files_event_line(&ev, line, sizeof(line));
	assert_non_null(strstr(line, "transfer: user=\"\" ip=10.0.0.1 cmd=LIST path=\""));
	assert_null(strchr(line, '\n'));
	assert_non_null(strstr(line, "path=\"/x\\x22 status=ok\\x0afake\""));
	assert_non_null(strstr(line, " bytes=7 status=aborted reason=aborted"));
}

static void test_event_line_truncates(void **state)
{
	(void)state;
	struct files_event ev = {
		.user = "u", .ip = "1.2.3.4", .cmd = "RETR", .verb = "RETR", .path = "/p", .result = FILES_OK
	};
	char line[16];
	size_t n = files_event_line(&ev, line, sizeof(line));
	assert_int_equal(n, 15);
	assert_string_equal(line, "transfer: user=");
}

struct tree {
	char home[64];
	struct vfs v;
};

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));
	if (!t)
		return -1;
	(void)snprintf(t->home, sizeof(t->home), "/tmp/ferry-files-XXXXXX");
	if (!mkdtemp(t->home) || vfs_open_root(t->home, &t->v) != 0)
		return -1;
	*state = t;
	return 0;
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;
	vfs_close(&t->v);
	(void)nftw(t->home, rm_cb, 16, FTW_PHYS | FTW_DEPTH);
	free(t);
	return 0;
}

static bool exists(struct tree *t, const char *rel, mode_t *mode)
{
	char full[128];
	struct stat st;
	(void)snprintf(full, sizeof(full), "%s/%s", t->home, rel);
	if (lstat(full, &st) != 0)
		return false;
	if (mode)
		*mode = st.st_mode;
	return true;
}

static void test_ops_refused_change_nothing(void **state)
{
	struct tree *t = *state;
	struct files_user all = { .vfs = &t->v, .perms = PERM_ALL, .name = "bob" };
	struct files_user none = { .vfs = &t->v, .perms = 0, .name = "bob" };
	char vpath[PATH_MAX];
	assert_int_equal(files_resolve(&none, FILES_OP_MKDIR, "/", SLICE_LIT("d"), vpath), -EACCES);
	assert_int_equal(files_mkdir(&none, "/d"), -EACCES);
	assert_false(exists(t, "d", NULL));
	assert_int_equal(files_resolve(&all, FILES_OP_MKDIR, "/", SLICE_LIT("d"), vpath), 0);
	assert_string_equal(vpath, "/d");
	assert_int_equal(files_mkdir(&all, vpath), 0);
	assert_true(exists(t, "d", NULL));
	assert_int_equal(files_rmdir(&none, "/d"), -EACCES);
	assert_int_equal(files_rename_check(&none, "/d"), -EACCES);
	assert_int_equal(files_rename(&none, "/d", "/e"), -EACCES);
	assert_int_equal(files_set_mode(&none, "/d", 0700), -EACCES);
	struct timespec ts = { .tv_sec = 1000000000 };
	assert_int_equal(files_set_mtime(&none, "/d", &ts), -EACCES);
	assert_true(exists(t, "d", NULL));
	assert_false(exists(t, "e", NULL));
	/* Entering a directory and reading a time need no bit. */
	time_t mt;
	assert_int_equal(files_chdir(&none, "/d"), 0);
	assert_int_equal(files_mtime(&none, "/d", &mt), -EISDIR);
}

static void test_ops_allowed(void **state)
{
	struct tree *t = *state;
	struct files_user u = { .vfs = &t->v, .perms = PERM_ALL, .name = "bob" };
	char vpath[PATH_MAX];
	assert_int_equal(files_resolve(&u, FILES_OP_MKDIR, "/a", SLICE_LIT("../b"), vpath), 0);
	assert_string_equal(vpath, "/b");
	assert_int_equal(files_resolve(&u, FILES_OP_MKDIR, "/", (struct slice){ "x\0y", 3 }, vpath), -EINVAL);
	assert_int_equal(files_mkdir(&u, "/b"), 0);
	assert_int_equal(files_mkdir(&u, "/b"), -EEXIST);
	assert_int_equal(files_chdir(&u, "/nope"), -ENOENT);
	assert_int_equal(files_rename_check(&u, "/b"), 0);
	assert_int_equal(files_rename(&u, "/b", "/c"), 0);
	assert_true(exists(t, "c", NULL));
	/* SECURITY: set-ID and sticky bits never reach the disk. */
	mode_t m = 0;
	assert_int_equal(files_set_mode(&u, "/c", 07755), 0);
	assert_true(exists(t, "c", &m));
	assert_int_equal(m & 07777, 0755);
	assert_int_equal(files_rmdir(&u, "/c"), 0);
	assert_false(exists(t, "c", NULL));
	assert_int_equal(files_delete(&u, "/c"), -ENOENT);
}

static void put(struct tree *t, const char *rel, const char *data)
{
	char full[128];
	(void)snprintf(full, sizeof(full), "%s/%s", t->home, rel);
	FILE *f = fopen(full, "w");
	assert_non_null(f);
	assert_int_equal(fputs(data, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void test_open_read(void **state)
{
	struct tree *t = *state;
	struct files_user u = { .vfs = &t->v, .perms = PERM_READ, .name = "bob" };
	struct files_user no = { .vfs = &t->v, .perms = PERM_ALL & ~PERM_READ, .name = "bob" };
	struct files_read f;
	char full[128];
	put(t, "f", "hello");
	assert_int_equal(files_mkdir(&(struct files_user){ .vfs = &t->v, .perms = PERM_MKDIR }, "/d"), 0);
	(void)snprintf(full, sizeof(full), "%s/fifo", t->home);
	assert_int_equal(mkfifo(full, 0600), 0);

	assert_int_equal(files_open_read(&no, "/f", 0, &f), -EACCES);
	assert_false(f.not_plain);
	assert_int_equal(f.fd, -1);
	assert_int_equal(files_open_read(&u, "/f", 6, &f), -ERANGE);
	assert_int_equal(f.fd, -1);
	assert_int_equal(files_open_read(&u, "/d", 0, &f), -EISDIR);
	assert_true(f.not_plain);
	/* A FIFO is neither read nor waited on. */
	assert_int_equal(files_open_read(&u, "/fifo", 0, &f), -EACCES);
	assert_true(f.not_plain);
	assert_int_equal(files_open_read(&u, "/nope", 0, &f), -ENOENT);
	assert_int_equal(files_open_read(&u, "/f", 5, &f), 0);
	assert_int_equal(f.size, 5);
	char b[8];
	assert_int_equal(read(f.fd, b, sizeof(b)), 5);
	vfs_fd_close(f.fd);

	/* No partial is ever found where none are kept. */
	uint64_t size = 1;
	struct files_user keep = { .vfs = &t->v, .perms = PERM_READ, .name = "bob", .atomic = true, .partials = true };
	assert_int_equal(files_partial_size(&u, "/f", &size), -ENOENT);
	assert_int_equal(files_partial_size(&keep, "/f", &size), -ENOENT);
	keep.perms = 0;
	assert_int_equal(files_partial_size(&keep, "/f", &size), -EACCES);
	assert_int_equal(size, 1);
}

static void test_upload(void **state)
{
	struct tree *t = *state;
	struct files_user u = {
		.vfs = &t->v, .perms = PERM_READ | PERM_WRITE, .name = "bob", .atomic = true, .partials = true
	};
	struct files_user no = { .vfs = &t->v, .perms = PERM_ALL & ~PERM_WRITE, .name = "bob", .atomic = true };
	struct vfs_upload *up;
	char full[128];
	struct stat st;
	(void)snprintf(full, sizeof(full), "%s/f", t->home);

	assert_int_equal(files_upload_begin(&no, "/f", VFS_UPLOAD_REPLACE, 0, &up), -EACCES);
	assert_null(up);
	assert_false(exists(t, "f", NULL));
	assert_int_equal(files_upload_begin(&u, "/f", VFS_UPLOAD_RESUME, 3, &up), -ERANGE);
	assert_null(up);

	/* Atomic: nothing under the name before the commit. */
	assert_int_equal(files_upload_begin(&u, "/f", VFS_UPLOAD_REPLACE, 0, &up), 0);
	assert_int_equal(write(up->fd, "hello", 5), 5);
	assert_false(exists(t, "f", NULL));
	assert_int_equal(files_upload_end(up, true, false), 0);
	assert_int_equal(stat(full, &st), 0);
	assert_int_equal(st.st_size, 5);

	/* A failed replacement leaves the old file as it was. */
	assert_int_equal(files_upload_begin(&u, "/f", VFS_UPLOAD_REPLACE, 0, &up), 0);
	assert_int_equal(write(up->fd, "xx", 2), 2);
	assert_int_equal(files_upload_end(up, false, false), 0);
	assert_int_equal(stat(full, &st), 0);
	assert_int_equal(st.st_size, 5);

	/* An interrupted one is kept as the uploader's partial and resumed. */
	uint64_t size = 0;
	assert_int_equal(files_upload_begin(&u, "/f", VFS_UPLOAD_REPLACE, 0, &up), 0);
	assert_int_equal(write(up->fd, "abc", 3), 3);
	assert_int_equal(files_upload_end(up, false, true), 0);
	assert_int_equal(files_partial_size(&u, "/f", &size), 0);
	assert_int_equal(size, 3);
	assert_int_equal(stat(full, &st), 0);
	assert_int_equal(st.st_size, 5);
	assert_int_equal(files_upload_begin(&u, "/f", VFS_UPLOAD_RESUME, 3, &up), 0);
	assert_int_equal(write(up->fd, "de", 2), 2);
	assert_int_equal(files_upload_end(up, true, false), 0);
	assert_int_equal(stat(full, &st), 0);
	assert_int_equal(st.st_size, 5);
	char b[8] = "";
	FILE *f = fopen(full, "r");
	assert_non_null(f);
	assert_int_equal(fread(b, 1, sizeof(b) - 1, f), 5);
	(void)fclose(f);
	assert_string_equal(b, "abcde");
	assert_int_equal(files_partial_size(&u, "/f", &size), -ENOENT);

	/* Append adds to the end. */
	assert_int_equal(files_upload_begin(&u, "/f", VFS_UPLOAD_APPEND, 0, &up), 0);
	assert_int_equal(write(up->fd, "!", 1), 1);
	assert_int_equal(files_upload_end(up, true, false), 0);
	assert_int_equal(stat(full, &st), 0);
	assert_int_equal(st.st_size, 6);
}

static void test_list(void **state)
{
	struct tree *t = *state;
	struct files_user u = { .vfs = &t->v, .perms = PERM_LIST };
	struct files_user no = { .vfs = &t->v, .perms = PERM_ALL & ~PERM_LIST };
	struct listing *l;
	struct stat st;
	put(t, "one", "1");
	put(t, "two", "22");
	assert_int_equal(files_list_open(&no, "/", LISTING_NLST, &(struct listing_opts){ 0 }, &l), -EACCES);
	assert_null(l);
	assert_int_equal(files_stat(&no, "/one", &st), -EACCES);
	assert_int_equal(files_lstat(&no, "/one", &st), -EACCES);
	assert_int_equal(files_list_open(&u, "/one", LISTING_NLST, &(struct listing_opts){ 0 }, &l), -ENOTDIR);
	assert_int_equal(files_stat(&u, "/two", &st), 0);
	assert_int_equal(st.st_size, 2);
	assert_int_equal(files_list_open(&u, "/", LISTING_NLST, &(struct listing_opts){ 0 }, &l), 0);
	struct buf b;
	buf_init(&b, 4096);
	int more = 1;
	for (int i = 0; i < 16 && more > 0; i++)
		more = listing_next(l, &b, 4096);
	assert_int_equal(more, 0);
	listing_free(l);
	/* buf holds bytes, not a C string. */
	assert_non_null(memmem(buf_data(&b), b.len, "one\r\n", 5));
	assert_non_null(memmem(buf_data(&b), b.len, "two\r\n", 5));
	buf_free(&b);
}

static void test_open_home(void **state)
{
	struct tree *t = *state;
	struct vfs v = { .root_fd = -1 };
	char missing[96];
	(void)snprintf(missing, sizeof(missing), "%s/none", t->home);
	/* SECURITY: a home outside the sandbox roots is refused before any open. */
	assert_int_equal(files_open_home(1, "bob", t->home, "/srv/ftp", &v), -EPERM);
	assert_int_equal(v.root_fd, -1);
	assert_int_equal(files_open_home(1, "bob", missing, "", &v), -ENOENT);
	assert_int_equal(files_open_home(1, "bob", t->home, "/tmp", &v), 0);
	assert_true(v.root_fd >= 0);
	vfs_close(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allow_every_op_and_perms),
		cmocka_unit_test(test_allow_single_bits),
		cmocka_unit_test(test_allow_unknown_op_refused),
		cmocka_unit_test(test_event_line_ok),
		cmocka_unit_test(test_event_line_failed_local_error),
		cmocka_unit_test(test_event_line_escapes_client_text),
		cmocka_unit_test(test_event_line_truncates),
		cmocka_unit_test_setup_teardown(test_ops_refused_change_nothing, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_ops_allowed, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_open_read, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_upload, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_list, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_open_home, tree_setup, tree_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
