"""Escape attempts through the FTP protocol (issue 3 traversal suite; checklist H.161).

Two servers run for the whole module, one with atomic uploads and one writing in place. Next to
each home, and in a separate /tmp directory named by absolute symlinks, sits a sentinel tree
with a secret file. The sentinels are owned by the service account and world-writable, so only
the confinement (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) -- not file permissions --
keeps the client out. Inside each home: symlinks pointing outside (files and dirs, relative and
absolute), symlinks to /proc magic links, loops, and -- where mount(2) is allowed -- a procfs
mounted at /proc inside the home, so /proc/self/root, /proc/self/cwd, /proc/self/fd/N and
/proc/self/exe really are magic links the kernel must refuse.

An absolute path or an absolute symlink target is, for the client, relative to its home. For
the absolute sentinel path a *decoy* tree exists at the same place inside the home: reading
"/tmp/ferry-outside-XXXX/SECRET" yields the decoy, which proves the kernel re-rooted the walk.

Every attempt must fail or stay inside; the secret's content must never appear in any reply or
data; after every attempt and at the end of the module the sentinels (and /etc/passwd) are
compared byte for byte with the snapshot taken first, mtimes and ctimes included. The number of
attempts is printed at the end."""

import os
import shutil
import subprocess
import tempfile
import threading

import pytest

from conftest import FerryServer
from files_helpers import (DATA_TIMEOUT, Session, chown_svc, connect_data, home_of, make_dir,
                           make_symlink, parse227, put_file, read_bytes, recv_all, snapshot,
                           snapshot_diff)

# Compares /etc/passwd before and after: on the xdist worker of test_scripts_run.py (whose
# scripts/run may add a system account), never beside it (scripts/test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("etc-passwd")

TOKEN = "7f3a9c51e2"
SECRET_NAME = f"SECRET-{TOKEN}.txt"
SECRET = f"TOP-SECRET-CONTENT-{TOKEN}-never-to-be-served\n".encode()
DECOY = b"decoy inside the home\n"
N_VICTIMS = 64

COUNT = {"attempts": 0, "executions": 0, "names": set()}


# ----------------------------------------------------------------------------- the world

def build_sentinel(path):
    """The tree that must never change. World-writable and owned by the service user."""
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o777)
    chown_svc(path)
    put_file(os.path.join(path, SECRET_NAME), SECRET, mode=0o666, mtime=1500000000)
    put_file(os.path.join(path, "sub", "inner-secret"), SECRET, mode=0o666, mtime=1500000001)
    os.chmod(os.path.join(path, "sub"), 0o777)
    make_dir(os.path.join(path, "emptydir"), mode=0o777)
    for i in range(N_VICTIMS):
        put_file(os.path.join(path, "victim-%02d" % i), SECRET, mode=0o666, mtime=1500000002)
    os.utime(os.path.join(path, "sub"), (1500000003, 1500000003))
    os.utime(path, (1500000004, 1500000004))


class World:
    pass


