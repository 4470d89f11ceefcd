"""[store] postgres: the PostgreSQL user store against a private server (conftest's pg_server).

What the per-store runs of test_login/test_otp/test_cli/test_limits do not cover: the store's
own unit tests against a live server (migrations, concurrent migration, compare-and-swap races,
lost connections), the config rule that exactly one store is set, a server restart and an outage
seen from ferryd (421, never a crash or a wrong 230; sessions already logged in carry on), and
`ferry store copy` from SQLite.

    FERRY_BUILD=build /usr/bin/python3 -m pytest tests/integration/test_store_pg.py
"""

import os
import re
import sqlite3
import subprocess

import pytest

from conftest import CLI_TIMEOUT, SCHEMA_VERSION, StoreSpec, built_features, render_config, wait_until

UNAVAILABLE = "421 Service not available: the user database cannot be read."


@pytest.fixture
def pg(pg_server):
    return pg_server


def pg_store(pg):
    return StoreSpec("postgres", pg)


def test_store_unit_tests_against_a_live_server(ferry_bin, pg):
    """tests/unit/store/test_store_pg.c: skipped by meson test (no server), run here."""
    exe = os.path.join(ferry_bin.build, "tests", "test_store_pg")
    env = dict(os.environ, FERRY_TEST_PG=f"host=127.0.0.1 port={pg.port} user={pg.user}",
               CMOCKA_MESSAGE_OUTPUT="stdout")
    cp = subprocess.run([exe], capture_output=True, text=True, timeout=300, env=env)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    out = cp.stdout + cp.stderr
    assert re.search(r"\[  PASSED  \] \d+ test\(s\)\.", out) and "FAILED" not in out and "SKIPPED" not in out, out


# ----------------------------------------------------------------- configuration

def test_check_refuses_both_stores(ferry_bin, ferry_env, pg):
    env = ferry_env(users=(), store=pg_store(pg))
    both = os.path.join(env.dir, "both.conf")
    with open(both, "w") as f:
        f.write(render_config({"store": {"sqlite": env.db_path, "postgres": pg.conninfo(env.pg_db)}}))
    want = (f"{both}:3: [store] postgres: only one of [store] sqlite and [store] postgres may be set "
            "(this file sets both: sqlite on line 2, postgres on line 3)")
    for cmd in ([ferry_bin.ferryd, "-c", both, "--check"], [ferry_bin.ferry, "-c", both, "config", "check"]):
        cp = subprocess.run(cmd, capture_output=True, text=True, timeout=CLI_TIMEOUT)
        assert cp.returncode == 1 and want in cp.stderr, cp.stderr
    # And ferry refuses to touch either store with it.
    cp = subprocess.run([ferry_bin.ferry, "-c", both, "user", "list"], capture_output=True, text=True,
                        timeout=CLI_TIMEOUT)
    assert cp.returncode == 1 and want in cp.stderr
    assert not os.path.exists(env.db_path)


def test_check_reports_a_bad_conninfo(ferry_bin, ferry_env, pg):
    env = ferry_env(users=(), store=pg_store(pg), config={"store": {"postgres": "host=x sslmod=require"}})
    cp = subprocess.run([ferry_bin.ferryd, "-c", env.config_path, "--check"], capture_output=True, text=True,
                        timeout=CLI_TIMEOUT)
    assert cp.returncode == 1
    assert "[store] postgres: not a valid libpq connection string: invalid connection option \"sslmod\"" \
        in cp.stderr
    # The CLI (which has no build check) says the same when it opens the store.
    cp = env.ferry("user", "list")
    assert cp.returncode == 1 and 'invalid connection option "sslmod"' in cp.stderr


def test_unreachable_database_at_start(make_server, pg, ferry_bin):
    """ferryd refuses to start when the database cannot be reached then, and says which one
    (never the password)."""
    srv = make_server(users=(), store=pg_store(pg), start=False)
    srv.write_config({"store": {"postgres": f"host=127.0.0.1 port=1 dbname=x user=y password=s3cret"}})
    cp = subprocess.run([ferry_bin.ferryd, "-c", srv.config_path], capture_output=True, text=True,
                        timeout=CLI_TIMEOUT)
    assert cp.returncode == 1
    assert "cannot connect to the PostgreSQL user store host=127.0.0.1 port=1 dbname=x user=y:" in cp.stderr
    assert "s3cret" not in cp.stderr


# ----------------------------------------------------------------- a server restart, an outage

def login_code(srv, user="bob", password="pw"):
    """The reply to PASS (or to USER when the store failed there)."""
    c = srv.connect()
    try:
        r = c.cmd(f"USER {user}")
        if r.code != 331:
            return r
        return c.cmd(f"PASS {password}")
    finally:
        c.close()


