"""Helpers for the tests of Ferry behind a TCP balancer (issue 16): PROXY protocol headers, a
ferryd that expects them, and HAProxy (Debian's `haproxy`) started by the test itself.

  v1 / v2                  PROXY protocol headers (haproxy doc/proxy-protocol.txt)
  proxied_ctl              a control connection that sends a header before reading the 220
  start_proxied            starts a FerryServer whose listeners expect the header (its readiness
                           probe sends a v2 LOCAL header, as HAProxy's health check does)
  Haproxy                  haproxy -db -f CONFIG in a temporary directory, stopped (bounded) at
                           the end; ready once its frontends listen (read from /proc/net/tcp)
  haproxy_nodes_config     the configuration README "Running several nodes" documents
  node_config              a node's [server]/[passive] behind HAProxy; free_range: its passive ports
  ftp_client / lftp        real clients through HAProxy from a given source address
  client_lines / assert_real_client_only
                           the nodes' log lines that name a client, and the check that they name
                           the clients, never HAProxy

Addresses: HAProxy connects to ferryd from 127.0.0.1 ([server] proxy_from); the test's clients
connect from 127.0.0.5 (a bound source address), which the header carries.

Every wait is bounded; every socket has a timeout; every subprocess has a timeout.
"""

import ftplib
import ipaddress
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import pytest

from conftest import START_TIMEOUT, STOP_TIMEOUT, Ctl, ProtocolError, free_range  # noqa: F401 (free_range: re-exported)
from files_helpers import DATA_TIMEOUT
from tls_helpers import need, run

BALANCER = "127.0.0.1"   # where HAProxy's connections to the nodes come from
CLIENT = "127.0.0.5"     # the real client, as HAProxy (and the header) sees it

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(src=CLIENT, dst="127.0.0.1", sport=40000, dport=21):
    proto = "TCP6" if ":" in src else "TCP4"
    return f"PROXY {proto} {src} {dst} {sport} {dport}\r\n".encode()


def v2(src=CLIENT, dst="127.0.0.1", sport=40000, dport=21, command=1, tlvs=b""):
    """A v2 header; command 0 is LOCAL (no address block)."""
    if command == 0:
        body, fam = b"", 0x00
    else:
        a, b = ipaddress.ip_address(src), ipaddress.ip_address(dst)
        fam = 0x11 if a.version == 4 else 0x21
        body = a.packed + b.packed + struct.pack(">HH", sport, dport)
    body += tlvs
    return V2_SIG + bytes([0x20 | command, fam]) + struct.pack(">H", len(body)) + body


def proxied_ctl(server, header, source=BALANCER, greet=True, timeout=5.0, port=None):
    """Connects from `source`, sends `header`, then reads the greeting (greet=True)."""
    c = Ctl(server.host, port or server.port, greet=False, source=source, timeout=timeout)
    c.send(header)
    if greet:
        c.greeting = c.reply()
    return c


def start_proxied(server, timeout=START_TIMEOUT):
    """FerryServer.start() for a server with [server] proxy_protocol on: the usual readiness probe
    (a plain connection expecting 220) would be refused, so this one sends a LOCAL header."""
    server.start(wait_greeting=False)
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            pytest.fail(f"ferryd exited with {server.proc.returncode}:\n{server.log()[-3000:]}")
        try:
            c = proxied_ctl(server, v2(command=0), timeout=max(0.2, deadline - time.monotonic()))
        except (OSError, ProtocolError) as e:
            last = repr(e)
            time.sleep(0.02)
            continue
        try:
            if c.greeting.code == 220:
                c.cmd("QUIT")
                c.assert_closed()
                return server
            last = repr(c.greeting)
        finally:
            c.close()
    server.kill()
    pytest.fail(f"ferryd did not greet through a PROXY header: {last}\n{server.log()[-3000:]}")


def big_file(path, size):
    """A sparse file of size bytes for the service user (a download that stalls)."""
    from files_helpers import chown_svc
    with open(path, "wb") as f:
        f.truncate(size)
    chown_svc(path)


def tcp_listening(host, port):
    """True when a TCP socket listens on host:port (IPv4), read from /proc/net/tcp (no probe
    connection, so the node behind a frontend sees nothing)."""
    want = "%s:%04X" % (socket.inet_aton(host)[::-1].hex().upper(), port)
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            if parts[1] == want and parts[3] == "0A":
                return True
    return False


