"""SFTP check-file-name / check-file-handle (draft-ietf-secsh-filexfer-extensions-00 §3; paramiko's
SFTPFile.check sends the handle form as "check-file"): digests of a file's range, whole or per
block, computed by FTP's HASH code (core/hash.c) on the job pool; checked against hashlib and
zlib.crc32. Errors (no supported algorithm, too small or too many blocks, a range past the end,
the read permission, a handle not open for reading or of another session), answers in order
behind a running hash, and [limits] hash_jobs: a session that leaves in the middle of a long
hash cancels it and gives its slot back."""

import hashlib
import os
import struct
import zlib

import pytest

from conftest import IS_ROOT, SERVICE_USER
from sftp_helpers import (EXTENDED, EXTENDED_REPLY, FX_FAILURE, FX_NO_SUCH_FILE, FX_OP_UNSUPPORTED,
                          FX_PERMISSION_DENIED, FXF_CREAT, FXF_READ, FXF_TRUNC, FXF_WRITE, STAT, STATUS, ATTRS,
                          Raw, client, sstr, start_sftp_server, transport)
from sftp_helpers import needs_sftp  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("needs_sftp")

# 1 MiB and a bit of bytes that are not a pattern, so every block's digest differs.
DATA = hashlib.shake_256(b"ferry check-file").digest(1 << 20) + b"the tail"
# SHA-256 of 1 GiB of zero bytes (hashlib over bytes(1 << 30)): the digest of a sparse file below.
ZERO_GIB_SHA256 = bytes.fromhex("49bc20df15e412a64472421e13fe86ff1c5165e18b2afccf160d4dc19fe68a14")


def put_file(path, data):
    with open(path, "wb") as f:
        f.write(data)
    if IS_ROOT:
        import pwd
        pw = pwd.getpwnam(SERVICE_USER)
        os.chown(path, pw.pw_uid, pw.pw_gid)


@pytest.fixture
def srv(make_server):
    s = start_sftp_server(make_server)
    put_file(os.path.join(s.home_root, "bob", "f.bin"), DATA)
    put_file(os.path.join(s.home_root, "bob", "small"), b"0123456789")
    os.mkdir(os.path.join(s.home_root, "bob", "dir"))
    return s


def digest(alg, data):
    if alg == "crc32":
        return struct.pack(">I", zlib.crc32(data))
    return hashlib.new(alg, data).digest()


def blocks(alg, data, size):
    return b"".join(digest(alg, data[i:i + size]) for i in range(0, len(data), size))


def check_body(name, target, algs, offset=0, length=0, block=0):
    return sstr(name) + sstr(target) + sstr(algs) + struct.pack(">QQI", offset, length, block)


def check_reply(raw, body):
    """(algorithm, digest bytes) of an EXTENDED_REPLY, or fails with what came instead."""
    typ, rb = raw.request(EXTENDED, body)
    assert typ == EXTENDED_REPLY, (typ, rb)
    n = struct.unpack(">I", rb[:4])[0]
    assert rb[4:4 + n] == b"check-file"
    rb = rb[4 + n:]
    n = struct.unpack(">I", rb[:4])[0]
    return rb[4:4 + n].decode(), rb[4 + n:]


def check_status(raw, body):
    typ, rb = raw.request(EXTENDED, body)
    assert typ == STATUS, (typ, rb)
    n = struct.unpack(">I", rb[4:8])[0]
    return struct.unpack(">I", rb[:4])[0], rb[8:8 + n].decode()


def test_paramiko_check_matches_hashlib(srv):
    c = client(srv)
    with c.open("/f.bin", "rb") as f:
        for alg in ("md5", "sha1", "sha256", "sha512"):
            assert f.check(alg) == digest(alg, DATA), alg
            # a range, and a length past the end (clamped to it)
            assert f.check(alg, 1000, 300000) == digest(alg, DATA[1000:301000]), alg
            assert f.check(alg, len(DATA) - 5, 1000) == digest(alg, DATA[-5:]), alg
            # one digest per block, the last one shorter
            assert f.check(alg, 0, 0, 65536) == blocks(alg, DATA, 65536), alg
            assert f.check(alg, 777, 10000, 256) == blocks(alg, DATA[777:10777], 256), alg
        # the first supported of the client's list
        assert f.check("sha384,crc32,md5") == digest("crc32", DATA)
        assert f.check("crc32", 0, 0, 262144) == blocks("crc32", DATA, 262144)
        with pytest.raises(IOError):
            f.check("sha384")
        # the handle still reads after the hash
        assert f.read(4) == DATA[:4]
    with c.open("/small", "rb") as f:
        assert f.check("sha256", 10) == hashlib.sha256(b"").digest()  # an empty range: its hash
    c.close()


