"""Virtual hosts (issue 18): [host NAME] sections, RFC 7151 HOST, TLS SNI.

Two hosts, a.test (alias ftp.a.test, its own banner, certificate and max_per_user = 1) and
b.test, each with a user bob (`ferry user add bob --host ...`) whose password and home differ
from each other and from the default host's bob. Python ftplib sends HOST then logs in; raw
control connections check the exact reply codes (220, 501, 503, 504); python ssl with
server_hostname checks which certificate SNI (or a HOST before AUTH TLS) gets. The CLI parts
run against SQLite and PostgreSQL.

Run: FERRY_BUILD=build /usr/bin/python3 -m pytest tests/integration/test_vhost.py
"""

import ftplib
import io
import os
import re
import shutil
import ssl
import subprocess
import tempfile

import pytest

from conftest import HOST, IO_TIMEOUT, _chown_tree, wait_until
from test_clients import clean_home, need, run  # noqa: F401 (clean_home is a fixture)
from tls_helpers import TlsCtl, cert_fingerprint_file, fingerprint, make_cert

FERRY_STORES = ("sqlite", "postgres")

PASSWORDS = {None: "pw", "a.test": "pw-a", "b.test": "pw-b"}


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="ferry-it-vhost-", dir="/tmp")
    os.chmod(d, 0o755)
    out = {"default": make_cert(d, "default"),
           "a.test": make_cert(d, "a", cn="a.test", san="DNS:a.test,DNS:ftp.a.test"),
           "b.test": make_cert(d, "b", cn="b.test", san="DNS:b.test")}
    yield out
    shutil.rmtree(d, ignore_errors=True)


def vhost_config(certs, **a_extra):
    a = {"aliases": "ftp.a.test", "banner": "Welcome to A.", "cert": certs["a.test"][0],
         "key": certs["a.test"][1], "max_per_user": "1"}
    a.update(a_extra)
    return {"tls": {"cert": certs["default"][0], "key": certs["default"][1]},
            "host a.test": a,
            "host b.test": {"banner": "Welcome to B.", "cert": certs["b.test"][0],
                            "key": certs["b.test"][1]}}


def add_host_user(srv, name, host, password):
    home = os.path.join(srv.home_root, f"{name}@{host}")
    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, "whoami"), "w") as f:
        f.write(f"{name} of {host}\n")
    _chown_tree(srv.dir)
    cp = srv.ferry("user", "add", name, "--home", home, "--host", host, input=password + "\n")
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == f"ferry: user '{name}' in host '{host}' added (home {home})\n"
    return home


@pytest.fixture
def vsrv(make_server, certs):
    srv = make_server(config=vhost_config(certs), start=False)
    with open(os.path.join(srv.home_root, "bob", "whoami"), "w") as f:
        f.write("bob of the default host\n")
    for host in ("a.test", "b.test"):
        add_host_user(srv, "bob", host, PASSWORDS[host])
    return srv.start()


def ftp(srv):
    f = ftplib.FTP()
    f.connect(HOST, srv.port, timeout=IO_TIMEOUT)
    return f


def whoami(f):
    out = io.BytesIO()
    f.retrbinary("RETR whoami", out.write)
    return out.getvalue().decode()


# ------------------------------------------------------------------ HOST with ftplib

def test_host_selects_the_hosts_users(vsrv):
    """The same name in two hosts and the default host: HOST picks whose password and home."""
    for host, banner in (("a.test", "Welcome to A."), ("b.test", "Welcome to B."),
                         ("FTP.A.Test", "Welcome to A.")):
        canon = "a.test" if host.lower() == "ftp.a.test" else host
        f = ftp(vsrv)
        try:
            assert f.sendcmd(f"HOST {host}") == f"220 {banner}"
            f.login("bob", PASSWORDS[canon])
            assert whoami(f) == f"bob of {canon}\n"
        finally:
            f.close()
    f = ftp(vsrv)
    try:
        f.login("bob", "pw")
        assert whoami(f) == "bob of the default host\n"
    finally:
        f.close()
    # Another host's password is wrong here, whichever host it belongs to.
    for host, password in (("a.test", "pw-b"), ("b.test", "pw"), (None, "pw-a")):
        f = ftp(vsrv)
        try:
            if host:
                f.sendcmd(f"HOST {host}")
            with pytest.raises(ftplib.error_perm, match="^530"):
                f.login("bob", password)
        finally:
            f.close()
    # A login name holding the key separator is nobody, even with the right password.
    f = ftp(vsrv)
    try:
        with pytest.raises(ftplib.error_perm, match="^530"):
            f.login("bob:a.test", "pw-a")
    finally:
        f.close()


