"""What uploads guarantee (issue 13, items 9 and 10): a client killed mid-upload never replaces the
old file, even though in stream mode its kernel closes the data connection with a FIN that looks
like a complete upload; an interrupted upload is kept as a hidden partial that only its uploader
sees (through SIZE) and continues with `curl -C -` (SIZE + APPE) or lftp `put -c` (SIZE + REST +
STOR), and nobody else sees it.

Every wait is bounded and waits for a condition: the bytes the server holds are read from its
open descriptors (/proc/<pid>/fd), socket states from /proc/net/tcp."""

import hashlib
import os
import random
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import wait_until
from files_helpers import Session, home_of, put_file, read_bytes, recv_all

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


def tcp_table():
    """[(local port, remote port, state, inode)] of the IPv4 TCP sockets (state in hex, as in
    /proc/net/tcp)."""
    out = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            out.append((int(parts[1].split(":")[1], 16), int(parts[2].split(":")[1], 16), parts[3], parts[9]))
    return out


def tcp_states():
    """{(local port, remote port): state}."""
    return {(lp, rp): st for lp, rp, st, _ in tcp_table()}


def peer_keys_of(pid):
    """The server-side (local, remote) keys of pid's established TCP connections."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            m = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
        if m:
            inodes.add(m.group(1))
    return [(rp, lp) for lp, rp, st, ino in tcp_table() if ino in inodes and st == "01"]


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


NEW = random.Random(13).randbytes(3 << 20)  # the new content of x.bin, 3 MiB


def client_env(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LFTP", "CURL", "FTP")) and "proxy" not in k.lower()}
    env.update(HOME=str(tmp_path), LC_ALL="C.UTF-8", LANG="C.UTF-8")
    return env


def shared_home_server(make_server):
    """bob and eve share one home: eve is "another user" looking at bob's upload."""
    srv = make_server(start=False)
    home = home_of(srv)
    srv.add_user("eve", "pw2", None, home)
    put_file(os.path.join(home, "x.bin"), OLD)
    srv.start()
    return srv, home


