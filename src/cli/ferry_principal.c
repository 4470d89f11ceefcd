/* ferry principal add|del|list: which Kerberos principals may log in as a
 * user after an RFC 2228 GSSAPI exchange (USER → 232). The default rule
 * (name@DEFAULT.REALM → name) needs no entry. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ferry_cli.h"
#include "str.h"
#include "userstore.h"

#define CLI_PRINCIPAL_MAX 256

/* "primary[/instance]@REALM": printable ASCII without spaces, a realm. */
static bool cli_principal_valid(const char *s)
{
	size_t n = strlen(s);
	const char *at = strrchr(s, '@');
	if (n == 0 || n > CLI_PRINCIPAL_MAX || !at || at == s || at[1] == '\0')
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	return true;
}

/* "PRINCIPAL NAME", and " host=HOST" for a [host]'s user (stored as
 * NAME:HOST); arg: a host's name, to list only its users, or NULL. */
static int cli_principal_print(const char *principal, const char *name, void *arg)
{
	const char *host = user_key_host(name), *only = arg;
	if (only && (!host || strcmp(host, only) != 0))
		return 0;
	(void)printf("%s %.*s%s%s\n", principal, (int)user_key_name_len(name), name, host ? " host=" : "",
		     host ? host : "");
	return 0;
}

int cli_principal(struct cli *c, int argc, char **argv)
{
	char esc[128], esc2[128];
	const char *host, *host_name = NULL;
	char key[256];
	if (argc < 1)
		return cli_usage_err("principal: missing command (add, del, list)");
	int rc = cli_host_opt("principal", &argc, argv, &host);
	if (rc)
		return rc;
	bool add = strcmp(argv[0], "add") == 0, del = strcmp(argv[0], "del") == 0;
	bool list = strcmp(argv[0], "list") == 0;
	if (!add && !del && !list)
		return cli_usage_err("principal: unknown command '%s'", cli_esc(argv[0], esc, sizeof(esc)));
	if (list ? argc > 2 : argc != 3)
		return cli_usage_err(list ? "principal list: expected at most a user NAME"
					  : "principal %s: expected PRINCIPAL NAME",
				     argv[0]);
	const char *principal = list ? NULL : argv[1];
	const char *name = list ? (argc == 2 ? argv[1] : NULL) : argv[2];
	if (principal && !cli_principal_valid(principal))
		return cli_usage_err("principal %s: '%s' is not a principal like name@REALM or name/host@REALM",
				     argv[0], cli_esc(principal, esc, sizeof(esc)));
	if (name && !cli_name_valid(name))
		return cli_usage_err("principal %s: invalid user name '%s'", argv[0], cli_esc(name, esc, sizeof(esc)));
	/* --host HOSTNAME: the user is that [host]'s, stored as NAME:HOST. */
	rc = cli_load_config(c);
	if (!rc && host)
		rc = cli_store_key(c, name, host, key, sizeof(key), &host_name);
	if (!rc)
		rc = cli_open_store(c, 0);
	if (rc)
		return rc;
	if (!c->ops->principal_add)
		return cli_err("[store] backend '%s' has no principal mappings", c->cfg->store_backend);
	int r;
	const char *user = host && name ? key : name;
	if (list)
		r = c->ops->principal_list(c->store, user, cli_principal_print, (void *)host_name);
	else if (add)
		r = c->ops->principal_add(c->store, principal, user);
	else
		r = c->ops->principal_remove(c->store, principal, user);
	cli_esc(principal ? principal : "", esc, sizeof(esc));
	cli_esc(name ? name : "", esc2, sizeof(esc2));
	char in[200] = ""; /* a [host]'s user: " in host 'a.test'" */
	if (host_name)
		(void)snprintf(in, sizeof(in), " in host '%s'", host_name);
	if (r == -ENOENT && add)
		return cli_err("no such user '%s'%s", esc2, in);
	if (r == -ENOENT)
		return cli_err("principal '%s' is not mapped to user '%s'%s", esc, esc2, in);
	if (r == -EEXIST)
		return cli_err("principal '%s' is already mapped to user '%s'%s", esc, esc2, in);
	if (r)
		return cli_store_fail(c, r);
	if (add)
		(void)printf("principal %s may log in as %s%s\n", esc, esc2, in);
	else if (del)
		(void)printf("principal %s no longer maps to %s%s\n", esc, esc2, in);
	return CLI_EXIT_OK;
}