def test_host_reply_codes(vsrv):
    c = vsrv.connect()
    c.expect("FEAT", 211)
    assert " HOST" in c.cmd("FEAT").lines
    c.expect("HOST unknown.test", 504)
    c.expect("HOST a.test:21", 501)
    c.expect("HOST 127.0.0.1", 220)
    r = c.expect("HOST a.test", 220)
    assert r.text == "Welcome to A."
    c.expect("USER bob", 331)
    c.expect("HOST b.test", 503)
    c.expect("PASS pw-a", 230)
    c.expect("HOST b.test", 503)
    # REIN forgets the host; HOST is allowed again.
    c.expect("REIN", 220)
    c.expect("HOST b.test", 220)
    c.expect("USER bob", 331)
    c.expect("PASS pw-b", 230)
    c.expect("QUIT", 221)
    c.close()


def test_host_limit(vsrv):
    """[host a.test] max_per_user = 1: a second session of a.test's bob is refused with 421;
    b.test's bob and the default bob ([limits] max_per_user = 0) are not limited by it."""
    first = vsrv.connect()
    first.expect("HOST a.test", 220)
    first.login("bob", "pw-a")
    second = vsrv.connect()
    second.expect("HOST a.test", 220)
    second.expect("USER bob", 331)
    r = second.cmd("PASS pw-a")
    assert (r.code, r.text) == (421, "Too many sessions for user bob (limit 1); close some or raise "
                                "[host] max_per_user.")
    second.assert_closed()
    others = []
    for host, pw in (("b.test", "pw-b"), ("b.test", "pw-b"), (None, "pw"), (None, "pw")):
        c = vsrv.connect()
        others.append(c)
        if host:
            c.expect(f"HOST {host}", 220)
        c.login("bob", pw)
    # The slot comes back when the first session ends.
    first.expect("QUIT", 221)
    first.assert_closed()

    def bob_again():
        e = vsrv.connect()
        others.append(e)
        e.expect("HOST a.test", 220)
        e.expect("USER bob", 331)
        return e.cmd("PASS pw-a").code == 230
    wait_until(bob_again, timeout=60, interval=0.2, what="a.test bob's freed slot")
    for c in others:
        c.close()


# ------------------------------------------------------------------ TLS: SNI and HOST

def test_sni_selects_certificate_and_host(vsrv, certs):
    fp = {k: cert_fingerprint_file(v[0]) for k, v in certs.items() if k != "dir"}
    for sni, want in (("a.test", "a.test"), ("ftp.a.test", "a.test"), ("B.TEST", "b.test"),
                      ("localhost", "default"), (None, "default")):
        c = TlsCtl(HOST, vsrv.port, server_hostname=sni)
        try:
            c.auth()
            assert fingerprint(c.sock) == fp[want], sni
            # Without HOST the SNI's host is the session's: its bob logs in.
            c.login("bob", PASSWORDS[None if want == "default" else want])
            c.expect("QUIT", 221)
        finally:
            c.close()


def test_protected_transfer_resumes_under_the_hosts_certificate(vsrv):
    """PROT P data connections resume the control session made with a host's certificate."""
    from tls_helpers import TlsSession
    sess = TlsSession(vsrv, password="pw-a", server_hostname="ftp.a.test")
    try:
        data, _, _, facts = sess.retr("whoami", reuse=True)
        assert data == b"bob of a.test\n" and facts["resumed"], facts
    finally:
        sess.close()


def test_protected_transfer_after_host_then_auth_tls(vsrv, certs):
    """HOST b.test, AUTH TLS without SNI (b.test's certificate), then a PROT P transfer whose
    data connection (no SNI either) resumes that session."""
    from tls_helpers import TlsSession, client_ctx
    sess = TlsSession.__new__(TlsSession)
    sess.server, sess.host = vsrv, vsrv.host
    sess.ctx = sess.data_ctx = client_ctx()
    sess.c = TlsCtl(HOST, vsrv.port, ctx=sess.ctx, server_hostname=None)
    try:
        sess.c.expect("HOST b.test", 220)
        sess.c.auth()
        assert fingerprint(sess.c.sock) == cert_fingerprint_file(certs["b.test"][0])
        sess.c.login("bob", "pw-b")
        sess.c.protect("P")
        sess.c.expect("TYPE I", 200)
        data, _, _, facts = sess.retr("whoami", reuse=True)
        assert data == b"bob of b.test\n" and facts["resumed"], facts
    finally:
        sess.close()


