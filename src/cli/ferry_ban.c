/* ferry ban list|del: the failed-login bans every ferryd sharing the store
 * honours (guard_sync.h). A ban lifted here ends on every node within a
 * second (at once with PostgreSQL's NOTIFY). Bans a node counted on its
 * own while it could not reach the store are not in it: they end by
 * themselves ([limits] ban_time). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ferry_cli.h"
#include "guard.h"

struct cli_ban_list {
	int64_t now;
	unsigned n;
};

/* One line per ban: ADDRESS until UTC-TIME (N s left). */
static int cli_ban_print(const char *address, int64_t until, void *arg)
{
	struct cli_ban_list *l = arg;
	char when[32] = "?", esc[128];
	time_t t = (time_t)(until / 1000);
	struct tm tm;
	if (gmtime_r(&t, &tm))
		(void)strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	(void)printf("%s until %s (%llds left)\n", cli_esc(address, esc, sizeof(esc)), when,
		     (long long)((until - l->now + 999) / 1000));
	l->n++;
	return 0;
}

int cli_ban(struct cli *c, int argc, char **argv)
{
	char esc[128];
	if (argc < 1)
		return cli_usage_err("ban: missing command (list, del)");
	bool list = strcmp(argv[0], "list") == 0, del = strcmp(argv[0], "del") == 0;
	if (!list && !del)
		return cli_usage_err("ban: unknown command '%s'", cli_esc(argv[0], esc, sizeof(esc)));
	if (list && argc != 1)
		return cli_usage_err("ban list: unexpected argument '%s'", cli_esc(argv[1], esc, sizeof(esc)));
	if (del && argc != 2)
		return cli_usage_err("ban del: expected one ADDRESS");
	/* The group text, as ferryd keys its rows ("2001:db8::5" -> its /64). */
	struct guard_key k;
	char group[64] = "";
	if (del) {
		if (guard_key_parse(argv[1], &k) != 0)
			return cli_usage_err("ban del: '%s' is not an IPv4 or IPv6 address",
					     cli_esc(argv[1], esc, sizeof(esc)));
		guard_key_format(&k, group, sizeof(group));
	}
	int rc = cli_load_config(c);
	if (!rc)
		rc = cli_open_store(c, 0);
	if (rc)
		return rc;
	if (!c->ops->ban_list)
		return cli_err("[store] backend '%s' keeps no bans", c->cfg->store_backend);
	if (list) {
		struct cli_ban_list l = { .now = cli_wall_ms() };
		int r = c->ops->ban_list(c->store, l.now, cli_ban_print, &l);
		return r ? cli_store_fail(c, r) : CLI_EXIT_OK;
	}
	int r = c->ops->ban_remove(c->store, group);
	if (r == -ENOENT)
		return cli_err("%s has no ban and no failed login recorded", group);
	if (r)
		return cli_store_fail(c, r);
	(void)printf("ban of %s lifted and its failed logins forgotten\n", group);
	return CLI_EXIT_OK;
}
