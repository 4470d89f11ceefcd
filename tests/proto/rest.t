# rest.t: REST -> 350 -> RETR / STOR / APPE (PROTOCOL.md Decision 4, §2.3;
# checklist G.138-G.146). REST <digits> is answered 350 in any TYPE; the
# marker survives the rows with CMD_KEEP_REST (PASV EPSV PORT EPRT TYPE NOOP
# ...), is used by the next RETR/STOR/APPE and reset by it whatever its
# outcome; problems are reported on the transfer command (554, 555).
user bob pw
# f: 300 bytes, "0123456789" x 30.
file f 012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789
file up 012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789
file ap 012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789
mkdir d
greet
S: 220 Ferry FTP server ready.
C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.

# G.140: the marker is digits only.
C: REST abc
S: 501 REST needs a non-negative decimal offset.
C: REST -1
S: 501 REST needs a non-negative decimal offset.
C: REST +5
S: 501 REST needs a non-negative decimal offset.
C: REST 1x
S: 501 REST needs a non-negative decimal offset.
C: REST 9223372036854775808
S: 501 REST needs a non-negative decimal offset.
C: REST
S: 501 REST needs an argument.

# G.139: REST 0 -> 350 in TYPE A (the default after login) and in TYPE I.
C: REST 0
S: 350 Restarting at 0. Send RETR, STOR or APPE.
C: TYPE I
S: 200 Switching to Binary mode.
C: REST 0
S: 350 Restarting at 0. Send RETR, STOR or APPE.

# Decision 4 is strict: any command other than PASV, EPSV, PORT, EPRT, TYPE,
# NOOP (and REST itself) clears the marker. MODE here clears it, so this RETR
# starts at 0.
C: REST 100
S: 350 Restarting at 100. Send RETR, STOR or APPE.
C: MODE S
S: 200 MODE set to S.
C: EPSV
E: DATA_SETUP PASSIVE
S: 229 Entering Extended Passive Mode (|||50000|)
C: RETR f
S: 150 Opening BINARY mode data connection for f (300 bytes).
E: XFER SEND_FILE offset=0 size=300 ascii=0 abort=0
X: XFER_DONE OK 300
S: 226 Transfer complete.

# G.138 / G.141: REST 100 survives PASV, TYPE, NOOP, PORT, EPRT, EPSV and is
# used by RETR.
C: REST 100
S: 350 Restarting at 100. Send RETR, STOR or APPE.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: TYPE I
S: 200 Switching to Binary mode.
C: NOOP
S: 200 NOOP ok.
C: PORT 192,0,2,1,156,65
E: DATA_SETUP ACTIVE 192.0.2.1:40001
S: 200 PORT command successful.
C: EPRT |1|192.0.2.1|40002|
E: DATA_SETUP ACTIVE 192.0.2.1:40002
S: 200 EPRT command successful.
C: EPSV
E: DATA_SETUP PASSIVE
S: 229 Entering Extended Passive Mode (|||50000|)
C: RETR f
S: 150 Opening BINARY mode data connection for f (200 bytes).
E: XFER SEND_FILE offset=100 size=300 ascii=0 abort=0 content=01234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789
X: XFER_DONE OK 200
S: 226 Transfer complete.

# G.142: the marker was used: the next RETR starts at 0.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (300 bytes).
E: XFER SEND_FILE offset=0 size=300 ascii=0 content=012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789
X: XFER_DONE OK 300
S: 226 Transfer complete.

# A later REST replaces an earlier one.
C: REST 100
S: 350 Restarting at 100. Send RETR, STOR or APPE.
C: REST 250
S: 350 Restarting at 250. Send RETR, STOR or APPE.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (50 bytes).
E: XFER SEND_FILE offset=250 size=300 ascii=0 content=01234567890123456789012345678901234567890123456789
X: XFER_DONE OK 50
S: 226 Transfer complete.

# A transfer that fails still uses up the marker (§2.3: "reset it to 0 after
# that command whatever its outcome").
C: REST 100
S: 350 Restarting at 100. Send RETR, STOR or APPE.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (200 bytes).
E: XFER SEND_FILE offset=100 size=300 ascii=0
X: XFER_DONE LOST 20
S: 426 Connection closed; transfer aborted.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (300 bytes).
E: XFER SEND_FILE offset=0 size=300 ascii=0
X: XFER_DONE OK 300
S: 226 Transfer complete.
# ... also when RETR fails before any data connection: no such file, or no
# PASV/PORT (425).
C: REST 100
S: 350 Restarting at 100. Send RETR, STOR or APPE.
C: RETR nosuch
S: 550 No such file or directory.
C: REST 100
S: 350 Restarting at 100. Send RETR, STOR or APPE.
C: RETR f
S: 425 Use PORT, PASV, EPRT or EPSV first.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (300 bytes).
E: XFER SEND_FILE offset=0 size=300 ascii=0
X: XFER_DONE OK 300
S: 226 Transfer complete.

# REST at exactly the end of the file: 150 with 0 bytes (nothing to send).
C: REST 300
S: 350 Restarting at 300. Send RETR, STOR or APPE.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (0 bytes).
E: XFER SEND_FILE offset=300 size=300 ascii=0 content=
X: XFER_DONE OK 0
S: 226 Transfer complete.

