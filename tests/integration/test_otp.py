"""One-time passwords against the real ferryd (PROTOCOL.md Decision 2, §1.3, checklist C 49-59):
RFC 2289 challenges in the 331 and 336 forms answered by lftp and by an independent
implementation written here (hashlib), and TOTP codes computed by oathtool.

The OTP generator below is deliberately not Ferry's: only the RFC 2289 Appendix D word list is
read from the source tree (data), and the generator checks itself against Appendix C first."""

import ftplib
import hashlib
import os
import re
import socket
import subprocess
import time

import pytest

from conftest import REPO, SCHEMA_VERSION, wait_until
from test_clients import clean_home, need, run  # noqa: F401 (clean_home is a fixture)

# Every test runs once against each user store (conftest: ferry_store).
FERRY_STORES = ("sqlite", "postgres")

PHRASE = "This is a test."
LFTP_BASE = ("set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 5; "
             "set net:reconnect-interval-base 1; set cmd:fail-exit yes; ")


# ----------------------------------------------------------------- independent RFC 2289 generator

def _load_words():
    with open(os.path.join(REPO, "src", "store", "otp_words.c")) as f:
        body = f.read().split("{", 1)[1]
    words = re.findall(r'"([A-Z]{1,4})"', body)
    assert len(words) == 2048
    return words


WORDS = _load_words()


def _fold(alg, digest):
    if alg == "md5":
        return bytes(digest[i] ^ digest[i + 8] for i in range(8))
    # RFC 2289 Appendix A (SHA1): five words folded to two, each word's bytes reversed.
    w = [digest[i:i + 4] for i in range(0, 20, 4)]
    a = bytes(x ^ y ^ z for x, y, z in zip(w[0], w[2], w[4]))
    b = bytes(x ^ y for x, y in zip(w[1], w[3]))
    return a[::-1] + b[::-1]


def otp(alg, seed, phrase, n):
    key = _fold(alg, hashlib.new(alg, (seed.lower() + phrase).encode()).digest())
    for _ in range(n):
        key = _fold(alg, hashlib.new(alg, key).digest())
    return key


def six_words(key):
    v = int.from_bytes(key, "big")
    checksum = sum((v >> (2 * i)) & 3 for i in range(32)) & 3
    v = (v << 2) | checksum
    return " ".join(WORDS[(v >> (66 - 11 * (i + 1))) & 0x7FF] for i in range(6))


def answer(challenge_text, phrase=PHRASE):
    m = re.search(r"otp-(md5|sha1) (\d+) ([a-z0-9]+)", challenge_text)
    assert m, challenge_text
    return six_words(otp(m.group(1), m.group(3), phrase, int(m.group(2))))


def test_generator_matches_rfc_appendix_c():
    assert six_words(otp("md5", "TeSt", PHRASE, 99)) == "BAIL TUFT BITS GANG CHEF THY"
    assert six_words(otp("md5", "alpha1", "AbCdEfGhIjK", 1)) == "FACT HOOF AT FIST SITE KENT"
    assert otp("sha1", "TeSt", PHRASE, 99).hex() == "87fec7768b73ccf9"
    assert six_words(otp("sha1", "TeSt", PHRASE, 99)) == "GAFF WAIT SKID GIG SKY EYED"


# ----------------------------------------------------------------- fixtures and helpers

USERS = (("bob", "pw", None), ("otpuser", "static-pw", None))


def init_otp(srv, user="otpuser", phrase=PHRASE, *args):
    cp = srv.ferry("otp", "init", user, *args, input=phrase + "\n")
    assert cp.returncode == 0, cp.stderr
    return cp


@pytest.fixture
def otp_server(make_server):
    def factory(config=None, count="100", seed="test", extra=()):
        s = make_server(config=config, users=USERS, start=False)
        init_otp(s, "otpuser", PHRASE, "--count", count, "--seed", seed, *extra)
        s.start()
        return s
    return factory


