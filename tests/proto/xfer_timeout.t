# xfer_timeout.t: a session timer that fires during a transfer (server
# shutdown): 421 and CLOSE replace the XFER effect; a command held by the
# transfer is dropped; the transfer's late completion is ignored; the
# unfinished upload never appears under its name (proto_free discards it).
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
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: STOR keep
S: 150 Ok to send data.
E: XFER RECV_FILE ascii=0
C: NOOP
S-
T: SHUTDOWN
S: 421 Server shutting down, closing control connection.
E: CLOSE
X: COMPLETE
S-
E: CLOSE
F: keep old
