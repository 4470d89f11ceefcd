# store_error.t: the user store itself fails during a login check (not a
# wrong password): 421 and CLOSE, no 530, nothing queued runs.
user bob pw
greet
S: 220 Ferry FTP server ready.
C< USER bob\r\nPASS pw\r\nPWD\r\n
S: 331 Please specify the password.
E: AUTH_ERROR bob
S: 421 Service not available: the user database cannot be read.
S-
E: CLOSE
