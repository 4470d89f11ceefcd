"""Disk-bound work has job threads of its own ([server] io_jobs, event/jobs.h): a durable upload's
commit (its fsyncs) and the start-up clean-up of stale upload temporaries never hold the threads
logins need ([server] jobs), so a slow disk does not make every login on the node wait for it.

"The disk is slow" is a state here, not a duration: tests/tools/hold_shim.c (LD_PRELOAD) holds
ferryd's fsync, or the clean-up's fdopendir, on the user's home until the test creates a release
file, and says so in ferryd's log. With [server] jobs = 1, before the I/O threads existed the held
call took the only job thread and the login below never got its 331 (the test then fails on its
reply timeout). Every wait is bounded; nothing is asserted on durations.

The ASan build takes the shim too: its runtime is then not first in the library list, which
ASAN_OPTIONS verify_asan_link_order=0 allows."""

import os
import re
import signal
import struct
import time

import pytest

from conftest import built_features, free_port
from files_helpers import Session, put_file
from sftp_helpers import (CLOSE, EXTENDED, FX_OK, FXF_CREAT, FXF_TRUNC, FXF_WRITE, STATUS, WRITE, Raw,
                          sftp_config, sstr, transport)

# The held call's timeout in the tests: far beyond any scheduling delay.
WAIT = 60.0
DATA = bytes(range(256)) * 1000 + b"tail"


def held_server(make_server, call, io_jobs="1", extra=None):
    """A server (not started) whose fsync or fdopendir on bob's home is held until release()."""
    config = {"server": {"jobs": "1", "io_jobs": io_jobs}, "transfer": {"fsync": "on"}}
    for k, v in (extra or {}).items():
        config.setdefault(k, {}).update(v)
    srv = make_server(config=config, start=False)
    shim = os.path.join(srv.bins.build, "tests", "hold_shim.so")
    if not os.path.exists(shim):
        pytest.skip(f"{shim} not built")
    srv.release_path = os.path.join(srv.dir, "release-held-io")
    srv.env.update({
        "LD_PRELOAD": shim,
        "FERRY_HOLD_CALL": call,
        "FERRY_HOLD_DIR": os.path.join(srv.home_root, "bob"),
        "FERRY_HOLD_RELEASE": srv.release_path,
    })
    srv.env["ASAN_OPTIONS"] += ":verify_asan_link_order=0"
    return srv


def release(srv):
    with open(srv.release_path, "w"):
        pass


def start_upload(srv, name):
    """bob's STOR of DATA, the data connection closed; returns the session (226 not read)."""
    s = Session(srv, timeout=WAIT)
    d = s.open_passive()
    r = s.c.cmd(f"STOR {name}")
    assert r.code in (125, 150), r
    d.sendall(DATA)
    d.close()
    return s


def assert_committed(s, path):
    """The upload's 226 (read now), DATA exactly under its final name, and the session's QUIT."""
    r = s.c.reply(timeout=WAIT)
    assert r.code == 226, r
    with open(path, "rb") as f:
        assert f.read() == DATA
    s.c.expect("QUIT", 221)


def assert_login(srv):
    """A whole login (USER's lookup, PASS's check: both jobs) → 230."""
    c = srv.connect(timeout=WAIT)
    c.login("bob", "pw")
    c.expect("QUIT", 221)
    c.close()


def test_login_while_an_upload_fsync_is_held(make_server):
    srv = held_server(make_server, "fsync")
    srv.start()
    srv.wait_log(r"stale upload clean-up done")
    final = os.path.join(srv.home_root, "bob", "durable.bin")
    s = start_upload(srv, "durable.bin")
    srv.wait_log(r"hold-shim: fsync held", timeout=WAIT)
    # The commit holds its thread; logins go on (before: 331 never came).
    assert_login(srv)
    assert_login(srv)
    assert "hold-shim: fsync released" not in srv.log()
    assert not os.path.exists(final)  # no 226 and no file under its name before it is on disk
    release(srv)
    assert_committed(s, final)


def test_login_while_the_cleanup_is_held(make_server):
    """The clean-up walks the homes on an I/O thread: logins and a durable upload (on the other
    I/O thread) go on while it is held; its log lines are unchanged once it ends."""
    srv = held_server(make_server, "fdopendir", io_jobs="2")
    stale = put_file(os.path.join(srv.home_root, "bob", ".ferry-upload.stale1"), b"x", mtime=1000000000)
    srv.start()
    srv.wait_log(r"hold-shim: fdopendir held", timeout=WAIT)
    assert_login(srv)
    s = start_upload(srv, "during-cleanup.bin")
    assert_committed(s, os.path.join(srv.home_root, "bob", "during-cleanup.bin"))
    assert "stale upload clean-up done" not in srv.log()
    assert os.path.exists(stale)
    release(srv)
    srv.wait_log(r"removed 1 stale upload temporaries \(left by an earlier ferryd that did not exit "
                 r"cleanly\)", timeout=WAIT)
    srv.wait_log(r"stale upload clean-up done: 2 home\(s\) looked at, 0 shared folder\(s\)", timeout=WAIT)
    assert not os.path.exists(stale)


