# tls.t: RFC 4217 on the control connection: AUTH TLS / PBSZ / PROT / CCC /
# REIN, the login and data policies, FEAT (PROTOCOL.md checklist E 88-106,
# Decisions 7 and 9). The handshake itself is the session's; here it is an
# effect that completes (or fails).
set tls available
user bob pw
file f 0123456789
greet
S: 220 Ferry FTP server ready.

# E.88: FEAT lists AUTH TLS, PBSZ, PROT when a certificate is configured.
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

# E.96/E.104: PBSZ, PROT and CCC need TLS.
C: PBSZ 0
S: 503 PBSZ needs a TLS connection (AUTH TLS).
C: PROT P
S: 503 PROT needs a TLS connection (AUTH TLS).
C: CCC
S: 533 CCC needs a TLS control connection.
C: AUTH FOO
S: 504 Unknown AUTH type.

# E.92 / Decision 9: logged in, then AUTH TLS resets the login and TYPE.
C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.
C: TYPE I
S: 200 Switching to Binary mode.
# E.94: plaintext pipelined after AUTH TLS is not executed (proto stops
# reading at the effect; the session discards what it buffered).
C< AUTH TLS\r\nNOOP\r\n
S: 234 Proceed with negotiation.
E: TLS_START
C: PWD
S: 530 Please login with USER and PASS.
C: STAT
S: 211-FTP server status:
S:  Connected from 192.0.2.1
S:  Not logged in
S:  TYPE: ASCII, FORM: Nonprint; STRUcture: File; transfer MODE: Stream
S:  Control connection is TLS; data protection: clear (PROT C)
S:  No data connection
S: 211 End of status.

# E.93: AUTH again on a TLS connection.
C: AUTH TLS
S: 503 Already using TLS.

# E.97: PROT needs PBSZ; S and E are not TLS levels; unknown -> 504.
C: PROT P
S: 503 PROT needs PBSZ first.
C: PBSZ 1048576
S: 200 PBSZ=0
C: PBSZ x
S: 501 PBSZ needs a decimal size.
C: PROT S
S: 536 PROT S and E are not supported with TLS.
C: PROT E
S: 536 PROT S and E are not supported with TLS.
C: PROT Z
S: 504 Unknown PROT level.
C: prot p
S: 200 Protection level set to P.
C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.

# The data connection is protected (PROT P) in the transfer effect.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: TYPE I
S: 200 Switching to Binary mode.
C: RETR f
S: 150 Opening BINARY mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=0
X: XFER_DONE OK 10
S: 226 Transfer complete.

# E.103: CCC -> 200, TLS shut down, plaintext afterwards; PROT stays; no
# more PBSZ/PROT (the control connection is no longer TLS).
C: CCC
S: 200 Clearing control channel; plaintext follows.
E: TLS_STOP
C: NOOP
S: 200 NOOP ok.
C: PBSZ 0
S: 503 PBSZ needs a TLS connection (AUTH TLS).
C: AUTH TLS
S: 234 Proceed with negotiation.
E: TLS_START

# E.105: REIN under TLS: 220 (protected), then TLS ends; PROT back to C.
C: REIN
S: 220 Service ready for new user.
E: TLS_STOP
C: STAT
S: 211-FTP server status:
S:  Connected from 192.0.2.1
S:  Not logged in
S:  TYPE: ASCII, FORM: Nonprint; STRUcture: File; transfer MODE: Stream
S:  No data connection
S: 211 End of status.

# E.95: a failed handshake after 234 closes the connection.
C: AUTH TLS
S: 234 Proceed with negotiation.
E: TLS_START FAIL
E: CLOSE
