"""[metrics] listen (issue 9): the Prometheus endpoint, scraped over HTTP and compared
with the traffic this test generated."""

import ftplib
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from conftest import HOST, free_port, require_feature, wait_until
from files_helpers import connect_data, parse227, recv_all
from tls_helpers import make_cert


def scrape(port):
    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=5) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    vals = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r'([a-z_]+(?:\{[^}]*\})?) (\d+)', line)
        assert m, line
        vals[m.group(1)] = int(m.group(2))
    return vals


@pytest.fixture
def msrv(make_server, ferry_bin):
    require_feature(ferry_bin, "metrics")
    d = tempfile.mkdtemp(prefix="ferry-metrics-", dir="/tmp")
    os.chmod(d, 0o755)
    cert, key = make_cert(d, "srv")
    mport = free_port()
    s = make_server(config={"metrics": {"listen": f"{HOST}:{mport}"}, "tls": {"cert": cert, "key": key, "data_reuse": "off"},
                            "limits": {"ban_failures": "2", "ban_time": "60s"}})
    s.mport = mport
    yield s
    shutil.rmtree(d, ignore_errors=True)


def test_off_by_default(server):
    assert "metrics:" not in server.log()


def test_not_found_and_method(msrv):
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"http://{HOST}:{msrv.mport}/other", timeout=5)
    assert e.value.code == 404
    req = urllib.request.Request(f"http://{HOST}:{msrv.mport}/metrics", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=5)
    assert e.value.code == 405


def test_metrics_follow_traffic(msrv):
    s = msrv
    # The start-up sweep of stale upload temporaries is a job: wait for it so
    # that the queue depth read below is the idle server's.
    s.wait_log(r"stale upload clean-up done")
    v0 = scrape(s.mport)
    assert v0['ferry_build_info{version="0.1.0"}'] == 1
    assert v0['ferry_sessions_open{protocol="ftp"}'] == 0
    assert v0['ferry_connections_total{protocol="ftp"}'] == 1  # the start-up probe
    for k in ('ferry_logins_total{protocol="ftp",result="ok"}', 'ferry_logins_total{protocol="ftp",result="failed"}',
              'ferry_received_bytes_total{protocol="ftp"}', 'ferry_sent_bytes_total{protocol="ftp"}',
              'ferry_transfers_total{protocol="ftp",result="ok"}',
              'ferry_transfers_total{protocol="ftp",result="aborted"}',
              'ferry_transfers_total{protocol="ftp",result="failed"}',
              "ferry_bans_total", "ferry_bans_active", "ferry_passive_ports_in_use",
              'ferry_tls_handshakes_total{result="ok"}', 'ferry_tls_handshakes_total{result="failed"}',
              "ferry_job_queue_depth", "ferry_io_job_queue_depth"):
        assert v0[k] == 0, k

    # One plain session: a failed login, a good one, an upload and a download.
    c = s.connect()
    c.expect("USER bob", 331)
    assert c.cmd("PASS nope").code == 530
    c.login()
    c.expect("TYPE I", 200)
    r = c.expect("PASV", 227)
    v = scrape(s.mport)
    assert v['ferry_sessions_open{protocol="ftp"}'] == 1
    assert v["ferry_passive_ports_in_use"] == 1
    d = connect_data(*parse227(r))
    c.expect("STOR up.bin", 150)
    d.sendall(b"u" * 3000)
    d.close()
    assert c.reply(10).code == 226
    r = c.expect("PASV", 227)
    d = connect_data(*parse227(r))
    c.expect("RETR up.bin", 150)
    assert recv_all(d) == b"u" * 3000
    d.close()
    assert c.reply(10).code == 226
    c.expect("RETR missing", 550)  # refused before any data connection: not a transfer
    c.expect("QUIT", 221)
    c.close()

    # One TLS session (AUTH TLS + PROT P listing): control and data handshakes.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    f = ftplib.FTP_TLS(context=ctx, timeout=10)
    f.connect(HOST, s.port)
    f.login("bob", "pw")
    f.prot_p()
    names = f.nlst()
    assert "up.bin" in names
    f.quit()

    def settled():
        v = scrape(s.mport)
        return v if v['ferry_sessions_open{protocol="ftp"}'] == 0 else None
    v = wait_until(settled, 5.0, what="sessions to close")
    assert v['ferry_connections_total{protocol="ftp"}'] == 3
    assert v['ferry_logins_total{protocol="ftp",result="ok"}'] == 2
    assert v['ferry_logins_total{protocol="ftp",result="failed"}'] == 1
    assert v['ferry_received_bytes_total{protocol="ftp"}'] == 3000
    nlst_bytes = len("up.bin\r\n")
    assert v['ferry_sent_bytes_total{protocol="ftp"}'] == 3000 + nlst_bytes
    assert v['ferry_transfers_total{protocol="ftp",result="ok"}'] == 3
    assert v['ferry_transfers_total{protocol="ftp",result="aborted"}'] == 0
    assert v['ferry_tls_handshakes_total{result="ok"}'] == 2
    assert v['ferry_tls_handshakes_total{result="failed"}'] == 0
    assert v["ferry_passive_ports_in_use"] == 0

    # A second failed login from this address reaches ban_failures = 2.
    c = s.connect()
    c.expect("USER bob", 331)
    assert c.cmd("PASS nope").code == 530
    c.close()
    v = wait_until(lambda: (x := scrape(s.mport))["ferry_bans_total"] == 1 and x, 5.0, what="ban")
    assert v["ferry_bans_active"] == 1
    assert v['ferry_logins_total{protocol="ftp",result="failed"}'] == 2


def test_idle_connections_do_not_hold_the_endpoint(msrv):
    # Issue 13 item 6: 20 idle connections (no request sent) took every slot of the endpoint
    # and a scrape waited for their 10 s timeout. With them still open, a scrape answers at once.
    held = []
    try:
        for _ in range(40):
            held.append(socket.create_connection((HOST, msrv.mport), timeout=5))
        t0 = time.monotonic()
        cp = subprocess.run(["curl", "-sS", "--max-time", "5", f"http://{HOST}:{msrv.mport}/metrics"],
                            capture_output=True, text=True, timeout=20)
        assert cp.returncode == 0, (cp.returncode, cp.stderr, time.monotonic() - t0)
        assert 'ferry_sessions_open{protocol="ftp"} 0' in cp.stdout
    finally:
        for s in held:
            s.close()
