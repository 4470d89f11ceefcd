/* Unit tests for hash_args.c: RANG's arguments (draft-bryan-ftp-range §3:
 * "RANG 1 0" resets, start > end is an error), the X commands' "path
 * [start end]" split, and the upper-case hex of their replies. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "hash_args.h"

static void test_rang(void **state)
{
	(void)state;
	uint64_t s, e;
	assert_int_equal(hash_args_rang(SLICE_LIT("0 49"), &s, &e), HASH_RANG_SET);
	assert_true(s == 0 && e == 49);
	assert_int_equal(hash_args_rang(SLICE_LIT("802816 1000000"), &s, &e), HASH_RANG_SET);
	assert_true(s == 802816 && e == 1000000);
	assert_int_equal(hash_args_rang(SLICE_LIT("5 5"), &s, &e), HASH_RANG_SET);
	assert_int_equal(hash_args_rang(SLICE_LIT("1 0"), &s, &e), HASH_RANG_RESET);
	assert_int_equal(hash_args_rang(SLICE_LIT("6 5"), &s, &e), HASH_RANG_BACKWARDS);
	assert_int_equal(hash_args_rang(SLICE_LIT("2 0"), &s, &e), HASH_RANG_BACKWARDS);
	static const char *const bad[] = { "",	   "5",	     "a b",  "1 2 3", "-1 5",
					   "1  2", "1 0x10", " 1 2", "1 2 ",  "99999999999999999999 1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hash_args_rang(slice_from_cstr(bad[i]), &s, &e), HASH_RANG_SYNTAX);
}

static void check_x(const char *arg, int rc, const char *path, bool ranged, uint64_t s, uint64_t e)
{
	struct slice p;
	bool r;
	uint64_t a = 0, b = 0;
	assert_int_equal(hash_args_x(slice_from_cstr(arg), &p, &r, &a, &b), rc);
	if (rc)
		return;
	assert_int_equal(p.n, strlen(path));
	assert_memory_equal(p.p, path, p.n);
	assert_int_equal(r, ranged);
	if (ranged)
		assert_true(a == s && b == e);
}

static void test_x(void **state)
{
	(void)state;
	check_x("f", 0, "f", false, 0, 0);
	check_x("a b c", 0, "a b c", false, 0, 0);
	check_x("f 2 6", 0, "f", true, 2, 6);
	check_x("dir/my file 0 100", 0, "dir/my file", true, 0, 100);
	check_x("f x y", 0, "f x y", false, 0, 0);    /* no numbers: all of it is the name */
	check_x("f x 6", -EINVAL, NULL, false, 0, 0); /* one number: ambiguous (mod_digest: 501) */
	check_x("f 5", -EINVAL, NULL, false, 0, 0);   /* one number: ambiguous (mod_digest: 501) */
	check_x("2 6", -EINVAL, NULL, false, 0, 0);   /* no name before the numbers */
	check_x("12", 0, "12", false, 0, 0);	      /* a name that is a number */
}

static void test_upper(void **state)
{
	(void)state;
	char hex[] = "0a1b2c3d4e5f";
	hash_args_upper(hex);
	assert_string_equal(hex, "0A1B2C3D4E5F");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rang),
		cmocka_unit_test(test_x),
		cmocka_unit_test(test_upper),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
