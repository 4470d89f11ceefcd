"""SFTP (src/sftp/): the SSH transport (libssh on ferryd's own event loops), logins through the
same login service as FTP, and the SFTP v3 requests over the same file service: exact status
codes with paramiko and a raw channel, exact bytes on disk, the sftp subsystem alone (no shell,
exec, pty or forwarding), malformed and oversized packets, handles of another session, and the
host key ferryd generates when [sftp] host_keys is empty."""

import errno
import json
import os
import re
import socket
import stat
import struct
import subprocess

import paramiko
import pytest

from conftest import HOST, SERVICE_USER, IS_ROOT, wait_until
from sftp_helpers import (ATTRS, CLOSE, DATA, EXTENDED, EXTENDED_REPLY, FSTAT, FX_BAD_MESSAGE, FX_EOF, FX_FAILURE,
                          FX_NO_SUCH_FILE, FX_OK, FX_OP_UNSUPPORTED, FX_PERMISSION_DENIED, FXF_APPEND, FXF_CREAT,
                          FXF_EXCL, FXF_READ, FXF_TRUNC, FXF_WRITE, MKDIR, NAME, OPENDIR, READ, READDIR, READLINK,
                          REALPATH, REMOVE, RMDIR, SETSTAT, STAT, WRITE, Raw, client, sstr,
                          start_sftp_server, transport)
from sftp_helpers import needs_sftp  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("needs_sftp")


@pytest.fixture
def srv(make_server):
    return start_sftp_server(make_server, {"log": {"json": "events.json", "xferlog": "xferlog"}})


def home(s, user="bob"):
    return os.path.join(s.home_root, user)


def put_file(path, data):
    with open(path, "wb") as f:
        f.write(data)
    if IS_ROOT:
        os.chown(path, *_service_ids())


def _service_ids():
    import pwd
    pw = pwd.getpwnam(SERVICE_USER)
    return pw.pw_uid, pw.pw_gid


# ---- transport and login

def test_login_through_the_login_service(srv):
    t = transport(srv)
    t.close()
    srv.wait_log(r'login ok: user="bob" ip=127\.0\.0\.1 protocol=sftp')
    for user in ("bob", "nobody-here"):
        with pytest.raises(paramiko.AuthenticationException):
            transport(srv, user=user, password="wrong")
        # The same line as FTP's (fail2ban's filter reads it), naming the protocol.
        srv.wait_log(rf'login failed: user="{user}" ip=127\.0\.0\.1 reason=bad-credentials protocol=sftp')
    # The JSON event says it too.
    path = os.path.join(srv.dir, "events.json")
    ev = wait_until(lambda: [e for e in map(json.loads, open(path)) if e["event"] == "login"
                             and e.get("user") == "nobody-here"], 5, what="JSON login event")
    assert {k: v for k, v in ev[0].items() if k not in ("ts", "session")} == {
        "event": "login", "user": "nobody-here", "ip": "127.0.0.1", "result": "failed",
        "reason": "bad-credentials", "protocol": "sftp", "method": "password"}


def test_methods_offered(srv):
    sock = socket.create_connection((HOST, srv.sftp_port), timeout=20)
    t = paramiko.Transport(sock)
    try:
        t.start_client(timeout=20)
        with pytest.raises(paramiko.BadAuthenticationType) as e:
            t.auth_none("bob")
        assert sorted(e.value.allowed_types) == ["keyboard-interactive", "password", "publickey"]
    finally:
        t.close()


def test_failures_close_the_connection(srv):
    """[server] max_login_failures (3 in the tests) wrong passwords on one connection close it."""
    sock = socket.create_connection((HOST, srv.sftp_port), timeout=20)
    t = paramiko.Transport(sock)
    try:
        t.start_client(timeout=20)
        for _ in range(2):
            with pytest.raises(paramiko.AuthenticationException):
                t.auth_password("bob", "wrong")
        with pytest.raises((paramiko.AuthenticationException, paramiko.SSHException, EOFError)):
            t.auth_password("bob", "wrong")
        wait_until(lambda: not t.is_active(), 10, what="the connection to close")
    finally:
        t.close()
    srv.wait_log(r"login failure limit reached: ip=127\.0\.0\.1 protocol=sftp")


