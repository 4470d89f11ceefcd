"""Fixtures for integration tests that run the real ferryd on 127.0.0.1.

Binaries come from $FERRY_BUILD (default: <repo>/build), e.g. FERRY_BUILD=build-asan
for the sanitizer build. Run with Debian's interpreter:

    FERRY_BUILD=build /usr/bin/python3 -m pytest tests/integration

Fixtures
  ferry_bin      paths of ferryd and ferry (session scope)
  ferry_env      factory for an unstarted FerryServer (config + users, no process) --
                 useful for CLI tests: env = ferry_env(); env.ferry("user", "list")
  make_server    factory: make_server({"server": {"banner": "x"}}, users=[...]) -> started server
  server         a shared server with the default test config (module scope), checked after
                 every test for sanitizer reports and for having died
  ctl            factory for raw control connections: c = ctl(server); c.cmd("NOOP").code

require_feature(ferry_bin, "gssapi") skips a test (or fixture) that needs an optional part
ferryd was built without (meson -Dgssapi=disabled etc.; `ferryd --version` lists them).

The user store
  pg_server      a private PostgreSQL server (session scope, started on first use): initdb in a
                 temporary directory as an unprivileged user (postgres, or the current user when
                 not root), listening on 127.0.0.1 and a socket in that directory only; stopped
                 and removed at the end. pg_server.create_db() -> a fresh database's name.
  ferry_store    the store the servers of a module use: "sqlite" unless the module sets
                 FERRY_STORES = ("sqlite", "postgres"), which runs each of its tests once per
                 store (ids test_x[sqlite], test_x[postgres]); make_server, ferry_env and server
                 then configure [store] postgres with a fresh database per server.

Every wait is bounded; every socket has a timeout; every subprocess has timeout=.
"""

import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _store_schema_version():
    """STORE_SCHEMA_VERSION of the tree under test: tests never write the number (a schema step
    added on another branch renumbers the steps)."""
    with open(os.path.join(REPO, "src", "store", "store_migrate.h")) as f:
        return int(re.search(r"#define STORE_SCHEMA_VERSION (\d+)", f.read()).group(1))


SCHEMA_VERSION = _store_schema_version()
ASAN_SUPPRESSIONS = os.path.join(REPO, "tests", "sanitizers", "asan.supp")
HOST = "127.0.0.1"
SERVICE_USER = "nobody"
IS_ROOT = os.geteuid() == 0

START_TIMEOUT = 10.0   # ferryd must greet within this
STOP_TIMEOUT = 10.0    # SIGTERM -> exit (drain_timeout in the default test config is 1s)
IO_TIMEOUT = 5.0       # default socket timeout for control connections
CLI_TIMEOUT = 20.0


# Strings a sanitizer build prints; any of them in ferryd's stderr fails the test.
SANITIZER_PATTERNS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",          # UBSan
    "WARNING: ThreadSanitizer",
)

# Default users (PROTOCOL.md §5 fixtures): (name, password, account or None)
DEFAULT_USERS = (("bob", "pw", None), ("acctuser", "pw", "acct1"))

# The test defaults: fast failure delay, quick drain so teardown is quick.
DEFAULT_CONFIG = {
    "server": {
        "run_as": SERVICE_USER,
        "workers": "2",
        "login_fail_delay": "100ms",
        "max_login_failures": "3",
        "drain_timeout": "1s",
    },
    "log": {"level": "debug"},
    # Every test client comes from 127.0.0.1: the per-address abuse limits
    # would otherwise make tests depend on each other (bans on a shared
    # server) and on speed. test_limits.py turns them on and tests them.
    "limits": {
        "max_per_ip": "0",
        "max_per_user": "0",
        "connect_rate": "0",
        "prelogin_commands": "1000000",
        "ban_failures": "0",
    },
}


# --------------------------------------------------------------------------- helpers

