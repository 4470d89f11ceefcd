/* privs: dropping root to the service account (ferryd and the ferry CLI). */
#ifndef FERRY_PRIVS_H
#define FERRY_PRIVS_H

#include <stddef.h>
#include <sys/types.h>

/* Looks up user; fills uid/gid. -ENOENT if there is no such user. */
int privs_lookup(const char *user, uid_t *uid, gid_t *gid);

/* When running as root: setgroups to the user's groups, setresgid,
 * setresuid, then PR_SET_NO_NEW_PRIVS; verifies root cannot be regained.
 * When not root: only PR_SET_NO_NEW_PRIVS. Writes a message to err on
 * failure. */
int privs_drop(const char *user, char *err, size_t errsz);

#endif
