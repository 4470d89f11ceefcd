"""Smoke test of the benchmark load generator (issue 8): build/bench/ferry-bench drives a real
ferryd in every mode, plain and FTPS, with tiny sizes, and its checks can fail: a corrupted,
truncated or missing byte, a wrong entry count and an unexpected reply code each make it exit 1
with a message naming the problem. Not timed: no performance is asserted here (bench/run
measures). The pattern the harness writes and checks is recomputed here in Python, so
`ferry-bench gen` and `verify` are checked against an independent implementation.
"""

import json
import os
import shutil
import sqlite3
import struct
import subprocess
import tempfile

import pytest

from conftest import HOST
from files_helpers import chown_svc, home_of
from tls_helpers import make_cert

RUN_TIMEOUT = 180   # bound for one ferry-bench run (ASan builds are slow)
M64 = (1 << 64) - 1


def pattern(name, size):
    """The content of a benchmark file named `name` (bench/pattern.c, independently): 4 KiB
    blocks of splitmix64 seeded by FNV-1a of the base name; bytes 0-7 of block i XOR i."""
    h = 0xcbf29ce484222325
    for c in name.encode():
        h = ((h ^ c) * 0x100000001b3) & M64
    words = []
    for _ in range(4096 // 8):
        h = (h + 0x9E3779B97F4A7C15) & M64
        z = h
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        words.append(z ^ (z >> 31))
    block = struct.pack("<512Q", *words)
    out = bytearray()
    i = 0
    while len(out) < size:
        head = struct.pack("<Q", struct.unpack("<Q", block[:8])[0] ^ i)
        out += head + block[8:]
        i += 1
    return bytes(out[:size])


@pytest.fixture(scope="module")
def bench_bin():
    build = os.environ.get("FERRY_BUILD", os.path.join(os.path.dirname(__file__), "..", "..",
                                                       "build"))
    path = os.path.join(os.path.abspath(build), "bench", "ferry-bench")
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} not found: build first (scripts/build.sh release)")
    return path


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="ferry-bench-certs-", dir="/tmp")
    os.chmod(d, 0o755)
    yield make_cert(d, "bench")
    shutil.rmtree(d, ignore_errors=True)


def put(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    chown_svc(os.path.dirname(path))
    with open(path, "wb") as f:
        f.write(data)
    chown_svc(path)


BIG = 300_000          # not a multiple of 4096: the last block is partial
SMALL = 5
ENTRIES = 40


@pytest.fixture
def bench_server(make_server, certs, bench_bin):
    """ferryd with TLS (data_reuse = require, the default) and the bench layout in bob's home:
    small/f00000..f00004 (4 KiB), big/big.bin, d40/ (40 empty files), up/."""
    cert, key = certs
    s = make_server({"tls": {"cert": cert, "key": key}})
    home = home_of(s)
    for i in range(SMALL):
        put(os.path.join(home, "small", f"f{i:05d}"), pattern(f"f{i:05d}", 4096))
    put(os.path.join(home, "big", "big.bin"), pattern("big.bin", BIG))
    for i in range(ENTRIES):
        put(os.path.join(home, f"d{ENTRIES}", f"entry{i:06d}"), b"")
    os.makedirs(os.path.join(home, "up"))
    chown_svc(os.path.join(home, "up"))
    return s


def bench(bin_, server, mode, *args, tls=False, user="bob", password="pw", stdin=None):
    cmd = [bin_, mode, "--host", HOST, "--port", str(server.port), "--user", user, "--pass",
           password, "--op-timeout", "60", *args] + (["--tls"] if tls else [])
    return subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT,
                          stdin=stdin if stdin is not None else subprocess.DEVNULL)


def result(cp):
    lines = [l for l in cp.stdout.splitlines() if l.startswith("{")]
    assert len(lines) == 1, f"one JSON line expected: {cp.stdout!r} {cp.stderr!r}"
    return json.loads(lines[0])


def ok(cp, mode):
    assert cp.returncode == 0, f"ferry-bench {mode} failed: {cp.stdout}{cp.stderr}"
    r = result(cp)
    assert r["mode"] == mode and r["ok"] is True, r
    return r


def failed(cp, mode, message):
    assert cp.returncode == 1, f"ferry-bench {mode} should have failed: {cp.stdout}{cp.stderr}"
    r = result(cp)
    assert r["mode"] == mode and r["ok"] is False, r
    assert message in r["error"], r
    assert f"ferry-bench: FAIL: {mode}: " in cp.stderr and message in cp.stderr, cp.stderr
    return r


# --------------------------------------------------------------------------- test data


