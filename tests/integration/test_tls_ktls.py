"""FTPS data paths and kernel TLS (issue 15): ferryd asks the kernel once, when it builds its TLS
context at start, whether it has the "tls" TCP upper-layer protocol, logs the answer
("tls: kernel TLS offload available|unavailable: REASON"), and with [tls] ktls = auto (the
default) lets PROT P data connections hand their keys to the kernel and send files with
SSL_sendfile; ktls = off never does. Without kernel TLS (this machine's kernel lists only
mptcp in tcp_available_ulp) downloads read the file in large blocks and write whole records
gathered into large sends, and uploads take several records per read: these tests check the
start-up line against what this machine has, the switch, and that downloads (from any REST
offset), uploads, TYPE A and listings arrive byte-exact either way.

Run: FERRY_BUILD=build /usr/bin/python3 -m pytest tests/integration/test_tls_ktls.py"""

import errno
import hashlib
import os
import re
import socket

import pytest

from files_helpers import fresh_dir, hard_close, put_file
from tls_helpers import TlsSession, temp_cert

LINE = r"tls: kernel TLS offload (available|unavailable): ([^\n]*)"
TCP_ULP = 31  # linux/tcp.h


def kernel_has_tls_ulp():
    """This machine's answer, found the way ferryd finds it (independently of ferryd)."""
    try:
        with open("/proc/sys/net/ipv4/tcp_available_ulp") as f:
            if "tls" in f.read().split():
                return True
    except OSError:
        pass
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.IPPROTO_TCP, TCP_ULP, b"tls")
        return True
    except OSError as e:
        return e.errno in (errno.ENOTCONN, 524)
    finally:
        s.close()


@pytest.fixture(scope="module")
def cert():
    yield from temp_cert("ferry-it-ktls-", "a")


def tls_server(make_server, cert, **tls):
    conf = {"cert": cert[0], "key": cert[1], "data_reuse": "off"}
    conf.update(tls)
    return make_server(config={"tls": conf})


def test_startup_says_what_the_kernel_has(make_server, cert):
    """One line at start, available or not as this machine is, with its reason; the same answer
    after a reload."""
    s = tls_server(make_server, cert)
    found = s.wait_log(LINE)
    assert len(found) == 1, found
    kind, why = found[0]
    if kernel_has_tls_ulp():
        assert kind == "available", why
        assert "SSL_sendfile" in why
    else:
        assert kind == "unavailable", why
        assert re.search(r"no tls ULP", why), why
    # A reload builds a new context and asks again (as the service user, in the sandbox).
    s.reload(timeout=30)
    again = s.wait_log(LINE, timeout=30, count=2)
    assert again[1][0] == kind, again


def test_startup_says_off(make_server, cert):
    s = tls_server(make_server, cert, ktls="off")
    assert s.wait_log(LINE) == [("unavailable", "[tls] ktls = off")]


def test_no_line_without_tls(make_server):
    s = make_server()
    s.connect().close()
    assert not re.search(LINE, s.log())


def pattern(n, seed):
    out = bytearray()
    block = 0
    while len(out) < n:
        out += hashlib.sha256(b"%d:%d" % (seed, block)).digest()
        block += 1
    return bytes(out[:n])


@pytest.mark.parametrize("ktls", ["auto", "off"])
def test_transfers_byte_exact(make_server, cert, request, ktls):
    """Downloads from REST offsets (past the file buffer, mid-record, the last byte, the end),
    uploads, TYPE A (LF -> CRLF) and a listing, under PROT P with ktls = auto and off."""
    s = tls_server(make_server, cert, ktls=ktls)
    p, v = fresh_dir(s, request, "ktls_")
    size = 3 * (1 << 20) + 12345  # not a multiple of a record or of any buffer
    data = pattern(size, 1)
    put_file(os.path.join(p, "big.bin"), data)
    text = b"".join(b"line %d\n" % i for i in range(20000))
    put_file(os.path.join(p, "text.txt"), text)
    t = TlsSession(s)
    try:
        got, _, r2, facts = t.retr(f"{v}/big.bin")
        assert got == data and r2.code == 226, facts
        for off in (1, 16384 * 9 + 7, (128 << 10) + 1, size - 1, size):
            t.expect(f"REST {off}", 350)
            got, _, _, _ = t.retr(f"{v}/big.bin")
            assert got == data[off:], off
        up = pattern(size + 99, 2)
        t.stor(f"{v}/up.bin", up)
        with open(os.path.join(p, "up.bin"), "rb") as f:
            assert f.read() == up
        t.expect("TYPE A", 200)
        got, _, _, _ = t.retr(f"{v}/text.txt")
        assert got == text.replace(b"\n", b"\r\n")
        t.expect("TYPE I", 200)
        names = t.listing("NLST", v).decode().split("\r\n")
        assert {os.path.basename(n) for n in names if n} == {"big.bin", "text.txt", "up.bin"}
        t.expect("QUIT", 221)
    finally:
        t.close()


def test_download_reset_by_client_is_426(make_server, cert, request):
    """A client that resets a PROT P download halfway: 426 and a conn-lost transfer line (the
    stream was lost, not a local error), and the session goes on."""
    s = tls_server(make_server, cert)
    p, v = fresh_dir(s, request, "ktls_")
    data = pattern(32 << 20, 3)
    put_file(os.path.join(p, "big.bin"), data)
    t = TlsSession(s)
    try:
        ds, _ = t.begin(f"RETR {v}/big.bin")
        got = b""
        while len(got) < (1 << 20):
            b = ds.recv(1 << 16)
            assert b, "the download ended early"
            got += b
        assert got == data[:len(got)]
        hard_close(ds)  # an RST, mid-stream
        r = t.c.reply(timeout=30)
        assert r.code == 426, r
        s.wait_log(r"transfer: .*cmd=RETR .*status=failed reason=conn-lost", timeout=30)
        t.expect("NOOP", 200)
        got, _, r2, _ = t.retr(f"{v}/big.bin")
        assert got == data and r2.code == 226
    finally:
        t.close()