def test_check_file_name_and_errors(srv):
    t = transport(srv)
    raw = Raw(t)
    assert raw.extensions["check-file-name"] == "1"
    assert raw.extensions["check-file-handle"] == "1"
    assert check_reply(raw, check_body("check-file-name", "/f.bin", "sha384,sha1,md5")) == (
        "sha1", hashlib.sha1(DATA).digest())
    assert check_reply(raw, check_body("check-file-name", "f.bin", "sha512", 5, 100)) == (
        "sha512", hashlib.sha512(DATA[5:105]).digest())
    assert check_reply(raw, check_body("check-file-name", "/small", "md5", 0, 0, 256)) == (
        "md5", hashlib.md5(b"0123456789").digest())
    assert check_reply(raw, check_body("check-file-name", "/small", "md5", 10, 0, 256)) == ("md5", b"")
    # the IANA names FTP's HASH takes (WinSCP's documentation suggests "sha-1")
    assert check_reply(raw, check_body("check-file-name", "/small", "sha-1")) == (
        "sha1", hashlib.sha1(b"0123456789").digest())
    # the draft's names for the file handle form
    h = raw.open("/small", FXF_READ)
    assert check_reply(raw, check_body("check-file-handle", h, "crc32", 2, 3)) == (
        "crc32", struct.pack(">I", zlib.crc32(b"234")))
    cases = [
        (check_body("check-file-name", "/f.bin", "sha384,sha224,SHA-384"), FX_OP_UNSUPPORTED,
         "No supported hash algorithm (md5, sha1, sha256, sha512, crc32)"),
        (check_body("check-file-name", "/f.bin", "md5", 0, 0, 255), FX_FAILURE,
         "Block size must be 0 or at least 256"),
        (check_body("check-file-name", "/small", "md5", 11), FX_FAILURE, "Start offset past the end of the file"),
        # 4097 SHA-512 digests do not fit one reply (at most 128 KiB of digests)
        (check_body("check-file-name", "/f.bin", "sha512", 0, 0, 256), FX_FAILURE,
         "Too many blocks: ask for larger blocks or a shorter range"),
        (check_body("check-file-name", "/nosuch", "md5"), FX_NO_SUCH_FILE, None),
        (check_body("check-file-name", "/dir", "md5"), FX_FAILURE, None),
        (check_body("check-file-name", "/../../etc/passwd", "md5"), FX_NO_SUCH_FILE, None),
        (check_body("check-file-handle", b"\0\0\0\x09", "md5"), FX_FAILURE, "Invalid handle"),
    ]
    for body, code, msg in cases:
        got = check_status(raw, body)
        assert got[0] == code, (body, got)
        if msg:
            assert got[1] == msg
    # a truncated request is malformed, and the channel goes on
    assert check_status(raw, sstr("check-file-name") + sstr("/f.bin") + sstr("md5"))[0] == 5
    # requests behind a running check-file are answered after it, in order: the STAT goes only
    # once the hash of a 1 GiB sparse file has started (logged), far longer than sending it
    big = os.path.join(srv.home_root, "bob", "big.sparse")
    put_file(big, b"")
    os.truncate(big, 1 << 30)
    raw.send(EXTENDED, struct.pack(">I", 900) + check_body("check-file-name", "/big.sparse", "sha256"))
    srv.wait_log(r'sftp: check-file: alg=sha256 offset=0 length=1073741824 block=0 path="/big.sparse"',
                 timeout=60)
    raw.send(STAT, struct.pack(">I", 901) + sstr("/small"))
    typ, body = raw.recv()
    assert typ == EXTENDED_REPLY and struct.unpack(">I", body[:4])[0] == 900
    assert body.endswith(ZERO_GIB_SHA256)
    typ, body = raw.recv()
    assert typ == ATTRS and struct.unpack(">I", body[:4])[0] == 901
    t.close()
    srv.wait_log(r'sftp: check-file: alg=sha1 offset=0 length=1048584 block=0 path="/f.bin"')


def test_check_needs_read_and_a_read_handle(srv):
    # a user without "read": refused by name; a handle open for writing is not one to hash
    srv.add_user("lister", "pw")
    srv.ferry("user", "set", "lister", "--perms", "list,write", check=True)
    put_file(os.path.join(srv.home_root, "lister", "f"), b"secret")
    t = transport(srv, user="lister")
    raw = Raw(t)
    assert check_status(raw, check_body("check-file-name", "/f", "md5"))[0] == FX_PERMISSION_DENIED
    h = raw.open("/new", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
    assert check_status(raw, check_body("check-file-handle", h, "md5")) == (FX_FAILURE, "Invalid handle")
    t.close()


def test_handle_of_another_session(srv):
    ta, tb = transport(srv), transport(srv)
    a, b = Raw(ta), Raw(tb)
    h = a.open("/small", FXF_READ)
    assert check_status(b, check_body("check-file-handle", h, "md5")) == (FX_FAILURE, "Invalid handle")
    assert check_reply(a, check_body("check-file-handle", h, "md5"))[1] == hashlib.md5(b"0123456789").digest()
    ta.close()
    tb.close()


def test_session_leaving_mid_hash_frees_its_slot(make_server):
    # [limits] hash_jobs = 1: while a session hashes a big sparse file (SHA-512 of 64 GiB takes
    # far longer than the test), another session of bob is refused at once; the first one leaves
    # in the middle: its job is cancelled (at its next read), the slot given back, ferryd is fine,
    # and a hash works again. Without the cancel the slot would stay taken past the bounds below.
    srv = start_sftp_server(make_server, {"limits": {"hash_jobs": "1"}})
    home = os.path.join(srv.home_root, "bob")
    put_file(os.path.join(home, "small"), b"0123456789")
    big = os.path.join(home, "big.sparse")
    put_file(big, b"")
    os.truncate(big, 64 << 30)
    ta = transport(srv)
    a = Raw(ta)
    a.send(EXTENDED, struct.pack(">I", 1) + check_body("check-file-name", "/big.sparse", "sha512"))
    srv.wait_log(r'sftp: check-file: alg=sha512 offset=0 length=68719476736 block=0 path="/big.sparse"', timeout=30)
    tb = transport(srv)
    b = Raw(tb)
    assert check_status(b, check_body("check-file-name", "/small", "md5")) == (
        FX_FAILURE, "Too many checksums running: [limits] hash_jobs")
    ta.close()  # leaves while its hash runs
    srv.wait_log(r"sftp: check-file end: result=cancelled", timeout=60)
    assert check_reply(b, check_body("check-file-name", "/small", "md5")) == (
        "md5", hashlib.md5(b"0123456789").digest())
    srv.wait_log(r"sftp: check-file end: result=ok", timeout=30)
    tb.close()
    assert srv.alive()
