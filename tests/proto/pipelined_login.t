# pipelined_login.t: PROTOCOL.md checklist A.9 (lftp sends the whole login
# in one segment): 331, 230, 257 in order, with the AUTH_CHECK in between and
# nothing answered behind it until it completes.
user bob pw
greet
S: 220 Ferry FTP server ready.
C< USER bob\r\nPASS pw\r\nPWD\r\n
S: 331 Please specify the password.
S-
E: AUTH_CHECK bob
S: 230 Login successful.
S: 257 "/" is the current directory.
E: NONE

# Commands sent while the check runs queue behind the bytes already waiting.
C: USER bob
S: 331 Please specify the password.
C: PASS pw
C: PWD
C: SYST
S-
E: AUTH_CHECK bob
S: 230 Login successful.
S: 257 "/" is the current directory.
S: 215 UNIX Type: L8

# A failed pipelined login, then a good one, all in one segment.
C< USER bob\r\nPASS bad\r\nPWD\r\nUSER bob\r\nPASS pw\r\nPWD\r\n
S: 331 Please specify the password.
E: AUTH_CHECK bob
S-
E: DELAY 1000
S: 530 Login incorrect.
S: 530 Please login with USER and PASS.
S: 331 Please specify the password.
E: AUTH_CHECK bob
S: 230 Login successful.
S: 257 "/" is the current directory.

# The check's bytes may end mid-line: the rest of the line is fed later.
C< USER bob\r\nPASS pw\r\nPW
S: 331 Please specify the password.
E: AUTH_CHECK bob
S: 230 Login successful.
S-
C< D\r\n
S: 257 "/" is the current directory.
C: QUIT
S: 221 Goodbye.
E: CLOSE
