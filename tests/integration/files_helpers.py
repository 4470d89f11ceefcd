"""Helpers shared by the files-and-transfers integration tests (issue 3):
test_fs.py, test_transfers.py, test_traversal.py, test_listing.py, test_clients_files.py.

Everything here is bounded: every socket has a timeout, every loop a deadline.

  put_file / make_dir / make_symlink   create test fixtures in a home, owned by the
                                        service user (ferryd runs as `nobody`)
  Session                              a logged-in control connection (conftest.Ctl) with
                                        PASV/EPSV/PORT/EPRT helpers and whole transfers
  snapshot                             a recursive lstat + content-hash snapshot (mtimes
                                        included) to prove a tree was not touched
  big_payload (fixture)                a fixed-seed random file created once per session
"""

import hashlib
import os
import random
import re
import socket
import stat
import time

import pytest

from conftest import IS_ROOT, SERVICE_USER, Ctl

DATA_TIMEOUT = 15.0       # bound for one data-connection operation in a normal test
BIG_TIMEOUT = 300.0       # bound for one checksummed large transfer (ASan builds are slow)

_svc_ids = None


def service_ids():
    """(uid, gid) of the service user ferryd runs as."""
    global _svc_ids
    if _svc_ids is None:
        import pwd
        pw = pwd.getpwnam(SERVICE_USER)
        _svc_ids = (pw.pw_uid, pw.pw_gid)
    return _svc_ids


def chown_svc(path):
    if IS_ROOT:
        uid, gid = service_ids()
        os.lchown(path, uid, gid)


def home_of(server, user="bob"):
    return os.path.join(server.home_root, user)


_dir_counter = [0]


def fresh_dir(server, request, prefix, user="bob"):
    """(host path, virtual path) of a new directory in the user's home, named after the test."""
    _dir_counter[0] += 1
    name = "%s%03d_%s" % (prefix, _dir_counter[0], re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:90])
    path = os.path.join(home_of(server, user), name)
    make_dir(path)
    return path, "/" + name


