"""SFTP shared with FTP (issue 17): `ferry status` lists SFTP sessions beside FTP ones and
`ferry kick` closes them (by id, user or address); the metrics carry protocol="sftp"; the text
log, JSON log and xferlog record SFTP sessions and transfers; hooks fire after SFTP uploads;
[limits] and [server] max_sessions count FTP and SFTP sessions together (an SSH connection not
logged in is evicted like an FTP one); the sandbox covers the SFTP code."""

import json
import os
import re
import shutil
import socket
import tempfile

import paramiko
import pytest

from conftest import HOST, free_port, require_feature, status_lines, wait_until
from files_helpers import chown_svc
from sftp_helpers import client, openssh_sftp, start_sftp_server, transport
from test_metrics import scrape
from sftp_helpers import needs_sftp  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("needs_sftp")

BIG = 64 << 20
EVICTED = "421 Server full; closing the oldest connection not logged in to make room. Try again later."


@pytest.fixture
def tmpdir_shared():
    d = tempfile.mkdtemp(prefix="ferry-sftp-admin-", dir="/tmp")
    os.chmod(d, 0o777)  # the admin socket's directory; hooks write here as the service user
    yield d
    shutil.rmtree(d, ignore_errors=True)


def admin_server(make_server, d, extra=None, users=None):
    cfg = {"admin": {"socket": os.path.join(d, "admin.sock")},
           "log": {"json": "events.json", "xferlog": "xferlog"}}
    for k, v in (extra or {}).items():
        cfg.setdefault(k, {}).update(v)
    kw = {"users": users} if users else {}
    return start_sftp_server(make_server, cfg, **kw)


def by_protocol_state(lines):
    out = {}
    for line in lines:
        m = re.search(r" protocol=(\w+) state=(\w+)", line)
        assert m, line
        out.setdefault((m.group(1), m.group(2)), []).append(line)
    return out


def raw_ssh(s):
    """A TCP connection to the SFTP port that never logs in (it reads the SSH banner)."""
    sock = socket.create_connection((HOST, s.sftp_port), timeout=10)
    assert sock.recv(256).startswith(b"SSH-2.0-"), "no SSH banner"
    return sock


def closed_by_server(sock, timeout=10):
    """True once the server closed sock (EOF or reset), reading whatever it still sends."""
    sock.settimeout(timeout)
    try:
        for _ in range(64):
            if not sock.recv(4096):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False


def big_file(s, name="big"):
    p = os.path.join(s.home_root, "bob", name)
    with open(p, "wb") as f:
        f.truncate(BIG)
    chown_svc(p)
    return p


# ---- ferry status / ferry kick

def test_status_lists_sftp_sessions_beside_ftp(make_server, tmpdir_shared):
    s = admin_server(make_server, tmpdir_shared)
    big_file(s)
    assert status_lines(s) == []
    pre = raw_ssh(s)                        # SSH, not logged in
    ftp = s.connect()
    ftp.login()                             # FTP, logged in, idle
    idle = client(s)                        # SFTP, logged in, idle
    busy = client(s)                        # SFTP, reading /big
    f = busy.open("/big", "rb")
    assert f.read(32768) == b"\0" * 32768

    lines = status_lines(s)
    assert len(lines) == 4, lines
    st = by_protocol_state(lines)
    assert re.fullmatch(r'\d+ user="" ip=127\.0\.0\.1 protocol=sftp state=login idle=\d+s',
                        st[("sftp", "login")][0]), lines
    assert re.fullmatch(r'\d+ user="bob" ip=127\.0\.0\.1 protocol=ftp state=idle tls=no idle=\d+s',
                        st[("ftp", "idle")][0]), lines
    assert re.fullmatch(r'\d+ user="bob" ip=127\.0\.0\.1 protocol=sftp state=idle idle=\d+s',
                        st[("sftp", "idle")][0]), lines
    m = re.fullmatch(r'(\d+) user="bob" ip=127\.0\.0\.1 protocol=sftp state=transfer idle=\d+s cmd=RETR '
                     r'path="/big" bytes=(\d+) size=(\d+)', st[("sftp", "transfer")][0])
    assert m, lines
    assert int(m.group(2)) == 32768 and int(m.group(3)) == BIG

    # The busy SFTP session is kicked by its id; the others stay.
    sid = int(m.group(1))
    cp = s.ferry("kick", str(sid))
    assert cp.returncode == 0 and cp.stdout == f"kicked {sid}\n", cp
    wait_until(lambda: not busy.get_channel().get_transport().is_active(), 60, what="the kicked transport to end")
    s.wait_log(rf"session={sid} kicked by the administrator: protocol=sftp")
    s.wait_log(rf"session={sid} disconnect: ip=127\.0\.0\.1 protocol=sftp reason=kicked")
    # The read the kick interrupted is logged as an aborted transfer.
    s.wait_log(rf'session={sid} transfer: user="bob" ip=127\.0\.0\.1 cmd=RETR path="/big" bytes=32768 '
               r'status=aborted')
    lines = wait_until(lambda: (l := status_lines(s)) and len(l) == 3 and l, 60, what="three sessions left")
    assert sorted(by_protocol_state(lines)) == [("ftp", "idle"), ("sftp", "idle"), ("sftp", "login")]
    cp = s.ferry("kick", str(sid))
    assert cp.returncode == 1 and cp.stdout == f"no session {sid}\n", cp
    assert idle.listdir("/") == ["big"]     # untouched by the kick
    for c in (idle, ftp):
        c.close()
    pre.close()


