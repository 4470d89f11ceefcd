# timeout_login.t: not logged in in time -> 421 and CLOSE, also between USER
# and PASS; input after it is never read.
greet
S: 220 Ferry FTP server ready.
C: USER bob
S: 331 Please specify the password.
T: LOGIN
S: 421 Login timeout, closing control connection.
E: CLOSE
T: IDLE
S-
E: CLOSE
