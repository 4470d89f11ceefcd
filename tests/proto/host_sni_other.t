# host_sni_other.t: an SNI that names no [host] (the default host): HOST
# for a [host] is refused with 504, HOST for the same default host is not.
set tls available
set host a.test Welcome to A.
user bob pw
greet
S: 220 Ferry FTP server ready.
C: AUTH TLS
S: 234 Proceed with negotiation.
E: TLS_START host=- sni=localhost
C: HOST a.test
S: 504 Host a.test is not the TLS server name this connection gave.
C: HOST 192.0.2.10
S: 220 Ferry FTP server ready.
C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.
C: QUIT
S: 221 Goodbye.
E: CLOSE
