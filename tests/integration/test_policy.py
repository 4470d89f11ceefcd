"""Groups and per-user policy (issue 18, the foundation): the store and CLI
(`ferry group ...`, `ferry user set NAME --groups/--allow-from/...`), the
inheritance order (user, then its groups in order, then the server) and what
the login path enforces for FTP and SFTP alike: allow-from and expires (530,
the log says why), max-sessions (421 for FTP, an authentication failure for
SFTP) and permission bits from groups. Every test runs once per store.

    FERRY_BUILD=build /usr/bin/python3 -m pytest tests/integration/test_policy.py
"""

import contextlib
import os
import re
import shutil
import subprocess
import tempfile

import paramiko
import pytest

from conftest import built_features, wait_until
from sftp_helpers import start_sftp_server, transport

FERRY_STORES = ("sqlite", "postgres")


def ferry_ok(srv, *args):
    cp = srv.ferry(*args)
    assert cp.returncode == 0, (args, cp.stdout, cp.stderr)
    return cp.stdout


def effective(srv, user):
    """The `effective X: V` lines of `ferry user show` as a dict."""
    out = ferry_ok(srv, "user", "show", user)
    return dict(re.findall(r"^effective ([a-z-]+): (.*)$", out, re.M))


def login_code(srv, user="bob", password="pw"):
    """USER/PASS on a new connection: the PASS reply (the connection is closed)."""
    c = srv.connect()
    try:
        c.expect(f"USER {user}", 331)
        return c.cmd(f"PASS {password}")
    finally:
        c.close()


def mkd_code(srv, name):
    c = srv.connect()
    try:
        c.login("bob", "pw")
        return c.cmd(f"MKD {name}").code
    finally:
        c.close()


def test_inheritance_order(make_server):
    """User over group1 over group2 over the server, attribute by attribute."""
    srv = make_server(config={"limits": {"max_per_user": "7"}})
    ferry_ok(srv, "group", "add", "g1")
    ferry_ok(srv, "group", "add", "g2")
    ferry_ok(srv, "group", "set", "g1", "--perms", "read,list", "--rate-down", "100K")
    ferry_ok(srv, "group", "set", "g2", "--perms", "all", "--rate-down", "200", "--rate-up", "1M",
             "--max-sessions", "4", "--quota-files", "10")
    # Not yet a member: the user's own perms, the server's max_per_user.
    e = effective(srv, "bob")
    assert (e["perms"], e["max-sessions"], e["rate-down"]) == ("all", "7 ([limits] max_per_user)", "0")

    ferry_ok(srv, "user", "set", "bob", "--groups", "g1,g2", "--perms", "inherit")
    e = effective(srv, "bob")
    assert e["perms"] == "read,list"          # g1 first
    assert e["rate-down"] == str(100 * 1024)  # g1 first
    assert e["rate-up"] == str(1024 * 1024)   # only g2 sets it
    assert e["max-sessions"] == "4"           # g2 over the server
    assert e["quota-files"] == "10"
    assert e["quota-bytes"] == "0"            # nobody: no quota
    assert mkd_code(srv, "d1") == 550         # g1's perms at login: no mkdir

    ferry_ok(srv, "user", "set", "bob", "--groups", "g2,g1")
    e = effective(srv, "bob")
    assert (e["perms"], e["rate-down"]) == ("all", "200")
    assert mkd_code(srv, "d2") == 257

    # The user's own values beat every group.
    ferry_ok(srv, "user", "set", "bob", "--rate-down", "50", "--max-sessions", "0", "--perms", "read,list,mkdir")
    e = effective(srv, "bob")
    assert (e["perms"], e["rate-down"], e["max-sessions"]) == ("read,mkdir,list", "50", "0")
    out = ferry_ok(srv, "user", "show", "bob")
    assert "groups: g2, g1\n" in out and "rate-down: 50\n" in out
    # inherit drops the user's own value again.
    ferry_ok(srv, "user", "set", "bob", "--rate-down", "inherit")
    assert effective(srv, "bob")["rate-down"] == "200"


