"""Quotas (issue 18, "Quotas") and per-user bandwidth wiring: `ferry user set NAME --quota-bytes N
--quota-files N` enforced for FTP and SFTP in core, the usage kept in the store (table quota_usage)
and `ferry quota show|scan`, AVBL (draft-peterson-streamlined-ftp-command-extensions) and SFTP
statvfs@openssh.com reporting what is left, and `--rate-down` applied at login.

The store is updated on the job pool after each commit, so a test waits (bounded) for
`ferry quota show` to reach the figure it expects; no assertion is on a duration. Every test
runs once per store (SQLite and PostgreSQL).

    FERRY_BUILD=build /usr/bin/python3 -m pytest tests/integration/test_quota.py
"""

import ftplib
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading

import paramiko
import pytest

from conftest import built_features, wait_until
from files_helpers import (DATA_TIMEOUT, Session, home_of, make_dir, put_file,
                           read_bytes)
from sftp_helpers import (CLOSE, EXTENDED, EXTENDED_REPLY, FSETSTAT, FX_FAILURE, FX_OK, FXF_APPEND, FXF_CREAT,
                          FXF_READ, FXF_TRUNC, FXF_WRITE, SETSTAT, STATUS, WRITE, Raw, client, sstr,
                          start_sftp_server, transport)

FERRY_STORES = ("sqlite", "postgres")

# The most a running upload may hold beyond the quota: one read chunk or one splice (1 MiB) of
# the FTP data path; with exact reservations it is 0, this is the contract's bound.
ONE_BUFFER = 1 << 20


def ferry_ok(srv, *args):
    cp = srv.ferry(*args)
    assert cp.returncode == 0, (args, cp.stdout, cp.stderr)
    return cp.stdout


def usage(srv, user="bob"):
    """(bytes, files) as `ferry quota show` prints them from the store."""
    out = ferry_ok(srv, "quota", "show", user)
    b = re.search(r"^bytes: (\d+) used", out, re.M)
    f = re.search(r"^files: (\d+) used", out, re.M)
    assert b and f, out
    return int(b.group(1)), int(f.group(1))


def wait_usage(srv, want, user="bob"):
    wait_until(lambda: usage(srv, user) == want, timeout=60, what=f"usage {want} (now {usage(srv, user)})")


def disk_usage(home):
    """What quotas count: regular files by size, temporaries and partials left out."""
    b = f = 0
    for d, _, names in os.walk(home):
        for n in names:
            p = os.path.join(d, n)
            if n.startswith((".ferry-upload.", ".ferry-partial.")) or not os.path.isfile(p) or os.path.islink(p):
                continue
            b += os.lstat(p).st_size
            f += 1
    return b, f


def quota_server(make_server, **opts):
    """A started server where bob has the given quota options (e.g. quota_bytes="100K") and a
    recounted (empty) usage."""
    srv = make_server()
    args = []
    for k, v in opts.items():
        args += ["--" + k.replace("_", "-"), str(v)]
    ferry_ok(srv, "user", "set", "bob", *args)
    ferry_ok(srv, "quota", "scan", "bob")
    return srv


def session(srv, user="bob", password="pw"):
    """A logged-in Session in TYPE I (exact bytes on disk)."""
    s = Session(srv, user=user, password=password)
    s.expect("TYPE I", 200)
    return s


def upload(s, name, data, verb="STOR"):
    """An upload that may be cut short by the server: returns the final reply (226, 552...)."""
    d = s.open_passive()
    try:
        r1 = s.cmd(f"{verb} {name}")
        if r1.code not in (125, 150):
            return r1
        d.settimeout(DATA_TIMEOUT)
        try:
            d.sendall(data)
        except OSError:
            pass  # the server stopped the upload and closed the data connection
    finally:
        d.close()
    return s.reply(timeout=DATA_TIMEOUT)


def no_temporaries(home):
    return [n for n in os.listdir(home) if n.startswith(".ferry-")]


# --------------------------------------------------------------------------- FTP