def test_sni_and_host_must_agree(vsrv):
    c = TlsCtl(HOST, vsrv.port, server_hostname="a.test")
    try:
        c.auth()
        c.expect("HOST b.test", 504)
        c.expect("HOST ftp.a.test", 220)
        c.login("bob", "pw-a")
    finally:
        c.close()
    c = TlsCtl(HOST, vsrv.port, server_hostname="localhost")
    try:
        c.auth()
        c.expect("HOST a.test", 504)
        c.login("bob", "pw")
    finally:
        c.close()


def test_host_before_auth_tls_selects_certificate(vsrv, certs):
    """RFC 7151 §3.2.2: HOST, then AUTH TLS: the host's certificate answers (no SNI sent)."""
    c = TlsCtl(HOST, vsrv.port, server_hostname=None)
    try:
        c.expect("HOST b.test", 220)
        c.auth()
        assert fingerprint(c.sock) == cert_fingerprint_file(certs["b.test"][0])
        c.login("bob", "pw-b")
    finally:
        c.close()


def test_implicit_ftps_greeting_of_the_sni_host(make_server, certs):
    from conftest import free_port
    implicit = free_port()
    conf = vhost_config(certs)
    conf["tls"]["implicit_listen"] = f"{HOST}:{implicit}"
    srv = make_server(config=conf)
    c = TlsCtl(HOST, implicit, implicit=True, server_hostname="ftp.a.test")
    try:
        assert (c.greeting.code, c.greeting.text) == (220, "Welcome to A.")
    finally:
        c.close()
    c = TlsCtl(HOST, implicit, implicit=True, server_hostname="localhost")
    try:
        assert (c.greeting.code, c.greeting.text) == (220, "Ferry FTP server ready.")
    finally:
        c.close()


def test_host_certificate_reloaded_on_sighup(make_server, certs):
    """A [host] certificate in a directory of its own: renewed in place and SIGHUP, the next
    handshake for that host presents the new one (the directory is reachable under Landlock)."""
    from tls_helpers import copy_over
    d = tempfile.mkdtemp(prefix="ferry-it-vhost-own-", dir="/tmp")
    os.chmod(d, 0o755)
    try:
        cert, key = make_cert(d, "own", cn="a.test", san="DNS:a.test")
        conf = vhost_config(certs, cert=cert, key=key)
        srv = make_server(config=conf)
        fp_old = cert_fingerprint_file(cert)
        new_cert, new_key = make_cert(d, "new", cn="a.test", san="DNS:a.test")
        c = TlsCtl(HOST, srv.port, server_hostname="a.test")
        try:
            c.auth()
            assert fingerprint(c.sock) == fp_old
        finally:
            c.close()
        copy_over(new_cert, cert)
        copy_over(new_key, key)
        assert "reload failed" not in srv.reload()
        c = TlsCtl(HOST, srv.port, server_hostname="a.test")
        try:
            c.auth()
            assert fingerprint(c.sock) == cert_fingerprint_file(new_cert)
        finally:
            c.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_sftp_logins_are_default_host_users(make_server, certs, ferry_bin, ferry_store):
    """SFTP has no HOST: its logins are users of the default host, and a host user's store key
    ("bob:a.test") is no login name, even with that user's password."""
    from conftest import built_features
    if "sftp" not in built_features(ferry_bin):
        pytest.skip("ferryd built without SFTP")
    if ferry_store.kind != "sqlite":
        pytest.skip("the SFTP front-end is the same with either store (its host key lives beside SQLite's)")
    import paramiko
    from sftp_helpers import client, sftp_config
    from conftest import free_port
    port = free_port()
    conf = vhost_config(certs)
    conf.update(sftp_config(port))
    srv = make_server(config=conf, start=False)
    add_host_user(srv, "bob", "a.test", "pw-a")
    srv.start()
    srv.sftp_port = port
    c = client(srv, "bob", "pw")
    try:
        assert "whoami" not in c.listdir(".")  # the default bob's home, not a.test's
    finally:
        c.close()
    for user, pw in (("bob:a.test", "pw-a"), ("bob", "pw-a")):
        with pytest.raises(paramiko.AuthenticationException):
            client(srv, user, pw)


