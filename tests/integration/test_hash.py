"""Integrity checks against the real ferryd (issue 18; PROTOCOL.md Decision 15, checklist J.186,
J.187, J.194): HASH and OPTS HASH (draft-bryan-ftpext-hash-02), RANG (draft-bryan-ftp-range) for
HASH and RETR, and the de-facto XCRC/XMD5/XSHA1/XSHA256/XSHA512 (as ProFTPD's mod_digest: 250 and
upper-case hex, optional "start end" with the end exclusive). Every digest is checked against
Python's hashlib / zlib.crc32 over the bytes on disk; Python ftplib, lftp (`quote HASH`) and curl
(`-Q "HASH f"`) as real clients. No test depends on timing: a hash is waited for as a reply."""

import ftplib
import hashlib
import io
import os
import zlib

import pytest

from conftest import wait_until
from files_helpers import fresh_dir, make_dir, make_symlink, put_file
from test_clients import clean_home, need, run  # noqa: F401 (clean_home is a fixture)

ALGS = {
    "SHA-256": lambda b: hashlib.sha256(b).hexdigest(),
    "SHA-512": lambda b: hashlib.sha512(b).hexdigest(),
    "SHA-1": lambda b: hashlib.sha1(b).hexdigest(),
    "MD5": lambda b: hashlib.md5(b).hexdigest(),
    "CRC32": lambda b: format(zlib.crc32(b), "08x"),
}
X_CMDS = {"XCRC": "CRC32", "XMD5": "MD5", "XSHA1": "SHA-1", "XSHA256": "SHA-256", "XSHA512": "SHA-512"}

# 300 KiB of fixed pseudo-random bytes: more than one read chunk of the hasher.
DATA = bytes((i * 7919 + (i >> 8) * 31) & 0xFF for i in range(300 * 1024 + 17))


@pytest.fixture
def wd(server, request):
    p, v = fresh_dir(server, request, "hash_")
    put_file(os.path.join(p, "f.bin"), DATA)
    put_file(os.path.join(p, "small"), b"0123456789")
    put_file(os.path.join(p, "empty"), b"")
    put_file(os.path.join(p, "with space"), b"spaced")
    make_dir(os.path.join(p, "d"))
    make_symlink("/etc/passwd", os.path.join(p, "out"))
    return p, v


@pytest.fixture
def ftp(server, wd):
    f = ftplib.FTP()
    f.connect(server.host, server.port, timeout=60)
    f.login("bob", "pw")
    f.cwd(wd[1])
    yield f
    try:
        f.quit()
    except (ftplib.Error, OSError):
        f.close()


def perm_code(f, cmd):
    with pytest.raises(ftplib.Error) as e:
        f.sendcmd(cmd)
    return str(e.value)


def test_hash_default_sha256_whole_file(ftp):
    assert ftp.sendcmd("OPTS HASH") == "200 SHA-256"
    r = ftp.sendcmd("HASH f.bin")
    assert r == f"213 SHA-256 0-{len(DATA) - 1} {hashlib.sha256(DATA).hexdigest()} f.bin"


@pytest.mark.parametrize("alg", list(ALGS))
def test_hash_every_algorithm(ftp, alg):
    assert ftp.sendcmd(f"OPTS HASH {alg.lower()}") == f"200 {alg}"
    assert ftp.sendcmd("HASH f.bin") == f"213 {alg} 0-{len(DATA) - 1} {ALGS[alg](DATA)} f.bin"
    # FEAT stars the selection (draft §3.1).
    feat = ftp.sendcmd("FEAT").split("\n")
    line = [x.strip() for x in feat if x.strip().startswith("HASH ")]
    assert line == ["HASH " + ";".join(a + ("*" if a == alg else "") for a in ALGS)]
    assert " RANG STREAM" in [x.rstrip("\r") for x in feat]


@pytest.mark.parametrize("start,end", [(0, 0), (0, 49), (1000, 262143), (262143, 262144),
                                       (len(DATA) - 1, len(DATA) - 1), (5, len(DATA) - 1)])
