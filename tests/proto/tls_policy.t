# tls_policy.t: [tls] required = all (login and data, Decision 7 / RFC 4217
# §10): USER in the clear -> 530 naming TLS; PROT C transfers -> 521 before
# any 1xx; with TLS and PROT P they proceed.
set tls available
set tls_required 3
user bob pw
file f 0123456789
greet
S: 220 Ferry FTP server ready.
C: USER bob
S: 530 TLS is required for login on this server: send AUTH TLS first.
C: AUTH TLS
S: 234 Proceed with negotiation.
E: TLS_START
C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 521 Data connections must be protected: send PBSZ 0 and PROT P.
C: LIST
S: 521 Data connections must be protected: send PBSZ 0 and PROT P.
C: PBSZ 0
S: 200 PBSZ=0
C: PROT P
S: 200 Protection level set to P.
C: RETR f
E: ASCII_SIZE
S: 150 Opening ASCII mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=1
X: XFER_DONE TLS_NO_REUSE
S: 522 Data connection refused: it must resume the TLS session of the control connection ([tls] data_reuse = require).
