"""[admin] socket (issue 13, item 1): created without any privileged operation on a path
inside a directory the service account can write. ferryd used to bind() and then chown()
and chmod() the socket by name as root; the service account, owner of the directory, could
swap in a symbolic link in between and have any root-owned file given to itself."""

import os
import pwd
import re
import shutil
import stat
import tempfile

import pytest

from conftest import IS_ROOT, SERVICE_USER

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="the race is about ferryd starting as root")

PATH_SYSCALLS = ("chown", "lchown", "chmod", "fchownat", "fchmodat", "fchmodat2", "unlink",
                 "unlinkat", "rename", "renameat", "renameat2")


@pytest.fixture
def svcdir():
    """A directory owned by the service account (the issue's set-up)."""
    d = tempfile.mkdtemp(prefix="ferry-adm-", dir="/tmp")
    pw = pwd.getpwnam(SERVICE_USER)
    os.chown(d, pw.pw_uid, pw.pw_gid)
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace missing")
def test_no_root_path_operation_on_socket(make_server, svcdir, tmp_path):
    sock = os.path.join(svcdir, "admin.sock")
    trace = str(tmp_path / "strace.out")
    s = make_server(config={"admin": {"socket": sock}},
                    wrapper=["strace", "-f", "-qq", "-o", trace, "-e",
                             "trace=bind,chown,lchown,chmod,fchownat,fchmodat,unlink,unlinkat,"
                             "rename,renameat,renameat2,openat"])
    st = os.lstat(sock)
    pw = pwd.getpwnam(SERVICE_USER)
    assert stat.S_ISSOCK(st.st_mode) and (st.st_mode & 0o777) == 0o660, oct(st.st_mode)
    assert (st.st_uid, st.st_gid) == (pw.pw_uid, pw.pw_gid)
    cp = s.ferry("status")
    assert cp.returncode == 0 and cp.stdout == ".\n", cp
    with open(trace) as f:
        calls = f.read()
    assert re.search(r"\bbind\(\d+, \{sa_family=AF_UNIX", calls), calls[-3000:]
    # Before the privilege drop (a setresuid the trace does not show, so: anywhere), no call
    # names the socket's final path except a rename onto it, which replaces the entry and
    # never follows a link there; nothing at all acts on it by a path below the directory.
    bad = [l for l in calls.splitlines()
           if re.search(r"\b(" + "|".join(PATH_SYSCALLS) + r")\(", l) and '"' + sock + '"' in l
           and not re.search(r"\brename(at2?)?\(", l)]
    assert bad == [], bad


def test_preplaced_symlink_at_socket_path_refused(make_server, svcdir, tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"root's\n")
    os.chmod(victim, 0o600)
    before = os.stat(victim)
    sock = os.path.join(svcdir, "admin.sock")
    os.symlink(str(victim), sock)
    s = make_server(config={"admin": {"socket": sock}}, start=False)
    s.start(wait_greeting=False)
    rc = s.wait_exit(10)
    assert rc is not None and rc != 0, s.log()[-2000:]
    assert f"[admin] socket {sock}: exists and is not a socket" in s.log(), s.log()[-2000:]
    after = os.stat(victim)
    assert (after.st_uid, after.st_gid, after.st_mode) == (before.st_uid, before.st_gid, before.st_mode)
    assert victim.read_bytes() == b"root's\n"
    assert os.path.islink(sock)


def test_stale_socket_is_replaced(make_server, svcdir):
    """A socket left by a killed ferryd is replaced (as before)."""
    import socket as pysock
    sock = os.path.join(svcdir, "admin.sock")
    old = pysock.socket(pysock.AF_UNIX, pysock.SOCK_STREAM)
    old.bind(sock)
    old.close()
    s = make_server(config={"admin": {"socket": sock}})
    cp = s.ferry("status")
    assert cp.returncode == 0 and cp.stdout == ".\n", cp
