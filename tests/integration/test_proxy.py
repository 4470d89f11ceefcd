"""PROXY protocol on ferryd's listeners (issue 16), with crafted headers on raw sockets:
[server] proxy_protocol / proxy_from / proxy_timeout and [passive] proxy_protocol.

The balancer's connections come from 127.0.0.1 (proxy_from); the clients the headers name are
other loopback addresses, bound as source addresses where a client must really connect from
them (passive data connections, PORT targets). Every wait is bounded; no test depends on
timing to pass (a missing header is waited for with a bound far above proxy_timeout)."""

import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile

import pytest

from conftest import CLI_TIMEOUT, FerryServer, wait_until
from files_helpers import DATA_TIMEOUT, chown_svc, connect_data, parse227, put_file, recv_all
from proxy_helpers import BALANCER, CLIENT, proxied_ctl, start_proxied, v1, v2
from tls_helpers import client_ctx, temp_cert

PROXY = {"proxy_protocol": "any", "proxy_from": BALANCER, "proxy_timeout": "1s"}
CLOSE_TIMEOUT = 15.0   # far above proxy_timeout = 1s, even under ASan


def read_lines(path):
    try:
        with open(path, errors="replace") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


@pytest.fixture(scope="module")
def psrv(ferry_bin):
    """A shared server: control connections carry a header (v1 or v2), with xferlog, JSON and
    the admin socket on."""
    d = tempfile.mkdtemp(prefix="ferry-proxy-", dir="/tmp")
    os.chmod(d, 0o755)
    s = FerryServer(ferry_bin, config={
        "server": PROXY,
        "log": {"xferlog": os.path.join(d, "xferlog"), "json": os.path.join(d, "events.json")},
        "admin": {"socket": os.path.join(d, "admin.sock")}})
    s.xferlog, s.json = os.path.join(d, "xferlog"), os.path.join(d, "events.json")
    start_proxied(s)
    yield s
    s.teardown()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def srv(psrv):
    yield psrv
    psrv.check_log()
    assert psrv.alive(), f"ferryd died:\n{psrv.log()[-3000:]}"


def session_of(s, pattern):
    """The session id of the (first) log line matching pattern."""
    return int(s.wait_log(r"(?m)session=(\d+) " + pattern)[0])


def expect_closed_without_greeting(c, timeout=CLOSE_TIMEOUT):
    rest = c.read_until_eof(timeout)
    assert rest == b"", f"bytes before the close: {rest!r}"


def stor(c, name, data, source):
    r = c.expect("PASV", 227)
    d = connect_data(*parse227(r), source=source)
    c.expect(f"STOR {name}", 150)
    d.sendall(data)
    d.close()
    assert c.reply(DATA_TIMEOUT).code == 226


def retr(c, name, source):
    r = c.expect("PASV", 227)
    d = connect_data(*parse227(r), source=source)
    c.expect(f"RETR {name}", 150)
    data = recv_all(d)
    d.close()
    assert c.reply(DATA_TIMEOUT).code == 226
    return data


# ----------------------------------------------------------------------------- the address

@pytest.mark.parametrize("version,client", [(1, "127.0.0.21"), (2, "127.0.0.22")])
def test_header_address_is_the_clients_everywhere(srv, version, client):
    """Logs, JSON, xferlog and ferry status show the header's address, and passive data
    connections from it are accepted."""
    header = (v1 if version == 1 else v2)(src=client, sport=41000 + version)
    c = proxied_ctl(srv, header)
    assert c.greeting.code == 220
    c.login()
    c.expect("TYPE I", 200)
    payload = os.urandom(20000)
    stor(c, f"up{version}.bin", payload, client)
    assert retr(c, f"up{version}.bin", client) == payload
    sid = session_of(srv, f"proxy: v{version} TCP4 header from 127\\.0\\.0\\.1: client ip={client}$")
    st = srv.ferry("status", check=True).stdout.splitlines()
    mine = [l for l in st if l.startswith(f"{sid} ")]
    assert len(mine) == 1 and f" ip={client} " in mine[0], st
    c.expect("QUIT", 221)
    c.assert_closed()

    log = srv.wait_log(rf"session={sid} disconnect: ip=\S+")
    lines = [l for l in srv.log().splitlines() if f"session={sid} " in l]
    for what in ("connect:", "login ok", "transfer:", "disconnect:"):
        found = [l for l in lines if what in l]
        assert found and all(f"ip={client} " in l + " " for l in found), (what, lines)
    assert not any("ip=127.0.0.1" in l for l in lines), lines
    assert log
    events = wait_until(lambda: [e for e in map(json.loads, read_lines(srv.json)) if e["session"] == sid
                                 and e["event"] == "disconnect"] and
                        [e for e in map(json.loads, read_lines(srv.json)) if e["session"] == sid], 5.0,
                        what="the session's JSON events")
    assert {e["event"] for e in events} >= {"connect", "login", "transfer", "disconnect"}, events
    assert all(e.get("ip", client) == client for e in events), events
    xfer = [l.split() for l in read_lines(srv.xferlog) if f"/up{version}.bin" in l]
    assert len(xfer) == 2 and all(f[6] == client for f in xfer), xfer


