"""The shipped unit's capabilities are enough for what ferryd does as root before its privilege
drop, in the directory layout the unit and ferry.tmpfiles give.

ferryd starts as root (no User=), binds, opens [log] xferlog and json (creating them and giving
them to the service user), creates the [admin] socket (in a private directory, chowned to the
service user, renamed into place) and then drops to [server] run_as. systemd limits that root to
CapabilityBoundingSet=: root without CAP_DAC_OVERRIDE cannot even enter a directory it does not
own with mode 0750, and without CAP_CHOWN cannot give a file away.

The test reads CapabilityBoundingSet=, AmbientCapabilities=, UMask= and ReadWritePaths= from
packaging/systemd/ferryd.service and the "d" lines from packaging/systemd/ferry.tmpfiles, makes
those directories (owners and modes as written; user and group "ferry" stand for the test's
service user) under a temporary directory standing in for /, and starts the real ferryd under
util-linux setpriv with exactly that bounding set (and no inheritable capabilities, as systemd
starts a root service: its permitted set is then the bounding set). Then: ferryd serves, a
login and an upload work (python ftplib), `ferry status` answers over the admin socket (as root
and as the service user), both log files are written and belong to the service user, and a
restart, which finds the log files (service user's, as logrotate's "create" makes them) and a
stale socket, works too."""

import ftplib
import grp
import io
import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile

import pytest

from conftest import HOST, IS_ROOT, REPO, SERVICE_USER, wait_until

UNIT = os.path.join(REPO, "packaging", "systemd", "ferryd.service")
TMPFILES = os.path.join(REPO, "packaging", "systemd", "ferry.tmpfiles")
SETPRIV = shutil.which("setpriv")

pytestmark = [
    pytest.mark.skipif(not IS_ROOT, reason="starts ferryd as root with a reduced bounding set"),
    pytest.mark.skipif(SETPRIV is None, reason="setpriv (util-linux) missing"),
]


def unit_settings(path=UNIT):
    """{key: [values...]} of the [Service] section; an empty assignment resets the list."""
    out, section = {}, None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line
                continue
            if section != "[Service]" or "=" not in line:
                continue
            key, _, value = line.partition("=")
            if not value.strip():
                out[key.strip()] = []
            else:
                out.setdefault(key.strip(), []).extend(value.split())
    return out


def caps_arg(names):
    """CAP_NET_BIND_SERVICE ... -> "-all,+net_bind_service,..." for setpriv."""
    parts = ["-all"]
    for n in names:
        assert n.startswith("CAP_"), n
        parts.append("+" + n[4:].lower())
    return ",".join(parts)


def tmpfiles_dirs(path=TMPFILES):
    """[(path, mode, user, group)] of the "d" lines."""
    out = []
    with open(path) as f:
        for raw in f:
            fields = raw.split()
            if fields and fields[0] == "d":
                out.append((fields[1], int(fields[2], 8), fields[3], fields[4]))
    return out


def svc_ids():
    pw = pwd.getpwnam(SERVICE_USER)
    return pw.pw_uid, pw.pw_gid


def owner_ids(user, group):
    """tmpfiles owner names to ids: "ferry" is the service user (and its group)."""
    uid, gid = svc_ids()
    u = uid if user == "ferry" else pwd.getpwnam(user).pw_uid
    g = gid if group == "ferry" else grp.getgrnam(group).gr_gid
    return u, g


@pytest.fixture
def layout():
    """A stand-in for / holding the tmpfiles directories; {"/var/log/ferry": real path, ...}."""
    root = tempfile.mkdtemp(prefix="ferry-sysd-", dir="/tmp")
    os.chmod(root, 0o755)
    dirs = {}
    for path, mode, user, group in tmpfiles_dirs():
        real = root + path
        os.makedirs(os.path.dirname(real), mode=0o755, exist_ok=True)
        os.mkdir(real)
        os.chown(real, *owner_ids(user, group))
        os.chmod(real, mode)
        dirs[path] = real
    yield dirs
    shutil.rmtree(root, ignore_errors=True)


