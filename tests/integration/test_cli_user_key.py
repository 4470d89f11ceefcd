"""`ferry user key add|list|del` (src/cli/ferry_user_key.c): the SSH public keys a user may log in
with over SFTP, driven as an operator would (key lines on stdin, as `ssh-keygen` writes them), once
per user store; bad input gets a clear message, exit 2, and changes nothing."""

import re
import subprocess

import pytest

from conftest import built_features
from test_cli import Env, fail_msg

FERRY_STORES = ("sqlite", "postgres")

FP = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")


@pytest.fixture
def env(ferry_env):
    e = Env(ferry_env(users=()))
    if "sftp" not in built_features(e.srv.bins):
        pytest.skip("ferry built without SFTP (meson -Dsftp=disabled): keys cannot be checked")
    return e


def keygen(tmp_path, kind, name, comment, bits=None):
    path = str(tmp_path / name)
    args = ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", comment, "-f", path] + (["-b", str(bits)] if bits else [])
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    with open(path + ".pub") as f:
        line = f.read()
    cp = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", path + ".pub"], check=True,
                        capture_output=True, text=True, timeout=30)
    return line, cp.stdout.split()[1]


def keys(env, name="bob"):
    r = env.run("user", "key", "list", name)
    assert r.returncode == 0, fail_msg(r)
    return [line.split("\t") for line in r.stdout.splitlines()]


def test_add_list_del(env, tmp_path):
    env.add("bob")
    ed, ed_fp = keygen(tmp_path, "ed25519", "ed", "bob@laptop")
    rsa, rsa_fp = keygen(tmp_path, "rsa", "rsa", "")
    r = env.run("user", "key", "add", "bob", input=ed)
    assert r.returncode == 0, fail_msg(r)
    assert r.stdout == f"ferry: key {ed_fp} (ssh-ed25519 bob@laptop) added for user 'bob'\n"
    # ssh-keygen -C "" writes no comment; CRLF and blank lines after the key are fine.
    r = env.run("user", "key", "add", "bob", input=rsa.rstrip("\n") + "\r\n\n")
    assert r.returncode == 0, fail_msg(r)
    assert r.stdout == f"ferry: key {rsa_fp} (ssh-rsa) added for user 'bob'\n"
    listed = keys(env)
    assert [k[:3] for k in listed] == [[ed_fp, "ssh-ed25519", "bob@laptop"], [rsa_fp, "ssh-rsa", ""]] or \
        [k[:3] for k in listed] == [[rsa_fp, "ssh-rsa", ""], [ed_fp, "ssh-ed25519", "bob@laptop"]]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", k[3]) for k in listed), listed
    # The store keeps the key as the line gave it.
    rows = env.srv.store_rows("user_keys", "name = ?", ("bob",))
    assert sorted(r["key"] for r in rows) == sorted([ed.split()[1], rsa.split()[1]])
    r = env.run("user", "key", "del", "bob", ed_fp)
    assert r.returncode == 0, fail_msg(r)
    assert r.stdout == f"ferry: key {ed_fp} removed from user 'bob'\n"
    assert [k[0] for k in keys(env)] == [rsa_fp]


def test_keys_go_with_the_user(env, tmp_path):
    env.add("bob")
    line, _ = keygen(tmp_path, "ed25519", "ed", "c")
    assert env.run("user", "key", "add", "bob", input=line).returncode == 0
    assert env.run("user", "del", "bob").returncode == 0
    env.add("bob")
    assert keys(env) == []
    assert env.srv.store_rows("user_keys") == []


