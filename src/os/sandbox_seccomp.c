/* The seccomp half of sandbox.h: one allow-list of system calls, and the
 * SIGSYS handler that names a call outside it. */
#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "sandbox.h"
#include "util.h"

/* Every system call ferryd makes after start-up: the event loops, sockets,
 * TLS, the job pool (SQLite, password hashing), threads started after the
 * sandbox, and what glibc uses underneath. Names unknown on this
 * architecture are skipped. Found by reading the code and by running the
 * integration suite (a missing one is logged by name, see on_sigsys). Add
 * new needs here (GSSAPI: probably nothing beyond file and socket calls
 * already listed; krb5 KDC traffic is UDP/TCP on AF_INET/AF_INET6). */
/* clang-format off */
static const char *const sandbox_syscalls[] = {
	/* memory, threads, signals */
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "futex", "futex_waitv", "set_robust_list",
	"get_robust_list", "rseq", "clone", "clone3", "exit", "exit_group", "sched_yield",
	"sched_getaffinity", "rt_sigprocmask", "rt_sigreturn", "rt_sigaction", "sigaltstack", "gettid",
	"getpid", "tgkill", "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid",
	"getrandom", "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday",
	"time", "membarrier", "prlimit64", "getrlimit", "uname", "sysinfo",
	/* event loop, timers, signals as fds */
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd2",
	"timerfd_create", "timerfd_settime", "timerfd_gettime", "signalfd4", "poll", "ppoll", "select",
	"pselect6",
	/* byte streams */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "lseek", "close",
	"close_range", "dup", "dup2", "dup3", "fcntl", "ioctl", "pipe2", "sendfile", "splice", "tee",
	"copy_file_range",
	/* sockets (socket() itself is limited to three families below) */
	"accept4", "bind", "listen", "connect", "getsockname", "getpeername", "setsockopt", "getsockopt",
	"shutdown", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
	/* files: vfs.c (openat2 on client paths), SQLite, listings, TLS reload */
	"openat", "openat2", "open", "newfstatat", "fstat", "stat", "lstat", "statx", "fstatfs", "statfs",
	"getdents64", "readlinkat", "readlink", "mkdirat", "unlinkat", "unlink", "renameat", "renameat2",
	"rename", "linkat", "symlinkat", "utimensat", "fchmod", "fchmodat", "fchmodat2", "fchown", "ftruncate",
	"fallocate", "fsync", "fdatasync", "sync_file_range", "faccessat", "faccessat2", "access", "getcwd", "flock",
	"fadvise64", "umask",
	/* glibc/pthread internals */
	"prctl", "set_tid_address", "restart_syscall",
	/* stopping the hook runner (hooks.c) */
	"wait4", "kill",
};
/* clang-format on */

/* Sanitizer builds only (FERRY_SANITIZER, set by meson.build): at exit
 * LeakSanitizer clones a tracer that ptrace-attaches to every thread. */
static const char *const sanitizer_syscalls[] = {
	"ptrace", "getdents", "wait4", "waitid", "kill", "tkill", "getppid", "process_vm_readv", "sched_getaffinity",
};

/* socket(2) families ferryd opens: TCP over IPv4/IPv6 (data connections,
 * PASV listeners) and AF_UNIX for syslog(3). Not AF_NETLINK, AF_PACKET... */
static const int sandbox_socket_families[] = { AF_INET, AF_INET6, AF_UNIX };

/* Names for the SIGSYS handler, resolved before the filter is loaded
 * (resolution allocates; the handler may not). Set once, then read-only. */
#define SANDBOX_MAX_NR 1024
static char *sigsys_names[SANDBOX_MAX_NR];

static size_t put(char *buf, size_t o, size_t cap, const char *s)
{
	while (*s && o < cap)
		buf[o++] = *s++;
	return o;
}

static size_t put_num(char *buf, size_t o, size_t cap, unsigned long v)
{
	char d[24];
	size_t k = 0;
	do {
		d[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && k < sizeof(d));
	while (k && o < cap)
		buf[o++] = d[--k];
	return o;
}

/* A synchronous SIGSYS cannot come through signalfd (ARCHITECTURE.md §3),
 * so this is ferryd's one signal handler. SCMP_ACT_TRAP rather than
 * SCMP_ACT_ERRNO: ERRNO would fail the call silently and the session would
 * end in a mysterious error; KILL would take every session down. TRAP
 * names the call (async-signal-safe: write(2) of a prebuilt string) and
 * makes it return -ENOSYS, which glibc treats as "not on this kernel" and
 * the caller reports as an ordinary error. */
static void on_sigsys(int sig, siginfo_t *si, void *uctx)
{
	char line[256];
	size_t o = 0, cap = sizeof(line) - 1;
	int saved = errno;
	unsigned nr = (unsigned)si->si_syscall;
	o = put(line, o, cap, "ferryd[");
	o = put_num(line, o, cap, (unsigned long)getpid());
	o = put(line, o, cap, "]: error seccomp: blocked system call ");
	o = put(line, o, cap, nr < SANDBOX_MAX_NR && sigsys_names[nr] ? sigsys_names[nr] : "?");
	o = put(line, o, cap, " (");
	o = put_num(line, o, cap, nr);
	o = put(line, o, cap,
		"); it failed with ENOSYS. Add it to sandbox_syscalls[] in src/os/sandbox_seccomp.c "
		"if ferryd needs it, or set [sandbox] seccomp = off");
	line[o++] = '\n';
	(void)!write(STDERR_FILENO, line, o);
	ucontext_t *uc = uctx;
#if defined(__x86_64__)
	uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
#elif defined(__aarch64__)
	uc->uc_mcontext.regs[0] = (unsigned long long)-ENOSYS;
#else
#error "sandbox_seccomp.c: set the system call's return register for this architecture"
#endif
	errno = saved;
}

static void names_resolve(void)
{
	for (unsigned i = 0; i < SANDBOX_MAX_NR; i++)
		if (!sigsys_names[i])
			sigsys_names[i] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)i);
}

static int allow_names(scmp_filter_ctx ctx, const char *const *names, size_t n, char *err, size_t errsz)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (r) {
			(void)snprintf(err, errsz, "seccomp rule for %s: %s", names[i], strerror(-r));
			return r;
		}
	}
	return 0;
}

int sandbox_seccomp_apply(char *err, size_t errsz)
{
	int r = 0;
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx) {
		(void)snprintf(err, errsz, "seccomp_init failed");
		return -ENOMEM;
	}
	r = allow_names(ctx, sandbox_syscalls, ARRAY_LEN(sandbox_syscalls), err, errsz);
	if (r == 0 && FERRY_SANITIZER)
		r = allow_names(ctx, sanitizer_syscalls, ARRAY_LEN(sanitizer_syscalls), err, errsz);
	for (size_t i = 0; i < ARRAY_LEN(sandbox_socket_families) && r == 0; i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)sandbox_socket_families[i]));
		if (r)
			(void)snprintf(err, errsz, "seccomp rule for socket: %s", strerror(-r));
	}
	if (r)
		goto fail;
	names_resolve();
	struct sigaction sa = { 0 };
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) != 0) {
		r = -errno;
		(void)snprintf(err, errsz, "sigaction(SIGSYS): %s", strerror(-r));
		goto fail;
	}
	/* The kernel logs (audit) what it traps too: the record survives when
	 * SIGSYS cannot run the handler (a thread that blocked it dies). */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
	r = seccomp_load(ctx);
	if (r)
		(void)snprintf(err, errsz, "the kernel refused the seccomp filter (%s)", strerror(-r));
fail:
	seccomp_release(ctx);
	return r;
}
