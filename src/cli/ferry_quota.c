/* ferry quota show|scan: a user's quota (its effective quota-bytes and
 * quota-files: the user's, else its first group's, core/policy_eff.h) and
 * the usage the store keeps (table quota_usage, shared by every ferryd
 * using the store). scan recounts the usage from the home on disk: every
 * regular file below it, by size, upload temporaries and kept partials
 * (".ferry-upload.*", ".ferry-partial.*") left out as uploads leave them
 * out; symlinks and directories count neither. A running ferryd takes the
 * new figures at the user's next login when no upload of theirs is in
 * flight on it. show also lists the nodes' quota grants (bytes a node
 * holds for running uploads, core/quota.h GRANTS); scan drops the expired
 * ones (a killed node's). */
#include <errno.h>
#include <fts.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ferry_cli.h"
#include "policy.h"
#include "policy_eff.h"
#include "str.h"
#include "util.h"

#define CLI_QUOTA_TMP ".ferry-upload."
#define CLI_QUOTA_PARTIAL ".ferry-partial."

/* Counts what quotas count below home into *bytes and *files. */
static int cli_quota_count(const char *home, uint64_t *bytes, uint64_t *files)
{
	char *paths[] = { (char *)home, NULL };
	FTS *f = fts_open(paths, FTS_PHYSICAL | FTS_NOCHDIR | FTS_XDEV, NULL);
	if (!f)
		return -errno;
	*bytes = *files = 0;
	int r = 0;
	FTSENT *e;
	while ((errno = 0, e = fts_read(f)) != NULL) {
		if (e->fts_info == FTS_DNR || e->fts_info == FTS_ERR) {
			r = -(e->fts_errno ? e->fts_errno : EIO);
			break;
		}
		if (e->fts_info != FTS_F || !S_ISREG(e->fts_statp->st_mode))
			continue;
		if (strncmp(e->fts_name, CLI_QUOTA_TMP, strlen(CLI_QUOTA_TMP)) == 0 ||
		    strncmp(e->fts_name, CLI_QUOTA_PARTIAL, strlen(CLI_QUOTA_PARTIAL)) == 0)
			continue;
		*bytes += (uint64_t)e->fts_statp->st_size;
		*files += 1;
	}
	if (!r && !e && errno)
		r = -errno;
	(void)fts_close(f);
	return r;
}

static void cli_quota_line(const char *what, uint64_t limit, uint64_t used)
{
	if (limit)
		(void)printf("%s: %" PRIu64 " used of %" PRIu64 ", %" PRIu64 " left\n", what, used, limit,
			     used >= limit ? 0 : limit - used);
	else
		(void)printf("%s: %" PRIu64 " used, no quota\n", what, used);
}

/* One node's grant (core/quota.h GRANTS): bytes it holds for running
 * uploads beyond the usage. */
static int cli_quota_grant(const char *node, uint64_t bytes, int64_t expires, void *arg)
{
	char esc[192];
	int64_t now = *(const int64_t *)arg;
	if (expires > now)
		(void)printf("reserved: %" PRIu64 " bytes by node %s (expires in %lld s unless renewed)\n", bytes,
			     cli_esc(node, esc, sizeof(esc)), (long long)(expires - now));
	else
		(void)printf("reserved: %" PRIu64 " bytes by node %s (expired: not counted)\n", bytes,
			     cli_esc(node, esc, sizeof(esc)));
	return 0;
}

int cli_quota(struct cli *c, int argc, char **argv)
{
	char esc[128];
	if (argc < 1)
		return cli_usage_err("quota: missing command (show, scan)");
	bool show = strcmp(argv[0], "show") == 0, scan = strcmp(argv[0], "scan") == 0;
	if (!show && !scan)
		return cli_usage_err("quota: unknown command '%s'", cli_esc(argv[0], esc, sizeof(esc)));
	const char *host, *host_name;
	int rc = cli_host_opt("quota", &argc, argv, &host);
	if (rc)
		return rc;
	if (argc != 2)
		return cli_usage_err("quota %s: expected one user NAME", argv[0]);
	/* --host HOSTNAME: that [host]'s user, stored as NAME:HOST (without
	 * it NAME is the store's name as it is, NAME:HOST too). */
	char name[256];
	host_name = NULL;
	rc = cli_load_config(c);
	if (!rc && host)
		rc = cli_store_key(c, argv[1], host, name, sizeof(name), &host_name);
	else if (!rc && !str_copy(name, sizeof(name), argv[1]))
		rc = cli_usage_err("quota %s: user name too long", argv[0]);
	if (!rc)
		rc = cli_open_store(c, 0);
	if (rc)
		return rc;
	struct user_record u = { 0 };
	int r = c->ops->lookup(c->store, name, &u);
	if (r)
		return cli_store_err(c, name, r);
	struct policy_attrs e = { 0 };
	uint64_t bytes = 0, files = 0;
	r = policy_eff_load(c->ops, c->store, &u, &e);
	if (!r && scan) {
		r = cli_quota_count(u.home, &bytes, &files);
		if (r) {
			rc = cli_err("quota scan: cannot read %s: %s", cli_esc(u.home, esc, sizeof(esc)), strerror(-r));
			goto out;
		}
		r = policy_usage_set(c->ops, c->store, name, bytes, files);
		/* A killed node's grants count until they expire: gone now. */
		if (!r)
			r = policy_grant_clear(c->ops, c->store, name, util_wall_s());
	}
	if (!r)
		r = policy_usage_get(c->ops, c->store, name, &bytes, &files);
	if (r) {
		rc = cli_store_err(c, name, r);
		goto out;
	}
	(void)printf("user: %s\n", cli_esc(argv[1], esc, sizeof(esc)));
	if (host_name)
		(void)printf("host: %s\n", host_name);
	cli_quota_line("bytes", e.quota_bytes, bytes);
	cli_quota_line("files", e.quota_files, files);
	int64_t now = util_wall_s();
	r = policy_grant_list(c->ops, c->store, name, cli_quota_grant, &now);
	if (r) {
		rc = cli_store_err(c, name, r);
		goto out;
	}
	if (scan)
		(void)printf("(recounted from %s)\n", cli_esc(u.home, esc, sizeof(esc)));
	rc = CLI_EXIT_OK;
out:
	policy_attrs_free(&e);
	user_record_free(&u);
	return rc;
}
