# timeouts.t: a session timer fires (PROTOCOL.md checklist A.21; RFC 1123
# §4.1.3.2): 421 and CLOSE. Once CLOSE is pending, a later timer adds nothing.
greet
S: 220 Ferry FTP server ready.
C: NOOP
S: 200 NOOP ok.
T: IDLE
S: 421 Idle timeout, closing control connection.
E: CLOSE
T: LOGIN
T: SHUTDOWN
S-
E: CLOSE
