"""SFTP authentication beyond passwords (src/sftp/sftp_auth.c, sftp_auth_kbd.c, sftp_login.c), on
the same login service and rules as FTP: public keys from `ferry user key add` (ed25519 and RSA,
with paramiko and OpenSSH's sftp in batch mode), keyboard-interactive carrying the RFC 2289
challenge (answered by the independent generator of test_otp.py), TOTP as a second factor, the
account (FTP's 332) as a prompt, disabled and unknown users, and the log lines that say the method
and the key."""

import json
import os
import re
import shutil
import socket
import subprocess

import paramiko
import pytest

from conftest import HOST, IS_ROOT, SERVICE_USER, free_port, wait_until
from sftp_helpers import SFTP_TIMEOUT, sftp_config, start_sftp_server, transport
from test_otp import PHRASE, answer, otp, six_words, totp_code
from sftp_helpers import needs_sftp  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("needs_sftp")

USERS = (("bob", "pw", None), ("acctuser", "pw", "acct1"), ("otpuser", "static-pw", None))


def keygen(tmp_path, kind, name=None, bits=None):
    """A new key pair made by OpenSSH's ssh-keygen: (private key path, public key line)."""
    if not shutil.which("ssh-keygen"):
        pytest.skip("ssh-keygen is not installed (scripts/deps.sh: openssh-client)")
    path = str(tmp_path / (name or f"id_{kind}"))
    args = ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", f"{kind} test key", "-f", path]
    if bits:
        args += ["-b", str(bits)]
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    with open(path + ".pub") as f:
        return path, f.read()


def fingerprint(path):
    cp = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", path + ".pub"], check=True,
                        capture_output=True, text=True, timeout=30)
    return cp.stdout.split()[1]


def load_key(path):
    with open(path + ".pub") as f:
        kind = f.read().split()[0]
    cls = {"ssh-ed25519": paramiko.Ed25519Key, "ssh-rsa": paramiko.RSAKey}[kind]
    return cls.from_private_key_file(path)


def add_key(s, user, line):
    cp = s.ferry("user", "key", "add", user, input=line)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    return cp


def connect(s):
    sock = socket.create_connection((HOST, s.sftp_port), timeout=SFTP_TIMEOUT)
    t = paramiko.Transport(sock)
    t.banner_timeout = t.auth_timeout = SFTP_TIMEOUT
    t.start_client(timeout=SFTP_TIMEOUT)
    return t


def sftp_works(t):
    c = paramiko.SFTPClient.from_transport(t)
    c.get_channel().settimeout(SFTP_TIMEOUT)
    assert c.normalize(".") == "/"
    c.close()


class Answers:
    """A keyboard-interactive handler: each round's prompts are recorded, answers come from fn."""

    def __init__(self, fn):
        self.fn = fn
        self.rounds = []

    def __call__(self, title, instructions, prompts):
        self.rounds.append([p for p, _echo in prompts])
        return self.fn([p for p, _echo in prompts])


@pytest.fixture
def srv(make_server):
    return start_sftp_server(make_server, {"log": {"json": "events.json"}}, users=USERS)


# ---- public keys


def test_methods_announced(srv):
    t = connect(srv)
    try:
        with pytest.raises(paramiko.BadAuthenticationType) as e:
            t.auth_none("bob")
        assert sorted(e.value.allowed_types) == ["keyboard-interactive", "password", "publickey"]
    finally:
        t.close()


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_key_login(srv, tmp_path, kind):
    path, line = keygen(tmp_path, kind)
    add_key(srv, "bob", line)
    fp = fingerprint(path)
    t = connect(srv)
    try:
        assert t.auth_publickey("bob", load_key(path)) == []
        sftp_works(t)
    finally:
        t.close()
    srv.wait_log(rf'login ok: user="bob" ip=127\.0\.0\.1 protocol=sftp method=publickey key={re.escape(fp)}')
    path_json = os.path.join(srv.dir, "events.json")
    ev = wait_until(lambda: [e for e in map(json.loads, open(path_json)) if e["event"] == "login"], 60,
                    what="JSON login event")
    assert ev[0]["method"] == "publickey" and ev[0]["key"] == fp and ev[0]["result"] == "ok"


def test_wrong_key_refused_like_an_unknown_user(srv, tmp_path):
    """A key not on the list fails, after the failure delay, as for a user that does not exist;
    both are counted as failed logins (the log names the key tried)."""
    listed, line = keygen(tmp_path, "ed25519", "listed")
    add_key(srv, "bob", line)
    other, _ = keygen(tmp_path, "ed25519", "other")
    for user, path in (("bob", other), ("nobody-here", listed), ("otpuser", listed)):
        t = connect(srv)
        try:
            with pytest.raises(paramiko.AuthenticationException):
                t.auth_publickey(user, load_key(path))
        finally:
            t.close()
        srv.wait_log(rf'login failed: user="{user}" ip=127\.0\.0\.1 reason=bad-credentials protocol=sftp '
                     rf'method=publickey key={re.escape(fingerprint(path))}')


