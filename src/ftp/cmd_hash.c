/* cmd_hash: checksums of files (draft-bryan-ftpext-hash-02): HASH, OPTS
 * HASH (cmd_opts calls cmd_opts_hash), RANG (draft-bryan-ftp-range) and the
 * de-facto XCRC, XMD5, XSHA1, XSHA256 and XSHA512. The file is opened here
 * through the file service (confined, read permission, plain files only);
 * the hashing itself (core/hash.c) runs on the job pool as the HASH effect,
 * bounded per user by [limits] hash_jobs. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "hash_args.h"
#include "log.h"
#include "proto_impl.h"
#include "vfs.h"

void cmd_opts_hash(struct proto *p, struct slice arg)
{
	enum hash_alg a;
	if (arg.n == 0) {
		proto_reply(p, 200, "%s", hash_alg_name(p->hash_alg));
		return;
	}
	if (hash_alg_parse(arg, &a) != 0) {
		proto_reply(p, 501, "Unknown algorithm, current selection not changed.");
		return;
	}
	p->hash_alg = (unsigned char)a;
	proto_reply(p, 200, "%s", hash_alg_name(a));
}

void cmd_rang(struct proto *p, struct slice arg)
{
	uint64_t start, end;
	p->rest = 0; /* the later of REST and RANG decides where a transfer starts */
	switch (hash_args_rang(arg, &start, &end)) {
	case HASH_RANG_SET:
		p->rang = true;
		p->rang_start = start;
		p->rang_end = end;
		proto_reply(p, 350, "Restarting at %llu. End byte range at %llu.", (unsigned long long)start,
			    (unsigned long long)end);
		return;
	case HASH_RANG_RESET:
		p->rang = false;
		proto_reply(p, 350, "Byte range reset: whole files from now on.");
		return;
	case HASH_RANG_BACKWARDS:
		p->rang = false;
		proto_reply(p, 501, "The start point is after the end point; byte range reset.");
		return;
	case HASH_RANG_SYNTAX:
		break;
	}
	p->rang = false;
	proto_reply(p, 501, "RANG needs two decimal numbers: start and end (inclusive).");
}

static void hash_done(struct proto *p, const struct proto_result *r)
{
	vfs_fd_close(p->xfer_fd);
	p->xfer_fd = -1;
	int err = r ? r->err : -EIO;
	struct log_escaped e;
	const char *path = log_esc(slice_from_cstr(p->hash_name ? p->hash_name : ""), &e);
	const char *alg = hash_alg_name(p->hash_running);
	if (err == -EBUSY) {
		proto_reply(p, 450, "Too many checksums running for this user; try again later.");
	} else if (err == -ECANCELED) {
		log_info(p->sid, "hash cancelled: the client left");
		proto_reply(p, 451, "Checksum cancelled.");
	} else if (err) {
		log_warn(p->sid, "hash failed: alg=%s path=\"%s\" error=%s", alg, path, strerror(-err));
		proto_reply(p, p->hash_x ? 550 : 451, "Could not read the file.");
	} else {
		if (p->hash_x) {
			char hex[HASH_HEX_MAX];
			(void)str_copy(hex, sizeof(hex), r->hash_hex);
			hash_args_upper(hex);
			proto_reply(p, 250, "%s", hex);
		} else {
			proto_reply(p, 213, "%s %llu-%llu %s %s", alg, (unsigned long long)p->hash_first,
				    (unsigned long long)p->hash_last, r->hash_hex, p->hash_name);
		}
	}
	free(p->hash_name);
	p->hash_name = NULL;
}

/* Starts the HASH effect over fd (kept in p->xfer_fd, which proto closes
 * if the session ends first); name is what the reply and log name. */
