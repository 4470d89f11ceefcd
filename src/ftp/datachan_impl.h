/* datachan_impl.h: what datachan.c (set-up, the end of a transfer) and
 * datachan_pump.c (the byte pumps) share; not for other files. One module
 * split for size: the two call each other (scripts/check-circles.py). */
#ifndef FERRY_DATACHAN_IMPL_H
#define FERRY_DATACHAN_IMPL_H

#include "datachan.h"

/* Bytes moved per read/write step (file, socket, listing chunk). */
#define CHUNK (64u * 1024u)
#define SENDFILE_CHUNK (1u << 20)
/* Bytes one wake-up may send before the loop serves the worker's other
 * sessions (epoll reports the socket writable again at once): ~3 ms at
 * loopback speed, and one more epoll_wait per 8 MiB costs nothing. */
#define SEND_BURST (8u << 20)
/* datachan.c */
void datachan_finish(struct datachan *d, enum proto_xfer_status st, int err);
void datachan_touch(struct datachan *d);
void datachan_watch_conn(struct datachan *d);

/* datachan_pump.c */
void datachan_pump(struct datachan *d);
void datachan_lost(struct datachan *d, int r);
/* The bytes the next step may move (at most want): all of them without a
 * rate limit; 0 pauses the transfer until the buckets hold enough. */
uint64_t datachan_rate_take(struct datachan *d, uint64_t want);
void datachan_rate_give_back(struct datachan *d, uint64_t n);
/* An upload's quota grant came (or was refused): the pump goes on. */
void datachan_quota_resume(void *arg);

#endif