def test_allow_from(make_server):
    srv = make_server()
    ferry_ok(srv, "user", "set", "bob", "--allow-from", "10.0.0.0/8,2001:db8::/32")
    r = login_code(srv)
    # The client learns what a wrong password gets, nothing more.
    assert (r.code, r.text) == (530, "Login incorrect.")
    srv.wait_log(r'login refused: user="bob" ip=127\.0\.0\.1 reason=allow-from')
    ferry_ok(srv, "user", "set", "bob", "--allow-from", "10.0.0.0/8,127.0.0.0/8")
    assert login_code(srv).code == 230
    # A group's list applies to its members; the user's own beats it.
    ferry_ok(srv, "group", "add", "remote")
    ferry_ok(srv, "group", "set", "remote", "--allow-from", "192.0.2.0/24")
    ferry_ok(srv, "user", "set", "bob", "--allow-from", "inherit", "--groups", "remote")
    assert login_code(srv).code == 530
    ferry_ok(srv, "user", "set", "bob", "--allow-from", "127.0.0.1")
    assert login_code(srv).code == 230
    # Other users are not affected.
    assert login_code(srv, "acctuser", "pw").code == 332


def test_expires(make_server):
    srv = make_server()
    ferry_ok(srv, "user", "set", "bob", "--expires", "2020-01-01")
    r = login_code(srv)
    assert (r.code, r.text) == (530, "Login incorrect.")
    srv.wait_log(r'login refused: user="bob" ip=127\.0\.0\.1 reason=expired')
    assert "expires: 2020-01-02T00:00:00Z" in ferry_ok(srv, "user", "show", "bob")
    ferry_ok(srv, "user", "set", "bob", "--expires", "2999-12-31")
    assert login_code(srv).code == 230
    ferry_ok(srv, "user", "set", "bob", "--expires", "2020-06-01T12:00:00Z")
    assert login_code(srv).code == 530
    ferry_ok(srv, "user", "set", "bob", "--expires", "never")
    assert login_code(srv).code == 230


def test_max_sessions_ftp(make_server):
    """The user's max-sessions beats [limits] max_per_user (0 here: no limit)."""
    srv = make_server()
    ferry_ok(srv, "user", "set", "bob", "--max-sessions", "2")
    sessions = []
    try:
        for _ in range(2):
            c = srv.connect()
            c.login("bob", "pw")
            sessions.append(c)
        c = srv.connect()
        sessions.append(c)
        c.expect("USER bob", 331)
        assert c.cmd("PASS pw").code == 421
        srv.wait_log(r'login refused: user="bob" ip=127\.0\.0\.1 reason=user-limit')
        # A group's limit counts when the user has none.
        ferry_ok(srv, "group", "add", "one")
        ferry_ok(srv, "group", "set", "one", "--max-sessions", "3")
        ferry_ok(srv, "user", "set", "bob", "--max-sessions", "inherit", "--groups", "one")
        d = srv.connect()
        sessions.append(d)
        d.login("bob", "pw")
        assert login_code(srv).code == 421
    finally:
        for c in sessions:
            c.close()


@contextlib.contextmanager
def sftp_server(make_server, ferry_bin):
    """An SFTP ferryd with a host key of its own: with PostgreSQL there is no
    [store] sqlite directory to make one beside."""
    if "sftp" not in built_features(ferry_bin):
        pytest.skip("ferryd built without SFTP (meson -Dsftp=disabled)")
    keydir = tempfile.mkdtemp(prefix="ferry-policy-key-", dir="/tmp")
    key = os.path.join(keydir, "host_ed25519")
    try:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True, timeout=30)
        yield start_sftp_server(make_server, {"sftp": {"host_keys": key}})
    finally:
        shutil.rmtree(keydir, ignore_errors=True)


def test_max_sessions_and_allow_from_sftp(make_server, ferry_bin):
    with sftp_server(make_server, ferry_bin) as srv:
        _sftp_policy(srv)


def _sftp_policy(srv):
    ferry_ok(srv, "user", "set", "bob", "--max-sessions", "1")
    c = srv.connect()
    c.login("bob", "pw")  # FTP takes bob's only slot: SFTP is refused
    with pytest.raises(paramiko.AuthenticationException):
        transport(srv)
    srv.wait_log(r'login refused: user="bob" ip=127\.0\.0\.1 reason=user-limit protocol=sftp')
    c.cmd("QUIT")
    c.close()
    wait_until(lambda: _sftp_ok(srv), timeout=60, interval=0.2, what="bob's slot back")
    ferry_ok(srv, "user", "set", "bob", "--allow-from", "10.0.0.0/8")
    with pytest.raises(paramiko.AuthenticationException):
        transport(srv)
    srv.wait_log(r'login refused: user="bob" ip=127\.0\.0\.1 reason=allow-from protocol=sftp')


def _sftp_ok(srv):
    try:
        transport(srv).close()
        return True
    except paramiko.AuthenticationException:
        return False


