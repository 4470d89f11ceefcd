#include "path.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

/* Appends one component (not "." or "..") to out at *len. */
static int push(char *out, size_t outsz, size_t *len, const char *c, size_t n)
{
	size_t need = (*len == 1 ? 0 : 1) + n;
	if (*len + need + 1 > outsz)
		return -ENAMETOOLONG;
	if (*len != 1)
		out[(*len)++] = '/';
	memcpy(out + *len, c, n);
	*len += n;
	out[*len] = '\0';
	return 0;
}

static void pop(char *out, size_t *len)
{
	if (*len <= 1)
		return;
	while (*len > 1 && out[*len - 1] != '/')
		(*len)--;
	if (*len > 1)
		(*len)--; /* drop the separator too, but keep the root "/" */
	out[*len] = '\0';
}

static int walk(char *out, size_t outsz, size_t *len, const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		while (i < n && s[i] == '/')
			i++;
		size_t start = i;
		while (i < n && s[i] != '/')
			i++;
		size_t clen = i - start;
		if (clen == 0 || (clen == 1 && s[start] == '.'))
			continue;
		if (clen == 2 && s[start] == '.' && s[start + 1] == '.') {
			pop(out, len);
			continue;
		}
		int r = push(out, outsz, len, s + start, clen);
		if (r)
			return r;
	}
	return 0;
}

int path_resolve(const char *cwd, struct slice arg, char *out, size_t outsz)
{
	if (outsz < 2)
		return -ENAMETOOLONG;
	if (arg.n && memchr(arg.p, '\0', arg.n))
		return -EINVAL;
	out[0] = '/';
	out[1] = '\0';
	size_t len = 1;
	int r = 0;
	if (!(arg.n && arg.p[0] == '/'))
		r = walk(out, outsz, &len, cwd, strlen(cwd));
	if (r == 0)
		r = walk(out, outsz, &len, arg.p, arg.n);
	return r;
}

bool path_under(const char *dir, const char *vpath, const char **rest)
{
	size_t n = strlen(dir);
	while (n && dir[n - 1] == '/') /* "/" is the empty prefix */
		n--;
	if (strncmp(dir, vpath, n) != 0 || (vpath[n] != '\0' && vpath[n] != '/'))
		return false;
	if (rest)
		*rest = vpath[n] == '/' ? vpath + n + 1 : vpath + n;
	return true;
}

const char *path_basename(const char *vpath)
{
	const char *slash = strrchr(vpath, '/');
	return slash ? slash + 1 : vpath;
}

bool path_under_roots(const char *path, const char *roots)
{
	char p[PATH_MAX], r[PATH_MAX];
	struct slice rest = slice_from_cstr(roots), item;
	bool more = path[0] == '/' && roots[0] != '\0';
	if (!more || path_resolve("/", slice_from_cstr(path), p, sizeof(p)) != 0)
		return false;
	while (more) {
		more = slice_split(rest, ',', &item, &rest);
		item = slice_trim_spaces(item);
		if (item.n == 0 || item.p[0] != '/' || path_resolve("/", item, r, sizeof(r)) != 0)
			continue;
		size_t n = strlen(r);
		if (n == 1 || (strncmp(p, r, n) == 0 && (p[n] == '\0' || p[n] == '/')))
			return true;
	}
	return false;
}
