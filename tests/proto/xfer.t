# xfer.t: data connection set-up and transfers (PROTOCOL.md §2.5; checklist
# F.111-F.130). The replayer plays the session's data channel: DATA_SETUP is
# completed with port 50000 (195*256+80), XFER is completed by X: XFER_DONE.
# The control connection is 192.0.2.10:21 <- 192.0.2.1:40000.
user bob pw
file f hello\nworld\n
file bin \x00\x01\xff\r\n\x7f
file empty
file old old content
mkdir d
mkdir up
greet
S: 220 Ferry FTP server ready.

# Decision 12: before login transfers and set-up are refused.
C: PASV
S: 530 Please login with USER and PASS.
C: PORT 192,0,2,1,156,65
S: 530 Please login with USER and PASS.
C: RETR f
S: 530 Please login with USER and PASS.
C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.
C: TYPE I
S: 200 Switching to Binary mode.

# F.121: a transfer without PORT/PASV -> 425, no transfer.
C: RETR f
S: 425 Use PORT, PASV, EPRT or EPSV first.
E: NONE
C: STOR x
S: 425 Use PORT, PASV, EPRT or EPSV first.
E: NONE
F! x
C: LIST
S: 425 Use PORT, PASV, EPRT or EPSV first.
E: NONE

# F.111: PASV -> 227 with the control connection's local address.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: PASV now
S: 501 PASV takes no argument.
# A listener that cannot be opened -> 425, and nothing is ready.
C: PASV
E: DATA_SETUP PASSIVE FAIL
S: 425 Cannot open a passive data connection.
C: RETR f
S: 425 Use PORT, PASV, EPRT or EPSV first.

# F.113: EPSV -> 229; EPSV 1 on IPv4 -> 229; EPSV 2 -> 522 naming (1).
C: EPSV
E: DATA_SETUP PASSIVE
S: 229 Entering Extended Passive Mode (|||50000|)
C: EPSV 1
E: DATA_SETUP PASSIVE
S: 229 Entering Extended Passive Mode (|||50000|)
C: EPSV 2
S: 522 Network protocol not supported, use (1)
C: EPSV 3
S: 501 EPSV takes 1, 2 or ALL.
C: EPSV
E: DATA_SETUP PASSIVE FAIL
S: 425 Cannot open a passive data connection.

# F.115-F.117: PORT to the client's own address and a port >= 1024 -> 200;
# another host -> 500; a port below 1024 -> 504; syntax errors -> 501.
C: PORT 192,0,2,1,156,65
E: DATA_SETUP ACTIVE 192.0.2.1:40001
S: 200 PORT command successful.
C: PORT 192,0,2,99,156,65
S: 500 Illegal PORT command: address is not the client's.
E: NONE
C: PORT 10,0,0,1,156,65
S: 500 Illegal PORT command: address is not the client's.
C: PORT 192,0,2,1,0,21
S: 504 PORT to a port below 1024 is not allowed.
C: PORT 192,0,2,1,3,255
S: 504 PORT to a port below 1024 is not allowed.
C: PORT 192,0,2,1,4,0
E: DATA_SETUP ACTIVE 192.0.2.1:1024
S: 200 PORT command successful.
C: PORT 192,0,2,1,156
S: 501 Syntax error in PORT arguments.
C: PORT 192,0,2,1,156,65,1
S: 501 Syntax error in PORT arguments.
C: PORT 192,0,2,256,156,65
S: 501 Syntax error in PORT arguments.
C: PORT a,b,c,d,e,f
S: 501 Syntax error in PORT arguments.
C: PORT
S: 501 PORT needs an argument.