def test_client_bytes_after_the_header_are_kept(srv):
    """The header is read exactly: a command sent with it in one segment is the first command."""
    c = proxied_ctl(srv, v2(src="127.0.0.23") + b"USER bob\r\n", greet=False)
    assert c.reply().code == 220
    assert c.reply().code == 331
    c.expect("PASS pw", 230)
    c.close()


def test_header_in_pieces(srv):
    header = v2(src="127.0.0.24", tlvs=b"\x04\x00\x02\x00\x00" + b"\x01\x00\x03ftp")
    c = proxied_ctl(srv, header[:5], greet=False)
    for part in (header[5:14], header[14:20], header[20:]):
        assert c.no_data(0.1)
        c.send(part)
    assert c.reply().code == 220
    c.close()
    session_of(srv, r"proxy: v2 TCP4 header from 127\.0\.0\.1: client ip=127\.0\.0\.24$")


@pytest.mark.parametrize("header", [v2(command=0), b"PROXY UNKNOWN\r\n",
                                    b"PROXY UNKNOWN ::1 ::2 1 2\r\n"], ids=["v2-local", "v1-unknown",
                                                                         "v1-unknown-addr"])
def test_no_address_in_header_keeps_the_balancers(srv, header):
    """LOCAL (HAProxy's health check) and UNKNOWN: the spec says to use the connection's own
    endpoints."""
    before = srv.log().count("no client address, the balancer's is used")
    c = proxied_ctl(srv, header)
    assert c.greeting.code == 220
    c.expect("QUIT", 221)
    c.close()
    srv.wait_log("no client address, the balancer's is used", count=before + 1)


# ----------------------------------------------------------------------------- refusals

def test_not_from_proxy_from_is_refused(srv):
    """A valid header from an address outside proxy_from is never trusted: closed, no greeting."""
    c = proxied_ctl(srv, v2(src="198.51.100.9"), source=CLIENT, greet=False)
    expect_closed_without_greeting(c)
    c.close()
    srv.wait_log(r"refused: ip=127\.0\.0\.5 reason=proxy-not-allowed \(not in \[server\] proxy_from\)")
    assert "198.51.100.9" not in srv.log()


BAD_HEADERS = {
    "v1-leading-zero": b"PROXY TCP4 127.0.0.05 127.0.0.1 1 2\r\n",
    "v1-lf-only": b"PROXY TCP4 127.0.0.5 127.0.0.1 1 2\n",
    "v1-family": b"PROXY TCP6 127.0.0.5 127.0.0.1 1 2\r\n",
    "v1-too-long": b"PROXY UNKNOWN " + b"x" * 100 + b"\r\n",
    "v2-version": b"\r\n\r\n\x00\r\nQUIT\n\x11\x11\x00\x0c" + bytes(12),
    "v2-short": b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x08" + bytes(8),
    "v2-bad-tlv": b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x10" + bytes(12) + b"\x01\x00\x09x",
    "ftp-command": b"USER bob\r\n",
    "tls-hello": b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
}


@pytest.mark.parametrize("name", list(BAD_HEADERS))
def test_malformed_header_is_refused(srv, name):
    before = srv.log().count("reason=proxy-header-malformed")
    c = proxied_ctl(srv, BAD_HEADERS[name], greet=False)
    expect_closed_without_greeting(c)
    c.close()
    srv.wait_log(r"refused: ip=127\.0\.0\.1 reason=proxy-header-malformed \(.+\)", count=before + 1)


@pytest.mark.parametrize("sent", [b"", v2()[:10], b"PROXY TCP4 127.0.0.5"], ids=["nothing", "v2-half",
                                                                                   "v1-half"])
def test_missing_header_times_out(srv, sent):
    """Nothing (or half a header) within proxy_timeout: closed, never greeted."""
    before = srv.log().count("reason=proxy-header-timeout")
    c = proxied_ctl(srv, sent, greet=False)
    expect_closed_without_greeting(c)
    c.close()
    srv.wait_log(r"refused: ip=127\.0\.0\.1 reason=proxy-header-timeout \(no complete PROXY header within "
                 r"\[server\] proxy_timeout = 1000ms\)", count=before + 1)


def test_close_before_header_is_logged(srv):
    before = srv.log().count("reason=proxy-header-missing")
    c = proxied_ctl(srv, b"", greet=False)
    c.close()
    srv.wait_log(r"refused: ip=127\.0\.0\.1 reason=proxy-header-missing \(the connection closed before sending "
                 r"the PROXY header\)", count=before + 1)


