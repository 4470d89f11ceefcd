"""Bandwidth limits (issue 18, "Bandwidth"): [limits] rate_down and rate_up, token buckets on the
event loop. These tests check what a limit must never break, not how fast it goes (that is the
bench/ row, see bench/README.md): a throttled transfer delivers exact bytes (plain, TLS, TYPE A,
listings, uploads by splice and by read), the server answers other sessions' commands while a
throttled transfer waits for its bucket, ABOR ends a throttled transfer, and bad values are
refused with a clear message. No assertion is on a duration; every wait is bounded."""

import ftplib
import hashlib
import io
import os
import random
import re
import socket
import ssl
import subprocess
import tempfile

import pytest

from files_helpers import (DATA_TIMEOUT, Session, home_of, make_dir, put_file, read_bytes,
                           recv_all)
from tls_helpers import make_cert

# Small caps keep each throttled transfer at a second or two on any machine.
RATE = "256K"
RATE_B = 256 * 1024


def payload(n, seed=18):
    return random.Random(seed).randbytes(n)


def rated(**kw):
    return {"limits": {k: str(v) for k, v in kw.items()}}


def sha(b):
    return hashlib.sha256(b).hexdigest()


def test_throttled_retr_and_stor_exact(make_server):
    """Downloads (sendfile) and uploads (splice) under both caps arrive whole and exact."""
    srv = make_server(config=rated(rate_down=RATE, rate_up=RATE))
    body = payload(3 * RATE_B // 2 + 12345)
    put_file(os.path.join(home_of(srv), "down.bin"), body)
    s = Session(srv)
    try:
        s.expect("TYPE I", 200)
        data, _, r2 = s.retr("down.bin")
        assert sha(data) == sha(body) and r2.code == 226
        s.stor("up.bin", body)
        assert sha(read_bytes(os.path.join(home_of(srv), "up.bin"))) == sha(body)
        # REST + RETR: the rest of the file, exactly
        data, _, _ = s.retr("down.bin", rest=100000)
        assert data == body[100000:]
    finally:
        s.close()
    srv.wait_log(r"transfer: .*up\.bin")


def test_throttled_type_a_and_listing_exact(make_server):
    """TYPE A (converted in user space, so charged as it is made) and a listing (chunks made on the
    job pool, charged whole) under a small cap."""
    srv = make_server(config=rated(rate_down="64K", rate_up="64K"))
    home = home_of(srv)
    text = b"".join(b"line %06d of some text\n" % i for i in range(6000))  # ~150 KB
    put_file(os.path.join(home, "t.txt"), text)
    make_dir(os.path.join(home, "many"))
    names = sorted("file_with_a_longish_name_%05d" % i for i in range(1500))
    for n in names:
        put_file(os.path.join(home, "many", n), b"")
    s = Session(srv)
    try:
        s.expect("TYPE A", 200)
        data, _, _ = s.retr("t.txt")
        assert data == text.replace(b"\n", b"\r\n")
        s.stor("t_up.txt", text.replace(b"\n", b"\r\n"))
        assert read_bytes(os.path.join(home, "t_up.txt")) == text
        listed = s.list_data("NLST", "many").decode().split("\r\n")
        assert sorted(x.rsplit("/", 1)[-1] for x in listed if x) == names
    finally:
        s.close()


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="ferry-it-rate-", dir="/tmp")
    os.chmod(d, 0o755)
    return make_cert(d, "a")


def test_throttled_tls_exact(make_server, certs):
    """PROT P: the bytes go through TLS in pieces the bucket grants (records never split wrongly,
    OpenSSL's retry rules kept), both directions."""
    cert, key = certs
    conf = rated(rate_down=RATE, rate_up=RATE)
    conf["tls"] = {"cert": cert, "key": key, "data_reuse": "off"}
    srv = make_server(config=conf)
    body = payload(RATE_B + 4321, seed=7)
    put_file(os.path.join(home_of(srv), "tls.bin"), body)
    ctx = ssl.create_default_context(cafile=cert)
    f = ftplib.FTP_TLS(context=ctx, timeout=DATA_TIMEOUT)
    try:
        f.connect(srv.host, srv.port)
        f.login("bob", "pw")
        f.prot_p()
        out = io.BytesIO()
        assert f.retrbinary("RETR tls.bin", out.write).startswith("226")
        assert sha(out.getvalue()) == sha(body)
        assert f.storbinary("STOR tls_up.bin", io.BytesIO(body)).startswith("226")
        assert sha(read_bytes(os.path.join(home_of(srv), "tls_up.bin"))) == sha(body)
        f.quit()
    finally:
        f.close()


