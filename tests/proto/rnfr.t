# rnfr.t: RNFR -> 350 -> RNTO (PROTOCOL.md Decision 5, §2.4; checklist
# H.148-H.155). 350 only if the source exists; any command other than RNTO,
# NOOP, STAT or HELP cancels a pending RNFR (policy A of H.151); RNTO without
# an immediately pending RNFR -> 503; an RNTO always ends the pair.
user bob pw
file f F
file g G
file k K
mkdir d
mkdir e/sub
symlink ln f
greet
S: 220 Ferry FTP server ready.

# Before login both are refused like every file command (Decision 12).
C: RNFR f
S: 530 Please login with USER and PASS.
C: RNTO g
S: 530 Please login with USER and PASS.

C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.

# H.148: RNFR f -> 350; RNTO h -> 250; f gone, h present.
C: RNFR f
S: 350 Ready for RNTO.
C: RNTO h
S: 250 Rename successful.
F! f
F: h F

# H.154: after an RNTO, another RNTO -> 503.
C: RNTO x
S: 503 RNFR required first.
F! x

# H.149: RNFR of a missing file -> 550; the following RNTO -> 503.
C: RNFR nosuch
S: 550 No such file or directory.
C: RNTO x
S: 503 RNFR required first.
F! x

# H.150: RNTO without any RNFR -> 503 (and RNTO needs an argument).
C: RNTO x
S: 503 RNFR required first.
C: RNTO
S: 501 RNTO needs an argument.
C: RNFR
S: 501 RNFR needs an argument.

# H.152: NOOP, STAT and HELP do not break the pair.
C: RNFR h
S: 350 Ready for RNTO.
C: NOOP
S: 200 NOOP ok.
C: STAT
S: 211-FTP server status:
S:  Connected from 192.0.2.1
S:  Logged in as bob
S:  TYPE: ASCII, FORM: Nonprint; STRUcture: File; transfer MODE: Stream
S:  No data connection
S: 211 End of status.
C: HELP RNTO
S: 214 Syntax: RNTO <sp> pathname
C: RNTO f
S: 250 Rename successful.
F! h
F: f F

# H.151 (policy A): CWD -> 250 and cancels the RNFR: RNTO -> 503.
C: RNFR f
S: 350 Ready for RNTO.
C: CWD d
S: 250 Directory successfully changed.
C: RNTO g2
S: 503 RNFR required first.
C: CWD /
S: 250 Directory successfully changed.
F: f F
F! g2
F! d/g2
# Other commands cancel too: TYPE, PWD, PASV, an unknown verb, a line that
# is refused (RNTO with an argument error is still RNTO: see below).
C: RNFR f
S: 350 Ready for RNTO.
C: TYPE I
S: 200 Switching to Binary mode.
C: RNTO g2
S: 503 RNFR required first.
C: RNFR f
S: 350 Ready for RNTO.
C: PWD
S: 257 "/" is the current directory.
C: RNTO g2
S: 503 RNFR required first.
C: RNFR f
S: 350 Ready for RNTO.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RNTO g2
S: 503 RNFR required first.
C: RNFR f
S: 350 Ready for RNTO.
C: XYZZY
S: 500 Unknown command.
C: RNTO g2
S: 503 RNFR required first.
F: f F
F! g2

# H.153: RNFR f, RNFR g, RNTO h -> g renamed to h, f untouched; then a
# second RNTO -> 503.
C: RNFR f
S: 350 Ready for RNTO.
C: RNFR g
S: 350 Ready for RNTO.
C: RNTO h
S: 250 Rename successful.
F: f F
F! g
F: h G
C: RNTO i
S: 503 RNFR required first.
F! i
# A failing second RNFR leaves nothing pending.
C: RNFR f
S: 350 Ready for RNTO.
C: RNFR nosuch
S: 550 No such file or directory.
C: RNTO i
S: 503 RNFR required first.
F: f F
F! i

# H.154: a failed RNTO also ends the pair.
C: RNFR f
S: 350 Ready for RNTO.
C: RNTO nodir/x
S: 550 No such file or directory.
C: RNTO x
S: 503 RNFR required first.
F: f F
F! x

# H.155 (policy: overwrite, rename(2) rules): RNTO an existing file -> 250.
C: RNFR k
S: 350 Ready for RNTO.
C: RNTO h
S: 250 Rename successful.
F! k
F: h K

# Directories, subdirectories and relative names.
C: RNFR e
S: 350 Ready for RNTO.
C: RNTO d/e2
S: 250 Rename successful.
F! e
D: d/e2
D: d/e2/sub
C: CWD d
S: 250 Directory successfully changed.
C: RNFR ../f
S: 350 Ready for RNTO.
C: RNTO ./f2
S: 250 Rename successful.
C: CWD /
S: 250 Directory successfully changed.
F! f
F: d/f2 F
# RNTO onto a non-empty directory fails (rename(2)): 550.
C: RNFR h
S: 350 Ready for RNTO.
C: RNTO d
S: 550 Is a directory.
F: h K

# A symlink is renamed itself (RNFR uses lstat), not its target.
C: RNFR ln
S: 350 Ready for RNTO.
C: RNTO ln2
S: 250 Rename successful.
F! ln
F: d/f2 F

# SECURITY: names are confined to the root: "../../x" from / is /x.
C: RNFR d/f2
S: 350 Ready for RNTO.
C: RNTO ../../../f3
S: 250 Rename successful.
F: f3 F
F! d/f2

# The root itself cannot be renamed.
C: RNFR /
S: 350 Ready for RNTO.
C: RNTO x
S: 550 Cannot do that to the root directory.
C: RNFR f3
S: 350 Ready for RNTO.
C: RNTO /
S: 550 Cannot do that to the root directory.
F: f3 F

# REIN forgets a pending RNFR (with the login).
C: RNFR f3
S: 350 Ready for RNTO.
C: REIN
S: 220 Service ready for new user.
C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.
C: RNTO x
S: 503 RNFR required first.
F: f3 F

C: QUIT
S: 221 Goodbye.
E: CLOSE
