# tls_off.t: no certificate configured: AUTH TLS -> 431 (checklist E.91) and
# FEAT does not advertise AUTH/PBSZ/PROT (PROTOCOL.md §4 trap 25).
greet
S: 220 Ferry FTP server ready.
C: AUTH TLS
S: 431 TLS is not configured on this server.
C: AUTH SSL
S: 431 TLS is not configured on this server.
C: AUTH GSSAPI
S: 431 GSSAPI is not configured on this server.