def test_kick_by_user_and_address_closes_both_protocols(make_server, tmpdir_shared):
    s = admin_server(make_server, tmpdir_shared, users=(("bob", "pw", None), ("alice", "apw", None)))
    ftp = s.connect()
    ftp.login()
    sb = client(s)
    sa = client(s, "alice", "apw")
    pre = raw_ssh(s)
    wait_until(lambda: len(status_lines(s)) == 4, 60, what="four sessions")

    cp = s.ferry("kick", "--user", "bob")
    assert cp.returncode == 0, cp
    kicked = cp.stdout.splitlines()
    assert len(kicked) == 2 and all(re.fullmatch(r"kicked \d+", k) for k in kicked), cp.stdout
    assert ftp.read_until_eof(10).startswith(b"421 "), "the FTP session got no 421"
    wait_until(lambda: not sb.get_channel().get_transport().is_active(), 60, what="bob's SFTP session to end")
    lines = wait_until(lambda: (l := status_lines(s)) and len(l) == 2 and l, 60, what="two sessions left")
    assert sorted(by_protocol_state(lines)) == [("sftp", "idle"), ("sftp", "login")]
    assert 'user="alice"' in " ".join(lines)

    cp = s.ferry("kick", "--user", "bob")
    assert cp.returncode == 1 and cp.stdout == "no session user=bob\n", cp
    cp = s.ferry("kick", "--ip", "127.0.0.1")   # alice's session and the one not logged in
    assert cp.returncode == 0 and len(cp.stdout.splitlines()) == 2, cp
    assert closed_by_server(pre)
    wait_until(lambda: status_lines(s) == [], 60, what="no session left")
    cp = s.ferry("kick", "--ip", "127.0.0.1")
    assert cp.returncode == 1 and cp.stdout == "no session ip=127.0.0.1\n", cp
    cp = s.ferry("kick", "--user")
    assert cp.returncode == 2 and "--user NAME or --ip ADDRESS" in cp.stderr, cp
    sa.close()


# ---- metrics

