/* Unit tests for src/core/files.c: the file service's permission decision
 * (every operation against every combination of PERM_* bits). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allow_every_op_and_perms),
		cmocka_unit_test(test_allow_single_bits),
		cmocka_unit_test(test_allow_unknown_op_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
