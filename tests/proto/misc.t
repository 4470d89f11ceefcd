# misc.t: FEAT HELP SYST OPTS CLNT ALLO TYPE MODE STRU PWD REIN QUIT after
# login (RFC 959 §4.1.2-§4.1.3, RFC 1123 §4.1.2.13, RFC 2389; PROTOCOL.md
# checklist F.109, F.110, F.137, J.178-J.180, J.183, J.191-J.193, B.43, A.22).
set banner Welcome to the test server.
user bob pw
greet
S: 220 Welcome to the test server.
C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.

# J.178/J.179: FEAT lines start with one space and end "211 End"; no argument.
C: FEAT
S: 211-Features:
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
S:  RANG STREAM
S:  REST STREAM
S:  SIZE
S: 211 End
C: FEAT x
S: 501 FEAT takes no argument.
C: feat
S: 211-Features:
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
S:  RANG STREAM
S:  REST STREAM
S:  SIZE
S: 211 End

# J.192: HELP lists the table; HELP VERB gives its syntax (case-insensitive,
# spaces around the verb ignored); an unknown verb -> 501 naming it.
C: HELP
S: 214-The following commands are recognized.
S:  ABOR ACCT ADAT ALLO APPE AUTH AVBL CCC 
S:  CDUP CLNT CONF CWD  DELE ENC  EPRT EPSV
S:  FEAT HASH HELP HOST LIST MDTM MFF  MFMT
S:  MIC  MKD  MLSD MLST MODE NLST NOOP OPTS
S:  PASS PASV PBSZ PORT PROT PWD  QUIT RANG
S:  REIN REST RETR RMD  RNFR RNTO SITE SIZE
S:  STAT STOR STOU STRU SYST TYPE USER XCRC
S:  XCUP XCWD XMD5 XMKD XPWD XRMD XSHA1 XSHA256
S:  XSHA512
S: 214 Help OK.
C: HELP USER
S: 214 Syntax: USER <sp> username
C: HELP user
S: 214 Syntax: USER <sp> username
C: HELP  type 
S: 214 Syntax: TYPE <sp> A [<sp> N] | I | L <sp> 8
C: HELP ACCT
S: 214 Syntax: ACCT <sp> account-information
C: HELP FOO
S: 501 Unknown command FOO.
C: HELP SITE CHMOD
S: 214 Syntax: SITE CHMOD <sp> octal-mode <sp> pathname
C: HELP 
S: 214-The following commands are recognized.
S:  ABOR ACCT ADAT ALLO APPE AUTH AVBL CCC 
S:  CDUP CLNT CONF CWD  DELE ENC  EPRT EPSV
S:  FEAT HASH HELP HOST LIST MDTM MFF  MFMT
S:  MIC  MKD  MLSD MLST MODE NLST NOOP OPTS
S:  PASS PASV PBSZ PORT PROT PWD  QUIT RANG
S:  REIN REST RETR RMD  RNFR RNTO SITE SIZE
S:  STAT STOR STOU STRU SYST TYPE USER XCRC
S:  XCUP XCWD XMD5 XMKD XPWD XRMD XSHA1 XSHA256
S:  XSHA512
S: 214 Help OK.

# J.191
C: SYST
S: 215 UNIX Type: L8
# J.180: OPTS
C: OPTS UTF8 ON
S: 200 Always in UTF8 mode.
C: opts utf8 on
S: 200 Always in UTF8 mode.
C: OPTS UTF8 OFF
S: 504 UTF8 cannot be turned off.
C: OPTS UTF8
S: 501 OPTS UTF8 takes ON.
C: OPTS UTF8 MAYBE
S: 501 OPTS UTF8 takes ON.
C: OPTS NOSUCH x
S: 501 Option not understood.
C: OPTS
S: 501 OPTS needs an argument.
# J.183: CLNT; F.137: ALLO is a NOOP (argument optional).
C: CLNT foo/1.0
S: 200 Noted.
C: CLNT
S: 501 CLNT needs an argument.
C: ALLO 1000
S: 202 No storage allocation necessary.
C: ALLO 1000 R 10
S: 202 No storage allocation necessary.
C: ALLO
S: 202 No storage allocation necessary.