def test_account_users_give_the_account(srv):
    """A good password of a user who needs an account (FTP's 332) is a partial success: the
    account follows as a keyboard-interactive answer (test_sftp_auth.py has the rest)."""
    sock = socket.create_connection((HOST, srv.sftp_port), timeout=20)
    t = paramiko.Transport(sock)
    try:
        t.start_client(timeout=20)
        assert t.auth_password("acctuser", "pw") == ["keyboard-interactive"]
        assert t.auth_interactive("acctuser", lambda title, inst, prompts: ["acct1"]) == []
    finally:
        t.close()
    srv.wait_log(r'login ok: user="acctuser" ip=127\.0\.0\.1 protocol=sftp method=password')


def test_only_the_sftp_subsystem(srv):
    t = transport(srv)
    try:
        for ask in (lambda ch: ch.exec_command("id"), lambda ch: ch.invoke_shell(),
                    lambda ch: ch.get_pty(), lambda ch: ch.invoke_subsystem("netconf")):
            ch = t.open_session()
            with pytest.raises(paramiko.SSHException):
                ask(ch)
            ch.close()
        with pytest.raises(paramiko.ChannelException):
            t.open_channel("direct-tcpip", (HOST, srv.port), (HOST, 1))
    finally:
        t.close()
    srv.wait_log(r"channel request refused: ip=127\.0\.0\.1 request=exec")
    srv.wait_log(r"channel request refused: ip=127\.0\.0\.1 request=shell")
    srv.wait_log(r"channel request refused: ip=127\.0\.0\.1 request=pty")
    srv.wait_log(r"channel request refused: ip=127\.0\.0\.1 request=subsystem")


def test_a_channel_given_up_by_eof_then_closed_late(srv):
    """The client's EOF alone makes ferryd drop an idle channel (and close it); the client's CLOSE
    for it comes later, with or after the next channel's open. That late close belongs to the
    dropped channel: the next one stays open and the sftp subsystem starts on it. (The late close
    used to mark the next channel closed, which ferryd then dropped before answering its first
    request: paramiko sends EOF and CLOSE as two packets after a refused request, so now and then
    a read held the EOF alone and the next channel's shell request went unanswered. Here the EOF
    is sent alone every time.)"""
    t = transport(srv)
    try:
        for _ in range(2):
            ch = t.open_session()
            ch.shutdown_write()  # EOF only: ferryd drops the channel and closes it
            # paramiko answers ferryd's close with its own, the late close.
            wait_until(lambda: ch.closed, 10, what="ferryd to close the idle channel")
        c = paramiko.SFTPClient.from_transport(t)
        assert sorted(c.listdir("/")) == sorted(os.listdir(home(srv)))
        c.close()
    finally:
        t.close()
    srv.wait_log(r'sftp: subsystem started: user="bob" ip=127\.0\.0\.1')


def test_the_next_channel_before_the_last_is_closed(srv):
    """paramiko sends its EOF and CLOSE for a channel whose request was refused from its own
    thread, after exec_command has already raised: the next open may come first. A few session
    channels may be open at once; SFTP starts on any of them, and then no more are opened."""
    t = transport(srv)
    try:
        first = t.open_session()
        second = t.open_session()
        c = paramiko.SFTPClient.from_transport(t)
        assert sorted(c.listdir("/")) == sorted(os.listdir(home(srv)))
        assert not first.closed and not second.closed
        with pytest.raises(paramiko.ChannelException):
            t.open_session()
        c.close()
    finally:
        t.close()
    srv.wait_log(r"sftp: channel refused: ip=127\.0\.0\.1 type=1")


def test_host_key_generated_once(srv, make_server):
    key = os.path.join(os.path.dirname(srv.db_path), "ssh_host_ed25519_key")
    st = os.stat(key)
    assert stat.S_IMODE(st.st_mode) == 0o600
    if IS_ROOT:
        assert (st.st_uid, st.st_gid) == _service_ids()
    t = transport(srv)
    served = t.get_remote_server_key()
    t.close()
    assert served.get_name() == "ssh-ed25519"
    fp = "SHA256:" + __import__("base64").b64encode(
        __import__("hashlib").sha256(served.asbytes()).digest()).decode().rstrip("=")
    srv.wait_log(re.escape(f"sftp: host key {key} (ssh-ed25519) {fp}"))
    # A restart serves the same key (not a new one).
    srv.stop()
    srv.start()
    t = transport(srv)
    again = t.get_remote_server_key()
    t.close()
    assert again.asbytes() == served.asbytes()
    assert srv.log().count("generated a new ed25519 host key") == 1


