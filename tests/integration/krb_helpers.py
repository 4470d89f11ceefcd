"""Kerberos helpers for the RFC 2228 GSSAPI tests (issue 6, test_gssapi.py).

  Realm        a throw-away MIT realm FERRY.TEST in a temporary directory: its own krb5.conf
               and kdc.conf, a database made with kdb5_util, principals and a keytab made with
               kadmin.local, and krb5kdc -n on a loopback high port (PROTOCOL.md §3.6).
               No DNS: dns_lookup_kdc = false, rdns = false, dns_canonicalize_hostname = false.
  GssCtl       conftest.Ctl that speaks RFC 2228 with python3-gssapi: AUTH GSSAPI, ADAT, then
               MIC/ENC-protected commands whose 631/632 replies it unwraps and checks.
  wrap_blocks / unwrap_blocks   the RFC 2228 §6 data-channel framing (4-byte big-endian
               length + wrapped token, ending with a wrapped empty block).

The keytab is read by ferryd as root at start-up (before it drops to the service user, like the
TLS keys), so it stays mode 0600 owned by root, as a real keytab would.
Every wait is bounded; every subprocess has timeout=.
"""

import base64
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import gssapi
import pytest

from conftest import Ctl, ProtocolError, _chown_tree, free_port, require_feature

REALM = "FERRY.TEST"
KDC_START_TIMEOUT = 15.0
TOOL_TIMEOUT = 30


class Realm:
    """A running KDC. Users are made with add_user(); kinit(user) gives a credential cache."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ferry-krb-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.krb5_conf = os.path.join(self.dir, "krb5.conf")
        self.kdc_conf = os.path.join(self.dir, "kdc.conf")
        self.keytab = os.path.join(self.dir, "ftp.keytab")
        self.rcache = os.path.join(self.dir, "rcache")
        os.makedirs(self.rcache)
        with open(self.krb5_conf, "w") as f:
            f.write(f"""[libdefaults]
    default_realm = {REALM}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    udp_preference_limit = 1
[realms]
    {REALM} = {{
        kdc = 127.0.0.1:{self.port}
    }}
""")
        os.chmod(self.krb5_conf, 0o644)
        with open(self.kdc_conf, "w") as f:
            f.write(f"""[kdcdefaults]
    kdc_ports = {self.port}
    kdc_tcp_ports = {self.port}
    kdc_listen = 127.0.0.1:{self.port}
    kdc_tcp_listen = 127.0.0.1:{self.port}
[realms]
    {REALM} = {{
        database_name = {self.dir}/principal
        key_stash_file = {self.dir}/stash
        acl_file = {self.dir}/kadm5.acl
        max_life = 1h
    }}
[logging]
    kdc = FILE:{self.dir}/kdc.log