def test_gen_matches_independent_pattern(bench_bin, tmp_path):
    for name, size in (("big.bin", BIG), ("f00003", 4096), ("x", 0), ("y", 9)):
        p = tmp_path / name
        cp = subprocess.run([bench_bin, "gen", str(p), str(size)], capture_output=True,
                            timeout=30)
        assert cp.returncode == 0, cp.stderr
        assert p.read_bytes() == pattern(name, size), name
        cp = subprocess.run([bench_bin, "verify", str(p), str(size)], capture_output=True,
                            text=True, timeout=30)
        assert cp.returncode == 0 and json.loads(cp.stdout)["bytes"] == size, cp.stderr


def test_verify_fails_on_a_wrong_byte_a_short_or_a_long_file(bench_bin, tmp_path):
    p = tmp_path / "up-0"
    data = bytearray(pattern("up-0", 10000))
    data[5000] ^= 0x01
    p.write_bytes(bytes(data))
    cp = subprocess.run([bench_bin, "verify", str(p), "10000"], capture_output=True, text=True,
                        timeout=30)
    assert cp.returncode == 1
    assert cp.stderr == f"ferry-bench verify: FAIL: {p}: wrong byte at offset 5000\n"
    # A block in the wrong place: only its 8-byte header differs from the right one.
    good = pattern("up-0", 3 * 4096)
    p.write_bytes(good[:4096] + good[8192:] + good[4096:8192])
    cp = subprocess.run([bench_bin, "verify", str(p), str(3 * 4096)], capture_output=True,
                        text=True, timeout=30)
    assert cp.returncode == 1 and "wrong byte at offset 4096" in cp.stderr, cp.stderr
    p.write_bytes(good[:-1])
    cp = subprocess.run([bench_bin, "verify", str(p), str(3 * 4096)], capture_output=True,
                        text=True, timeout=30)
    assert cp.returncode == 1 and f"{3 * 4096 - 1} bytes, expected {3 * 4096}" in cp.stderr
    p.write_bytes(good + b"\0")
    cp = subprocess.run([bench_bin, "verify", str(p), str(3 * 4096)], capture_output=True,
                        text=True, timeout=30)
    assert cp.returncode == 1 and "longer than 12288 bytes" in cp.stderr, cp.stderr


# --------------------------------------------------------------------------- every mode


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_every_mode_succeeds_and_moves_verified_bytes(bench_bin, bench_server, tls):
    s = bench_server
    home = home_of(s)
    r = ok(bench(bench_bin, s, "logins", "--clients", "4", "--count", "12", "--time", "60",
                 tls=tls), "logins")
    assert r["tls"] is tls and r["logins"] >= 12 and r["clients"] == 4
    assert 0 < r["p50_ms"] <= r["p99_ms"] <= r["max_ms"]

    r = ok(bench(bench_bin, s, "files", "--dir", "small", "--files", str(SMALL), "--count", "12",
                 "--time", "60", tls=tls), "files")
    assert r["files"] == 12 and r["size"] == 4096

    for listing in ("LIST", "MLSD", "both"):
        r = ok(bench(bench_bin, s, "list", "--dir", f"d{ENTRIES}", "--entries", str(ENTRIES),
                     "--count", "2", "--listing", listing, "--time", "60", tls=tls), "list")
        assert r["entries"] == ENTRIES
        assert r["listings"] == (4 if listing == "both" else 2)

    # --wait-start: READY 1 once logged in; the listings start after a line on stdin.
    cp = bench(bench_bin, s, "list", "--dir", f"d{ENTRIES}", "--entries", str(ENTRIES), "--count",
               "1", "--listing", "MLSD", "--wait-start", tls=tls, stdin=None)
    assert cp.stdout.startswith("READY 1\n")
    assert ok(cp, "list")["listings"] == 1

    r = ok(bench(bench_bin, s, "retr", "--file", "big/big.bin", "--size", str(BIG),
                 "--streams", "3", "--time", "60", tls=tls), "retr")
    assert r["streams"] == 3 and r["bytes"] == 3 * BIG

    r = ok(bench(bench_bin, s, "stor", "--file", "up/u", "--size", str(BIG), "--streams", "2",
                 "--time", "60", tls=tls), "stor")
    assert r["bytes"] == 2 * BIG
    for i in range(2):
        with open(os.path.join(home, "up", f"u-{i}"), "rb") as f:
            assert f.read() == pattern(f"u-{i}", BIG)
        cp = subprocess.run([bench_bin, "verify", os.path.join(home, "up", f"u-{i}"), str(BIG)],
                            capture_output=True, text=True, timeout=30)
        assert cp.returncode == 0, cp.stderr
    assert s.alive()


