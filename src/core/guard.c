/* guard: abuse limits per address group and per user (see guard.h).
 *
 * One mutex guards two chained hash tables and, when the bans are shared
 * (guard_sync.c), a bounded ring of failures waiting for the store. Every
 * operation but a store pass's end (one walk of the table, twice a second
 * on the sync thread) is O(1) on average; idle address entries (no session,
 * full token bucket, no recent failures, no ban to remember) are swept when
 * the table has doubled since the last sweep, so a scan from many addresses
 * cannot grow memory for good. */
#include "guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "str.h"
#include "util.h"

#define IP_BUCKETS 4096u
#define USER_BUCKETS 1024u
#define SWEEP_MIN 1024u
#define MILLI 1000u  /* token bucket in thousandths of a connection */
#define OUTBOX 1024u /* failures waiting for the store */

struct ip_entry {
	struct ip_entry *next;
	struct guard_key key;
	unsigned sessions;
	uint64_t tokens;    /* thousandths of a connection */
	uint64_t refill_ms; /* when tokens were last brought up to date */
	unsigned failures;  /* failed logins in the current window */
	uint64_t window_start;
	uint64_t ban_until; /* 0: not banned */
	unsigned offences;  /* bans so far, forgotten ban_max after the last one */
	bool shared;	    /* ban_until is the store's (guard_ban_apply) */
	unsigned seen;	    /* the store pass that last listed it */
};

struct user_entry {
	struct user_entry *next;
	unsigned sessions;
	char name[];
};

struct guard {
	pthread_mutex_t lock;
	struct guard_limits lim;
	struct ip_entry *ips[IP_BUCKETS];
	size_t n_ips, sweep_at;
	struct user_entry *users[USER_BUCKETS];
	/* Sharing (guard_share): failures waiting for the store, a ring. */
	void (*notify)(void *arg);
	void *notify_arg;
	struct guard_failure *outbox;
	size_t out_head, out_n;
	uint64_t dropped;
	unsigned pass; /* the current store pass (guard_bans_pass) */
};

static uint32_t fnv1a(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

void guard_key_from_addr(const struct sockaddr_storage *ss, struct guard_key *k)
{
	memset(k, 0, sizeof(*k));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss;
		k->b[10] = 0xff;
		k->b[11] = 0xff;
		memcpy(k->b + 12, &a->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
			memcpy(k->b, &a->sin6_addr, 16); /* one IPv4 client */
		else
			memcpy(k->b, &a->sin6_addr, 8); /* SECURITY: a host owns its whole /64 */
	}
}

void guard_key_format(const struct guard_key *k, char *out, size_t outsz)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	char text[INET6_ADDRSTRLEN];
	if (memcmp(k->b, mapped, sizeof(mapped)) == 0) {
		if (!inet_ntop(AF_INET, k->b + 12, text, sizeof(text)))
			text[0] = '\0';
		(void)snprintf(out, outsz, "%s", text);
		return;
	}
	if (!inet_ntop(AF_INET6, k->b, text, sizeof(text)))
		text[0] = '\0';
	(void)snprintf(out, outsz, "%s/64", text);
}

