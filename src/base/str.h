/* str: slices over untrusted bytes and the few string operations on them. */
#ifndef FERRY_STR_H
#define FERRY_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A borrowed, not NUL-terminated view of bytes. */
struct slice {
	const char *p;
	size_t n;
};

#define SLICE_LIT(s) ((struct slice){ (s), sizeof(s) - 1 })

struct slice slice_from_cstr(const char *s);
bool slice_eq(struct slice a, struct slice b);
/* ASCII case-insensitive equality with a C string. */
bool slice_eq_ci(struct slice a, const char *b);
/* Split at the first byte c: *head is before it, *tail after; false if absent
 * (then *head is the whole slice and *tail is empty). */
bool slice_split(struct slice s, char c, struct slice *head, struct slice *tail);
struct slice slice_trim_spaces(struct slice s);
/* True if the slice contains a NUL or an ASCII control byte (0x00-0x1f, 0x7f). */
bool slice_has_ctl(struct slice s);
/* Returns a newly allocated NUL-terminated copy (caller frees). */
char *slice_dup(struct slice s);

/* Length (1..4) of the valid UTF-8 character at s, its code point in *cp;
 * 0 if s does not start one (n == 0, a stray or missing continuation byte,
 * an overlong form, a surrogate, beyond U+10FFFF). The one UTF-8 validator
 * of the logs (text, JSON, xferlog). */
size_t str_utf8_next(const char *s, size_t n, uint32_t *cp);
/* True for a code point that can split or forge a log record or field for
 * some reader: C0/C1 controls (U+0085 NEL), DEL, Unicode spaces other than
 * U+0020 (U+00A0, U+2000-U+200A...), U+2028/U+2029, and invisible or
 * bidirectional formatting characters. Every log format escapes these. */
bool str_cp_breaks_line(uint32_t cp);

/* Writes a printable, escaped form of s into out (always NUL-terminated,
 * truncated with "..." if it does not fit): valid UTF-8 is kept so names
 * stay readable; each byte of invalid UTF-8, of a control or of a
 * character str_cp_breaks_line() names, and the backslash and double quote
 * become \xHH escapes. Used wherever client text reaches logs. Returns
 * out. */
char *str_escape(struct slice s, char *out, size_t outsz);

/* Bounded copy that always NUL-terminates; returns false if truncated. */
bool str_copy(char *dst, size_t dstsz, const char *src);

#endif
