/* listing_fill's read-ahead (fs/listing.c): the next getdents64 batch is
 * read outside the listing's lock while other callers stat the current one.
 * A directory of names of the longest length (255 bytes: ~234 to a 64 KiB
 * batch) straddles several batches; every entry must come exactly once and
 * in the directory's order (listing_next's), with one caller or two, and
 * while entries are removed and added during the listing. No timing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "listing.h"
#include "userstore.h"
#include "util.h"

#define N_ORIG 1500 /* ~6.4 batches of 255-byte names */
#define N_ADDED 300 /* names added during a listing: indexes N_ORIG.. */
#define N_ALL (N_ORIG + N_ADDED)
#define FILL_MAX 4096	   /* small chunks: many listing_fill calls */
#define BUF_CAP (1u << 16) /* FILL_MAX plus 32 of the longest MLSD lines */

/* Name i: its index in 6 digits, then filler up to NAME_MAX bytes (added
 * names a different filler, so the two sets never meet). */
static void entry_name(char *out, int i)
{
	snprintf(out, NAME_MAX + 1, "%06d", i);
	memset(out + 6, i < N_ORIG ? 'x' : 'y', NAME_MAX - 6);
	out[NAME_MAX] = '\0';
}

static void make_entry(int dfd, int i)
{
	char name[NAME_MAX + 1];
	entry_name(name, i);
	int fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
}

struct tree {
	char path[PATH_MAX];
	int dfd;
};

/* On the disk's filesystem when TMPDIR says so (ext4's hashed directories
 * return their entries in hash order), else /tmp. */
