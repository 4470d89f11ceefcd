"""TLS session tickets on FTPS data connections (issue 13, items 7 and 8).

Item 7: a data connection must not send a NewSessionTicket. In TLS 1.3 the ticket comes after the
handshake; a client that only writes (an upload) never reads it, and when it closes, its kernel
answers the unread bytes with an RST that destroys the end of the upload (rclone with
--ftp-tls-cache-size 0 against data_reuse = off).

Item 8: Go's crypto/tls resumes TLS 1.2 sessions only with tickets, so TLS 1.2 tickets must be
issued on the control connection and accepted on data connections, still bound to the control
connection that issued them (data_reuse = require: another client's ticket gets 522).

Clients: rclone (Go) and Python's ssl module, whose private SSLContext._msg_callback shows every
handshake message received. Every wait is bounded."""

import os
import re
import shutil
import ssl
import tempfile

import pytest

from conftest import FerryServer
from files_helpers import DATA_TIMEOUT, fresh_dir, parse227, put_file, read_bytes
from tls_helpers import (TlsSession, checked, client_ctx, client_env, close_data, need, ok,
                         run, temp_cert, tls_recv_all)

RCLONE_TIMEOUT = 120


@pytest.fixture(scope="module")
def cert():
    yield from temp_cert("ferry-it-tickets-", "a")


def _server(ferry_bin, cert, **extra):
    conf = {"tls": {"cert": cert[0], "key": cert[1]}}
    for section, keys in extra.items():
        conf.setdefault(section, {}).update(keys)
    s = FerryServer(ferry_bin, config=conf)
    s.start()
    return s


@pytest.fixture(scope="module")
def _servers(ferry_bin, cert):
    made = {
        # atomic_uploads = no: a cut-short upload would stay on disk under its name
        "off": _server(ferry_bin, cert, tls={"data_reuse": "off"}, transfer={"atomic_uploads": "no"}),
        "require": _server(ferry_bin, cert),     # data_reuse = require is the default
    }
    yield made
    for s in made.values():
        s.teardown()


@pytest.fixture
def srv_off(_servers):
    yield from checked(_servers["off"])


@pytest.fixture
def srv_req(_servers):
    yield from checked(_servers["require"])


@pytest.fixture
def cenv():
    env, d = client_env()
    yield env, d
    shutil.rmtree(d, ignore_errors=True)


def rand(n, seed=0):
    import random
    return random.Random(seed).randbytes(n)


def local_file(d, n, seed):
    """(content, path) of a new file of n random bytes in directory d."""
    data = rand(n, seed)
    path = os.path.join(d, "up.bin")
    with open(path, "wb") as f:
        f.write(data)
    return data, path


# ----------------------------------------------------------------------------- rclone (Go)

def rclone(server, env, *args, tls_cache=None, tls12=False):
    """rclone against an on-the-fly explicit-FTPS remote ":ftp:"; no retries, so a failed
    transfer is an exit code, not a silent second attempt."""
    need("rclone")
    obscured = ok(run(["rclone", "obscure", "pw"], env)).stdout.decode().strip()
    opts = ["--ftp-host", server.host, "--ftp-port", str(server.port), "--ftp-user", "bob",
            "--ftp-pass", obscured, "--ftp-explicit-tls", "--ftp-no-check-certificate",
            "--ftp-concurrency", "1", "--retries", "1", "--low-level-retries", "1",
            "--contimeout", "10s", "--timeout", "30s", "-vv"]
    if tls_cache is not None:
        opts += ["--ftp-tls-cache-size", str(tls_cache)]
    if tls12:
        opts += ["--ftp-disable-tls13"]
    return run(["rclone", *args, *opts], env, timeout=RCLONE_TIMEOUT)


def control_tls_versions(server, log_start):
    """The TLS versions of the control connections ferryd logged after log_start."""
    versions = set(re.findall(r"TLS established: ip=\S+ version=(\S+)", server.log()[log_start:]))
    assert versions, "no TLS handshake logged"
    return versions


def test_rclone_upload_without_tls_cache_keeps_every_byte(srv_off, request, cenv):
    """Item 7: rclone with --ftp-tls-cache-size 0 never resumes and never reads its data
    connections. A 24 MiB upload under data_reuse = off (atomic_uploads = no) must end with 226
    and exactly the bytes sent; before the fix the NewSessionTicket it never read turned its close
    into an RST and the server lost the tail (426, a truncated file)."""
    env, d = cenv
    p, v = fresh_dir(srv_off, request, "tickets_")
    data, src = local_file(d, 24 << 20, seed=7)
    log_start = len(srv_off.log())
    for i in range(3):   # each upload is a new data connection with a full handshake
        cp = rclone(srv_off, env, "copyto", src, f":ftp:{v}/up{i}.bin", tls_cache=0)
        ok(cp)
        got = read_bytes(os.path.join(p, f"up{i}.bin"))
        assert len(got) == len(data) and got == data, f"upload {i}: {len(got)} of {len(data)} bytes"
    # and back down, through a fresh data connection again
    dst = os.path.join(d, "down.bin")
    ok(rclone(srv_off, env, "copyto", f":ftp:{v}/up0.bin", dst, tls_cache=0))
    assert read_bytes(dst) == data
    assert control_tls_versions(srv_off, log_start) == {"TLSv1.3"}


