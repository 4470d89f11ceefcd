/* quota: users' byte and file quotas (issue 18), enforced in core so no
 * front-end can skip them.
 *
 * THE MODEL. A user's quota is its effective quota-bytes / quota-files
 * (policy_eff.h: the user's own, else its first group's that sets one;
 * 0 = none). A quota set on a group is a limit for each member on its
 * own, NOT a pool the members share: usage is counted per user (table
 * quota_usage, one row per user), which is what keeps it exact. What
 * counts: every regular file under the home by its size (st_size), upload
 * temporaries and kept partials left out (ferry quota scan counts alike).
 * Only users with a quota are counted as they go; `ferry quota scan NAME`
 * recounts from disk (after a quota is first set, or after files changed
 * outside ferry).
 *
 * THE BOOK. One per ferryd, shared by its workers: per user, the usage
 * last read from the store plus this process's committed changes (used)
 * and the bytes and new files its running uploads have reserved
 * (inflight). An upload reserves before each write (quota_reserve): the
 * reservation either fits in quota - used - inflight or is refused, under
 * the book's lock, so concurrent uploads of one user in this process
 * never pass the quota together. A commit turns the reservation into used
 * and sends the change to the store on the job pool (one statement adding
 * the delta, so every node's changes add up); a discarded upload only
 * gives its reservation back. Across nodes the store is the meeting
 * point: each node reads it at a user's login when none of that user's
 * uploads is running there, so two nodes can each admit up to the quota
 * between two logins (a book without grants: the unit tests', and
 * after quota_book_stop).
 *
 * GRANTS (quota_book_grants: ferryd's book). The nodes sharing a store
 * never admit more than the quota together: a node's uploads reserve
 * bytes from a grant the node took in the store (policy.h
 * policy_grant_take: one transaction that locks the user's usage row and
 * adds min(room, max(need, chunk)) to the node's row of quota_grants,
 * room being the quota less the usage and every node's live grants), not
 * from quota - used. The grant is taken in chunks (quota_grant_chunk), on
 * the job pool: an upload whose next
 * write does not fit in the node's grant pauses (quota_upload_reserve:
 * -EINPROGRESS) until the take's answer comes back on its loop through
 * its struct quota_wait; a refused take is the quota error. A commit
 * adds the change to the usage and gives its reservation back to the
 * store's grant (in that order: in between the store counts more, never
 * less); when the user's last upload on the node ends, the unused grant
 * goes back too. A grant counts until it expires (quota_book_grants'
 * expiry); the node renews its grants every third of that
 * (quota_book_renew, ferryd's main loop), so a killed node's grants stop
 * counting one expiry after it died, and ferry quota scan drops expired
 * ones. The start of a new file and the file count are still checked on
 * the node's own book (used as read at login): file quotas are per node
 * between logins, as before. */
#ifndef FERRY_QUOTA_H
#define FERRY_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

struct jobs;
struct loop;
struct quota_book;
struct quota_user;
struct quota_take;

/* A take asks for a 16th of the quota, at least QUOTA_GRANT_MIN and at
 * most QUOTA_GRANT_MAX: what one node may hold unused while the others
 * are refused (until its uploads of the user end), against one store
 * round trip per chunk written. */
#define QUOTA_GRANT_MIN (64ull << 10)
#define QUOTA_GRANT_MAX (16ull << 20)
/* Pure: the chunk a take for a quota of limit bytes asks for. */
uint64_t quota_grant_chunk(uint64_t limit);

/* A book whose store updates go to jobs (borrowed; must outlive the book
 * and the uploads: jobs_stop before quota_book_free). */
struct quota_book *quota_book_new(struct jobs *jobs);
void quota_book_free(struct quota_book *b);
/* The job pool stopped: changes from now on reach memory only (the
 * sessions closed at shutdown; ferry quota scan recounts). NULL: nothing. */
void quota_book_stop(struct quota_book *b);
/* Uploads reserve from grants taken in the store for node (copied; a
 * name unique to this process, NULL: "HOST:PID:RANDOM") that expire
 * after expiry_s seconds unless renewed (GRANTS above): a timer on loop
 * (ferryd's main loop; called on its thread) renews them every third of
 * that. Before the first session. */
void quota_book_grants(struct quota_book *b, struct loop *loop, const char *node, unsigned expiry_s);
/* This node's name in the store (NULL: no grants). */
const char *quota_book_node(const struct quota_book *b);
/* Renews every grant of this node in the store, on the job pool. NULL
 * or no grants: nothing. */
