/* AVBL (draft-peterson-streamlined-ftp-command-extensions): the bytes the
 * user may still store in a directory, "213 <bytes>". Quota-aware: what is
 * left of the user's quota when it is less than the file system's free
 * space (core/files.h files_available). The directory is the argument or,
 * without one, the current directory; a name that does not exist or is not
 * a directory is 550, a name that cannot be used 501. */
#include <errno.h>
#include <limits.h>

#include "cmd.h"
#include "files.h"
#include "proto_impl.h"

void cmd_avbl(struct proto *p, struct slice arg)
{
	char vpath[PATH_MAX];
	struct files_user u = proto_files_user(p);
	int r = files_resolve(&u, FILES_OP_CHDIR, p->cwd, arg.n ? arg : SLICE_LIT("."), vpath);
	if (r == -ENAMETOOLONG || r == -EINVAL) {
		proto_reply(p, 501, "Invalid pathname.");
		return;
	}
	uint64_t bytes = 0;
	if (r == 0)
		r = files_available(&u, vpath, &bytes);
	if (r == -ENOTDIR) {
		proto_reply(p, 550, "Not a directory.");
		return;
	}
	if (r == -ENOENT) {
		proto_reply(p, 550, "No such directory.");
		return;
	}
	if (r) {
		proto_reply_errno(p, r);
		return;
	}
	proto_reply(p, 213, "%llu", (unsigned long long)bytes);
}