def test_quota_crossed_mid_upload(make_server):
    """The upload that crosses the quota gets 552 mid-stream, its temporary is removed, the old
    file is intact and the usage stays exact (the old file's bytes)."""
    srv = quota_server(make_server, quota_bytes="100K")
    home = home_of(srv)
    s = session(srv)
    try:
        old = os.urandom(10_000)
        assert upload(s, "f", old).code == 226
        wait_usage(srv, (10_000, 1))
        r = upload(s, "f", os.urandom(300_000))
        assert r.code == 552 and "Exceeded storage allocation" in r.text, r
        assert read_bytes(os.path.join(home, "f")) == old
        assert no_temporaries(home) == []
        # Still logged in, and what fits goes on fitting.
        assert upload(s, "g", os.urandom(50_000)).code == 226
    finally:
        s.close()
    wait_usage(srv, (60_000, 2))
    assert disk_usage(home) == (60_000, 2)
    out = ferry_ok(srv, "quota", "show", "bob")
    assert f"bytes: 60000 used of {100 * 1024}, {100 * 1024 - 60000} left" in out
    srv.wait_log(r'transfer: user="bob" .*cmd=STOR path="/f" .*status=failed reason=quota')


def test_full_quota_refuses_before_150(make_server):
    """Checked before an upload starts: at the quota, STOR of a new file is 552 at once."""
    srv = quota_server(make_server, quota_bytes="1000")
    s = session(srv)
    try:
        assert upload(s, "a", b"x" * 1000).code == 226
        wait_usage(srv, (1000, 1))
        s.pasv()
        r = s.cmd("STOR b")
        assert r.code == 552, r
        assert not os.path.exists(os.path.join(home_of(srv), "b"))
        # Overwriting the full file with something no larger still works.
        assert upload(s, "a", b"y" * 600).code == 226
    finally:
        s.close()
    wait_usage(srv, (600, 1))


def test_files_quota(make_server):
    srv = quota_server(make_server, quota_files=2)
    s = session(srv)
    try:
        assert upload(s, "a", b"1").code == 226
        assert upload(s, "b", b"22").code == 226
        s.pasv()
        assert s.cmd("STOR c").code == 552
        assert upload(s, "a", b"333").code == 226  # an overwrite is not a new file
        assert s.cmd("DELE b").code == 250
        assert upload(s, "c", b"4444").code == 226  # the freed slot
    finally:
        s.close()
    wait_usage(srv, (7, 2))
    assert sorted(os.listdir(home_of(srv))) == ["a", "c"]


def test_overwrite_append_delete_rename_accounting(make_server):
    srv = quota_server(make_server, quota_bytes="1M")
    home = home_of(srv)
    s = session(srv)
    try:
        assert upload(s, "f", b"a" * 30_000).code == 226
        wait_usage(srv, (30_000, 1))
        assert upload(s, "f", b"b" * 10_000).code == 226  # overwrite: new minus old
        wait_usage(srv, (10_000, 1))
        assert upload(s, "f", b"c" * 5_000, verb="APPE").code == 226
        wait_usage(srv, (15_000, 1))
        assert upload(s, "g", b"d" * 2_000).code == 226
        wait_usage(srv, (17_000, 2))
        # A rename over a file frees the replaced file.
        s.expect("RNFR g", 350)
        s.expect("RNTO f", 250)
        wait_usage(srv, (2_000, 1))
        s.expect("DELE f", 250)
        wait_usage(srv, (0, 0))
    finally:
        s.close()
    assert disk_usage(home) == (0, 0)