@pytest.mark.parametrize("line, message", [
    ("", "no key (an empty line)"),
    ("ssh-ed25519\n", "no key after the key type"),
    ("ssh-ed25519 not*base64 c\n", "the key is not base64"),
    ('from="10.0.0.1" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL9gm3TkE4fueCeUvRJ9qXZWQbkOpBzjmJRMARXvTRbC\n',
     "does not start with a key type"),
    ("ssh-foo AAAAC3NzaC1lZDI1NTE5AAAAIL9gm3TkE4fueCeUvRJ9qXZWQbkOpBzjmJRMARXvTRbC\n", "unknown key type 'ssh-foo'"),
    # An ed25519 key named as RSA.
    ("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIL9gm3TkE4fueCeUvRJ9qXZWQbkOpBzjmJRMARXvTRbC\n", "ssh-rsa"),
    # A key cut short.
    ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL9gm3TkE4fueCeUvRJ9qXZW\n", "ssh-ed25519"),
    ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL9gm3TkE4fueCeUvRJ9qXZWQbkOpBzjmJRMARXvTRbC a\n"
     "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL9gm3TkE4fueCeUvRJ9qXZWQbkOpBzjmJRMARXvTRbC b\n", "more than one line"),
    ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL9gm3TkE4fueCeUvRJ9qXZWQbkOpBzjmJRMARXvTRbC a\x1b[2Jb\n",
     "control characters"),
    ("ssh-ed25519 " + "A" * 9000 + "\n", "too long"),
])
def test_bad_lines(env, line, message):
    env.add("bob")
    r = env.run("user", "key", "add", "bob", input=line)
    assert r.returncode == 2, fail_msg(r)
    assert r.stderr.startswith("ferry: user key add: ") and message in r.stderr, r.stderr
    assert keys(env) == []


def test_short_rsa_refused(env, tmp_path):
    env.add("bob")
    line, _ = keygen(tmp_path, "rsa", "short", "c", bits=1024)
    r = env.run("user", "key", "add", "bob", input=line)
    assert r.returncode == 2, fail_msg(r)
    assert r.stderr == "ferry: user key add: RSA keys shorter than 2048 bits are not accepted\n"
    assert keys(env) == []


def test_duplicate_refused(env, tmp_path):
    env.add("bob")
    env.add("alice")
    line, fp = keygen(tmp_path, "ed25519", "ed", "first")
    assert env.run("user", "key", "add", "bob", input=line).returncode == 0
    # The same key again, even under another comment.
    r = env.run("user", "key", "add", "bob", input=line.replace("first", "second"))
    assert r.returncode == 2, fail_msg(r)
    assert r.stderr == f"ferry: user 'bob' already has the key {fp}\n"
    assert [k[2] for k in keys(env)] == ["first"]
    # Another user may have the same key (and bob keeps his).
    r = env.run("user", "key", "add", "alice", input=line)
    assert r.returncode == 0, fail_msg(r)
    assert [k[:3] for k in keys(env, "alice")] == [[fp, "ssh-ed25519", "first"]]
    assert [k[0] for k in keys(env)] == [fp]


def test_unknown_user_and_fingerprint(env, tmp_path):
    env.add("bob")
    line, fp = keygen(tmp_path, "ed25519", "ed", "c")
    r = env.run("user", "key", "add", "nosuch", input=line)
    assert r.returncode == 1 and r.stderr == "ferry: no such user 'nosuch'\n", fail_msg(r)
    for args in (("list", "nosuch"), ("del", "nosuch", fp)):
        r = env.run("user", "key", *args)
        assert r.returncode == 1 and r.stderr == "ferry: no such user 'nosuch'\n", fail_msg(r)
    r = env.run("user", "key", "del", "bob", fp)
    assert r.returncode == 1, fail_msg(r)
    assert r.stderr == f"ferry: user 'bob' has no key {fp} (see: ferry user key list bob)\n"
    assert env.srv.store_rows("user_keys") == []


@pytest.mark.parametrize("args, message", [
    ((), "user key: missing command (add, list, del)"),
    (("show", "bob"), "user key: unknown command 'show'"),
    (("add",), "user key add: expected NAME"),
    (("list", "bob", "extra"), "user key list: expected NAME"),
    (("del", "bob"), "user key del: expected NAME FINGERPRINT"),
    (("del", "bob", "MD5:aa:bb"), "'MD5:aa:bb' is not a key fingerprint like SHA256:..."),
    (("add", "-bad"), "user key add: invalid user name '-bad'"),
])
def test_usage_errors(env, args, message):
    r = env.run("user", "key", *args)
    assert r.returncode == 2, fail_msg(r)
    assert message in r.stderr, r.stderr
