"""Ferry behind HAProxy (issue 16), with real clients: Python ftplib, curl and lftp.

Two layouts, each started by the test itself (haproxy -db, stopped at the end):
  direct   one node; HAProxy forwards the control port with send-proxy (v1) on one frontend and
           send-proxy-v2 on another; passive data goes straight to the node's own range
           ([passive] address is the node's), from the client's real address.
  nodes    two nodes on 127.0.0.2 and 127.0.0.3 sharing one served directory, each with its own
           passive range; HAProxy (the configuration README "Running several nodes" shows)
           balances the control port with send-proxy-v2 and health checks, and forwards each
           node's passive range to that node with send-proxy-v2 ([passive] proxy_protocol), so
           PASV and EPSV both go through it.
The clients connect from 127.0.0.5; HAProxy connects to the nodes from 127.0.0.1. HAProxy does
not pass TCP urgent data, so ABOR through it arrives in band (ftplib's loses its LF, lftp's its
Telnet DM): both must still abort. Every wait is bounded."""

import os
import re
import socket
import subprocess

import pytest

from conftest import CLI_TIMEOUT, REPO, FerryServer, free_port
from files_helpers import hard_close, put_file
from proxy_helpers import (BALANCER, CLIENT, HAPROXY_GLOBAL, Haproxy, assert_real_client_only, big_file,
                           client_lines, free_range, ftp_client, haproxy_nodes_config, lftp, node_config,
                           start_proxied)
from tls_helpers import need, run

BIG = 64 << 20   # far more than socket and HAProxy buffers: a RETR the client does not read stalls


# ----------------------------------------------------------------------------- direct layout

@pytest.fixture(scope="module")
def direct(ferry_bin):
    port = free_port()
    lo, hi = free_range([BALANCER], 20)
    node = FerryServer(ferry_bin, listen=f"127.0.0.1:{port}",
                       config=node_config("127.0.0.1", port, lo, hi, "127.0.0.1", False, mode="any"))
    fv1, fv2 = free_port(), free_port()
    text = HAPROXY_GLOBAL + f"""
frontend ftp_v1
    bind 127.0.0.1:{fv1}
    default_backend node_v1

backend node_v1
    server n1 127.0.0.1:{port} send-proxy

frontend ftp_v2
    bind 127.0.0.1:{fv2}
    default_backend node_v2

backend node_v2
    server n1 127.0.0.1:{port} send-proxy-v2
"""
    hap = None
    try:
        start_proxied(node)
        hap = Haproxy(text).start([("127.0.0.1", fv1), ("127.0.0.1", fv2)])
        node.frontends = {"v1": fv1, "v2": fv2}
        home = os.path.join(node.home_root, "bob")
        put_file(os.path.join(home, "hello.txt"), b"hello through haproxy\n")
        big_file(os.path.join(home, "big"), BIG)
        yield node
    finally:
        if hap:
            hap.stop()
        node.teardown()


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_ftplib_direct_passive(direct, version):
    f = ftp_client(direct.frontends[version])
    try:
        assert f.getwelcome().startswith("220")
        f.login("bob", "pw")
        body = os.urandom(300000)
        import io
        f.storbinary(f"STOR up_{version}.bin", io.BytesIO(body))
        got = []
        f.retrbinary(f"RETR up_{version}.bin", got.append)
        assert b"".join(got) == body
        assert "hello.txt" in f.nlst()
        f.quit()
    finally:
        f.close()
    direct.wait_log(rf"(?m)transfer: user=\"bob\" ip={re.escape(CLIENT)} cmd=RETR path=\"/up_{version}.bin\"")
    direct.wait_log(rf"proxy: {version} TCP4 header from 127\.0\.0\.1: client ip={re.escape(CLIENT)}")
    assert_real_client_only([direct])


def test_ftplib_abort_through_haproxy(direct):
    """ftplib sends ABOR\\r\\n as urgent data; HAProxy drops the urgent byte (the LF)."""
    f = ftp_client(direct.frontends["v2"])
    try:
        f.login("bob", "pw")
        f.voidcmd("TYPE I")
        conn = f.transfercmd("RETR big")
        try:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            assert len(conn.recv(8192)) > 0
            resp = f.abort()
            assert resp.startswith("426"), resp
            assert f.voidresp().startswith("226")
        finally:
            hard_close(conn)
        assert f.voidcmd("NOOP").startswith("200")
        assert f.abort().startswith("225")   # nothing to abort: at once, no LF needed either
        f.quit()
    finally:
        f.close()


