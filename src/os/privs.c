#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int privs_lookup(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int r = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
	if (r != 0)
		return -r;
	if (!res)
		return -ENOENT;
	*uid = pw.pw_uid;
	*gid = pw.pw_gid;
	return 0;
}

int privs_drop(const char *user, char *err, size_t errsz)
{
	if (geteuid() == 0) {
		uid_t uid;
		gid_t gid;
		if (!user || !*user) {
			(void)snprintf(err, errsz, "refusing to run as root: set [server] run_as to a service user");
			return -EPERM;
		}
		int r = privs_lookup(user, &uid, &gid);
		if (r) {
			(void)snprintf(err, errsz, "[server] run_as: no such user '%s'", user);
			return r;
		}
		if (uid == 0) {
			(void)snprintf(err, errsz, "[server] run_as: '%s' is root; choose an unprivileged user", user);
			return -EPERM;
		}
		if (initgroups(user, gid) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0) {
			r = -errno;
			(void)snprintf(err, errsz, "cannot switch to user '%s': %s", user, strerror(errno));
			return r;
		}
		/* SECURITY: make sure the drop is irreversible. */
		if (setuid(0) == 0 || seteuid(0) == 0) {
			(void)snprintf(err, errsz, "privilege drop to '%s' did not stick", user);
			return -EPERM;
		}
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		int r = -errno;
		(void)snprintf(err, errsz, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return r;
	}
	return 0;
}
