/* CWD CDUP MKD RMD DELE RNFR RNTO SIZE MDTM MLST: file operations through
 * vfs (confined to the user's root by the kernel). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "files.h"
#include "listing.h"
#include "log.h"
#include "parse.h"
#include "path.h"
#include "proto_impl.h"
#include "reply.h"
#include "util.h"
#include "wildmat.h"

bool proto_resolve(struct proto *p, struct slice arg, char *out)
{
	int r = path_resolve(p->cwd, arg, out, PATH_MAX);
	if (r) {
		proto_reply(p, 553, "File name not allowed.");
		return false;
	}
	return true;
}

void proto_reply_errno(struct proto *p, int err)
{
	switch (-err) {
	case ENOENT:
		proto_reply(p, 550, "No such file or directory.");
		break;
	case EACCES:
	case EPERM:
		proto_reply(p, 550, "Permission denied.");
		break;
	case EEXIST:
		proto_reply(p, 550, "File exists.");
		break;
	case ENOTDIR:
		proto_reply(p, 550, "Not a directory.");
		break;
	case EISDIR:
		proto_reply(p, 550, "Is a directory.");
		break;
	case ENOTEMPTY:
		proto_reply(p, 550, "Directory not empty.");
		break;
	case EBUSY:
		proto_reply(p, 550, "Cannot do that to the root directory.");
		break;
	case EXDEV:
	case ELOOP:
		/* SECURITY: a path that would leave the root (or loops) */
		proto_reply(p, 550, "Path not allowed.");
		break;
	case EROFS:
		proto_reply(p, 550, "Read-only file system.");
		break;
	case EDQUOT:
		proto_reply(p, 552, "Exceeded storage allocation (quota).");
		break;
	case ENOSPC:
	case EFBIG:
		proto_reply(p, 552, "Insufficient storage space.");
		break;
	case ENAMETOOLONG:
	case EINVAL:
		proto_reply(p, 553, "File name not allowed.");
		break;
	default:
		proto_reply(p, 451, "Local error: %s.", strerror(-err));
		break;
	}
}

struct files_user proto_files_user(struct proto *p)
{
	return (struct files_user){ .vfs = &p->vfs,
				    .space = p->space,
				    .perms = p->perms,
				    .name = p->user,
				    .atomic = p->cfg->atomic_uploads != 0,
				    .partials = p->cfg->partial_keep_ms != 0,
				    .durable = p->cfg->xfer_fsync != 0,
				    .quota = p->quota };
}

bool proto_files_resolve(struct proto *p, enum files_op op, struct slice arg, char *vpath)
{
	struct files_user u = proto_files_user(p);
	int r = files_resolve(&u, op, p->cwd, arg, vpath);
	if (r == 0)
		return true;
	proto_reply_errno(p, r); /* 550 refused, 553 a name that cannot be used */
	return false;
}

bool proto_allow(struct proto *p, enum files_op op)
{
	struct files_user u = proto_files_user(p);
	int r = files_allow_somewhere(&u, op); /* the path decides next (files_resolve) */
	if (r == 0)
		return true;
	proto_reply_errno(p, r); /* -EACCES: 550 Permission denied. */
	return false;
}

/* Sends "257 "path" text" with quotes doubled (RFC 959 Appendix II). */
static void reply_257(struct proto *p, const char *vpath, const char *text)
{
	char quoted[PATH_MAX * 2];
	if (reply_quote_path(vpath, quoted, sizeof(quoted)) != 0) {
		proto_reply(p, 257, "\"\" %s", text);
		return;
	}
	proto_reply(p, 257, "\"%s\" %s", quoted, text);
}

static void change_dir(struct proto *p, struct slice arg, int code)
{
	char vpath[PATH_MAX];
	if (!proto_files_resolve(p, FILES_OP_CHDIR, arg, vpath))
		return;
	struct files_user u = proto_files_user(p);
	int r = files_chdir(&u, vpath);
	if (r) {
		proto_reply_errno(p, r);
		return;
	}
	proto_set_str(&p->cwd, vpath);
	proto_reply(p, code, "Directory successfully changed.");
}

void cmd_cwd(struct proto *p, struct slice arg)
{
	change_dir(p, arg, 250);
}

void cmd_cdup(struct proto *p, struct slice arg)
{
	/* RFC 959 §4.1.1: replies identical to CWD's. */
	change_dir(p, SLICE_LIT(".."), 250);
}

