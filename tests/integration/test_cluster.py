"""Several Ferry nodes as one service (issue 16): the real cluster, started by the test itself.

  PostgreSQL   the private server of conftest's pg_server fixture: one database, the nodes' only
               store (users, OTP, failed-login counts and bans).
  two nodes    ferryd on 127.0.0.2 and 127.0.0.3, one served directory (node A's home root: the
               homes in the store point there), PROXY v2 on their control listeners and passive
               ranges; their 220 greetings name them ("node A", "node B").
  HAProxy      the configuration README "Running several nodes" shows (send-proxy-v2, tcp-check
               health checks, each node's passive range forwarded to it), with faster checks so a
               killed node is marked down quickly, and a stats socket to see that it is.

Clients (ftplib, curl, lftp) connect to HAProxy from 127.0.0.5; the ban tests use sources of
their own (127.0.0.9, 127.0.0.10), so nothing else is banned. HAProxy balances by least
connections: a connection held open on one node sends the next one to the other
(connect_on). Every wait is bounded and waits for a condition (a log line, HAProxy's view of a
node), never for time."""

import ftplib
import hashlib
import io
import os
import re
import socket

import pytest

from conftest import (DEFAULT_USERS, FerryServer, StoreSpec, free_port, wait_until)
from files_helpers import DATA_TIMEOUT, hard_close, put_file
from proxy_helpers import (BALANCER, CLIENT, Haproxy, assert_real_client_only, client_lines, free_range,
                           ftp_client, haproxy_nodes_config, lftp, node_config, start_proxied)
from test_otp import PHRASE, answer
from tls_helpers import need, run

BANNED = "127.0.0.9"     # five wrong passwords on one node
SPREAD = "127.0.0.10"    # three on one node, two on the other
CLIENTS = (CLIENT, BANNED, SPREAD)
BAN_TEXT = "Too many failed logins from your address; try again later."
BIG = 48 << 20           # random bytes: far more than the buffers between node and client
BAN_SYNC = 5.0           # bound for a ban to reach the other node (it takes well under a second)


def cluster_node(ferry_bin, pg, db, name, host, lo, hi, users):
    """A node on host whose store is PostgreSQL database db (shared with the other node)."""
    port = free_port(host=host)
    config = node_config(host, port, lo, hi, "127.0.0.1", True)
    config["server"]["banner"] = f"Ferry node {name} ready."
    config["limits"] = {"ban_failures": "5", "ban_window": "10m", "ban_time": "10m", "ban_max": "1h"}
    node = FerryServer(ferry_bin, listen=f"{host}:{port}", config=config, users=(),
                       store=StoreSpec("postgres", pg))
    node.pg_db = db   # the cluster's database, not the fresh one FerryServer made
    node.write_config()
    node.name = name
    node.backend_name = "node_" + name.lower()
    for u in users:
        node.add_user(*u)
    return node


@pytest.fixture(scope="module")
def cluster(ferry_bin, pg_server):
    made = []
    hap = None
    lo_a, hi_a = free_range(["127.0.0.1", "127.0.0.2"], 10)
    lo_b, hi_b = free_range(["127.0.0.1", "127.0.0.3"], 10)
    while lo_b <= hi_a and hi_b >= lo_a:   # two distinct ranges (bounded: a few draws at most)
        lo_b, hi_b = free_range(["127.0.0.1", "127.0.0.3"], 10)
    db = pg_server.create_db()
    try:
        a = cluster_node(ferry_bin, pg_server, db, "A", "127.0.0.2", lo_a, hi_a, DEFAULT_USERS)
        made.append(a)
        b = cluster_node(ferry_bin, pg_server, db, "B", "127.0.0.3", lo_b, hi_b, ())
        made.append(b)
        for n in made:
            start_proxied(n)
        front = free_port()
        text = haproxy_nodes_config(f"127.0.0.1:{front}",
                                    [("node_a", "127.0.0.2", a.port, lo_a, hi_a),
                                     ("node_b", "127.0.0.3", b.port, lo_b, hi_b)],
                                    passive_bind="127.0.0.1")
        # The README's checks every 2 s, three failures to go down; here quicker.
        text = text.replace("check check-send-proxy inter 2s", "check check-send-proxy inter 300ms fall 2 rise 2")
        hap = Haproxy(text, stats=True).start([("127.0.0.1", front), ("127.0.0.1", lo_a), ("127.0.0.1", hi_b)])
        home = os.path.join(a.home_root, "bob")
        put_file(os.path.join(home, "shared.txt"), b"one directory, two nodes\n")
        data = os.urandom(BIG)
        put_file(os.path.join(home, "big.bin"), data)
        cl = Cluster(front, a, b, hap, home, hashlib.sha256(data).hexdigest())
        for n in made:
            wait_until(lambda n=n: cl.status(n) == "UP", 15.0, what=f"HAProxy to see node {n.name} up")
        yield cl
    finally:
        if hap:
            hap.stop()
        for n in made:
            n.teardown()