class Haproxy:
    """HAProxy in the foreground (-db, no daemon) with a configuration from the test."""

    def __init__(self, config_text, stats=False):
        """stats: a stats socket in the global section, for server_status()."""
        self.exe = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not os.access(self.exe, os.X_OK):
            pytest.fail("haproxy is not installed (scripts/deps.sh FERRY_TEST_PKGS)")
        self.dir = tempfile.mkdtemp(prefix="ferry-haproxy-", dir="/tmp")
        self.config = os.path.join(self.dir, "haproxy.cfg")
        self.log_path = os.path.join(self.dir, "haproxy.log")
        self.stats_path = os.path.join(self.dir, "stats.sock") if stats else None
        if stats:
            assert config_text.startswith("global\n"), config_text[:40]
            config_text = config_text.replace(
                "global\n", f"global\n    stats socket {self.stats_path} mode 600 level admin\n", 1)
        with open(self.config, "w") as f:
            f.write(config_text)
        self.proc = None
        self._logf = None

    def check(self):
        cp = subprocess.run([self.exe, "-c", "-f", self.config], capture_output=True, text=True,
                            timeout=30)
        assert cp.returncode == 0, f"haproxy -c: {cp.stdout}{cp.stderr}"

    def start(self, listen, timeout=START_TIMEOUT):
        """Starts it and waits (bounded) until every (host, port) of listen is listening."""
        self.check()
        self._logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.exe, "-db", "-f", self.config], stdin=subprocess.DEVNULL,
                                     stdout=self._logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        pending = list(listen)
        while pending:
            if self.proc.poll() is not None:
                text = self.log()
                self.stop()
                pytest.fail(f"haproxy exited with {self.proc.returncode}: {text}")
            pending = [hp for hp in pending if not tcp_listening(*hp)]
            if pending and time.monotonic() > deadline:
                text = self.log()
                self.stop()
                pytest.fail(f"haproxy is not listening on {pending} after {timeout}s: {text}")
            if pending:
                time.sleep(0.02)
        return self

    def server_status(self, backend, server):
        """The server's check status as HAProxy's stats say: "UP", "DOWN", "UP 1/2"..."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5.0)
            s.connect(self.stats_path)
            s.sendall(b"show stat\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        lines = data.decode().splitlines()
        cols = lines[0].lstrip("# ").split(",")
        for line in lines[1:]:
            row = dict(zip(cols, line.split(",")))
            if row.get("pxname") == backend and row.get("svname") == server:
                return row["status"]
        raise AssertionError(f"no server {backend}/{server} in HAProxy's stats")

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)   # hard stop: closes every connection
                try:
                    self.proc.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=STOP_TIMEOUT)
        finally:
            if self._logf:
                self._logf.close()
                self._logf = None
            shutil.rmtree(self.dir, ignore_errors=True)


# The configuration of README "Running several nodes" (### HAProxy), with the test's addresses:
# {listen} is the public FTP address, {nodes} the nodes' server lines, {pasv} one frontend and
# backend per node's passive range. A node's passive range is forwarded to that node only, on
# the same port (a server line without a port keeps the client's destination port).
HAPROXY_GLOBAL = """\
global
    maxconn 2000

defaults
    mode tcp
    timeout connect 5s
    # FTP control connections idle between commands and during long transfers:
    # longer than ferryd's [server] idle_timeout, so ferryd decides.
    timeout client 1h
    timeout server 1h
"""

HAPROXY_CONTROL = """
frontend ftp
    bind {listen}
    default_backend ftp_nodes

backend ftp_nodes
    balance leastconn
    # Health check: the node must answer 220 (HAProxy sends a PROXY v2 LOCAL header first,
    # as check-send-proxy asks; ferryd keeps the balancer's own address for it).
    option tcp-check
    tcp-check expect rstring ^220
    tcp-check send QUIT\\r\\n
    tcp-check expect rstring ^221
{servers}
"""

HAPROXY_CONTROL_SERVER = "    server {name} {addr} send-proxy-v2 check check-send-proxy inter 2s\n"

HAPROXY_PASSIVE = """
frontend ftp_passive_{name}
    bind {bind_host}:{lo}-{hi}
    default_backend ftp_passive_{name}

backend ftp_passive_{name}
    # No port: the connection goes to the port the client connected to.
    server {name} {node_host} send-proxy-v2
"""


def haproxy_nodes_config(listen, nodes, passive_bind):
    """nodes: [(name, node_host, control_port, pasv_lo, pasv_hi)]."""
    servers = "".join(HAPROXY_CONTROL_SERVER.format(name=n, addr=f"{h}:{p}") for n, h, p, _, _ in nodes)
    text = HAPROXY_GLOBAL + HAPROXY_CONTROL.format(listen=listen, servers=servers.rstrip("\n"))
    for n, h, _, lo, hi in nodes:
        text += HAPROXY_PASSIVE.format(name=n, bind_host=passive_bind, lo=lo, hi=hi, node_host=h)
    return text


# ----------------------------------------------------------------------------- nodes and clients

def node_config(host, port, lo, hi, pasv_address, pasv_proxy, mode="v2"):
    return {"server": {"listen": f"{host}:{port}", "proxy_protocol": mode, "proxy_from": BALANCER,
                       "proxy_timeout": "5s"},
            "passive": {"ports": f"{lo}-{hi}", "address": pasv_address,
                        "proxy_protocol": "v2" if pasv_proxy else "off"}}


def client_lines(node, pattern):
    return [l for l in node.log().splitlines() if re.search(pattern, l)]


def assert_real_client_only(nodes, clients=(CLIENT,)):
    """Every login, transfer, refusal and ban line of every node names one of the clients, never
    the balancer."""
    seen = 0
    for n in nodes:
        for l in client_lines(n, r" (login ok|login failed|transfer|refused|ban):"):
            seen += 1
            ip = re.search(r" ip=(\S+)", l)
            assert ip and ip.group(1) in clients and ip.group(1) != BALANCER, l
    assert seen, "no login or transfer logged"


def ftp_client(port, timeout=DATA_TIMEOUT, source=CLIENT):
    f = ftplib.FTP()
    f.connect("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
    return f


def lftp(port, script, cwd, user="bob", password="pw"):
    need("lftp")
    return run(["lftp", "-c", "set net:socket-bind-ipv4 " + CLIENT + "; set net:max-retries 1; "
                "set net:timeout 20; set ftp:prefer-epsv no; set ftp:ssl-allow no; "
                f"open -u {user},{password} ftp://127.0.0.1:{port}; " + script], cwd=cwd)
