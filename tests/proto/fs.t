# fs.t: file commands on the control connection (PROTOCOL.md checklist
# H.156-H.165, I.174; RFC 959 §4.1, App. II; RFC 3659 §3, §4, §7.2) and
# confinement to the user's root (ARCHITECTURE.md §5).
user bob pw
file f hello
mtime f 1700000000
file text a\nb\n\nc
file d/inner x
file a\x20b 1
file \x20lead 22
file trail\x20 333
mkdir emptydir
mkdir full/sub
# SECURITY: links that point out of the home (absolute, or up past it).
symlink out /etc/passwd
symlink up ../../../../../../etc/passwd
symlink tmpdir /tmp
symlink updir ../../../../..
symlink inlink f
greet
S: 220 Ferry FTP server ready.

# Decision 12 / B.41: before login every file command gets 530.
C: CWD d
S: 530 Please login with USER and PASS.
C: PWD
S: 530 Please login with USER and PASS.
C: MKD x
S: 530 Please login with USER and PASS.
C: SIZE f
S: 530 Please login with USER and PASS.
C: MDTM f
S: 530 Please login with USER and PASS.
C: DELE f
S: 530 Please login with USER and PASS.
F! x
F: f hello

C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.

# H.160: PWD -> 257 "path"; H.159: CWD / CDUP and the X forms.
C: PWD
S: 257 "/" is the current directory.
C: XPWD
S: 257 "/" is the current directory.
C: CWD d
S: 250 Directory successfully changed.
C: PWD
S: 257 "/d" is the current directory.
C: CDUP
S: 250 Directory successfully changed.
C: PWD
S: 257 "/" is the current directory.
C: XCWD full/sub
S: 250 Directory successfully changed.
C: XPWD
S: 257 "/full/sub" is the current directory.
C: XCUP
S: 250 Directory successfully changed.
C: PWD
S: 257 "/full" is the current directory.
C: CWD /
S: 250 Directory successfully changed.
C: CDUP
S: 250 Directory successfully changed.
C: PWD
S: 257 "/" is the current directory.
C: CWD nosuch
S: 550 No such file or directory.
C: CWD f
S: 550 Not a directory.
C: CWD
S: 501 CWD needs an argument.
C: PWD
S: 257 "/" is the current directory.

# H.157: MKD -> 257 with the absolute path; again -> 550; quotes doubled.
C: MKD new
S: 257 "/new" created.
D: new
C: MKD new
S: 550 File exists.
C: MKD f
S: 550 File exists.
C: CWD new
S: 250 Directory successfully changed.
C: XMKD sub
S: 257 "/new/sub" created.
D: new/sub
C: MKD ../top
S: 257 "/top" created.
D: top
C: CWD /
S: 250 Directory successfully changed.
C: MKD a"b
S: 257 "/a""b" created.
D: a"b
C: CWD a"b
S: 250 Directory successfully changed.
C: PWD
S: 257 "/a""b" is the current directory.
C: MKD "q"
S: 257 "/a""b/""q""" created.
D: a"b/"q"
C: CWD /
S: 250 Directory successfully changed.
C: MKD nodir/x
S: 550 No such file or directory.
C: MKD /
S: 550 File exists.
# A component longer than NAME_MAX -> 553.
C: MKD aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
S: 553 File name not allowed.

# H.158: RMD of an empty directory -> 250; not empty -> 550; a file -> 550.
C: RMD emptydir
S: 250 Directory removed.
F! emptydir
C: RMD full
S: 550 Directory not empty.
D: full/sub
C: XRMD full/sub
S: 250 Directory removed.
F! full/sub
C: RMD f
S: 550 Not a directory.
C: RMD nosuch
S: 550 No such file or directory.
C: RMD /
S: 550 Cannot do that to the root directory.
F: f hello

# H.156: DELE f -> 250; missing -> 550; a directory -> 550.
C: MKD del
S: 257 "/del" created.
C: RMD del
S: 250 Directory removed.
C: DELE d/inner
S: 250 File deleted.
F! d/inner
C: DELE d/inner
S: 550 No such file or directory.
C: DELE d
S: 550 Is a directory.
D: d
# DELE of a symlink removes the link, not its target.
C: DELE inlink
S: 250 File deleted.
F! inlink
F: f hello

