"""SFTP with real clients and hostile paths: OpenSSH's sftp in batch mode (put, get, ls, mkdir,
rmdir, rename, rm, chmod, df, reput), 64 MiB each way checked by sha256, and traversal attempts
through every request that takes a path (the escape list of test_traversal.py's spirit: '..',
absolute paths, symlinks pointing out): nothing outside the home is read, written, listed or
removed."""

import os
import struct

import pytest

from conftest import IS_ROOT, SERVICE_USER
from files_helpers import sha256_file
from sftp_helpers import (CLOSE, DATA, EXTENDED, FXF_CREAT, FXF_READ, FXF_TRUNC, FXF_WRITE, LSTAT, MKDIR, OPEN,
                          OPENDIR, READ, READDIR, REMOVE, RENAME, RMDIR, SETSTAT, STAT, STATUS, Raw, openssh_sftp, sstr,
                          start_sftp_server, transport)
from sftp_helpers import needs_sftp  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("needs_sftp")


@pytest.fixture
def srv(make_server):
    return start_sftp_server(make_server)


def _chown(path):
    if IS_ROOT:
        import pwd
        pw = pwd.getpwnam(SERVICE_USER)
        os.chown(path, pw.pw_uid, pw.pw_gid)


def test_openssh_sftp_batch(srv, tmp_path):
    home = os.path.join(srv.home_root, "bob")
    local = tmp_path / "local"
    local.mkdir()
    data = os.urandom(300000) + b"end"
    (local / "a.bin").write_bytes(data)
    (local / "part.bin").write_bytes(data)
    cp = openssh_sftp(srv, ["mkdir dir", "put a.bin dir/a.bin", "ls -l dir", "rename dir/a.bin dir/b.bin",
                            "chmod 600 dir/b.bin", "get dir/b.bin back.bin", "df -h /", "pwd"], cwd=str(local))
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "a.bin" in cp.stdout and "Remote working directory: /" in cp.stdout
    with open(os.path.join(home, "dir", "b.bin"), "rb") as f:
        assert f.read() == data
    assert (local / "back.bin").read_bytes() == data
    assert oct(os.stat(os.path.join(home, "dir", "b.bin")).st_mode & 0o777) == "0o600"
    # reput: a resumed upload continues the visible file from its size.
    with open(os.path.join(home, "part.bin"), "wb") as f:
        f.write(data[:100000])
    _chown(os.path.join(home, "part.bin"))
    cp = openssh_sftp(srv, ["reput part.bin part.bin"], cwd=str(local))
    assert cp.returncode == 0, cp.stdout + cp.stderr
    with open(os.path.join(home, "part.bin"), "rb") as f:
        assert f.read() == data
    cp = openssh_sftp(srv, ["rm dir/b.bin", "rmdir dir", "rm part.bin"], cwd=str(local))
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert os.listdir(home) == []
    # A failing command fails the batch, with the server's reason.
    cp = openssh_sftp(srv, ["get nope.bin"], cwd=str(local))
    assert cp.returncode != 0 and "not found" in (cp.stdout + cp.stderr).lower()


def test_openssh_wrong_password(srv, tmp_path):
    cp = openssh_sftp(srv, ["pwd"], password="wrong", cwd=str(tmp_path))
    assert cp.returncode != 0
    srv.wait_log(r'login failed: user="bob" ip=127\.0\.0\.1 reason=bad-credentials protocol=sftp')


