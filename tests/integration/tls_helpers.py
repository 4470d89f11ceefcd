"""Helpers for the FTPS integration tests (issue 4, test_tls.py).

  make_cert            an ECDSA P-256 self-signed certificate made with the openssl CLI,
                       readable by the service user ferryd drops to
  client_ctx           a Python TLS client context (no verification unless asked)
  client_hello         the bytes of a real ClientHello (for partial-handshake tests)
  TlsCtl               conftest.Ctl that can do AUTH TLS, implicit TLS, CCC and REIN
  TlsSession           a logged-in TLS control connection with PROT P transfers in PASV, EPSV,
                       PORT and EPRT mode, resuming the control session or not
  tls_recv_all         reads a protected data connection to its close_notify (a TCP close
                       without close_notify raises ssl.SSLEOFError)
  run / curl / lftp / s_client   real clients, every one with a timeout

Every socket has a timeout, every loop a deadline, every subprocess timeout=.
"""

import hashlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

from conftest import HOST, Ctl, ProtocolError
from files_helpers import (DATA_TIMEOUT, chown_svc, connect_data, parse227,
                           parse229)

CLIENT_TIMEOUT = 60


# --------------------------------------------------------------------------- certificates

def make_cert(directory, stem, cn="localhost", san="DNS:localhost,IP:127.0.0.1", days=30):
    """(cert path, key path): ECDSA P-256, self-signed, subjectAltName `san`. Both files are
    owned by the service user (ferryd re-reads them after dropping privileges on SIGHUP)."""
    cert = os.path.join(directory, stem + ".pem")
    key = os.path.join(directory, stem + ".key")
    cp = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", str(days), "-subj", "/CN=" + cn, "-addext", "subjectAltName=" + san,
         "-keyout", key, "-out", cert],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert cp.returncode == 0, f"openssl req failed: {cp.stderr}"
    os.chmod(key, 0o600)
    os.chmod(cert, 0o644)
    chown_svc(key)
    chown_svc(cert)
    return cert, key


