# otp.t: one-time password challenges (PROTOCOL.md Decision 2, checklist C.49-C.58).
# The lookup effect decides the challenge; the replayer's table plays the store.
set max_login_failures 3
set login_fail_delay_ms 1000
set lookup manual
user otpuser BAIL\x20TUFT\x20BITS\x20GANG\x20CHEF\x20THY otp=md5:99:test
user shauser x otp=sha1:5:alpha1 reply=336
user lowuser LOW otp=md5:3:ab12
user lastuser LAST otp=md5:1:ab12
user totpuser pw123456 totp
user busyuser x otp=md5:50:zz busy
user olduser x otp=md5:1:zz exhausted
user bob pw
greet
S: 220 Ferry FTP server ready.

# C.49: the 331 text lftp parses: "otp-md5 N seed" then a space.
C: USER otpuser
S-
E: USER_LOOKUP otpuser
S: 331 Response to otp-md5 99 test ext required for otpuser.
# C.50: the six words -> 230.
C: PASS BAIL TUFT BITS GANG CHEF THY
E: AUTH_CHECK otpuser
S: 230 Login successful.

# A wrong answer: 530 after the usual delay.
C: USER otpuser
E: USER_LOOKUP otpuser
S: 331 Response to otp-md5 99 test ext required for otpuser.
C: PASS BAIL TUFT BITS GANG CHEF TIC
E: AUTH_CHECK otpuser
E: DELAY 1000
S: 530 Login incorrect.

# The user's own form (336, RFC 2228) and another algorithm.
C: USER shauser
E: USER_LOOKUP shauser
S: 336 Username okay, need password. Challenge is "otp-sha1 5 alpha1".

# Few left: the 230 says so; the last one says it was the last.
C: USER lowuser
E: USER_LOOKUP lowuser
S: 331 Response to otp-md5 3 ab12 ext required for lowuser.
C: PASS LOW
E: AUTH_CHECK lowuser
S: 230 Login successful. Only 2 one-time passwords are left: ask for a new key soon.
C: USER lastuser
E: USER_LOOKUP lastuser
S: 331 Response to otp-md5 1 ab12 ext required for lastuser.
C: PASS LAST
E: AUTH_CHECK lastuser
S: 230 Login successful. That was the last one-time password: ask for a new key now.

# C.56: another connection holds the challenge; exhausted keys.
C: USER busyuser
E: USER_LOOKUP busyuser
S: 530 Another login for busyuser is in progress; try again later.
C: PASS x
S: 503 Login with USER first.
C: USER olduser
E: USER_LOOKUP olduser
S: 530 No one-time passwords are left for olduser; ask the administrator for a new key.

# TOTP: password and code in one PASS.
C: USER totpuser
E: USER_LOOKUP totpuser
S: 331 Password and TOTP code required for totpuser.
C: PASS pw123456
E: AUTH_CHECK totpuser
S: 230 Login successful.

# Password users and unknown names: the plain 331 (RFC 2577 §7).
C: USER bob
E: USER_LOOKUP bob
S: 331 Please specify the password.
C: USER nosuch
E: USER_LOOKUP nosuch
S: 331 Please specify the password.

# Pipelined USER and PASS wait for the lookup, then run in order.
C< USER otpuser\r\nPASS BAIL TUFT BITS GANG CHEF THY\r\n
S-
E: USER_LOOKUP otpuser
S: 331 Response to otp-md5 99 test ext required for otpuser.
E: AUTH_CHECK otpuser
S: 230 Login successful.

# A challenge lock outlives REIN and is handed back by the next USER.
C: USER otpuser
E: USER_LOOKUP otpuser
S: 331 Response to otp-md5 99 test ext required for otpuser.
C: REIN
S: 220 Service ready for new user.
C: USER bob
E: USER_LOOKUP bob release=otpuser
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.

# The store failing at USER ends the session like at PASS.
C: USER otpuser
E: USER_LOOKUP otpuser ERROR
S: 421 Service not available: the user database cannot be read.
E: CLOSE
