/* store_policy: groups and policy attributes (policy.h): the parsers of
 * their text forms and the store calls, written once on top of the two
 * statements each backend offers (policy_write, policy_read). */
#include "policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "parse.h"
#include "str.h"
#include "util.h"

void policy_attrs_free(struct policy_attrs *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n_mounts; i++) {
		free(a->mounts[i].vpath);
		free(a->mounts[i].dir);
	}
	for (size_t i = 0; i < a->n_dir_perms; i++)
		free(a->dir_perms[i].vpath);
	free(a->mounts);
	free(a->dir_perms);
	free(a->allow);
	free(a->max_sessions_group);
	*a = (struct policy_attrs){ 0 };
}

void policy_attrs_copy(struct policy_attrs *dst, const struct policy_attrs *src)
{
	*dst = *src;
	dst->allow = NULL;
	dst->mounts = NULL;
	dst->dir_perms = NULL;
	dst->max_sessions_group = src->max_sessions_group ? util_xstrdup(src->max_sessions_group) : NULL;
	if (src->n_allow) {
		dst->allow = util_xcalloc(src->n_allow, sizeof(*dst->allow));
		memcpy(dst->allow, src->allow, src->n_allow * sizeof(*dst->allow));
	}
	if (src->n_mounts)
		dst->mounts = util_xcalloc(src->n_mounts, sizeof(*dst->mounts));
	for (size_t i = 0; i < src->n_mounts; i++) {
		dst->mounts[i] = src->mounts[i];
		dst->mounts[i].vpath = util_xstrdup(src->mounts[i].vpath);
		dst->mounts[i].dir = util_xstrdup(src->mounts[i].dir);
	}
	if (src->n_dir_perms)
		dst->dir_perms = util_xcalloc(src->n_dir_perms, sizeof(*dst->dir_perms));
	for (size_t i = 0; i < src->n_dir_perms; i++) {
		dst->dir_perms[i] = src->dir_perms[i];
		dst->dir_perms[i].vpath = util_xstrdup(src->dir_perms[i].vpath);
	}
}

int policy_parse_size(const char *s, char max_suffix, uint64_t *out)
{
	static const char suffixes[] = "KMG";
	struct slice t = slice_from_cstr(s ? s : "");
	uint64_t v, mult = 1;

	if (t.n == 0)
		return -EINVAL;
	char last = t.p[t.n - 1];
	if (last >= 'a' && last <= 'z')
		last = (char)(last - 'a' + 'A');
	const char *suf = strchr(suffixes, last);
	if (last != '\0' && suf) {
		const char *max = max_suffix ? strchr(suffixes, max_suffix) : NULL;
		if (!max || suf > max)
			return -EINVAL;
		for (const char *k = suffixes; k <= suf; k++)
			mult *= 1024;
		t.n--;
	}
	if (t.n == 0 || parse_u64(t, UINT64_MAX / mult, &v) != 0)
		return -EINVAL;
	*out = v * mult;
	return 0;
}

static int policy_parse_net(struct slice item, struct policy_net *net)
{
	char text[INET6_ADDRSTRLEN + 8];
	struct slice addr, len;
	bool has_len = slice_split(item, '/', &addr, &len);
	struct in6_addr a6;
	struct in_addr a4;
	unsigned max, base = 0;
	uint64_t prefix;

	if (addr.n == 0 || addr.n >= sizeof(text) - 1)
		return -EINVAL;
	memcpy(text, addr.p, addr.n);
	text[addr.n] = '\0';
	memset(net, 0, sizeof(*net));
	if (inet_pton(AF_INET, text, &a4) == 1) {
		net->addr[10] = net->addr[11] = 0xff;
		memcpy(net->addr + 12, &a4, 4);
		max = 32;
		base = 96;
	} else if (inet_pton(AF_INET6, text, &a6) == 1) {
		memcpy(net->addr, &a6, 16);
		max = 128;
	} else {
		return -EINVAL;
	}
	prefix = max;
	if (has_len && parse_u64(len, max, &prefix) != 0)
		return -EINVAL;
	net->prefix = base + (unsigned)prefix;
	/* Bits beyond the prefix are cleared, so "10.1.2.3/8" is 10.0.0.0/8. */
	for (unsigned bit = net->prefix; bit < 128; bit++)
		net->addr[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
	return 0;
}

int policy_parse_nets(const char *s, struct policy_net **out, size_t *n, const char **bad, size_t *badlen)
{
	struct slice rest = slice_from_cstr(s ? s : ""), item;
	size_t cap = 1;
	bool more = true;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < rest.n; i++)
		cap += rest.p[i] == ',';
	if (slice_eq_ci(slice_trim_spaces(rest), "any")) {
		struct policy_net *any = util_xcalloc(2, sizeof(*any));
		any[0].addr[10] = any[0].addr[11] = 0xff;
		any[0].prefix = 96;
		*out = any;
		*n = 2; /* ::ffff:0:0/96 and ::/0 */
		return 0;
	}
	*out = util_xcalloc(cap, sizeof(**out));
	while (more) {
		more = slice_split(rest, ',', &item, &rest);
		item = slice_trim_spaces(item);
		if (policy_parse_net(item, &(*out)[*n]) != 0) {
			if (bad) {
				*bad = item.p;
				*badlen = item.n;
			}
			free(*out);
			*out = NULL;
			*n = 0;
			return -EINVAL;
		}
		(*n)++;
	}
	return 0;
}

