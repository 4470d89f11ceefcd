# xfer6.t: data connection set-up on an IPv6 control connection
# ([2001:db8::10]:21 <- [2001:db8::1]:40000): RFC 2428 §2-3, checklist
# F.113, F.118. PASV and PORT are IPv4-only.
set family 6
user bob pw
file f abc
greet
S: 220 Ferry FTP server ready.
C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.
C: TYPE I
S: 200 Switching to Binary mode.

C: PASV
S: 501 PASV is for IPv4; use EPSV.
E: NONE
C: EPSV
E: DATA_SETUP PASSIVE
S: 229 Entering Extended Passive Mode (|||50000|)
C: EPSV 2
E: DATA_SETUP PASSIVE
S: 229 Entering Extended Passive Mode (|||50000|)
C: EPSV 1
S: 522 Network protocol not supported, use (2)
C: PORT 192,0,2,1,156,65
S: 522 Network protocol not supported, use (2)
C: EPRT |2|2001:db8::1|40001|
E: DATA_SETUP ACTIVE [2001:db8::1]:40001
S: 200 EPRT command successful.
C: EPRT |2|2001:DB8:0::1|40002|
E: DATA_SETUP ACTIVE [2001:db8::1]:40002
S: 200 EPRT command successful.
C: EPRT |1|192.0.2.1|40001|
S: 522 Network protocol not supported, use (2)
C: EPRT |2|2001:db8::99|40001|
S: 500 Illegal EPRT command: address is not the client's.
C: EPRT |2|2001:db8::1|1023|
S: 504 EPRT to a port below 1024 is not allowed.
C: EPRT |2|192.0.2.1|40001|
S: 501 Syntax error in EPRT address.
C: RETR f
S: 150 Opening BINARY mode data connection for f (3 bytes).
E: XFER SEND_FILE offset=0 size=3 ascii=0 content=abc
X: XFER_DONE OK 3
S: 226 Transfer complete.
C: STAT
S: 211-FTP server status:
S:  Connected from 2001:db8::1
S:  Logged in as bob
S:  TYPE: BINARY, FORM: Nonprint; STRUcture: File; transfer MODE: Stream
S:  No data connection
S: 211 End of status.
C: QUIT
S: 221 Goodbye.
E: CLOSE
