# clock.t: proto reads no clock; the session gives it the time
# (proto_set_now), here the transcript. LIST dates follow the six-month rule
# (recent: "Mon DD HH:MM", else "Mon DD  YYYY") against the given wall clock.
user bob pw
file f hello
mtime f 1577880000
# 2020-01-01 12:00:00 UTC; the clock a month later: a recent file.
clock 1580515200
greet
S: 220 Ferry FTP server ready.
C: USER bob
S: 331 Please specify the password.
C: PASS pw
E: AUTH_CHECK bob
S: 230 Login successful.
C: STAT f
S: 213-Status of /f:
S: -rw-r--r--    1 ftp      ftp             5 Jan  1 12:00 f
S: 213 End of status.
C: PASV
E: DATA_SETUP PASSIVE
S: 227 Entering Passive Mode (192,0,2,10,195,80).
C: LIST f
S: 150 Here comes the directory listing.
E: XFER SEND_LIST content=-rw-r--r--\x20\x20\x20\x201\x20ftp\x20\x20\x20\x20\x20\x20ftp\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x205\x20Jan\x20\x201\x2012:00\x20f\r\n
X: XFER_DONE OK 60
S: 226 Transfer complete.
# A year later the same file is old: the year replaces the time.
clock 1609459200
C: STAT f
S: 213-Status of /f:
S: -rw-r--r--    1 ftp      ftp             5 Jan  1  2020 f
S: 213 End of status.