def test_hash_ranges(ftp, start, end):
    for alg in ("SHA-256", "CRC32"):
        ftp.sendcmd(f"OPTS HASH {alg}")
        assert ftp.sendcmd(f"RANG {start} {end}").startswith("350 ")
        want = ALGS[alg](DATA[start:end + 1])
        assert ftp.sendcmd("HASH f.bin") == f"213 {alg} {start}-{end} {want} f.bin"
    # used once: the next HASH is the whole file again
    assert ftp.sendcmd("HASH f.bin").startswith(f"213 CRC32 0-{len(DATA) - 1} ")


def test_rang_end_past_eof_is_clamped_start_past_eof_refused(ftp):
    ftp.sendcmd("RANG 10 99999999")
    want = hashlib.sha256(DATA[10:]).hexdigest()
    assert ftp.sendcmd("HASH f.bin") == f"213 SHA-256 10-{len(DATA) - 1} {want} f.bin"
    ftp.sendcmd(f"RANG {len(DATA)} {len(DATA) + 10}")
    assert perm_code(ftp, "HASH f.bin").startswith("501 Range start")
    # the refusal used the range up
    assert ftp.sendcmd("HASH small") == f"213 SHA-256 0-9 {hashlib.sha256(b'0123456789').hexdigest()} small"


def test_rang_reset_and_bad_ranges(ftp):
    assert ftp.sendcmd("RANG 2 5").startswith("350")
    assert ftp.sendcmd("RANG 1 0").startswith("350")
    assert ftp.sendcmd("HASH small").startswith("213 SHA-256 0-9 ")
    ftp.sendcmd("RANG 2 5")
    assert perm_code(ftp, "RANG 6 5").startswith("501")
    assert ftp.sendcmd("HASH small").startswith("213 SHA-256 0-9 ")  # reset by the 501
    for bad in ("RANG 5", "RANG a b", "RANG -1 5", "RANG 1 2 3"):
        assert perm_code(ftp, bad).startswith("501")


def test_rang_with_retr_sends_the_inclusive_range(ftp):
    ftp.voidcmd("TYPE I")
    ftp.sendcmd("RANG 1000 1999")
    got = bytearray()
    ftp.retrbinary("RETR f.bin", got.extend)
    assert bytes(got) == DATA[1000:2000]
    ftp.sendcmd(f"RANG {len(DATA) - 3} {len(DATA) + 100}")
    got = bytearray()
    ftp.retrbinary("RETR f.bin", got.extend)
    assert bytes(got) == DATA[-3:]
    got = bytearray()
    ftp.retrbinary("RETR f.bin", got.extend)  # range used up
    assert bytes(got) == DATA


def test_rang_refused_for_stor_and_type_a(ftp, wd):
    ftp.voidcmd("TYPE I")
    ftp.sendcmd("RANG 0 3")
    with pytest.raises(ftplib.error_perm, match="^504"):
        ftp.storbinary("STOR small", io.BytesIO(b"XXXX"))
    with open(os.path.join(wd[0], "small"), "rb") as fh:
        assert fh.read() == b"0123456789"  # untouched
    ftp.voidcmd("TYPE A")
    ftp.sendcmd("RANG 0 3")
    assert perm_code(ftp, "RETR small") == "551 RANG needs TYPE I."  # before any data connection


def test_hash_errors(ftp):
    assert perm_code(ftp, "HASH nosuch").startswith("550")
    assert perm_code(ftp, "HASH d").startswith("553")
    assert perm_code(ftp, "OPTS HASH CRC-37") == "501 Unknown algorithm, current selection not changed."
    assert ftp.sendcmd("OPTS HASH") == "200 SHA-256"
    empty = hashlib.sha256(b"").hexdigest()
    assert ftp.sendcmd("HASH empty") == f"213 SHA-256 0-0 {empty} empty"
    assert ftp.sendcmd("HASH with space") == f"213 SHA-256 0-5 {hashlib.sha256(b'spaced').hexdigest()} with space"


@pytest.mark.parametrize("path", ["../../../../../../etc/passwd", "/../../../etc/passwd", "out",
                                  "d/../../../../../etc/passwd"])
def test_hash_traversal_refused(ftp, path):
    for cmd in ("HASH", "XSHA256"):
        assert perm_code(ftp, f"{cmd} {path}").startswith("550")