def test_metrics_carry_the_protocol(make_server, ferry_bin):
    require_feature(ferry_bin, "metrics")
    mport = free_port()
    s = start_sftp_server(make_server, {"metrics": {"listen": f"{HOST}:{mport}"}})
    s.wait_log(r"stale upload clean-up done")
    v = scrape(mport)
    for name in ("ferry_sessions_open", "ferry_connections_total", "ferry_received_bytes_total",
                 "ferry_sent_bytes_total", "ferry_sessions_evicted_total"):
        assert v[f'{name}{{protocol="sftp"}}'] == 0, name
    with pytest.raises(paramiko.AuthenticationException):
        transport(s, password="wrong")
    c = client(s)
    with c.open("/m.bin", "wb") as f:
        f.write(b"m" * 3000)
    with c.open("/m.bin", "rb") as f:
        assert f.read() == b"m" * 3000
    # The refused client's connection closes once ferryd reads its end: the logged-in one stays.
    v = wait_until(lambda: (x := scrape(mport))['ferry_sessions_open{protocol="sftp"}'] == 1 and x, 60,
                   what="one SFTP session open")
    assert v['ferry_sessions_open{protocol="ftp"}'] == 0
    c.close()

    def settled():
        x = scrape(mport)
        return x if x['ferry_sessions_open{protocol="sftp"}'] == 0 else None
    v = wait_until(settled, 60, what="the SFTP sessions to close")
    assert v['ferry_connections_total{protocol="sftp"}'] == 2
    assert v['ferry_connections_total{protocol="ftp"}'] == 1   # the start-up probe
    assert v['ferry_logins_total{protocol="sftp",result="ok"}'] == 1
    assert v['ferry_logins_total{protocol="sftp",result="failed"}'] == 1
    assert v['ferry_logins_total{protocol="ftp",result="ok"}'] == 0
    assert v['ferry_logins_total{protocol="ftp",result="failed"}'] == 0
    assert v['ferry_received_bytes_total{protocol="sftp"}'] == 3000
    assert v['ferry_sent_bytes_total{protocol="sftp"}'] == 3000
    assert v['ferry_transfers_total{protocol="sftp",result="ok"}'] == 2
    assert v['ferry_transfers_total{protocol="ftp",result="ok"}'] == 0
    assert v['ferry_received_bytes_total{protocol="ftp"}'] == 0


# ---- logs and hooks

def test_logs_record_sftp_sessions_and_transfers(make_server, tmpdir_shared):
    s = admin_server(make_server, tmpdir_shared)
    c = client(s)
    with c.open("/l.txt", "wb") as f:
        f.write(b"hello")
    with c.open("/l.txt", "rb") as f:
        assert f.read() == b"hello"
    c.close()
    sid = s.wait_log(r"session=(\d+) disconnect: ip=127\.0\.0\.1 protocol=sftp")[0]
    # The text lines of the session, in order: as FTP's, each with protocol=sftp.
    mine = [re.sub(r"^.*? session=\d+ ", "", l) for l in s.log().splitlines() if f"session={sid} " in l]
    want = [r"connect: ip=127\.0\.0\.1 protocol=sftp",
            r'login ok: user="bob" ip=127\.0\.0\.1 protocol=sftp method=password',
            r'transfer: user="bob" ip=127\.0\.0\.1 cmd=STOR path="/l\.txt" bytes=5 status=ok protocol=sftp',
            r'transfer: user="bob" ip=127\.0\.0\.1 cmd=RETR path="/l\.txt" bytes=5 status=ok protocol=sftp',
            r"disconnect: ip=127\.0\.0\.1 protocol=sftp reason=client-gone"]
    it = iter(mine)
    for rx in want:
        assert any(re.fullmatch(rx, line) for line in it), (rx, mine)
    # JSON: the same session's events, each naming the protocol.
    ev = [e for e in map(json.loads, open(os.path.join(s.dir, "events.json"))) if str(e.get("session")) == sid]
    kinds = [e["event"] for e in ev]
    assert kinds[0] == "connect" and kinds[-1] == "disconnect", kinds
    assert kinds.count("login") == 1 and kinds.count("transfer") == 2, kinds
    assert all(e.get("protocol") == "sftp" for e in ev), ev
    # xferlog: both transfers, the service name sftp.
    xl = open(os.path.join(s.dir, "xferlog")).read().splitlines()
    assert len(xl) == 2 and all(" /l.txt b _ " in x and " r bob sftp 0 * c" in x for x in xl), xl


