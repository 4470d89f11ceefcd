"""The per-user session slot ([limits] max_per_user, a user's or group's max-sessions) is held
exactly while a login holds it: from good credentials (PASS answered 230 or 332) until the session
ends, a wrong ACCT, REIN, a new USER or AUTH. Before the fix a login that failed at ACCT and a
session after REIN kept the slot until the connection closed, so the user could not log in
anywhere else. Every check is a reply code (no timing): the slot is given back before the reply
to the command that ends the login goes out."""

from conftest import Ctl

LIMIT_TEXT = "Too many sessions for user {} (limit {}); close some or raise [limits] max_per_user."


def server(make_server, limit):
    return make_server(config={"limits": {"max_per_user": str(limit), "max_per_ip": "0"}})


def refused(c, user, password, limit):
    c.expect(f"USER {user}", 331)
    r = c.cmd(f"PASS {password}")
    assert (r.code, r.text) == (421, LIMIT_TEXT.format(user, limit)), r
    c.assert_closed()


def test_failed_acct_frees_the_slot(make_server):
    srv = server(make_server, 1)
    a = srv.connect()
    a.expect("USER acctuser", 331)
    a.expect("PASS pw", 332)          # good credentials: the slot is taken here
    a.expect("ACCT wrong", 530)       # ... and given back: the login failed
    b = srv.connect()
    b.login("acctuser", "pw", "acct1")  # before the fix: 421, a's dead login held the slot
    # a is still open and may try again, but now b holds the one slot.
    refused(a, "acctuser", "pw", 1)
    b.expect("QUIT", 221)
    b.close()
    a.close()


def test_rein_frees_the_slot(make_server):
    srv = server(make_server, 1)
    a = srv.connect()
    a.login()
    a.expect("REIN", 220)
    a.expect("PWD", 530)
    b = srv.connect()
    b.login()                         # before the fix: 421 after a's REIN
    refused(a, "bob", "pw", 1)        # a's new login meets b's slot
    b.close()


def test_rein_after_acct_pending_frees_the_slot(make_server):
    srv = server(make_server, 1)
    a = srv.connect()
    a.expect("USER acctuser", 331)
    a.expect("PASS pw", 332)
    a.expect("REIN", 220)             # leaves the login waiting for ACCT
    b = srv.connect()
    b.login("acctuser", "pw", "acct1")
    a.close()
    b.close()


def test_login_rein_login_counts_once(make_server):
    srv = server(make_server, 2)
    a = srv.connect()
    a.login()
    a.expect("REIN", 220)
    a.login()                         # a's second login takes the slot its first gave back
    a.expect("USER bob", 331)         # USER ends that login too ...
    a.expect("PASS pw", 230)          # ... and this one is a's only slot
    b = srv.connect()
    b.login()                         # 2 of 2
    c = srv.connect()
    refused(c, "bob", "pw", 2)
    c.close()
    # a's slot comes back when it leaves: exactly one was held.
    a.expect("QUIT", 221)
    a.assert_closed()
    d = Ctl(srv.host, srv.port, timeout=5)
    d.login()
    for x in (a, b, d):
        x.close()
