/* wildmat: shell-style patterns for NLST/LIST (PROTOCOL.md Decision 14).
 * Named wildmat, not glob, so "wildmat.h" never shadows the C library's
 * <glob.h>. Pure functions: no allocation, no I/O.
 *
 * Syntax: '*' any run of bytes, '?' one byte, "[...]" one byte of a set
 * ("[!...]" or "[^...]" negates, "a-z" ranges, a ']' first is literal, a
 * '[' with no closing ']' is literal), '\' makes the next byte literal.
 * A name's leading '.' matches only a literal leading '.' in the pattern.
 * Names are single components: '/' has no special meaning here.
 *
 * Cost: the matcher keeps one backtrack point, the last '*' seen (a later
 * '*' supersedes it: whatever an earlier star could have absorbed, the last
 * one can too). Each step either advances in the name or moves that point
 * one byte on, so a match costs at most about (pattern length + 1) x (name
 * length + 1) steps, never the exponential blow-up of recursive matchers on
 * "*a*a*a*a*a*a*a*b". */
#ifndef FERRY_WILDMAT_H
#define FERRY_WILDMAT_H

#include <stdbool.h>

#include "str.h"

/* True if pat holds an unescaped '*', '?' or '['. */
bool wildmat_has_magic(struct slice pat);

/* True if name matches pat. When steps is not NULL, the work done (pattern
 * and name bytes examined) is added to *steps, so tests can hold the
 * matcher to its bound without timing it. */
bool wildmat_match(struct slice pat, struct slice name, unsigned long *steps);

#endif
