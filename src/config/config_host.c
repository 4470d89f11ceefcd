/* config_host: [host NAME] sections (virtual hosts, RFC 7151 HOST and TLS
 * SNI). config.c's line reader sees each "[host NAME]" header, calls
 * config_host_begin and hands inih a plain "[host]" (inih truncates long
 * section names), so every key until the next header belongs to the last
 * host begun; config_host_key parses it with the same value code as every
 * other key (config_apply on a row whose offset points into that host). */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config_host.h"
#include "str.h"
#include "util.h"

#define HROW(k, t, f, lo, hi, h)                                                                                       \
	{                                                                                                              \
		.section = "host NAME", .key = (k), .type = (t), .off = offsetof(struct config_vhost, f),              \
		.size = sizeof(((struct config_vhost *)0)->f), .min = (lo), .max = (hi), .def = "", .help = (h)        \
	}

static const struct config_row host_rows[] = {
	HROW("aliases", CONFIG_T_STRING, aliases, 0, 511, "further host names (comma-separated) HOST and SNI match"),
	HROW("banner", CONFIG_T_STRING, banner, 0, 255, "text of the 220 reply to HOST"),
	HROW("cert", CONFIG_T_PATH_LIST, tls_cert, 0, 1, "PEM certificate presented to this host's TLS clients"),
	HROW("key", CONFIG_T_PATH_LIST, tls_key, 0, 1, "private key of cert"),
	HROW("max_per_user", CONFIG_T_UINT, max_per_user, 0, 100000,
	     "logged-in sessions per user of this host; 0 = [limits] max_per_user"),
};

bool config_vhost_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > CONFIG_VHOST_NAME_MAX || name[0] == '.' || name[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '.' && name[i] != '-')
			return false;
	return true;
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* Calls fn on each name of h (its own, then each alias) until fn is true. */
static bool each_name(const struct config_vhost *h, bool (*fn)(const char *name, const void *arg), const void *arg)
{
	char one[CONFIG_VHOST_NAME_MAX + 1];
	struct slice rest = slice_from_cstr(h->aliases), item;
	bool more = rest.n > 0;
	if (fn(h->name, arg))
		return true;
	while (more) {
		more = slice_split(rest, ',', &item, &rest);
		item = slice_trim_spaces(item);
		if (item.n == 0 || item.n >= sizeof(one))
			continue;
		memcpy(one, item.p, item.n);
		one[item.n] = '\0';
		if (fn(one, arg))
			return true;
	}
	return false;
}

static bool same_name(const char *name, const void *arg)
{
	return strcasecmp(name, arg) == 0;
}

const struct config_vhost *config_vhost_find(const struct config *c, const char *name)
{
	if (!c || !name || !name[0])
		return NULL;
	for (size_t i = 0; i < c->n_vhosts; i++)
		if (each_name(&c->vhosts[i], same_name, name))
			return &c->vhosts[i];
	return NULL;
}

int config_host_begin(struct config *c, struct slice name, unsigned line, char *why, size_t whysz)
{
	char esc[80], nm[CONFIG_VHOST_NAME_MAX + 1];
	name = slice_trim_spaces(name);
	if (name.n == 0) {
		config_why(why, whysz, "[host]: needs a host name: [host NAME], e.g. [host ftp.example.com]");
		return -EINVAL;
	}
	if (name.n >= sizeof(nm)) {
		config_why(why, whysz, "[host %s]: host name longer than %d characters",
			   str_escape(name, esc, sizeof(esc)), CONFIG_VHOST_NAME_MAX);
		return -EINVAL;
	}
	memcpy(nm, name.p, name.n);
	nm[name.n] = '\0';
	if (!config_vhost_name_valid(nm)) {
		config_why(why, whysz, "[host %s]: not a host name (letters, digits, '.' and '-')",
			   str_escape(name, esc, sizeof(esc)));
		return -EINVAL;
	}
	lower(nm);
	for (size_t i = 0; i < c->n_vhosts; i++)
		if (strcmp(c->vhosts[i].name, nm) == 0) {
			config_why(why, whysz, "[host %s]: given twice (first on line %u)", nm, c->vhosts[i].line);
			return -EINVAL;
		}
	if (c->n_vhosts >= CONFIG_MAX_VHOSTS) {
		config_why(why, whysz, "[host %s]: more than %d [host] sections", nm, CONFIG_MAX_VHOSTS);
		return -EINVAL;
	}
	struct config_vhost *h = &c->vhosts[c->n_vhosts++];
	*h = (struct config_vhost){ .line = line };
	(void)str_copy(h->name, sizeof(h->name), nm);
	return 0;
}