def test_hook_fires_after_sftp_uploads_only(make_server, tmpdir_shared):
    d = tmpdir_shared
    out = os.path.join(d, "hook.out")
    hook = os.path.join(d, "hook.sh")
    with open(hook, "w") as f:
        f.write(f'#!/bin/sh\nprintf "%s|%s|%s|%s|%s\\n" "$FERRY_PROTOCOL" "$FERRY_USER" "$FERRY_PATH" '
                f'"$FERRY_SIZE" "$FERRY_CLIENT_IP" >> {out}\n')
    os.chmod(hook, 0o755)
    s = admin_server(make_server, d, {"hooks": {"upload_exec": hook}})
    c = client(s)
    with c.open("/a.bin", "wb") as f:
        f.write(b"a" * 1234)
    wait_until(lambda: os.path.exists(out) and open(out).read(), 60, what="the hook to run")
    # A download, a listing and an upload the client gives up on fire nothing.
    with c.open("/a.bin", "rb") as f:
        assert f.read() == b"a" * 1234
    assert c.listdir("/") == ["a.bin"]
    f = c.open("/b.bin", "wb")
    f.write(b"b" * 10)
    f.flush()
    c.get_channel().get_transport().close()   # the upload is never closed: discarded
    s.wait_log(r'transfer: user="bob" ip=127\.0\.0\.1 cmd=STOR path="/b\.bin" bytes=10 status=aborted')
    # A second upload: the hook has run for it, and never for the others.
    c = client(s)
    with c.open("/c.bin", "wb") as f:
        f.write(b"c")
    c.close()
    lines = wait_until(lambda: (l := open(out).read().splitlines()) and len(l) >= 2 and l, 10,
                       what="the second hook")
    assert lines == ["sftp|bob|/a.bin|1234|127.0.0.1", "sftp|bob|/c.bin|1|127.0.0.1"], lines


# ---- limits: FTP and SFTP counted together

def test_per_user_and_per_address_limits_count_both(make_server):
    s = start_sftp_server(make_server, {"limits": {"max_per_user": "1", "max_per_ip": "2"},
                                        "log": {"json": "events.json"}})
    # bob's one slot taken over SFTP: an FTP login is refused.
    c = client(s)
    f = s.connect()
    f.cmd("USER bob")
    r = f.cmd("PASS pw")
    assert r.code == 421, r
    s.wait_log(r'login refused: user="bob" ip=127\.0\.0\.1 reason=user-limit')
    f.close()
    s.wait_log(r"disconnect: ip=127\.0\.0\.1\n", count=2)  # the start-up probe's and the refused one's
    # One FTP and one SFTP connection from the address: the third of either protocol is refused.
    f = s.connect()
    assert f.greeting.code == 220
    g = s.connect()
    assert g.greeting.code == 421 and "Too many connections from your address" in g.greeting.text, g.greeting
    g.close()
    with pytest.raises((paramiko.SSHException, EOFError, OSError)):
        transport(s)
    s.wait_log(r"refused: ip=127\.0\.0\.1 reason=per-ip-limit group=127\.0\.0\.1 protocol=sftp")
    refused = [e for e in map(json.loads, open(os.path.join(s.dir, "events.json"))) if e["event"] == "refused"]
    assert [e.get("protocol") for e in refused] == [None, "sftp"], refused   # FTP's, then SFTP's
    assert refused[1]["reason"] == "per-ip-limit", refused
    # Once the SFTP session has gone, bob may log in over FTP.
    gone = r"disconnect: ip=127\.0\.0\.1 protocol=sftp reason=client-gone\n"
    n = len(re.findall(gone, s.log()))
    c.close()
    s.wait_log(gone, count=n + 1)
    f.login()
    f.close()


def test_max_sessions_evicts_either_protocol_not_logged_in(make_server, ferry_bin):
    require_feature(ferry_bin, "metrics")
    mport = free_port()
    s = start_sftp_server(make_server, {"server": {"max_sessions": "2"},
                                        "metrics": {"listen": f"{HOST}:{mport}"}})
    ftp = s.connect()
    ftp.login()
    pre = raw_ssh(s)                          # the server is full: one SSH connection not logged in
    # A new FTP connection: the SSH one makes room.
    newcomer = s.connect()
    assert newcomer.greeting.code == 220, newcomer.greeting
    assert closed_by_server(pre), "the SSH connection was not closed"
    s.wait_log(r"evicted: ip=127\.0\.0\.1 reason=server-full max_sessions=2 not-logged-in-for=\d+ms protocol=sftp")
    # A new SFTP connection: the FTP one not logged in makes room, and the SFTP login works.
    c = client(s)
    r = newcomer.reply(10)
    assert r.code == 421 and r.lines == [EVICTED], r
    assert c.listdir("/") == []
    v = scrape(mport)
    assert v['ferry_sessions_evicted_total{protocol="sftp"}'] == 1
    assert v['ferry_sessions_evicted_total{protocol="ftp"}'] == 1
    # Everybody logged in: an SSH connection is refused, so is an FTP one.
    wait_until(lambda: scrape(mport)['ferry_sessions_open{protocol="ftp"}'] == 1, 60, what="the evicted to go")
    with pytest.raises((paramiko.SSHException, EOFError, OSError)):
        transport(s)
    s.wait_log(r"refused: ip=127\.0\.0\.1 reason=server-full max_sessions=2 \(all logged in\) protocol=sftp")
    g = s.connect()
    assert g.greeting.code == 421, g.greeting
    g.close()
    # The logged-in sessions were never touched.
    assert c.listdir("/") == []
    assert ftp.cmd("NOOP").code == 200
    c.close()
    ftp.close()


