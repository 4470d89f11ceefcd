"""Shared (virtual) folders and per-directory permissions (issue 18), enforced in the file
service (core/files_space.c) so FTP and SFTP get them alike: a read-only share, a write-only
drop box, renames across a mount point refused with the documented reply, dir-perms
(/incoming=write,mkdir, /outgoing=read,list), mounts from a group, mount points in listings of
their parent, a missing folder logged and left out, and the whole FTP escape list of
test_traversal.py run again from inside a mounted folder (0 escapes, checked on disk).

    FERRY_BUILD=build /usr/bin/python3 -m pytest tests/integration/test_mounts.py
"""

import os
import re
import shutil
import subprocess
import tempfile
import time
import types

import pytest

import test_traversal as tt
from conftest import FerryServer, built_features
from files_helpers import (Session, chown_svc, connect_data, make_dir, parse227, put_file,
                           read_bytes)
from sftp_helpers import (EXTENDED, FX_FAILURE, FX_OK, RENAME, STATUS, SYMLINK, Raw, sstr,
                          start_sftp_server, transport)
from sftp_helpers import client as sftp_client

# Compares /etc/passwd before and after: on the xdist worker of test_scripts_run.py (whose
# scripts/run may add a system account), never beside it (scripts/test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("etc-passwd")


# Every test on a make_server runs once per store (the policy rows, the folders' clean-up).
FERRY_STORES = ("sqlite", "postgres")


def ferry_ok(srv, *args):
    cp = srv.ferry(*args)
    assert cp.returncode == 0, (args, cp.stdout, cp.stderr)
    return cp.stdout


def shared_dir(srv, name, files=()):
    """A directory for a shared folder: beside the homes, so under the [sandbox] roots the
    daemon derives (the homes' parents)."""
    d = os.path.join(srv.home_root, name)
    make_dir(d)
    for fname, data in files:
        put_file(os.path.join(d, fname), data)
    return d


def refused_xfer(s, line, code=550):
    """PASV, then a transfer command that must be refused before any data flows."""
    r = s.c.expect("PASV", 227)
    _, port = parse227(r)
    d = connect_data(s.host, port)
    try:
        r = s.c.cmd(line)
        assert r.code == code, (line, r)
    finally:
        d.close()
    return r


def names(listing):
    return sorted(x for x in listing.decode().split("\r\n") if x)


def need_sftp(ferry_bin):
    if "sftp" not in built_features(ferry_bin):
        pytest.skip("ferryd built without SFTP (meson -Dsftp=disabled)")


@pytest.fixture(scope="module")
def host_key():
    """A host key of its own: with PostgreSQL there is no [store] sqlite directory to make one
    beside."""
    keydir = tempfile.mkdtemp(prefix="ferry-mounts-key-", dir="/tmp")
    key = os.path.join(keydir, "host_ed25519")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True, timeout=30)
    yield key
    shutil.rmtree(keydir, ignore_errors=True)


# --------------------------------------------------------------------------- FTP

def test_read_only_share(make_server):
    srv = make_server()
    pub = shared_dir(srv, "pub", [("doc.txt", b"shared document\n")])
    ferry_ok(srv, "user", "set", "bob", "--mount", f"/pub={pub}:read,list")
    s = Session(srv)
    try:
        s.expect("TYPE I", 200)
        data, _, _ = s.retr("/pub/doc.txt")
        assert data == b"shared document\n"
        assert s.expect("SIZE /pub/doc.txt", 213).text == "16"
        refused_xfer(s, "STOR /pub/new.txt")
        refused_xfer(s, "APPE /pub/doc.txt")
        s.expect("DELE /pub/doc.txt", 550)
        s.expect("MKD /pub/sub", 550)
        s.expect("RNFR /pub/doc.txt", 550)
        # Navigation: into the folder, PWD virtual, ".." and CDUP back to the home.
        s.expect("CWD /pub", 250)
        assert s.expect("PWD", 257).lines == ['257 "/pub" is the current directory.']
        data, _, _ = s.retr("doc.txt")
        assert data == b"shared document\n"
        assert names(s.list_data("NLST")) == ["doc.txt"]
        s.expect("CWD ..", 250)
        assert s.expect("PWD", 257).lines == ['257 "/" is the current directory.']
        s.expect("CWD pub", 250)
        s.expect("CDUP", 250)
        assert s.expect("PWD", 257).lines == ['257 "/" is the current directory.']
        # The home is still the user's own: writable.
        s.stor("mine.txt", b"mine")
    finally:
        s.close()
    assert read_bytes(os.path.join(pub, "doc.txt")) == b"shared document\n"
    assert sorted(os.listdir(pub)) == ["doc.txt"]
    assert read_bytes(os.path.join(srv.home_root, "bob", "mine.txt")) == b"mine"


