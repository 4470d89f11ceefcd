/* store_grants: quota grants in the store (policy.h, schema 8; the SQL is
 * store_policy_sql.h's STORE_GRANT_SQL_INIT). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "parse.h"
#include "policy.h"
#include "str.h"

uint64_t policy_grant_size(uint64_t limit, uint64_t used, uint64_t granted, uint64_t need, uint64_t chunk)
{
	uint64_t taken = used + granted;
	if (need == 0 || taken < used || taken >= limit || limit - taken < need)
		return 0;
	uint64_t room = limit - taken, want = chunk > need ? chunk : need;
	return want < room ? want : room;
}

static int grant_write(const struct userstore_ops *ops, struct userstore *s, enum store_policy_sql q, int n,
		       const char *a1, const char *a2, const char *a3, const char *a4)
{
	const char *args[STORE_POL_MAX_ARGS] = { a1, a2, a3, a4 };
	if (!ops->policy_write)
		return -EOPNOTSUPP;
	return ops->policy_write(s, q, args, n);
}

struct room_ctx {
	uint64_t used, granted;
	int err;
};

static int room_row(const char *const *cols, void *arg)
{
	struct room_ctx *c = arg;
	if (parse_u64(slice_from_cstr(cols[0]), UINT64_MAX, &c->used) != 0 ||
	    parse_u64(slice_from_cstr(cols[1]), UINT64_MAX, &c->granted) != 0)
		c->err = -EINVAL;
	return 1;
}

/* The take's statements, inside its transaction. */
static int take_in_txn(const struct userstore_ops *ops, struct userstore *s, const char *user, const char *node,
		       uint64_t need, uint64_t chunk, uint64_t limit, const char *now, const char *expires,
		       uint64_t *got)
{
	int r = grant_write(ops, s, STORE_POL_USAGE_LOCK, 1, user, NULL, NULL, NULL);
	if (r == 0) {
		r = grant_write(ops, s, STORE_POL_GRANT_CLEAR, 3, user, now, node, NULL);
		r = r == -ENOENT ? 0 : r;
	}
	struct room_ctx c = { 0 };
	const char *args[3] = { user, node, now };
	if (r == 0)
		r = ops->policy_read(s, STORE_POL_GRANT_ROOM, args, 3, room_row, &c);
	if (r < 0)
		return r;
	if (c.err)
		return c.err;
	*got = policy_grant_size(limit, c.used, c.granted, need, chunk);
	if (*got == 0)
		return 0;
	char b[24];
	(void)snprintf(b, sizeof(b), "%" PRIu64, *got);
	return grant_write(ops, s, STORE_POL_GRANT_ADD, 4, user, node, b, expires);
}

int policy_grant_take(const struct userstore_ops *ops, struct userstore *s, const char *user, const char *node,
		      uint64_t need, uint64_t chunk, uint64_t limit, int64_t now, int64_t expires, uint64_t *got)
{
	char n[24], e[24];
	(void)snprintf(n, sizeof(n), "%" PRId64, now);
	(void)snprintf(e, sizeof(e), "%" PRId64, expires);
	*got = 0;
	if (!ops->txn || !ops->policy_read)
		return -EOPNOTSUPP;
	int r = ops->txn(s, USERSTORE_BEGIN);
	if (r)
		return r;
	r = take_in_txn(ops, s, user, node, need, chunk, limit, n, e, got);
	if (r == 0)
		r = ops->txn(s, USERSTORE_COMMIT);
	if (r) {
		(void)ops->txn(s, USERSTORE_ROLLBACK);
		*got = 0;
	}
	return r;
}

int policy_grant_sub(const struct userstore_ops *ops, struct userstore *s, const char *user, const char *node,
		     uint64_t bytes)
{
	char b[24];
	(void)snprintf(b, sizeof(b), "%" PRIu64, bytes);
	int r = grant_write(ops, s, STORE_POL_GRANT_SUB, 3, user, node, b, NULL);
	return r == -ENOENT ? 0 : r; /* expired and cleared meanwhile */
}

int policy_grant_renew(const struct userstore_ops *ops, struct userstore *s, const char *node, int64_t expires)
{
	char e[24];
	(void)snprintf(e, sizeof(e), "%" PRId64, expires);
	int r = grant_write(ops, s, STORE_POL_GRANT_RENEW, 2, node, e, NULL, NULL);
	return r == -ENOENT ? 0 : r;
}

int policy_grant_clear(const struct userstore_ops *ops, struct userstore *s, const char *user, int64_t now)
{
	char n[24];
	(void)snprintf(n, sizeof(n), "%" PRId64, now);
	/* node "" is nobody's: every expired grant goes. */
	int r = grant_write(ops, s, STORE_POL_GRANT_CLEAR, 3, user, n, "", NULL);
	return r == -ENOENT ? 0 : r;
}

int policy_grant_drop(const struct userstore_ops *ops, struct userstore *s, const char *node)
{
	int r = grant_write(ops, s, STORE_POL_GRANT_DROP, 1, node, NULL, NULL, NULL);
	return r == -ENOENT ? 0 : r;
}

struct list_ctx {
	int (*fn)(const char *node, uint64_t bytes, int64_t expires, void *arg);
	void *arg;
	int err;
};

static int list_row(const char *const *cols, void *arg)
{
	struct list_ctx *c = arg;
	uint64_t b, e;
	if (parse_u64(slice_from_cstr(cols[1]), UINT64_MAX, &b) != 0 ||
	    parse_u64(slice_from_cstr(cols[2]), INT64_MAX, &e) != 0) {
		c->err = -EINVAL;
		return 1;
	}
	return c->fn(cols[0], b, (int64_t)e, c->arg);
}

int policy_grant_list(const struct userstore_ops *ops, struct userstore *s, const char *user,
		      int (*fn)(const char *node, uint64_t bytes, int64_t expires, void *arg), void *arg)
{
	struct list_ctx c = { .fn = fn, .arg = arg };
	const char *args[1] = { user };
	if (!ops->policy_read)
		return -EOPNOTSUPP;
	int r = ops->policy_read(s, STORE_POL_GRANT_LIST, args, 1, list_row, &c);
	return r < 0 ? r : c.err;
}
