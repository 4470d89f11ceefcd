"""Sessions are spread over the workers (issue 15): the worker that accept() wakes hands a new
connection to the one with the fewest sessions. Before, the woken worker kept every connection it
found, and EPOLLEXCLUSIVE woke the same idle worker again and again, so a client's parallel
transfers all ran on one thread while the other idled.

Which thread owns a session is read from the CPU time of ferryd's threads
(/proc/PID/task/*/schedstat): each session in turn downloads a file large enough that its
worker's time grows by far more than any other thread's. No timing is asserted, only which
thread did the work."""

import os

import pytest

from files_helpers import Session, fresh_dir, put_file

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
            before = thread_times(srv.pid)
            data, _, _ = s.retr(f"{vdir}/big.bin")
            assert len(data) == SIZE
            after = thread_times(srv.pid)
            grew = {t: after[t] - before.get(t, 0) for t in after}
            owner, most = max(grew.items(), key=lambda kv: kv[1])
            rest = max([v for t, v in grew.items() if t != owner] or [0])
            # The owner moved SIZE bytes; every other thread only woke now and then.
            assert most > 3 * rest, (grew, owner)
            owners.append(owner)
    finally:
        for s in conns:
            s.close()
    per_thread = {t: owners.count(t) for t in set(owners)}
    assert sorted(per_thread.values()) == [sessions // 2, sessions // 2], per_thread