def test_64mib_each_way(srv, tmp_path):
    home = os.path.join(srv.home_root, "bob")
    size = 64 * 1024 * 1024
    src = tmp_path / "src.bin"
    with open(src, "wb") as f:
        for _ in range(size // (1 << 20)):
            f.write(os.urandom(1 << 20))
    want = sha256_file(src)
    cp = openssh_sftp(srv, ["put src.bin up.bin", "get up.bin down.bin"], cwd=str(tmp_path), timeout=300)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert os.path.getsize(os.path.join(home, "up.bin")) == size
    assert sha256_file(os.path.join(home, "up.bin")) == want
    assert sha256_file(tmp_path / "down.bin") == want
    srv.wait_log(rf'cmd=STOR path="/up\.bin" bytes={size} status=ok protocol=sftp')
    srv.wait_log(rf'cmd=RETR path="/up\.bin" bytes={size} status=ok protocol=sftp')


# ---- traversal

ESCAPES = ["../outside/secret", "/../outside/secret", "../../../../../../etc/passwd", "/etc/passwd",
           "..", "/..", "../outside", "out/secret", "abs/passwd", "rel/secret", "out", "abs", "rel",
           "./../outside/secret", "sub/../../outside/secret", "%2e%2e/outside/secret", "..\\outside\\secret"]


@pytest.fixture
def trap(srv):
    """A secret beside the home, and symlinks inside the home pointing out of it."""
    home = os.path.join(srv.home_root, "bob")
    outside = os.path.join(srv.home_root, "outside")
    os.makedirs(outside, exist_ok=True)
    with open(os.path.join(outside, "secret"), "wb") as f:
        f.write(b"SECRET")
    os.makedirs(os.path.join(home, "sub"), exist_ok=True)
    os.symlink(outside, os.path.join(home, "out"))
    os.symlink("/etc", os.path.join(home, "abs"))
    os.symlink("../outside", os.path.join(home, "rel"))
    for p in (outside, os.path.join(outside, "secret"), os.path.join(home, "sub")):
        _chown(p)
    return home, outside


def _outside_state(outside):
    return sorted((n, open(os.path.join(outside, n), "rb").read()) for n in os.listdir(outside))


def test_no_escape_through_any_path_request(srv, trap):
    home, outside = trap
    before = _outside_state(outside)
    with open("/etc/passwd", "rb") as f:
        passwd = f.read()
    t = transport(srv)
    r = Raw(t)
    escapes = []
    refused_reads = 0
    for p in ESCAPES:
        # Reads: never the secret, never /etc/passwd.
        rtyp, body = r.request(OPEN, sstr(p) + struct.pack(">II", FXF_READ, 0))
        refused_reads += rtyp == STATUS
        if rtyp != STATUS:
            h = body[4:]
            rt, data = r.request(READ, sstr(h) + struct.pack(">QI", 0, 65536))
            content = data[4:] if rt == DATA else b""
            if b"SECRET" in content or (len(content) > 20 and content in passwd):
                escapes.append(("read", p))
            r.status(CLOSE, sstr(h))
        for typ in (STAT, LSTAT):
            rtyp, body = r.request(typ, sstr(p))
            # Whatever it finds is inside: the home's own "sub", ".." clamped to "/".
        rtyp, body = r.request(OPENDIR, sstr(p))
        if rtyp != STATUS:
            h = body[4:]
            rt, names = r.request(READDIR, sstr(h))
            if b"secret" in names or b"passwd" in names:
                escapes.append(("list", p))
            r.status(CLOSE, sstr(h))
        # Writes, removals, renames, attributes: none may touch anything outside.
        rtyp, body = r.request(OPEN, sstr(p) + struct.pack(">II", FXF_WRITE | FXF_CREAT | FXF_TRUNC, 0))
        if rtyp != STATUS:
            r.status(CLOSE, sstr(body[4:]))
        r.request(REMOVE, sstr(p))
        r.request(MKDIR, sstr(p + "_d") + struct.pack(">I", 0))
        r.request(RMDIR, sstr(p))
        r.request(SETSTAT, sstr(p) + struct.pack(">II", 4, 0o777))
        r.request(RENAME, sstr(p) + sstr("/moved"))
        r.request(RENAME, sstr("/moved") + sstr(p))
        r.request(EXTENDED, sstr("posix-rename@openssh.com") + sstr(p) + sstr("/moved2"))
        r.request(EXTENDED, sstr("statvfs@openssh.com") + sstr(p))
    t.close()
    assert escapes == []
    assert refused_reads == len(ESCAPES)  # none of them names a readable file inside either
    assert _outside_state(outside) == before
    assert oct(os.stat(os.path.join(outside, "secret")).st_mode & 0o777) != "0o777"
    with open("/etc/passwd", "rb") as f:
        assert f.read() == passwd
    # Nothing was made beside the home either.
    assert sorted(os.listdir(srv.home_root)) == sorted(["bob", "acctuser", "outside"])


def test_curl_sftp(srv, tmp_path):
    """curl's sftp:// (libssh2 1.10: no ETM MAC, no AEAD cipher; served with aes-ctr and
    hmac-sha2-256)."""
    import subprocess
    home = os.path.join(srv.home_root, "bob")
    data = os.urandom(200000)
    (tmp_path / "c.bin").write_bytes(data)
    base = ["curl", "-sS", "-k", "-u", "bob:pw", "--max-time", "60"]
    cp = subprocess.run(base + ["-T", str(tmp_path / "c.bin"), f"sftp://127.0.0.1:{srv.sftp_port}/c.bin"],
                        capture_output=True, timeout=90)
    assert cp.returncode == 0, cp.stderr
    with open(os.path.join(home, "c.bin"), "rb") as f:
        assert f.read() == data
    cp = subprocess.run(base + [f"sftp://127.0.0.1:{srv.sftp_port}/c.bin"], capture_output=True, timeout=90)
    assert (cp.returncode, cp.stdout) == (0, data), cp.stderr