def temp_cert(prefix, stem):
    """For a fixture: yields make_cert()'s pair in a new directory, removed afterwards."""
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(d, 0o755)
    try:
        yield make_cert(d, stem)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def cert_fingerprint_file(path):
    with open(path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha256(der).hexdigest()


def fingerprint(sslsock):
    return hashlib.sha256(sslsock.getpeercert(binary_form=True)).hexdigest()


def copy_over(src, dst):
    """Replaces dst's content by src's, keeping dst's owner and mode (what an admin does when
    renewing a certificate in place)."""
    with open(src, "rb") as f:
        data = f.read()
    with open(dst, "wb") as f:
        f.write(data)


def checked(s):
    """For a fixture that lends a module's server to one test: afterwards ferryd must still run
    and its log be free of sanitizer reports."""
    yield s
    s.check_log()
    assert s.alive(), f"ferryd died:\n{s.log()[-3000:]}"


# --------------------------------------------------------------------------- TLS client side

def client_ctx(min_version=None, max_version=None, ciphers=None, cafile=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # CPython sets OP_IGNORE_UNEXPECTED_EOF by default with OpenSSL 3, which makes a TCP close
    # without close_notify look like a clean end. The tests must tell the two apart.
    ctx.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    if cafile:
        ctx.load_verify_locations(cafile)
        ctx.check_hostname = True
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if min_version is not None:
        ctx.minimum_version = min_version
    if max_version is not None:
        ctx.maximum_version = max_version
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


def client_hello(server_hostname="localhost"):
    """The first flight of a TLS client (a complete ClientHello record)."""
    ctx = client_ctx()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=server_hostname)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    data = out.read()
    assert data[:1] == b"\x16" and len(data) > 100, data[:16]
    return data


class NoCloseNotify(ssl.SSLEOFError):
    """The peer closed TCP without a TLS close_notify."""


def is_unexpected_eof(e):
    # CPython 3.11 reports OpenSSL 3's "unexpected eof while reading" as a plain SSLError
    return isinstance(e, ssl.SSLEOFError) or (
        isinstance(e, ssl.SSLError) and getattr(e, "reason", None) == "UNEXPECTED_EOF_WHILE_READING")


def ssl_recv(sock, n):
    """sock.recv(n), with a TCP close without close_notify raised as NoCloseNotify."""
    try:
        return sock.recv(n)
    except ssl.SSLError as e:
        if is_unexpected_eof(e) and not isinstance(e, NoCloseNotify):
            raise NoCloseNotify(f"connection closed without close_notify: {e}") from e
        raise


def tls_recv_all(ds, timeout=DATA_TIMEOUT, sink=None):
    """Reads a TLS data connection until the server's close_notify. Returns the bytes (or, with
    sink=hashlib object, (hexdigest, count)). The socket must have been wrapped with
    suppress_ragged_eofs=False so a TCP close without close_notify raises ssl.SSLEOFError."""
    deadline = time.monotonic() + timeout
    chunks, total = [], 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout(f"TLS data connection not closed within {timeout}s ({total} bytes)")
        ds.settimeout(left)
        b = ssl_recv(ds, 1 << 20)
        if not b:
            break
        total += len(b)
        if sink is not None:
            sink.update(b)
        else:
            chunks.append(b)
    if sink is not None:
        return sink.hexdigest(), total
    return b"".join(chunks)


def close_data(ds, clean=True):
    """clean: our close_notify (unwrap) then close. Otherwise TCP close without close_notify."""
    try:
        if clean:
            try:
                ds.unwrap().close()
                return
            except (ssl.SSLError, OSError):
                pass
        else:
            # SSLSocket.shutdown drops the TLS object without sending close_notify.
            try:
                ds.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
    finally:
        try:
            ds.close()
        except OSError:
            pass


class TlsCtl(Ctl):
    """A control connection (conftest.Ctl reply parser) that can switch to TLS and back."""

    def __init__(self, host, port, ctx=None, implicit=False, server_hostname=None, ragged_eofs=True,
                 **kw):
        self.ctx = ctx or client_ctx()
        self.server_hostname = server_hostname
        self.ragged_eofs = ragged_eofs   # False: a TCP close without close_notify raises SSLEOFError
        self.session = None          # last TLS session seen on this control connection
        if implicit:
            super().__init__(host, port, greet=False, **kw)
            self.start_tls()
            self.greeting = self.reply()
        else:
            super().__init__(host, port, **kw)

    def _fill(self, deadline):
        try:
            return super()._fill(deadline)
        except ssl.SSLError as e:
            if not is_unexpected_eof(e):
                raise
            if self.ragged_eofs:
                self.eof = True
                raise ProtocolError(f"connection closed by server (no close_notify); "
                                    f"buffered: {self.buf[:200]!r}") from e
            raise NoCloseNotify(f"control connection closed without close_notify; "
                                f"buffered: {self.buf[:200]!r}") from e

    @property
    def tls(self):
        # SSLSocket.unwrap() returns the same object, now without a TLS layer (version None)
        return isinstance(self.sock, ssl.SSLSocket) and self.sock.version() is not None

    def start_tls(self):
        assert not self.buf, f"bytes buffered before the handshake: {self.buf!r}"
        self.sock = self.ctx.wrap_socket(self.sock, server_hostname=self.server_hostname,
                                         suppress_ragged_eofs=self.ragged_eofs)
        return self.sock

    def auth(self, mech="TLS"):
        r = self.expect(f"AUTH {mech}", 234)
        self.start_tls()
        return r

    def reply(self, timeout=None):
        r = super().reply(timeout)
        if self.tls and self.sock.session is not None:
            self.session = self.sock.session   # TLS 1.3 tickets arrive after the handshake
        return r

    def stop_tls(self):
        """After a 200 to CCC or a 220 to REIN: the bidirectional close_notify, then plaintext."""
        assert not self.buf, f"bytes buffered behind the reply: {self.buf!r}"
        if self.sock.session is not None:
            self.session = self.sock.session
        self.sock = self.sock.unwrap()
        self.sock.settimeout(self.timeout)
        return self.sock

    def ccc(self):
        r = self.expect("CCC", 200)
        self.stop_tls()
        return r

    def protect(self, level="P"):
        self.expect("PBSZ 0", 200)
        return self.expect(f"PROT {level}", 200)


class TlsSession:
    """A logged-in TLS session (explicit AUTH TLS or implicit), PBSZ 0 + PROT P + TYPE I, with
    whole protected transfers. `reuse` chooses whether a data connection resumes the control
    connection's TLS session (what curl and lftp do) or starts a new one (Python ftplib)."""

    def __init__(self, server, user="bob", password="pw", implicit_port=None, ctx=None,
                 data_ctx=None, server_hostname=None, prot="P", mech="TLS", timeout=10.0):
        self.server = server
        self.host = server.host
        self.ctx = ctx or client_ctx()
        self.data_ctx = data_ctx or self.ctx
        if implicit_port:
            self.c = TlsCtl(server.host, implicit_port, ctx=self.ctx, implicit=True,
                            server_hostname=server_hostname, timeout=timeout)
        else:
            self.c = TlsCtl(server.host, server.port, ctx=self.ctx,
                            server_hostname=server_hostname, timeout=timeout)
            self.c.auth(mech)
        self.c.login(user, password)
        if prot:
            self.c.protect(prot)
        self.c.expect("TYPE I", 200)

    def cmd(self, line, timeout=None):
        return self.c.cmd(line, timeout)

    def expect(self, line, code, timeout=None):
        return self.c.expect(line, code, timeout)

    def close(self):
        self.c.close()

    # -- data connections
    def open(self, how="pasv", rcvbuf=None):
        """(connected socket or None, listener or None) before the transfer command."""
        if how == "pasv":
            _, port = parse227(self.c.expect("PASV", 227))
            return connect_data(self.host, port, rcvbuf=rcvbuf), None
        if how == "epsv":
            port = parse229(self.c.expect("EPSV", 229))
            return connect_data(self.host, port, rcvbuf=rcvbuf), None
        lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lst.settimeout(DATA_TIMEOUT)
        lst.bind((self.c.sock.getsockname()[0], 0))
        lst.listen(1)
        addr, port = lst.getsockname()[:2]
        if how == "port":
            self.c.expect("PORT %s,%d,%d" % (addr.replace(".", ","), port >> 8, port & 255), 200)
        else:
            self.c.expect(f"EPRT |1|{addr}|{port}|", 200)
        return None, lst

    def session_for_data(self, reuse):
        if reuse is True:
            return self.c.session
        if reuse:                      # an explicit session object (e.g. another control's)
            return reuse
        return None

    def wrap(self, raw, reuse=True):
        """The FTP client is the TLS client on data connections, also in active mode
        (RFC 4217 §7)."""
        return self.data_ctx.wrap_socket(raw, server_hostname=self.c.server_hostname,
                                         session=self.session_for_data(reuse),
                                         suppress_ragged_eofs=False)

    def begin(self, line, how="pasv", reuse=True, rcvbuf=None, expect_prelim=150):
        """Opens the data connection, sends `line`, expects 150, returns the TLS data socket."""
        d, lst = self.open(how, rcvbuf=rcvbuf)
        try:
            r1 = self.c.cmd(line)
            assert r1.code == expect_prelim, f"{line!r}: {r1!r}"
            if lst is not None:
                d, _ = lst.accept()
            d.settimeout(DATA_TIMEOUT)
            ds = self.wrap(d, reuse)
            d = None
            return ds, r1
        finally:
            if d is not None:
                d.close()
            if lst is not None:
                lst.close()

    def retr(self, name, how="pasv", reuse=True, verb="RETR", expect_code=226):
        """A whole protected download: (bytes, 150 reply, final reply, data socket facts)."""
        line = f"{verb} {name}" if name is not None else verb
        ds, r1 = self.begin(line, how, reuse)
        facts = {"version": ds.version(), "cipher": ds.cipher()[0], "resumed": ds.session_reused}
        try:
            data = tls_recv_all(ds)
        finally:
            close_data(ds)
        r2 = self.c.reply(timeout=DATA_TIMEOUT)
        assert r2.code == expect_code, f"{line!r}: expected {expect_code}, got {r2!r}"
        return data, r1, r2, facts

    def listing(self, verb="LIST", arg=None, how="pasv", reuse=True):
        return self.retr(arg, how=how, reuse=reuse, verb=verb)[0]

    def stor(self, name, data, how="pasv", reuse=True, verb="STOR", expect_code=226, clean=True):
        line = f"{verb} {name}" if name is not None else verb
        ds, r1 = self.begin(line, how, reuse)
        try:
            ds.sendall(data)
        finally:
            close_data(ds, clean=clean)
        r2 = self.c.reply(timeout=DATA_TIMEOUT)
        assert r2.code == expect_code, f"{line!r}: expected {expect_code}, got {r2!r}"
        return r1, r2


# --------------------------------------------------------------------------- real clients

def need(tool):
    path = shutil.which(tool)
    if not path:
        pytest.skip(f"{tool} is not installed")
    return path


def run(args, env=None, cwd=None, input=None, timeout=CLIENT_TIMEOUT):
    return subprocess.run(args, capture_output=True, env=env, cwd=cwd, timeout=timeout,
                          input=input, stdin=None if input is not None else subprocess.DEVNULL)


def ok(cp):
    assert cp.returncode == 0, (f"{cp.args!r} exited {cp.returncode}\nstdout: {cp.stdout[-3000:]!r}\n"
                                f"stderr: {cp.stderr[-4000:]!r}")
    return cp


def client_env():
    """(env, scratch dir): a temporary HOME without rc files or proxies, UTF-8 locale."""
    d = tempfile.mkdtemp(prefix="ferry-it-tls-client-")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LFTP", "CURL", "FTP", "SSL", "OPENSSL")) and "proxy" not in k.lower()}
    env.update(HOME=d, LC_ALL="C.UTF-8", LANG="C.UTF-8")
    return env, d


def curl(env, *args, cwd=None, timeout=CLIENT_TIMEOUT):
    need("curl")
    return run(["curl", "-sS", "-v", "-k", "--max-time", str(timeout - 5), "-u", "bob:pw", *args],
               env, cwd=cwd, timeout=timeout)


_RX_CURL_TLS = re.compile(r"SSL connection using (\S+) / (\S+)")


def curl_tls(cp):
    """[(version, cipher), ...] of every TLS handshake curl reports (-v)."""
    text = cp.stderr.decode("utf-8", "replace")
    return _RX_CURL_TLS.findall(text)


def lftp(server, env, script, cwd, port=None, scheme="ftp", settings="", timeout=CLIENT_TIMEOUT):
    need("lftp")
    pre = ("set ftp:ssl-force yes; set ftp:ssl-protect-data yes; set ssl:verify-certificate no; "
           "set net:max-retries 1; set net:timeout 10; set net:reconnect-interval-base 1; "
           "set cmd:fail-exit yes; set xfer:log no; " + settings +
           f"open -u bob,pw {scheme}://{server.host}:{port or server.port}; ")
    return run(["lftp", "-d", "-c", pre + script], env, cwd=cwd, timeout=timeout)


def s_client(port, *extra, host=HOST, timeout=30, input=b"QUIT\r\n"):
    """openssl s_client -starttls ftp; returns the CompletedProcess (bytes)."""
    need("openssl")
    return run(["openssl", "s_client", "-starttls", "ftp", "-connect", f"{host}:{port}", "-ign_eof",
                *extra], input=input, timeout=timeout)


def s_client_facts(cp):
    """(protocol, cipher) from the SSL-Session block of s_client's output."""
    out = cp.stdout.decode("utf-8", "replace")
    proto = re.search(r"^\s*Protocol\s*:\s*(\S+)", out, re.M)
    ciph = re.search(r"^\s*Cipher\s*:\s*(\S+)", out, re.M)
    return (proto.group(1) if proto else None, ciph.group(1) if ciph else None)


def hash_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)



