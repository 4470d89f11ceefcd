/* store_bans_sql: the SQL of the shared bans (table bans, schema 4), written
 * once for both stores. The including file defines the dialect first:
 * BAN_P1..BAN_P6 its parameters ("?1" or "$1"...), BAN_MIN its
 * two-argument minimum ("min" or "least"), and BAN_SHIFT_OPEN and
 * BAN_SHIFT_CLOSE around a shift count (PostgreSQL wants an int). Included by store_sqlite_bans.c
 * and store_pg_bans.c only.
 *
 * STORE_BAN_FAIL_SQL counts one failed login in one statement, the whole
 * decision inside it, so that failures from several nodes (or several
 * ferryd sharing one SQLite file) add up exactly: PostgreSQL's INSERT ...
 * ON CONFLICT DO UPDATE locks the row (a second node's statement waits and
 * then sees the first one's result), SQLite holds its write lock. It is
 * guard_login_failed's rule (core/guard.c), row for row:
 *   - a failure outside the window (or the first) starts a new window;
 *   - reaching the threshold bans for ban_ms << offences, at most max_ms,
 *     where offences (earlier bans) are forgotten max_ms after the last
 *     ban ended, and clears the count;
 * and RETURNING says what became of the row: failures 0 means this failure
 * started a ban (otherwise it is at least 1).
 * Parameters: 1 address, 2 now (ms), 3 window_ms, 4 failures (threshold),
 * 5 ban_ms, 6 max_ms. */
#ifndef FERRY_STORE_BANS_SQL_H
#define FERRY_STORE_BANS_SQL_H

#define STORE_BAN_FRESH "(bans.failures = 0 OR " BAN_P2 " - bans.window_start >= " BAN_P3 ")"
#define STORE_BAN_COUNT "(CASE WHEN " STORE_BAN_FRESH " THEN 1 ELSE bans.failures + 1 END)"
#define STORE_BAN_OFFENCES                                                                                             \
	"(CASE WHEN bans.offences > 0 AND " BAN_P2 " >= bans.banned_until + " BAN_P6 " THEN 0 ELSE bans.offences END)"
#define STORE_BAN_HIT STORE_BAN_COUNT " >= " BAN_P4
#define STORE_BAN_FIRST "CASE WHEN " BAN_P4 " <= 1 THEN "

#define STORE_BAN_FAIL_SQL                                                                                             \
	"INSERT INTO bans(address, failures, window_start, banned_until, offences, updated_at) "                       \
	"VALUES(" BAN_P1 ", " STORE_BAN_FIRST "0 ELSE 1 END, " BAN_P2 ", " STORE_BAN_FIRST BAN_P2 " + " BAN_MIN        \
	"(" BAN_P5 ", " BAN_P6 ") ELSE 0 END, " STORE_BAN_FIRST "1 ELSE 0 END, " BAN_P2 ") "                           \
	"ON CONFLICT(address) DO UPDATE SET "                                                                          \
	"failures = CASE WHEN " STORE_BAN_HIT " THEN 0 ELSE " STORE_BAN_COUNT " END, "                                 \
	"window_start = CASE WHEN " STORE_BAN_FRESH " THEN " BAN_P2 " ELSE bans.window_start END, "                    \
	"banned_until = CASE WHEN " STORE_BAN_HIT " THEN " BAN_P2 " + " BAN_MIN "(" BAN_P6 ", " BAN_P5                 \
	" << " BAN_SHIFT_OPEN BAN_MIN "(" STORE_BAN_OFFENCES ", 31)" BAN_SHIFT_CLOSE ") ELSE bans.banned_until END, "  \
	"offences = CASE WHEN " STORE_BAN_HIT " THEN " STORE_BAN_OFFENCES " + 1 ELSE bans.offences END, "              \
	"updated_at = " BAN_P2 " RETURNING failures, banned_until"

/* 1 now */
#define STORE_BAN_LIST_SQL "SELECT address, banned_until FROM bans WHERE banned_until > " BAN_P1 " ORDER BY address"
/* Every row as it is, and one row written as it is (1 address, 2
 * failures, 3 window_start, 4 banned_until, 5 offences, 6 updated_at). */
#define STORE_BAN_ROWS_SQL                                                                                             \
	"SELECT address, failures, window_start, banned_until, offences, updated_at FROM bans ORDER BY address"
#define STORE_BAN_PUT_SQL                                                                                              \
	"INSERT INTO bans(address, failures, window_start, banned_until, offences, updated_at) VALUES(" BAN_P1         \
	", " BAN_P2 ", " BAN_P3 ", " BAN_P4 ", " BAN_P5 ", " BAN_P6 ") ON CONFLICT(address) DO UPDATE SET "            \
	"failures = excluded.failures, window_start = excluded.window_start, banned_until = excluded.banned_until, "   \
	"offences = excluded.offences, updated_at = excluded.updated_at"
/* 1 address */
#define STORE_BAN_REMOVE_SQL "DELETE FROM bans WHERE address = " BAN_P1
/* 1 now, 2 max_ms, 3 window_ms: no ban and no offence to remember, no
 * failure inside its window. */
#define STORE_BAN_PURGE_SQL                                                                                            \
	"DELETE FROM bans WHERE banned_until + " BAN_P2 " < " BAN_P1 " AND (failures = 0 OR window_start + " BAN_P3    \
	" <= " BAN_P1 ")"

#endif