def test_mount_point_listed_in_parent(make_server):
    srv = make_server()
    pub = shared_dir(srv, "pub", [("doc.txt", b"x")])
    nested = shared_dir(srv, "nested", [("n.txt", b"n")])
    put_file(os.path.join(srv.home_root, "bob", "own.txt"), b"o")
    make_dir(os.path.join(srv.home_root, "bob", "also"))   # a real directory named like a mount
    ferry_ok(srv, "user", "set", "bob", "--mount", f"/pub={pub}:read,list", "--mount",
             f"/also={nested}", "--mount", f"/pub/inner={nested}:read,list")
    s = Session(srv)
    try:
        assert names(s.list_data("NLST")) == ["also", "own.txt", "pub"]   # "also" once
        lines = {ln.rsplit(" ", 1)[-1]: ln for ln in s.list_data("LIST").decode().split("\r\n") if ln}
        assert lines["pub"].startswith("d") and lines["also"].startswith("d")
        mlsd = s.list_data("MLSD").decode()
        assert re.search(r"(?m)^type=dir;[^ ]* pub\r$", mlsd), mlsd
        assert names(s.list_data("NLST", "/also")) == ["n.txt"]          # the mount, not the dir
        assert names(s.list_data("NLST", "/pub")) == ["doc.txt", "inner"]  # a nested mount point
        assert names(s.list_data("NLST", "/pub/inner")) == ["n.txt"]
        assert "type=dir" in s.expect("MLST /pub", 250).full
    finally:
        s.close()


def test_drop_box_ftp(make_server):
    srv = make_server()
    drop = shared_dir(srv, "drop", [("other.txt", b"someone else's upload")])
    ferry_ok(srv, "user", "set", "bob", "--mount", f"/drop={drop}:write")
    s = Session(srv)
    try:
        s.expect("TYPE I", 200)
        s.stor("/drop/report.csv", b"a,b,c\n")
        refused_xfer(s, "RETR /drop/report.csv")
        refused_xfer(s, "RETR /drop/other.txt")
        refused_xfer(s, "LIST /drop")
        refused_xfer(s, "NLST /drop")
        refused_xfer(s, "MLSD /drop")
        s.expect("SIZE /drop/other.txt", 550)
        s.expect("MLST /drop/other.txt", 550)
        s.expect("DELE /drop/other.txt", 550)
    finally:
        s.close()
    assert read_bytes(os.path.join(drop, "report.csv")) == b"a,b,c\n"
    assert read_bytes(os.path.join(drop, "other.txt")) == b"someone else's upload"


def test_rename_across_mount_refused(make_server):
    srv = make_server()
    pub = shared_dir(srv, "rw", [("in-share.txt", b"share")])
    home = os.path.join(srv.home_root, "bob")
    put_file(os.path.join(home, "in-home.txt"), b"home")
    ferry_ok(srv, "user", "set", "bob", "--mount", f"/rw={pub}")   # the user's perms (all)
    s = Session(srv)
    try:
        for src, dst in (("/in-home.txt", "/rw/in-home.txt"), ("/rw/in-share.txt", "/in-share.txt"),
                         ("/rw/in-share.txt", "/rw/../moved.txt"), ("/rw", "/rw2")):
            s.expect(f"RNFR {src}", 350)
            r = s.expect(f"RNTO {dst}", 553)
            assert r.lines == ["553 Cannot rename across a shared folder or file system boundary."]
        # Within one root a rename works as ever.
        s.expect("RNFR /rw/in-share.txt", 350)
        s.expect("RNTO /rw/renamed.txt", 250)
        # The mount point itself cannot be removed.
        s.expect("RMD /rw", 550)
    finally:
        s.close()
    assert read_bytes(os.path.join(home, "in-home.txt")) == b"home"
    assert sorted(os.listdir(pub)) == ["renamed.txt"]
    assert read_bytes(os.path.join(pub, "renamed.txt")) == b"share"
    assert sorted(os.listdir(home)) == ["in-home.txt"]


