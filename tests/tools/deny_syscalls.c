/* Test helper: deny_syscalls NAME[:ARG0][,NAME[:ARG0]...] PROGRAM [ARGS...]
 * Runs PROGRAM with the named system calls failing with ENOSYS, as on a
 * kernel built without them (e.g. landlock_create_ruleset: no Landlock), so
 * the integration tests can check how ferryd reports a missing sandbox
 * layer on a kernel that has it. NAME:ARG0 denies the call only when its
 * first argument is ARG0 (prctl:22 = prctl(PR_SET_SECCOMP, ...)). */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		(void)fprintf(stderr, "usage: deny_syscalls NAME[,NAME...] PROGRAM [ARGS...]\n");
		return 2;
	}
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	char *names = strdup(argv[1]);
	if (!ctx || !names)
		return 1;
	for (char *n = names, *next; n; n = next) {
		next = strchr(n, ',');
		if (next)
			*next++ = '\0';
		char *colon = strchr(n, ':');
		if (colon)
			*colon++ = '\0';
		int nr = seccomp_syscall_resolve_name(n);
		int r = nr == __NR_SCMP_ERROR ? -1
			: colon		      ? seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 1,
								 SCMP_A0(SCMP_CMP_EQ, strtoull(colon, NULL, 0)))
					      : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
		if (r != 0) {
			(void)fprintf(stderr, "deny_syscalls: unknown system call %s\n", n);
			return 1;
		}
	}
	if (seccomp_load(ctx) != 0) {
		(void)fprintf(stderr, "deny_syscalls: seccomp_load failed\n");
		return 1;
	}
	seccomp_release(ctx);
	free(names);
	execv(argv[2], argv + 2);
	(void)fprintf(stderr, "deny_syscalls: %s: %s\n", argv[2], strerror(errno));
	return 127;
}
