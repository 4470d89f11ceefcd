/* Unit tests for src/base/path.c: lexical joining and normalising of virtual
 * paths (what PWD shows and what vfs is handed; the kernel does the
 * confinement, but these strings must still never climb above "/"). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "path.h"

static void check(const char *cwd, const char *arg, const char *want)
{
	char out[PATH_MAX];
	memset(out, 'Z', sizeof(out));
	int r = path_resolve(cwd, slice_from_cstr(arg), out, sizeof(out));
	if (r != 0)
		fail_msg("path_resolve(\"%s\", \"%s\") = %d, want \"%s\"", cwd, arg, r, want);
	if (strcmp(out, want) != 0)
		fail_msg("path_resolve(\"%s\", \"%s\") = \"%s\", want \"%s\"", cwd, arg, out, want);
}

static void check_err(const char *cwd, struct slice arg, size_t outsz, int want)
{
	char out[PATH_MAX];
	assert_true(outsz <= sizeof(out));
	int r = path_resolve(cwd, arg, out, outsz);
	if (r != want)
		fail_msg("path_resolve(\"%s\", \"%.*s\", %zu) = %d, want %d", cwd, (int)arg.n, arg.p ? arg.p : "",
			 outsz, r, want);
}

static void test_path_relative_and_absolute(void **state)
{
	(void)state;
	check("/", "a", "/a");
	check("/", "a/b", "/a/b");
	check("/x", "a", "/x/a");
	check("/x/y", "a/b", "/x/y/a/b");
	check("/x/y", "/a", "/a");
	check("/x/y", "/", "/");
	check("/x/y", "", "/x/y");
	check("/", "", "/");
	/* Spaces, dots inside names and "..." are ordinary names. */
	check("/", "a b", "/a b");
	check("/", " lead", "/ lead");
	check("/", "trail ", "/trail ");
	check("/", "...", "/...");
	check("/", ".hidden", "/.hidden");
	check("/", "a..", "/a..");
	check("/", "..a", "/..a");
	check("/", "\xc3\xa9t\xc3\xa9", "/\xc3\xa9t\xc3\xa9");
}

static void test_path_dot_and_dotdot(void **state)
{
	(void)state;
	check("/", ".", "/");
	check("/x", ".", "/x");
	check("/x", "./a/./b/.", "/x/a/b");
	check("/x/y", "..", "/x");
	check("/x/y", "../..", "/");
	check("/x/y", "../z", "/x/z");
	check("/x/y", "a/../b", "/x/y/b");
	check("/x/y", "a/b/../../c", "/x/y/c");
	check("/a/b/c", "../../..", "/");
}

static void test_path_never_above_root(void **state)
{
	(void)state;
	check("/", "..", "/");
	check("/", "../..", "/");
	check("/", "/../../..", "/");
	check("/x", "../../../etc/passwd", "/etc/passwd");
	check("/x/y", "/../../../etc", "/etc");
	check("/", "a/../../b", "/b");
	check("/", "../a/../../b/..", "/");
	check("/", "..//..//.", "/");
}

static void test_path_slashes(void **state)
{
	(void)state;
	check("/", "//", "/");
	check("/", "///a///b//", "/a/b");
	check("/x", "a/", "/x/a");
	check("/x", "a//", "/x/a");
	check("/x", "/a/b/", "/a/b");
	check("/", "a/./", "/a");
	check("/x", "//", "/");
}

static void test_path_too_long(void **state)
{
	(void)state;
	char out[8];
	/* "/abcdef" is 7 bytes + NUL: fits exactly. */
	assert_int_equal(path_resolve("/", slice_from_cstr("abcdef"), out, sizeof(out)), 0);
	assert_string_equal(out, "/abcdef");
	assert_int_equal(path_resolve("/", slice_from_cstr("/ab/cd"), out, sizeof(out)), 0);
	assert_string_equal(out, "/ab/cd");
	check_err("/", slice_from_cstr("abcdefg"), sizeof(out), -ENAMETOOLONG);
	check_err("/", slice_from_cstr("ab/cdef"), sizeof(out), -ENAMETOOLONG);
	/* The cwd counts too. */
	check_err("/abcd", slice_from_cstr("efg"), sizeof(out), -ENAMETOOLONG);
	/* What is removed again by ".." does not count against the result. */
	assert_int_equal(path_resolve("/", slice_from_cstr("ab/../cdef"), out, sizeof(out)), 0);
	assert_string_equal(out, "/cdef");
	/* No room even for "/". */
	check_err("/", slice_from_cstr(""), 1, -ENAMETOOLONG);
	check_err("/", slice_from_cstr(""), 0, -ENAMETOOLONG);
	assert_int_equal(path_resolve("/", slice_from_cstr(".."), out, 2), 0);
	assert_string_equal(out, "/");
	check_err("/", slice_from_cstr("a"), 2, -ENAMETOOLONG);

	/* A long client path against PATH_MAX. */
	static char big[PATH_MAX + 10];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (size_t i = 100; i < sizeof(big) - 1; i += 100)
		big[i] = '/';
	check_err("/", slice_from_cstr(big), PATH_MAX, -ENAMETOOLONG);
}

