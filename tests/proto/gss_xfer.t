# gss_xfer.t: RFC 2228 GSSAPI with transfers: PROT S/P reach the data
# channel as wrapped blocks (gss=1|2, pbsz), protected commands during a
# transfer (STAT acts, the rest waits in order, unwrapped on arrival), 535
# for a data protection failure, and [gssapi] required = no.
set gss available
set gss_required 0
user bob pw
file f hello\nworld\n
greet
S: 220 Ferry FTP server ready.
C: AUTH GSSAPI
S: 334 Using authentication type GSSAPI; ADAT must follow.
C: ADAT dG9rMQ==
E: GSS_STEP tok1 COMPLETE principal=bob@EX.TEST local=bob
S: 235 Security data exchange complete.
# required = no: plaintext commands run and get plaintext replies
C: USER bob
E: AUTH_CHECK bob
S: 232 User logged in, authorized by security data exchange.
C: TYPE I
S: 200 Switching to Binary mode.
# PROT C: no wrapping (gss=0)
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (12 bytes).
E: XFER SEND_FILE offset=0 size=12 gss=0 protect=0
X: XFER_DONE OK 12
S: 226 Transfer complete.
C{S}: PBSZ 1000
S{S}: 200 PBSZ=1000
C{S}: PROT S
S{S}: 200 Protection level set to S.
C{P}: PASV
E: DATA_SETUP PASSIVE
S{P}: 227 Entering Passive Mode (192,0,2,10,195,80).
C{S}: RETR f
S{S}: 150 Opening BINARY mode data connection for f (12 bytes).
E: XFER SEND_FILE offset=0 size=12 gss=1 pbsz=1000 protect=0 content=hello\nworld\n
# during the transfer: STAT acts at once, PWD and a bad token wait in order
C{P}: STAT
S{P}: 213 Status: 0 bytes transferred.
C{S}: PWD
C: MIC WFBXRA0K
C: NOOP
S-
X: XFER_DONE OK 12
S{S}: 226 Transfer complete.
S{S}: 257 "/" is the current directory.
S{S}: 535 Protected command failed the security check.
S: 200 NOOP ok.
# PROT P upload; a bad block is a 535 on the transfer
C{S}: PROT P
S{S}: 200 Protection level set to P.
C{S}: PASV
E: DATA_SETUP PASSIVE
S{S}: 227 Entering Passive Mode (192,0,2,10,195,80).
C{P}: STOR up
S{P}: 150 Ok to send data.
E: XFER RECV_FILE gss=2 pbsz=1000
X: XFER_DONE PROT_FAILED
S{P}: 535 Data protection failure; transfer aborted.
F! up
# More protected commands during a transfer take the same unwrap as outside
# one (proto.c run_protected): a nested MIC, an undecodable token and one at
# the wrong level wait in order and get the replies they get outside a
# transfer; a protected ABOR acts at once (the transfer's replies keep the
# RETR's level).
C{S}: PASV
E: DATA_SETUP PASSIVE
S{S}: 227 Entering Passive Mode (192,0,2,10,195,80).
C{S}: RETR f
S{S}: 150 Opening BINARY mode data connection for f (12 bytes).
E: XFER SEND_FILE offset=0 size=12 gss=2 pbsz=1000 protect=0
C{S}: MIC U1BXRA0K
C: MIC !!!!
C: ENC U1BXRA0K
C{P}: NOOP
S-
X: XFER_DONE OK 12
S{S}: 226 Transfer complete.
S{S}: 501 Protected commands cannot be nested.
S{S}: 501 Cannot decode the protected command (base64).
S{P}: 535 Protected command failed the security check.
S{P}: 200 NOOP ok.
C{S}: PASV
E: DATA_SETUP PASSIVE
S{S}: 227 Entering Passive Mode (192,0,2,10,195,80).
C{S}: RETR f
S{S}: 150 Opening BINARY mode data connection for f (12 bytes).
E: XFER SEND_FILE gss=2
C{P}: ABOR
E: ABORT_REQUESTED
X: XFER_DONE ABORTED 0
S{S}: 426 Transfer aborted. Data connection closed.
S{S}: 226 Abort successful.
C{P}: QUIT
S{P}: 221 Goodbye.
E: CLOSE
