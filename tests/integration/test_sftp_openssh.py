"""SFTP v3's whole request set and the OpenSSH extensions with exact status codes (READLINK,
SYMLINK, hardlink@openssh.com, copy-data, lsetstat@openssh.com: confined, under the user's
permission bits), real clients (OpenSSH sftp -b and scp in its SFTP mode, rclone's sftp backend,
lftp's sftp://) with exact bytes on disk, traversal through every path-taking request with the
FTP traversal suite's world (test_traversal.py: sentinels outside, symlinks pointing out, the
decoy inside), 1 GiB each way by sha256, a killed client's upload, and bad input (truncated,
oversized, unknown, another session's handles): a status or a closed channel, never a crash."""

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys

import pytest

from conftest import HOST, IS_ROOT, wait_until
from files_helpers import chown_svc, home_of, make_dir, put_file, sha256_file
from sftp_helpers import (ATTRS, CLOSE, DATA, EXTENDED, EXTENDED_REPLY, FSTAT, FSETSTAT, FX_BAD_MESSAGE, FX_EOF,
                          FX_FAILURE, FX_NO_SUCH_FILE, FX_OK, FX_OP_UNSUPPORTED, FX_PERMISSION_DENIED, FXF_APPEND,
                          FXF_CREAT, FXF_READ, FXF_TRUNC, FXF_WRITE, LSTAT, MKDIR, NAME, OPEN, OPENDIR, READ,
                          READDIR, READLINK, REALPATH, REMOVE, RENAME, RMDIR, SETSTAT, STAT, STATUS, SYMLINK, WRITE,
                          Raw, openssh_sftp, sstr, start_sftp_server, transport)
from sftp_helpers import needs_sftp  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("needs_sftp")

SSH_OPTS = ["-F", "/dev/null", "-o", "BatchMode=no", "-o", "StrictHostKeyChecking=no", "-o",
            "UserKnownHostsFile=/dev/null", "-o", "PreferredAuthentications=password", "-o",
            "PubkeyAuthentication=no", "-o", "LogLevel=ERROR"]


@pytest.fixture
def srv(make_server):
    return start_sftp_server(make_server)


def need(*tools):
    for t in tools:
        if not shutil.which(t):
            pytest.skip(f"{t} is not installed (scripts/deps.sh FERRY_TEST_PKGS)")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def status_of(typ, body):
    assert typ == STATUS, (typ, body)
    return struct.unpack(">I", body[:4])[0]


def name_of(typ, body):
    """The first name of a NAME reply."""
    assert typ == NAME, (typ, body)
    n = struct.unpack(">I", body[4:8])[0]
    return body[8:8 + n]


def names_in(body):
    """The file names of a NAME reply (after its id)."""
    count, off, out = struct.unpack(">I", body[:4])[0], 4, []
    for _ in range(count):
        for k in range(2):
            n = struct.unpack(">I", body[off:off + 4])[0]
            if k == 0:
                out.append(body[off + 4:off + 4 + n])
            off += 4 + n
        flags = struct.unpack(">I", body[off:off + 4])[0]
        off += 4 + 8 * bool(flags & 1) + 8 * bool(flags & 2) + 4 * bool(flags & 4) + 8 * bool(flags & 8)
    return out


def copy_data(r, rh, roff, rlen, wh, woff):
    return r.status(EXTENDED, sstr("copy-data") + sstr(rh) + struct.pack(">QQ", roff, rlen) + sstr(wh)
                    + struct.pack(">Q", woff))


# ---- the new requests, exact status codes

def test_version_names_every_extension(srv):
    t = transport(srv)
    r = Raw(t)
    assert r.extensions == {
        "posix-rename@openssh.com": "1", "statvfs@openssh.com": "2", "fstatvfs@openssh.com": "2",
        "fsync@openssh.com": "1", "limits@openssh.com": "1", "expand-path@openssh.com": "1",
        "home-directory": "1", "hardlink@openssh.com": "1", "copy-data": "1", "lsetstat@openssh.com": "1",
        "check-file-name": "1", "check-file-handle": "1"}
    t.close()