void cmd_mkd(struct proto *p, struct slice arg)
{
	char vpath[PATH_MAX];
	if (!proto_files_resolve(p, FILES_OP_MKDIR, arg, vpath))
		return;
	struct files_user u = proto_files_user(p);
	int r = files_mkdir(&u, vpath);
	if (r) {
		proto_reply_errno(p, r);
		return;
	}
	reply_257(p, vpath, "created.");
}

void cmd_rmd(struct proto *p, struct slice arg)
{
	char vpath[PATH_MAX];
	if (!proto_files_resolve(p, FILES_OP_RMDIR, arg, vpath))
		return;
	struct files_user u = proto_files_user(p);
	int r = files_rmdir(&u, vpath);
	if (r) {
		proto_reply_errno(p, r);
		return;
	}
	proto_reply(p, 250, "Directory removed.");
}

void cmd_dele(struct proto *p, struct slice arg)
{
	char vpath[PATH_MAX];
	if (!proto_files_resolve(p, FILES_OP_DELETE, arg, vpath))
		return;
	struct files_user u = proto_files_user(p);
	int r = files_delete(&u, vpath);
	if (r) {
		proto_reply_errno(p, r);
		return;
	}
	proto_reply(p, 250, "File deleted.");
}

void cmd_rnfr(struct proto *p, struct slice arg)
{
	char vpath[PATH_MAX];
	if (!proto_files_resolve(p, FILES_OP_RENAME, arg, vpath))
		return;
	struct files_user u = proto_files_user(p);
	int r = files_rename_check(&u, vpath);
	if (r) {
		proto_reply_errno(p, r);
		return;
	}
	/* Decision 5: 350 only when the source exists. */
	free(p->rnfr);
	p->rnfr = util_xstrdup(vpath);
	proto_reply(p, 350, "Ready for RNTO.");
}

void cmd_rnto(struct proto *p, struct slice arg)
{
	char vpath[PATH_MAX];
	if (!p->rnfr) {
		proto_reply(p, 503, "RNFR required first.");
		return;
	}
	char *from = p->rnfr;
	p->rnfr = NULL; /* an RNTO always ends the pair, whatever its outcome */
	if (proto_files_resolve(p, FILES_OP_RENAME, arg, vpath)) {
		struct files_user u = proto_files_user(p);
		int r = files_rename(&u, from, vpath);
		if (r == -EXDEV) /* from and to in different roots (files.h): never copied */
			proto_reply(p, 553, "Cannot rename across a shared folder or file system boundary.");
		else if (r)
			proto_reply_errno(p, r);
		else
			proto_reply(p, 250, "Rename successful.");
	}
	free(from);
}

/* The TYPE A count of SIZE, from the job pool. */
static void size_counted(struct proto *p, const struct proto_result *r)
{
	vfs_fd_close(p->xfer_fd);
	p->xfer_fd = -1;
	if (r && r->err == -EFBIG)
		proto_reply(p, 550, "File too large for SIZE in ASCII mode; use TYPE I.");
	else if (!r || r->err)
		proto_reply_errno(p, r && r->err ? r->err : -EIO);
	else
		proto_reply(p, 213, "%llu", (unsigned long long)r->bytes);
}

void cmd_size(struct proto *p, struct slice arg)
{
	char vpath[PATH_MAX];
	if (!proto_files_resolve(p, FILES_OP_READ, arg, vpath))
		return;
	struct files_user u = proto_files_user(p);
	/* Resumable uploads: the uploader's own interrupted upload of this
	 * file is what curl -C - and lftp put -c continue from (vfs.h). */
	uint64_t partial;
	if (p->type != 'A' && files_partial_size(&u, vpath, &partial) == 0) {
		proto_reply(p, 213, "%llu", (unsigned long long)partial);
		return;
	}
	struct files_read f;
	int r = files_open_read(&u, vpath, 0, &f);
	if (r && f.not_plain) {
		proto_reply(p, 550, "Not a plain file.");
		return;
	}
	if (r) {
		proto_reply_errno(p, r);
		return;
	}
	int fd = f.fd;
	uint64_t size = f.size;
	if (p->type == 'A') {
		/* RFC 3659 §4: the exact octet count for the current TYPE. */
		if (size > ASCII_SIZE_LIMIT) {
			vfs_fd_close(fd);
			proto_reply(p, 550, "File too large for SIZE in ASCII mode; use TYPE I.");
			return;
		}
		/* Counting reads the file: never on the loop (size_counted). */
		p->xfer_fd = fd;
		proto_count_ascii(p, fd, size_counted);
		return;
	}
	vfs_fd_close(fd);
	proto_reply(p, 213, "%llu", (unsigned long long)size);
}

