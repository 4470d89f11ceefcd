/* store_sqlite_db: the SQLite backend's statement helpers, shared by its
 * files (store_sqlite.c, store_sqlite_otp.c, store_sqlite_principal.c):
 * error mapping, the reset of reused statements, writes and text columns.
 * The bottom of the backend: it calls none of the other three. */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_sqlite_impl.h"

/* Maps an SQLite result code to -errno. -EEXIST and -ENOENT are reserved for
 * the meanings userstore.h gives them. */
int store_sqlite_errno(const struct userstore *s, int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CONSTRAINT:
		return rc == SQLITE_CONSTRAINT_PRIMARYKEY ? -EEXIST : -EINVAL;
	case SQLITE_CANTOPEN: {
		int e = s->db ? sqlite3_system_errno(s->db) : 0;
		return e > 0 ? -e : -EIO;
	}
	default:
		return -EIO;
	}
}

/* Logs SQLite's own explanation (the caller only sees an errno) and returns
 * the mapped error. */
int store_sqlite_fail(const struct userstore *s, const char *what, int rc)
{
	int r = store_sqlite_errno(s, rc);
	if (r != -EEXIST)
		log_err(0, "user database %s: %s: %s", s->path, what,
			s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
	return r;
}

/* Copies text column i into *out (NULL for SQL NULL when nullable). */
int store_sqlite_column_dup(sqlite3_stmt *st, int i, bool nullable, char **out)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	*out = NULL;
	if (!t)
		return nullable && sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : -EIO;
	*out = strndup((const char *)t, (size_t)sqlite3_column_bytes(st, i));
	return *out ? 0 : -ENOMEM;
}

/* Statements are reused: always leave them reset and unbound. */
void store_sqlite_stmt_done(sqlite3_stmt *st)
{
	(void)sqlite3_reset(st);
	(void)sqlite3_clear_bindings(st);
}

/* Runs a write statement; -ENOENT when it touched no row. */
int store_sqlite_write(struct userstore *s, sqlite3_stmt *st, const char *what, int rc)
{
	int r = 0;

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		r = store_sqlite_fail(s, what, rc);
	else if (sqlite3_changes(s->db) == 0)
		r = -ENOENT;
	store_sqlite_stmt_done(st);
	return r;
}
