"""`ferry store copy --to CONNINFO` takes the failed-login bans along (table bans, row for row:
the ban, the failures in the current window, the earlier bans), from SQLite to PostgreSQL and from
PostgreSQL on to another PostgreSQL database. Before the fix the target had no bans at all: an
address banned before the move could log in right after it. Every test runs once per source
store (conftest: ferry_store); the targets are databases of conftest's pg_server."""

import sqlite3
import time

from conftest import Ctl, StoreSpec, wait_until

FERRY_STORES = ("sqlite", "postgres")

COLS = ("address", "failures", "window_start", "banned_until", "offences", "updated_at")


def ban_rows(now):
    return [
        # Banned now (its second ban).
        ("127.0.0.5", 0, now - 1000, now + 3600_000, 2, now - 1000),
        # A ban that ended: its offences still double the next one.
        ("2001:db8:1:2::/64", 0, now - 10_000_000, now - 5_000_000, 3, now - 5_000_000),
        # Two failures in the current window, no ban yet.
        ("192.0.2.9", 2, now - 500, 0, 0, now - 500),
    ]


def put_rows(env, rows):
    sql = "INSERT INTO bans(address, failures, window_start, banned_until, offences, updated_at) VALUES"
    if env.pg_db:
        vals = ", ".join(f"('{r[0]}', {r[1]}, {r[2]}, {r[3]}, {r[4]}, {r[5]})" for r in rows)
        env.store.pg.psql(env.pg_db, f"{sql} {vals}")
        return
    con = sqlite3.connect(env.db_path)
    con.executemany(sql + "(?, ?, ?, ?, ?, ?)", rows)
    con.commit()
    con.close()


def rows_of(env):
    return sorted(tuple(r[c] for c in COLS) for r in env.store_rows("bans"))


def target(make_server, pg, db, **kw):
    t = make_server(users=(), store=StoreSpec("postgres", pg), start=False, **kw)
    t.pg_db = db
    t.write_config()
    return t


def test_copy_takes_the_bans_along(ferry_env, make_server, pg_server):
    pg = pg_server
    src = ferry_env(users=(("bob", "pw", None),))
    src.ferry("store", "migrate", check=True)
    now = int(time.time() * 1000)
    rows = ban_rows(now)
    put_rows(src, rows)
    db = pg.create_db()
    cp = src.ferry("store", "copy", "--to", pg.conninfo(db), check=True)
    dst = target(make_server, pg, db, config={"limits": {"ban_failures": "3", "max_per_ip": "0"}})
    assert rows_of(dst) == sorted(rows)
    ban_list = dst.ferry("ban", "list", check=True).stdout
    assert ban_list.startswith("127.0.0.5 until ") and ban_list.count("\n") == 1, ban_list
    lines = cp.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("ferry: copied 1 user "), cp.stdout
    assert lines[1] == "ferry: copied the failed-login records of 3 addresses (1 banned now)"

    # The ban holds on a ferryd using the target: 421 before the greeting for the banned
    # address, a login for another.
    dst.start()

    def refused():
        c = Ctl(dst.host, dst.port, timeout=5, greet=False, source="127.0.0.5")
        try:
            return c.reply()
        finally:
            c.close()
    wait_until(lambda: refused().code == 421, timeout=10, what="the copied ban")
    r = refused()
    assert (r.code, r.text) == (421, "Too many failed logins from your address; try again later."), r
    c = Ctl(dst.host, dst.port, timeout=5, source="127.0.0.6")
    c.login("bob", "pw")
    c.close()

    # On again, from PostgreSQL: a ban the second target has for a copied address is replaced,
    # its others are kept; --force only concerns users.
    other = ferry_env(users=(), store=StoreSpec("postgres", pg))
    db2 = other.pg_db
    other.ferry("store", "migrate", check=True)
    put_rows(other, [("127.0.0.5", 1, now, 0, 0, now), ("198.51.100.7", 0, now, now + 60_000, 1, now)])
    cp = dst.ferry("store", "copy", "--to", pg.conninfo(db2), check=True)
    assert cp.stdout.splitlines()[1] == "ferry: copied the failed-login records of 3 addresses (1 banned now)"
    assert rows_of(other) == sorted(rows + [("198.51.100.7", 0, now, now + 60_000, 1, now)])


def test_copy_with_no_bans(ferry_env, pg_server):
    src = ferry_env(users=(("bob", "pw", None),))
    db = pg_server.create_db()
    cp = src.ferry("store", "copy", "--to", pg_server.conninfo(db), check=True)
    assert cp.stdout.splitlines()[1] == "ferry: copied the failed-login records of 0 addresses (0 banned now)"