def test_version_mismatch_is_refused(make_server):
    """proxy_protocol = v1 takes no v2 header (and v2 no v1 line)."""
    s = make_server(config={"server": dict(PROXY, proxy_protocol="v1")}, start=False)
    s.start(wait_greeting=False)
    wait_until(lambda: "ferryd ready" in s.log(), 10.0, what="ferryd ready")
    c = proxied_ctl(s, v2(), greet=False)
    expect_closed_without_greeting(c)
    c.close()
    s.wait_log(r"reason=proxy-header-malformed \(not a PROXY protocol version 1 header\)")
    c = proxied_ctl(s, v1(src="127.0.0.25"))
    assert c.greeting.code == 220
    c.close()


# ----------------------------------------------------------------------------- limits and bans

def test_bans_and_limits_use_the_header_address(make_server):
    """Every connection comes from the balancer (127.0.0.1): limits count, and bans hit, the
    address in the header, and the balancer itself is never banned."""
    s = make_server(config={"server": PROXY, "limits": {"ban_failures": "2", "max_per_ip": "2"}},
                    start=False)
    start_proxied(s)
    bad = "127.0.0.31"
    c = proxied_ctl(s, v2(src=bad))
    for _ in range(2):
        c.expect("USER bob", 331)
        c.expect("PASS wrong", 530)
    c.close()
    s.wait_log(r"ban: .*127\.0\.0\.31")
    r = proxied_ctl(s, v2(src=bad))
    assert r.greeting.code == 421 and "failed logins" in r.greeting.text, r.greeting
    r.close()
    s.wait_log(r"refused: ip=127\.0\.0\.31 reason=banned")
    # Another client through the same balancer, and the balancer's own health check, get in.
    ok = proxied_ctl(s, v2(src="127.0.0.32"))
    assert ok.greeting.code == 220
    ok.login()
    hc = proxied_ctl(s, v2(command=0))
    assert hc.greeting.code == 220
    hc.close()
    # max_per_ip = 2 counts per header address: 127.0.0.32 has one session open.
    ok2 = proxied_ctl(s, v2(src="127.0.0.32"))
    assert ok2.greeting.code == 220
    third = proxied_ctl(s, v2(src="127.0.0.32"))
    assert third.greeting.code == 421 and "max_per_ip" in third.greeting.text, third.greeting
    other = proxied_ctl(s, v2(src="127.0.0.33"))
    assert other.greeting.code == 220
    for x in (ok, ok2, third, other):
        x.close()


# ----------------------------------------------------------------------------- data connections

def test_passive_peer_check_uses_the_header_address(srv):
    client = "127.0.0.41"
    put_file(os.path.join(srv.home_root, "bob", "pasv.txt"), b"passive data\n")
    c = proxied_ctl(srv, v1(src=client))
    c.login()
    c.expect("TYPE I", 200)
    host, port = parse227(c.expect("PASV", 227))
    before = srv.log().count("data connection from a foreign address refused: ip=127.0.0.1")
    # From the balancer's address (the control socket's peer): not the client's.
    foreign = connect_data(host, port, source=BALANCER)
    srv.wait_log(r"(?m)data connection from a foreign address refused: ip=127\.0\.0\.1$", count=before + 1)
    assert foreign.recv(10) == b""
    foreign.close()
    d = connect_data(host, port, source=client)
    c.expect("RETR pasv.txt", 150)
    assert recv_all(d) == b"passive data\n"
    d.close()
    assert c.reply(DATA_TIMEOUT).code == 226
    c.close()


def test_port_target_check_uses_the_header_address(srv):
    client = "127.0.0.42"
    put_file(os.path.join(srv.home_root, "bob", "port.txt"), b"active data\n")
    c = proxied_ctl(srv, v2(src=client))
    c.login()
    c.expect("TYPE I", 200)
    r = c.cmd("PORT 127,0,0,1,200,10")   # the balancer's address
    assert r.code == 500 and "not the client's" in r.text, r
    r = c.cmd("EPRT |1|127.0.0.1|51210|")
    assert r.code == 500, r
    lst = socket.socket()
    lst.settimeout(DATA_TIMEOUT)
    lst.bind((client, 0))
    lst.listen(1)
    port = lst.getsockname()[1]
    c.expect("PORT %s,%d,%d" % (client.replace(".", ","), port >> 8, port & 255), 200)
    c.expect("RETR port.txt", 150)
    d, peer = lst.accept()
    assert recv_all(d) == b"active data\n"
    d.close()
    lst.close()
    assert c.reply(DATA_TIMEOUT).code == 226
    c.close()