def test_idle_holds_sessions_until_stdin_closes(bench_bin, bench_server):
    s = bench_server
    p = subprocess.Popen([bench_bin, "idle", "--host", HOST, "--port", str(s.port), "--user",
                          "bob", "--pass", "pw", "--sessions", "20", "--concurrency", "5",
                          "--time", "120"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "READY 20\n"
        # All 20 are logged in now: a 21st connection still gets its greeting (no limit hit).
        c = s.connect()
        assert c.greeting.code == 220
        c.close()
        p.stdin.close()
        p.stdin = None
        out, err = p.communicate(timeout=RUN_TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 0, err
    r = json.loads(out.strip())
    assert r["mode"] == "idle" and r["ok"] and r["sessions"] == 20 and r["alive"] == 20, r


def test_idle_tls_with_stdin_at_eof_releases_once_all_are_in(bench_bin, bench_server):
    cp = bench(bench_bin, bench_server, "idle", "--sessions", "8", "--time", "60", tls=True)
    r = ok(cp, "idle")
    assert cp.stdout.startswith("READY 8\n") and r["alive"] == 8


# --------------------------------------------------------------------------- the checks fail


def test_a_corrupted_download_fails_the_run(bench_bin, bench_server):
    s = bench_server
    path = os.path.join(home_of(s), "big", "big.bin")
    data = bytearray(pattern("big.bin", BIG))
    data[123457] ^= 0x20
    put(path, bytes(data))
    for tls in (False, True):
        failed(bench(bench_bin, s, "retr", "--file", "big/big.bin", "--size", str(BIG),
                     "--time", "60", tls=tls), "retr", "big/big.bin: wrong byte at offset 123457")
    put(os.path.join(home_of(s), "small", "f00002"), pattern("f00001", 4096))
    failed(bench(bench_bin, s, "files", "--dir", "small", "--files", str(SMALL), "--count", "10",
                 "--time", "60"), "files", "small/f00002: wrong byte at offset 0")


def test_a_short_or_long_download_fails_the_run(bench_bin, bench_server):
    s = bench_server
    path = os.path.join(home_of(s), "big", "big.bin")
    put(path, pattern("big.bin", BIG - 1))
    failed(bench(bench_bin, s, "retr", "--file", "big/big.bin", "--size", str(BIG), "--time",
                 "60"), "retr", f"big/big.bin: {BIG - 1} bytes, expected {BIG}")
    put(path, pattern("big.bin", BIG + 1))
    failed(bench(bench_bin, s, "retr", "--file", "big/big.bin", "--size", str(BIG), "--time",
                 "60"), "retr", f"big/big.bin: more than the {BIG} bytes expected")


def test_a_wrong_entry_count_fails_the_run(bench_bin, bench_server):
    s = bench_server
    put(os.path.join(home_of(s), f"d{ENTRIES}", "one-more"), b"")
    failed(bench(bench_bin, s, "list", "--dir", f"d{ENTRIES}", "--entries", str(ENTRIES),
                 "--count", "1", "--listing", "LIST"), "list",
           f"LIST of d{ENTRIES}: {ENTRIES + 1} entries, expected {ENTRIES}")
    failed(bench(bench_bin, s, "list", "--dir", f"d{ENTRIES}", "--entries", str(ENTRIES),
                 "--count", "1", "--listing", "MLSD", tls=True), "list",
           f"MLSD of d{ENTRIES}: {ENTRIES + 1} entries, expected {ENTRIES}")


def test_an_unexpected_reply_fails_the_run(bench_bin, bench_server):
    s = bench_server
    r = failed(bench(bench_bin, s, "logins", "--clients", "1", "--count", "1", password="wrong"),
               "logins", "unexpected reply: 530 ")
    assert "PASS ****" in r["error"] and "wrong" not in r["error"]
    failed(bench(bench_bin, s, "retr", "--file", "big/missing.bin", "--size", "10"), "retr",
           "(transfer, after RETR big/missing.bin): unexpected reply: 550 ")


# --------------------------------------------------------------------------- machine limits


def test_limits_report_and_check(bench_bin, bench_server, certs):
    r = ok(subprocess.run([bench_bin, "tcp-limit", "--size", str(8 << 20)], capture_output=True,
                          text=True, timeout=RUN_TIMEOUT), "tcp-limit")
    assert r["bytes"] == 8 << 20 and r["mib_s"] > 0
    cert, key = certs
    r = ok(subprocess.run([bench_bin, "tls-limit", "--size", str(8 << 20), "--cert", cert, "--key",
                           key], capture_output=True, text=True, timeout=RUN_TIMEOUT), "tls-limit")
    assert r["cipher"] == "TLS_AES_128_GCM_SHA256" and r["version"] == "TLSv1.3", r
    with sqlite3.connect(bench_server.db_path) as db:
        (h,) = db.execute("SELECT password_hash FROM users WHERE name = 'bob'").fetchone()
    assert h.startswith("$y$")
    r = ok(subprocess.run([bench_bin, "hash", "--hash", h, "--pass", "pw", "--count", "2"],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT), "hash")
    assert r["hashes"] == 2 and r["ms_per_hash"] > 0 and r["cores"] == os.cpu_count()
    cp = subprocess.run([bench_bin, "hash", "--hash", h, "--pass", "nope", "--count", "1"],
                        capture_output=True, text=True, timeout=RUN_TIMEOUT)
    failed(cp, "hash", "crypt_rn of --pass does not reproduce --hash")
