"""The `ferry` admin CLI driven as an operator would: real processes, a real
SQLite file or PostgreSQL database (every test runs once per store), passwords
through stdin and through a pseudo-terminal.

Uses conftest's ferry_env (an unstarted server: config with run_as = nobody,
a database path and a home root in a /tmp directory owned by nobody, since
the CLI drops to nobody when run as root). Run with:

    FERRY_BUILD=build /usr/bin/python3 -m pytest tests/integration/test_cli.py
"""

import ctypes
import ctypes.util
import os
import pty
import pwd
import select
import sqlite3
import stat
import subprocess
import time

import pytest

from conftest import IS_ROOT, REPO, SCHEMA_VERSION, SERVICE_USER, _chown_tree, render_config

FERRY_STORES = ("sqlite", "postgres")
PERMS_HELP = "(use read,write,delete,rename,mkdir,list or all)"
DEFAULT_PASSWORD = "pw-xxxxxxxx"


def _crypt_matches(password: str, hash_: str) -> bool:
    """Checks a stored hash with libcrypt itself (Python's crypt is deprecated)."""
    lib = ctypes.CDLL(ctypes.util.find_library("crypt"))
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    out = lib.crypt(password.encode(), hash_.encode())
    return out is not None and out.decode() == hash_


class Env:
    """Small helpers over one unstarted FerryServer."""

    def __init__(self, srv):
        self.srv = srv
        self.root = srv.dir
        self.db = srv.db_path
        self.conf = srv.config_path

    def run(self, *args, input: str = "", conf: str | None = None):
        # input="" (not None): stdin must never be the runner's terminal.
        if conf is None:
            return self.srv.ferry(*args, input=input)
        return subprocess.run([self.srv.bins.ferry, "-c", conf, *args], input=input, capture_output=True,
                              text=True, timeout=30, env=self.srv.env)

    def home(self, name: str) -> str:
        d = os.path.join(self.srv.home_root, name)
        os.makedirs(d, exist_ok=True)
        _chown_tree(self.srv.home_root)
        return d

    def add(self, name: str, password: str = DEFAULT_PASSWORD, *opts: str, home: str | None = None):
        r = self.run("user", "add", name, "--home", home or self.home(name), *opts, input=password + "\n")
        assert r.returncode == 0, fail_msg(r)
        return r

    @property
    def pg(self) -> bool:
        return self.srv.pg_db is not None

    def row(self, name: str):
        rows = self.srv.store_rows("users", "name = ?", (name,))
        return rows[0] if rows else None

    def write(self, name: str, text: str) -> str:
        path = os.path.join(self.root, name)
        with open(path, "w") as f:
            f.write(text)
        return path


@pytest.fixture
def env(ferry_env):
    return Env(ferry_env(users=()))


def fail_msg(r) -> str:
    return f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"


# ---- add / list / show ----


def test_add_and_list(env):
    home = env.home("bob")
    r = env.run("user", "add", "bob", "--home", home, input="hunter2hunter2\n")
    assert r.returncode == 0, fail_msg(r)
    assert r.stdout == f"ferry: user 'bob' added (home {home})\n"
    env.add("alice", "pw", "--perms", "read,list", "--account", "acme")

    r = env.run("user", "list")
    assert r.returncode == 0, fail_msg(r)
    assert r.stdout.splitlines() == [
        f"alice\tenabled\t{env.home('alice')}\tread,list\taccount=yes",
        f"bob\tenabled\t{home}\tall\taccount=no",
    ]
    row = env.row("bob")
    assert row["password_hash"].startswith("$y$")
    assert _crypt_matches("hunter2hunter2", row["password_hash"])
    assert row["perms"] == "all" and row["enabled"] == 1 and row["account"] is None


def test_schema_contract(env):
    """The users table's column names are a contract (operators' scripts read them), the same
    in both stores, at the current schema version."""
    env.add("bob")
    assert list(env.row("bob")) == ["name", "password_hash", "home", "account", "perms", "enabled",
                                    "created_at", "updated_at"]
    r = env.run("store", "migrate")
    assert r.returncode == 0, fail_msg(r)
    assert r.stdout.endswith(f": schema version {SCHEMA_VERSION} (up to date)\n")
    if env.pg:
        assert [r["version"] for r in env.srv.store_rows("schema_version")] == list(range(1, SCHEMA_VERSION + 1))


