/* writebehind: a durable upload's write-behind, for FTP's data channel and
 * SFTP's WRITEs alike. Every WRITEBEHIND_BYTES that reach the upload's
 * file, a job of the pool's I/O class asks the kernel to start writing
 * what arrived so far (vfs_upload_writebehind: sync_file_range, no waiting
 * for it to finish), so the commit's fsync at the end finds little left to
 * do instead of the whole file. sync_file_range can wait for the device's
 * queue (tens of ms seen on this machine's disk), which a loop must not.
 * One job at a time per upload: while one runs, the next waits for the
 * following bytes. The job has a descriptor of its own, so the upload may
 * end (its fd closed) while the job runs. */
#ifndef FERRY_WRITEBEHIND_H
#define FERRY_WRITEBEHIND_H

#include <stddef.h>
#include <stdint.h>

struct jobs;
struct loop;
struct writebehind_job;

#define WRITEBEHIND_BYTES (8u << 20)

/* One upload's state; zero-initialized = nothing written yet. */
struct writebehind {
	uint64_t unflushed;	     /* bytes written since the last job started */
	struct writebehind_job *job; /* in flight, if any */
};

/* n more bytes of the upload are in fd (borrowed): starts a job on jobs
 * (its end comes back on owner, the upload's loop) once WRITEBEHIND_BYTES
 * have come since the last, and none runs. Best effort: nothing happens
 * if the descriptor cannot be duplicated. */
void writebehind_add(struct writebehind *w, struct jobs *jobs, struct loop *owner, int fd, size_t n);

/* The upload ended (or w's memory goes): a job in flight finishes on its
 * own and no longer points at w. w is zeroed. */
void writebehind_forget(struct writebehind *w);

#endif
