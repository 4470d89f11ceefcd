"""[transfer] fsync for SFTP: with `on` (the default) the CLOSE of an upload is answered
SSH_FX_OK only once the upload is on disk, as FTP's 226 (test_durability.py): the file's fsync,
the rename of the temporary into place (or nothing to rename for an upload in place: APPEND, or
a write without TRUNC), then the directory's fsync, all as an I/O job. A failed fsync is
SSH_FX_FAILURE with the temporary gone and the old file intact; with `off` nothing is fsync'ed.

"The disk is slow" is a state here (tests/tools/hold_shim.c, as test_io_jobs.py uses it): the
fsyncs on bob's home are held until the test creates a release file, and the shim says so in
ferryd's log, before the call for "held" and after it for "released". A fsync that fails comes
from strace's fault injection, as in test_durability.py. Nothing is asserted on durations; every
wait is bounded."""

import os
import re
import shutil
import struct
import tempfile
import threading

import pytest

from conftest import free_port, wait_until
from files_helpers import put_file
from sftp_helpers import (CLOSE, FX_FAILURE, FX_OK, FXF_APPEND, FXF_CREAT, FXF_TRUNC, FXF_WRITE, STATUS, WRITE,
                          Raw, client, sftp_config, sstr, start_sftp_server, transport)
from sftp_helpers import needs_sftp  # noqa: F401 (a fixture)
from test_durability import TRACE, calls, index_of
from test_io_jobs import WAIT, held_server, release

pytestmark = pytest.mark.usefixtures("needs_sftp")

DATA = bytes(range(256)) * 400 + b"end"


@pytest.fixture
def admin_dir():
    d = tempfile.mkdtemp(prefix="ferry-sftp-dur-", dir="/tmp")
    os.chmod(d, 0o777)  # the admin socket's directory, made by the service user
    yield d
    shutil.rmtree(d, ignore_errors=True)


def held_sftp_server(make_server, extra=None):
    """A started server with SFTP whose fsyncs on bob's home are held until release(srv)."""
    port = free_port()
    cfg = sftp_config(port, extra)
    srv = held_server(make_server, "fsync", io_jobs="2", extra=cfg)
    srv.sftp_port = port
    srv.start()
    srv.wait_log(r"stale upload clean-up done")
    return srv


def bob(srv, name=""):
    return os.path.join(srv.home_root, "bob", name)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def send_close(r, handle):
    rid = r.next_id
    r.next_id += 1
    r.send(CLOSE, struct.pack(">I", rid) + sstr(handle))
    return rid


def recv_status(r, rid):
    typ, body = r.recv()
    assert typ == STATUS and struct.unpack(">I", body[:4])[0] == rid, (typ, body)
    code = struct.unpack(">I", body[4:8])[0]
    n = struct.unpack(">I", body[8:12])[0]
    return code, body[12:12 + n].decode()