def test_concurrent_uploads_race_the_last_bytes(make_server):
    """Two uploads of one user racing the last bytes: the committed usage never passes the
    quota by more than one in-flight buffer, and the store matches the disk after a scan."""
    quota = 1 << 20
    srv = quota_server(make_server, quota_bytes=str(quota))
    home = home_of(srv)
    results = {}

    def worker(name):
        s = session(srv)
        try:
            results[name] = upload(s, name, os.urandom(700_000)).code
        finally:
            s.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("r1", "r2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert sorted(results.values()) in ([226, 552], [552, 552]), results
    committed = sum(os.path.getsize(os.path.join(home, n)) for n in ("r1", "r2")
                    if os.path.exists(os.path.join(home, n)))
    assert committed <= quota + ONE_BUFFER
    wait_usage(srv, disk_usage(home))
    assert usage(srv)[0] <= quota + ONE_BUFFER
    assert no_temporaries(home) == []
    ferry_ok(srv, "quota", "scan", "bob")
    assert usage(srv) == disk_usage(home)


def test_shared_folder_not_counted(make_server):
    """A shared folder belongs to no one user: uploads into it are neither counted nor limited
    by the user's quota, and a rename out of it into the home is refused (nothing moves)."""
    srv = make_server()
    shared = os.path.join(srv.home_root, "shared-q")
    make_dir(shared)
    ferry_ok(srv, "user", "set", "bob", "--quota-bytes", "1000", "--mount", f"/shared={shared}")
    ferry_ok(srv, "quota", "scan", "bob")
    s = session(srv)
    try:
        assert upload(s, "/shared/big", b"s" * 5000).code == 226
        assert upload(s, "mine", b"m" * 800).code == 226
        s.expect("RNFR /shared/big", 350)
        assert s.cmd("RNTO /over").code == 553
        assert upload(s, "more", b"m" * 300).code == 552  # the home's quota still holds
        assert s.cmd("AVBL /").lines[-1] == "213 200"
    finally:
        s.close()
    wait_usage(srv, (800, 1))
    assert os.path.getsize(os.path.join(shared, "big")) == 5000
    assert usage(srv) == disk_usage(home_of(srv))


def test_quota_scan_and_show(make_server):
    """scan recounts from disk (temporaries and partials left out); show and scan name unknown
    users clearly (exit 1) and take exactly one NAME (exit 2)."""
    srv = make_server()
    home = home_of(srv)
    put_file(os.path.join(home, "a"), b"x" * 100)
    put_file(os.path.join(home, "d", "b"), b"y" * 23)
    put_file(os.path.join(home, ".ferry-upload.0123"), b"z" * 1000)
    put_file(os.path.join(home, ".ferry-partial.abcd"), b"z" * 1000)
    out = ferry_ok(srv, "quota", "scan", "bob")
    assert "bytes: 123 used, no quota" in out and "files: 2 used, no quota" in out
    ferry_ok(srv, "user", "set", "bob", "--quota-files", "5")
    assert "files: 2 used of 5, 3 left" in ferry_ok(srv, "quota", "show", "bob")
    cp = srv.ferry("quota", "show", "nobody")
    assert cp.returncode == 1 and "nobody" in cp.stderr
    assert srv.ferry("quota", "show").returncode == 2
    assert srv.ferry("quota", "frob", "bob").returncode == 2


def test_group_quota_applies_to_each_member(make_server):
    """A group's quota is each member's own limit (usage is per user), documented."""
    srv = make_server(users=[("bob", "pw", None), ("amy", "pw2", None)])
    ferry_ok(srv, "group", "add", "small")
    ferry_ok(srv, "group", "set", "small", "--quota-bytes", "2000")
    ferry_ok(srv, "user", "set", "bob", "--groups", "small")
    ferry_ok(srv, "user", "set", "amy", "--groups", "small")
    for u in ("bob", "amy"):
        ferry_ok(srv, "quota", "scan", u)
    for u, pw in (("bob", "pw"), ("amy", "pw2")):
        s = session(srv, u, pw)
        try:
            assert upload(s, "f", b"x" * 1500).code == 226
            assert upload(s, "g", b"x" * 1500).code == 552
        finally:
            s.close()
    wait_usage(srv, (1500, 1), "bob")
    wait_usage(srv, (1500, 1), "amy")


def test_avbl(make_server):
    """AVBL: 213 and the bytes left of the quota; without a quota the file system's space
    (statvfs); 550 for a missing name or a file; FEAT lists AVBL."""
    srv = make_server()
    home = home_of(srv)
    make_dir(os.path.join(home, "sub"))
    put_file(os.path.join(home, "file"), b"abc")
    s = session(srv)
    try:
        feat = s.cmd("FEAT")
        assert " AVBL" in feat.lines
        r = s.cmd("AVBL")
        assert r.code == 213 and re.fullmatch(r"213 \d+", r.lines[-1]), r
        st = os.statvfs(home)
        free = st.f_bavail * st.f_frsize
        # The same file system, read a moment apart: equal up to what others wrote meanwhile.
        assert abs(int(r.lines[-1].split()[1]) - free) <= 256 << 20
        assert s.cmd("AVBL sub").code == 213
        assert s.cmd("AVBL nope").code == 550
        assert s.cmd("AVBL file").code == 550
        assert s.cmd("AVBL " + "x" * 5000).code in (500, 501)
    finally:
        s.close()
    ferry_ok(srv, "user", "set", "bob", "--quota-bytes", "10000")
    ferry_ok(srv, "quota", "scan", "bob")  # the 3-byte file
    s = session(srv)
    try:
        assert s.cmd("AVBL").lines[-1] == "213 9997"
        assert upload(s, "sub/x", b"q" * 997).code == 226
        assert s.cmd("AVBL /sub").lines[-1] == "213 9000"
    finally:
        s.close()


def test_avbl_needs_login(make_server):
    srv = make_server()
    c = srv.connect()
    try:
        assert c.cmd("AVBL").code == 530
    finally:
        c.close()


def test_store_copy_takes_usage(make_server, ferry_store, request):
    """ferry store copy carries each user's quota usage to PostgreSQL."""
    if ferry_store.kind != "sqlite":
        pytest.skip("copies from SQLite")
    from conftest import StoreSpec
    pg = request.getfixturevalue("pg_server")
    src = make_server(start=False)
    put_file(os.path.join(home_of(src), "a"), b"x" * 321)
    ferry_ok(src, "user", "set", "bob", "--quota-bytes", "1M")
    ferry_ok(src, "quota", "scan", "bob")
    db = pg.create_db()
    ferry_ok(src, "store", "copy", "--to", pg.conninfo(db))
    dst = make_server(users=(), store=StoreSpec("postgres", pg), start=False)
    dst.pg_db = db
    dst.write_config()
    assert usage(dst) == (321, 1)
    assert ferry_ok(dst, "quota", "show", "bob") == ferry_ok(src, "quota", "show", "bob")


# --------------------------------------------------------------------------- SFTP

def _sftp_server(make_server, ferry_bin, keydir):
    if "sftp" not in built_features(ferry_bin):
        pytest.skip("ferryd built without SFTP (meson -Dsftp=disabled)")
    key = os.path.join(keydir, "host_ed25519")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True, timeout=30)
    return start_sftp_server(make_server, {"sftp": {"host_keys": key}})