def test_group_cli(make_server):
    srv = make_server(start=False)
    ferry_ok(srv, "group", "add", "staff")
    cp = srv.ferry("group", "add", "staff")
    assert (cp.returncode, cp.stderr) == (1, "ferry: group 'staff' already exists\n")
    ferry_ok(srv, "group", "add", "Admins")
    assert ferry_ok(srv, "group", "list") == "Admins\nstaff\n"
    ferry_ok(srv, "user", "set", "bob", "--groups", "staff,Admins")
    ferry_ok(srv, "group", "set", "staff", "--quota-bytes", "2G", "--dir-perms", "/in=write,mkdir",
             "--mount", f"/shared={srv.home_root}:read,list")
    out = ferry_ok(srv, "group", "show", "staff")
    assert out == ("name: staff\nmembers: bob\ndir-perms: /in=write,mkdir\n"
                   f"mount: /shared={srv.home_root}:read,list\nquota-bytes: {2 << 30}\n")
    ferry_ok(srv, "group", "set", "staff", "--unmount", "/shared", "--dir-perms", "/in=inherit")
    assert ferry_ok(srv, "group", "show", "staff") == f"name: staff\nmembers: bob\nquota-bytes: {2 << 30}\n"
    ferry_ok(srv, "group", "del", "staff")
    assert "groups: Admins\n" in ferry_ok(srv, "user", "show", "bob")
    cp = srv.ferry("group", "del", "staff")
    assert (cp.returncode, cp.stderr) == (1, "ferry: no such group 'staff'\n")
    cp = srv.ferry("group", "show", "nope")
    assert cp.returncode == 1


BAD_INPUT = [
    (["--allow-from", "10.0.0.0/33"], "--allow-from: '10.0.0.0/33' is not an address or CIDR network"),
    (["--allow-from", "10.0.0.0/8,,"], "--allow-from: '' is not an address or CIDR network"),
    (["--allow-from", "example.com"], "--allow-from: 'example.com' is not an address or CIDR network"),
    (["--quota-bytes", "12X"], "--quota-bytes: '12X' is not a size"),
    (["--quota-files", "-1"], "--quota-files: '-1' is not a size"),
    (["--rate-down", "1G"], "--rate-down: '1G' is not a rate in bytes/s"),
    (["--max-sessions", "many"], "--max-sessions: 'many' is not a number"),
    (["--groups", "nosuch"], "--groups: no such group 'nosuch'"),
    (["--expires", "2026-02-30"], "--expires: '2026-02-30' is not a date"),
    (["--expires", "tomorrow"], "--expires: 'tomorrow' is not a date"),
    (["--mount", "/s=relative/dir"], "--mount: directory 'relative/dir' is not an absolute path"),
    (["--mount", "/s=/nonexistent-ferry-dir"], "--mount: directory /nonexistent-ferry-dir does not exist"),
    (["--mount", "/../s=/tmp"], "--mount: '/../s' is not a virtual path"),
    (["--mount", "noequals"], "--mount: 'noequals' is not VPATH=DIR[:PERMS]"),
    (["--dir-perms", "/in=fly"], "--dir-perms: 'fly' is not a permission list"),
    (["--perms", "inherit", "--perms", "read"], ": --perms given twice"),
]


@pytest.mark.parametrize("args,message", BAD_INPUT, ids=[a[0] + " " + a[-1] for a, _ in BAD_INPUT])
def test_cli_bad_input(make_server, args, message):
    srv = make_server(start=False)
    ferry_ok(srv, "group", "add", "g")
    ferry_ok(srv, "user", "set", "bob", "--groups", "g", "--rate-up", "5")
    before = ferry_ok(srv, "user", "show", "bob")
    # Combined with a good option: nothing of the command may take effect.
    cp = srv.ferry("user", "set", "bob", "--quota-files", "99", *args)
    assert cp.returncode == 2, (cp.stdout, cp.stderr)
    assert cp.stderr.startswith("ferry: user set" + ("" if message[0] == ":" else " ") + message), cp.stderr
    assert cp.stdout == ""
    assert ferry_ok(srv, "user", "show", "bob") == before
    # group set says the same.
    if args[0] != "--groups" and args[0] != "--perms":
        cp = srv.ferry("group", "set", "g", *args)
        assert cp.returncode == 2 and cp.stderr.startswith("ferry: group set " + message), cp.stderr


