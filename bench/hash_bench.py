#!/usr/bin/python3
"""Checksum speed: ferryd's HASH of a 1 GiB file against coreutils on the same file, same machine.

    FERRY_BUILD=build bench/hash_bench.py [--mib 1024] [--rounds 3] [--out FILE.md]

Starts one ferryd (tests/integration/conftest.FerryServer: a private config, user store and
home under /tmp, loopback only), writes a file of MIB MiB of fixed pseudo-random bytes into the
user's home, reads it once so both sides hash from the page cache, then per algorithm and round
times `HASH` (after `OPTS HASH alg`) from the command to the 213 on the control connection, and
the coreutils tool (sha256sum, sha512sum, sha1sum, md5sum; CRC32 has no coreutils equivalent:
Python's zlib.crc32 over the same bytes stands in) and `openssl dgst` (the library ferryd hashes
with) over the same file. It reports the median of
the rounds in MB/s and the ratio. ferryd's digest must equal the tool's, or the run fails. It
prints a Markdown table, and writes it to --out when given."""

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import time
import zlib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from conftest import FerryBin, FerryServer  # noqa: E402

TOOLS = {"SHA-256": "sha256sum", "SHA-512": "sha512sum", "SHA-1": "sha1sum", "MD5": "md5sum", "CRC32": None}
OPENSSL = {"SHA-256": "-sha256", "SHA-512": "-sha512", "SHA-1": "-sha1", "MD5": "-md5"}


def openssl_hash(alg, path):
    """`openssl dgst` on the same file: the speed of the library ferryd hashes with."""
    if alg not in OPENSSL:
        return None, None
    t0 = time.monotonic()
    out = subprocess.run(["openssl", "dgst", OPENSSL[alg], "-r", path], capture_output=True, text=True,
                         check=True, timeout=600).stdout
    return time.monotonic() - t0, out.split()[0]


def make_file(path, mib):
    block = hashlib.sha512(b"ferry-hash-bench").digest() * (1 << 14)  # 1 MiB, fixed
    with open(path, "wb") as f:
        for i in range(mib):
            f.write(bytes([i & 0xFF]) + block[1:])
    with open(path, "rb") as f:  # into the page cache
        while f.read(1 << 24):
            pass


def tool_hash(alg, path):
    t0 = time.monotonic()
    if TOOLS[alg] is None:
        crc = 0
        with open(path, "rb") as f:
            while True:
                b = f.read(1 << 20)
                if not b:
                    break
                crc = zlib.crc32(b, crc)
        hexd = format(crc, "08x")
    else:
        out = subprocess.run([TOOLS[alg], path], capture_output=True, text=True, check=True, timeout=600).stdout
        hexd = out.split()[0]
    return time.monotonic() - t0, hexd


def ferry_hash(srv, alg, name):
    c = srv.connect(timeout=600)
    try:
        c.login()
        c.expect(f"OPTS HASH {alg}", 200)
        t0 = time.monotonic()
        r = c.expect(f"HASH {name}", 213, timeout=600)
        dt = time.monotonic() - t0
    finally:
        c.close()
    return dt, r.lines[0].split()[3]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out")
    a = ap.parse_args()
    build = os.environ.get("FERRY_BUILD", os.path.join(REPO, "build"))
    build = build if os.path.isabs(build) else os.path.join(REPO, build)
    bins = FerryBin(build, os.path.join(build, "ferryd"), os.path.join(build, "ferry"))
    srv = FerryServer(bins, config={"limits": {"hash_jobs": "0"}})
    try:
        srv.start()
        path = os.path.join(srv.home_root, "bob", "big.bin")
        make_file(path, a.mib)
        size = a.mib << 20
        rows = []
        for alg in TOOLS:
            fd, td, od = [], [], []
            for _ in range(a.rounds):
                dt, fhex = ferry_hash(srv, alg, "big.bin")
                tt, thex = tool_hash(alg, path)
                ot, ohex = openssl_hash(alg, path)
                if fhex != thex or (ohex is not None and ohex != thex):
                    sys.exit(f"{alg}: ferryd {fhex} != {TOOLS[alg] or 'zlib.crc32'} {thex} / openssl {ohex}")
                fd.append(dt)
                td.append(tt)
                if ot is not None:
                    od.append(ot)
            f_mbs = size / statistics.median(fd) / 1e6
            t_mbs = size / statistics.median(td) / 1e6
            o_mbs = size / statistics.median(od) / 1e6 if od else None
            rows.append((alg, f_mbs, TOOLS[alg] or "python3 zlib.crc32", t_mbs, o_mbs))
        load = os.getloadavg()[0]
        lines = [f"HASH of a {a.mib} MiB file from the page cache, median of {a.rounds} rounds "
                 f"({time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, load average {load:.1f}, "
                 f"{os.cpu_count()} CPUs)", "",
                 "| algorithm | ferryd HASH MB/s | reference | reference MB/s | ferryd / reference "
                 "| openssl dgst MB/s | ferryd / openssl |",
                 "|---|---:|---|---:|---:|---:|---:|"]
        for alg, f_mbs, tool, t_mbs, o_mbs in rows:
            o = f"{o_mbs:.0f} | {f_mbs / o_mbs:.2f}" if o_mbs else "- | -"
            lines.append(f"| {alg} | {f_mbs:.0f} | {tool} | {t_mbs:.0f} | {f_mbs / t_mbs:.2f} | {o} |")
        text = "\n".join(lines) + "\n"
        print(text)
        if a.out:
            with open(a.out, "w") as f:
                f.write(text)
    finally:
        srv.teardown()


if __name__ == "__main__":
    main()
