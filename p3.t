
C: RETR f
S: 150 Opening BINARY mode data connection for f (10 bytes).
E: XFER SEND_FILE offset=0 size=10 ascii=0
C< NO\x01OP\r\n
S-
X: XFER_DONE OK 10
S: 226 Transfer complete.
S: 501 Control characters are not allowed in commands.