def challenge(c, user="otpuser"):
    r = c.cmd(f"USER {user}")
    return r


# ----------------------------------------------------------------- C 49-55: the 331 form

def test_331_challenge_text_and_six_words(otp_server, ctl):
    srv = otp_server()
    c = ctl(srv)
    r = challenge(c)
    # C.49: exactly the text lftp and OPIE clients parse.
    assert r.code == 331 and r.text == "Response to otp-md5 99 test ext required for otpuser."
    # C.50: the RFC 2289 App. C answer.
    assert c.cmd("PASS BAIL TUFT BITS GANG CHEF THY").code == 230
    assert c.cmd("PWD").code == 257
    assert challenge(c).text == "Response to otp-md5 98 test ext required for otpuser."


def test_lower_case_spacing_and_hex_answers(otp_server, ctl):
    srv = otp_server()
    c = ctl(srv)
    assert "otp-md5 99 test" in challenge(c).text
    # C.51: any case, any whitespace.
    # (Tabs are control characters, which the command parser refuses for every verb.)
    assert c.cmd("PASS  bail  tuft bits   gang chef thy ").code == 230
    # C.52: hex, any case and spacing (RFC 2289 §6); the next OTP is OTP(98).
    assert "otp-md5 98 test" in challenge(c).text
    assert c.cmd("PASS " + " ".join(otp("md5", "test", PHRASE, 98).hex()[i:i + 3]
                                    for i in range(0, 16, 3))).code == 230
    assert "otp-md5 97 test" in challenge(c).text
    assert c.cmd("PASS " + otp("md5", "test", PHRASE, 97).hex().upper()).code == 230
    # RFC 2243 prefixes.
    assert "otp-md5 96 test" in challenge(c).text
    assert c.cmd("PASS word:" + six_words(otp("md5", "test", PHRASE, 96)).lower()).code == 230
    assert "otp-md5 95 test" in challenge(c).text


def test_wrong_checksum_replay_and_static_password_refused(otp_server, ctl):
    srv = otp_server()
    c = ctl(srv)
    assert "otp-md5 99 test" in challenge(c).text
    # C.53: last word altered -> checksum wrong.
    assert c.cmd("PASS BAIL TUFT BITS GANG CHEF TIC").code == 530
    assert "otp-md5 99 test" in challenge(c).text
    assert c.cmd("PASS BAIL TUFT BITS GANG CHEF THY").code == 230
    c2 = ctl(srv)
    assert "otp-md5 98 test" in challenge(c2).text
    # C.54: the used OTP again.
    assert c2.cmd("PASS BAIL TUFT BITS GANG CHEF THY").code == 530
    assert "otp-md5 98 test" in challenge(c2).text
    # C.55: the static password is refused by default.
    r = c2.cmd("PASS static-pw")
    assert r.code == 530 and r.text == "Login incorrect."
    assert c2.cmd("PWD").code == 530


def test_static_password_when_allowed(otp_server, ctl):
    srv = otp_server(extra=("--allow-password",))
    c = ctl(srv)
    assert "otp-md5 99 test" in challenge(c).text
    assert c.cmd("PASS static-pw").code == 230
    # The sequence did not move: a static login uses no OTP.
    assert "otp-md5 99 test" in challenge(c).text
    assert c.cmd("PASS " + answer("otp-md5 99 test")).code == 230


def test_unknown_and_password_users_unchanged(otp_server, ctl):
    srv = otp_server()
    c = ctl(srv)
    assert challenge(c, "bob").text == "Please specify the password."
    assert c.cmd("PASS pw").code == 230
    r = challenge(c, "nosuch")
    assert r.code == 331 and r.text == "Please specify the password."
    assert c.cmd("PASS x").code == 530


# ----------------------------------------------------------------- C 57: lftp computes the OTP

