/* Unit tests for src/ftp/list_feed.c: a listing made in chunks by two jobs
 * at once on a real job pool, taken on a real loop: every entry exactly
 * once, chunks bounded, and a feed cancelled with jobs in flight freed by
 * the last of them (no descriptor or listing left behind). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "jobs.h"
#include "list_feed.h"
#include "listing.h"
#include "loop.h"
#include "userstore.h"

#define N 20000

static char dir[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/ferry-feed-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	for (int i = 0; i < N; i++) {
		char p[192];
		snprintf(p, sizeof(p), "%s/f%06d", dir, i);
		int fd = open(p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0)
			return -1;
		close(fd);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < N; i++) {
		char p[192];
		snprintf(p, sizeof(p), "%s/f%06d", dir, i);
		(void)unlink(p);
	}
	return rmdir(dir);
}

static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static struct listing *open_listing(enum listing_format fmt)
{
	struct listing_opts o = { .facts = FACT_DEFAULT, .perms = PERM_ALL, .now = 1700000000 };
	struct listing *l = NULL;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(listing_open(fd, fmt, &o, &l), 0);
	return l;
}

struct consumer {
	struct list_feed *f;
	struct loop *loop;
	struct buf out;
	unsigned char *seen;
	size_t lines, chunks, max_chunk;
	unsigned first_jobs; /* jobs in flight after the first chunk was taken */
	int end;
};

/* Takes every chunk there is, as datachan's pump does; the feed's wake
 * brings it back when the next one is ready. */
static void take_all(void *arg)
{
	struct consumer *c = arg;
	for (;;) {
		int r = list_feed_take(c->f, &c->out);
		if (r == -EAGAIN)
			return;
		if (r != 0) {
			c->end = r;
			loop_stop(c->loop);
			return;
		}
		c->chunks++;
		if (c->chunks == 1)
			c->first_jobs = list_feed_jobs(c->f);
		c->max_chunk = c->out.len > c->max_chunk ? c->out.len : c->max_chunk;
		const char *p = buf_data(&c->out), *end = p + c->out.len;
		assert_true(c->out.len > 0 && end[-1] == '\n');
		while (p < end) {
			const char *e = memchr(p, '\n', (size_t)(end - p));
			assert_non_null(e);
			const char *name = e - 8; /* "fNNNNNN\r\n" */
			assert_int_equal(name[-1], ' ');
			assert_int_equal(name[0], 'f');
			unsigned long k = strtoul(name + 1, NULL, 10);
			assert_true(k < N);
			assert_int_equal(c->seen[k], 0);
			c->seen[k] = 1;
			c->lines++;
			p = e + 1;
		}
		buf_reset(&c->out);
	}
}

static void test_feed_lists_every_entry_once(void **state)
{
	(void)state;
	enum listing_format fmts[] = { LISTING_MLSD, LISTING_LIST };
	for (size_t i = 0; i < 2; i++) {
		struct loop *loop;
		struct jobs *js;
		assert_int_equal(loop_new(&loop), 0);
		assert_int_equal(jobs_start(&js, 2, NULL, NULL, NULL), 0);
		int fds = open_fds();
		struct listing *l = open_listing(fmts[i]);
		struct consumer c = { .loop = loop, .seen = calloc(N, 1) };
		buf_init(&c.out, 1u << 20);
		assert_int_equal(list_feed_start(&c.f, js, loop, l, take_all, &c), 0);
		listing_free(l); /* the feed holds its own reference */
		take_all(&c);
		assert_int_equal(loop_run(loop), 0);
		assert_int_equal(c.end, 1);
		assert_int_equal(c.lines, N);
		/* Chunks are bounded (96 KiB plus at most 32 lines), so many. */
		assert_true(c.max_chunk <= 96 * 1024 + 32 * 128);
		assert_true(c.chunks >= (N * 60) / (96 * 1024));
		/* The pool has nothing else to do: once the first chunk is
		 * taken, two jobs make the listing (the second one started
		 * when the first chunk was done, the first one again at the
		 * take; neither can have completed: completions run on this
		 * loop). They used to take turns: the second job, still
		 * queued at the take, counted as another session's. */
		assert_int_equal(c.first_jobs, 2);
		list_feed_cancel(c.f); /* nothing in flight: freed at once */
		assert_int_equal(open_fds(), fds);
		buf_free(&c.out);
		free(c.seen);
		jobs_stop(js);
		loop_free(loop);
	}
}

static void stop_loop(void *arg)
{
	loop_stop(arg);
}

/* Cancelled with jobs in flight (at once, and after a few chunks): the jobs
 * finish on their own, the last completion frees the feed and the
 * listing's last reference closes the directory. */
static void test_feed_cancel_in_flight(void **state)
{
	(void)state;
	for (int taken = 0; taken < 3; taken++) {
		int fds = open_fds(); /* the loop's and the pool's go with them */
		struct loop *loop;
		struct jobs *js;
		assert_int_equal(loop_new(&loop), 0);
		assert_int_equal(jobs_start(&js, 2, NULL, NULL, NULL), 0);
		struct listing *l = open_listing(LISTING_MLSD);
		struct list_feed *f = NULL;
		assert_int_equal(list_feed_start(&f, js, loop, l, stop_loop, loop), 0);
		struct buf out;
		buf_init(&out, 1u << 20);
		for (int k = 0; k < taken;) {
			int r = list_feed_take(f, &out);
			if (r == -EAGAIN) {
				assert_int_equal(loop_run(loop), 0); /* until wake */
				continue;
			}
			assert_int_equal(r, 0);
			buf_reset(&out);
			k++;
		}
		list_feed_cancel(f);
		listing_free(l);
		jobs_stop(js);	 /* the jobs run to their end and post their completions */
		loop_free(loop); /* which run here: the last one frees the feed */
		assert_int_equal(open_fds(), fds);
		buf_free(&out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_feed_lists_every_entry_once),
		cmocka_unit_test(test_feed_cancel_in_flight),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