def test_lftp_style_abort_through_haproxy(direct):
    """lftp: IAC IP IAC, then the DM as urgent data (dropped by HAProxy), then ABOR\\r\\n."""
    f = ftp_client(direct.frontends["v1"])
    try:
        f.login("bob", "pw")
        f.voidcmd("TYPE I")
        conn = f.transfercmd("RETR big")
        try:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            assert len(conn.recv(8192)) > 0
            f.sock.sendall(b"\xff\xf4\xff")
            f.sock.send(b"\xf2", socket.MSG_OOB)
            f.sock.sendall(b"ABOR\r\n")
            r1 = f.getmultiline()
            r2 = f.getmultiline()
            assert (r1[:3], r2[:3]) == ("426", "226"), (r1, r2)
        finally:
            hard_close(conn)
        assert f.voidcmd("NOOP").startswith("200")
        f.quit()
    finally:
        f.close()
    direct.wait_log(rf"transfer: user=\"bob\" ip={re.escape(CLIENT)} cmd=RETR path=\"/big\" bytes=\d+ "
                    r"status=aborted reason=aborted")


def test_curl_direct(direct, tmp_path):
    need("curl")
    url = f"ftp://127.0.0.1:{direct.frontends['v2']}/hello.txt"
    # EPSV would name HAProxy's address (the control connection's): this layout needs PASV.
    cp = run(["curl", "-sS", "--interface", CLIENT, "--disable-epsv", "-u", "bob:pw", url])
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == b"hello through haproxy\n"
    src = tmp_path / "c.bin"
    src.write_bytes(os.urandom(100000))
    cp = run(["curl", "-sS", "--interface", CLIENT, "--disable-epsv", "-u", "bob:pw", "-T", str(src),
              f"ftp://127.0.0.1:{direct.frontends['v1']}/curl.bin"])
    assert cp.returncode == 0, cp.stderr
    with open(os.path.join(direct.home_root, "bob", "curl.bin"), "rb") as fh:
        assert fh.read() == src.read_bytes()
    assert_real_client_only([direct])


def test_lftp_direct(direct, tmp_path):
    (tmp_path / "l.bin").write_bytes(os.urandom(70000))
    cp = lftp(direct.frontends["v2"], "put l.bin -o lftp.bin; get hello.txt -o got.txt; cls -1", str(tmp_path))
    assert cp.returncode == 0, cp.stderr
    assert (tmp_path / "got.txt").read_bytes() == b"hello through haproxy\n"
    assert b"lftp.bin" in cp.stdout
    with open(os.path.join(direct.home_root, "bob", "lftp.bin"), "rb") as fh:
        assert fh.read() == (tmp_path / "l.bin").read_bytes()
    assert_real_client_only([direct])


# ----------------------------------------------------------------------------- two nodes

@pytest.fixture(scope="module")
def nodes(ferry_bin):
    """Two nodes behind HAProxy with the README's configuration; passive data through it."""
    made = []
    lo_a, hi_a = free_range(["127.0.0.1", "127.0.0.2"], 10)
    lo_b, hi_b = free_range(["127.0.0.1", "127.0.0.3"], 10)
    while lo_b <= hi_a and hi_b >= lo_a:   # two distinct ranges (bounded: a few draws at most)
        lo_b, hi_b = free_range(["127.0.0.1", "127.0.0.3"], 10)
    a_port, b_port = free_port(host="127.0.0.2"), free_port(host="127.0.0.3")
    a = FerryServer(ferry_bin, listen=f"127.0.0.2:{a_port}",
                    config=node_config("127.0.0.2", a_port, lo_a, hi_a, "127.0.0.1", True))
    made.append(a)
    shared_home = os.path.join(a.home_root, "bob")
    b = FerryServer(ferry_bin, listen=f"127.0.0.3:{b_port}", users=(),
                    config=node_config("127.0.0.3", b_port, lo_b, hi_b, "127.0.0.1", True))
    made.append(b)
    b.add_user("bob", "pw", home=shared_home)
    hap = None
    try:
        for n in made:
            start_proxied(n)
        front = free_port()
        text = haproxy_nodes_config(f"127.0.0.1:{front}", [("node_a", "127.0.0.2", a_port, lo_a, hi_a),
                                                            ("node_b", "127.0.0.3", b_port, lo_b, hi_b)],
                                    passive_bind="127.0.0.1")
        hap = Haproxy(text).start([("127.0.0.1", front), ("127.0.0.1", lo_a), ("127.0.0.1", hi_b)])
        put_file(os.path.join(shared_home, "shared.txt"), b"one directory, two nodes\n")
        big_file(os.path.join(shared_home, "big"), BIG)
        yield {"front": front, "nodes": made, "home": shared_home, "haproxy": hap}
    finally:
        if hap:
            hap.stop()
        for n in made:
            n.teardown()


