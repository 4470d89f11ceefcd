"""SIGTERM while an upload's durable commit runs ([transfer] fsync = on: the file's fsync, the
rename into place, the directory's fsync, a job on the I/O threads). The drain lets connected
sessions go on until [server] drain_timeout, then closes them with 421 (SSH: a disconnect); a
session whose commit runs at that deadline is not closed then: it answers nothing more but the
commit, sends the commit's reply (FTP's 226, SFTP's OK for the CLOSE) once the commit has ended,
then closes. ferryd exits 0 after the last of them ("ferryd stopped"). Before, the deadline
closed the session at once: the data reached the disk, but its 226 or OK was lost.

"The disk is slow" is a state here, not a duration (tests/tools/hold_shim.c, as
test_io_jobs.py uses it): the fsyncs on bob's home are held until the test creates a release
file. "Released before the deadline" means a deadline far off (10 minutes) that no run reaches;
"past the deadline" means the test's 1 s deadline, the release only once the log says it passed.
Nothing is asserted on durations; every wait is bounded."""

import os
import re
import signal
import struct

import pytest

from conftest import built_features, free_port
from files_helpers import put_file
from sftp_helpers import CLOSE, EXTENDED, FX_OK, FXF_CREAT, FXF_TRUNC, FXF_WRITE, REALPATH, WRITE, Raw, sftp_config, sstr, \
    transport
from test_io_jobs import DATA, WAIT, assert_committed, held_server, release, start_upload

OLD = b"the old file\n"
FAR = "10m"  # a drain deadline no run reaches
NEAR = "1s"  # reached while the test holds the commit


def bob(srv, name=""):
    return os.path.join(srv.home_root, "bob", name)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def visible(srv):
    """bob's home as a listing shows it: the hidden temporaries of an older kernel's uploads
    (.ferry-upload.*, removed at the next start) left out."""
    return sorted(n for n in os.listdir(bob(srv)) if not n.startswith(".ferry-upload."))


def assert_stopped(srv):
    """Exit status 0, the shutdown line, no sanitizer report."""
    assert srv.wait_exit(WAIT) == 0, srv.log()[-3000:]
    assert re.search(r"info ferryd stopped$", srv.log(), re.M), srv.log()[-3000:]
    srv.check_log()


def transfer_line(srv, sid, name, protocol=""):
    srv.wait_log(rf'session={sid} transfer: user="bob" ip=127\.0\.0\.1 cmd=STOR path="/{re.escape(name)}" '
                 rf'bytes={len(DATA)} status=ok{protocol}', timeout=WAIT)


# ------------------------------------------------------------------------------------------- FTP

def ftp_held(make_server, name, drain):
    """A server whose commit of bob's STOR of DATA over an old file is held (the 226 not read)."""
    srv = held_server(make_server, "fsync", extra={"server": {"drain_timeout": drain}})
    srv.start()
    srv.wait_log(r"stale upload clean-up done")
    put_file(bob(srv, name), OLD)
    s = start_upload(srv, name)
    srv.wait_log(r"hold-shim: fsync held", timeout=WAIT)
    return srv, s


def sigterm_past_the_deadline(srv, name, protocol=""):
    """SIGTERM, then the deadline with the commit still held: ferryd says it waits for the commit
    (its session's id returned) and runs on; the old file is still what the name holds."""
    srv.signal(signal.SIGTERM)
    sid = srv.wait_log(rf'session=(\d+) shutdown: waiting for the commit of "/{re.escape(name)}"{protocol}; its '
                       r'reply goes out, then the session closes', timeout=WAIT)[0]
    srv.wait_log(r"worker \d+: drain deadline reached, closing 1 session\(s\)")
    srv.wait_log(r"worker \d+: 1 of them close once their upload's commit has been answered")
    assert srv.alive()
    assert read(bob(srv, name)) == OLD
    return sid


def test_ftp_commit_past_the_drain_deadline_gets_its_226(make_server):
    """The commit outlasts the deadline: the session is kept for it and runs no further command
    (the NOOP sent meanwhile is never answered); once the commit ends its 226 goes out, then the
    421, and the connection closes; the new file is whole under its name and nothing else is
    left. Before the fix the deadline sent the 421 and closed: the 226 was lost."""
    srv, s = ftp_held(make_server, "late.bin", NEAR)
    sid = sigterm_past_the_deadline(srv, "late.bin")
    s.c.send("NOOP\r\n")
    release(srv)
    r = s.c.reply(timeout=WAIT)
    assert r.code == 226, r
    r = s.c.reply(timeout=WAIT)
    assert r.code == 421 and r.text == "Server shutting down, closing control connection.", r
    s.c.assert_closed(WAIT)  # and no 200 for the NOOP
    s.c.close()
    transfer_line(srv, sid, "late.bin")
    assert_stopped(srv)
    assert read(bob(srv, "late.bin")) == DATA
    assert os.listdir(bob(srv)) == ["late.bin"]


def test_ftp_commit_released_before_the_drain_deadline(make_server):
    """The commit ends well within the drain: its 226, the exact bytes, the transfer line; the
    session goes on until its QUIT, and ferryd then exits without waiting for the deadline."""
    srv, s = ftp_held(make_server, "early.bin", FAR)
    srv.signal(signal.SIGTERM)
    srv.wait_log(r"stopping: no new connections", timeout=WAIT)
    release(srv)
    assert_committed(s, bob(srv, "early.bin"))  # 226, DATA under its name, QUIT's 221
    s.c.assert_closed(WAIT)
    s.c.close()
    sid = srv.wait_log(r'session=(\d+) command: "STOR early\.bin"')[0]
    transfer_line(srv, sid, "early.bin")
    assert_stopped(srv)
    assert "drain deadline reached" not in srv.log()
    assert os.listdir(bob(srv)) == ["early.bin"]


