"""Transfers and data connections against the real ferryd (PROTOCOL.md checklist F 109-137 and
G 138-147, Decisions 4 and 10, §2.3 and §2.5; issue 3: atomic uploads, bounce protection,
foreign passive connections, ABOR with urgent data, large checksummed transfers).

Exact bytes are compared on the wire and on disk. Every wait is bounded."""

import ftplib
import hashlib
import os
import random
import re
import socket
import stat
import time

import pytest

from conftest import HOST, free_port, free_range, ipv6_loopback_available, wait_until
from files_helpers import (fresh_dir, DATA_TIMEOUT, BIG_TIMEOUT, Session, big_payload, chown_svc,  # noqa: F401
                           closed_by_peer, connect_data, hard_close, home_of, make_dir, parse227,
                           parse229, put_file, read_bytes, recv_all, recv_hash, send_file,
                           sha256_file, text_1000)

RNG = random.Random(4242)


def rand_bytes(n):
    return RNG.randbytes(n)


@pytest.fixture
def wd(server, request):
    """(host path, virtual path) of a fresh directory for this test."""
    return fresh_dir(server, request, "tx_")


@pytest.fixture
def sess(server, wd):
    s = Session(server, cwd=wd[1])
    yield s
    s.close()


def sparse_file(path, size):
    with open(path, "wb") as f:
        f.truncate(size)
    chown_svc(path)
    return path


def drain_until_closed(sock, timeout=DATA_TIMEOUT):
    """Reads and discards until EOF or reset; returns the byte count. Bounded."""
    deadline = time.monotonic() + timeout
    total = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"data connection still open after {timeout}s ({total} bytes)")
        sock.settimeout(left)
        try:
            b = sock.recv(1 << 20)
        except (ConnectionResetError, BrokenPipeError):
            return total
        if not b:
            return total
        total += len(b)


# ======================================================================= F. parameters

def test_type_mode_stru(sess):
    for arg in ("A", "A N", "a n", "I", "i", "L 8"):
        sess.expect(f"TYPE {arg}", 200)
    for arg in ("E", "A T", "A C", "L 7"):
        sess.expect(f"TYPE {arg}", 504)
    for arg in ("X", "A X", "I X", "AA"):
        sess.expect(f"TYPE {arg}", 501)
    sess.expect("MODE S", 200)
    sess.expect("mode s", 200)
    sess.expect("MODE B", 504)
    sess.expect("MODE C", 504)
    sess.expect("MODE Q", 501)
    sess.expect("STRU F", 200)
    sess.expect("STRU P", 504)
    sess.expect("STRU R", 504)
    sess.expect("STRU X", 501)


def test_allo(sess):
    assert sess.expect("ALLO 1000", 202).code == 202
    assert sess.cmd("ALLO").code in (200, 202)


# ======================================================================= F. PASV / EPSV

def test_pasv_reply_and_connect(sess, wd):
    p, v = wd
    put_file(os.path.join(p, "f"), b"hello")
    r = sess.expect("PASV", 227)
    m = re.fullmatch(r"227 Entering Passive Mode \((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)\.", r.lines[0])
    assert m, r
    host, port = parse227(r)
    assert host == "127.0.0.1"
    assert 49152 <= port <= 65534     # the default range
    d = connect_data(HOST, port)
    try:
        assert sess.expect("RETR f", 150)
        assert recv_all(d) == b"hello"
    finally:
        d.close()
    assert sess.reply(DATA_TIMEOUT).code == 226


def test_pasv_twice_offers_one_listener(sess, wd):
    # A session keeps one passive listener: asked again, it names the same
    # port (a fresh bind per file costs; the peer check keeps others out).
    p, v = wd
    put_file(os.path.join(p, "f"), b"second")
    first = sess.pasv()
    second = sess.pasv()
    assert first == second
    d = connect_data(HOST, second)
    try:
        sess.expect("RETR f", 150)
        assert recv_all(d) == b"second"
    finally:
        d.close()
    assert sess.reply(DATA_TIMEOUT).code == 226


def retr_x(sess, port):
    """RETR of the one-byte file f over a connection to the passive port: b"x", then 226."""
    d = connect_data(HOST, port)
    try:
        sess.expect("RETR f", 150)
        assert recv_all(d) == b"x"
    finally:
        d.close()
    assert sess.reply(DATA_TIMEOUT).code == 226


def test_pasv_listener_after_transfer(sess, wd):
    p, v = wd
    put_file(os.path.join(p, "f"), b"x")
    port = sess.pasv()
    retr_x(sess, port)
    # RFC 1123 §4.1.2.6: a fresh PASV for every transfer
    r = sess.expect("RETR f", 425)
    assert r.lines == ["425 Use PORT, PASV, EPRT or EPSV first."]
    # A connection made before the next PASV is not taken for its answer:
    # it is closed, and the transfer uses the one made after the 227.
    stale = connect_data(HOST, port, timeout=3)
    try:
        assert sess.pasv() == port
        retr_x(sess, port)
        assert closed_by_peer(stale, timeout=5)
    finally:
        stale.close()
    # Unused for a second, the listener closes.
    time.sleep(1.5)
    with pytest.raises(ConnectionRefusedError):
        connect_data(HOST, port, timeout=3).close()


