/* files: the file service, what a logged-in user does to files whatever
 * the protocol (FTP today, SFTP next). The permission decision, the
 * operations over fs/vfs and the event that ends each transfer live here
 * once, so a second front-end cannot skip or reword them; a front-end
 * parses its arguments, calls these functions and maps the negative errno
 * they return to its own replies. */
#ifndef FERRY_FILES_H
#define FERRY_FILES_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "listing.h"
#include "policy.h"
#include "quota.h"
#include "str.h"
#include "userstore.h"
#include "vfs.h"
#include "vfs_dir.h"

/* What a user asks to do; files_allow decides each from the user's
 * PERM_* bits (userstore.h). */
enum files_op {
	FILES_OP_CHDIR,	   /* enter a directory: no bit (FTP CWD, CDUP) */
	FILES_OP_MTIME,	   /* a file's modification time: no bit (FTP MDTM) */
	FILES_OP_LIST,	   /* list a directory or stat a name: "list" */
	FILES_OP_READ,	   /* read a file or its size: "read" */
	FILES_OP_UPLOAD,   /* create, replace, resume or append: "write" */
	FILES_OP_SET_TIME, /* set the modification time: "write" */
	FILES_OP_SET_MODE, /* set the permission bits: "write" */
	FILES_OP_MKDIR,	   /* "mkdir" */
	FILES_OP_RMDIR,	   /* "delete" */
	FILES_OP_DELETE,   /* "delete" */
	FILES_OP_RENAME,   /* "rename" */
	FILES_OP_SYMLINK,  /* make a symbolic link (a new name): "write" */
	FILES_OP_LINK,	   /* make a hard link (a new name): "write" */
	FILES_OP_COUNT
};

/* The one permission decision: 0 when a user with perms may do op, else
 * -EACCES. Checked before the path is even resolved, so a refused user
 * learns nothing about the tree. */
int files_allow(uint32_t perms, enum files_op op);

/* A logged-in user's tree beyond the home (issue 18; core/files_space.c):
 * shared folders, each a directory outside the home with its own root
 * descriptor, mounted at a virtual path, and per-directory permissions.
 * A virtual path resolves in the root of the longest mount whose path it
 * is at or below (the home's when none), relative to that root, so the
 * kernel's RESOLVE_IN_ROOT confines it to that one directory; its
 * permission bits are those of the deepest dir-perms or mount-with-PERMS
 * at or above it (a dir-perms on the mount's own path beats the mount's
 * PERMS), else the user's. */
struct files_mount {
	char *vpath; /* "/shared" */
	struct vfs vfs;
	uint32_t perms;
	bool has_perms; /* else the user's perms (or a dir-perms) apply inside */
};
struct files_rule {
	char *vpath;
	uint32_t perms;
};
struct files_space {
	struct files_mount *mounts;
	size_t n_mounts;
	struct files_rule *rules;
	size_t n_rules;
};

/* The user an operation is for; all borrowed. */
struct files_user {
	struct vfs *vfs;		 /* the user's confined root (fs/vfs.h) */
	const struct files_space *space; /* mounts and dir-perms; NULL: the home alone */
	uint32_t perms;			 /* PERM_* */
	const char *name;		 /* owner of resumable partials; NULL: none */
	bool atomic;			 /* [transfer] atomic_uploads: temporary + rename */
	bool partials;			 /* [transfer] partial_keep: interrupted uploads stay resumable */
	bool durable;			 /* [transfer] fsync: a commit is on disk before it succeeds */
	/* The user's quota (quota.h; NULL: none): uploads into the home
	 * reserve against it, and commits, deletes and renames over a file
	 * there change its usage (shared folders are nobody's: not counted). */
	struct quota_user *quota;
	/* Where an upload's write waits for the store (quota.h GRANTS: the
	 * node's grant is short and a take runs): NULL never waits. */
	struct quota_wait *quota_wait;
};

/* Opens the home of a user who just logged in as the root of all their
 * paths (fs/vfs.h). SECURITY: a home outside roots (the [sandbox] roots;
 * "" none) is refused (-EPERM) before the open, which Landlock would
 * refuse anyway, so the log says why; either failure is logged. */