def test_lftp_answers_331(otp_server, clean_home, ctl):
    _, clean_env = clean_home
    srv = otp_server()
    cp = run([need("lftp"), "-d", "-c", LFTP_BASE +
              f"open -u 'otpuser,{PHRASE}' ftp://{srv.host}:{srv.port}; quote NOOP"], env=clean_env)
    assert cp.returncode == 0, cp.stderr
    assert "PASS BAIL TUFT BITS GANG CHEF THY" in cp.stderr, cp.stderr
    c = ctl(srv)
    assert "otp-md5 98 test" in challenge(c).text
    c.close()
    # And again: lftp follows the sequence down.
    cp = run([need("lftp"), "-c", LFTP_BASE +
              f"open -u 'otpuser,{PHRASE}' ftp://{srv.host}:{srv.port}; quote NOOP"], env=clean_env)
    assert cp.returncode == 0, cp.stderr
    c = ctl(srv)
    assert "otp-md5 97 test" in challenge(c).text


def test_lftp_wrong_pass_phrase_fails(otp_server, clean_home):
    _, clean_env = clean_home
    srv = otp_server()
    cp = run([need("lftp"), "-c", LFTP_BASE +
              f"open -u 'otpuser,not the phrase' ftp://{srv.host}:{srv.port}; quote NOOP"], env=clean_env)
    assert cp.returncode != 0
    assert "Login incorrect" in cp.stderr, cp.stderr


# ----------------------------------------------------------------- C 58: the 336 form, ftplib

def test_ftplib_336_server_wide(otp_server):
    srv = otp_server(config={"otp": {"challenge": "336"}}, count="50", seed="Ke1234")
    for n in (49, 48):
        f = ftplib.FTP()
        f.connect(srv.host, srv.port, timeout=10)
        try:
            r = f.sendcmd("USER otpuser")
            assert r == f'336 Username okay, need password. Challenge is "otp-md5 {n} ke1234".'
            assert f.sendcmd("PASS " + answer(r)).startswith("230")
            assert f.pwd() == "/"
        finally:
            f.close()


def test_ftplib_336_per_user_sha1(make_server):
    srv = make_server(users=USERS, start=False)
    init_otp(srv, "otpuser", "OTP's are good", "--alg", "sha1", "--count", "20", "--seed", "correct",
             "--reply", "336")
    srv.start()
    f = ftplib.FTP()
    f.connect(srv.host, srv.port, timeout=10)
    try:
        r = f.sendcmd("USER otpuser")
        assert r == '336 Username okay, need password. Challenge is "otp-sha1 19 correct".'
        assert f.sendcmd("PASS " + answer(r, "OTP's are good")).startswith("230")
        # Password users keep the plain 331 even with a 336 user around.
        assert f.sendcmd("USER bob") == "331 Please specify the password."
    finally:
        f.close()


# ----------------------------------------------------------------- C 59: persistence

def test_sequence_survives_restart(otp_server, ctl):
    srv = otp_server()
    c = ctl(srv)
    assert c.cmd("USER otpuser").code == 331
    assert c.cmd("PASS BAIL TUFT BITS GANG CHEF THY").code == 230
    c.close()
    srv.stop()
    srv.start()
    c = ctl(srv)
    assert "otp-md5 98 test" in challenge(c).text
    assert c.cmd("PASS BAIL TUFT BITS GANG CHEF THY").code == 530
    show = srv.ferry("otp", "show", "otpuser", check=True).stdout
    assert "sequence: 98\n" in show and "seed: test\n" in show and "otp: md5\n" in show


# ----------------------------------------------------------------- C 56: one challenge at a time