# Ports the tests listen on (ferryd, HAProxy, PostgreSQL, the KDC, fixed passive ranges) come from
# below the kernel's ephemeral range (ip_local_port_range, 32768-60999 by default), which is also
# below ferryd's default passive range (49152-65534): an outgoing connection or another server's
# passive listener cannot take such a port between free_port() and the daemon's bind. Under
# pytest-xdist each worker (PYTEST_XDIST_WORKER=gwN) has a block of its own, so two workers never
# hand out the same port; a run without xdist uses every block. Within a block the ports are
# handed out in turn from a random start (two runs side by side rarely meet), each checked by a
# bind, so a port still in use (or in TIME_WAIT) is passed over.
PORT_LO = 10000
PORT_BLOCK = 2000


def _ephemeral_lo():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _port_block():
    """[lo, hi) of the ports this process hands out."""
    top = min(_ephemeral_lo(), 49152)
    blocks = max(1, (top - PORT_LO) // PORT_BLOCK)
    m = re.fullmatch(r"gw(\d+)", os.environ.get("PYTEST_XDIST_WORKER", ""))
    if not m:
        return PORT_LO, PORT_LO + blocks * PORT_BLOCK
    lo = PORT_LO + (int(m.group(1)) % blocks) * PORT_BLOCK
    return lo, lo + PORT_BLOCK


_PORTS = {}


def free_range(hosts, n, family=socket.AF_INET):
    """(lo, hi): n consecutive ports free a moment ago on every host (checked by binding), from
    this worker's block (see PORT_LO): no outgoing connection and no other worker takes one
    before the daemon binds it. Bounded: one pass over the block."""
    lo, hi = _port_block()
    if "next" not in _PORTS:
        import random
        _PORTS["next"] = random.randrange(lo, hi)
    for _ in range((hi - lo) // n + 1):
        start = _PORTS["next"]
        if start + n > hi:
            start = lo
        _PORTS["next"] = start + n
        socks = []
        try:
            for h in hosts:
                for p in range(start, start + n):
                    s = socket.socket(family, socket.SOCK_STREAM)
                    socks.append(s)
                    s.bind((h, p))
            return start, start + n - 1
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    pytest.fail(f"no {n} free ports in {lo}-{hi - 1}")


def free_port(family=socket.AF_INET, host=HOST):
    """A port that was free a moment ago (bound and closed), from this worker's block."""
    return free_range([host], 1, family)[0]


def ipv6_loopback_available():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def wait_until(pred, timeout, interval=0.02, what="condition"):
    """Polls pred() until it is truthy; returns its value or fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def sanitizer_report(text):
    for pat in SANITIZER_PATTERNS:
        i = text.find(pat)
        if i >= 0:
            return text[max(0, i - 200):i + 3000]
    return None


def _chown_tree(path, user=SERVICE_USER):
    if not IS_ROOT:
        return
    import pwd
    pw = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, pw.pw_uid, pw.pw_gid)
        for n in files + dirs:
            os.lchown(os.path.join(root, n), pw.pw_uid, pw.pw_gid)


def render_config(sections):
    """{"server": {"k": "v"}} -> ini text. A value of None drops the key."""
    out = []
    for sec, keys in sections.items():
        out.append(f"[{sec}]")
        for k, v in keys.items():
            if v is None:
                continue
            out.append(f"{k} = {v}")
        out.append("")
    return "\n".join(out)


def merge_config(base, overrides):
    merged = {s: dict(k) for s, k in base.items()}
    for sec, keys in (overrides or {}).items():
        merged.setdefault(sec, {}).update(keys)
    return merged


# --------------------------------------------------------------------------- binaries

@dataclass(frozen=True)
class FerryBin:
    build: str
    ferryd: str
    ferry: str


@pytest.fixture(scope="session")
def ferry_bin():
    build = os.environ.get("FERRY_BUILD", os.path.join(REPO, "build"))
    if not os.path.isabs(build):
        build = os.path.join(REPO, build)
    b = FerryBin(build, os.path.join(build, "ferryd"), os.path.join(build, "ferry"))
    for p in (b.ferryd, b.ferry):
        if not os.access(p, os.X_OK):
            pytest.fail(f"{p} not found: build first (scripts/build.sh release) or set FERRY_BUILD")
    return b


def built_features(bins):
    """The optional parts ferryd was built with (meson features), from the
    "features:" line of `ferryd --version`, e.g. {"gssapi", "metrics", "hooks", "systemd"}."""
    if bins.ferryd not in _FEATURES:
        out = subprocess.run([bins.ferryd, "--version"], capture_output=True, text=True, timeout=CLI_TIMEOUT,
                             check=True).stdout
        line = next(l for l in out.splitlines() if l.startswith("features:"))
        _FEATURES[bins.ferryd] = frozenset(line[len("features:"):].split())
    return _FEATURES[bins.ferryd]


_FEATURES = {}


def require_feature(bins, name):
    """Skips the calling test or fixture when ferryd was built without name
    (e.g. meson -Dgssapi=disabled)."""
    if name not in built_features(bins):
        pytest.skip(f"ferryd built without {name} (meson -D{name}=disabled)")


def status_lines(s):
    """`ferry status` on server s: its session lines, the closing "." checked and left off."""
    cp = s.ferry("status")
    assert cp.returncode == 0, cp.stderr
    lines = cp.stdout.splitlines()
    assert lines[-1] == ".", lines
    return lines[:-1]


# --------------------------------------------------------------------------- PostgreSQL

PG_BIN_DIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
PG_USER = "postgres"          # Debian's postgresql package makes it; the server runs as it (as root)
PG_START_TIMEOUT = 60         # pg_ctl -w -t: start/stop/restart wait at most this


class PgServer:
    """A private PostgreSQL server in a temporary directory: trust authentication on 127.0.0.1
    and a Unix socket in that directory only, role "ferry" (the initdb superuser). Never the
    host's own cluster."""

    def __init__(self, bindir):
        self.bindir = bindir
        self.dir = tempfile.mkdtemp(prefix="ferry-pg-", dir="/tmp")
        self.data = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "postgres.log")
        self.port = free_port()
        self.user = "ferry"
        self._dbs = 0
        self.run_as = PG_USER if IS_ROOT else None
        if self.run_as:
            import pwd
            pw = pwd.getpwnam(self.run_as)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o700 if self.run_as is None else 0o711)
        try:
            self._run("initdb", "-D", self.data, "-U", self.user, "--auth=trust", "-E", "UTF8",
                      "--locale=C.UTF-8", "--no-sync", "--no-instructions")
            with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
                f.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                        f"unix_socket_directories = '{self.dir}'\nfsync = off\nsynchronous_commit = off\n"
                        "full_page_writes = off\nmax_connections = 300\n")
            self.start()
        except BaseException:
            self.teardown()
            raise

    def _cmd(self, prog, *args):
        cmd = [os.path.join(self.bindir, prog), *args]
        return ["runuser", "-u", self.run_as, "--", *cmd] if self.run_as else cmd

    def _run(self, prog, *args, timeout=PG_START_TIMEOUT + 10, check=True):
        cp = subprocess.run(self._cmd(prog, *args), capture_output=True, text=True, timeout=timeout,
                            cwd=self.dir)
        if check and cp.returncode != 0:
            raise RuntimeError(f"{prog} {' '.join(args)} failed ({cp.returncode}): {cp.stdout}{cp.stderr}"
                               f"\n--- log ---\n{self.log()[-3000:]}")
        return cp

    def start(self):
        self._run("pg_ctl", "-D", self.data, "-l", self.log_path, "-w", "-t", str(PG_START_TIMEOUT), "start")

    def stop(self, mode="fast"):
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", str(PG_START_TIMEOUT), "stop")

    def restart(self):
        self._run("pg_ctl", "-D", self.data, "-l", self.log_path, "-m", "fast", "-w", "-t",
                  str(PG_START_TIMEOUT), "restart")

    def running(self):
        return self._run("pg_ctl", "-D", self.data, "status", check=False).returncode == 0

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def conninfo(self, db):
        return f"host=127.0.0.1 port={self.port} dbname={db} user={self.user}"

    def psql(self, db, sql, check=True):
        """Runs sql; returns the rows as lists of strings (NULL = None), from CSV."""
        cp = subprocess.run([os.path.join(self.bindir, "psql"), "-X", "-q", "--csv", "-t", "-P", "null=\\N", "-v",
                             "ON_ERROR_STOP=1", "-d", self.conninfo(db), "-c", sql],
                            capture_output=True, text=True, timeout=CLI_TIMEOUT)
        if check and cp.returncode != 0:
            raise RuntimeError(f"psql {sql!r}: {cp.stderr}")
        import csv
        return [[None if v == "\\N" else v for v in row] for row in csv.reader(cp.stdout.splitlines())]

    def create_db(self):
        self._dbs += 1
        name = f"ferry_it_{os.getpid()}_{self._dbs}"
        self.psql("postgres", f"CREATE DATABASE {name}")
        return name

    def teardown(self):
        try:
            if os.path.exists(os.path.join(self.data, "postmaster.pid")):
                self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "-t", str(PG_START_TIMEOUT),
                          "stop", check=False)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server(ferry_bin):
    """The private PostgreSQL server (see PgServer), made on first use, removed at the end."""
    require_feature(ferry_bin, "postgres")
    bindir = next((d for d in PG_BIN_DIRS if os.access(os.path.join(d, "initdb"), os.X_OK)), None)
    if not bindir:
        pytest.skip("PostgreSQL server binaries not installed (Debian postgresql; scripts/deps.sh test)")
    if IS_ROOT:
        import pwd
        try:
            pwd.getpwnam(PG_USER)
        except KeyError:
            pytest.skip(f"no '{PG_USER}' user to run PostgreSQL as (Debian postgresql makes it)")
    s = PgServer(bindir)
    try:
        yield s
    finally:
        s.teardown()


