"""Capacity under load and abuse (issue 13 items 4 and 14): the shipped [limits] defaults do not
throttle common clients (rclone with 32 transfers and 32 checkers), a refusal says which limit
it hit, and idle connections that never log in cannot lock logged-in users out. Clients use
several loopback source addresses (127.0.0.x) to be different "addresses"; every wait is bounded."""

import ftplib
import os
import re
import shutil
import socket
import subprocess
import tempfile

import pytest

from conftest import Ctl, wait_until


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