# ---- the sandbox

def test_sftp_runs_inside_the_sandbox(make_server, tmp_path):
    # seccomp = require: ferryd refuses to start without the filter, and a system call outside
    # the allow-list would be logged (and fail) instead of going through.
    s = start_sftp_server(make_server, {"sandbox": {"seccomp": "require"},
                                        "log": {"json": "events.json", "xferlog": "xferlog"}})
    c = client(s)
    data = os.urandom(300_000)
    c.mkdir("/d")
    with c.open("/d/x.bin", "wb") as f:
        f.set_pipelined(True)
        f.write(data)
    c.rename("/d/x.bin", "/d/y.bin")
    with c.open("/d/y.bin", "rb") as f:
        f.prefetch()
        assert f.read() == data
    assert c.listdir("/d") == ["y.bin"]
    c.chmod("/d/y.bin", 0o600)
    st = c.stat("/d/y.bin")
    assert st.st_size == len(data)
    with c.open("/d/y.bin", "ab") as f:
        f.write(b"!")
    c.remove("/d/y.bin")
    c.rmdir("/d")
    with pytest.raises(paramiko.AuthenticationException):
        transport(s, password="wrong")
    c.close()
    # OpenSSH's client too: statvfs (df), fsync (put -f), listings, a resumed download.
    os.chmod(tmp_path, 0o755)
    (tmp_path / "o.bin").write_bytes(data)
    cp = openssh_sftp(s, ["put -f o.bin o.bin", "df -h /", "ls -l", "get o.bin back.bin", "reget o.bin back.bin",
                          "rm o.bin"], cwd=str(tmp_path))
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert (tmp_path / "back.bin").read_bytes() == data
    s.wait_log(r"disconnect: ip=127\.0\.0\.1 protocol=sftp", count=3)
    pid = s.pid
    for task in os.listdir(f"/proc/{pid}/task"):
        fields = dict(l.split(":", 1) for l in open(f"/proc/{pid}/task/{task}/status").read().splitlines())
        assert fields["NoNewPrivs"].strip() == "1" and fields["Seccomp"].strip() == "2", (task, fields)
    log = s.log()
    assert "sandbox: seccomp allow-list on" in log
    assert "seccomp: blocked system call" not in log, log[-3000:]
    assert re.search(r"sandbox: Landlock ABI \d+ on|sandbox: landlock is OFF: ", log), log[-3000:]


# ---- behind a balancer: [server] proxy_protocol on the SFTP listener too

def proxied_transport(s, header, source=None):
    """A paramiko login through a connection from the balancer that first sends header."""
    from proxy_helpers import BALANCER
    sock = socket.create_connection((HOST, s.sftp_port), timeout=20, source_address=(source or BALANCER, 0))
    sock.sendall(header)
    t = paramiko.Transport(sock)
    t.banner_timeout = t.auth_timeout = 20
    try:
        t.connect(username="bob", password="pw")
    except Exception:
        t.close()
        raise
    return t


