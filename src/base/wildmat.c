/* wildmat: see wildmat.h. */
#include "wildmat.h"

#include <stddef.h>

bool wildmat_has_magic(struct slice pat)
{
	for (size_t i = 0; i < pat.n; i++) {
		if (pat.p[i] == '\\')
			i++; /* the escaped byte is literal */
		else if (pat.p[i] == '*' || pat.p[i] == '?' || pat.p[i] == '[')
			return true;
	}
	return false;
}

/* Matches c against the set that starts at pat.p[at] == '['. Returns the
 * set's length (up to and including ']') and whether c is in it, or 0 when
 * there is no closing ']' (then the '[' is an ordinary byte). */
static size_t match_set(struct slice pat, size_t at, unsigned char c, bool *in, unsigned long *steps)
{
	size_t i = at + 1;
	bool neg = i < pat.n && (pat.p[i] == '!' || pat.p[i] == '^');
	if (neg)
		i++;
	bool hit = false;
	for (size_t first = i; i < pat.n; i++) {
		(*steps)++;
		if (pat.p[i] == ']' && i > first) {
			*in = hit != neg;
			return i - at + 1;
		}
		unsigned char lo = (unsigned char)pat.p[i];
		if (lo == '\\' && i + 1 < pat.n)
			lo = (unsigned char)pat.p[++i];
		unsigned char hi = lo;
		if (i + 2 < pat.n && pat.p[i + 1] == '-' && pat.p[i + 2] != ']') {
			hi = (unsigned char)pat.p[i + 2];
			i += 2;
			if (hi == '\\' && i + 1 < pat.n)
				hi = (unsigned char)pat.p[++i];
		}
		if (lo <= c && c <= hi)
			hit = true;
	}
	return 0;
}

/* Does the pattern element at pat.p[*at] (not '*') match c? Moves *at past
 * the element when it does. */
static bool match_one(struct slice pat, size_t *at, unsigned char c, unsigned long *steps)
{
	size_t i = *at;
	(*steps)++;
	if (pat.p[i] == '?') {
		*at = i + 1;
		return true;
	}
	if (pat.p[i] == '[') {
		bool in = false;
		size_t len = match_set(pat, i, c, &in, steps);
		if (len) {
			if (in)
				*at = i + len;
			return in;
		}
	} else if (pat.p[i] == '\\' && i + 1 < pat.n) {
		i++;
	}
	if ((unsigned char)pat.p[i] != c)
		return false;
	*at = i + 1;
	return true;
}

bool wildmat_match(struct slice pat, struct slice name, unsigned long *steps)
{
	unsigned long dummy = 0;
	if (!steps)
		steps = &dummy;
	/* Hidden names show only when asked for by name, as in the shell. */
	bool dot = (pat.n && pat.p[0] == '.') || (pat.n > 1 && pat.p[0] == '\\' && pat.p[1] == '.');
	if (name.n && name.p[0] == '.' && !dot)
		return false;
	size_t p = 0, n = 0;
	bool star = false;
	size_t star_p = 0, star_n = 0; /* after the last '*', and where it resumes in name */
	while (n < name.n) {
		(*steps)++;
		if (p < pat.n && pat.p[p] == '*') {
			while (p < pat.n && pat.p[p] == '*')
				p++;
			star = true;
			star_p = p;
			star_n = n;
			continue;
		}
		if (p < pat.n && match_one(pat, &p, (unsigned char)name.p[n], steps)) {
			n++;
			continue;
		}
		if (!star)
			return false;
		/* The last star absorbs one more byte; the rest is tried again. */
		p = star_p;
		n = ++star_n;
	}
	while (p < pat.n && pat.p[p] == '*')
		p++;
	return p == pat.n;
}
