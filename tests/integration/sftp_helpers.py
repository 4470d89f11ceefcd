"""Helpers for the SFTP tests: a ferryd with [sftp] listen, paramiko logins, a raw SFTP v3
channel for exact status codes, and OpenSSH's sftp in batch mode (through sshpass: public keys
are not built yet)."""

import os
import shutil
import socket
import struct
import subprocess

import paramiko
import pytest

from conftest import HOST, free_port

SFTP_TIMEOUT = 20.0

# SSH_FXP_* and SSH_FX_* (draft-ietf-secsh-filexfer-02)
INIT, VERSION, OPEN, CLOSE, READ, WRITE, LSTAT, FSTAT, SETSTAT, FSETSTAT = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
OPENDIR, READDIR, REMOVE, MKDIR, RMDIR, REALPATH, STAT, RENAME, READLINK, SYMLINK = range(11, 21)
STATUS, HANDLE, DATA, NAME, ATTRS, EXTENDED, EXTENDED_REPLY = 101, 102, 103, 104, 105, 200, 201
FX_OK, FX_EOF, FX_NO_SUCH_FILE, FX_PERMISSION_DENIED, FX_FAILURE, FX_BAD_MESSAGE = 0, 1, 2, 3, 4, 5
FX_OP_UNSUPPORTED = 8
FXF_READ, FXF_WRITE, FXF_APPEND, FXF_CREAT, FXF_TRUNC, FXF_EXCL = 1, 2, 4, 8, 16, 32


# Every SFTP test file: pytestmark = pytest.mark.usefixtures("needs_sftp"), with
# needs_sftp imported from here.
@pytest.fixture
def needs_sftp(ferry_bin):
    from conftest import built_features
    if "sftp" not in built_features(ferry_bin):
        pytest.skip("ferryd built without SFTP (meson -Dsftp=disabled)")


def sftp_config(port, extra=None):
    cfg = {"sftp": {"listen": f"{HOST}:{port}"}}
    for k, v in (extra or {}).items():
        cfg.setdefault(k, {}).update(v)
    return cfg


def start_sftp_server(make_server, extra=None, **kw):
    """A started ferryd serving SFTP too; its port is s.sftp_port."""
    port = free_port()
    s = make_server(sftp_config(port, extra), **kw)
    s.sftp_port = port
    return s


def transport(s, user="bob", password="pw"):
    """A logged-in paramiko Transport (raises paramiko.AuthenticationException)."""
    sock = socket.create_connection((HOST, s.sftp_port), timeout=SFTP_TIMEOUT)
    t = paramiko.Transport(sock)
    t.banner_timeout = t.auth_timeout = SFTP_TIMEOUT
    try:
        t.connect(username=user, password=password)
    except Exception:
        t.close()
        raise
    return t


class _Client(paramiko.SFTPClient):
    """An SFTPClient whose close() ends the connection too, as OpenSSH's sftp does: ferryd, like
    sshd, leaves the connection open after the SFTP channel ends (the client may open another)."""

    def close(self):
        t = self.get_channel().get_transport()
        super().close()
        t.close()


def client(s, user="bob", password="pw"):
    t = transport(s, user, password)
    c = _Client.from_transport(t)
    c.get_channel().settimeout(SFTP_TIMEOUT)
    return c


def sstr(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack(">I", len(b)) + b


class Raw:
    """SFTP packets by hand over a paramiko channel: what was sent is exactly what the test says."""

    def __init__(self, t, init=True):
        self.t = t
        self.ch = t.open_session()
        self.ch.settimeout(SFTP_TIMEOUT)
        self.ch.invoke_subsystem("sftp")
        self.next_id = 1
        if init:
            self.send(INIT, struct.pack(">I", 3))
            typ, body = self.recv()
            assert typ == VERSION and struct.unpack(">I", body[:4])[0] == 3, (typ, body)
            self.extensions = self._pairs(body[4:])

    @staticmethod
    def _pairs(b):
        out = {}
        while b:
            n = struct.unpack(">I", b[:4])[0]
            k = b[4:4 + n]
            b = b[4 + n:]
            n = struct.unpack(">I", b[:4])[0]
            out[k.decode()] = b[4:4 + n].decode()
            b = b[4 + n:]
        return out

    def send_raw(self, data):
        self.ch.sendall(data)

    def send(self, typ, body):
        self.ch.sendall(struct.pack(">IB", len(body) + 1, typ) + body)

    def _read(self, n):
        b = b""
        while len(b) < n:
            chunk = self.ch.recv(n - len(b))
            if not chunk:
                raise EOFError("channel closed")
            b += chunk
        return b

    def recv(self):
        n = struct.unpack(">I", self._read(4))[0]
        body = self._read(n)
        return body[0], body[1:]

    def request(self, typ, body):
        """Sends a request with a fresh id; returns (type, body after the id)."""
        rid = self.next_id
        self.next_id += 1
        self.send(typ, struct.pack(">I", rid) + body)
        rtyp, rbody = self.recv()
        assert struct.unpack(">I", rbody[:4])[0] == rid, (rtyp, rbody)
        return rtyp, rbody[4:]

    def status(self, typ, body):
        """The request's STATUS code (fails on any other reply)."""
        rtyp, rbody = self.request(typ, body)
        assert rtyp == STATUS, (rtyp, rbody)
        return struct.unpack(">I", rbody[:4])[0]

    def handle(self, typ, body):
        rtyp, rbody = self.request(typ, body)
        assert rtyp == HANDLE, (rtyp, rbody)
        n = struct.unpack(">I", rbody[:4])[0]
        return rbody[4:4 + n]

    def open(self, path, flags):
        return self.handle(OPEN, sstr(path) + struct.pack(">II", flags, 0))


def openssh_sftp(s, commands, user="bob", password="pw", cwd=None, timeout=120):
    """Runs OpenSSH's sftp with a batch of commands (one a line). BatchMode is turned back off
    before -b turns it on (ssh keeps the first value), so sshpass can give the password."""
    for tool in ("sftp", "sshpass"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (scripts/deps.sh: openssh-client, sshpass)")
    cmd = ["sshpass", "-p", password, "sftp", "-F", "/dev/null", "-o", "BatchMode=no",
           "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
           "-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no",
           "-o", "LogLevel=ERROR", "-P", str(s.sftp_port), "-b", "-", f"{user}@{HOST}"]
    return subprocess.run(cmd, input="\n".join(commands) + "\n", capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env={**os.environ, "HOME": cwd or os.environ.get("HOME", "/")})