class Cluster:
    def __init__(self, front, a, b, hap, home, big_sha):
        self.front, self.a, self.b, self.hap, self.home, self.big_sha = front, a, b, hap, home, big_sha
        self.nodes = (a, b)

    def status(self, node):
        return self.hap.server_status("ftp_nodes", node.backend_name)

    def other(self, node):
        return self.b if node is self.a else self.a

    def node_of(self, f):
        """The node an ftplib connection landed on, from its greeting."""
        m = re.match(r"220 Ferry node ([AB]) ready\.", f.getwelcome())
        assert m, f.getwelcome()
        return self.a if m.group(1) == "A" else self.b

    def connect_on(self, node, source=CLIENT):
        """An ftplib connection through HAProxy that landed on node: the connections that
        landed on the other one are held open meanwhile (least connections), then closed."""
        held = []
        try:
            for _ in range(6):
                f = ftp_client(self.front, source=source)
                if self.node_of(f) is node:
                    return f
                held.append(f)
            pytest.fail(f"no connection reached node {node.name} in 6 tries")
        finally:
            for f in held:
                f.close()


def first_reply(cl, source):
    """Connects through HAProxy from source; the first reply line (the greeting or a refusal)."""
    s = socket.create_connection(("127.0.0.1", cl.front), timeout=DATA_TIMEOUT, source_address=(source, 0))
    try:
        line = b""
        while not line.endswith(b"\n"):
            chunk = s.recv(1)
            if not chunk:
                break
            line += chunk
        return line.decode().rstrip("\r\n")
    finally:
        s.close()


def login_refused(cluster, node, user, password, exc, text):
    """A login on node (through HAProxy) fails with exactly text."""
    f = cluster.connect_on(node)
    try:
        with pytest.raises(exc) as e:
            f.login(user, password)
        assert str(e.value) == text
    finally:
        f.close()


def refused_on_both(cluster, source):
    """Connections from source (banned) get the ban's 421 before any greeting, whichever node
    HAProxy picks, until each node has logged one more refusal of it."""
    pattern = rf"refused: ip={re.escape(source)} reason=banned group={re.escape(source)} remaining=\d+s"
    before = {n.name: len(client_lines(n, pattern)) for n in cluster.nodes}
    for _ in range(10):
        assert first_reply(cluster, source) == f"421 {BAN_TEXT}"
        if all(len(client_lines(n, pattern)) > before[n.name] for n in cluster.nodes):
            return
    pytest.fail(f"not refused by both nodes: {before}")


def wrong_passwords(cl, node, source, n):
    """n wrong passwords for bob on node from source ([server] max_login_failures is 3 per
    connection, so a new connection after every third)."""
    left = n
    while left:
        f = cl.connect_on(node, source)
        try:
            for _ in range(min(3, left)):
                with pytest.raises(ftplib.error_perm) as e:
                    f.login("bob", "wrong")
                assert str(e.value).startswith("530"), e.value
                left -= 1
        finally:
            f.close()


# ----------------------------------------------------------------------------- users

def test_user_added_with_ferry_logs_in_through_both_nodes(cluster, tmp_path):
    """ferry (the CLI, against the PostgreSQL configuration of node B) adds a user; it logs in on
    both nodes at once, with ftplib, curl and lftp."""
    home = os.path.join(cluster.a.home_root, "carol")
    os.makedirs(home, exist_ok=True)
    cp = cluster.b.ferry("user", "add", "carol", "--home", home, input="carol-pw\n")
    assert cp.returncode == 0, cp.stderr
    put_file(os.path.join(home, "hello.txt"), b"hello carol\n")
    for node in cluster.nodes:
        f = cluster.connect_on(node)
        try:
            assert f.login("carol", "carol-pw").startswith("230")
            assert f.nlst() == ["hello.txt"]
            f.quit()
        finally:
            f.close()
        node.wait_log(r'login ok: user="carol" ip=127\.0\.0\.5')
    need("curl")
    cp = run(["curl", "-sS", "--interface", CLIENT, "-u", "carol:carol-pw",
              f"ftp://127.0.0.1:{cluster.front}/hello.txt"])
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == b"hello carol\n"
    cp = lftp(cluster.front, "cls -1", str(tmp_path), user="carol", password="carol-pw")
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == b"hello.txt\n"


