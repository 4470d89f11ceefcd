# timeout_shutdown.t: SIGTERM drain deadline for a logged-in session.
user bob pw
greet
S: 220 Ferry FTP server ready.
C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.
T: SHUTDOWN
S: 421 Server shutting down, closing control connection.
E: CLOSE
