# limits.t: [limits] prelogin_commands (issue 7): a connection that keeps
# talking without logging in is closed with 421. Every command counts, also
# those answered 530; a login resets the count, and after REIN it starts
# again.
set prelogin_commands 4
user bob pw
greet
S: 220 Ferry FTP server ready.
C: SYST
S: 215 UNIX Type: L8
C: TYPE I
S: 530 Please login with USER and PASS.
C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.
# Logged in: no limit.
C: NOOP
S: 200 NOOP ok.
C: NOOP
S: 200 NOOP ok.
C: NOOP
S: 200 NOOP ok.
C: NOOP
S: 200 NOOP ok.
C: NOOP
S: 200 NOOP ok.
C: REIN
S: 220 Service ready for new user.
C: NOOP
S: 200 NOOP ok.
C: SYST
S: 215 UNIX Type: L8
C: NOOP
S: 200 NOOP ok.
C: NOOP
S: 200 NOOP ok.
C: NOOP
S: 421 Too many commands before login, closing control connection.
E: CLOSE