def test_user_disable_refuses_new_logins_on_both_nodes(cluster):
    """ferry user disable takes effect on every node at the next login (nothing is cached: each
    login reads the store); a session already logged in carries on."""
    home = os.path.join(cluster.a.home_root, "dave")
    os.makedirs(home, exist_ok=True)
    cluster.a.ferry("user", "add", "dave", "--home", home, input="dave-pw\n", check=True)
    before = cluster.connect_on(cluster.a)
    try:
        before.login("dave", "dave-pw")
        # Warm both nodes up with a good login first: a cache would keep the user enabled.
        for node in cluster.nodes:
            f = cluster.connect_on(node)
            f.login("dave", "dave-pw")
            f.quit()
        cluster.b.ferry("user", "disable", "dave", check=True)
        for node in cluster.nodes:
            login_refused(cluster, node, "dave", "dave-pw", ftplib.error_perm, "530 Login incorrect.")
            node.wait_log(r'login failed: user="dave" ip=127\.0\.0\.5 reason=')
        assert before.pwd() == "/"   # the session logged in before carries on
        cluster.a.ferry("user", "enable", "dave", check=True)
        for node in cluster.nodes:
            f = cluster.connect_on(node)
            assert f.login("dave", "dave-pw").startswith("230")
            f.quit()
        before.quit()
    finally:
        before.close()


# ----------------------------------------------------------------------------- files

def test_upload_on_one_node_is_listed_on_the_other(cluster, tmp_path):
    """The nodes serve one directory: what is uploaded through node A is listed and downloaded
    through node B (ftplib, both at once), and curl's upload is seen by lftp."""
    fa = cluster.connect_on(cluster.a)
    try:
        fb = cluster.connect_on(cluster.b)
        try:
            fa.login("bob", "pw")
            fb.login("bob", "pw")
            body = os.urandom(300001)
            fa.storbinary("STOR via_a.bin", io.BytesIO(body))
            assert "via_a.bin" in fb.nlst()
            facts = [(n, f) for n, f in fb.mlsd(facts=["size", "type"]) if n == "via_a.bin"]
            assert facts == [("via_a.bin", {"size": "300001", "type": "file"})]
            got = []
            fb.retrbinary("RETR via_a.bin", got.append)
            assert b"".join(got) == body
            fa.quit()
            fb.quit()
        finally:
            fb.close()
    finally:
        fa.close()
    cluster.a.wait_log(r'transfer: user="bob" ip=127\.0\.0\.5 cmd=STOR path="/via_a\.bin" bytes=300001 '
                       r'status=ok')
    cluster.b.wait_log(r'transfer: user="bob" ip=127\.0\.0\.5 cmd=RETR path="/via_a\.bin" bytes=300001 '
                       r'status=ok')
    need("curl")
    src = tmp_path / "curl.bin"
    src.write_bytes(os.urandom(150000))
    cp = run(["curl", "-sS", "--interface", CLIENT, "-u", "bob:pw", "-T", str(src),
              f"ftp://127.0.0.1:{cluster.front}/curl.bin"])
    assert cp.returncode == 0, cp.stderr
    cp = lftp(cluster.front, "cls -1; get curl.bin -o back.bin", str(tmp_path))
    assert cp.returncode == 0, cp.stderr
    assert b"curl.bin\n" in cp.stdout and b"via_a.bin\n" in cp.stdout
    assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()


# ----------------------------------------------------------------------------- bans

def test_five_wrong_passwords_on_one_node_ban_on_the_other(cluster):
    wrong_passwords(cluster, cluster.a, BANNED, 5)
    cluster.a.wait_log(r"ban: ip=127\.0\.0\.9 group=127\.0\.0\.9 for=600s reason=failed-logins")
    cluster.b.wait_log(r"ban from the user store: group=127\.0\.0\.9 remaining=\d+s", timeout=BAN_SYNC)
    refused_on_both(cluster, BANNED)
    # Others are not affected.
    assert first_reply(cluster, CLIENT).startswith("220 Ferry node ")
    listing = cluster.a.ferry("ban", "list", check=True).stdout
    assert re.search(r"(?m)^127\.0\.0\.9 until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+s left\)$", listing), listing


