"""Logs that cannot be turned against the host or forged (issue 13, items 2, 6, 15).

Item 2: [log] xferlog and json are opened as root; a symbolic link or a hard link planted at
their paths must not make ferryd append to another file, at start or on the SIGUSR1 reopen.
Item 6: file names with Unicode line separators (U+0085, U+2028, U+2029) or other Unicode
spaces (U+00A0) must not split an xferlog, JSON or text-log record.
Item 15: valid UTF-8 stays readable in the text log; a failed transfer says why; level = debug
logs each command and reply, with the secrets (PASS, ACCT) masked."""

import ftplib
import io
import json
import os
import signal
import socket
import struct

import pytest

from conftest import IS_ROOT, SERVICE_USER, wait_until
from files_helpers import chown_svc, connect_data, parse227
from test_logs import logdir  # noqa: F401 (fixture)

# Unicode separators a line-based reader (Python's splitlines, many log viewers) breaks on,
# and a no-break space that looks like a field separator.
SEPARATORS = "\u0085\u00a0\u2028\u2029"
NAME = "caf\u00e9 a" + SEPARATORS + "Fri Jan  1 00:00:00 2027 1 6.6.6.6 1 forged b _ i r x ftp 0 * c"


def log_paths(d):
    return os.path.join(d, "xferlog"), os.path.join(d, "events.json")


def victim(d, owner_svc=False):
    """A file ferryd must never write to; returns (path, content, stat)."""
    p = os.path.join(d, "victim")
    with open(p, "wb") as f:
        f.write(b"precious\n")
    os.chmod(p, 0o644)
    if owner_svc:
        chown_svc(p)
    return p, b"precious\n", os.stat(p)


def assert_untouched(path, content, st):
    with open(path, "rb") as f:
        assert f.read() == content
    now = os.stat(path)
    assert (now.st_uid, now.st_gid, now.st_mode) == (st.st_uid, st.st_gid, st.st_mode)


def start_expecting_failure(s):
    s.start(wait_greeting=False)
    rc = s.wait_exit(10)
    assert rc is not None and rc != 0, f"ferryd started (rc={rc}):\n{s.log()[-2000:]}"
    return s.log()


@pytest.mark.skipif(not IS_ROOT, reason="the planted link matters when ferryd starts as root")
@pytest.mark.parametrize("which", ["xferlog", "json"])
@pytest.mark.parametrize("kind", ["symlink", "hardlink"])
def test_planted_link_at_log_path_refused_at_start(make_server, logdir, which, kind):
    xl, js = log_paths(logdir)
    target, content, st = victim(logdir)
    path = xl if which == "xferlog" else js
    if kind == "symlink":
        os.symlink(target, path)
    else:
        os.link(target, path)
    s = make_server(config={"log": {"xferlog": xl, "json": js}}, start=False)
    log = start_expecting_failure(s)
    expect = "symbolic link" if kind == "symlink" else "hard link"
    assert f"[log] {which}: cannot open {path}:" in log and expect in log, log[-2000:]
    assert_untouched(target, content, st)


def test_symlink_at_log_path_refused_on_reopen(make_server, logdir):
    """logrotate renamed the files; the service account put a symlink to another file it owns
    (e.g. the user database) where the new file belongs: the reopen refuses it and logging goes
    on into the old file."""
    xl, js = log_paths(logdir)
    s = make_server(config={"log": {"xferlog": xl, "json": js}})
    target, content, st = victim(logdir, owner_svc=True)
    os.rename(xl, xl + ".1")
    os.symlink(target, xl)
    s.signal(signal.SIGUSR1)
    s.wait_log(r"\[log\] xferlog: cannot reopen .*symbolic link.*; still writing to the old file")
    s.wait_log(r"\[log\] json: reopened")
    ftp = ftplib.FTP()
    ftp.connect(s.host, s.port, timeout=10)
    ftp.login("bob", "pw")
    ftp.storbinary("STOR after", io.BytesIO(b"x" * 10))
    ftp.quit()
    wait_until(lambda: b"/after" in open(xl + ".1", "rb").read(), 5.0, what="line in the old xferlog")
    assert_untouched(target, content, st)