# H.163: SIZE in TYPE I is the byte count; in TYPE A it counts a CR per LF
# (Decision 6). H.164: SIZE of a directory -> 550.
C: TYPE I
S: 200 Switching to Binary mode.
C: SIZE f
S: 213 5
C: SIZE text
S: 213 6
C: TYPE A
S: 200 Switching to ASCII mode.
C: SIZE text
E: ASCII_SIZE
S: 213 9
C: SIZE f
E: ASCII_SIZE
S: 213 5
C: SIZE d
S: 550 Not a plain file.
C: SIZE nosuch
S: 550 No such file or directory.
C: SIZE /
S: 550 Not a plain file.

# H.162: MDTM -> 213 YYYYMMDDHHMMSS (UTC); a directory or a missing file -> 550.
C: MDTM f
S: 213 20231114221320
C: MDTM text
S~ 213 [0-9]{14}
C: MDTM d
S: 550 Could not get file modification time.
C: MDTM nosuch
S: 550 Could not get file modification time.

# I.174: MLST on the control connection: 250-, one fact line starting with a
# space, 250 End. Without an argument: the current directory (cdir).
C: MLST f
S: 250-Listing /f
S~  type=file;size=5;modify=20231114221320;perm=[a-z]+;unique=[0-9A-Za-z]+;UNIX\.mode=0644; /f
S: 250 End
C: MLST d
S: 250-Listing /d
S~  type=dir;modify=[0-9]{14};perm=[a-z]+;unique=[0-9A-Za-z]+;UNIX\.mode=0755; /d
S: 250 End
C: MLST
S: 250-Listing /
S~  type=cdir;modify=[0-9]{14};perm=[a-z]+;unique=[0-9A-Za-z]+;UNIX\.mode=0[0-7]{3}; /
S: 250 End
C: MLST nosuch
S: 550 No such file or directory.

# H.165: names with spaces are taken exactly as sent after the single SP.
C: TYPE I
S: 200 Switching to Binary mode.
C: SIZE a b
S: 213 1
C: SIZE  lead
S: 213 2
C: SIZE trail 
S: 213 3
C: DELE  lead
S: 250 File deleted.
F! \x20lead
F: trail\x20 333
C: MKD  sp ace 
S: 257 "/ sp ace " created.
D: \x20sp\x20ace\x20
C: RNFR trail 
S: 350 Ready for RNTO.
C: RNTO  sp ace /t r 
S: 250 Rename successful.
F: \x20sp\x20ace\x20/t\x20r\x20 333

# H.161 / SECURITY: the root cannot be left.
C: CWD ../../..
S: 250 Directory successfully changed.
C: PWD
S: 257 "/" is the current directory.
C: CWD /../../..
S: 250 Directory successfully changed.
C: PWD
S: 257 "/" is the current directory.
C: CWD d/../../../..
S: 250 Directory successfully changed.
C: PWD
S: 257 "/" is the current directory.
C: SIZE ../../etc/passwd
S: 550 No such file or directory.
C: MDTM ../../../../etc/passwd
S: 550 Could not get file modification time.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR ../../etc/passwd
S: 550 No such file or directory.
C: RETR /../../../../etc/passwd
S: 550 No such file or directory.
E: NONE
# Symlinks are resolved inside the root: one naming /etc/passwd, or climbing
# out with "..", finds nothing there.
C: RETR out
S: 550 No such file or directory.
C: RETR up
S: 550 No such file or directory.
C: SIZE out
S: 550 No such file or directory.
C: MDTM up
S: 550 Could not get file modification time.
C: MLST out
S: 550 No such file or directory.
C: CWD tmpdir
S: 550 No such file or directory.
C: LIST tmpdir
S: 550 No such file or directory.
E: NONE
# A link climbing out of the root ends at the root itself.
C: CWD updir
S: 250 Directory successfully changed.
C: RETR etc/passwd
S: 550 No such file or directory.
C: SIZE f
S: 213 5
C: CWD /
S: 250 Directory successfully changed.
# Writes through such links stay inside too: nothing is created outside,
# a file is made under the root instead (or refused).
C: MKD tmpdir/ferry-replay-escape
S: 550 No such file or directory.
C: DELE out
S: 250 File deleted.
F! out

C: QUIT
S: 221 Goodbye.
E: CLOSE