static void format_time(time_t t, char out[16])
{
	struct tm tm;
	(void)gmtime_r(&t, &tm);
	(void)strftime(out, 16, "%Y%m%d%H%M%S", &tm);
}

void cmd_mdtm(struct proto *p, struct slice arg)
{
	char vpath[PATH_MAX], when[16];
	time_t mtime;
	if (!proto_files_resolve(p, FILES_OP_MTIME, arg, vpath))
		return;
	struct files_user u = proto_files_user(p);
	if (files_mtime(&u, vpath, &mtime) != 0) {
		proto_reply(p, 550, "Could not get file modification time.");
		return;
	}
	format_time(mtime, when);
	proto_reply(p, 213, "%s", when);
}

void cmd_mlst(struct proto *p, struct slice arg)
{
	char vpath[PATH_MAX];
	struct stat st;
	if (!proto_files_resolve(p, FILES_OP_LIST, arg.n ? arg : SLICE_LIT("."), vpath))
		return;
	struct files_user u = proto_files_user(p);
	int r = files_stat(&u, vpath, &st);
	if (r) {
		proto_reply_errno(p, r);
		return;
	}
	struct listing_opts o = { .facts = p->mlst_facts, .perms = p->perms, .now = 0 };
	struct buf line;
	buf_init(&line, PATH_MAX * 2);
	const char *type = S_ISDIR(st.st_mode) ? (arg.n ? "dir" : "cdir") : NULL; /* NULL: from st_mode */
	if (listing_facts_line(&line, vpath, &st, type, true, &o) != 0) {
		buf_free(&line);
		proto_reply(p, 550, "Name too long to list.");
		return;
	}
	/* The fact line is sent as is (it starts with a space), without its CRLF. */
	proto_reply_begin(p, 250, "Listing %s", vpath);
	if (buf_append(&p->out, buf_data(&line), line.len) != 0)
		p->out_overflow = true;
	buf_free(&line);
	proto_reply_end(p, 250, "End");
}

/* MFMT time path (draft-somers-ftp-mfxx): set the modification time. */
void cmd_mfmt(struct proto *p, struct slice arg)
{
	struct slice when, name;
	int64_t sec;
	long nsec;
	char vpath[PATH_MAX], shown[16];
	if (!slice_split(arg, ' ', &when, &name) || name.n == 0 || parse_time_val(when, &sec, &nsec) != 0) {
		proto_reply(p, 501, "MFMT needs YYYYMMDDHHMMSS and a path.");
		return;
	}
	if (!proto_files_resolve(p, FILES_OP_SET_TIME, name, vpath))
		return;
	struct files_user u = proto_files_user(p);
	struct timespec ts = { .tv_sec = (time_t)sec, .tv_nsec = nsec };
	int r = files_set_mtime(&u, vpath, &ts);
	if (r) {
		proto_reply_errno(p, r);
		return;
	}
	format_time((time_t)sec, shown);
	proto_reply(p, 213, "Modify=%s; %s", shown, path_basename(vpath)[0] ? path_basename(vpath) : "/");
}

/* MFF fact=value;... path: the settable facts are modify and UNIX.mode.
 * The list's trailing ';' is optional and facts that cannot be set are
 * ignored when a settable one comes with them: ncftp sends
 * "MFF Modify=t;Create=t path" after each upload. Only a list with nothing
 * settable in it is refused (504). */
