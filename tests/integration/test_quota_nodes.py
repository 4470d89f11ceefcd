"""Quotas across nodes that share one store (README "Quotas", core/quota.h GRANTS): two ferryd on
one SQLite file or one PostgreSQL database, one user with a byte quota, uploading through both.

Each node's uploads reserve from a grant the node took in the store with one transaction that
counts the usage and every node's live grants, so the nodes never admit more than the quota
together (before grants each node enforced the usage it read at login, and two nodes could each
admit up to the quota: test_two_nodes_never_pass_the_quota_together failed on it). A killed node's
grant counts until it expires ([limits] quota_grant_expiry) or `ferry quota scan` drops it once
expired. No assertion is on a duration: the store's figures and rows are waited for, bounded.

    FERRY_BUILD=build /usr/bin/python3 -m pytest tests/integration/test_quota_nodes.py
"""

import os
import re
import signal
import subprocess
import threading

import pytest

from conftest import built_features, free_port, wait_until
from files_helpers import DATA_TIMEOUT, home_of, put_file, read_bytes
from sftp_helpers import client, sftp_config
from test_quota import disk_usage, ferry_ok, keydir, no_temporaries, session, upload, usage, wait_usage  # noqa: F401

FERRY_STORES = ("sqlite", "postgres")

QUOTA = 1 << 20          # bob's quota-bytes
PART = 700_000           # each node's upload: one fits, two do not
OLD = b"node B's old file\n"


def second_node(make_server, a, config=None):
    """A second ferryd whose store is a's (the same SQLite file or PostgreSQL database)."""
    b = make_server(config, users=(), start=False)
    if a.pg_db:
        b.pg_db = a.pg_db
    else:
        b.db_path = a.db_path
    b.write_config()
    b.start()
    return b


def first_node(make_server, quota=QUOTA, config=None):
    """Node A with bob's quota set, his home holding b.bin (OLD) and the usage recounted."""
    a = make_server(config)
    put_file(os.path.join(home_of(a), "b.bin"), OLD)
    ferry_ok(a, "user", "set", "bob", "--quota-bytes", str(quota))
    ferry_ok(a, "quota", "scan", "bob")
    assert usage(a) == (len(OLD), 1)
    return a


def reserved(srv):
    """The nodes' grants `ferry quota show` lists: [(bytes, expired)]."""
    out = ferry_ok(srv, "quota", "show", "bob")
    return [(int(m.group(1)), m.group(2) == "expired")
            for m in re.finditer(r"^reserved: (\d+) bytes by node \S+ \((expired|expires)", out, re.M)]


def test_two_nodes_never_pass_the_quota_together(make_server):
    """bob is logged in on both nodes; an upload through node A commits 700,000 bytes of a
    1 MiB quota, then one through node B of another 700,000 bytes is refused (552) mid-stream,
    its old file intact, and the store's usage never passes the quota."""
    a = first_node(make_server)
    home = home_of(a)
    b = second_node(make_server, a)
    sa, sb = session(a), session(b)   # both logged in before either uploads
    try:
        assert upload(sa, "a.bin", os.urandom(PART)).code == 226
        wait_usage(a, (len(OLD) + PART, 2))
        r = upload(sb, "b.bin", os.urandom(PART))
        committed, _ = usage(b)
        assert committed <= QUOTA, f"the nodes together committed {committed} bytes of a {QUOTA} quota"
        assert r.code == 552 and "Exceeded storage allocation" in r.text, r
        assert read_bytes(os.path.join(home, "b.bin")) == OLD
        assert no_temporaries(home) == []
        # What fits still fits, through either node.
        assert upload(sb, "c.bin", b"c" * 1000).code == 226
    finally:
        sa.close()
        sb.close()
    wait_usage(a, (len(OLD) + PART + 1000, 3))
    assert disk_usage(home) == usage(a)
    b.wait_log(r'transfer: user="bob" .*cmd=STOR path="/b.bin" .*status=failed reason=quota')
    # Each node gave its unused grant back when bob's last upload on it ended.
    wait_until(lambda: sum(n for n, _ in reserved(a)) == 0, timeout=30, what="the grants given back")


