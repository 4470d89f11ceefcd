/* libFuzzer driver: src/base/path.c. The input is "CWD\nARG" (CWD normalised
 * first, as the session only ever holds normalised ones). Checks the
 * promises of path.h: the result starts with '/', holds no "." or ".."
 * component, no "//", no trailing '/' except "/" itself, and resolving it
 * again changes nothing; path_under_roots agrees with a resolved prefix. */
#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"

static void check_normal(const char *p)
{
	size_t n = strlen(p);
	if (p[0] != '/' || (n > 1 && p[n - 1] == '/') || strstr(p, "//") || strstr(p, "/./") || strstr(p, "/../"))
		abort();
	if ((n >= 2 && strcmp(p + n - 2, "/.") == 0) || (n >= 3 && strcmp(p + n - 3, "/..") == 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	size_t cn = nl ? (size_t)(nl - (const char *)data) : 0;
	char *cwd_in = malloc(cn + 1), *arg = malloc(size - (nl ? cn + 1 : 0) + 1);
	char cwd[PATH_MAX], out[PATH_MAX], again[PATH_MAX];
	if (!cwd_in || !arg)
		abort();
	memcpy(cwd_in, data, cn);
	cwd_in[cn] = '\0';
	size_t an = size - (nl ? cn + 1 : 0);
	memcpy(arg, data + (nl ? cn + 1 : 0), an);
	arg[an] = '\0';
	if (memchr(cwd_in, '\0', cn) || path_resolve("/", slice_from_cstr(cwd_in), cwd, sizeof(cwd)) != 0)
		memcpy(cwd, "/", 2);
	check_normal(cwd);
	/* Small outputs too: the length checks must hold at every size. */
	size_t outsz = an % 7 == 0 ? 8 : sizeof(out);
	int r = path_resolve(cwd, (struct slice){ arg, an }, out, outsz);
	if (r == 0) {
		check_normal(out);
		if (strlen(out) >= outsz)
			abort();
		if (path_resolve("/", slice_from_cstr(out), again, sizeof(again)) != 0 || strcmp(again, out) != 0)
			abort();
		const char *b = path_basename(out);
		if (strchr(b, '/'))
			abort();
		/* out lies under cwd (as a one-entry roots list: no comma, no
		 * white space to trim) exactly
		 * when cwd is its prefix, component-wise. */
		size_t cl = strlen(cwd);
		bool prefix = cl == 1 || (strncmp(out, cwd, cl) == 0 && (out[cl] == '\0' || out[cl] == '/'));
		if (!strpbrk(cwd, ", \t\n\v\f\r") && path_under_roots(out, cwd) != prefix)
			abort();
	} else if (r != -ENAMETOOLONG && r != -EINVAL) {
		abort();
	}
	free(cwd_in);
	free(arg);
	return 0;
}
