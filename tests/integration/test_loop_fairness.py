"""Issue 13 item 3: one client's pipelined commands must not freeze a worker.

SIZE in TYPE A (and the TYPE A count in RETR's 150 reply) reads the whole file, up to
64 MiB: it runs on the job pool, never on the event loop. And a session runs a bounded share
of its pipelined commands per loop round, then lets the other sessions of its worker in.

One worker and one pool thread make the order of events deterministic. The checks compare
progress (how far one client had got when another was served, or the order of events in the
JSON log), never wall-clock times."""

import json
import os
import shutil
import socket
import tempfile

import pytest

from conftest import wait_until
from files_helpers import chown_svc

MIB = 1 << 20
LINE = b"x" * 63 + b"\n"  # TYPE A sends 65 octets for each 64 bytes


def big_file(srv, name, size):
    """A text file of `size` bytes (LF every 64 bytes) in bob's home; its TYPE A size."""
    path = os.path.join(srv.home_root, "bob", name)
    with open(path, "wb") as f:
        chunk = LINE * (MIB // len(LINE))
        for _ in range(size // MIB):
            f.write(chunk)
    chown_svc(path)
    return size + size // len(LINE)


def available(c):
    """Everything the server has sent to c so far (without waiting), into c.buf."""
    c.sock.setblocking(False)  # with a timeout, recv() would poll for data first
    try:
        while True:
            try:
                chunk = c.sock.recv(1 << 20)
            except BlockingIOError:
                return c.buf
            if not chunk:
                return c.buf
            c.buf += chunk
    finally:
        c.sock.settimeout(c.timeout)


@pytest.fixture
def logdir():
    d = tempfile.mkdtemp(prefix="ferry-fair-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


ONE_WORKER = {"server": {"workers": "1", "jobs": "1"}}


def test_pipelined_ascii_size_leaves_the_worker_to_others(make_server, ctl):
    """Client A pipelines 100 TYPE A SIZEs of a 16 MiB file; client B, on the same worker,
    connects, logs in and gets a NOOP answered before A's pipeline is half done (with the
    counting on the loop, B got its greeting only after all 100)."""
    srv = make_server(config=ONE_WORKER)
    want = big_file(srv, "big.txt", 16 * MIB)
    n = 100
    a = ctl(srv)
    a.login()
    a.expect("TYPE A", 200)
    a.send(b"SIZE big.txt\r\n" * n)
    b = ctl(srv, timeout=60)  # without the fix: served after all of A's SIZEs
    b.login()
    b.expect("NOOP", 200)
    done_when_b_served = available(a).count(b"\r\n")
    assert done_when_b_served < n // 2, f"A had {done_when_b_served} of {n} SIZE replies when B was served"
    replies = [a.reply(timeout=60) for _ in range(n)]
    assert {(r.code, r.text) for r in replies} == {(213, str(want))}
    # TYPE I: the byte count, as before.
    a.expect("TYPE I", 200)
    assert a.cmd("SIZE big.txt").text == str(16 * MIB)


def test_ascii_size_limit_kept(make_server, ctl):
    """Above 64 MiB SIZE in TYPE A is refused at once (no file read at all)."""
    srv = make_server(config=ONE_WORKER)
    path = os.path.join(srv.home_root, "bob", "huge.txt")
    with open(path, "wb") as f:
        f.truncate(64 * MIB + 1)  # sparse: costs no disk
    chown_svc(path)
    c = ctl(srv)
    c.login()
    c.expect("TYPE A", 200)
    r = c.cmd("SIZE huge.txt")
    assert (r.code, r.text) == (550, "File too large for SIZE in ASCII mode; use TYPE I.")
    c.expect("TYPE I", 200)
    assert c.cmd("SIZE huge.txt").text == str(64 * MIB + 1)


def test_pipelined_commands_yield_to_other_sessions(make_server, ctl, logdir):
    """Client A pipelines 10000 commands (unknown ones, so that each is a line in the JSON
    event log: the server's own record of the order it ran commands in); client B's command,
    sent right after, must run between them, not after all of them.

    The pool's one thread is first kept busy by four other clients' counts of a 60 MiB file,
    so that A's batch and B's command are both waiting when they end: A's batch is released
    by A's SIZE of a tiny file, B's command by B's, right after it in the pool's queue."""
    js = os.path.join(logdir, "events.json")
    srv = make_server(config={**ONE_WORKER, "log": {"json": js}})
    big_file(srv, "big.txt", 60 * MIB)
    tiny = os.path.join(srv.home_root, "bob", "tiny.txt")
    with open(tiny, "wb") as f:
        f.write(b"a\n")
    chown_svc(tiny)
    clients = [ctl(srv) for _ in range(6)]
    for c in clients:
        c.login()
        c.expect("TYPE A", 200)
    a, b, gates = clients[0], clients[1], clients[2:]
    # As many as fit in the session's 64 KiB input buffer (and their replies in its 256 KiB
    # output cap): without the yield they all ran in one go.
    n = 10000
    for g in gates:
        g.send(b"SIZE big.txt\r\n")
    a.send(b"SIZE tiny.txt\r\n" + b"XYZA\r\n" * n)
    b.send(b"SIZE tiny.txt\r\nXYZB\r\n")
    assert b.reply(timeout=60).code == 213
    assert b.reply(timeout=60).code == 500
    for g in gates:
        assert g.reply(timeout=60).code == 213
    assert a.reply(timeout=60).code == 213
    for _ in range(n):
        assert a.reply(timeout=60).code == 500

    def order():
        verbs = []
        with open(js, "rb") as f:
            for line in f.read().decode().splitlines():
                e = json.loads(line)
                if e.get("event") == "command_error" and e.get("cmd") in ("XYZA", "XYZB"):
                    verbs.append(e["cmd"])
        return verbs if len(verbs) == n + 1 else None

    verbs = wait_until(order, 10.0, what="the JSON log of all the commands")
    after_b = len(verbs) - 1 - verbs.index("XYZB")
    assert after_b >= n // 2, f"B's command ran after {n - after_b} of A's {n} pipelined ones"