def test_rclone_tls12_resumes_with_tickets(srv_req, request, cenv):
    """Item 8: rclone (Go crypto/tls) limited to TLS 1.2 resumes only with session tickets. Under
    the default data_reuse = require, upload, listing and download must all work (before the fix:
    522, as TLS 1.2 tickets were off)."""
    env, d = cenv
    p, v = fresh_dir(srv_req, request, "tickets_")
    data, src = local_file(d, 3 << 20, seed=12)
    log_start = len(srv_req.log())
    ok(rclone(srv_req, env, "copyto", src, f":ftp:{v}/up.bin", tls12=True))
    assert read_bytes(os.path.join(p, "up.bin")) == data
    cp = ok(rclone(srv_req, env, "lsf", f":ftp:{v}", tls12=True))
    assert cp.stdout.decode().split() == ["up.bin"], cp.stdout
    dst = os.path.join(d, "down.bin")
    cp = ok(rclone(srv_req, env, "copyto", f":ftp:{v}/up.bin", dst, tls12=True))
    assert read_bytes(dst) == data
    assert control_tls_versions(srv_req, log_start) == {"TLSv1.2"}


# ----------------------------------------------------------------------------- Python ssl

class Recorder:
    """Handshake messages each TLS connection of a context received (SSLContext._msg_callback,
    a CPython debugging hook that sees every message, encrypted TLS 1.3 ones included)."""

    def __init__(self, ctx):
        if not hasattr(ctx, "_msg_callback"):
            pytest.skip("this Python has no SSLContext._msg_callback")
        self.seen = []
        ctx._msg_callback = self._cb

    def _cb(self, conn, direction, version, content_type, msg_type, data):
        if direction == "read" and content_type == ssl._TLSContentType.HANDSHAKE:
            self.seen.append((conn, msg_type))

    def tickets(self, conn):
        return sum(1 for c, m in self.seen if c is conn and m == ssl._TLSMessageType.NEWSESSION_TICKET)


def transfer_recorded(s, rec, line, reuse, upload=None):
    """A protected RETR (upload None) or STOR: (bytes read, tickets received on the data
    connection, resumed?). Both read to the server's close_notify, so a ticket sent at any time
    before it has been seen."""
    ds, _ = s.begin(line, reuse=reuse)
    try:
        if upload is None:
            data = tls_recv_all(ds)
        else:
            ds.sendall(upload)
            data = b""
        resumed = ds.session_reused
    finally:
        close_data(ds)     # our close_notify, then the server's
    r = s.c.reply(timeout=DATA_TIMEOUT)
    assert r.code == 226, r
    return data, rec.tickets(ds), resumed


@pytest.mark.parametrize("maxv", ["TLSv1_3", "TLSv1_2"])
@pytest.mark.parametrize("reuse", [False, True], ids=["fresh", "resumed"])
def test_data_connection_issues_no_ticket(srv_off, srv_req, request, maxv, reuse):
    """Items 7 and 8: no data connection receives a NewSessionTicket, in TLS 1.3 and 1.2, whether
    it made a full handshake (data_reuse = off) or resumed the control session (require: no
    renewal either). The control connection gets one; in TLS 1.2 too, so that ticket-only clients
    (Go) can resume."""
    srv = srv_req if reuse else srv_off
    p, v = fresh_dir(srv, request, "tickets_")
    put_file(os.path.join(p, "f"), b"data" * 1000)
    ctx = client_ctx(max_version=getattr(ssl.TLSVersion, maxv))
    rec = Recorder(ctx)
    s = TlsSession(srv, ctx=ctx)
    try:
        s.expect(f"CWD {v}", 250)
        assert rec.tickets(s.c.sock) >= 1, "the control connection issued no ticket"
        assert s.c.session is not None and s.c.session.has_ticket, "control session has no ticket"
        for i in range(2):
            data, tickets, resumed = transfer_recorded(s, rec, "RETR f", reuse)
            assert data == b"data" * 1000 and resumed == reuse
            assert tickets == 0, f"RETR: {tickets} NewSessionTicket(s) on a data connection"
            up = rand(1 << 20, seed=i)
            _, tickets, resumed = transfer_recorded(s, rec, f"STOR g{i}", reuse, upload=up)
            assert tickets == 0, f"STOR: {tickets} NewSessionTicket(s) on a data connection"
            assert read_bytes(os.path.join(p, f"g{i}")) == up and resumed == reuse
    finally:
        s.close()


