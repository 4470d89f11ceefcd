"""Faults (issue 7): a full disk during STOR, a client that vanishes mid-upload, ferryd killed
mid-upload, and the temporaries a killed ferryd leaves. Nothing half-written ever appears under
the final name and the previous file stays intact."""

import os
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import IS_ROOT, wait_until
from files_helpers import Session, chown_svc, hard_close, home_of, put_file, read_bytes

OLD = b"old content\n" * 4096  # 48 KiB


def listing(d):
    return sorted(os.listdir(d))


@pytest.fixture
def small_fs():
    """A 1 MiB tmpfs (root only; skipped where mounting is not allowed)."""
    if not IS_ROOT:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tempfile.mkdtemp(prefix="ferry-it-smallfs-", dir="/tmp")
    os.chmod(mnt, 0o755)
    cp = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(mnt)],
                        capture_output=True, text=True)
    if cp.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {cp.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", mnt], capture_output=True)
        os.rmdir(mnt)


@pytest.mark.parametrize("atomic", ["yes", "no"])
def test_disk_full_during_stor_is_552_and_the_old_file_stays(make_server, small_fs, atomic):
    srv = make_server(config={"transfer": {"atomic_uploads": atomic}}, start=False)
    home = os.path.join(small_fs, "home")
    os.makedirs(home)
    srv.add_user("carol", "pw2", home=home)
    put_file(os.path.join(home, "f"), OLD)
    chown_svc(home)
    srv.start()
    s = Session(srv, "carol", "pw2")
    try:
        d = s.open_passive()
        r = s.cmd("STOR f")
        assert r.code == 150, r
        try:
            for _ in range(64):  # 4 MiB into a 1 MiB file system
                d.sendall(b"n" * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server gave up on the data connection: fine
        d.close()
        r = s.reply(timeout=20)
        assert (r.code, r.text) == (552, "Insufficient storage space; transfer aborted.")
        s.expect("NOOP", 200)  # the session goes on
    finally:
        s.close()
    if atomic == "yes":
        # The temporary went; the old file is untouched.
        assert read_bytes(os.path.join(home, "f")) == OLD
        assert listing(home) == ["f"]
    srv.wait_log(r"transfer: user=\"carol\" .*cmd=STOR path=\"/f\" .*status=failed reason=disk-full "
                 r"error=\"No space left on device\"")


def test_client_reset_mid_upload_discards_it(make_server, request):
    srv = make_server()
    home = home_of(srv)
    put_file(os.path.join(home, "g"), OLD)
    s = Session(srv)
    try:
        d = s.open_passive()
        s.expect("STOR g", 150)
        d.sendall(b"x" * 300000)
        time.sleep(0.2)
        hard_close(d)  # RST: the upload is known to be incomplete
        r = s.reply(timeout=10)
        assert r.code == 426, r
    finally:
        s.close()
    assert read_bytes(os.path.join(home, "g")) == OLD
    assert listing(home) == ["g"]


def test_ferryd_killed_mid_upload_leaves_no_half_file(make_server):
    srv = make_server()
    home = home_of(srv)
    put_file(os.path.join(home, "h"), OLD)
    s = Session(srv)
    try:
        d = s.open_passive()
        s.expect("STOR h", 150)
        d.sendall(b"y" * 500000)
        time.sleep(0.3)
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(timeout=10)
        d.close()
    finally:
        s.close()
    assert read_bytes(os.path.join(home, "h")) == OLD
    # An O_TMPFILE upload vanishes with the process; a named temporary may
    # remain (older kernels) and is removed by the start-up clean-up once it
    # is old enough (test below).
    left = [n for n in listing(home) if n != "h"]
    assert all(n.startswith(".ferry-upload.") for n in left), left
    srv.returncode = None
    srv.start()
    c = srv.connect()
    c.login()
    c.close()


def test_stale_temporaries_are_removed_at_start(make_server, tmp_path):
    srv = make_server(start=False)
    home = home_of(srv)
    old = time.time() - 3600
    put_file(os.path.join(home, "sub", "deep", ".ferry-upload.abc123"), b"half", mtime=old)
    put_file(os.path.join(home, ".ferry-upload.top"), b"half", mtime=old)
    put_file(os.path.join(home, ".ferry-upload.fresh"), b"maybe another server's upload")
    put_file(os.path.join(home, "keep.txt"), b"data", mtime=old)
    put_file(os.path.join(home, ".ferry-uploaded-notes"), b"not ours", mtime=old)
    os.makedirs(os.path.join(home, ".ferry-upload.dir"))
    # A symlink to a directory outside the home is not followed.
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / ".ferry-upload.victim"
    victim.write_bytes(b"x")
    os.utime(victim, (old, old))
    os.symlink(str(outside), os.path.join(home, "link"))
    chown_svc(home)
    srv.start()
    srv.wait_log(r"removed 2 stale upload temporaries")
    srv.wait_log(r"stale upload clean-up done: 2 home\(s\) looked at")
    assert not os.path.exists(os.path.join(home, "sub", "deep", ".ferry-upload.abc123"))
    assert not os.path.exists(os.path.join(home, ".ferry-upload.top"))
    assert os.path.exists(os.path.join(home, ".ferry-upload.fresh"))
    assert os.path.exists(os.path.join(home, "keep.txt"))
    assert os.path.exists(os.path.join(home, ".ferry-uploaded-notes"))
    assert os.path.isdir(os.path.join(home, ".ferry-upload.dir"))
    assert victim.exists()