def test_ftp_killed_while_waiting_for_a_commit_keeps_the_old_file(make_server):
    """ferryd killed (systemd's TimeoutStopSec, say) while it waits for a commit held before its
    rename: the name still holds the whole old file, and no temporary is left under a name a
    listing shows."""
    srv, s = ftp_held(make_server, "killed.bin", NEAR)
    sigterm_past_the_deadline(srv, "killed.bin")
    srv.kill()
    s.c.close()
    assert read(bob(srv, "killed.bin")) == OLD
    assert visible(srv) == ["killed.bin"]


# ------------------------------------------------------------------------------------------ SFTP

@pytest.fixture
def sftp_built(ferry_bin):
    if "sftp" not in built_features(ferry_bin):
        pytest.skip("ferryd built without SFTP (meson -Dsftp=disabled)")


def sftp_held(make_server, name, drain, request="close"):
    """A server whose commit of bob's CLOSE of an upload of DATA over an old file (or, request
    "fsync", its fsync@openssh.com before any CLOSE) is held; returns the server, the transport,
    the channel and the request's id."""
    port = free_port()
    srv = held_server(make_server, "fsync", io_jobs="2",
                      extra=sftp_config(port, {"server": {"drain_timeout": drain}}))
    srv.sftp_port = port
    srv.start()
    srv.wait_log(r"stale upload clean-up done")
    put_file(bob(srv, name), OLD)
    t = transport(srv)
    r = Raw(t)
    r.ch.settimeout(WAIT)
    h = r.open(f"/{name}", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
    assert r.status(WRITE, sstr(h) + struct.pack(">Q", 0) + sstr(DATA)) == FX_OK
    rid = r.next_id
    r.next_id += 1
    if request == "close":
        r.send(CLOSE, struct.pack(">I", rid) + sstr(h))
    else:
        r.send(EXTENDED, struct.pack(">I", rid) + sstr("fsync@openssh.com") + sstr(h))
    srv.wait_log(r"hold-shim: fsync held", timeout=WAIT)
    return srv, t, r, rid


def recv_status(r, rid):
    typ, body = r.recv()
    assert struct.unpack(">I", body[:4])[0] == rid, (typ, body)
    return struct.unpack(">I", body[4:8])[0]


def test_sftp_close_past_the_drain_deadline_gets_ok(make_server, sftp_built):
    """As FTP's: the session is kept for its CLOSE's commit and answers nothing else (the
    REALPATH sent meanwhile gets no reply); once the commit ends the CLOSE's OK goes out and the
    session closes; the file is whole and nothing else is left. Before the fix the deadline
    disconnected the session: the OK was lost."""
    srv, t, r, rid = sftp_held(make_server, "late.bin", NEAR)
    sid = sigterm_past_the_deadline(srv, "late.bin", protocol=" protocol=sftp")
    r.send(REALPATH, struct.pack(">I", r.next_id) + sstr("/"))
    release(srv)
    assert recv_status(r, rid) == FX_OK
    with pytest.raises((EOFError, OSError)):
        r.recv()  # no reply to the REALPATH: the session has closed
    t.close()
    transfer_line(srv, sid, "late.bin", protocol=" protocol=sftp")
    srv.wait_log(rf"session={sid} disconnect: ip=127\.0\.0\.1 protocol=sftp reason=shutdown")
    assert_stopped(srv)
    assert read(bob(srv, "late.bin")) == DATA
    assert os.listdir(bob(srv)) == ["late.bin"]


def test_sftp_fsync_past_the_drain_deadline_gets_ok(make_server, sftp_built):
    """fsync@openssh.com is waited for the same way: its OK, then the session closes. The upload
    it synced was never closed, so it is not committed: the name keeps the whole old file and no
    temporary is left under a name a listing shows."""
    srv, t, r, rid = sftp_held(make_server, "synced.bin", NEAR, request="fsync")
    srv.signal(signal.SIGTERM)
    sid = srv.wait_log(r'session=(\d+) shutdown: waiting for the fsync of "/synced\.bin" protocol=sftp; its '
                       r'reply goes out, then the session closes', timeout=WAIT)[0]
    release(srv)
    assert recv_status(r, rid) == FX_OK
    with pytest.raises((EOFError, OSError)):
        r.recv()
    t.close()
    srv.wait_log(rf"session={sid} disconnect: ip=127\.0\.0\.1 protocol=sftp reason=shutdown")
    assert_stopped(srv)
    assert read(bob(srv, "synced.bin")) == OLD
    assert visible(srv) == ["synced.bin"]


def test_sftp_close_released_before_the_drain_deadline(make_server, sftp_built):
    """The commit ends well within the drain: the CLOSE's OK and the exact bytes; the session
    goes on until the client leaves, and ferryd then exits without waiting for the deadline."""
    srv, t, r, rid = sftp_held(make_server, "early.bin", FAR)
    srv.signal(signal.SIGTERM)
    srv.wait_log(r"stopping: no new connections", timeout=WAIT)
    release(srv)
    assert recv_status(r, rid) == FX_OK
    assert read(bob(srv, "early.bin")) == DATA
    t.close()
    sid = srv.wait_log(r"session=(\d+) sftp: subsystem started")[0]
    transfer_line(srv, sid, "early.bin", protocol=" protocol=sftp")
    assert_stopped(srv)
    assert "drain deadline reached" not in srv.log()
    assert os.listdir(bob(srv)) == ["early.bin"]
