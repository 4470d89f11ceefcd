"""Login state machine against the real ferryd (PROTOCOL.md §2.1, checklist B 24-43)."""

import re
import socket
import statistics
import time

import pytest

# Every test runs once against each user store (conftest: ferry_store).
FERRY_STORES = ("sqlite", "postgres")

# lftp's default ftp:retry-530 regex (PROTOCOL.md §3.3): a 530 matching it makes lftp retry.
LFTP_RETRY_530 = re.compile(
    r"too many|overloaded|try (again |back )?later|is restricted to|maximum number|"
    r"number of connect|only.*session.*allowed|more connection|already connected|"
    r"simultaneous login", re.I)


# ----------------------------------------------------------------- B 24-28: USER / PASS

def test_user_known_gets_331(server, ctl):
    c = ctl(server)
    assert c.cmd("USER bob").code == 331


def test_user_unknown_gets_331_then_530(server, ctl):
    c = ctl(server)
    assert c.cmd("USER nosuch").code == 331
    assert c.cmd("PASS x").code == 530
    assert c.cmd("PWD").code == 530


def test_user_without_argument_is_501_and_state_unchanged(server, ctl):
    c = ctl(server)
    assert c.cmd("USER bob").code == 331
    assert c.cmd("USER").code == 501
    # still waiting for bob's password
    assert c.cmd("PASS pw").code == 230


def test_pass_before_user_is_503(server, ctl):
    c = ctl(server)
    r = c.cmd("PASS pw")
    assert r.code == 503
    assert c.cmd("PWD").code == 530


def test_login_ok_then_pwd(server, ctl):
    c = ctl(server)
    assert c.cmd("USER bob").code == 331
    r = c.cmd("PASS pw")
    assert r.code == 230
    r = c.cmd("PWD")
    assert r.code == 257
    assert r.text.startswith('"/"')


def test_wrong_password_then_retry_on_same_connection(server, ctl):
    c = ctl(server)
    assert c.cmd("USER bob").code == 331
    assert c.cmd("PASS wrong").code == 530
    assert c.cmd("PWD").code == 530
    assert c.cmd("USER bob").code == 331
    assert c.cmd("PASS pw").code == 230
    assert c.cmd("PWD").code == 257


def test_failure_limit_530_then_421_and_close(server, ctl):
    c = ctl(server)
    for i in range(2):
        assert c.cmd("USER bob").code == 331
        assert c.cmd("PASS wrong%d" % i).code == 530
    assert c.cmd("USER bob").code == 331
    r = c.cmd("PASS wrong2")
    assert r.code == 530            # curl/Python/lftp report a login failure on the 530 ...
    r = c.reply()
    assert r.code == 421            # ... then the server says why it closes
    c.assert_closed()


def test_failures_count_per_connection_and_reset_on_success(server, ctl):
    c = ctl(server)
    for i in range(2):
        c.expect("USER bob", 331)
        c.expect("PASS wrong", 530)
    c.login()
    # A successful login resets the counter: two more failures do not close.
    for i in range(2):
        c.expect("USER bob", 331)
        c.expect("PASS wrong", 530)
    assert c.cmd("NOOP").code == 200
    # A fresh connection is not affected by this one's failures.
    d = ctl(server)
    d.login()


def test_530_text_is_neutral_for_lftp(server, ctl):
    c = ctl(server)
    c.expect("USER bob", 331)
    r = c.expect("PASS wrong", 530)
    assert not LFTP_RETRY_530.search(r.full), r
    c.expect("USER acctuser", 331)
    c.expect("PASS pw", 332)
    r = c.expect("ACCT wrong", 530)
    assert not LFTP_RETRY_530.search(r.full), r


def _time_pass(c, user, password):
    c.expect(f"USER {user}", 331)
    c.send(f"PASS {password}\r\n")
    t0 = time.monotonic()
    r = c.reply(timeout=10)
    return r, time.monotonic() - t0


