/* quota: the book's accounting without a store (a book with no job pool
 * keeps changes in memory): reservations per write, what a commit and an
 * abort leave, files slots, two uploads racing the last bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <cmocka.h>

#include "policy.h"
#include "quota.h"

static void left(struct quota_user *q, uint64_t want_bytes, uint64_t want_files)
{
	uint64_t b, f;
	quota_user_left(q, &b, &f);
	assert_int_equal(b, want_bytes);
	assert_int_equal(f, want_files);
}

static void test_need(void **state)
{
	(void)state;
	assert_int_equal(quota_need(0, 0, 10), 10);
	assert_int_equal(quota_need(100, 0, 10), 0); /* rewriting what the old file counts */
	assert_int_equal(quota_need(100, 95, 10), 5);
	assert_int_equal(quota_need(100, 100, 10), 10); /* an append */
	assert_int_equal(quota_need(0, UINT64_MAX - 1, 10), UINT64_MAX);
}

static void test_no_quota_no_entry(void **state)
{
	(void)state;
	struct quota_book *b = quota_book_new(NULL);
	assert_null(quota_user_get(b, "bob", 0, 0, true, 5, 5, 1));
	assert_null(quota_user_get(NULL, "bob", 10, 0, true, 5, 5, 1));
	struct quota_upload u = { 0 };
	assert_int_equal(quota_upload_start(&u), 0);
	assert_int_equal(quota_upload_grant(&u, 1000), 1000); /* not counted: no limit */
	quota_upload_end(&u, true, 1000);
	quota_book_free(b);
}

static void test_commit_and_abort(void **state)
{
	(void)state;
	struct quota_book *b = quota_book_new(NULL);
	struct quota_user *q = quota_user_get(b, "bob", 1000, 3, true, 100, 1, 1);
	left(q, 900, 2);
	/* A new file: a slot and 400 bytes reserved, then committed. */
	struct quota_upload u = { .q = quota_user_ref(q) };
	assert_int_equal(quota_upload_start(&u), 0);
	left(q, 900, 1);
	assert_int_equal(quota_upload_grant(&u, 400), 400);
	quota_upload_wrote(&u, 400);
	left(q, 500, 1);
	quota_upload_end(&u, true, 400);
	left(q, 500, 1);
	/* Overwriting that file (base 400): it may grow to 900 bytes, the
	 * 500 left exactly... */
	u = (struct quota_upload){ .q = quota_user_ref(q), .base = 400, .old_file = true };
	assert_int_equal(quota_upload_start(&u), 0);
	assert_int_equal(quota_upload_grant(&u, 900), 900);
	quota_upload_wrote(&u, 900);
	left(q, 0, 1);
	/* A second upload meanwhile finds nothing left but can rewrite. */
	struct quota_upload w = { .q = quota_user_ref(q) };
	assert_int_equal(quota_upload_start(&w), -EDQUOT);
	/* ...and the 901st byte does not: the grant stops at the quota. */
	assert_int_equal(quota_upload_grant(&u, 200), 0);
	assert_int_equal(quota_upload_grant(&u, 1), 0);
	/* Aborted (the temporary discarded): nothing changes but the
	 * reservation, given back. */
	quota_upload_end(&u, false, 0);
	left(q, 500, 1);
	/* A smaller overwrite frees the difference. */
	u = (struct quota_upload){ .q = quota_user_ref(q), .base = 400, .old_file = true };
	assert_int_equal(quota_upload_start(&u), 0);
	quota_upload_end(&u, true, 100);
	left(q, 800, 1);
	quota_user_change(q, -100, -1); /* the file deleted */
	left(q, 900, 2);
	quota_user_put(q);
	quota_book_free(b);
}

static void test_files_and_full(void **state)
{
	(void)state;
	struct quota_book *b = quota_book_new(NULL);
	struct quota_user *q = quota_user_get(b, "bob", 100, 1, true, 0, 0, 1);
	struct quota_upload u1 = { .q = quota_user_ref(q) }, u2 = { .q = quota_user_ref(q) };
	assert_int_equal(quota_upload_start(&u1), 0);
	assert_int_equal(quota_upload_start(&u2), -EDQUOT); /* the one slot is taken */
	assert_null(u2.q);				    /* its reference given back */
	quota_upload_end(&u1, true, 100);
	left(q, 0, 0);
	/* Full: a new file is refused before it starts, an overwrite not. */
	struct quota_upload u3 = { .q = quota_user_ref(q) };
	assert_int_equal(quota_upload_start(&u3), -EDQUOT);
	struct quota_upload u4 = { .q = quota_user_ref(q), .base = 100, .old_file = true };
	assert_int_equal(quota_upload_start(&u4), 0);
	quota_upload_end(&u4, false, 0);
	quota_user_put(q);
	quota_book_free(b);
}