def interrupt_with_curl(srv, home, tmp_path, at_least):
    """`curl -T - x.bin` fed NEW from a pipe, SIGKILLed once ferryd holds at_least bytes."""
    curl = subprocess.Popen(["curl", "-sS", "--ftp-pasv", "-T", "-", "-u", "bob:pw",
                             f"ftp://127.0.0.1:{srv.port}/x.bin"], env=client_env(tmp_path),
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stopped = False
    try:
        curl.stdin.write(NEW[:2 << 20])
        curl.stdin.flush()
        wait_server_has(srv, home, at_least)
        keys = peer_keys_of(curl.pid)
        assert len(keys) == 2, keys  # control and data
        # ferryd is stopped while curl dies, so both of curl's closes have reached ferryd's
        # sockets, in whatever order its kernel sent them, before ferryd looks at either:
        # the outcome does not depend on how far apart they come (the grace covers that).
        srv.signal(signal.SIGSTOP)
        stopped = True
        wait_until(lambda: all_threads_stopped(srv.pid), 10.0, what="ferryd to be stopped")
        curl.send_signal(signal.SIGKILL)
        curl.wait(timeout=10)
        wait_until(lambda: all(tcp_states().get(k) in (None, CLOSE_WAIT) for k in keys), 10.0,
                   what="curl's FINs or resets at ferryd's sockets")
    finally:
        if stopped:
            srv.signal(signal.SIGCONT)
        if curl.poll() is None:
            curl.kill()
            curl.wait(timeout=10)
        try:
            curl.stdin.close()
        except BrokenPipeError:
            pass
    srv.wait_log(r'transfer: user="bob" .*cmd=STOR path="/x.bin" .*status=(aborted|ok)', timeout=10)


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
    assert "status=aborted reason=control-closed" in line, line
    assert read_bytes(os.path.join(home, "x.bin")) == OLD


def test_control_close_within_the_grace_discards_the_upload(make_server):
    """The data connection's FIN first, the control connection's later (as a killed client's
    kernel may send them): the commit waits [transfer] commit_grace for it. A long grace makes
    the order certain: the control connection closes only once ferryd is waiting."""
    srv = make_server(config={"transfer": {"commit_grace": "30s"}})
    home = home_of(srv)
    put_file(os.path.join(home, "x.bin"), OLD)
    s = Session(srv)
    try:
        d = s.open_passive()
        s.expect("STOR x.bin", 150)
        d.sendall(b"n" * 300000)
        d.close()
        srv.wait_log(r"upload EOF: waiting up to 30000ms for the control connection", timeout=10)
    finally:
        s.close()
    srv.wait_log(r'transfer: user="bob" .*cmd=STOR path="/x.bin" .*status=', timeout=10)
    assert "status=aborted reason=control-closed" in transfer_lines(srv, "/x.bin")[-1]
    assert read_bytes(os.path.join(home, "x.bin")) == OLD


def test_live_client_commits_after_the_grace(make_server):
    srv = make_server(config={"transfer": {"commit_grace": "200ms"}})
    home = home_of(srv)
    put_file(os.path.join(home, "x.bin"), OLD)
    s = Session(srv)
    try:
        s.stor("x.bin", b"new content")
        s.stor("x.bin", b"newer", verb="STOR")
        s.expect("NOOP", 200)
    finally:
        s.close()
    assert read_bytes(os.path.join(home, "x.bin")) == b"newer"
    assert srv.log().count("upload EOF: waiting up to 200ms") == 2


def test_curl_killed_mid_upload_keeps_old_file(make_server, tmp_path):
    """The report: `curl -T` killed mid-upload left its partial under the final name and logged
    status=ok. curl reads the upload from a pipe the test feeds, so it is killed while the
    transfer is certainly running, once ferryd holds at least 1 MiB."""
    srv = make_server()
    home = home_of(srv)
    put_file(os.path.join(home, "x.bin"), OLD)
    interrupt_with_curl(srv, home, tmp_path, 1 << 20)
    line = transfer_lines(srv, "/x.bin")[-1]
    assert "reason=control-closed" in line, line
    assert read_bytes(os.path.join(home, "x.bin")) == OLD


# --------------------------------------------------------------------------- item 10

def interrupt_with_drop(srv, home, n):
    """A client that sends n bytes of NEW, then drops the control and the data connection."""
    s = Session(srv)
    s.expect("TYPE I", 200)
    d = s.open_passive()
    s.expect("STOR x.bin", 150)
    d.sendall(NEW[:n])
    wait_server_has(srv, home, n)
    s.close()
    d.close()
    srv.wait_log(r'transfer: user="bob" .*cmd=STOR path="/x.bin" .*status=aborted', timeout=10)


def check_hidden_from_others(srv, home):
    """While bob's partial exists, eve (same directory) and every listing see only the old file."""
    [name] = partials(home)
    e = Session(srv, "eve", "pw2")
    try:
        e.expect("TYPE I", 200)
        assert e.cmd("SIZE x.bin").text == "1000"
        data, _, _ = e.retr("x.bin")
        assert data == OLD
        for verb in ("NLST -a", "LIST -a", "MLSD"):
            d = e.open_passive()
            e.expect(verb, 150)
            listing = recv_all(d)
            d.close()
            assert e.reply(timeout=10).code == 226
            assert b"ferry-partial" not in listing and b"x.bin" in listing, (verb, listing)
        for cmd in (f"SIZE {name}", f"MDTM {name}", f"RETR {name}", f"DELE {name}", f"RNFR {name}"):
            assert e.cmd(cmd).code == 550, cmd
    finally:
        e.close()
    return name


def upload_bytes(srv, verb):
    m = re.findall(rf'transfer: user="bob" .*cmd={verb} path="/x.bin" bytes=(\d+) status=ok', srv.log())
    return int(m[-1]) if m else None


def test_curl_resumes_an_interrupted_atomic_upload(make_server, tmp_path):
    srv, home = shared_home_server(make_server)
    interrupt_with_curl(srv, home, tmp_path, 1 << 20)
    assert read_bytes(os.path.join(home, "x.bin")) == OLD
    name = check_hidden_from_others(srv, home)
    kept = os.path.getsize(os.path.join(home, name))
    assert (1 << 20) <= kept <= (2 << 20)
    assert read_bytes(os.path.join(home, name)) == NEW[:kept]
    # Its uploader sees what arrived (what curl -C - resumes from)...
    b = Session(srv)
    try:
        b.expect("TYPE I", 200)
        assert b.cmd("SIZE x.bin").text == str(kept)
        # ...while the file itself is still the old one, for bob too.
        data, _, _ = b.retr("x.bin")
        assert data == OLD
    finally:
        b.close()
    local = tmp_path / "x.bin"
    local.write_bytes(NEW)
    cp = subprocess.run(["curl", "-sS", "--ftp-pasv", "-C", "-", "-T", str(local), "-u", "bob:pw",
                         f"ftp://127.0.0.1:{srv.port}/x.bin"], env=client_env(tmp_path),
                        capture_output=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    srv.wait_log(r'transfer: user="bob" .*cmd=APPE path="/x.bin" .*status=ok')
    assert upload_bytes(srv, "APPE") == len(NEW) - kept  # only the remainder went over the wire
    assert hashlib.sha256(read_bytes(os.path.join(home, "x.bin"))).hexdigest() == hashlib.sha256(NEW).hexdigest()
    assert partials(home) == []


def test_lftp_put_c_resumes_an_interrupted_atomic_upload(make_server, tmp_path):
    srv, home = shared_home_server(make_server)
    interrupt_with_drop(srv, home, 1234567)
    assert read_bytes(os.path.join(home, "x.bin")) == OLD
    name = check_hidden_from_others(srv, home)
    assert read_bytes(os.path.join(home, name)) == NEW[:1234567]
    work = tmp_path / "work"
    work.mkdir()
    (work / "x.bin").write_bytes(NEW)
    script = ("set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 10; set cmd:fail-exit yes; "
              f"open -u bob,pw ftp://127.0.0.1:{srv.port}; put -c x.bin")
    cp = subprocess.run(["lftp", "-c", script], env=client_env(tmp_path), cwd=work,
                        capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    srv.wait_log(r'transfer: user="bob" .*cmd=STOR path="/x.bin" .*status=ok')
    assert upload_bytes(srv, "STOR") == len(NEW) - 1234567
    assert hashlib.sha256(read_bytes(os.path.join(home, "x.bin"))).hexdigest() == hashlib.sha256(NEW).hexdigest()
    assert partials(home) == []


def test_lftp_mirror_continue_sends_whole_and_stays_atomic(make_server, tmp_path):
    """mirror -R --continue decides from the listing, which shows only the old file: it sends the
    file whole (no SIZE, no REST), the result is exact and the superseded partial goes."""
    srv, home = shared_home_server(make_server)
    interrupt_with_drop(srv, home, 1234567)
    up = tmp_path / "work" / "up"
    up.mkdir(parents=True)
    (up / "x.bin").write_bytes(NEW)
    script = ("set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 10; set cmd:fail-exit yes; "
              f"open -u bob,pw ftp://127.0.0.1:{srv.port}; mirror -R --continue up /")
    cp = subprocess.run(["lftp", "-c", script], env=client_env(tmp_path), cwd=up.parent,
                        capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    assert hashlib.sha256(read_bytes(os.path.join(home, "x.bin"))).hexdigest() == hashlib.sha256(NEW).hexdigest()
    assert partials(home) == []


def test_a_fresh_stor_supersedes_the_partial(make_server):
    """Plain STOR (no REST) starts over; its success removes the partial, and REST beyond what
    arrived is 554."""
    srv, home = shared_home_server(make_server)
    interrupt_with_drop(srv, home, 100000)
    s = Session(srv)
    try:
        s.expect("TYPE I", 200)
        s.expect("REST 100001", 350)
        d = s.open_passive()
        r = s.cmd("STOR x.bin")
        d.close()
        assert r.code == 554, r
        assert partials(home) != []
        s.stor("x.bin", b"fresh")
    finally:
        s.close()
    assert read_bytes(os.path.join(home, "x.bin")) == b"fresh"
    assert partials(home) == []


def test_partial_keep_0_discards_interrupted_uploads(make_server):
    srv = make_server(config={"transfer": {"partial_keep": "0"}}, start=False)
    home = home_of(srv)
    put_file(os.path.join(home, "x.bin"), OLD)
    srv.start()
    interrupt_with_drop(srv, home, 100000)
    assert partials(home) == []
    assert read_bytes(os.path.join(home, "x.bin")) == OLD
    s = Session(srv)
    try:
        s.expect("TYPE I", 200)
        assert s.cmd("SIZE x.bin").text == "1000"
    finally:
        s.close()


def test_start_cleanup_keeps_partials_younger_than_partial_keep(make_server):
    """partial_keep is 24h by default: a partial written to an hour ago stays resumable, one
    left for two days goes (as does an hour-old temporary, which nobody can resume)."""
    srv = make_server(start=False)
    home = home_of(srv)
    now = time.time()
    put_file(os.path.join(home, ".ferry-partial.young"), b"y", mtime=now - 3600)
    put_file(os.path.join(home, "sub", ".ferry-partial.old"), b"o", mtime=now - 48 * 3600)
    put_file(os.path.join(home, ".ferry-upload.old"), b"t", mtime=now - 3600)
    srv.start()
    srv.wait_log(r"removed 2 stale upload temporaries")
    srv.wait_log(r"stale upload clean-up done")
    assert os.path.exists(os.path.join(home, ".ferry-partial.young"))
    assert not os.path.exists(os.path.join(home, "sub", ".ferry-partial.old"))
    assert not os.path.exists(os.path.join(home, ".ferry-upload.old"))


def partial_name(user, name):
    return ".ferry-partial." + hashlib.sha256(user.encode() + b"\0" + name.encode()).hexdigest()[:32]


def test_partials_ignored_without_atomic_uploads(make_server):
    """atomic_uploads = no writes in place: a partial left from an earlier configuration is
    neither reported nor continued."""
    srv = make_server(config={"transfer": {"atomic_uploads": "no"}}, start=False)
    home = home_of(srv)
    put_file(os.path.join(home, "x.bin"), OLD)
    put_file(os.path.join(home, partial_name("bob", "x.bin")), b"p" * 77)
    srv.start()
    s = Session(srv)
    try:
        s.expect("TYPE I", 200)
        assert s.cmd("SIZE x.bin").text == "1000"
        s.stor("x.bin", b"!", verb="APPE")
    finally:
        s.close()
    assert read_bytes(os.path.join(home, "x.bin")) == OLD + b"!"
    assert read_bytes(os.path.join(home, partial_name("bob", "x.bin"))) == b"p" * 77


def test_tls_upload_commits_without_the_grace(make_server, tmp_path):
    """An FTPS upload ends with the client's close_notify, which a killed client never sends, so
    it needs no commit grace: with a 30 s grace the upload still commits at once (curl, PROT P)."""
    import shutil
    import tempfile
    from tls_helpers import make_cert
    d = tempfile.mkdtemp(prefix="ferry-it-certs-", dir="/tmp")
    os.chmod(d, 0o755)  # the service user reads them again on SIGHUP
    cert, key = make_cert(d, "grace")
    srv = make_server(config={"transfer": {"commit_grace": "30s"},
                              "tls": {"cert": cert, "key": key, "data_reuse": "off"}})
    home = home_of(srv)
    put_file(os.path.join(home, "x.bin"), OLD)
    src = tmp_path / "new.bin"
    data = os.urandom(300000)
    src.write_bytes(data)
    # --max-time far below the grace: waiting it out would fail the upload.
    r = subprocess.run(["curl", "-sS", "--max-time", "15", "--ssl-reqd", "-k", "-u", "bob:pw",
                        "-T", str(src), f"{srv.url()}/x.bin"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert read_bytes(os.path.join(home, "x.bin")) == data
    assert "upload EOF: waiting" not in srv.log()
    shutil.rmtree(d, ignore_errors=True)