# F.118: EPRT |1|addr|port| -> 200; an unknown family -> 522 naming (1);
# IPv6 on an IPv4 connection -> 522; garbage -> 501; foreign host -> 500;
# port below 1024 -> 504; any delimiter in 33-126 works.
C: EPRT |1|192.0.2.1|40001|
E: DATA_SETUP ACTIVE 192.0.2.1:40001
S: 200 EPRT command successful.
C: EPRT !1!192.0.2.1!40003!
E: DATA_SETUP ACTIVE 192.0.2.1:40003
S: 200 EPRT command successful.
C: EPRT |9|x|1|
S: 522 Network protocol not supported, use (1)
C: EPRT |2|2001:db8::1|40001|
S: 522 Network protocol not supported, use (1)
C: EPRT garbage
S: 501 Syntax error in EPRT arguments.
C: EPRT |1|192.0.2.1|40001
S: 501 Syntax error in EPRT arguments.
C: EPRT |1|192.0.2.1|0|
S: 501 Syntax error in EPRT arguments.
C: EPRT |1|192.0.2.1|65536|
S: 501 Syntax error in EPRT arguments.
C: EPRT |1|192.0.2.1|40001|x|
S: 501 Syntax error in EPRT arguments.
C: EPRT |1|not.an.ip|40001|
S: 501 Syntax error in EPRT address.
C: EPRT |1|192.0.2.99|40001|
S: 500 Illegal EPRT command: address is not the client's.
C: EPRT |1|192.0.2.1|21|
S: 504 EPRT to a port below 1024 is not allowed.

# F.122: RETR -> 150 naming the size, the file on the data connection, 226.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (12 bytes).
E: XFER SEND_FILE offset=0 size=12 ascii=0 abort=0 content=hello\nworld\n
X: XFER_DONE OK 12
S: 226 Transfer complete.
# RFC 1123 §4.1.2.6: the data connection is fresh per transfer.
C: RETR f
S: 425 Use PORT, PASV, EPRT or EPSV first.
E: NONE
# Active mode works the same way.
C: PORT 192,0,2,1,156,65
E: DATA_SETUP ACTIVE 192.0.2.1:40001
S: 200 PORT command successful.
C: RETR bin
S: 150 Opening BINARY mode data connection for bin (6 bytes).
E: XFER SEND_FILE offset=0 size=6 ascii=0 content=\x00\x01\xff\r\n\x7f
X: XFER_DONE OK 6
S: 226 Transfer complete.
# F.130: an empty file -> 150, zero bytes, 226.
C: EPSV
E: DATA_SETUP PASSIVE
S: 229 Entering Extended Passive Mode (|||50000|)
C: RETR empty
S: 150 Opening BINARY mode data connection for empty (0 bytes).
E: XFER SEND_FILE offset=0 size=0 ascii=0 content=
X: XFER_DONE OK 0
S: 226 Transfer complete.
# F.128: TYPE A asks the data channel to convert (LF -> CRLF).
C: TYPE A
S: 200 Switching to ASCII mode.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
E: ASCII_SIZE
S: 150 Opening ASCII mode data connection for f (14 bytes).
E: XFER SEND_FILE offset=0 size=12 ascii=1 content=hello\nworld\n
X: XFER_DONE OK 14
S: 226 Transfer complete.
C: TYPE I
S: 200 Switching to Binary mode.

# F.123/F.124: a missing file or a directory -> 550 and no 150; the data
# connection set up for it is still there for the next transfer.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR nosuch
S: 550 No such file or directory.
E: NONE
C: RETR d
S: 550 Is a directory.
E: NONE
C: RETR
S: 501 RETR needs an argument.
C: RETR /d/../f
S: 150 Opening BINARY mode data connection for f (12 bytes).
E: XFER SEND_FILE offset=0 size=12 ascii=0
X: XFER_DONE OK 12
S: 226 Transfer complete.

