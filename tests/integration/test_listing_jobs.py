"""Huge listings are made on the job pool (issue 15, "Small files and listings"): reading a
directory and stat'ing its entries never holds up the other sessions of the worker, the bytes
stay exact, and a listing interrupted by ABOR, a lost data connection or a vanished client ends
cleanly (the job that was making a chunk finishes after the session is gone; ASan-clean).

The server runs one worker, so every session shares the loop that sends the listing.

The stall test does not time the listing. It asks an ordering question the kernel answers:
with SO_TIMESTAMPNS on both control connections, did the NOOP's reply reach the client before
the MLSD's 226? The listing's data connection gets a receive buffer larger than the whole
listing (SO_RCVBUFFORCE, root only), so a server that makes the listing on its loop writes all
of it, and its 226, before it reads the next command of any session; a server that makes it on
the job pool answers the NOOP between two chunks. The NOOP is sent as soon as the 150 arrives,
and the listing then has 100,000 entries left to go."""

import os
import re
import socket
import struct
import time

import pytest

from conftest import IS_ROOT, FerryServer
from files_helpers import Session, connect_data, make_dir, recv_all
from test_listing import expected_facts, expected_list_line, lines

N = 100_000
SO_RCVBUFFORCE = 33   # <asm-generic/socket.h>; not in Python's socket module
SO_TIMESTAMPNS = 35   # SO_TIMESTAMPNS_OLD: the cmsg carries a struct timespec (CLOCK_REALTIME)
BIG_TIMEOUT = 180.0   # one 100,000-entry listing under ASan on a loaded machine, generously


@pytest.fixture(scope="module")
def srv(ferry_bin):
    s = FerryServer(ferry_bin, config={"server": {"workers": "1"}})
    s.start()
    yield s
    s.teardown()


@pytest.fixture
def one_worker(srv):
    """The module's one-worker server; after each test it must be alive and ASan-clean."""
    yield srv
    srv.check_log()
    assert srv.alive(), f"ferryd died:\n{srv.log()[-3000:]}"


def _names():
    return ["entry-%06d" % i for i in range(N)]


@pytest.fixture(scope="module")
def huge(srv):
    """A 100,000-entry directory with varied entries: sizes, modes, mtimes from 2015 to an hour
    ago (none near the six-month or future boundaries of LIST), every 1000th a directory, every
    997th a symlink (LIST shows its target; MLSD does not follow it)."""
    path = os.path.join(srv.home_root, "bob", "huge")
    make_dir(path)
    now = int(time.time())
    t0 = time.monotonic()
    for i, n in enumerate(_names()):
        p = os.path.join(path, n)
        if i % 1000 == 0:
            os.mkdir(p, 0o755)
        elif i % 997 == 0:
            os.symlink("target-%d" % i, p)
            continue
        else:
            fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o600 if i % 7 == 0 else 0o644)
            os.ftruncate(fd, i % 5000)
            os.close(fd)
        # recent: within the last 30 days; old: 2015..2020
        mtime = now - 3600 - (i % 30) * 86400 - i if i % 2 else 1420070400 + i * 1700
        os.utime(p, (mtime, mtime))
    print(f"\ncreated {N} entries in {time.monotonic() - t0:.1f}s")
    return path, "/huge"