def test_unicode_separators_in_file_name_do_not_split_records(make_server, logdir):
    xl, js = log_paths(logdir)
    s = make_server(config={"log": {"xferlog": xl, "json": js}})
    ftp = ftplib.FTP(encoding="utf-8")
    ftp.connect(s.host, s.port, timeout=10)
    ftp.login("bob", "pw")
    ftp.storbinary("STOR " + NAME, io.BytesIO(b"data"))
    assert ftp.nlst() == [NAME]  # the name itself is stored as sent
    ftp.quit()
    # xferlog: one record (splitlines() breaks on U+0085/U+2028/U+2029), 18 fields, no
    # separator left raw.
    wait_until(lambda: os.path.getsize(xl) > 0, 5.0, what="xferlog line")
    text = open(xl, "rb").read().decode("utf-8")
    lines = text.splitlines()
    assert len(lines) == 1, lines
    assert not any(ch in text for ch in SEPARATORS), text
    assert len(lines[0].split()) == 18, lines[0]
    assert lines[0].split()[8].startswith("/caf\u00e9_a"), lines[0]  # valid UTF-8 kept
    # JSON: one line per event for any reader; the name comes back exactly.
    raw = open(js, "rb").read()
    assert not any(ch.encode() in raw for ch in SEPARATORS), raw
    text = raw.decode("utf-8")
    ev = [json.loads(l) for l in text.splitlines()]
    tr = [e for e in ev if e["event"] == "transfer"]
    assert [e["path"] for e in tr if e["cmd"] == "STOR"] == ["/" + NAME]
    assert "\\u2028" in text and "\\u0085" in text and "caf\u00e9" in text
    # Text log: valid UTF-8 readable, the separators escaped, one line.
    s.wait_log(r"transfer: user=\"bob\" ")
    line = [l for l in s.log().splitlines() if "transfer: user=" in l and "cmd=STOR" in l]
    assert len(line) == 1, line
    assert 'path="/caf\u00e9 a\\xc2\\x85\\xc2\\xa0\\xe2\\x80\\xa8\\xe2\\x80\\xa9Fri' in line[0], line


def test_text_log_keeps_valid_utf8_escapes_the_rest(make_server):
    s = make_server()
    c = s.connect()
    # Valid UTF-8 (é, a CJK character) stays; invalid bytes, quotes, backslashes,
    # controls and bidi overrides (which reorder what a reader sees) are escaped.
    c.send("CLNT caf\u00e9 \u6f22 \u202e\"x\\".encode() + b"\xfe\r\n")
    assert c.reply().code == 200
    c.close()
    s.wait_log(r"client: ")
    assert 'client: "caf\u00e9 \u6f22 \\xe2\\x80\\xae\\x22x\\x5c\\xfe"' in s.log(), s.log()[-1500:]


def test_failed_transfer_says_why(make_server, logdir):
    xl, js = log_paths(logdir)
    s = make_server(config={"log": {"xferlog": xl, "json": js}})
    home = os.path.join(s.home_root, "bob")
    with open(os.path.join(home, "big"), "wb") as f:
        f.truncate(64 << 20)
    chown_svc(os.path.join(home, "big"))
    c = s.connect()
    c.login()
    c.expect("TYPE I", 200)
    # The client drops the data connection with a reset in the middle of a download.
    d = connect_data(*parse227(c.expect("PASV", 227)), rcvbuf=4096)
    c.expect("RETR big", 150)
    d.recv(1000)
    d.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    d.close()
    r = c.reply(20)
    assert r.code == 426, r
    # ABOR during a download.
    d = connect_data(*parse227(c.expect("PASV", 227)), rcvbuf=4096)
    c.expect("RETR big", 150)
    d.recv(1000)
    c.send("ABOR\r\n")
    assert c.reply(20).code == 426
    assert c.reply(20).code == 226
    d.close()
    c.expect("QUIT", 221)
    lines = s.wait_log(r"transfer: user=\"bob\" [^\n]*", count=2)
    assert lines[0].endswith("status=failed reason=conn-lost"), lines
    assert lines[1].endswith("status=aborted reason=aborted"), lines
    ev = wait_until(lambda: (t := [json.loads(l) for l in open(js) if '"transfer"' in l]) and len(t) == 2 and t,
                    5.0, what="two JSON transfer events")
    assert [(e["result"], e["reason"]) for e in ev] == [("failed", "conn-lost"), ("aborted", "aborted")]


def test_debug_logs_commands_and_replies_with_secrets_masked(make_server):
    s = make_server()  # the test config runs at [log] level = debug
    c = s.connect()
    c.login("bob", "pw")
    c.expect("NOOP", 200)
    c.expect("QUIT", 221)
    c.close()
    c = s.connect()
    c.login("acctuser", "pw", account="acct1")
    c.close()
    s.wait_log(r"command: \"ACCT \*\*\*\*\"")
    log = s.log()
    assert 'command: "USER bob"' in log
    assert 'command: "PASS ****"' in log
    assert 'command: "NOOP"' in log
    assert "reply: 230 " in log and "reply: 200 " in log and "reply: 221 " in log
    assert 'PASS pw' not in log and "acct1" not in log
    # One line per event: no debug line carries a raw control byte.
    for l in log.splitlines():
        assert "\r" not in l