def test_pasv_reuse_drops_a_connection_queued_before_it(server, sess, wd):
    """A connection queued on the reused passive listener when the PASV that offers it again is
    handled predates that 227: it is closed, never taken as the answer. Made deterministic by
    stopping ferryd while the PASV and the early connection arrive, in that order, so the PASV is
    handled before the listener's event (it failed this way once in CI)."""
    import signal
    p, v = wd
    put_file(os.path.join(p, "f"), b"x")
    port = sess.pasv()
    retr_x(sess, port)
    os.kill(server.pid, signal.SIGSTOP)

    def stopped():  # every thread, as SIGSTOP takes effect asynchronously
        for tid in os.listdir(f"/proc/{server.pid}/task"):
            with open(f"/proc/{server.pid}/task/{tid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "T":
                    return False
        return True
    try:
        assert wait_until(stopped, 10), "ferryd did not stop"
        sess.c.send(b"PASV\r\n")
        early = connect_data(HOST, port, timeout=3)  # the kernel completes it in the backlog
    finally:
        os.kill(server.pid, signal.SIGCONT)
    try:
        r = sess.reply(DATA_TIMEOUT)
        assert r.code == 227 and parse227(r)[1] == port, r
        retr_x(sess, port)
        assert closed_by_peer(early, timeout=5)
    finally:
        early.close()


def test_epsv(sess, wd):
    p, v = wd
    put_file(os.path.join(p, "f"), b"epsv data")
    r = sess.expect("EPSV", 229)
    assert re.fullmatch(r"229 Entering Extended Passive Mode \(\|\|\|\d+\|\)", r.lines[0]), r
    port = parse229(r)
    d = connect_data(HOST, port)
    try:
        sess.expect("RETR f", 150)
        assert recv_all(d) == b"epsv data"
    finally:
        d.close()
    assert sess.reply(DATA_TIMEOUT).code == 226
    assert parse229(sess.expect("EPSV 1", 229)) > 0
    r = sess.expect("EPSV 2", 522)
    assert "(1)" in r.text
    sess.expect("EPSV 3", 501)
    sess.expect("EPSV foo", 501)


def test_epsv_all(sess, wd):
    p, v = wd
    put_file(os.path.join(p, "f"), b"all")
    r = sess.expect("EPSV ALL", 200)
    for line in ("PASV", "PORT 127,0,0,1,200,10", "EPRT |1|127.0.0.1|51210|"):
        r = sess.expect(line, 503)
        assert r.lines == ["503 EPSV ALL in effect: only EPSV is allowed."]
    data, _, _ = sess.retr("f", how="epsv")
    assert data == b"all"
    # EPSV ALL lasts for the session
    sess.expect("PASV", 503)


def test_passive_ports_from_configured_range_nonsequential(make_server):
    lo, hi = free_range([HOST], 40)
    srv = make_server({"passive": {"ports": f"{lo}-{hi}"}})
    ports = []
    sessions = []
    try:
        for i in range(20):  # a session keeps its listener: a new session each time
            s = Session(srv)
            sessions.append(s)
            ports.append(s.pasv() if i % 2 else s.epsv())
    finally:
        for s in sessions:
            s.close()
    assert all(lo <= p <= hi for p in ports), ports
    diffs = [b - a for a, b in zip(ports, ports[1:])]
    assert not all(d == 1 for d in diffs), f"passive ports are sequential: {ports}"
    assert len(set(ports)) > 3, ports


def test_passive_address_advertised(make_server):
    srv = make_server({"passive": {"address": "10.1.2.3"}})
    s = Session(srv)
    try:
        home = home_of(srv)
        put_file(os.path.join(home, "f"), b"nat")
        r = s.expect("PASV", 227)
        assert "(10,1,2,3," in r.text, r
        _, port = parse227(r)
        # the listener is still on the control connection's address
        d = connect_data(HOST, port)
        s.expect("RETR f", 150)
        assert recv_all(d) == b"nat"
        d.close()
        assert s.reply(DATA_TIMEOUT).code == 226
    finally:
        s.close()


def test_foreign_passive_connection_refused(server, sess, wd):
    """RFC 2577 §8: a passive data connection from another address is refused; the real client
    can still connect and the transfer works."""
    p, v = wd
    body = rand_bytes(100000)
    put_file(os.path.join(p, "f"), body)
    sess.expect("TYPE I", 200)
    before = server.log().count("data connection from a foreign address refused")
    port = sess.pasv()
    thief = connect_data(HOST, port, source="127.0.0.2")
    try:
        assert closed_by_peer(thief), "connection from 127.0.0.2 was not closed"
    finally:
        thief.close()
    server.wait_log("data connection from a foreign address refused", count=before + 1)
    # ... also while the server is waiting after the transfer command
    sess.expect("RETR f", 150)
    thief = connect_data(HOST, port, source="127.0.0.2")
    try:
        assert closed_by_peer(thief)
    finally:
        thief.close()
    d = connect_data(HOST, port)
    try:
        assert recv_all(d) == body
    finally:
        d.close()
    assert sess.reply(DATA_TIMEOUT).code == 226


def test_foreign_passive_only_times_out_425(make_server):
    srv = make_server({"transfer": {"data_timeout": "3s"}})
    put_file(os.path.join(home_of(srv), "f"), b"secret bytes")
    s = Session(srv)
    try:
        port = s.pasv()
        s.expect("RETR f", 150)
        thief = connect_data(HOST, port, source="127.0.0.2")
        try:
            assert closed_by_peer(thief)
        finally:
            thief.close()
        t0 = time.monotonic()
        r = s.reply(timeout=15)
        assert r.lines == ["425 Cannot open data connection."], r
        assert time.monotonic() - t0 < 10
        s.expect("NOOP", 200)
    finally:
        s.close()


# ======================================================================= F. PORT / EPRT

def test_port_active_retr_and_stor(sess, wd):
    p, v = wd
    body = rand_bytes(300000)
    put_file(os.path.join(p, "f"), body)
    sess.expect("TYPE I", 200)
    data, r1, r2 = sess.retr("f", how="port")
    assert data == body
    assert r2.lines == ["226 Transfer complete."]
    up = rand_bytes(200000)
    sess.stor("up", up, how="port")
    assert read_bytes(os.path.join(p, "up")) == up


def test_eprt_active_retr_and_stor(sess, wd):
    p, v = wd
    body = rand_bytes(123457)
    put_file(os.path.join(p, "f"), body)
    sess.expect("TYPE I", 200)
    data, _, _ = sess.retr("f", how="eprt")
    assert data == body
    up = rand_bytes(99999)
    sess.stor("up", up, how="eprt")
    assert read_bytes(os.path.join(p, "up")) == up
    # LIST through an active connection too
    listing = sess.list_data("NLST", how="eprt")
    assert sorted(listing.split(b"\r\n")) == [b"", b"f", b"up"]


def _listener(host):
    s = socket.socket()
    s.bind((host, 0))
    s.listen(4)
    s.settimeout(0.5)
    return s


def _nothing_connects(lst, wait=1.0):
    lst.settimeout(wait)
    try:
        c, _ = lst.accept()
    except socket.timeout:
        return True
    c.close()
    return False


def test_port_foreign_address_refused(sess, wd):
    p, v = wd
    put_file(os.path.join(p, "f"), b"bounce")
    lst = _listener("127.0.0.2")
    try:
        port = lst.getsockname()[1]
        r = sess.expect("PORT 127,0,0,2,%d,%d" % (port >> 8, port & 255), 500)
        assert r.lines == ["500 Illegal PORT command: address is not the client's."]
        r = sess.expect(f"EPRT |1|127.0.0.2|{port}|", 500)
        assert r.lines == ["500 Illegal EPRT command: address is not the client's."]
        sess.expect("RETR f", 425)
        assert _nothing_connects(lst)
        for line in ("PORT 10,0,0,1,200,0", "PORT 0,0,0,0,200,0", "PORT 255,255,255,255,200,0",
                     "EPRT |1|10.0.0.1|51200|", "EPRT |1|0.0.0.0|51200|"):
            sess.expect(line, 500)
    finally:
        lst.close()


def test_port_below_1024_refused(sess):
    sess.expect("PORT 127,0,0,1,0,21", 504)
    r = sess.expect("PORT 127,0,0,1,3,255", 504)    # 1023
    assert r.lines == ["504 PORT to a port below 1024 is not allowed."]
    sess.expect("PORT 127,0,0,1,4,0", 200)          # 1024
    sess.expect("EPRT |1|127.0.0.1|21|", 504)
    sess.expect("EPRT |1|127.0.0.1|1023|", 504)
    sess.expect("EPRT |1|127.0.0.1|1024|", 200)


def test_port_eprt_syntax(sess):
    for line in ("PORT 127,0,0,1,200", "PORT 127,0,0,1,200,1,1", "PORT 127,0,0,1,256,1",
                 "PORT a,b,c,d,e,f", "PORT 127.0.0.1.200.1", "PORT -1,0,0,1,200,1",
                 "EPRT garbage", "EPRT |1|127.0.0.1|", "EPRT |1|127.0.0.1|65536|",
                 "EPRT |1|127.0.0.1|0|", "EPRT |1|not-an-ip|5000|", "EPRT |1||5000|",
                 "EPRT |1|127.0.0.1|5000|x"):
        r = sess.cmd(line)
        assert r.code == 501, f"{line}: {r!r}"
    r = sess.expect("EPRT |9|x|1|", 522)
    assert "(1)" in r.text, r
    r = sess.expect("EPRT |2|::1|5000|", 522)
    assert "(1)" in r.text, r
    sess.expect("PORT", 501)
    sess.expect("EPRT", 501)


def test_active_connect_refused_425(sess, wd):
    p, v = wd
    put_file(os.path.join(p, "f"), b"x")
    port = free_port()
    sess.expect("PORT 127,0,0,1,%d,%d" % (port >> 8, port & 255), 200)
    r = sess.cmd("RETR f")
    if r.code == 150:
        r = sess.reply(DATA_TIMEOUT)
    assert r.code == 425, r
    sess.expect("NOOP", 200)


@pytest.fixture
def v6_server(make_server):
    if not ipv6_loopback_available():
        pytest.skip("no IPv6 loopback")
    port = free_port(socket.AF_INET6, "::1")
    return make_server(listen=f"[::1]:{port}")


def test_ipv6_epsv_eprt(v6_server):
    srv = v6_server
    home = home_of(srv)
    body = rand_bytes(77777)
    put_file(os.path.join(home, "f"), body)
    s = Session(srv, family=socket.AF_INET6, host="::1")
    try:
        s.expect("TYPE I", 200)
        data, _, _ = s.retr("f", how="epsv")
        assert data == body
        data, _, _ = s.retr("f", how="eprt")
        assert data == body
        s.stor("up6", body[:1000], how="eprt")
        s.stor("up6e", body[:2000], how="epsv")
        assert read_bytes(os.path.join(home, "up6")) == body[:1000]
        assert read_bytes(os.path.join(home, "up6e")) == body[:2000]
        assert "(2)" in s.expect("EPSV 1", 522).text
        assert parse229(s.expect("EPSV 2", 229)) > 0
        s.expect("PASV", 501)
        s.expect("PORT 127,0,0,1,200,1", 522)
        s.expect("EPRT |1|127.0.0.1|51200|", 522)
        s.expect("EPRT |2|::2|51200|", 500)     # not the client's address
        s.expect("EPRT |2|::1|21|", 504)
    finally:
        s.close()


# ======================================================================= F. RETR STOR APPE STOU

def test_retr_exact(sess, wd):
    p, v = wd
    f = text_1000()
    put_file(os.path.join(p, "f"), f)
    sess.expect("TYPE I", 200)
    data, r1, r2 = sess.retr("f")
    assert data == f
    assert r1.lines == ["150 Opening BINARY mode data connection for f (1000 bytes)."]
    assert r2.lines == ["226 Transfer complete."]
    assert ftplib.parse150(r1.lines[0]) == 1000


def test_retr_errors(sess, wd):
    p, v = wd
    make_dir(os.path.join(p, "d"))
    sess.pasv()
    r = sess.expect("RETR nosuch", 550)
    assert r.lines == ["550 No such file or directory."]
    r = sess.expect("RETR d", 550)
    assert r.lines == ["550 Is a directory."]
    sess.expect("RETR", 501)
    # no PASV/PORT at all
    s2 = Session(sess.server, cwd=v)
    try:
        put_file(os.path.join(p, "f"), b"x")
        r = s2.expect("RETR f", 425)
        assert r.lines == ["425 Use PORT, PASV, EPRT or EPSV first."]
        s2.expect("STOR g", 425)
        s2.expect("LIST", 425)
        assert not os.path.exists(os.path.join(p, "g"))
    finally:
        s2.close()


def test_retr_empty(sess, wd):
    p, v = wd
    put_file(os.path.join(p, "empty"), b"")
    data, r1, _ = sess.retr("empty")
    assert data == b""
    assert "(0 bytes)" in r1.text


def test_retr_unreadable_file(sess, wd):
    p, v = wd
    put_file(os.path.join(p, "secret"), b"root only", mode=0o600, owner_svc=False)
    if os.geteuid() != 0:
        pytest.skip("needs root")
    sess.pasv()
    r = sess.expect("RETR secret", 550)
    assert r.lines == ["550 Permission denied."]


def test_stor_binary_exact(sess, wd):
    p, v = wd
    body = rand_bytes(5000)
    sess.expect("TYPE I", 200)
    r1, r2 = sess.stor("g", body)
    assert r1.lines == ["150 Ok to send data."]
    assert r2.lines == ["226 Transfer complete."]
    assert read_bytes(os.path.join(p, "g")) == body
    st = os.stat(os.path.join(p, "g"))
    assert stat.S_IMODE(st.st_mode) == 0o644
    data, _, _ = sess.retr("g")
    assert data == body
    # STOR replaces
    sess.stor("g", b"short")
    assert read_bytes(os.path.join(p, "g")) == b"short"
    # empty upload
    sess.stor("zero", b"")
    assert read_bytes(os.path.join(p, "zero")) == b""
    assert sorted(os.listdir(p)) == ["g", "zero"]


def test_stor_errors(sess, wd):
    p, v = wd
    make_dir(os.path.join(p, "d"))
    sess.pasv()
    r = sess.expect("STOR d", 550)
    assert r.lines == ["550 Is a directory."]
    sess.pasv()
    sess.expect("STOR nodir/f", 550)
    sess.pasv()
    assert sess.cmd("STOR /").code in (550, 553)
    sess.pasv()
    assert sess.cmd("STOR " + "n" * 256).code == 553
    assert os.listdir(p) == ["d"]
    assert os.listdir(os.path.join(p, "d")) == []


def test_stou(sess, wd):
    p, v = wd
    names = []
    for body in (b"unique one", b"unique two"):
        r1, r2 = sess.stor(None, body, verb="STOU")
        m = re.fullmatch(r"150 FILE: (ferry\.[0-9a-f]{8})", r1.lines[0])
        assert m, r1
        assert r2.code == 226
        names.append(m.group(1))
        assert read_bytes(os.path.join(p, m.group(1))) == body
    assert names[0] != names[1]
    assert sorted(os.listdir(p)) == sorted(names)
    # in a subdirectory (the current directory)
    make_dir(os.path.join(p, "sub"))
    sess.expect("CWD sub", 250)
    r1, _ = sess.stor(None, b"in sub", verb="STOU")
    name = r1.text.split()[-1]
    assert read_bytes(os.path.join(p, "sub", name)) == b"in sub"


def test_appe(sess, wd):
    p, v = wd
    f = text_1000()
    put_file(os.path.join(p, "f"), f)
    sess.expect("TYPE I", 200)
    sess.stor("f", b"0123456789", verb="APPE")
    assert read_bytes(os.path.join(p, "f")) == f + b"0123456789"
    sess.stor("new", b"created", verb="APPE")
    assert read_bytes(os.path.join(p, "new")) == b"created"
    sess.stor("new", b"+more", verb="APPE")
    assert read_bytes(os.path.join(p, "new")) == b"created+more"
    make_dir(os.path.join(p, "d"))
    sess.pasv()
    r = sess.expect("APPE d", 550)
    assert r.lines == ["550 Is a directory."]


def test_retr_fifo_does_not_block_the_server(make_server):
    """A FIFO in a home must not stall the event loop (issue 3: one client never stalls
    another): RETR/SIZE of it fail promptly and other sessions keep working."""
    srv = make_server()
    home = home_of(srv)
    fifo = os.path.join(home, "fifo")
    os.mkfifo(fifo)
    chown_svc(fifo)
    s = Session(srv)
    try:
        s.pasv()
        s.c.send("RETR fifo\r\n")
        try:
            r = s.reply(timeout=5)
        except socket.timeout:
            r = None
        other_ok = False
        try:
            o = Session(srv, timeout=3)
            other_ok = o.cmd("NOOP").code == 200
            o.close()
        except (socket.timeout, OSError, AssertionError):
            other_ok = False
        assert r is not None and r.code in (550, 553), \
            f"RETR of a FIFO got no prompt error reply ({r!r}); other session served: {other_ok}"
        assert other_ok
    finally:
        # unblock a reader stuck in open(2), if any
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
        except OSError:
            pass
        s.close()


# ======================================================================= F.128 TYPE A

def test_type_a_retr_converts_lf(sess, wd):
    p, v = wd
    put_file(os.path.join(p, "ab"), b"a\nb\n")
    sess.expect("TYPE A", 200)
    data, r1, _ = sess.retr("ab")
    assert data == b"a\r\nb\r\n"
    # the count announced is the count on the wire (Python and curl read it as the size)
    assert r1.lines == ["150 Opening ASCII mode data connection for ab (6 bytes)."]
    # larger, with chunk-boundary-crossing lines
    lines = [("line %d " % i + "x" * RNG.randrange(0, 200)).encode() for i in range(20000)]
    text = b"\n".join(lines) + b"\n"
    put_file(os.path.join(p, "big.txt"), text)
    data, _, _ = sess.retr("big.txt")
    assert data == text.replace(b"\n", b"\r\n")
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(text.replace(b"\n", b"\r\n")).hexdigest()
    # TYPE I: byte-exact
    sess.expect("TYPE I", 200)
    data, _, _ = sess.retr("ab")
    assert data == b"a\nb\n"


def test_type_a_stor_converts_crlf(sess, wd):
    p, v = wd
    sess.expect("TYPE A", 200)
    sess.stor("ab", b"a\r\nb\r\n")
    assert read_bytes(os.path.join(p, "ab")) == b"a\nb\n"
    # bare CR kept, CR before a non-LF kept, a final CR kept, bare LF kept
    sess.stor("cr", b"x\ry\r\r\nz\n\r")
    assert read_bytes(os.path.join(p, "cr")) == b"x\ry\r\nz\n\r"
    sess.stor("bin", b"\r\x00\r\r\n")
    assert read_bytes(os.path.join(p, "bin")) == b"\r\x00\r\n"
    # CR and LF in different TCP segments
    sess.stor("split", None, chunks=[b"one\r", b"\ntwo\r", b"\n\r", b"\r", b"\nend"])
    assert read_bytes(os.path.join(p, "split")) == b"one\ntwo\n\r\nend"
    # large
    text = b"".join(b"row %d %s\r\n" % (i, b"y" * (i % 97)) for i in range(30000))
    sess.stor("big.txt", text)
    assert read_bytes(os.path.join(p, "big.txt")) == text.replace(b"\r\n", b"\n")
    # APPE in TYPE A converts too
    sess.stor("ab", b"c\r\n", verb="APPE")
    assert read_bytes(os.path.join(p, "ab")) == b"a\nb\nc\n"
    # TYPE I upload: byte-exact
    sess.expect("TYPE I", 200)
    sess.stor("raw", b"a\r\nb\r\n")
    assert read_bytes(os.path.join(p, "raw")) == b"a\r\nb\r\n"


def test_type_a_round_trip(sess, wd):
    p, v = wd
    text = b"".join(b"%d: %s\n" % (i, bytes(RNG.randrange(32, 127) for _ in range(i % 50)))
                    for i in range(5000))
    put_file(os.path.join(p, "t"), text)
    sess.expect("TYPE A", 200)
    wire, _, _ = sess.retr("t")
    sess.stor("t2", wire)
    assert read_bytes(os.path.join(p, "t2")) == text


# ======================================================================= F. ABOR, STAT, lost data

BIG_STALL = 64 << 20   # far more than the socket buffers hold


def _start_stalled_retr(sess, p, name="big"):
    """RETR of a large file whose data connection the client does not read."""
    sparse_file(os.path.join(p, name), BIG_STALL)
    sess.expect("TYPE I", 200)
    d = sess.open_passive(rcvbuf=4096)
    sess.expect(f"RETR {name}", 150)
    d.recv(1000)   # the transfer has started
    time.sleep(0.2)
    return d


def test_abor_idle(sess):
    r = sess.expect("ABOR", 225)
    assert r.lines == ["225 No transfer to abort."]
    sess.expect("NOOP", 200)


def test_abor_during_retr_plain(sess, wd):
    p, v = wd
    d = _start_stalled_retr(sess, p)
    try:
        sess.c.send(b"ABOR\r\n")
        r1 = sess.reply(DATA_TIMEOUT)
        r2 = sess.reply(DATA_TIMEOUT)
        assert r1.lines == ["426 Transfer aborted. Data connection closed."], r1
        assert r2.lines == ["226 Abort successful."], r2
        got = drain_until_closed(d)
        assert got < BIG_STALL
    finally:
        d.close()
    sess.expect("NOOP", 200)
    data, _, _ = sess.retr("big", rest=BIG_STALL - 10)
    assert data == b"\0" * 10


@pytest.mark.parametrize("style", ["tnftp", "lftp", "inline", "vsftpd-literal"])
def test_abor_urgent_telnet_sequences(sess, wd, style):
    """§4 item 3: IAC IP / IAC DM with TCP urgent data, as tnftp and lftp send them."""
    p, v = wd
    d = _start_stalled_retr(sess, p)
    sock = sess.c.sock
    try:
        if style == "tnftp":
            sock.send(b"\xff\xf4\xff", socket.MSG_OOB)
            sock.send(b"\xf2ABOR\r\n")
        elif style == "lftp":
            sock.send(b"\xff\xf4\xff")
            sock.send(b"\xf2", socket.MSG_OOB)
            sock.send(b"ABOR\r\n")
        elif style == "inline":
            sock.send(b"\xff\xf4\xff\xf2ABOR\r\n")
        else:
            sock.send(b"\xff\xf4\xff\xf2ABOR\r\n", socket.MSG_OOB)
        r1 = sess.reply(DATA_TIMEOUT)
        r2 = sess.reply(DATA_TIMEOUT)
        assert (r1.code, r2.code) == (426, 226), (r1, r2)
        drain_until_closed(d)
    finally:
        d.close()
    sess.expect("NOOP", 200)
    assert sess.c.no_data(0.3)


def test_python_ftplib_abort(server, wd):
    p, v = wd
    sparse_file(os.path.join(p, "big"), BIG_STALL)
    f = ftplib.FTP()
    f.connect(server.host, server.port, timeout=10)
    try:
        f.login("bob", "pw")
        f.cwd(v)
        f.voidcmd("TYPE I")
        conn = f.transfercmd("RETR big")
        try:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            assert len(conn.recv(8192)) > 0
            time.sleep(0.2)
            resp = f.abort()   # ABOR\r\n sent with MSG_OOB; reads one reply
            assert resp.startswith("426"), resp
            assert f.voidresp().startswith("226")
        finally:
            hard_close(conn)
        assert f.voidcmd("NOOP").startswith("200")
        assert f.size("big") == BIG_STALL
        assert f.abort().startswith("225")
        f.quit()
    finally:
        f.close()


def test_stat_during_transfer(sess, wd):
    p, v = wd
    size = 8 << 20
    body = rand_bytes(size)
    put_file(os.path.join(p, "f"), body)
    sess.expect("TYPE I", 200)
    d = sess.open_passive(rcvbuf=4096)
    try:
        sess.expect("RETR f", 150)
        first = d.recv(1000)
        time.sleep(0.2)
        r = sess.expect("STAT", 213)
        m = re.fullmatch(r"213 Status: (\d+) bytes transferred\.", r.lines[0])
        assert m, r
        assert 0 <= int(m.group(1)) < size
        rest = recv_all(d)
    finally:
        d.close()
    assert first + rest == body
    assert sess.reply(DATA_TIMEOUT).lines == ["226 Transfer complete."]
    # idle STAT is the multi-line server status again
    assert sess.expect("STAT", 211).lines[-1].startswith("211 ")


def test_commands_during_transfer_wait_in_order(sess, wd):
    p, v = wd
    body = rand_bytes(4 << 20)
    put_file(os.path.join(p, "f"), body)
    sess.expect("TYPE I", 200)
    d = sess.open_passive(rcvbuf=4096)
    try:
        sess.expect("RETR f", 150)
        first = d.recv(1000)
        sess.c.send(b"NOOP\r\nPWD\r\n")
        assert sess.c.no_data(0.5), "a command was answered before the transfer finished"
        rest = recv_all(d)
    finally:
        d.close()
    assert first + rest == body
    assert sess.reply(DATA_TIMEOUT).code == 226
    assert sess.reply().code == 200
    assert sess.reply().code == 257


def test_quit_during_transfer_after_226(sess, wd):
    p, v = wd
    body = rand_bytes(2 << 20)
    put_file(os.path.join(p, "f"), body)
    sess.expect("TYPE I", 200)
    d = sess.open_passive(rcvbuf=4096)
    try:
        sess.expect("RETR f", 150)
        first = d.recv(1000)
        sess.c.send(b"QUIT\r\n")
        rest = recv_all(d)
    finally:
        d.close()
    assert first + rest == body
    assert sess.reply(DATA_TIMEOUT).code == 226
    assert sess.reply().code == 221
    sess.c.assert_closed()


def test_client_closes_data_mid_retr(sess, wd):
    p, v = wd
    d = _start_stalled_retr(sess, p)
    hard_close(d)
    r = sess.reply(DATA_TIMEOUT)
    assert r.lines == ["426 Connection closed; transfer aborted."], r
    sess.expect("NOOP", 200)
    put_file(os.path.join(p, "small"), b"after")
    data, _, _ = sess.retr("small")
    assert data == b"after"


def test_control_closed_mid_retr_aborts_it(server, sess, wd):
    """RFC 959 §4.1.1: closing the control connection during a transfer acts as ABOR + QUIT:
    the server closes the data connection at once instead of waiting for the data timeout."""
    p, v = wd
    d = _start_stalled_retr(sess, p)
    try:
        sess.c.sock.close()
        t0 = time.monotonic()
        drain_until_closed(d, timeout=10)
        assert time.monotonic() - t0 < 5
    finally:
        d.close()
    server.wait_log(r"transfer: .*cmd=RETR path=\"%s/big\".*status=aborted" % re.escape(v), timeout=10)


def test_client_closes_data_mid_retr_fin(sess, wd):
    """A plain close() with unread data: the kernel resets; still 426, never 226."""
    p, v = wd
    d = _start_stalled_retr(sess, p)
    d.close()
    r = sess.reply(DATA_TIMEOUT)
    assert r.code in (426, 451), r
    sess.expect("NOOP", 200)


def test_slow_client_does_not_stall_others(server, sess, wd):
    p, v = wd
    d = _start_stalled_retr(sess, p)
    try:
        others = [Session(server, cwd=v) for _ in range(3)]
        try:
            put_file(os.path.join(p, "small"), rand_bytes(1 << 20))
            t0 = time.monotonic()
            for o in others:
                o.expect("TYPE I", 200)
                data, _, _ = o.retr("small")
                assert len(data) == 1 << 20
                o.expect("NOOP", 200)
            assert time.monotonic() - t0 < 10
        finally:
            for o in others:
                o.close()
        sess.c.send(b"ABOR\r\n")
        assert sess.reply(DATA_TIMEOUT).code == 426
        assert sess.reply(DATA_TIMEOUT).code == 226
    finally:
        d.close()


# ======================================================================= data timeout

@pytest.fixture
def quick_server(make_server):
    return make_server({"transfer": {"data_timeout": "3s"}})


def test_data_timeout_no_connection_425(quick_server):
    srv = quick_server
    home = home_of(srv)
    put_file(os.path.join(home, "f"), b"F")
    put_file(os.path.join(home, "keep"), b"old")
    s = Session(srv)
    try:
        for line in ("RETR f", "STOR keep", "LIST"):
            s.pasv()
            s.expect(line, 150)
            t0 = time.monotonic()
            r = s.reply(timeout=15)
            assert r.lines == ["425 Cannot open data connection."], f"{line}: {r!r}"
            assert 2.0 <= time.monotonic() - t0 < 10, f"{line}: 425 after {time.monotonic() - t0:.1f}s"
        s.expect("NOOP", 200)
    finally:
        s.close()
    assert read_bytes(os.path.join(home, "keep")) == b"old"
    assert sorted(os.listdir(home)) == ["f", "keep"]


def test_data_timeout_stalled_transfers_426(quick_server):
    srv = quick_server
    home = home_of(srv)
    sparse_file(os.path.join(home, "big"), BIG_STALL)
    put_file(os.path.join(home, "keep"), b"old content")
    s = Session(srv)
    try:
        s.expect("TYPE I", 200)
        d = s.open_passive(rcvbuf=4096)
        s.expect("RETR big", 150)
        d.recv(100)
        r = s.reply(timeout=15)
        assert r.code == 426, r
        d.close()
        # an upload that stops sending
        d = s.open_passive()
        s.expect("STOR keep", 150)
        d.sendall(b"partial new")
        r = s.reply(timeout=15)
        assert r.code == 426, r
        d.close()
        s.expect("NOOP", 200)
    finally:
        s.close()
    assert read_bytes(os.path.join(home, "keep")) == b"old content"
    # The stalled upload is kept as bob's hidden partial, for resuming
    # (README: What uploads guarantee).
    assert sorted(_visible(home)) == ["big", "keep"]
    assert [read_bytes(os.path.join(home, n)) for n in _partials(home)] == [b"partial new"]


# ======================================================================= atomic uploads

def _temps(path):
    return [n for n in os.listdir(path) if n.startswith(".ferry-upload.")]


def _partials(path):
    return [n for n in os.listdir(path) if n.startswith(".ferry-partial.")]


def _visible(path):
    """The names a listing may show: interrupted uploads are kept as hidden partials."""
    return [n for n in os.listdir(path) if not n.startswith(".ferry-partial.")]


def _wait_progress(sess, at_least, timeout=DATA_TIMEOUT):
    def done():
        r = sess.expect("STAT", 213)
        return int(re.search(r"(\d+) bytes", r.text).group(1)) >= at_least
    wait_until(done, timeout, interval=0.05, what=f"{at_least} bytes received")


def test_upload_replaced_atomically(server, sess, wd):
    p, v = wd
    old = b"OLD" * 100000
    new = rand_bytes(1 << 20)
    put_file(os.path.join(p, "victim"), old)
    old_ino = os.stat(os.path.join(p, "victim")).st_ino
    sess.expect("TYPE I", 200)
    d = sess.open_passive()
    try:
        sess.expect("STOR victim", 150)
        d.sendall(new[:600000])
        _wait_progress(sess, 600000)
        # in progress: the final name still has the complete old content
        assert read_bytes(os.path.join(p, "victim")) == old
        # another session's listings never show the temporary
        o = Session(server, cwd=v)
        try:
            names = o.list_data("NLST", "-a").split(b"\r\n")
            assert sorted(names) == [b"", b"victim"], names
            mlsd = [n for n in o.list_data("MLSD").split(b"\r\n") if n]
            assert len(mlsd) == 1 and mlsd[0].endswith(b"; victim"), mlsd
        finally:
            o.close()
        d.sendall(new[600000:])
    finally:
        d.close()
    assert sess.reply(DATA_TIMEOUT).code == 226
    assert read_bytes(os.path.join(p, "victim")) == new
    assert os.stat(os.path.join(p, "victim")).st_ino != old_ino
    assert _temps(p) == []
    assert os.listdir(p) == ["victim"]


def test_disconnect_mid_upload_reset(server, sess, wd):
    """Client vanishes (both connections reset) mid-upload: old file intact, no temporary."""
    p, v = wd
    old = b"old content\n" * 1000
    put_file(os.path.join(p, "victim"), old)
    before = server.log().count("cmd=STOR")
    sess.expect("TYPE I", 200)
    d = sess.open_passive()
    sess.expect("STOR victim", 150)
    d.sendall(rand_bytes(300000))
    _wait_progress(sess, 300000)
    hard_close(d)
    hard_close(sess.c.sock)
    server.wait_log(r"transfer: .*cmd=STOR path=\"%s/victim\".*status=(failed|aborted)" % re.escape(v),
                    count=1, timeout=10)
    wait_until(lambda: _temps(p) == [], 5, what="temporary upload file removed")
    assert read_bytes(os.path.join(p, "victim")) == old
    assert _visible(p) == ["victim"]
    assert server.log().count("cmd=STOR") == before + 1


def test_disconnect_mid_upload_control_first(server, sess, wd):
    """The client drops the control connection mid-upload, then its data connection goes too
    (a killed client: the kernel sends FIN on both). Stream mode cannot tell a finished upload from
    a truncated one by the data connection alone, but the control connection is already gone, so
    nobody asked for and nobody can learn about a commit: the old file must stay intact."""
    p, v = wd
    old = b"old content\n" * 1000
    put_file(os.path.join(p, "victim"), old)
    sess.expect("TYPE I", 200)
    d = sess.open_passive()
    sess.expect("STOR victim", 150)
    d.sendall(b"half of the new conte")
    _wait_progress(sess, 21)
    sess.c.sock.close()        # FIN on the control connection
    time.sleep(0.5)
    d.close()                  # FIN on the data connection
    server.wait_log(r"transfer: .*cmd=STOR path=\"%s/victim\"" % re.escape(v), timeout=10)
    wait_until(lambda: _temps(p) == [], 5, what="temporary upload file removed")
    assert read_bytes(os.path.join(p, "victim")) == old, \
        "a truncated upload replaced the old file after the client had disconnected"


def test_abor_mid_upload_keeps_old_file(sess, wd):
    p, v = wd
    old = b"keep me"
    put_file(os.path.join(p, "victim"), old)
    sess.expect("TYPE I", 200)
    d = sess.open_passive()
    try:
        sess.expect("STOR victim", 150)
        d.sendall(rand_bytes(100000))
        _wait_progress(sess, 100000)
        sess.c.send(b"ABOR\r\n")
        assert sess.reply(DATA_TIMEOUT).code == 426
        assert sess.reply(DATA_TIMEOUT).code == 226
    finally:
        d.close()
    assert read_bytes(os.path.join(p, "victim")) == old
    assert _visible(p) == ["victim"]
    assert len(_partials(p)) == 1  # resumable by its uploader


def test_disconnect_mid_stou_leaves_nothing(server, sess, wd):
    p, v = wd
    sess.expect("TYPE I", 200)
    d = sess.open_passive()
    r = sess.expect("STOU", 150)
    name = r.text.split()[-1]
    d.sendall(rand_bytes(50000))
    _wait_progress(sess, 50000)
    hard_close(d)
    hard_close(sess.c.sock)
    server.wait_log(r"transfer: .*cmd=STOU path=\"%s/%s\".*status=(failed|aborted)"
                    % (re.escape(v), re.escape(name)), timeout=10)
    wait_until(lambda: os.listdir(p) == [], 5, what="the partial STOU file removed")


def test_concurrent_uploads_to_one_name(server, wd):
    """Five sessions upload the same name at once: the result is exactly one of the uploads,
    never a mix, and no temporary is left behind."""
    p, v = wd
    put_file(os.path.join(p, "shared"), b"original")
    bodies = [bytes([65 + i]) * (300000 + i * 1000) for i in range(5)]
    sessions = [Session(server, cwd=v) for _ in bodies]
    datas = []
    try:
        for s in sessions:
            s.expect("TYPE I", 200)
            datas.append(s.open_passive())
        for s in sessions:
            s.expect("STOR shared", 150)
        for d, b in zip(datas, bodies):
            d.sendall(b[:150000])
        for d, b in zip(datas, bodies):
            d.sendall(b[150000:])
            d.close()
        for s in sessions:
            assert s.reply(DATA_TIMEOUT).code == 226
    finally:
        for d in datas:
            d.close()
        for s in sessions:
            s.close()
    assert read_bytes(os.path.join(p, "shared")) in bodies
    assert os.listdir(p) == ["shared"]


def test_download_of_a_file_replaced_meanwhile_is_consistent(server, sess, wd):
    """A RETR that started before an atomic STOR replaced the file delivers the old file whole."""
    p, v = wd
    old = rand_bytes(8 << 20)
    put_file(os.path.join(p, "f"), old)
    sess.expect("TYPE I", 200)
    d = sess.open_passive(rcvbuf=4096)
    try:
        sess.expect("RETR f", 150)
        first = d.recv(1000)
        o = Session(server, cwd=v)
        try:
            o.expect("TYPE I", 200)
            o.stor("f", b"new content")
        finally:
            o.close()
        rest = recv_all(d)
    finally:
        d.close()
    assert sess.reply(DATA_TIMEOUT).code == 226
    assert first + rest == old
    assert read_bytes(os.path.join(p, "f")) == b"new content"


def test_passive_port_range_exhausted(make_server):
    # Below the ephemeral range and from this worker's own ports (conftest free_range): no client
    # socket and no other server's passive listener can hold it.
    port = free_port()
    srv = make_server({"passive": {"ports": f"{port}-{port}"}})
    put_file(os.path.join(home_of(srv), "f"), b"one port")
    a, b = Session(srv), Session(srv)
    try:
        assert a.pasv() == port
        r = b.expect("PASV", 425)
        assert r.lines == ["425 Cannot open a passive data connection."]
        b.expect("EPSV", 425)
        b.expect("RETR f", 425)
        data, _, _ = a.retr("f")           # its own fresh PASV reuses its listener
        assert data == b"one port"
        # Free again once a's listener has lingered its second after the transfer.
        wait_until(lambda: b.cmd("EPSV").code == 229, timeout=5, what="the port to come free")
        d = connect_data(HOST, port)
        try:
            b.expect("RETR f", 150)
            assert recv_all(d) == b"one port"
        finally:
            d.close()
        assert b.reply(DATA_TIMEOUT).code == 226
    finally:
        a.close()
        b.close()


def test_non_atomic_uploads_write_in_place(make_server):
    srv = make_server({"transfer": {"atomic_uploads": "no"}})
    home = home_of(srv)
    put_file(os.path.join(home, "victim"), b"O" * 100000)
    ino = os.stat(os.path.join(home, "victim")).st_ino
    new = rand_bytes(400000)
    s = Session(srv)
    try:
        s.expect("TYPE I", 200)
        d = s.open_passive()
        s.expect("STOR victim", 150)
        d.sendall(new[:200000])
        _wait_progress(s, 200000)
        during = read_bytes(os.path.join(home, "victim"))
        assert new.startswith(during)          # truncated and being written in place
        d.sendall(new[200000:])
        d.close()
        assert s.reply(DATA_TIMEOUT).code == 226
        s.stor("fresh", b"F")
    finally:
        s.close()
    assert read_bytes(os.path.join(home, "victim")) == new
    assert os.stat(os.path.join(home, "victim")).st_ino == ino
    assert read_bytes(os.path.join(home, "fresh")) == b"F"
    assert _temps(home) == []


# ======================================================================= G. REST

def test_rest_retr(sess, wd):
    p, v = wd
    f = text_1000()
    put_file(os.path.join(p, "f"), f)
    sess.expect("TYPE I", 200)
    r = sess.expect("REST 100", 350)
    assert r.lines == ["350 Restarting at 100. Send RETR, STOR or APPE."]
    data, r1, _ = sess.retr("f")           # the REST was before PASV
    assert data == f[100:]
    assert "(900 bytes)" in r1.text
    # the marker is used once
    data, _, _ = sess.retr("f")
    assert data == f
    # REST after PASV (ftplib's order)
    data, _, _ = sess.retr("f", rest=999)
    assert data == f[999:]
    data, _, _ = sess.retr("f", rest=1000)
    assert data == b""


def test_rest_zero_any_type(sess):
    for t in ("A", "I", "A"):
        sess.expect(f"TYPE {t}", 200)
        sess.expect("REST 0", 350)


def test_rest_garbage(sess):
    for arg in ("abc", "-1", "+5", "1.5", "1e3", "0x10", "99999999999999999999", "12 34", "١٢"):
        r = sess.cmd(f"REST {arg}")
        assert r.code == 501, f"REST {arg}: {r!r}"
    sess.expect("REST", 501)


def test_rest_survives_setup_commands(sess, wd):
    p, v = wd
    f = text_1000()
    put_file(os.path.join(p, "f"), f)
    sess.expect("TYPE I", 200)
    sess.expect("REST 100", 350)
    sess.expect("PASV", 227)
    sess.expect("EPSV", 229)
    sess.expect("TYPE I", 200)
    sess.expect("NOOP", 200)
    data, _, _ = sess.retr("f")
    assert data == f[100:]
    # ... and PORT/EPRT
    sess.expect("REST 200", 350)
    port = free_port()
    sess.expect("PORT 127,0,0,1,%d,%d" % (port >> 8, port & 255), 200)
    data, _, _ = sess.retr("f", how="eprt")
    assert data == f[200:]


def test_rest_reset_by_other_commands(sess, wd):
    p, v = wd
    f = text_1000()
    put_file(os.path.join(p, "f"), f)
    sess.expect("TYPE I", 200)
    sess.expect("REST 100", 350)
    sess.expect(f"CWD {v}", 250)
    data, _, _ = sess.retr("f")
    assert data == f
    # a failed transfer command consumes the marker too
    sess.expect("REST 100", 350)
    sess.pasv()
    sess.expect("RETR nosuch", 550)
    data, _, _ = sess.retr("f")
    assert data == f


@pytest.mark.parametrize("between", ["SIZE f", "MDTM f", "PWD", "MODE S", "STRU F", "ALLO 10",
                                     "SYST", "FEAT", "HELP", "STAT", "CWD .", "MLST f", "OPTS UTF8 ON"])
def test_rest_dropped_by_anything_but_setup_commands(sess, wd, between):
    """Decision 4 (strict): only PASV/EPSV/PORT/EPRT/TYPE/NOOP keep a pending REST marker."""
    p, v = wd
    f = text_1000()
    put_file(os.path.join(p, "f"), f)
    sess.expect("TYPE I", 200)
    sess.expect("REST 100", 350)
    assert sess.cmd(between).code < 400
    data, r1, _ = sess.retr("f")
    assert data == f
    assert "(1000 bytes)" in r1.text


def test_rest_beyond_eof_554(sess, wd):
    p, v = wd
    f = text_1000()
    put_file(os.path.join(p, "f"), f)
    sess.expect("TYPE I", 200)
    sess.pasv()
    sess.expect("REST 5000", 350)
    r = sess.expect("RETR f", 554)
    assert r.lines == ["554 Restart offset 5000 is beyond the end of the file."]
    data, _, _ = sess.retr("f")
    assert data == f
    # STOR at an offset past the end: 554 and the file unchanged
    sess.pasv()
    sess.expect("REST 1001", 350)
    sess.expect("STOR f", 554)
    assert read_bytes(os.path.join(p, "f")) == f


def test_rest_stor(sess, wd):
    p, v = wd
    f = text_1000()
    put_file(os.path.join(p, "f"), f)
    sess.expect("TYPE I", 200)
    new = rand_bytes(50)
    sess.stor("f", new, rest=100)
    assert read_bytes(os.path.join(p, "f")) == f[:100] + new
    # REST 0 STOR creates
    sess.stor("created", b"zero", rest=0)
    assert read_bytes(os.path.join(p, "created")) == b"zero"
    # REST n STOR of a missing file: nothing to resume
    sess.pasv()
    sess.expect("REST 10", 350)
    r = sess.cmd("STOR missing")
    assert r.code in (550, 554), r
    assert not os.path.exists(os.path.join(p, "missing"))


def test_rest_appe_is_stor_at_offset(sess, wd):
    p, v = wd
    f = text_1000()
    put_file(os.path.join(p, "f"), f)
    sess.expect("TYPE I", 200)
    sess.stor("f", b"APPENDED", verb="APPE", rest=100)
    assert read_bytes(os.path.join(p, "f")) == f[:100] + b"APPENDED"


def test_rest_type_a_retr_555(sess, wd):
    p, v = wd
    f = text_1000()
    put_file(os.path.join(p, "f"), f)
    sess.expect("TYPE A", 200)
    sess.pasv()
    sess.expect("REST 100", 350)
    r = sess.expect("RETR f", 555)
    assert r.lines == ["555 Restart offsets need TYPE I."]
    data, _, _ = sess.retr("f", rest=0)
    assert data == f.replace(b"\n", b"\r\n")
    # uploads at an offset in TYPE A too
    for verb in ("STOR", "APPE"):
        sess.pasv()
        sess.expect("REST 10", 350)
        sess.expect(f"{verb} f", 555)
    assert read_bytes(os.path.join(p, "f")) == f


def test_resume_download_in_pieces(sess, wd):
    """A client resuming three times gets back the exact file."""
    p, v = wd
    body = rand_bytes(3 << 20)
    put_file(os.path.join(p, "f"), body)
    sess.expect("TYPE I", 200)
    got = b""
    for _ in range(3):
        d = sess.open_passive()
        sess.expect(f"REST {len(got)}", 350)
        sess.expect("RETR f", 150)
        piece = b""
        while len(piece) < (1 << 20) and len(got) + len(piece) < len(body):
            b = d.recv(65536)
            assert b
            piece += b
        piece = piece[:1 << 20]
        hard_close(d)
        r = sess.reply(DATA_TIMEOUT)
        assert r.code in (226, 426), r
        got += piece
    data, _, _ = sess.retr("f", rest=len(got))
    assert got + data == body


# ======================================================================= large checksummed

@pytest.mark.parametrize("how", ["pasv", "epsv"])
def test_large_retr_checksummed(server, sess, wd, big_payload, how):
    p, v = wd
    path, size, digest = big_payload
    os.link(path, os.path.join(p, "big.bin"))
    sess.expect("TYPE I", 200)
    d = sess.open_passive(how)
    t0 = time.monotonic()
    try:
        r = sess.expect("RETR big.bin", 150)
        assert f"({size} bytes)" in r.text
        got_digest, n = recv_hash(d)
    finally:
        d.close()
    assert sess.reply(BIG_TIMEOUT).code == 226
    dt = time.monotonic() - t0
    print(f"\nRETR {size >> 20} MiB via {how.upper()}: {dt:.2f}s ({size / dt / 2**20:.0f} MiB/s)")
    assert n == size
    assert got_digest == digest


@pytest.mark.parametrize("how", ["pasv", "epsv"])
def test_large_stor_checksummed(server, sess, wd, big_payload, how):
    p, v = wd
    path, size, digest = big_payload
    sess.expect("TYPE I", 200)
    d = sess.open_passive(how)
    t0 = time.monotonic()
    try:
        sess.expect("STOR up.bin", 150)
        send_file(d, path)
    finally:
        d.close()
    assert sess.reply(BIG_TIMEOUT).code == 226
    dt = time.monotonic() - t0
    print(f"\nSTOR {size >> 20} MiB via {how.upper()}: {dt:.2f}s ({size / dt / 2**20:.0f} MiB/s)")
    target = os.path.join(p, "up.bin")
    try:
        assert os.path.getsize(target) == size
        assert sha256_file(target) == digest
        assert _temps(p) == []
    finally:
        os.unlink(target)


def test_abor_after_a_queued_command(sess, wd):
    """A command queued behind a transfer does not keep a later ABOR from acting: 426 and 226
    for the transfer, then the queued command's reply."""
    p, v = wd
    d = _start_stalled_retr(sess, p)
    try:
        sess.c.send(b"NOOP\r\n")
        assert sess.c.no_data(0.3)
        sess.c.send(b"ABOR\r\n")
        r1 = sess.reply(DATA_TIMEOUT)
        r2 = sess.reply(DATA_TIMEOUT)
        r3 = sess.reply(DATA_TIMEOUT)
        assert (r1.code, r2.code, r3.code) == (426, 226, 200), (r1, r2, r3)
    finally:
        d.close()
    sess.expect("NOOP", 200)


def test_stat_after_a_queued_command(sess, wd):
    p, v = wd
    d = _start_stalled_retr(sess, p)
    try:
        sess.c.send(b"PWD\r\nSTAT\r\n")
        r = sess.reply(DATA_TIMEOUT)
        assert r.code == 213, r
        sess.c.send(b"ABOR\r\n")
        codes = [sess.reply(DATA_TIMEOUT).code for _ in range(3)]
        assert codes == [426, 226, 257], codes
    finally:
        d.close()