def test_host_keys_refused_when_readable_by_others(ferry_env):
    env = ferry_env()
    key = os.path.join(env.dir, "k")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    os.chmod(key, 0o644)
    env.write_config({"sftp": {"listen": f"{HOST}:1", "host_keys": key}})
    cp = subprocess.run([env.bins.ferryd, "-c", env.config_path], capture_output=True, text=True, timeout=20)
    assert cp.returncode != 0
    assert f"[sftp] host_keys: {key}: readable by group or others (mode 0644); make it 0600" in cp.stdout + cp.stderr


# ---- files: exact bytes and status codes

def test_put_get_exact_bytes(srv):
    c = client(srv)
    data = bytes(range(256)) * 1000 + b"tail"
    with c.open("/up.bin", "wb") as f:
        f.set_pipelined(True)
        f.write(data)
    with open(os.path.join(home(srv), "up.bin"), "rb") as f:
        assert f.read() == data
    with c.open("/up.bin", "rb") as f:
        assert f.read() == data
    assert c.stat("/up.bin").st_size == len(data)
    assert c.listdir("/") == ["up.bin"]
    c.close()
    srv.wait_log(r'transfer: user="bob" ip=127\.0\.0\.1 cmd=STOR path="/up\.bin" bytes=256004 status=ok protocol=sftp')
    srv.wait_log(r'transfer: user="bob" ip=127\.0\.0\.1 cmd=RETR path="/up\.bin" bytes=256004 status=ok protocol=sftp')
    xl = wait_until(lambda: open(os.path.join(srv.dir, "xferlog")).read().splitlines(), 5, what="xferlog")
    assert len(xl) == 2 and all(" r bob sftp 0 * c" in line for line in xl), xl
    tr = [e for e in map(json.loads, open(os.path.join(srv.dir, "events.json"))) if e["event"] == "transfer"]
    assert [(e["cmd"], e["path"], e["bytes"], e["result"], e["protocol"]) for e in tr] == [
        ("STOR", "/up.bin", 256004, "ok", "sftp"), ("RETR", "/up.bin", 256004, "ok", "sftp")]


def test_file_operations(srv):
    c = client(srv)
    h = home(srv)
    assert c.normalize(".") == "/"
    assert c.normalize("a/../b/./c") == "/b/c"
    c.mkdir("/d")
    assert os.path.isdir(os.path.join(h, "d"))
    with c.open("/d/f", "wb") as f:
        f.write(b"12345")
    c.rename("/d/f", "/d/g")
    assert os.listdir(os.path.join(h, "d")) == ["g"]
    c.chmod("/d/g", 0o600)
    assert stat.S_IMODE(os.stat(os.path.join(h, "d", "g")).st_mode) == 0o600
    c.utime("/d/g", (1000000000, 1620284889))
    assert os.stat(os.path.join(h, "d", "g")).st_mtime == 1620284889
    st = c.stat("/d/g")
    assert (st.st_size, st.st_mtime, stat.S_IMODE(st.st_mode)) == (5, 1620284889, 0o600)
    attrs = {a.filename: a for a in c.listdir_attr("/d")}
    assert set(attrs) == {".", "..", "g"} or set(attrs) == {"g"}
    assert attrs["g"].longname.startswith("-rw-------") and attrs["g"].longname.endswith(" g")
    # posix-rename replaces; RENAME (version 3) does not.
    with c.open("/d/h", "wb") as f:
        f.write(b"h")
    with pytest.raises(IOError):
        c.rename("/d/h", "/d/g")
    c.posix_rename("/d/h", "/d/g")
    with open(os.path.join(h, "d", "g"), "rb") as f:
        assert f.read() == b"h"
    with pytest.raises(IOError):
        c.rmdir("/d")  # not empty
    c.remove("/d/g")
    c.rmdir("/d")
    assert os.listdir(h) == []
    for op in (lambda: c.stat("/nope"), lambda: c.remove("/nope"), lambda: c.open("/nope", "rb"),
               lambda: c.listdir("/nope"), lambda: c.rmdir("/nope")):
        with pytest.raises(IOError) as e:
            op()
        assert e.value.errno == errno.ENOENT
    with pytest.raises(IOError) as e:
        c.chown("/", 0, 0)
    assert e.value.errno == errno.EACCES
    c.close()