def test_other_sessions_served_while_throttled(make_server):
    """A download waiting for its bucket does not hold its worker: with one worker thread, a
    second session logs in, lists and changes directory while the first transfer still runs, and
    the first still ends exact. "Still runs" holds by construction, not by timing: the file is 16
    minutes of bytes at the cap (64 MiB at 64K/s), so its 226 cannot have come (checked on the
    control connection and in the log) until the cap is lifted by a reload; then the rest arrives
    and is exact."""
    srv = make_server(config={"limits": {"rate_down": "64K"}, "server": {"workers": "1"}})
    body = payload(1024 * 64 * 1024, seed=3)
    put_file(os.path.join(home_of(srv), "slow.bin"), body)
    a = Session(srv)
    b = None
    try:
        a.expect("TYPE I", 200)
        d = a.open_passive()
        a.c.expect("RETR slow.bin", 150)
        got = d.recv(65536)
        assert got
        b = Session(srv)
        b.expect("PWD", 257)
        listing = b.list_data("NLST")
        assert b"slow.bin" in listing
        b.expect("CWD /", 250)
        b.expect("NOOP", 200)
        # the throttled transfer is still going: no 226 on its control connection, none logged
        a.c.sock.settimeout(0)
        with pytest.raises(BlockingIOError):
            a.c.sock.recv(100, socket.MSG_PEEK)
        a.c.sock.settimeout(DATA_TIMEOUT)
        assert not re.search(r"transfer: .*slow\.bin", srv.log())
        # lift the server-wide cap: the running transfer's next bytes are not held back
        srv.write_config({"limits": {"rate_down": "0"}})
        srv.reload(timeout=60)
        rest = recv_all(d, timeout=120)
        d.close()
        assert sha(got + rest) == sha(body)
        assert a.reply(timeout=DATA_TIMEOUT).code == 226
    finally:
        a.close()
        if b:
            b.close()
    srv.wait_log(r"transfer: .*slow\.bin", timeout=60)


def test_abor_of_throttled_transfer(make_server):
    """ABOR ends a download that is waiting for its bucket (its timer is cancelled, no byte is
    sent after the 426), and the session goes on at once."""
    srv = make_server(config=rated(rate_down="64K"))
    body = payload(64 * 1024 * 60, seed=5)  # a minute at the cap
    put_file(os.path.join(home_of(srv), "abor.bin"), body)
    s = Session(srv)
    try:
        s.expect("TYPE I", 200)
        d = s.open_passive()
        s.c.expect("RETR abor.bin", 150)
        assert d.recv(1000)
        s.c.send(b"ABOR\r\n")
        assert s.reply(timeout=20).code == 426
        assert s.reply(timeout=20).code == 226
        d.close()
        s.expect("NOOP", 200)
        s.expect("TYPE I", 200)
        data, _, _ = s.retr("abor.bin", rest=len(body) - 5000)
        assert data == body[-5000:]
    finally:
        s.close()
    srv.wait_log(r"transfer: .*abor\.bin")


def test_stor_abor_while_throttled(make_server):
    """An upload paused by rate_up (the client's bytes wait in the socket) is stopped by ABOR; the
    old file stays intact."""
    srv = make_server(config=rated(rate_up="64K"))
    home = home_of(srv)
    put_file(os.path.join(home, "keep.bin"), b"old contents")
    s = Session(srv)
    try:
        s.expect("TYPE I", 200)
        d = s.open_passive()
        s.c.expect("STOR keep.bin", 150)
        d.setblocking(False)
        sent = 0
        for i in range(10000):  # until the socket buffers are full (the server reads slowly)
            try:
                sent += d.send(payload(65536, seed=i))
            except BlockingIOError:
                break
        assert sent > 0
        s.c.send(b"ABOR\r\n")
        codes = [s.reply(timeout=20).code]
        if codes[0] != 226:
            codes.append(s.reply(timeout=20).code)
        assert codes in ([426, 226], [226]), codes
        d.close()
        s.expect("NOOP", 200)
    finally:
        s.close()
    assert read_bytes(os.path.join(home, "keep.bin")) == b"old contents"


def test_reload_changes_rate(make_server):
    """SIGHUP applies a new [limits] rate_down to the next bytes (here: lifted, then set again),
    and a value that does not parse keeps the running configuration."""
    srv = make_server(config=rated(rate_down="64K"))
    body = payload(200000, seed=9)
    put_file(os.path.join(home_of(srv), "r.bin"), body)
    srv.write_config(rated(rate_down="0"))
    srv.reload()
    s = Session(srv)
    try:
        s.expect("TYPE I", 200)
        assert s.retr("r.bin")[0] == body
    finally:
        s.close()
    srv.write_config(rated(rate_down="fast"))
    assert "reload failed" in srv.reload()
    assert srv.alive()


