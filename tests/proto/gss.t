# gss.t: RFC 2228 GSSAPI on the control connection (PROTOCOL.md §2.2 and
# checklist D 60-87), with replay_gss.c standing in for gss.c: a wrapped
# token is the level byte (S or P) and the plaintext.
set gss available
user bob pw
user alice alicepw
greet
S: 220 Ferry FTP server ready.
# D.60 / D.63 / D.77 / D.78: unknown mechanism; nothing before AUTH
C: AUTH FOO
S: 504 Unknown AUTH type.
C: ADAT dG9rMQ==
S: 503 ADAT needs AUTH GSSAPI first.
C: MIC U1BXRA0K
S: 503 Protected commands need a completed security exchange (AUTH GSSAPI, ADAT).
C: CONF U1BXRA0K
S: 503 Protected commands need a completed security exchange (AUTH GSSAPI, ADAT).
C: PBSZ 1048576
S: 503 PBSZ needs a TLS connection (AUTH TLS).
# FEAT lists AUTH GSSAPI (and PBSZ/PROT) when a keytab is configured
C: FEAT
S: 211-Features:
S:  AUTH GSSAPI
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
# D.62 / D.64: case-insensitive AUTH; bad base64 ends the exchange
C: auth gssapi
S: 334 Using authentication type GSSAPI; ADAT must follow.
C: ADAT dG9rMQ=
S: 501 Cannot decode the ADAT data (base64).
C: ADAT dG9rMQ==
S: 503 ADAT needs AUTH GSSAPI first.
# D.65: a token the mechanism rejects
C: AUTH GSSAPI
S: 334 Using authentication type GSSAPI; ADAT must follow.
C: ADAT anVuaw==
E: GSS_STEP junk FAIL
S: 535 GSSAPI security data rejected.
C: ADAT dG9rMQ==
S: 503 ADAT needs AUTH GSSAPI first.
# D.66: two steps (335 ADAT=, then 235 ADAT=); the commands behind wait
C: AUTH GSSAPI
S: 334 Using authentication type GSSAPI; ADAT must follow.
C< ADAT dG9rMQ==\r\nADAT dG9rMg==\r\nPWD\r\n
E: GSS_STEP tok1 CONTINUE reply=rep1
S: 335 ADAT=cmVwMQ==
E: GSS_STEP tok2 COMPLETE reply=rep2 principal=bob@EX.TEST local=bob
S: 235 ADAT=cmVwMg==
# D.70: plaintext after the exchange
S: 533 Command protection level denied: send it as MIC or ENC.
# D.69: no second ADAT
C: ADAT dG9rMQ==
S: 503 Security data exchange already complete.
# D.74 / D.75 / D.76: CONF, a bad token, bad base64 (both answered protected)
C: CONF U1BXRA0K
S: 537 CONF is not supported by GSSAPI; use MIC or ENC.
C: MIC WFBXRA0K
S{S}: 535 Protected command failed the security check.
C: MIC !!!!
S{S}: 501 Cannot decode the protected command (base64).
# an ENC token on MIC (and the reverse) is the wrong level: refused
C: MIC UFBXRA0K
S{S}: 535 Protected command failed the security check.
C: ENC U1BXRA0K
S{P}: 535 Protected command failed the security check.
# D.71 / D.72: USER authorised by the principal (232), or a password login
C{S}: USER alice
E: AUTH_CHECK alice
S{S}: 331 Principal not authorized for this user; send the password.
C{P}: PASS alicepw
E: AUTH_CHECK alice
S{P}: 230 Login successful.
C{S}: USER bob
E: AUTH_CHECK bob
S{S}: 232 User logged in, authorized by security data exchange.
C{P}: PWD
S{P}: 257 "/" is the current directory.
# a multi-line reply is one protected reply
C{S}: HELP
S{S}: 214-The following commands are recognized.
S{S}:  ABOR ACCT ADAT ALLO APPE AUTH AVBL CCC 
S{S}:  CDUP CLNT CONF CWD  DELE ENC  EPRT EPSV
S{S}:  FEAT HASH HELP HOST LIST MDTM MFF  MFMT
S{S}:  MIC  MKD  MLSD MLST MODE NLST NOOP OPTS
S{S}:  PASS PASV PBSZ PORT PROT PWD  QUIT RANG
S{S}:  REIN REST RETR RMD  RNFR RNTO SITE SIZE
S{S}:  STAT STOR STOU STRU SYST TYPE USER XCRC
S{S}:  XCUP XCWD XMD5 XMKD XPWD XRMD XSHA1 XSHA256
S{S}:  XSHA512
S{S}: 214 Help OK.
C{S}: MIC U1BXRA0K
S{S}: 501 Protected commands cannot be nested.
# D.79 - D.81: PBSZ and PROT
C{S}: PROT P
S{S}: 503 PROT needs PBSZ first.
C{S}: PBSZ 1048576
S{S}: 200 PBSZ=65536
C{S}: PBSZ 4096
S{S}: 200 PBSZ=4096
C{S}: PBSZ 255
S{S}: 501 PBSZ must be at least 256 with GSSAPI.
C{S}: PROT E
S{S}: 536 PROT E is not supported by GSSAPI.
C{S}: PROT Q
S{S}: 504 Unknown PROT level.
C{S}: PROT S
S{S}: 200 Protection level set to S.
C{S}: PROT P
S{S}: 200 Protection level set to P.
# AUTH TLS refused on a GSSAPI connection (TLS not configured here: 431)
C{S}: AUTH TLS
S{S}: 431 TLS is not configured on this server.
# D.84: CCC must be protected; afterwards plaintext is accepted
C: CCC
S: 533 Command protection level denied: send it as MIC or ENC.
C{S}: CCC
S{S}: 200 Command channel cleared; plaintext commands are accepted.
C: PWD
S: 257 "/" is the current directory.
C{P}: NOOP
S{P}: 200 NOOP ok.
# D.86: REIN deletes the context (its 220 goes out protected)
C{S}: REIN
S{S}: 220 Service ready for new user.
C: PWD
S: 530 Please login with USER and PASS.
C: MIC U1BXRA0K
S: 503 Protected commands need a completed security exchange (AUTH GSSAPI, ADAT).
# D.87: AUTH again after a completed exchange logs the user out
C: AUTH GSSAPI
S: 334 Using authentication type GSSAPI; ADAT must follow.
C: ADAT dG9rMQ==
E: GSS_STEP tok1 COMPLETE principal=bob@EX.TEST local=bob
S: 235 Security data exchange complete.
C{S}: USER bob
E: AUTH_CHECK bob
S{S}: 232 User logged in, authorized by security data exchange.
C{S}: AUTH GSSAPI
S{S}: 334 Using authentication type GSSAPI; ADAT must follow.
C: PWD
S: 530 Please login with USER and PASS.
C: QUIT
S: 221 Goodbye.
E: CLOSE
