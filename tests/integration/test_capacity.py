"""Capacity under load and abuse (issue 13 items 4 and 14): the shipped [limits] defaults do not
throttle common clients (rclone with 32 transfers and 32 checkers), a refusal says which limit
it hit, and idle connections that never log in cannot lock logged-in users out. Clients use
several loopback source addresses (127.0.0.x) to be different "addresses"; every wait is bounded."""

import ftplib
import io
import os
import re
import shutil
import socket
import subprocess
import tempfile
import urllib.request

import pytest

from conftest import HOST, Ctl, free_port, require_feature, wait_until


def shipped_limits(make_server, **kw):
    """A started server whose config has no [limits] section: the shipped defaults apply."""
    srv = make_server(start=False, **kw)
    srv.drop_config_section("limits")
    srv.start()
    return srv


def rclone_remote(srv, user="bob", password="pw"):
    obscured = subprocess.run(["rclone", "obscure", password], capture_output=True, text=True, timeout=20,
                              check=True).stdout.strip()
    return f":ftp,host={srv.host},port={srv.port},user={user},pass={obscured}:"


def rclone(*args, timeout=120):
    return subprocess.run(["rclone", "--config", "/dev/null", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_rclone_32_transfers_32_checkers_with_default_limits(make_server):
    # rclone opens transfers + checkers + 1 control connections at once; under the old defaults
    # (max_per_user 20, max_per_ip 50, 30 connections at once) most were refused with 421 and
    # rclone crawled through retries.
    srv = shipped_limits(make_server)
    src = tempfile.mkdtemp(prefix="ferry-rclone-", dir="/tmp")
    try:
        files = {}
        for i in range(200):
            data = os.urandom(1000 + i * 37)
            files[f"f{i:03d}.bin"] = data
            with open(os.path.join(src, f"f{i:03d}.bin"), "wb") as f:
                f.write(data)
        remote = rclone_remote(srv)
        cp = rclone("copy", src, remote + "up", "--transfers", "32", "--checkers", "32",
                    "--retries", "1", "--low-level-retries", "1")
        assert cp.returncode == 0, cp.stderr[-3000:]
        cp = rclone("lsf", remote + "up", "--retries", "1", "--low-level-retries", "1")
        assert cp.returncode == 0, cp.stderr[-3000:]
        assert sorted(cp.stdout.split()) == sorted(files)
        home = os.path.join(srv.home_root, "bob", "up")
        for name, data in files.items():
            with open(os.path.join(home, name), "rb") as f:
                assert f.read() == data, name
        log = srv.log()
        assert "refused" not in log, [l for l in log.splitlines() if "refused" in l][:5]
        assert " 421 " not in log
    finally:
        shutil.rmtree(src, ignore_errors=True)


def test_user_limit_refusal_names_the_limit(make_server):
    # A refusal says which limit and its value, so the user of a client that only shows the
    # reply (ftplib, rclone) can tell it from a fault.
    srv = make_server(config={"limits": {"max_per_user": "1"}})
    first = ftplib.FTP()
    first.connect(srv.host, srv.port, timeout=10)
    first.login("bob", "pw")
    try:
        second = ftplib.FTP()
        second.connect(srv.host, srv.port, timeout=10)
        with pytest.raises(ftplib.error_temp) as e:
            second.login("bob", "pw")
        second.close()
        assert str(e.value) == ("421 Too many sessions for user bob (limit 1); close some or raise "
                                "[limits] max_per_user.")
        srv.wait_log(r'login refused: user="bob" ip=127\.0\.0\.1 reason=user-limit')
    finally:
        first.close()


OFF = {"max_per_ip": "0", "max_per_user": "0", "connect_rate": "0", "prelogin_commands": "1000000",
       "ban_failures": "0"}
EVICTED = "421 Server full; closing the oldest connection not logged in to make room. Try again later."


def test_idle_unauthenticated_connections_cannot_lock_out_a_login(make_server, ferry_bin):
    require_feature(ferry_bin, "metrics")
    # Issue 13 item 4: connections that never log in (a distributed slowloris: several
    # addresses, each within its own limits) filled max_sessions and a real user got
    # "421 Too many connections". Now the oldest one not logged in makes room.
    mport = free_port()
    srv = make_server(config={"server": {"max_sessions": "20"}, "limits": OFF,
                              "metrics": {"listen": f"{HOST}:{mport}"}})
    held = []
    try:
        for i in range(20):
            held.append(Ctl(srv.host, srv.port, timeout=5, source=f"127.0.0.{2 + i % 5}"))
            assert held[-1].greeting.code == 220
        # The flood goes on: each newcomer is admitted and an older one makes room, on
        # whichever of the two workers holds it (a session never changes thread).
        for i in range(10):
            held.append(Ctl(srv.host, srv.port, timeout=5, source=f"127.0.0.{2 + i % 5}"))
            assert held[-1].greeting.code == 220
        payload = os.urandom(100_000)
        f = ftplib.FTP()
        f.connect(srv.host, srv.port, timeout=10)
        f.login("bob", "pw")
        f.storbinary("STOR got.bin", io.BytesIO(payload))
        back = io.BytesIO()
        f.retrbinary("RETR got.bin", back.write)
        f.quit()
        assert back.getvalue() == payload
        with open(os.path.join(srv.home_root, "bob", "got.bin"), "rb") as fh:
            assert fh.read() == payload
        srv.wait_log(r"evicted: ip=127\.0\.0\.[2-6] reason=server-full max_sessions=20", count=11)
        # Exactly 11 idle connections made room: they got the 421 and were closed; the others
        # are still served.
        evicted = []
        for c in held:
            r = c.cmd("NOOP")
            if r.code == 421:
                assert r.lines == [EVICTED]
                c.assert_closed()
                evicted.append(c)
            else:
                assert r.code == 200, r
        assert len(evicted) == 11
        with urllib.request.urlopen(f"http://{HOST}:{mport}/metrics", timeout=5) as r:
            assert '\nferry_sessions_evicted_total{protocol="ftp"} 11\n' in r.read().decode()
        assert len(srv.log().split("evicted: ")) - 1 == 11
    finally:
        for c in held:
            c.close()


def test_full_of_logged_in_sessions_refuses_with_the_limit(make_server):
    # Logged-in sessions are never evicted: when every slot is logged in, the newcomer is
    # refused and told which limit.
    srv = make_server(config={"server": {"max_sessions": "3"}, "limits": OFF})
    held = []
    try:
        def logged_in_slot():
            c = Ctl(srv.host, srv.port, timeout=5, greet=False)
            if c.reply().code != 220:  # the readiness probe may still hold a slot
                c.close()
                return False
            c.login()
            held.append(c)
            return True
        for _ in range(3):
            wait_until(logged_in_slot, timeout=5, what="a session slot")
        extra = Ctl(srv.host, srv.port, timeout=5, greet=False)
        r = extra.reply()
        assert r.lines == ["421 Too many connections (server limit 3, all logged in); try again later or "
                           "raise [server] max_sessions."]
        extra.assert_closed()
        extra.close()
        for c in held:
            c.expect("NOOP", 200)
    finally:
        for c in held:
            c.close()
