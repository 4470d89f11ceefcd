"""ferry status / ferry kick (issue 9) through [admin] socket, during a transfer."""

import os
import re
import shutil
import socket
import stat
import tempfile
import time

import pytest

from conftest import IS_ROOT, SERVICE_USER, status_lines, wait_until
from files_helpers import chown_svc, connect_data, parse227

BIG = 64 << 20


@pytest.fixture
def admsrv(make_server):
    d = tempfile.mkdtemp(prefix="ferry-adm-", dir="/tmp")
    os.chmod(d, 0o755)
    sock = os.path.join(d, "admin.sock")
    s = make_server(config={"admin": {"socket": sock}})
    s.admin_sock = sock
    yield s
    shutil.rmtree(d, ignore_errors=True)


def test_socket_permissions(admsrv):
    st = os.stat(admsrv.admin_sock)
    assert stat.S_ISSOCK(st.st_mode) and (st.st_mode & 0o777) == 0o660
    if IS_ROOT:
        import pwd
        assert st.st_uid == pwd.getpwnam(SERVICE_USER).pw_uid


def test_status_during_transfer_and_kick(admsrv):
    s = admsrv
    assert status_lines(s) == []
    idle = s.connect()  # not logged in
    c = s.connect()
    c.login()
    home = os.path.join(s.home_root, "bob")
    with open(os.path.join(home, "big"), "wb") as f:
        f.truncate(BIG)
    chown_svc(os.path.join(home, "big"))
    c.expect("TYPE I", 200)
    r = c.expect("PASV", 227)
    d = connect_data(*parse227(r))
    d.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.expect("RETR big", 150)
    d.recv(1000)
    time.sleep(0.2)

    lines = status_lines(s)
    assert len(lines) == 2, lines
    by_state = {re.search(r"state=(\w+)", l).group(1): l for l in lines}
    assert re.fullmatch(r'\d+ user="" ip=127\.0\.0\.1 protocol=ftp state=login tls=no idle=\d+s',
                        by_state["login"]), lines
    m = re.fullmatch(r'(\d+) user="bob" ip=127\.0\.0\.1 protocol=ftp state=transfer tls=no idle=\d+s cmd=RETR '
                     r'path="/big" bytes=(\d+) size=(\d+)', by_state["transfer"])
    assert m, lines
    sid, done, size = int(m.group(1)), int(m.group(2)), int(m.group(3))
    assert size == BIG and 0 < done < BIG

    cp = s.ferry("kick", str(sid))
    assert cp.returncode == 0 and cp.stdout == f"kicked {sid}\n", cp
    rest = c.read_until_eof(10)
    assert rest.startswith(b"421 "), rest
    d.close()
    s.wait_log(rf"session={sid} kicked by the administrator")
    lines = wait_until(lambda: (l := status_lines(s)) and len(l) == 1 and l, 5.0, what="one session left")
    assert "state=login" in lines[0]
    cp = s.ferry("kick", str(sid))
    assert cp.returncode == 1 and cp.stdout == f"no session {sid}\n", cp
    idle.close()


def test_kick_usage_and_no_socket(admsrv, make_server):
    cp = admsrv.ferry("kick", "abc")
    assert cp.returncode == 2 and "kick: expected one SESSION id" in cp.stderr
    other = make_server()
    cp = other.ferry("status")
    assert cp.returncode == 1 and "[admin] socket is not set" in cp.stderr
