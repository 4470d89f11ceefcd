# hash.t: HASH, OPTS HASH and RANG (draft-bryan-ftpext-hash-02 §3,
# draft-bryan-ftp-range-08 §3-§5; PROTOCOL.md Decision 15, checklist J.186,
# J.187, J.194) and the de-facto XCRC/XMD5/XSHA1/XSHA256/XSHA512 as ProFTPD's
# mod_digest answers them (250 and the upper-case hex; "path start end" with
# the end exclusive). Digests were computed with Python's hashlib/zlib.
user bob pw
file f 0123456789
file empty
file a\x201\x202 0123
file b\x205 0123
mkdir d
symlink out /etc/passwd
greet
S: 220 Ferry FTP server ready.

# Before login: 530 like every file command (Decision 12).
C: HASH f
S: 530 Please login with USER and PASS.
C: XCRC f
S: 530 Please login with USER and PASS.

C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.

# §3: the default is SHA-256 (the draft: nothing weaker than SHA-1); the
# range is inclusive; lower-case hex; the pathname as given.
C: HASH f
E: HASH
S: 213 SHA-256 0-9 84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882 f
C: hash /f
E: HASH
S: 213 SHA-256 0-9 84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882 /f
# The digest is of the TYPE I bytes whatever TYPE says (§3).
C: TYPE A
S: 200 Switching to ASCII mode.
C: HASH f
E: HASH
S: 213 SHA-256 0-9 84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882 f
# An empty file: 0-0 (the grammar has no empty range), the empty digest.
C: HASH empty
E: HASH
S: 213 SHA-256 0-0 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 empty

# §3.2: OPTS HASH queries and selects (case-insensitive), per session.
C: OPTS HASH
S: 200 SHA-256
C: OPTS HASH sha-512
S: 200 SHA-512
C: HASH f
E: HASH
S: 213 SHA-512 0-9 bb96c2fc40d2d54617d6f276febe571f623a8dadf0b734855299b0e107fda32cf6b69f2da32b36445d73690b93cbd0f7bfc20e0f7f28553d2a4428f23b716e90 f
C: OPTS HASH SHA-1
S: 200 SHA-1
C: HASH f
E: HASH
S: 213 SHA-1 0-9 87acec17cd9dcd20a716cc2cf67417b71c8a7016 f
C: OPTS HASH CRC-37
S: 501 Unknown algorithm, current selection not changed.
C: OPTS HASH
S: 200 SHA-1
# §3.1: FEAT stars the selection.
C: FEAT
S: 211-Features:
S:  AVBL
S:  CLNT
S:  TVFS
S:  EPRT
S:  EPSV
S:  HASH SHA-256;SHA-512;SHA-1*;MD5;CRC32
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
C: OPTS HASH MD5
S: 200 MD5
C: HASH f
E: HASH
S: 213 MD5 0-9 781e5e245d69b566979b86e28d23f2c7 f
C: OPTS HASH CRC32
S: 200 CRC32
C: HASH f
E: HASH
S: 213 CRC32 0-9 a684c7c6 f

# RANG (range draft §3): 350, inclusive, applies to the next HASH and is
# then gone; survives what a REST marker survives (TYPE, PASV...).
C: OPTS HASH SHA-256
S: 200 SHA-256
C: RANG 2 5
S: 350 Restarting at 2. End byte range at 5.
C: TYPE I
S: 200 Switching to Binary mode.
C: HASH f
E: HASH
S: 213 SHA-256 2-5 38083c7ee9121e17401883566a148aa5c2e2d55dc53bc4a94a026517dbff3c6b f
C: HASH f
E: HASH
S: 213 SHA-256 0-9 84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882 f
# An end past the end of the file is clamped to it (as RETR, §4.3).
C: RANG 5 1000
S: 350 Restarting at 5. End byte range at 1000.
C: HASH f
E: HASH
S: 213 SHA-256 5-9 f76043a74ec33b6aefbb289050faf7aa8d482095477397e3e63345125d49f527 f
# A start past the end: 501 on the HASH (errors are the next command's).
C: RANG 10 20
S: 350 Restarting at 10. End byte range at 20.
C: HASH f
S: 501 Range start 10 is beyond the end of the file (10 bytes).
C: RANG 0 0
S: 350 Restarting at 0. End byte range at 0.
C: HASH empty
S: 501 Range start 0 is beyond the end of the file (0 bytes).
# "RANG 1 0" resets (350); start > end is 501 and resets too.
C: RANG 2 5
S: 350 Restarting at 2. End byte range at 5.
C: RANG 1 0
S: 350 Byte range reset: whole files from now on.
C: HASH f
E: HASH
S: 213 SHA-256 0-9 84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882 f
C: RANG 2 5
S: 350 Restarting at 2. End byte range at 5.
C: RANG 6 5
S: 501 The start point is after the end point; byte range reset.
C: HASH f
E: HASH
S: 213 SHA-256 0-9 84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882 f
C: RANG 5
S: 501 RANG needs two decimal numbers: start and end (inclusive).
C: RANG -1 5
S: 501 RANG needs two decimal numbers: start and end (inclusive).
C: RANG
S: 501 RANG needs an argument.
# Any other command drops a pending RANG, as it drops a REST marker; REST
# and RANG replace each other.
C: RANG 2 5
S: 350 Restarting at 2. End byte range at 5.
C: PWD
S: 257 "/" is the current directory.
C: HASH f
E: HASH
S: 213 SHA-256 0-9 84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882 f
C: RANG 2 5
S: 350 Restarting at 2. End byte range at 5.
C: REST 0
S: 350 Restarting at 0. Send RETR, STOR or APPE.
C: HASH f
E: HASH
S: 213 SHA-256 0-9 84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882 f

