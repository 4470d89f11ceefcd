"""ferryd as a process: --check, listening, signals (reload, drain), logging."""

import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import (Ctl, IS_ROOT, REPO, free_port, ipv6_loopback_available, merge_config,
                      render_config, wait_until)
from files_helpers import home_of


def check(ferry_bin, path, timeout=10):
    return subprocess.run([ferry_bin.ferryd, "-c", path, "--check"], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


# ----------------------------------------------------------------- --check

def test_check_generated_config_ok(ferry_env, ferry_bin):
    env = ferry_env(users=())
    cp = check(ferry_bin, env.config_path)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.strip() == f"{env.config_path}: OK"


def test_check_shipped_config_ok(ferry_bin):
    path = os.path.join(REPO, "etc", "ferry.conf")
    cp = check(ferry_bin, path)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.strip() == f"{path}: OK"


@pytest.mark.parametrize("body,line,needle", [
    ("[server]\nworkers = 2\nbogus = 1\n", 4, "[server] bogus: unknown key"),
    ("[server]\nworkers = 999\n", 3, "[server] workers:"),
    ("[server]\nidle_timeout = 5s\n", 3, "[server] idle_timeout:"),
    ("[server]\nlisten = 127.0.0.1:0\n", 3, "[server] listen:"),
    ("[log]\nlevel = loud\n", 3, "[log] level:"),
    ("[nope]\nx = 1\n", 2, "[nope]: unknown section"),
    ("[server]\nbanner = a\nbanner = b\n", 4, "[server] banner: given twice"),
    ("[server]\nthis is not a key value line\n", 3, "syntax error"),
])
def test_check_bad_config(tmp_path, ferry_bin, body, line, needle):
    path = str(tmp_path / "bad.conf")
    with open(path, "w") as f:
        f.write("# test\n" + body)
    cp = check(ferry_bin, path)
    assert cp.returncode == 1, (cp.stdout, cp.stderr)
    assert cp.stdout == ""
    assert f"{path}:{line}: " in cp.stderr, cp.stderr
    assert needle in cp.stderr, cp.stderr
    assert cp.stderr.startswith("ferryd: ")


def test_check_missing_file(tmp_path, ferry_bin):
    path = str(tmp_path / "missing.conf")
    cp = check(ferry_bin, path)
    assert cp.returncode == 1
    assert path in cp.stderr and "cannot open" in cp.stderr, cp.stderr


def test_bad_config_refuses_to_start(tmp_path, ferry_bin):
    path = str(tmp_path / "bad.conf")
    with open(path, "w") as f:
        f.write("[server]\nworkers = lots\n")
    cp = subprocess.run([ferry_bin.ferryd, "-c", path], capture_output=True, text=True,
                        timeout=10, stdin=subprocess.DEVNULL)
    assert cp.returncode == 1
    assert f"{path}:2: [server] workers:" in cp.stderr


def test_port_in_use_fails_to_start(ferry_env):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    try:
        port = blocker.getsockname()[1]
        env = ferry_env(config={"server": {"listen": f"127.0.0.1:{port}"}}, users=())
        env.start(wait_greeting=False)
        rc = env.wait_exit(10)
        assert rc is not None and rc != 0, "ferryd started on a port that is in use"
        assert str(port) in env.log()
    finally:
        blocker.close()


@pytest.mark.skipif(not IS_ROOT, reason="run_as only applies when started as root")
def test_unknown_run_as_fails_to_start(ferry_env):
    env = ferry_env(config={"server": {"run_as": "no-such-user-ferry"}}, users=())
    env.start(wait_greeting=False)
    rc = env.wait_exit(10)
    assert rc == 1
    assert "no-such-user-ferry" in env.log()


@pytest.mark.skipif(not IS_ROOT, reason="privilege drop only happens when started as root")
def test_runs_as_service_user(server):
    import pwd
    nobody = pwd.getpwnam("nobody")
    with open(f"/proc/{server.pid}/status") as f:
        status = f.read()
    uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
    gids = re.search(r"^Gid:\s+(.*)$", status, re.M).group(1).split()
    groups = re.search(r"^Groups:\s*(.*)$", status, re.M).group(1).split()
    assert uids == [str(nobody.pw_uid)] * 4
    assert gids == [str(nobody.pw_gid)] * 4
    assert "0" not in groups
    assert re.search(r"^NoNewPrivs:\s+1$", status, re.M)


# ----------------------------------------------------------------- listening

def test_listens_on_ipv4_and_ipv6(make_server):
    if not ipv6_loopback_available():
        pytest.skip("::1 is not available")
    p4 = free_port()
    p6 = free_port(socket.AF_INET6, "::1")
    srv = make_server(listen=f"127.0.0.1:{p4}, [::1]:{p6}")
    c4 = Ctl("127.0.0.1", p4)
    c6 = Ctl("::1", p6, family=socket.AF_INET6)
    try:
        c4.login()
        c6.login()
        assert "Connected from 127.0.0.1" in c4.cmd("STAT").full
        assert "Connected from ::1" in c6.cmd("STAT").full
    finally:
        c4.close()
        c6.close()
    log = srv.log()
    assert f"listening on 127.0.0.1:{p4}" in log
    assert f"listening on [::1]:{p6}" in log
    srv.stop()


# ----------------------------------------------------------------- SIGHUP

def test_sighup_new_banner(make_server):
    srv = make_server({"server": {"banner": "Old banner."}})
    old = Ctl(srv.host, srv.port)
    try:
        assert old.greeting.lines == ["220 Old banner."]
        old.login()
        srv.write_config({"server": {"banner": "New banner."}})
        line = srv.reload()
        assert "configuration reloaded" in line, line
        new = Ctl(srv.host, srv.port)
        try:
            assert new.greeting.lines == ["220 New banner."]
            new.login()
        finally:
            new.close()
        # The existing session is untouched and keeps working.
        assert old.cmd("NOOP").code == 200
        assert old.cmd("PWD").code == 257
        # REIN shows the session still runs with its own (old) snapshot.
        assert old.cmd("REIN").code == 220
        old.login()
    finally:
        old.close()
    srv.stop()


def test_sighup_applies_new_limits_to_new_sessions(make_server):
    srv = make_server({"server": {"max_login_failures": "3"}})
    srv.write_config({"server": {"max_login_failures": "1"}})
    srv.reload()
    c = Ctl(srv.host, srv.port)
    try:
        c.expect("USER bob", 331)
        c.expect("PASS wrong", 530)
        assert c.reply().code == 421
        c.assert_closed()
    finally:
        c.close()
    srv.stop()


def test_sighup_broken_config_keeps_old(make_server):
    srv = make_server({"server": {"banner": "Keep me."}})
    with open(srv.config_path, "a") as f:
        f.write("\n[server2]\nbogus = 1\n")
    line = srv.reload()
    assert "reload failed" in line, line
    assert "keeping the running configuration" in line
    assert srv.config_path in line
    c = Ctl(srv.host, srv.port)
    try:
        assert c.greeting.lines == ["220 Keep me."]
        c.login()
    finally:
        c.close()
    # A good file afterwards is picked up again.
    srv.write_config({"server": {"banner": "Fixed."}})
    assert "configuration reloaded" in srv.reload()
    c = Ctl(srv.host, srv.port)
    try:
        assert c.greeting.lines == ["220 Fixed."]
    finally:
        c.close()
    srv.stop()


def test_sighup_invalid_value_keeps_old(make_server):
    srv = make_server({"server": {"banner": "Still here."}})
    srv.write_config({"server": {"idle_timeout": "1s"}})     # below the 10s minimum
    line = srv.reload()
    assert "reload failed" in line and "idle_timeout" in line, line
    c = Ctl(srv.host, srv.port)
    try:
        assert c.greeting.lines == ["220 Still here."]
    finally:
        c.close()
    srv.stop()


def test_sighup_listen_change_warns_and_keeps_port(make_server):
    srv = make_server()
    old_port = srv.port
    srv.write_config({"server": {"listen": f"127.0.0.1:{old_port + 1 if old_port < 65535 else old_port - 1}"}})
    assert "configuration reloaded" in srv.reload()
    assert "listen changed; it takes effect after a restart" in srv.log()
    c = Ctl(srv.host, old_port)
    try:
        c.login()
    finally:
        c.close()
    srv.stop()


@pytest.mark.skipif(not IS_ROOT, reason="needs root: ferryd reads a root-only file at start")
def test_sighup_root_only_config_is_refused_clearly(make_server):
    # Decision: ferryd drops root for good before serving, so a SIGHUP reload reads the
    # file as [server] run_as. A root-only (0600) file works at start, is flagged with a
    # warning then, and a reload keeps the running configuration with a message that
    # says exactly what to change.
    srv = make_server({"server": {"banner": "Before."}}, start=False)
    os.chown(srv.config_path, 0, 0)
    os.chmod(srv.config_path, 0o600)
    srv.start()
    if os.geteuid() == 0:
        assert "not readable by the service user" in srv.log()
    srv.overrides = merge_config(srv.overrides, {"server": {"banner": "After."}})
    with open(srv.config_path, "w") as f:          # rewritten in place: owner and mode stay
        f.write(render_config(srv.config_dict()))
    line = srv.reload()
    if os.geteuid() != 0:                          # nothing was dropped: the reload works
        assert "configuration reloaded" in line, line
        srv.stop()
        return
    assert "reload failed" in line and "readable by that user" in line, line
    c = Ctl(srv.host, srv.port)
    try:
        assert c.greeting.lines == ["220 Before."]
    finally:
        c.close()
    srv.stop()


def test_sighup_many_times_with_sessions(make_server):
    # Config snapshots are reference counted: many reloads while sessions come and go.
    srv = make_server()
    keep = Ctl(srv.host, srv.port)
    try:
        keep.login()
        for i in range(10):
            srv.write_config({"server": {"banner": f"Banner {i}."}})
            srv.reload()
            c = Ctl(srv.host, srv.port)
            try:
                assert c.greeting.lines == [f"220 Banner {i}."]
                c.login()
            finally:
                c.close()
        assert keep.cmd("NOOP").code == 200
    finally:
        keep.close()
    srv.stop()


# ----------------------------------------------------------------- SIGTERM / drain

def test_sigterm_without_clients_exits_quickly(make_server):
    srv = make_server({"server": {"drain_timeout": "30s"}})
    t0 = time.monotonic()
    srv.signal(signal.SIGTERM)
    rc = srv.wait_exit(5)
    assert rc == 0, srv.log()[-2000:]
    assert time.monotonic() - t0 < 3
    assert "ferryd stopped" in srv.log()
    srv.check_log()


def test_sigint_like_sigterm(make_server):
    srv = make_server()
    srv.signal(signal.SIGINT)
    assert srv.wait_exit(5) == 0
    srv.check_log()


def test_sigterm_drains_connected_client(make_server):
    srv = make_server({"server": {"drain_timeout": "6s"}})
    c = Ctl(srv.host, srv.port)
    try:
        c.login()
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        srv.wait_log(r"stopping: no new connections")

        def refused():
            try:
                s = socket.create_connection((srv.host, srv.port), timeout=1)
            except ConnectionRefusedError:
                return True
            except (ConnectionResetError, socket.timeout):
                return False  # caught while the listener closed: ask again
            s.close()
            return False
        wait_until(refused, 5, what="the listener to close")

        # The connected client keeps working until the deadline.
        assert c.cmd("NOOP").code == 200
        time.sleep(0.5)
        assert c.cmd("PWD").code == 257
        assert time.monotonic() - t0 < 5.5, "too slow to test the drain window"
        r = c.reply(timeout=15)
        dt = time.monotonic() - t0
        assert r.code == 421, r
        assert 5.5 <= dt <= 20.0, dt  # not before the deadline
        c.assert_closed()
    finally:
        c.close()
    rc = srv.wait_exit(15)
    assert rc == 0, srv.log()[-2000:]
    srv.check_log()


def test_sigterm_client_quits_before_deadline(make_server):
    # When the last session ends the server exits without waiting for the deadline.
    srv = make_server({"server": {"drain_timeout": "30s"}})
    c = Ctl(srv.host, srv.port)
    try:
        c.login()
        srv.signal(signal.SIGTERM)
        srv.wait_log(r"stopping")
        assert c.cmd("QUIT").code == 221
        c.assert_closed()
    finally:
        c.close()
    t0 = time.monotonic()
    assert srv.wait_exit(5) == 0
    assert time.monotonic() - t0 < 3
    srv.check_log()


def test_second_sigterm_while_draining(make_server):
    srv = make_server({"server": {"drain_timeout": "2s"}})
    c = Ctl(srv.host, srv.port)
    try:
        c.login()
        srv.signal(signal.SIGTERM)
        srv.wait_log("stopping")
        srv.signal(signal.SIGTERM)
        srv.wait_log("already stopping")
        assert c.cmd("NOOP").code == 200
    finally:
        c.close()
    assert srv.wait_exit(6) == 0
    srv.check_log()


def test_sigterm_zero_drain_under_login_load(make_server):
    # Sessions in every login stage (hashing on the job pool, in the failure delay, logged in)
    # when the server stops at once: it must exit 0 with a clean sanitizer log.
    srv = make_server({"server": {"drain_timeout": "0", "login_fail_delay": "300ms",
                                  "max_login_failures": "100"}})
    socks = []
    try:
        for i in range(30):
            s = socket.create_connection((srv.host, srv.port), timeout=5)
            socks.append(s)
            pw = b"pw" if i % 3 == 0 else b"bad"
            s.sendall(b"USER bob\r\nPASS " + pw + b"\r\n" + b"USER bob\r\nPASS bad\r\n" * 5)
        time.sleep(0.05)
        srv.signal(signal.SIGTERM)
        rc = srv.wait_exit(10)
        assert rc == 0, srv.log()[-3000:]
    finally:
        for s in socks:
            s.close()
    srv.check_log()


def test_sigterm_not_delayed_by_abandoned_logins(make_server):
    # No session is left, so ferryd should exit within drain_timeout (1s) of SIGTERM; queued
    # password checks of closed connections must not hold the exit up.
    srv = make_server()
    try:
        for _ in range(2000):
            s = socket.create_connection((srv.host, srv.port), timeout=5)
            try:
                s.sendall(b"USER bob\r\nPASS wrong\r\n")
            finally:
                s.close()
        time.sleep(0.5)   # let the server notice that every client has gone
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        rc = srv.wait_exit(4)
        dt = time.monotonic() - t0
        assert rc == 0, f"ferryd still running {dt:.1f}s after SIGTERM with no sessions left"
    finally:
        srv.kill()


def test_stop_helper_and_restart_same_dir(make_server):
    srv = make_server()
    srv.stop()
    # Same database and config: a restart works (the store was closed cleanly).
    srv.start()
    c = Ctl(srv.host, srv.port)
    try:
        c.login()
    finally:
        c.close()
    srv.stop()


# ----------------------------------------------------------------- logging

SECRET = "S3cr3t-Passw0rd-Ferry"
WRONG = "Wr0ng-Guess-Zebra"


def test_password_never_logged(make_server):
    srv = make_server(users=(("bob", "pw", None), ("carol", SECRET, None),
                             ("dave", SECRET, "acct-dave")))
    c = Ctl(srv.host, srv.port)
    try:
        c.expect(f"PASS {SECRET}", 503)              # PASS before USER
        c.login("carol", SECRET)
        c.expect(f"PASS {SECRET}", 503)              # PASS while logged in
        c.expect("USER carol", 331)
        c.expect(f"PASS {WRONG}", 530)
        c.login("dave", SECRET, "acct-dave")
        c.expect("USER nobody-here", 331)
        c.expect(f"PASS {SECRET}", 530)
        c.send(f"USER carol\r\nPASS {SECRET}\r\nQUIT\r\n")   # pipelined
        assert [c.reply().code for _ in range(3)] == [331, 230, 221]
    finally:
        c.close()
    srv.stop()
    log = srv.log()
    assert "login ok" in log and "login failed" in log
    assert SECRET not in log
    assert WRONG not in log
    assert SECRET.lower() not in log.lower()


def test_failed_login_log_line(make_server):
    srv = make_server()
    c = Ctl(srv.host, srv.port)
    try:
        c.expect("USER bob", 331)
        c.expect("PASS wrong", 530)
        c.expect("USER nosuch", 331)
        c.expect("PASS wrong", 530)
        c.expect("USER acctuser", 331)
        c.expect("PASS pw", 332)
        c.expect("ACCT wrong", 530)
    finally:
        c.close()
    srv.wait_log(r"login failed", count=3)
    log = srv.log()
    assert 'login failed: user="bob" ip=127.0.0.1' in log
    assert 'login failed: user="nosuch" ip=127.0.0.1' in log
    assert 'login failed: user="acctuser" ip=127.0.0.1' in log
    # one line per event, each with a session id
    for line in log.splitlines():
        if "login failed" in line:
            assert re.search(r" session=\d+ ", line), line


def test_client_text_escaped_in_log(make_server):
    srv = make_server()
    c = Ctl(srv.host, srv.port)
    try:
        # 0xFF must be doubled on the wire (IAC IAC); 0xE9 is a plain 8-bit byte.
        c.send(b'USER q"u\\o\xe9\xff\xff%s%n\r\n')
        assert c.reply().code == 331
        c.expect("PASS wrong", 530)
        c.send(b"CLNT evil\x1b[31m\r\n")          # control bytes: accepted, never logged raw
        assert c.reply().code == 200
        c.send(b"CLNT caf\xc3\xa9 \"x\" \\\r\n")
        assert c.reply().code == 200
    finally:
        c.close()
    srv.wait_log(r"login failed")
    srv.wait_log(r'client: "')
    raw = srv.log_bytes()
    text = raw.decode("utf-8")     # fails on any invalid UTF-8 in the log
    assert r'login failed: user="q\x22u\x5co\xe9\xff%s%n" ip=127.0.0.1' in text, text[-2000:]
    # Valid UTF-8 stays readable (issue 13 item 15).
    assert 'client: "caf\u00e9 \\x22x\\x22 \\x5c"' in text
    assert r'client: "evil\x1b[31m"' in text
    for line in raw.split(b"\n"):
        assert not re.search(rb"[\x00-\x1f\x7f]", line), line


def test_long_user_name_refused_and_log_bounded(make_server):
    srv = make_server()
    c = Ctl(srv.host, srv.port)
    try:
        assert c.cmd("USER " + "u" * 257).code == 501
        c.expect("USER " + "\u00e9" * 128, 331)     # 256 bytes of 8-bit text: 1024 escaped
        c.expect("PASS x", 530)
    finally:
        c.close()
    srv.wait_log("login failed")
    for line in srv.log().splitlines():
        assert len(line) < 2048, line[:200]


# ----------------------------------------------------------- descriptors

def _nofile(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError("no Max open files line")


def _cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_fd_limit_raised_for_max_sessions(make_server):
    # A soft limit of 256 (1024 is the usual default) would cap ferryd far
    # below max_sessions; the soft limit is raised to 3 per session + 1024,
    # within the hard limit (raising the hard one needs CAP_SYS_RESOURCE).
    srv = make_server(config={"server": {"max_sessions": "2000"}}, wrapper=["prlimit", "--nofile=256:8192"])
    assert _nofile(srv.pid) == (2000 * 3 + 1024, 8192)
    assert "file descriptors" not in srv.log()


@pytest.mark.skipif(not IS_ROOT, reason="drops CAP_SYS_RESOURCE with setpriv")
def test_out_of_descriptors_pauses_accepts_without_spinning(make_server):
    # Without CAP_SYS_RESOURCE the hard limit of 48 stays: ferryd says so at
    # start, and when accept() fails with EMFILE it must neither spin on the
    # still-readable listener nor stop serving once descriptors are free.
    srv = make_server(config={"server": {"max_sessions": "1000", "workers": "1"}},
                      wrapper=["prlimit", "--nofile=48:48", "setpriv", "--inh-caps=-sys_resource",
                               "--bounding-set=-sys_resource"])
    assert "needs up to 4024 file descriptors, but the limit is 48" in srv.log()
    held = []
    try:
        for _ in range(60):  # more than the limit: the rest wait in the backlog
            s = socket.create_connection((srv.host, srv.port), timeout=5)
            held.append(s)
        srv.wait_log("accept failed: Too many open files; pausing accepts", timeout=5)
        cpu0 = _cpu_seconds(srv.pid)
        time.sleep(1.0)
        assert _cpu_seconds(srv.pid) - cpu0 < 0.3, "ferryd spins while out of descriptors"
        assert srv.alive()
    finally:
        for s in held:
            s.close()
    # Descriptors come back: a new client gets its greeting and can log in.
    # While ferryd still drains the backlog of closed connections it may be
    # at its limit for a moment, and the store's read then fails (421, at
    # USER or at PASS, whichever reads it while the descriptors are taken):
    # that attempt does not count, the next one must succeed.
    def greeted():
        try:
            c = srv.connect()
        except (OSError, Exception):
            return False
        try:
            r = c.cmd("USER bob")
            if r.code == 421:
                return False
            assert r.code == 331, r
            r = c.cmd("PASS pw")
            if r.code == 421:
                assert "user database cannot be read" in r.text, r
                return False
            assert r.code == 230, r
            c.expect("QUIT", 221)
            return True
        finally:
            c.close()
    wait_until(greeted, timeout=10, what="a login after descriptors are free")


def test_sessions_of_one_home_share_the_root_descriptor(make_server):
    # One descriptor per session (its control socket), not two: logged-in
    # sessions of one home share the O_PATH root, so the descriptor limit
    # allows twice as many idle sessions.
    srv = make_server()
    fd_dir = f"/proc/{srv.pid}/fd"

    def fds():
        out = {}
        for f in os.listdir(fd_dir):
            try:
                out[f] = os.readlink(os.path.join(fd_dir, f))
            except FileNotFoundError:
                pass  # closed while we looked
        return out

    def sockets():
        return sum(1 for v in fds().values() if v.startswith("socket:"))
    home = os.path.realpath(home_of(srv))
    sockets_before = sockets()
    sessions = []
    try:
        for _ in range(40):
            c = srv.connect()
            c.login()
            sessions.append(c)
        # Count what the sessions hold, not every descriptor of the process
        # (a loaded machine shows ferryd's own short-lived ones too): 40
        # control sockets and one descriptor of the home between them.
        held = fds().values()
        assert sum(1 for v in held if v == home) == 1, sorted(held)
        assert sum(1 for v in held if v.startswith("socket:")) >= 40
        sessions[0].expect("CWD /", 250)
    finally:
        for c in sessions:
            c.close()
    # Released: the control sockets and the shared root (a job thread's store
    # connection, opened on its first job, stays and is not the sessions').
    wait_until(lambda: sockets() <= sockets_before and home not in fds().values(), timeout=5,
               what="the sessions' descriptors released")