void policy_format_nets(const struct policy_net *nets, size_t n, char *out, size_t outsz)
{
	size_t used = 0;
	if (outsz)
		out[0] = '\0';
	for (size_t i = 0; i < n && used < outsz; i++) {
		char a[INET6_ADDRSTRLEN];
		unsigned prefix = nets[i].prefix;
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		if (prefix >= 96 && memcmp(nets[i].addr, mapped, 12) == 0) {
			(void)inet_ntop(AF_INET, nets[i].addr + 12, a, sizeof(a));
			prefix -= 96;
		} else {
			(void)inet_ntop(AF_INET6, nets[i].addr, a, sizeof(a));
		}
		int k = snprintf(out + used, outsz - used, "%s%s/%u", i ? "," : "", a, prefix);
		if (k < 0)
			return;
		used += (size_t)k;
	}
}

bool policy_nets_match(const struct policy_net *nets, size_t n, const struct sockaddr_storage *ss)
{
	unsigned char a[16] = { 0 };
	if (ss->ss_family == AF_INET) {
		a[10] = a[11] = 0xff;
		memcpy(a + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		memcpy(a, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
	} else {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned p = nets[i].prefix, full = p / 8;
		if (memcmp(a, nets[i].addr, full) != 0)
			continue;
		if (p % 8) {
			unsigned char mask = (unsigned char)(0xffu << (8 - p % 8));
			if ((a[full] & mask) != nets[i].addr[full])
				continue;
		}
		return true;
	}
	return false;
}

int policy_parse_date(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	int y, mo, d, h = 0, mi = 0, sec = 0, used = 0;
	bool date_only;

	if (!s)
		return -EINVAL;
	if (strcmp(s, "never") == 0) {
		*out = 0;
		return 0;
	}
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &used) == 3 && used == 10 && s[10] == '\0') {
		date_only = true;
	} else if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &sec, &used) == 6 && used == 20 &&
		   s[20] == '\0') {
		date_only = false;
	} else {
		return -EINVAL;
	}
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59 || h < 0 ||
	    mi < 0 || sec < 0)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	time_t t = timegm(&tm);
	/* timegm normalises 2026-02-30 to March: refuse what was not a date. */
	struct tm back;
	if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_mday != d || back.tm_mon != mo - 1)
		return -EINVAL;
	*out = (int64_t)t + (date_only ? 86400 : 0);
	if (*out == 0)
		*out = 1; /* 0 means never */
	return 0;
}

int policy_parse_vpath(const char *s, char *out, size_t outsz)
{
	struct slice rest, comp;
	size_t used = 0;
	bool more = true;

	if (!s || s[0] != '/' || slice_has_ctl(slice_from_cstr(s)))
		return -EINVAL;
	rest = slice_from_cstr(s + 1);
	while (more) {
		more = slice_split(rest, '/', &comp, &rest);
		if (comp.n == 0)
			continue;
		if ((comp.n == 1 && comp.p[0] == '.') || (comp.n == 2 && comp.p[0] == '.' && comp.p[1] == '.'))
			return -EINVAL;
		if (used + 1 + comp.n + 1 > outsz)
			return -EINVAL;
		out[used++] = '/';
		memcpy(out + used, comp.p, comp.n);
		used += comp.n;
	}
	if (used == 0) /* the home itself cannot be a mount or be re-permitted: perms do that */
		return -EINVAL;
	out[used] = '\0';
	return 0;
}

