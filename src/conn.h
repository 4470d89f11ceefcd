/* conn: a byte stream over a socket. Plain today; TLS plugs in behind the
 * same functions (issue 4) so the session never cares which it has. */
#ifndef FERRY_CONN_H
#define FERRY_CONN_H

#include <stddef.h>

struct conn {
	int fd;
};

void conn_init(struct conn *c, int fd);
/* Reads up to n bytes: 0 with *got > 0; 0 with *got == 0 at end of stream;
 * -EAGAIN when nothing is ready; other -errno on failure. */
int conn_read(struct conn *c, void *p, size_t n, size_t *got);
/* Writes up to n bytes: 0 with *put set (may be short); -EAGAIN; -errno. */
int conn_write(struct conn *c, const void *p, size_t n, size_t *put);
/* Closes the socket (idempotent). */
void conn_close(struct conn *c);

#endif