def test_dir_perms_incoming_outgoing(make_server):
    srv = make_server()
    home = os.path.join(srv.home_root, "bob")
    put_file(os.path.join(home, "outgoing", "report.pdf"), b"%PDF report")
    put_file(os.path.join(home, "incoming", "earlier.bin"), b"earlier")
    ferry_ok(srv, "user", "set", "bob", "--perms", "list", "--dir-perms", "/incoming=write,mkdir",
             "--dir-perms", "/outgoing=read,list")
    s = Session(srv)
    try:
        s.expect("TYPE I", 200)
        # /incoming: upload and mkdir; no download, no listing.
        s.stor("/incoming/new.bin", b"uploaded")
        s.expect("MKD /incoming/sub", 257)
        s.stor("/incoming/sub/deeper.bin", b"deeper")
        refused_xfer(s, "RETR /incoming/earlier.bin")
        refused_xfer(s, "LIST /incoming")
        refused_xfer(s, "NLST /incoming/sub")
        s.expect("DELE /incoming/earlier.bin", 550)
        # /outgoing: download and list; no upload, no delete.
        data, _, _ = s.retr("/outgoing/report.pdf")
        assert data == b"%PDF report"
        assert names(s.list_data("NLST", "/outgoing")) == ["report.pdf"]
        refused_xfer(s, "STOR /outgoing/x")
        s.expect("DELE /outgoing/report.pdf", 550)
        s.expect("MKD /outgoing/d", 550)
        # Elsewhere the user's own bits: list only.
        assert "incoming" in names(s.list_data("NLST"))
        refused_xfer(s, "STOR /top.bin")
        s.expect("MKD /top", 550)
    finally:
        s.close()
    assert read_bytes(os.path.join(home, "incoming", "new.bin")) == b"uploaded"
    assert read_bytes(os.path.join(home, "incoming", "sub", "deeper.bin")) == b"deeper"
    assert read_bytes(os.path.join(home, "outgoing", "report.pdf")) == b"%PDF report"
    assert sorted(os.listdir(home)) == ["incoming", "outgoing"]


def test_group_mounts_and_dir_perms(make_server):
    srv = make_server()
    team = shared_dir(srv, "team", [("plan.txt", b"the plan")])
    ferry_ok(srv, "group", "add", "staff")
    ferry_ok(srv, "group", "set", "staff", "--mount", f"/team={team}:read,list",
             "--dir-perms", "/inbox=write")
    ferry_ok(srv, "user", "set", "bob", "--groups", "staff")
    make_dir(os.path.join(srv.home_root, "bob", "inbox"))
    s = Session(srv)
    try:
        assert "team" in names(s.list_data("NLST"))
        data, _, _ = s.retr("/team/plan.txt")
        assert data == b"the plan"
        refused_xfer(s, "STOR /team/x")
        s.stor("/inbox/in.txt", b"in")
        refused_xfer(s, "RETR /inbox/in.txt")
    finally:
        s.close()
    # The user's own mount at the same path beats the group's.
    mine = shared_dir(srv, "mine", [("m.txt", b"mine")])
    ferry_ok(srv, "user", "set", "bob", "--mount", f"/team={mine}:read,list")
    s = Session(srv)
    try:
        assert names(s.list_data("NLST", "/team")) == ["m.txt"]
    finally:
        s.close()