# G.143: past the end of the file -> 554 on RETR, no transfer, marker gone.
C: REST 5000
S: 350 Restarting at 5000. Send RETR, STOR or APPE.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 554 Restart offset 5000 is beyond the end of the file.
E: NONE
C: REST 9223372036854775807
S: 350 Restarting at 9223372036854775807. Send RETR, STOR or APPE.
C: RETR f
S: 554 Restart offset 9223372036854775807 is beyond the end of the file.
E: NONE
# The PASV above is still good for the next transfer, which starts at 0.
C: RETR f
S: 150 Opening BINARY mode data connection for f (300 bytes).
E: XFER SEND_FILE offset=0 size=300 ascii=0
X: XFER_DONE OK 300
S: 226 Transfer complete.

# G.145: TYPE A with a non-zero marker -> 555 on RETR, never raw bytes from
# the on-disk offset; REST 0 in TYPE A transfers normally.
C: TYPE A
S: 200 Switching to ASCII mode.
C: REST 100
S: 350 Restarting at 100. Send RETR, STOR or APPE.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 555 Restart offsets need TYPE I.
E: NONE
C: REST 0
S: 350 Restarting at 0. Send RETR, STOR or APPE.
C: RETR f
E: ASCII_SIZE
S: 150 Opening ASCII mode data connection for f (300 bytes).
E: XFER SEND_FILE offset=0 size=300 ascii=1
X: XFER_DONE OK 300
S: 226 Transfer complete.
C: TYPE I
S: 200 Switching to Binary mode.

# Commands whose rows lack CMD_KEEP_REST clear the marker: CWD, CDUP, LIST,
# DELE, MKD, RNFR, an unknown verb, USER.
C: REST 100
S: 350 Restarting at 100. Send RETR, STOR or APPE.
C: CWD d
S: 250 Directory successfully changed.
C: CDUP
S: 250 Directory successfully changed.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (300 bytes).
E: XFER SEND_FILE offset=0 size=300 ascii=0
X: XFER_DONE OK 300
S: 226 Transfer complete.
C: REST 100
S: 350 Restarting at 100. Send RETR, STOR or APPE.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: LIST d
S: 150 Here comes the directory listing.
E: XFER SEND_LIST lines=0
X: XFER_DONE OK 0
S: 226 Transfer complete.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (300 bytes).
E: XFER SEND_FILE offset=0 size=300 ascii=0
X: XFER_DONE OK 300
S: 226 Transfer complete.
C: REST 100
S: 350 Restarting at 100. Send RETR, STOR or APPE.
C: DELE nosuch
S: 550 No such file or directory.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (300 bytes).
E: XFER SEND_FILE offset=0 size=300 ascii=0
X: XFER_DONE OK 300
S: 226 Transfer complete.
C: REST 100
S: 350 Restarting at 100. Send RETR, STOR or APPE.
C: XYZZY
S: 500 Unknown command.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (300 bytes).
E: XFER SEND_FILE offset=0 size=300 ascii=0
X: XFER_DONE OK 300
S: 226 Transfer complete.
C: REST 100
S: 350 Restarting at 100. Send RETR, STOR or APPE.
C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: RETR f
S: 150 Opening BINARY mode data connection for f (300 bytes).
E: XFER SEND_FILE offset=0 size=300 ascii=0
X: XFER_DONE OK 300
S: 226 Transfer complete.

# G.144: TYPE I, REST 100, STOR up with 50 bytes -> the first 100 old bytes
# and the 50 new ones (the file is cut at the end of the new data).
C: REST 100
S: 350 Restarting at 100. Send RETR, STOR or APPE.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: STOR up
S: 150 Ok to send data.
E: XFER RECV_FILE ascii=0
X: XFER_DONE OK 50 data=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
S: 226 Transfer complete.
F: up 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx

# G.146: REST 100, APPE -> like STOR at offset 100.
C: REST 100
S: 350 Restarting at 100. Send RETR, STOR or APPE.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: APPE ap
S: 150 Ok to send data.
E: XFER RECV_FILE ascii=0
X: XFER_DONE OK 5 data=hello
S: 226 Transfer complete.
F: ap 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789hello
# ... and the marker is gone: a plain APPE appends at the end.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: APPE ap
S: 150 Ok to send data.
E: XFER RECV_FILE ascii=0
X: XFER_DONE OK 3 data=!!!
S: 226 Transfer complete.
F: ap 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789hello!!!

# REST past the end of the file on STOR -> 554; the file is untouched.
C: REST 5000
S: 350 Restarting at 5000. Send RETR, STOR or APPE.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: STOR up
S: 554 Restart offset 5000 is beyond the end of the file.
E: NONE
F: up 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
# ... and the marker is gone: a plain STOR replaces the file.
C: STOR up
S: 150 Ok to send data.
E: XFER RECV_FILE ascii=0
X: XFER_DONE OK 3 data=new
S: 226 Transfer complete.
F: up new

C: QUIT
S: 221 Goodbye.
E: CLOSE
