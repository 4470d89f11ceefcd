# timeout_pending.t: a timer fires while a password check is running and
# commands are queued behind it: 421 and CLOSE replace the check, and the
# queued commands never run.
user bob pw
greet
S: 220 Ferry FTP server ready.
C< USER bob\r\nPASS pw\r\nPWD\r\nNOOP\r\n
S: 331 Please specify the password.
E: AUTH_CHECK bob
S: 230 Login successful.
S: 257 "/" is the current directory.
S: 200 NOOP ok.
C< USER bob\r\nPASS pw\r\nPWD\r\n
S: 331 Please specify the password.
S-
T: IDLE
S: 421 Idle timeout, closing control connection.
S-
E: CLOSE
