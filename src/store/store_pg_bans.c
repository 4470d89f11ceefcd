/* store_pg_bans: the PostgreSQL backend's shared failed-login counts and
 * bans (table bans, store_pg.c's migration 4; the SQL is store_bans_sql.h's,
 * shared with SQLite), and the watch that tells a node at once when
 * another one banned an address: LISTEN ferry_bans on the handle's own
 * connection, which the table's triggers NOTIFY at each change of a ban.
 *
 * ban_fail's single INSERT ... ON CONFLICT DO UPDATE is the atomic part: of
 * two nodes counting a failure of the same address at the same moment, the
 * second one's statement waits for the first one's row and counts on top
 * of it (READ COMMITTED re-evaluates the update against the new row). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "store_pg_impl.h"

#define BAN_P1 "$1"
#define BAN_P2 "$2"
#define BAN_P3 "$3"
#define BAN_P4 "$4"
#define BAN_P5 "$5"
#define BAN_P6 "$6"
#define BAN_MIN "least"
#define BAN_SHIFT_OPEN "("
#define BAN_SHIFT_CLOSE ")::int"
#include "store_bans_sql.h"

int store_pg_ban_fail(struct userstore *s, const char *address, const struct ban_rule *rule, int64_t now_ms,
		      int64_t *until, bool *started)
{
	struct pg_params p = { 0 };
	PGresult *res;
	int64_t failures = -1;

	*until = 0;
	*started = false;
	pg_param_text(&p, address);
	pg_param_int8(&p, now_ms);
	pg_param_int8(&p, rule->window_ms);
	pg_param_int8(&p, rule->failures);
	pg_param_int8(&p, rule->ban_ms);
	pg_param_int8(&p, rule->max_ms);
	int r = store_pg_exec(s, "ban count", STORE_BAN_FAIL_SQL, &p, &res);
	if (r)
		return r;
	if (PQntuples(res) != 1 || store_pg_int8(res, 0, 0, &failures) || store_pg_int8(res, 0, 1, until))
		r = -EIO;
	*started = r == 0 && failures == 0;
	PQclear(res);
	return r;
}

int store_pg_ban_list(struct userstore *s, int64_t now_ms, int (*fn)(const char *address, int64_t until, void *arg),
		      void *arg)
{
	struct pg_params p = { 0 };
	PGresult *res;

	pg_param_int8(&p, now_ms);
	int r = store_pg_exec(s, "ban list", STORE_BAN_LIST_SQL, &p, &res);
	if (r)
		return r;
	for (int i = 0; !r && i < PQntuples(res); i++) {
		char *address = NULL;
		int64_t until = 0;
		r = store_pg_text(res, i, 0, false, &address);
		if (!r)
			r = store_pg_int8(res, i, 1, &until);
		if (!r)
			r = fn(address, until, arg);
		free(address);
	}
	PQclear(res);
	return r;
}

int store_pg_ban_remove(struct userstore *s, const char *address)
{
	struct pg_params p = { 0 };
	pg_param_text(&p, address);
	return store_pg_write(s, "ban remove", STORE_BAN_REMOVE_SQL, &p);
}

int store_pg_ban_rows(struct userstore *s, int (*fn)(const struct ban_row *row, void *arg), void *arg)
{
	PGresult *res;
	int r = store_pg_exec(s, "ban rows", STORE_BAN_ROWS_SQL, NULL, &res);
	if (r)
		return r;
	for (int i = 0; !r && i < PQntuples(res); i++) {
		char *address = NULL;
		struct ban_row row = { 0 };
		r = store_pg_text(res, i, 0, false, &address);
		if (!r)
			r = store_pg_int8(res, i, 1, &row.failures);
		if (!r)
			r = store_pg_int8(res, i, 2, &row.window_start);
		if (!r)
			r = store_pg_int8(res, i, 3, &row.banned_until);
		if (!r)
			r = store_pg_int8(res, i, 4, &row.offences);
		if (!r)
			r = store_pg_int8(res, i, 5, &row.updated_at);
		row.address = address;
		if (!r)
			r = fn(&row, arg);
		free(address);
	}
	PQclear(res);
	return r;
}

int store_pg_ban_put(struct userstore *s, const struct ban_row *row)
{
	struct pg_params p = { 0 };
	pg_param_text(&p, row->address);
	pg_param_int8(&p, row->failures);
	pg_param_int8(&p, row->window_start);
	pg_param_int8(&p, row->banned_until);
	pg_param_int8(&p, row->offences);
	pg_param_int8(&p, row->updated_at);
	return store_pg_write(s, "ban put", STORE_BAN_PUT_SQL, &p);
}

int store_pg_ban_purge(struct userstore *s, const struct ban_rule *rule, int64_t now_ms)
{
	struct pg_params p = { 0 };
	pg_param_int8(&p, now_ms);
	pg_param_int8(&p, rule->max_ms);
	pg_param_int8(&p, rule->window_ms);
	int r = store_pg_write(s, "ban purge", STORE_BAN_PURGE_SQL, &p);
	return r == -ENOENT ? 0 : r;
}

/* Takes the notifications libpq has read (during a query, or just now). */
static bool store_pg_ban_news(struct userstore *s)
{
	bool news = false;
	PGnotify *n;
	while ((n = PQnotifies(s->conn)) != NULL) {
		news = true;
		PQfreemem(n);
	}
	return news;
}

int store_pg_ban_watch(struct userstore *s, int wake_fd, int timeout_ms)
{
	/* A new connection listens first, and has news: what was announced
	 * before it listened is lost, so the caller reads the bans again. */
	bool fresh = false;
	int r = store_pg_ensure(s);
	if (!r && s->listen_gen != s->conn_gen) {
		r = store_pg_script(s, "ban watch", "LISTEN ferry_bans");
		if (!r) {
			s->listen_gen = s->conn_gen;
			fresh = true;
		}
	}
	if (!r && (fresh || store_pg_ban_news(s)))
		return 1;
	struct pollfd fds[2] = { { .fd = wake_fd, .events = POLLIN }, { .fd = -1, .events = POLLIN } };
	if (!r)
		fds[1].fd = PQsocket(s->conn);
	/* Without a connection, wait out the timeout (or the wake-up) and let
	 * the next call try again (store_pg_ensure's backoff). */
	if (poll(fds, 2, timeout_ms) <= 0 || fds[1].fd < 0 || !fds[1].revents)
		return 0;
	/* A broken connection shows at the next query, which reconnects. */
	if (!PQconsumeInput(s->conn))
		return 0;
	return store_pg_ban_news(s) ? 1 : 0;
}