@pytest.fixture
def keydir():
    d = tempfile.mkdtemp(prefix="ferry-quota-key-", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_sftp_quota_failure_and_statvfs(make_server, ferry_bin, keydir):
    srv = _sftp_server(make_server, ferry_bin, keydir)
    home = home_of(srv)
    ferry_ok(srv, "user", "set", "bob", "--quota-bytes", "64K", "--quota-files", "10")
    ferry_ok(srv, "quota", "scan", "bob")
    c = client(srv)
    t = transport(srv)
    try:
        with c.open("/old", "wb") as f:
            f.write(b"o" * 4096)
        wait_usage(srv, (4096, 1))
        # statvfs@openssh.com: available blocks and files are what is left of the quota.
        r = Raw(t)
        typ, body = r.request(EXTENDED, sstr("statvfs@openssh.com") + sstr("/"))
        assert typ == EXTENDED_REPLY
        v = struct.unpack(">11Q", body)
        frsize, bavail, favail = v[1], v[4], v[7]
        assert bavail == (64 * 1024 - 4096) // frsize and favail == 9, v
        # fstatvfs@openssh.com on a handle: the same figures.
        h = r.open("/old", FXF_READ)
        typ, body = r.request(EXTENDED, sstr("fstatvfs@openssh.com") + sstr(h))
        assert typ == EXTENDED_REPLY
        fv = struct.unpack(">11Q", body)
        assert (fv[1], fv[4], fv[7]) == (frsize, bavail, favail), fv
        assert r.status(CLOSE, sstr(h)) == FX_OK
        # A write past the quota fails with SSH_FX_FAILURE and its message; the upload is gone.
        with pytest.raises(IOError) as ei:
            with c.open("/old", "wb") as f:
                f.set_pipelined(False)
                for _ in range(40):
                    f.write(b"n" * 4096)
        assert "Quota exceeded" in str(ei.value), ei.value
    finally:
        c.close()
        t.close()
    assert read_bytes(os.path.join(home, "old")) == b"o" * 4096
    assert no_temporaries(home) == []
    wait_usage(srv, (4096, 1))


def test_sftp_quota_every_write_path(make_server, ferry_bin, keydir):
    """Besides WRITE, what else grows a file of the home counts against the quota in core:
    copy-data into an upload, FSETSTAT and SETSTAT extending a file, and a WRITE to a handle opened
    to append (its offset says nothing: the bytes land at the end). Each is refused past the quota
    with its message and nothing is left beyond it; a SETSTAT that cuts a file frees its bytes."""
    srv = _sftp_server(make_server, ferry_bin, keydir)
    home = home_of(srv)
    ferry_ok(srv, "user", "set", "bob", "--quota-bytes", "64K", "--quota-files", "10")
    ferry_ok(srv, "quota", "scan", "bob")
    put_file(os.path.join(home, "big"), b"b" * (100 * 1024))  # outside ferry: not counted
    t = transport(srv)
    r = Raw(t)
    try:
        oh = r.open("/old", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
        assert r.status(WRITE, sstr(oh) + struct.pack(">Q", 0) + sstr(b"o" * 4096)) == FX_OK
        assert r.status(CLOSE, sstr(oh)) == FX_OK
        wait_usage(srv, (4096, 1))
        # copy-data of 100 KiB into a new upload: refused, the upload discarded at CLOSE.
        rh = r.open("/big", FXF_READ)
        wh = r.open("/copy", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
        typ, body = r.request(EXTENDED, sstr("copy-data") + sstr(rh) + struct.pack(">QQ", 0, 0) + sstr(wh)
                              + struct.pack(">Q", 0))
        assert typ == STATUS and struct.unpack(">I", body[:4])[0] == FX_FAILURE, (typ, body)
        assert b"Quota exceeded" in body, body
        r.status(CLOSE, sstr(wh))
        assert r.status(CLOSE, sstr(rh)) == FX_OK
        assert not os.path.exists(os.path.join(home, "copy"))
        # FSETSTAT extending an upload to 1 MiB.
        wh = r.open("/ext", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
        typ, body = r.request(FSETSTAT, sstr(wh) + struct.pack(">IQ", 1, 1 << 20))
        assert typ == STATUS and struct.unpack(">I", body[:4])[0] == FX_FAILURE, (typ, body)
        assert b"Quota exceeded" in body, body
        r.status(CLOSE, sstr(wh))
        assert not os.path.exists(os.path.join(home, "ext"))
        # SETSTAT extending /old to 1 MiB: refused, the file as it was.
        typ, body = r.request(SETSTAT, sstr("/old") + struct.pack(">IQ", 1, 1 << 20))
        assert typ == STATUS and struct.unpack(">I", body[:4])[0] == FX_FAILURE, (typ, body)
        assert b"Quota exceeded" in body, body
        assert read_bytes(os.path.join(home, "old")) == b"o" * 4096
        # An append of 100 KiB, each WRITE at offset 0.
        ah = r.open("/old", FXF_WRITE | FXF_APPEND)
        codes = [r.status(WRITE, sstr(ah) + struct.pack(">Q", 0) + sstr(b"a" * 32768)) for _ in range(3)]
        assert codes[:1] == [FX_OK] and FX_FAILURE in codes, codes
        r.status(CLOSE, sstr(ah))
        size = os.path.getsize(os.path.join(home, "old"))
        assert size <= 64 * 1024
        # (The store adds each change on the job pool, in any order; the figure settles here.)
        wait_usage(srv, (size, 1))
        # SETSTAT cutting a file: its bytes are freed.
        assert r.status(SETSTAT, sstr("/old") + struct.pack(">IQ", 1, 1000)) == FX_OK
    finally:
        t.close()
    assert read_bytes(os.path.join(home, "old")) == b"o" * 1000
    assert no_temporaries(home) == []
    wait_usage(srv, (1000, 1))


def test_openssh_sftp_put_crossing_the_quota(make_server, ferry_bin, keydir, tmp_path):
    """OpenSSH's sftp (a real client) putting over a file across the quota: its batch fails (exit
    1) at the refused write, the old file is intact, no temporary is left and the usage is exact;
    a put that fits goes through, exact."""
    from sftp_helpers import openssh_sftp
    srv = _sftp_server(make_server, ferry_bin, keydir)
    home = home_of(srv)
    old = os.urandom(4096)
    put_file(os.path.join(home, "old"), old)
    ferry_ok(srv, "user", "set", "bob", "--quota-bytes", "64K")
    ferry_ok(srv, "quota", "scan", "bob")
    wait_usage(srv, (4096, 1))
    os.chmod(tmp_path, 0o755)
    (tmp_path / "big.bin").write_bytes(os.urandom(1 << 20))
    (tmp_path / "fits.bin").write_bytes(os.urandom(30_000))
    cp = openssh_sftp(srv, ["put big.bin /old"], cwd=str(tmp_path))
    assert cp.returncode == 1, (cp.returncode, cp.stdout, cp.stderr)
    # SSH_FX_FAILURE on the write (OpenSSH shows the status' name, not its message)
    assert cp.stderr.startswith('write remote "/old": Failure\n'), cp.stderr
    assert read_bytes(os.path.join(home, "old")) == old
    assert no_temporaries(home) == []
    wait_usage(srv, (4096, 1))
    cp = openssh_sftp(srv, ["put fits.bin /fits.bin"], cwd=str(tmp_path))
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert read_bytes(os.path.join(home, "fits.bin")) == (tmp_path / "fits.bin").read_bytes()
    wait_usage(srv, (34_096, 2))


# --------------------------------------------------------------------------- bandwidth

def test_user_rate_down(make_server):
    """--rate-down 200K: `ferry user show` shows it and a throttled download is exact."""
    srv = make_server()
    ferry_ok(srv, "user", "set", "bob", "--rate-down", "200K")
    out = ferry_ok(srv, "user", "show", "bob")
    assert re.search(r"^effective rate-down: 204800$", out, re.M), out
    data = os.urandom(300_000)
    put_file(os.path.join(home_of(srv), "big"), data)
    s = session(srv)
    try:
        got, _, r2 = s.retr("big")
        assert got == data and r2.code == 226
    finally:
        s.close()
    ftp = ftplib.FTP()
    ftp.connect(srv.host, srv.port, timeout=DATA_TIMEOUT)
    try:
        ftp.login("bob", "pw")
        chunks = []
        ftp.retrbinary("RETR big", chunks.append)
        assert b"".join(chunks) == data
    finally:
        ftp.close()


def test_curl_upload_crossing_the_quota(make_server, tmp_path):
    """curl -T (a real client) crossing the quota mid-upload, then at the quota. Mid-upload: 128 MiB
    (more than every socket buffer on the way can hold, so curl is still sending when ferryd stops
    reading) is cut off by ferryd with 552 and the data connection closed under it: curl fails with
    exit 55 (CURLE_SEND_ERROR) and nothing else; the old file is intact, no temporary is left, the log says why and
    the usage stays exact. Uploads that fit go through (exit 0, exact bytes), up to the quota
    exactly; at the quota the next upload is refused before its 150 with 552, and curl fails with
    exit 25 (CURLE_UPLOAD_FAILED) and shows the 552."""
    from test_clients import need, run
    srv = quota_server(make_server, quota_bytes="100K")
    home = home_of(srv)
    old = os.urandom(10_000)
    put_file(os.path.join(home, "f"), old)
    ferry_ok(srv, "quota", "scan", "bob")
    wait_usage(srv, (10_000, 1))
    curl = [need("curl"), "-sS", "--max-time", "120", "--connect-timeout", "10", "-u", "bob:pw"]
    url = f"ftp://{srv.host}:{srv.port}/"
    cp = subprocess.run(["bash", "-c", 'head -c 128M /dev/zero | "$@"', "sh"] + curl + ["-T", "-", url + "f"],
                        capture_output=True, text=True, timeout=180)
    assert cp.returncode == 55, (cp.returncode, cp.stderr)
    # ECONNRESET or EPIPE, as the reset meets curl's next write or its current one
    assert re.fullmatch(r"curl: \(55\) Send failure: (Connection reset by peer|Broken pipe)\n", cp.stderr), cp.stderr
    assert read_bytes(os.path.join(home, "f")) == old
    assert no_temporaries(home) == []
    srv.wait_log(r'transfer: user="bob" .*cmd=STOR path="/f" .*status=failed reason=quota', timeout=60)
    wait_usage(srv, (10_000, 1))
    for name, n in (("g", 50_000), ("h", 100 * 1024 - 60_000)):
        src = tmp_path / name
        src.write_bytes(os.urandom(n))
        cp = run(curl + ["-T", str(src), url + name])
        assert cp.returncode == 0, cp.stderr
        assert read_bytes(os.path.join(home, name)) == src.read_bytes()
    wait_usage(srv, (100 * 1024, 3))
    cp = run(curl + ["-v", "-T", str(tmp_path / "g"), url + "i"])
    assert cp.returncode == 25, (cp.returncode, cp.stderr)
    assert "< 552 Exceeded storage allocation" in cp.stderr and "< 150" not in cp.stderr, cp.stderr
    assert not os.path.exists(os.path.join(home, "i"))
    wait_usage(srv, (100 * 1024, 3))
