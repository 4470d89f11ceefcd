/* files: the file service (files.h). */
#include <errno.h>

#include "files.h"

/* The PERM_* bit each operation needs; 0: any logged-in user. MDTM has
 * never needed "read" (it shows a time, not content), and entering a
 * directory needs nothing because listing it does. */
static const uint32_t op_needs[FILES_OP_COUNT] = {
	[FILES_OP_CHDIR] = 0,
	[FILES_OP_MTIME] = 0,
	[FILES_OP_LIST] = PERM_LIST,
	[FILES_OP_READ] = PERM_READ,
	[FILES_OP_UPLOAD] = PERM_WRITE,
	[FILES_OP_SET_TIME] = PERM_WRITE,
	[FILES_OP_SET_MODE] = PERM_WRITE,
	[FILES_OP_MKDIR] = PERM_MKDIR,
	[FILES_OP_RMDIR] = PERM_DELETE,
	[FILES_OP_DELETE] = PERM_DELETE,
	[FILES_OP_RENAME] = PERM_RENAME,
};

int files_allow(uint32_t perms, enum files_op op)
{
	/* SECURITY: an operation outside the table is refused, not allowed. */
	if ((unsigned)op >= FILES_OP_COUNT)
		return -EACCES;
	uint32_t need = op_needs[op];
	return (perms & need) == need ? 0 : -EACCES;
}