@pytest.mark.parametrize("key,value,why", [
    ("rate_down", "20MB", "expected a number of bytes from 0 to 1099511627776 with an optional K, M, G or T "
                          "suffix (such as 512K or 20M), got \"20MB\""),
    ("rate_up", "-1", "got \"-1\""),
    ("rate_up", "1.5M", "got \"1.5M\""),
    ("rate_down", "2T", "got \"2T\""),
])
def test_bad_values_refused(make_server, key, value, why):
    """A bad rate stops ferryd --check and ferryd itself with the key, line and reason."""
    srv = make_server(start=False)
    srv.write_config(rated(**{key: value}))
    cp = subprocess.run([srv.bins.ferryd, "-c", srv.config_path, "--check"], capture_output=True, text=True,
                        timeout=30)
    assert cp.returncode == 1, cp
    assert f"[limits] {key}: expected a number of bytes" in cp.stderr and why in cp.stderr, cp.stderr
    # ferryd itself does not start with it (status 1, as for every configuration error: ferryd(8))
    cp = subprocess.run([srv.bins.ferryd, "-c", srv.config_path], capture_output=True, text=True, timeout=30)
    assert cp.returncode == 1, cp
    assert f"[limits] {key}: expected a number of bytes" in cp.stderr and why in cp.stderr, cp.stderr


def test_bench_rate_smoke(ferry_bin, tmp_path):
    """bench/rate runs end to end with tiny sizes (its numbers are not judged here), prints its
    four rows, writes a JSON file with every transfer and removes its scratch folder."""
    import json
    import shutil
    from conftest import REPO
    work = tempfile.mkdtemp(prefix="ferry-it-benchrate-", dir="/tmp")
    os.chmod(work, 0o755)  # ferryd runs as the service user
    try:
        cp = subprocess.run([os.path.join(REPO, "bench", "rate"), "--rounds", "1", "--mib", "2", "--limit", "4M",
                             "--build", ferry_bin.build, "--work", os.path.join(work, "w"),
                             "--results", str(tmp_path / "res")], capture_output=True, text=True, timeout=300)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        assert not os.path.exists(os.path.join(work, "w"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for row in ("| RETR ×1 |", "| STOR ×1 |", "| RETR ×2 |", "| STOR ×2 |"):
        assert row in cp.stdout, cp.stdout
    (res,) = list((tmp_path / "res").iterdir())
    data = json.loads(res.read_text())
    assert data["limit"] == 4 << 20 and len(data["raw"]["retr_2"][0]) == 2


def test_empty_and_zero_mean_unlimited(make_server):
    srv = make_server(config=rated(rate_down="", rate_up="0"))
    body = payload(100000, seed=11)
    put_file(os.path.join(home_of(srv), "z.bin"), body)
    s = Session(srv)
    try:
        s.expect("TYPE I", 200)
        assert s.retr("z.bin")[0] == body
    finally:
        s.close()


def test_sftp_throttled_exact(make_server, ferry_bin, tmp_path):
    """SFTP under both caps: a pipelined download (paramiko prefetches many READs) and an upload
    (pipelined WRITEs) arrive exact; requests held back by the bucket wait on a loop timer, and the
    same session's other requests (stat, listdir) are still answered afterwards. OpenSSH's sftp
    gets the same file exact and puts it back exact."""
    from conftest import built_features
    if "sftp" not in built_features(ferry_bin):
        pytest.skip("ferryd built without SFTP (meson -Dsftp=disabled)")
    from sftp_helpers import client, openssh_sftp, start_sftp_server
    srv = start_sftp_server(make_server, rated(rate_down=RATE, rate_up=RATE))
    body = payload(RATE_B + 99999, seed=21)
    put_file(os.path.join(home_of(srv), "s.bin"), body)
    c = client(srv)
    try:
        out = io.BytesIO()
        c.getfo("/s.bin", out)
        assert sha(out.getvalue()) == sha(body)
        c.putfo(io.BytesIO(body), "/s_up.bin")
        assert sha(read_bytes(os.path.join(home_of(srv), "s_up.bin"))) == sha(body)
        assert c.stat("/s.bin").st_size == len(body)
        assert "s_up.bin" in c.listdir("/")
    finally:
        c.close()
    r = openssh_sftp(srv, ["get /s.bin got.bin", "put got.bin /o_up.bin"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert sha((tmp_path / "got.bin").read_bytes()) == sha(body)
    # and OpenSSH's pipelined upload under rate_up arrives exact
    assert sha(read_bytes(os.path.join(home_of(srv), "o_up.bin"))) == sha(body)