# F.109 and RFC 959 §5.3.2: TYPE variants (parameters case-insensitive).
C: TYPE A
S: 200 Switching to ASCII mode.
C: TYPE A N
S: 200 Switching to ASCII mode.
C: TYPE a n
S: 200 Switching to ASCII mode.
C: TYPE I
S: 200 Switching to Binary mode.
C: TYPE i
S: 200 Switching to Binary mode.
C: TYPE A
S: 200 Switching to ASCII mode.
C: TYPE L 8
S: 200 Switching to Binary mode.
C: TYPE l 8
S: 200 Switching to Binary mode.
C: TYPE L 7
S: 504 Only TYPE L 8 is supported.
C: TYPE L
S: 501 Unrecognised TYPE.
C: TYPE E
S: 504 TYPE E (EBCDIC) is not supported.
C: TYPE A T
S: 504 Only TYPE A N (non-print) is supported.
C: TYPE A C
S: 504 Only TYPE A N (non-print) is supported.
C: TYPE A X
S: 501 Unrecognised TYPE A format.
C: TYPE A N X
S: 501 Unrecognised TYPE.
C: TYPE X
S: 501 Unrecognised TYPE.
C: TYPE AN
S: 501 Unrecognised TYPE.
C: TYPE I N
S: 501 Unrecognised TYPE.
C: TYPE
S: 501 TYPE needs an argument.
# Refused TYPE commands left the last good one (L 8 = binary) in force.
C: STAT
S: 211-FTP server status:
S:  Connected from 192.0.2.1
S:  Logged in as bob
S:  TYPE: BINARY, FORM: Nonprint; STRUcture: File; transfer MODE: Stream
S:  No data connection
S: 211 End of status.
# STAT with a pathname lists it on the control connection (212 for a
# directory; the replay home is empty).
C: STAT /
S: 212-Status of /:
S: 212 End of status.

# F.110 and A.11: MODE and STRU: one letter, only S and F implemented.
C: MODE S
S: 200 MODE set to S.
C: mode s
S: 200 MODE set to S.
C: MODE B
S: 504 Only MODE S is supported.
C: MODE C
S: 504 Only MODE S is supported.
C: MODE Z
S: 504 Only MODE S is supported.
C: MODE Q
S: 501 Unrecognised MODE.
C: MODE SS
S: 501 Unrecognised MODE.
C: MODE
S: 501 MODE needs an argument.
C: STRU F
S: 200 STRU set to F.
C: stru f
S: 200 STRU set to F.
C: STRU R
S: 504 Only STRU F is supported.
C: STRU P
S: 504 Only STRU F is supported.
C: STRU Q
S: 501 Unrecognised STRU.
C: STRU
S: 501 STRU needs an argument.

# PWD and its RFC 1123 alias XPWD.
C: PWD
S: 257 "/" is the current directory.
C: XPWD
S: 257 "/" is the current directory.
C: xpwd
S: 257 "/" is the current directory.

# B.43: REIN -> 220 and the session is as just connected: logged out and
# TYPE back to A.
C: REIN x
S: 501 REIN takes no argument.
C: REIN
S: 220 Service ready for new user.
C: PWD
S: 530 Please login with USER and PASS.
C: PASS pw
S: 503 Login with USER first.
C: STAT
S: 211-FTP server status:
S:  Connected from 192.0.2.1
S:  Not logged in
S:  TYPE: ASCII, FORM: Nonprint; STRUcture: File; transfer MODE: Stream
S:  No data connection
S: 211 End of status.
C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.
C: PWD
S: 257 "/" is the current directory.
# REIN in the middle of a login forgets the USER.
C: USER bob
S: 331 Please specify the password.
C: REIN
S: 220 Service ready for new user.
C: PASS pw
S: 503 Login with USER first.

# A.22: QUIT -> 221 and CLOSE; QUIT takes no argument; commands pipelined
# behind QUIT never run.
C: QUIT now
S: 501 QUIT takes no argument.
C< QUIT\r\nNOOP\r\nSYST\r\n
S: 221 Goodbye.
S-
E: CLOSE