# ------------------------------------------------------------------ CLI and config

def test_cli_host_users(vsrv):
    lines = vsrv.ferry("user", "list", check=True).stdout.splitlines()
    assert sorted(l.split("\t")[0] + "|" + (l.split("\t")[5] if len(l.split("\t")) > 5 else "")
                  for l in lines if l.startswith("bob\t")) == ["bob|", "bob|host=a.test", "bob|host=b.test"]
    only_a = vsrv.ferry("user", "list", "--host", "ftp.a.test", check=True).stdout.splitlines()
    assert len(only_a) == 1 and only_a[0].startswith("bob\tenabled\t") and only_a[0].endswith("\thost=a.test")
    show = vsrv.ferry("user", "show", "bob", "--host", "a.test", check=True).stdout
    assert show.startswith("name: bob\nhost: a.test\nstatus: enabled\n")
    assert vsrv.ferry("user", "show", "bob", check=True).stdout.startswith("name: bob\nstatus: enabled\n")
    # Unknown host: a usage error (exit 2) naming it; nothing is created.
    before = vsrv.store_rows("users")
    cp = vsrv.ferry("user", "add", "carol", "--home", vsrv.home_root, "--host", "nosuch.test",
                    input="x\n")
    assert cp.returncode == 2, cp
    assert f"ferry: --host: unknown host 'nosuch.test' (no [host nosuch.test] section in {vsrv.config_path})" \
        in cp.stderr
    assert vsrv.store_rows("users") == before
    cp = vsrv.ferry("user", "del", "bob", "--host", "nosuch.test")
    assert cp.returncode == 2 and "unknown host 'nosuch.test'" in cp.stderr
    # The same name may exist once per host, not twice in one.
    cp = vsrv.ferry("user", "add", "bob", "--home", vsrv.home_root, "--host", "a.test", input="x\n")
    assert cp.returncode == 1 and "user 'bob' in host 'a.test' already exists" in cp.stderr
    # A password change and a disable touch that host's bob only.
    cp = vsrv.ferry("user", "passwd", "bob", "--host", "b.test", input="pw-b2\n", check=True)
    assert cp.stdout == "ferry: user 'bob' in host 'b.test' has a new password\n"
    vsrv.ferry("user", "disable", "bob", "--host", "a.test", check=True)
    for host, pw, code in (("b.test", "pw-b2", 230), ("a.test", "pw-a", 530), (None, "pw", 230)):
        c = vsrv.connect()
        if host:
            c.expect(f"HOST {host}", 220)
        c.expect("USER bob", 331)
        assert c.cmd(f"PASS {pw}").code == code, host
        c.close()
    cp = vsrv.ferry("user", "del", "bob", "--host", "b.test", check=True)
    assert cp.stdout == "ferry: user 'bob' in host 'b.test' deleted\n"
    cp = vsrv.ferry("user", "show", "bob", "--host", "b.test")
    assert cp.returncode == 1 and "no such user 'bob' in host 'b.test'" in cp.stderr
    assert vsrv.ferry("user", "show", "bob", check=True).returncode == 0


def test_policy_of_a_host_user(vsrv):
    """ferry user set NAME --host H sets the policy of that host's user, not of the default
    host's user of the same name (a merge of the policy and vhost work once missed this)."""
    cp = vsrv.ferry("user", "set", "bob", "--host", "a.test", "--allow-from", "10.0.0.0/8", check=True)
    assert cp.stdout == "ferry: user 'bob' policy updated\n"
    show = vsrv.ferry("user", "show", "bob", "--host", "a.test", check=True).stdout
    assert "10.0.0.0/8" in show, show
    assert "10.0.0.0/8" not in vsrv.ferry("user", "show", "bob", check=True).stdout
    f = ftp(vsrv)
    try:
        f.sendcmd("HOST a.test")
        with pytest.raises(ftplib.error_perm, match="^530"):
            f.login("bob", PASSWORDS["a.test"])
    finally:
        f.close()
    vsrv.wait_log(r'login refused: user="bob:a\.test" ip=127\.0\.0\.1 reason=allow-from')
    for host in ("b.test", None):
        f = ftp(vsrv)
        try:
            if host:
                f.sendcmd(f"HOST {host}")
            f.login("bob", PASSWORDS[host] if host else "pw")
        finally:
            f.close()
    cp = vsrv.ferry("user", "set", "bob", "--host", "nosuch.test", "--max-sessions", "2")
    assert cp.returncode == 2 and "unknown host 'nosuch.test'" in cp.stderr, cp