class TsReader:
    """Reads CRLF lines from a socket with SO_TIMESTAMPNS on; each line comes with the kernel's
    receive time (ns, CLOCK_REALTIME) of the segment that completed it."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.ts = 0

    def line(self, timeout=BIG_TIMEOUT):
        deadline = time.monotonic() + timeout
        while b"\r\n" not in self.buf:
            left = deadline - time.monotonic()
            assert left > 0, f"no reply line within {timeout}s: {self.buf[:200]!r}"
            self.sock.settimeout(left)
            data, anc, _, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(16))
            assert data, f"connection closed; buffered {self.buf!r}"
            for level, kind, raw in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", raw[:16])
                    self.ts = sec * 1_000_000_000 + nsec
            self.buf += data
        i = self.buf.index(b"\r\n")
        out, self.buf = self.buf[:i], self.buf[i + 2:]
        return out.decode("utf-8", "replace"), self.ts


def _big_data_socket(s):
    """A passive data connection whose receive buffer holds a whole 100,000-entry listing (set
    before connect, so the window scale allows it)."""
    if not IS_ROOT:
        pytest.skip("SO_RCVBUFFORCE needs root")
    port = s.pasv()
    d = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    d.settimeout(BIG_TIMEOUT)
    d.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 256 << 20)
    d.connect((s.host, port))
    return d


def test_noop_answered_while_a_huge_mlsd_is_made(one_worker, huge):
    """A 100,000-entry MLSD in one session does not hold up a NOOP in another session of the
    same worker: the NOOP's reply arrives before the MLSD's 226, and within a generous bound."""
    path, v = huge
    a, b = Session(one_worker), Session(one_worker)
    try:
        for s in (a, b):
            s.c.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        ra, rb = TsReader(a.c.sock), TsReader(b.c.sock)
        d = _big_data_socket(a)
        try:
            a.c.send(f"MLSD {v}\r\n")
            first, _ = ra.line()
            assert first.startswith("150 "), first
            sent = time.time_ns()
            b.c.send("NOOP\r\n")
            noop, noop_ts = rb.line(timeout=30)
            assert noop.startswith("200 "), noop
            data = recv_all(d, timeout=BIG_TIMEOUT)
        finally:
            d.close()
        end, end_ts = ra.line()
        assert end.startswith("226 "), end
        assert len(lines(data)) == N
        assert noop_ts < end_ts, ("the NOOP was answered only after the whole listing was made: "
                                  "the listing held the worker's loop")
        assert noop_ts - sent < 500_000_000, f"NOOP took {(noop_ts - sent) / 1e6:.0f} ms"
    finally:
        a.close()
        b.close()


def _listing(s, verb, v):
    d = s.open_passive()
    try:
        s.expect(f"{verb} {v}", 150)
        data = recv_all(d, timeout=BIG_TIMEOUT)
    finally:
        d.close()
    assert s.reply(timeout=BIG_TIMEOUT).code == 226
    return data


def test_huge_list_bytes_exact(one_worker, huge):
    """LIST of 100,000 entries: every line exactly as lstat(2) of the entry says."""
    path, v = huge
    s = Session(one_worker)
    try:
        now = int(time.time())
        got = lines(_listing(s, "LIST", v))
    finally:
        s.close()
    want = [expected_list_line(os.path.join(path, n), n, now) for n in os.listdir(path)]
    assert len(got) == N
    assert sorted(got) == sorted(want)


def test_huge_mlsd_bytes_exact(one_worker, huge):
    """MLSD of 100,000 entries: every fact line exactly as lstat(2) of the entry says."""
    path, v = huge
    s = Session(one_worker)
    try:
        got = lines(_listing(s, "MLSD", v))
    finally:
        s.close()
    want = [(expected_facts(os.path.join(path, n)) + " " + n).encode() for n in os.listdir(path)]
    assert len(got) == N
    assert sorted(got) == sorted(want)
    types = {x.split(b";", 1)[0] for x in got}
    assert types == {b"type=file", b"type=dir", b"type=OS.unix=symlink"}


def _healthy(srv, v):
    """Another session lists the huge directory completely (NLST) and gets NOOP answered."""
    s = Session(srv)
    try:
        s.expect("NOOP", 200)
        assert len(lines(_listing(s, "NLST", v))) == N
    finally:
        s.close()


@pytest.mark.parametrize("read_first", [0, 100, 1 << 20])
def test_abor_mid_listing(one_worker, huge, read_first):
    """ABOR while the listing is being made or is blocked on a client that stopped reading:
    426 then 226, the session goes on, and the server stays healthy."""
    path, v = huge
    s = Session(one_worker)
    try:
        d = s.open_passive(rcvbuf=65536)
        try:
            s.expect(f"MLSD {v}", 150)
            got = 0
            while got < read_first:
                chunk = d.recv(min(65536, read_first - got))
                assert chunk
                got += len(chunk)
            s.c.send(b"ABOR\r\n")
            assert s.reply(30).code == 426
            assert s.reply(30).code == 226
        finally:
            d.close()
        s.expect("NOOP", 200)
        got = sorted(lines(_listing(s, "NLST", v + "/entry-00000*")))
        assert got == [b"%s/entry-%06d" % (v.encode(), i) for i in range(10)]
    finally:
        s.close()
    _healthy(one_worker, v)


@pytest.mark.parametrize("how", ["control", "data", "both"])
def test_disconnect_mid_listing(one_worker, huge, how):
    """The client goes away mid-listing (its control connection, its data connection, or both):
    the job making a chunk finishes after the transfer (or the session) is gone, and the server
    stays healthy and ASan-clean."""
    path, v = huge
    ended = re.compile(r'transfer: [^\n]*cmd=(?:LIST|MLSD) path="/huge" [^\n]*status=(?:aborted|failed)')
    before = len(ended.findall(one_worker.log()))
    s = Session(one_worker)
    d = s.open_passive(rcvbuf=65536)
    s.expect(f"MLSD {v}", 150)
    assert d.recv(100)
    if how in ("data", "both"):
        d.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
        d.close()
    if how in ("control", "both"):
        s.close()
    if how == "data":
        assert s.reply(30).code == 426
        s.expect("NOOP", 200)
        s.close()
    else:
        d.close()
    one_worker.wait_log(ended.pattern, timeout=30, count=before + 1)  # the transfer ended, logged
    _healthy(one_worker, v)


def test_pattern_in_huge_directory(one_worker, huge):
    """Decision 14 on 100,000 entries: the first match is looked for on the job pool; no match
    is 450, the matches are listed exactly."""
    path, v = huge
    s = Session(one_worker)
    try:
        s.pasv()
        r = s.cmd(f"NLST {v}/nomatch*")
        assert r.lines == ["450 No files match that pattern."]
        got = sorted(lines(_listing(s, "NLST", f"{v}/entry-09999?")))
        assert got == [b"%s/entry-%06d" % (v.encode(), i) for i in range(99990, 100000)]
        now = int(time.time())
        got = lines(_listing(s, "LIST", f"{v}/*-099999"))
        assert got == [expected_list_line(os.path.join(path, "entry-099999"), "entry-099999", now)]
        s.expect("NOOP", 200)
    finally:
        s.close()


def test_stat_of_huge_directory(one_worker, huge):
    """STAT of a 100,000-entry directory (read on the job pool): 212, LIST lines over the control
    connection, cut short at the reply's bound and saying so."""
    path, v = huge
    s = Session(one_worker)
    try:
        now = int(time.time())
        r = s.expect(f"STAT {v}", 212, timeout=60)
    finally:
        s.close()
    assert r.lines[0] == f"212-Status of {v}:"
    assert r.lines[-1] == "212 End of status (listing cut short; use LIST)."
    body = r.lines[1:-1]
    assert 1000 < len(body) < N and len(r.raw) < 160 * 1024
    for line in body[:50] + body[-50:]:
        name = line.rsplit(" -> ", 1)[0].rsplit(" ", 1)[1]
        assert line.lstrip().encode() == expected_list_line(os.path.join(path, name), name, now)