int files_open_home(uint64_t sid, const char *user, const char *home, const char *roots, struct vfs *v);

/* Opens the shared folders of policy (mounts: each directory opened as
 * files_open_home opens a home, with the same [sandbox] roots check) and
 * takes its dir-perms, for a user who just logged in. A folder that cannot
 * be opened is logged and left out; the login goes on. *out is NULL when
 * the policy has neither (files_space_free). */
void files_space_open(uint64_t sid, const char *user, const struct policy_attrs *policy, const char *roots,
		      struct files_space **out);
void files_space_free(struct files_space *s);
/* Blocking (job pool, start-up): calls fn with the directory of every
 * shared folder a user or a group of store s names (a directory may come
 * more than once), e.g. for the stale upload clean-up. 0, the store's
 * -errno, or fn's non-zero. */
int files_space_dirs(const struct userstore_ops *ops, struct userstore *s, int (*fn)(const char *dir, void *arg),
		     void *arg);

/* Where vpath lands (pure: strings only): the root it resolves in, the
 * path relative to that root ("/" for a mount point itself), the mount
 * (NULL: the home) and the permission bits that apply there. */
struct files_where {
	struct vfs *vfs;
	const struct files_mount *mount;
	uint32_t perms;
	char sub[PATH_MAX];
};
int files_where(const struct files_user *u, const char *vpath, struct files_where *w);
/* The permission bits that apply at vpath (files_where's). */
uint32_t files_perms_at(const struct files_user *u, const char *vpath);
/* Calls fn for each mount point directly inside directory vpath (its name
 * and the stat of its root): what a listing of vpath adds. */
int files_space_children(const struct files_user *u, const char *vpath,
			 int (*fn)(const char *name, const struct stat *st, void *arg), void *arg);
/* Whether op is allowed anywhere in u's tree (the user's bits, a mount's or
 * a dir-perms'): a front-end's early refusal before it has a path. */
int files_allow_somewhere(const struct files_user *u, enum files_op op);

/* ---- operations: each asks files_allow itself, then acts through vfs;
 * 0 or a negative errno the front-end maps to its reply ---- */

/* The start of every operation on a client path: files_allow for op,
 * then arg joined onto cwd into vpath (PATH_MAX). A refusal comes before
 * the name is looked at (-EACCES); a name that cannot be used is
 * -ENAMETOOLONG or -EINVAL. */
int files_resolve(const struct files_user *u, enum files_op op, const char *cwd, struct slice arg, char *vpath);
/* Whether vpath is a directory the user (and the service account) can
 * enter: -ENOTDIR, or the error opening it. */
int files_chdir(const struct files_user *u, const char *vpath);
/* The modification time of the plain file vpath (-EISDIR otherwise). */
int files_mtime(const struct files_user *u, const char *vpath, time_t *mtime);
int files_mkdir(const struct files_user *u, const char *vpath);
int files_rmdir(const struct files_user *u, const char *vpath);
/* Removes a file or symlink, never a directory (-EISDIR). */
int files_delete(const struct files_user *u, const char *vpath);
/* Whether vpath can be renamed: it must exist (the link itself). */
int files_rename_check(const struct files_user *u, const char *vpath);
/* Renames within the root, replacing an existing file; -EXDEV when from
 * and to lie in different roots (the home and a shared folder, or two
 * folders): a rename never crosses a mount point. */
int files_rename(const struct files_user *u, const char *from, const char *to);
int files_set_mtime(const struct files_user *u, const char *vpath, const struct timespec *mtime);
/* Sets the permission bits of mode; set-ID and sticky bits are dropped. */
int files_set_mode(const struct files_user *u, const char *vpath, mode_t mode);

/* Links (SFTP's READLINK, SYMLINK, hardlink, lsetstat): the target text of
 * the symbolic link vpath (needs "list"); a symbolic link vpath to target,
 * stored as given and only ever followed inside the root (fs/vfs.h); a hard
 * link to of from, both inside the root; the time and mode of vpath itself
 * (a final link not followed), as files_set_mtime and files_set_mode. */
