# login.t: USER / PASS (PROTOCOL.md checklist B.24-B.32, B.39, B.40;
# Decisions 1 and 3). Failed logins are answered 530 after a DELAY effect (a
# loop timer in the session); at the limit 530, then 421 and CLOSE.
set max_login_failures 3
set login_fail_delay_ms 1000
user bob pw
user alice secret
greet
S: 220 Ferry FTP server ready.

# B.26: PASS before any USER -> 503; nothing is logged in.
C: PASS pw
S: 503 Login with USER first.
C: PWD
S: 530 Please login with USER and PASS.
# PASS without an argument before USER: still 503.
C: PASS
S: 503 Login with USER first.

# B.32: USER without an argument -> 501.
C: USER
S: 501 USER needs an argument.
C: USER 
S: 501 USER needs an argument.
# Names longer than any store allows are refused before a lookup; 256 is fine.
C: USER uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu
S: 501 User name too long.
C: USER uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu
S: 331 Please specify the password.

# B.24 / B.25 (RFC 2577 §7): 331 for known and unknown names alike; an unknown
# name costs the same delay as a wrong password and gets the same 530.
C: USER nosuch
S: 331 Please specify the password.
C: PASS x
S-
E: AUTH_CHECK nosuch
S-
E: DELAY 1000
S: 530 Login incorrect.
# The failure forgot the user: PASS now needs a USER first.
C: PASS x
S: 503 Login with USER first.

# B.28: wrong password -> 530 after the delay; PWD -> 530; a second try on
# the same connection succeeds. (Failure 2 of 3, then the count restarts.)
C: USER bob
S: 331 Please specify the password.
C: PASS wrong
E: AUTH_CHECK bob
E: DELAY 1000
S: 530 Login incorrect.
C: PWD
S: 530 Please login with USER and PASS.
# B.27: USER, PASS -> 230; PWD -> 257.
C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.
C: PWD
S: 257 "/" is the current directory.

# B.39: PASS while logged in -> 503; still logged in.
C: PASS pw
S: 503 Already logged in.
C: PASS
S: 503 Already logged in.
C: PWD
S: 257 "/" is the current directory.
# A refused USER (no argument, too long) leaves the login as it was.
C: USER
S: 501 USER needs an argument.
C: USER uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu
S: 501 User name too long.
C: PWD
S: 257 "/" is the current directory.

# B.40 (RFC 959 §4.1.1): USER while logged in starts a new login but keeps
# the transfer parameters: TYPE I survives.
C: TYPE I
S: 200 Switching to Binary mode.
C: USER bob
S: 331 Please specify the password.
C: PWD
S: 530 Please login with USER and PASS.
C: STAT
S: 211-FTP server status:
S:  Connected from 192.0.2.1
S:  Not logged in
S:  TYPE: BINARY, FORM: Nonprint; STRUcture: File; transfer MODE: Stream
S:  No data connection
S: 211 End of status.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.
C: STAT
S: 211-FTP server status:
S:  Connected from 192.0.2.1
S:  Logged in as bob
S:  TYPE: BINARY, FORM: Nonprint; STRUcture: File; transfer MODE: Stream
S:  No data connection
S: 211 End of status.

# A second USER before PASS replaces the first; names are case-sensitive.
C: USER alice
S: 331 Please specify the password.
C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.
C: user alice
S: 331 Please specify the password.
C: pass secret
E: AUTH_CHECK alice
S: 230 Login successful.
C: PWD
S: 257 "/" is the current directory.

# The password is everything after the single space (spaces included), and
# the commands behind a PASS wait for its check and delay.
C< USER bob\r\nPASS  pw\r\nPWD\r\n
S: 331 Please specify the password.
E: AUTH_CHECK bob
S-
E: DELAY 1000
S: 530 Login incorrect.
S: 530 Please login with USER and PASS.

# B.29: failures are counted per connection since the last success; the
# third gets 530, then 421 and CLOSE; nothing queued behind it runs.
C: USER bob
S: 331 Please specify the password.
C: PASS
E: AUTH_CHECK bob
E: DELAY 1000
S: 530 Login incorrect.
C< USER bob\r\nPASS bad3\r\nNOOP\r\n
S: 331 Please specify the password.
E: AUTH_CHECK bob
E: DELAY 1000
S: 530 Login incorrect.
S: 421 Login failure limit reached, closing control connection.
E: CLOSE
