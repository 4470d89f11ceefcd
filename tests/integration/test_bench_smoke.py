"""Smoke test of the benchmark (issues 8 and 15): build/bench/ferry-bench drives a real ferryd
in every mode, plain and FTPS, with tiny sizes, and its checks can fail: a corrupted, truncated
or missing byte, a wrong entry count and an unexpected reply code each make it exit 1 with a
message naming the problem. Every result carries the generator's own CPU time over the measured
window, and --wait-start holds the load until the harness says go. Not timed: no performance is
asserted here (bench/run measures). The pattern the harness writes and checks is recomputed here
in Python, so `ferry-bench gen` and `verify` are checked against an independent implementation.
bench/table.py (medians and spreads over rounds, per-round ratios, the generator-bound flag,
server CPU figures, the fsync rows, PASS/FAIL) is tested as pure functions on canned results.
"""

import contextlib
import copy
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile

import pytest

from conftest import HOST, REPO
from files_helpers import chown_svc, home_of
from tls_helpers import make_cert

sys.path.insert(0, os.path.join(REPO, "bench"))
import table  # noqa: E402  (bench/table.py)

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


def generator_cpu(r):
    """Every load result reports the measured window and the generator's CPU time within it
    (bench/run flags a figure whose generator saturated a core)."""
    assert r["window_s"] > 0, r
    assert r["gen_user_s"] >= 0 and r["gen_sys_s"] >= 0, r
    assert abs(r["gen_cpu_s"] - r["gen_user_s"] - r["gen_sys_s"]) < 0.001, r


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
    generator_cpu(r)

    r = ok(bench(bench_bin, s, "files", "--dir", "small", "--files", str(SMALL), "--count", "12",
                 "--time", "60", tls=tls), "files")
    assert r["files"] == 12 and r["size"] == 4096
    generator_cpu(r)

    for listing in ("LIST", "MLSD", "both"):
        r = ok(bench(bench_bin, s, "list", "--dir", f"d{ENTRIES}", "--entries", str(ENTRIES),
                     "--count", "2", "--listing", listing, "--time", "60", tls=tls), "list")
        assert r["entries"] == ENTRIES
        assert r["listings"] == (4 if listing == "both" else 2)
        generator_cpu(r)

    # --wait-start: READY 1 once logged in; the listings start after a line on stdin.
    cp = bench(bench_bin, s, "list", "--dir", f"d{ENTRIES}", "--entries", str(ENTRIES), "--count",
               "1", "--listing", "MLSD", "--wait-start", tls=tls, stdin=None)
    assert cp.stdout.startswith("READY 1\n")
    assert ok(cp, "list")["listings"] == 1

    r = ok(bench(bench_bin, s, "retr", "--file", "big/big.bin", "--size", str(BIG),
                 "--streams", "3", "--time", "60", tls=tls), "retr")
    assert r["streams"] == 3 and r["bytes"] == 3 * BIG
    generator_cpu(r)

    r = ok(bench(bench_bin, s, "stor", "--file", "up/u", "--size", str(BIG), "--streams", "2",
                 "--time", "60", tls=tls), "stor")
    assert r["bytes"] == 2 * BIG
    generator_cpu(r)
    for i in range(2):
        with open(os.path.join(home, "up", f"u-{i}"), "rb") as f:
            assert f.read() == pattern(f"u-{i}", BIG)
        cp = subprocess.run([bench_bin, "verify", os.path.join(home, "up", f"u-{i}"), str(BIG)],
                            capture_output=True, text=True, timeout=30)
        assert cp.returncode == 0, cp.stderr
    assert s.alive()


