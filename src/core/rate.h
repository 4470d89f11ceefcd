/* rate: token buckets for bandwidth limits ([limits] rate_down/rate_up for
 * the whole server, and a session's own rates), as a virtual clock (GCRA):
 * a bucket remembers until when the bytes it granted are paid for, so one
 * atomic word is its whole state and a bucket shared by every worker
 * thread needs no lock. Pure: the caller passes the time in (µs, the
 * loop's util_now_us() clock), so the unit tests need no real time.
 *
 * A limited transfer asks rate_take for what it may move now, moves at
 * most that, gives back what it did not move (rate_give_back), and when
 * nothing was granted waits rate_wait_us() on a loop timer: never a sleep.
 * An unlimited bucket (rate 0) costs one relaxed load: rate_limited(). */
#ifndef FERRY_RATE_H
#define FERRY_RATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Highest rate accepted (bytes/s); the arithmetic below stays in 64 bits. */
#define RATE_MAX (1ull << 40)

struct rate_bucket {
	_Atomic uint64_t rate;	/* bytes per second; 0 = unlimited */
	_Atomic uint64_t burst; /* bytes that may go at once (rate_burst) */
	_Atomic uint64_t tat;	/* ns: granted bytes are paid for until then */
};

/* The burst for a rate: 100 ms worth (enough for TCP windows to fill and
 * the achieved rate within 1% of the limit over 10 s), at least 64 KiB
 * (one read or TLS-sized chunk), at most 1 GiB. */
uint64_t rate_burst(uint64_t rate);

/* Sets b to rate bytes/s (0 = unlimited, over RATE_MAX = RATE_MAX), full
 * (a burst may go at once). Not thread-safe against users of b: for a
 * bucket shared by threads use rate_set. */
void rate_init(struct rate_bucket *b, uint64_t rate, uint64_t now_us);
/* Changes the rate of a bucket that other threads may be using (a
 * configuration reload): what was granted stays granted. */
void rate_set(struct rate_bucket *b, uint64_t rate);

static inline bool rate_limited(const struct rate_bucket *b)
{
	return b && atomic_load_explicit(&b->rate, memory_order_relaxed) != 0;
}

/* Grants up to want bytes (what the bucket holds now) and takes them from
 * it; 0 when it is empty. An unlimited bucket grants want. */
uint64_t rate_take(struct rate_bucket *b, uint64_t want, uint64_t now_us);
/* Returns n granted bytes that were not moved. */
void rate_give_back(struct rate_bucket *b, uint64_t n);
/* Takes n bytes whether or not the bucket holds them (a listing chunk
 * already made): the bucket owes them, and the next grants wait. */
void rate_charge(struct rate_bucket *b, uint64_t n, uint64_t now_us);
/* Microseconds from now until want bytes (at most a burst) may go;
 * 0 = now (or unlimited). */
uint64_t rate_wait_us(struct rate_bucket *b, uint64_t want, uint64_t now_us);

/* A session's bucket in front of the server's (either may be NULL or
 * unlimited): grants what both hold, taken from both, but nothing while
 * that is less than a worthwhile amount (rate_resume, or want if less).
 * On 0, *wait_us is how long until that amount may go through both. */
uint64_t rate_take2(struct rate_bucket *own, struct rate_bucket *srv, uint64_t want, uint64_t now_us,
		    uint64_t *wait_us);
void rate_give_back2(struct rate_bucket *own, struct rate_bucket *srv, uint64_t n);
/* After a transfer step granted granted bytes and moved moved: gives back
 * what it did not move, or charges both buckets what it moved beyond the
 * grant (a listing's chunk, TYPE A's CRs, an SFTP packet passed whole):
 * the next grants wait for it. */
void rate_settle2(struct rate_bucket *own, struct rate_bucket *srv, uint64_t granted, uint64_t moved, uint64_t now_us);

/* What a paused transfer waits for before it moves again: 10 ms worth
 * (at most a hundred wake-ups a second), at least 1 KiB, at most a burst. */
uint64_t rate_resume(const struct rate_bucket *b);

#endif
