# size_ascii.t: SIZE and RETR in TYPE A count the octets a TYPE A transfer
# sends (a CR per LF) by reading the whole file: up to 64 MiB, tens of
# milliseconds, so it is the ASCII_SIZE effect (the session's job pool),
# never work on the loop (issue 13 item 3; RFC 3659 §4; Decision 6).
user bob pw
file text a\nb\n\nc
file crlf x\r\ny\n
file empty
mkdir d
greet
S: 220 Ferry FTP server ready.
C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.

# TYPE I: the byte count from fstat, no effect.
C: TYPE I
S: 200 Switching to Binary mode.
C: SIZE text
S: 213 6
E: NONE

# TYPE A: the count is an effect; nothing is answered before it completes.
C: TYPE A
S: 200 Switching to ASCII mode.
C: SIZE text
S-
E: ASCII_SIZE
S: 213 9
C: SIZE crlf
E: ASCII_SIZE
S: 213 7
C: SIZE empty
E: ASCII_SIZE
S: 213 0

# Pipelined: the second SIZE is not read while the first is counted, and
# the replies keep their order.
C< SIZE text\r\nSIZE crlf\r\nNOOP\r\n
S-
E: ASCII_SIZE
S: 213 9
E: ASCII_SIZE
S: 213 7
S: 200 NOOP ok.
E: NONE

# A directory or a missing file: 550 at once, no effect.
C: SIZE d
S: 550 Not a plain file.
C: SIZE nosuch
S: 550 No such file or directory.
E: NONE

# The count fails (the read failed): the error reply, and the session goes on.
C: SIZE text
E: ASCII_SIZE FAIL
S: 451 Local error: Input/output error.
C: NOOP
S: 200 NOOP ok.

# RETR in TYPE A: counted on the pool too, then the 150 with the count.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR text
S-
E: ASCII_SIZE
S: 150 Opening ASCII mode data connection for text (9 bytes).
E: XFER SEND_FILE offset=0 size=6 ascii=1 content=a\nb\n\nc
X: XFER_DONE OK 9
S: 226 Transfer complete.
# A failed count: the 150 without a count, the transfer still runs.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR crlf
E: ASCII_SIZE FAIL
S: 150 Opening ASCII mode data connection for crlf.
E: XFER SEND_FILE offset=0 size=5 ascii=1 content=x\r\ny\n
X: XFER_DONE OK 7
S: 226 Transfer complete.

# A timeout while the count runs: 421 and CLOSE; the late completion is
# ignored.
C: SIZE text
T: IDLE
S: 421 Idle timeout, closing control connection.
E: CLOSE
X: COMPLETE
E: CLOSE
