/* datachan_impl: what datachan.c shares with datachan_sec.c, the RFC 2228
 * §6 protected-block transport of the same data connection. Not for other
 * callers: the public API is datachan.h. */
#ifndef FERRY_DATACHAN_IMPL_H
#define FERRY_DATACHAN_IMPL_H

#include <stddef.h>
#include <sys/types.h>

#include "datachan.h"

/* Bytes moved per read/write step (file, socket, listing chunk). */
#define DATACHAN_CHUNK (64u * 1024u)

/* datachan.c */

/* Ends the running transfer: closes the connection, keeps a passive
 * listener lingering, calls d->done once. */
void datachan_finish(struct datachan *d, enum proto_xfer_status st, int err);
/* Progress: re-arms the idle timeout. */
void datachan_touch(struct datachan *d);
/* Appends the next bytes to send (file, TYPE A converted; listing; prepared
 * line) to d->out. 0, 1 when there are no more, or -errno. */
int datachan_fill(struct datachan *d);
/* Stores received bytes in the upload, CRLF → LF first under TYPE A.
 * Borrows p. 0 or -errno. */
int datachan_store(struct datachan *d, const char *p, size_t n);
/* The upload is complete: writes a CR that TYPE A still holds. */
int datachan_store_end(struct datachan *d);

/* One non-blocking recv(2) on the data connection (plain TCP): the bytes
 * read into dst (0 at EOF), -EAGAIN when none are there yet, or -errno. */
ssize_t datachan_recv(struct datachan *d, char *dst, size_t n);

/* datachan_sec.c */

/* Prepares a protected transfer (d->x.gss_prot set): the plaintext per
 * block that fits PBSZ and the block buffer. -EPROTO when no block fits (or
 * there is no security context): the transfer fails with 535. */
int datachan_sec_start(struct datachan *d);
/* Sends d's source as protected blocks, then the empty block; finishes the
 * transfer when all is out. */
void datachan_sec_pump_send(struct datachan *d);
/* Reads protected blocks, unwraps and stores them; the empty block
 * completes the upload. */
void datachan_sec_pump_recv(struct datachan *d);

#endif
