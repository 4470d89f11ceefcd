# late_complete.t: a timeout replaced a pending DELAY (or AUTH_CHECK) with
# CLOSE, and then the session's delay timer (or password job) finishes and
# reports back, as src/ftp/session.c on_effect_timer / auth_done do. CLOSE never
# completes (proto.h): the report must be ignored, no command queued behind
# the failed PASS may run after the 421, and CLOSE must stay pending.
user bob pw
greet
S: 220 Ferry FTP server ready.
C< USER bob\r\nPASS wrong\r\nPWD\r\nUSER bob\r\n
S: 331 Please specify the password.
E: AUTH_CHECK bob
# (the DELAY for the 530 is now pending; it is not completed)
S-
T: IDLE
S: 421 Idle timeout, closing control connection.
E: CLOSE
X: COMPLETE
S-
E: CLOSE
