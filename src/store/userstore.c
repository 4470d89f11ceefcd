/* userstore: the user model shared by every store backend and by the login
 * code above them (see userstore.h). Pure data handling plus one lookup
 * through the ops table: nothing here calls auth.c or auth_otp.c. */
#include "userstore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "str.h"
#include "util.h"

/* Names in the order of the bits: perms_format writes them in this order,
 * which is the canonical text the store keeps. */
static const struct {
	const char *name;
	uint32_t bit;
} perm_names[] = {
	{ "read", PERM_READ },	   { "write", PERM_WRITE }, { "delete", PERM_DELETE },
	{ "rename", PERM_RENAME }, { "mkdir", PERM_MKDIR }, { "list", PERM_LIST },
};

static int perm_lookup(struct slice word, uint32_t *bits)
{
	if (slice_eq_ci(word, "all")) {
		*bits = PERM_ALL;
		return 0;
	}
	if (slice_eq_ci(word, "none")) {
		*bits = 0;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_LEN(perm_names); i++) {
		if (slice_eq_ci(word, perm_names[i].name)) {
			*bits = perm_names[i].bit;
			return 0;
		}
	}
	return -EINVAL;
}

int perms_parse(const char *s, uint32_t *out)
{
	struct slice rest = slice_from_cstr(s), word;
	uint32_t perms = 0;
	bool more = true;

	if (!s || slice_trim_spaces(rest).n == 0)
		return -EINVAL;
	while (more) {
		uint32_t bits;
		more = slice_split(rest, ',', &word, &rest);
		/* An empty item ("read,,list", a trailing comma) is a typo worth
		 * reporting rather than something to skip silently. */
		if (perm_lookup(slice_trim_spaces(word), &bits) != 0)
			return -EINVAL;
		perms |= bits;
	}
	*out = perms;
	return 0;
}

void perms_format(uint32_t perms, char *out, size_t outsz)
{
	size_t used = 0;

	if (outsz == 0)
		return;
	perms &= PERM_ALL;
	if (perms == PERM_ALL) {
		(void)str_copy(out, outsz, "all");
		return;
	}
	if (perms == 0) {
		(void)str_copy(out, outsz, "none");
		return;
	}
	out[0] = '\0';
	for (size_t i = 0; i < ARRAY_LEN(perm_names); i++) {
		if (!(perms & perm_names[i].bit))
			continue;
		int n = snprintf(out + used, outsz - used, "%s%s", used ? "," : "", perm_names[i].name);
		/* Truncated output stays NUL-terminated; stop rather than overrun. */
		if (n < 0 || (size_t)n >= outsz - used)
			return;
		used += (size_t)n;
	}
}

void user_record_free(struct user_record *u)
{
	if (!u)
		return;
	free(u->name);
	free(u->password_hash);
	free(u->home);
	free(u->account);
	u->name = u->password_hash = u->home = u->account = NULL;
}

void user_key_free(struct user_key *k)
{
	if (!k)
		return;
	free(k->type);
	free(k->blob);
	free(k->comment);
	free(k->fingerprint);
	k->type = k->blob = k->comment = k->fingerprint = NULL;
}

void otp_state_free(struct otp_state *st)
{
	if (!st)
		return;
	if (st->totp_secret) {
		util_wipe(st->totp_secret, strlen(st->totp_secret));
		free(st->totp_secret);
	}
	st->totp_secret = NULL;
}

int userstore_load(const struct userstore_ops *ops, struct userstore *s, const char *name, struct user_record *u,
		   struct otp_state *st, bool *found, bool *have_st)
{
	int err = 0;
	int r = ops->lookup(s, name, u);

	*found = *have_st = false;
	if (r == 0)
		*found = true;
	else if (r != -ENOENT)
		err = r;
	if (*found && ops->otp_get) {
		r = ops->otp_get(s, name, st);
		if (r == 0)
			*have_st = true;
		else if (r != -ENOENT)
			err = r;
	}
	return err;
}

int user_key(const char *name, const char *host, char *out, size_t outsz)
{
	if (!name || !name[0] || strchr(name, USER_HOST_SEP))
		return -EINVAL;
	int n = host && host[0] ? snprintf(out, outsz, "%s%c%s", name, USER_HOST_SEP, host)
				: snprintf(out, outsz, "%s", name);
	return n < 0 || (size_t)n >= outsz ? -ENAMETOOLONG : 0;
}

const char *user_key_host(const char *key)
{
	const char *sep = strchr(key, USER_HOST_SEP);
	return sep ? sep + 1 : NULL;
}

size_t user_key_name_len(const char *key)
{
	const char *sep = strchr(key, USER_HOST_SEP);
	return sep ? (size_t)(sep - key) : strlen(key);
}