def test_restart_reconnects(make_server, pg, ctl):
    """pg_ctl restart: every job thread's connection is gone; the next logins reconnect and
    work at once, whichever thread they run on."""
    srv = make_server(store=pg_store(pg), config={"server": {"jobs": "3"}})
    for _ in range(6):
        assert login_code(srv).code == 230
    pg.restart()
    for _ in range(6):
        r = login_code(srv)
        assert r.code == 230, r
    srv.wait_log(r"PostgreSQL user store .*: connection lost .*; reconnecting")
    assert srv.alive()


def test_outage_gives_421_and_recovers(make_server, pg, ctl):
    srv = make_server(store=pg_store(pg))
    kept = ctl(srv)
    kept.login()
    kept.expect("TYPE I", 200)
    pg.stop()
    try:
        for _ in range(3):
            c = srv.connect()
            r = c.cmd("USER bob")
            if r.code == 331:
                r = c.cmd("PASS pw")
            assert r.raw.decode() == UNAVAILABLE + "\r\n", r
            c.assert_closed()
            c.close()
        srv.wait_log(r"user store failed during login: user=\"bob\"")
        # Sessions logged in before the outage carry on: they need no store.
        assert kept.cmd("PWD").code == 257
        assert kept.cmd("NOOP").code == 200
        assert srv.alive()
    finally:
        pg.start()
    # Back: logins work again once a job thread's backoff (at most 2 s) has passed.
    wait_until(lambda: login_code(srv).code == 230, 30, interval=0.2, what="a login after the outage")
    srv.wait_log(r"PostgreSQL user store .*: connected again")
    assert kept.cmd("NOOP").code == 200


# ----------------------------------------------------------------- ferry store migrate / copy