struct guard *guard_new(const struct guard_limits *lim)
{
	struct guard *g = util_xcalloc(1, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	g->lim = *lim;
	g->sweep_at = SWEEP_MIN;
	return g;
}

void guard_free(struct guard *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < IP_BUCKETS; i++) {
		while (g->ips[i]) {
			struct ip_entry *e = g->ips[i];
			g->ips[i] = e->next;
			free(e);
		}
	}
	for (size_t i = 0; i < USER_BUCKETS; i++) {
		while (g->users[i]) {
			struct user_entry *u = g->users[i];
			g->users[i] = u->next;
			free(u);
		}
	}
	free(g->outbox);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

void guard_set_limits(struct guard *g, const struct guard_limits *lim)
{
	pthread_mutex_lock(&g->lock);
	g->lim = *lim;
	pthread_mutex_unlock(&g->lock);
}

static uint64_t bucket_cap(const struct guard_limits *lim)
{
	return (uint64_t)(lim->connect_burst ? lim->connect_burst : 1) * MILLI;
}

static void refill(const struct guard_limits *lim, struct ip_entry *e, uint64_t now)
{
	uint64_t cap = bucket_cap(lim);
	if (now > e->refill_ms) {
		/* rate connections per second = rate thousandths per ms */
		uint64_t add = (now - e->refill_ms) * lim->connect_rate;
		e->tokens = e->tokens + add > cap ? cap : e->tokens + add; /* tokens <= cap: no overflow */
	}
	e->refill_ms = now;
}

/* Nothing worth remembering: no session, nothing counted against it. */
static bool idle(const struct guard_limits *lim, struct ip_entry *e, uint64_t now)
{
	if (e->sessions || e->ban_until > now)
		return false;
	if (e->failures && now - e->window_start < lim->ban_window_ms)
		return false;
	if (e->offences && now < e->ban_until + lim->ban_max_ms)
		return false;
	if (!lim->connect_rate)
		return true;
	refill(lim, e, now);
	return e->tokens >= bucket_cap(lim);
}

static void sweep(struct guard *g, uint64_t now)
{
	for (size_t i = 0; i < IP_BUCKETS; i++) {
		struct ip_entry **pp = &g->ips[i];
		while (*pp) {
			struct ip_entry *e = *pp;
			if (idle(&g->lim, e, now)) {
				*pp = e->next;
				free(e);
				g->n_ips--;
			} else {
				pp = &e->next;
			}
		}
	}
	g->sweep_at = g->n_ips * 2 > SWEEP_MIN ? g->n_ips * 2 : SWEEP_MIN;
}

static struct ip_entry *find_ip(struct guard *g, const struct guard_key *k, bool create, uint64_t now)
{
	uint32_t b = fnv1a(k->b, sizeof(k->b)) % IP_BUCKETS;
	for (struct ip_entry *e = g->ips[b]; e; e = e->next)
		if (memcmp(&e->key, k, sizeof(*k)) == 0)
			return e;
	if (!create)
		return NULL;
	if (g->n_ips >= g->sweep_at)
		sweep(g, now);
	struct ip_entry *e = util_xcalloc(1, sizeof(*e));
	e->key = *k;
	e->tokens = bucket_cap(&g->lim);
	e->refill_ms = now;
	e->next = g->ips[b];
	g->ips[b] = e;
	g->n_ips++;
	return e;
}

enum guard_verdict guard_connect(struct guard *g, const struct guard_key *k, uint64_t now_ms, uint64_t *retry_ms)
{
	enum guard_verdict v = GUARD_OK;
	uint64_t retry = 0;
	pthread_mutex_lock(&g->lock);
	const struct guard_limits *lim = &g->lim;
	struct ip_entry *e = find_ip(g, k, true, now_ms);
	if (e->ban_until > now_ms) {
		v = GUARD_BANNED;
		retry = e->ban_until - now_ms;
	} else if (lim->max_per_ip && e->sessions >= lim->max_per_ip) {
		v = GUARD_PER_IP;
	} else if (lim->connect_rate) {
		refill(lim, e, now_ms);
		if (e->tokens < MILLI) {
			v = GUARD_RATE;
			retry = (MILLI - e->tokens + lim->connect_rate - 1) / lim->connect_rate;
		} else {
			e->tokens -= MILLI;
		}
	}
	if (v == GUARD_OK)
		e->sessions++;
	pthread_mutex_unlock(&g->lock);
	if (retry_ms)
		*retry_ms = retry;
	return v;
}

void guard_disconnect(struct guard *g, const struct guard_key *k)
{
	pthread_mutex_lock(&g->lock);
	struct ip_entry *e = find_ip(g, k, false, 0);
	if (e && e->sessions)
		e->sessions--;
	pthread_mutex_unlock(&g->lock);
}

uint64_t guard_login_failed(struct guard *g, const struct guard_key *k, uint64_t now_ms)
{
	uint64_t ban = 0;
	pthread_mutex_lock(&g->lock);
	const struct guard_limits *lim = &g->lim;
	if (lim->ban_failures) {
		struct ip_entry *e = find_ip(g, k, true, now_ms);
		if (e->failures == 0 || now_ms - e->window_start >= lim->ban_window_ms) {
			e->failures = 0;
			e->window_start = now_ms;
		}
		if (++e->failures >= lim->ban_failures) {
			/* A repeat offender within ban_max of the last ban gets double. */
			if (e->offences && now_ms >= e->ban_until + lim->ban_max_ms)
				e->offences = 0;
			ban = lim->ban_time_ms;
			for (unsigned i = 0; i < e->offences && ban < lim->ban_max_ms; i++)
				ban *= 2;
			if (ban > lim->ban_max_ms)
				ban = lim->ban_max_ms;
			e->offences++;
			e->ban_until = now_ms + ban;
			e->failures = 0;
		}
	}
	pthread_mutex_unlock(&g->lock);
	return ban;
}

static struct user_entry **find_user(struct guard *g, const char *user)
{
	uint32_t b = fnv1a((const unsigned char *)user, strlen(user)) % USER_BUCKETS;
	struct user_entry **pp = &g->users[b];
	while (*pp && strcmp((*pp)->name, user) != 0)
		pp = &(*pp)->next;
	return pp;
}

bool guard_user_acquire(struct guard *g, const char *user)
{
	return guard_user_acquire_max(g, user, 0);
}

bool guard_user_acquire_max(struct guard *g, const char *user, unsigned max)
{
	bool ok = true;
	pthread_mutex_lock(&g->lock);
	struct user_entry **pp = find_user(g, user);
	if (!*pp) {
		size_t n = strlen(user) + 1;
		struct user_entry *u = util_xcalloc(1, sizeof(*u) + n);
		memcpy(u->name, user, n);
		*pp = u;
	}
	unsigned lim = max ? max : g->lim.max_per_user;
	if (lim && (*pp)->sessions >= lim)
		ok = false;
	else
		(*pp)->sessions++;
	if ((*pp)->sessions == 0) {
		struct user_entry *u = *pp;
		*pp = u->next;
		free(u);
	}
	pthread_mutex_unlock(&g->lock);
	return ok;
}

void guard_user_release(struct guard *g, const char *user)
{
	pthread_mutex_lock(&g->lock);
	struct user_entry **pp = find_user(g, user);
	if (*pp && (*pp)->sessions && --(*pp)->sessions == 0) {
		struct user_entry *u = *pp;
		*pp = u->next;
		free(u);
	}
	pthread_mutex_unlock(&g->lock);
}

unsigned guard_bans_active(struct guard *g, uint64_t now_ms)
{
	unsigned n = 0;
	pthread_mutex_lock(&g->lock);
	for (size_t i = 0; i < IP_BUCKETS; i++)
		for (struct ip_entry *e = g->ips[i]; e; e = e->next)
			n += e->ban_until > now_ms;
	pthread_mutex_unlock(&g->lock);
	return n;
}

int guard_key_parse(const char *text, struct guard_key *k)
{
	struct sockaddr_storage ss;
	char buf[INET6_ADDRSTRLEN + 4];
	size_t n = strlen(text);

	memset(&ss, 0, sizeof(ss));
	/* A /64 is what an IPv6 group is written as; no other prefix is one. */
	if (n > 3 && strcmp(text + n - 3, "/64") == 0)
		n -= 3;
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, text, n);
	buf[n] = '\0';
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	if (n == strlen(text) && inet_pton(AF_INET, buf, &a4->sin_addr) == 1)
		a4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, buf, &a6->sin6_addr) == 1)
		a6->sin6_family = AF_INET6;
	else
		return -EINVAL;
	guard_key_from_addr(&ss, k);
	return 0;
}