@pytest.mark.parametrize("cmd", list(X_CMDS))
def test_x_commands(ftp, cmd):
    alg = X_CMDS[cmd]
    assert ftp.sendcmd(f"{cmd} f.bin") == "250 " + ALGS[alg](DATA).upper()
    # "path start end": end exclusive (ProFTPD mod_digest)
    assert ftp.sendcmd(f"{cmd} f.bin 100 5000") == "250 " + ALGS[alg](DATA[100:5000]).upper()
    assert ftp.sendcmd(f"{cmd} with space") == "250 " + ALGS[alg](b"spaced").upper()
    assert perm_code(ftp, f"{cmd} f.bin 5 2").startswith("501")
    assert perm_code(ftp, f"{cmd} f.bin 0 {len(DATA) + 1}").startswith("501")
    assert perm_code(ftp, f"{cmd} f.bin 7").startswith("501")
    assert perm_code(ftp, f"{cmd} nosuch").startswith("550")
    assert perm_code(ftp, f"{cmd} d").startswith("550")


def test_hash_needs_login_and_read_permission(server, wd, ctl):
    c = ctl(server)
    c.expect(f"HASH {wd[1]}/small", 530)
    c.expect(f"XCRC {wd[1]}/small", 530)


# SHA-512 of 1 GiB of zero bytes (hashlib over bytes(1 << 30)): the digest of the sparse file below.
ZERO_GIB_SHA512 = ("c5041ae163cf0f65600acfe7f6a63f212101687d41a57a4e18ffd2a07a452cd8"
                   "175b8f5a4868dd2330bfe5ae123f18216bdbc9e0f80d131e64b94913a7b40bb5")


def test_abor_and_quit_during_hash_wait_for_it(server, wd, ctl):
    # ABOR and QUIT sent while a HASH runs are answered after its 213, in order. The hash is
    # running when they are sent: they go only once its "hash: start" line is logged, and SHA-512
    # of a 1 GiB (sparse) file takes far longer than sending two lines.
    big = os.path.join(wd[0], "big.sparse")
    put_file(big, b"")
    os.truncate(big, 1 << 30)
    c = ctl(server)
    c.login()
    c.expect("OPTS HASH SHA-512", 200)
    c.send(f"HASH {wd[1]}/big.sparse\r\n".encode())
    server.wait_log(r'hash: start alg=SHA-512 range=0-1073741823 path="[^"]*/big\.sparse"', timeout=60)
    c.send(f"ABOR\r\nHASH {wd[1]}/small\r\nQUIT\r\n".encode())
    r = c.reply(timeout=300)
    assert r.lines == [f"213 SHA-512 0-1073741823 {ZERO_GIB_SHA512} {wd[1]}/big.sparse"]
    assert c.reply().code == 225
    r = c.reply()
    assert r.lines == [f"213 SHA-512 0-9 {hashlib.sha512(b'0123456789').hexdigest()} {wd[1]}/small"]
    assert c.reply().code == 221
    c.assert_closed()


def test_hash_jobs_limit_slot_freed_when_client_leaves(make_server):
    # [limits] hash_jobs = 1: a client that disconnects in the middle of a long hash stops it
    # (the job polls a cancel flag between reads) and gives its slot back; a new session's HASH
    # then succeeds. Without the cancel the 8 GiB hash would hold the slot far past the bounds.
    srv = make_server(config={"limits": {"hash_jobs": "1"}})
    home = os.path.join(srv.home_root, "bob")
    big = os.path.join(home, "big.sparse")
    put_file(big, b"")
    os.truncate(big, 8 << 30)  # sparse: SHA-512 of 8 GiB takes many seconds, leaving takes none
    put_file(os.path.join(home, "small"), b"0123456789")
    c = srv.connect()
    c.login()
    c.send(b"OPTS HASH SHA-512\r\nHASH big.sparse\r\n")
    assert c.reply().code == 200
    # leave only once the hash runs (leaving before ferryd reads the HASH would start none)
    srv.wait_log(r'hash: start alg=SHA-512 range=0-8589934591 path="big\.sparse"', timeout=60)
    c.close()
    want = f"213 SHA-256 0-9 {hashlib.sha256(b'0123456789').hexdigest()} small"
    seen = []

    def small_hash_ok():
        s = srv.connect()
        try:
            s.login()
            r = s.cmd("HASH small", timeout=120)
            seen.append(r.lines[0])
            return r.lines[0] == want
        finally:
            s.close()
    srv.wait_log(r"hash cancelled: the client left", timeout=60)
    wait_until(small_hash_ok, 60, interval=0.2, what="a HASH once the slot is free")
    assert all(x == want or x.startswith("450 ") for x in seen), seen
    assert srv.alive()