def test_failure_delay_is_applied(make_server, ctl):
    srv = make_server({"server": {"login_fail_delay": "700ms", "max_login_failures": "10"}})
    c = ctl(srv)
    r, dt = _time_pass(c, "bob", "wrong")
    assert r.code == 530
    assert dt >= 0.7, f"wrong PASS answered after {dt:.3f}s, delay is 700ms"
    assert dt < 5.0
    # A correct password is not delayed by the failure delay.
    r, dt_ok = _time_pass(c, "bob", "pw")
    assert r.code == 230
    assert dt_ok < 0.7, f"correct PASS took {dt_ok:.3f}s"
    # A wrong ACCT is a failed login too and gets the same delay.
    c.expect("USER acctuser", 331)
    c.expect("PASS pw", 332)
    c.send("ACCT nope\r\n")
    t0 = time.monotonic()
    r = c.reply(timeout=10)
    assert r.code == 530
    assert time.monotonic() - t0 >= 0.7


def test_unknown_user_timing_comparable_to_wrong_password(make_server, ctl):
    srv = make_server({"server": {"login_fail_delay": "200ms", "max_login_failures": "20"}})
    c = ctl(srv)
    known, unknown = [], []
    for _ in range(4):
        r, dt = _time_pass(c, "bob", "wrong")
        assert r.code == 530
        known.append(dt)
        r, dt = _time_pass(c, "nosuchuser", "wrong")
        assert r.code == 530
        unknown.append(dt)
    mk, mu = statistics.median(known), statistics.median(unknown)
    assert mu >= 0.2 and mk >= 0.2, (known, unknown)
    # Loose bound: both do one hash plus the same delay.
    assert abs(mk - mu) < 0.15, f"wrong password {known} vs unknown user {unknown}"


def test_failed_pass_wipes_user(server, ctl):
    # After a failure the sequence restarts from USER (RFC 959 §4.2).
    c = ctl(server)
    c.expect("USER bob", 331)
    c.expect("PASS wrong", 530)
    assert c.cmd("PASS pw").code == 503


# ----------------------------------------------------------------- B 33-39: ACCT

def test_acct_flow_332_then_230(server, ctl):
    c = ctl(server)
    r = c.cmd("USER acctuser")
    assert r.code == 331                 # never 332 to USER (Decision 1)
    r = c.cmd("PASS pw")
    assert r.code == 332
    r = c.cmd("ACCT acct1")
    assert r.code == 230
    assert c.cmd("PWD").code == 257


def test_acct_wrong_is_530_and_not_logged_in(server, ctl):
    c = ctl(server)
    c.expect("USER acctuser", 331)
    c.expect("PASS pw", 332)
    assert c.cmd("ACCT wrong").code == 530
    assert c.cmd("PWD").code == 530
    # The whole sequence must be repeated.
    assert c.cmd("ACCT acct1").code == 503


def test_acct_empty_argument_is_501_never_230(server, ctl):
    c = ctl(server)
    c.expect("USER acctuser", 331)
    c.expect("PASS pw", 332)
    r = c.cmd("ACCT ")            # what Python ftplib sends without an account
    assert r.code == 501
    r = c.cmd("ACCT")
    assert r.code == 501
    assert c.cmd("PWD").code == 530


def test_acct_before_user_is_503(server, ctl):
    c = ctl(server)
    assert c.cmd("ACCT acct1").code == 503
    c.expect("USER acctuser", 331)
    assert c.cmd("ACCT acct1").code == 503   # after USER, before PASS


def test_acct_when_not_needed_is_202(server, ctl):
    c = ctl(server)
    c.login("bob", "pw")
    assert c.cmd("ACCT x").code == 202
    assert c.cmd("PWD").code == 257


def test_acct_pending_blocks_commands(server, ctl):
    c = ctl(server)
    c.expect("USER acctuser", 331)
    c.expect("PASS pw", 332)
    assert c.cmd("PWD").code == 530
    assert c.cmd("TYPE I").code == 530
    assert c.cmd("ACCT acct1").code == 230


