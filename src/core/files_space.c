/* files_space: the permission decision (files_allow's table) and what
 * shapes it beyond the user's bits: shared folders and per-directory
 * permissions (files.h).
 *
 * SECURITY: which root a virtual path resolves in is decided here on
 * strings (the longest mount path the normalised vpath is at or below,
 * component by component); the path handed to fs/ is then relative to
 * that root, and openat2 RESOLVE_IN_ROOT keeps every walk, "..", and
 * symlink inside that one directory. ".." in a client's path is folded
 * lexically before (path_resolve), so "/shared/.." is "/", the home's
 * root, never the folder's parent; a symlink inside a folder pointing at
 * "/" or "../.." stays in the folder. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "log.h"
#include "path.h"
#include "util.h"

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
	[FILES_OP_SYMLINK] = PERM_WRITE,
	[FILES_OP_LINK] = PERM_WRITE,
};

int files_allow(uint32_t perms, enum files_op op)
{
	/* SECURITY: an operation outside the table is refused, not allowed. */
	if ((unsigned)op >= FILES_OP_COUNT)
		return -EACCES;
	uint32_t need = op_needs[op];
	return (perms & need) == need ? 0 : -EACCES;
}

void files_space_open(uint64_t sid, const char *user, const struct policy_attrs *policy, const char *roots,
		      struct files_space **out)
{
	*out = NULL;
	if (!policy || (!policy->n_mounts && !policy->n_dir_perms))
		return;
	struct files_space *s = util_xcalloc(1, sizeof(*s));
	if (policy->n_mounts)
		s->mounts = util_xcalloc(policy->n_mounts, sizeof(*s->mounts));
	for (size_t i = 0; i < policy->n_mounts; i++) {
		const struct policy_mount *pm = &policy->mounts[i];
		struct files_mount *m = &s->mounts[s->n_mounts];
		struct log_escaped e, ev;
		if (strcmp(pm->vpath, "/") == 0) { /* the CLI refuses it; a hand-edited row */
			log_err(sid, "shared folder left out: user=\"%s\" mount=\"/\" dir=\"%s\" error=%s",
				log_esc(slice_from_cstr(user), &e), pm->dir, "cannot mount over the home");
			continue;
		}
		int r = -EPERM;
		if (!roots[0] || path_under_roots(pm->dir, roots))
			r = vfs_open_root(pm->dir, &m->vfs);
		if (r) {
			/* Logged and left out: the home and the other folders
			 * still work, and the mount point is just absent. */
			log_err(sid,
				"shared folder unavailable, left out: user=\"%s\" mount=\"%s\" dir=\"%s\" error=%s",
				log_esc(slice_from_cstr(user), &e), log_esc(slice_from_cstr(pm->vpath), &ev), pm->dir,
				r == -EPERM ? "outside [sandbox] roots" : strerror(-r));
			continue;
		}
		m->vpath = util_xstrdup(pm->vpath);
		m->perms = pm->perms;
		m->has_perms = pm->has_perms;
		s->n_mounts++;
	}
	if (policy->n_dir_perms)
		s->rules = util_xcalloc(policy->n_dir_perms, sizeof(*s->rules));
	for (size_t i = 0; i < policy->n_dir_perms; i++) {
		s->rules[i].vpath = util_xstrdup(policy->dir_perms[i].vpath);
		s->rules[i].perms = policy->dir_perms[i].perms;
	}
	s->n_rules = policy->n_dir_perms;
	*out = s;
}

void files_space_free(struct files_space *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_mounts; i++) {
		vfs_close(&s->mounts[i].vfs);
		free(s->mounts[i].vpath);
	}
	for (size_t i = 0; i < s->n_rules; i++)
		free(s->rules[i].vpath);
	free(s->mounts);
	free(s->rules);
	free(s);
}

