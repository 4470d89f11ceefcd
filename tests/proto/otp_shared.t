# otp_shared.t: a challenge another connection holds (RFC 2289 §9 lock) is
# shown, not refused, so USER alone cannot lock a user out; a wrong answer
# to it is the connection's last try (issue 13 item 6, auth_otp.c).
set max_login_failures 3
set login_fail_delay_ms 1000
user otpuser BAIL\x20TUFT\x20BITS\x20GANG\x20CHEF\x20THY otp=md5:99:test shared
user bob pw
greet
S: 220 Ferry FTP server ready.

# The right answer logs in (the store accepts it once, whoever sends it).
C: USER otpuser
S: 331 Response to otp-md5 99 test ext required for otpuser.
C: PASS BAIL TUFT BITS GANG CHEF THY
E: AUTH_CHECK otpuser
S: 230 Login successful.

# A password user's wrong PASS keeps the usual tries.
C: USER bob
S: 331 Please specify the password.
C: PASS nope
E: AUTH_CHECK bob
E: DELAY 1000
S: 530 Login incorrect.

# A wrong answer to a shared challenge: 530 after the delay, then 421.
C: USER otpuser
S: 331 Response to otp-md5 99 test ext required for otpuser.
C: PASS WRONG WORDS
E: AUTH_CHECK otpuser
S-
E: DELAY 1000
S: 530 Login incorrect.
S: 421 Login failure limit reached, closing control connection.
E: CLOSE
