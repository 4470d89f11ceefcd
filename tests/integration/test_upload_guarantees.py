"""What uploads guarantee (issue 13, items 9 and 10): a client killed mid-upload never replaces the
old file, even though in stream mode its kernel closes the data connection with a FIN that looks
like a complete upload; an interrupted upload is kept as a hidden partial that only its uploader
sees (through SIZE) and continues with `curl -C -` (SIZE + APPE) or lftp `put -c` (SIZE + REST +
STOR), and nobody else sees it.

Every wait is bounded and waits for a condition: the bytes the server holds are read from its
open descriptors (/proc/<pid>/fd), socket states from /proc/net/tcp."""

import hashlib
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import wait_until
from files_helpers import Session, home_of, put_file, read_bytes

OLD = b"o" * 1000  # the 1,000-byte file of the report


def upload_fd_size(srv, home):
    """Size of the file ferryd is uploading into under `home` (a temporary or a partial, named
    or an unnamed O_TMPFILE), or None when it has none open."""
    base = f"/proc/{srv.pid}/fd"
    try:
        fds = os.listdir(base)
    except FileNotFoundError:
        return None
    best = None
    for fd in fds:
        try:
            target = os.readlink(os.path.join(base, fd))
            if not target.startswith(home + "/"):
                continue
            name = os.path.basename(target)
            if not (name.startswith(".ferry-") or name.startswith("#") or target.endswith("(deleted)")):
                continue
            size = os.stat(os.path.join(base, fd)).st_size
        except OSError:
            continue
        best = size if best is None else max(best, size)
    return best


def wait_server_has(srv, home, n, timeout=20.0):
    wait_until(lambda: (upload_fd_size(srv, home) or 0) >= n, timeout,
               what=f"ferryd to hold {n} uploaded bytes")


def tcp_states():
    """{(local port, remote port): state} of the IPv4 TCP sockets (hex state as in /proc)."""
    out = {}
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            lp = int(parts[1].split(":")[1], 16)
            rp = int(parts[2].split(":")[1], 16)
            out[(lp, rp)] = parts[3]
    return out


CLOSE_WAIT = "08"


def all_threads_stopped(pid):
    """True when every thread of pid is in state T (kill(SIGSTOP) returns before that)."""
    base = f"/proc/{pid}/task"
    for tid in os.listdir(base):
        try:
            with open(os.path.join(base, tid, "stat")) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, IndexError):
            continue
        if state not in ("T", "t"):
            return False
    return True


def transfer_lines(srv, path):
    return [l for l in srv.log().splitlines() if "transfer: " in l and f'path="{path}"' in l]


def partials(d):
    return [n for n in os.listdir(d) if n.startswith(".ferry-partial.")]


# --------------------------------------------------------------------------- item 9


@pytest.mark.parametrize("order", ["control-first", "data-first"])
def test_killed_client_partial_never_replaces_old_file(make_server, order):
    """A killed client's kernel closes both of its sockets; which FIN ferryd handles first is
    not up to the client. ferryd is stopped (SIGSTOP) while the client closes both, so both FINs
    are waiting when it runs again: the data EOF must not commit while the control connection
    is gone."""
    srv = make_server()
    home = home_of(srv)
    put_file(os.path.join(home, "x.bin"), OLD)
    s = Session(srv)
    stopped = False
    try:
        d = s.open_passive()
        s.expect("STOR x.bin", 150)
        d.sendall(b"n" * 300000)
        wait_server_has(srv, home, 300000)
        ctl_local = s.c.sock.getsockname()[1]
        data_local, data_srv = d.getsockname()[1], d.getpeername()[1]
        srv.signal(signal.SIGSTOP)
        stopped = True
        wait_until(lambda: all_threads_stopped(srv.pid), 10.0, what="ferryd to be stopped")
        first, second = (s.c.sock, d) if order == "control-first" else (d, s.c.sock)
        first.close()
        second.close()
        # Both FINs have reached ferryd's sockets before it runs again.
        wait_until(lambda: tcp_states().get((srv.port, ctl_local)) == CLOSE_WAIT
                   and tcp_states().get((data_srv, data_local)) == CLOSE_WAIT, 10.0,
                   what="both server sockets in CLOSE_WAIT")
    finally:
        if stopped:
            srv.signal(signal.SIGCONT)
        s.close()
    srv.wait_log(r'transfer: user="bob" .*cmd=STOR path="/x.bin" .*status=', timeout=10)
    line = transfer_lines(srv, "/x.bin")[-1]
    assert "status=aborted" in line and "reason=control-closed" in line or "status=failed" in line, line
    assert "status=ok" not in line, line
    assert read_bytes(os.path.join(home, "x.bin")) == OLD


def test_curl_killed_mid_upload_keeps_old_file(make_server, tmp_path):
    """The report: `curl -T` killed mid-upload left its partial under the final name and logged
    status=ok. curl reads the upload from a pipe the test feeds, so it is killed while the
    transfer is certainly running, once ferryd holds at least 1 MiB."""
    srv = make_server()
    home = home_of(srv)
    put_file(os.path.join(home, "x.bin"), OLD)
    curl = subprocess.Popen(["curl", "-sS", "--ftp-pasv", "-T", "-", "-u", "bob:pw",
                             f"ftp://127.0.0.1:{srv.port}/x.bin"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        chunk = b"k" * 65536
        for _ in range(32):  # 2 MiB; the pipe and socket buffers take it
            curl.stdin.write(chunk)
        curl.stdin.flush()
        wait_server_has(srv, home, 1 << 20)
        curl.send_signal(signal.SIGKILL)
        curl.wait(timeout=10)
    finally:
        if curl.poll() is None:
            curl.kill()
            curl.wait(timeout=10)
        try:
            curl.stdin.close()
        except BrokenPipeError:
            pass
    srv.wait_log(r'transfer: user="bob" .*cmd=STOR path="/x.bin" .*status=', timeout=10)
    line = transfer_lines(srv, "/x.bin")[-1]
    assert "status=ok" not in line, line
    assert read_bytes(os.path.join(home, "x.bin")) == OLD