int policy_parse_mount(const char *s, char **dir, uint32_t *perms, bool *has_perms)
{
	const char *colon = s ? strrchr(s, ':') : NULL;
	*dir = NULL;
	*has_perms = false;
	*perms = 0;
	if (!s || s[0] != '/' || slice_has_ctl(slice_from_cstr(s)))
		return -EINVAL;
	if (colon && perms_parse(colon + 1, perms) == 0) {
		*has_perms = true;
		*dir = util_xstrndup(s, (size_t)(colon - s));
	} else {
		*dir = util_xstrdup(s);
	}
	return 0;
}

static int policy_u64(const char *v, uint64_t *out)
{
	return parse_u64(slice_from_cstr(v), UINT64_MAX, out);
}

int policy_attr_apply(struct policy_attrs *a, const char *attr, const char *key, const char *value)
{
	uint64_t v;

	if (strcmp(attr, POLICY_A_PERMS) == 0) {
		if (strcmp(value, POLICY_PERMS_INHERIT) == 0) {
			a->perms_inherit = true;
			return 0;
		}
		if (perms_parse(value, &a->perms) != 0)
			return -EINVAL;
		a->has |= POLICY_HAS_PERMS;
		return 0;
	}
	if (strcmp(attr, POLICY_A_ALLOW_FROM) == 0) {
		free(a->allow);
		a->allow = NULL;
		if (policy_parse_nets(value, &a->allow, &a->n_allow, NULL, NULL) != 0)
			return -EINVAL;
		a->has |= POLICY_HAS_ALLOW_FROM;
		return 0;
	}
	if (strcmp(attr, POLICY_A_EXPIRES) == 0) {
		if (policy_u64(value, &v) != 0 || v > INT64_MAX)
			return -EINVAL;
		a->expires = (int64_t)v;
		a->has |= POLICY_HAS_EXPIRES;
		return 0;
	}
	if (strcmp(attr, POLICY_A_MOUNT) == 0) {
		struct policy_mount m = { 0 };
		char vpath[4096];
		if (policy_parse_vpath(key, vpath, sizeof(vpath)) != 0 ||
		    policy_parse_mount(value, &m.dir, &m.perms, &m.has_perms) != 0)
			return -EINVAL;
		m.vpath = util_xstrdup(vpath);
		struct policy_mount *n = realloc(a->mounts, (a->n_mounts + 1) * sizeof(*n));
		if (!n) {
			free(m.vpath);
			free(m.dir);
			return -ENOMEM;
		}
		a->mounts = n;
		a->mounts[a->n_mounts++] = m;
		return 0;
	}
	if (strcmp(attr, POLICY_A_DIR_PERMS) == 0) {
		struct policy_dir_perms d = { 0 };
		char vpath[4096];
		if (policy_parse_vpath(key, vpath, sizeof(vpath)) != 0 || perms_parse(value, &d.perms) != 0)
			return -EINVAL;
		struct policy_dir_perms *n = realloc(a->dir_perms, (a->n_dir_perms + 1) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		d.vpath = util_xstrdup(vpath);
		a->dir_perms = n;
		a->dir_perms[a->n_dir_perms++] = d;
		return 0;
	}
	static const struct {
		const char *name;
		unsigned bit;
		size_t off;
	} nums[] = {
		{ POLICY_A_QUOTA_BYTES, POLICY_HAS_QUOTA_BYTES, offsetof(struct policy_attrs, quota_bytes) },
		{ POLICY_A_QUOTA_FILES, POLICY_HAS_QUOTA_FILES, offsetof(struct policy_attrs, quota_files) },
		{ POLICY_A_RATE_DOWN, POLICY_HAS_RATE_DOWN, offsetof(struct policy_attrs, rate_down) },
		{ POLICY_A_RATE_UP, POLICY_HAS_RATE_UP, offsetof(struct policy_attrs, rate_up) },
	};
	for (size_t i = 0; i < ARRAY_LEN(nums); i++) {
		if (strcmp(attr, nums[i].name) != 0)
			continue;
		if (policy_u64(value, &v) != 0)
			return -EINVAL;
		memcpy((char *)a + nums[i].off, &v, sizeof(v));
		a->has |= nums[i].bit;
		return 0;
	}
	if (strcmp(attr, POLICY_A_MAX_SESSIONS) == 0) {
		if (parse_u64(slice_from_cstr(value), 1000000, &v) != 0)
			return -EINVAL;
		a->max_sessions = (unsigned)v;
		a->has |= POLICY_HAS_MAX_SESSIONS;
		return 0;
	}
	return -EINVAL;
}

/* ---- store calls ---- */

/* Runs write q with its first n of the arguments a1..a4. */
static int policy_write(const struct userstore_ops *ops, struct userstore *s, enum store_policy_sql q, int n,
			const char *a1, const char *a2, const char *a3, const char *a4)
{
	const char *args[STORE_POL_MAX_ARGS] = { a1, a2, a3, a4 };
	if (!ops->policy_write)
		return -EOPNOTSUPP;
	return ops->policy_write(s, q, args, n);
}

static int policy_read(const struct userstore_ops *ops, struct userstore *s, enum store_policy_sql q, const char *a1,
		       const char *a2, int (*fn)(const char *const *cols, void *arg), void *arg)
{
	const char *args[2] = { a1, a2 };
	if (!ops->policy_read)
		return -EOPNOTSUPP;
	return ops->policy_read(s, q, args, q == STORE_POL_MEMBER_LIST ? 2 : 1, fn, arg);
}

int policy_group_add(const struct userstore_ops *ops, struct userstore *s, const char *name)
{
	char now[24];
	(void)snprintf(now, sizeof(now), "%" PRId64, util_wall_s());
	return policy_write(ops, s, STORE_POL_GROUP_ADD, 2, name, now, NULL, NULL);
}

int policy_group_remove(const struct userstore_ops *ops, struct userstore *s, const char *name)
{
	return policy_write(ops, s, STORE_POL_GROUP_DEL, 1, name, NULL, NULL, NULL);
}

struct policy_list_ctx {
	int (*fn)(const char *name, void *arg);
	int (*fn2)(const char *a, const char *b, void *arg);
	int (*fn3)(const char *a, const char *b, const char *c, void *arg);
	void *arg;
};

static int policy_cb1(const char *const *cols, void *arg)
{
	struct policy_list_ctx *c = arg;
	return c->fn(cols[0], c->arg);
}

static int policy_cb2(const char *const *cols, void *arg)
{
	struct policy_list_ctx *c = arg;
	return c->fn2(cols[0], cols[1], c->arg);
}

static int policy_cb3(const char *const *cols, void *arg)
{
	struct policy_list_ctx *c = arg;
	return c->fn3(cols[0], cols[1], cols[2], c->arg);
}

static int policy_found(const char *name, void *arg)
{
	*(bool *)arg = true;
	return 0;
}

int policy_group_check(const struct userstore_ops *ops, struct userstore *s, const char *name)
{
	bool found = false;
	struct policy_list_ctx c = { .fn = policy_found, .arg = &found };
	int r = policy_read(ops, s, STORE_POL_GROUP_LIST, name, NULL, policy_cb1, &c);
	return r ? r : found ? 0 : -ENOENT;
}

int policy_group_list(const struct userstore_ops *ops, struct userstore *s, int (*fn)(const char *name, void *arg),
		      void *arg)
{
	struct policy_list_ctx c = { .fn = fn, .arg = arg };
	return policy_read(ops, s, STORE_POL_GROUP_LIST, NULL, NULL, policy_cb1, &c);
}

int policy_groups_set(const struct userstore_ops *ops, struct userstore *s, const char *user, const char *const *groups,
		      size_t n)
{
	int r = policy_write(ops, s, STORE_POL_MEMBER_CLEAR, 1, user, NULL, NULL, NULL);
	if (r == -ENOENT)
		r = 0; /* had none */
	for (size_t i = 0; !r && i < n; i++) {
		char pos[24];
		(void)snprintf(pos, sizeof(pos), "%zu", i + 1);
		r = policy_write(ops, s, STORE_POL_MEMBER_ADD, 3, user, groups[i], pos, NULL);
	}
	return r;
}

int policy_members(const struct userstore_ops *ops, struct userstore *s, const char *user, const char *group,
		   int (*fn)(const char *user, const char *group, void *arg), void *arg)
{
	struct policy_list_ctx c = { .fn2 = fn, .arg = arg };
	return policy_read(ops, s, STORE_POL_MEMBER_LIST, user, group, policy_cb2, &c);
}

int policy_put(const struct userstore_ops *ops, struct userstore *s, enum policy_kind kind, const char *name,
	       const char *attr, const char *key, const char *value)
{
	if (value)
		return policy_write(ops, s, kind == POLICY_USER ? STORE_POL_USER_PUT : STORE_POL_GROUP_PUT, 4, name,
				    attr, key ? key : "", value);
	return policy_write(ops, s, kind == POLICY_USER ? STORE_POL_USER_DEL : STORE_POL_GROUP_DEL_ATTR, 3, name, attr,
			    key ? key : "", NULL);
}

int policy_rows(const struct userstore_ops *ops, struct userstore *s, enum policy_kind kind, const char *name,
		int (*fn)(const char *attr, const char *key, const char *value, void *arg), void *arg)
{
	struct policy_list_ctx c = { .fn3 = fn, .arg = arg };
	return policy_read(ops, s, kind == POLICY_USER ? STORE_POL_USER_GET : STORE_POL_GROUP_GET, name, NULL,
			   policy_cb3, &c);
}

struct policy_load_ctx {
	struct policy_attrs *a;
	enum policy_kind kind;
	const char *name;
};

static int policy_load_row(const char *attr, const char *key, const char *value, void *arg)
{
	struct policy_load_ctx *c = arg;
	int r = policy_attr_apply(c->a, attr, key, value);
	if (r == -EINVAL) {
		struct log_escaped e1, e2, e3;
		log_err(0, "user store: %s '%s' has an invalid %s '%s'", c->kind == POLICY_USER ? "user" : "group",
			log_esc(slice_from_cstr(c->name), &e1), log_esc(slice_from_cstr(attr), &e2),
			log_esc(slice_from_cstr(value), &e3));
	}
	return r;
}

int policy_load(const struct userstore_ops *ops, struct userstore *s, enum policy_kind kind, const char *name,
		struct policy_attrs *out)
{
	struct policy_load_ctx c = { .a = out, .kind = kind, .name = name };
	*out = (struct policy_attrs){ 0 };
	return policy_rows(ops, s, kind, name, policy_load_row, &c);
}

struct policy_usage_ctx {
	uint64_t bytes, files;
	int err;
};

static int policy_usage_row(const char *const *cols, void *arg)
{
	struct policy_usage_ctx *c = arg;
	if (parse_u64(slice_from_cstr(cols[0]), UINT64_MAX, &c->bytes) != 0 ||
	    parse_u64(slice_from_cstr(cols[1]), UINT64_MAX, &c->files) != 0)
		c->err = -EINVAL;
	return 1;
}

int policy_usage_get(const struct userstore_ops *ops, struct userstore *s, const char *user, uint64_t *bytes,
		     uint64_t *files)
{
	struct policy_usage_ctx c = { 0 };
	int r = policy_read(ops, s, STORE_POL_USAGE_GET, user, NULL, policy_usage_row, &c);
	if (r < 0)
		return r;
	*bytes = c.bytes;
	*files = c.files;
	return c.err;
}

int policy_usage_add(const struct userstore_ops *ops, struct userstore *s, const char *user, int64_t dbytes,
		     int64_t dfiles)
{
	char b[24], f[24];
	(void)snprintf(b, sizeof(b), "%" PRId64, dbytes);
	(void)snprintf(f, sizeof(f), "%" PRId64, dfiles);
	return policy_write(ops, s, STORE_POL_USAGE_ADD, 3, user, b, f, NULL);
}

int policy_usage_set(const struct userstore_ops *ops, struct userstore *s, const char *user, uint64_t bytes,
		     uint64_t files)
{
	char b[24], f[24];
	(void)snprintf(b, sizeof(b), "%" PRIu64, bytes);
	(void)snprintf(f, sizeof(f), "%" PRIu64, files);
	return policy_write(ops, s, STORE_POL_USAGE_SET, 3, user, b, f, NULL);
}
