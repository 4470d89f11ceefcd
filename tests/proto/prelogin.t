# prelogin.t: what is allowed before login (PROTOCOL.md checklist B.41, B.42).
# FEAT NOOP HELP SYST OPTS STAT CLNT QUIT (and the login verbs) work; every
# other verb, known or not, gets 530 so the command set cannot be probed.
user bob pw
greet
S: 220 Ferry FTP server ready.

# B.42
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
C: NOOP
S: 200 NOOP ok.
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
C: HELP PWD
S: 214 Syntax: PWD
C: SYST
S: 215 UNIX Type: L8
C: OPTS UTF8 ON
S: 200 Always in UTF8 mode.
C: STAT
S: 211-FTP server status:
S:  Connected from 192.0.2.1
S:  Not logged in
S:  TYPE: ASCII, FORM: Nonprint; STRUcture: File; transfer MODE: Stream
S:  No data connection
S: 211 End of status.
C: CLNT foo/1.0
S: 200 Noted.
C: REIN
S: 220 Service ready for new user.

# Known verbs that need a login: 530, whatever their argument.
C: PWD
S: 530 Please login with USER and PASS.
C: XPWD
S: 530 Please login with USER and PASS.
C: TYPE I
S: 530 Please login with USER and PASS.
C: TYPE
S: 530 Please login with USER and PASS.
C: MODE S
S: 530 Please login with USER and PASS.
C: STRU F
S: 530 Please login with USER and PASS.
C: ALLO 1000
S: 530 Please login with USER and PASS.
C: PWD extra
S: 530 Please login with USER and PASS.
# B.41 (file and data commands) and unknown verbs: 530 as well.
C: LIST
S: 530 Please login with USER and PASS.
C: RETR f
S: 530 Please login with USER and PASS.
C: CWD d
S: 530 Please login with USER and PASS.
C: PASV
S: 530 Please login with USER and PASS.
C: PORT 127,0,0,1,4,1
S: 530 Please login with USER and PASS.
C: MKD x
S: 530 Please login with USER and PASS.
C: SIZE f
S: 530 Please login with USER and PASS.
C: FOOB x
S: 530 Please login with USER and PASS.
# Between USER and PASS it is still 530.
C: USER bob
S: 331 Please specify the password.
C: PWD
S: 530 Please login with USER and PASS.
C: FOOB
S: 530 Please login with USER and PASS.
# ... and the USER still stands afterwards.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.

# After login: the same verbs run; unknown verbs get 500.
C: PWD
S: 257 "/" is the current directory.
C: TYPE I
S: 200 Switching to Binary mode.
C: FOOB x
S: 500 Unknown command.
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
C: QUIT
S: 221 Goodbye.
E: CLOSE