def _mount_proc(where):
    os.makedirs(where, exist_ok=True)
    try:
        cp = subprocess.run(["mount", "-t", "proc", "proc", where], capture_output=True,
                            text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return cp.returncode == 0


def _umount(where):
    try:
        subprocess.run(["umount", "-l", where], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        pass


def build_home(srv, out_abs):
    home = home_of(srv)
    put_file(os.path.join(home, "HOME-MARKER"), b"home\n")
    put_file(os.path.join(home, "f.txt"), b"an ordinary file\n")
    make_dir(os.path.join(home, "d"))
    make_symlink("../" * 9 + "..", os.path.join(home, "d", "up"))
    make_symlink(out_abs, os.path.join(home, "abs_dir"))
    make_symlink(os.path.join(out_abs, SECRET_NAME), os.path.join(home, "abs_file"))
    make_symlink("../../outside", os.path.join(home, "rel_dir"))
    make_symlink("../../outside/" + SECRET_NAME, os.path.join(home, "rel_file"))
    make_symlink("../" * 12 + out_abs.lstrip("/") + "/" + SECRET_NAME, os.path.join(home, "deep_rel"))
    make_symlink("/etc", os.path.join(home, "etc_link"))
    make_symlink("/", os.path.join(home, "root_link"))
    make_symlink("..", os.path.join(home, "dotdot"))
    make_symlink("/proc/self/root", os.path.join(home, "proc_root"))
    make_symlink("/proc/self/cwd", os.path.join(home, "proc_cwd"))
    make_symlink("../../../../../proc/self/root", os.path.join(home, "proc_root_rel"))
    make_symlink("loop2", os.path.join(home, "loop1"))
    make_symlink("loop1", os.path.join(home, "loop2"))
    # the decoy: the absolute sentinel path, re-rooted into the home
    decoy = os.path.join(home, out_abs.lstrip("/"))
    put_file(os.path.join(decoy, SECRET_NAME), DECOY, mtime=1600000000)
    put_file(os.path.join(decoy, "decoy-marker"), b"m")
    for i in range(N_VICTIMS):
        put_file(os.path.join(decoy, "victim-%02d" % i), DECOY)
    return home, decoy


@pytest.fixture(scope="module")
def world(ferry_bin):
    W = World()
    W.out_abs = tempfile.mkdtemp(prefix="ferry-outside-", dir="/tmp")
    build_sentinel(W.out_abs)
    W.servers = {}
    W.mounts = []
    try:
        for kind, cfg in (("atomic", None), ("inplace", {"transfer": {"atomic_uploads": "no"}})):
            srv = FerryServer(ferry_bin, config=cfg)
            srv.outside = os.path.join(srv.dir, "outside")
            build_sentinel(srv.outside)
            srv.home, srv.decoy = build_home(srv, W.out_abs)
            srv.victims = iter(range(N_VICTIMS))
            srv.start()
            proc = os.path.join(srv.home, "proc")
            srv.proc_mounted = os.geteuid() == 0 and _mount_proc(proc)
            if srv.proc_mounted:
                W.mounts.append(proc)
            W.servers[kind] = srv
        W.watched = [W.out_abs] + [s.outside for s in W.servers.values()]
        W.before = {p: snapshot(p) for p in W.watched}
        W.passwd_before = snapshot("/etc/passwd") if os.path.exists("/etc/passwd") else None
        W.seen = bytearray()
        yield W
    finally:
        teardown_world(W)


def teardown_world(W):
    """Unmounts W's mounts, tears its servers down and removes its outside tree (also
    test_mounts.py's world)."""
    still_mounted = False
    for m in W.mounts:
        _umount(m)
        still_mounted |= os.path.ismount(m)
    keep = os.environ.get("FERRY_KEEP_TMP")
    if still_mounted:   # never let rmtree walk into a procfs
        os.environ["FERRY_KEEP_TMP"] = "1"
    try:
        for srv in W.servers.values():
            srv.teardown()
    finally:
        if still_mounted and keep is None:
            del os.environ["FERRY_KEEP_TMP"]
    shutil.rmtree(W.out_abs, ignore_errors=True)


def assert_outside_unchanged(W, what):
    for p in W.watched:
        after = snapshot(p)
        assert after == W.before[p], f"{what}: the sentinel {p} changed:\n" + \
            snapshot_diff(W.before[p], after)
    if W.passwd_before is not None:
        assert snapshot("/etc/passwd") == W.passwd_before, f"{what}: /etc/passwd changed"


# ----------------------------------------------------------------------------- attempt context

class Ctx:
    def __init__(self, W, srv, name):
        self.W, self.srv, self.name = W, srv, name
        self.home, self.decoy = srv.home, srv.decoy
        self.out_abs = W.out_abs
        self.s = Session(srv)
        self.seen = bytearray()
        orig = self.s.c.reply

        def recording_reply(timeout=None):
            r = orig(timeout)
            self.seen.extend(r.raw)
            return r
        self.s.c.reply = recording_reply
        self.s.c.expect("TYPE I", 200)
        self.n = 0

    # -- protocol
    def cmd(self, line):
        self.n += 1
        return self.s.c.cmd(line)

    def fails(self, line, codes=None):
        r = self.cmd(line)
        if codes is None:
            assert r.code >= 400, f"{self.name}: {line!r} did not fail: {r!r}"
        else:
            assert r.code in codes, f"{self.name}: {line!r}: expected {codes}, got {r!r}"
        return r

    def xfer(self, verb, arg, upload=None):
        """PASV + verb; returns (final reply, data or None). A refusal before 150 is returned
        as (reply, None)."""
        self.n += 1
        r = self.s.c.expect("PASV", 227)
        _, port = parse227(r)
        d = connect_data(self.s.host, port)
        try:
            line = verb if arg is None else (verb.encode() + b" " + arg if isinstance(arg, bytes)
                                             else f"{verb} {arg}")
            r = self.s.c.cmd(line)
            if r.code not in (125, 150):
                return r, None
            data = None
            if upload is not None:
                d.sendall(upload)
                d.close()
            else:
                data = recv_all(d)
                self.seen.extend(data)
        finally:
            d.close()
        return self.s.reply(DATA_TIMEOUT), data

    def xfer_fails(self, verb, arg, upload=None):
        r, data = self.xfer(verb, arg, upload)
        assert r.code >= 400, f"{self.name}: {verb} {arg!r} did not fail: {r!r} data={data!r}"
        return r

    def retr_is_decoy(self, arg):
        r, data = self.xfer("RETR", arg)
        assert r.code == 226 and data == DECOY, f"{self.name}: RETR {arg!r}: {r!r} {data!r}"

    def nlst(self, arg=None):
        r, data = self.xfer("NLST", arg)
        if r.code != 226:
            return r, None
        return r, sorted(x for x in data.split(b"\r\n") if x)

    # -- fixtures made for one attempt
    def victim(self):
        return "victim-%02d" % next(self.srv.victims)

    def fresh_abs_link(self):
        v = self.victim()
        name = f"wl-{v}-abs"
        make_symlink(os.path.join(self.out_abs, v), os.path.join(self.home, name))
        return name, v

    def fresh_rel_link(self):
        v = self.victim()
        name = f"wl-{v}-rel"
        make_symlink("../../outside/" + v, os.path.join(self.home, name))
        return name, v

    def close(self):
        self.s.close()


ATTEMPTS = []


def attempt(fn):
    ATTEMPTS.append(fn)
    return fn


@pytest.fixture(params=["atomic", "inplace"])
def ctx(world, request):
    srv = world.servers[request.param]
    c = Ctx(world, srv, request.node.name)
    yield c
    c.close()
    assert srv.alive(), f"ferryd died during {request.node.name}:\n{srv.log()[-3000:]}"
    srv.check_log()


@pytest.mark.parametrize("fn", ATTEMPTS, ids=[f.__name__ for f in ATTEMPTS])
def test_escape_attempt(world, ctx, fn):
    fn(ctx)
    assert SECRET not in ctx.seen, f"{fn.__name__}: the secret was served"
    assert TOKEN.encode() + b"-never" not in ctx.seen
    world.seen.extend(ctx.seen)
    assert_outside_unchanged(world, fn.__name__)
    COUNT["attempts"] += ctx.n
    COUNT["executions"] += 1
    COUNT["names"].add(fn.__name__)


def test_aa_setup_really_points_outside(world):
    """Without confinement the links would reach the sentinels: check the host's view."""
    for srv in world.servers.values():
        h = srv.home
        assert read_bytes(os.path.join(h, "rel_file")) == SECRET
        assert read_bytes(os.path.join(h, "abs_file")) == SECRET
        assert read_bytes(os.path.join(h, "deep_rel")) == SECRET
        assert read_bytes(os.path.join(h, "rel_dir", SECRET_NAME)) == SECRET
        assert read_bytes(os.path.join(h, "d", "up", srv.dir.lstrip("/"), "outside", SECRET_NAME)) \
            == SECRET
        assert os.path.realpath(os.path.join(h, "d", "up")) == "/"
        assert read_bytes(os.path.join(srv.decoy, SECRET_NAME)) == DECOY
        if srv.proc_mounted:
            # /proc/self/root inside the home really is the magic link to "/"
            assert os.readlink(os.path.join(h, "proc", "self", "root")) == "/"
            assert os.path.exists(os.path.join(h, "proc", "self", "root", "etc", "passwd"))


# ============================================================================= navigation

@attempt
def cwd_dotdot_chains(c):
    for line in ("CWD ..", "CWD ../../../..", "CWD /../../..", "CWD ./../.././../", "XCWD ../..",
                 "CDUP", "CWD " + "../" * 200):
        assert c.cmd(line).code == 250
        assert c.cmd("PWD").lines == ['257 "/" is the current directory.']
    r, names = c.nlst()
    assert b"HOME-MARKER" in names


@attempt
def cwd_absolute_outside_path_lands_in_decoy(c):
    assert c.cmd(f"CWD {c.out_abs}").code == 250
    r, names = c.nlst()
    assert b"decoy-marker" in names
    c.fails(f"CWD {c.srv.outside}")
    c.fails(f"CWD {c.srv.outside}/sub")


@attempt
def cwd_relative_symlink_to_outside_dir(c):
    c.fails("CWD rel_dir")
    c.fails("CWD rel_dir/sub")
    assert c.cmd("PWD").lines == ['257 "/" is the current directory.']


@attempt
def cwd_absolute_symlink_to_outside_dir(c):
    assert c.cmd("CWD abs_dir").code == 250
    r, names = c.nlst()
    assert b"decoy-marker" in names and names == sorted(names)
    assert c.cmd("CWD ../../../..").code == 250
    r, names = c.nlst()
    assert b"HOME-MARKER" in names


@attempt
def cwd_relative_symlink_climbing(c):
    assert c.cmd("CWD d/up").code == 250
    r, names = c.nlst()
    assert b"HOME-MARKER" in names
    assert c.cmd("CWD dotdot").code == 250
    r, names = c.nlst()
    assert b"HOME-MARKER" in names
    assert c.cmd("CWD root_link").code == 250
    r, names = c.nlst()
    assert b"HOME-MARKER" in names


@attempt
def cwd_proc_magic_links(c):
    for p in ("proc_root", "proc_cwd", "proc_root_rel", "/proc/self/root", "/proc/self/cwd",
              "/proc/thread-self/root", "/proc/self/root/tmp", "/proc/1/root", "/proc/self/fd/3",
              "/proc/self/fd/4"):
        c.fails(f"CWD {p}")
    assert c.cmd("PWD").lines == ['257 "/" is the current directory.']


@attempt
def cwd_symlink_loop(c):
    c.fails("CWD loop1")
    c.fails("CWD loop1/x")


@attempt
def cwd_swapped_for_a_symlink_after_entering(c):
    """The client's directory is replaced by a symlink to outside while it is in it."""
    name = "swap-" + c.victim()
    make_dir(os.path.join(c.home, name))
    assert c.cmd(f"CWD {name}").code == 250
    os.rmdir(os.path.join(c.home, name))
    make_symlink("../../outside", os.path.join(c.home, name))
    c.xfer_fails("RETR", SECRET_NAME)
    c.xfer_fails("STOR", "planted", upload=b"x")
    c.fails("MKD planted-dir")
    c.fails(f"DELE {SECRET_NAME}")
    os.unlink(os.path.join(c.home, name))
    make_symlink(c.out_abs, os.path.join(c.home, name))
    c.retr_is_decoy(SECRET_NAME)


# ============================================================================= reading

@attempt
def retr_dotdot_etc_passwd(c):
    for p in ("../../etc/passwd", "/../../etc/passwd", "../" * 50 + "etc/passwd", "/etc/passwd",
              "d/../../../etc/passwd", "./../etc/./passwd", "//etc//passwd", "etc_link/passwd",
              "root_link/../etc/passwd"):
        c.xfer_fails("RETR", p)


@attempt
def retr_dotdot_to_sentinel(c):
    for p in ("../../outside/" + SECRET_NAME, "/../outside/" + SECRET_NAME,
              "../../../" + c.srv.outside.lstrip("/") + "/" + SECRET_NAME,
              "d/../../outside/sub/inner-secret",
              "d/up/" + c.srv.outside.lstrip("/") + "/" + SECRET_NAME,
              "d/up/d/up/d/up/" + c.srv.outside.lstrip("/") + "/sub/inner-secret"):
        c.xfer_fails("RETR", p)


@attempt
def retr_absolute_outside_path_is_decoy(c):
    c.retr_is_decoy(os.path.join(c.out_abs, SECRET_NAME))
    c.retr_is_decoy("/../../.." + os.path.join(c.out_abs, SECRET_NAME))


@attempt
def retr_absolute_file_symlink(c):
    c.retr_is_decoy("abs_file")


@attempt
def retr_relative_file_symlink(c):
    c.xfer_fails("RETR", "rel_file")


@attempt
def retr_through_absolute_dir_symlink(c):
    c.retr_is_decoy("abs_dir/" + SECRET_NAME)
    c.xfer_fails("RETR", "abs_dir/sub/inner-secret")


@attempt
def retr_through_relative_dir_symlink(c):
    c.xfer_fails("RETR", "rel_dir/" + SECRET_NAME)
    c.xfer_fails("RETR", "rel_dir/sub/inner-secret")


@attempt
def retr_deep_relative_symlink(c):
    c.retr_is_decoy("deep_rel")
    c.retr_is_decoy("d/up/" + c.out_abs.lstrip("/") + "/" + SECRET_NAME)


@attempt
def retr_proc_magic_links(c):
    pid = c.srv.pid
    for p in ("/proc/self/root/etc/passwd", "/proc/self/root" + c.srv.outside + "/" + SECRET_NAME,
              "/proc/self/cwd/" + SECRET_NAME, "/proc/self/exe",
              "/proc/thread-self/root/etc/passwd", f"/proc/{pid}/root/etc/passwd",
              "proc_root/etc/passwd", "proc_cwd/etc/passwd", "proc_root_rel/etc/passwd",
              "/proc/1/root/etc/passwd"):
        c.xfer_fails("RETR", p)


@attempt
def retr_proc_fd_magic_links(c):
    for n in range(0, 16):
        c.xfer_fails("RETR", f"/proc/self/fd/{n}/{c.srv.outside[1:]}/{SECRET_NAME}")
        c.xfer_fails("RETR", f"/proc/self/fd/{n}")


@attempt
def retr_symlink_loop(c):
    c.xfer_fails("RETR", "loop1")


@attempt
def size_mdtm_outside(c):
    for verb in ("SIZE", "MDTM"):
        c.fails(f"{verb} ../../outside/{SECRET_NAME}")
        c.fails(f"{verb} rel_file")
        c.fails(f"{verb} rel_dir/{SECRET_NAME}")
        c.fails(f"{verb} /proc/self/root/etc/passwd")
        c.fails(f"{verb} /proc/self/cwd/{SECRET_NAME}")
    c.cmd("TYPE I")
    assert c.cmd("SIZE abs_file").text == str(len(DECOY))
    assert c.cmd("MDTM abs_file").raw == b"213 20200913122640\r\n"   # the decoy's mtime


@attempt
def mlst_stat_outside(c):
    for verb in ("MLST", "STAT"):
        for p in ("rel_dir", "rel_dir/" + SECRET_NAME, "rel_dir/sub", "../../outside",
                  "/proc/self/root", "/proc/self/root/etc", "proc_root/etc", "/proc/self/cwd/"):
            r = c.cmd(f"{verb} {p}")
            if r.code < 400:
                # STAT describes a symlink itself (lstat); nothing behind it may show
                assert verb == "STAT" and len(r.lines) == 3 and r.lines[1].startswith("l"), r
                assert SECRET_NAME not in r.full and "inner-secret" not in r.full, r
                assert "passwd" not in r.full and "emptydir" not in r.full, r
    r = c.cmd("MLST abs_dir")
    assert r.code == 250 and "type=dir" in r.full


@attempt
def list_nlst_mlsd_outside(c):
    for verb in ("LIST", "NLST", "MLSD"):
        for p in ("rel_dir", "../../outside", "rel_dir/sub", "/proc/self/root",
                  "/proc/self/root/tmp", "proc_root", "proc_cwd", "loop1"):
            c.xfer_fails(verb, p)
    r, names = c.nlst("abs_dir")
    assert b"decoy-marker" in names


@attempt
def list_clamped_parent_is_home(c):
    for verb, arg, same in (("LIST", "-la ../..", "-la /"), ("NLST", "/../../..", "/"),
                            ("MLSD", "/..", "/"), ("LIST", "d/up", "/"), ("MLSD", "dotdot", "/")):
        r, data = c.xfer(verb, arg)
        assert r.code == 226, r
        assert b"HOME-MARKER" in data, data
        r, want = c.xfer(verb, same)
        # names only: the procfs mounted in the home changes its link count and times
        names = sorted(x.split(b" -> ")[0].rsplit(b" ", 1)[-1] for x in data.split(b"\r\n"))
        assert names == sorted(x.split(b" -> ")[0].rsplit(b" ", 1)[-1] for x in want.split(b"\r\n"))


# ============================================================================= writing

@attempt
def stor_dotdot_to_sentinel(c):
    for p in ("../../outside/new", "/../../outside/" + SECRET_NAME,
              "../../../" + c.srv.outside.lstrip("/") + "/new", "rel_dir/new",
              "rel_dir/sub/new", "/proc/self/root/tmp/new", "/proc/self/cwd/new",
              "proc_root/tmp/new", "loop1", "d/up/" + c.srv.outside.lstrip("/") + "/new"):
        c.xfer_fails("STOR", p, upload=b"evil")
    assert not os.path.exists(os.path.join(c.home, "outside"))


@attempt
def stor_absolute_outside_path_lands_in_decoy(c):
    name = "planted-" + c.victim()
    r, _ = c.xfer("STOR", os.path.join(c.out_abs, name), upload=b"planted")
    assert r.code == 226, r
    assert read_bytes(os.path.join(c.decoy, name)) == b"planted"


@attempt
def stor_over_absolute_file_symlink(c):
    link, v = c.fresh_abs_link()
    r, _ = c.xfer("STOR", link, upload=b"overwrite")
    assert r.code == 226, r
    if c.srv is c.W.servers["atomic"]:
        # the link itself was replaced by the new file
        assert not os.path.islink(os.path.join(c.home, link))
        assert read_bytes(os.path.join(c.home, link)) == b"overwrite"
    else:
        # written through the link, which resolved inside the home
        assert read_bytes(os.path.join(c.decoy, v)) == b"overwrite"


@attempt
def stor_over_relative_file_symlink(c):
    link, v = c.fresh_rel_link()
    r, _ = c.xfer("STOR", link, upload=b"overwrite")
    if c.srv is c.W.servers["atomic"]:
        assert r.code == 226, r
        assert read_bytes(os.path.join(c.home, link)) == b"overwrite"
    else:
        assert r.code >= 400, r


@attempt
def stor_through_absolute_dir_symlink(c):
    name = "via-abs-" + c.victim()
    r, _ = c.xfer("STOR", "abs_dir/" + name, upload=b"in decoy")
    assert r.code == 226, r
    assert read_bytes(os.path.join(c.decoy, name)) == b"in decoy"


@attempt
def appe_through_symlinks(c):
    link, v = c.fresh_abs_link()
    r, _ = c.xfer("APPE", link, upload=b"+appended")
    assert r.code == 226, r
    assert read_bytes(os.path.join(c.decoy, v)) == DECOY + b"+appended"
    link, v = c.fresh_rel_link()
    c.xfer_fails("APPE", link, upload=b"+appended")
    c.xfer_fails("APPE", "../../outside/" + SECRET_NAME, upload=b"+appended")
    c.xfer_fails("APPE", "rel_dir/" + SECRET_NAME, upload=b"+appended")


@attempt
def rest_stor_through_symlinks(c):
    link, v = c.fresh_rel_link()
    c.cmd("TYPE I")
    c.cmd("REST 1")
    c.xfer_fails("STOR", link, upload=b"X")
    c.cmd("REST 1")
    c.xfer_fails("STOR", "rel_dir/" + SECRET_NAME, upload=b"X")
    link, v = c.fresh_abs_link()
    c.cmd("REST 5")
    r, _ = c.xfer("STOR", link, upload=b"X")
    assert r.code == 226, r
    assert read_bytes(os.path.join(c.decoy, v)) == DECOY[:5] + b"X"


@attempt
def stou_in_symlinked_dirs(c):
    assert c.cmd("CWD abs_dir").code == 250
    r, _ = c.xfer("STOU", None, upload=b"unique")
    assert r.code == 226
    c.fails("CWD rel_dir")
    c.fails("CWD /proc/self/root/tmp")


@attempt
def dele_outside(c):
    for p in ("../../outside/" + SECRET_NAME, "rel_dir/" + SECRET_NAME, "rel_dir/sub/inner-secret",
              "/proc/self/root" + c.srv.outside + "/" + SECRET_NAME, "/proc/self/cwd/f.txt",
              "proc_root/etc/passwd", "../../outside/sub", "d/up/../../outside/" + SECRET_NAME,
              "d/up/" + c.srv.outside.lstrip("/") + "/" + SECRET_NAME):
        c.fails(f"DELE {p}")


@attempt
def dele_symlink_removes_only_the_link(c):
    for link, _ in (c.fresh_abs_link(), c.fresh_rel_link()):
        assert c.cmd(f"DELE {link}").code == 250
        assert not os.path.lexists(os.path.join(c.home, link))


@attempt
def mkd_rmd_outside(c):
    for p in ("../../outside/newdir", "rel_dir/newdir", "/proc/self/root/tmp/newdir",
              "/proc/self/cwd/newdir", "rel_dir/sub/newdir", "loop1/newdir"):
        c.fails(f"MKD {p}")
    for p in ("../../outside/emptydir", "rel_dir/emptydir", "rel_dir", "abs_dir",
              "/proc/self/root" + c.srv.outside + "/emptydir", "d/up"):
        c.fails(f"RMD {p}")
    name = "md-" + c.victim()
    assert c.cmd(f"MKD abs_dir/{name}").code == 257
    assert os.path.isdir(os.path.join(c.decoy, name))


@attempt
def rnfr_outside_sources(c):
    for p in ("../../outside/" + SECRET_NAME, "rel_dir/" + SECRET_NAME, "rel_dir/sub",
              "/proc/self/root/etc/passwd", "proc_root/tmp", "../../outside",
              "/proc/self/cwd", "/proc/self/root"):
        r = c.cmd(f"RNFR {p}")
        if r.code == 350:
            # the magic link itself (lstat of a final component): renaming it must fail
            assert p.startswith("/proc/self/"), r
            c.fails("RNTO stolen")
        else:
            assert r.code >= 400, r
            c.fails("RNTO stolen", codes=(503,))
    assert not os.path.lexists(os.path.join(c.home, "stolen"))


@attempt
def rnto_outside_targets(c):
    src = "mv-" + c.victim()
    put_file(os.path.join(c.home, src), b"move me")
    for p in ("../../outside/stolen", "rel_dir/stolen", "/proc/self/root/tmp/stolen",
              "/proc/self/cwd/stolen", "rel_dir/sub/stolen", "../../outside/" + SECRET_NAME,
              "loop1/x"):
        assert c.cmd(f"RNFR {src}").code == 350
        c.fails(f"RNTO {p}")
    assert read_bytes(os.path.join(c.home, src)) == b"move me"
    assert c.cmd(f"RNFR {src}").code == 350
    assert c.cmd(f"RNTO abs_dir/{src}").code == 250
    assert read_bytes(os.path.join(c.decoy, src)) == b"move me"


@attempt
def rename_symlink_to_outside_moves_only_the_link(c):
    link, v = c.fresh_rel_link()
    assert c.cmd(f"RNFR {link}").code == 350
    assert c.cmd(f"RNTO ../../../{link}.moved").code == 250
    assert os.readlink(os.path.join(c.home, link + ".moved")) == "../../outside/" + v


@attempt
def rename_root_and_dot(c):
    for src in ("/", "..", "../..", "."):
        r = c.cmd(f"RNFR {src}")
        if r.code == 350:
            c.fails("RNTO moved-root")
    assert os.path.isdir(c.home)
    assert os.path.exists(os.path.join(c.home, "HOME-MARKER"))


@attempt
def mfmt_mff_outside(c):
    for p in ("rel_file", "../../outside/" + SECRET_NAME, "rel_dir/" + SECRET_NAME,
              "/proc/self/root/etc/passwd"):
        c.fails(f"MFMT 20000101000000 {p}")
        c.fails(f"MFF modify=20000101000000; {p}")
        c.fails(f"MFF UNIX.mode=0777; {p}")
    link, v = c.fresh_abs_link()
    r = c.cmd(f"MFMT 20000101000000 {link}")
    assert r.code in (213, 550), r
    r = c.cmd(f"MFF UNIX.mode=0600; {link}")
    assert r.code in (213, 550), r   # through the link inside the home, or refused on a symlink


@attempt
def rnto_onto_symlinks_replaces_the_link(c):
    for link, v in (c.fresh_rel_link(), c.fresh_abs_link()):
        src = "src-" + c.victim()
        put_file(os.path.join(c.home, src), b"renamed over a link")
        assert c.cmd(f"RNFR {src}").code == 350
        assert c.cmd(f"RNTO {link}").code == 250
        assert not os.path.islink(os.path.join(c.home, link))
        assert read_bytes(os.path.join(c.home, link)) == b"renamed over a link"


@attempt
def create_over_dangling_symlink_names(c):
    link, v = c.fresh_rel_link()
    c.fails(f"MKD {link}")
    c.fails(f"MKD {link}/")
    c.fails(f"RMD {link}/")
    dlink = "dl-" + c.victim()
    make_symlink("../../outside/emptydir", os.path.join(c.home, dlink))
    c.fails(f"RMD {dlink}")
    c.fails(f"RMD {dlink}/")
    c.fails(f"CWD {dlink}/")
    c.fails(f"RMD {dlink}/.")
    assert c.cmd(f"DELE {dlink}/").code == 250           # "dlink/" names the link itself
    assert not os.path.lexists(os.path.join(c.home, dlink))


@attempt
def symlink_flipping_race(c):
    """A symlink flips between an inside directory and the sentinel while the client reads
    through it: every read is the inside file or a failure."""
    inside = "in-" + c.victim()
    put_file(os.path.join(c.home, inside, SECRET_NAME), DECOY)
    flip = os.path.join(c.home, "flip-" + inside)
    stop = threading.Event()
    targets = [inside, "../../outside", c.out_abs + "/sub/..", inside]

    def flipper():
        i = 0
        while not stop.is_set():
            tmp = flip + ".new"
            os.symlink(targets[i % len(targets)], tmp)
            os.rename(tmp, flip)
            i += 1
    make_symlink(inside, flip)
    t = threading.Thread(target=flipper, daemon=True)
    t.start()
    try:
        name = os.path.basename(flip)
        for _ in range(40):
            r, data = c.xfer("RETR", f"{name}/{SECRET_NAME}")
            assert r.code >= 400 or data == DECOY, (r, data)
            r = c.cmd(f"SIZE {name}/{SECRET_NAME}")
            assert r.code >= 400 or r.text == str(len(DECOY)), r
            r = c.cmd(f"DELE {name}/sub/inner-secret")
            assert r.code >= 400, r
    finally:
        stop.set()
        t.join(5)


# ============================================================================= raw bytes

@attempt
def nul_in_names(c):
    for line in (b"RETR ../../outside/" + SECRET_NAME.encode() + b"\x00.txt",
                 b"RETR f.txt\x00/../../etc/passwd", b"CWD ..\x00", b"DELE \x00",
                 b"RNFR f.txt\x00", b"MKD a\x00b", b"STOR x\x00/../../outside/new",
                 b"SIZE abs_file\x00", b"LIST \x00../..", b"\x00RETR f.txt"):
        r = c.cmd(line)
        assert r.code == 501, (line, r)
    c.fails("RNTO x", codes=(503,))


@attempt
def cr_lf_in_names(c):
    keep = "keep-" + c.victim()
    put_file(os.path.join(c.home, keep), b"K")
    r = c.cmd(f"DELE {keep}\rx".encode())
    assert r.code == 501, r
    assert os.path.exists(os.path.join(c.home, keep))
    c.s.c.send(b"MKD lf-" + keep.encode() + b"\nRMD ../../outside/emptydir\r\n")
    c.n += 2
    assert c.s.reply().code == 257
    assert c.s.reply().code >= 400
    c.s.c.send(b"RNFR " + keep.encode() + b"\r\nRNTO ../../outside/x\r\nRNTO rel_dir/y\r\n")
    c.n += 3
    assert c.s.reply().code == 350
    assert c.s.reply().code >= 400
    assert c.s.reply().code == 503
    r = c.cmd(b"RETR ../../outside/" + SECRET_NAME.encode() + b"\r")   # CR CR LF
    assert r.code >= 400, r


@attempt
def telnet_bytes_in_names(c):
    # IAC IP is dropped by the Telnet filter: the rest is an ordinary relative path
    c.s.c.send(b"RETR \xff\xf4../../outside/" + SECRET_NAME.encode() + b"\r\n")
    c.n += 1
    assert c.s.reply().code >= 400
    for line in (b"RETR ..\xff\xff/..\xff\xff/etc/passwd",
                 b"RETR \xc0\xae\xc0\xae/\xc0\xae\xc0\xae/etc/passwd",
                 b"RETR ..\xc0\xaf..\xc0\xafetc\xc0\xafpasswd", b"RETR \xe2\x80\xa4\xe2\x80\xa4/etc/passwd"):
        r = c.cmd(line)
        assert r.code >= 400, (line, r)
    assert c.cmd("PWD").lines == ['257 "/" is the current directory.']


@attempt
def encoded_and_odd_spellings(c):
    for p in ("..%2f..%2foutside%2f" + SECRET_NAME, "..\\..\\outside\\" + SECRET_NAME,
              "....//....//outside/" + SECRET_NAME, "..;/..;/etc/passwd", ".. /../etc/passwd",
              "~/../../outside/" + SECRET_NAME, "~root/.bashrc", "~", "*", "../*", "{..,x}/etc/passwd",
              "$HOME/../outside/" + SECRET_NAME, "file:///etc/passwd", "\\\\?\\C:\\etc"):
        c.xfer_fails("RETR", p)
    for p in ("../*", "*", "../../outside/*"):
        r, data = c.xfer("NLST", p)
        assert r.code >= 400 or (data is not None and SECRET_NAME.encode() not in data), (p, r, data)


@attempt
def overlong_paths(c):
    r = c.cmd("RETR " + "../" * 3000 + "etc/passwd")
    assert r.code >= 400, r
    r = c.cmd("CWD " + "a/" * 3000)
    assert r.code >= 400, r
    r = c.cmd("RETR " + "/".join(["d", "up"] * 600) + "/" + c.out_abs.lstrip("/") + "/" + SECRET_NAME)
    assert r.code >= 400 or r.code == 425, r    # may resolve to the decoy: no data conn then
    assert c.cmd("NOOP").code == 200


# ============================================================================= the end

def test_zz_sentinels_unchanged_after_the_suite(world):
    """Runs last in the module: the whole-suite comparison, and the count."""
    assert_outside_unchanged(world, "after the whole suite")
    assert SECRET not in world.seen
    n_names = len(COUNT["names"])
    print(f"\ntraversal suite: {n_names} kinds of escape attempt, "
          f"{COUNT['attempts']} protocol-level attempts in {COUNT['executions']} runs "
          f"(atomic and in-place servers); procfs inside the home: "
          f"{ {k: s.proc_mounted for k, s in world.servers.items()} }")
    assert COUNT["attempts"] >= 40 or n_names < len(ATTEMPTS)
