/* ascii: TYPE A (RFC 959 §3.1.1.1), the one place where a file's LF line
 * ends and the wire's CRLF are converted. Pure: no allocation, no I/O, so the
 * data channel (sending, receiving) and SIZE under TYPE A (vfs) agree byte
 * for byte, and the fuzzer can check the round trip. The caller passes the
 * bytes chunk by chunk; receiving keeps one bit of state between chunks. */
#ifndef FERRY_ASCII_H
#define FERRY_ASCII_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "str.h"

/* Room ascii_to_wire needs for n input bytes (every byte an LF). */
#define ASCII_TO_WIRE_MAX(n) ((n)*2)
/* Room ascii_from_wire needs for n input bytes (a held CR plus n bytes). */
#define ASCII_FROM_WIRE_MAX(n) ((n) + 1)

/* Sending: each LF of in becomes CRLF, also one already preceded by a CR
 * (a file's own "\r\n" goes out as "\r\r\n"). That rule looks at one byte
 * only, so chunks convert independently and the sent size is exactly
 * ascii_wire_size(). Borrows in; writes to out, which has room for
 * ASCII_TO_WIRE_MAX(in.n) bytes; returns the bytes written. */
size_t ascii_to_wire(struct slice in, char *out);

/* The bytes ascii_to_wire makes of in: in.n plus one per LF. Sums over
 * consecutive chunks give a whole file's TYPE A size (SIZE, REST checks). */
uint64_t ascii_wire_size(struct slice in);

/* Receiving state: a CR that ended the last chunk, not yet known to be the
 * first half of a CRLF. Zero-initialise ({0}) per transfer. */
struct ascii_rx {
	bool pending_cr;
};

/* Receiving: CRLF becomes LF; any other CR (lone, or before a byte other
 * than LF) is kept, and a bare LF passes as it is. A CR at the end of in is
 * held in st until the next chunk (or ascii_rx_end) shows which it was.
 * Borrows in; writes to out, which has room for ASCII_FROM_WIRE_MAX(in.n)
 * bytes; returns the bytes written. */
size_t ascii_from_wire(struct ascii_rx *st, struct slice in, char *out);

/* End of the stream: a CR still held was the file's own last byte. Writes
 * it to out (room for 1 byte) and returns 1, else returns 0; st is clear
 * afterwards either way. */
size_t ascii_rx_end(struct ascii_rx *st, char *out);

#endif