def test_symlink_and_readlink_stay_inside(srv):
    """Targets are stored as given; an absolute one is a path from the home (the client's "/"),
    and nothing followed through a link leaves the home."""
    h = home_of(srv)
    outside = os.path.join(srv.dir, "outside")
    put_file(os.path.join(outside, "secret"), b"SECRET")
    put_file(os.path.join(h, "dir", "f"), b"inside")
    t = transport(srv)
    r = Raw(t)
    # OpenSSH's order: the target first, then the link's path.
    assert r.status(SYMLINK, sstr("dir/f") + sstr("/rel")) == FX_OK
    assert r.status(SYMLINK, sstr("/dir/f") + sstr("/abs")) == FX_OK
    assert r.status(SYMLINK, sstr("../outside/secret") + sstr("/up")) == FX_OK
    assert r.status(SYMLINK, sstr(os.path.join(outside, "secret")) + sstr("/host")) == FX_OK
    assert r.status(SYMLINK, sstr("/etc/passwd") + sstr("/passwd")) == FX_OK
    assert os.readlink(os.path.join(h, "rel")) == "dir/f"
    assert os.readlink(os.path.join(h, "abs")) == "/dir/f"
    assert os.readlink(os.path.join(h, "up")) == "../outside/secret"
    assert name_of(*r.request(READLINK, sstr("/abs"))) == b"/dir/f"
    assert name_of(*r.request(READLINK, sstr("host"))) == os.path.join(outside, "secret").encode()
    # Followed: inside, or nothing.
    for link, want in (("/rel", b"inside"), ("/abs", b"inside")):
        fh = r.open(link, FXF_READ)
        assert r.request(READ, sstr(fh) + struct.pack(">QI", 0, 100)) == (DATA, sstr(want))
        assert r.status(CLOSE, sstr(fh)) == FX_OK
    for link in ("/up", "/host", "/passwd", "/up/x", "/host/../secret"):
        assert status_of(*r.request(OPEN, sstr(link) + struct.pack(">II", FXF_READ, 0))) == FX_NO_SUCH_FILE
        assert r.status(STAT, sstr(link)) == FX_NO_SUCH_FILE
    assert r.request(LSTAT, sstr("/up"))[0] == ATTRS  # the link itself is inside
    # A write through an outward link lands inside, never outside.
    w = r.open("/up", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
    assert r.status(WRITE, sstr(w) + struct.pack(">Q", 0) + sstr(b"new")) == FX_OK
    assert r.status(CLOSE, sstr(w)) == FX_OK
    assert read(os.path.join(outside, "secret")) == b"SECRET"
    # Errors.
    assert r.status(SYMLINK, sstr("x") + sstr("/dir/f")) == FX_FAILURE  # exists
    assert r.status(SYMLINK, sstr("") + sstr("/empty")) == FX_BAD_MESSAGE
    assert r.status(SYMLINK, sstr("a\0b") + sstr("/nul")) == FX_BAD_MESSAGE
    assert r.status(SYMLINK, sstr("x") + sstr("/nope/l")) == FX_NO_SUCH_FILE
    assert r.status(READLINK, sstr("/dir/f")) == FX_BAD_MESSAGE  # not a link: EINVAL
    assert r.status(READLINK, sstr("/nope")) == FX_NO_SUCH_FILE
    t.close()
    assert read(os.path.join(outside, "secret")) == b"SECRET"
    assert os.listdir(outside) == ["secret"]


def test_hardlink_inside_the_home_only(srv):
    h = home_of(srv)
    outside = os.path.join(srv.dir, "outside")
    put_file(os.path.join(outside, "secret"), b"SECRET")
    put_file(os.path.join(h, "f"), b"data")
    os.symlink(os.path.join(outside, "secret"), os.path.join(h, "out"))
    os.symlink("../outside", os.path.join(h, "outdir"))
    chown_svc(os.path.join(h, "out"))
    t = transport(srv)
    r = Raw(t)

    def hardlink(a, b):
        return r.status(EXTENDED, sstr("hardlink@openssh.com") + sstr(a) + sstr(b))
    assert hardlink("/f", "/g") == FX_OK
    assert os.stat(os.path.join(h, "g")).st_ino == os.stat(os.path.join(h, "f")).st_ino
    assert hardlink("/f", "/g") == FX_FAILURE  # exists
    assert hardlink("/nope", "/x") == FX_NO_SUCH_FILE
    make_dir(os.path.join(h, "d"))
    assert hardlink("/d", "/d2") == FX_PERMISSION_DENIED  # a directory: EPERM
    # The outward link is linked itself (a link inside), never what it points at.
    assert hardlink("/out", "/out2") == FX_OK
    assert os.path.islink(os.path.join(h, "out2"))
    assert os.stat(os.path.join(outside, "secret")).st_nlink == 1
    for a, b in (("/outdir/secret", "/stolen"), ("/../outside/secret", "/stolen"), ("/f", "/outdir/planted"),
                 ("/f", "/../outside/planted")):
        hardlink(a, b)
    assert sorted(os.listdir(outside)) == ["secret"]
    assert os.stat(os.path.join(outside, "secret")).st_nlink == 1
    assert not os.path.exists(os.path.join(h, "stolen"))
    t.close()


def test_lsetstat_changes_the_name_itself(srv):
    h = home_of(srv)
    put_file(os.path.join(h, "f"), b"data", mtime=1500000000)
    os.symlink("f", os.path.join(h, "l"))
    chown_svc(os.path.join(h, "l"))
    t = transport(srv)
    r = Raw(t)

    def lsetstat(p, attrs):
        return r.status(EXTENDED, sstr("lsetstat@openssh.com") + sstr(p) + attrs)
    assert lsetstat("/l", struct.pack(">III", 8, 1200000000, 1200000000)) == FX_OK
    assert os.lstat(os.path.join(h, "l")).st_mtime == 1200000000
    assert os.stat(os.path.join(h, "f")).st_mtime == 1500000000  # the target untouched
    assert lsetstat("/l", struct.pack(">II", 4, 0o600)) == FX_OP_UNSUPPORTED  # a link has no mode
    assert lsetstat("/f", struct.pack(">II", 4, 0o640)) == FX_OK
    assert os.stat(os.path.join(h, "f")).st_mode & 0o7777 == 0o640
    assert lsetstat("/f", struct.pack(">II", 4, 0o4755)) == FX_OK  # set-ID bits dropped
    assert os.stat(os.path.join(h, "f")).st_mode & 0o7777 == 0o755
    assert lsetstat("/f", struct.pack(">IQ", 1, 0)) == FX_OP_UNSUPPORTED  # a size
    assert lsetstat("/f", struct.pack(">III", 2, 0, 0)) == FX_PERMISSION_DENIED  # owners
    assert lsetstat("/nope", struct.pack(">II", 4, 0o600)) == FX_NO_SUCH_FILE
    t.close()


def test_sizes_set_by_setstat_and_fsetstat(srv):
    """A size cuts or extends a plain file (SETSTAT by path, FSETSTAT on a handle open for
    writing: what OpenSSH's scp sends after writing in place); needs "write"."""
    h = home_of(srv)
    put_file(os.path.join(h, "f"), b"0123456789")
    put_file(os.path.join(h, "g"), b"old file")
    t = transport(srv)
    r = Raw(t)
    assert r.status(SETSTAT, sstr("/f") + struct.pack(">IQ", 1, 4)) == FX_OK
    assert read(os.path.join(h, "f")) == b"0123"
    assert r.status(SETSTAT, sstr("/f") + struct.pack(">IQ", 1, 6)) == FX_OK
    assert read(os.path.join(h, "f")) == b"0123\0\0"
    assert r.status(SETSTAT, sstr("/") + struct.pack(">IQ", 1, 0)) == FX_FAILURE
    assert r.status(SETSTAT, sstr("/nope") + struct.pack(">IQ", 1, 0)) == FX_NO_SUCH_FILE
    # In place (no TRUNC), then cut at the end: scp's upload.
    w = r.open("/g", FXF_WRITE | FXF_CREAT)
    assert r.status(WRITE, sstr(w) + struct.pack(">Q", 0) + sstr(b"new")) == FX_OK
    assert r.status(FSETSTAT, sstr(w) + struct.pack(">IQ", 1, 3)) == FX_OK
    assert r.status(CLOSE, sstr(w)) == FX_OK
    assert read(os.path.join(h, "g")) == b"new"
    # A truncating upload's temporary is cut; the old file stays until CLOSE.
    w = r.open("/g", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
    assert r.status(WRITE, sstr(w) + struct.pack(">Q", 0) + sstr(b"abcdef")) == FX_OK
    assert r.status(FSETSTAT, sstr(w) + struct.pack(">IQ", 1, 2)) == FX_OK
    assert read(os.path.join(h, "g")) == b"new"
    assert r.status(CLOSE, sstr(w)) == FX_OK
    assert read(os.path.join(h, "g")) == b"ab"
    rh = r.open("/g", FXF_READ)
    assert r.status(FSETSTAT, sstr(rh) + struct.pack(">IQ", 1, 0)) == FX_PERMISSION_DENIED
    assert r.status(CLOSE, sstr(rh)) == FX_OK
    assert read(os.path.join(h, "g")) == b"ab"
    t.close()
    srv.add_user("ro", "pw")
    srv.ferry("user", "set", "ro", "--perms", "read,list", check=True)
    put_file(os.path.join(home_of(srv, "ro"), "f"), b"keep")
    t = transport(srv, user="ro")
    r = Raw(t)
    assert r.status(SETSTAT, sstr("/f") + struct.pack(">IQ", 1, 0)) == FX_PERMISSION_DENIED
    t.close()
    assert read(os.path.join(home_of(srv, "ro"), "f")) == b"keep"


def test_copy_data(srv):
    """Offsets and lengths as in draft-ietf-secsh-filexfer-extensions copy-data; a copy bigger
    than a step (8 MiB) goes over several turns of the loop, requests behind it wait their turn."""
    h = home_of(srv)
    src = os.urandom(20 * 1024 * 1024 + 123)
    put_file(os.path.join(h, "src"), src)
    put_file(os.path.join(h, "part"), b"0123456789")
    t = transport(srv)
    r = Raw(t)
    rh = r.open("/src", FXF_READ)
    # Whole file (length 0: to the end) into a new upload, committed at CLOSE.
    wh = r.open("/dst", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
    # Pipelined: the STAT behind the copy is answered after it, in order.
    r.send(EXTENDED, struct.pack(">I", 500) + sstr("copy-data") + sstr(rh) + struct.pack(">QQ", 0, 0) + sstr(wh)
           + struct.pack(">Q", 0))
    r.send(STAT, struct.pack(">I", 501) + sstr("/"))
    typ, body = r.recv()
    assert (typ, struct.unpack(">II", body[:8])) == (STATUS, (500, FX_OK))
    typ, body = r.recv()
    assert typ == ATTRS and struct.unpack(">I", body[:4])[0] == 501
    assert not os.path.exists(os.path.join(h, "dst"))  # not before CLOSE
    assert r.status(CLOSE, sstr(wh)) == FX_OK
    assert read(os.path.join(h, "dst")) == src
    # A range into a file written in place at an offset.
    ph = r.open("/part", FXF_WRITE)
    assert copy_data(r, rh, 5, 3, ph, 2) == FX_OK
    # Past the end of the source: what there is, then OK (as OpenSSH's server).
    assert copy_data(r, rh, len(src) - 2, 100, ph, 10) == FX_OK
    assert r.status(CLOSE, sstr(ph)) == FX_OK
    assert read(os.path.join(h, "part")) == b"01" + src[5:8] + b"56789" + src[-2:]
    # Appending: the data goes to the end whatever the offset says.
    ah = r.open("/part", FXF_WRITE | FXF_APPEND)
    assert copy_data(r, rh, 0, 4, ah, 0) == FX_OK
    assert r.status(CLOSE, sstr(ah)) == FX_OK
    assert read(os.path.join(h, "part")) == b"01" + src[5:8] + b"56789" + src[-2:] + src[:4]
    # Handles: of the wrong kind, closed, unknown, the same file.
    wh = r.open("/dst", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
    assert copy_data(r, wh, 0, 1, rh, 0) == FX_FAILURE
    assert copy_data(r, b"\0\0\0\7", 0, 1, wh, 0) == FX_FAILURE
    same = r.open("/src", FXF_WRITE)
    assert copy_data(r, rh, 0, 10, same, 100) == FX_FAILURE
    assert r.status(CLOSE, sstr(same)) == FX_OK
    os.link(os.path.join(h, "src"), os.path.join(h, "src-link"))  # the same file by another name
    same = r.open("/src-link", FXF_WRITE)
    assert copy_data(r, rh, 0, 10, same, 100) == FX_FAILURE
    assert r.status(CLOSE, sstr(same)) == FX_OK
    os.unlink(os.path.join(h, "src-link"))
    assert r.status(CLOSE, sstr(wh)) == FX_OK
    assert copy_data(r, rh, 0, 1, wh, 0) == FX_FAILURE  # closed
    assert r.status(EXTENDED, sstr("copy-data") + sstr(rh) + struct.pack(">Q", 0)) == FX_BAD_MESSAGE
    assert r.status(CLOSE, sstr(rh)) == FX_OK
    assert read(os.path.join(h, "src")) == src
    t.close()
    srv.wait_log(rf'cmd=STOR path="/dst" bytes={len(src)} status=ok protocol=sftp')


def test_new_requests_ask_the_users_permissions(srv):
    """SYMLINK and hardlink need "write"; READLINK "list"; lsetstat "write"; copy-data needs the
    two handles (read, write)."""
    h = home_of(srv, "ro")
    srv.add_user("ro", "pw")
    srv.ferry("user", "set", "ro", "--perms", "read", check=True)
    put_file(os.path.join(h, "f"), b"data", mtime=1500000000)
    os.symlink("f", os.path.join(h, "l"))
    chown_svc(os.path.join(h, "l"))
    t = transport(srv, user="ro")
    r = Raw(t)
    assert r.status(SYMLINK, sstr("f") + sstr("/l2")) == FX_PERMISSION_DENIED
    assert r.status(EXTENDED, sstr("hardlink@openssh.com") + sstr("/f") + sstr("/g")) == FX_PERMISSION_DENIED
    assert r.status(READLINK, sstr("/l")) == FX_PERMISSION_DENIED
    assert r.status(EXTENDED, sstr("lsetstat@openssh.com") + sstr("/f") + struct.pack(">III", 8, 1, 1)) \
        == FX_PERMISSION_DENIED
    assert r.status(EXTENDED, sstr("lsetstat@openssh.com") + sstr("/f") + struct.pack(">II", 4, 0o777)) \
        == FX_PERMISSION_DENIED
    rh = r.open("/f", FXF_READ)
    assert status_of(*r.request(OPEN, sstr("/g") + struct.pack(">II", FXF_WRITE | FXF_CREAT | FXF_TRUNC, 0))) \
        == FX_PERMISSION_DENIED
    assert copy_data(r, rh, 0, 0, rh, 0) == FX_FAILURE  # no write handle to be had
    t.close()
    assert sorted(os.listdir(h)) == ["f", "l"]
    assert os.stat(os.path.join(h, "f")).st_mtime == 1500000000


def test_every_v3_request_is_answered(srv):
    """Each request type of filexfer-02 with valid fields gets its reply; every other type, and
    every known type cut short, a STATUS with its id; the session serves on."""
    put_file(os.path.join(home_of(srv), "f"), b"abc")
    t = transport(srv)
    r = Raw(t)
    fh = r.open("/f", FXF_READ)
    dh = r.handle(OPENDIR, sstr("/"))
    replies = {
        OPEN: r.request(OPEN, sstr("/f") + struct.pack(">II", FXF_READ, 0))[0],
        READ: r.request(READ, sstr(fh) + struct.pack(">QI", 0, 10))[0],
        LSTAT: r.request(LSTAT, sstr("/f"))[0],
        FSTAT: r.request(FSTAT, sstr(fh))[0],
        SETSTAT: r.request(SETSTAT, sstr("/f") + struct.pack(">II", 4, 0o644))[0],
        FSETSTAT: r.request(FSETSTAT, sstr(fh) + struct.pack(">I", 0))[0],
        READDIR: r.request(READDIR, sstr(dh))[0],
        MKDIR: r.request(MKDIR, sstr("/d") + struct.pack(">I", 0))[0],
        RMDIR: r.request(RMDIR, sstr("/d"))[0],
        REALPATH: r.request(REALPATH, sstr("."))[0],
        STAT: r.request(STAT, sstr("/f"))[0],
        RENAME: r.request(RENAME, sstr("/f") + sstr("/g"))[0],
        SYMLINK: r.request(SYMLINK, sstr("g") + sstr("/l"))[0],
        READLINK: r.request(READLINK, sstr("/l"))[0],
        REMOVE: r.request(REMOVE, sstr("/l"))[0],
        WRITE: r.request(WRITE, sstr(fh) + struct.pack(">Q", 0) + sstr(b"x"))[0],
        CLOSE: r.request(CLOSE, sstr(dh))[0],
    }
    assert replies == {OPEN: 102, READ: DATA, LSTAT: ATTRS, FSTAT: ATTRS, SETSTAT: STATUS, FSETSTAT: STATUS,
                       READDIR: NAME, MKDIR: STATUS, RMDIR: STATUS, REALPATH: NAME, STAT: ATTRS, RENAME: STATUS,
                       SYMLINK: STATUS, READLINK: NAME, REMOVE: STATUS, WRITE: STATUS, CLOSE: STATUS}
    # Unknown types (and reply types sent by a client): OP_UNSUPPORTED with the id.
    for typ in (0, 2, 21, 99, 100, 101, 104, 199, 201, 255):
        assert r.status(typ, b"anything") == FX_OP_UNSUPPORTED, typ
    assert r.status(EXTENDED, sstr("no-such@example.com") + b"\0\0") == FX_OP_UNSUPPORTED
    # Every known type with nothing but its id: BAD_MESSAGE.
    for typ in list(range(OPEN, SYMLINK + 1)) + [EXTENDED]:
        assert r.status(typ, b"") == FX_BAD_MESSAGE, typ
    for ext in ("posix-rename@openssh.com", "statvfs@openssh.com", "fstatvfs@openssh.com", "fsync@openssh.com",
                "expand-path@openssh.com", "home-directory", "hardlink@openssh.com", "copy-data",
                "lsetstat@openssh.com"):
        assert r.status(EXTENDED, sstr(ext)) == FX_BAD_MESSAGE, ext
    assert r.request(STAT, sstr("/g"))[0] == ATTRS
    t.close()
    assert srv.alive()


def test_bad_input_never_crashes(srv):
    """Truncated packets (a length promising more than comes, then the channel closed), oversized
    ones, garbage, and handles of another session, including for copy-data."""
    put_file(os.path.join(home_of(srv), "f"), b"secret")
    # Another session's handles: nothing, whichever request carries them.
    t1, t2 = transport(srv), transport(srv)
    r1, r2 = Raw(t1), Raw(t2)
    rh = r1.open("/f", FXF_READ)
    wh = r1.open("/w", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
    mine = r2.open("/mine", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
    assert copy_data(r2, rh, 0, 0, mine, 0) == FX_FAILURE
    assert r2.status(EXTENDED, sstr("fsync@openssh.com") + sstr(wh)) == FX_FAILURE
    assert r2.status(FSETSTAT, sstr(wh) + struct.pack(">II", 4, 0o777)) == FX_FAILURE
    assert r2.status(WRITE, sstr(wh) + struct.pack(">Q", 0) + sstr(b"x")) == FX_FAILURE
    assert r2.status(CLOSE, sstr(mine)) == FX_OK
    assert read(os.path.join(home_of(srv), "mine")) == b""
    assert r1.status(CLOSE, sstr(wh)) == FX_OK and r1.status(CLOSE, sstr(rh)) == FX_OK
    t1.close()
    t2.close()
    sessions = 2
    # A packet cut short by the client going away; then garbage; then a zero length.
    cut_short = struct.pack(">IB", 100, STAT) + b"\0\0\0\1"
    for junk in (cut_short, os.urandom(64), b"\0\0\0\0", struct.pack(">I", 0xFFFFFFFF) + b"\3"):
        t = transport(srv)
        sessions += 1
        r = Raw(t)
        r.send_raw(junk)
        r.ch.shutdown_write()
        if junk is not cut_short:
            # Garbage ends the connection from the server's side. (The cut-short packet gets no
            # answer: the server waits for its rest until the client goes away.)
            try:
                r.recv()
            except (EOFError, OSError, socket.timeout):
                pass
        t.close()
        # Each session has ended on the server before the next (one line per SFTP session).
        srv.wait_log(r"disconnect: ip=127\.0\.0\.1 protocol=sftp", count=sessions)
    # Still serving.
    t = transport(srv)
    r = Raw(t)
    assert r.request(STAT, sstr("/f"))[0] == ATTRS
    t.close()
    assert srv.alive()
    srv.wait_log(r"sftp: closing: ip=127\.0\.0\.1 reason=packet-too-large")


# ---- real clients

def test_openssh_sftp_batch_every_command(srv, tmp_path):
    h = home_of(srv)
    local = tmp_path
    data = os.urandom(500000) + b"end"
    (local / "a.bin").write_bytes(data)
    cp = openssh_sftp(srv, ["mkdir d", "put a.bin d/a.bin", "ln d/a.bin d/hard.bin", "ln -s /d/a.bin abs.lnk",
                            "ln -s d/a.bin rel.lnk", "rename d/hard.bin d/h.bin", "chmod 640 d/a.bin",
                            "ls -l d", "ls -l", "df /", "get abs.lnk via-abs.bin", "get rel.lnk via-rel.bin",
                            "mkdir gone", "rmdir gone"], cwd=str(local))
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert read(os.path.join(h, "d", "a.bin")) == data
    st = os.stat(os.path.join(h, "d", "a.bin"))
    assert st.st_ino == os.stat(os.path.join(h, "d", "h.bin")).st_ino and st.st_nlink == 2
    assert st.st_mode & 0o777 == 0o640
    assert os.readlink(os.path.join(h, "abs.lnk")) == "/d/a.bin"
    assert os.readlink(os.path.join(h, "rel.lnk")) == "d/a.bin"
    assert (local / "via-abs.bin").read_bytes() == data and (local / "via-rel.bin").read_bytes() == data
    assert sorted(os.listdir(h)) == ["abs.lnk", "d", "rel.lnk"]
    # ls -l shows the links with their targets; df shows the figures.
    assert "abs.lnk -> /d/a.bin" in cp.stdout and "rel.lnk -> d/a.bin" in cp.stdout, cp.stdout
    assert "Avail" in cp.stdout
    # reget continues a download, reput an upload, each from what is there.
    (local / "half.bin").write_bytes(data[:123456])
    with open(os.path.join(h, "up.bin"), "wb") as f:
        f.write(data[:200000])
    chown_svc(os.path.join(h, "up.bin"))
    cp = openssh_sftp(srv, ["reget d/a.bin half.bin", "reput a.bin up.bin"], cwd=str(local))
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert (local / "half.bin").read_bytes() == data
    assert read(os.path.join(h, "up.bin")) == data
    srv.wait_log(rf'cmd=RETR path="/d/a\.bin" bytes={len(data) - 123456} status=ok protocol=sftp')
    # cp (copy-data, OpenSSH 9's "copy"), where the client offers it.
    cp = openssh_sftp(srv, ["help"], cwd=str(local))
    if "copy" in cp.stdout:
        cp = openssh_sftp(srv, ["copy d/a.bin copied.bin"], cwd=str(local))
        assert cp.returncode == 0, cp.stdout + cp.stderr
        assert read(os.path.join(h, "copied.bin")) == data
    cp = openssh_sftp(srv, ["rm d/a.bin", "rm d/h.bin", "rmdir d", "rm abs.lnk", "rm rel.lnk", "rm up.bin"],
                      cwd=str(local))
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert sorted(os.listdir(h)) in ([], ["copied.bin"])


def scp(s, args, cwd, password="pw"):
    need("scp", "sshpass")
    cmd = ["sshpass", "-p", password, "scp"] + SSH_OPTS + ["-P", str(s.sftp_port)] + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**os.environ, "HOME": cwd})


def tree(root):
    out = {}
    for d, _, files in os.walk(root):
        for n in files:
            p = os.path.join(d, n)
            out[os.path.relpath(p, root)] = read(p)
    return out


def make_tree(root):
    files = {"top.txt": b"top\n", "a/one.bin": os.urandom(70000), "a/b/two.bin": os.urandom(300001),
             "a/b/c/empty": b"", "z/" + "n" * 100: b"long name"}
    for rel, data in files.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
    return files


def test_scp_both_ways_recursive(srv, tmp_path):
    """scp in OpenSSH 9's default SFTP mode (-s forces it on older ones): files and -r trees."""
    h = home_of(srv)
    src = tmp_path / "src"
    want = make_tree(str(src))
    one = os.urandom(1 << 20)
    (tmp_path / "one.bin").write_bytes(one)
    target = f"bob@{HOST}:"
    cp = scp(srv, ["-s", "one.bin", target + "/one.bin"], str(tmp_path))
    assert cp.returncode == 0, cp.stderr
    assert read(os.path.join(h, "one.bin")) == one
    # scp opens without truncation, writes from 0 and sets the size at the end (FSETSTAT):
    # in place (README: Uploads), as a second hard link to the file shows.
    os.link(os.path.join(h, "one.bin"), os.path.join(srv.dir, "other-link"))
    (tmp_path / "short.bin").write_bytes(b"short")
    cp = scp(srv, ["-s", "short.bin", target + "/one.bin"], str(tmp_path))
    assert cp.returncode == 0, cp.stderr
    assert read(os.path.join(h, "one.bin")) == b"short" == read(os.path.join(srv.dir, "other-link"))
    cp = scp(srv, ["-s", "one.bin", target + "/one.bin"], str(tmp_path))
    assert cp.returncode == 0, cp.stderr
    cp = scp(srv, ["-s", "-r", "src", target + "/tree"], str(tmp_path))
    assert cp.returncode == 0, cp.stderr
    assert tree(os.path.join(h, "tree")) == want
    cp = scp(srv, ["-s", target + "/one.bin", "back.bin"], str(tmp_path))
    assert cp.returncode == 0, cp.stderr
    assert (tmp_path / "back.bin").read_bytes() == one
    cp = scp(srv, ["-s", "-r", target + "/tree", "down"], str(tmp_path))
    assert cp.returncode == 0, cp.stderr
    assert tree(str(tmp_path / "down")) == want
    # scp's "~" paths go through expand-path@openssh.com.
    cp = scp(srv, ["-s", target + "~/one.bin", "tilde.bin"], str(tmp_path))
    assert cp.returncode == 0, cp.stderr
    assert (tmp_path / "tilde.bin").read_bytes() == one
    cp = scp(srv, ["-s", target + "/nope", "x"], str(tmp_path))
    assert cp.returncode != 0 and "No such file" in cp.stderr


def test_rclone_sync_both_ways_and_check(srv, tmp_path):
    need("rclone")
    h = home_of(srv)
    obscured = subprocess.run(["rclone", "obscure", "pw"], capture_output=True, text=True, timeout=30,
                              check=True).stdout.strip()
    env = {**os.environ, "RCLONE_CONFIG": "/dev/null", "HOME": str(tmp_path),
           "RCLONE_SFTP_HOST": HOST, "RCLONE_SFTP_PORT": str(srv.sftp_port), "RCLONE_SFTP_USER": "bob",
           "RCLONE_SFTP_PASS": obscured, "RCLONE_SFTP_DISABLE_HASHCHECK": "true"}

    def rclone(*args):
        cp = subprocess.run(["rclone", "--retries", "1", "--low-level-retries", "1"] + list(args),
                            capture_output=True, text=True, timeout=180, env=env)
        assert cp.returncode == 0, cp.stderr
        return cp
    src = tmp_path / "src"
    want = make_tree(str(src))
    rclone("sync", str(src), ":sftp:/mirror")
    assert tree(os.path.join(h, "mirror")) == want
    rclone("check", "--download", str(src), ":sftp:/mirror")
    # Changed on the server, synced back down: an update, a new file, a removal.
    put_file(os.path.join(h, "mirror", "top.txt"), b"changed on the server\n")
    put_file(os.path.join(h, "mirror", "a", "new.bin"), b"new")
    os.unlink(os.path.join(h, "mirror", "a", "one.bin"))
    down = tmp_path / "down"
    rclone("sync", ":sftp:/mirror", str(down))
    assert tree(str(down)) == tree(os.path.join(h, "mirror"))
    rclone("check", "--download", str(down), ":sftp:/mirror")
    # A difference is found.
    (down / "top.txt").write_bytes(b"local edit\n")
    cp = subprocess.run(["rclone", "check", "--download", str(down), ":sftp:/mirror"], capture_output=True,
                        text=True, timeout=180, env=env)
    assert cp.returncode != 0 and "1 differences found" in cp.stderr, cp.stderr


def test_lftp_sftp_put_get_mirror(srv, tmp_path):
    need("lftp", "ssh")
    h = home_of(srv)
    src = tmp_path / "src"
    want = make_tree(str(src))
    one = os.urandom(400000)
    (tmp_path / "one.bin").write_bytes(one)
    connect = "ssh -a -x " + " ".join(SSH_OPTS).replace("PreferredAuthentications=password",
                                                          "PreferredAuthentications=password,keyboard-interactive")
    script = "\n".join([
        f'set sftp:connect-program "{connect}"',
        "set net:max-retries 1", "set net:timeout 30", "set cmd:fail-exit yes",
        f"open -u bob,pw sftp://{HOST}:{srv.sftp_port}",
        "put one.bin -o /one.bin", "get /one.bin -o back.bin",
        "mirror -R src /up", "mirror /up down", "rm -r /up", "bye"])
    cp = subprocess.run(["lftp", "-f", "/dev/stdin"], input=script, capture_output=True, text=True, timeout=180,
                        cwd=str(tmp_path), env={**os.environ, "HOME": str(tmp_path)})
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert read(os.path.join(h, "one.bin")) == one
    assert (tmp_path / "back.bin").read_bytes() == one
    assert tree(str(tmp_path / "down")) == want
    assert os.listdir(h) == ["one.bin"]


# ---- traversal: the FTP traversal suite's world, through every request that takes a path

@pytest.fixture
def world(srv):
    """test_traversal.py's world around bob's home: sentinels (world-writable, the service
    account's) beside the home and in /tmp, named by relative and absolute symlinks, loops,
    /proc links, and the decoy the absolute sentinel path finds inside the home."""
    import tempfile
    from files_helpers import snapshot
    from test_traversal import SECRET_NAME, build_home, build_sentinel
    W = type("W", (), {})()
    W.srv = srv
    W.out_abs = tempfile.mkdtemp(prefix="ferry-outside-", dir="/tmp")
    try:
        build_sentinel(W.out_abs)
        W.outside = os.path.join(srv.dir, "outside")
        build_sentinel(W.outside)
        W.home, W.decoy = build_home(srv, W.out_abs)
        # Without the confinement the links would reach the sentinels (the host's view).
        from test_traversal import SECRET
        assert read(os.path.join(W.home, "rel_file")) == SECRET == read(os.path.join(W.home, "abs_file"))
        put_file(os.path.join(W.home, "mine.txt"), b"mine")
        W.paths = traversal_paths(W, SECRET_NAME)
        W.snap = snapshot
        W.watched = [W.out_abs, W.outside, "/etc/passwd"]
        W.before = {p: snapshot(p) for p in W.watched}
        yield W
    finally:
        shutil.rmtree(W.out_abs, ignore_errors=True)


def traversal_paths(W, secret_name):
    """The escape list: test_traversal.py's links and paths, and test_sftp_clients.py's."""
    from test_sftp_clients import ESCAPES
    up = "../" * 20
    out_rel = W.outside.lstrip("/")
    return ESCAPES + [
        "rel_file", "abs_file", "deep_rel", "rel_dir", "abs_dir", "etc_link", "root_link", "dotdot",
        "loop1", "proc_root", "proc_cwd", "proc_root_rel",
        f"rel_dir/{secret_name}", f"rel_dir/sub/inner-secret", f"abs_dir/{secret_name}", "abs_dir/sub",
        f"d/up/{out_rel}/{secret_name}", f"d/up/{out_rel}", "etc_link/passwd", "root_link/..", "dotdot/..",
        f"dotdot/../outside/{secret_name}", f"root_link/../../outside/{secret_name}", "proc_root/etc/passwd",
        "proc_root_rel/etc/passwd", "loop1/x", f"../outside/{secret_name}", f"/../../outside/{secret_name}",
        f"{up}{out_rel}/{secret_name}", f"{W.outside}/{secret_name}", f"{W.outside}/sub", W.outside,
        f"{W.out_abs}/{secret_name}", W.out_abs, "/proc/self/root/etc/passwd", "/proc/self/cwd",
        "/proc/self/fd/3", "/proc/1/root", f"./{up}{out_rel}/emptydir", "d/up/tmp",
    ]


def test_no_escape_through_any_request(world):
    """OPEN (read, truncating write, in place, append), OPENDIR, STAT, LSTAT, SETSTAT, REMOVE,
    MKDIR, RMDIR, REALPATH, RENAME (both ways), READLINK, SYMLINK (as target and as link, then
    read through), posix-rename, hardlink (both ways), statvfs, expand-path, lsetstat and
    copy-data: nothing outside the home is read, listed, written, linked or changed."""
    from test_traversal import SECRET, SECRET_NAME
    W = world
    srv = W.srv
    with open("/etc/passwd", "rb") as f:
        passwd = f.read()
    t = transport(srv)
    r = Raw(t)
    seen = bytearray()
    escapes = []
    n = 0

    def req(typ, body):
        nonlocal n
        n += 1
        rtyp, rbody = r.request(typ, body)
        seen.extend(rbody)
        return rtyp, rbody

    def read_all(h, what):
        content = b""
        for _ in range(64):
            rt, data = req(READ, sstr(h) + struct.pack(">QI", len(content), 65536))
            if rt != DATA:
                break
            content += data[4:]
        if SECRET in content or (len(content) > 20 and content in passwd):
            escapes.append(what)
        return content

    def ext(name, *fields):
        return req(EXTENDED, sstr(name) + b"".join(fields))

    mine = r.open("/mine.txt", FXF_READ)
    for i, p in enumerate(W.paths):
        for flags in (FXF_READ, FXF_WRITE | FXF_CREAT | FXF_TRUNC, FXF_WRITE, FXF_WRITE | FXF_APPEND):
            rt, body = req(OPEN, sstr(p) + struct.pack(">II", flags, 0))
            if rt != STATUS:
                h = body[4:]
                if flags == FXF_READ:
                    read_all(h, ("read", p))
                    dst = r.open(f"/copy-{i}", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
                    req(EXTENDED, sstr("copy-data") + sstr(h) + struct.pack(">QQ", 0, 0) + sstr(dst)
                        + struct.pack(">Q", 0))
                    req(CLOSE, sstr(dst))
                    if SECRET in read(os.path.join(W.home, f"copy-{i}")):
                        escapes.append(("copy-data from", p))
                else:
                    req(WRITE, sstr(h) + struct.pack(">Q", 0) + sstr(b"PWNED"))
                    req(FSETSTAT, sstr(h) + struct.pack(">IQ", 1, 2))
                    req(EXTENDED, sstr("copy-data") + sstr(mine) + struct.pack(">QQ", 0, 0) + sstr(h)
                        + struct.pack(">Q", 0))
                req(CLOSE, sstr(h))
        rt, body = req(OPENDIR, sstr(p))
        if rt != STATUS:
            h = body[4:]
            for _ in range(16):
                rt, names = req(READDIR, sstr(h))
                if rt != NAME:
                    break
                # Names only the sentinels and the host's /etc have (a listing of the
                # home shows "passwd" files made inside it by earlier attempts).
                if {b"emptydir", b"inner-secret", b"os-release"} & set(names_in(names)):
                    escapes.append(("list", p))
            req(CLOSE, sstr(h))
        req(STAT, sstr(p))
        req(LSTAT, sstr(p))
        req(REALPATH, sstr(p))
        req(READLINK, sstr(p))
        ext("expand-path@openssh.com", sstr(p))
        ext("statvfs@openssh.com", sstr(p))
        req(SETSTAT, sstr(p) + struct.pack(">II", 4, 0o777))
        req(SETSTAT, sstr(p) + struct.pack(">III", 8, 1000, 1000))
        req(SETSTAT, sstr(p) + struct.pack(">IQ", 1, 0))
        ext("lsetstat@openssh.com", sstr(p), struct.pack(">II", 4, 0o777))
        ext("lsetstat@openssh.com", sstr(p), struct.pack(">III", 8, 1000, 1000))
        # Links: p as a target (read through), as the link's own path, hard links both ways.
        req(SYMLINK, sstr(p) + sstr(f"/sl-{i}"))
        rt, body = req(OPEN, sstr(f"/sl-{i}") + struct.pack(">II", FXF_READ, 0))
        if rt != STATUS:
            read_all(body[4:], ("read through a new symlink", p))
            req(CLOSE, sstr(body[4:]))
        req(SYMLINK, sstr("/mine.txt") + sstr(p))
        req(SYMLINK, sstr("/mine.txt") + sstr(p + "/planted"))
        ext("hardlink@openssh.com", sstr(p), sstr(f"/hl-{i}"))
        ext("hardlink@openssh.com", sstr("/mine.txt"), sstr(p))
        ext("hardlink@openssh.com", sstr("/mine.txt"), sstr(p + "/planted"))
        req(MKDIR, sstr(p + "/newdir") + struct.pack(">I", 0))
        req(MKDIR, sstr(p) + struct.pack(">I", 0))
        # Moves: p away and back, something onto p, then removals.
        req(RENAME, sstr(p) + sstr(f"/moved-{i}"))
        req(RENAME, sstr(f"/moved-{i}") + sstr(p))
        ext("posix-rename@openssh.com", sstr(p), sstr(f"/pmoved-{i}"))
        ext("posix-rename@openssh.com", sstr(f"/pmoved-{i}"), sstr(p))
        put_file(os.path.join(W.home, "victim.txt"), b"victim")
        req(RENAME, sstr("/victim.txt") + sstr(p + "/planted2"))
        ext("posix-rename@openssh.com", sstr("/victim.txt"), sstr(p))
        req(REMOVE, sstr(p))
        req(RMDIR, sstr(p))
        req(RMDIR, sstr(p + "/newdir"))
    req(CLOSE, sstr(mine))
    # Still serving.
    assert req(STAT, sstr("/"))[0] == ATTRS
    t.close()
    assert escapes == []
    assert SECRET not in bytes(seen)
    for path in W.watched:
        assert W.snap(path) == W.before[path], f"{path} changed"
    # Nothing was made beside the home either.
    assert sorted(os.listdir(srv.home_root)) == ["acctuser", "bob"]
    print(f"{n} SFTP requests over {len(W.paths)} escape paths, 0 escapes, {SECRET_NAME} untouched")
    assert srv.alive()


# ---- big transfers, a killed client

def openssh_sftp_fast(s, commands, cwd, timeout=600):
    """OpenSSH's sftp with AES-GCM (AES-NI) and 255 requests in flight: the 1 GiB test's speed."""
    need("sftp", "sshpass")
    cmd = ["sshpass", "-p", "pw", "sftp"] + SSH_OPTS + ["-o", "Ciphers=aes128-gcm@openssh.com", "-R", "255",
                                                        "-P", str(s.sftp_port), "-b", "-", f"bob@{HOST}"]
    return subprocess.run(cmd, input="\n".join(commands) + "\n", capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env={**os.environ, "HOME": cwd})


def test_1gib_each_way_sha256(srv, tmp_path):
    """1 GiB up and down with OpenSSH's sftp, checked by sha256. The source is generated sparse
    (a hole with a random head and tail), so making it costs nothing; every byte crosses the
    wire and lands on disk on the server."""
    h = home_of(srv)
    size = 1 << 30
    src = tmp_path / "big.bin"
    head, tail = os.urandom(1 << 20), os.urandom(1 << 20)
    with open(src, "wb") as f:
        f.write(head)
        f.seek(size - len(tail))
        f.write(tail)
    try:
        want = sha256_file(src)
        cp = openssh_sftp_fast(srv, ["put big.bin big.bin", "get big.bin down.bin"], str(tmp_path))
        assert cp.returncode == 0, cp.stdout + cp.stderr
        assert os.path.getsize(os.path.join(h, "big.bin")) == size
        assert sha256_file(os.path.join(h, "big.bin")) == want
        assert sha256_file(tmp_path / "down.bin") == want
        srv.wait_log(rf'cmd=STOR path="/big\.bin" bytes={size} status=ok protocol=sftp')
        srv.wait_log(rf'cmd=RETR path="/big\.bin" bytes={size} status=ok protocol=sftp')
    finally:
        for p in (src, tmp_path / "down.bin", os.path.join(h, "big.bin")):
            if os.path.exists(p):
                os.unlink(p)


KILLED_CLIENT = r"""
import socket, sys, paramiko
t = paramiko.Transport(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20))
t.connect(username="bob", password="pw")
c = paramiko.SFTPClient.from_transport(t)
f = c.open("/keep", "wb")  # WRITE|CREAT|TRUNC: an upload to a temporary
f.set_pipelined(False)     # each write acknowledged before the next
chunk = b"N" * (1 << 20)
for i in range(4096):
    f.write(chunk)
    if i == 3:
        print("written", flush=True)
"""


def test_killed_client_leaves_the_old_file(srv, tmp_path):
    """A client killed (SIGKILL) in the middle of an upload: the old file stays whole under its
    name, the temporary goes, the transfer is logged aborted."""
    h = home_of(srv)
    old = os.urandom(100000)
    put_file(os.path.join(h, "keep"), old)
    p = subprocess.Popen([sys.executable, "-c", KILLED_CLIENT, str(srv.sftp_port)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()  # 4 MiB acknowledged: the upload is under way
        assert line == "written\n", p.stderr.read() if p.poll() is not None else line
        assert read(os.path.join(h, "keep")) == old
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=30)
    srv.wait_log(r'cmd=STOR path="/keep" bytes=\d+ status=aborted reason=conn-lost protocol=sftp', timeout=30)
    assert read(os.path.join(h, "keep")) == old
    assert os.listdir(h) == ["keep"]
