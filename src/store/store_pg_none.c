/* store_pg_none: stands in for store_pg*.c in a build without libpq
 * (-Dpostgres=disabled). The backend keeps its name, so a config asking for
 * it is refused clearly: at check time ([store] postgres), and by open. */
#include <errno.h>
#include <stdio.h>

#include "config.h"
#include "userstore.h"

#define STORE_PG_NONE_WHY "this ferry was built without PostgreSQL support (meson -Dpostgres=disabled)"

static int store_pg_none_open(const struct config *cfg, unsigned flags, struct userstore **out, char *err, size_t errsz)
{
	*out = NULL;
	(void)snprintf(err, errsz, "[store] postgres: %s", STORE_PG_NONE_WHY);
	return -ENOTSUP;
}

static void store_pg_none_where(const struct config *cfg, char *out, size_t outsz)
{
	(void)snprintf(out, outsz, "PostgreSQL user store");
}

const struct userstore_ops store_pg_ops = {
	.name = "postgres",
	.open = store_pg_none_open,
	.where = store_pg_none_where,
};

int store_pg_check_config(const struct config *c, const char **section, const char **key, char *why, size_t whysz)
{
	if (!c->pg_conninfo[0])
		return 0;
	*section = "store";
	*key = "postgres";
	(void)snprintf(why, whysz, "%s", STORE_PG_NONE_WHY);
	return -ENOTSUP;
}