# §3.5 errors: 550 no such file, 553 a directory, 450 busy ([limits]
# hash_jobs reached); confinement as RETR (links out of the root, ..).
C: HASH nosuch
S: 550 No such file or directory.
C: HASH d
S: 553 Is a directory: the hash of a directory is not defined.
C: HASH out
S: 550 No such file or directory.
C: HASH ../../../../etc/passwd
S: 550 No such file or directory.
C: HASH f
E: HASH BUSY
S: 450 Too many checksums running for this user; try again later.
C: HASH
S: 501 HASH needs an argument.
C: OPTS HASH
S: 200 SHA-256

# The X forms: 250 and upper-case hex; "path start end", end exclusive.
C: XCRC f
E: HASH
S: 250 A684C7C6
C: XMD5 f
E: HASH
S: 250 781E5E245D69B566979B86E28D23F2C7
C: XSHA1 f
E: HASH
S: 250 87ACEC17CD9DCD20A716CC2CF67417B71C8A7016
C: XSHA256 f
E: HASH
S: 250 84D89877F0D4041EFB6BF91A16F0248F2FD573E6AF05C19F96BEDB9F882F7882
C: xsha512 f
E: HASH
S: 250 BB96C2FC40D2D54617D6F276FEBE571F623A8DADF0B734855299B0E107FDA32CF6B69F2DA32B36445D73690B93CBD0F7BFC20E0F7F28553D2A4428F23B716E90
C: XCRC f 2 6
E: HASH
S: 250 B0D2832B
C: XCRC f 0 4
E: HASH
S: 250 A6669D7D
# A name that ends in two numbers is that file when it exists.
C: XCRC a 1 2
E: HASH
S: 250 A6669D7D
C: XCRC b 5
E: HASH
S: 250 A6669D7D
C: XCRC f 6 2
S: 501 Bad range: the end must be after the start and at most the size (10).
C: XCRC f 0 11
S: 501 Bad range: the end must be after the start and at most the size (10).
C: XCRC f 5
S: 501 Give a path, or a path with a start and an end offset.
C: XCRC nosuch
S: 550 No such file or directory.
C: XCRC d
S: 550 Not a regular file.
C: XMD5 out
S: 550 No such file or directory.
C: XSHA1 f
E: HASH BUSY
S: 450 Too many checksums running for this user; try again later.

# RANG with RETR (range draft §4.3): bytes start..end inclusive; an end
# past the file is clamped, a start past it sends nothing; TYPE I only (551);
# STOR with RANG is not offered (504, nothing written).
C: TYPE I
S: 200 Switching to Binary mode.
C: RANG 2 5
S: 350 Restarting at 2. End byte range at 5.
C: EPSV
E: DATA_SETUP PASSIVE
S: 229 Entering Extended Passive Mode (|||50000|)
C: RETR f
S: 150 Opening BINARY mode data connection for f (4 bytes).
E: XFER SEND_FILE offset=2 size=6 ascii=0 content=23456789
X: XFER_DONE OK 4
S: 226 Transfer complete.
C: RANG 8 100
S: 350 Restarting at 8. End byte range at 100.
C: EPSV
E: DATA_SETUP PASSIVE
S: 229 Entering Extended Passive Mode (|||50000|)
C: RETR f
S: 150 Opening BINARY mode data connection for f (2 bytes).
E: XFER SEND_FILE offset=8 size=10 ascii=0
X: XFER_DONE OK 2
S: 226 Transfer complete.
C: RANG 20 30
S: 350 Restarting at 20. End byte range at 30.
C: EPSV
E: DATA_SETUP PASSIVE
S: 229 Entering Extended Passive Mode (|||50000|)
C: RETR f
S: 150 Opening BINARY mode data connection for f (0 bytes).
E: XFER SEND_FILE offset=10 size=10 ascii=0
X: XFER_DONE OK 0
S: 226 Transfer complete.
# The range was used: the next RETR is the whole file.
C: EPSV
E: DATA_SETUP PASSIVE
S: 229 Entering Extended Passive Mode (|||50000|)
C: RETR f
S: 150 Opening BINARY mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=0
X: XFER_DONE OK 10
S: 226 Transfer complete.
C: RANG 0 3
S: 350 Restarting at 0. End byte range at 3.
C: STOR f
S: 504 RANG applies to RETR and HASH only; use REST to resume an upload.
F: f 0123456789
C: TYPE A
S: 200 Switching to ASCII mode.
C: RANG 0 3
S: 350 Restarting at 0. End byte range at 3.
C: RETR f
S: 551 RANG needs TYPE I.

# HELP knows them; REIN puts the default back (§3.2).
C: HELP XSHA256
S: 214 Syntax: XSHA256 <sp> pathname [<sp> start <sp> end]
C: HELP RANG
S: 214 Syntax: RANG <sp> start <sp> end
C: OPTS HASH MD5
S: 200 MD5
C: REIN
S: 220 Service ready for new user.
C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.
C: OPTS HASH
S: 200 SHA-256
C: QUIT
S: 221 Goodbye.
E: CLOSE