def test_two_nodes_uploading_at_once(make_server):
    """Both nodes receive 700,000 bytes at the same time (both transfers started before either
    sends): whatever each answers (226, or 552 at the quota), the committed sum stays within the
    quota, the disk agrees with the store, and a refused overwrite leaves the old file."""
    a = first_node(make_server)
    home = home_of(a)
    b = second_node(make_server, a)
    sa, sb = session(a), session(b)
    data = {sa: os.urandom(PART), sb: os.urandom(PART)}
    names = {sa: "a.bin", sb: "b.bin"}
    chans, replies = {}, {}
    try:
        for s in (sa, sb):
            d = s.open_passive()
            r1 = s.cmd(f"STOR {names[s]}")
            assert r1.code in (125, 150), r1
            chans[s] = d

        def send(s):
            d = chans[s]
            d.settimeout(DATA_TIMEOUT)
            try:
                d.sendall(data[s])
            except OSError:
                pass  # stopped at the quota
            finally:
                d.close()

        threads = [threading.Thread(target=send, args=(s,)) for s in (sa, sb)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(DATA_TIMEOUT)
            assert not t.is_alive()
        for s in (sa, sb):
            replies[s] = s.reply(timeout=DATA_TIMEOUT)
            assert replies[s].code in (226, 552), replies[s]
    finally:
        sa.close()
        sb.close()
    assert [r.code for r in replies.values()].count(226) <= 1, replies   # two would pass the quota
    a_ok, b_ok = replies[sa].code == 226, replies[sb].code == 226
    wait_usage(a, ((PART if a_ok else 0) + (PART if b_ok else len(OLD)), 1 + a_ok))
    assert usage(a)[0] <= QUOTA
    assert disk_usage(home) == usage(a)
    if replies[sb].code == 552:
        assert read_bytes(os.path.join(home, "b.bin")) == OLD
    assert no_temporaries(home) == []


def test_sftp_write_refused_on_the_other_node(make_server, ferry_bin, keydir):  # noqa: F811
    """The same through SFTP on node B: its WRITE past what the store leaves fails (SSH_FX_FAILURE,
    "Quota exceeded"), the old file stays."""
    if "sftp" not in built_features(ferry_bin):
        pytest.skip("ferryd built without SFTP (meson -Dsftp=disabled)")
    key = os.path.join(keydir, "host_ed25519")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True, timeout=30)
    a = first_node(make_server)
    home = home_of(a)
    port = free_port()
    b = second_node(make_server, a, sftp_config(port, {"sftp": {"host_keys": key}}))
    b.sftp_port = port
    sa = session(a)
    c = client(b)
    try:
        assert upload(sa, "a.bin", os.urandom(PART)).code == 226
        wait_usage(a, (len(OLD) + PART, 2))
        with pytest.raises(IOError) as ei:
            with c.open("/b.bin", "wb") as f:
                f.set_pipelined(False)
                for _ in range(PART // 32768 + 1):
                    f.write(b"n" * 32768)
        assert "Quota exceeded" in str(ei.value), ei.value
        # A small file still fits.
        with c.open("/c.bin", "wb") as f:
            f.write(b"c" * 1000)
    finally:
        sa.close()
        c.close()
    assert read_bytes(os.path.join(home, "b.bin")) == OLD
    assert no_temporaries(home) == []
    wait_usage(a, (len(OLD) + PART + 1000, 3))
    assert usage(a)[0] <= QUOTA


def held_upload(srv, name, n):
    """A session on srv that sent n bytes of an upload and keeps its data connection open (the
    upload runs); returns (session, data socket)."""
    s = session(srv)
    d = s.open_passive()
    r1 = s.cmd(f"STOR {name}")
    assert r1.code in (125, 150), r1
    d.sendall(b"h" * n)
    return s, d


def killed_node_holding(make_server, expiry, quota):
    """Node A (grants expiring after expiry) killed while an upload of bob's held 200,000 bytes of
    the quota there; node B on the same store. Returns (a, b)."""
    a = first_node(make_server, quota=quota, config={"limits": {"quota_grant_expiry": expiry}})
    b = second_node(make_server, a)
    s, d = held_upload(a, "held.bin", 200_000)
    try:
        wait_until(lambda: sum(n for n, _ in reserved(a)) >= 200_000, timeout=30,
                   what="node A's grant in the store")
        a.signal(signal.SIGKILL)
        a.wait_exit()
    finally:
        d.close()
        s.c.sock.close()
    return a, b


def test_killed_node_grant_counts_until_it_expires(make_server):
    """A node killed mid-upload leaves its grant in the store: until it expires the other node
    cannot use those bytes (the killed node might have written them)."""
    a, b = killed_node_holding(make_server, "1h", 256 * 1024)
    sb = session(b)
    try:
        r = upload(sb, "x.bin", os.urandom(100_000))
        assert r.code == 552, r
    finally:
        sb.close()
    assert [e for _, e in reserved(b)] == [False]


def test_killed_node_grant_expires_and_scan_drops_it(make_server):
    """Once the killed node's grant expired it no longer counts: `ferry quota show` says so,
    `ferry quota scan` drops it, and the other node's upload that needs those bytes goes."""
    a, b = killed_node_holding(make_server, "3s", 256 * 1024)
    wait_until(lambda: reserved(b) and all(e for _, e in reserved(b)), timeout=60,
               what="node A's grant to expire")
    ferry_ok(b, "quota", "scan", "bob")
    assert reserved(b) == []
    sb = session(b)
    try:
        assert upload(sb, "x.bin", os.urandom(200_000)).code == 226
    finally:
        sb.close()
    wait_usage(b, (len(OLD) + 200_000, 2))
