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
void guard_user_release(struct guard *g, const char *user);

/* Groups banned at now_ms (metrics, tests). */
unsigned guard_bans_active(struct guard *g, uint64_t now_ms);

#endif