def test_missing_mount_dir_logged_and_left_out(make_server):
    srv = make_server()
    gone = shared_dir(srv, "gone")
    pub = shared_dir(srv, "pub2", [("p.txt", b"p")])
    ferry_ok(srv, "user", "set", "bob", "--mount", f"/gone={gone}", "--mount", f"/pub={pub}:read,list")
    os.rmdir(gone)
    s = Session(srv)   # the login works
    try:
        srv.wait_log(r'shared folder unavailable, left out: user="bob" mount="/gone" dir="'
                     + re.escape(gone) + r'" error=No such file or directory')
        assert names(s.list_data("NLST")) == ["pub"]
        s.expect("CWD /gone", 550)
        data, _, _ = s.retr("/pub/p.txt")
        assert data == b"p"
    finally:
        s.close()


def test_mount_outside_sandbox_roots_left_out(make_server):
    """A folder outside the [sandbox] roots (by default the homes' parents at start), which
    Landlock would refuse anyway, is refused by name first so the log says why."""
    srv = make_server()
    outside = tempfile.mkdtemp(prefix="ferry-mount-out-", dir="/tmp")
    try:
        os.chmod(outside, 0o755)
        chown_svc(outside)
        ferry_ok(srv, "user", "set", "bob", "--mount", f"/x={outside}")
        s = Session(srv)
        try:
            srv.wait_log(r'shared folder unavailable, left out: user="bob" mount="/x" dir="'
                         + re.escape(outside) + r'" error=outside \[sandbox\] roots')
            assert names(s.list_data("NLST")) == []
        finally:
            s.close()
    finally:
        shutil.rmtree(outside, ignore_errors=True)


def test_stale_temporaries_in_shared_folders_removed_at_start(make_server):
    """The start-up clean-up looks in every shared folder a user or a group names, as in the
    homes: an old upload temporary goes, a fresh one and the files stay."""
    srv = make_server(start=False)
    old = time.time() - 3600
    mine = shared_dir(srv, "mine")
    team = shared_dir(srv, "team")
    put_file(os.path.join(mine, "sub", ".ferry-upload.abc123"), b"half", mtime=old)
    put_file(os.path.join(team, ".ferry-upload.def456"), b"half", mtime=old)
    put_file(os.path.join(team, ".ferry-upload.fresh"), b"maybe another server's upload")
    put_file(os.path.join(team, "keep.txt"), b"data", mtime=old)
    ferry_ok(srv, "user", "set", "bob", "--mount", f"/mine={mine}")
    ferry_ok(srv, "group", "add", "staff")
    ferry_ok(srv, "group", "set", "staff", "--mount", f"/team={team}:read,list")
    srv.start()
    srv.wait_log(r"removed 2 stale upload temporaries")
    srv.wait_log(r"stale upload clean-up done: 2 home\(s\) looked at, 2 shared folder\(s\)")
    assert not os.path.exists(os.path.join(mine, "sub", ".ferry-upload.abc123"))
    assert not os.path.exists(os.path.join(team, ".ferry-upload.def456"))
    assert read_bytes(os.path.join(team, ".ferry-upload.fresh")) == b"maybe another server's upload"
    assert read_bytes(os.path.join(team, "keep.txt")) == b"data"


def test_startup_cleanup_walks_each_directory_once(make_server):
    """Homes shared by several users and a folder several users and groups mount are walked once
    each, and counted once: the clean-up's list is deduplicated (sorted, as a node with 100,000
    users needs, no longer by comparing every home with every other)."""
    srv = make_server(start=False)
    old = time.time() - 3600
    bob_home = os.path.join(srv.home_root, "bob")
    for name in ("carol", "dave", "erin"):
        srv.add_user(name, "pw-" + name, home=bob_home)
    team = shared_dir(srv, "team")
    put_file(os.path.join(bob_home, ".ferry-upload.a1"), b"half", mtime=old)
    put_file(os.path.join(team, ".ferry-upload.b2"), b"half", mtime=old)
    ferry_ok(srv, "user", "set", "bob", "--mount", f"/team={team}")
    ferry_ok(srv, "user", "set", "carol", "--mount", f"/t2={team}")
    ferry_ok(srv, "group", "add", "staff")
    ferry_ok(srv, "group", "set", "staff", "--mount", f"/team={team}:read,list")
    srv.start()
    srv.wait_log(r"stale upload clean-up done: 2 home\(s\) looked at, 1 shared folder\(s\)")
    assert "removed 2 stale upload temporaries" in srv.log()
    assert not os.path.exists(os.path.join(bob_home, ".ferry-upload.a1"))
    assert not os.path.exists(os.path.join(team, ".ferry-upload.b2"))


