"""ferry user import: moving in from Pure-FTPd, ProFTPD or an htpasswd file.

Hashes are made here with `openssl passwd` (-1 md5crypt, -5 sha256crypt, -6 sha512crypt, -apr1
Apache's MD5) and hashlib ({SHA}); the users then log in with ftplib (and paramiko over SFTP) using
the original passwords, and the stored md5crypt hash must have become yescrypt after the first
good login, which keeps working. Runs against SQLite and PostgreSQL."""

import base64
import ftplib
import hashlib
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import HOST, _chown_tree, built_features

FERRY_STORES = ("sqlite", "postgres")


def openssl_hash(kind, password):
    return subprocess.run(["openssl", "passwd", f"-{kind}", password], capture_output=True, text=True,
                          timeout=20, check=True).stdout.strip()


def sha_hash(password):
    return "{SHA}" + base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()


def write(srv, name, text):
    path = os.path.join(srv.dir, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)  # as pureftpd.passwd is: read before the privilege drop
    return path


def ftp_login(srv, user, password):
    ftp = ftplib.FTP()
    ftp.connect(HOST, srv.port, timeout=10)
    try:
        return ftp.login(user, password)
    finally:
        ftp.close()


def stored(srv, name):
    """name's row. With ferryd running, SQLite's recent writes are still in the WAL, which
    store_rows (immutable=1) does not read: then a read-only connection that sees it (the -wal
    and -shm files exist, so nothing is created as root)."""
    if srv.pg_db is None and os.path.exists(srv.db_path + "-shm"):
        import sqlite3
        con = sqlite3.connect(f"file:{srv.db_path}?mode=ro", uri=True, timeout=10)
        try:
            con.row_factory = sqlite3.Row
            rows = [dict(r) for r in con.execute("SELECT * FROM users WHERE name = ?", (name,))]
        finally:
            con.close()
    else:
        rows = srv.store_rows("users", "name = ?", (name,))
    return rows[0] if rows else None


def all_users(srv):
    return srv.ferry("user", "list", check=True).stdout


def import_(srv, fmt, path, *opts):
    return srv.ferry("user", "import", "--format", fmt, path, *opts)


def skipped_lines(cp):
    return [line for line in cp.stderr.splitlines()
            if "not imported:" in line and not line.startswith("ferry: warning:")]


@pytest.fixture
def srv(make_server):
    return make_server()


