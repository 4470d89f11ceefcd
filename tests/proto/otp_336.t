# otp_336.t: [otp] challenge = 336 server-wide; a user's reply=331 wins;
# [otp] unknown_users = challenge gives unknown names a made-up challenge.
set otp_challenge 336
set otp_unknown 1
user otpuser BAIL\x20TUFT\x20BITS\x20GANG\x20CHEF\x20THY otp=md5:99:test
user lftpuser x otp=md5:10:seed1 reply=331
user totpuser pw123456 totp
user bob pw
greet
S: 220 Ferry FTP server ready.
C: USER otpuser
S: 336 Username okay, need password. Challenge is "otp-md5 99 test".
# (The replayer's store compares literally: a different answer fails.)
C: PASS BAIL TUFT BITS GANG CHEF TIC
E: AUTH_CHECK otpuser
E: DELAY 1000
S: 530 Login incorrect.
C: USER otpuser
S: 336 Username okay, need password. Challenge is "otp-md5 99 test".
C: PASS BAIL TUFT BITS GANG CHEF THY
E: AUTH_CHECK otpuser
S: 230 Login successful.
C: USER lftpuser
S: 331 Response to otp-md5 10 seed1 ext required for lftpuser.
C: USER totpuser
S: 336 Username okay, need password. Challenge is "password followed by the 6-digit TOTP code".
C: USER nosuch
S: 336 Username okay, need password. Challenge is "otp-md5 123 fake0".
C: PASS BAIL TUFT BITS GANG CHEF THY
E: AUTH_CHECK nosuch
E: DELAY 1000
S: 530 Login incorrect.
# Password users keep the plain 331.
C: USER bob
S: 331 Please specify the password.
C: QUIT
S: 221 Goodbye.
E: CLOSE
