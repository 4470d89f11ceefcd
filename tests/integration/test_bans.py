"""Failed-login bans kept in the user store (issue 16): ferry ban list|del, bans that outlive a
restart, and two ferryd sharing one store (two nodes on one PostgreSQL database, or two ferryd
on one SQLite file) counting failures together. The cluster behind HAProxy is test_cluster.py.
Clients use their own loopback source addresses (127.0.0.6...), so nothing else is banned;
every wait is bounded and waits for a log line or a reply."""

import re

from conftest import Ctl, FerryServer, wait_until

# Every test runs once against each user store (conftest: ferry_store).
FERRY_STORES = ("sqlite", "postgres")

BAN_TEXT = "Too many failed logins from your address; try again later."
SYNC = 5.0   # bound for the other ferryd to see a ban (PostgreSQL: at once; SQLite: within 0.5 s)


def bans(failures=3):
    return {"limits": {"ban_failures": str(failures), "ban_window": "10m", "ban_time": "10m", "ban_max": "1h"}}


def fail_logins(srv, n, source):
    for _ in range(n):
        c = Ctl(srv.host, srv.port, timeout=5, source=source)
        try:
            c.expect("USER bob", 331)
            c.expect("PASS nope", 530)
        finally:
            c.close()


def first_reply(srv, source):
    c = Ctl(srv.host, srv.port, timeout=5, greet=False, source=source)
    try:
        r = c.reply()
        return r.code, r.text
    finally:
        c.close()


def lines(srv, pattern):
    return re.findall(pattern, srv.log())


def test_ban_list_and_del(make_server):
    srv = make_server(config=bans())
    assert srv.ferry("ban", "list", check=True).stdout == ""
    fail_logins(srv, 3, "127.0.0.6")
    srv.wait_log(r"ban: ip=127\.0\.0\.6 group=127\.0\.0\.6 for=600s reason=failed-logins")
    assert first_reply(srv, "127.0.0.6") == (421, BAN_TEXT)
    # The store has it once its count (the same rule) has seen the three failures.
    wait_until(lambda: "127.0.0.6 " in srv.ferry("ban", "list", check=True).stdout, SYNC,
               what="the ban in the store")
    out = srv.ferry("ban", "list", check=True).stdout
    assert re.fullmatch(r"127\.0\.0\.6 until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \((59\d|600)s left\)\n", out), out
    cp = srv.ferry("ban", "del", "127.0.0.6")
    assert (cp.returncode, cp.stdout, cp.stderr) == (0, "ban of 127.0.0.6 lifted and its failed logins forgotten\n",
                                                     "")
    srv.wait_log(r"bans: 1 lifted in the user store \(ferry ban del\)", timeout=SYNC)
    assert first_reply(srv, "127.0.0.6")[0] == 220
    assert srv.ferry("ban", "list", check=True).stdout == ""
    # Its failures were forgotten too: two more ban nothing.
    fail_logins(srv, 2, "127.0.0.6")
    assert first_reply(srv, "127.0.0.6")[0] == 220


def test_ban_outlives_a_restart(make_server):
    srv = make_server(config=bans())
    fail_logins(srv, 3, "127.0.0.7")
    srv.wait_log(r"ban: ip=127\.0\.0\.7 ")
    wait_until(lambda: "127.0.0.7 " in srv.ferry("ban", "list", check=True).stdout, SYNC,
               what="the ban in the store")
    srv.stop()
    srv.start()
    srv.wait_log(r"ban from the user store: group=127\.0\.0\.7 remaining=\d+s", timeout=SYNC)
    assert first_reply(srv, "127.0.0.7") == (421, BAN_TEXT)
    assert first_reply(srv, "127.0.0.8")[0] == 220


def test_two_ferryd_on_one_store_count_together(make_server, ferry_bin, ferry_store):
    """Two failures on one ferryd and one on the other ban the address on both (ban_failures 3):
    neither saw three, the store did."""
    a = make_server(config=bans(), start=False)
    b = FerryServer(ferry_bin, config=bans(), users=(), store=ferry_store)
    try:
        if a.pg_db:
            b.pg_db = a.pg_db
        else:
            b.db_path = a.db_path
        b.write_config()
        a.start()
        b.start()
        fail_logins(a, 2, "127.0.0.9")
        fail_logins(b, 1, "127.0.0.9")

        def banned():
            started = [s for s in (a, b) if lines(s, r"ban: ip=127\.0\.0\.9 group=127\.0\.0\.9 for=600s ")]
            learnt = [s for s in (a, b) if lines(s, r"ban from the user store: group=127\.0\.0\.9 ")]
            return len(started) == 1 and len(learnt) == 1 and started != learnt
        wait_until(banned, SYNC, what="one ferryd to ban 127.0.0.9 and the other to learn it")
        for s in (a, b):
            assert first_reply(s, "127.0.0.9") == (421, BAN_TEXT)
            assert first_reply(s, "127.0.0.10")[0] == 220
        # Lifted on one's configuration: both let it in.
        b.ferry("ban", "del", "127.0.0.9", check=True)
        for s in (a, b):
            s.wait_log(r"bans: 1 lifted in the user store", timeout=SYNC)
            assert first_reply(s, "127.0.0.9")[0] == 220
    finally:
        b.teardown()


def test_ban_cli_refusals(ferry_env):
    env = ferry_env()
    for args, err in ((("ban",), "ferry: ban: missing command (list, del)\n"),
                      (("ban", "show"), "ferry: ban: unknown command 'show'\n"),
                      (("ban", "list", "x"), "ferry: ban list: unexpected argument 'x'\n"),
                      (("ban", "del"), "ferry: ban del: expected one ADDRESS\n"),
                      (("ban", "del", "a", "b"), "ferry: ban del: expected one ADDRESS\n"),
                      (("ban", "del", "192.0.2.300"), "ferry: ban del: '192.0.2.300' is not an IPv4 or IPv6 "
                                                      "address\n"),
                      (("ban", "del", "2001:db8::/48"), "ferry: ban del: '2001:db8::/48' is not an IPv4 or IPv6 "
                                                        "address\n")):
        cp = env.ferry(*args)
        assert (cp.returncode, cp.stdout) == (2, ""), args
        assert cp.stderr == err + "Try 'ferry --help'.\n", cp.stderr
    # An IPv6 address means its /64, as ferryd counts it; nothing recorded is exit status 1.
    cp = env.ferry("ban", "del", "2001:db8:0:1::5")
    assert (cp.returncode, cp.stderr) == (1, "ferry: 2001:db8:0:1::/64 has no ban and no failed login recorded\n")
    assert "ban list" in env.ferry("--help").stdout


def test_wrong_passwords_ban_nobody_with_bans_off(make_server):
    """ban_failures 0: nothing is counted, in the guard or in the store."""
    addr = "127.0.0.11"
    srv = make_server(config=bans(failures=0))
    fail_logins(srv, 5, addr)
    assert first_reply(srv, addr)[0] == 220
    assert srv.ferry("ban", "list", check=True).stdout == ""
    assert srv.store_rows("bans") == []