static void test_path_nul_rejected(void **state)
{
	(void)state;
	check_err("/", SLICE_LIT("a\0b"), PATH_MAX, -EINVAL);
	check_err("/", SLICE_LIT("\0"), PATH_MAX, -EINVAL);
	check_err("/x", SLICE_LIT("../etc/passwd\0.txt"), PATH_MAX, -EINVAL);
}

static void test_path_slice_not_terminated(void **state)
{
	(void)state;
	/* Only arg.n bytes are read. */
	const char buf[] = { 'a', '/', 'b', '/', 'c' };
	char out[64];
	assert_int_equal(path_resolve("/", (struct slice){ buf, 3 }, out, sizeof(out)), 0);
	assert_string_equal(out, "/a/b");
	assert_int_equal(path_resolve("/x", (struct slice){ NULL, 0 }, out, sizeof(out)), 0);
	assert_string_equal(out, "/x");
}

static void test_path_basename(void **state)
{
	(void)state;
	assert_string_equal(path_basename("/"), "");
	assert_string_equal(path_basename("/a"), "a");
	assert_string_equal(path_basename("/a/b"), "b");
	assert_string_equal(path_basename("/a/b c.txt"), "b c.txt");
	assert_string_equal(path_basename("plain"), "plain");
	/* The result points into the argument. */
	const char *p = "/dir/file";
	assert_ptr_equal(path_basename(p), p + 5);
}

static void test_under_roots(void **state)
{
	(void)state;
	assert_true(path_under_roots("/srv/ftp/bob", "/srv/ftp"));
	assert_true(path_under_roots("/srv/ftp", "/srv/ftp"));
	assert_true(path_under_roots("/srv/ftp/bob/", "/home, /srv/ftp/"));
	assert_true(path_under_roots("/anything", "/"));
	assert_true(path_under_roots("/srv//ftp/./bob", "/srv/ftp"));
	assert_false(path_under_roots("/srv/ftpx/bob", "/srv/ftp"));
	assert_false(path_under_roots("/srv/ftp/../etc", "/srv/ftp"));
	assert_false(path_under_roots("/srv", "/srv/ftp"));
	assert_false(path_under_roots("/srv/ftp/bob", ""));
	assert_false(path_under_roots("srv/ftp/bob", "/srv/ftp"));
	assert_false(path_under_roots("/srv/ftp/bob", "srv/ftp,/home"));
}

static void test_path_under(void **state)
{
	(void)state;
	const char *rest = NULL;
	assert_true(path_under("/", "/", &rest));
	assert_string_equal(rest, "");
	assert_true(path_under("/", "/a/b", &rest));
	assert_string_equal(rest, "a/b");
	assert_true(path_under("/a", "/a", &rest));
	assert_string_equal(rest, "");
	assert_true(path_under("/a", "/a/b/c", &rest));
	assert_string_equal(rest, "b/c");
	assert_false(path_under("/a", "/ab", NULL)); /* component by component */
	assert_false(path_under("/a/b", "/a", NULL));
	assert_false(path_under("/a", "/", NULL));
	assert_false(path_under("/x", "/a/x", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_under),
		cmocka_unit_test(test_under_roots),
		cmocka_unit_test(test_path_relative_and_absolute),
		cmocka_unit_test(test_path_dot_and_dotdot),
		cmocka_unit_test(test_path_never_above_root),
		cmocka_unit_test(test_path_slashes),
		cmocka_unit_test(test_path_too_long),
		cmocka_unit_test(test_path_nul_rejected),
		cmocka_unit_test(test_path_slice_not_terminated),
		cmocka_unit_test(test_path_basename),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