void guard_share(struct guard *g, void (*notify)(void *arg), void *arg)
{
	pthread_mutex_lock(&g->lock);
	g->notify = notify;
	g->notify_arg = arg;
	if (notify && !g->outbox)
		g->outbox = util_xcalloc(OUTBOX, sizeof(*g->outbox));
	g->out_head = g->out_n = 0;
	pthread_mutex_unlock(&g->lock);
}

void guard_failure_share(struct guard *g, const struct guard_key *k, uint64_t now_ms, uint64_t sid, const char *ip)
{
	pthread_mutex_lock(&g->lock);
	if (g->notify && g->lim.ban_failures) {
		if (g->out_n == OUTBOX) {
			g->dropped++;
		} else {
			struct guard_failure *f = &g->outbox[(g->out_head + g->out_n++) % OUTBOX];
			f->key = *k;
			f->at_ms = now_ms;
			f->sid = sid;
			(void)str_copy(f->ip, sizeof(f->ip), ip ? ip : "");
		}
		g->notify(g->notify_arg);
	}
	pthread_mutex_unlock(&g->lock);
}

size_t guard_failures_take(struct guard *g, struct guard_failure *out, size_t n, uint64_t *dropped)
{
	size_t taken = 0;
	pthread_mutex_lock(&g->lock);
	while (taken < n && g->out_n) {
		out[taken++] = g->outbox[g->out_head];
		g->out_head = (g->out_head + 1) % OUTBOX;
		g->out_n--;
	}
	*dropped = g->dropped;
	g->dropped = 0;
	pthread_mutex_unlock(&g->lock);
	return taken;
}

void guard_limits_get(struct guard *g, struct guard_limits *out)
{
	pthread_mutex_lock(&g->lock);
	*out = g->lim;
	pthread_mutex_unlock(&g->lock);
}

bool guard_ban_apply(struct guard *g, const struct guard_key *k, uint64_t until_ms, uint64_t now_ms)
{
	pthread_mutex_lock(&g->lock);
	struct ip_entry *e = find_ip(g, k, true, now_ms);
	bool was = e->ban_until > now_ms;
	/* The store's count includes this node's: its ban is the one. */
	e->ban_until = until_ms;
	e->shared = true;
	e->seen = g->pass;
	pthread_mutex_unlock(&g->lock);
	return !was && until_ms > now_ms;
}

void guard_bans_pass(struct guard *g)
{
	pthread_mutex_lock(&g->lock);
	g->pass++;
	pthread_mutex_unlock(&g->lock);
}

unsigned guard_bans_pass_end(struct guard *g, uint64_t now_ms)
{
	unsigned lifted = 0;
	pthread_mutex_lock(&g->lock);
	for (size_t i = 0; i < IP_BUCKETS; i++) {
		for (struct ip_entry *e = g->ips[i]; e; e = e->next) {
			if (!e->shared || e->seen == g->pass)
				continue;
			/* Gone from the store: lifted there, or ended. */
			if (e->ban_until > now_ms) {
				lifted++;
				e->ban_until = 0;
				e->failures = 0;
				e->offences = 0;
			}
			e->shared = false;
		}
	}
	pthread_mutex_unlock(&g->lock);
	return lifted;
}