def test_nodes_health_checked(nodes):
    """HAProxy's tcp-check reaches both nodes through a LOCAL header (balancer's address)."""
    for n in nodes["nodes"]:
        n.wait_log(r"proxy: v2 LOCAL header from 127\.0\.0\.1: no client address", timeout=15.0)
        n.wait_log(r"(?m)command: \"QUIT\"$", timeout=15.0)


def test_nodes_ftplib_pasv_and_epsv(nodes):
    """Sessions land on both nodes (leastconn, two at once); each one's data goes through its
    node's passive frontend, PASV (227 names HAProxy) and EPSV alike."""
    fs = [ftp_client(nodes["front"]) for _ in range(2)]
    try:
        for i, f in enumerate(fs):
            f.login("bob", "pw")
            if i == 1:
                f.af = socket.AF_INET6   # makes ftplib use EPSV (the address family is not used)
            body = os.urandom(120000 + i)
            import io
            f.storbinary(f"STOR n{i}.bin", io.BytesIO(body))
            got = []
            f.retrbinary(f"RETR n{i}.bin", got.append)
            assert b"".join(got) == body
            got = []
            f.retrbinary("RETR shared.txt", got.append)
            assert b"".join(got) == b"one directory, two nodes\n"
        for f in fs:
            f.quit()
    finally:
        for f in fs:
            f.close()
    a, b = nodes["nodes"]
    assert client_lines(a, r"login ok") and client_lines(b, r"login ok"), "both nodes should have one session"
    for n in (a, b):
        n.wait_log(r"(?m)command: \"(PASV|EPSV)\"$")
    assert client_lines(a, r"command: \"EPSV\"") or client_lines(b, r"command: \"EPSV\"")
    assert_real_client_only([a, b])


def test_nodes_ftplib_abort(nodes):
    f = ftp_client(nodes["front"])
    try:
        f.login("bob", "pw")
        f.voidcmd("TYPE I")
        conn = f.transfercmd("RETR big")
        try:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            assert len(conn.recv(8192)) > 0
            assert f.abort().startswith("426")
            assert f.voidresp().startswith("226")
        finally:
            hard_close(conn)
        f.quit()
    finally:
        f.close()


def test_nodes_curl_and_lftp(nodes, tmp_path):
    need("curl")
    front = nodes["front"]
    # curl's default EPSV: the data connection goes to HAProxy's address, then the node's range.
    cp = run(["curl", "-sS", "--interface", CLIENT, "-u", "bob:pw", f"ftp://127.0.0.1:{front}/shared.txt"])
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == b"one directory, two nodes\n"
    src = tmp_path / "up.bin"
    src.write_bytes(os.urandom(200000))
    cp = run(["curl", "-sS", "--interface", CLIENT, "-u", "bob:pw", "-T", str(src),
              f"ftp://127.0.0.1:{front}/curl_nodes.bin"])
    assert cp.returncode == 0, cp.stderr
    with open(os.path.join(nodes["home"], "curl_nodes.bin"), "rb") as fh:
        assert fh.read() == src.read_bytes()
    cp = lftp(front, "get curl_nodes.bin -o back.bin; cls -1", str(tmp_path))
    assert cp.returncode == 0, cp.stderr
    assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()
    assert b"shared.txt" in cp.stdout
    assert_real_client_only(nodes["nodes"])


# ----------------------------------------------------------------------------- the README

def test_readme_shows_this_configuration(ferry_bin, tmp_path):
    """README "Running several nodes" shows the HAProxy configuration these tests run (rendered
    with its example addresses) and a node configuration ferryd --check accepts."""
    with open(os.path.join(REPO, "README.md")) as f:
        readme = f.read()
    text = haproxy_nodes_config("203.0.113.10:21", [("node_a", "10.0.0.2", 21, 50000, 50099),
                                                    ("node_b", "10.0.0.3", 21, 50100, 50199)],
                                passive_bind="203.0.113.10")
    assert "```\n" + text.rstrip("\n") + "\n```" in readme
    section = readme[readme.index("### HAProxy"):]
    ini = section[section.index("```ini\n") + 7:]
    ini = ini[:ini.index("```")]
    conf = tmp_path / "node.conf"
    conf.write_text(ini)
    cp = subprocess.run([ferry_bin.ferryd, "-c", str(conf), "--check"], capture_output=True, text=True,
                        timeout=CLI_TIMEOUT)
    assert cp.returncode == 0, cp.stderr
