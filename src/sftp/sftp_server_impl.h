/* sftp_server_impl: inside the SFTP server, shared by sftp_server.c
 * (the dispatch, requests by path), sftp_files.c (handles) and
 * sftp_check.c (check-file on the job pool); nothing else includes it.
 * Calls run one way: sftp_server.c → sftp_check.c → sftp_files.c. */
#ifndef FERRY_SFTP_SERVER_IMPL_H
#define FERRY_SFTP_SERVER_IMPL_H

#include "sftp_impl.h"
#include "sftp_codec.h"
#include "vfs_dir.h"
#include "quota.h"
#include "writebehind.h"

/* Handles open at once per channel (limits@openssh.com says so). */
#define SFTP_MAX_HANDLES 64u

enum sftp_handle_kind { SFTP_H_FREE, SFTP_H_READ, SFTP_H_WRITE, SFTP_H_DIR };

struct sftp_handle {
	enum sftp_handle_kind kind;
	uint16_t gen; /* so a closed handle's bytes do not name its successor */
	char *vpath;
	int fd;		       /* READ; WRITE: up->fd */
	struct vfs_upload *up; /* WRITE */
	struct vfs_dir *dir;   /* DIR */
	const char *cmd;       /* the event's name: RETR, STOR, APPE */
	uint64_t bytes;
	uint64_t started_ms;
	int err;	       /* WRITE: the first write error; the upload then fails */
	bool committing;       /* WRITE: CLOSE's durable commit runs (up is the job's) */
	struct writebehind wb; /* WRITE: a durable upload's write-behind */
};

struct sftp_server {
	struct sftp_server_conf c;
	bool inited;
	struct sftp_handle h[SFTP_MAX_HANDLES];
	uint64_t rate_wait_us;	  /* sftp_server_rate_wait */
	uint64_t copied;	  /* the copy-data at the front of the input: bytes so far */
	struct sftp_check *check; /* the check-file at the front of the input (sftp_check.c) */
	struct sftp_sync *sync;	  /* the fsync@openssh.com or durable CLOSE at the front of the input (sftp_sync.c) */
	struct quota_wait qwait;  /* the request at the front waits for a quota grant (core/quota.h) */
	bool quota_retry;	  /* ...and passed rate_admit already */
};

/* sftp_files.c: helpers sftp_server.c uses too */
/* The SFTP status for a negative errno (as OpenSSH's sftp-server maps). */
enum sftp_status sftp_status_of(int err);
/* STATUS for err (0: OK) with its text. */
int sftp_reply_errno(struct buf *out, uint32_t id, int err);
void sftp_attrs_from_stat(const struct stat *st, struct sftp_attrs *a);
/* statvfs@openssh.com's eleven fields. */
void sftp_statvfs_fields(const struct statvfs *sv, uint64_t f[11]);

/* sftp_files.c: requests on handles; each appends its reply to out. */
void sftp_files_open(struct sftp_server *srv, const struct sftp_req *r, struct buf *out);
void sftp_files_opendir(struct sftp_server *srv, const struct sftp_req *r, struct buf *out);
void sftp_files_close(struct sftp_server *srv, const struct sftp_req *r, struct buf *out);
void sftp_files_read(struct sftp_server *srv, const struct sftp_req *r, struct buf *out);
void sftp_files_write(struct sftp_server *srv, const struct sftp_req *r, struct buf *out);
void sftp_files_readdir(struct sftp_server *srv, const struct sftp_req *r, struct buf *out);
void sftp_files_fstat(struct sftp_server *srv, const struct sftp_req *r, struct buf *out);
void sftp_files_fsetstat(struct sftp_server *srv, const struct sftp_req *r, struct buf *out);
void sftp_files_fstatvfs(struct sftp_server *srv, const struct sftp_req *r, struct buf *out);
/* copy-data, one bounded step (SFTP_COPY_STEP bytes): false while more
 * is to come (the same request is given again), true once it was answered. */
#define SFTP_COPY_STEP (8u * 1024u * 1024u)
bool sftp_files_copy_step(struct sftp_server *srv, const struct sftp_req *r, struct buf *out);
/* CLOSE of a durable upload ([transfer] fsync): the upload, which the
 * caller's commit job now owns (files_upload_end), the handle staying in
 * the table (committing) until sftp_files_commit_end; NULL when CLOSE is
 * answered at once instead (sftp_files_close: not an upload handle, a
 * failed one, or fsync off). *vpath: the handle's path (borrowed, as long
 * as the handle). */
struct vfs_upload *sftp_files_commit_begin(struct sftp_server *srv, struct slice handle, const char **vpath);
/* The commit of r's handle ended with err: its transfer event, the handle
 * freed, and CLOSE's reply (OK, or FAILURE with the error). */
void sftp_files_commit_end(struct sftp_server *srv, const struct sftp_req *r, int err, struct buf *out);
/* Closes every open handle (the channel ended): lost = aborted uploads. */
void sftp_files_close_all(struct sftp_server *srv);
/* The descriptor and path of a handle open for reading (borrowed), or
 * -EBADF. */
int sftp_files_read_fd(struct sftp_server *srv, struct slice handle, int *fd, const char **vpath);
/* The descriptor of a handle open for reading or writing (borrowed) and
 * its path (borrowed, as long as the handle), or -EBADF. */
int sftp_files_handle_fd(struct sftp_server *srv, struct slice handle, int *fd, const char **vpath);

/* sftp_check.c: check-file-name/-handle, hashed on the job pool. Like
 * copy's step: false while its job runs (the same request is given again
 * once conf.wake was called), true once it was answered. */
bool sftp_check_step(struct sftp_server *srv, const struct sftp_req *r, struct buf *out);
/* A check-file job is running (the session is not idle). */
bool sftp_check_waiting(const struct sftp_server *srv);
/* The channel ended: a running job is cancelled (it frees itself). */
void sftp_check_cancel(struct sftp_server *srv);

/* sftp_sync.c: fsync@openssh.com, an I/O job. Like check's step: false
 * while its job runs, true once it was answered. */
bool sftp_sync_step(struct sftp_server *srv, const struct sftp_req *r, struct buf *out);
/* CLOSE, its durable commit (fsyncs, rename) an I/O job the same way;
 * any other CLOSE is answered at once (sftp_files_close). */
bool sftp_commit_step(struct sftp_server *srv, const struct sftp_req *r, struct buf *out);
/* An fsync or commit job is running (the session is not idle). */
bool sftp_sync_waiting(const struct sftp_server *srv);
/* The channel ended: a running fsync finishes and frees itself. */
void sftp_sync_cancel(struct sftp_server *srv);

#endif