void quota_book_renew(struct quota_book *b);
/* Stops the renewals and gives back every grant of this node, on the
 * job pool (at shutdown, on the loop's thread, before jobs_stop). */
void quota_book_release(struct quota_book *b);

/* A session's wait for a take (GRANTS above): owned by the front-end, on
 * its loop. fn(arg) runs on loop when the take ended: the upload asks
 * again (quota_upload_reserve), and after a refusal (refused) gets its
 * answer from the book alone: the quota error. */
struct quota_wait {
	struct loop *loop;
	void (*fn)(void *arg);
	void *arg;
	struct quota_take *take; /* running, or NULL */
	bool refused;		 /* the last take found no room (consumed by the next ask) */
};
/* The session ends (on its loop): a running take finishes without it. */
void quota_wait_cancel(struct quota_wait *w);

/* A logged-in session's hold on user's entry (returned: one reference,
 * given back with quota_user_put), limits bytes/files (0 = none) taking
 * effect for every session of the user; with store_known the usage the
 * store gave at this login (read from read_us on, util_now_us) replaces
 * the book's when nothing of the user's is in flight here: no upload, no
 * change on its way to the store, none arrived there after the read. NULL
 * when both limits are 0 (nothing to count). Entries stay until the book
 * is freed (one per user with a quota who logged in). */
struct quota_user *quota_user_get(struct quota_book *b, const char *user, uint64_t limit_bytes, uint64_t limit_files,
				  bool store_known, uint64_t store_bytes, uint64_t store_files, uint64_t read_us);
struct quota_user *quota_user_ref(struct quota_user *q); /* one more reference */
void quota_user_put(struct quota_user *q);		 /* NULL: nothing */

/* What is left: bytes and files (UINT64_MAX: no such limit), after used
 * and what running uploads reserved. */
void quota_user_left(struct quota_user *q, uint64_t *bytes, uint64_t *files);

/* ---- one upload's account (files.c keeps one per upload) ---- */
struct quota_upload {
	struct quota_user *q;	 /* a reference of its own; NULL: not counted */
	uint64_t base;		 /* bytes of the target already counted (its old size) */
	bool old_file;		 /* the target exists: no new file */
	bool file_reserved;	 /* a new file's slot is reserved */
	uint64_t pos;		 /* the size the file reaches after what is written */
	uint64_t reserved;	 /* bytes reserved beyond base */
	struct quota_wait *wait; /* borrowed; NULL: never waits (a short grant is the quota) */
	bool counted;		 /* counted in the user's running uploads */
	bool refused;		 /* the store refused it a grant: the book alone answers */
};

/* Pure: the bytes an upload at pos must have reserved to write n more
 * over a target counted at base (nothing while it only rewrites base). */
uint64_t quota_need(uint64_t base, uint64_t pos, uint64_t n);

/* Starts u's account (u->q already a reference, base/old_file/pos set):
 * refuses (-EDQUOT, the reference given back) a new file past quota-files
 * or when no byte is left; else reserves the new file's slot. */
int quota_upload_start(struct quota_upload *u);
/* How many of the next want bytes may be written (reserving them): 0 and
 * *ok = want, or less at the quota (0: not one more byte); -EINPROGRESS
 * when the node's grant is short and u->wait is set: a take runs, u->wait
 * is told when it ends, ask again then (nothing was reserved). partial:
 * want is only how much the caller could take (FTP's reads), so any part
 * of it the grant holds is an answer, and a take is only for an empty
 * grant; else the grant is short when it lacks any of want. */
int quota_upload_reserve(struct quota_upload *u, uint64_t want, bool partial, uint64_t *ok);
/* The same, never waiting (a short grant is the quota). */
uint64_t quota_upload_grant(struct quota_upload *u, uint64_t want);
/* n granted bytes were written. */
void quota_upload_wrote(struct quota_upload *u, uint64_t n);
/* Ends the account: with kept (the file is in place: committed, or written
 * in place) its size is now final_size, else nothing changed on disk.
 * Gives the reservation back, adds the change to used and sends it to the
 * store. Drops u's reference. Thread-safe (a durable commit ends on the
 * job pool). */
void quota_upload_end(struct quota_upload *u, bool kept, uint64_t final_size);

/* A file of size bytes (files 1) or a change of usage outside uploads
 * (files_delete, a rename over a file): added to used and the store. */
void quota_user_change(struct quota_user *q, int64_t dbytes, int64_t dfiles);

#endif
