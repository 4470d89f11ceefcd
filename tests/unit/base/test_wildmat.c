/* Unit tests for src/base/wildmat.c: the NLST/LIST pattern matcher (PROTOCOL.md
 * Decision 14). Its cost is checked by counting steps, never by a clock:
 * every match stays within 2 (pattern length + 1)(name length + 1) steps,
 * and the pathological pattern grows linearly with the name. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fnmatch.h>
#include <string.h>

#include "wildmat.h"

static struct slice S(const char *s)
{
	return slice_from_cstr(s);
}

static bool M(const char *pat, const char *name)
{
	return wildmat_match(S(pat), S(name), NULL);
}

static unsigned long bound(size_t m, size_t n)
{
	return 2ul * (m + 1) * (n + 1);
}

static void test_magic(void **state)
{
	(void)state;
	assert_true(wildmat_has_magic(S("g*.txt")));
	assert_true(wildmat_has_magic(S("a?")));
	assert_true(wildmat_has_magic(S("[ab]")));
	assert_false(wildmat_has_magic(S("plain.txt")));
	assert_false(wildmat_has_magic(S("")));
	assert_false(wildmat_has_magic(S("a\\*b")));  /* escaped */
	assert_true(wildmat_has_magic(S("a\\\\*b"))); /* an escaped backslash, then a star */
}

static void test_basics(void **state)
{
	(void)state;
	assert_true(M("g*.txt", "g1.txt"));
	assert_true(M("g*.txt", "g.txt"));
	assert_true(M("g*.txt", "gg.txt.txt"));
	assert_false(M("g*.txt", "h1.txt"));
	assert_false(M("g*.txt", "g1.txt2"));
	assert_true(M("*", "anything at all"));
	assert_true(M("**", "x"));
	assert_true(M("*", ""));
	assert_true(M("", ""));
	assert_false(M("", "a"));
	assert_false(M("a", ""));
	assert_true(M("?", "a"));
	assert_false(M("?", ""));
	assert_false(M("?", "ab"));
	assert_true(M("a?c", "abc"));
	assert_true(M("*.c", "x.c"));
	assert_false(M("*.c", "x.h"));
	/* sets */
	assert_true(M("[ab]x", "bx"));
	assert_false(M("[ab]x", "cx"));
	assert_true(M("[!ab]x", "cx"));
	assert_true(M("[^ab]x", "cx"));
	assert_false(M("[!ab]x", "ax"));
	assert_true(M("[a-c]", "b"));
	assert_false(M("[a-c]", "d"));
	assert_true(M("[]]", "]"));
	assert_true(M("[!]]", "a"));
	assert_false(M("[!]]", "]"));
	assert_true(M("[a-]", "-"));
	assert_true(M("[\\]]", "]"));
	/* a '[' with no ']' is an ordinary byte */
	assert_true(M("a[b", "a[b"));
	assert_false(M("a[b", "ab"));
	/* escapes */
	assert_true(M("a\\*b", "a*b"));
	assert_false(M("a\\*b", "axb"));
	assert_true(M("a\\?", "a?"));
	assert_true(M("\\\\", "\\"));
	/* bytes, not characters: TAB, UTF-8, 0xff */
	assert_true(M("a\t*", "a\tb.txt"));
	assert_true(M("?\xc3\xa9*", "x\xc3\xa9t\xc3\xa9"));
	assert_true(M("[\xfe-\xff]", "\xff"));
}

/* A leading '.' is matched only by a leading '.' in the pattern. */
static void test_leading_dot(void **state)
{
	(void)state;
	assert_false(M("*", ".hidden"));
	assert_false(M("?hidden", ".hidden"));
	assert_false(M("[.]hidden", ".hidden"));
	assert_true(M(".*", ".hidden"));
	assert_true(M(".h*", ".hidden"));
	assert_true(M("\\.h*", ".hidden"));
	assert_true(M("*.*", "a.b")); /* only the first byte is special */
	assert_true(M("*", "a.hidden"));
}