def test_database_files_belong_to_service_user(env):
    if env.pg:
        pytest.skip("a SQLite file's mode and owner")
    env.add("bob")
    st = os.stat(env.db)
    assert stat.S_IMODE(st.st_mode) == 0o600
    if IS_ROOT:
        assert st.st_uid == pwd.getpwnam(SERVICE_USER).pw_uid
    # Header bytes 18 and 19 are 2 in a WAL database (an immutable
    # connection would report its own journal mode, not the file's).
    with open(env.db, "rb") as f:
        header = f.read(20)
    assert header[18:20] == b"\x02\x02"
    con = sqlite3.connect(f"file:{env.db}?immutable=1", uri=True)
    try:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        cols = [c[1] for c in con.execute("PRAGMA table_info(users)")]
    finally:
        con.close()
    assert cols == ["name", "password_hash", "home", "account", "perms", "enabled", "created_at", "updated_at"]


def test_add_duplicate(env):
    env.add("bob")
    r = env.run("user", "add", "bob", "--home", env.home("bob"), input="other\n")
    assert r.returncode == 1, fail_msg(r)
    assert "ferry: user 'bob' already exists" in r.stderr
    assert _crypt_matches(DEFAULT_PASSWORD, env.row("bob")["password_hash"])


def test_add_disabled_with_account_and_perms(env):
    env.add("carol", "pw", "--disabled", "--account", "ACME-7", "--perms", "Read, LIST,mkdir")
    r = env.run("user", "show", "carol")
    assert r.returncode == 0, fail_msg(r)
    lines = r.stdout.splitlines()
    assert "status: disabled" in lines
    assert "perms: read,mkdir,list" in lines
    assert "account: ACME-7" in lines


def test_show_never_prints_the_hash(env):
    env.add("bob", "s3cret-pw")
    hash_ = env.row("bob")["password_hash"]
    r = env.run("user", "show", "bob")
    assert r.returncode == 0, fail_msg(r)
    fields = dict(line.split(": ", 1) for line in r.stdout.splitlines())
    assert fields["name"] == "bob"
    assert fields["status"] == "enabled"
    assert fields["home"] == env.home("bob")
    assert fields["perms"] == "all"
    assert fields["account"] == "(none)"
    assert fields["password"] == "yescrypt"
    assert hash_ not in r.stdout and hash_ not in r.stderr
    assert "$y$" not in r.stdout
    # The salt alone (third field) must not leak either.
    assert hash_.split("$")[3] not in r.stdout


def test_list_empty_and_missing_database(env):
    r = env.run("user", "list")
    if env.pg:
        # The database exists (the operator made it): ferry gives it the schema.
        assert r.returncode == 0 and r.stdout == "", fail_msg(r)
    else:
        assert r.returncode == 1
        assert f"user database {env.db} does not exist" in r.stderr
        assert "user add" in r.stderr
        assert not os.path.exists(env.db), "only 'user add' may create the database"
    env.add("bob")
    assert env.run("user", "del", "bob").returncode == 0
    r = env.run("user", "list")
    assert r.returncode == 0 and r.stdout == ""


# ---- passwords ----


def test_passwd_changes_hash(env):
    env.add("bob", "old-password")
    before = env.row("bob")["password_hash"]
    r = env.run("user", "passwd", "bob", input="new-password\r\n")
    assert r.returncode == 0, fail_msg(r)
    assert "ferry: user 'bob' has a new password" in r.stdout
    after = env.row("bob")["password_hash"]
    assert after != before and after.startswith("$y$")
    # The CR of a CRLF line is not part of the password.
    assert _crypt_matches("new-password", after)
    assert not _crypt_matches("old-password", after)


def test_passwd_missing_user(env):
    env.add("bob")
    r = env.run("user", "passwd", "ghost", input="x\n")
    assert r.returncode == 1
    assert "ferry: no such user 'ghost'" in r.stderr


