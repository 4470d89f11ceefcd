"""Real FTP clients against the real ferryd (checklist B 44-47, K; PROTOCOL.md §3)."""

import ftplib
import os
import shutil
import subprocess
import tempfile

import pytest

TIMEOUT = 30


def run(args, timeout=TIMEOUT, env=None, input=None):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env,
                          input=input, stdin=None if input is not None else subprocess.DEVNULL)


def need(tool):
    path = shutil.which(tool)
    if not path:
        pytest.skip(f"{tool} is not installed")
    return path


@pytest.fixture
def clean_home():
    """A temporary HOME so no user rc file (~/.netrc, ~/.lftprc, ~/.curlrc) interferes."""
    d = tempfile.mkdtemp(prefix="ferry-it-home-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LFTP", "CURL", "FTP"))}
    env.update(HOME=d, LC_ALL="C", LANG="C")
    env.pop("http_proxy", None), env.pop("ftp_proxy", None), env.pop("all_proxy", None)
    env.pop("FTP_PROXY", None), env.pop("ALL_PROXY", None)
    yield d, env
    shutil.rmtree(d, ignore_errors=True)


# ----------------------------------------------------------------- Python ftplib

def _ftp(server):
    f = ftplib.FTP()
    f.connect(server.host, server.port, timeout=10)
    return f


def test_ftplib_login_bob(server):
    f = _ftp(server)
    try:
        assert f.getwelcome() == "220 Ferry FTP server ready."
        r = f.login("bob", "pw")
        assert r.startswith("230")
        assert f.pwd() == "/"
        assert f.sendcmd("SYST") == "215 UNIX Type: L8"
        assert f.sendcmd("NOOP").startswith("200")
        assert f.sendcmd("TYPE I").startswith("200")
        assert f.voidcmd("MODE S").startswith("200")
        r = f.sendcmd("STAT")
        assert r.startswith("211") and "Logged in as bob" in r
        with pytest.raises(ftplib.error_perm, match="^500"):
            f.sendcmd("FOOB")
        assert f.quit().startswith("221")
    finally:
        f.close()


def test_ftplib_login_with_account(server):
    f = _ftp(server)
    try:
        r = f.login("acctuser", "pw", "acct1")
        assert r.startswith("230"), r
        assert f.pwd() == "/"
        assert f.quit().startswith("221")
    finally:
        f.close()


def test_ftplib_login_without_account_fails(server):
    # ftplib answers the 332 with "ACCT " (empty argument), which gets 501.
    f = _ftp(server)
    try:
        with pytest.raises(ftplib.error_perm, match="^501"):
            f.login("acctuser", "pw")
    finally:
        f.close()


def test_ftplib_wrong_password(server):
    f = _ftp(server)
    try:
        with pytest.raises(ftplib.error_perm, match="^530"):
            f.login("bob", "nope")
        # the same connection can log in afterwards
        assert f.login("bob", "pw").startswith("230")
    finally:
        f.close()


def test_ftplib_feat_and_help(server):
    f = _ftp(server)
    try:
        r = f.sendcmd("FEAT")       # allowed before login
        assert r.startswith("211-") and r.endswith("211 End")
        r = f.sendcmd("HELP")
        assert r.startswith("214")
        f.login("bob", "pw")
        assert f.sendcmd("OPTS UTF8 ON").startswith("200")
    finally:
        f.close()


def test_ftplib_failure_limit_then_eof(server):
    f = _ftp(server)
    try:
        for _ in range(2):
            with pytest.raises(ftplib.error_perm, match="^530"):
                f.login("bob", "bad")
        with pytest.raises(ftplib.error_perm, match="^530"):
            f.login("bob", "bad")
        with pytest.raises(ftplib.error_temp, match="^421"):
            f.voidresp()
    finally:
        f.close()


# ----------------------------------------------------------------- curl

def _curl(server, env, *extra):
    return run([need("curl"), "-s", "-S", "--max-time", "20", "--connect-timeout", "5", *extra,
                f"ftp://{server.host}:{server.port}/"], env=env)


def test_curl_account_login(server, clean_home):
    _, env = clean_home
    cp = _curl(server, env, "-u", "acctuser:pw", "--ftp-account", "acct1", "-I")
    assert cp.returncode == 0, cp.stderr


def test_curl_account_missing_exit_67(server, clean_home):
    _, env = clean_home
    cp = _curl(server, env, "-u", "acctuser:pw", "-I")
    assert cp.returncode == 67, (cp.returncode, cp.stderr)
    assert "ACCT requested but none available" in cp.stderr