def test_status_codes(srv):
    t = transport(srv)
    r = Raw(t)
    assert {"posix-rename@openssh.com", "statvfs@openssh.com", "fsync@openssh.com", "limits@openssh.com",
            "expand-path@openssh.com"} <= set(r.extensions)
    put_file(os.path.join(home(srv), "f"), b"0123456789")
    assert r.status(STAT, sstr("/nope")) == FX_NO_SUCH_FILE
    assert r.status(MKDIR, sstr("/f") + struct.pack(">I", 0)) == FX_FAILURE  # exists
    assert r.status(RMDIR, sstr("/f")) == FX_NO_SUCH_FILE  # not a directory
    assert r.status(REMOVE, sstr("/")) in (FX_FAILURE, FX_PERMISSION_DENIED)
    assert r.status(OPENDIR, sstr("/f")) == FX_NO_SUCH_FILE  # ENOTDIR, as OpenSSH maps it
    assert r.status(READLINK, sstr("/f")) == FX_BAD_MESSAGE  # not a link (test_sftp_openssh.py)
    assert r.status(EXTENDED, sstr("copy-data") + b"junk") == FX_BAD_MESSAGE  # served: fields cut short
    assert r.status(EXTENDED, sstr("copy-data@example.com") + b"junk") == FX_OP_UNSUPPORTED
    assert r.status(99, b"") == FX_OP_UNSUPPORTED  # an unknown request type
    assert r.status(SETSTAT, sstr("/") + struct.pack(">IQ", 1, 0)) == FX_FAILURE  # the size of a directory
    # EXCL on an existing file; writing without CREAT to a missing one.
    assert r.status(3, sstr("/f") + struct.pack(">II", FXF_WRITE | FXF_CREAT | FXF_EXCL, 0)) == FX_FAILURE
    assert r.status(3, sstr("/g") + struct.pack(">II", FXF_WRITE, 0)) == FX_NO_SUCH_FILE
    assert r.status(3, sstr("/f") + struct.pack(">II", FXF_READ | FXF_WRITE, 0)) == FX_OP_UNSUPPORTED
    # Reads: data, then EOF.
    h = r.open("/f", FXF_READ)
    typ, body = r.request(READ, sstr(h) + struct.pack(">QI", 4, 100))
    assert (typ, body) == (DATA, sstr(b"456789"))
    typ, body = r.request(READ, sstr(h) + struct.pack(">QI", 10, 100))
    assert typ == 101 and struct.unpack(">I", body[:4])[0] == FX_EOF
    typ, body = r.request(FSTAT, sstr(h))
    assert typ == ATTRS
    assert r.status(WRITE, sstr(h) + struct.pack(">Q", 0) + sstr(b"x")) == FX_FAILURE  # a read handle
    assert r.status(CLOSE, sstr(h)) == FX_OK
    assert r.status(CLOSE, sstr(h)) == FX_FAILURE  # closed: invalid
    assert r.status(READ, sstr(b"\0\0\0\1") + struct.pack(">QI", 0, 1)) == FX_FAILURE  # never opened
    assert r.status(READ, sstr(b"x" * 300) + struct.pack(">QI", 0, 1)) == FX_FAILURE
    # limits@openssh.com and statvfs@openssh.com.
    typ, body = r.request(EXTENDED, sstr("limits@openssh.com"))
    assert typ == EXTENDED_REPLY and struct.unpack(">QQQQ", body) == (262144, 261120, 261120, 64)
    typ, body = r.request(EXTENDED, sstr("statvfs@openssh.com") + sstr("/"))
    assert typ == EXTENDED_REPLY and len(body) == 88
    typ, body = r.request(EXTENDED, sstr("expand-path@openssh.com") + sstr("~/x/../y"))
    assert typ == NAME and body[4:10] == sstr("/y")
    typ, body = r.request(REALPATH, sstr("../../.."))
    assert typ == NAME and body[4:9] == sstr("/")
    t.close()