void cmd_mff(struct proto *p, struct slice arg)
{
	struct slice facts, name;
	char vpath[PATH_MAX], shown[16];
	if (!slice_split(arg, ' ', &facts, &name) || name.n == 0 || facts.n == 0) {
		proto_reply(p, 501, "MFF needs fact=value;... and a path.");
		return;
	}
	bool set_time = false, set_mode = false;
	int64_t sec = 0;
	long nsec = 0;
	uint64_t mode = 0;
	struct slice rest = facts;
	while (rest.n) {
		struct slice one, key, val;
		(void)slice_split(rest, ';', &one, &rest);
		if (one.n == 0)
			continue;
		if (!slice_split(one, '=', &key, &val)) {
			proto_reply(p, 501, "MFF facts are fact=value;.");
			return;
		}
		if (slice_eq_ci(key, "modify")) {
			if (parse_time_val(val, &sec, &nsec) != 0) {
				proto_reply(p, 501, "MFF modify needs YYYYMMDDHHMMSS.");
				return;
			}
			set_time = true;
		} else if (slice_eq_ci(key, "UNIX.mode")) {
			if (parse_octal(val, 07777, &mode) != 0) {
				proto_reply(p, 501, "MFF UNIX.mode needs octal digits.");
				return;
			}
			set_mode = true;
		}
	}
	if (!set_time && !set_mode) {
		proto_reply(p, 504, "Only the modify and UNIX.mode facts can be set.");
		return;
	}
	if ((set_mode && !proto_allow(p, FILES_OP_SET_MODE)) ||
	    !proto_files_resolve(p, set_time ? FILES_OP_SET_TIME : FILES_OP_SET_MODE, name, vpath))
		return;
	struct files_user u = proto_files_user(p);
	int r = 0;
	if (set_mode)
		r = files_set_mode(&u, vpath, (mode_t)(mode & 07777));
	if (r == 0 && set_time) {
		struct timespec ts = { .tv_sec = (time_t)sec, .tv_nsec = nsec };
		r = files_set_mtime(&u, vpath, &ts);
	}
	if (r) {
		proto_reply_errno(p, r);
		return;
	}
	char echo[96] = "";
	size_t o = 0;
	if (set_time) {
		format_time((time_t)sec, shown);
		o += (size_t)snprintf(echo + o, sizeof(echo) - o, "modify=%s;", shown);
	}
	if (set_mode)
		(void)snprintf(echo + o, sizeof(echo) - o, "UNIX.mode=%04o;", (unsigned)(mode & 0777));
	proto_reply(p, 213, "%s %s", echo, path_basename(vpath)[0] ? path_basename(vpath) : "/");
}

int proto_list_glob(struct proto *p, struct slice arg, enum listing_format fmt, const struct listing_opts *o,
		    void (*then)(struct proto *, const struct proto_result *))
{
	char literal[PATH_MAX], vpath[PATH_MAX];
	struct stat st;
	/* Only the last component is a pattern; "*" + "/x" is the path "*" + "/x". */
	const char *slash = arg.n ? memrchr(arg.p, '/', arg.n) : NULL;
	struct slice dir = { arg.p, slash ? (size_t)(slash - arg.p) + 1 : 0 };
	struct slice pat = { arg.p + dir.n, arg.n - dir.n };
	if (!wildmat_has_magic(pat) || pat.n > NAME_MAX)
		return 0;
	/* A file really named "a*b" is listed as itself. */
	struct files_user u = proto_files_user(p);
	if (path_resolve(p->cwd, arg, literal, sizeof(literal)) == 0 && files_lstat(&u, literal, &st) == 0)
		return 0;
	/* SECURITY: the directory part is resolved and opened like any path
	 * (openat2 inside the root); the pattern only filters its entries. */
	if (!proto_resolve(p, dir.n ? dir : SLICE_LIT("."), vpath))
		return -1;
	struct listing *l = NULL;
	int r = files_list_open(&u, vpath, fmt, o, &l);
	if (r == 0)
		r = listing_set_pattern(l, pat, fmt == LISTING_NLST ? dir : (struct slice){ "", 0 });
	if (r) {
		listing_free(l);
		proto_reply_errno(p, r);
		return -1;
	}
	p->xfer_listing = l;
	proto_set_str(&p->xfer_name, vpath);
	proto_read_listing(p, l, NULL, 0, then);
	return 1;
}

bool proto_list_glob_found(struct proto *p, const struct proto_result *r)
{
	int err = r ? r->err : -EIO;
	if (err == 0 && r->bytes)
		return true;
	listing_free(p->xfer_listing);
	p->xfer_listing = NULL;
	if (err == 0)
		/* RFC 959 §5.4 gives 450, not 550, for LIST/NLST; curl reads a 450
		 * as "no matching files". */
		proto_reply(p, 450, "No files match that pattern.");
	else
		proto_reply_errno(p, err);
	return false;
}