# F.125: STOR a new file -> 150, 226, the file is on disk; RETR gives it back.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: STOR up/new
S: 150 Ok to send data.
E: XFER RECV_FILE ascii=0 abort=0
X: XFER_DONE OK 7 data=\x00abc\xff\r\n
S: 226 Transfer complete.
F: up/new \x00abc\xff\r\n
F! up/.ferry-upload.*
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR up/new
S: 150 Opening BINARY mode data connection for new (7 bytes).
E: XFER SEND_FILE offset=0 size=7 ascii=0 content=\x00abc\xff\r\n
X: XFER_DONE OK 7
S: 226 Transfer complete.
# STOR over an existing file replaces it.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: STOR old
S: 150 Ok to send data.
E: XFER RECV_FILE ascii=0
X: XFER_DONE OK 3 data=new
S: 226 Transfer complete.
F: old new
# TYPE A uploads ask the data channel to convert (CRLF -> LF).
C: TYPE A
S: 200 Switching to ASCII mode.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: STOR up/text
S: 150 Ok to send data.
E: XFER RECV_FILE ascii=1
X: XFER_DONE OK 6 data=a\nb\n
S: 226 Transfer complete.
F: up/text a\nb\n
C: TYPE I
S: 200 Switching to Binary mode.
# STOR of an empty upload makes an empty file.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: STOR up/zero
S: 150 Ok to send data.
E: XFER RECV_FILE ascii=0
X: XFER_DONE OK 0
S: 226 Transfer complete.
F: up/zero 
# STOR onto a directory, into a missing directory, or to the root -> 550,
# no transfer.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: STOR d
S: 550 Is a directory.
E: NONE
C: STOR nodir/x
S: 550 No such file or directory.
E: NONE
C: STOR /
S: 550 Is a directory.
E: NONE

# An upload that fails leaves the old file as it was and no temporary
# (ARCHITECTURE.md §5: atomic uploads are the default).
C: STOR old
S: 150 Ok to send data.
E: XFER RECV_FILE ascii=0
X: XFER_DONE LOST 4 data=half
S: 426 Connection closed; transfer aborted.
F: old new
F! .ferry-upload.*
# What arrived is kept as the uploader's hidden partial (resumable atomic
# uploads, issue 13): SIZE shows it to the uploader (curl -C -, lftp put -c
# resume from there), no client path names it.
C: SIZE old
S: 213 4
C: SIZE .ferry-upload.x
S: 550 Permission denied.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: STOR up/fresh
S: 150 Ok to send data.
E: XFER RECV_FILE ascii=0
X: XFER_DONE LOCAL_ERROR ENOSPC 4 data=half
S: 552 Insufficient storage space; transfer aborted.
F! up/fresh
F! up/.ferry-upload.*

# F.127: APPE adds to a file; APPE of a new name creates it. Right after
# the interrupted STOR of old, APPE old continues that upload (what curl -C -
# sends after SIZE) and the whole replaces old only now; then APPE appends
# to the file itself again.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: APPE old
S: 150 Ok to send data.
E: XFER RECV_FILE ascii=0
X: XFER_DONE OK 10 data=0123456789
S: 226 Transfer complete.
F: old half0123456789
C: SIZE old
S: 213 14
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: APPE old
S: 150 Ok to send data.
E: XFER RECV_FILE ascii=0
X: XFER_DONE OK 1 data=!
S: 226 Transfer complete.
F: old half0123456789!
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: APPE up/appended
S: 150 Ok to send data.
E: XFER RECV_FILE ascii=0
X: XFER_DONE OK 3 data=abc
S: 226 Transfer complete.
F: up/appended abc

# F.126: STOU -> "150 FILE: <name>" (RFC 1123 §4.1.2.9), then 226; the file
# is in the current directory with the uploaded content.
C: CWD d
S: 250 Directory successfully changed.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: STOU
S~ 150 FILE: ferry\.[0-9a-f]{8}
E: XFER RECV_FILE ascii=0
X: XFER_DONE OK 6 data=unique
S: 226 Transfer complete.
F: d/ferry.* unique
C: CWD /
S: 250 Directory successfully changed.
C: STOU
S: 425 Use PORT, PASV, EPRT or EPSV first.
E: NONE

