/* guard: per-client-address and per-user abuse limits, shared by all
 * workers (a client's connections land on any worker: all of them accept
 * from the daemon's one listening socket per address, each through its own
 * dup, woken one at a time by LOOP_EXCLUSIVE).
 *
 * Addresses are grouped as attackers hold them: an IPv4 address is one
 * client, an IPv6 client is its /64 (one host gets a whole /64 and can pick
 * any address in it). Time is passed in (milliseconds, monotonic), so the
 * module is pure and unit-tested without clocks. Thread-safe. */
#ifndef FERRY_GUARD_H
#define FERRY_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct guard_limits {
	unsigned max_per_ip;	/* concurrent sessions per address group; 0 = no limit */
	unsigned max_per_user;	/* concurrent logged-in sessions per user; 0 = no limit */
	unsigned connect_rate;	/* new connections per second per group (sustained); 0 = no limit */
	unsigned connect_burst; /* ... and how many may come at once */
	unsigned ban_failures;	/* failed logins within ban_window that start a ban; 0 = never */
	uint32_t ban_window_ms;
	uint32_t ban_time_ms; /* first ban; each repeat offence doubles it ... */
	uint32_t ban_max_ms;  /* ... up to this */
};

struct guard_key {
	unsigned char b[16]; /* IPv4 as v4-mapped IPv6; IPv6 as its /64 */
};

enum guard_verdict {
	GUARD_OK,     /* counted: call guard_disconnect when the session ends */
	GUARD_BANNED, /* too many failed logins from this group lately */
	GUARD_RATE,   /* connecting faster than connect_rate/connect_burst */
	GUARD_PER_IP, /* max_per_ip sessions already open */
};

struct guard;

/* The group an address belongs to. */
void guard_key_from_addr(const struct sockaddr_storage *ss, struct guard_key *k);
/* The group as text for logs: "192.0.2.1" or "2001:db8:1:2::/64". */
void guard_key_format(const struct guard_key *k, char *out, size_t outsz);

/* Returns a new guard (caller owns; guard_free). */
struct guard *guard_new(const struct guard_limits *lim);
void guard_free(struct guard *g);
/* New limits (SIGHUP); counts and bans are kept. */
void guard_set_limits(struct guard *g, const struct guard_limits *lim);

/* A new connection from k. On anything but GUARD_OK, *retry_ms (if not
 * NULL) says when trying again may succeed (0 = unknown). */
enum guard_verdict guard_connect(struct guard *g, const struct guard_key *k, uint64_t now_ms, uint64_t *retry_ms);
/* The end of a session that guard_connect counted. */
void guard_disconnect(struct guard *g, const struct guard_key *k);
/* A failed login from k. Returns the length of the ban this failure started
 * (ms), or 0. Sessions already open are not touched: the caller decides. */
uint64_t guard_login_failed(struct guard *g, const struct guard_key *k, uint64_t now_ms);

/* A successful login of user: false when max_per_user sessions are already
 * logged in (then nothing is counted). Each true is paired with one
 * guard_user_release. */
bool guard_user_acquire(struct guard *g, const char *user);
/* The same with the limit max instead of max_per_user (0: max_per_user):
 * a [host NAME] max_per_user for its users. */
bool guard_user_acquire_max(struct guard *g, const char *user, unsigned max);
void guard_user_release(struct guard *g, const char *user);

/* Groups banned at now_ms (metrics, tests). */
unsigned guard_bans_active(struct guard *g, uint64_t now_ms);

/* Parses an address ("192.0.2.1", "2001:db8::5") or a group as
 * guard_key_format writes it ("2001:db8:1:2::/64") into its group; -EINVAL
 * for anything else. */
int guard_key_parse(const char *text, struct guard_key *k);

/* Sharing with the other nodes through the store (guard_sync.c). Counting
 * stays here too (guard_login_failed), so a node bans on what it saw
 * itself at once and while the store is unreachable; the store's count,
 * which adds up every node's, bans as soon as it answers, and its bans
 * replace this node's own for the same group. */

/* A failed login waiting to be counted in the store. */
struct guard_failure {
	struct guard_key key;
	uint64_t at_ms; /* monotonic, as guard_login_failed's now_ms */
	uint64_t sid;	/* the session, for the ban's log line */
	char ip[64];	/* the client's address as logged */
};

/* Turns sharing on (notify(arg) is called, under the guard's lock so it
 * never runs after sharing is off, each time a failure is queued; it must
 * not block) or off (notify NULL: the queue is dropped). */
void guard_share(struct guard *g, void (*notify)(void *arg), void *arg);
/* Queues a failed login for the store (when sharing and bans are on);
 * dropped, and counted, when the queue is full. */
void guard_failure_share(struct guard *g, const struct guard_key *k, uint64_t now_ms, uint64_t sid, const char *ip);
/* Takes up to n queued failures, oldest first; *dropped gets the number
 * dropped since the last call. */
size_t guard_failures_take(struct guard *g, struct guard_failure *out, size_t n, uint64_t *dropped);
/* The limits in force (a reload may change them). */
void guard_limits_get(struct guard *g, struct guard_limits *out);
/* The store holds a ban of k until until_ms (monotonic, converted by the
 * caller): it becomes k's ban here. Returns true when k was not banned
 * here at now_ms. */
bool guard_ban_apply(struct guard *g, const struct guard_key *k, uint64_t until_ms, uint64_t now_ms);
/* A pass over every ban the store holds: guard_bans_pass, guard_ban_apply
 * for each, then guard_bans_pass_end, which lifts the bans that came from
 * the store and are no longer in it (ferry ban del), forgetting the
 * group's failures and offences too; it returns how many it lifted. A ban
 * the store never confirmed (counted here while it was unreachable) is
 * left to expire. */
void guard_bans_pass(struct guard *g);
unsigned guard_bans_pass_end(struct guard *g, uint64_t now_ms);

#endif