@pytest.mark.parametrize(
    "stdin, message",
    [
        ("\n", "empty password"),
        ("\r\n", "empty password"),
        ("", "no password on standard input"),
        ("a" * 1025 + "\n", "longer than 1024 bytes"),
        ("a" * 600 + "\n", "too long to hash (at most 511 bytes)"),
        ("ab\0cd\n", "NUL byte"),
    ],
)
def test_bad_passwords_from_stdin(env, stdin, message):
    env.add("bob", "original")
    r = env.run("user", "passwd", "bob", input=stdin)
    assert r.returncode == 1, fail_msg(r)
    assert message in r.stderr
    assert _crypt_matches("original", env.row("bob")["password_hash"])


def test_only_first_stdin_line_is_the_password(env):
    env.add("bob", "line-one")
    r = env.run("user", "passwd", "bob", input="first\nsecond\n")
    assert r.returncode == 0, fail_msg(r)
    assert _crypt_matches("first", env.row("bob")["password_hash"])


def test_password_from_argv_is_impossible(env):
    r = env.run("user", "add", "bob", "--home", env.home("bob"), "--password", "x", input="pw\n")
    assert r.returncode == 2, fail_msg(r)
    assert "unknown option '--password'" in r.stderr
    assert not env.srv.store_exists()
    r = env.run("user", "passwd", "bob", "hunter2", input="pw\n")
    assert r.returncode == 2, fail_msg(r)


