"""Event logs (issue 9): [log] xferlog in the xferlog(5) format, parsed field by field;
[log] json lines validated with json.loads and exact fields; SIGUSR1 reopens both after
logrotate renamed them."""

import json
import os
import re
import shutil
import signal
import socket
import tempfile
import time

import pytest

from conftest import HOST, IS_ROOT, SERVICE_USER, wait_until
from files_helpers import chown_svc, connect_data, parse227, recv_all

BIG = 64 << 20  # far more than the socket buffers hold: the RETR stalls until ABOR


@pytest.fixture
def logdir():
    # Root-owned, readable by all (pytest's tmp_path is 0700: the service user could not
    # reach it): ferryd creates the files as root before the drop, cannot create new
    # ones in it after.
    d = tempfile.mkdtemp(prefix="ferry-logs-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def logsrv(make_server, logdir):
    xl, js = os.path.join(logdir, "xferlog"), os.path.join(logdir, "events.json")
    s = make_server(config={"log": {"xferlog": xl, "json": js}})
    s.xferlog, s.json = xl, js
    return s


def read_lines(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8").splitlines()


def events(s, min_count=0, pred=None):
    def get():
        ev = [json.loads(l) for l in read_lines(s.json)]
        sel = [e for e in ev if pred is None or pred(e)]
        return sel if len(sel) >= min_count else None
    return wait_until(get, 5.0, what="json events")


def xferlog_fields(line):
    """xferlog(5): current-time (5 words) transfer-time remote-host file-size filename
    transfer-type special-action-flag direction access-mode username service-name
    authentication-method authenticated-user-id completion-status."""
    w = line.split()
    assert len(w) == 18, line
    names = ["transfer_time", "remote_host", "file_size", "filename", "transfer_type", "special_action",
             "direction", "access_mode", "username", "service_name", "auth_method", "auth_user_id",
             "completion_status"]
    f = dict(zip(names, w[5:]))
    f["current_time"] = " ".join(w[:5])
    return f


def pasv(c):
    r = c.expect("PASV", 227)
    return connect_data(*parse227(r))


def stor(c, name, data):
    d = pasv(c)
    c.expect(f"STOR {name}", 150)
    d.sendall(data)
    d.close()
    assert c.reply(10).code == 226


def retr(c, name):
    d = pasv(c)
    c.expect(f"RETR {name}", 150)
    data = recv_all(d)
    d.close()
    assert c.reply(10).code == 226
    return data


@pytest.mark.skipif(not IS_ROOT, reason="needs root (files created for the service user)")
def test_files_owned_by_service_user(logsrv):
    import pwd
    uid = pwd.getpwnam(SERVICE_USER).pw_uid
    for p in (logsrv.xferlog, logsrv.json):
        st = os.stat(p)
        assert st.st_uid == uid and (st.st_mode & 0o777) == 0o640, (p, st)


def test_xferlog_upload_download_abort(logsrv):
    s = logsrv
    c = s.connect()
    c.login()
    c.expect("TYPE I", 200)
    payload = bytes(range(256)) * 40  # 10240 bytes
    stor(c, "up load.bin", payload)
    assert retr(c, "up load.bin") == payload
    c.expect("TYPE A", 200)
    retr(c, "up load.bin")  # converted (LF → CRLF): only the log fields are checked
    c.expect("TYPE I", 200)
    # An aborted download.
    home = os.path.join(s.home_root, "bob")
    with open(os.path.join(home, "big"), "wb") as f:
        f.truncate(BIG)
    chown_svc(os.path.join(home, "big"))
    d = pasv(c)
    d.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.expect("RETR big", 150)
    d.recv(1000)
    time.sleep(0.2)
    c.send(b"ABOR\r\n")
    assert c.reply(10).code == 426
    assert c.reply(10).code == 226
    d.close()
    c.expect("LIST", 425)  # a listing is never in xferlog (and here fails: no PASV)
    c.expect("QUIT", 221)
    c.close()

    lines = wait_until(lambda: (l := read_lines(s.xferlog)) and len(l) >= 4 and l, 5.0, what="4 xferlog lines")
    assert len(lines) == 4, lines
    up, down, down_a, ab = [xferlog_fields(l) for l in lines]
    common = {"remote_host": "127.0.0.1", "special_action": "_", "access_mode": "r", "username": "bob",
              "service_name": "ftp", "auth_method": "0", "auth_user_id": "*"}
    for f in (up, down, down_a, ab):
        for k, v in common.items():
            assert f[k] == v, (k, f)
        assert re.fullmatch(r"[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d \d{4}", f["current_time"]), f
        assert int(f["transfer_time"]) >= 1
    assert (up["file_size"], up["filename"], up["transfer_type"], up["direction"], up["completion_status"]) == \
        ("10240", "/up_load.bin", "b", "i", "c")
    assert (down["file_size"], down["filename"], down["transfer_type"], down["direction"],
            down["completion_status"]) == ("10240", "/up_load.bin", "b", "o", "c")
    # TYPE A: the bytes sent (40 LF sent as CRLF).
    assert (down_a["file_size"], down_a["transfer_type"], down_a["direction"], down_a["completion_status"]) == \
        ("10280", "a", "o", "c")
    assert ab["filename"] == "/big" and ab["direction"] == "o" and ab["completion_status"] == "i", ab
    assert 0 < int(ab["file_size"]) < BIG

    # The same transfers in the JSON log, tied to the session.
    tr = events(s, 4, lambda e: e["event"] == "transfer")
    sid = tr[0]["session"]
    assert all(e["session"] == sid for e in tr)
    assert [(e["cmd"], e["path"], e["bytes"], e["result"], e["type"]) for e in tr] == [
        ("STOR", "/up load.bin", 10240, "ok", "I"), ("RETR", "/up load.bin", 10240, "ok", "I"),
        ("RETR", "/up load.bin", 10280, "ok", "A"), ("RETR", "/big", int(ab["file_size"]), "aborted", "I")]
    assert all(e["user"] == "bob" and e["ip"] == "127.0.0.1" and isinstance(e["duration_ms"], int) for e in tr)


def test_json_session_events(logsrv):
    s = logsrv
    c = s.connect()
    c.expect("USER bob", 331)
    assert c.cmd("PASS wrong").code == 530
    c.login()
    c.expect("SIZE /nope", 550)
    c.expect("XYZZ", 500)
    c.expect("QUIT", 221)
    c.close()
    # The first session is the start-up probe.
    ev = events(s, 2, lambda e: e["event"] == "disconnect")
    sid = ev[-1]["session"]
    mine = [e for e in events(s) if e["session"] == sid]
    for e in mine:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["ts"]), e
    got = [{k: v for k, v in e.items() if k not in ("ts", "session")} for e in mine]
    assert got == [
        {"event": "connect", "ip": "127.0.0.1", "tls": "none"},
        {"event": "login", "user": "bob", "ip": "127.0.0.1", "result": "failed", "reason": "bad-credentials"},
        {"event": "command_error", "ip": "127.0.0.1", "user": None, "cmd": "PASS", "code": 530,
         "text": "Login incorrect."},
        {"event": "login", "user": "bob", "ip": "127.0.0.1", "result": "ok"},
        {"event": "command_error", "ip": "127.0.0.1", "user": "bob", "cmd": "SIZE", "code": 550,
         "text": got[4].get("text")},
        {"event": "command_error", "ip": "127.0.0.1", "user": "bob", "cmd": "XYZZ", "code": 500,
         "text": "Unknown command."},
        {"event": "disconnect", "ip": "127.0.0.1"},
    ], got
    assert got[4]["text"]


def test_json_escapes_client_bytes(logsrv):
    s = logsrv
    c = s.connect()
    # A user name with a quote, a backslash and invalid UTF-8 (0xfe: 0xff would be
    # Telnet IAC).
    name = b'ev"il\\\xfe\xc3\xa9'
    c.send(b"USER " + name + b"\r\n")
    assert c.reply().code == 331
    assert c.cmd("PASS x").code == 530
    c.close()
    ev = events(s, 1, lambda e: e["event"] == "login" and e["result"] == "failed" and "ev" in e["user"])
    assert ev[0]["user"] == 'ev"il\\\u00fe\u00e9'
    raw = open(s.json, "rb").read()
    assert b'"ev\\"il\\\\\\u00fe\xc3\xa9"' in raw  # valid UTF-8 kept, 0xfe escaped
    for line in raw.splitlines():
        json.loads(line)


def test_sigusr1_reopens_after_rename(logsrv):
    s = logsrv
    c = s.connect()
    c.login()
    c.expect("TYPE I", 200)
    stor(c, "one", b"1" * 100)
    events(s, 1, lambda e: e["event"] == "transfer")
    # logrotate: rename, create the new files for the service user, then SIGUSR1.
    for p in (s.xferlog, s.json):
        os.rename(p, p + ".1")
        with open(p, "w"):
            pass
        os.chmod(p, 0o640)
        chown_svc(p)
    s.signal(signal.SIGUSR1)
    s.wait_log(r"\[log\] json: reopened")
    stor(c, "two", b"2" * 200)
    c.expect("QUIT", 221)
    c.close()
    new = wait_until(lambda: read_lines(s.xferlog), 5.0, what="new xferlog line")
    assert len(new) == 1 and xferlog_fields(new[0])["filename"] == "/two", new
    old = read_lines(s.xferlog + ".1")
    assert len(old) == 1 and xferlog_fields(old[0])["filename"] == "/one", old
    ev = events(s, 1, lambda e: e["event"] == "transfer")
    assert [e["path"] for e in ev] == ["/two"]
    with open(s.json + ".1") as f:
        old_ev = [json.loads(l) for l in f]
    assert [e["path"] for e in old_ev if e["event"] == "transfer"] == ["/one"]


def test_reopen_failure_keeps_old_file(logsrv):
    s = logsrv
    # Renamed but no new file, in a directory the service user cannot write.
    os.rename(s.json, s.json + ".1")
    s.signal(signal.SIGUSR1)
    s.wait_log(r"\[log\] json: cannot reopen")
    c = s.connect()
    c.close()
    with open(s.json + ".1") as f:
        wait_until(lambda: "connect" in f.read(), 5.0, what="event in the old file")
    assert not os.path.exists(s.json)
    assert s.alive()


def test_ban_event(make_server, logdir):
    js = os.path.join(logdir, "ev.json")
    s = make_server(config={"log": {"json": js}, "limits": {"ban_failures": "2", "ban_time": "60s"}})
    for _ in range(2):
        c = s.connect()
        c.expect("USER bob", 331)
        assert c.cmd("PASS bad").code == 530
        c.close()

    def bans():
        with open(js) as f:
            return [e for e in map(json.loads, f) if e["event"] == "ban"] or None
    b = wait_until(bans, 5.0, what="ban event")
    assert len(b) == 1
    assert {k: v for k, v in b[0].items() if k not in ("ts", "session")} == {
        "event": "ban", "ip": "127.0.0.1", "group": "127.0.0.1", "seconds": 60, "reason": "failed-logins"}
    c = s.connect(greet=False)
    r = c.reply()
    assert r.code == 421
    c.close()

    def refused():
        with open(js) as f:
            return [e for e in map(json.loads, f) if e["event"] == "refused"] or None
    ref = wait_until(refused, 5.0, what="refused event")
    assert ref[0]["reason"] == "Too many failed logins from your address; try again later."
