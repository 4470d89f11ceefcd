
C: STOU
S~ 150 FILE: ferry\.[0-9a-f]{8}
E: XFER RECV_FILE ascii=0
X: XFER_DONE LOST 4 data=half
S: 426 Connection closed; transfer aborted.
F! ferry.*
