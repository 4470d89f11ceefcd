/* rate: token buckets as a virtual clock; rate.h says how they are used. */
#include "rate.h"

#define NS_S 1000000000ull
/* A charge or grant larger than this is cut to it: n * NS_S stays in 64 bits. */
#define RATE_N_MAX (1ull << 33)

uint64_t rate_burst(uint64_t rate)
{
	uint64_t b = rate / 10;
	if (b < 64 * 1024)
		b = 64 * 1024;
	if (b > (1ull << 30))
		b = 1ull << 30;
	return b;
}

void rate_init(struct rate_bucket *b, uint64_t rate, uint64_t now_us)
{
	(void)now_us; /* tat 0 is "paid for long ago": the bucket is full */
	if (rate > RATE_MAX)
		rate = RATE_MAX;
	atomic_store_explicit(&b->burst, rate_burst(rate), memory_order_relaxed);
	atomic_store_explicit(&b->tat, 0, memory_order_relaxed);
	atomic_store_explicit(&b->rate, rate, memory_order_relaxed);
}

void rate_set(struct rate_bucket *b, uint64_t rate)
{
	if (rate > RATE_MAX)
		rate = RATE_MAX;
	atomic_store_explicit(&b->burst, rate_burst(rate), memory_order_relaxed);
	atomic_store_explicit(&b->rate, rate, memory_order_relaxed);
}

/* Nanoseconds that n bytes take at rate, rounded up (never over-grants). */
static uint64_t cost_ns(uint64_t n, uint64_t rate)
{
	if (n > RATE_N_MAX)
		n = RATE_N_MAX;
	return (n * NS_S + rate - 1) / rate;
}

/* The bucket's clock as of now: never further back than a burst, so an
 * idle bucket holds at most a burst. */
static uint64_t base_ns(uint64_t tat, uint64_t now_ns, uint64_t rate, uint64_t burst)
{
	uint64_t burst_ns = burst * NS_S / rate;
	uint64_t floor = now_ns > burst_ns ? now_ns - burst_ns : 0;
	return tat < floor ? floor : tat;
}

uint64_t rate_take(struct rate_bucket *b, uint64_t want, uint64_t now_us)
{
	uint64_t rate = b ? atomic_load_explicit(&b->rate, memory_order_relaxed) : 0;
	if (rate == 0 || want == 0)
		return want;
	uint64_t burst = atomic_load_explicit(&b->burst, memory_order_relaxed);
	uint64_t now = now_us * 1000;
	uint64_t t = atomic_load_explicit(&b->tat, memory_order_relaxed);
	for (;;) {
		uint64_t base = base_ns(t, now, rate, burst);
		if (base >= now)
			return 0;
		/* now - base <= a burst's time: the product fits (RATE_MAX). */
		uint64_t avail = (now - base) * rate / NS_S;
		if (avail == 0)
			return 0;
		uint64_t g = want < avail ? want : avail;
		if (atomic_compare_exchange_weak_explicit(&b->tat, &t, base + cost_ns(g, rate), memory_order_relaxed,
							  memory_order_relaxed))
			return g;
	}
}

void rate_give_back(struct rate_bucket *b, uint64_t n)
{
	uint64_t rate = b ? atomic_load_explicit(&b->rate, memory_order_relaxed) : 0;
	if (rate == 0 || n == 0)
		return;
	uint64_t c = cost_ns(n, rate);
	uint64_t t = atomic_load_explicit(&b->tat, memory_order_relaxed);
	for (;;) {
		uint64_t nt = t > c ? t - c : 0;
		if (atomic_compare_exchange_weak_explicit(&b->tat, &t, nt, memory_order_relaxed, memory_order_relaxed))
			return;
	}
}

void rate_charge(struct rate_bucket *b, uint64_t n, uint64_t now_us)
{
	uint64_t rate = b ? atomic_load_explicit(&b->rate, memory_order_relaxed) : 0;
	if (rate == 0 || n == 0)
		return;
	uint64_t burst = atomic_load_explicit(&b->burst, memory_order_relaxed);
	uint64_t now = now_us * 1000;
	uint64_t t = atomic_load_explicit(&b->tat, memory_order_relaxed);
	for (;;) {
		uint64_t nt = base_ns(t, now, rate, burst) + cost_ns(n, rate);
		if (atomic_compare_exchange_weak_explicit(&b->tat, &t, nt, memory_order_relaxed, memory_order_relaxed))
			return;
	}
}

uint64_t rate_wait_us(struct rate_bucket *b, uint64_t want, uint64_t now_us)
{
	uint64_t rate = b ? atomic_load_explicit(&b->rate, memory_order_relaxed) : 0;
	if (rate == 0)
		return 0;
	uint64_t burst = atomic_load_explicit(&b->burst, memory_order_relaxed);
	if (want > burst)
		want = burst;
	uint64_t now = now_us * 1000;
	uint64_t ready =
	    base_ns(atomic_load_explicit(&b->tat, memory_order_relaxed), now, rate, burst) + cost_ns(want, rate);
	return ready > now ? (ready - now + 999) / 1000 : 0;
}

uint64_t rate_resume(const struct rate_bucket *b)
{
	uint64_t rate = atomic_load_explicit(&b->rate, memory_order_relaxed);
	uint64_t burst = atomic_load_explicit(&b->burst, memory_order_relaxed);
	uint64_t r = rate / 100;
	if (r < 1024)
		r = 1024;
	return r < burst ? r : burst;
}

uint64_t rate_take2(struct rate_bucket *own, struct rate_bucket *srv, uint64_t want, uint64_t now_us, uint64_t *wait_us)
{
	*wait_us = 0;
	uint64_t g = rate_take(own, want, now_us);
	uint64_t g2 = g ? rate_take(srv, g, now_us) : 0;
	if (g2 < g)
		rate_give_back(own, g - g2);
	/* A sliver (what trickled in since the last grant) would cost a
	 * system call, or a TLS record, per few bytes: wait for a worthwhile
	 * amount instead. */
	uint64_t floor = 0;
	if (rate_limited(own))
		floor = rate_resume(own);
	if (rate_limited(srv) && rate_resume(srv) > floor)
		floor = rate_resume(srv);
	if (floor > want)
		floor = want;
	if (g2 && g2 < floor) {
		rate_give_back2(own, srv, g2);
		g2 = 0;
	}
	if (g2 == 0) {
		uint64_t w1 = rate_limited(own) ? rate_wait_us(own, rate_resume(own), now_us) : 0;
		uint64_t w2 = rate_limited(srv) ? rate_wait_us(srv, rate_resume(srv), now_us) : 0;
		*wait_us = w1 > w2 ? w1 : w2;
		if (*wait_us == 0)
			*wait_us = 1; /* rounding: ready within the microsecond */
	}
	return g2;
}

void rate_give_back2(struct rate_bucket *own, struct rate_bucket *srv, uint64_t n)
{
	rate_give_back(own, n);
	rate_give_back(srv, n);
}

void rate_settle2(struct rate_bucket *own, struct rate_bucket *srv, uint64_t granted, uint64_t moved, uint64_t now_us)
{
	if (moved < granted) {
		rate_give_back2(own, srv, granted - moved);
	} else if (moved > granted) {
		rate_charge(own, moved - granted, now_us);
		rate_charge(srv, moved - granted, now_us);
	}
}
