/* An LD_PRELOAD shim for tests/integration/test_io_jobs.py: holds ferryd's disk-bound calls on
 * one directory until the test releases them, so that "the disk is slow" is
 * a state the test controls rather than a duration it hopes for.
 *
 *   FERRY_HOLD_CALL     fsync or fdopendir: the call to hold
 *   FERRY_HOLD_DIR      held only on a descriptor of this directory or below
 *   FERRY_HOLD_RELEASE  the call goes on once this file exists
 *
 * A held call writes "hold-shim: CALL held" to stderr (ferryd's log in the
 * tests) before it waits, and "hold-shim: CALL released" after. It waits at
 * most HOLD_MAX_S, so a test that never releases cannot hang ferryd. Only
 * calls ferryd's sandbox allows: readlink, access, nanosleep, write. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HOLD_MAX_S 300

static int held_here(const char *call, int fd)
{
	const char *want = getenv("FERRY_HOLD_CALL");
	const char *dir = getenv("FERRY_HOLD_DIR");
	if (!want || !dir || strcmp(want, call) != 0)
		return 0;
	char link[64], path[PATH_MAX];
	(void)snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	if (n < 0)
		return 0;
	path[n] = '\0';
	size_t k = strlen(dir);
	return strncmp(path, dir, k) == 0 && (path[k] == '\0' || path[k] == '/');
}

static void say(const char *call, const char *what)
{
	char msg[128];
	int m = snprintf(msg, sizeof(msg), "hold-shim: %s %s\n", call, what);
	if (m > 0)
		(void)!write(2, msg, (size_t)m);
}

static void hold(const char *call, int fd)
{
	if (!held_here(call, fd))
		return;
	const char *release = getenv("FERRY_HOLD_RELEASE");
	say(call, "held");
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	for (long i = 0; i < HOLD_MAX_S * 100L && release && access(release, F_OK) != 0; i++)
		(void)nanosleep(&tick, NULL);
	say(call, "released");
}

int fsync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	hold("fsync", fd);
	return real(fd);
}

DIR *fdopendir(int fd)
{
	DIR *(*real)(int) = (DIR * (*)(int)) dlsym(RTLD_NEXT, "fdopendir");
	hold("fdopendir", fd);
	return real(fd);
}