def _ensure_parent(path):
    parent = os.path.dirname(path)
    missing = []
    while parent and not os.path.lexists(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    for d in reversed(missing):
        os.mkdir(d, 0o755)
        chown_svc(d)


def put_file(path, data=b"", mode=0o644, mtime=None, owner_svc=True):
    """Writes a file (creating parents), owned by the service user; optional mtime (epoch s)."""
    if isinstance(data, str):
        data = data.encode()
    _ensure_parent(path)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    if owner_svc:
        chown_svc(path)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def make_dir(path, mode=0o755, owner_svc=True):
    _ensure_parent(path)
    os.mkdir(path, mode)
    os.chmod(path, mode)
    if owner_svc:
        chown_svc(path)
    return path


def make_symlink(target, path):
    _ensure_parent(path)
    os.symlink(target, path)
    chown_svc(path)
    return path


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def text_1000():
    """Checklist fixture `f`: 1000 bytes of mixed text with LF line ends."""
    line = b"The quick brown fox jumps over the lazy dog 0123456789\n"
    data = (line * 20)[:999] + b"\n"
    assert len(data) == 1000
    return data


# --------------------------------------------------------------------------- snapshots

def snapshot(root):
    """{relpath: facts} for root and everything below it (symlinks not followed). Facts cover
    type, mode, owner, size, link count, inode, mtime and ctime (ns) and the content hash or the
    link target -- any write, rename, chmod, link or delete changes it. atime is left out."""
    out = {}

    def facts(p):
        st = os.lstat(p)
        f = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_size,
             st.st_nlink, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
        if stat.S_ISREG(st.st_mode):
            f += (sha256_file(p),)
        elif stat.S_ISLNK(st.st_mode):
            f += (os.readlink(p),)
        return f

    out["."] = facts(root)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for n in sorted(dirnames + filenames):
            p = os.path.join(dirpath, n)
            out[os.path.relpath(p, root)] = facts(p)
    return out


def snapshot_diff(a, b):
    lines = []
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            lines.append(f"{k}: {a.get(k)} -> {b.get(k)}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- data connections

_RX227 = re.compile(r"\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)")
_RX229 = re.compile(r"\(\|\|\|(\d+)\|\)")


def parse227(reply):
    m = _RX227.search(reply.text)
    assert m, f"cannot parse 227: {reply!r}"
    v = [int(x) for x in m.groups()]
    return ".".join(map(str, v[:4])), v[4] * 256 + v[5]


def parse229(reply):
    m = _RX229.search(reply.text)
    assert m, f"cannot parse 229: {reply!r}"
    return int(m.group(1))


def connect_data(host, port, family=socket.AF_INET, source=None, timeout=DATA_TIMEOUT, rcvbuf=None):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if source:
        s.bind((source, 0))
    s.connect((host, port))
    return s


def recv_all(sock, timeout=DATA_TIMEOUT):
    """Everything until EOF (bounded by timeout overall)."""
    deadline = time.monotonic() + timeout
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout(f"data connection not closed within {timeout}s "
                                 f"({sum(map(len, chunks))} bytes read)")
        sock.settimeout(left)
        b = sock.recv(1 << 20)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def recv_hash(sock, timeout=BIG_TIMEOUT):
    """(sha256 hex, byte count) of everything until EOF."""
    deadline = time.monotonic() + timeout
    h = hashlib.sha256()
    buf = bytearray(1 << 20)
    mv = memoryview(buf)
    total = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout(f"big transfer not finished within {timeout}s ({total} bytes)")
        sock.settimeout(left)
        n = sock.recv_into(buf)
        if n == 0:
            return h.hexdigest(), total
        h.update(mv[:n])
        total += n


def send_file(sock, path, timeout=BIG_TIMEOUT):
    sock.settimeout(timeout)
    with open(path, "rb") as f:
        sock.sendfile(f)


def closed_by_peer(sock, timeout=5.0):
    """True if the peer closes (EOF or reset) within timeout without sending data."""
    sock.settimeout(timeout)
    try:
        b = sock.recv(1)
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return b == b""


def hard_close(sock):
    """Closes with an RST (SO_LINGER 0): what a crashed or killed client's kernel may send."""
    import struct
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class Session:
    """A logged-in control connection plus transfer helpers. `c` is the conftest.Ctl."""

    def __init__(self, server, user="bob", password="pw", family=None, host=None, cwd=None,
                 timeout=10.0):
        kw = {"timeout": timeout}
        if family is not None:
            kw["family"] = family
        if host is not None:
            self.c = Ctl(host, server.port, **kw)
        else:
            self.c = server.connect(**kw)
        self.server = server
        self.family = family or server.family
        self.host = host or server.host
        self.c.login(user, password)
        if cwd:
            self.c.expect(f"CWD {cwd}", 250)

    # control shortcuts
    def cmd(self, line, timeout=None):
        return self.c.cmd(line, timeout)

    def expect(self, line, code, timeout=None):
        return self.c.expect(line, code, timeout)

    def reply(self, timeout=None):
        return self.c.reply(timeout)

    def close(self):
        self.c.close()

    # data connection set-up
    def pasv(self):
        r = self.c.expect("PASV", 227)
        _, port = parse227(r)
        return port

    def epsv(self):
        return parse229(self.c.expect("EPSV", 229))

    def open_passive(self, how="pasv", source=None, rcvbuf=None):
        port = self.pasv() if how == "pasv" else self.epsv()
        return connect_data(self.host, port, self.family, source=source, rcvbuf=rcvbuf)

    def open_active(self, how="port"):
        """Listens on the control connection's local address; sends PORT or EPRT. Returns the
        listening socket; accept() after the transfer command."""
        lst = socket.socket(self.family, socket.SOCK_STREAM)
        lst.settimeout(DATA_TIMEOUT)
        lst.bind((self.c.sock.getsockname()[0], 0))
        lst.listen(1)
        addr, port = lst.getsockname()[:2]
        if how == "port":
            assert self.family == socket.AF_INET
            self.c.expect("PORT %s,%d,%d" % (addr.replace(".", ","), port >> 8, port & 255), 200)
        else:
            af = 1 if self.family == socket.AF_INET else 2
            self.c.expect(f"EPRT |{af}|{addr}|{port}|", 200)
        return lst

    # whole transfers
    def _data_for(self, how, rcvbuf=None):
        if how in ("pasv", "epsv"):
            return self.open_passive(how, rcvbuf=rcvbuf), None
        return None, self.open_active(how)

    def retr(self, name, how="pasv", rest=None, verb="RETR", expect_code=226):
        """A whole download; returns (bytes, 150 reply, final reply)."""
        d, lst = self._data_for(how)
        try:
            if rest is not None:
                self.c.expect(f"REST {rest}", 350)
            r1 = self.c.cmd(f"{verb} {name}" if name is not None else verb)
            assert r1.code in (125, 150), f"{verb} {name!r}: {r1!r}"
            if lst is not None:
                d, _ = lst.accept()
            data = recv_all(d)
        finally:
            if d is not None:
                d.close()
            if lst is not None:
                lst.close()
        r2 = self.c.reply(timeout=DATA_TIMEOUT)
        assert r2.code == expect_code, f"{verb} {name!r}: expected {expect_code}, got {r2!r}"
        return data, r1, r2

    def list_data(self, verb="LIST", arg=None, how="pasv"):
        data, _, _ = self.retr(arg, how=how, verb=verb)
        return data

    def stor(self, name, data, how="pasv", verb="STOR", rest=None, expect_code=226, chunks=None):
        """A whole upload; returns (150 reply, final reply)."""
        d, lst = self._data_for(how)
        try:
            if rest is not None:
                self.c.expect(f"REST {rest}", 350)
            line = f"{verb} {name}" if name is not None else verb
            r1 = self.c.cmd(line)
            assert r1.code in (125, 150), f"{line!r}: {r1!r}"
            if lst is not None:
                d, _ = lst.accept()
            d.settimeout(DATA_TIMEOUT)
            if chunks:
                for ch in chunks:
                    d.sendall(ch)
                    time.sleep(0.05)
            else:
                d.sendall(data)
        finally:
            if d is not None:
                d.close()
            if lst is not None:
                lst.close()
        r2 = self.c.reply(timeout=DATA_TIMEOUT)
        assert r2.code == expect_code, f"{line!r}: expected {expect_code}, got {r2!r}"
        return r1, r2


# --------------------------------------------------------------------------- big payload

def big_size():
    """256 MiB (measured: about 0.3 s per transfer on loopback with the release and the ASan
    build alike, since sendfile and recv/write do the work). FERRY_BUILD_BIG_MIB overrides it,
    e.g. 32 on a slow CI machine."""
    env = os.environ.get("FERRY_BUILD_BIG_MIB")
    return (int(env) if env else 256) << 20


@pytest.fixture(scope="session")
def big_payload(tmp_path_factory):
    """(path, size, sha256) of a fixed-seed pseudo-random file, generated once per session."""
    size = big_size()
    d = tmp_path_factory.mktemp("ferry-big")
    os.chmod(d, 0o755)
    path = os.path.join(str(d), "big.bin")
    rng = random.Random(20261124)
    h = hashlib.sha256()
    chunk = 4 << 20
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(chunk, left)
            b = rng.randbytes(n)
            h.update(b)
            f.write(b)
            left -= n
    os.chmod(path, 0o644)
    yield path, size, h.hexdigest()
    try:
        os.unlink(path)
    except OSError:
        pass