/* SITE CHMOD mode path (Decision 17; ProFTPD mod_site syntax, as lftp's
 * chmod and mirror -R send it). SECURITY: permission bits only. The files
 * belong to the service account, so a set-user-ID or set-group-ID bit would
 * let anyone on the host who can reach an uploaded program run it as that
 * account, and set-group-ID or sticky directories change how others' files
 * behave; those bits are left out and the reply says so rather than
 * failing, because lftp mirrors whatever mode the local file has. */
void cmd_site_chmod(struct proto *p, struct slice arg)
{
	struct slice mode_s, name;
	uint64_t mode;
	char vpath[PATH_MAX];
	if (!slice_split(arg, ' ', &mode_s, &name) || name.n == 0 || parse_octal(mode_s, 07777, &mode) != 0) {
		proto_reply(p, 501, "SITE CHMOD needs an octal mode (at most 7777) and a path.");
		return;
	}
	if (!proto_files_resolve(p, FILES_OP_SET_MODE, name, vpath))
		return;
	struct files_user u = proto_files_user(p);
	int r = files_set_mode(&u, vpath, (mode_t)mode); /* set-ID and sticky bits dropped there */
	if (r) {
		proto_reply_errno(p, r);
		return;
	}
	proto_reply(p, 200, "SITE CHMOD command successful%s.",
		    (mode & ~(uint64_t)0777) ? " (set-ID and sticky bits left out)" : "");
}

/* STAT path: a LIST of the path over the control connection (RFC 959
 * §4.1.3): 213 for a file, 212 for a directory, bounded in size. A
 * directory is read on the job pool (stat_listed). */
#define STAT_LINES_MAX (128u * 1024u)

static void stat_reply(struct proto *p, int code, const char *vpath, bool truncated)
{
	proto_reply_begin(p, code, "Status of %s:", vpath);
	struct slice rest = buf_slice(&p->xfer_buf), line;
	while (rest.n && slice_split(rest, '\n', &line, &rest)) {
		if (line.n && line.p[line.n - 1] == '\r')
			line.n--;
		proto_reply_cont(p, "%.*s", (int)line.n, line.p);
	}
	buf_free(&p->xfer_buf);
	buf_init(&p->xfer_buf, 64 * 1024);
	proto_reply_end(p, code, truncated ? "End of status (listing cut short; use LIST)." : "End of status.");
}

static void stat_listed(struct proto *p, const struct proto_result *r)
{
	listing_free(p->xfer_listing);
	p->xfer_listing = NULL;
	int err = r ? r->err : -EIO;
	if (err) {
		buf_free(&p->xfer_buf);
		buf_init(&p->xfer_buf, 64 * 1024);
		proto_reply_errno(p, err);
		return;
	}
	stat_reply(p, 212, p->xfer_name, r->bytes != 0);
}

void cmd_stat_path(struct proto *p, struct slice arg)
{
	struct listing_opts o = { .perms = p->perms, .now = p->wall_s, .facts = p->mlst_facts };
	char vpath[PATH_MAX];
	struct stat st;
	if (!proto_files_resolve(p, FILES_OP_LIST, arg, vpath))
		return;
	struct files_user u = proto_files_user(p);
	int r = files_lstat(&u, vpath, &st);
	if (r) {
		proto_reply_errno(p, r);
		return;
	}
	/* No transfer runs (STAT with a path during one is refused), so the
	 * transfer's listing and one-line buffer are free to use. */
	buf_free(&p->xfer_buf);
	buf_init(&p->xfer_buf, STAT_LINES_MAX);
	if (S_ISDIR(st.st_mode)) {
		struct listing *l = NULL;
		r = files_list_open(&u, vpath, LISTING_LIST, &o, &l);
		if (r == 0) {
			p->xfer_listing = l;
			proto_set_str(&p->xfer_name, vpath);
			proto_read_listing(p, l, &p->xfer_buf, 16 * 1024, stat_listed);
			return;
		}
	} else {
		r = listing_list_line(&p->xfer_buf, path_basename(vpath), &st, NULL, &o);
	}
	if (r) {
		buf_free(&p->xfer_buf);
		buf_init(&p->xfer_buf, 64 * 1024);
		proto_reply_errno(p, r);
		return;
	}
	stat_reply(p, 213, vpath, false);
}
