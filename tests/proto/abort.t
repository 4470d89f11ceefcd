# abort.t: ABOR and STAT during a transfer, commands held until it ends
# (PROTOCOL.md Decision 10, §2.5; checklist F.131-F.136; RFC 959 §4.1.3,
# RFC 1123 §4.1.3.3). While the XFER effect is pending proto still reads
# input: ABOR and STAT act at once, any other command waits for the
# transfer's final reply (one is held; the rest stays unread).
user bob pw
file f 0123456789
file keep old
greet
S: 220 Ferry FTP server ready.
C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.
C: TYPE I
S: 200 Switching to Binary mode.

# F.131: ABOR with no transfer -> 225.
C: ABOR
S: 225 No transfer to abort.
C: ABOR now
S: 501 ABOR takes no argument.

# F.132 / Decision 10: ABOR during a transfer -> the session is asked to stop
# it (abort flag, no reply yet); it completes with ABORTED -> 426 then 226.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=0 abort=0
C: ABOR
S-
E: ABORT_REQUESTED
E: XFER SEND_FILE offset=0 size=10 ascii=0 abort=1
X: XFER_DONE ABORTED 4
S: 426 Transfer aborted. Data connection closed.
S: 226 Abort successful.
E: NONE
# The session goes on; the data connection is gone.
C: NOOP
S: 200 NOOP ok.
C: RETR f
S: 425 Use PORT, PASV, EPRT or EPSV first.
C: ABOR
S: 225 No transfer to abort.

# F.134: tnftp-style ABOR (IAC IP, IAC DM, then the command) during a RETR.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=0 abort=0
C< \xff\xf4\xff\xf2ABOR\r\n
E: ABORT_REQUESTED
S-
X: XFER_DONE ABORTED 0
S: 426 Transfer aborted. Data connection closed.
S: 226 Abort successful.
# Lower case and a bare LF work too.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=0 abort=0
C< abor\n
E: ABORT_REQUESTED
X: XFER_DONE ABORTED 0
S: 426 Transfer aborted. Data connection closed.
S: 226 Abort successful.

# An aborted upload leaves the old file as it was.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: STOR keep
S: 150 Ok to send data.
E: XFER RECV_FILE ascii=0 abort=0
C: ABOR
E: ABORT_REQUESTED
X: XFER_DONE ABORTED 3 data=new
S: 426 Transfer aborted. Data connection closed.
S: 226 Abort successful.
F: keep old
F! .ferry-upload.*
# ... and a listing can be aborted too.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: LIST
S: 150 Here comes the directory listing.
E: XFER SEND_LIST abort=0
C: ABOR
E: ABORT_REQUESTED
X: XFER_DONE ABORTED 0
S: 426 Transfer aborted. Data connection closed.
S: 226 Abort successful.

# F.135: STAT during a transfer -> 213 with the progress; the transfer goes
# on to 226.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=0
C: STAT
S: 213 Status: 0 bytes transferred.
P: 1234
C: STAT
S: 213 Status: 1234 bytes transferred.
P: 5
C: stat
S: 213 Status: 5 bytes transferred.
E: XFER SEND_FILE offset=0 size=10 ascii=0 abort=0
X: XFER_DONE OK 10
S: 226 Transfer complete.
E: NONE
# Idle again: STAT is the server status, not a progress line.
C: STAT
S: 211-FTP server status:
S:  Connected from 192.0.2.1
S:  Logged in as bob
S:  TYPE: BINARY, FORM: Nonprint; STRUcture: File; transfer MODE: Stream
S:  No data connection
S: 211 End of status.

# STAT then ABOR in the same transfer.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=0
P: 7
C: STAT
S: 213 Status: 7 bytes transferred.
C: ABOR
E: ABORT_REQUESTED
X: XFER_DONE ABORTED 7
S: 426 Transfer aborted. Data connection closed.
S: 226 Abort successful.

# Other commands during a transfer wait for it: nothing is answered until
# the 226, then they are answered in order.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=0
C: NOOP
S-
C: PWD
S-
C: SYST
S-
E: XFER SEND_FILE offset=0 size=10 ascii=0
X: XFER_DONE OK 10
S: 226 Transfer complete.
S: 200 NOOP ok.
S: 257 "/" is the current directory.
S: 215 UNIX Type: L8
E: NONE

# ABOR or STAT with an argument is not the transfer's ABOR/STAT: it waits and
# gets 501 after the 226; an unknown verb waits too.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=0
C: ABOR x
S-
C: XYZZY
S-
E: XFER SEND_FILE offset=0 size=10 ascii=0 abort=0
X: XFER_DONE OK 10
S: 226 Transfer complete.
S: 501 ABOR takes no argument.
S: 500 Unknown command.

# A pipelined RETR + NOOP in one segment: the NOOP waits for the 226.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C< RETR f\r\nNOOP\r\n
S: 150 Opening BINARY mode data connection for f (10 bytes).
S-
E: XFER SEND_FILE offset=0 size=10 ascii=0
X: XFER_DONE OK 10
S: 226 Transfer complete.
S: 200 NOOP ok.

# The next transfer's set-up and command can be sent during a transfer:
# PASV waits for the 226, then RETR uses the new set-up.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=0
C: PASV
C: RETR f
S-
X: XFER_DONE OK 10
S: 226 Transfer complete.
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
S: 150 Opening BINARY mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=0
X: XFER_DONE LOST 3
S: 426 Connection closed; transfer aborted.

# F.136: the data connection breaks -> 426; the session continues.
C: NOOP
S: 200 NOOP ok.

# QUIT during a transfer: held, so its 221 comes after the 226, then CLOSE
# (RFC 959 §4.1.1: the connection stays open for the result).
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=0
C: NOOP
C: PWD
C: QUIT
S-
E: XFER SEND_FILE offset=0 size=10 ascii=0
X: XFER_DONE OK 10
S: 226 Transfer complete.
S: 200 NOOP ok.
S: 257 "/" is the current directory.
S: 221 Goodbye.
E: CLOSE