int files_readlink(const struct files_user *u, const char *vpath, char *out, size_t outsz);
int files_symlink(const struct files_user *u, const char *target, const char *vpath);
int files_hardlink(const struct files_user *u, const char *from, const char *to);
int files_lset_mtime(const struct files_user *u, const char *vpath, const struct timespec *mtime);
int files_lset_mode(const struct files_user *u, const char *vpath, mode_t mode);

/* stat (following links inside the root) and lstat of vpath, for a user
 * who may list. */
int files_stat(const struct files_user *u, const char *vpath, struct stat *st);
int files_lstat(const struct files_user *u, const char *vpath, struct stat *st);
/* Starts streaming the entries of directory vpath in format fmt (fs/
 * listing.h); *out is the caller's (listing_free). -ENOTDIR if it is not
 * a directory. */
int files_list_open(const struct files_user *u, const char *vpath, enum listing_format fmt,
		    const struct listing_opts *o, struct listing **out);

/* A file opened for reading (files_open_read). */
struct files_read {
	int fd;		/* the caller closes it (vfs_fd_close); -1 when none */
	uint64_t size;	/* its size when opened */
	bool not_plain; /* refused because it is a directory, FIFO or device */
};
/* Opens the plain file vpath for reading from offset. A directory is
 * -EISDIR and any other non-plain file -EACCES (a FIFO or a device must
 * neither block nor be read), both with not_plain; an offset beyond the
 * end is -ERANGE. Never blocks (O_NONBLOCK). */
int files_open_read(const struct files_user *u, const char *vpath, uint64_t offset, struct files_read *out);
/* The size of the user's own interrupted upload of vpath, which a resumed
 * upload continues from (-ENOENT when none is kept). */
int files_partial_size(const struct files_user *u, const char *vpath, uint64_t *size);

/* Starts an upload to vpath (fs/vfs.h: REPLACE writes a temporary that
 * only files_upload_end's commit puts under the name; APPEND; RESUME at
 * offset; UNIQUE a fresh name in the directory vpath). A kept partial of
 * the user's own is what REPLACE at an offset and APPEND continue. *out
 * (returned, owned by the caller until files_upload_end) has the fd to
 * write. -ERANGE: a RESUME offset past the end (or of no file). */
int files_upload_begin(const struct files_user *u, const char *vpath, enum vfs_upload_mode mode, uint64_t offset,
		       struct vfs_upload **out);
/* Ends an upload and frees up: complete commits it (the rename into place,
 * with the fsyncs first when the user's uploads are durable, so then it
 * blocks: job pool; its error is returned), interrupted keeps it as the uploader's resumable
 * partial (a stream whose byte offsets mean something: not TYPE A), else
 * the temporary is discarded and any old file stays. */
int files_upload_end(struct vfs_upload *up, bool complete, bool interrupted);
/* The quota's check of every write of an upload (FTP's reads; cheap:
 * nothing at all without a quota, a lock taken only when the file grows
 * past what is reserved): 0 and *ok = how many of the next want bytes
 * may be written, want or fewer (any part of want the node's grant holds;
 * 0: none, the quota is reached); the front-end stops the upload with
 * -EDQUOT (FTP 552) when it has more than that to write, and
 * files_upload_end then discards it. -EINPROGRESS: the node's grant is
 * empty and a take runs (quota.h GRANTS), the upload's quota_wait is told
 * when it ends; ask again then (nothing was reserved). */
int files_upload_ask(struct vfs_upload *up, uint64_t want, uint64_t *ok);
/* The upload's writes wait on w from now on (FTP: its data channel's). */
void files_upload_set_wait(struct vfs_upload *up, struct quota_wait *w);
/* n of the granted bytes are in the file. */
void files_upload_wrote(struct vfs_upload *up, uint64_t n);
/* A write of n bytes at offset (SFTP; an append's goes to the end
 * whatever its offset): 0 when the quota has room for what it adds to the
 * file (reserved), else -EDQUOT; -EINPROGRESS as files_upload_ask (the
 * request is answered once asked again). Likewise files_upload_copy,
 * files_upload_truncate and files_truncate. */
int files_upload_reserve(struct vfs_upload *up, uint64_t offset, uint64_t n);
/* Server-side copy (SFTP copy-data): n bytes of in (borrowed) from off_in
 * into the upload at off_out, after files_upload_reserve's check; as
 * vfs_fd_copy (*copied: how many went). */
