"""systemd integration (issue 9): socket activation through systemd-socket-activate
(LISTEN_FDS / LISTEN_FDNAMES) and sd_notify state reports checked on a NOTIFY_SOCKET the
test listens on (an abstract AF_UNIX datagram socket, so the service user may send to it).

ferryd is exec'd by systemd-socket-activate on the first connection (the readiness probe),
keeps its pid, and must serve on the passed sockets, not on [server] listen."""

import os
import shutil
import signal
import socket
import ssl
import time

import pytest

from conftest import HOST, Ctl, free_port, require_feature
from tls_helpers import client_ctx, make_cert

SSA = shutil.which("systemd-socket-activate") or "/lib/systemd/systemd-socket-activate"

pytestmark = pytest.mark.skipif(not os.access(SSA, os.X_OK), reason="systemd-socket-activate missing")


class Notify:
    """An abstract-namespace datagram socket standing in for systemd's notify socket."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.name = f"ferry-notify-{os.getpid()}-{time.monotonic_ns()}"
        self.sock.bind("\0" + self.name)
        self.sock.settimeout(0.2)
        self.messages = []

    @property
    def env(self):
        return "@" + self.name

    def poll(self):
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except (socket.timeout, BlockingIOError):
                return self.messages

    def wait_for(self, key, count=1, timeout=5.0):
        """Waits until `count` messages contain the line `key` (e.g. READY=1)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [m for m in self.poll() if key in m.split("\n")]
            if len(got) >= count:
                return got
        pytest.fail(f"no {count}x {key} within {timeout}s; got {self.messages!r}")

    def close(self):
        self.sock.close()


@pytest.fixture
def notify(ferry_bin):
    require_feature(ferry_bin, "systemd")  # every user of it runs ferryd under socket activation
    n = Notify()
    yield n
    n.close()


def activated(make_server, notify, port, extra_listen=(), fdnames="ftp", config=None):
    listen = ["-l", f"{HOST}:{port}"]
    for p in extra_listen:
        listen += ["-l", f"{HOST}:{p}"]
    wrapper = [SSA, *listen, f"--fdname={fdnames}", "-E", "NOTIFY_SOCKET", "-E", "ASAN_OPTIONS",
               "-E", "UBSAN_OPTIONS"]
    # [server] listen names another port: ferryd must not bind it.
    unused = free_port()
    s = make_server(config=config, listen=f"{HOST}:{unused}", env={"NOTIFY_SOCKET": notify.env},
                    wrapper=wrapper, start=False)
    s.unused_port = unused
    s.port = port  # the probe and connect() use the activated socket
    s.start()
    return s


def test_socket_activation_serves_passed_socket(make_server, notify):
    port = free_port()
    s = activated(make_server, notify, port)
    ready = notify.wait_for("READY=1")
    assert any(l.startswith("STATUS=serving: 2 worker(s), 1 listener(s)") for l in ready[0].split("\n")), ready
    s.wait_log(r"socket activation: 1 socket\(s\) passed")
    # Both workers accept from the one shared socket: many sessions in a row all work.
    for _ in range(20):
        c = s.connect()
        assert c.greeting.code == 220
        c.login()
        c.expect("QUIT", 221)
        c.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((HOST, s.unused_port), timeout=2).close()


def test_notify_reload_and_stopping(make_server, notify):
    port = free_port()
    s = activated(make_server, notify, port)
    notify.wait_for("READY=1")
    line = s.reload()
    assert "configuration reloaded" in line
    msgs = notify.poll()
    rel = [i for i, m in enumerate(msgs) if "RELOADING=1" in m.split("\n")]
    assert len(rel) == 1, msgs
    assert any(l.startswith("MONOTONIC_USEC=") for l in msgs[rel[0]].split("\n")), msgs
    # READY=1 again after the reload, and after the RELOADING=1.
    assert [m for m in msgs[rel[0] + 1:] if "READY=1" in m.split("\n")], msgs
    # A failed reload also ends with READY=1 (the running configuration stays).
    with open(s.config_path, "a") as f:
        f.write("\n[server]\nno_such_key = 1\n")
    assert "reload failed" in s.reload()
    notify.wait_for("RELOADING=1", count=2)
    notify.wait_for("READY=1", count=3)
    c = s.connect()
    c.login()
    c.close()
    s.signal(signal.SIGTERM)
    notify.wait_for("STOPPING=1")
    assert s.wait_exit() == 0


def test_socket_activation_implicit_ftps_by_name(make_server, notify, tmp_path):
    os.chmod(tmp_path, 0o755)
    cert, key = make_cert(str(tmp_path), "srv")
    port, ftps = free_port(), free_port()
    s = activated(make_server, notify, port, extra_listen=[ftps], fdnames="ftp:ftps",
                  config={"tls": {"cert": cert, "key": key}})
    notify.wait_for("READY=1")
    # Plain FTP on the first socket.
    c = s.connect()
    assert c.greeting.code == 220
    c.close()
    # TLS from the first byte on the socket named "ftps".
    raw = socket.create_connection((HOST, ftps), timeout=5)
    tls = client_ctx().wrap_socket(raw, server_hostname="localhost")
    greeting = tls.recv(4096)
    assert greeting.startswith(b"220 "), greeting
    tls.close()


def test_implicit_socket_without_cert_refused(make_server, notify):
    port, ftps = free_port(), free_port()
    wrapper = [SSA, "-l", f"{HOST}:{port}", "-l", f"{HOST}:{ftps}", "--fdname=ftp:ftps",
               "-E", "ASAN_OPTIONS", "-E", "UBSAN_OPTIONS"]
    s = make_server(listen=f"{HOST}:{free_port()}", wrapper=wrapper, start=False)
    s.start(wait_greeting=False)
    s.wait_log(r"Listening on .* as 4\.")
    # The first connection launches ferryd, which must refuse to start.
    try:
        socket.create_connection((HOST, port), timeout=2).close()
    except OSError:
        pass
    assert s.wait_exit(10) == 1
    assert "implicit FTPS socket" in s.log()


def test_without_systemd_no_notify_needed(make_server):
    # No LISTEN_FDS and no NOTIFY_SOCKET: ferryd binds [server] listen as always.
    s = make_server()
    c = s.connect()
    c.login()
    c.close()
    assert "socket activation" not in s.log()


def test_units_verify(ferry_bin, tmp_path):
    """The shipped units parse cleanly (systemd-analyze verify), with ExecStart pointed at
    the built ferryd, and keep a low exposure score."""
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze missing")
    import subprocess
    from conftest import REPO
    src = os.path.join(REPO, "packaging", "systemd")
    names = ["ferryd.service", "ferryd.socket", "ferryd-ftps.socket", "ferryd-sftp.socket"]
    for n in names:
        with open(os.path.join(src, n)) as f:
            text = f.read().replace("/usr/sbin/ferryd", ferry_bin.ferryd)
        (tmp_path / n).write_text(text)
    cp = subprocess.run([analyze, "verify", "--man=no", *[str(tmp_path / n) for n in names]],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0 and cp.stdout + cp.stderr == "", cp.stdout + cp.stderr
    cp = subprocess.run([analyze, "security", "--offline=yes", "--threshold=45",
                         str(tmp_path / "ferryd.service")], capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stdout[-2000:]
