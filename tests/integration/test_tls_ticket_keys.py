"""[tls] ticket_keys (issue 16): session ticket keys shared by several nodes, in nginx's
80-byte ssl_session_ticket_key format, so a TLS session made with one ferryd resumes on another.

Two ferryd instances stand for two nodes. Python's ssl client keeps the session of a control
connection (TLS 1.3 tickets arrive after the handshake: the login replies are read first) and
offers it to the other instance (SSLContext.wrap_socket(session=...)); session_reused says
whether it was taken. Every wait is bounded."""

import os
import shutil
import signal
import ssl
import tempfile

import pytest

from conftest import FerryServer
from files_helpers import DATA_TIMEOUT, chown_svc, connect_data, parse227, put_file
from tls_helpers import TlsCtl, client_ctx, close_data, temp_cert, tls_recv_all

VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


@pytest.fixture(scope="module")
def cert():
    yield from temp_cert("ferry-it-tkeys-", "t")


@pytest.fixture
def keydir():
    d = tempfile.mkdtemp(prefix="ferry-it-tkeys-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def keyfile(d, name, data=None, mode=0o600):
    """A ticket key file as `openssl rand 80 > FILE` makes it, private to the service user."""
    path = os.path.join(d, name)
    with open(path, "wb") as f:
        f.write(os.urandom(80) if data is None else data)
    os.chmod(path, mode)
    chown_svc(path)
    return path


class ResumingCtl(TlsCtl):
    """AUTH TLS offering a saved session."""

    def __init__(self, server, ctx, session=None):
        self.offer = session
        super().__init__(server.host, server.port, ctx=ctx)
        self.auth()
        self.resumed = self.sock.session_reused
        self.login()   # reads replies: a TLS 1.3 ticket is taken in on the way

    def start_tls(self):
        self.sock = self.ctx.wrap_socket(self.sock, session=self.offer, suppress_ragged_eofs=self.ragged_eofs)
        return self.sock


def node(make_server, cert, keys, **extra):
    conf = {"tls": {"cert": cert[0], "key": cert[1], "ticket_keys": keys}}
    for section, kv in extra.items():
        conf.setdefault(section, {}).update(kv)
    return make_server(config=conf)


def session_from(server, ctx):
    c = ResumingCtl(server, ctx)
    assert not c.resumed
    sess = c.sock.session
    assert sess is not None and sess.has_ticket, "no session ticket was issued"
    c.expect("QUIT", 221)
    c.close()
    return sess


@pytest.mark.parametrize("version", list(VERSIONS))
def test_session_resumes_on_another_node(make_server, cert, keydir, version):
    shared, other = keyfile(keydir, "shared.key"), keyfile(keydir, "other.key")
    a = node(make_server, cert, shared)
    b = node(make_server, cert, shared)
    c = node(make_server, cert, other)
    ctx = client_ctx(min_version=VERSIONS[version], max_version=VERSIONS[version])
    sess = session_from(a, ctx)

    # Node B holds the same keys: the session resumes, and its PROT P data connection, which
    # resumes the same session, belongs to this control connection (data_reuse = require).
    put_file(os.path.join(b.home_root, "bob", "f.txt"), b"resumed on node B\n")
    on_b = ResumingCtl(b, ctx, sess)
    assert on_b.resumed, "the session from node A was not resumed on node B"
    on_b.protect()
    on_b.expect("TYPE I", 200)
    d = connect_data(*parse227(on_b.expect("PASV", 227)))
    on_b.expect("RETR f.txt", 150)
    ds = ctx.wrap_socket(d, session=on_b.session, suppress_ragged_eofs=False)
    assert ds.session_reused
    assert tls_recv_all(ds) == b"resumed on node B\n"
    close_data(ds)
    assert on_b.reply(DATA_TIMEOUT).code == 226
    on_b.close()

    # Node C has other keys: a full handshake, which works as ever.
    on_c = ResumingCtl(c, ctx, sess)
    assert not on_c.resumed, "a ticket sealed with other keys was accepted"
    on_c.close()


def test_several_keys_and_sighup(make_server, cert, keydir):
    """The first key encrypts, every key decrypts; SIGHUP reads the files again."""
    k1, k2 = keyfile(keydir, "k1.key"), keyfile(keydir, "k2.key")
    s = node(make_server, cert, k1)
    ctx = client_ctx(max_version=ssl.TLSVersion.TLSv1_3)
    old = session_from(s, ctx)

    # Rotation: the new key first, the old one kept to decrypt.
    s.write_config({"tls": {"ticket_keys": f"{k2}, {k1}"}})
    assert "configuration reloaded" in s.reload()
    c = ResumingCtl(s, ctx, old)
    assert c.resumed, "a ticket under the second key no longer resumes"
    c.close()
    new = session_from(s, ctx)

    # The old key retired: its tickets stop working, the new key's keep working.
    s.write_config({"tls": {"ticket_keys": k2}})
    assert "configuration reloaded" in s.reload()
    c = ResumingCtl(s, ctx, old)
    assert not c.resumed
    c.close()
    c = ResumingCtl(s, ctx, new)
    assert c.resumed
    c.close()

    # A file that became unreadable for the service user fails the reload, and the running
    # keys stay.
    keyfile(keydir, "k2.key", data=os.urandom(80), mode=0o644)
    line = s.reload()
    assert "configuration reloaded" in line   # the configuration itself is fine ...
    s.wait_log(r"reload: TLS certificates not reloaded, keeping the running ones: \[tls\] ticket_keys .*k2\.key: "
               r"readable or writable by group or others \(mode 0644\)")
    c = ResumingCtl(s, ctx, new)
    assert c.resumed   # ... and the running keys were kept
    c.close()


@pytest.mark.parametrize("case", ["mode", "short", "long", "missing"])
def test_bad_key_file_refused_at_start(make_server, cert, keydir, case):
    if case == "mode":
        path = keyfile(keydir, "k.key", mode=0o640)
        want = "readable or writable by group or others (mode 0640); a ticket key must be private: chmod 600"
    elif case == "short":
        path = keyfile(keydir, "k.key", data=os.urandom(48))
        want = "48 bytes, expected exactly 80 (make one with: openssl rand 80 >"
    elif case == "long":
        path = keyfile(keydir, "k.key", data=os.urandom(81))
        want = "more than 80 bytes, expected exactly 80"
    else:
        path = os.path.join(keydir, "none.key")
        want = "No such file or directory"
    s = make_server(config={"tls": {"cert": cert[0], "key": cert[1], "ticket_keys": path}}, start=False)
    s.start(wait_greeting=False)
    rc = s.wait_exit()
    assert rc not in (None, 0), "ferryd started with a bad ticket key file"
    assert f"[tls] ticket_keys {path}: {want}" in s.log(), s.log()[-2000:]