def test_second_connection_shares_the_outstanding_challenge(otp_server, ctl):
    """Issue 13 item 6: a second connection is no longer refused (anyone could lock a user
    out by asking); it gets the same challenge, and the store accepts its answer once."""
    srv = otp_server()
    c1, c2 = ctl(srv), ctl(srv)
    assert "otp-md5 99 test" in challenge(c1).text
    r = challenge(c2)
    assert r.code == 331 and r.text == "Response to otp-md5 99 test ext required for otpuser."
    assert c1.cmd("PASS BAIL TUFT BITS GANG CHEF THY").code == 230
    assert c2.cmd("PASS BAIL TUFT BITS GANG CHEF THY").code == 530
    # Finished: the next challenge goes to whoever asks, one lower.
    assert "otp-md5 98 test" in challenge(ctl(srv)).text


def test_challenge_released_when_connection_drops(otp_server, ctl):
    srv = otp_server()
    c1 = ctl(srv)
    assert "otp-md5 99 test" in challenge(c1).text
    c1.sock.close()

    def free():
        c = srv.connect()
        try:
            return challenge(c).code == 331
        finally:
            c.close()
    wait_until(free, 5.0, what="the challenge lock to be released")


def test_racing_connections_one_wins(otp_server):
    """Many connections ask for the challenge and answer it at the same moment: exactly one
    gets it and logs in; the stored sequence moves by exactly one."""
    srv = otp_server()
    socks = []
    try:
        for _ in range(6):
            s = socket.create_connection((srv.host, srv.port), timeout=10)
            s.recv(4096)
            socks.append(s)
        for s in socks:
            s.sendall(b"USER otpuser\r\nPASS BAIL TUFT BITS GANG CHEF THY\r\n")
        replies = []
        for s in socks:
            buf = b""
            deadline = time.monotonic() + 10
            while buf.count(b"\r\n") < 2 and time.monotonic() < deadline:
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
            replies.append(buf.decode())
    finally:
        for s in socks:
            s.close()
    wins = [r for r in replies if "\r\n230 " in r]
    assert len(wins) == 1, replies
    busy = [r for r in replies if r.startswith("530 Another login")]
    assert len(busy) + len(wins) + sum(r.startswith("331 ") and "\r\n530 " in r for r in replies) == 6
    show = srv.ferry("otp", "show", "otpuser", check=True).stdout
    assert "sequence: 98\n" in show


# ----------------------------------------------------------------- running low, running out

def test_low_sequence_warning_and_exhaustion(otp_server, ctl):
    srv = otp_server(count="3", seed="low1")
    c = ctl(srv)
    r = challenge(c)
    assert r.text == "Response to otp-md5 2 low1 ext required for otpuser."
    r = c.cmd("PASS " + answer(r.text))
    assert r.code == 230 and r.text == "Login successful. Only 1 one-time passwords are left: ask for a new key soon."
    r = challenge(c)
    r = c.cmd("PASS " + answer(r.text))
    assert r.code == 230 and r.text == ("Login successful. That was the last one-time password: "
                                        "ask for a new key now.")
    r = challenge(c)
    assert r.code == 530
    assert r.text == "No one-time passwords are left for otpuser; ask the administrator for a new key."


# ----------------------------------------------------------------- made-up challenges

def test_unknown_users_get_stable_made_up_challenges(make_server, ctl):
    srv = make_server(config={"otp": {"unknown_users": "challenge"}}, users=USERS)
    c = ctl(srv)
    a = challenge(c, "nosuch").text
    b = challenge(c, "nosuch").text
    assert re.fullmatch(r"Response to otp-md5 \d+ [a-z0-9]{10} ext required for nosuch\.", a), a
    assert a == b
    other = challenge(c, "nosuch2").text
    assert other.split()[3] != a.split()[3]
    assert c.cmd("PASS " + answer(other)).code == 530
    # Same lock rule as real users: a second connection shares the challenge meanwhile.
    held = c.cmd("USER nosuch").text
    assert challenge(ctl(srv), "nosuch").text == held
    # Password users keep their prompt.
    assert challenge(c, "bob").text == "Please specify the password."


# ----------------------------------------------------------------- the CLI

