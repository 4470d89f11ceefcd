# compat.t: what real clients send that a strict reading refused (issue 13):
# MFF as ncftp sends it (item 13), SITE CHMOD / SITE HELP / SITE UMASK
# (item 12, Decision 17) and NLST/LIST patterns (item 11, Decision 14).
user bob pw
file f hello
mtime f 1700000000
file a\x20b xy
file g1.txt 1
file g2.txt 22
file h.txt 333
file .g3.txt x
file .ferry-upload.0123456789abcdef partial
file sub/s1.txt s
file sub/s2.c c
file lit/a*b L
file lit/axb X
mkdir emptydir
# SECURITY: links that point out of the home.
symlink outetc /etc
symlink up ../../../../../../etc
greet
S: 220 Ferry FTP server ready.
# SITE needs a login like any file command (Decision 12).
C: SITE HELP
S: 530 Please login with USER and PASS.
C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.
C: OPTS MLST type;UNIX.mode;
S: 200 MLST OPTS type;UNIX.mode;

# MFF (draft-somers-ftp-mfxx §5): ncftp 3.2.6 sends "MFF Modify=...;Create=..."
# with no trailing ';'. A fact the server cannot set is ignored when a
# settable one comes with it; the 213 echoes only what was set.
C: MFF Modify=20200102030405;Create=20200102030405 f
S: 213 modify=20200102030405; f
C: MDTM f
S: 213 20200102030405
C: MFF modify=20210102030405; f
S: 213 modify=20210102030405; f
C: MFF UNIX.mode=600 f
S: 213 UNIX.mode=0600; f
C: MLST f
S: 250-Listing /f
S:  type=file;UNIX.mode=0600; /f
S: 250 End
C: MFF create=20200102030405;UNIX.mode=0640;lang=en; f
S: 213 UNIX.mode=0640; f
# Nothing settable at all: 504 (checklist J.185); syntax errors: 501.
C: MFF frogs=1; f
S: 504 Only the modify and UNIX.mode facts can be set.
C: MFF Create=20200102030405 f
S: 504 Only the modify and UNIX.mode facts can be set.
C: MFF modify=2020; f
S: 501 MFF modify needs YYYYMMDDHHMMSS.
C: MFF UNIX.mode=9; f
S: 501 MFF UNIX.mode needs octal digits.
C: MFF modify f
S: 501 MFF facts are fact=value;.
C: MFF modify=20200102030405;
S: 501 MFF needs fact=value;... and a path.
C: MFF modify=20200102030405; nosuch
S: 550 No such file or directory.
C: MDTM f
S: 213 20210102030405

# SITE (Decision 17): subcommands from their own table, which SITE HELP and
# HELP SITE list (RFC 959 §4.1.3, checklist J.188, J.190, J.192).
C: SITE HELP
S: 214-The following SITE commands are recognized.
S:  CHMOD HELP
S: 214 Help OK.
C: HELP SITE
S: 214-The following SITE commands are recognized.
S:  CHMOD HELP
S: 214 Help OK.
C: SITE HELP chmod
S: 214 Syntax: SITE CHMOD <sp> octal-mode <sp> pathname
C: HELP SITE CHMOD
S: 214 Syntax: SITE CHMOD <sp> octal-mode <sp> pathname
C: SITE HELP EXEC
S: 501 Unknown SITE command EXEC.
C: site chmod 600 f
S: 200 SITE CHMOD command successful.
C: MLST f
S: 250-Listing /f
S:  type=file;UNIX.mode=0600; /f
S: 250 End
C: SITE CHMOD 0640 a b
S: 200 SITE CHMOD command successful.
C: MLST a b
S: 250-Listing /a b
S:  type=file;UNIX.mode=0640; /a b
S: 250 End
# Only permission bits: set-ID and sticky bits are left out, and said so.
C: SITE CHMOD 4755 f
S: 200 SITE CHMOD command successful (set-ID and sticky bits left out).
C: MLST f
S: 250-Listing /f
S:  type=file;UNIX.mode=0755; /f
S: 250 End
C: SITE CHMOD 640 nosuch
S: 550 No such file or directory.
C: SITE CHMOD 640 /
S: 550 Permission denied.
C: SITE CHMOD 9 f
S: 501 SITE CHMOD needs an octal mode (at most 7777) and a path.
C: SITE CHMOD 17777 f
S: 501 SITE CHMOD needs an octal mode (at most 7777) and a path.
C: SITE CHMOD u+x f
S: 501 SITE CHMOD needs an octal mode (at most 7777) and a path.
C: SITE CHMOD 640
S: 501 SITE CHMOD needs an octal mode (at most 7777) and a path.
C: SITE CHMOD
S: 501 SITE CHMOD needs an argument.
C: SITE HELP
S: 214-The following SITE commands are recognized.
S:  CHMOD HELP
S: 214 Help OK.
C: SITE
S: 501 SITE needs an argument.
# RFC 2577 §9: no SITE EXEC, nor anything else not in the table.
C: SITE EXEC ls
S: 500 Unknown SITE command.
C: SITE UTIME 20200102030405 f
S: 500 Unknown SITE command.
C: MLST f
S: 250-Listing /f
S:  type=file;UNIX.mode=0755; /f
S: 250 End

