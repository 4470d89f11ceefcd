# xfer_queue.t: regression transcripts for bugs found in review: commands
# queued behind a running transfer (ABOR must still act; errors keep their
# place in the reply order), REST with TYPE A on uploads, a failed STOU,
# and repeated ABORs of one transfer.
user bob pw
file f 0123456789
file big 0123456789abcdefghij
greet
S: 220 Ferry FTP server ready.
C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.
C: TYPE I
S: 200 Switching to Binary mode.

# Bug 1: a command held behind the transfer must not stop ABOR from acting.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=0 abort=0
C: NOOP
C: ABOR
S-
E: ABORT_REQUESTED
X: XFER_DONE ABORTED 3
S: 426 Transfer aborted. Data connection closed.
S: 226 Abort successful.
S: 200 NOOP ok.
E: NONE

# Bug 4: errors for lines that arrive during the transfer come after its
# final reply, in order (control bytes, an over-long line, an unknown verb).
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=0 abort=0
C< NO\x00OP\r\n
S-
C: FOOB
S-
C: PWD
S-
P: 7
C: STAT
S: 213 Status: 7 bytes transferred.
X: XFER_DONE OK 10
S: 226 Transfer complete.
S: 501 NUL, CR and LF are not allowed in commands.
S: 500 Unknown command.
S: 257 "/" is the current directory.
E: NONE

# Bug 5: a second ABOR of the same transfer gets its own reply (225), after
# the 426/226 pair.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=0 abort=0
C: ABOR
C: ABOR
S-
X: XFER_DONE ABORTED 1
S: 426 Transfer aborted. Data connection closed.
S: 226 Abort successful.
S: 225 No transfer to abort.
E: NONE

# An ABOR that arrives as the transfer completes normally: 226 for the
# transfer, then 225 for the ABOR.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=0 abort=0
C: ABOR
X: XFER_DONE OK 10
S: 226 Transfer complete.
S: 225 No transfer to abort.
E: NONE

# Bug 2: REST with TYPE A on STOR/APPE is refused (555), nothing changes.
C: TYPE A
S: 200 Switching to ASCII mode.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: REST 5
S: 350 Restarting at 5. Send RETR, STOR or APPE.
C: STOR big
S: 555 Restart offsets need TYPE I.
C: REST 5
S: 350 Restarting at 5. Send RETR, STOR or APPE.
C: APPE big
S: 555 Restart offsets need TYPE I.
F: big 0123456789abcdefghij
C: TYPE I
S: 200 Switching to Binary mode.

# REST then STOR of a file that does not exist: the offset is past its end.
C: REST 100
S: 350 Restarting at 100. Send RETR, STOR or APPE.
C: STOR missing
S: 554 Restart offset 100 is beyond the end of the file.
F! missing

# Bug 3: a STOU whose data connection breaks leaves no file behind.
C: STOU
S~ 150 FILE: ferry\.[0-9a-f]{8}
E: XFER RECV_FILE ascii=0
X: XFER_DONE LOST 4 data=half
S: 426 Connection closed; transfer aborted.
F! ferry.*
E: NONE