def test_lftp_quote_hash(server, wd, clean_home):
    _, env = clean_home
    base = ("set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 10; "
            "set net:reconnect-interval-base 1; set cmd:fail-exit yes; ")
    cp = run([need("lftp"), "-c", base + f"open -u bob,pw ftp://{server.host}:{server.port}; "
              f"quote OPTS HASH MD5; quote HASH {wd[1]}/f.bin; quote XCRC {wd[1]}/small"], env=env)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert f"213 MD5 0-{len(DATA) - 1} {hashlib.md5(DATA).hexdigest()} {wd[1]}/f.bin" in cp.stdout
    assert "250 " + format(zlib.crc32(b"0123456789"), "08X") in cp.stdout


def test_curl_quote_hash(server, wd, clean_home):
    _, env = clean_home
    cp = run([need("curl"), "-s", "-S", "-v", "--max-time", "60", "--connect-timeout", "5", "-u", "bob:pw",
              "-Q", f"HASH {wd[1]}/f.bin", "-Q", "RANG 0 9", "-Q", f"HASH {wd[1]}/small", "--list-only",
              f"ftp://{server.host}:{server.port}{wd[1]}/"], env=env)
    assert cp.returncode == 0, cp.stderr
    assert f"< 213 SHA-256 0-{len(DATA) - 1} {hashlib.sha256(DATA).hexdigest()} {wd[1]}/f.bin" in cp.stderr
    assert f"< 213 SHA-256 0-9 {hashlib.sha256(b'0123456789').hexdigest()} {wd[1]}/small" in cp.stderr
    # curl fails a quote command that gets an error (exit 21)
    cp = run([need("curl"), "-s", "-S", "--max-time", "30", "--connect-timeout", "5", "-u", "bob:pw",
              "-Q", f"HASH {wd[1]}/nosuch", "--list-only", f"ftp://{server.host}:{server.port}{wd[1]}/"], env=env)
    assert cp.returncode == 21, cp.stderr


def test_hash_jobs_limit_450_while_another_session_hashes(make_server):
    # [limits] hash_jobs = 1: while one session of bob hashes (its slot taken: the "hash: start"
    # line is logged after the slot is), another session of bob gets 450 at once, alice is not
    # affected; once the first ends (its client leaves: cancelled), bob can hash again.
    srv = make_server(config={"limits": {"hash_jobs": "1"}},
                      users=[("bob", "pw"), ("alice", "pw")])
    for user in ("bob", "alice"):
        home = os.path.join(srv.home_root, user)
        put_file(os.path.join(home, "small"), b"0123456789")
    big = os.path.join(srv.home_root, "bob", "big.sparse")
    put_file(big, b"")
    os.truncate(big, 16 << 30)  # sparse: SHA-512 of 16 GiB takes far longer than the test needs
    a = srv.connect()
    a.login()
    a.expect("OPTS HASH SHA-512", 200)
    a.send(b"HASH big.sparse\r\n")
    srv.wait_log(r"hash: start alg=SHA-512 range=0-17179869183 path=\"big.sparse\"", timeout=30)
    b = srv.connect()
    b.login()
    r = b.cmd("HASH small", timeout=30)
    assert r.lines == ["450 Too many checksums running for this user; try again later."]
    r = b.cmd("XCRC small", timeout=30)
    assert r.code == 450
    c = srv.connect()
    c.login("alice", "pw")
    r = c.cmd("HASH small", timeout=30)
    assert r.lines == [f"213 SHA-256 0-9 {hashlib.sha256(b'0123456789').hexdigest()} small"]
    c.close()
    a.close()
    srv.wait_log(r"hash cancelled: the client left", timeout=60)
    want = f"213 SHA-256 0-9 {hashlib.sha256(b'0123456789').hexdigest()} small"
    wait_until(lambda: b.cmd("HASH small", timeout=30).lines[0] == want, 60, interval=0.2,
               what="bob's HASH once the slot is free")
    b.close()