int files_upload_copy(struct vfs_upload *up, int in, uint64_t off_in, uint64_t off_out, size_t n, size_t *copied);
/* Cuts or extends the file of an upload to vpath (SFTP FSETSTAT size) for
 * a user who may upload there (files_perms_at); an extension is reserved
 * against the quota first (-EDQUOT). */
int files_upload_truncate(const struct files_user *u, const char *vpath, struct vfs_upload *up, uint64_t size);

/* ---- open files and directories (SFTP's handles): core/files_fd.c ---- */

/* Starts reading directory vpath entry by entry (fs/vfs_dir.h), for a user
 * who may list; *out is the caller's (vfs_dir_close). */
int files_dir_open(const struct files_user *u, const char *vpath, struct vfs_dir **out);
/* The modification time and the permission bits (set-ID and sticky bits
 * dropped) of a file the user has open (fd, borrowed) at vpath, asked of
 * files_allow with the bits that apply there (files_perms_at), as by path. */
int files_fd_set_mtime(const struct files_user *u, const char *vpath, int fd, const struct timespec *mtime);
int files_fd_set_mode(const struct files_user *u, const char *vpath, int fd, mode_t mode);
/* The size of the plain file vpath (cut or extended), for a user who may
 * upload; in the home of a user with a quota, an extension past it is
 * -EDQUOT and the change is counted. */
int files_truncate(const struct files_user *u, const char *vpath, uint64_t size);
/* The figures of the file system holding vpath, for a user who may list;
 * with a quota, the free and available blocks and files are at most what
 * is left of it. */
int files_statvfs(const struct files_user *u, const char *vpath, struct statvfs *out);
/* The same for fd (borrowed), a file the user has open at vpath. */
int files_fd_statvfs(const struct files_user *u, const char *vpath, int fd, struct statvfs *out);
/* The bytes the user may still upload into directory vpath (FTP AVBL):
 * what is left of the quota's bytes, or without one the
 * file system's space available to unprivileged users (statvfs f_bavail *
 * f_frsize), whichever is less. -ENOTDIR for a file, or the lookup's
 * error. Needs no permission bit. */
int files_available(const struct files_user *u, const char *vpath, uint64_t *bytes);

/* ---- events: every transfer's end, raised once ---- */

enum files_xfer {
	FILES_XFER_READ,  /* a download */
	FILES_XFER_WRITE, /* an upload (store, append, unique) */
	FILES_XFER_LIST,  /* a directory listing */
};

enum files_result { FILES_OK, FILES_ABORTED, FILES_FAILED };

/* One transfer's outcome; all strings borrowed. */
struct files_event {
	uint64_t sid;
	const char *user; /* NULL: logged as "" */
	const char *ip;
	const char *protocol; /* "ftp", "ftps", "sftp": for the hooks; logged when not FTP's */
	const char *home;     /* the user's home: hooks get home + path */
	enum files_xfer kind;
	const char *cmd;  /* the text log's name: RETR STOR APPE STOU LIST */
	const char *verb; /* the event logs' name: the same, or NLST/MLSD for a listing */
	const char *path; /* virtual path */
	uint64_t bytes;
	uint64_t duration_ms;
	enum files_result result;
	const char *reason; /* one token, NULL when ok ("conn-lost", "disk-full"...) */
	bool local_error;   /* logged with error="strerror(err)" */
	int err;
	bool ascii; /* TYPE A */
};

struct metrics;
struct hooks;
/* Where events go besides the logs; either may be NULL. */
struct files_sink {
	struct metrics *metrics;
	struct hooks *hooks;
};

/* The text log's "transfer: ..." line for ev into out (pure; fail2ban and
 * the tests read this exact form). Returns the length, truncated at n - 1. */
size_t files_event_line(const struct files_event *ev, char *out, size_t n);
/* Raises ev once: the text log, [log] xferlog and [log] json (log_xfer),
 * the transfer and byte counters, and for a completed upload the hooks.
 * sink may be NULL (no metrics, no hooks). */
void files_event(const struct files_sink *sink, const struct files_event *ev);

#endif
