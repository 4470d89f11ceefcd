/* store_pg_db: the PostgreSQL backend's connection and query helpers, the
 * bottom of the backend (it calls none of the other store_pg files).
 *
 * Each handle is one connection used by one thread: ferryd's job threads
 * each own one (a pool of one connection per job thread, made at the
 * thread's first query), so every query is a plain blocking libpq call on a
 * job thread and never on an event loop. A connection the server closed
 * (restart, pg_terminate_backend) is noticed before the next query is sent
 * and replaced; one that breaks during a query fails that query with -EIO
 * (the login in flight gets 421) and is replaced by the next call. After a
 * failed attempt, calls fail at once until a backoff (0.1 s doubling to 2 s)
 * has passed, so a database that is down costs each login one refused
 * connection at most, not a connect timeout. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_migrate.h"
#include "store_pg_impl.h"
#include "str.h"
#include "util.h"

#define STORE_PG_BACKOFF_MIN_MS 100u
#define STORE_PG_BACKOFF_MAX_MS 2000u

void pg_param_text(struct pg_params *p, const char *s)
{
	int i = p->n++;
	p->val[i] = s;
	p->len[i] = s ? (int)strlen(s) : 0;
	p->fmt[i] = 1;
	p->type[i] = PG_OID_TEXT;
}

void pg_param_int8(struct pg_params *p, int64_t v)
{
	int i = p->n++;
	uint64_t u = (uint64_t)v;
	for (int k = 7; k >= 0; k--, u >>= 8)
		p->num[i][k] = (unsigned char)(u & 0xff);
	p->val[i] = (const char *)p->num[i];
	p->len[i] = 8;
	p->fmt[i] = 1;
	p->type[i] = PG_OID_INT8;
}

void pg_param_bool(struct pg_params *p, bool v)
{
	int i = p->n++;
	p->num[i][0] = v ? 1 : 0;
	p->val[i] = (const char *)p->num[i];
	p->len[i] = 1;
	p->fmt[i] = 1;
	p->type[i] = PG_OID_BOOL;
}

void pg_param_bytea(struct pg_params *p, const void *b, size_t n)
{
	int i = p->n++;
	p->val[i] = b;
	p->len[i] = (int)n;
	p->fmt[i] = 1;
	p->type[i] = PG_OID_BYTEA;
}

/* libpq's messages end in a newline and may span lines: one log line. */
static void store_pg_keep_err(struct userstore *s, const char *msg)
{
	size_t n = 0;
	for (const char *m = msg ? msg : ""; *m && n + 1 < sizeof(s->err); m++) {
		bool space = *m == '\n' || *m == '\t' || *m == ' ';
		if (!space || (n && s->err[n - 1] != ' '))
			s->err[n++] = space ? ' ' : *m;
	}
	while (n && s->err[n - 1] == ' ')
		n--;
	s->err[n] = '\0';
	if (!n)
		(void)str_copy(s->err, sizeof(s->err), "unknown error");
}

/* Server notices (e.g. "relation already exists, skipping") go to the log
 * at debug level instead of libpq's default, stderr. A FATAL one arrives
 * while the connection is idle when the server ends it (shutdown,
 * pg_terminate_backend): the connection is going, before its EOF shows. */
