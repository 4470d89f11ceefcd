#include "loop.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "util.h"

/* loop.h's flags are epoll's numbers, so they go to epoll_ctl and come back
 * from epoll_wait untranslated. */
_Static_assert(LOOP_IN == EPOLLIN && LOOP_OUT == EPOLLOUT && LOOP_ERR == EPOLLERR && LOOP_HUP == EPOLLHUP &&
		   LOOP_EXCLUSIVE == EPOLLEXCLUSIVE,
	       "loop.h flags equal epoll's");

struct call {
	void (*fn)(void *);
	void *arg;
	struct call *next;
};

struct loop {
	int epfd;
	bool stop;
	/* epoll_pwait2 (Linux 5.11) works: timers wait to the microsecond;
	 * else epoll_wait with the wait rounded up to whole ms. */
	bool pwait2;
	uint64_t now; /* util_now_us() at the latest round step */
	struct loop_timer **heap;
	size_t nheap, capheap;
	struct call *deferred, **deferred_tail;
	/* cross-thread posts */
	pthread_mutex_t lock;
	struct call *posted, **posted_tail;
	struct loop_watch wake;
	int wakefd;
};

static void run_posted(struct loop *l);

static void on_wake(struct loop_watch *w, uint32_t ev)
{
	uint64_t v;
	while (read(w->fd, &v, sizeof(v)) == (ssize_t)sizeof(v)) {
	}
}

int loop_new(struct loop **out)
{
	struct loop *l = util_xcalloc(1, sizeof(*l));
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->epfd < 0 || l->wakefd < 0)
		goto fail;
	pthread_mutex_init(&l->lock, NULL);
	l->deferred_tail = &l->deferred;
	l->posted_tail = &l->posted;
	l->now = util_now_us();
	/* Decided once: probe with a zero timeout while the set is empty.
	 * SECURITY: sandbox_seccomp.c allows both system calls. */
	struct epoll_event probe;
	struct timespec zero = { 0, 0 };
	l->pwait2 = epoll_pwait2(l->epfd, &probe, 1, &zero, NULL) >= 0 || errno != ENOSYS;
	if (loop_watch_add(l, &l->wake, l->wakefd, EPOLLIN, on_wake) != 0)
		goto fail;
	*out = l;
	return 0;
fail:;
	int r = -errno;
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->wakefd >= 0)
		close(l->wakefd);
	free(l);
	return r ? r : -EIO;
}

/* Runs the calls deferred so far. Calls they defer in turn wait for the
 * next round, after epoll_wait (then with a zero timeout): a session that
 * yields by deferring itself lets every other event in first. */
static void run_deferred(struct loop *l)
{
	struct call *c = l->deferred;
	l->deferred = NULL;
	l->deferred_tail = &l->deferred;
	while (c) {
		struct call *next = c->next;
		c->fn(c->arg);
		free(c);
		c = next;
	}
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	run_posted(l);
	while (l->deferred)
		run_deferred(l);
	loop_watch_del(l, &l->wake);
	close(l->wakefd);
	close(l->epfd);
	pthread_mutex_destroy(&l->lock);
	free(l->heap);
	free(l);
}

int loop_watch_add(struct loop *l, struct loop_watch *w, int fd, uint32_t events,
		   void (*cb)(struct loop_watch *, uint32_t))
{
	w->fd = fd;
	w->events = events;
	w->cb = cb;
	struct epoll_event ev = { .events = events, .data.ptr = w };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		w->fd = -1;
		return -errno;
	}
	return 0;
}

int loop_watch_mod(struct loop *l, struct loop_watch *w, uint32_t events)
{
	if (w->fd < 0)
		return -EBADF;
	if (w->events == events)
		return 0;
	struct epoll_event ev = { .events = events, .data.ptr = w };
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) != 0)
		return -errno;
	w->events = events;
	return 0;
}

void loop_watch_del(struct loop *l, struct loop_watch *w)
{
	if (w->fd < 0)
		return;
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->fd = -1; /* events already fetched for it this round are skipped */
}

void loop_watch_forget(struct loop *l, struct loop_watch *w)
{
	(void)l;
	w->fd = -1; /* as loop_watch_del: fetched events are skipped */
}

/* --- timers: a binary min-heap of deadlines --- */

static void heap_swap(struct loop *l, size_t a, size_t b)
{
	struct loop_timer *t = l->heap[a];
	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->idx = a + 1;
	l->heap[b]->idx = b + 1;
}

static void heap_up(struct loop *l, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (l->heap[parent]->deadline <= l->heap[i]->deadline)
			break;
		heap_swap(l, i, parent);
		i = parent;
	}
}

static void heap_down(struct loop *l, size_t i)
{
	for (;;) {
		size_t a = 2 * i + 1, b = a + 1, m = i;
		if (a < l->nheap && l->heap[a]->deadline < l->heap[m]->deadline)
			m = a;
		if (b < l->nheap && l->heap[b]->deadline < l->heap[m]->deadline)
			m = b;
		if (m == i)
			return;
		heap_swap(l, i, m);
		i = m;
	}
}

void loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
	if (!t->idx)
		return;
	size_t i = t->idx - 1;
	t->idx = 0;
	l->nheap--;
	if (i == l->nheap)
		return;
	l->heap[i] = l->heap[l->nheap];
	l->heap[i]->idx = i + 1;
	heap_up(l, i);
	heap_down(l, l->heap[i]->idx - 1);
}

void loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t ms, void (*cb)(struct loop_timer *))
{
	uint64_t us;
	if (ckd_mul(&us, ms, (uint64_t)1000))
		us = UINT64_MAX;
	loop_timer_arm_us(l, t, us, cb);
}

void loop_timer_arm_us(struct loop *l, struct loop_timer *t, uint64_t us, void (*cb)(struct loop_timer *))
{
	loop_timer_cancel(l, t);
	if (l->nheap == l->capheap) {
		size_t ncap = l->capheap ? l->capheap * 2 : 64;
		struct loop_timer **nh = realloc(l->heap, ncap * sizeof(*nh));
		if (!nh)
			abort(); /* cannot keep a timer promise: fail loudly */
		l->heap = nh;
		l->capheap = ncap;
	}
	t->cb = cb;
	if (ckd_add(&t->deadline, util_now_us(), us))
		t->deadline = UINT64_MAX;
	l->heap[l->nheap] = t;
	t->idx = ++l->nheap;
	heap_up(l, l->nheap - 1);
}

static void run_timers(struct loop *l)
{
	while (l->nheap && l->heap[0]->deadline <= l->now) {
		struct loop_timer *t = l->heap[0];
		loop_timer_cancel(l, t);
		t->cb(t);
	}
}

/* --- deferred and posted calls --- */

void loop_defer(struct loop *l, void (*fn)(void *), void *arg)
{
	struct call *c = util_xcalloc(1, sizeof(*c));
	c->fn = fn;
	c->arg = arg;
	*l->deferred_tail = c;
	l->deferred_tail = &c->next;
}

int loop_post(struct loop *l, void (*fn)(void *), void *arg)
{
	struct call *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->arg = arg;
	pthread_mutex_lock(&l->lock);
	*l->posted_tail = c;
	l->posted_tail = &c->next;
	pthread_mutex_unlock(&l->lock);
	uint64_t one = 1;
	(void)!write(l->wakefd, &one, sizeof(one));
	return 0;
}

static void run_posted(struct loop *l)
{
	pthread_mutex_lock(&l->lock);
	struct call *c = l->posted;
	l->posted = NULL;
	l->posted_tail = &l->posted;
	pthread_mutex_unlock(&l->lock);
	while (c) {
		struct call *next = c->next;
		c->fn(c->arg);
		free(c);
		c = next;
	}
}

/* --- the loop --- */

uint64_t loop_now(const struct loop *l)
{
	return l->now / 1000u;
}

void loop_timeout_ts(uint64_t deadline_us, uint64_t now_us, struct timespec *ts)
{
	uint64_t d = deadline_us > now_us ? deadline_us - now_us : 0;
	ts->tv_sec = (time_t)(d / 1000000u);
	ts->tv_nsec = (long)(d % 1000000u) * 1000;
}

int loop_timeout_ms(uint64_t deadline_us, uint64_t now_us)
{
	uint64_t d = deadline_us > now_us ? deadline_us - now_us : 0;
	uint64_t ms = d / 1000u + (d % 1000u != 0);
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Waits for events until the earliest timer's deadline (none: forever;
 * deferred calls pending: not at all). */
static int loop_wait(struct loop *l, struct epoll_event *evs, int max)
{
	bool forever = !l->deferred && !l->nheap;
	uint64_t deadline = l->deferred ? 0 : l->nheap ? l->heap[0]->deadline : 0;
	if (l->pwait2) {
		struct timespec ts;
		loop_timeout_ts(deadline, l->now, &ts);
		return epoll_pwait2(l->epfd, evs, max, forever ? NULL : &ts, NULL);
	}
	return epoll_wait(l->epfd, evs, max, forever ? -1 : loop_timeout_ms(deadline, l->now));
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[64];
	l->stop = false;
	/* This thread's timer slack (default 50 µs, added to every timed
	 * wait) would stretch a 250 µs upload grace by a fifth: timers here
	 * are few and either coarse or meant to be exact. Per thread. */
	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	while (!l->stop) {
		l->now = util_now_us();
		int n = loop_wait(l, evs, (int)ARRAY_LEN(evs));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		l->now = util_now_us();
		for (int i = 0; i < n; i++) {
			struct loop_watch *w = evs[i].data.ptr;
			if (w->fd < 0)
				continue;
			w->cb(w, evs[i].events);
		}
		run_posted(l);
		l->now = util_now_us();
		run_timers(l);
		run_deferred(l);
	}
	return 0;
}
