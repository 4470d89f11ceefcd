"""The sandbox (src/os/sandbox.c) around the real ferryd: NO_NEW_PRIVS and a seccomp filter on the
running process, Landlock confining it to [sandbox] roots (homes outside them cannot log in, a
symlinked home pointing outside is unreachable even though the service user may read it), users
added while ferryd runs, and the "kernel lacks it" paths (auto: say so and continue; require:
refuse to start). The blocked-syscall path itself is tested in tests/unit/test_sandbox.c."""

import os
import re
import shutil
import tempfile

import pytest

from conftest import _chown_tree

LANDLOCK_RX = re.compile(r"sandbox: Landlock ABI (\d+) on")


def status_fields(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def landlock_on(srv):
    return LANDLOCK_RX.search(srv.log()) is not None


def threads_status(pid):
    return [status_fields(f"{pid}/task/{t}") for t in os.listdir(f"/proc/{pid}/task")]


def test_running_ferryd_is_sandboxed(server, ctl):
    c = ctl(server)
    c.login()                       # workers and job threads have done real work
    for st in [status_fields(server.pid)] + threads_status(server.pid):
        assert st["NoNewPrivs"] == "1", st
        assert st["Seccomp"] == "2", st          # 2 = filter mode
        assert int(st["Seccomp_filters"]) >= 1, st
    log = server.log()
    assert "sandbox: seccomp allow-list on; a blocked system call is logged by name" in log
    assert "seccomp: blocked system call" not in log
    # Landlock: either on, or a clear line saying why not.
    assert landlock_on(server) or "sandbox: landlock is OFF: " in log, log[-2000:]
    # Default config: roots derived from the homes in the store.
    assert (f"sandbox: [sandbox] roots not set; homes must lie under {server.home_root} " in log), log[-2000:]


def add_user_home(srv, name, home, make_link_to=None):
    """Adds a user whose home is `home` (created; or a symlink to make_link_to)."""
    if make_link_to:
        os.makedirs(make_link_to, exist_ok=True)
        os.symlink(make_link_to, home)
    else:
        os.makedirs(home, exist_ok=True)
    _chown_tree(srv.dir)
    srv.ferry("user", "add", name, "--home", home, input="pw\n", check=True)


def test_home_outside_configured_roots_is_refused(make_server, ctl):
    srv = make_server(start=False)
    srv.write_config({"sandbox": {"roots": srv.home_root}})
    outside = os.path.join(srv.dir, "outside", "eve")
    add_user_home(srv, "eve", outside)
    srv.start()
    c = ctl(srv)
    c.expect("USER eve", 331)
    r = c.cmd("PASS pw")
    assert (r.code, r.text) == (530, "Home directory is not available."), r
    srv.wait_log(rf'error session=\d+ home directory outside \[sandbox\] roots: user="eve" '
                 rf'home="{re.escape(outside)}" roots="{re.escape(srv.home_root)}"')
    # Users under the roots are unaffected.
    ctl(srv).login()


@pytest.fixture
def outside_dir():
    """A directory outside the server's own (ferryd may read its config file's directory)."""
    d = tempfile.mkdtemp(prefix="ferry-outside-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_symlinked_home_pointing_outside_is_unreachable(make_server, ctl, outside_dir):
    srv = make_server(start=False)
    target = os.path.join(outside_dir, "target")
    link = os.path.join(srv.home_root, "sly")
    add_user_home(srv, "sly", link, make_link_to=target)
    with open(os.path.join(target, "secret.txt"), "w") as f:
        f.write("secret\n")
    _chown_tree(outside_dir)
    srv.start()
    if not landlock_on(srv):
        pytest.skip("Landlock not available on this kernel: " + srv.log()[-500:])
    c = ctl(srv)
    # The home is opened O_PATH (no access is checked), so the login itself succeeds; every
    # access beneath it is the kernel's to refuse, and Landlock does, though the service user
    # owns the files and the name lies under the roots.
    c.login("sly", "pw")
    c.expect("PASV", 227)
    r = c.cmd("RETR secret.txt")
    assert (r.code, r.text) == (550, "Permission denied."), r
    c.expect("PASV", 227)
    r = c.cmd("STOR planted.txt")
    assert (r.code, r.text) == (550, "Permission denied."), r
    r = c.cmd("MKD newdir")
    assert (r.code, r.text) == (550, "Permission denied."), r
    assert sorted(os.listdir(target)) == ["secret.txt"]
    # bob, under the roots, is unaffected.
    c2 = ctl(srv)
    c2.login()
    c2.expect("PASV", 227)
    r = c2.cmd("RETR nothing-here")
    assert r.code == 550 and r.text != "Permission denied.", r


def test_users_added_while_running(make_server, ctl):
    srv = make_server()
    inside = os.path.join(srv.home_root, "carol")
    add_user_home(srv, "carol", inside)
    ctl(srv).login("carol", "pw")
    elsewhere = os.path.join(srv.dir, "elsewhere", "dan")
    add_user_home(srv, "dan", elsewhere)
    c = ctl(srv)
    c.expect("USER dan", 331)
    assert c.cmd("PASS pw").code == 530
    srv.wait_log(r'home directory outside \[sandbox\] roots: user="dan"')


def test_reload_keeps_working_under_the_sandbox(make_server, ctl):
    srv = make_server()
    srv.write_config({"server": {"banner": "Reloaded banner."}})
    assert "configuration reloaded" in srv.reload()
    assert ctl(srv).greeting.text == "Reloaded banner."
    srv.write_config({"sandbox": {"roots": "/"}})
    srv.reload()
    srv.wait_log(r"reload: \[sandbox\] changed; it takes effect after a restart")
    assert "seccomp: blocked system call" not in srv.log()


def deny_wrapper(srv, names):
    helper = os.path.join(srv.bins.build, "tests", "deny_syscalls")
    if not os.access(helper, os.X_OK):
        pytest.fail(f"{helper} missing: build first")
    return [helper, names]


NO_LANDLOCK = "landlock_create_ruleset"
NO_SECCOMP = "seccomp,prctl:22"   # seccomp(2) and prctl(PR_SET_SECCOMP)
LAYER_OFF = {
    "landlock": "sandbox: landlock is OFF: the kernel has no Landlock (Function not implemented: "
                "Linux 5.13+) (set [sandbox] landlock = require to refuse to start instead)",
    "seccomp": "sandbox: seccomp is OFF: the kernel refused the seccomp filter (",
}


@pytest.mark.parametrize("layer,deny", [("landlock", NO_LANDLOCK), ("seccomp", NO_SECCOMP)])
def test_kernel_without_layer_auto_says_so_and_continues(make_server, ctl, layer, deny):
    srv = make_server(start=False)
    srv.wrapper = deny_wrapper(srv, deny)
    srv.start()
    ctl(srv).login()
    log = srv.log()
    assert LAYER_OFF[layer] in log, log
    st = status_fields(srv.pid)
    assert st["NoNewPrivs"] == "1"
    if layer == "landlock":
        assert st["Seccomp"] == "2"          # the other layer is still on
    else:
        assert LANDLOCK_RX.search(log) or "landlock is OFF" in log


@pytest.mark.parametrize("layer,deny,why", [
    ("landlock", NO_LANDLOCK, "the kernel has no Landlock (Function not implemented: Linux 5.13+)"),
    ("seccomp", NO_SECCOMP, "the kernel refused the seccomp filter ("),
])
def test_kernel_without_layer_require_refuses(make_server, layer, deny, why):
    srv = make_server(start=False, config={"sandbox": {layer: "require"}})
    srv.wrapper = deny_wrapper(srv, deny)
    srv.start(wait_greeting=False)
    assert srv.wait_exit(10) == 1
    log = srv.log()
    assert f"[sandbox] {layer} = require, but {why}" in log, log
    assert "refusing to start" in log
    assert "ferryd ready" not in log


def test_layers_off(make_server, ctl):
    srv = make_server(config={"sandbox": {"landlock": "off", "seccomp": "off"}})
    ctl(srv).login()
    log = srv.log()
    assert "sandbox: Landlock off ([sandbox] landlock = off)" in log
    assert "sandbox: seccomp off ([sandbox] seccomp = off)" in log
    st = status_fields(srv.pid)
    assert (st["Seccomp"], st["NoNewPrivs"]) == ("0", "1")


def test_tls_certificates_outside_the_config_directory_reload(make_server, outside_dir):
    """Certificates in their own directory, certbot style (live/ symlinks into archive/): the
    renewal replaces every file with a new inode, and the SIGHUP reload still reads them."""
    from tls_helpers import TlsCtl, cert_fingerprint_file, fingerprint, make_cert
    archive, live = os.path.join(outside_dir, "archive"), os.path.join(outside_dir, "live")
    os.makedirs(archive)
    os.makedirs(live)
    first = make_cert(archive, "cert1")
    for src, name in zip(first, ("cert.pem", "key.pem")):
        os.symlink(os.path.relpath(src, live), os.path.join(live, name))
    srv = make_server({"tls": {"cert": os.path.join(live, "cert.pem"), "key": os.path.join(live, "key.pem")}})

    def fp():
        t = TlsCtl(srv.host, srv.port)
        try:
            t.auth()
            t.expect("NOOP", 200)
            return fingerprint(t.sock)
        finally:
            t.close()

    assert fp() == cert_fingerprint_file(first[0])
    second = make_cert(archive, "cert2")
    for src, name in zip(second, ("cert.pem", "key.pem")):
        tmp = os.path.join(live, name + ".new")
        os.symlink(os.path.relpath(src, live), tmp)
        os.replace(tmp, os.path.join(live, name))
    assert "configuration reloaded" in srv.reload()
    assert "not reloaded" not in srv.log()
    assert fp() == cert_fingerprint_file(second[0])