def test_proxy_header_on_the_sftp_listener(make_server, tmpdir_shared):
    from proxy_helpers import CLIENT, start_proxied, v1, v2
    s = start_sftp_server(make_server, {"server": {"proxy_protocol": "any", "proxy_from": "127.0.0.1",
                                                   "proxy_timeout": "1s"},
                                        "admin": {"socket": os.path.join(tmpdir_shared, "admin.sock")}},
                          start=False)
    start_proxied(s)
    for header in (v2(dport=s.sftp_port), v1(dport=s.sftp_port)):
        t = proxied_transport(s, header)
        c = paramiko.SFTPClient.from_transport(t)
        assert c.listdir("/") == []
        # The header's address is the client's everywhere: status, logs.
        lines = status_lines(s)
        assert len(lines) == 1 and f'user="bob" ip={CLIENT} protocol=sftp state=idle' in lines[0], lines
        sid = lines[0].split()[0]
        c.close()
        t.close()
        s.wait_log(rf"session={sid} disconnect: ip=127\.0\.0\.5 protocol=sftp")
        mine = [l for l in s.log().splitlines() if f"session={sid} " in l]
        assert any(f"connect: ip={CLIENT} protocol=sftp" in l for l in mine), mine
        assert any(f'login ok: user="bob" ip={CLIENT} protocol=sftp' in l for l in mine), mine
        assert any(f"client ip={CLIENT} protocol=sftp" in l for l in mine), mine
    # No header within proxy_timeout, a malformed one, one from outside proxy_from: closed before
    # SSH says anything, logged with the balancer's address, never as a connection.
    cases = ((b"", "127.0.0.1", r"reason=proxy-header-timeout"),
             (b"PROXY TCP4 nonsense\r\n", "127.0.0.1", r"reason=proxy-header-malformed"),
             (v2(dport=s.sftp_port), CLIENT, r"reason=proxy-not-allowed \(not in \[server\] proxy_from\)"))
    for header, source, why in cases:
        sock = socket.create_connection((HOST, s.sftp_port), timeout=20, source_address=(source, 0))
        sock.sendall(header)
        sock.settimeout(15)
        try:
            got = sock.recv(100)
        except ConnectionResetError:     # closed with the header unread
            got = b""
        assert got == b"", got           # no SSH banner: closed
        sock.close()
        found = s.wait_log(rf"session=(\d+) refused: ip={re.escape(source)} {why}.* protocol=sftp")
        sid = found[-1]
        assert not [l for l in s.log().splitlines() if f"session={sid} connect:" in l or
                    f"session={sid} disconnect:" in l]
    assert status_lines(s) == []


# ---- systemd socket activation of the SFTP listener

def test_socket_activation_passes_the_sftp_listener(make_server, ferry_bin):
    """A socket named "sftp" (FileDescriptorName=sftp) is an SFTP listener and replaces [sftp]
    listen, which ferryd then does not bind."""
    from test_systemd import SSA, Notify
    if not os.access(SSA, os.X_OK):
        pytest.skip("systemd-socket-activate missing")
    require_feature(ferry_bin, "systemd")
    notify = Notify()
    try:
        port, sport, unused, sunused = free_port(), free_port(), free_port(), free_port()
        wrapper = [SSA, "-l", f"{HOST}:{port}", "-l", f"{HOST}:{sport}", "--fdname=ftp:sftp",
                   "-E", "NOTIFY_SOCKET", "-E", "ASAN_OPTIONS", "-E", "UBSAN_OPTIONS"]
        s = make_server(config={"sftp": {"listen": f"{HOST}:{sunused}"}}, listen=f"{HOST}:{unused}",
                        env={"NOTIFY_SOCKET": notify.env}, wrapper=wrapper, start=False)
        s.port = port
        s.start()
        notify.wait_for("READY=1")
        s.sftp_port = sport
        c = client(s)
        with c.open("/sa.txt", "wb") as f:
            f.write(b"activated")
        assert c.listdir("/") == ["sa.txt"]
        c.close()
        s.wait_log(r"socket activation: 1 SFTP socket\(s\) passed, \[sftp\] listen not used")
        assert "(SFTP)" not in s.log()   # no "listening on ... (SFTP)": [sftp] listen not bound
        with pytest.raises(OSError):
            socket.create_connection((HOST, sunused), timeout=5).close()
        with open(os.path.join(s.home_root, "bob", "sa.txt"), "rb") as f:
            assert f.read() == b"activated"
    finally:
        notify.close()
