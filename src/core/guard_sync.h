/* guard_sync: the guard's failed-login counts and bans shared by every
 * ferryd that uses the same store (several nodes on one PostgreSQL
 * database, or several ferryd on one SQLite file), so that wrong passwords
 * spread over the nodes count together and a ban made on one node refuses
 * the address on all of them.
 *
 * One thread per ferryd with a store handle (a connection) of its own: it
 * counts each failed login the guard queued (guard_failure_share) in the
 * store, whose one-statement decision (userstore.h ban_fail) adds up every
 * node's; and it keeps the guard's copy of the store's bans current, at
 * once on PostgreSQL's NOTIFY (ban_watch) and by reading them every half
 * second (SQLite, and a fallback), so the connect-time check stays a local
 * lookup (guard_connect) that never waits for the database. While the store
 * is unreachable each node counts on its own (the guard always does) and
 * sharing resumes when the store is back. Nothing runs while [limits]
 * ban_failures is 0. */
#ifndef FERRY_GUARD_SYNC_H
#define FERRY_GUARD_SYNC_H

#include "guard.h"
#include "metrics.h"
#include "userstore.h"

struct config;
struct guard_sync;

/* Opens a store handle for cfg (lazily: a PostgreSQL store connects at
 * the thread's first query) and starts the thread. Borrows g and m until
 * guard_sync_stop, cfg only during the call. 0, or -errno with a message
 * in err. */
int guard_sync_start(struct guard_sync **out, struct guard *g, const struct userstore_ops *ops,
		     const struct config *cfg, struct metrics *m, char *err, size_t errsz);
/* Turns sharing off in the guard, stops and joins the thread, closes the
 * handle and frees gs (NULL is fine). */
void guard_sync_stop(struct guard_sync *gs);

#endif