""")
        self.env = dict(os.environ, KRB5_CONFIG=self.krb5_conf, KRB5_KDC_PROFILE=self.kdc_conf)
        self.proc = None
        self.passwords = {}
        self._run("kdb5_util", "create", "-s", "-r", REALM, "-P", "masterpw-ferry")
        self.kadmin("addprinc -randkey ftp/localhost")
        self.kadmin(f"ktadd -k {self.keytab} ftp/localhost")
        os.chmod(self.keytab, 0o600)
        self._start()

    def _run(self, *args, input=None):
        cp = subprocess.run(list(args), input=input, capture_output=True, text=True,
                            timeout=TOOL_TIMEOUT, env=self.env, stdin=None if input else subprocess.DEVNULL)
        assert cp.returncode == 0, f"{' '.join(args)} failed: {cp.stdout}{cp.stderr}"
        return cp

    def kadmin(self, query):
        return self._run("kadmin.local", "-r", REALM, "-q", query)

    def _start(self):
        log = open(os.path.join(self.dir, "krb5kdc.out"), "wb")
        self.proc = subprocess.Popen(["krb5kdc", "-n", "-r", REALM], env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + KDC_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"krb5kdc exited: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        pytest.fail(f"krb5kdc did not listen on {self.port}: {self.log()}")

    def log(self):
        out = ""
        for n in ("krb5kdc.out", "kdc.log"):
            try:
                with open(os.path.join(self.dir, n), errors="replace") as f:
                    out += f.read()[-2000:]
            except OSError:
                pass
        return out

    def add_user(self, name, password):
        self.kadmin(f"addprinc -pw {password} {name}")
        self.passwords[name] = password

    def kinit(self, name):
        """A fresh FILE: credential cache for name (password on stdin); returns its path."""
        cc = os.path.join(self.dir, f"cc.{name.replace('/', '_')}.{time.monotonic_ns()}")
        env = dict(self.env, KRB5CCNAME="FILE:" + cc)
        cp = subprocess.run(["kinit", name], input=self.passwords[name] + "\n", capture_output=True,
                            text=True, timeout=TOOL_TIMEOUT, env=env)
        assert cp.returncode == 0, f"kinit {name} failed: {cp.stdout}{cp.stderr}\n{self.log()}"
        return cc

    def creds(self, name):
        """gssapi.Credentials of name (initiator), from a fresh kinit."""
        os.environ["KRB5_CONFIG"] = self.krb5_conf
        cc = self.kinit(name)
        return gssapi.Credentials(usage="initiate", store={"ccache": "FILE:" + cc})

    def server_env(self):
        """Environment for ferryd: this realm's krb5.conf, a replay cache it may write."""
        _chown_tree(self.rcache)
        return {"KRB5_CONFIG": self.krb5_conf, "KRB5RCACHEDIR": self.rcache}

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if not os.environ.get("FERRY_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def realm(ferry_bin):
    # Every user of a realm gives ferryd its keytab: nothing to test without GSSAPI.
    require_feature(ferry_bin, "gssapi")
    r = Realm()
    r.add_user("bob", "bobkrbpw")
    r.add_user("carol", "carolkrbpw")
    r.add_user("ftp/admin", "adminkrbpw")
    r.kadmin("addprinc -randkey host/localhost")  # a service ferryd holds no key for
    yield r
    r.close()


# --------------------------------------------------------------------------- RFC 2228 client

def b64(data):
    return base64.b64encode(data).decode()


class GssCtl(Ctl):
    """A control connection with an RFC 2228 GSSAPI security context.

    auth() runs AUTH GSSAPI + ADAT to completion (mutual authentication, checked);
    mic(cmd) / enc(cmd) send a protected command and return the unwrapped reply, checking
    that it came back as 631 (integrity only) / 632 (confidential)."""

    # RFC 2228 §5.2: protected replies are 631/632/633.
    REPLY_START = rb"^([1-6][0-9][0-9])([ -])"

    def __init__(self, host, port, creds, service="ftp@localhost", **kw):
        super().__init__(host, port, **kw)
        self.creds = creds
        self.service = service
        self.ctx = None
        self.last_wrapped = None

    FLAGS = (gssapi.RequirementFlag.mutual_authentication | gssapi.RequirementFlag.integrity |
             gssapi.RequirementFlag.confidentiality | gssapi.RequirementFlag.replay_detection |
             gssapi.RequirementFlag.out_of_sequence_detection)

    def new_context(self, flags=FLAGS):
        name = gssapi.Name(self.service, gssapi.NameType.hostbased_service)
        self.ctx = gssapi.SecurityContext(name=name, creds=self.creds, usage="initiate", flags=flags)
        return self.ctx

    def auth(self):
        """AUTH GSSAPI, then ADAT until 235; returns the list of (code, text) of the ADAT replies."""
        r = self.cmd("AUTH GSSAPI")
        assert r.code == 334, r
        self.new_context()
        replies = []
        token = self.ctx.step()
        for _ in range(8):
            r = self.cmd("ADAT " + b64(token))
            replies.append(r)
            assert r.code in (235, 335), r
            m = re.search(r"ADAT=([A-Za-z0-9+/=]+)", r.text)
            if m:
                token = self.ctx.step(base64.b64decode(m.group(1), validate=True))
            if r.code == 235:
                break
            assert m, f"335 without ADAT=: {r!r}"
        assert self.ctx.complete, "server said 235 but the client's context is not complete"
        assert gssapi.RequirementFlag.mutual_authentication in self.ctx.actual_flags
        return replies

    def wrap_cmd(self, line, conf):
        if isinstance(line, str):
            line = line.encode()
        return b64(self.ctx.wrap(line + b"\r\n", conf).message)

    def sreply(self, timeout=None):
        """Reads a (possibly) protected reply; returns (outer code, inner Reply)."""
        r = self.reply(timeout)
        if r.code not in (631, 632, 633):
            return r.code, r
        plain = b""
        for ln in r.lines:
            m = re.fullmatch(r"63[123][ -]([A-Za-z0-9+/=]+)", ln)
            assert m, f"bad protected reply line {ln!r}"
            res = self.ctx.unwrap(base64.b64decode(m.group(1), validate=True))
            assert res.encrypted == (r.code == 632), f"{r.code} reply wrapped with conf={res.encrypted}"
            plain += res.message
        self.last_wrapped = r
        return r.code, parse_plain_reply(plain)

    def protected(self, verb, line, timeout=None):
        self.send(f"{verb} {self.wrap_cmd(line, verb == 'ENC')}\r\n")
        outer, inner = self.sreply(timeout)
        want = 632 if verb == "ENC" else 631
        assert outer == want, f"{verb}({line!r}): expected a {want} reply, got {outer} {inner!r}"
        return inner

    def mic(self, line, timeout=None):
        return self.protected("MIC", line, timeout)

    def enc(self, line, timeout=None):
        return self.protected("ENC", line, timeout)


class _Reply:
    def __init__(self, code, lines):
        self.code = code
        self.lines = lines

    @property
    def text(self):
        return self.lines[-1][4:]

    def __repr__(self):
        return f"Reply({self.code}, {self.lines!r})"


def parse_plain_reply(plain):
    """The plaintext inside 63z lines: one complete reply, CRLF line ends, strictly framed."""
    text = plain.decode("utf-8", "replace")
    if not text.endswith("\r\n"):
        raise ProtocolError(f"protected reply without a final CRLF: {text!r}")
    lines = text[:-2].split("\r\n")
    m = re.match(r"^([1-5][0-9][0-9])([ -])", lines[0])
    if not m:
        raise ProtocolError(f"protected reply does not start with a code: {text!r}")
    code = m.group(1)
    if m.group(2) == " ":
        assert len(lines) == 1, f"extra lines after a single-line reply: {text!r}"
    else:
        assert lines[-1].startswith(code + " "), f"multi-line reply not closed: {text!r}"
        for ln in lines[1:-1]:
            assert not re.match(r"^[0-9]{3} ", ln), f"inner line looks final: {ln!r}"
    return _Reply(int(code), lines)


# --------------------------------------------------------------------------- RFC 2228 §6 data

def wrap_blocks(ctx, data, conf, block=4096):
    """data as protected blocks: each 4-byte big-endian length + wrapped token, then a wrapped
    empty block."""
    out = b""
    for i in range(0, len(data), block):
        tok = ctx.wrap(data[i:i + block], conf).message
        out += struct.pack(">I", len(tok)) + tok
    tok = ctx.wrap(b"", conf).message
    return out + struct.pack(">I", len(tok)) + tok


def unwrap_blocks(ctx, wire, conf, pbsz=None):
    """Decodes a whole protected data stream; checks every block's protection level and size,
    that the stream ends with a wrapped empty block and that nothing follows it."""
    out = b""
    i = 0
    while True:
        assert i + 4 <= len(wire), f"stream ends without the empty block at offset {i}"
        (n,) = struct.unpack(">I", wire[i:i + 4])
        assert pbsz is None or n <= pbsz, f"block of {n} bytes exceeds PBSZ {pbsz}"
        tok = wire[i + 4:i + 4 + n]
        assert len(tok) == n, "truncated block"
        i += 4 + n
        res = ctx.unwrap(tok)
        assert res.encrypted == conf, f"block wrapped with conf={res.encrypted}, expected {conf}"
        if not res.message:
            assert i == len(wire), f"{len(wire) - i} bytes after the empty block"
            return out
        out += res.message