static void store_pg_notice(void *arg, const PGresult *res)
{
	struct userstore *s = arg;
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorMessage(res);
	struct log_escaped e;
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		n--;
	if (sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
		s->closing = true;
	log_debug(0, "%s: %s", s->where, log_esc((struct slice){ msg, n }, &e));
}

/* A new connection; our defaults come before the operator's conninfo
 * (expanded from dbname), so anything it sets wins. */
static int store_pg_connect(struct userstore *s)
{
	const char *const keys[] = { "connect_timeout", "application_name", "dbname", NULL };
	const char *const vals[] = { "5", s->app, s->conninfo, NULL };

	if (s->conn)
		PQfinish(s->conn);
	s->checked = false;
	s->closing = false;
	s->conn = PQconnectdbParams(keys, vals, 1);
	if (!s->conn) {
		(void)str_copy(s->err, sizeof(s->err), "out of memory");
		return -ENOMEM;
	}
	if (PQstatus(s->conn) != CONNECTION_OK) {
		store_pg_keep_err(s, PQerrorMessage(s->conn));
		PQfinish(s->conn);
		s->conn = NULL;
		return -EIO;
	}
	(void)PQsetNoticeReceiver(s->conn, store_pg_notice, s);
	s->conn_gen++;
	return 0;
}

int store_pg_open_conn(struct userstore *s)
{
	int r = store_pg_connect(s);
	s->checked = r == 0; /* the caller's migration is the check */
	return r;
}

/* False when the server has closed the connection: its FATAL message (and
 * usually the EOF) are already waiting on the socket, so reading them now,
 * without blocking, saves sending a query into a dead connection. */
static bool store_pg_alive(struct userstore *s)
{
	if (!s->conn || PQstatus(s->conn) != CONNECTION_OK || s->closing)
		return false;
	for (int i = 0; i < 4; i++) {
		struct pollfd p = { .fd = PQsocket(s->conn), .events = POLLIN };
		if (p.fd < 0)
			return false;
		int n = poll(&p, 1, 0);
		if (n <= 0)
			return true; /* nothing waiting (or EINTR): the query will tell */
		/* PQisBusy parses what came: a FATAL notice sets closing. */
		if (!PQconsumeInput(s->conn) || PQstatus(s->conn) != CONNECTION_OK)
			return false;
		(void)PQisBusy(s->conn);
		if (s->closing)
			return false;
	}
	return true;
}

/* Each new connection of a lazy handle checks that the database has the
 * schema this ferryd knows (a newer ferry may have migrated it since). */
static int store_pg_check_version(struct userstore *s)
{
	PGresult *res =
	    PQexecParams(s->conn, "SELECT coalesce(max(version), 0) FROM schema_version", 0, NULL, NULL, NULL, NULL, 1);
	int64_t v = -1;
	int r = -EIO;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		store_pg_keep_err(s, PQresultErrorMessage(res));
		log_err(0, "%s: cannot read the schema version (run: ferry store migrate): %s", s->where, s->err);
	} else if (PQntuples(res) != 1 || store_pg_int8(res, 0, 0, &v) != 0 || v != STORE_SCHEMA_VERSION) {
		(void)snprintf(s->err, sizeof(s->err), "schema version %lld, this ferryd needs %d", (long long)v,
			       STORE_SCHEMA_VERSION);
		log_err(0, "%s: %s (run: ferry store migrate, or upgrade this node)", s->where, s->err);
		r = -EPROTONOSUPPORT;
	} else {
		s->checked = true;
		r = 0;
	}
	PQclear(res);
	return r;
}

int store_pg_ensure(struct userstore *s)
{
	if (s->conn && (s->in_txn || store_pg_alive(s)))
		return s->checked ? 0 : store_pg_check_version(s);
	if (s->in_txn) {
		(void)str_copy(s->err, sizeof(s->err), "the connection was lost inside a transaction");
		return -EIO;
	}
	if (s->conn) {
		store_pg_keep_err(s, PQerrorMessage(s->conn));
		log_warn(0, "%s: connection lost (%s); reconnecting", s->where, s->err);
		s->lost = true;
	}
	uint64_t now = util_now_ms();
	if (s->retry_at_ms && now < s->retry_at_ms) {
		if (s->conn)
			PQfinish(s->conn);
		s->conn = NULL;
		return -EIO;
	}
	int r = store_pg_connect(s);
	if (r) {
		/* The first failure is an error; the retries of an outage are
		 * only worth a debug line each. */
		if (s->backoff_ms)
			log_debug(0, "%s: still cannot connect: %s", s->where, s->err);
		else
			log_err(0, "%s: cannot connect: %s", s->where, s->err);
		s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : STORE_PG_BACKOFF_MIN_MS;
		if (s->backoff_ms > STORE_PG_BACKOFF_MAX_MS)
			s->backoff_ms = STORE_PG_BACKOFF_MAX_MS;
		s->retry_at_ms = now + s->backoff_ms;
		s->lost = true;
		return r;
	}
	if (s->lost)
		log_info(0, "%s: connected again", s->where);
	s->lost = false;
	s->backoff_ms = 0;
	s->retry_at_ms = 0;
	return store_pg_check_version(s);
}

/* SQLSTATE → the errno the store interface gives it. */
static int store_pg_errno(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (!state)
		return -EIO;
	if (strcmp(state, "23505") == 0)
		return -EEXIST;
	if (strcmp(state, "23503") == 0)
		return -ENOENT;
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0)
		return -EBUSY;
	if (strcmp(state, "42501") == 0 || strncmp(state, "28", 2) == 0)
		return -EACCES;
	if (strcmp(state, "53100") == 0)
		return -ENOSPC;
	return -EIO;
}