def test_sigterm_during_a_held_cleanup_exits(make_server):
    """SIGTERM while the clean-up walks a directory: ferryd exits 0 once that directory is done,
    without walking the others (a walk of every home may take long), its lines logged."""
    srv = held_server(make_server, "fdopendir")
    srv.start()
    srv.wait_log(r"hold-shim: fdopendir held", timeout=WAIT)
    srv.signal(signal.SIGTERM)
    srv.wait_log(r"stopping: no new connections", timeout=WAIT)
    assert srv.alive()
    release(srv)
    assert srv.wait_exit(WAIT) == 0
    log = srv.log()
    done = re.findall(r"stale upload clean-up done: (\d) home\(s\) looked at, 0 shared folder\(s\)", log)
    assert done in (["1"], ["2"]), log[-3000:]
    # Stopped early unless bob's home, the held one, was the last to walk.
    assert ("stale upload clean-up stopped early: ferryd is stopping" in log) == (done == ["1"]), log[-3000:]


def test_login_while_an_sftp_fsync_is_held(make_server, ferry_bin):
    """fsync@openssh.com is an I/O job too, not a call on the event loop: with one worker, an FTP
    login on that same loop completes while the SFTP session's fsync is held (before: the loop
    itself waited for the disk, and the login with it). The fsync's reply, and the requests
    pipelined behind it, come once it is done."""
    if "sftp" not in built_features(ferry_bin):
        pytest.skip("ferryd built without SFTP (meson -Dsftp=disabled)")
    port = free_port()
    extra = sftp_config(port)
    extra["server"] = {"workers": "1"}
    srv = held_server(make_server, "fsync", extra=extra)
    srv.sftp_port = port
    srv.start()
    srv.wait_log(r"stale upload clean-up done")
    data = DATA[:30000]
    t = transport(srv)
    r = Raw(t)
    r.ch.settimeout(WAIT)
    wh = r.open("/synced.bin", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
    assert r.status(WRITE, sstr(wh) + struct.pack(">Q", 0) + sstr(data)) == FX_OK
    sync_id, close_id = r.next_id, r.next_id + 1
    r.next_id += 2
    r.send(EXTENDED, struct.pack(">I", sync_id) + sstr("fsync@openssh.com") + sstr(wh))
    r.send(CLOSE, struct.pack(">I", close_id) + sstr(wh))  # waits behind the fsync
    srv.wait_log(r"hold-shim: fsync held", timeout=WAIT)
    assert_login(srv)
    final = os.path.join(srv.home_root, "bob", "synced.bin")
    assert not os.path.exists(final)  # the CLOSE behind the fsync has not run
    release(srv)
    for want in (sync_id, close_id):
        typ, body = r.recv()
        assert typ == STATUS and struct.unpack(">II", body[:8]) == (want, FX_OK), (typ, body)
    with open(final, "rb") as f:
        assert f.read() == data
    t.close()


def test_io_jobs_change_needs_a_restart(make_server):
    """[server] io_jobs is read at start, as jobs is: a reload says so and keeps serving."""
    srv = make_server(config={"server": {"io_jobs": "1"}})
    srv.write_config({"server": {"io_jobs": "3"}})
    assert "configuration reloaded" in srv.reload()
    srv.wait_log(r"reload: \[server\] io_jobs changed; it takes effect after a restart")
    assert_login(srv)


def test_io_queue_depth_metric(make_server, ferry_bin):
    """ferry_io_job_queue_depth counts the I/O jobs waiting for an I/O thread: with one I/O thread
    held by a commit's fsync, a second upload's commit waits (1), and none once released (0);
    ferry_job_queue_depth, the login threads' queue, counts neither."""
    from conftest import HOST, require_feature
    from test_metrics import scrape
    require_feature(ferry_bin, "metrics")
    mport = free_port()
    srv = held_server(make_server, "fsync", extra={"metrics": {"listen": f"{HOST}:{mport}"}})
    srv.start()
    srv.wait_log(r"stale upload clean-up done")
    first = start_upload(srv, "first.bin")
    srv.wait_log(r"hold-shim: fsync held", timeout=WAIT)
    second = start_upload(srv, "second.bin")
    v = {}
    for _ in range(int(WAIT * 10)):  # the second commit reaches the queue after its data ends
        v = scrape(mport)
        if v["ferry_io_job_queue_depth"] == 1:
            break
        time.sleep(0.1)
    assert v["ferry_io_job_queue_depth"] == 1, v
    assert v["ferry_job_queue_depth"] == 0, v
    release(srv)
    for s, name in ((first, "first.bin"), (second, "second.bin")):
        assert_committed(s, os.path.join(srv.home_root, "bob", name))
    assert scrape(mport)["ferry_io_job_queue_depth"] == 0