@dataclass(frozen=True)
class StoreSpec:
    kind: str                 # "sqlite" or "postgres"
    pg: object = None         # the PgServer for "postgres"


@pytest.fixture(scope="module")
def ferry_store(request):
    """The module's store for this run: see FERRY_STORES (pytest_generate_tests)."""
    kind = getattr(request, "param", "sqlite")
    if kind == "postgres":
        return StoreSpec("postgres", request.getfixturevalue("pg_server"))
    return StoreSpec("sqlite")


def pytest_configure(config):
    # pytest-xdist registers it too; here for a run without the plugin (-p no:xdist).
    config.addinivalue_line("markers", "xdist_group(name): run on the worker of the group's other tests")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (scripts/test: --dist loadgroup) a module's tests stay on one worker, in
    their order, as in a serial run: its module-scoped fixtures (a cluster, a traversal world, a
    shared server) are made once, and a test that reads what earlier ones left (test_cluster's
    logs) sees it. A module marked with an xdist_group of its own keeps that group."""
    for item in items:
        if not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


def pytest_generate_tests(metafunc):
    """A module with FERRY_STORES = ("sqlite", "postgres") runs each test once per store."""
    stores = getattr(metafunc.module, "FERRY_STORES", None)
    if stores and "ferry_store" in metafunc.fixturenames:
        metafunc.parametrize("ferry_store", stores, indirect=True, scope="module")


# --------------------------------------------------------------------------- control connection

class Reply:
    """One complete FTP reply (RFC 959 §4.2)."""

    def __init__(self, code, lines, raw):
        self.code = code          # int
        self.lines = lines        # list[str], without CRLF
        self.raw = raw            # bytes, exactly as received

    @property
    def text(self):
        """Text of the last line (after 'ddd ')."""
        return self.lines[-1][4:]

    @property
    def full(self):
        return "\n".join(self.lines)

    def __repr__(self):
        return f"Reply({self.code}, {self.lines!r})"


class ProtocolError(AssertionError):
    pass


class Ctl:
    """A raw control connection with a reply parser that checks framing strictly:
    every line ends in CRLF, a multi-line reply starts 'ddd-' and ends at 'ddd ' with the
    same code."""

    # First line of a reply: code and separator (RFC 959 §4.2: first digit 1-5).
    REPLY_START = rb"^([1-5][0-9][0-9])([ -])"

    def __init__(self, host, port, timeout=IO_TIMEOUT, family=socket.AF_INET, greet=True,
                 nodelay=True, rcvbuf=None, source=None):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if source:  # a local address to connect from (e.g. 127.0.0.2: "another client")
            self.sock.bind((source, 0))
        if nodelay:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect((host, port))
        self.buf = b""
        self.eof = False
        self.timeout = timeout
        self.greeting = self.reply() if greet else None

    # -- raw I/O
    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("reply deadline passed; buffered: %r" % self.buf[:200])
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        finally:
            self.sock.settimeout(self.timeout)
        if not chunk:
            self.eof = True
            raise ProtocolError(f"connection closed by server; buffered: {self.buf[:200]!r}")
        self.buf += chunk

    def read_exact(self, n, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def readline(self, timeout=None):
        """One line including its CRLF; a bare LF is a protocol error."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise ProtocolError("no line end in 1 MiB of reply data")
            self._fill(deadline)
        i = self.buf.index(b"\n")
        line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
        if not line.endswith(b"\r\n"):
            raise ProtocolError(f"reply line not terminated by CRLF: {line!r}")
        return line

    def reply(self, timeout=None):
        """Reads one complete reply."""
        deadline = time.monotonic() + (timeout or self.timeout)
        first = self.readline(max(0.001, deadline - time.monotonic()))
        raw = first
        m = re.match(self.REPLY_START, first)
        if not m:
            raise ProtocolError(f"reply does not start with 'ddd ' or 'ddd-': {first!r}")
        code = m.group(1)
        lines = [first[:-2].decode("utf-8", "replace")]
        if m.group(2) == b"-":
            while True:
                line = self.readline(max(0.001, deadline - time.monotonic()))
                raw += line
                lines.append(line[:-2].decode("utf-8", "replace"))
                if line.startswith(code + b" "):
                    break
                if re.match(rb"^[0-9]{3}[ ]", line):
                    raise ProtocolError(f"line inside a {code.decode()} reply looks like a last line: {line!r}")
        return Reply(int(code), lines, raw)

    def cmd(self, line, timeout=None):
        """Sends one command (CRLF appended) and returns its reply."""
        if isinstance(line, str):
            line = line.encode("utf-8", "surrogateescape")
        self.send(line + b"\r\n")
        return self.reply(timeout)

    def expect(self, line, code, timeout=None):
        r = self.cmd(line, timeout)
        assert r.code == code, f"{line!r}: expected {code}, got {r!r}"
        return r

    def login(self, user="bob", password="pw", account=None):
        self.expect(f"USER {user}", 331)
        r = self.cmd(f"PASS {password}")
        if account is not None:
            assert r.code == 332, r
            r = self.cmd(f"ACCT {account}")
        assert r.code == 230, r
        return r

    def no_data(self, wait=0.3):
        """True if nothing arrives within `wait` seconds (and the connection stays open)."""
        if self.buf:
            return False
        self.sock.settimeout(wait)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return True
        finally:
            self.sock.settimeout(self.timeout)
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return False

    def read_until_eof(self, timeout=None):
        """Reads until the server closes; returns everything not yet consumed. Fails on timeout.
        A reset (RST) also counts as closed."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.eof:
            try:
                self._fill(deadline)
            except ProtocolError:
                break
            except ConnectionResetError:
                self.eof = True
                break
        out, self.buf = self.buf, b""
        return out

    def assert_closed(self, timeout=None):
        rest = self.read_until_eof(timeout)
        assert rest == b"", f"unexpected bytes before close: {rest!r}"

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# --------------------------------------------------------------------------- server

class FerryServer:
    """One ferryd instance in its own temporary directory (config, users.db, homes).

    Usable without starting it (for CLI tests): write_config(), add_user(), ferry(...)."""

    def __init__(self, bins, config=None, users=DEFAULT_USERS, listen=None, env=None, wrapper=(), store=None):
        self.bins = bins
        # The user store: SQLite (db_path) unless store is postgres (a fresh database).
        self.store = store or StoreSpec("sqlite")
        self.pg_db = self.store.pg.create_db() if self.store.kind == "postgres" else None
        self.host = HOST
        self.dir = tempfile.mkdtemp(prefix="ferry-it-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.home_root = os.path.join(self.dir, "home")
        os.makedirs(self.home_root)
        self.config_path = os.path.join(self.dir, "ferry.conf")
        self.log_path = os.path.join(self.dir, "ferryd.log")
        self.db_path = os.path.join(self.dir, "db", "users.db")
        os.makedirs(os.path.dirname(self.db_path))
        self.port = None
        self.family = socket.AF_INET
        self._explicit_listen = listen
        if listen:
            # The first entry is the one the helpers (readiness check, connect()) use.
            first = listen.split(",")[0].strip()
            m = re.fullmatch(r"\[(.+)\]:(\d+)", first)
            if m:
                self.host, self.family = m.group(1), socket.AF_INET6
            else:
                m = re.fullmatch(r"(.+):(\d+)", first)
                self.host = "0.0.0.0" if m.group(1) == "*" else m.group(1)
            self.port = int(m.group(2))
        self.overrides = config or {}
        self.env = dict(os.environ)
        self.env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        if "suppressions=" not in self.env["ASAN_OPTIONS"]:  # a library's known false reports
            self.env["ASAN_OPTIONS"] += ":suppressions=" + ASAN_SUPPRESSIONS
        self.env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        self.env.update(env or {})
        self.wrapper = list(wrapper)  # e.g. ["prlimit", "--nofile=64:64"]: execs ferryd
        self.proc = None
        self._logf = None
        self.returncode = None
        self.users = {}
        self.write_config()
        for u in users:
            self.add_user(*u)

    # -- configuration
    def config_dict(self):
        listen = self._explicit_listen or f"{self.host}:{self.port}"
        store = ({"postgres": self.store.pg.conninfo(self.pg_db)} if self.pg_db else {"sqlite": self.db_path})
        base = merge_config(DEFAULT_CONFIG, {"server": {"listen": listen}, "store": store})
        return merge_config(base, self.overrides)

    def store_rows(self, table, where="", params=()):
        """Rows of a store table as dicts, from whichever store the server uses (tests that look
        behind the CLI). where: an SQL condition with ? placeholders (params: text only)."""
        sql = f"SELECT * FROM {table}" + (f" WHERE {where}" if where else "")
        if self.pg_db:
            for p in params:
                sql = sql.replace("?", "'" + str(p).replace("'", "''") + "'", 1)
            cols = self.store.pg.psql(
                self.pg_db, f"SELECT column_name, data_type FROM information_schema.columns "
                f"WHERE table_name = '{table}' ORDER BY ordinal_position")
            # Values as SQLite gives them: integers, and booleans as 0/1.
            conv = {"bigint": int, "integer": int, "boolean": lambda v: 1 if v == "t" else 0}
            return [{c: (v if v is None else conv.get(t, str)(v)) for (c, t), v in zip(cols, r)}
                    for r in self.store.pg.psql(self.pg_db, sql)]
        import sqlite3
        if not os.path.exists(self.db_path):
            return []
        # immutable=1: read the file without creating -wal/-shm files as root.
        con = sqlite3.connect(f"file:{self.db_path}?immutable=1", uri=True)
        try:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute(sql, params)]
        finally:
            con.close()

    def store_exists(self):
        """True once the store has been created (SQLite: the file; PostgreSQL: the schema)."""
        if self.pg_db:
            return self.store.pg.psql(self.pg_db, "SELECT to_regclass('users') IS NOT NULL")[0][0] == "t"
        return os.path.exists(self.db_path)

    def write_config(self, overrides=None, text=None):
        """Rewrites ferry.conf: from `text` verbatim, or from the defaults + overrides."""
        if overrides is not None:
            self.overrides = merge_config(self.overrides, overrides)
        if self.port is None:
            self.port = free_port()
        if text is None:
            text = render_config(self.config_dict())
        with open(self.config_path, "w") as f:
            f.write(text)
        _chown_tree(self.dir)
        return self.config_path

    def drop_config_section(self, section):
        """Rewrites ferry.conf without [section], so the shipped defaults of its keys apply."""
        with open(self.config_path) as f:
            text = f.read()
        before, _, after = text.partition(f"[{section}]")
        rest = after.split("\n[", 1)
        self.write_config(text=before + ("[" + rest[1] if len(rest) > 1 else ""))
        assert f"[{section}]" not in open(self.config_path).read()

    # -- admin CLI
    def ferry(self, *args, input=None, timeout=CLI_TIMEOUT, check=False):
        """Runs `ferry -c CONFIG args...`; returns CompletedProcess (text)."""
        cp = subprocess.run([self.bins.ferry, "-c", self.config_path, *args], input=input,
                            capture_output=True, text=True, timeout=timeout, env=self.env)
        if check and cp.returncode != 0:
            pytest.fail(f"ferry {' '.join(args)} failed ({cp.returncode}): {cp.stdout}{cp.stderr}")
        return cp

    def add_user(self, name, password, account=None, home=None):
        home = home or os.path.join(self.home_root, name)
        os.makedirs(home, exist_ok=True)
        _chown_tree(self.dir)
        args = ["user", "add", name, "--home", home]
        if account is not None:
            args += ["--account", account]
        self.ferry(*args, input=password + "\n", check=True)
        self.users[name] = (password, account)
        return home

    # -- process
    def start(self, timeout=START_TIMEOUT, wait_greeting=True):
        last_err = ""
        for attempt in range(3):
            self._logf = open(self.log_path, "ab")
            self.proc = subprocess.Popen([*self.wrapper, self.bins.ferryd, "-c", self.config_path],
                                         stdin=subprocess.DEVNULL, stdout=self._logf,
                                         stderr=subprocess.STDOUT, env=self.env)
            if not wait_greeting:
                return self
            ok, last_err = self._wait_ready(timeout)
            if ok:
                return self
            if self.proc.poll() is not None and "in use" in last_err and not self._explicit_listen:
                # Lost the race for the port: pick another one.
                self._logf.close()
                self.port = None
                self.write_config()
                continue
            break
        self.kill()
        pytest.fail(f"ferryd did not start: {last_err}\n--- log ---\n{self.log()}")

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False, f"exited with {self.proc.returncode}: {self.log()[-2000:]}"
            try:
                c = Ctl(self.host, self.port, timeout=max(0.2, deadline - time.monotonic()),
                        family=self.family)
            except (ConnectionRefusedError, socket.timeout, ProtocolError, OSError):
                time.sleep(0.02)
                continue
            try:
                if c.greeting.code == 220:
                    c.cmd("QUIT")
                    # ferryd frees the session slot before closing the socket:
                    # after EOF the probe no longer counts against max_sessions.
                    c.assert_closed()
                    return True, ""
                return False, f"unexpected greeting {c.greeting!r}"
            finally:
                c.close()
        return False, "timeout"

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        assert self.alive(), "ferryd is not running"
        os.kill(self.proc.pid, sig)

    def reload(self, timeout=60.0):
        """SIGHUP; waits (bounded) until the log shows the reload result; returns that line."""
        before = self.log().count("configuration reloaded") + self.log().count("reload failed")
        self.signal(signal.SIGHUP)

        def done():
            t = self.log()
            return (t.count("configuration reloaded") + t.count("reload failed")) > before

        wait_until(done, timeout, what="reload to be logged")
        lines = [l for l in self.log().splitlines() if "configuration reloaded" in l or "reload failed" in l]
        return lines[-1]

    def wait_exit(self, timeout=STOP_TIMEOUT):
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, bounded wait, assert exit status 0 and a clean log."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        rc = self.wait_exit(timeout)
        if rc is None:
            self.kill()
            pytest.fail(f"ferryd did not exit within {timeout}s of SIGTERM\n{self.log()[-3000:]}")
        assert rc == 0, f"ferryd exited with {rc}\n{self.log()[-3000:]}"
        self.check_log()
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "surrogateescape")
        except FileNotFoundError:
            return ""

    def log_bytes(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def wait_log(self, pattern, timeout=30.0, count=1):
        """Waits (bounded) until regex `pattern` matches at least `count` times in the log."""
        rx = re.compile(pattern)
        wait_until(lambda: len(rx.findall(self.log())) >= count, timeout,
                   what=f"log to match {pattern!r}")
        return rx.findall(self.log())

    def check_log(self):
        rep = sanitizer_report(self.log())
        if rep:
            pytest.fail(f"sanitizer report in ferryd's log:\n{rep}")

    def connect(self, **kw):
        kw.setdefault("family", self.family)
        return Ctl(self.host, self.port, **kw)

    def url(self):
        return f"ftp://{self.host}:{self.port}"

    def _stray_daemons(self):
        """ferryd processes still running on this server's config: a wrapper that does not exec
        (strace -f detaches when it is stopped) leaves the daemon behind its own pid."""
        found = []
        if not getattr(self, "config_path", None):
            return found
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if self.config_path.encode() in argv and os.path.basename(argv[0]) == b"ferryd":
                found.append(int(d))
        return found

    def teardown(self):
        """Stops the server (SIGTERM, then SIGKILL), removes its directory, checks the log."""
        try:
            if self.alive():
                self.proc.send_signal(signal.SIGTERM)
                if self.wrapper:
                    # A wrapper that does not exec (strace -f) may not pass SIGTERM on: the
                    # daemon is told too, or the wait below runs to its end in every such test.
                    for pid in self._stray_daemons():
                        try:
                            os.kill(pid, signal.SIGTERM)
                        except ProcessLookupError:
                            pass
                if self.wait_exit(STOP_TIMEOUT) is None:
                    self.kill()
            for sig in (signal.SIGTERM, signal.SIGKILL):
                for pid in self._stray_daemons():
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        pass
                deadline = time.monotonic() + STOP_TIMEOUT
                while self._stray_daemons() and time.monotonic() < deadline:
                    time.sleep(0.05)
        finally:
            if self._logf:
                self._logf.close()
            text = self.log()
            if os.environ.get("FERRY_KEEP_TMP"):
                print(f"ferry test dir kept: {self.dir}")
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
        rep = sanitizer_report(text)
        if rep:
            pytest.fail(f"sanitizer report in ferryd's log:\n{rep}")


@pytest.fixture
def ferry_env(ferry_bin, ferry_store):
    """Factory for unstarted servers: config file, database and users, no ferryd process."""
    made = []

    def factory(config=None, users=DEFAULT_USERS, **kw):
        kw.setdefault("store", ferry_store)
        s = FerryServer(ferry_bin, config=config, users=users, **kw)
        made.append(s)
        return s

    yield factory
    for s in made:
        s.teardown()


@pytest.fixture
def make_server(ferry_bin, ferry_store):
    """make_server(config_overrides=None, users=DEFAULT_USERS, listen=None) -> started FerryServer.
    Torn down after the test (SIGTERM, SIGKILL as last resort); a sanitizer report fails it."""
    made = []

    def factory(config=None, users=DEFAULT_USERS, start=True, **kw):
        kw.setdefault("store", ferry_store)
        s = FerryServer(ferry_bin, config=config, users=users, **kw)
        made.append(s)
        if start:
            s.start()
        return s

    yield factory
    errors = []
    for s in made:
        try:
            s.teardown()
        except pytest.fail.Exception as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n".join(errors))


@pytest.fixture(scope="module")
def _shared_server(ferry_bin, ferry_store):
    s = FerryServer(ferry_bin, store=ferry_store)
    s.start()
    yield s
    s.teardown()


@pytest.fixture
def server(_shared_server):
    """The module's shared server (default test config). After each test it must still be
    running and its log must be free of sanitizer reports."""
    yield _shared_server
    _shared_server.check_log()
    assert _shared_server.alive(), f"ferryd died:\n{_shared_server.log()[-3000:]}"


@pytest.fixture
def ctl():
    """ctl(server, **Ctl kwargs) -> connected Ctl (greeting already read); closed after the test."""
    conns = []

    def factory(srv, **kw):
        c = srv.connect(**kw)
        conns.append(c)
        return c

    yield factory
    for c in conns:
        c.close()