static void test_race_last_bytes(void **state)
{
	(void)state;
	/* Two uploads, one user, writing in turns: together they never get
	 * more than the quota. */
	struct quota_book *b = quota_book_new(NULL);
	struct quota_user *q = quota_user_get(b, "bob", 10000, 0, true, 0, 0, 1);
	struct quota_upload u[2] = { { .q = quota_user_ref(q) }, { .q = quota_user_ref(q) } };
	uint64_t granted = 0;
	for (int i = 0; i < 2; i++)
		assert_int_equal(quota_upload_start(&u[i]), 0);
	for (int round = 0; round < 20; round++)
		for (int i = 0; i < 2; i++) {
			uint64_t g = quota_upload_grant(&u[i], 700);
			quota_upload_wrote(&u[i], g);
			granted += g;
		}
	assert_int_equal(granted, 10000);
	quota_upload_end(&u[0], true, u[0].pos);
	quota_upload_end(&u[1], false, 0);
	uint64_t lb, lf;
	quota_user_left(q, &lb, &lf);
	assert_int_equal(lf, UINT64_MAX);
	assert_true(lb > 0 && lb < 10000);
	/* A login whose read of the store is older than our last change
	 * there keeps the book's figures (the store lacked that change)... */
	struct quota_user *q2 = quota_user_get(b, "bob", 10000, 0, true, 0, 0, 1);
	assert_ptr_equal(q, q2);
	assert_int_equal(lb, 10000 - u[0].pos);
	left(q, lb, UINT64_MAX);
	quota_user_put(q2);
	/* ...one that read it afterwards, with nothing in flight, takes its
	 * figures (another node's commits, a scan). */
	q2 = quota_user_get(b, "bob", 10000, 0, true, 2500, 7, UINT64_MAX);
	left(q, 7500, UINT64_MAX);
	quota_user_put(q2);
	quota_user_put(q);
	quota_book_free(b);
}

/* The grant arithmetic (quota.h GRANTS, policy.h policy_grant_size):
 * min(room, max(need, chunk)), refused (0) when room < need. */
static void test_grant_size(void **state)
{
	(void)state;
	assert_int_equal(quota_grant_chunk(100000), QUOTA_GRANT_MIN);
	assert_int_equal(quota_grant_chunk(64ull << 20), 4ull << 20);
	assert_int_equal(quota_grant_chunk(1ull << 40), QUOTA_GRANT_MAX);
	assert_int_equal(quota_grant_chunk(0), QUOTA_GRANT_MIN);
	assert_int_equal(policy_grant_size(10000, 1000, 0, 1, 4000), 4000);		/* a chunk */
	assert_int_equal(policy_grant_size(10000, 1000, 4000, 1, 6000), 5000);		/* what is left */
	assert_int_equal(policy_grant_size(10000, 1000, 4000, 7000, 100), 0);		/* less than needed */
	assert_int_equal(policy_grant_size(10000, 1000, 4000, 5000, 100), 5000);	/* need beats chunk */
	assert_int_equal(policy_grant_size(10000, 4000, 6000, 1, 4000), 0);		/* full */
	assert_int_equal(policy_grant_size(10000, 12000, 0, 1, 4000), 0);		/* past it (scan) */
	assert_int_equal(policy_grant_size(10000, 0, 0, 0, 4000), 0);			/* nothing asked */
	assert_int_equal(policy_grant_size(UINT64_MAX, UINT64_MAX - 1, 5, 1, 4000), 0); /* no overflow */
	assert_int_equal(policy_grant_size(UINT64_MAX, 10, 10, 1, UINT64_MAX), UINT64_MAX - 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_need),
		cmocka_unit_test(test_no_quota_no_entry),
		cmocka_unit_test(test_commit_and_abort),
		cmocka_unit_test(test_files_and_full),
		cmocka_unit_test(test_race_last_bytes),
		cmocka_unit_test(test_grant_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
