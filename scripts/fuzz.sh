#!/usr/bin/env bash
# Builds the libFuzzer drivers (tests/fuzz) in build-fuzz/ with clang,
# -fsanitize=fuzzer,address,undefined, and runs each one for a bounded time.
# Usage: scripts/fuzz.sh [SECONDS_PER_DRIVER] [DRIVER...]   (default 20 s, all)
# Warnings are errors (-Dwerror=true, as in scripts/build.sh; opt-in for meson).
#
# Seed corpora are generated (not committed) into build-fuzz/seeds/DRIVER:
# the client lines of tests/proto/*.t (whole sessions for proto; command
# arguments for parse, path and otp), etc/ferry.conf and variants for config,
# a few LIST entries for listing, text with every CR/LF neighbourhood for
# ascii, PROXY protocol v1 lines and v2 headers (with TLVs) for proxy, SFTP
# sessions (INIT and one packet of every request type) for sftp. What libFuzzer learns is kept in
# build-fuzz/corpus/DRIVER between runs. A crash fails the run and prints
# the reproducer (build-fuzz/crashes/DRIVER-crash-*); reproduce with
#   build-fuzz/tests/fuzz/fuzz_DRIVER FILE
# then turn it into a regression test (transcript or unit test) with the fix.
# Prints "fuzz: DRIVER: N executions in S s" per driver. With
# FERRY_FUZZ_RESULTS=FILE, also appends one JSON line per driver
# ({"name": "fuzz_DRIVER", "result": "OK"|"FAIL"}) for scripts/summarize.py.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
shift || true
drivers=("$@")
[ ${#drivers[@]} -gt 0 ] || drivers=(proto parse path listing config otp ascii proxy sftp)
dir=build-fuzz

if [ ! -f "$dir/build.ninja" ]; then
  CC=clang meson setup "$dir" --buildtype=debugoptimized -Dfuzz=true \
    -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args=-fsanitize=fuzzer-no-link -Dwerror=true >/dev/null
else
  meson setup --reconfigure "$dir" -Dwerror=true >/dev/null
fi
targets=()
for d in "${drivers[@]}"; do targets+=("tests/fuzz/fuzz_$d"); done
ninja -C "$dir" "${targets[@]}" >/dev/null || ninja -C "$dir" "${targets[@]}"

# ---- seed corpora, generated from the repository
seeds="$dir/seeds"
rm -rf "$seeds"
mkdir -p "$seeds" "$dir/corpus" "$dir/crashes"
/usr/bin/python3 - "$seeds" <<'EOF'
import glob, os, re, sys
out = sys.argv[1]
def put(driver, name, data):
    d = os.path.join(out, driver)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
def unescape(s):
    return re.sub(rb"\\(x[0-9a-fA-F]{2}|[rnt\\])",
                  lambda m: {b"r": b"\r", b"n": b"\n", b"t": b"\t", b"\\": b"\\"}.get(
                      m.group(1), bytes([int(m.group(1)[1:], 16)]) if m.group(1)[:1] == b"x" else m.group(1)),
                  s)
args = set()
for t in sorted(glob.glob("tests/proto/*.t")):
    session = b""
    for line in open(t, "rb").read().split(b"\n"):
        if line.startswith(b"C: "):
            session += line[3:] + b"\r\n"
            verb, _, arg = line[3:].partition(b" ")
            if arg:
                args.add(arg)
        elif line.startswith(b"C< "):
            session += unescape(line[3:])
    if session:
        base = os.path.basename(t)[:-2]
        for mode in (0, 1, 3, 8):   # first byte: TLS offered, effects fail, OTP challenge
            put("proto", f"{base}-{mode}", bytes([mode]) + session)
for i, a in enumerate(sorted(args)):
    for k in range(11):
        put("parse", f"arg{i}-{k}", bytes([k]) + a)
    put("path", f"arg{i}", b"/sub/dir\n" + a)
    put("otp", f"arg{i}", a)
for i, a in enumerate([b"0", b"18446744073709551615", b"30s", b"1h", b"127.0.0.1:21", b"[::1]:2121",
                       b"49152-65534", b"20260101120000", b"20260101120000.123", b"::ffff:1.2.3.4",
                       b"127,0,0,1,4,1", b"|1|127.0.0.1|2121|", b"|2|::1|2121|", b"ALL"]):
    for k in range(11):
        put("parse", f"lit{i}-{k}", bytes([k]) + a)
put("config", "example", open("etc/ferry.conf", "rb").read())
put("config", "small", b"[server]\nlisten = 127.0.0.1:21, [::1]:21\nworkers = 2\n[tls]\ncert = a.pem\n"
    b"key = a.key\n[sandbox]\nroots = /srv/ftp\nlandlock = require\n")
put("otp", "words", b"ROME MUG FRED SCAN LIVE LACE")
put("otp", "hex", b"hex:9E87 6134 D904 99DD")
put("otp", "seed", b"TeSt This is a test.")
for i, t in enumerate([b"line one\nline two\n", b"dos\r\nlines\r\n", b"lone\rcr\r", b"\r\r\n\n\r",
                       b"", b"no newline"]):
    for step in (0, 2, 63):   # first byte: chunk size - 1
        put("ascii", f"t{i}-{step}", bytes([step]) + t)
import struct
for i, line in enumerate([b"PROXY TCP4 192.0.2.5 198.51.100.1 56324 21\r\n", b"PROXY TCP6 2001:db8::1 ::1 1 21\r\n",
                          b"PROXY UNKNOWN\r\n", b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nUSER bob\r\n"]):
    put("proxy", f"v1-{i}", bytes([0]) + line)
    put("proxy", f"any1-{i}", bytes([2]) + line)
sig = b"\r\n\r\n\x00\r\nQUIT\n"
for i, (vc, fam, body) in enumerate([(0x21, 0x11, bytes([192, 0, 2, 5, 198, 51, 100, 1, 0, 80, 0, 21])),
                                     (0x21, 0x11, bytes(12) + b"\x04\x00\x01\x00\x01\x00\x03ftp"),
                                     (0x21, 0x21, bytes(36)), (0x20, 0x00, b""), (0x21, 0x31, bytes(216)),
                                     (0x21, 0x12, bytes(12))]):
    hdr = sig + bytes([vc, fam]) + struct.pack(">H", len(body)) + body
    put("proxy", f"v2-{i}", bytes([1]) + hdr)
    put("proxy", f"any2-{i}", bytes([3 | (i << 2)]) + hdr + b"\x16\x03\x01")
for i, (name, mode) in enumerate([(b"a.txt", 0o100644), (b"sub", 0o40755), (b"link\0target", 0o120777)]):
    # struct fuzz_head in tests/fuzz/fuzz_listing.c (40 bytes with padding)
    head = struct.pack("<QqqIIBB6x", 1234, 1795500000, 1795514000, mode, 1, 0, 0x3f)
    put("listing", f"e{i}", head + name)
def sftp_str(b):
    return struct.pack(">I", len(b)) + b
def sftp_pkt(t, body):
    return struct.pack(">IB", len(body) + 1, t) + body
init = sftp_pkt(1, struct.pack(">I", 3))
h = sftp_str(b"\0\0\0\1")
attrs = struct.pack(">IIII", 0xc, 0o100644, 10, 20)
reqs = [(3, sftp_str(b"/f") + struct.pack(">I", 0x1a) + attrs), (4, h), (5, h + struct.pack(">QI", 0, 32768)),
        (6, h + struct.pack(">Q", 0) + sftp_str(b"data")), (7, sftp_str(b"/f")), (8, h),
        (9, sftp_str(b"/f") + attrs), (10, h + attrs), (11, sftp_str(b"/")), (12, h), (13, sftp_str(b"/f")),
        (14, sftp_str(b"/d") + struct.pack(">I", 0)), (15, sftp_str(b"/d")), (16, sftp_str(b".")),
        (17, sftp_str(b"../f")), (18, sftp_str(b"/a") + sftp_str(b"/b")), (19, sftp_str(b"/l")),
        (200, sftp_str(b"posix-rename@openssh.com") + sftp_str(b"/a") + sftp_str(b"/b")),
        (200, sftp_str(b"statvfs@openssh.com") + sftp_str(b"/")), (200, sftp_str(b"limits@openssh.com")),
        (200, sftp_str(b"expand-path@openssh.com") + sftp_str(b"~/x")), (200, sftp_str(b"fsync@openssh.com") + h),
        (20, sftp_str(b"target") + sftp_str(b"/l")),
        (200, sftp_str(b"hardlink@openssh.com") + sftp_str(b"/a") + sftp_str(b"/b")),
        (200, sftp_str(b"copy-data") + h + struct.pack(">QQ", 0, 0) + h + struct.pack(">Q", 0)),
        (200, sftp_str(b"lsetstat@openssh.com") + sftp_str(b"/l") + attrs),
        (200, sftp_str(b"check-file-name") + sftp_str(b"/f") + sftp_str(b"sha384,md5") + struct.pack(">QQI", 0, 0, 0)),
        (200, sftp_str(b"check-file-handle") + h + sftp_str(b"sha256") + struct.pack(">QQI", 1, 4096, 256)),
        (200, sftp_str(b"check-file") + h + sftp_str(b"crc32,sha1") + struct.pack(">QQI", 0, 0, 1024))]
for i, (t, body) in enumerate(reqs):
    put("sftp", f"r{i}", init + sftp_pkt(t, struct.pack(">I", i + 1) + body))
put("sftp", "all", init + b"".join(sftp_pkt(t, struct.pack(">I", i + 1) + b) for i, (t, b) in enumerate(reqs)))
EOF

# Each driver is one process on one core: FERRY_FUZZ_JOBS of them (default: the
# number of CPUs) run side by side, each still for SECONDS; the results are
# printed in the drivers' order once all have finished.
run_one() {
  local d=$1 rc=0
  mkdir -p "$dir/corpus/$d"
  "$dir/tests/fuzz/fuzz_$d" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -print_final_stats=1 -artifact_prefix="$dir/crashes/$d-" \
    "$dir/corpus/$d" "$seeds/$d" >"$dir/fuzz-$d.log" 2>&1 || rc=$?
  echo "$rc" >"$dir/fuzz-$d.rc"
}
jobs=${FERRY_FUZZ_JOBS:-$(nproc)}
running=0
for d in "${drivers[@]}"; do
  rm -f "$dir/fuzz-$d.rc"
  run_one "$d" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

status=0
for d in "${drivers[@]}"; do
  log="$dir/fuzz-$d.log"
  rc=$(cat "$dir/fuzz-$d.rc" 2>/dev/null || echo 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  echo "fuzz: $d: ${execs:-?} executions in ${secs} s (exit $rc)"
  if [ -n "${FERRY_FUZZ_RESULTS:-}" ]; then
    printf '{"name": "fuzz_%s", "result": "%s", "executions": %s}\n' "$d" \
      "$([ $rc -eq 0 ] && echo OK || echo FAIL)" "${execs:-0}" >>"$FERRY_FUZZ_RESULTS"
  fi
  if [ $rc -ne 0 ]; then
    status=1
    grep -E "ERROR|SUMMARY|Test unit written|runtime error" "$log" | head -20 || true
    echo "fuzz: $d FAILED; full log $log; reproduce: $dir/tests/fuzz/fuzz_$d <the file named above>"
  fi
done
exit $status