static void tree_make(struct tree *t)
{
	const char *base = getenv("TMPDIR");
	snprintf(t->path, sizeof(t->path), "%s/ferry-ahead-XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(t->path));
	t->dfd = open(t->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(t->dfd >= 0);
	for (int i = 0; i < N_ORIG; i++)
		make_entry(t->dfd, i);
}

static void tree_remove(struct tree *t)
{
	char name[NAME_MAX + 1];
	for (int i = 0; i < N_ALL; i++) {
		entry_name(name, i);
		(void)unlinkat(t->dfd, name, 0);
	}
	close(t->dfd);
	assert_int_equal(rmdir(t->path), 0);
}

static struct listing *open_mlsd(const struct tree *t)
{
	struct listing_opts o = { .facts = FACT_DEFAULT, .perms = PERM_ALL, .now = 1700807280 };
	int fd = openat(t->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	struct listing *l = NULL;
	assert_int_equal(listing_open(fd, LISTING_MLSD, &o, &l), 0);
	return l;
}

/* The entries of b's MLSD lines ("facts; name\r\n"), appended to seq. */
static void parse_lines(const struct buf *b, int *seq, size_t *n)
{
	const char *p = buf_data(b), *end = p + b->len;
	while (p < end) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		assert_non_null(e);
		const char *name = memmem(p, (size_t)(e - p), "; ", 2);
		assert_non_null(name);
		name += 2;
		assert_int_equal(e - 1 - name, NAME_MAX); /* the whole name, then CR */
		/* The leading digits, read within the line: the buffer holds no
		 * NUL (atoi would read past its end). */
		int i = 0;
		for (const char *d = name; d < e && *d >= '0' && *d <= '9'; d++)
			i = i * 10 + (*d - '0');
		assert_true(i >= 0 && i < N_ALL);
		assert_true(*n < 4 * N_ALL);
		seq[(*n)++] = i;
		p = e + 1;
	}
}

/* The directory's order: listing_next, one caller, one entry at a time. */
static size_t reference_order(const struct tree *t, int *seq)
{
	struct listing *l = open_mlsd(t);
	struct buf b;
	buf_init(&b, BUF_CAP);
	size_t n = 0;
	int r;
	do {
		buf_reset(&b);
		r = listing_next(l, &b, 1);
		assert_true(r == 0 || r == 1);
		parse_lines(&b, seq, &n);
	} while (r == 1);
	buf_free(&b);
	listing_free(l);
	assert_int_equal(n, N_ORIG);
	return n;
}

/* rank[i]: where entry i comes in the reference order (-1: not in it). */
static void ranks(const int *ref, size_t n, int *rank)
{
	for (int i = 0; i < N_ALL; i++)
		rank[i] = -1;
	for (size_t k = 0; k < n; k++) {
		assert_int_equal(rank[ref[k]], -1);
		rank[ref[k]] = (int)k;
	}
}

/* seq lists reference entries in the reference order (a subsequence). */
static void assert_in_order(const int *seq, size_t n, const int *rank)
{
	int last = -1;
	for (size_t k = 0; k < n; k++) {
		if (rank[seq[k]] < 0)
			continue; /* an added entry: wherever getdents64 put it */
		assert_true(rank[seq[k]] > last);
		last = rank[seq[k]];
	}
}

static void test_one_caller_same_order(void **state)
{
	(void)state;
	struct tree t;
	tree_make(&t);
	int *ref = calloc(N_ALL, sizeof(int)), *got = calloc(4 * N_ALL, sizeof(int));
	size_t nref = reference_order(&t, ref), n = 0;
	for (int peek = 0; peek < 2; peek++) { /* list_feed peeks first */
		struct listing *l = open_mlsd(&t);
		if (peek)
			assert_int_equal(listing_peek(l), 1);
		struct buf b;
		buf_init(&b, BUF_CAP);
		int r, calls = 0;
		n = 0;
		do {
			buf_reset(&b);
			r = listing_fill(l, &b, FILL_MAX, 0, NULL);
			assert_true(r == 0 || r == 1);
			parse_lines(&b, got, &n);
			assert_true(++calls < 10 * N_ORIG);
		} while (r == 1);
		buf_free(&b);
		listing_free(l);
		assert_int_equal(n, nref);
		assert_memory_equal(got, ref, nref * sizeof(int));
	}
	free(ref);
	free(got);
	tree_remove(&t);
}

struct caller {
	struct listing *l;
	int *seq;
	size_t n;
	int last;
};

static void *call_fill(void *arg)
{
	struct caller *c = arg;
	struct buf b;
	buf_init(&b, BUF_CAP);
	int r, calls = 0;
	do {
		buf_reset(&b);
		r = listing_fill(c->l, &b, FILL_MAX, 0, NULL);
		parse_lines(&b, c->seq, &c->n);
	} while (r == 1 && ++calls < 10 * N_ORIG);
	c->last = r;
	buf_free(&b);
	return NULL;
}

/* Two callers, many times (a batch boundary falls differently each time):
 * each caller's lines keep the directory's order, and together they list
 * every entry exactly once. */
static void test_two_callers_every_entry_once(void **state)
{
	(void)state;
	struct tree t;
	tree_make(&t);
	int *ref = calloc(N_ALL, sizeof(int)), *rank = calloc(N_ALL, sizeof(int));
	size_t nref = reference_order(&t, ref);
	ranks(ref, nref, rank);
	int *seen = calloc(N_ALL, sizeof(int));
	struct caller c[2] = { { .seq = calloc(4 * N_ALL, sizeof(int)) }, { .seq = calloc(4 * N_ALL, sizeof(int)) } };
	for (int round = 0; round < 20; round++) {
		struct listing *l = open_mlsd(&t);
		pthread_t th[2];
		for (int k = 0; k < 2; k++) {
			c[k].l = l;
			c[k].n = 0;
			assert_int_equal(pthread_create(&th[k], NULL, call_fill, &c[k]), 0);
		}
		memset(seen, 0, N_ALL * sizeof(int));
		for (int k = 0; k < 2; k++) {
			pthread_join(th[k], NULL);
			assert_int_equal(c[k].last, 0);
			assert_in_order(c[k].seq, c[k].n, rank);
			for (size_t j = 0; j < c[k].n; j++)
				seen[c[k].seq[j]]++;
		}
		listing_free(l);
		for (int i = 0; i < N_ALL; i++)
			assert_int_equal(seen[i], i < N_ORIG ? 1 : 0);
	}
	free(c[0].seq);
	free(c[1].seq);
	free(seen);
	free(rank);
	free(ref);
	tree_remove(&t);
}

/* Entries removed (not listed yet) and added between the calls: the ones
 * there all along come once each in the directory's order, the removed
 * ones never (gone before their statx), the added ones at most once. */
static void test_changes_during_listing(void **state)
{
	(void)state;
	struct tree t;
	tree_make(&t);
	int *ref = calloc(N_ALL, sizeof(int)), *rank = calloc(N_ALL, sizeof(int));
	int *got = calloc(4 * N_ALL, sizeof(int)), *seen = calloc(N_ALL, sizeof(int));
	bool *removed = calloc(N_ALL, sizeof(bool));
	size_t nref = reference_order(&t, ref), n = 0;
	ranks(ref, nref, rank);
	struct listing *l = open_mlsd(&t);
	struct buf b;
	buf_init(&b, BUF_CAP);
	int r, calls = 0, added = 0;
	char name[NAME_MAX + 1];
	do {
		buf_reset(&b);
		r = listing_fill(l, &b, FILL_MAX, 0, NULL);
		assert_true(r == 0 || r == 1);
		parse_lines(&b, got, &n);
		if (r == 1 && calls % 8 == 0) {
			/* Remove every third entry not listed yet (some are in
			 * the batch read already, some in the one read ahead,
			 * some not read), add some. */
			for (size_t k = 0; k < n; k++)
				seen[got[k]] = 1;
			for (size_t k = 0; k < nref; k += 3) {
				int i = ref[k];
				if (!seen[i] && !removed[i]) {
					entry_name(name, i);
					assert_int_equal(unlinkat(t.dfd, name, 0), 0);
					removed[i] = true;
				}
			}
			for (int j = 0; j < 30 && added < N_ADDED; j++)
				make_entry(t.dfd, N_ORIG + added++);
		}
		assert_true(++calls < 10 * N_ALL);
	} while (r == 1);
	buf_free(&b);
	listing_free(l);
	memset(seen, 0, N_ALL * sizeof(int));
	for (size_t k = 0; k < n; k++)
		seen[got[k]]++;
	assert_in_order(got, n, rank);
	int kept = 0;
	for (int i = 0; i < N_ALL; i++) {
		if (i >= N_ORIG)
			assert_true(seen[i] <= 1 && (i < N_ORIG + added || seen[i] == 0));
		else if (removed[i])
			assert_int_equal(seen[i], 0);
		else
			assert_int_equal(seen[i], 1), kept++;
	}
	assert_true(kept > N_ORIG / 2 && kept < N_ORIG); /* the removals did happen */
	free(removed);
	free(seen);
	free(got);
	free(rank);
	free(ref);
	tree_remove(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_caller_same_order),
		cmocka_unit_test(test_two_callers_every_entry_once),
		cmocka_unit_test(test_changes_during_listing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