/* fnmatch(3) agrees on well-formed patterns; every match stays within the
 * step bound. POSIX FNM_PERIOD's rule (a leading '.' only by a '.') is
 * applied here rather than by the flag, because glibc's FNM_PERIOD also
 * refuses some non-leading periods ("*?[!a]?" against "x.a"). */
static void test_against_fnmatch(void **state)
{
	(void)state;
	static const char *const atoms[] = { "a", "b", ".", "*", "?", "[ab]", "[!a]", "[a-b]", "[.b]", "\\*", "**" };
	uint32_t x = 12345;
	unsigned long worst = 0;
	for (int iter = 0; iter < 40000; iter++) {
		char pat[64] = "", name[16] = "";
		size_t pn = 0, nn = 0;
		x = x * 1103515245u + 12345u;
		size_t atoms_n = (x >> 16) % 7;
		for (size_t i = 0; i < atoms_n; i++) {
			x = x * 1103515245u + 12345u;
			const char *a = atoms[(x >> 16) % (sizeof(atoms) / sizeof(atoms[0]))];
			memcpy(pat + pn, a, strlen(a));
			pn += strlen(a);
		}
		x = x * 1103515245u + 12345u;
		size_t len = (x >> 16) % 9;
		for (size_t i = 0; i < len; i++) {
			x = x * 1103515245u + 12345u;
			name[nn++] = "ab.*"[(x >> 16) % 4];
		}
		pat[pn] = '\0';
		name[nn] = '\0';
		unsigned long steps = 0;
		bool got = wildmat_match(S(pat), S(name), &steps);
		bool hidden_ok = name[0] != '.' || pat[0] == '.' || (pat[0] == '\\' && pat[1] == '.');
		bool want = hidden_ok && fnmatch(pat, name, 0) == 0;
		if (got != want)
			fail_msg("pattern \"%s\" name \"%s\": wildmat %d, fnmatch %d", pat, name, got, want);
		if (steps > bound(pn, nn))
			fail_msg("pattern \"%s\" name \"%s\": %lu steps", pat, name, steps);
		if (steps > worst)
			worst = steps;
	}
	assert_true(worst > 0);
}

/* The pathological pattern over 2,000 names of NAME_MAX bytes: each match
 * within the bound (a recursive matcher would need more steps than there
 * are atoms in the universe for one of them), and twice the name costs about
 * twice the steps (linear in the name, not exponential). */
static void test_pathological_is_bounded(void **state)
{
	(void)state;
	const char *pat = "*a*a*a*a*a*a*a*a*b";
	size_t m = strlen(pat);
	char name[1024];
	unsigned long total = 0;
	for (int i = 0; i < 2000; i++) {
		size_t n = 255;
		memset(name, 'a', n);
		name[i % n] = (char)('c' + i % 20); /* every name different, none matching */
		unsigned long steps = 0;
		assert_false(wildmat_match(S(pat), (struct slice){ name, n }, &steps));
		assert_true(steps <= bound(m, n));
		total += steps;
	}
	assert_true(total <= 2000ul * bound(m, 255));

	unsigned long s255 = 0, s510 = 0, s1020 = 0;
	memset(name, 'a', sizeof(name));
	assert_false(wildmat_match(S(pat), (struct slice){ name, 255 }, &s255));
	assert_false(wildmat_match(S(pat), (struct slice){ name, 510 }, &s510));
	assert_false(wildmat_match(S(pat), (struct slice){ name, 1020 }, &s1020));
	assert_true(s510 <= 2 * s255 + 4 * m);
	assert_true(s1020 <= 2 * s510 + 4 * m);
	/* ...and a match is found just as cheaply */
	name[1019] = 'b';
	unsigned long hit = 0;
	assert_true(wildmat_match(S(pat), (struct slice){ name, 1020 }, &hit));
	assert_true(hit <= bound(m, 1020));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_magic),
		cmocka_unit_test(test_basics),
		cmocka_unit_test(test_leading_dot),
		cmocka_unit_test(test_against_fnmatch),
		cmocka_unit_test(test_pathological_is_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
