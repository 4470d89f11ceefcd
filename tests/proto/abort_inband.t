# abort_inband.t: ABOR that arrives in band, as it does through a TCP proxy
# that does not pass urgent data (HAProxy reads without SO_OOBINLINE, so the
# byte a client sent as TCP urgent data is dropped). PROTOCOL.md Decision 10.
#  - Python's ftplib sends "ABOR\r\n" with MSG_OOB: the urgent byte, the LF,
#    is lost: "ABOR\r" with no LF must still act.
#  - lftp sends IAC IP IAC, then DM as urgent data, then "ABOR\r\n": the DM is
#    lost, leaving IAC followed by the 'A' of ABOR, which is data.
#  - a client that sends plain "ABOR\r\n" (or IAC IP IAC DM without urgent
#    data) needs nothing special.
user bob pw
file f 0123456789
greet
S: 220 Ferry FTP server ready.
C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.
C: TYPE I
S: 200 Switching to Binary mode.

# ftplib through HAProxy: "ABOR\r", the LF never comes.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=0 abort=0
C< ABOR\r
E: ABORT_REQUESTED
X: XFER_DONE ABORTED 4
S: 426 Transfer aborted. Data connection closed.
S: 226 Abort successful.
E: NONE
C: NOOP
S: 200 NOOP ok.

# The same when the LF does arrive (directly, urgent data inline): the LF
# is an empty line, ignored; nothing is answered twice.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=0 abort=0
C< abor\r
E: ABORT_REQUESTED
X: XFER_DONE ABORTED 2
S: 426 Transfer aborted. Data connection closed.
S: 226 Abort successful.
C< \n
S-
C: NOOP
S: 200 NOOP ok.

# The transfer had ended before the ABOR came: 225, at once.
C< ABOR\r
S: 225 No transfer to abort.
C: NOOP
S: 200 NOOP ok.

# lftp through HAProxy: IAC IP IAC, DM lost, then ABOR.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=0 abort=0
C< \xff\xf4\xffABOR\r\n
E: ABORT_REQUESTED
X: XFER_DONE ABORTED 0
S: 426 Transfer aborted. Data connection closed.
S: 226 Abort successful.
E: NONE

# Plain in-band ABOR, with and without the Telnet Synch before it.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=0 abort=0
C: ABOR
E: ABORT_REQUESTED
X: XFER_DONE ABORTED 5
S: 426 Transfer aborted. Data connection closed.
S: 226 Abort successful.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=0 abort=0
C< \xff\xf4\xff\xf2ABOR\r\n
E: ABORT_REQUESTED
X: XFER_DONE ABORTED 0
S: 426 Transfer aborted. Data connection closed.
S: 226 Abort successful.

# A stray IAC before any command: the byte after it is data.
C< \xffNOOP\r\n
S: 200 NOOP ok.
# Only the exact verb ends at a bare CR; other lines still need their LF.
C< NOOP\r
S-
C< \n
S: 200 NOOP ok.
C: QUIT
S: 221 Goodbye.
E: CLOSE
