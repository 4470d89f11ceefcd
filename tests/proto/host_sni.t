# host_sni.t: the TLS server name (SNI) selects a [host NAME] when no HOST
# came first; an SNI no [host] has means the default host, and then HOST
# naming a [host] is another host than the SNI's: 504 (RFC 7151 §3.3).
set tls available
set host a.test Welcome to A.
user bob pw
user bob:a.test pwa
greet
S: 220 Ferry FTP server ready.
C: AUTH TLS
S: 234 Proceed with negotiation.
E: TLS_START host=- sni=A.Test
C: USER bob
S: 331 Please specify the password.
C: PASS pwa
E: AUTH_CHECK bob:a.test
S: 230 Login successful.
C: QUIT
S: 221 Goodbye.
E: CLOSE