def test_disabled_user_key_refused(srv, tmp_path):
    path, line = keygen(tmp_path, "ed25519")
    add_key(srv, "bob", line)
    assert srv.ferry("user", "disable", "bob").returncode == 0
    t = connect(srv)
    try:
        with pytest.raises(paramiko.AuthenticationException):
            t.auth_publickey("bob", load_key(path))
    finally:
        t.close()
    srv.wait_log(r'login failed: user="bob" ip=127\.0\.0\.1 reason=bad-credentials protocol=sftp method=publickey')
    # Enabled again: the same key works (nothing was lost).
    assert srv.ferry("user", "enable", "bob").returncode == 0
    t = connect(srv)
    try:
        assert t.auth_publickey("bob", load_key(path)) == []
    finally:
        t.close()


def test_key_removed_with_del_and_user_del(srv, tmp_path):
    path, line = keygen(tmp_path, "ed25519")
    add_key(srv, "bob", line)
    assert srv.ferry("user", "key", "del", "bob", fingerprint(path)).returncode == 0
    t = connect(srv)
    try:
        with pytest.raises(paramiko.AuthenticationException):
            t.auth_publickey("bob", load_key(path))
    finally:
        t.close()
    # A user's keys go with the user: a new user of the same name does not inherit them.
    add_key(srv, "bob", line)
    assert srv.ferry("user", "del", "bob").returncode == 0
    srv.add_user("bob", "pw")
    assert srv.store_rows("user_keys", "name = ?", ("bob",)) == []


def test_key_login_for_account_user_asks_the_account(srv, tmp_path):
    """Good key, account needed (FTP's 332): a partial success, then the account as a
    keyboard-interactive answer."""
    path, line = keygen(tmp_path, "ed25519")
    add_key(srv, "acctuser", line)
    t = connect(srv)
    try:
        assert t.auth_publickey("acctuser", load_key(path)) == ["keyboard-interactive"]
        h = Answers(lambda prompts: ["acct1"])
        assert t.auth_interactive("acctuser", h) == []
        assert h.rounds == [["Account: "]]
        sftp_works(t)
    finally:
        t.close()
    srv.wait_log(r'login ok: user="acctuser" ip=127\.0\.0\.1 protocol=sftp method=publickey key=SHA256:')


def test_openssh_sftp_key_login(srv, tmp_path):
    """OpenSSH's sftp with -i and BatchMode=yes (no password possible): it offers the key first
    without a signature (the probe, answered PK_OK), then signs."""
    if not shutil.which("sftp"):
        pytest.skip("sftp is not installed (scripts/deps.sh: openssh-client)")
    path, line = keygen(tmp_path, "ed25519")
    wrong, _ = keygen(tmp_path, "ed25519", "wrong")
    add_key(srv, "bob", line)
    with open(os.path.join(srv.home_root, "bob", "hello.txt"), "w") as f:
        f.write("hello\n")
    if IS_ROOT:
        import pwd
        pw = pwd.getpwnam(SERVICE_USER)
        os.chown(os.path.join(srv.home_root, "bob", "hello.txt"), pw.pw_uid, pw.pw_gid)

    def run(key, user="bob"):
        cmd = ["sftp", "-F", "/dev/null", "-i", key, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
               "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
               "-o", "PreferredAuthentications=publickey", "-o", "LogLevel=ERROR",
               "-P", str(srv.sftp_port), "-b", "-", f"{user}@{HOST}"]
        return subprocess.run(cmd, input="get hello.txt\n", capture_output=True, text=True, timeout=120,
                              cwd=str(tmp_path), env={**os.environ, "HOME": str(tmp_path)})

    cp = run(path)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert (tmp_path / "hello.txt").read_text() == "hello\n"
    srv.wait_log(rf'login ok: user="bob" ip=127\.0\.0\.1 protocol=sftp method=publickey '
                 rf'key={re.escape(fingerprint(path))}')
    # A key not on the list and a user that does not exist get the same answer to the probe.
    for key, user in ((wrong, "bob"), (path, "nobody-here")):
        cp = run(key, user)
        assert cp.returncode != 0
        m = re.search(r"Permission denied \(([a-z,-]+)\)", cp.stderr)
        assert m and sorted(m.group(1).split(",")) == ["keyboard-interactive", "password", "publickey"], \
            cp.stderr
    # A probe refused is not a guessed secret: no failed login is counted for it.
    assert "login failed" not in srv.log()


# ---- keyboard-interactive


