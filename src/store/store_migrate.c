/* store_migrate: the schema migration runner both stores use (see
 * store_migrate.h). The fast path reads the version without taking any
 * lock, so opening an up-to-date store (every job thread, every ferry
 * command) writes nothing; only a store that needs steps takes the lock,
 * reads the version again under it (another node may have migrated
 * meanwhile) and applies what is still missing. */
#include "store_migrate.h"

#include <errno.h>
#include <stdio.h>

/* Refusals that need no lock: a newer schema or somebody else's tables. */
static int store_migrate_refuse(int64_t version, bool foreign, const char *where, char *err, size_t errsz)
{
	if (version > STORE_SCHEMA_VERSION || version < 0) {
		(void)snprintf(err, errsz,
			       "%s has schema version %lld; this ferry understands version %d (is it from a newer "
			       "ferry?)",
			       where, (long long)version, STORE_SCHEMA_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (version == 0 && foreign) {
		(void)snprintf(err, errsz, "%s is not a ferry user database (it has tables but no ferry schema)",
			       where);
		return -EINVAL;
	}
	return 0;
}

int store_migrate(const struct store_migrate_ops *ops, void *db, const char *where, bool create, int *found, char *err,
		  size_t errsz)
{
	int64_t version = 0;
	bool foreign = false;
	int r = ops->version(db, &version, &foreign);

	if (r) {
		(void)snprintf(err, errsz, "cannot read the schema version of %s: %s", where, ops->errmsg(db));
		return r;
	}
	*found = (int)version;
	r = store_migrate_refuse(version, foreign, where, err, errsz);
	if (r || version == STORE_SCHEMA_VERSION)
		return r;
	if (version == 0 && !create)
		return -ENOENT;
	r = ops->lock(db);
	if (!r)
		r = ops->version(db, &version, &foreign);
	if (r) {
		(void)snprintf(err, errsz, "cannot start migrating %s: %s", where, ops->errmsg(db));
		goto fail;
	}
	/* Under the lock: what another migrator left is what counts now. */
	*found = (int)version;
	r = store_migrate_refuse(version, foreign, where, err, errsz);
	if (r || version == STORE_SCHEMA_VERSION)
		goto fail; /* r == 0: another migrator did it all; nothing to commit */
	for (int to = (int)version + 1; to <= STORE_SCHEMA_VERSION; to++) {
		r = ops->step(db, to);
		if (r) {
			(void)snprintf(err, errsz, "cannot migrate %s to schema version %d: %s", where, to,
				       ops->errmsg(db));
			goto fail;
		}
	}
	r = ops->commit(db, STORE_SCHEMA_VERSION);
	if (r) {
		(void)snprintf(err, errsz, "cannot migrate %s to schema version %d: %s", where, STORE_SCHEMA_VERSION,
			       ops->errmsg(db));
		goto fail;
	}
	return 0;
fail:
	ops->rollback(db);
	return r;
}
