# timeout_delay.t: a timer fires during the delay before a failed login's
# 530: the 421 replaces it and nothing queued runs.
user bob pw
greet
S: 220 Ferry FTP server ready.
C< USER bob\r\nPASS wrong\r\nNOOP\r\n
S: 331 Please specify the password.
E: AUTH_CHECK bob
# (the DELAY for the 530 is now pending; it is not completed)
S-
T: LOGIN
S: 421 Login timeout, closing control connection.
S-
E: CLOSE
