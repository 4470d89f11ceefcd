/* hooks: upload-complete hooks ([hooks] upload_exec, upload_url), run in a
 * process of their own (forked before the sandbox, so the programs they
 * start do not inherit seccomp and Landlock), on threads there with a
 * concurrency limit, a timeout, and a bounded queue. A hook never affects
 * the transfer's reply: failures are logged. The only libcurl user. */
#ifndef FERRY_HOOKS_H
#define FERRY_HOOKS_H

#include <stdint.h>

/* One committed upload; all strings borrowed (copied by hooks_upload). */
struct hook_upload {
	uint64_t sid;
	const char *user;
	const char *vpath; /* virtual path */
	const char *home;  /* the user's home: FERRY_FILE = home + vpath */
	const char *ip;
	const char *protocol; /* "ftp" or "ftps" */
	uint64_t bytes;
};

struct hooks;
/* Forks the hook runner (call before the sandbox and before any thread),
 * which starts `concurrency` threads; exec or url may be empty (not both).
 * exec is run with no arguments and the details in FERRY_* variables; url
 * gets a JSON POST, retried up to 3 times. timeout_ms bounds each run or
 * each attempt. */
int hooks_start(struct hooks **out, const char *exec, const char *url, unsigned concurrency, uint32_t timeout_ms);
/* Queues the hooks for u (thread-safe). Users take turns; when the queue
 * is full, the newest hook of the user with the most waiting is dropped
 * (u's own when that is u's user), with a warning and hooks_dropped. */
void hooks_upload(struct hooks *h, const struct hook_upload *u);
/* Thread-safe: hooks dropped so far (queue full, runner unreachable);
 * 0 for NULL. */
uint64_t hooks_dropped(const struct hooks *h);
/* Drops what is queued, lets running hooks finish (or time out), then
 * stops the threads; NULL is fine. */
void hooks_stop(struct hooks *h);

#endif