# --------------------------------------------------------------------------- SFTP

def test_sftp_drop_box_share_and_rename(make_server, ferry_bin, host_key):
    need_sftp(ferry_bin)
    srv = start_sftp_server(make_server, {"sftp": {"host_keys": host_key}})
    drop = shared_dir(srv, "drop", [("other.txt", b"not yours")])
    pub = shared_dir(srv, "pub", [("doc.txt", b"shared document\n")])
    home = os.path.join(srv.home_root, "bob")
    put_file(os.path.join(home, "in-home.txt"), b"home")
    put_file(os.path.join(home, "outgoing", "r.txt"), b"report")
    rw = shared_dir(srv, "rw", [("in-share.txt", b"share")])
    ferry_ok(srv, "user", "set", "bob", "--mount", f"/drop={drop}:write", "--mount",
             f"/pub={pub}:read,list", "--mount", f"/rw={rw}", "--dir-perms", "/outgoing=read,list")
    c = sftp_client(srv)
    try:
        assert sorted(c.listdir("/")) == ["drop", "in-home.txt", "outgoing", "pub", "rw"]
        assert c.stat("/pub").st_mode & 0o040000
        with c.open("/pub/doc.txt", "rb") as f:
            assert f.read() == b"shared document\n"
        with pytest.raises(PermissionError):
            c.open("/pub/new.txt", "wb")
        with pytest.raises(PermissionError):
            c.remove("/pub/doc.txt")
        with pytest.raises(PermissionError):
            c.mkdir("/pub/d")
        # The drop box: upload yes, download and listing no.
        with c.open("/drop/up.bin", "wb") as f:
            f.write(b"dropped")
        with pytest.raises(PermissionError):
            c.open("/drop/other.txt", "rb")
        with pytest.raises(PermissionError):
            c.listdir("/drop")
        # dir-perms: /outgoing is read-only.
        with c.open("/outgoing/r.txt", "rb") as f:
            assert f.read() == b"report"
        with pytest.raises(PermissionError):
            c.open("/outgoing/new", "wb")
        # Renames across a mount point fail with the message.
        c.chdir("/pub")
        assert c.normalize(".") == "/pub"
        c.chdir("..")
        assert c.normalize(".") == "/"
        for src, dst in (("/in-home.txt", "/rw/x.txt"), ("/rw/in-share.txt", "/doc.txt")):
            with pytest.raises(IOError) as e:
                c.rename(src, dst)
            assert "Cannot rename across a shared folder or file system boundary" in str(e.value)
            with pytest.raises(IOError) as e:
                c.posix_rename(src, dst)
            assert "Cannot rename across a shared folder or file system boundary" in str(e.value)
    finally:
        c.close()
    assert read_bytes(os.path.join(drop, "up.bin")) == b"dropped"
    assert read_bytes(os.path.join(home, "in-home.txt")) == b"home"
    assert sorted(os.listdir(pub)) == ["doc.txt"]
    assert sorted(os.listdir(drop)) == ["other.txt", "up.bin"]
    assert read_bytes(os.path.join(rw, "in-share.txt")) == b"share"