def test_migrate_twice_at_once(ferry_env, pg):
    env = ferry_env(users=(), store=pg_store(pg))
    procs = [subprocess.Popen([env.bins.ferry, "-c", env.config_path, "store", "migrate"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=CLI_TIMEOUT) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outs
    said = sorted(o[0].rsplit("(", 1)[1] for o in outs)
    assert said == ["created)\n", "up to date)\n", "up to date)\n", "up to date)\n"], outs
    assert [r["version"] for r in env.store_rows("schema_version")] == list(range(1, SCHEMA_VERSION + 1))
    cp = env.ferry("store", "migrate", check=True)
    assert cp.stdout == (f"ferry: PostgreSQL user store host=127.0.0.1 port={pg.port} dbname={env.pg_db} "
                         f"user=ferry: schema version {SCHEMA_VERSION} (up to date)\n")


def test_migrate_sqlite(ferry_env):
    env = ferry_env(users=(), store=StoreSpec("sqlite"))
    cp = env.ferry("store", "migrate", check=True)
    assert cp.stdout == f"ferry: user database {env.db_path}: schema version {SCHEMA_VERSION} (created)\n"
    con = sqlite3.connect(env.db_path)
    con.execute("PRAGMA user_version = 2")
    con.close()
    cp = env.ferry("store", "migrate", check=True)
    assert cp.stdout == f"ferry: user database {env.db_path}: schema version {SCHEMA_VERSION} (migrated from 2)\n"


COPY_USERS = (("bob", "pw-bob", None), ("acctuser", "pw-acct", "acct1"), ("carol", "pw-carol", None),
              ("otpuser", "pw-otp", None), ("totpuser", "pw-totp", None))
PHRASE = "This is a test."
# An SSH public key for the copy (ferry user key add checks keys with libssh: SFTP builds only).
COPY_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL9gm3TkE4fueCeUvRJ9qXZWQbkOpBzjmJRMARXvTRbC copy test key\n"


def _sqlite_source(ferry_env):
    src = ferry_env(users=COPY_USERS, store=StoreSpec("sqlite"))
    src.ferry("user", "set", "carol", "--perms", "read,list", check=True)
    src.ferry("user", "disable", "carol", check=True)
    src.ferry("otp", "init", "otpuser", "--count", "100", "--seed", "copy1", input=PHRASE + "\n", check=True)
    src.ferry("totp", "enable", "totpuser", check=True)
    src.ferry("principal", "add", "bob@EXAMPLE.COM", "bob", check=True)
    src.ferry("principal", "add", "ops/admin@EXAMPLE.COM", "acctuser", check=True)
    if "sftp" in built_features(src.bins):
        src.ferry("user", "key", "add", "bob", input=COPY_KEY, check=True)
    return src


def test_copy_round_trip(ferry_env, make_server, pg, ctl):
    """Every user, OTP/TOTP setting and principal mapping arrives; every user logs in with the
    same password afterwards; the listings agree."""
    src = _sqlite_source(ferry_env)
    db = pg.create_db()
    cp = src.ferry("store", "copy", "--to", pg.conninfo(db), check=True)
    keys = 1 if "sftp" in built_features(src.bins) else 0
    assert cp.stdout == (f"ferry: copied 5 users (2 with one-time password settings), 2 principal mappings "
                         f"and {keys} SSH key{'' if keys == 1 else 's'} from user database {src.db_path} to PostgreSQL user store host=127.0.0.1 "
                         f"port={pg.port} dbname={db} user=ferry\n"
                         "ferry: copied the failed-login records of 0 addresses (0 banned now)\n")
    dst = make_server(users=(), store=pg_store(pg), start=False)
    dst.pg_db = db
    dst.write_config()
    for args in (("user", "list"), ("principal", "list"), ("otp", "show", "otpuser"), ("user", "show", "carol"),
                 ("user", "key", "list", "bob")):
        assert dst.ferry(*args, check=True).stdout == src.ferry(*args, check=True).stdout, args
    # The rows themselves, stamps included (the hash is the same string).
    def by_name(rows):
        return sorted(rows, key=lambda r: r["name"].encode())

    assert by_name(dst.store_rows("users")) == by_name(src.store_rows("users"))
    tot_src, tot_dst = src.store_rows("otp", "name = ?", ("totpuser",)), dst.store_rows("otp", "name = ?",
                                                                                        ("totpuser",))
    assert tot_src == tot_dst
    dst.start()
    for name, password, account in COPY_USERS:
        c = ctl(dst)
        if name == "carol":
            c.expect("USER carol", 331)
            c.expect(f"PASS {password}", 530)  # disabled in the source, disabled here
        elif name == "otpuser":
            assert "otp-md5 99 copy1" in c.expect("USER otpuser", 331).text
        elif name == "totpuser":
            c.expect("USER totpuser", 331)
            c.expect(f"PASS {password}", 530)  # needs its code: TOTP came along
        else:
            c.login(name, password, account)


def test_copy_refuses_a_target_with_users(ferry_env, pg):
    src = _sqlite_source(ferry_env)
    db = pg.create_db()
    src.ferry("store", "copy", "--to", pg.conninfo(db), check=True)
    # The target changes after the first copy: a user only it has.
    other = ferry_env(users=(("zed", "pw-zed", None),), store=StoreSpec("sqlite"))
    cp = other.ferry("store", "copy", "--to", pg.conninfo(db))
    assert cp.returncode == 1
    assert cp.stderr == (f"ferry: PostgreSQL user store host=127.0.0.1 port={pg.port} dbname={db} user=ferry "
                         "already has 5 users; nothing was copied (--force replaces them with the copy)\n")
    before = [r["name"] for r in src.store_rows("users")]
    target = StoreTarget(pg, db)
    assert target.names() == sorted(before)
    # --force: the target ends up with exactly the source's users.
    cp = other.ferry("store", "copy", "--to", pg.conninfo(db), "--force", check=True)
    assert "(its earlier users were replaced)" in cp.stdout
    assert target.names() == ["zed"]
    assert pg.psql(db, "SELECT count(*) FROM otp")[0][0] == "0"
    assert pg.psql(db, "SELECT count(*) FROM principals")[0][0] == "0"


def test_copy_is_all_or_nothing(ferry_env, pg):
    """A user the target refuses (a home that is not UTF-8, which SQLite stores as it is) stops the
    copy: the users before it are not left behind."""
    src = _sqlite_source(ferry_env)
    con = sqlite3.connect(src.db_path)
    con.execute("INSERT INTO users VALUES('zz', 'x', CAST(X'2F68FF' AS TEXT), NULL, 'all', 1, 1, 1)")
    con.commit()
    con.close()
    db = pg.create_db()
    cp = src.ferry("store", "copy", "--to", pg.conninfo(db))
    assert cp.returncode == 1
    assert "ferry: cannot copy user 'zz': " in cp.stderr and "nothing was copied" in cp.stderr, cp.stderr
    assert StoreTarget(pg, db).names() == []
    # The target was migrated (copy does that first) and is usable.
    assert pg.psql(db, "SELECT max(version) FROM schema_version")[0][0] == str(SCHEMA_VERSION)


def test_copy_usage(ferry_env, pg):
    src = ferry_env(users=(), store=StoreSpec("sqlite"))
    cp = src.ferry("store", "copy")
    assert cp.returncode == 2 and "store copy: --to CONNINFO is required" in cp.stderr
    cp = src.ferry("store", "frobnicate")
    assert cp.returncode == 2 and "store: unknown command 'frobnicate'" in cp.stderr
    # No source yet: nothing to copy from, and the message says so.
    cp = src.ferry("store", "copy", "--to", pg.conninfo(pg.create_db()))
    assert cp.returncode == 1 and f"user database {src.db_path} does not exist" in cp.stderr
    src.add_user("bob", "pw")
    cp = src.ferry("store", "copy", "--to", "host=x bogus=1")
    assert cp.returncode == 1 and 'invalid connection option "bogus"' in cp.stderr


class StoreTarget:
    def __init__(self, pg, db):
        self.pg, self.db = pg, db

    def names(self):
        return [r[0] for r in self.pg.psql(self.db, 'SELECT name FROM users ORDER BY name COLLATE "C"')]