def test_unit_layout_expected():
    """The paths below are the ones README and ferry.conf document; each is writable in the
    unit's ProtectSystem=strict (ReadWritePaths=) and made by ferry.tmpfiles."""
    rw = [p.lstrip("-") for p in unit_settings()["ReadWritePaths"]]
    made = [d[0] for d in tmpfiles_dirs()]
    for p in ("/var/lib/ferry", "/var/log/ferry", "/run/ferry"):
        assert p in rw, f"{p} is not in ReadWritePaths= of {UNIT}"
        assert p in made, f"{p} is not made by {TMPFILES}"


def ftp_upload(s, name, data):
    ftp = ftplib.FTP()
    ftp.connect(HOST, s.port, timeout=10)
    try:
        ftp.login("bob", "pw")
        ftp.storbinary(f"STOR {name}", io.BytesIO(data))
        ftp.quit()
    finally:
        ftp.close()


def check_served(s, sock, xferlog, jsonlog, name):
    """A login and an upload work; status answers; both logs got their lines."""
    data = os.urandom(4096)
    ftp_upload(s, name, data)
    with open(os.path.join(s.home_root, "bob", name), "rb") as f:
        assert f.read() == data
    # As root (the administrator).
    cp = s.ferry("status")
    assert cp.returncode == 0 and cp.stdout.splitlines()[-1] == ".", cp.stdout + cp.stderr
    # As the service user (its group reaches the socket's directory).
    uid, gid = svc_ids()
    cp = subprocess.run([SETPRIV, f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
                         s.bins.ferry, "-c", s.config_path, "status"],
                        capture_output=True, text=True, timeout=20)
    assert cp.returncode == 0 and cp.stdout.splitlines()[-1] == ".", cp.stdout + cp.stderr
    st = os.stat(sock)
    assert stat.S_ISSOCK(st.st_mode) and (st.st_uid, st.st_gid) == (uid, gid), st

    def logged():
        with open(xferlog) as f:
            x = [l for l in f if l.endswith(f"/{name} b _ i r bob ftp 0 * c\n")]
        with open(jsonlog) as f:
            j = [json.loads(l) for l in f]
        logins = [e for e in j if e.get("event") == "login" and e.get("result") == "ok"]
        ups = [e for e in j if e.get("event") == "transfer" and name in e.get("path", "")]
        return x and logins and ups

    wait_until(logged, 5, what="the upload in xferlog and the login and transfer in the JSON log")
    for p in (xferlog, jsonlog):
        st = os.stat(p)
        assert st.st_uid == uid and stat.S_IMODE(st.st_mode) == 0o640, \
            f"{p}: owner {st.st_uid}, mode {stat.S_IMODE(st.st_mode):o}; want the service user, 0640"


def test_start_under_unit_capabilities(make_server, layout):
    unit = unit_settings()
    bounding = unit.get("CapabilityBoundingSet", [])
    ambient = unit.get("AmbientCapabilities", [])
    assert bounding, "no CapabilityBoundingSet= in the unit"
    umask = unit.get("UMask", ["0022"])[0]
    wrapper = ["sh", "-c", f'umask {umask} && exec "$@"', "sh",
               SETPRIV, "--bounding-set", caps_arg(bounding),
               "--inh-caps", caps_arg(ambient), "--ambient-caps", caps_arg(ambient)]
    sock = os.path.join(layout["/run/ferry"], "admin.sock")
    xferlog = os.path.join(layout["/var/log/ferry"], "xferlog")
    jsonlog = os.path.join(layout["/var/log/ferry"], "events.json")
    db = os.path.join(layout["/var/lib/ferry"], "users.db")
    s = make_server(config={"admin": {"socket": sock},
                            "log": {"xferlog": xferlog, "json": jsonlog},
                            "store": {"sqlite": db}},
                    wrapper=wrapper, start=False)
    s.start()
    # What the bounding set really was (the main thread's, as ferryd exec'd).
    with open(f"/proc/{s.pid}/status") as f:
        bnd = [l for l in f if l.startswith("CapBnd:")]
    assert bnd and bin(int(bnd[0].split()[1], 16)).count("1") == len(bounding), bnd
    check_served(s, sock, xferlog, jsonlog, "first.bin")
    s.stop()
    # A restart: the log files exist (the service user's) and so may a stale socket.
    os.chmod(xferlog, 0o640)
    os.chmod(jsonlog, 0o640)
    s.start()
    check_served(s, sock, xferlog, jsonlog, "second.bin")
    with open(xferlog) as f:
        assert "/first.bin " in f.read(), "the restart truncated or replaced the xferlog"
