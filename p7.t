
C: RETR f
S: 150 Opening BINARY mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=0
C: ABOR
E: ABORT_REQUESTED
X: XFER_DONE LOST 10
S: 426 Connection closed; transfer aborted.
S~ 22[56] .*
E: NONE