def test_handles_of_another_session_find_nothing(srv):
    put_file(os.path.join(home(srv), "f"), b"secret")
    t1, t2 = transport(srv), transport(srv)
    r1, r2 = Raw(t1), Raw(t2)
    h = r1.open("/f", FXF_READ)
    # The same bytes are nothing in the other session (its table is empty).
    assert r2.status(READ, sstr(h) + struct.pack(">QI", 0, 100)) == FX_FAILURE
    assert r2.status(CLOSE, sstr(h)) == FX_FAILURE
    typ, body = r1.request(READ, sstr(h) + struct.pack(">QI", 0, 100))
    assert (typ, body) == (DATA, sstr(b"secret"))
    t1.close()
    t2.close()


def test_pipelined_reads_answered_in_order(srv):
    data = os.urandom(64 * 32768)
    put_file(os.path.join(home(srv), "big"), data)
    t = transport(srv)
    r = Raw(t)
    h = r.open("/big", FXF_READ)
    for i in range(64):
        r.send(READ, struct.pack(">I", 1000 + i) + sstr(h) + struct.pack(">QI", i * 32768, 32768))
    got = b""
    for i in range(64):
        typ, body = r.recv()
        assert typ == DATA and struct.unpack(">I", body[:4])[0] == 1000 + i
        got += body[8:]
    assert got == data
    t.close()


def test_malformed_packets(srv):
    t = transport(srv)
    r = Raw(t)
    # Truncated: a path length past the end of the packet (the id was read).
    r.send(STAT, struct.pack(">I", 77) + struct.pack(">I", 1000) + b"abc")
    typ, body = r.recv()
    assert typ == 101 and struct.unpack(">II", body[:8]) == (77, FX_BAD_MESSAGE)
    # Bytes left over after the fields: ignored, as OpenSSH's server does (rclone sends them).
    r.send(REMOVE, struct.pack(">I", 78) + sstr("/x") + b"!")
    typ, body = r.recv()
    assert typ == 101 and struct.unpack(">II", body[:8]) == (78, FX_NO_SUCH_FILE)
    # Still serving.
    assert r.request(STAT, sstr("/"))[0] == ATTRS
    # Over the packet limit: the stream cannot be resynchronised, the connection closes.
    r.send_raw(struct.pack(">I", 256 * 1024 + 1) + b"\x03")
    with pytest.raises((EOFError, OSError, socket.timeout)):
        r.recv()
    wait_until(lambda: not t.is_active(), 10, what="the connection to close")
    t.close()
    srv.wait_log(r"sftp: closing: ip=127\.0\.0\.1 reason=packet-too-large")


def test_requests_before_init_close(srv):
    t = transport(srv)
    r = Raw(t, init=False)
    r.send(STAT, struct.pack(">I", 1) + sstr("/"))
    with pytest.raises((EOFError, OSError, socket.timeout)):
        r.recv()
    t.close()
    srv.wait_log(r"sftp: closing: ip=127\.0\.0\.1 reason=no-init")


