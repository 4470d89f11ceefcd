/* path: virtual paths as the client sees them ("/" = the user's home).
 * Strings only: confinement is enforced by the kernel in vfs.c
 * (openat2 RESOLVE_IN_ROOT); these functions only compute what PWD shows and
 * what relative path vfs is handed. */
#ifndef FERRY_PATH_H
#define FERRY_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include "str.h"

/* Joins arg onto cwd (arg absolute if it starts with '/') and normalises
 * lexically: repeated '/' collapse, "." vanishes, ".." removes the previous
 * component and stops at "/". The result always starts with '/' and has no
 * trailing '/' except for the root itself. -ENAMETOOLONG if it does not fit;
 * -EINVAL if arg contains a NUL byte. */
int path_resolve(const char *cwd, struct slice arg, char *out, size_t outsz);

/* Whether the normalised virtual path vpath is dir or lies below it,
 * component by component ("/ab" is not under "/a"; everything is under
 * "/"). When it is, *rest (may be NULL) points into vpath at what follows
 * dir without its leading '/' ("" for dir itself). Strings only: which root
 * a path resolves in (core/files_space.c). */
bool path_under(const char *dir, const char *vpath, const char **rest);

/* The last component of a normalised virtual path ("" for "/"). */
const char *path_basename(const char *vpath);

/* True if the absolute host path lies in or under one of the comma-separated
 * absolute directories in roots. Both sides are normalised lexically and
 * compared component by component ("/srv/ftpx" is not under "/srv/ftp",
 * "/srv/ftp/../etc" is not either). Strings only: for a clear refusal at
 * login; Landlock (sandbox.c) is what enforces the roots. */
bool path_under_roots(const char *path, const char *roots);

#endif