def test_kbd_password(srv):
    t = connect(srv)
    try:
        h = Answers(lambda prompts: ["pw"])
        assert t.auth_interactive("bob", h) == []
        assert h.rounds == [["Password: "]]
        sftp_works(t)
    finally:
        t.close()
    srv.wait_log(r'login ok: user="bob" ip=127\.0\.0\.1 protocol=sftp method=keyboard-interactive')


def test_kbd_account_prompt(srv):
    t = connect(srv)
    try:
        h = Answers(lambda prompts: ["pw"] if prompts == ["Password: "] else ["acct1"])
        assert t.auth_interactive("acctuser", h) == []
        assert h.rounds == [["Password: "], ["Account: "]]
        sftp_works(t)
    finally:
        t.close()
    # A wrong account is a failed login (counted), as FTP's wrong ACCT.
    t = connect(srv)
    try:
        h = Answers(lambda prompts: ["pw"] if prompts == ["Password: "] else ["wrong"])
        with pytest.raises(paramiko.AuthenticationException):
            t.auth_interactive("acctuser", h)
    finally:
        t.close()
    srv.wait_log(r'login failed: user="acctuser" ip=127\.0\.0\.1 reason=bad-account protocol=sftp '
                 r'method=keyboard-interactive')


def test_password_login_for_account_user_asks_the_account(srv):
    t = connect(srv)
    try:
        assert t.auth_password("acctuser", "pw") == ["keyboard-interactive"]
        # Only the account may follow now (fallback=False: paramiko would otherwise answer the
        # account prompt with the password).
        with pytest.raises(paramiko.BadAuthenticationType) as e:
            t.auth_password("acctuser", "pw", fallback=False)
        assert e.value.allowed_types == ["keyboard-interactive"]
        h = Answers(lambda prompts: ["acct1"])
        assert t.auth_interactive("acctuser", h) == []
        assert h.rounds == [["Account: "]]
        sftp_works(t)
    finally:
        t.close()
    srv.wait_log(r'login ok: user="acctuser" ip=127\.0\.0\.1 protocol=sftp method=password')


def test_kbd_disabled_and_unknown_users(srv):
    """Both get the password prompt, the same crypt and the same delay as a wrong password."""
    assert srv.ferry("user", "disable", "bob").returncode == 0
    for user in ("bob", "nobody-here"):
        t = connect(srv)
        try:
            h = Answers(lambda prompts: ["pw"])
            with pytest.raises(paramiko.AuthenticationException):
                t.auth_interactive(user, h)
            assert h.rounds == [["Password: "]]
        finally:
            t.close()
        srv.wait_log(rf'login failed: user="{user}" ip=127\.0\.0\.1 reason=bad-credentials protocol=sftp '
                     r'method=keyboard-interactive')


def unstarted(make_server, extra=None):
    """A ferryd configured to serve SFTP, not started yet (OTP/TOTP are set up first)."""
    port = free_port()
    s = make_server(sftp_config(port, extra), users=USERS, start=False)
    s.sftp_port = port
    return s


def test_kbd_otp_challenge(make_server):
    s = unstarted(make_server)
    cp = s.ferry("otp", "init", "otpuser", "--count", "100", "--seed", "test", input=PHRASE + "\n")
    assert cp.returncode == 0, cp.stderr
    s.start()
    for n in (99, 98):
        t = connect(s)
        try:
            h = Answers(lambda prompts: [answer(prompts[0])])
            assert t.auth_interactive("otpuser", h) == []
            # FTP's 331 text: the challenge any OTP calculator reads.
            assert h.rounds == [[f"Response to otp-md5 {n} test ext: "]]
        finally:
            t.close()
    s.wait_log(r'login ok: user="otpuser" ip=127\.0\.0\.1 protocol=sftp method=keyboard-interactive', count=2)
    # The same challenge as FTP's USER now gives (one sequence, shared by both protocols).
    assert "challenge: otp-md5 97 test" in s.ferry("otp", "show", "otpuser").stdout
    # A replayed or wrong answer fails (the static password too: not allowed for this user).
    for bad in (six_words(otp("md5", "test", PHRASE, 98)), "static-pw"):
        t = connect(s)
        try:
            h = Answers(lambda prompts: [bad])
            with pytest.raises(paramiko.AuthenticationException):
                t.auth_interactive("otpuser", h)
            assert h.rounds == [["Response to otp-md5 97 test ext: "]]
        finally:
            t.close()
    s.wait_log(r'login failed: user="otpuser" ip=127\.0\.0\.1 reason=bad-credentials protocol=sftp '
               r'method=keyboard-interactive', count=2)