@pytest.mark.parametrize("maxv", ["TLSv1_3", "TLSv1_2"])
def test_ticket_of_another_control_connection_refused(srv_req, request, maxv):
    """Item 8: a valid ticket issued to another client's control connection resumes TLS but not
    this control connection's session: 522, nothing transferred."""
    p, v = fresh_dir(srv_req, request, "tickets_")
    put_file(os.path.join(p, "f"), b"mine")
    ctx = client_ctx(max_version=getattr(ssl.TLSVersion, maxv))
    a = TlsSession(srv_req, ctx=ctx)
    b = TlsSession(srv_req, ctx=ctx)
    try:
        assert a.c.session is not None and a.c.session.has_ticket
        a.expect(f"CWD {v}", 250)
        b.expect(f"CWD {v}", 250)
        got = b""
        try:
            ds, _ = b.begin("RETR f", reuse=a.c.session)
            try:
                got = tls_recv_all(ds, timeout=10)
            except (ssl.SSLError, OSError):
                pass
            close_data(ds, clean=False)
        except (ssl.SSLError, OSError):
            pass
        r = b.c.reply(timeout=DATA_TIMEOUT)
        assert r.code == 522 and got == b"", (r, got)
        assert b.retr("f", reuse=True)[0] == b"mine"
        assert a.retr("f", reuse=True)[0] == b"mine"
    finally:
        a.close()
        b.close()
    srv_req.wait_log(r"did not resume")


def test_own_ticket_with_victims_session_id_refused(srv_req, request):
    """Item 8, the binding: with a TLS 1.2 ticket the session id in the ClientHello is the
    client's choice, and a session id issued by ferryd (visible in clear in its ServerHello)
    starts with its control connection's lineage. An attacker resuming its *own* valid ticket
    under the victim's session id must not pass as the victim's data connection: 522, nothing
    sent. openssl s_client plays the attacker (its saved session's id is edited in place)."""
    need("openssl")
    p, v = fresh_dir(srv_req, request, "tickets_")
    put_file(os.path.join(p, "f"), b"victim's data")
    ctx = client_ctx(max_version=ssl.TLSVersion.TLSv1_2)
    ctx.options |= ssl.OP_NO_TICKET            # the victim resumes by session id
    victim = TlsSession(srv_req, ctx=ctx)
    d = tempfile.mkdtemp(prefix="ferry-it-tickets-sess-")
    try:
        victim_id = victim.c.session.id
        assert len(victim_id) == 32, victim_id
        sess = os.path.join(d, "attacker.pem")
        ok(run(["openssl", "s_client", "-starttls", "ftp", "-connect", f"{srv_req.host}:{srv_req.port}",
                "-tls1_2", "-sess_out", sess], input=b"QUIT\r\n", timeout=30))
        text = ok(run(["openssl", "sess_id", "-in", sess, "-noout", "-text"], timeout=30)).stdout.decode()
        assert "TLS session ticket:" in text, text
        own_id = bytes.fromhex(re.search(r"Session-ID: ([0-9A-F]{64})", text).group(1))
        with open(sess) as f:
            der = ssl.PEM_cert_to_DER_cert(f.read().replace("SSL SESSION PARAMETERS", "CERTIFICATE"))
        assert der.count(own_id) == 1
        forged = ssl.DER_cert_to_PEM_cert(der.replace(own_id, victim_id)).replace("CERTIFICATE",
                                                                                  "SSL SESSION PARAMETERS")
        with open(sess, "w") as f:
            f.write(forged)

        victim.expect(f"CWD {v}", 250)
        _, port = parse227(victim.c.expect("PASV", 227))
        r = victim.c.cmd("RETR f")
        assert r.code == 150, r
        cp = run(["openssl", "s_client", "-connect", f"{srv_req.host}:{port}", "-tls1_2", "-sess_in", sess,
                  "-ign_eof"], input=b"", timeout=30)
        out = cp.stdout.decode("utf-8", "replace")
        assert "Reused, TLSv1.2" in out, out[-3000:]       # the attacker's ticket did resume TLS
        assert "victim's data" not in out
        r = victim.c.reply(timeout=DATA_TIMEOUT)
        assert r.code == 522, r
        assert victim.retr("f", reuse=True)[0] == b"victim's data"
    finally:
        victim.close()
        shutil.rmtree(d, ignore_errors=True)
