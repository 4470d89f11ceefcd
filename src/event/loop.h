/* loop: one event loop per thread: fd watches (epoll), one-shot timers (a
 * binary heap), deferred calls run after the current round (so an object
 * freed from a callback is never touched by a later event of the same
 * round), and a thread-safe post queue woken through an eventfd. */
#ifndef FERRY_LOOP_H
#define FERRY_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct loop;

/* Interest and event flags of a watch. Callers outside event/ use only these;
 * the numbers equal epoll's (loop.c static-asserts it), so they pass to
 * epoll_ctl and back unchanged, yet no caller includes <sys/epoll.h>. */
#define LOOP_IN 0x001u		  /* readable (or a listener has a connection) */
#define LOOP_OUT 0x004u		  /* writable */
#define LOOP_ERR 0x008u		  /* error (reported, never asked for) */
#define LOOP_HUP 0x010u		  /* hang-up (reported, never asked for) */
#define LOOP_EXCLUSIVE (1u << 28) /* wake one of the loops sharing the fd */

struct loop_watch {
	int fd; /* -1 once removed */
	uint32_t events;
	void (*cb)(struct loop_watch *w, uint32_t events);
};

struct loop_timer {
	uint64_t deadline; /* util_now_us() clock, microseconds */
	size_t idx;	   /* position in the heap + 1; 0 = not armed */
	void (*cb)(struct loop_timer *t);
};

int loop_new(struct loop **out);
/* Frees the loop; watches must have been removed and timers cancelled by
 * their owners; pending posts are run first. */
void loop_free(struct loop *l);

/* Watches fd for events (LOOP_IN/LOOP_OUT...). w is borrowed until del. */
int loop_watch_add(struct loop *l, struct loop_watch *w, int fd, uint32_t events,
		   void (*cb)(struct loop_watch *, uint32_t));
int loop_watch_mod(struct loop *l, struct loop_watch *w, uint32_t events);
/* Stops watching (does not close the fd); safe from inside callbacks. */
void loop_watch_del(struct loop *l, struct loop_watch *w);
/* Like loop_watch_del for an fd the caller closes right after and never
 * duplicated: close(2) takes it out of the epoll set, so no system call. */
void loop_watch_forget(struct loop *l, struct loop_watch *w);

/* (Re)arms t to fire once, no earlier than ms milliseconds from now. */
void loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t ms, void (*cb)(struct loop_timer *));
/* The same in microseconds: the loop waits with epoll_pwait2, so a
 * sub-millisecond delay is honoured (with the epoll_wait fallback of a
 * kernel before 5.11 it is rounded up to the next whole ms). */
void loop_timer_arm_us(struct loop *l, struct loop_timer *t, uint64_t us, void (*cb)(struct loop_timer *));
void loop_timer_cancel(struct loop *l, struct loop_timer *t);
static inline bool loop_timer_armed(const struct loop_timer *t)
{
	return t->idx != 0;
}

/* Runs fn(arg) on this loop's thread at the end of the current round (a
 * call deferred from a deferred call: at the end of the next round, after
 * the events that came in meanwhile). */
void loop_defer(struct loop *l, void (*fn)(void *), void *arg);
/* Thread-safe: runs fn(arg) on the loop's thread soon. 0 or -ENOMEM. */
int loop_post(struct loop *l, void (*fn)(void *), void *arg);

/* Runs until loop_stop; returns 0 or -errno if epoll itself failed. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);
/* The loop's clock (ms, monotonic, = util_now_ms()), refreshed every round. */
uint64_t loop_now(const struct loop *l);

/* The wait from now_us until deadline_us (0 if due), exposed for unit
 * tests: exact for epoll_pwait2, and in whole ms ROUNDED UP (never early;
 * at most INT_MAX) for epoll_wait. */
void loop_timeout_ts(uint64_t deadline_us, uint64_t now_us, struct timespec *ts);
int loop_timeout_ms(uint64_t deadline_us, uint64_t now_us);

#endif