# Decision 14: NLST and LIST take a pattern in the last path component
# (tnftp's and ftp's mget send "NLST g*.txt"). NLST names keep the directory
# part as the client wrote it, so each is a RETR argument (RFC 1123
# §4.1.2.7); LIST lines show the names. Lines are compared in any order.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: NLST g*.txt
S: 150 Here comes the directory listing.
E: XFER SEND_LIST content=g1.txt\r\ng2.txt\r\n
X: XFER_DONE OK 16
S: 226 Transfer complete.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: NLST sub/*.txt
S: 150 Here comes the directory listing.
E: XFER SEND_LIST content=sub/s1.txt\r\n
X: XFER_DONE OK 12
S: 226 Transfer complete.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: NLST /sub/s?.[ct]*
S: 150 Here comes the directory listing.
E: XFER SEND_LIST content=/sub/s1.txt\r\n/sub/s2.c\r\n
X: XFER_DONE OK 23
S: 226 Transfer complete.
# A leading dot only by a leading dot; upload temporaries never show.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: NLST .*
S: 150 Here comes the directory listing.
E: XFER SEND_LIST content=.g3.txt\r\n
X: XFER_DONE OK 9
S: 226 Transfer complete.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: NLST *
S: 150 Here comes the directory listing.
E: XFER SEND_LIST content=a\x20b\r\nf\r\ng1.txt\r\ng2.txt\r\nh.txt\r\nsub\r\nlit\r\nemptydir\r\noutetc\r\nup\r\n
X: XFER_DONE OK 61
S: 226 Transfer complete.
# LIST options are taken as before; a set, a negated set.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: LIST -la g[12].txt
S: 150 Here comes the directory listing.
E: XFER SEND_LIST lines=2
X: XFER_DONE OK 100
S: 226 Transfer complete.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: LIST g[!1].txt
S: 150 Here comes the directory listing.
E: XFER SEND_LIST lines=1
X: XFER_DONE OK 50
S: 226 Transfer complete.
# A name that exists as written is that name, metacharacters or not.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: NLST lit/a*b
S: 150 Here comes the directory listing.
E: XFER SEND_LIST content=lit/a*b\r\n
X: XFER_DONE OK 9
S: 226 Transfer complete.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: NLST lit/a?b
S: 150 Here comes the directory listing.
E: XFER SEND_LIST content=lit/a*b\r\nlit/axb\r\n
X: XFER_DONE OK 18
S: 226 Transfer complete.
# No match: 450 (RFC 959 §5.4 lists 450, not 550, for NLST/LIST; curl
# reads a 450 as "no matching files"), before any data connection is used.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: NLST nomatch*
S: 450 No files match that pattern.
C: LIST emptydir/*
S: 450 No files match that pattern.
# An escaped metacharacter makes no pattern: a plain (missing) name.
C: NLST ./\*.txt
S: 550 No such file or directory.
# The directory part is literal and resolved like any path.
C: NLST */s1.txt
S: 550 No such file or directory.
C: NLST nosuch/*.txt
S: 550 No such file or directory.
C: NLST f/*
S: 550 Not a directory.
# SECURITY: the directory part cannot leave the home, by ".." or by links
# (openat2 resolves them inside it), so /etc's entries are never matched.
C: NLST /../../../../etc/pass*
S: 550 No such file or directory.
C: NLST outetc/pass*
S: 550 No such file or directory.
C: LIST up/*
S: 550 No such file or directory.
C: NLST up/../../pass*
S: 450 No files match that pattern.
# Only the last component and only NLST/LIST: MLSD takes no pattern.
C: MLSD g*
S: 550 No such file or directory.
C: NLST ../../../g?.txt
S: 150 Here comes the directory listing.
E: XFER SEND_LIST content=../../../g1.txt\r\n../../../g2.txt\r\n
X: XFER_DONE OK 34
S: 226 Transfer complete.
C: NLST g1.txt
S: 425 Use PORT, PASV, EPRT or EPSV first.
C: NLST g*.txt
S: 425 Use PORT, PASV, EPRT or EPSV first.
