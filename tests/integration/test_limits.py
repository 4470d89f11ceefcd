"""[limits]: per-address and per-user session limits, connection rate, pre-login command limit,
failed-login bans (issue 7). Clients use several loopback source addresses (127.0.0.x) to be
different "addresses"; every loop is bounded."""

import socket
import time

import pytest

from conftest import Ctl, wait_until

# Every test runs once against each user store (conftest: ferry_store).
FERRY_STORES = ("sqlite", "postgres")

OFF = {"max_per_ip": "0", "max_per_user": "0", "connect_rate": "0", "prelogin_commands": "1000000",
       "ban_failures": "0"}


def limits(**kw):
    d = dict(OFF)
    d.update({k: str(v) for k, v in kw.items()})
    return {"limits": d}


def ctl_from(srv, source, greet=True):
    """A control connection from the loopback address `source`."""
    return Ctl(srv.host, srv.port, timeout=5, greet=greet, source=source)


def first_reply(srv, source="127.0.0.1"):
    """Connects, returns the first reply, closes."""
    c = ctl_from(srv, source, greet=False)
    try:
        return c.reply()
    finally:
        c.close()


def test_per_ip_limit(make_server):
    srv = make_server(config=limits(max_per_ip=2))
    a, b = srv.connect(), srv.connect()
    try:
        assert a.greeting.code == 220 and b.greeting.code == 220
        c = ctl_from(srv, "127.0.0.1", greet=False)
        r = c.reply()
        assert (r.code, r.text) == (421, "Too many connections from your address (limit 2); close some or raise "
                                     "[limits] max_per_ip.")
        c.assert_closed()
        c.close()
        # Another address is another client.
        other = ctl_from(srv, "127.0.0.2")
        assert other.greeting.code == 220
        other.close()
        srv.wait_log(r"refused: ip=127\.0\.0\.1 reason=per-ip-limit group=127\.0\.0\.1")
        # A slot comes back when a session ends.
        a.expect("QUIT", 221)
        a.assert_closed()
        wait_until(lambda: first_reply(srv).code == 220, timeout=5, what="a freed slot")
    finally:
        a.close()
        b.close()


def test_per_user_limit(make_server):
    srv = make_server(config=limits(max_per_user=2))
    srv.add_user("alice", "secret")
    sessions = []
    try:
        for _ in range(2):
            c = srv.connect()
            c.login("bob", "pw")
            sessions.append(c)
        c = srv.connect()
        sessions.append(c)
        c.expect("USER bob", 331)
        r = c.cmd("PASS pw")
        assert (r.code, r.text) == (421, "Too many sessions for user bob (limit 2); close some or raise "
                                     "[limits] max_per_user.")
        c.assert_closed()
        srv.wait_log(r'login refused: user="bob" ip=127\.0\.0\.1 reason=user-limit')
        # Other users are not affected; bob gets a slot back when one logs out.
        d = srv.connect()
        sessions.append(d)
        d.login("alice", "secret")
        sessions[0].expect("QUIT", 221)
        sessions[0].assert_closed()

        def bob_again():
            e = srv.connect()
            sessions.append(e)
            e.expect("USER bob", 331)
            return e.cmd("PASS pw").code == 230
        wait_until(bob_again, timeout=5, what="bob's freed slot")
    finally:
        for c in sessions:
            c.close()


def test_connect_rate(make_server):
    srv = make_server(config=limits(connect_rate=1, connect_burst=3))
    time.sleep(1.1)  # the readiness probe's token comes back
    codes = [first_reply(srv).code for _ in range(4)]
    assert codes == [220, 220, 220, 421]
    r = first_reply(srv)
    assert (r.code, r.text) == (421, "Too many new connections from your address (limit 1 per second, 3 at "
                                     "once); slow down or raise [limits] connect_rate.")
    assert first_reply(srv, "127.0.0.3").code == 220
    srv.wait_log(r"refused: ip=127\.0\.0\.1 reason=connect-rate")
    time.sleep(1.1)  # one new connection per second is the sustained rate
    assert first_reply(srv).code == 220


