# acct.t: ACCT (RFC 959 §4.1.1; PROTOCOL.md Decision 1, checklist B.33-B.38).
# 332 is only ever the reply to PASS; ACCT before USER/PASS -> 503, when not
# needed -> 202, empty -> 501; a wrong account is a failed login (delay, 530).
set max_login_failures 10
set login_fail_delay_ms 250
user bob pw
user carol pw2 account=acct1
user dave pw3 account=acct1 disabled
greet
S: 220 Ferry FTP server ready.

# B.36: ACCT before USER -> 503 (also without an argument: 501 comes first).
C: ACCT acct1
S: 503 Login with USER and PASS first.
C: ACCT
S: 501 ACCT needs an argument.

# B.38: USER for a user who needs an account -> 331, never 332; ACCT between
# USER and PASS -> 503 and the USER still stands.
C: USER carol
S: 331 Please specify the password.
C: ACCT acct1
S: 503 Login with USER and PASS first.
# B.33: PASS -> 332; not logged in until ACCT.
C: PASS pw2
E: AUTH_CHECK carol
S: 332 Need account for login.
C: PWD
S: 530 Please login with USER and PASS.
# B.35: empty ACCT (as Python ftplib sends it) -> 501, the 332 still stands.
C: ACCT
S: 501 ACCT needs an argument.
C: ACCT 
S: 501 ACCT needs an argument.
# PASS is not what 332 asked for.
C: PASS pw2
S: 503 Login with USER first.
C: ACCT acct1
S: 230 Login successful.
C: PWD
S: 257 "/" is the current directory.
C: STAT
S: 211-FTP server status:
S:  Connected from 192.0.2.1
S:  Logged in as carol
S:  TYPE: ASCII, FORM: Nonprint; STRUcture: File; transfer MODE: Stream
S:  No data connection
S: 211 End of status.
# B.37: ACCT while logged in -> 202.
C: ACCT acct1
S: 202 ACCT not needed.
C: ACCT other
S: 202 ACCT not needed.

# B.34: wrong account -> delay, 530; PWD -> 530; the ACCT state is gone.
C: USER carol
S: 331 Please specify the password.
C: PASS pw2
E: AUTH_CHECK carol
S: 332 Need account for login.
C: ACCT wrong
E: DELAY 250
S: 530 Login incorrect.
C: PWD
S: 530 Please login with USER and PASS.
C: ACCT acct1
S: 503 Login with USER and PASS first.
# An account that is a prefix or differs in case is wrong too.
C: USER carol
S: 331 Please specify the password.
C: PASS pw2
E: AUTH_CHECK carol
S: 332 Need account for login.
C: ACCT acct
E: DELAY 250
S: 530 Login incorrect.
C: USER carol
S: 331 Please specify the password.
C: PASS pw2
E: AUTH_CHECK carol
S: 332 Need account for login.
C: ACCT ACCT1
E: DELAY 250
S: 530 Login incorrect.
# A wrong password for an account user: 530, never 332.
C: USER carol
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK carol
E: DELAY 250
S: 530 Login incorrect.

# A new USER during the 332 starts over.
C: USER carol
S: 331 Please specify the password.
C: PASS pw2
E: AUTH_CHECK carol
S: 332 Need account for login.
C: USER bob
S: 331 Please specify the password.
C: ACCT acct1
S: 503 Login with USER and PASS first.
# A user without an account: 230 at PASS, then ACCT -> 202.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.
C: ACCT acct1
S: 202 ACCT not needed.

# A disabled user gets 331 and, with the right password, the same delay
# and 530 as a wrong password.
C: USER dave
S: 331 Please specify the password.
C: PASS pw3
E: AUTH_CHECK dave
E: DELAY 250
S: 530 Login incorrect.
C: PWD
S: 530 Please login with USER and PASS.

# PROTOCOL.md A.3 (lftp with ftp:acct): USER, PASS, ACCT, PWD pipelined.
C< USER carol\r\nPASS pw2\r\nACCT acct1\r\nPWD\r\n
S: 331 Please specify the password.
S-
E: AUTH_CHECK carol
S: 332 Need account for login.
S: 230 Login successful.
S: 257 "/" is the current directory.
C: QUIT
S: 221 Goodbye.
E: CLOSE