def test_acctuser_wrong_password_is_530_not_332(server, ctl):
    c = ctl(server)
    c.expect("USER acctuser", 331)
    assert c.cmd("PASS wrong").code == 530


def test_pass_while_logged_in_is_503(server, ctl):
    c = ctl(server)
    c.login()
    assert c.cmd("PASS pw").code == 503
    assert c.cmd("PWD").code == 257


def test_pass_while_account_pending_is_503(server, ctl):
    c = ctl(server)
    c.expect("USER acctuser", 331)
    c.expect("PASS pw", 332)
    r = c.cmd("PASS pw")
    assert r.code == 503, r
    assert c.cmd("ACCT acct1").code == 230


# ----------------------------------------------------------------- B 40, 43: USER re-login, REIN

def _stat_type(c):
    r = c.cmd("STAT")
    assert r.code == 211
    m = re.search(r"TYPE: (\w+)", r.full)
    assert m, r
    return m.group(1)


def test_transfer_params_survive_user(server, ctl):
    c = ctl(server)
    c.login()
    assert _stat_type(c) == "ASCII"
    c.expect("TYPE I", 200)
    assert _stat_type(c) == "BINARY"
    c.expect("USER bob", 331)
    assert c.cmd("PWD").code == 530
    c.expect("PASS pw", 230)
    assert _stat_type(c) == "BINARY"


def test_user_relogin_as_other_user(server, ctl):
    c = ctl(server)
    c.login("bob", "pw")
    c.login("acctuser", "pw", "acct1")
    r = c.cmd("STAT")
    assert "Logged in as acctuser" in r.full


def test_rein_resets_login_and_params(server, ctl):
    c = ctl(server)
    c.login()
    c.expect("TYPE I", 200)
    r = c.cmd("REIN")
    assert r.code == 220
    assert c.cmd("PWD").code == 530
    assert "Not logged in" in c.cmd("STAT").full
    c.login()
    assert _stat_type(c) == "ASCII"


def test_rein_during_account_pending(server, ctl):
    c = ctl(server)
    c.expect("USER acctuser", 331)
    c.expect("PASS pw", 332)
    assert c.cmd("REIN").code == 220
    assert c.cmd("ACCT acct1").code == 503


# ----------------------------------------------------------------- B 41-42: before login

@pytest.mark.parametrize("line", [
    "LIST", "RETR f", "CWD d", "PWD", "PASV", "PORT 127,0,0,1,4,1", "MKD x", "SIZE f",
    "TYPE I", "MODE S", "STRU F", "XPWD", "EPSV", "STOR x", "DELE f", "ALLO 10",
])
def test_before_login_needs_login(server, ctl, line):
    c = ctl(server)
    r = c.cmd(line)
    assert r.code == 530, r
    # and it does not disturb a following login
    c.login()


@pytest.mark.parametrize("line,code", [
    ("FEAT", 211), ("NOOP", 200), ("HELP", 214), ("SYST", 215),
    ("OPTS UTF8 ON", 200), ("STAT", 211),
])
def test_before_login_allowed(server, ctl, line, code):
    c = ctl(server)
    r = c.cmd(line)
    assert r.code == code, r


def test_before_login_quit(server, ctl):
    c = ctl(server)
    assert c.cmd("QUIT").code == 221
    c.assert_closed()


def test_syst_text(server, ctl):
    c = ctl(server)
    assert c.cmd("SYST").lines == ["215 UNIX Type: L8"]


# ----------------------------------------------------------------- timeouts

def test_login_timeout_sends_421_and_closes(make_server, ctl):
    srv = make_server({"server": {"login_timeout": "1s"}})
    c = ctl(srv)
    t0 = time.monotonic()
    assert c.cmd("NOOP").code == 200   # activity does not extend the login deadline
    r = c.reply(timeout=5)
    dt = time.monotonic() - t0
    assert r.code == 421, r
    assert 0.7 <= dt <= 4.0, dt
    c.assert_closed()
    # A client that logs in in time is not affected.
    d = ctl(srv)
    d.login()
    assert d.no_data(1.5)
    assert d.cmd("NOOP").code == 200