def test_failures_spread_over_both_nodes_count_together(cluster):
    """Three wrong passwords on one node and two on the other: neither saw five, the store did."""
    wrong_passwords(cluster, cluster.a, SPREAD, 3)
    wrong_passwords(cluster, cluster.b, SPREAD, 2)

    def banned_by_the_store():
        # The node whose failure was the store's fifth starts the ban (B, unless A's three were
        # counted after B's two); the other one learns it from the store.
        started = [n for n in cluster.nodes
                   if client_lines(n, r"ban: ip=127\.0\.0\.10 group=127\.0\.0\.10 for=600s reason=failed-logins")]
        learnt = [n for n in cluster.nodes
                  if client_lines(n, r"ban from the user store: group=127\.0\.0\.10 remaining=\d+s")]
        return len(started) == 1 and learnt == [cluster.other(started[0])]
    wait_until(banned_by_the_store, BAN_SYNC, what="one node to ban 127.0.0.10 and the other to learn it")
    refused_on_both(cluster, SPREAD)


def test_ban_del_lifts_the_ban_on_both_nodes(cluster):
    """ferry ban del (on one node's configuration) ends the ban everywhere."""
    if not client_lines(cluster.b, r"ban from the user store: group=127\.0\.0\.9 "):
        wrong_passwords(cluster, cluster.a, BANNED, 5)
        cluster.b.wait_log(r"ban from the user store: group=127\.0\.0\.9 ", timeout=BAN_SYNC)
    cp = cluster.b.ferry("ban", "del", BANNED)
    assert (cp.returncode, cp.stdout) == (0, "ban of 127.0.0.9 lifted and its failed logins forgotten\n"), cp.stderr
    for n in cluster.nodes:
        n.wait_log(r"bans: 1 lifted in the user store \(ferry ban del\)", timeout=BAN_SYNC)
    # Both nodes greet it again (the first connection held open sends the second to the other).
    f1 = ftp_client(cluster.front, source=BANNED)
    try:
        f2 = ftp_client(cluster.front, source=BANNED)
        try:
            assert {cluster.node_of(f1).name, cluster.node_of(f2).name} == {"A", "B"}
            assert f2.login("bob", "pw").startswith("230")
        finally:
            f2.close()
    finally:
        f1.close()
    cp = cluster.a.ferry("ban", "del", BANNED)
    assert (cp.returncode, cp.stderr) == (1, "ferry: 127.0.0.9 has no ban and no failed login recorded\n")
    assert BANNED not in cluster.a.ferry("ban", "list", check=True).stdout


# ----------------------------------------------------------------------------- one-time passwords

def test_otp_answer_is_not_replayed_on_the_other_node(cluster):
    """Both nodes give the same challenge (one outstanding per user, in the store); the answer
    logs in once, on node A; the same answer on node B is refused, and B's next challenge is
    the next sequence."""
    home = os.path.join(cluster.a.home_root, "otto")
    os.makedirs(home, exist_ok=True)
    cluster.a.ferry("user", "add", "otto", "--home", home, input="static-pw\n", check=True)
    cp = cluster.b.ferry("otp", "init", "otto", "--count", "100", "--seed", "clus", input=PHRASE + "\n")
    assert cp.returncode == 0, cp.stderr
    fa = cluster.connect_on(cluster.a)
    try:
        fb = cluster.connect_on(cluster.b)
        try:
            ca = fa.sendcmd("USER otto")
            cb = fb.sendcmd("USER otto")
            assert "otp-md5 99 clus" in ca and "otp-md5 99 clus" in cb, (ca, cb)
            words = answer(ca)
            assert fa.sendcmd("PASS " + words).startswith("230")
            with pytest.raises(ftplib.error_perm) as e:
                fb.sendcmd("PASS " + words)
            assert str(e.value) == "530 Login incorrect."
        finally:
            fb.close()
        # A wrong answer to a shared challenge ends that connection: ask on a new one.
        fb = cluster.connect_on(cluster.b)
        try:
            assert "otp-md5 98 clus" in fb.sendcmd("USER otto")
        finally:
            fb.close()
    finally:
        fa.close()
    cluster.a.wait_log(r'login ok: user="otto" ip=127\.0\.0\.5')
    cluster.b.wait_log(r'login failed: user="otto" ip=127\.0\.0\.5 reason=')