def test_unknown_user_and_user_delete(make_server):
    srv = make_server(start=False)
    cp = srv.ferry("user", "set", "nobody-here", "--rate-up", "1")
    assert (cp.returncode, cp.stderr) == (1, "ferry: no such user 'nobody-here'\n")
    ferry_ok(srv, "group", "add", "g")
    ferry_ok(srv, "user", "set", "bob", "--groups", "g", "--max-sessions", "3")
    ferry_ok(srv, "user", "del", "bob")
    srv.add_user("bob", "pw")
    out = ferry_ok(srv, "user", "show", "bob")
    assert "groups: (none)\n" in out and "\nmax-sessions:" not in out  # a new bob inherits nothing
    assert ferry_ok(srv, "group", "show", "g") == "name: g\nmembers: (none)\n"


def test_store_copy_takes_groups_and_policies(make_server, ferry_store, request):
    """ferry store copy moves groups, their attributes, memberships (in order) and users'
    attributes to PostgreSQL with the users."""
    if ferry_store.kind != "sqlite":
        pytest.skip("copies from SQLite")
    from conftest import StoreSpec
    pg = request.getfixturevalue("pg_server")
    src = make_server(start=False)
    for g in ("g1", "g2"):
        ferry_ok(src, "group", "add", g)
    ferry_ok(src, "group", "set", "g1", "--perms", "read,list", "--allow-from", "127.0.0.0/8")
    ferry_ok(src, "group", "set", "g2", "--mount", f"/shared={src.home_root}:read", "--rate-up", "2K")
    ferry_ok(src, "user", "set", "bob", "--groups", "g2,g1", "--perms", "inherit", "--expires", "2999-01-01")
    db = pg.create_db()
    ferry_ok(src, "store", "copy", "--to", pg.conninfo(db))
    dst = make_server(users=(), store=StoreSpec("postgres", pg), start=False)
    dst.pg_db = db
    dst.write_config()
    for args in (("group", "list"), ("group", "show", "g1"), ("group", "show", "g2"), ("user", "show", "bob")):
        assert ferry_ok(dst, *args) == ferry_ok(src, *args), args
    assert "groups: g2, g1\n" in ferry_ok(dst, "user", "show", "bob")


def test_max_sessions_refusal_names_its_source(make_server):
    """The 421 and the log line say whose max-sessions refused the login: a group's (by name),
    the user's own or the server's [limits] max_per_user. Before the fix a group's limit was
    reported as "the user's max-sessions" and the log did not say which limit."""
    srv = make_server(config={"limits": {"max_per_user": "1", "max_per_ip": "0"}})
    ferry_ok(srv, "group", "add", "staff")
    ferry_ok(srv, "group", "set", "staff", "--max-sessions", "2")
    ferry_ok(srv, "user", "set", "bob", "--groups", "staff")
    held = []
    try:
        for _ in range(2):
            c = srv.connect()
            c.login("bob", "pw")
            held.append(c)
        r = login_code(srv)
        assert (r.code, r.text) == (421, "Too many sessions for user bob (limit 2); close some or raise "
                                    "group staff's max-sessions."), r
        srv.wait_log(r'(?m)login refused: user="bob" ip=127\.0\.0\.1 reason=user-limit limit=2 '
                     r'limit-from=group:staff$')
        ferry_ok(srv, "user", "set", "bob", "--max-sessions", "2")
        r = login_code(srv)
        assert (r.code, r.text) == (421, "Too many sessions for user bob (limit 2); close some or raise "
                                    "the user's max-sessions."), r
        srv.wait_log(r'(?m)login refused: user="bob" ip=127\.0\.0\.1 reason=user-limit limit=2 limit-from=user$')
        ferry_ok(srv, "user", "set", "bob", "--max-sessions", "inherit", "--groups", "none")
        r = login_code(srv)
        assert (r.code, r.text) == (421, "Too many sessions for user bob (limit 1); close some or raise "
                                    "[limits] max_per_user."), r
        srv.wait_log(r'(?m)login refused: user="bob" ip=127\.0\.0\.1 reason=user-limit limit=1 '
                     r'limit-from=\[limits\]max_per_user$')
    finally:
        for c in held:
            c.close()


def test_max_sessions_sftp_log_names_the_group(make_server, ferry_bin):
    with sftp_server(make_server, ferry_bin) as srv:
        ferry_ok(srv, "group", "add", "staff")
        ferry_ok(srv, "group", "set", "staff", "--max-sessions", "1")
        ferry_ok(srv, "user", "set", "bob", "--groups", "staff")
        c = srv.connect()
        c.login("bob", "pw")  # FTP takes the group's one slot: SFTP is refused
        with pytest.raises(paramiko.AuthenticationException):
            transport(srv)
        srv.wait_log(r'(?m)login refused: user="bob" ip=127\.0\.0\.1 reason=user-limit protocol=sftp '
                     r'method=password limit=1 limit-from=group:staff$')
        c.close()