def _run_on_pty(env, args, answers, prompt=b"assword: "):
    """Runs ferry with stdin/stderr on a pseudo-terminal, answering each
    prompt in turn; returns (exit code, everything the terminal showed)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [env.srv.bins.ferry, "-c", env.conf, *args],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    shown = b""
    pending = list(answers)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
                # Answer each prompt once, only after it appeared: echo is
                # off by then, so what we type would show if it were on.
                if pending and shown.count(prompt) == len(answers) - len(pending) + 1:
                    os.write(master, pending.pop(0).encode() + b"\n")
            elif proc.poll() is not None:
                break
        out, _ = proc.communicate(timeout=60)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, shown.decode(errors="replace"), out.decode()


def test_tty_prompts_twice_without_echo(env):
    home = env.home("bob")
    code, shown, out = _run_on_pty(env, ["user", "add", "bob", "--home", home], ["tty-secret", "tty-secret"])
    assert code == 0, shown
    assert "Password: " in shown and "Repeat password: " in shown
    assert "tty-secret" not in shown, "the password was echoed"
    assert "user 'bob' added" in out
    assert _crypt_matches("tty-secret", env.row("bob")["password_hash"])


def test_tty_mismatch(env):
    env.add("bob", "original")
    code, shown, _ = _run_on_pty(env, ["user", "passwd", "bob"], ["one-thing", "another"])
    assert code == 1
    assert "passwords do not match" in shown
    assert _crypt_matches("original", env.row("bob")["password_hash"])


def test_tty_otp_pass_phrase_prompts_twice_without_echo(env):
    env.add("bob")
    phrase = "This is a test."
    code, shown, out = _run_on_pty(env, ["otp", "init", "bob", "--count", "100", "--seed", "test"],
                                   [phrase, phrase], prompt=b"ass phrase: ")
    assert code == 0, shown
    assert "Pass phrase: " in shown and "Repeat pass phrase: " in shown
    assert phrase not in shown, "the pass phrase was echoed"
    assert out == "ferry: user 'bob' has a new one-time password key; next challenge: otp-md5 99 test\n"
    code, shown, _ = _run_on_pty(env, ["otp", "init", "bob"], [phrase, phrase + "x"], prompt=b"ass phrase: ")
    assert code == 1 and "pass phrases do not match" in shown


# ---- enable / disable / set / del ----


def test_enable_disable(env):
    env.add("bob")
    r = env.run("user", "disable", "bob")
    assert r.returncode == 0 and "ferry: user 'bob' disabled" in r.stdout, fail_msg(r)
    assert "\tdisabled\t" in env.run("user", "list").stdout
    assert env.row("bob")["enabled"] == 0
    r = env.run("user", "enable", "bob")
    assert r.returncode == 0 and "ferry: user 'bob' enabled" in r.stdout, fail_msg(r)
    assert env.row("bob")["enabled"] == 1
    r = env.run("user", "enable", "ghost")
    assert r.returncode == 1 and "ferry: no such user 'ghost'" in r.stderr


def test_set(env):
    env.add("bob", "keep-me")
    hash_ = env.row("bob")["password_hash"]
    other = env.home("other")
    r = env.run("user", "set", "bob", "--home", other, "--perms", "read,list", "--account", "A1")
    assert r.returncode == 0, fail_msg(r)
    assert "ferry: user 'bob' updated" in r.stdout
    row = env.row("bob")
    assert (row["home"], row["perms"], row["account"]) == (other, "read,list", "A1")
    assert row["password_hash"] == hash_, "set must not touch the password"

    r = env.run("user", "set", "bob", "--no-account")
    assert r.returncode == 0, fail_msg(r)
    assert env.row("bob")["account"] is None
    assert env.row("bob")["perms"] == "read,list", "unchanged fields stay"


def test_set_usage_errors(env):
    env.add("bob")
    r = env.run("user", "set", "bob")
    assert r.returncode == 2 and "nothing to change" in r.stderr
    r = env.run("user", "set", "bob", "--account", "x", "--no-account")
    assert r.returncode == 2 and "exclude each other" in r.stderr
    r = env.run("user", "set", "ghost", "--perms", "read")
    assert r.returncode == 1 and "ferry: no such user 'ghost'" in r.stderr


def test_del(env):
    env.add("bob")
    env.add("carol")
    r = env.run("user", "del", "bob")
    assert r.returncode == 0 and "ferry: user 'bob' deleted" in r.stdout, fail_msg(r)
    assert env.row("bob") is None
    assert env.row("carol") is not None
    assert os.path.isdir(env.home("bob")), "deleting a user keeps the files"
    r = env.run("user", "del", "bob")
    assert r.returncode == 1 and "ferry: no such user 'bob'" in r.stderr
    r = env.run("user", "show", "bob")
    assert r.returncode == 1 and "ferry: no such user 'bob'" in r.stderr


# ---- validation ----


@pytest.mark.parametrize("name", ["bo/b", ".hidden", "a b", "x" * 65, "bob\u00e9", "bob;rm", "b\tob"])
def test_bad_names(env, name):
    r = env.run("user", "add", "--home", env.home("h"), "--", name, input="pw\n")
    assert r.returncode == 1, fail_msg(r)
    assert "ferry: invalid user name" in r.stderr
    assert not env.srv.store_exists()


def test_name_starting_with_dash(env):
    r = env.run("user", "add", "-bob", "--home", env.home("h"), input="pw\n")
    assert r.returncode == 2
    r = env.run("user", "add", "--home", env.home("h"), "--", "-bob", input="pw\n")
    assert r.returncode == 1 and "invalid user name" in r.stderr


def test_good_unusual_names(env):
    for name in ["a", "x" * 64, "first.last@example.com", "under_score-dash", "007"]:
        env.add(name, "pw", home=env.home("shared"))
    assert len(env.run("user", "list").stdout.splitlines()) == 5


def test_relative_home_rejected(env):
    r = env.run("user", "add", "bob", "--home", "srv/bob", input="pw\n")
    assert r.returncode == 1
    assert "--home: 'srv/bob' is not an absolute path" in r.stderr


def test_missing_home_rejected(env):
    missing = os.path.join(env.srv.home_root, "nope")
    r = env.run("user", "add", "bob", "--home", missing, input="pw\n")
    assert r.returncode == 1
    assert f"home {missing} does not exist" in r.stderr
    assert "--create-home" in r.stderr
    assert not os.path.exists(missing)
    if env.srv.store_exists():
        assert env.row("bob") is None


def test_home_is_a_file(env):
    f = env.write("file", "x")
    r = env.run("user", "add", "bob", "--home", f, input="pw\n")
    assert r.returncode == 1 and "is not a directory" in r.stderr


def test_create_home(env):
    target = os.path.join(env.srv.home_root, "deep", "er", "bob")
    r = env.run("user", "add", "bob", "--home", target, "--create-home", input="pw\n")
    assert r.returncode == 0, fail_msg(r)
    assert os.path.isdir(target)
    st = os.stat(target)
    assert stat.S_IMODE(st.st_mode) & 0o027 == 0  # 0750 less the umask
    if IS_ROOT:
        assert st.st_uid == pwd.getpwnam(SERVICE_USER).pw_uid
    # An existing directory is fine with --create-home too.
    r = env.run("user", "add", "carol", "--home", target, "--create-home", input="pw\n")
    assert r.returncode == 0, fail_msg(r)


@pytest.mark.skipif(not IS_ROOT, reason="needs root to make a directory the service user cannot read")
def test_home_checked_as_service_user(env):
    private = os.path.join(env.root, "private")
    os.mkdir(private, 0o700)  # root-owned: root could read it, nobody cannot
    r = env.run("user", "add", "bob", "--home", private, input="pw\n")
    assert r.returncode == 1, fail_msg(r)
    assert f"home {private} is not accessible to user {SERVICE_USER}" in r.stderr


@pytest.mark.skipif(not IS_ROOT, reason="run_as only applies when started as root")
def test_missing_service_user(env):
    bad = env.write("bad-user.conf", render_config({"server": {"run_as": "no-such-user-ferry"},
                                                     "store": env.srv.config_dict()["store"]}))
    r = env.run("user", "list", conf=bad)
    assert r.returncode == 1
    assert "no such user 'no-such-user-ferry'" in r.stderr


@pytest.mark.parametrize(
    "perms, message",
    [
        ("read,x", f"ferry: --perms: unknown permission 'x' {PERMS_HELP}"),
        ("fly", f"ferry: --perms: unknown permission 'fly' {PERMS_HELP}"),
        ("", f"ferry: --perms: empty permission list {PERMS_HELP}"),
        ("read,,list", "ferry: --perms: empty item"),
    ],
)
def test_bad_perms(env, perms, message):
    r = env.run("user", "add", "bob", "--home", env.home("bob"), "--perms", perms, input="pw\n")
    assert r.returncode == 1, fail_msg(r)
    assert message in r.stderr


def test_bad_account(env):
    r = env.run("user", "add", "bob", "--home", env.home("bob"), "--account", "", input="pw\n")
    assert r.returncode == 1 and "--account: must not be empty" in r.stderr
    r = env.run("user", "add", "bob", "--home", env.home("bob"), "--account", "a\x1bb", input="pw\n")
    assert r.returncode == 1 and "control characters" in r.stderr


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["user"],
        ["user", "frob"],
        ["user", "add", "bob"],  # no --home
        ["user", "show"],
        ["user", "list", "extra"],
        ["user", "del", "bob", "--home", "/tmp"],
        ["user", "add", "bob", "--home"],
        ["config"],
        ["config", "check", "extra"],
        ["--bogus"],
    ],
)
def test_usage_errors(env, args):
    r = env.run(*args)
    assert r.returncode == 2, fail_msg(r)
    assert r.stderr.startswith("ferry: ")
    assert "ferry --help" in r.stderr


def test_help_and_version(ferry_bin):
    r = subprocess.run([ferry_bin.ferry, "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    for word in ["user add NAME --home DIR", "user passwd NAME", "config check", "--create-home",
                 "otp init NAME [--alg md5|sha1] [--count N] [--seed SEED]", "totp enable NAME"]:
        assert word in r.stdout
    r = subprocess.run([ferry_bin.ferry, "--version"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.startswith("ferry ")


# ---- config check ----


def test_config_check_good(env):
    r = env.run("config", "check")
    assert r.returncode == 0, fail_msg(r)
    assert r.stdout == f"{env.conf}: OK\n"


def test_config_check_bad(env):
    bad = env.write("bad.conf", "[server]\nrun_as = nobody\nno_such_key = 1\n")
    r = env.run("config", "check", conf=bad)
    assert r.returncode == 1, fail_msg(r)
    assert r.stdout == ""
    assert f"{bad}:3:" in r.stderr
    assert "no_such_key" in r.stderr


def test_config_check_missing_file(env):
    r = env.run("config", "check", conf=os.path.join(env.root, "absent.conf"))
    assert r.returncode == 1
    assert "absent.conf" in r.stderr


def test_shipped_config_checks(ferry_bin):
    shipped = os.path.join(REPO, "etc", "ferry.conf")
    r = subprocess.run([ferry_bin.ferry, "-c", shipped, "config", "check"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{shipped}: OK\n"
