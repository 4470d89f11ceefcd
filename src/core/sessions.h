/* sessions: a worker's sessions of every protocol, as the server layer
 * sees them: `ferry status` lists them, `ferry kick` closes them and
 * [server] max_sessions evicts the oldest one not logged in, without
 * knowing any front-end's types. Each front-end (ftp/, sftp/) embeds a
 * struct sessions_entry in its session, adds it when the session starts,
 * removes it when it closes, and gives the ops. One registry per worker,
 * used on that worker's thread only (sessions_prelogin_since excepted). */
#ifndef FERRY_SESSIONS_H
#define FERRY_SESSIONS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sessions_entry;

/* What a status line shows of a session, filled by its front-end; every
 * pointer is the session's own, valid until it next runs. */
struct sessions_view {
	const char *user;  /* "" or NULL: not logged in */
	const char *state; /* "login", "idle", "transfer" (or the protocol's own, e.g. "proxy") */
	const char *extra; /* the protocol's own fields ("tls=no"), or NULL */
	bool xfer;	   /* a transfer is running: */
	const char *verb, *path;
	uint64_t bytes, size;
};

struct sessions_ops {
	const char *protocol; /* "ftp", "sftp": shown as protocol= */
	void (*view)(const struct sessions_entry *e, struct sessions_view *v);
	/* Closes the session now (`ferry kick`), telling the client why where
	 * the protocol can; e leaves the registry before this returns. */
	void (*kick)(struct sessions_entry *e);
	/* [server] max_sessions: closes e, a session not logged in, to make
	 * room for a new one (logged and counted); e leaves the registry
	 * before this returns. False if e has logged in after all (then it
	 * has left the list of those that have not). */
	bool (*evict)(struct sessions_entry *e);
};

struct sessions_entry {
	const struct sessions_ops *ops;
	struct sessions_entry *prev, *next;	  /* every session */
	struct sessions_entry *pl_prev, *pl_next; /* those not logged in, oldest first */
	uint64_t id;
	const char *peer;	 /* the client's address as text (the session's own buffer) */
	uint64_t active_ms;	 /* the client's last request (util_now_ms) */
	uint64_t prelogin_since; /* util_now_ms when it last joined the list of those not logged in */
	bool listed, prelogin;
};

struct sessions {
	struct sessions_entry *head;
	struct sessions_entry *pl_head, *pl_tail;
	/* Since when the oldest session not logged in is so (0: none); read by
	 * other workers to choose whom to evict. */
	atomic_uint_fast64_t prelogin_since;
	size_t count;
};

/* Adds e (the session's; borrowed until sessions_remove) with its ops and
 * id; peer is the session's address text buffer (read at each listing). */
void sessions_add(struct sessions *reg, struct sessions_entry *e, const struct sessions_ops *ops, uint64_t id,
		  const char *peer);
/* Removes e from every list; a second call does nothing. */
void sessions_remove(struct sessions *reg, struct sessions_entry *e);
/* The client made a request now (the idle time `ferry status` shows). */
void sessions_touch(struct sessions_entry *e);
/* Keeps e in the list of sessions not logged in exactly while prelogin is
 * true (a session that logs out joins again as the newest). */
void sessions_set_prelogin(struct sessions *reg, struct sessions_entry *e, bool prelogin);
/* Evicts the oldest session not logged in (ops->evict); false if none. */
bool sessions_evict_oldest(struct sessions *reg);
/* Thread-safe: since when the oldest session not logged in is so
 * (util_now_ms), or 0 if every session is logged in. */
uint64_t sessions_prelogin_since(struct sessions *reg);
/* One `ferry status` line (no newline) of e at now (util_now_ms):
 *   ID user="NAME" ip=ADDR protocol=P state=S [extra] idle=Ns
 *   [cmd=VERB path="PATH" bytes=N size=N]
 * client text escaped. */
void sessions_describe(const struct sessions_entry *e, uint64_t now, char *out, size_t outsz);
/* The logged-in user's name of e, or "" (for `ferry kick user NAME`). */
const char *sessions_user(const struct sessions_entry *e);

#endif
