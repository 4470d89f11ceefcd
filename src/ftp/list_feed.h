/* list_feed: a data connection's directory listing made on the job pool.
 * Reading a directory and stat'ing each entry may block for as long as the
 * storage likes (a network file system, a cold disk), so it never runs on a
 * worker's loop: a job makes one bounded chunk of lines (listing.h:
 * listing_next_until), the loop sends it while the next chunk is made, and
 * a chunk is only made once the one before was taken, so a listing holds at
 * most two chunks however large the directory and however slow the client. */
#ifndef FERRY_LIST_FEED_H
#define FERRY_LIST_FEED_H

#include "buf.h"
#include "jobs.h"
#include "listing.h"
#include "loop.h"

struct list_feed;

/* Starts making the chunks of l (another reference is taken: the caller
 * keeps its own) on js; wake(arg) runs on loop each time a chunk waits to
 * be taken after list_feed_take said -EAGAIN. The first chunk is started
 * at once. 0 or -ENOMEM. */
int list_feed_start(struct list_feed **out, struct jobs *js, struct loop *loop, struct listing *l,
		    void (*wake)(void *arg), void *arg);
/* Moves the next chunk into out (which should be empty: its storage is
 * swapped, not copied) and starts the one after. 0 when bytes were moved,
 * 1 when the listing is complete, -EAGAIN while the next chunk is being
 * made (wake follows), -errno if the directory could not be read. */
int list_feed_take(struct list_feed *f, struct buf *out);
/* Jobs of f in flight now (0-2; on f's loop). */
unsigned list_feed_jobs(const struct list_feed *f);
/* Ends the feed (f may be NULL): freed now, or by its job when it returns
 * (the job then only drops its references; wake is never called again). */
void list_feed_cancel(struct list_feed *f);

#endif