# Transfer failures (§2.5): no data connection -> 425, connection lost ->
# 426, a local read/write error -> 451, no space -> 552. Each one uses up
# the data connection set-up.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (12 bytes).
E: XFER SEND_FILE offset=0 size=12 ascii=0
X: XFER_DONE NOCONN
S: 425 Cannot open data connection.
C: RETR f
S: 425 Use PORT, PASV, EPRT or EPSV first.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (12 bytes).
E: XFER SEND_FILE offset=0 size=12 ascii=0
X: XFER_DONE LOST 5
S: 426 Connection closed; transfer aborted.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (12 bytes).
E: XFER SEND_FILE offset=0 size=12 ascii=0
X: XFER_DONE LOCAL_ERROR EIO 5
S: 451 Local error: Input/output error; transfer aborted.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: STOR up/q
S: 150 Ok to send data.
E: XFER RECV_FILE ascii=0
X: XFER_DONE LOCAL_ERROR EDQUOT
S: 552 Exceeded storage allocation (quota); transfer aborted.
F! up/q
C: PORT 192,0,2,1,156,65
E: DATA_SETUP ACTIVE 192.0.2.1:40001
S: 200 PORT command successful.
C: STOR up/q
S: 150 Ok to send data.
E: XFER RECV_FILE ascii=0
X: XFER_DONE NOCONN
S: 425 Cannot open data connection.
F! up/q
F! up/.ferry-upload.*

# Listings: LIST/NLST/MLSD stream the directory; LIST of a file is one line;
# NLST lines are bare names (F.129, I.167-I.173).
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: NLST up
S: 150 Here comes the directory listing.
E: XFER SEND_LIST content=new\r\ntext\r\nzero\r\nappended\r\n
X: XFER_DONE OK 25
S: 226 Transfer complete.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: LIST -la up
S: 150 Here comes the directory listing.
E: XFER SEND_LIST lines=4
X: XFER_DONE OK 300
S: 226 Transfer complete.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: NLST f
S: 150 Here comes the directory listing.
E: XFER SEND_LIST content=f\r\n
X: XFER_DONE OK 3
S: 226 Transfer complete.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: LIST f
S: 150 Here comes the directory listing.
E: XFER SEND_LIST lines=1
X: XFER_DONE OK 50
S: 226 Transfer complete.
C: MKD empty-dir
S: 257 "/empty-dir" created.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: NLST empty-dir
S: 150 Here comes the directory listing.
E: XFER SEND_LIST lines=0
X: XFER_DONE OK 0
S: 226 Transfer complete.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: MLSD f
S: 501 MLSD needs a directory; use MLST for a file.
E: NONE
C: MLSD nosuch
S: 550 No such file or directory.
C: LIST nosuch
S: 550 No such file or directory.
C: MLSD up
S: 150 Here comes the directory listing.
E: XFER SEND_LIST lines=4
X: XFER_DONE OK 400
S: 226 Transfer complete.

# F.114: after EPSV ALL only EPSV may set up data connections.
C: EPSV ALL
S: 200 EPSV ALL ok.
C: PASV
S: 503 EPSV ALL in effect: only EPSV is allowed.
C: PORT 192,0,2,1,156,65
S: 503 EPSV ALL in effect: only EPSV is allowed.
C: EPRT |1|192.0.2.1|40001|
S: 503 EPSV ALL in effect: only EPSV is allowed.
E: NONE
C: EPSV
E: DATA_SETUP PASSIVE
S: 229 Entering Extended Passive Mode (|||50000|)
C: RETR f
S: 150 Opening BINARY mode data connection for f (12 bytes).
E: XFER SEND_FILE offset=0 size=12 ascii=0
X: XFER_DONE OK 12
S: 226 Transfer complete.
# REIN ends EPSV ALL (RFC 2428 §3: until the session is reinitialised).
C: REIN
S: 220 Service ready for new user.
C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).

C: QUIT
S: 221 Goodbye.
E: CLOSE