def test_login_timeout_preempts_failure_delay(make_server, ctl):
    # The login deadline passes while a wrong PASS waits out its (longer) failure delay:
    # 421 at the deadline, no 530 afterwards, clean close.
    srv = make_server({"server": {"login_timeout": "1s", "login_fail_delay": "3s"}})
    c = ctl(srv)
    t0 = time.monotonic()
    c.expect("USER bob", 331)
    c.send("PASS wrong\r\n")
    r = c.reply(timeout=6)
    dt = time.monotonic() - t0
    assert r.code == 421, r
    assert dt < 2.5, dt
    c.assert_closed()


def test_login_timeouts_many_sessions(make_server):
    # Timers of closed sessions are removed from the middle of the loop's timer heap; the
    # remaining sessions must all still time out. The logins come first and the timeout is long
    # enough for 14 logins on a loaded ASan build (they once took over 1 s), so which sessions
    # time out does not depend on how fast the machine is.
    srv = make_server({"server": {"login_timeout": "6s"}})
    conns = [srv.connect() for _ in range(40)]
    try:
        for i, c in enumerate(conns):
            if i % 3 == 2:
                c.login()
        for i, c in enumerate(conns):
            if i % 3 == 1:
                c.cmd("QUIT")
                c.close()
        for i, c in enumerate(conns):
            if i % 3 == 0:
                r = c.reply(timeout=60)
                assert r.code == 421, (i, r)
                c.assert_closed()
        for i, c in enumerate(conns):
            if i % 3 == 2:
                assert c.cmd("NOOP").code == 200, i
    finally:
        for c in conns:
            c.close()


def test_acct_failures_count_toward_limit(server, ctl):
    c = ctl(server)
    for i in range(3):
        c.expect("USER acctuser", 331)
        c.expect("PASS pw", 332)
        assert c.cmd("ACCT wrong").code == 530
    assert c.reply().code == 421
    c.assert_closed()


def test_idle_timeout_sends_421_and_closes(make_server, ctl):
    # 10s is the minimum idle_timeout the config accepts. A command at +2s restarts the
    # idle clock, so the 421 comes ~10s after that command, not after login.
    srv = make_server({"server": {"idle_timeout": "10s"}})
    c = ctl(srv)
    c.login()
    assert c.no_data(2.0)
    assert c.cmd("NOOP").code == 200
    t0 = time.monotonic()
    r = c.reply(timeout=20)
    dt = time.monotonic() - t0
    assert r.code == 421, r
    assert 9.0 <= dt <= 14, dt
    c.assert_closed()
    assert "idle timeout" in srv.log()


def flood_abandoned_logins(srv, n):
    """n connections that each send USER/PASS and close at once without waiting for the
    verdict. Cheap for the client; each leaves a password check behind on the server."""
    for _ in range(n):
        s = socket.create_connection((srv.host, srv.port), timeout=5)
        try:
            s.sendall(b"USER bob\r\nPASS wrong\r\n")
        finally:
            s.close()


def test_abandoned_logins_do_not_delay_new_logins(make_server):
    # A password check whose session has already gone must not keep its place in the job
    # queue: otherwise anyone can delay every login without limit (and past max_sessions)
    # just by connecting, sending USER/PASS and hanging up.
    srv = make_server()
    try:
        flood_abandoned_logins(srv, 2000)
        c = srv.connect(timeout=5)
        try:
            t0 = time.monotonic()
            try:
                c.login()
            except socket.timeout:
                pytest.fail("USER/PASS not answered within 5s: the login waits behind the "
                            "password checks of 2000 already-closed connections")
            dt = time.monotonic() - t0
        finally:
            c.close()
        assert dt < 3.0, (f"a login took {dt:.1f}s behind the password checks of 2000 "
                          f"already-closed connections")
    finally:
        srv.kill()   # don't wait for the backlog in teardown