def test_curl_wrong_password_exit_67(server, clean_home):
    _, env = clean_home
    cp = _curl(server, env, "-u", "bob:wrong", "-I")
    assert cp.returncode == 67, (cp.returncode, cp.stderr)


def test_curl_plain_login_and_quote(server, clean_home):
    _, env = clean_home
    cp = _curl(server, env, "-u", "bob:pw", "-I", "-Q", "NOOP", "-Q", "SYST")
    assert cp.returncode == 0, cp.stderr


def test_curl_verbose_dialogue(server, clean_home):
    _, env = clean_home
    cp = _curl(server, env, "-v", "-u", "acctuser:pw", "--ftp-account", "acct1", "-I")
    assert cp.returncode == 0, cp.stderr
    for expect in ("< 220 Ferry FTP server ready.", "> USER acctuser", "< 331", "> PASS",
                   "< 332", "> ACCT acct1", "< 230", "> PWD", '< 257 "/"'):
        assert expect in cp.stderr, (expect, cp.stderr)


# ----------------------------------------------------------------- lftp

def _lftp(server, env, script):
    base = ("set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 5; "
            "set net:reconnect-interval-base 1; set cmd:fail-exit yes; ")
    return run([need("lftp"), "-c", base + script], env=env)


def test_lftp_account_login(server, clean_home):
    _, env = clean_home
    cp = _lftp(server, env, f"set ftp:acct acct1; open -u acctuser,pw ftp://{server.host}:{server.port}; quote NOOP")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "200" in cp.stdout


def test_lftp_account_missing(server, clean_home):
    _, env = clean_home
    cp = _lftp(server, env, f"open -u acctuser,pw ftp://{server.host}:{server.port}; quote NOOP")
    assert cp.returncode != 0
    assert "Account is required" in cp.stdout + cp.stderr


def test_lftp_syst(server, clean_home):
    _, env = clean_home
    cp = _lftp(server, env, f"open -u bob,pw ftp://{server.host}:{server.port}; quote SYST")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "215 UNIX Type: L8" in cp.stdout


def test_lftp_debug_dialogue_pipelined(server, clean_home):
    # lftp sends FEAT, OPTS UTF8 ON before USER and pipelines PASS/ACCT/PWD.
    _, env = clean_home
    cp = _lftp(server, env, f"debug 5; set ftp:acct acct1; open -u acctuser,pw ftp://{server.host}:{server.port}; quote NOOP")
    out = cp.stdout + cp.stderr
    assert cp.returncode == 0, out
    assert "---> FEAT" in out and "<--- 211" in out
    assert "<--- 230" in out


def test_lftp_wrong_password(server, clean_home):
    _, env = clean_home
    cp = _lftp(server, env, f"open -u bob,wrong ftp://{server.host}:{server.port}; quote NOOP")
    assert cp.returncode != 0
    assert "Login failed" in cp.stdout + cp.stderr
    assert "530" in cp.stdout + cp.stderr


# ----------------------------------------------------------------- tnftp

def _tnftp(server, clean_home, netrc_line, commands="quote NOOP\nbye\n"):
    home, env = clean_home
    netrc = os.path.join(home, ".netrc")
    with open(netrc, "w") as f:
        f.write(netrc_line + "\n")
    os.chmod(netrc, 0o600)
    # -v: verbose even though stdin is not a terminal (prints the server's replies)
    return run([need("tnftp"), "-v", "-P", str(server.port), server.host], env=env, input=commands)


def test_tnftp_netrc_account(server, clean_home):
    cp = _tnftp(server, clean_home, f"machine {server.host} login acctuser password pw account acct1")
    out = cp.stdout + cp.stderr
    assert "332 Need account for login." in out, out
    assert "230 Login successful." in out, out
    assert "200 NOOP ok." in out, out
    assert "Login failed" not in out


def test_tnftp_netrc_plain(server, clean_home):
    cp = _tnftp(server, clean_home, f"machine {server.host} login bob password pw",
                commands="quote SYST\npwd\nbye\n")
    out = cp.stdout + cp.stderr
    assert "230 Login successful." in out, out
    assert "215 UNIX Type: L8" in out
    assert "Using binary mode" in out      # tnftp switches to binary after a UNIX SYST
    assert "Remote directory: /" in out     # tnftp parsed the 257 reply


def test_tnftp_wrong_password(server, clean_home):
    cp = _tnftp(server, clean_home, f"machine {server.host} login bob password nope")
    out = cp.stdout + cp.stderr
    assert "530" in out, out
    assert "Login failed" in out
