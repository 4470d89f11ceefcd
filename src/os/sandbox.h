/* sandbox: ferryd confines itself once it is set up (ARCHITECTURE.md §1, §5).
 * PR_SET_NO_NEW_PRIVS, then Landlock (the file system: the served roots plus
 * ferryd's own runtime files) and a seccomp allow-list of system calls. Both
 * layers act on the calling thread and the threads it creates later, so
 * daemon.c applies them after binding, loading keys, the privilege drop and
 * the store probe, and before the job pool and the workers start.
 *
 * Adding a need (e.g. GSSAPI: /etc/krb5.conf, a keytab, a replay cache): one
 * row in sandbox_fixed_paths[] (sandbox.c) or in sandbox_syscalls[]
 * (sandbox_seccomp.c). */
#ifndef FERRY_SANDBOX_H
#define FERRY_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "config.h"

enum sandbox_mode { SANDBOX_OFF = 0, SANDBOX_AUTO = 1, SANDBOX_REQUIRE = 2 };

/* Landlock access sets for sandbox_rule.access (masked by what the running
 * kernel knows). */
#define SANDBOX_READ 1u	  /* read files, list directories */
#define SANDBOX_DB 2u	  /* READ + create, write, truncate, delete files (SQLite WAL/SHM) */
#define SANDBOX_SERVED 4u /* DB + make/remove directories, rename across directories */

/* One path made reachable. A directory covers everything beneath it; a
 * file only itself (the inode: a file replaced by rename is a new one). */
struct sandbox_rule {
	char path[4096];
	unsigned access; /* SANDBOX_READ / _DB / _SERVED */
	bool optional;	 /* missing → skipped silently, else logged */
};

/* The Landlock ABI version the kernel offers, or a negative errno
 * (-ENOSYS: not built in; -EOPNOTSUPP: built in but disabled at boot). */
int sandbox_landlock_abi(void);

/* Restricts the calling thread (and its future threads and children) to
 * rules[0..n). Borrows rules. Returns 0, or -errno with err set; -ENOSYS /
 * -EOPNOTSUPP when the kernel lacks a usable Landlock. *abi gets the ABI. */
int sandbox_landlock_apply(const struct sandbox_rule *rules, size_t n, int *abi, char *err, size_t errsz);

/* Installs the system-call allow-list on the calling thread (and its future
 * threads). A call outside it fails with ENOSYS and a line naming it is
 * written to stderr. Returns 0 or -errno with err set. */
int sandbox_seccomp_apply(char *err, size_t errsz);

/* Fills rules (capacity cap) from cfg: roots, database directory, config
 * and TLS directories, sandbox_fixed_paths[]. Returns the count used. */
size_t sandbox_rules_from_config(const struct config *cfg, struct sandbox_rule *rules, size_t cap);

/* With [sandbox] roots empty: the parent directories of the homes in the
 * store, comma-separated, nested ones folded into their ancestor, written
 * to out. Returns 0 or -errno (-ENOSPC: does not fit). */
int sandbox_derive_roots(const struct userstore_ops *ops, struct userstore *s, char *out, size_t outsz);

/* NO_NEW_PRIVS, Landlock and seccomp as cfg asks ("auto" layers the kernel
 * lacks are logged and skipped). Call with no other thread running.
 * Returns 0, or -errno with err set when ferryd must not start. */
int sandbox_apply(const struct config *cfg, char *err, size_t errsz);

#endif