def test_cli_host_one_time_passwords(vsrv):
    """ferry otp --host: the one-time passwords of a.test's bob; the default and b.test bobs keep
    their passwords. RFC 2289 App. C: "This is a test." / TeSt / 99 = BAIL TUFT BITS GANG CHEF THY."""
    cp = vsrv.ferry("otp", "init", "bob", "--host", "ftp.a.test", "--count", "100", "--seed", "TeSt",
                    input="This is a test.\n")
    assert cp.returncode == 0, cp.stderr
    assert "next challenge: otp-md5 99 test" in cp.stdout
    assert "otp-md5" in vsrv.ferry("otp", "show", "bob", "--host", "a.test", check=True).stdout
    cp = vsrv.ferry("otp", "show", "bob", "--host", "nosuch.test")
    assert cp.returncode == 2 and "unknown host 'nosuch.test'" in cp.stderr
    c = vsrv.connect()
    c.expect("HOST a.test", 220)
    r = c.expect("USER bob", 331)
    assert r.text == "Response to otp-md5 99 test ext required for bob."
    c.expect("PASS BAIL TUFT BITS GANG CHEF THY", 230)
    c.close()
    for host, pw in (("b.test", "pw-b"), (None, "pw")):
        c = vsrv.connect()
        if host:
            c.expect(f"HOST {host}", 220)
        assert c.expect("USER bob", 331).text == "Please specify the password."
        c.expect(f"PASS {pw}", 230)
        c.close()


