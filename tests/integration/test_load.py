"""Load (issue 7): 200 concurrent checksummed transfers, half uploads and half downloads, each on
its own session, with zero corruption. Bounded in count and time."""

import ftplib
import hashlib
import io
import os
import threading

from files_helpers import chown_svc, home_of, put_file

N_UP = 100
N_DOWN = 100
SIZE = 256 * 1024
DEADLINE = 180


def payload(i):
    """Distinct, reproducible content per transfer."""
    seed = hashlib.sha256(b"ferry-load-%d" % i).digest()
    out = bytearray()
    block = seed
    while len(out) < SIZE:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:SIZE])


def test_200_concurrent_transfers_lose_nothing(make_server):
    srv = make_server(config={"server": {"max_sessions": "400"}})
    home = home_of(srv)
    for i in range(N_DOWN):
        put_file(os.path.join(home, f"down{i:03d}.bin"), payload(1000 + i))
    chown_svc(home)
    barrier = threading.Barrier(N_UP + N_DOWN, timeout=60)
    errors = []
    got = {}

    def worker(kind, i):
        try:
            ftp = ftplib.FTP()
            ftp.connect(srv.host, srv.port, timeout=60)
            ftp.login("bob", "pw")
            barrier.wait()  # all 200 sessions transfer at the same time
            if kind == "up":
                ftp.storbinary(f"STOR up{i:03d}.bin", io.BytesIO(payload(i)), blocksize=16384)
            else:
                sink = io.BytesIO()
                ftp.retrbinary(f"RETR down{i:03d}.bin", sink.write, blocksize=16384)
                got[i] = hashlib.sha256(sink.getvalue()).hexdigest()
            ftp.quit()
        except Exception as e:  # reported below with the transfer it belongs to
            errors.append(f"{kind} {i}: {e!r}")
            try:
                barrier.abort()
            except Exception:
                pass

    threads = [threading.Thread(target=worker, args=("up", i)) for i in range(N_UP)]
    threads += [threading.Thread(target=worker, args=("down", i)) for i in range(N_DOWN)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE)
    assert not any(t.is_alive() for t in threads), "transfers did not finish in time"
    assert not errors, errors[:5]
    for i in range(N_UP):
        with open(os.path.join(home, f"up{i:03d}.bin"), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == hashlib.sha256(payload(i)).hexdigest(), i
    for i in range(N_DOWN):
        assert got[i] == hashlib.sha256(payload(1000 + i)).hexdigest(), i
    # No temporaries left behind.
    assert not [n for n in os.listdir(home) if n.startswith(".ferry-upload.")]