int config_host_key(struct config *c, const char *key, const char *value, const char *dir, unsigned *seen, char *why,
		    size_t whysz)
{
	char tmp[384];
	if (c->n_vhosts == 0) {
		config_why(why, whysz, "internal error: a [host] key before any [host NAME]");
		return -EINVAL;
	}
	struct config_vhost *h = &c->vhosts[c->n_vhosts - 1];
	for (size_t i = 0; i < ARRAY_LEN(host_rows); i++) {
		if (strcmp(host_rows[i].key, key) != 0)
			continue;
		if (*seen & (1u << i)) {
			config_why(why, whysz, "[host %s] %s: given twice", h->name, key);
			return -EINVAL;
		}
		*seen |= 1u << i;
		struct config_row row = host_rows[i];
		row.off += offsetof(struct config, vhosts) + (size_t)(h - c->vhosts) * sizeof(*h);
		if (config_apply(&row, value, c, dir, tmp, sizeof(tmp)) != 0) {
			config_why(why, whysz, "[host %s] %s: %s", h->name, key, tmp);
			return -EINVAL;
		}
		if (strcmp(key, "aliases") == 0)
			return config_host_aliases(h, why, whysz);
		return 0;
	}
	config_why(why, whysz, "[host %s] %s: unknown key (aliases, banner, cert, key, max_per_user)", h->name,
		   config_quote(key, tmp, sizeof(tmp)));
	return -EINVAL;
}

/* Each alias is a host name; stored lower case without blanks. */
int config_host_aliases(struct config_vhost *h, char *why, size_t whysz)
{
	char out[sizeof(h->aliases)] = "", one[CONFIG_VHOST_NAME_MAX + 1], esc[80];
	struct slice rest = slice_from_cstr(h->aliases), item;
	bool more = rest.n > 0;
	size_t len = 0;
	while (more) {
		more = slice_split(rest, ',', &item, &rest);
		item = slice_trim_spaces(item);
		bool ok = item.n > 0 && item.n < sizeof(one);
		if (ok) {
			memcpy(one, item.p, item.n);
			one[item.n] = '\0';
			ok = config_vhost_name_valid(one);
		}
		if (!ok) {
			config_why(why, whysz,
				   "[host %s] aliases: '%s' is not a host name (letters, digits, '.' and '-')", h->name,
				   str_escape(item, esc, sizeof(esc)));
			return -EINVAL;
		}
		lower(one);
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", len ? "," : "", one);
	}
	(void)str_copy(h->aliases, sizeof(h->aliases), out);
	return 0;
}

/* each_name's callback for config_host_check: is name one of an earlier
 * host's? (arg: the config, the host checked, and where to put the other) */
struct taken_arg {
	const struct config *c;
	const struct config_vhost *self;
	const struct config_vhost *other;
	char name[CONFIG_VHOST_NAME_MAX + 1];
};

static bool taken_before(const char *name, const void *arg)
{
	struct taken_arg *t = (struct taken_arg *)arg;
	for (const struct config_vhost *h = t->c->vhosts; h < t->self; h++)
		if (each_name(h, same_name, name)) {
			t->other = h;
			(void)str_copy(t->name, sizeof(t->name), name);
			return true;
		}
	return false;
}

int config_host_check(const struct config *c, unsigned *line, char *why, size_t whysz)
{
	for (size_t i = 0; i < c->n_vhosts; i++) {
		const struct config_vhost *h = &c->vhosts[i];
		*line = h->line;
		if (!h->tls_cert[0] != !h->tls_key[0]) {
			config_why(why, whysz, "[host %s] %s: cert and key go together (one certificate, its key)",
				   h->name, h->tls_cert[0] ? "key" : "cert");
			return -EINVAL;
		}
		if (h->tls_cert[0] && !c->tls_cert[0]) {
			config_why(why, whysz,
				   "[host %s] cert: needs TLS on: [tls] cert and key (the default certificate)",
				   h->name);
			return -EINVAL;
		}
		struct taken_arg t = { .c = c, .self = h };
		if (each_name(h, taken_before, &t)) {
			config_why(why, whysz, "[host %s]: %s already names [host %s] (line %u)", h->name, t.name,
				   t.other->name, t.other->line);
			return -EINVAL;
		}
	}
	return 0;
}