def fail_logins(srv, n, source="127.0.0.1"):
    for _ in range(n):
        c = ctl_from(srv, source)
        try:
            c.expect("USER bob", 331)
            c.expect("PASS nope", 530)
        finally:
            c.close()


def test_failed_logins_ban_the_address_before_the_greeting(make_server):
    srv = make_server(config=limits(ban_failures=3, ban_time="2s", ban_max="1h"))
    fail_logins(srv, 3)
    srv.wait_log(r"ban: ip=127\.0\.0\.1 group=127\.0\.0\.1 for=2s reason=failed-logins")
    r = first_reply(srv)
    assert (r.code, r.text) == (421, "Too many failed logins from your address; try again later.")
    srv.wait_log(r"refused: ip=127\.0\.0\.1 reason=banned group=127\.0\.0\.1 remaining=[12]s")
    # Others are not affected, and the right password is no way around a ban.
    other = ctl_from(srv, "127.0.0.4")
    other.login("bob", "pw")
    other.close()
    time.sleep(2.1)
    c = srv.connect()
    c.login("bob", "pw")
    c.close()
    # A repeat offence doubles the ban.
    fail_logins(srv, 3)
    srv.wait_log(r"ban: ip=127\.0\.0\.1 group=127\.0\.0\.1 for=4s reason=failed-logins")
    assert first_reply(srv).code == 421


def test_good_logins_do_not_count(make_server):
    srv = make_server(config=limits(ban_failures=3))
    for _ in range(6):
        c = srv.connect()
        c.login("bob", "pw")
        c.close()
    fail_logins(srv, 2)
    assert first_reply(srv).code == 220


def test_prelogin_command_limit(make_server):
    srv = make_server(config=limits(prelogin_commands=5))
    c = srv.connect()
    try:
        for _ in range(5):
            c.expect("NOOP", 200)
        r = c.cmd("NOOP")
        assert (r.code, r.text) == (421, "Too many commands before login, closing control connection.")
        c.assert_closed()
    finally:
        c.close()
    c = srv.connect()
    try:
        c.login("bob", "pw")
        for _ in range(20):  # logged in: no limit
            c.expect("NOOP", 200)
    finally:
        c.close()


def test_defaults_are_on(make_server):
    # The shipped defaults (no [limits] section) limit a flood from one address.
    srv = make_server(start=False)
    srv.drop_config_section("limits")
    srv.start()
    time.sleep(0.5)  # the readiness probe's token comes back (20 per second)
    # 100 at once are admitted (rclone opens transfers + checkers + 1), then the rate applies.
    codes = []
    while 421 not in codes and len(codes) < 400:
        codes.append(first_reply(srv).code)
    assert 421 in codes and codes[:100] == [220] * 100


def test_many_slow_idle_connections_do_not_block_a_login(make_server):
    # 2,000 connections from 40 addresses that never log in (some dribble half a command)
    # do not keep a legitimate client out.
    srv = make_server(config={"server": {"max_sessions": "2100"},
                              "limits": dict(OFF, max_per_ip="50")})
    held = []
    try:
        deadline = time.monotonic() + 120
        for i in range(2000):
            assert time.monotonic() < deadline, f"only {i} connections opened in time"
            s = socket.create_connection((srv.host, srv.port), timeout=10,
                                         source_address=(f"127.0.1.{i // 50 + 1}", 0))
            if i % 10 == 0:
                s.sendall(b"US")  # a command that never ends
            held.append(s)
        c = srv.connect()
        try:
            c.login("bob", "pw")
            c.expect("PWD", 257)
        finally:
            c.close()
        # The 51st connection from one of those addresses is refused.
        r = first_reply(srv, "127.0.1.1")
        assert r.code == 421
    finally:
        for s in held:
            s.close()
