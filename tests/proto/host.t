# host.t: RFC 7151 HOST and [host NAME] virtual hosts (PROTOCOL.md
# Decision 16, checklist J.182): 220 with the host's banner, 501 for a name
# with a port, 504 for an unknown host or one other than the TLS SNI, 503
# after USER or a login (REIN ends that and forgets the host); USER after
# HOST looks up the host's user ("NAME:HOST" in the store).
set tls available
set host a.test Welcome to A.
set host b.test
user bob pw
user bob:a.test pwa
user bob:b.test pwb
greet
S: 220 Ferry FTP server ready.

C: HOST a.test
S: 220 Welcome to A.
# A second HOST before USER replaces the first; no banner of its own: [server] banner.
C: HOST B.TEST
S: 220 Ferry FTP server ready.
C: HOST a.test:21
S: 501 HOST takes a host name or address, without a port.
C: HOST unknown.test
S: 504 Unknown host unknown.test.
C: HOST a_b
S: 501 HOST takes a host name or address, without a port.
C: HOST
S: 501 HOST needs an argument.
# b.test is still selected: bob of b.test logs in with b's password.
C: USER bob
S: 331 Please specify the password.
C: HOST a.test
S: 503 HOST must come before USER (after a login, send REIN first).
C: PASS pwb
E: AUTH_CHECK bob:b.test
S: 230 Login successful.
C: HOST a.test
S: 503 HOST must come before USER (after a login, send REIN first).

# REIN forgets the host: bob is the default host's bob again.
C: REIN
S: 220 Service ready for new user.
C: USER bob
S: 331 Please specify the password.
C: PASS pwa
E: AUTH_CHECK bob
E: DELAY 1000
S: 530 Login incorrect.
C: HOST a.test
S: 220 Welcome to A.
C: USER bob
S: 331 Please specify the password.
C: PASS pwa
E: AUTH_CHECK bob:a.test
S: 230 Login successful.
C: REIN
S: 220 Service ready for new user.

# A name holding ':' is never a key: an unknown user.
C: USER bob:a.test
S: 331 Please specify the password.
C: PASS pwa
E: AUTH_CHECK :bob:a.test
E: DELAY 1000
S: 530 Login incorrect.

# An IP literal names the default host.
C: HOST 192.0.2.10
S: 220 Ferry FTP server ready.
C: HOST [2001:db8::10]
S: 220 Ferry FTP server ready.
C: HOST [nonsense]
S: 501 HOST takes a host name or address, without a port.

# HOST before AUTH TLS: the handshake presents that host's certificate.
C: HOST a.test
S: 220 Welcome to A.
C: AUTH TLS
S: 234 Proceed with negotiation.
E: TLS_START host=a.test sni=a.test
# The SNI named a.test: HOST must name it too (RFC 7151 §3.3).
C: HOST b.test
S: 504 Host b.test is not the TLS server name this connection gave.
C: HOST A.test
S: 220 Welcome to A.
C: FEAT
S: 211-Features:
S:  AUTH TLS
S:  AVBL
S:  CLNT
S:  TVFS
S:  EPRT
S:  EPSV
S:  HASH SHA-256*;SHA-512;SHA-1;MD5;CRC32
S:  HOST
S:  MDTM
S:  MFF modify;UNIX.mode;
S:  MFMT
S:  MLST type*;size*;modify*;perm*;unique*;UNIX.mode*;
S:  UTF8
S:  PBSZ
S:  PROT
S:  RANG STREAM
S:  REST STREAM
S:  SIZE
S: 211 End
C: QUIT
S: 221 Goodbye.
E: CLOSE
