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
 * between two logins (documented; a shared reservation would cost a store
 * round trip per write). */
#ifndef FERRY_QUOTA_H
#define FERRY_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

struct jobs;
struct quota_book;
struct quota_user;

/* A book whose store updates go to jobs (borrowed; must outlive the book
 * and the uploads: jobs_stop before quota_book_free). */
struct quota_book *quota_book_new(struct jobs *jobs);
void quota_book_free(struct quota_book *b);
/* The job pool stopped: changes from now on reach memory only (the
 * sessions closed at shutdown; ferry quota scan recounts). NULL: nothing. */
void quota_book_stop(struct quota_book *b);

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
	struct quota_user *q; /* a reference of its own; NULL: not counted */
	uint64_t base;	      /* bytes of the target already counted (its old size) */
	bool old_file;	      /* the target exists: no new file */
	bool file_reserved;   /* a new file's slot is reserved */
	uint64_t pos;	      /* the size the file reaches after what is written */
	uint64_t reserved;    /* bytes reserved beyond base */
};

/* Pure: the bytes an upload at pos must have reserved to write n more
 * over a target counted at base (nothing while it only rewrites base). */
uint64_t quota_need(uint64_t base, uint64_t pos, uint64_t n);

/* Starts u's account (u->q already a reference, base/old_file/pos set):
 * refuses (-EDQUOT, the reference given back) a new file past quota-files
 * or when no byte is left; else reserves the new file's slot. */
int quota_upload_start(struct quota_upload *u);
/* How many of the next want bytes may be written (reserving them): want,
 * or less at the quota (0: not one more byte). */
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
