"""Sessions are spread over the workers (issue 15): the worker that accept() wakes hands a new
connection to the one with the fewest sessions. Before, the woken worker kept every connection it
found, and EPOLLEXCLUSIVE woke the same idle worker again and again, so a client's parallel
transfers all ran on one thread while the other idled.

Which thread owns a session is read from the CPU time of ferryd's threads
(/proc/PID/task/*/schedstat): each session in turn downloads a file large enough that its
worker's time grows by far more than any other thread's. No timing is asserted, only which
thread did the work.

SFTP sessions are placed the same way, and counted with FTP's: a worker holding an FTP session
is not the least loaded for the next SFTP connection, nor the other way round."""

import os

import pytest

from files_helpers import Session, fresh_dir, put_file
from sftp_helpers import client, start_sftp_server
from sftp_helpers import needs_sftp  # noqa: F401 (a fixture)

SIZE = 48 << 20


def thread_times(pid):
    """{tid: ns of CPU time} for every thread of pid."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                out[int(tid)] = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return out


def owner_of(pid, fetch):
    """The thread that did the work of fetch() (a download of SIZE bytes)."""
    before = thread_times(pid)
    fetch()
    after = thread_times(pid)
    grew = {t: after[t] - before.get(t, 0) for t in after}
    owner, most = max(grew.items(), key=lambda kv: kv[1])
    rest = max([v for t, v in grew.items() if t != owner] or [0])
    assert most > 3 * rest, (grew, owner)
    return owner


@pytest.mark.parametrize("sessions", [2, 4])
def test_sessions_opened_one_after_another_spread_over_the_workers(make_server, request, sessions):
    srv = make_server(config={"server": {"workers": "2"}})
    path, vdir = fresh_dir(srv, request, "place")
    put_file(os.path.join(path, "big.bin"), os.urandom(1 << 20) * (SIZE >> 20))
    # Opened one at a time, each greeted and logged in before the next connects: every accept
    # finds the workers idle, which is when the same one used to take them all.
    conns = [Session(srv) for _ in range(sessions)]
    owners = []
    try:
        for s in conns:
            s.expect("TYPE I", 200)
        for s in conns:
            def fetch(s=s):
                data, _, _ = s.retr(f"{vdir}/big.bin")
                assert len(data) == SIZE
            # The owner moved SIZE bytes; every other thread only woke now and then.
            owners.append(owner_of(srv.pid, fetch))
    finally:
        for s in conns:
            s.close()
    per_thread = {t: owners.count(t) for t in set(owners)}
    assert sorted(per_thread.values()) == [sessions // 2, sessions // 2], per_thread


# Each protocol in turn, each session connected and logged in before the next: "ftp sftp" is
# an FTP session then an SFTP one. Before SFTP was placed, every SFTP session stayed on the
# worker accept() woke, and SFTP sessions were not counted in a worker's load.
@pytest.mark.usefixtures("needs_sftp")
@pytest.mark.parametrize("order", ["sftp sftp", "sftp sftp sftp sftp", "ftp sftp", "sftp ftp"])
def test_sftp_sessions_are_placed_with_ftp_ones(make_server, order):
    srv = start_sftp_server(make_server, {"server": {"workers": "2"}})
    home = os.path.join(srv.home_root, "bob")
    put_file(os.path.join(home, "big.bin"), os.urandom(1 << 20) * (SIZE >> 20))
    opened = []
    try:
        for proto in order.split():
            if proto == "ftp":
                s = Session(srv)
                s.expect("TYPE I", 200)
                opened.append((proto, s))
            else:
                opened.append((proto, client(srv)))
        owners = []
        for proto, s in opened:
            if proto == "ftp":
                def fetch(s=s):
                    data, _, _ = s.retr("/big.bin")
                    assert len(data) == SIZE
            else:
                def fetch(s=s):
                    with s.open("/big.bin", "rb") as f:
                        f.prefetch()
                        assert len(f.read()) == SIZE
            owners.append(owner_of(srv.pid, fetch))
    finally:
        for _, s in opened:
            s.close()
    per_thread = {t: owners.count(t) for t in set(owners)}
    n = len(owners)
    assert sorted(per_thread.values()) == [n // 2, n // 2], (order, per_thread)