def test_cli_otp_init_show_disable(ferry_env):
    env = ferry_env(users=USERS)
    cp = env.ferry("otp", "init", "otpuser", "--count", "100", "--seed", "TeSt", input=PHRASE + "\n")
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == ("ferry: user 'otpuser' has a new one-time password key; "
                         "next challenge: otp-md5 99 test\n")
    show = env.ferry("otp", "show", "otpuser", check=True).stdout
    assert show == ("name: otpuser\notp: md5\nsequence: 99\nseed: test\nchallenge: otp-md5 99 test\n"
                    "totp: off\nreply: default (331)\nstatic password: refused\n")
    # Only OTP(N) is stored: neither the pass phrase nor anything before it.
    if not env.pg_db:
        with open(env.db_path, "rb") as f:
            db = f.read()
        assert PHRASE.encode() not in db
    row = env.store_rows("otp")
    assert len(row) == 1 and PHRASE not in repr(row)
    row = row[0]
    assert (row["alg"], row["seq"], row["seed"]) == ("md5", 100, "test")
    assert (row["last"] & (1 << 64) - 1).to_bytes(8, "big") == otp("md5", "test", PHRASE, 100)
    assert env.ferry("otp", "set", "otpuser", "--reply", "336", check=True).returncode == 0
    assert "reply: 336\n" in env.ferry("otp", "show", "otpuser", check=True).stdout
    cp = env.ferry("otp", "disable", "otpuser")
    assert cp.returncode == 0 and "logs in with the password again" in cp.stdout
    assert "otp: off\n" in env.ferry("otp", "show", "otpuser", check=True).stdout


def test_cli_otp_init_refusals(ferry_env):
    env = ferry_env(users=USERS)
    cp = env.ferry("otp", "init", "otpuser", input="too short\n")
    assert cp.returncode == 1
    assert cp.stderr == "ferry: pass phrase is shorter than 10 characters (RFC 2289)\n"
    cp = env.ferry("otp", "init", "otpuser", input="x" * 64 + "\n")
    assert cp.returncode == 1 and "pass phrase is longer than 63 bytes" in cp.stderr
    cp = env.ferry("otp", "init", "otpuser", input="")
    assert cp.returncode == 1 and "no pass phrase on standard input" in cp.stderr
    # The pass phrase is never taken from argv.
    cp = env.ferry("otp", "init", "otpuser", "this is my phrase")
    assert cp.returncode == 2 and "unexpected argument" in cp.stderr
    cp = env.ferry("otp", "init", "otpuser", "--seed", "bad seed!", input=PHRASE + "\n")
    assert cp.returncode == 2 and "--seed" in cp.stderr
    cp = env.ferry("otp", "init", "otpuser", "--count", "1", input=PHRASE + "\n")
    assert cp.returncode == 2 and "--count must be 2-9999" in cp.stderr
    cp = env.ferry("otp", "init", "otpuser", "--alg", "md4", input=PHRASE + "\n")
    assert cp.returncode == 2 and "--alg must be md5 or sha1" in cp.stderr
    cp = env.ferry("otp", "init", "nosuch", input=PHRASE + "\n")
    assert cp.returncode == 1 and "no such user 'nosuch'" in cp.stderr
    assert "otp: off\n" in env.ferry("otp", "show", "otpuser", check=True).stdout


def test_cli_default_seed_is_random_lower_case(ferry_env):
    env = ferry_env(users=USERS)
    out = init_otp(env).stdout
    m = re.search(r"next challenge: otp-md5 499 ([a-z0-9]{10})\n", out)
    assert m, out
    init_otp(env)
    show = env.ferry("otp", "show", "otpuser", check=True).stdout
    assert f"seed: {m.group(1)}\n" not in show


# ----------------------------------------------------------------- TOTP

def totp_code(secret, offset=0):
    args = [need("oathtool"), "--totp", "-b", secret]
    if offset:
        args += ["--now", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(time.time() + offset))]
    cp = run(args)
    assert cp.returncode == 0, cp.stderr
    return cp.stdout.strip()