static void hash_start(struct proto *p, int fd, enum hash_alg a, struct slice name, uint64_t first, uint64_t last,
		       uint64_t count)
{
	p->xfer_fd = fd;
	p->hash_first = first;
	p->hash_last = last;
	p->hash_running = (unsigned char)a;
	free(p->hash_name);
	p->hash_name = slice_dup(name);
	proto_start_effect(p, (struct proto_effect){ .kind = PROTO_EFFECT_HASH,
						     .hash_fd = fd,
						     .hash_alg = a,
						     .hash_offset = first,
						     .hash_count = count,
						     .hash_path = p->hash_name,
						     .then = hash_done });
}

/* Opens vpath (arg resolved) for a checksum: 0, or a negative errno with
 * nothing replied. */
static int open_arg(struct proto *p, struct slice arg, struct files_read *f)
{
	char vpath[PATH_MAX];
	if (!proto_files_resolve(p, FILES_OP_READ, arg, vpath))
		return -ECANCELED; /* answered */
	struct files_user u = proto_files_user(p);
	return files_open_read(&u, vpath, 0, f);
}

void cmd_hash(struct proto *p, struct slice arg)
{
	bool ranged = p->rang;
	uint64_t start = p->rang_start, end = p->rang_end, first, last, count;
	p->rang = false; /* used by this command whatever happens */
	struct files_read f;
	int r = open_arg(p, arg, &f);
	if (r == -ECANCELED)
		return;
	if (r == -EISDIR) { /* HASH draft §3.5 */
		proto_reply(p, 553, "Is a directory: the hash of a directory is not defined.");
		return;
	}
	if (r) {
		proto_reply_errno(p, r);
		return;
	}
	if (hash_range(f.size, ranged, start, end, &first, &last, &count) != 0) {
		vfs_fd_close(f.fd);
		proto_reply(p, 501, "Range start %llu is beyond the end of the file (%llu bytes).",
			    (unsigned long long)start, (unsigned long long)f.size);
		return;
	}
	p->hash_x = false;
	hash_start(p, f.fd, (enum hash_alg)p->hash_alg, arg, first, last, count);
}

/* XCRC & co: "path" or "path start end" (end exclusive, ProFTPD's
 * mod_digest); 250 with the upper-case hex. A name that ends in two
 * numbers is a file's name when such a file exists. */
static void xhash(struct proto *p, struct slice arg, enum hash_alg a)
{
	struct files_read f;
	struct slice path;
	bool ranged;
	uint64_t start = 0, end = 0;
	int r = hash_args_x(arg, &path, &ranged, &start, &end);
	if (r != 0 || ranged) {
		/* The whole argument first: "a 1 2" may be a file's name. */
		int whole = open_arg(p, arg, &f);
		if (whole == -ECANCELED)
			return;
		if (whole == 0) {
			ranged = false;
			goto run;
		}
	}
	if (r) {
		proto_reply(p, 501, "Give a path, or a path with a start and an end offset.");
		return;
	}
	r = open_arg(p, path, &f);
	if (r == -ECANCELED)
		return;
	if (r == -EISDIR) {
		proto_reply(p, 550, "Not a regular file.");
		return;
	}
	if (r) {
		proto_reply_errno(p, r);
		return;
	}
run:
	if (!ranged) {
		start = 0;
		end = f.size;
	}
	if (ranged && (end > f.size || start >= end)) {
		vfs_fd_close(f.fd);
		proto_reply(p, 501, "Bad range: the end must be after the start and at most the size (%llu).",
			    (unsigned long long)f.size);
		return;
	}
	p->hash_x = true;
	hash_start(p, f.fd, a, ranged ? path : arg, start, end ? end - 1 : 0, end - start);
}

void cmd_xcrc(struct proto *p, struct slice arg)
{
	xhash(p, arg, HASH_CRC32);
}

void cmd_xmd5(struct proto *p, struct slice arg)
{
	xhash(p, arg, HASH_MD5);
}

void cmd_xsha1(struct proto *p, struct slice arg)
{
	xhash(p, arg, HASH_SHA1);
}

void cmd_xsha256(struct proto *p, struct slice arg)
{
	xhash(p, arg, HASH_SHA256);
}

void cmd_xsha512(struct proto *p, struct slice arg)
{
	xhash(p, arg, HASH_SHA512);
}