def test_upload_modes(srv):
    """TRUNC: a temporary committed at CLOSE; APPEND: at the end; neither: in place at the
    client's offsets (a resumed upload), never truncated."""
    h = home(srv)
    t = transport(srv)
    r = Raw(t)
    put_file(os.path.join(h, "f"), b"old content")
    w = r.open("/f", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
    assert r.status(WRITE, sstr(w) + struct.pack(">Q", 0) + sstr(b"new")) == FX_OK
    # Not under the final name before CLOSE, and no temporary is listed.
    with open(os.path.join(h, "f"), "rb") as f:
        assert f.read() == b"old content"
    d = r.handle(OPENDIR, sstr("/"))
    typ, body = r.request(READDIR, sstr(d))
    assert typ == NAME and b".ferry-upload" not in body
    assert r.status(CLOSE, sstr(d)) == FX_OK
    assert r.status(CLOSE, sstr(w)) == FX_OK
    with open(os.path.join(h, "f"), "rb") as f:
        assert f.read() == b"new"
    a = r.open("/f", FXF_WRITE | FXF_APPEND)
    assert r.status(WRITE, sstr(a) + struct.pack(">Q", 0) + sstr(b"+more")) == FX_OK
    assert r.status(CLOSE, sstr(a)) == FX_OK
    with open(os.path.join(h, "f"), "rb") as f:
        assert f.read() == b"new+more"
    p = r.open("/f", FXF_WRITE)
    assert r.status(WRITE, sstr(p) + struct.pack(">Q", 8) + sstr(b"!!")) == FX_OK
    assert r.status(WRITE, sstr(p) + struct.pack(">Q", 1) + sstr(b"E")) == FX_OK
    assert r.status(CLOSE, sstr(p)) == FX_OK
    with open(os.path.join(h, "f"), "rb") as f:
        assert f.read() == b"nEw+more!!"
    t.close()
    srv.wait_log(r'cmd=APPE path="/f" bytes=5 status=ok protocol=sftp')


def test_interrupted_upload_keeps_the_old_file(srv):
    h = home(srv)
    put_file(os.path.join(h, "keep"), b"the old file")
    t = transport(srv)
    r = Raw(t)
    w = r.open("/keep", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
    assert r.status(WRITE, sstr(w) + struct.pack(">Q", 0) + sstr(b"x" * 100000)) == FX_OK
    t.sock.shutdown(socket.SHUT_RDWR)  # the connection is lost: no CLOSE
    t.close()
    srv.wait_log(r'cmd=STOR path="/keep" bytes=100000 status=aborted reason=conn-lost protocol=sftp')
    with open(os.path.join(h, "keep"), "rb") as f:
        assert f.read() == b"the old file"
    assert os.listdir(h) == ["keep"]


def test_permissions_are_the_users(srv):
    """The user's --perms decide, through the same files_allow as FTP."""
    name = "reader"
    srv.add_user(name, "pw")
    srv.ferry("user", "set", name, "--perms", "read,list", check=True)
    put_file(os.path.join(home(srv, name), "f"), b"data")
    c = client(srv, user=name)
    with c.open("/f", "rb") as f:
        assert f.read() == b"data"
    for op in (lambda: c.open("/g", "wb"), lambda: c.remove("/f"), lambda: c.mkdir("/d"),
               lambda: c.rename("/f", "/g"), lambda: c.chmod("/f", 0o600)):
        with pytest.raises(IOError) as e:
            op()
        assert e.value.errno == errno.EACCES
    assert os.listdir(home(srv, name)) == ["f"]
    c.close()


# ---- shared with FTP: limits, bans, hooks

def test_bans_and_user_limits_are_shared_with_ftp(make_server):
    s = start_sftp_server(make_server, {"limits": {"ban_failures": "2", "max_per_user": "1"}})
    # One FTP session of bob takes his only slot: an SFTP login is refused, and counted so.
    c = s.connect()
    c.login()
    with pytest.raises(paramiko.AuthenticationException):
        transport(s)
    s.wait_log(r'login refused: user="bob" ip=127\.0\.0\.1 reason=user-limit protocol=sftp')
    c.cmd("QUIT")
    c.close()
    # Two wrong SFTP passwords ban the address, for FTP too.
    for _ in range(2):
        with pytest.raises(paramiko.AuthenticationException):
            transport(s, password="wrong")
    s.wait_log(r"ban: ip=127\.0\.0\.1 group=127\.0\.0\.1 for=\d+s reason=failed-logins")
    c = s.connect()
    assert c.greeting.code == 421 and "failed logins" in c.greeting.text, c.greeting
    c.close()
    with pytest.raises((paramiko.SSHException, EOFError, OSError)):
        transport(s)
    s.wait_log(r"refused: ip=127\.0\.0\.1 reason=banned group=127\.0\.0\.1 protocol=sftp")


def test_upload_hook_names_sftp(make_server):
    import shutil
    import tempfile
    d = tempfile.mkdtemp(prefix="ferry-sftp-hook-", dir="/tmp")
    try:
        os.chmod(d, 0o777)  # the hook runs as the service user and writes here
        out = os.path.join(d, "hook.out")
        hook = os.path.join(d, "hook.sh")
        with open(hook, "w") as f:
            f.write(f"#!/bin/sh\nprintf '%s %s %s\\n' \"$FERRY_PROTOCOL\" \"$FERRY_USER\" \"$FERRY_PATH\" > {out}\n")
        os.chmod(hook, 0o755)
        s = start_sftp_server(make_server, {"hooks": {"upload_exec": hook}})
        c = client(s)
        with c.open("/h.txt", "wb") as f:
            f.write(b"x")
        c.close()
        wait_until(lambda: os.path.exists(out) and open(out).read(), 10, what="the hook to run")
        assert open(out).read() == "sftp bob /h.txt\n"
    finally:
        shutil.rmtree(d, ignore_errors=True)