def test_close_waits_for_the_fsyncs_then_ok(make_server):
    """The atomic case: while the file's fsync is held the CLOSE has no reply and the final name
    does not exist (the old file is what it was); after the release both fsyncs (the file's, then
    the directory's after the rename) have run before OK came, and the bytes are exact."""
    srv = held_sftp_server(make_server)
    put_file(bob(srv, "atomic.bin"), b"the old file\n")
    t = transport(srv)
    r = Raw(t)
    r.ch.settimeout(WAIT)
    w = r.open("/atomic.bin", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
    assert r.status(WRITE, sstr(w) + struct.pack(">Q", 0) + sstr(DATA)) == FX_OK
    rid = send_close(r, w)
    srv.wait_log(r"hold-shim: fsync held", timeout=WAIT)
    assert not r.ch.recv_ready()  # no reply while the data is not on disk
    assert read(bob(srv, "atomic.bin")) == b"the old file\n"  # not renamed before the fsync
    release(srv)
    assert recv_status(r, rid) == (FX_OK, "Success")
    # Both fsyncs ran (each writes its "released" before it returns) before the reply was sent.
    assert srv.log().count("hold-shim: fsync released") == 2, srv.log()[-2000:]
    assert read(bob(srv, "atomic.bin")) == DATA
    assert sorted(os.listdir(bob(srv))) == ["atomic.bin"]
    t.close()
    srv.wait_log(r'transfer: user="bob" ip=127\.0\.0\.1 cmd=STOR path="/atomic\.bin" bytes=%d status=ok '
                 r'protocol=sftp' % len(DATA))


@pytest.mark.parametrize("flags,verb,offset", [(FXF_WRITE | FXF_APPEND, "APPE", 0),
                                               (FXF_WRITE, "STOR", len(b"first part\n"))])
def test_in_place_close_waits_for_the_fsyncs(make_server, flags, verb, offset):
    """In place (APPEND; a write without TRUNC, a resumed put): as FTP's APPE and REST+STOR, the
    file and its directory are fsync'ed before the reply."""
    srv = held_sftp_server(make_server)
    put_file(bob(srv, "inplace.txt"), b"first part\n")
    t = transport(srv)
    r = Raw(t)
    r.ch.settimeout(WAIT)
    w = r.open("/inplace.txt", flags)
    assert r.status(WRITE, sstr(w) + struct.pack(">Q", offset) + sstr(b"second part\n")) == FX_OK
    rid = send_close(r, w)
    srv.wait_log(r"hold-shim: fsync held", timeout=WAIT)
    assert not r.ch.recv_ready()
    release(srv)
    assert recv_status(r, rid) == (FX_OK, "Success")
    assert srv.log().count("hold-shim: fsync released") == 2, srv.log()[-2000:]
    assert read(bob(srv, "inplace.txt")) == b"first part\nsecond part\n"
    t.close()
    srv.wait_log(r'cmd=%s path="/inplace\.txt" bytes=12 status=ok protocol=sftp' % verb)


def test_paramiko_put_waits_for_the_fsync(make_server):
    """A plain client's upload (paramiko's put): it does not return while the fsync is held."""
    srv = held_sftp_server(make_server)
    src = os.path.join(srv.dir, "local.bin")
    put_file(src, DATA)
    c = client(srv)
    c.get_channel().settimeout(WAIT)
    done = {}

    def put():
        try:
            done["attrs"] = c.put(src, "/put.bin")
        except Exception as e:  # reported below
            done["error"] = e

    th = threading.Thread(target=put)
    th.start()
    try:
        srv.wait_log(r"hold-shim: fsync held", timeout=WAIT)
        assert th.is_alive() and not done
        assert not os.path.exists(bob(srv, "put.bin"))
    finally:
        release(srv)
        th.join(WAIT)
    assert not th.is_alive() and "error" not in done, done
    assert done["attrs"].st_size == len(DATA)
    assert read(bob(srv, "put.bin")) == DATA
    c.close()


@pytest.mark.parametrize("how", ["kick", "lost"])
def test_session_ends_during_the_commit(make_server, admin_dir, how):
    """The session ends while the commit's fsync is held: kicked (the session is freed while the
    job runs: the job then frees itself), or its connection lost (the session, waiting for the
    job, notices once it ends). Either way the job still commits (the upload was complete and
    its CLOSE sent; only the reply is lost), and ferryd goes on serving (a leak or a double free
    fails the sanitizer builds)."""
    srv = held_sftp_server(make_server, {"admin": {"socket": os.path.join(admin_dir, "admin.sock")}})
    put_file(bob(srv, "lost.bin"), b"the old file\n")
    t = transport(srv)
    r = Raw(t)
    sid = srv.wait_log(r"session=(\d+) sftp: subsystem started")[0]
    w = r.open("/lost.bin", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
    assert r.status(WRITE, sstr(w) + struct.pack(">Q", 0) + sstr(DATA)) == FX_OK
    send_close(r, w)
    srv.wait_log(r"hold-shim: fsync held", timeout=WAIT)
    if how == "kick":
        cp = srv.ferry("kick", str(sid))
        assert cp.returncode == 0, cp
        srv.wait_log(rf"session={sid} disconnect: ip=127\.0\.0\.1 protocol=sftp reason=kicked", timeout=WAIT)
        t.close()
    else:
        t.close()
    assert read(bob(srv, "lost.bin")) == b"the old file\n"
    release(srv)
    srv.wait_log(rf"session={sid} disconnect: ip=127\.0\.0\.1 protocol=sftp", timeout=WAIT)
    wait_until(lambda: srv.log().count("hold-shim: fsync released") == 2, WAIT, what="the directory's fsync")
    assert read(bob(srv, "lost.bin")) == DATA
    if how == "lost":  # the session was still there when the job ended: its event is logged
        srv.wait_log(rf'session={sid} transfer: user="bob" ip=127\.0\.0\.1 cmd=STOR path="/lost\.bin" '
                     rf'bytes={len(DATA)} status=ok protocol=sftp')
    c = client(srv)
    with c.open("/next.bin", "w") as f:
        f.write(b"next\n")
    c.close()
    assert read(bob(srv, "next.bin")) == b"next\n"
    assert sorted(os.listdir(bob(srv))) == ["lost.bin", "next.bin"]


def sftp_traced(make_server, tmp_path, fsync=None, inject=None):
    """A server with SFTP under strace (test_durability.py's). Started once without it first, so
    that its host key is generated (and fsync'ed) outside the trace: strace counts an
    injection's "when" per thread, and the key is written by the main thread."""
    extra = {"server": {"jobs": "1", "io_jobs": "1"}}
    if fsync:
        extra["transfer"] = {"fsync": fsync}
    srv = start_sftp_server(make_server, extra)
    srv.stop()
    trace = str(tmp_path / "strace.out")
    srv.wrapper = ["strace", "-o", trace, *TRACE] + (["-e", inject] if inject else [])
    srv.start()
    return srv, trace


needs_strace = pytest.mark.skipif(shutil.which("strace") is None, reason="strace missing")


@needs_strace
def test_failed_fsync_is_failure_and_keeps_the_old_file(make_server, tmp_path):
    """The upload's fsync (the first of the I/O thread) fails: FAILURE with the error, the old
    file byte-exact, no temporary left, the transfer logged failed as FTP's (reason=local-error);
    the session goes on and the next upload commits."""
    srv, trace = sftp_traced(make_server, tmp_path, inject="inject=fsync:error=EIO:when=1")
    put_file(bob(srv, "f.bin"), b"the old file\n")
    t = transport(srv)
    r = Raw(t)
    w = r.open("/f.bin", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
    assert r.status(WRITE, sstr(w) + struct.pack(">Q", 0) + sstr(b"x" * 5000)) == FX_OK
    code, text = recv_status(r, send_close(r, w))
    # EIO, or ENOSYS where the sandbox's seccomp filter meets the skipped call first.
    assert code == FX_FAILURE and text.startswith("Upload not committed: "), (code, text)
    assert read(bob(srv, "f.bin")) == b"the old file\n"
    assert sorted(os.listdir(bob(srv))) == ["f.bin"]
    srv.wait_log(r'transfer: user="bob" ip=127\.0\.0\.1 cmd=STOR path="/f\.bin" bytes=5000 status=failed '
                 r'reason=local-error error="[^"]+" protocol=sftp')
    g = r.open("/g.bin", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
    assert r.status(WRITE, sstr(g) + struct.pack(">Q", 0) + sstr(b"after\n")) == FX_OK
    assert r.status(CLOSE, sstr(g)) == FX_OK
    assert read(bob(srv, "g.bin")) == b"after\n"
    t.close()
    lines = calls(trace)
    assert index_of(lines, r"^fsync\(.*\) = -1 .*\(INJECTED\)") is not None, lines[-30:]
    assert index_of(lines, r'^rename(at2?)?\(.*"f\.bin"') is None, "the failed upload was renamed into place"


@needs_strace
def test_fsync_off_syncs_nothing(make_server, tmp_path):
    srv, trace = sftp_traced(make_server, tmp_path, fsync="off")
    src = os.path.join(srv.dir, "local.bin")
    put_file(src, DATA)
    c = client(srv)
    c.put(src, "/a.bin")
    with c.open("/a.bin", "a") as f:
        f.write(b"+")
    c.close()
    assert read(bob(srv, "a.bin")) == DATA + b"+"
    srv.wait_log(r'cmd=APPE path="/a\.bin" bytes=1 status=ok protocol=sftp')
    synced = [l for l in calls(trace) if re.match(r"f(data)?sync\(", l) and srv.home_root in l]
    assert synced == [], synced


@needs_strace
def test_fsync_on_syncs_file_and_directory(make_server, tmp_path):
    """The default: the strace shows the file's fsync, the rename, then the directory's fsync."""
    srv, trace = sftp_traced(make_server, tmp_path)
    src = os.path.join(srv.dir, "local.bin")
    put_file(src, DATA)
    c = client(srv)
    c.put(src, "/d.bin")
    c.close()
    assert read(bob(srv, "d.bin")) == DATA
    home = re.escape(bob(srv).rstrip("/"))
    lines = calls(trace)
    tmp_in_dir = home + r"/(#\d+>\(deleted\)|\.ferry-upload\.[0-9a-f]+>)"
    # (An interrupted call's two halves are joined with the blanks between them.)
    f_sync = index_of(lines, r"^f(data)?sync\(\d+<" + tmp_in_dir + r"\s*\)\s+= 0")
    assert f_sync is not None, lines[-30:]
    renamed = index_of(lines, r'^(rename(at2?)?|linkat)\(.*"d\.bin".*\) = 0', f_sync)
    assert renamed is not None, lines[-30:]
    assert index_of(lines, r"^fsync\(\d+<" + home + r">\s*\)\s+= 0", renamed) is not None, lines[-30:]


BIG = 20 << 20  # past core/writebehind.h's WRITEBEHIND_BYTES (8 MiB) twice


@needs_strace
@pytest.mark.parametrize("fsync", ["on", "off"])
@pytest.mark.parametrize("protocol", ["ftp", "sftp"])
def test_durable_upload_writes_behind(make_server, tmp_path, protocol, fsync):
    """A durable upload starts its bytes on their way to the disk while it arrives
    (sync_file_range on an I/O thread, core/writebehind.h), SFTP's as FTP's, so the commit's
    fsync finds little left; with fsync = off nothing is synced. Before, SFTP never wrote
    behind. At least one call, not a count: one runs at a time, so how many depends on the
    disk. One I/O thread: a write-behind submitted before the commit has returned before the
    commit's fsync starts, so before the final reply (strace writes a line as its call returns)."""
    srv = start_sftp_server(make_server, {"transfer": {"fsync": fsync}, "server": {"io_jobs": "1"}})
    srv.stop()
    trace = str(tmp_path / "strace.out")
    srv.wrapper = ["strace", "-o", trace, "-f", "-qq", "-y", "-e", "trace=sync_file_range"]
    srv.start()
    src = os.path.join(srv.dir, "big.bin")
    data = os.urandom(1 << 20) * (BIG >> 20)
    put_file(src, data)
    if protocol == "sftp":
        c = client(srv)
        c.put(src, "/big.bin")
        c.close()
    else:
        from files_helpers import Session
        s = Session(srv)
        s.expect("TYPE I", 200)
        s.stor("/big.bin", data)
        s.c.expect("QUIT", 221)
    assert read(bob(srv, "big.bin")) == data
    home = re.escape(bob(srv).rstrip("/"))
    synced = [l for l in calls(trace) if re.match(r"sync_file_range\(\d+<" + home + "/", l)]
    if fsync == "on":
        assert synced and all(l.rstrip().endswith("= 0") for l in synced), synced
    else:
        assert synced == [], synced
