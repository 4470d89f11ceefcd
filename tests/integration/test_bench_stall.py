"""ferry-bench's --op-timeout (the idle_10000 failure of bench/results/2026-12-07-0501.md:
"session 0 (NOOP, after NOOP): no progress for 30 s").

In idle mode a session's progress clock was last set at its login: the NOOP sent at release did
not restart it, so with 10,000 sessions opened over ~80 s session 0 was already "late" when its
NOOP went out, and the once-a-second scan failed it whenever it ran before the 200 was read.

Here a scripted FTP server (a thread on 127.0.0.1) logs one session in and never answers its
NOOP. The session is held longer than --op-timeout, then released. The generator must wait the
full --op-timeout from the NOOP (a lower bound on elapsed time only: a loaded machine can only
make it longer), and its FAIL message must say what it waited for and what the socket holds.
A partial reply is shown in the message.
"""

import socket
import threading
import time
import types

import pytest

from conftest import HOST
from test_bench_smoke import bench_bin, interactive, result  # noqa: F401  (bench_bin: fixture)

OP_TIMEOUT = 3        # seconds, --op-timeout of the generator
SERVE_BOUND = 120     # seconds: the scripted server gives up after this


class ScriptedFtp:
    """One-connection-at-a-time FTP server: 220, USER -> 331, PASS -> 230 (then `after_login`,
    if any); NOOP -> `noop` (bytes sent as they are, b"" for no answer at all); records each
    command it reads."""

    def __init__(self, noop, after_login=b""):
        self.noop = noop
        self.after_login = after_login
        self.commands = []
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind((HOST, 0))
        self.lsock.listen(8)
        self.lsock.settimeout(SERVE_BOUND)
        self.port = self.lsock.getsockname()[1]
        self.conns = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            c, _ = self.lsock.accept()
        except OSError:
            return
        self.conns.append(c)
        c.settimeout(0.2)
        c.sendall(b"220 scripted\r\n")
        buf = b""
        deadline = time.monotonic() + SERVE_BOUND
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                chunk = c.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b"\r\n" in buf:
                line, buf = buf.split(b"\r\n", 1)
                verb = line.split(b" ", 1)[0].upper()
                self.commands.append(verb.decode())
                if verb == b"USER":
                    c.sendall(b"331 password\r\n")
                elif verb == b"PASS":
                    c.sendall(b"230 in\r\n" + self.after_login)
                elif verb == b"NOOP":
                    if self.noop:
                        c.sendall(self.noop)
                elif verb == b"QUIT":
                    c.sendall(b"221 bye\r\n")
                    return
                else:
                    c.sendall(b"502 not here\r\n")

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        for c in self.conns:
            c.close()
        self.lsock.close()


@pytest.fixture
def scripted():
    servers = []

    def make(noop, after_login=b""):
        s = ScriptedFtp(noop, after_login)
        servers.append(s)
        return s
    yield make
    for s in servers:
        s.close()


def hold_and_release(bench_bin, srv, hold_s):  # noqa: F811  (bench_bin: the fixture's value)
    """idle --sessions 1 against srv: READY, hold hold_s, close stdin. Returns (the completed
    generator's stdout and stderr, its exit status, seconds from the release to its exit)."""
    with interactive(bench_bin, types.SimpleNamespace(port=srv.port), "idle", "--sessions", "1",
                     "--concurrency", "1", "--time", "120", "--op-timeout",
                     str(OP_TIMEOUT)) as p:
        assert p.stdout.readline() == "READY 1\n"
        time.sleep(hold_s)
        released = time.monotonic()
        p.stdin.close()
        p.stdin = None
        out, err = p.communicate(timeout=OP_TIMEOUT + 60)
        return out, err, p.returncode, time.monotonic() - released


def test_a_noop_after_a_hold_longer_than_op_timeout_gets_the_whole_op_timeout(bench_bin,  # noqa: F811
                                                                               scripted):
    srv = scripted(b"")     # never answers the NOOP
    # Held past --op-timeout: the login is older than the timeout when the NOOP goes out.
    out, err, rc, waited = hold_and_release(bench_bin, srv, OP_TIMEOUT + 1.5)
    assert rc == 1, out + err
    assert srv.commands == ["USER", "PASS", "NOOP"], srv.commands
    # The NOOP is sent after the release: the generator may give up no earlier than
    # --op-timeout after it (before the fix it failed within the next 1 s scan).
    assert waited >= OP_TIMEOUT, (waited, err)
    r = result(types.SimpleNamespace(stdout=out, stderr=err))
    assert r["ok"] is False, r
    msg = r["error"]
    assert msg.startswith(f"session 0 (NOOP, after NOOP): no progress for {OP_TIMEOUT} s: "), msg
    # What was awaited and what the socket holds: the server sent nothing, nothing is unread.
    assert " s since NOOP was sent, nothing received since it (last bytes " in msg, msg
    assert ", no partial reply; control connection: ESTABLISHED, 0 bytes received and not read, " \
        in msg, msg
    assert msg.endswith(" [idle: 1 of 1 logged in, released " + msg.split(" released ")[1]), msg
    assert f"ferry-bench: FAIL: idle: {msg}" in err, err


def test_a_partial_reply_is_named_in_the_failure(bench_bin, scripted):  # noqa: F811
    srv = scripted(b"200 NOO")      # a reply line that never ends
    out, err, rc, waited = hold_and_release(bench_bin, srv, 0)
    assert rc == 1, out + err
    assert waited >= OP_TIMEOUT, (waited, err)
    msg = result(types.SimpleNamespace(stdout=out, stderr=err))["error"]
    assert msg.startswith(f"session 0 (NOOP, after NOOP): no progress for {OP_TIMEOUT} s: "), msg
    assert ", last bytes received " in msg and ", 7 bytes of a partial reply: 200 NOO; " in msg, msg
    assert "control connection: ESTABLISHED, 0 bytes received and not read, " in msg, msg


def test_a_server_idle_timeout_while_held_names_the_reply_and_the_phase(bench_bin,  # noqa: F811
                                                                        scripted):
    """What ferryd does to a session idle past [server] idle_timeout (421, then it closes): the
    generator fails at once, naming the reply and how far the run got (not "no progress")."""
    srv = scripted(b"", after_login=b"421 Idle timeout, closing control connection.\r\n")
    with interactive(bench_bin, types.SimpleNamespace(port=srv.port), "idle", "--sessions", "1",
                     "--time", "120", "--op-timeout", str(OP_TIMEOUT)) as p:
        p.wait(timeout=60)      # stdin stays open: nothing releases the hold
        out, err = p.stdout.read(), p.stderr.read()
    assert p.returncode == 1, out + err
    msg = result(types.SimpleNamespace(stdout=out, stderr=err))["error"]
    assert msg.startswith("session 0 (ready, after PASS ****): unexpected reply: 421 Idle timeout, "
                          "closing control connection. [idle: 1 of 1 logged in, not released, "), msg