def test_pureftpd_import_login_upgrades_md5(srv):
    home = os.path.join(srv.home_root, "alice")
    os.makedirs(home)
    _chown_tree(srv.home_root)
    md5 = openssl_hash("1", "alice-secret")
    sha512 = openssl_hash("6", "carl-secret")
    assert md5.startswith("$1$") and sha512.startswith("$6$")
    path = write(srv, "pureftpd.passwd",
                 "# pure-pw list\n"
                 f"alice:{md5}:1000:1000:Alice:{home}/./::::::::::::\n"
                 f"carl:{sha512}:1000:1000::{srv.home_root}/carl/./in:100:200::::::::::\n")
    r = import_(srv, "pureftpd", path, "--create-homes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"imported alice (home {home}, md5crypt: yescrypt at its next login)" in r.stdout
    assert "imported 2 users" in r.stdout
    # carl's chroot start directory cannot be taken over: said, not fatal; its bandwidths
    # (bytes/s in the file) become its policy.
    assert "user 'carl': the start directory /in inside its chroot is not kept" in r.stderr
    assert "set carl's policy: rate-up 100, rate-down 200\n" in r.stdout
    assert os.path.isdir(os.path.join(srv.home_root, "carl"))
    assert stored(srv, "alice")["password_hash"] == md5
    assert stored(srv, "alice")["home"] == home

    assert ftp_login(srv, "alice", "alice-secret").startswith("230")
    srv.wait_log(r"password hash upgraded: user=alice from=md5crypt to=yescrypt")
    new = stored(srv, "alice")["password_hash"]
    assert new.startswith("$y$") and new != md5
    assert ftp_login(srv, "alice", "alice-secret").startswith("230")
    with pytest.raises(ftplib.error_perm, match="530"):
        ftp_login(srv, "alice", "wrong")
    assert stored(srv, "alice")["password_hash"] == new  # upgraded once, then left alone

    assert ftp_login(srv, "carl", "carl-secret").startswith("230")
    srv.wait_log(r"password hash upgraded: user=carl from=sha512crypt to=yescrypt")
    assert stored(srv, "carl")["password_hash"].startswith("$y$")


def effective(srv, user):
    """The `effective X: V` lines of `ferry user show` as a dict."""
    cp = srv.ferry("user", "show", user)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    return dict(re.findall(r"^effective ([a-z-]+): (.*)$", cp.stdout, re.M))


def own_policy(srv, user):
    """The user's own policy rows (`attr: value` lines of `ferry user show`)."""
    out = srv.ferry("user", "show", user, check=True).stdout
    keys = ("rate-up", "rate-down", "max-sessions", "quota-files", "quota-bytes", "allow-from")
    return dict(m for m in re.findall(r"^([a-z-]+): (.*)$", out, re.M) if m[0] in keys)


def pass_code(srv, user, password):
    """USER/PASS on a new connection: the PASS reply code (the connection is closed)."""
    c = srv.connect()
    try:
        c.expect(f"USER {user}", 331)
        return c.cmd(f"PASS {password}").code
    finally:
        c.close()


# pure-pw useradd lim -T 100 -t 200 -q 1 -Q 10 -y 2 -n 500 -N 10 -i 192.0.2.1 -r 127.0.0.0/8,...
# writes bandwidths in bytes/s and the size quota in bytes: so does this file.
LIMITS = "102400:204800:1:10:2:500:10485760:192.0.2.1::127.0.0.0/8,ftp.example.com:10.9.9.9:0900-1800"


def test_pureftpd_limits_become_policy(srv):
    h = openssl_hash("1", "lim-secret")
    path = write(srv, "pureftpd.passwd",
                 f"lim:{h}:1:1::{srv.home_root}/lim/./:{LIMITS}\n"
                 f"far:{h}:1:1::{srv.home_root}/far/./::::::::::10.0.0.0/8,192.0.2.7::\n"
                 f"named:{h}:1:1::{srv.home_root}/named/./::::::::::ftp.example.com::\n"
                 f"zero:{h}:1:1::{srv.home_root}/zero/./::::::0:0:::::\n")
    r = import_(srv, "pureftpd", path, "--create-homes")
    assert r.returncode == 1, r.stdout + r.stderr
    assert ("set lim's policy: rate-up 102400, rate-down 204800, max-sessions 2, quota-files 500, "
            "quota-bytes 10485760, allow-from 127.0.0.0/8\n") in r.stdout
    assert "set far's policy: allow-from 10.0.0.0/8,192.0.2.7/32\n" in r.stdout
    assert "zero's policy" not in r.stdout
    warn = [line for line in r.stderr.splitlines() if "warning" in line]
    assert warn == [
        "ferry: warning: user 'lim': allowed client IPs ftp.example.com not imported (Ferry takes addresses "
        "and CIDR networks, not host names): logins from there are refused",
        "ferry: warning: user 'lim': refused client IPs 10.9.9.9 not imported: Ferry has no per-user deny "
        "list (ferry ban, or an --allow-from that leaves them out)",
        "ferry: warning: user 'lim': allowed/refused local IPs 192.0.2.1 not imported: Ferry has no per-user "
        "rule on the server's address",
        "ferry: warning: user 'lim': upload:download ratio 1:10 not imported: Ferry has no ratios",
        "ferry: warning: user 'lim': time restriction 0900-1800 not imported: Ferry has no login hours",
        "ferry: warning: user 'zero': its files quota of 0 (no uploads at all) is not imported: 0 is no quota "
        "in Ferry (--perms without write forbids uploads)",
        "ferry: warning: user 'zero': its size quota of 0 (no uploads at all) is not imported: 0 is no quota "
        "in Ferry (--perms without write forbids uploads)",
    ]
    # A list of host names alone maps to nothing: not imported (it would be allowed from anywhere).
    assert skipped_lines(r) == [
        f"ferry: {path}:3: user 'named' not imported: none of its allowed client IPs is an address or CIDR "
        "network Ferry can check (host names are not): it would be allowed from everywhere"]
    assert stored(srv, "named") is None
    assert not os.path.exists(os.path.join(srv.home_root, "named"))
    assert "imported 3 users from " + path + ", 1 not imported" in r.stdout

    e = effective(srv, "lim")
    assert (e["rate-up"], e["rate-down"], e["max-sessions"]) == ("102400", "204800", "2")
    assert (e["quota-files"], e["quota-bytes"], e["allow-from"]) == ("500", "10485760", "127.0.0.0/8")
    e = effective(srv, "zero")
    assert (e["quota-files"], e["quota-bytes"], e["allow-from"]) == ("0", "0", "any")
    assert own_policy(srv, "zero") == {}

    # far's list leaves 127.0.0.1 out: 530, the log says why.
    assert pass_code(srv, "far", "lim-secret") == 530
    srv.wait_log(r'login refused: user="far" ip=127\.0\.0\.1 reason=allow-from')
    # lim's two sessions: a third is refused.
    sessions = []
    try:
        for _ in range(2):
            c = srv.connect()
            sessions.append(c)
            c.login("lim", "lim-secret")
        assert pass_code(srv, "lim", "lim-secret") == 421
        srv.wait_log(r'login refused: user="lim" ip=127\.0\.0\.1 reason=user-limit')
    finally:
        for c in sessions:
            c.close()


def test_pureftpd_limits_dry_run_and_replace(srv):
    h = openssl_hash("1", "pw2")
    path = write(srv, "p", f"bob:{h}:1:1::{srv.home_root}/bob/./:2048::::3\n")
    assert srv.ferry("user", "set", "bob", "--quota-files", "9", "--max-sessions", "5",
                     "--allow-from", "127.0.0.1").returncode == 0
    before = own_policy(srv, "bob")
    assert before == {"quota-files": "9", "max-sessions": "5", "allow-from": "127.0.0.1/32"}
    r = import_(srv, "pureftpd", path, "--replace", "--dry-run")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "would set bob's policy: rate-up 2048, max-sessions 3\n" in r.stdout
    assert own_policy(srv, "bob") == before
    # --replace: the file is the truth for these limits (those it leaves empty are removed).
    r = import_(srv, "pureftpd", path, "--replace")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "set bob's policy: rate-up 2048, max-sessions 3\n" in r.stdout
    assert own_policy(srv, "bob") == {"rate-up": "2048", "max-sessions": "3"}
    assert ftp_login(srv, "bob", "pw2").startswith("230")


def test_pureftpd_bad_limit_refused(srv):
    """A limit field that is not what pure-pw writes: the user is not imported (its limits
    would be lost), the others are."""
    h = openssl_hash("1", "x")
    path = write(srv, "p", f"ok:{h}:1:1::{srv.home_root}/ok\n"
                           f"odd:{h}:1:1::{srv.home_root}/odd:10K\n"
                           f"many:{h}:1:1::{srv.home_root}/many:::::2000000\n")
    r = import_(srv, "pureftpd", path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert skipped_lines(r) == [
        f"ferry: {path}:2: user 'odd' not imported: upload bandwidth is not a number",
        f"ferry: {path}:3: user 'many' not imported: a limit Ferry cannot take (above)"]
    assert ("ferry: user import --max-sessions: '2000000' is not a number from 0 (no limit) to 1000000"
            in r.stderr)
    assert stored(srv, "odd") is None and stored(srv, "many") is None
    assert stored(srv, "ok") is not None


def test_wrong_password_does_not_upgrade(srv):
    md5 = openssl_hash("1", "right")
    path = write(srv, "p", f"dora:{md5}:1:1::{srv.home_root}/dora/./\n")
    assert import_(srv, "pureftpd", path, "--create-homes").returncode == 0
    with pytest.raises(ftplib.error_perm, match="530"):
        ftp_login(srv, "dora", "wrong")
    assert stored(srv, "dora")["password_hash"] == md5


def test_proftpd_import_locked_user_disabled(srv):
    sha256 = openssl_hash("5", "pro-secret")
    locked = openssl_hash("1", "gone")
    path = write(srv, "ftpd.passwd",
                 f"pro:{sha256}:2000:2000:Pro User:{srv.home_root}/pro:/bin/false\n"
                 f"locked:!{locked}:2001:2001::{srv.home_root}/locked:/bin/false\n")
    r = import_(srv, "proftpd", path, "--create-homes", "--perms", "read,list")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "imported locked (home " + srv.home_root + "/locked, disabled, md5crypt" in r.stdout
    assert stored(srv, "pro")["perms"] == "read,list"
    assert stored(srv, "locked")["enabled"] == 0
    assert stored(srv, "locked")["password_hash"] == locked  # `ferry user enable` brings it back

    assert ftp_login(srv, "pro", "pro-secret").startswith("230")
    srv.wait_log(r"password hash upgraded: user=pro from=sha256crypt to=yescrypt")
    assert stored(srv, "pro")["password_hash"].startswith("$y$")
    with pytest.raises(ftplib.error_perm, match="530"):
        ftp_login(srv, "locked", "gone")
    assert srv.ferry("user", "enable", "locked").returncode == 0
    assert ftp_login(srv, "locked", "gone").startswith("230")


def test_htpasswd_skipped_users_reported(srv):
    good = openssl_hash("1", "web-secret")
    path = write(srv, "htpasswd",
                 f"web:{good}\n"
                 f"apache:{openssl_hash('apr1', 'x')}\n"
                 f"sha:{sha_hash('x')}\n"
                 "this is not a user line\n"
                 "plain:cleartext-password\n"
                 f"-bad:{good}\n"
                 f"web:{good}\n")
    r = import_(srv, "htpasswd", path)
    assert r.returncode == 2 and "give --home-base DIR" in r.stderr
    assert stored(srv, "web") is None

    base = os.path.join(srv.home_root, "web-users")
    r = import_(srv, "htpasswd", path, "--home-base", base, "--create-homes")
    assert r.returncode == 1, r.stdout + r.stderr
    assert skipped_lines(r) == [
        f"ferry: {path}:2: user 'apache' not imported: password hash: "
        "Apache's APR1-MD5 ($apr1$) is not a libxcrypt method",
        f"ferry: {path}:3: user 'sha' not imported: password hash: "
        "Apache's {SHA} (unsalted SHA-1) is not a libxcrypt method",
        f"ferry: {path}:4: line not imported: not an htpasswd line (name:hash)",
        f"ferry: {path}:5: user 'plain' not imported: password hash: not a password hash "
        "(cleartext, or a bare setting?)",
        f"ferry: {path}:6: user '-bad' not imported: not a Ferry user name (1-64 characters of A-Z a-z 0-9 . _ @ -,"
        " not starting with '-' or '.')",
        f"ferry: {path}:7: user 'web' not imported: appears again (first on line 1)",
    ]
    assert "imported 1 user from " + path + ", 6 not imported" in r.stdout
    assert [u for u in ("apache", "sha", "plain", "-bad") if stored(srv, u)] == []
    assert stored(srv, "web")["home"] == base + "/web"
    assert ftp_login(srv, "web", "web-secret").startswith("230")
    srv.wait_log(r"password hash upgraded: user=web from=md5crypt to=yescrypt")


def test_dry_run_changes_nothing(srv):
    md5 = openssl_hash("1", "pw1")
    path = write(srv, "p", f"newbie:{md5}:1:1::{srv.home_root}/newbie/./\nbob:{md5}:1:1::{srv.home_root}/bob\n")
    before = all_users(srv)
    r = import_(srv, "pureftpd", path, "--dry-run", "--create-homes")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "would create home " + srv.home_root + "/newbie" in r.stdout
    assert "would import newbie" in r.stdout
    assert skipped_lines(r) == [f"ferry: {path}:2: user 'bob' not imported: already in the store "
                                "(--replace replaces it)"]
    r = import_(srv, "pureftpd", path, "--dry-run", "--replace")
    assert r.returncode == 0 and "would replace bob" in r.stdout
    assert all_users(srv) == before
    assert not os.path.exists(os.path.join(srv.home_root, "newbie"))


def test_existing_user_refused_then_replaced(srv):
    assert ftp_login(srv, "bob", "pw").startswith("230")
    md5 = openssl_hash("1", "from-old-server")
    path = write(srv, "p", f"bob:{md5}:1:1::{srv.home_root}/bob/./\n")
    r = import_(srv, "pureftpd", path)
    assert r.returncode == 1
    assert "user 'bob' not imported: already in the store (--replace replaces it)" in r.stderr
    assert ftp_login(srv, "bob", "pw").startswith("230")

    r = import_(srv, "pureftpd", path, "--replace")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "replaced bob" in r.stdout
    with pytest.raises(ftplib.error_perm, match="530"):
        ftp_login(srv, "bob", "pw")
    assert ftp_login(srv, "bob", "from-old-server").startswith("230")


def test_missing_home_warns_but_imports(srv):
    md5 = openssl_hash("1", "pw")
    missing = os.path.join(srv.home_root, "not-yet")
    path = write(srv, "p", f"later:{md5}:1:1::{missing}/./\n")
    r = import_(srv, "pureftpd", path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"ferry: warning: user 'later': home {missing} does not exist" in r.stderr
    assert not os.path.exists(missing)
    assert stored(srv, "later")["home"] == missing


def test_bad_file_or_usage_exit_2(srv):
    before = all_users(srv)
    r = import_(srv, "pureftpd", os.path.join(srv.dir, "no-such-file"))
    assert r.returncode == 2 and "cannot open " + srv.dir + "/no-such-file: No such file or directory" in r.stderr
    r = import_(srv, "pureftpd", srv.dir)
    assert r.returncode == 2 and "cannot read " + srv.dir + ": Is a directory" in r.stderr
    r = import_(srv, "vsftpd", srv.config_path)
    assert r.returncode == 2 and "unknown --format 'vsftpd' (pureftpd, proftpd or htpasswd)" in r.stderr
    r = srv.ferry("user", "import", srv.config_path)
    assert r.returncode == 2 and "--format pureftpd|proftpd|htpasswd is required" in r.stderr
    # A file in another format: every line refused, then the verdict.
    htp = write(srv, "htpasswd", f"web:{openssl_hash('1', 'x')}\n")
    r = import_(srv, "proftpd", htp)
    assert r.returncode == 2
    assert f"{htp} has no proftpd user lines (is --format right?)" in r.stderr
    r = import_(srv, "pureftpd", write(srv, "empty", ""))
    assert r.returncode == 2
    assert all_users(srv) == before


def test_sftp_login_upgrades_too(make_server, ferry_bin):
    if "sftp" not in built_features(ferry_bin):
        pytest.skip("ferryd built without SFTP (meson -Dsftp=disabled)")
    from sftp_helpers import client, start_sftp_server
    # A host key of its own: the generated one goes beside [store] sqlite, which a
    # PostgreSQL store does not have.
    keydir = tempfile.mkdtemp(prefix="ferry-it-key-", dir="/tmp")
    key = os.path.join(keydir, "host_ed25519")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True, timeout=20,
                   capture_output=True)
    s = start_sftp_server(make_server, {"sftp": {"host_keys": key}})
    md5 = openssl_hash("1", "sftp-secret")
    path = write(s, "p", f"sam:{md5}:1:1::{s.home_root}/sam/./\n")
    assert import_(s, "pureftpd", path, "--create-homes").returncode == 0
    c = client(s, "sam", "sftp-secret")
    try:
        assert c.listdir("/") == []
    finally:
        c.close()
    s.wait_log(r"password hash upgraded: user=sam from=md5crypt to=yescrypt")
    assert stored(s, "sam")["password_hash"].startswith("$y$")
    c = client(s, "sam", "sftp-secret")
    c.close()
    shutil.rmtree(keydir)
