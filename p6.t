
C: RETR f
S: 150 Opening BINARY mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=0
C: ABOR
C: ABOR
E: ABORT_REQUESTED
X: XFER_DONE ABORTED 4
S: 426 Transfer aborted. Data connection closed.
S: 226 Abort successful.
S~ 22[56] .*