def check(ferry_bin, path):
    return subprocess.run([ferry_bin.ferryd, "-c", path, "--check"], capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("body,line,needle", [
    ("[host a_b]\nbanner = x\n", 2, "[host a_b]: not a host name"),
    ("[host]\nbanner = x\n", 2, "[host]: needs a host name"),
    ("[host a.test]\nbogus = 1\n", 3, "[host a.test] bogus: unknown key"),
    ("[host a.test]\nbanner = x\nbanner = y\n", 4, "[host a.test] banner: given twice"),
    ("[host a.test]\n[host A.TEST]\n", 3, "[host a.test]: given twice (first on line 2)"),
    ("[host a.test]\naliases = b.test\n[host b.test]\n", 4, "[host b.test]: b.test already names [host a.test] (line 2)"),
    ("[host a.test]\naliases = ok.test, bad:name\n", 3, "[host a.test] aliases: 'bad:name' is not a host name"),
    ("[host a.test]\ncert = /x.pem\n", 2, "[host a.test] key: cert and key go together"),
    ("[host a.test]\ncert = /x.pem\nkey = /x.key\n", 2, "[host a.test] cert: needs TLS on"),
    ("[host a.test]\nmax_per_user = lots\n", 3, "[host a.test] max_per_user:"),
])
def test_check_bad_host_sections(tmp_path, ferry_bin, body, line, needle):
    path = str(tmp_path / "bad.conf")
    with open(path, "w") as f:
        f.write("# test\n" + body)
    cp = check(ferry_bin, path)
    assert cp.returncode == 1, (cp.stdout, cp.stderr)
    assert f"{path}:{line}: " in cp.stderr, cp.stderr
    assert needle in cp.stderr, cp.stderr


def test_check_good_host_sections(tmp_path, ferry_bin):
    path = str(tmp_path / "good.conf")
    with open(path, "w") as f:
        f.write("[host a.test]\naliases = ftp.a.test, A2.test\nbanner = Hello A\nmax_per_user = 3\n"
                "[host b.test]\n")
    cp = check(ferry_bin, path)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.strip() == f"{path}: OK"


def quota_bytes(srv, *args):
    """(bytes used, files used) and the host line of `ferry quota show|scan ... args`."""
    out = srv.ferry("quota", *args, check=True).stdout
    b = re.search(r"^bytes: (\d+) used", out, re.M)
    f = re.search(r"^files: (\d+) used", out, re.M)
    assert b and f, out
    host = re.search(r"^host: (.*)$", out, re.M)
    return int(b.group(1)), int(f.group(1)), host.group(1) if host else None


def login_reply(srv, host, user, password):
    """The reply to an ftplib login after HOST host (None: no HOST), refusals included."""
    f = ftp(srv)
    try:
        if host:
            f.sendcmd(f"HOST {host}")
        return f.login(user, password)
    except ftplib.error_perm as e:
        return str(e)
    finally:
        f.close()


def test_cli_quota_of_a_host_user(vsrv):
    """ferry quota show|scan NAME --host H: a.test's bob's usage (NAME:HOST in the store), which an
    upload of a.test's bob counts and the default host's bob's does not."""
    vsrv.ferry("user", "set", "bob", "--host", "a.test", "--quota-bytes", "1M", check=True)
    whoami_a = len("bob of a.test\n")
    assert quota_bytes(vsrv, "scan", "bob", "--host", "ftp.a.test") == (whoami_a, 1, "a.test")
    assert quota_bytes(vsrv, "scan", "bob") == (len("bob of the default host\n"), 1, None)
    f = ftp(vsrv)
    try:
        f.sendcmd("HOST a.test")
        f.login("bob", PASSWORDS["a.test"])
        f.storbinary("STOR up.bin", io.BytesIO(b"x" * 1000))
    finally:
        f.close()
    want = (whoami_a + 1000, 2, "a.test")
    wait_until(lambda: quota_bytes(vsrv, "show", "bob", "--host", "a.test") == want, timeout=60,
               what="a.test's bob's usage")
    out = vsrv.ferry("quota", "show", "--host", "a.test", "bob", check=True).stdout
    assert out.startswith(f"user: bob\nhost: a.test\nbytes: {whoami_a + 1000} used of 1048576, "), out
    assert quota_bytes(vsrv, "show", "bob") == (len("bob of the default host\n"), 1, None)
    assert quota_bytes(vsrv, "show", "bob", "--host", "b.test") == (0, 0, "b.test")


def test_cli_principal_of_a_host_user(vsrv):
    """ferry principal add|list|del ... --host H maps a principal to that host's user."""
    cp = vsrv.ferry("principal", "add", "bob@EXAMPLE.TEST", "bob", "--host", "ftp.a.test", check=True)
    assert cp.stdout == "principal bob@EXAMPLE.TEST may log in as bob in host 'a.test'\n"
    mapping = "bob@EXAMPLE.TEST bob host=a.test\n"
    assert vsrv.ferry("principal", "list", check=True).stdout == mapping
    assert vsrv.ferry("principal", "list", "bob", "--host", "a.test", check=True).stdout == mapping
    assert vsrv.ferry("principal", "list", "--host", "a.test", check=True).stdout == mapping
    assert vsrv.ferry("principal", "list", "bob", check=True).stdout == ""
    assert vsrv.ferry("principal", "list", "--host", "b.test", check=True).stdout == ""
    cp = vsrv.ferry("principal", "del", "bob@EXAMPLE.TEST", "bob", "--host", "b.test")
    assert (cp.returncode, cp.stderr) == (1, "ferry: principal 'bob@EXAMPLE.TEST' is not mapped to user "
                                             "'bob' in host 'b.test'\n")
    cp = vsrv.ferry("principal", "del", "bob@EXAMPLE.TEST", "bob", "--host", "a.test", check=True)
    assert cp.stdout == "principal bob@EXAMPLE.TEST no longer maps to bob in host 'a.test'\n"
    assert vsrv.ferry("principal", "list", check=True).stdout == ""


def test_cli_import_into_a_host(vsrv):
    """ferry user import --host H: the file's users become users of H (NAME:HOST), who log in after
    HOST H and not on the default host."""
    md5 = subprocess.run(["openssl", "passwd", "-1", "carol-secret"], capture_output=True, text=True,
                         timeout=20, check=True).stdout.strip()
    assert md5.startswith("$1$")
    path = os.path.join(vsrv.dir, "htpasswd")
    with open(path, "w") as f:
        f.write(f"carol:{md5}\n")
    base = os.path.join(vsrv.home_root, "a-users")
    cp = vsrv.ferry("user", "import", "--format", "htpasswd", path, "--home-base", base, "--create-homes",
                    "--host", "a.test")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert f"imported carol:a.test (home {base}/carol, md5crypt: yescrypt at its next login)\n" in cp.stdout
    listing = vsrv.ferry("user", "list", check=True).stdout
    assert f"carol\tenabled\t{base}/carol\tall\taccount=no\thost=a.test\n" in listing, listing
    assert login_reply(vsrv, "a.test", "carol", "carol-secret").startswith("230")
    assert login_reply(vsrv, None, "carol", "carol-secret").startswith("530")


def test_cli_unknown_host_writes_nothing(vsrv):
    """quota, principal and user import with --host of no [host] section: exit 2 with the usage
    error `ferry user add --host` gives, and nothing written."""
    path = os.path.join(vsrv.dir, "htpasswd")
    with open(path, "w") as f:
        f.write("carol:" + subprocess.run(["openssl", "passwd", "-1", "x"], capture_output=True, text=True,
                                          timeout=20, check=True).stdout)
    before = vsrv.ferry("user", "list", check=True).stdout
    for args in (("quota", "show", "bob", "--host", "nosuch.test"),
                 ("quota", "scan", "bob", "--host", "nosuch.test"),
                 ("principal", "add", "bob@EXAMPLE.TEST", "bob", "--host", "nosuch.test"),
                 ("principal", "list", "--host", "nosuch.test"),
                 ("user", "import", "--format", "htpasswd", path, "--home-base", "/tmp/nosuch-base",
                  "--create-homes", "--host", "nosuch.test"),
                 ("user", "add", "carol", "--home", "/tmp", "--host", "nosuch.test")):
        cp = vsrv.ferry(*args, input="pw\n")
        assert cp.returncode == 2, (args, cp)
        assert cp.stdout == "" and "--host: unknown host 'nosuch.test' (no [host nosuch.test] section in " \
            in cp.stderr, (args, cp)
    assert vsrv.ferry("user", "list", check=True).stdout == before
    assert vsrv.ferry("principal", "list", check=True).stdout == ""
    assert not os.path.exists("/tmp/nosuch-base")


def test_own_max_sessions_named_in_the_refusal(vsrv):
    """A user's own max-sessions (ferry user set --max-sessions) replaces [host] max_per_user; the
    421 names that limit and that setting, not [host] max_per_user."""
    vsrv.ferry("user", "set", "bob", "--host", "a.test", "--max-sessions", "2", check=True)
    conns = []
    for _ in range(2):
        c = vsrv.connect()
        conns.append(c)
        c.expect("HOST a.test", 220)
        c.login("bob", "pw-a")
    third = vsrv.connect()
    third.expect("HOST a.test", 220)
    third.expect("USER bob", 331)
    r = third.cmd("PASS pw-a")
    assert (r.code, r.text) == (421, "Too many sessions for user bob (limit 2); close some or raise the "
                                "user's max-sessions.")
    third.assert_closed()


# ------------------------------------------------------------------ HOST from a real client

LFTP_BASE = ("set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 10; "
             "set net:reconnect-interval-base 1; set cmd:fail-exit yes; ")


def test_lftp_sends_host(make_server, certs, clean_home):
    """lftp (4.9) sends HOST with the URL's host name after FEAT when ferryd lists HOST, before
    USER: with a.test's alias "localhost" it logs in as a.test's bob (a.test's password, a.test's
    banner in the 220, a.test's file), and by address (HOST 127.0.0.1, no such host name) it is the
    default host's bob. (A refused login is not run through lftp: after a 530 it waits to retry.)"""
    _, env = clean_home
    srv = make_server(config=vhost_config(certs, aliases="ftp.a.test,localhost"), start=False)
    with open(os.path.join(srv.home_root, "bob", "whoami"), "w") as f:
        f.write("bob of the default host\n")
    for host in ("a.test", "b.test"):
        add_host_user(srv, "bob", host, PASSWORDS[host])
    srv.start()
    lftp = need("lftp")
    cp = run([lftp, "-d", "-c", LFTP_BASE + f"open -u bob,pw-a ftp://localhost:{srv.port}; cat whoami"], env=env)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert cp.stdout == "bob of a.test\n"
    assert "---> HOST localhost\n<--- 220 Welcome to A.\n---> USER bob\n" in cp.stderr.replace("\r", ""), cp.stderr
    cp = run([lftp, "-d", "-c", LFTP_BASE + f"open -u bob,pw ftp://127.0.0.1:{srv.port}; cat whoami"], env=env)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert cp.stdout == "bob of the default host\n"