@pytest.fixture
def totp_server(make_server):
    def factory(config=None):
        s = make_server(config=config, users=USERS, start=False)
        cp = s.ferry("totp", "enable", "otpuser")
        assert cp.returncode == 0, cp.stderr
        m = re.fullmatch(r"otpauth://totp/Ferry:otpuser\?secret=([A-Z2-7]+)&issuer=Ferry&algorithm=SHA1"
                         r"&digits=6&period=30\n", cp.stdout)
        assert m, cp.stdout
        s.start()
        return s, m.group(1)
    return factory


def _fresh_step():
    # Keep away from a step boundary so "the same code" means the same step.
    if time.time() % 30 > 25:
        time.sleep(30 - time.time() % 30 + 0.5)


def test_totp_login_reuse_and_wrong_codes(totp_server, ctl):
    srv, secret = totp_server()
    _fresh_step()
    c = ctl(srv)
    r = challenge(c)
    assert r.code == 331 and r.text == "Password and TOTP code required for otpuser."
    code = totp_code(secret)
    assert c.cmd("PASS static-pw" + code).code == 230
    # Used once: refused the second time.
    assert challenge(c).code == 331
    assert c.cmd("PASS static-pw" + code).code == 530
    # Wrong code, wrong password, password alone.
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    assert challenge(c).code == 331
    assert c.cmd("PASS static-pw" + wrong).code == 530
    c = ctl(srv)
    assert challenge(c).code == 331
    assert c.cmd("PASS bad-pw" + totp_code(secret, 30)).code == 530
    assert challenge(c).code == 331
    assert c.cmd("PASS static-pw").code == 530
    # One step of skew (the next step's code) is accepted, once.
    c = ctl(srv)
    assert challenge(c).code == 331
    assert c.cmd("PASS static-pw" + totp_code(secret, 30)).code == 230


def test_totp_336_form_and_disable(totp_server, ctl):
    srv, secret = totp_server(config={"otp": {"challenge": "336"}})
    c = ctl(srv)
    r = challenge(c)
    assert r.code == 336
    assert r.text == 'Username okay, need password. Challenge is "password followed by the 6-digit TOTP code".'
    assert srv.ferry("totp", "disable", "otpuser", check=True).returncode == 0
    c = ctl(srv)
    assert challenge(c).text == "Please specify the password."
    assert c.cmd("PASS static-pw").code == 230


def test_totp_and_otp_exclude_each_other(totp_server):
    srv, _ = totp_server()
    cp = srv.ferry("otp", "init", "otpuser", input=PHRASE + "\n")
    assert cp.returncode == 1 and "run 'ferry totp disable otpuser' first" in cp.stderr


# ----------------------------------------------------------------- an older users.db

def test_schema_1_database_is_migrated(make_server, ctl):
    """A users.db from before one-time passwords (schema version 1: the users table only) keeps
    its users and gains the OTP tables when ferryd or ferry opens it."""
    import sqlite3
    srv = make_server(users=USERS, start=False)
    if srv.pg_db:
        pytest.skip("a SQLite file from before OTP (PostgreSQL migrations: unit/store/test_store_pg.c)")
    con = sqlite3.connect(srv.db_path)
    con.executescript("DROP TRIGGER users_delete_otp; DROP TABLE otp; DROP TABLE otp_locks; DROP TABLE meta;"
                      "PRAGMA user_version = 1;")
    con.close()
    srv.start()
    c = ctl(srv)
    assert c.login("bob", "pw").code == 230
    con = sqlite3.connect(f"file:{srv.db_path}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        con.close()
    assert {"users", "otp", "otp_locks", "meta"} <= tables
    init_otp(srv, "otpuser", PHRASE, "--count", "100", "--seed", "test")
    c = ctl(srv)
    assert "otp-md5 99 test" in challenge(c).text
    assert c.cmd("PASS BAIL TUFT BITS GANG CHEF THY").code == 230