# ----------------------------------------------------------------------------- a node dies

def test_killed_node_download_resumes_on_the_other(cluster):
    """The node serving a download is killed (SIGKILL) half-way; HAProxy's health checks mark it
    down; the client reconnects, lands on the other node and resumes with REST: the whole file
    arrives, byte for byte. The node is then started again and comes back up."""
    f = ftp_client(cluster.front)
    victim = cluster.node_of(f)
    got = bytearray()
    try:
        f.login("bob", "pw")
        f.voidcmd("TYPE I")
        conn = f.transfercmd("RETR big.bin")
        try:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            while len(got) < (2 << 20):
                chunk = conn.recv(65536)
                assert chunk, "the download ended early"
                got += chunk
            victim.kill()
            # Whatever was on its way still arrives, then the connection ends.
            try:
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    got += chunk
            except OSError:
                pass
        finally:
            hard_close(conn)
    finally:
        f.close()
    assert len(got) < BIG
    wait_until(lambda: cluster.status(victim).startswith("DOWN"), 15.0,
               what=f"HAProxy to mark node {victim.name} down")
    survivor = cluster.other(victim)
    f = ftp_client(cluster.front)
    try:
        assert cluster.node_of(f) is survivor
        f.login("bob", "pw")
        f.voidcmd("TYPE I")
        rest = []
        f.retrbinary("RETR big.bin", rest.append, rest=len(got))
        f.quit()
    finally:
        f.close()
    whole = bytes(got) + b"".join(rest)
    assert len(whole) == BIG
    assert hashlib.sha256(whole).hexdigest() == cluster.big_sha
    survivor.wait_log(rf'transfer: user="bob" ip=127\.0\.0\.5 cmd=RETR path="/big\.bin" bytes={BIG - len(got)} '
                      r'status=ok')
    # Back: started again, checked up by HAProxy, serving.
    start_proxied(victim)
    wait_until(lambda: cluster.status(victim) == "UP", 15.0, what=f"HAProxy to see node {victim.name} up again")
    f = cluster.connect_on(victim)
    try:
        assert f.login("bob", "pw").startswith("230")
        f.quit()
    finally:
        f.close()


# ----------------------------------------------------------------------------- the database goes

def test_database_outage_keeps_bans_and_sharing_resumes(cluster, pg_server):
    """While PostgreSQL is down the nodes keep refusing the addresses they hold banned (a local
    lookup), greet others and answer their logins 421; once it is back, a ban lifted with ferry
    reaches both nodes again."""
    lifted = {n.name: len(client_lines(n, r"bans: 1 lifted in the user store")) for n in cluster.nodes}
    learnt = len(client_lines(cluster.b, r"ban from the user store: group=127\.0\.0\.9 "))
    wrong_passwords(cluster, cluster.a, BANNED, 5)
    cluster.b.wait_log(r"ban from the user store: group=127\.0\.0\.9 ", timeout=BAN_SYNC, count=learnt + 1)
    pg_server.stop()
    try:
        refused_on_both(cluster, BANNED)
        for n in cluster.nodes:
            login_refused(cluster, n, "bob", "pw", ftplib.error_temp,
                          "421 Service not available: the user database cannot be read.")
    finally:
        pg_server.start()
    cp = cluster.a.ferry("ban", "del", BANNED)
    assert cp.returncode == 0, cp.stderr
    for n in cluster.nodes:
        n.wait_log(r"bans: 1 lifted in the user store", timeout=15.0, count=lifted[n.name] + 1)
    for n in cluster.nodes:
        f = cluster.connect_on(n, source=BANNED)
        try:
            assert f.login("bob", "pw").startswith("230")
            f.quit()
        finally:
            f.close()


# ----------------------------------------------------------------------------- the logs

def test_logs_show_the_real_client_address(cluster):
    """Every login, transfer, refusal and ban line of both nodes names a client (127.0.0.5 and
    the ban tests' sources), never HAProxy's 127.0.0.1."""
    assert BALANCER == "127.0.0.1"
    assert_real_client_only(cluster.nodes, clients=CLIENTS)
    for n in cluster.nodes:
        assert client_lines(n, r"login ok: user=\"bob\" ip=127\.0\.0\.5")
        n.check_log()
