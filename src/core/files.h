/* files: the file service, what a logged-in user does to files whatever
 * the protocol (FTP today, SFTP next). The permission decision, the
 * operations over fs/vfs and the event that ends each transfer live here
 * once, so a second front-end cannot skip or reword them; a front-end
 * parses its arguments, calls these functions and maps the negative errno
 * they return to its own replies. */
#ifndef FERRY_FILES_H
#define FERRY_FILES_H

#include <stdint.h>

#include "userstore.h"

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
	FILES_OP_COUNT
};

/* The one permission decision: 0 when a user with perms may do op, else
 * -EACCES. Checked before the path is even resolved, so a refused user
 * learns nothing about the tree. */
int files_allow(uint32_t perms, enum files_op op);

#endif