def test_sftp_raw_rename_hardlink_across_mount(make_server, ferry_bin, host_key):
    """Exact statuses: RENAME, posix-rename and hardlink across a mount point are
    SSH_FX_FAILURE with the message, nothing moved; within a folder they work; a symlink made in
    a folder pointing at "/" or "../.." resolves in that folder."""
    need_sftp(ferry_bin)
    srv = start_sftp_server(make_server, {"sftp": {"host_keys": host_key}})
    rw = shared_dir(srv, "rw", [("a.txt", b"folder file")])
    home = os.path.join(srv.home_root, "bob")
    put_file(os.path.join(home, "h.txt"), b"home file")
    ferry_ok(srv, "user", "set", "bob", "--mount", f"/rw={rw}")
    t = transport(srv)
    try:
        r = Raw(t)

        def status_text(typ, body):
            rtyp, rbody = r.request(typ, body)
            assert rtyp == STATUS, (rtyp, rbody)
            code = int.from_bytes(rbody[:4], "big")
            n = int.from_bytes(rbody[4:8], "big")
            return code, rbody[8:8 + n].decode()
        msg = "Cannot rename across a shared folder or file system boundary"
        for src, dst in (("/h.txt", "/rw/h.txt"), ("/rw/a.txt", "/a.txt")):
            assert status_text(RENAME, sstr(src) + sstr(dst)) == (FX_FAILURE, msg)
            assert status_text(EXTENDED, sstr("posix-rename@openssh.com") + sstr(src) + sstr(dst)) \
                == (FX_FAILURE, msg)
            assert status_text(EXTENDED, sstr("hardlink@openssh.com") + sstr(src) + sstr(dst)) \
                == (FX_FAILURE, msg)
        assert r.status(EXTENDED, sstr("hardlink@openssh.com") + sstr("/rw/a.txt") + sstr("/rw/b.txt")) \
            == FX_OK
        # OpenSSH's SYMLINK puts the target first (its documented swap).
        assert r.status(SYMLINK, sstr("/h.txt") + sstr("/rw/up")) == FX_OK
        assert r.status(SYMLINK, sstr("../bob/h.txt") + sstr("/rw/up2")) == FX_OK
    finally:
        t.close()
    assert sorted(os.listdir(home)) == ["h.txt"]
    assert read_bytes(os.path.join(home, "h.txt")) == b"home file"
    assert os.stat(os.path.join(rw, "b.txt")).st_ino == os.stat(os.path.join(rw, "a.txt")).st_ino
    # On the host "../bob/h.txt" from the folder is the home's file: the link must not reach it.
    assert read_bytes(os.path.join(rw, "up2")) == b"home file"
    c = sftp_client(srv)
    try:
        for link in ("/rw/up", "/rw/up2"):   # "/h.txt" in the folder: none there
            with pytest.raises(FileNotFoundError):
                c.open(link, "rb")
    finally:
        c.close()


# --------------------------------------------------------------------------- escapes

@pytest.fixture(scope="module")
def mworld(ferry_bin):
    """test_traversal's world, with the attempts' tree as a shared folder: the home and the
    folder are each built by test_traversal.build_home (symlinks out, decoys, loops), the
    folder at the same depth as the home so its relative links reach the sentinel, and the
    session starts inside the folder (CWD /m)."""
    W = tt.World()
    W.out_abs = tempfile.mkdtemp(prefix="ferry-outside-", dir="/tmp")
    tt.build_sentinel(W.out_abs)
    W.servers, W.mounts = {}, []
    try:
        srv = FerryServer(ferry_bin)
        srv.outside = os.path.join(srv.dir, "outside")
        tt.build_sentinel(srv.outside)
        outer_home, _ = tt.build_home(srv, W.out_abs)
        mdir = os.path.join(srv.home_root, "share-bob")
        srv.home, srv.decoy = _build_share(mdir, W.out_abs)
        # The listings of "/" and of the folder's root name the same entries.
        make_dir(os.path.join(outer_home, "m"))
        make_dir(os.path.join(mdir, "m"))
        make_dir(os.path.join(outer_home, "proc"))
        srv.victims = iter(range(tt.N_VICTIMS))
        srv.start()
        ferry_ok(srv, "user", "set", "bob", "--mount", f"/m={mdir}")
        proc = os.path.join(mdir, "proc")
        srv.proc_mounted = os.geteuid() == 0 and tt._mount_proc(proc)
        if srv.proc_mounted:
            W.mounts.append(proc)
        W.servers["atomic"] = srv   # the attempts' own checks know this kind
        W.watched = [W.out_abs, srv.outside]
        W.before = {p: tt.snapshot(p) for p in W.watched}
        W.passwd_before = tt.snapshot("/etc/passwd") if os.path.exists("/etc/passwd") else None
        W.seen = bytearray()
        yield W
    finally:
        tt.teardown_world(W)