def test_passive_proxy_protocol(make_server):
    """[passive] proxy_protocol: passive connections come from the balancer with a header whose
    address must be the control connection's client."""
    s = make_server(config={"server": PROXY, "passive": {"proxy_protocol": "any"}}, start=False)
    start_proxied(s)
    put_file(os.path.join(s.home_root, "bob", "p.txt"), b"through the balancer\n")
    client = "127.0.0.43"
    c = proxied_ctl(s, v2(src=client))
    c.login()
    c.expect("TYPE I", 200)
    host, port = parse227(c.expect("PASV", 227))
    # Refused: straight from the client (not proxy_from), another client's header, a bad header.
    d = connect_data(host, port, source=client)
    s.wait_log(r"data connection from a foreign address refused: ip=127\.0\.0\.43 \(not in \[server\] "
               r"proxy_from; \[passive\] proxy_protocol is on\)")
    assert d.recv(10) == b""
    d.close()
    d = connect_data(host, port, source=BALANCER)
    d.sendall(v2(src="127.0.0.44", dport=port))
    s.wait_log(r"data connection from a foreign address refused: ip=127\.0\.0\.44 \(PROXY header\)")
    assert d.recv(10) == b""
    d.close()
    d = connect_data(host, port, source=BALANCER)
    d.sendall(b"PROXY TCP4 x\r\n")
    s.wait_log(r"data connection refused: PROXY header: version 1 header does not have four fields")
    d.close()
    # The client's own connection through the balancer.
    d = connect_data(host, port, source=BALANCER)
    d.sendall(v2(src=client, dport=port))
    c.expect("RETR p.txt", 150)
    assert recv_all(d) == b"through the balancer\n"
    d.close()
    assert c.reply(DATA_TIMEOUT).code == 226
    # The header may also come after the transfer command, in pieces.
    host, port = parse227(c.expect("PASV", 227))
    d = connect_data(host, port, source=BALANCER)
    c.expect("RETR p.txt", 150)
    h = v1(src=client, dport=port)
    d.sendall(h[:7])
    assert c.no_data(0.1)
    d.sendall(h[7:])
    assert recv_all(d) == b"through the balancer\n"
    d.close()
    assert c.reply(DATA_TIMEOUT).code == 226
    c.close()


# ----------------------------------------------------------------------------- implicit FTPS

@pytest.fixture(scope="module")
def cert():
    yield from temp_cert("ferry-it-proxy-", "p")


def test_implicit_ftps_reads_the_header_before_tls(make_server, cert):
    from conftest import free_port
    iport = free_port()
    s = make_server(config={"server": PROXY, "tls": {"cert": cert[0], "key": cert[1],
                                                     "implicit_listen": f"127.0.0.1:{iport}"}},
                    start=False)
    start_proxied(s)
    c = proxied_ctl(s, v2(src="127.0.0.51", dport=iport), greet=False, port=iport)
    c.sock = client_ctx().wrap_socket(c.sock)
    assert c.reply().code == 220
    c.login()
    c.expect("QUIT", 221)
    c.close()
    s.wait_log(r"(?m)session=\d+ connect: ip=127\.0\.0\.51$")
    s.wait_log(r"session=\d+ login ok: user=\"bob\" ip=127\.0\.0\.51")
    # No header: never a TLS handshake, closed at proxy_timeout.
    raw = proxied_ctl(s, b"", greet=False, port=iport)
    with pytest.raises((ssl.SSLError, OSError)):
        client_ctx().wrap_socket(raw.sock)
    raw.close()


# ----------------------------------------------------------------------------- configuration

def test_check_requires_proxy_from(ferry_env):
    env = ferry_env(config={"server": {"proxy_protocol": "v2"}}, users=())
    cp = subprocess.run([env.bins.ferryd, "-c", env.config_path, "--check"], capture_output=True, text=True,
                        timeout=CLI_TIMEOUT)
    assert cp.returncode == 1
    assert ("[server] proxy_protocol: v2 needs [server] proxy_from, the addresses of the balancers allowed to "
            "send the PROXY header") in cp.stderr, cp.stderr
    env.write_config({"server": {"proxy_from": "127.0.0.1, 10.0.0.0/8"}})
    cp = subprocess.run([env.bins.ferryd, "-c", env.config_path, "--check"], capture_output=True, text=True,
                        timeout=CLI_TIMEOUT)
    assert cp.returncode == 0, cp.stderr
    env.write_config({"server": {"proxy_from": "10.0.0.1/8"}})
    cp = subprocess.run([env.bins.ferryd, "-c", env.config_path, "--check"], capture_output=True, text=True,
                        timeout=CLI_TIMEOUT)
    assert cp.returncode == 1 and "(the network is 10.0.0.0/8)" in cp.stderr, cp.stderr