/* Takes q (PQexec's or PQexecParams' result): 0 with *res, or the error. */
static int store_pg_result(struct userstore *s, const char *what, PGresult *q, PGresult **res)
{
	ExecStatusType st = PQresultStatus(q);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		*res = q;
		return 0;
	}
	store_pg_keep_err(s, q ? PQresultErrorMessage(q) : PQerrorMessage(s->conn));
	int r = q ? store_pg_errno(q) : -ENOMEM;
	/* A broken connection is -EIO whatever the result says. */
	if (PQstatus(s->conn) != CONNECTION_OK)
		r = -EIO;
	if (r != -EEXIST && r != -ENOENT)
		log_err(0, "%s: %s: %s", s->where, what, s->err);
	PQclear(q);
	return r;
}

int store_pg_exec(struct userstore *s, const char *what, const char *sql, const struct pg_params *p, PGresult **res)
{
	*res = NULL;
	int r = store_pg_ensure(s);
	if (r)
		return r;
	return store_pg_result(s, what,
			       PQexecParams(s->conn, sql, p ? p->n : 0, p ? p->type : NULL, p ? p->val : NULL,
					    p ? p->len : NULL, p ? p->fmt : NULL, 1),
			       res);
}

int store_pg_script(struct userstore *s, const char *what, const char *sql)
{
	PGresult *res = NULL;
	int r = store_pg_ensure(s);
	if (!r)
		r = store_pg_result(s, what, PQexec(s->conn, sql), &res);
	PQclear(res);
	return r;
}

int store_pg_write(struct userstore *s, const char *what, const char *sql, const struct pg_params *p)
{
	PGresult *res;
	int r = store_pg_exec(s, what, sql, p, &res);
	if (r)
		return r;
	const char *n = PQcmdTuples(res);
	r = n[0] == '\0' || strcmp(n, "0") == 0 ? -ENOENT : 0;
	PQclear(res);
	return r;
}

int store_pg_text(const PGresult *res, int row, int col, bool nullable, char **out)
{
	*out = NULL;
	if (PQgetisnull(res, row, col))
		return nullable ? 0 : -EIO;
	if (PQftype(res, col) != PG_OID_TEXT)
		return -EIO;
	*out = strndup(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
	return *out ? 0 : -ENOMEM;
}

int store_pg_int8(const PGresult *res, int row, int col, int64_t *out)
{
	*out = 0;
	if (PQgetisnull(res, row, col))
		return 0;
	if (PQftype(res, col) != PG_OID_INT8 || PQgetlength(res, row, col) != 8)
		return -EIO;
	const unsigned char *b = (const unsigned char *)PQgetvalue(res, row, col);
	uint64_t u = 0;
	for (int k = 0; k < 8; k++)
		u = u << 8 | b[k];
	*out = (int64_t)u;
	return 0;
}

int store_pg_bool(const PGresult *res, int row, int col, bool *out)
{
	*out = false;
	if (PQgetisnull(res, row, col))
		return 0;
	if (PQftype(res, col) != PG_OID_BOOL || PQgetlength(res, row, col) != 1)
		return -EIO;
	*out = PQgetvalue(res, row, col)[0] != 0;
	return 0;
}

void store_pg_describe(const char *conninfo, char *out, size_t outsz)
{
	static const char *const shown[] = { "host", "hostaddr", "port", "dbname", "user" };
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
	size_t used = 0;
	int n = snprintf(out, outsz, "PostgreSQL user store");

	PQfreemem(perr);
	used = n > 0 && (size_t)n < outsz ? (size_t)n : 0;
	for (size_t i = 0; opts && i < ARRAY_LEN(shown); i++) {
		for (PQconninfoOption *o = opts; o->keyword; o++) {
			if (strcmp(o->keyword, shown[i]) != 0 || !o->val || !o->val[0])
				continue;
			char esc[128];
			n = snprintf(out + used, outsz - used, " %s=%s", o->keyword,
				     str_escape(slice_from_cstr(o->val), esc, sizeof(esc)));
			if (n > 0 && (size_t)n < outsz - used)
				used += (size_t)n;
		}
	}
	PQconninfoFree(opts);
}