class BioClient:
    """A TLS client over a plain socket through memory BIOs, for byte-exact control of what goes
    on the wire: dribbling a handshake byte by byte, or sending our close_notify and the next
    plaintext command in one segment."""

    def __init__(self, sock, ctx=None, server_hostname=None, timeout=DATA_TIMEOUT):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = (ctx or client_ctx()).wrap_bio(self.inc, self.out, server_hostname=server_hostname)
        self.timeout = timeout
        self.plain = b""          # plaintext that followed the server's close_notify

    def _flush(self, dribble=0.0):
        data = self.out.read()
        if not data:
            return
        if dribble:
            for i in range(len(data)):
                self.sock.sendall(data[i:i + 1])
                time.sleep(dribble)
        else:
            self.sock.sendall(data)

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("BioClient: deadline passed")
        self.sock.settimeout(left)
        b = self.sock.recv(65536)
        if not b:
            raise ConnectionResetError("BioClient: server closed the connection")
        self.inc.write(b)

    def handshake(self, dribble=0.0):
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                self.obj.do_handshake()
                self._flush(dribble)
                return
            except ssl.SSLWantReadError:
                self._flush(dribble)
                self._recv(deadline)

    def send(self, data):
        self.obj.write(data)
        self._flush()

    def reply_line(self):
        """One CRLF-terminated line of decrypted data."""
        deadline = time.monotonic() + self.timeout
        buf = b""
        while not buf.endswith(b"\r\n"):
            try:
                buf += self.obj.read(1)
            except ssl.SSLWantReadError:
                self._recv(deadline)
        return buf

    def shutdown_then_send_plain(self, plaintext):
        """Our close_notify and `plaintext` in one send(); then completes the shutdown and
        returns what follows the server's close_notify (up to a CRLF)."""
        try:
            self.obj.unwrap()
        except ssl.SSLWantReadError:
            pass
        self.sock.sendall(self.out.read() + plaintext)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                self.obj.unwrap()
                break
            except ssl.SSLWantReadError:
                self._recv(deadline)
        rest = self.inc.read()          # bytes after the server's close_notify record
        while b"\r\n" not in rest:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout(f"no plaintext reply after the shutdown: {rest!r}")
            self.sock.settimeout(left)
            b = self.sock.recv(4096)
            if not b:
                break
            rest += b
        return rest
