/* reply: FTP reply formatting (RFC 959 §4.2) into an output buffer.
 * Every line ends in CRLF; the last line of a reply is "ddd SP text".
 * Text never contains CR or LF (they are replaced), and echoed client text
 * goes through reply_sanitize first. No line exceeds REPLY_MAX_LINE bytes
 * (Python ftplib refuses lines over 8192). */
#ifndef FERRY_REPLY_H
#define FERRY_REPLY_H

#include <stdarg.h>

#include "buf.h"
#include "str.h"

#define REPLY_MAX_LINE 4096

/* A whole single-line reply: "code text\r\n". Returns 0 or -ENOBUFS. */
int reply_line(struct buf *out, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Multi-line replies: reply_begin ("code-text"), any number of reply_cont
 * lines, then reply_end ("code text"). A continuation line is sent as given
 * except that one that could be mistaken for a last line (starting with
 * three digits and a space or '-') gets a leading space. */
int reply_begin(struct buf *out, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int reply_cont(struct buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int reply_end(struct buf *out, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Copies client text into out for echoing in a reply: control bytes become
 * '?', at most outsz-1 bytes (cut with "..."). Returns out. */
char *reply_sanitize(struct slice s, char *out, size_t outsz);

/* Writes path in the RFC 959 Appendix II form used inside 257 replies:
 * embedded '"' doubled, the surrounding quotes not added. -ENAMETOOLONG if
 * it does not fit in outsz (including the NUL). */
int reply_quote_path(const char *path, char *out, size_t outsz);

#endif