def test_kbd_otp_exhausted(make_server):
    """No one-time passwords left: refused at once, as FTP's 530 after USER; nothing counted."""
    s = unstarted(make_server)
    cp = s.ferry("otp", "init", "otpuser", "--count", "2", "--seed", "low1", input=PHRASE + "\n")
    assert cp.returncode == 0, cp.stderr
    s.start()
    t = connect(s)
    try:
        assert t.auth_interactive("otpuser", Answers(lambda p: [answer(p[0])])) == []
    finally:
        t.close()
    t = connect(s)
    try:
        h = Answers(lambda p: ["x"])
        with pytest.raises(paramiko.AuthenticationException):
            t.auth_interactive("otpuser", h)
        assert h.rounds == []
    finally:
        t.close()
    s.wait_log(r'login not possible: user="otpuser" ip=127\.0\.0\.1 protocol=sftp reason=no-one-time-passwords-left')
    assert "login failed" not in s.log()


def test_kbd_unknown_user_gets_a_made_up_challenge(make_server):
    """[otp] unknown_users = challenge: a stable made-up challenge, as FTP's USER gives."""
    s = unstarted(make_server, {"otp": {"unknown_users": "challenge"}})
    s.start()
    seen = []
    for _ in range(2):
        t = connect(s)
        try:
            h = Answers(lambda p: [answer(p[0])])
            with pytest.raises(paramiko.AuthenticationException):
                t.auth_interactive("nosuch", h)
            assert len(h.rounds) == 1 and len(h.rounds[0]) == 1
            assert re.fullmatch(r"Response to otp-md5 \d+ [a-z0-9]{10} ext: ", h.rounds[0][0]), h.rounds
            seen.append(h.rounds[0][0])
        finally:
            t.close()
        s.wait_log(r'login failed: user="nosuch" ip=127\.0\.0\.1 reason=bad-credentials protocol=sftp '
                   r'method=keyboard-interactive', count=len(seen))
    assert seen[0] == seen[1]


def test_kbd_totp_second_factor(make_server):
    s = unstarted(make_server)
    cp = s.ferry("totp", "enable", "otpuser")
    assert cp.returncode == 0, cp.stderr
    secret = re.search(r"secret=([A-Z2-7]+)&", cp.stdout).group(1)
    s.start()
    from test_otp import _fresh_step
    _fresh_step()
    code = totp_code(secret)
    t = connect(s)
    try:
        h = Answers(lambda p: ["static-pw", code])
        assert t.auth_interactive("otpuser", h) == []
        assert h.rounds == [["Password: ", "TOTP code: "]]
    finally:
        t.close()
    # The code works once; a wrong code or the password alone fail.
    for answers in (["static-pw", code], ["static-pw", f"{(int(code) + 1) % 1000000:06d}"], ["static-pw", ""]):
        t = connect(s)
        try:
            with pytest.raises(paramiko.AuthenticationException):
                t.auth_interactive("otpuser", Answers(lambda p, a=answers: a))
        finally:
            t.close()
    s.wait_log(r'login failed: user="otpuser" ip=127\.0\.0\.1 reason=bad-credentials protocol=sftp '
               r'method=keyboard-interactive', count=3)
    # The password method alone cannot pass the second factor.
    with pytest.raises(paramiko.AuthenticationException):
        transport(s, user="otpuser", password="static-pw")


def test_key_login_keeps_the_totp_second_factor(make_server, tmp_path):
    """A user with TOTP who gives a good key: the key stands for the password, the TOTP code still
    follows (a partial success, then "TOTP code: "); a wrong code is a failed login."""
    s = unstarted(make_server)
    cp = s.ferry("totp", "enable", "otpuser")
    assert cp.returncode == 0, cp.stderr
    secret = re.search(r"secret=([A-Z2-7]+)&", cp.stdout).group(1)
    path, line = keygen(tmp_path, "ed25519")
    add_key(s, "otpuser", line)
    s.start()
    from test_otp import _fresh_step
    _fresh_step()
    code = totp_code(secret)
    t = connect(s)
    try:
        assert t.auth_publickey("otpuser", load_key(path)) == ["keyboard-interactive"]
        h = Answers(lambda p: [f"{(int(code) + 1) % 1000000:06d}"])
        with pytest.raises(paramiko.AuthenticationException):
            t.auth_interactive("otpuser", h)
        assert h.rounds == [["TOTP code: "]]
    finally:
        t.close()
    s.wait_log(r'login failed: user="otpuser" ip=127\.0\.0\.1 reason=bad-credentials protocol=sftp '
               r'method=publickey key=SHA256:')
    t = connect(s)
    try:
        assert t.auth_publickey("otpuser", load_key(path)) == ["keyboard-interactive"]
        h = Answers(lambda p: [code])
        assert t.auth_interactive("otpuser", h) == []
        assert h.rounds == [["TOTP code: "]]
        sftp_works(t)
    finally:
        t.close()
    s.wait_log(r'login ok: user="otpuser" ip=127\.0\.0\.1 protocol=sftp method=publickey key=SHA256:')
