/* guard_sync: the guard's bans shared through the store (guard_sync.h).
 *
 * The store keeps wall-clock times (every node reads the same rows); the
 * guard keeps monotonic ones. A failure is counted at its own time (its
 * monotonic stamp taken back to the wall clock), so the store's ban ends
 * when this node's own count of the same failures would have ended it. */
#include "guard_sync.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "auth_event.h"
#include "log.h"
#include "util.h"

#define SYNC_POLL_MS 500u    /* read the store's bans at least this often */
#define SYNC_PURGE_MS 60000u /* delete rows nothing depends on */
#define SYNC_BATCH 64u

struct guard_sync {
	struct guard *g;
	const struct userstore_ops *ops;
	struct userstore *store;
	struct metrics *m;
	int wake_fd; /* eventfd: a failure was queued, or stop */
	atomic_bool stop;
	bool failing; /* the last count could not be stored */
	pthread_t thread;
};

static int64_t wall_ms(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A store time (wall clock) as the guard's (monotonic); 0 when past. */
static uint64_t to_mono(int64_t until, int64_t wall, uint64_t now)
{
	return until > wall ? now + (uint64_t)(until - wall) : 0;
}

static void rule_from(const struct guard_limits *lim, struct ban_rule *r)
{
	*r = (struct ban_rule){ .failures = lim->ban_failures,
				.window_ms = lim->ban_window_ms,
				.ban_ms = lim->ban_time_ms,
				.max_ms = lim->ban_max_ms };
}

/* Called by the guard, under its lock, on a worker's loop: never blocks
 * (the eventfd's counter only overflows after 2^64 - 1 writes). */
static void wake(void *arg)
{
	struct guard_sync *gs = arg;
	uint64_t one = 1;
	(void)!write(gs->wake_fd, &one, sizeof(one));
}

/* A ban another ferryd started, new here. */
static void log_learnt(const struct guard_key *k, int64_t until, int64_t wall)
{
	char group[64];
	guard_key_format(k, group, sizeof(group));
	log_info(0, "ban from the user store: group=%s remaining=%llds", group,
		 (long long)((until - wall + 999) / 1000));
}

/* One failed login into the store's count; a ban the count starts or
 * holds becomes the guard's. */
static void count_one(struct guard_sync *gs, const struct guard_failure *f, const struct ban_rule *rule)
{
	char group[64];
	int64_t until = 0;
	bool started = false;
	uint64_t now = util_now_ms();
	int64_t wall = wall_ms();
	int64_t at = wall - (int64_t)(now > f->at_ms ? now - f->at_ms : 0);

	guard_key_format(&f->key, group, sizeof(group));
	int r = gs->ops->ban_fail(gs->store, group, rule, at, &until, &started);
	if (r) {
		if (!gs->failing)
			log_warn(f->sid,
				 "bans: cannot count a failed login from %s in the user store (%s); this node "
				 "counts on its own until it can",
				 group, strerror(-r));
		gs->failing = true;
		return;
	}
	if (gs->failing)
		log_info(0, "bans: failed logins are counted in the user store again");
	gs->failing = false;
	if (until <= wall)
		return;
	/* A ban this node's own count already started was logged then. */
	if (!guard_ban_apply(gs->g, &f->key, to_mono(until, wall, now), now))
		return;
	if (started)
		auth_event_ban(f->sid, f->ip, &f->key, (uint64_t)(until - at), gs->m);
	else
		log_learnt(&f->key, until, wall);
}

static void count_failures(struct guard_sync *gs, const struct guard_limits *lim)
{
	struct guard_failure f[SYNC_BATCH];
	struct ban_rule rule;
	uint64_t dropped = 0;
	size_t n;

	rule_from(lim, &rule);
	do {
		n = guard_failures_take(gs->g, f, SYNC_BATCH, &dropped);
		if (dropped)
			log_warn(0,
				 "bans: %llu failed logins came faster than the user store took them; only this "
				 "node counted them",
				 (unsigned long long)dropped);
		for (size_t i = 0; lim->ban_failures && i < n; i++)
			count_one(gs, &f[i], &rule);
	} while (n == SYNC_BATCH && !atomic_load(&gs->stop));
}

struct pass {
	struct guard_sync *gs;
	uint64_t now;
	int64_t wall;
};

static int pass_one(const char *address, int64_t until, void *arg)
{
	struct pass *p = arg;
	struct guard_key k;
	if (guard_key_parse(address, &k) != 0)
		return 0; /* a row made by hand that names no address */
	if (guard_ban_apply(p->gs->g, &k, to_mono(until, p->wall, p->now), p->now))
		log_learnt(&k, until, p->wall);
	return 0;
}

/* Every ban the store holds becomes the guard's; bans lifted there end. A
 * pass that fails lifts nothing. */
static void read_bans(struct guard_sync *gs)
{
	struct pass p = { .gs = gs };
	guard_bans_pass(gs->g);
	p.now = util_now_ms();
	p.wall = wall_ms();
	if (gs->ops->ban_list(gs->store, p.wall, pass_one, &p) != 0)
		return;
	unsigned lifted = guard_bans_pass_end(gs->g, util_now_ms());
	if (lifted)
		log_info(0, "bans: %u lifted in the user store (ferry ban del)", lifted);
}

/* Waits for a queued failure, news from the store, stop or timeout_ms;
 * true when the store says there may be news. */
static bool wait_news(struct guard_sync *gs, bool watch, unsigned timeout_ms)
{
	bool news = false;
	if (watch && gs->ops->ban_watch) {
		news = gs->ops->ban_watch(gs->store, gs->wake_fd, (int)timeout_ms) > 0;
	} else {
		struct pollfd p = { .fd = gs->wake_fd, .events = POLLIN };
		(void)poll(&p, 1, (int)timeout_ms);
	}
	uint64_t v;
	(void)!read(gs->wake_fd, &v, sizeof(v)); /* non-blocking: clears it */
	return news;
}

static void *sync_main(void *arg)
{
	struct guard_sync *gs = arg;
	uint64_t next_read = 0, next_purge = util_now_ms() + SYNC_PURGE_MS;
	bool news = false;

	while (!atomic_load(&gs->stop)) {
		struct guard_limits lim;
		guard_limits_get(gs->g, &lim);
		count_failures(gs, &lim);
		uint64_t now = util_now_ms();
		unsigned timeout = SYNC_POLL_MS;
		if (lim.ban_failures) {
			if (news || now >= next_read) {
				read_bans(gs);
				next_read = now + SYNC_POLL_MS;
			}
			if (now >= next_purge) {
				struct ban_rule rule;
				rule_from(&lim, &rule);
				(void)gs->ops->ban_purge(gs->store, &rule, wall_ms());
				next_purge = now + SYNC_PURGE_MS;
			}
			now = util_now_ms();
			timeout = next_read > now ? (unsigned)(next_read - now) : 0;
		}
		news = wait_news(gs, lim.ban_failures != 0, timeout);
	}
	return NULL;
}

int guard_sync_start(struct guard_sync **out, struct guard *g, const struct userstore_ops *ops,
		     const struct config *cfg, struct metrics *m, char *err, size_t errsz)
{
	*out = NULL;
	if (!ops->ban_fail) {
		(void)snprintf(err, errsz, "[store] backend '%s' cannot share bans", ops->name);
		return -ENOTSUP;
	}
	struct guard_sync *gs = util_xcalloc(1, sizeof(*gs));
	gs->g = g;
	gs->ops = ops;
	gs->m = m;
	atomic_init(&gs->stop, false);
	gs->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (gs->wake_fd < 0) {
		int r = -errno;
		(void)snprintf(err, errsz, "bans: eventfd: %s", strerror(-r));
		free(gs);
		return r;
	}
	int r = ops->open(cfg, USERSTORE_LAZY, &gs->store, err, errsz);
	if (r) {
		(void)close(gs->wake_fd);
		free(gs);
		return r;
	}
	guard_share(g, wake, gs);
	r = -pthread_create(&gs->thread, NULL, sync_main, gs);
	if (r) {
		guard_share(g, NULL, NULL);
		(void)snprintf(err, errsz, "bans: cannot start a thread: %s", strerror(-r));
		ops->close(gs->store);
		(void)close(gs->wake_fd);
		free(gs);
		return r;
	}
	*out = gs;
	return 0;
}

void guard_sync_stop(struct guard_sync *gs)
{
	if (!gs)
		return;
	guard_share(gs->g, NULL, NULL); /* no wake() after this */
	atomic_store(&gs->stop, true);
	wake(gs);
	(void)pthread_join(gs->thread, NULL);
	gs->ops->close(gs->store);
	(void)close(gs->wake_fd);
	free(gs);
}