def _build_share(mdir, out_abs):
    """test_traversal.build_home's tree at mdir (it builds at home_root/bob: built there with
    the real home moved aside, then moved to mdir, a sibling at the same depth)."""
    root = os.path.dirname(mdir)
    real = os.path.join(root, "bob")
    aside = real + ".outer"
    os.rename(real, aside)
    try:
        home, _ = tt.build_home(types.SimpleNamespace(home_root=root), out_abs)
        os.rename(home, mdir)
    finally:
        os.rename(aside, real)
    return mdir, os.path.join(mdir, out_abs.lstrip("/"))


class MountCtx(tt.Ctx):
    """An attempt's session, started inside the shared folder: its relative paths, ".." and
    symlinks all begin in the folder's root."""

    def __init__(self, W, srv, name):
        super().__init__(W, srv, name)
        self.s.c.expect("CWD /m", 250)


# Attempts whose own last assertions speak of the client's "/" as the directory they started
# in: PWD "/" (cwd_relative_symlink_to_outside_dir, cwd_proc_magic_links, telnet_bytes_in_names:
# here "/m"), "/" listing like the start directory (list_clamped_parent_is_home), an absolute
# client path landing in the folder's decoy (stor_absolute_outside_path_lands_in_decoy: it
# lands in the home's), "../../../x" renaming within the folder
# (rename_symlink_to_outside_moves_only_the_link: that is the home, another root: 553). From
# inside a mount those do not hold by design. They still run in full up to that assertion, and
# the escape checks (the secret never served, the sentinels unchanged on disk) apply to them as
# to the rest.
HOME_IS_SLASH = {"cwd_relative_symlink_to_outside_dir", "cwd_proc_magic_links", "telnet_bytes_in_names",
                 "list_clamped_parent_is_home", "stor_absolute_outside_path_lands_in_decoy",
                 "rename_symlink_to_outside_moves_only_the_link"}


@pytest.fixture
def mctx(mworld, request):
    srv = mworld.servers["atomic"]
    c = MountCtx(mworld, srv, request.node.name)
    yield c
    c.close()
    assert srv.alive(), f"ferryd died during {request.node.name}:\n{srv.log()[-3000:]}"
    srv.check_log()


@pytest.mark.parametrize("fn", tt.ATTEMPTS, ids=[f.__name__ for f in tt.ATTEMPTS])
def test_escape_through_mount(mworld, mctx, fn):
    if fn.__name__ in HOME_IS_SLASH:
        try:
            fn(mctx)
        except (AssertionError, OSError):
            pass
    else:
        fn(mctx)
    assert tt.SECRET not in mctx.seen, f"{fn.__name__}: the secret was served"
    assert tt.TOKEN.encode() + b"-never" not in mctx.seen
    mworld.seen.extend(mctx.seen)
    tt.assert_outside_unchanged(mworld, fn.__name__)


def test_escape_setup_really_points_outside(mworld):
    """Without confinement the folder's links would reach the sentinels (the host's view)."""
    srv = mworld.servers["atomic"]
    h = srv.home
    assert read_bytes(os.path.join(h, "rel_file")) == tt.SECRET
    assert read_bytes(os.path.join(h, "abs_file")) == tt.SECRET
    assert read_bytes(os.path.join(h, "rel_dir", tt.SECRET_NAME)) == tt.SECRET
    assert read_bytes(os.path.join(srv.decoy, tt.SECRET_NAME)) == tt.DECOY


def test_zz_escape_sentinels_unchanged_after_the_suite(mworld):
    tt.assert_outside_unchanged(mworld, "after the whole suite")
    assert tt.SECRET not in mworld.seen