@contextlib.contextmanager
def interactive(bin_, server, mode, *args):
    """ferry-bench with a pipe on stdin (idle, --wait-start); killed if the test fails first."""
    p = subprocess.Popen([bin_, mode, "--host", HOST, "--port", str(server.port), "--user", "bob",
                          "--pass", "pw", "--op-timeout", "60", *args], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield p
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()


def release(p, line=""):
    """Writes line (if any) and EOF on the generator's stdin; its JSON result once it is done."""
    p.stdin.write(line)
    p.stdin.close()
    p.stdin = None
    out, err = p.communicate(timeout=RUN_TIMEOUT)
    assert p.returncode == 0, err
    return json.loads(out.strip())


def test_idle_holds_sessions_until_stdin_closes(bench_bin, bench_server):
    s = bench_server
    with interactive(bench_bin, s, "idle", "--sessions", "20", "--concurrency", "5", "--time",
                     "120") as p:
        assert p.stdout.readline() == "READY 20\n"
        # All 20 are logged in now: a 21st connection still gets its greeting (no limit hit).
        c = s.connect()
        assert c.greeting.code == 220
        c.close()
        r = release(p)
    assert r["mode"] == "idle" and r["ok"] and r["sessions"] == 20 and r["alive"] == 20, r


def test_idle_tls_with_stdin_at_eof_releases_once_all_are_in(bench_bin, bench_server):
    cp = bench(bench_bin, bench_server, "idle", "--sessions", "8", "--time", "60", tls=True)
    r = ok(cp, "idle")
    assert cp.stdout.startswith("READY 8\n") and r["alive"] == 8


@pytest.mark.parametrize("mode", ["files", "retr", "stor"])
def test_wait_start_holds_the_load_until_a_line_on_stdin(bench_bin, bench_server, mode):
    """--wait-start: READY n once every session is logged in (every stream at its barrier);
    nothing is transferred before the harness writes a line (it reads the server's CPU time
    there, so the logins' hashes stay out of the figure)."""
    s = bench_server
    home = home_of(s)
    args = {"files": ["--dir", "small", "--files", str(SMALL), "--count", "3"],
            "retr": ["--file", "big/big.bin", "--size", str(BIG), "--streams", "2"],
            "stor": ["--file", "up/w", "--size", str(BIG), "--streams", "2"]}[mode]
    with interactive(bench_bin, s, mode, "--time", "60", "--wait-start", *args) as p:
        assert p.stdout.readline() == ("READY 1\n" if mode == "files" else "READY 2\n")
        # Held: no upload exists yet (EPSV was answered, STOR not sent).
        assert not any(f.startswith("w-") for f in os.listdir(os.path.join(home, "up")))
        r = release(p, "go\n")
    assert r["mode"] == mode and r["ok"], r
    generator_cpu(r)
    if mode == "stor":
        for i in range(2):
            with open(os.path.join(home, "up", f"w-{i}"), "rb") as f:
                assert f.read() == pattern(f"w-{i}", BIG)


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
    assert r["recv_cpu_s"] >= 0 and r["send_cpu_s"] >= 0, r
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
    # Then one thread per core, all hashing at once: the limit is what they did together.
    assert r["parallel_hashes"] == 2 * os.cpu_count() and r["limit_per_s"] > 0, r
    # Both figures are printed rounded (ms to 0.01, the rate to 0.1) from the unrounded time, so
    # the rate recomputed from the printed ms may differ by what those roundings allow.
    ms, n = r["ms_per_hash"], os.cpu_count()
    slack = 0.05 + n * 1000 * 0.005 / (ms - 0.005) ** 2 + 1e-9
    assert abs(r["cores_x_one_per_s"] - n * 1000 / ms) <= slack, r
    cp = subprocess.run([bench_bin, "hash", "--hash", h, "--pass", "nope", "--count", "1"],
                        capture_output=True, text=True, timeout=RUN_TIMEOUT)
    failed(cp, "hash", "crypt_rn of --pass does not reproduce --hash")


def test_file_limits_send_a_file_and_store_into_one(bench_bin, tmp_path):
    """tcp-limit-file: the sender sendfile()s a file made by gen (the receiver checks every byte
    against the file's name, so the wrong file fails); tcp-limit-tofile: the receiver stores into
    a file (write, or --splice) and removes it at the end."""
    size = 4 << 20
    src = tmp_path / "big.bin"
    subprocess.run([bench_bin, "gen", str(src), str(size)], check=True, timeout=RUN_TIMEOUT)
    for extra in ([], ["--cork", "--sndbuf", str(128 << 10)]):
        r = ok(subprocess.run([bench_bin, "tcp-limit-file", "--file", str(src), "--size", str(size),
                               *extra], capture_output=True, text=True, timeout=RUN_TIMEOUT),
               "tcp-limit-file")
        assert r["bytes"] == size and r["mib_s"] > 0, r
        assert r["cork"] == bool(extra) and r["sndbuf"] == (128 << 10 if extra else 0), r
    other = tmp_path / "other.bin"
    shutil.copyfile(src, other)     # same bytes, another name: another pattern
    cp = subprocess.run([bench_bin, "tcp-limit-file", "--file", str(other), "--size", str(size)],
                        capture_output=True, text=True, timeout=RUN_TIMEOUT)
    failed(cp, "tcp-limit-file", "receiver: wrong byte at offset 0")
    cp = subprocess.run([bench_bin, "tcp-limit-file", "--file", str(src), "--size", str(size + 1)],
                        capture_output=True, text=True, timeout=RUN_TIMEOUT)
    failed(cp, "tcp-limit-file", "shorter than --size")
    dst = tmp_path / "into.bin"
    for extra in ([], ["--splice"]):
        r = ok(subprocess.run([bench_bin, "tcp-limit-tofile", "--file", str(dst), "--size",
                               str(size), *extra], capture_output=True, text=True,
                              timeout=RUN_TIMEOUT), "tcp-limit-tofile")
        assert r["bytes"] == size and r["splice"] == bool(extra), r
        assert not dst.exists()


# --------------------------------------------------------------------------- the table (pure)
# bench/table.py on canned results: no server, no timing.

MIB512 = 512 << 20


def xfer(mib_s, server_cpu_s, gen=0.3, streams=1):
    """A RETR/STOR result as ferry-bench prints it, plus bench/run's server CPU time."""
    b = MIB512 * streams
    secs = b / (mib_s * (1 << 20))
    return {"ok": True, "mode": "retr", "streams": streams, "bytes": b, "seconds": secs,
            "mib_s": mib_s, "window_s": secs, "gen_cpu_s": gen * secs, "gen_user_s": 0,
            "gen_sys_s": gen * secs, "server_cpu_s": server_cpu_s}


def files(rate, gen):
    return {"ok": True, "mode": "files", "files": int(rate * 3), "seconds": 3.0, "rate": rate,
            "window_s": 3.0, "gen_cpu_s": gen * 3.0, "server_cpu_s": rate * 3 * 50e-6}


def canned():
    """Three rounds of ferryd, vsftpd and proftpd (figures chosen by hand)."""
    cfg = {"big": MIB512, "small_files": 1000, "dirs": [10000, 100000], "idle": [1000, 10000],
           "idle_tls": 1000, "seconds": 3, "limit": 1 << 30, "hash_seconds": 2,
           "ref_idle_max": 1000, "rounds": 3, "load": ["0.10", "0.20"]}
    retr = {"ferryd": [1000, 1200, 900], "vsftpd": [800, 1000, 1000],
            "proftpd": [850, 900, 950]}
    tcp = [2000, 2000, 1000]
    gen_files = {"ferryd": [0.95, 0.97, 0.5], "vsftpd": [0.3, 0.3, 0.3],
                 "proftpd": [0.2, 0.25, 0.2]}
    rounds = []
    for i in range(3):
        res = {}
        for n in ("ferryd", "vsftpd", "proftpd"):
            res[n] = {"retr_mem_1": xfer(retr[n][i], 0.25 if n == "ferryd" else 0.3),
                      "files": files(1000 * (i + 1), gen_files[n][i]),
                      "retr_mem_4": xfer(2000, 1.0, streams=4),
                      "stor_disk_1": xfer(700 if n == "ferryd" else 600, 0.4),
                      "mlsd_10000": {"ok": True, "mlsd_ms": 10.0, "listings": 10,
                                     "entries": 10000, "server_cpu_s": 0.2, "window_s": 0.1,
                                     "gen_cpu_s": 0.01}}
        res["ferryd"]["stor_disk_1_fsync_off"] = xfer(1400, 0.3)
        res["vsftpd"]["mlsd_10000"] = {"ok": False, "skip": "no MLSD (MLST not in FEAT)"}
        if i == 1:
            res["proftpd"]["retr_mem_4"] = {"ok": False, "error": "session 2: wrong byte at 9"}
        rounds.append({"limits": {"tcp": {"ok": True, "mib_s": tcp[i], "seconds": 1.0,
                                          "recv_cpu_s": 0.9},
                                  "tls": {"ok": False, "error": "no TLS suite"},
                                  "hash": {"ok": True, "limit_per_s": 190.0,
                                           "ms_per_hash": 10.5}},
                       "results": res})
    return {"version": 2, "started": "2026-01-02 03:04", "quick": False, "config": cfg,
            "names": ["ferryd", "vsftpd", "proftpd"], "rounds": rounds, "notes": ["a note"],
            "machine": {"cores": 2, "cpu": "test", "kernel": "6.1"}, "cipher": "TLSv1.3 X",
            "fsync": {"supported": False, "skip": "ferryd lacks [transfer] fsync",
                      "main": "off"}}


def row(data, label_start):
    (r,) = [r for r in table.rows_for(data) if r["label"].startswith(label_start)]
    return table.evaluate_row(r, data["names"], data["rounds"])


def test_table_spread_is_the_median_and_min_max():
    assert table.spread([3, 1, 2]) == {"median": 2, "lo": 1, "hi": 3, "n": 3}
    assert table.spread([4, None, 1, 2, 3]) == {"median": 2.5, "lo": 1, "hi": 4, "n": 4}
    assert table.spread([None, None]) is None and table.spread([]) is None
    assert table.fmt_spread(table.spread([900, 1200, 1000])) == "1,000 (900–1,200)"
    assert table.fmt_spread(table.spread([0.5])) == "0.50"


def test_table_ratios_are_paired_per_round_and_judged_on_the_median():
    """Ferry ÷ the best peer of the same round (850, 1000, 1000): 1.18, 1.20, 0.90; the median
    1.18 passes ≥ 1.1 although the ratio of the medians (1000 ÷ 950) would not. Ferry ÷ the TCP
    limit of the same round: 0.5, 0.6, 0.9, median 0.6: FAIL."""
    ev = row(canned(), "RETR 512 MiB ×1, memory")
    f = ev["cells"]["ferryd"]
    assert f["values"] == [1000, 1200, 900]
    assert f["stats"] == {"median": 1000, "lo": 900, "hi": 1200, "n": 3}
    rr = ev["ratio_ref"]
    assert round(rr["median"], 4) == round(1000 / 850, 4)
    assert (rr["lo"], rr["hi"]) == (0.9, 1.2)
    assert ev["ratio_lim"] == {"median": 0.6, "lo": 0.5, "hi": 0.9, "n": 3}
    assert ev["verdicts"] == ["FAIL", "PASS"]          # ≥ 0.9 × TCP; ≥ 1.1 × best peer
    assert ev["limit"]["median"] == 2000
    assert round(ev["noise"], 4) == round(300 / 1000, 4)   # ferryd's 900–1200 is the widest
    assert ev["gen_max"] == pytest.approx(0.3)
    # One round only: the same arithmetic, no spread.
    one = canned()
    one["rounds"] = one["rounds"][:1]
    ev = row(one, "RETR 512 MiB ×1, memory")
    assert ev["ratio_ref"] == {"median": 1000 / 850, "lo": 1000 / 850, "hi": 1000 / 850, "n": 1}


def test_table_server_cpu_figures_and_their_target():
    r = xfer(1000, 0.25)
    assert table.value(r, "cpu_s_per_gib") == pytest.approx(0.5)
    assert table.value(files(1000, 0.1), "cpu_us_per_file") == pytest.approx(50)
    assert table.value({"ok": True, "listings": 10, "entries": 10000, "server_cpu_s": 0.2},
                       "cpu_us_per_entry") == pytest.approx(2.0)
    assert table.value({"ok": True, "server_cpu_s": None, "bytes": 1}, "cpu_s_per_gib") is None
    assert table.value({"ok": False, "error": "x"}, "mib_s") is None
    rows = table.rows_for(canned())
    i = [r["label"] for r in rows].index("RETR 512 MiB ×1, memory (MiB/s)")
    cpu = rows[i + 1]
    assert cpu["label"] == "↳ server CPU (s/GiB)" and cpu["targets"] == [("ref", 1.0)]
    ev = table.evaluate_row(cpu, ["ferryd", "vsftpd", "proftpd"], canned()["rounds"])
    assert ev["cells"]["ferryd"]["stats"]["median"] == pytest.approx(0.5)
    assert ev["ratio_ref"]["median"] == pytest.approx(0.5 / 0.6)
    assert ev["verdicts"] == ["PASS"]                   # ≤ 1.0 × the best peer's CPU per GiB
    assert ev["gen_max"] is None                        # CPU rows are not generator-checked


def test_table_generator_bound_cell_gives_no_figure_and_no_verdict():
    """ferryd's generator used 95%, 97%, 50% of a core: median 95% ≥ 90%, so the files/s
    figure is the generator's: shown as a bound, no ratio verdict."""
    r = table.cell([files(1000, 0.95), files(2000, 0.97), files(3000, 0.5)], "rate")
    assert r["gen"] == pytest.approx(0.95) and r["bound"] is True
    assert table.cell_text(r, True) == "gen-bound³ (≥ 2,000)"
    r = table.cell([files(1000, 0.95), files(2000, 0.5), files(3000, 0.6)], "rate")
    assert r["gen"] == pytest.approx(0.6) and r["bound"] is False
    assert table.cell([files(1000, 0.95)], "rate", gen_check=False)["bound"] is False
    assert table.gen_fraction({"ok": True, "gen_cpu_s": 0.45, "window_s": 0.5}) == 0.9
    assert table.gen_fraction({"ok": True, "gen_cpu_s": 0.45}) is None
    ev = row(canned(), "4 KiB files/s")
    assert ev["cells"]["ferryd"]["bound"] and ev["verdicts"] == ["gen-bound"]
    assert ev["gen_max"] == pytest.approx(0.95)
    # A bound peer makes a peer comparison undecidable too.
    data = canned()
    for rd in data["rounds"]:
        rd["results"]["ferryd"]["files"]["gen_cpu_s"] = 0.1
        rd["results"]["vsftpd"]["files"]["gen_cpu_s"] = 2.9
    assert row(data, "4 KiB files/s")["verdicts"] == ["gen-bound"]
    for rd in data["rounds"]:
        rd["results"]["vsftpd"]["files"]["gen_cpu_s"] = 0.1
    ev = row(data, "4 KiB files/s")
    assert ev["ratio_ref"]["median"] == 1.0 and ev["verdicts"] == ["FAIL"]   # < 2 × best peer


def test_table_a_failed_round_fails_the_cell_and_a_skip_says_why():
    ev = row(canned(), "RETR 512 MiB ×4, memory")
    p = ev["cells"]["proftpd"]
    assert p["status"] == "fail" and "wrong byte" in p["reason"]
    assert table.cell_text(p, True) == "FAIL²"
    # The best peer is then vsftpd alone: 2000 every round.
    assert ev["ratio_ref"]["median"] == 1.0
    ev = row(canned(), "MLSD 10,000 entries")
    assert ev["cells"]["vsftpd"]["status"] == "skip"
    assert table.cell_text(ev["cells"]["vsftpd"], False) == "skipped¹"
    assert ev["cells"]["ferryd"]["stats"]["median"] == 10.0
    # A failed ferryd cell fails every target of its row.
    data = canned()
    data["rounds"][2]["results"]["ferryd"]["retr_mem_1"] = {"ok": False, "error": "550"}
    assert row(data, "RETR 512 MiB ×1, memory")["verdicts"] == ["FAIL", "FAIL"]


def test_table_fsync_rows():
    """Without [transfer] fsync: the fsync-on row skips ferryd with the reason, the fsync-off
    row holds its default run (a build known not to fsync). With it: both rows are ferryd's."""
    data = canned()
    on = row(data, "STOR 512 MiB ×1, disk, ferryd fsync on")
    assert on["cells"]["ferryd"]["status"] == "skip"
    assert on["cells"]["ferryd"]["reason"] == "ferryd lacks [transfer] fsync"
    assert on["cells"]["vsftpd"]["stats"]["median"] == 600
    off = row(data, "STOR 512 MiB ×1, disk, ferryd fsync off")
    assert off["cells"]["ferryd"]["stats"]["median"] == 700
    assert off["cells"]["proftpd"]["stats"]["median"] == 600
    data["fsync"] = {"supported": True, "main": "on"}
    assert row(data, "STOR 512 MiB ×1, disk, ferryd fsync on")["cells"]["ferryd"]["stats"][
        "median"] == 700
    off = row(data, "STOR 512 MiB ×1, disk, ferryd fsync off")
    assert off["cells"]["ferryd"]["stats"]["median"] == 1400
    assert off["cells"]["vsftpd"]["stats"]["median"] == 600      # peers never fsync
    data["fsync"] = {"supported": False, "skip": "ferryd lacks [transfer] fsync"}
    for mode in ("on", "off"):
        assert row(data, f"STOR 512 MiB ×1, disk, ferryd fsync {mode}")["cells"]["ferryd"][
            "status"] == "skip"


def test_table_renders_a_saved_run_and_bench_run_report_prints_it(tmp_path):
    data = canned()
    text = table.render(data)
    assert "**3 rounds**" in text and "median over the rounds (min–max)" in text
    assert ("| RETR 512 MiB ×1, memory (MiB/s) | 1,000 (900–1,200) | 1,000 (800–1,000) | "
            "900 (850–950) | 30% | ±15% | 1.18 (0.90–1.20) | 2,000 (1,000–2,000) (TCP) | "
            "0.60 (0.50–0.90) | ≥ 0.9 × TCP; ≥ 1.1 × best peer | FAIL, PASS |") in text
    assert "| 4 KiB files/s, one session | gen-bound³ (≥ 2,000) |" in text
    assert "| **95%** |" in text
    assert "- proftpd `retr_mem_4` (round 2): FAILED: session 2: wrong byte at 9" in text
    assert "- vsftpd `mlsd_10000`: skipped: no MLSD (MLST not in FEAT)" in text
    assert "- ferryd fsync rows: ferryd lacks [transfer] fsync" in text
    assert "- ferryd, 4 KiB files/s, one session: generator-bound" in text
    assert ("loopback TCP **2,000 (1,000–2,000) MiB/s** (CPU of a core: sender –, receiver 90%)"
            in text)
    assert "- a note" in text
    # A saved run from before the hash probe used every core says so; a newer one gives both.
    assert "yescrypt **10.5 (10.5–10.5) ms/hash** → **190 (190–190) logins/s** on 2 cores." in text
    newer = canned()
    for rd in newer["rounds"]:
        rd["limits"]["hash"]["cores_x_one_per_s"] = 190.5
        rd["limits"]["hash"]["limit_per_s"] = 180.0
    assert ("**180 (180–180) logins/s** with all 2 cores hashing at once (cores ÷ hash time would "
            "say 190 (190–190)).") in table.render(newer)
    # The input is not modified, and bench/run --report prints the same table (no root needed).
    assert data == canned()
    p = tmp_path / "run.json"
    p.write_text(json.dumps(copy.deepcopy(data)))
    cp = subprocess.run(["/usr/bin/python3", os.path.join(REPO, "bench", "run"), "--report",
                         str(p)], capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == text


def test_table_file_limit_rows_only_when_the_run_measured_them():
    data = canned()
    before = table.render(data)
    assert "vs tcp-limit" not in before and "TCP with the file" not in before
    for i, rd in enumerate(data["rounds"]):
        rd["limits"]["tcp_file"] = {"ok": True, "mib_s": 1000 + 100 * i, "seconds": 1.0,
                                    "send_cpu_s": 0.5, "recv_cpu_s": 0.8}
        rd["limits"]["tcp_tofile"] = {"ok": False, "error": "no tmpfs: x"}
    text = table.render(data)
    assert ("TCP with the file: sent with sendfile from the page cache **1,100 (1,000–1,200) "
            "MiB/s** (CPU of a core: sender 50%, receiver 80%), spliced into a tmpfs file **– "
            "MiB/s**") in text
    # RETR x1 again, over the file limit of the same round: 1000/1000, 1200/1100, 900/1200.
    assert ("| RETR 512 MiB ×1, memory, vs tcp-limit (file via sendfile) (MiB/s) | 1,000 "
            "(900–1,200) | 1,000 (800–1,000) | 900 (850–950) | 30% | ±15% | 1.18 (0.90–1.20) | "
            "1,100 (1,000–1,200) (TCP, file via sendfile) | 1.00 (0.75–1.09) |  |  |") in text
    assert "| STOR 512 MiB ×1, memory, vs tcp-limit (into a tmpfs file) (MiB/s) | – |" in text
    # No target on them: the verdicts are the same as without.
    met = [line for line in text.splitlines() if line.startswith("Targets met")]
    assert met == [line for line in before.splitlines() if line.startswith("Targets met")]


def logins(rate, p99):
    return {"ok": True, "mode": "logins", "logins": int(rate * 3), "seconds": 3.0, "rate": rate,
            "p50_ms": p99 / 2, "p99_ms": p99, "window_s": 3.0, "gen_cpu_s": 0.03}


def with_postgres(data, sqlite, pg):
    """data with ferryd's logins (SQLite) and logins_pg (PostgreSQL store) per round: lists of
    (rate, p99) or a result dict."""
    data["postgres"] = {"version": "15.0", "settings": {"fsync": "on"}}
    for rd, s, p in zip(data["rounds"], sqlite, pg):
        rd["results"]["ferryd"]["logins"] = logins(*s) if isinstance(s, tuple) else s
        rd["results"]["ferryd"]["logins_pg"] = logins(*p) if isinstance(p, tuple) else p
    return data


def test_table_postgres_store_rows_beside_sqlite():
    """The PostgreSQL store rows follow the SQLite login rows, ferryd only, no target; their
    ratio is PostgreSQL ÷ SQLite ferryd of the same round (in the Limit columns). A saved run
    from before them (no "postgres" key) gets no such rows."""
    labels = [r["label"] for r in table.rows_for(canned())]
    assert not [lb for lb in labels if "PostgreSQL" in lb]
    data = with_postgres(canned(), [(100, 300), (120, 200), (110, 400)],
                         [(90, 330), (130, 200), (55, 800)])
    labels = [r["label"] for r in table.rows_for(data)]
    i = labels.index("Login p99 latency (ms)")
    assert labels[i + 1:i + 3] == ["Logins/s, 32 clients, PostgreSQL store",
                                   "Login p99 (ms), PostgreSQL store"]
    ev = row(data, "Logins/s, 32 clients, PostgreSQL store")
    assert ev["cells"]["ferryd"]["values"] == [90, 130, 55]
    assert ev["cells"]["vsftpd"]["status"] == "none" and ev["ratio_ref"] is None
    assert ev["ratio_lim"]["median"] == pytest.approx(0.9)          # 0.9, 1.083, 0.5
    assert (ev["ratio_lim"]["lo"], ev["ratio_lim"]["hi"]) == (0.5, pytest.approx(130 / 120))
    assert ev["limit"]["median"] == 110 and ev["verdicts"] == []
    ev = row(data, "Login p99 (ms), PostgreSQL store")
    assert ev["cells"]["ferryd"]["stats"]["median"] == 330
    assert ev["ratio_lim"]["median"] == pytest.approx(1.1)          # 1.1, 1.0, 2.0
    text = table.render(data)
    assert ("| Logins/s, 32 clients, PostgreSQL store | 90.0 (55.0–130) | – | – | 1% | ±42% | – "
            "| 110 (100–120) (SQLite) | 0.90 (0.50–1.08) |  |  |") in text
    assert "**Ferry ÷ limit** is PostgreSQL ÷ SQLite" in text
    # A failed SQLite round leaves that round without a ratio; a failed PostgreSQL round fails
    # the cell.
    data = with_postgres(canned(), [(100, 300), {"ok": False, "error": "530"}, (110, 400)],
                         [(90, 330), (130, 200), (55, 800)])
    assert row(data, "Logins/s, 32 clients, PostgreSQL store")["ratio_lim"]["n"] == 2
    data = with_postgres(canned(), [(100, 300)] * 3,
                         [(90, 330), {"ok": False, "error": "421 user database"}, (55, 800)])
    assert row(data, "Login p99 (ms), PostgreSQL store")["cells"]["ferryd"]["status"] == "fail"
    # --no-postgres, or PostgreSQL not startable: skipped with the reason, named under the table.
    why = "PostgreSQL not available: no 'postgres' user to run PostgreSQL as"
    data = with_postgres(canned(), [(100, 300)] * 3, [{"ok": False, "skip": why}] * 3)
    data["postgres"] = {"skip": why}
    c = row(data, "Logins/s, 32 clients, PostgreSQL store")["cells"]["ferryd"]
    assert c["status"] == "skip" and c["reason"] == why
    text = table.render(data)
    assert "| Logins/s, 32 clients, PostgreSQL store | skipped¹ |" in text
    assert f"- ferryd `logins_pg`: skipped: {why}" in text


def sftp_canned(only):
    """Three rounds of SFTP results of ferryd and sshd (figures chosen by hand), alone (bench/run
    --only sftp: no FTP names, no limits) or added to the FTP rounds."""
    data = canned()
    data["config"].update(sftp_big=1 << 30, sftp_idle=[200], sftp_files=2000, sftp_clients=32,
                          sftp_seconds=10)
    data["sftp"] = {"names": ["ferryd", "sshd"], "client": "OpenSSH_9.2p1",
                    "cipher": "aes128-gcm@openssh.com", "kex": "curve25519-sha256",
                    "hostkey": "ssh-ed25519", "sshd": "OpenSSH_9.2", "chroot": "ChrootDirectory X"}
    if only:
        data["names"] = []
        for rd in data["rounds"]:
            rd["results"], rd["limits"] = {}, {}
    figs = {"ferryd": {"retr": [400, 450, 500], "kib": [20, 21, 22], "files": [1700, 3000, 2000]},
            "sshd": {"retr": [460, 400, 410], "kib": [2050, 2060, 2040], "files": [2700, 2500, 2600]}}
    for i, rd in enumerate(data["rounds"]):
        rd["sftp"] = {}
        for n, f in figs.items():
            rd["sftp"][n] = {
                "logins": {"ok": True, "logins": 400, "rate": 40.0, "window_s": 10.0,
                           "p50_ms": 700, "p99_ms": 1100, "gen_cpu_s": 6.0, "server_cpu_s": 8.0},
                "idle_200": {"ok": True, "sessions": 200, "kib_per_session": f["kib"][i],
                             "open_rate": 30.0},
                "files": {"ok": True, "files": 2000, "rate": f["files"][i], "window_s": 1.0,
                          "gen_cpu_s": 0.4, "server_cpu_s": 0.2},
                "retr_1": {"ok": True, "bytes": 1 << 30, "mib_s": f["retr"][i], "window_s": 2.5,
                           "gen_cpu_s": 2.4 if n == "sshd" and i < 2 else 0.5,
                           "server_cpu_s": 1.0},
                "stor_1": ({"ok": False, "error": "upload check: wrong byte at offset 7"}
                           if n == "ferryd" and i == 1 else
                           {"ok": True, "bytes": 1 << 30, "mib_s": 420, "window_s": 2.4,
                            "gen_cpu_s": 0.5, "server_cpu_s": 1.0}),
            }
    return data


def test_table_sftp_rows_beside_sshd():
    """The SFTP table (issue 17): ferryd ÷ sshd per round; memory per idle session ≤ 0.1 × sshd,
    files/s and transfers ≥ 1.0 × sshd; a generator-bound sshd cell leaves no verdict; a failed
    round fails the cell. `--only sftp` renders the SFTP table alone; a run without SFTP results
    (an older saved run) renders none."""
    assert "## SFTP" not in table.render(canned())
    for only in (True, False):
        data = sftp_canned(only)
        text = table.render(data)
        assert "## SFTP: ferryd beside OpenSSH's sshd + internal-sftp" in text
        assert ("Machine limits" in text) is not only and ("| LIST 10,000" in text) is not only
        assert ("| Memory per idle SFTP session, 200 (KiB) | 21.0 (20.0–22.0) | 2,050 "
                "(2,040–2,060) | – | ±5% | 0.01 (0.01–0.01) | ≤ 0.1 × sshd | PASS |") in text
        # per round 1700/2700, 3000/2500, 2000/2600: the median ratio 0.77 < 1.0
        assert ("| 4 KiB files/s, one SFTP session | 2,000 (1,700–3,000) | 2,600 (2,500–2,700) "
                "| 40% | ±32% | 0.77 (0.63–1.20) | ≥ 1.0 × sshd | FAIL |") in text
        assert ("| SFTP download 1 GiB ×1, memory (MiB/s) | 450 (400–500) | gen-bound³ (≥ 410) "
                "| **96%** |") in text and "| gen-bound |" in text
        assert "| SFTP upload 1 GiB ×1, memory (MiB/s) | FAIL² | 420 (420–420) |" in text
        assert "- ferryd `stor_1` (round 2): FAILED: upload check: wrong byte at offset 7" in text
        assert "- sshd, SFTP download 1 GiB ×1, memory (MiB/s): generator-bound" in text
        assert "| ↳ server CPU (ms/login) | 20.0 (20.0–20.0) |" in text
        assert "SFTP targets met: **1 of 4**" in text
    data = sftp_canned(True)
    data["sftp"] = {"skip": "no /usr/sbin/sshd (openssh-server)"}
    assert "Not run: no /usr/sbin/sshd (openssh-server)" in table.render(data)