int files_where(const struct files_user *u, const char *vpath, struct files_where *w)
{
	const struct files_space *s = u->space;
	const char *rest = vpath[0] == '/' ? vpath + 1 : vpath;
	size_t best = 0, best_rule = 0;
	bool rule = false;
	w->vfs = u->vfs;
	w->mount = NULL;
	w->perms = u->perms;
	for (size_t i = 0; s && i < s->n_mounts; i++) {
		const char *r;
		size_t n = strlen(s->mounts[i].vpath);
		if (n > best && path_under(s->mounts[i].vpath, vpath, &r)) {
			best = n;
			rest = r;
			w->mount = &s->mounts[i];
			w->vfs = &s->mounts[i].vfs;
		}
	}
	/* The permissions: the deepest owner of bits at or above vpath. */
	if (w->mount && w->mount->has_perms) {
		w->perms = w->mount->perms;
		best_rule = best;
		rule = true;
	}
	for (size_t i = 0; s && i < s->n_rules; i++) {
		size_t n = strlen(s->rules[i].vpath);
		if ((!rule || n >= best_rule) && path_under(s->rules[i].vpath, vpath, NULL)) {
			best_rule = n;
			rule = true;
			w->perms = s->rules[i].perms;
		}
	}
	int n = snprintf(w->sub, sizeof(w->sub), "/%s", rest);
	return n < 0 || (size_t)n >= sizeof(w->sub) ? -ENAMETOOLONG : 0;
}

uint32_t files_perms_at(const struct files_user *u, const char *vpath)
{
	struct files_where w;
	return files_where(u, vpath, &w) == 0 ? w.perms : u->perms;
}

int files_allow_somewhere(const struct files_user *u, enum files_op op)
{
	const struct files_space *s = u->space;
	if (files_allow(u->perms, op) == 0)
		return 0;
	for (size_t i = 0; s && i < s->n_mounts; i++)
		if (s->mounts[i].has_perms && files_allow(s->mounts[i].perms, op) == 0)
			return 0;
	for (size_t i = 0; s && i < s->n_rules; i++)
		if (files_allow(s->rules[i].perms, op) == 0)
			return 0;
	return -EACCES;
}

/* The mount points directly inside directory vpath, each as its name and
 * the stat of its root, for a listing of vpath (fn's error stops it). */
int files_space_children(const struct files_user *u, const char *vpath,
			 int (*fn)(const char *name, const struct stat *st, void *arg), void *arg)
{
	const struct files_space *s = u->space;
	for (size_t i = 0; s && i < s->n_mounts; i++) {
		const char *rest;
		if (!path_under(vpath, s->mounts[i].vpath, &rest) || !rest[0] || strchr(rest, '/'))
			continue;
		struct stat st;
		if (vfs_fstat(s->mounts[i].vfs.root_fd, &st) != 0)
			continue;
		int r = fn(rest, &st, arg);
		if (r)
			return r;
	}
	return 0;
}

/* A list of strings (files_space_dirs). */
struct names {
	char **v;
	size_t n;
};

static int names_add(struct names *ns, const char *s)
{
	char **v = realloc(ns->v, (ns->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	ns->v = v;
	ns->v[ns->n++] = util_xstrdup(s);
	return 0;
}

static void names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	*ns = (struct names){ 0 };
}

static int user_name(const struct user_record *u, void *arg)
{
	return names_add(arg, u->name);
}

static int group_name(const char *name, void *arg)
{
	return names_add(arg, name);
}

static int mount_dir(const char *attr, const char *key, const char *value, void *arg)
{
	char *dir = NULL;
	uint32_t perms;
	bool has_perms;
	(void)key;
	/* A row that cannot be read fails the login that meets it (policy_load
	 * logs it); here it is only not a folder to look at. */
	if (strcmp(attr, POLICY_A_MOUNT) != 0 || policy_parse_mount(value, &dir, &perms, &has_perms) != 0)
		return 0;
	int r = names_add(arg, dir);
	free(dir);
	return r;
}

int files_space_dirs(const struct userstore_ops *ops, struct userstore *s, int (*fn)(const char *dir, void *arg),
		     void *arg)
{
	struct names users = { 0 }, groups = { 0 }, dirs = { 0 };
	if (!ops->policy_read) /* a store without policies has no folders */
		return 0;
	/* Names first, then each owner's rows: no query runs inside another. */
	int r = ops->list(s, user_name, &users);
	if (r == 0)
		r = policy_group_list(ops, s, group_name, &groups);
	for (size_t i = 0; r == 0 && i < users.n; i++)
		r = policy_rows(ops, s, POLICY_USER, users.v[i], mount_dir, &dirs);
	for (size_t i = 0; r == 0 && i < groups.n; i++)
		r = policy_rows(ops, s, POLICY_GROUP, groups.v[i], mount_dir, &dirs);
	for (size_t i = 0; r == 0 && i < dirs.n; i++)
		r = fn(dirs.v[i], arg);
	names_free(&users);
	names_free(&groups);
	names_free(&dirs);
	return r;
}
