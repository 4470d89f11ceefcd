/* admin: the local admin socket ([admin] socket) that `ferry status` and
 * `ferry kick` talk to. Access control is the file's permissions: the
 * socket belongs to the service user, mode 0660 (root, the service user
 * and its group may connect). One request line per connection:
 *   "status"   → one line per session of any protocol (sessions_describe),
 *                then "."
 *   "kick ID"  → "kicked ID" or "no session ID"
 *   "kick user NAME", "kick ip ADDR" → "kicked ID" for each session of
 *                that user (logged in) or from that address, or
 *                "no session user=NAME" / "no session ip=ADDR"
 * Requests are served on the main loop; session lists are read on each
 * worker's own thread (loop_post), never across threads. */
#ifndef FERRY_ADMIN_H
#define FERRY_ADMIN_H

#include <stddef.h>
#include <sys/types.h>

struct loop;
struct worker;
struct admin;

/* Binds and listens on path (a stale socket there is replaced), owned by
 * uid/gid when running as root, mode 0660. */
int admin_listen(const char *path, uid_t uid, gid_t gid, int *fd, char *err, size_t errsz);
/* Serves fd (takes ownership) on loop; workers are borrowed until
 * admin_stop. */
int admin_start(struct admin **out, struct loop *loop, int fd, struct worker *workers, unsigned n);
/* Stops listening; requests in flight finish later (they own themselves). */
void admin_stop(struct admin *a);

#endif
