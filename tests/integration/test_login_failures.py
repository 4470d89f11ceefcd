"""Issue 13 item 6: every way of failing a login counts toward the address ban ([limits]
ban_failures), and an anonymous client cannot lock a one-time-password user out by holding
its RFC 2289 challenge.

Bans are seen as the 421 before the greeting; every loop is bounded."""

import pytest

from conftest import Ctl
from test_clients import clean_home, need, run  # noqa: F401 (clean_home is a fixture)
from test_otp import LFTP_BASE, PHRASE, USERS, answer, init_otp

# Every test runs once against each user store (conftest: ferry_store).
FERRY_STORES = ("sqlite", "postgres")

BANNED = (421, "Too many failed logins from your address; try again later.")


def limits(**kw):
    d = {"max_per_ip": "0", "max_per_user": "0", "connect_rate": "0", "prelogin_commands": "1000000",
         "ban_failures": "0", "ban_time": "1h", "ban_max": "1h"}
    d.update({k: str(v) for k, v in kw.items()})
    return {"limits": d}


def first_reply(srv):
    c = Ctl(srv.host, srv.port, timeout=5, greet=False)
    try:
        r = c.reply()
        return r.code, r.text
    finally:
        c.close()


def test_wrong_acct_counts_toward_the_ban(make_server, ctl):
    srv = make_server(config=limits(ban_failures=3))
    for _ in range(3):
        c = ctl(srv)
        c.expect("USER acctuser", 331)
        c.expect("PASS pw", 332)
        c.expect("ACCT wrong", 530)
        c.close()
    srv.wait_log(r"ban: ip=127\.0\.0\.1 group=127\.0\.0\.1 for=3600s reason=failed-logins")
    assert first_reply(srv) == BANNED


def test_right_acct_does_not_count(make_server, ctl):
    srv = make_server(config=limits(ban_failures=2))
    for _ in range(3):
        c = ctl(srv)
        c.login("acctuser", "pw", account="acct1")
        c.close()
    assert first_reply(srv)[0] == 220


@pytest.fixture
def otp_srv(make_server):
    def factory(**lim):
        s = make_server(config=limits(**lim), users=USERS, start=False)
        init_otp(s, "otpuser", PHRASE, "--count", "100", "--seed", "test")
        s.start()
        return s
    return factory


def test_held_challenge_does_not_lock_the_user_out(otp_srv, ctl):
    """A takes otpuser's challenge and idles (anyone can: USER needs no credentials); B, the
    real user, still gets the same challenge and logs in with the right one-time password.
    The compare-and-swap in the store accepts that OTP once: A's answer is refused after."""
    srv = otp_srv()
    a, b = ctl(srv), ctl(srv)
    ra = a.cmd("USER otpuser")
    assert (ra.code, ra.text) == (331, "Response to otp-md5 99 test ext required for otpuser.")
    rb = b.cmd("USER otpuser")
    assert (rb.code, rb.text) == (331, "Response to otp-md5 99 test ext required for otpuser.")
    assert b.cmd("PASS " + answer(rb.text)).code == 230
    assert a.cmd("PASS " + answer(ra.text)).code == 530
    # The next challenge is one lower, for whoever asks.
    assert "otp-md5 98 test" in ctl(srv).cmd("USER otpuser").text


def test_lftp_logs_in_while_another_connection_holds_the_challenge(otp_srv, ctl, clean_home):
    """The same with a real client: lftp computes the answer from the 331 challenge; before,
    it got "530 Another login for otpuser is in progress" however often it retried."""
    _, env = clean_home
    srv = otp_srv()
    squatter = ctl(srv)
    assert squatter.cmd("USER otpuser").code == 331
    cp = run([need("lftp"), "-d", "-c", LFTP_BASE +
              f"open -u 'otpuser,{PHRASE}' ftp://{srv.host}:{srv.port}; quote NOOP"], env=env)
    assert cp.returncode == 0, cp.stderr
    assert "230 Login successful." in cp.stderr, cp.stderr
    assert squatter.cmd("PASS BAIL TUFT BITS GANG CHEF THY").code == 530  # used once already


def test_guess_on_a_shared_challenge_ends_the_connection_and_counts(otp_srv, ctl):
    """While another connection holds the challenge, a wrong answer is the last try on that
    connection (RFC 2289 §9 race: no series of guesses at the last word) and counts toward
    the ban of its address like any failed login."""
    srv = otp_srv(ban_failures=2)
    holder = ctl(srv)
    assert holder.cmd("USER otpuser").code == 331
    for _ in range(2):
        c = ctl(srv)
        assert c.cmd("USER otpuser").code == 331
        r = c.cmd("PASS WRONG WORDS ARE NOT AN ANSWER")
        assert r.code == 530
        r = c.reply()
        assert (r.code, r.text) == (421, "Login failure limit reached, closing control connection.")
        c.assert_closed()
    srv.wait_log(r"ban: ip=127\.0\.0\.1 group=127\.0\.0\.1 for=3600s reason=failed-logins")
    assert first_reply(srv) == BANNED
    # The holder itself keeps the usual number of tries.
    assert holder.cmd("PASS WRONG WORDS ARE NOT AN ANSWER").code == 530
    assert holder.cmd("USER otpuser").code == 331
