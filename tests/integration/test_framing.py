"""Connection, framing and parsing against the real ferryd (checklist A 1-22)."""

import random
import re
import select
import socket
import struct
import threading
import time

import pytest

from conftest import Ctl

IAC, DONT, DO, WONT, WILL, SB, SE, IP, DM = 255, 254, 253, 252, 251, 250, 240, 244, 242


# ----------------------------------------------------------------- A1, A3, A4, A19, A20

def test_greeting_is_first_and_complete(server):
    s = socket.create_connection((server.host, server.port), timeout=5)
    try:
        data = b""
        deadline = time.monotonic() + 5
        while not data.endswith(b"\r\n") and time.monotonic() < deadline:
            chunk = s.recv(4096)
            assert chunk, "closed before the greeting"
            data += chunk
        assert re.fullmatch(rb"220 [^\r\n]*\r\n", data), data
        assert data == b"220 Ferry FTP server ready.\r\n"
        # nothing else until the client speaks
        s.settimeout(0.3)
        with pytest.raises(socket.timeout):
            s.recv(1)
    finally:
        s.close()


def test_every_line_crlf_and_multiline_framing(server, ctl):
    c = ctl(server)
    cmds = ["FEAT", "HELP", "STAT", "SYST", "NOOP", "HELP USER", "OPTS UTF8 ON", "USER bob",
            "PASS pw", "STAT", "PWD", "TYPE I", "HELP", "FOOB", "ALLO 5", "MODE S", "STRU F"]
    c.send("".join(x + "\r\n" for x in cmds))
    raw = b""
    for x in cmds:
        r = c.reply()      # the parser fails on a line without CRLF or bad framing
        raw += r.raw
        last = r.raw.split(b"\r\n")[-2]
        assert re.match(rb"^\d{3} ", last), (x, r)
        if len(r.lines) > 1:
            assert r.lines[0].startswith(f"{r.code}-")
            for inner in r.lines[1:-1]:
                assert not re.match(r"^\d{3}[ -]", inner), (x, inner)
        assert all(len(l.encode()) + 2 <= 8190 for l in r.lines), x
    assert raw.count(b"\n") == raw.count(b"\r\n")
    assert bytes([IAC]) not in raw     # A19: no Telnet negotiation from the server
    assert c.no_data(0.2)


def test_feat_format(server, ctl):
    c = ctl(server)
    r = c.cmd("FEAT")
    assert r.code == 211
    assert r.lines[0].startswith("211-")
    assert r.lines[-1].startswith("211 ")
    for feat in r.lines[1:-1]:
        assert feat.startswith(" ") and not feat.startswith("  "), feat   # RFC 2389 §3.2
    assert " UTF8" in r.lines


def test_long_help_argument_reply_is_bounded(server, ctl):
    c = ctl(server)
    r = c.cmd("HELP " + "x" * 4000)
    assert r.code == 501
    assert all(len(l) <= 8190 for l in r.lines)


# ----------------------------------------------------------------- A5, A6: case

@pytest.mark.parametrize("verb", ["noop", "NoOp", "NOOP", "nOOP"])
def test_verbs_case_insensitive(server, ctl, verb):
    c = ctl(server)
    assert c.cmd(verb).code == 200


def test_type_lowercase(server, ctl):
    c = ctl(server)
    c.login()
    assert c.cmd("type i").code == 200
    assert "TYPE: BINARY" in c.cmd("stat").full
    assert c.cmd("Type a").code == 200
    assert "TYPE: ASCII" in c.cmd("STAT").full
    c.expect("user bob", 331)
    c.expect("pass pw", 230)


def test_mode_stru_type_errors(server, ctl):
    c = ctl(server)
    c.login()
    assert c.cmd("MODE Q").code in (501, 504)
    assert c.cmd("MODE B").code == 504
    assert c.cmd("STRU R").code == 504
    assert c.cmd("TYPE E").code == 504
    assert c.cmd("TYPE X").code == 501
    assert c.cmd("TYPE L 8").code == 200
    assert c.cmd("NOOP").code == 200


# ----------------------------------------------------------------- A7-A9: segmentation, pipelining

def test_command_split_across_segments(server, ctl):
    c = ctl(server)
    for part in (b"NO", b"OP\r"):
        c.send(part)
        assert c.no_data(0.15), "reply before the line was complete"
    c.send(b"\n")
    r = c.reply()
    assert r.code == 200
    assert c.no_data(0.2), "more than one reply"


def test_byte_by_byte(server, ctl):
    c = ctl(server)
    for b in b"USER bob\r\nPASS pw\r\n":
        c.send(bytes([b]))
        time.sleep(0.002)
    assert c.reply().code == 331
    assert c.reply().code == 230


def test_two_commands_in_one_segment(server, ctl):
    c = ctl(server)
    c.send(b"NOOP\r\nSYST\r\n")
    assert c.reply().code == 200
    assert c.reply().code == 215


def test_pipelined_login(server, ctl):
    c = ctl(server)
    c.send(b"USER bob\r\nPASS pw\r\nPWD\r\n")
    assert [c.reply().code for _ in range(3)] == [331, 230, 257]


def test_pipelined_acct_login(server, ctl):
    # lftp sends PASS, ACCT and PWD without waiting.
    c = ctl(server)
    c.send(b"USER acctuser\r\nPASS pw\r\nACCT acct1\r\nPWD\r\nNOOP\r\n")
    assert [c.reply().code for _ in range(5)] == [331, 332, 230, 257, 200]


def test_pipelined_after_failed_login_keeps_order(server, ctl):
    c = ctl(server)
    c.send(b"USER bob\r\nPASS wrong\r\nNOOP\r\nUSER bob\r\nPASS pw\r\nPWD\r\n")
    assert [c.reply().code for _ in range(6)] == [331, 530, 200, 331, 230, 257]


def test_pipelined_then_half_close(server):
    # The client sends everything and shuts its side: every command is still answered.
    s = socket.create_connection((server.host, server.port), timeout=5)
    try:
        s.sendall(b"USER bob\r\nPASS pw\r\nPWD\r\n")
        s.shutdown(socket.SHUT_WR)
        data = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        codes = re.findall(rb"^(\d{3}) ", data, re.M)
        assert codes == [b"220", b"331", b"230", b"257"], data
    finally:
        s.close()


# ----------------------------------------------------------------- A10, A12-A14: odd lines

def test_unknown_verb_after_login_is_500(server, ctl):
    c = ctl(server)
    c.login()
    assert c.cmd("FOOB x").code == 500
    assert c.cmd("FOOBARBAZ").code == 500
    assert c.cmd("NOOP").code == 200


def test_unknown_verb_before_login_is_530(server, ctl):
    # Policy: before login every verb not allowed there gets 530 (no probing of the command set).
    c = ctl(server)
    assert c.cmd("FOOB x").code == 530
    assert c.cmd("NOOP").code == 200


def test_argument_rules(server, ctl):
    c = ctl(server)
    assert c.cmd("NOOP extra").code == 501
    assert c.cmd("USER").code == 501
    assert c.cmd("NOOP ").code == 200     # trailing space, empty argument


def test_overlong_line_500_session_stays(server, ctl):
    c = ctl(server)
    c.send(b"NOOP " + b"x" * 5000 + b"\r\n")
    r = c.reply()
    assert r.code == 500
    assert c.no_data(0.2), "over-long line answered more than once"
    assert c.cmd("NOOP").code == 200
    c.login()


def test_overlong_line_not_split_into_commands(server, ctl):
    # The tail of an over-long line must never run as a command of its own.
    c = ctl(server)
    c.send(b"x" * 4100 + b"QUIT\r\n")
    assert c.reply().code == 500
    assert c.no_data(0.2)
    assert c.cmd("NOOP").code == 200


def test_overlong_line_in_segments(server, ctl):
    c = ctl(server)
    for _ in range(10):
        c.send(b"A" * 1000)
    c.send(b"\r\nNOOP\r\n")
    assert c.reply().code == 500
    assert c.reply().code == 200


def test_line_length_limit_boundary(server, ctl):
    # max_line (default 4096) counts the command without CRLF.
    c = ctl(server)
    ok = b"HELP " + b"y" * (4096 - 5)
    c.send(ok + b"\r\n")
    assert c.reply().code == 501     # not "too long": the HELP handler saw it
    c.send(ok + b"z\r\n")
    assert c.reply().code == 500
    c.send(ok + b"\n")               # bare LF at the limit
    assert c.reply().code == 501


def test_configured_max_line(make_server, ctl):
    srv = make_server({"server": {"max_line": "512"}})
    c = ctl(srv)
    c.send(b"HELP " + b"y" * 507 + b"\r\n")     # 512 bytes
    assert c.reply().code == 501
    c.send(b"HELP " + b"y" * 508 + b"\r\n")     # 513 bytes
    assert c.reply().code == 500
    c.login()


def test_huge_line(server, ctl):
    c = ctl(server)
    c.send(b"N" * 300_000 + b"\r\n")
    assert c.reply(timeout=10).code == 500
    assert c.cmd("NOOP").code == 200


def test_empty_lines_no_reply(server, ctl):
    c = ctl(server)
    c.send(b"\r\n")
    assert c.no_data(0.2)
    c.send(b"\n\r\n")
    assert c.no_data(0.2)
    assert c.cmd("NOOP").code == 200


def test_bare_lf(server, ctl):
    c = ctl(server)
    c.send(b"NOOP\n")
    assert c.reply().code == 200
    c.send(b"USER bob\nPASS pw\nPWD\n")
    assert [c.reply().code for _ in range(3)] == [331, 230, 257]


def test_cr_inside_line_is_refused(server, ctl):
    c = ctl(server)
    c.send(b"NO\rOP\r\n")
    assert c.reply().code == 501
    assert c.cmd("NOOP").code == 200


# ----------------------------------------------------------------- A15-A17: Telnet

def test_iac_will_answered_dont(server, ctl):
    c = ctl(server)
    c.send(bytes([IAC, WILL, 0x01]))
    assert c.read_exact(3) == bytes([IAC, DONT, 0x01])
    assert c.cmd("NOOP").code == 200


def test_iac_do_answered_wont(server, ctl):
    c = ctl(server)
    c.send(bytes([IAC, DO, 0x03]))
    assert c.read_exact(3) == bytes([IAC, WONT, 0x03])
    assert c.cmd("NOOP").code == 200


def test_iac_wont_dont_not_answered(server, ctl):
    c = ctl(server)
    c.send(bytes([IAC, WONT, 0x01, IAC, DONT, 0x03]))
    assert c.no_data(0.2)
    assert c.cmd("NOOP").code == 200


def test_iac_inside_command(server, ctl):
    # Negotiation in the middle of a line is answered and removed from the command.
    c = ctl(server)
    c.send(b"NO" + bytes([IAC, WILL, 0x18]) + b"OP\r\n")
    assert c.read_exact(3) == bytes([IAC, DONT, 0x18])
    assert c.reply().code == 200


def test_iac_ip_dm_then_noop(server, ctl):
    c = ctl(server)
    c.send(bytes([IAC, IP, IAC, DM]) + b"NOOP\r\n")
    assert c.reply().code == 200
    assert c.no_data(0.2), "more than one reply"


def test_iac_subnegotiation_skipped(server, ctl):
    c = ctl(server)
    c.send(bytes([IAC, SB, 0x18, 0x01, ord("x"), IAC, IAC, IAC, SE]) + b"NOOP\r\n")
    assert c.reply().code == 200
    assert c.no_data(0.2)


def test_iac_iac_is_data_byte(server, ctl):
    # USER with an 0xFF byte: IAC IAC is one data byte, the line is not cut there.
    c = ctl(server)
    c.send(b"USER a" + bytes([IAC, IAC]) + b"b\r\n")
    assert c.reply().code == 331
    r = c.cmd("STAT")
    assert r.code == 211


def test_urgent_data_abor_style(server, ctl):
    # lftp/tnftp send IAC IP IAC as normal data and DM as TCP urgent data (SO_OOBINLINE).
    c = ctl(server)
    c.send(bytes([IAC, IP, IAC]))
    c.sock.send(bytes([DM]), socket.MSG_OOB)
    c.send(b"NOOP\r\n")
    assert c.reply().code == 200
    assert c.no_data(0.2)


# ----------------------------------------------------------------- control bytes, garbage

def test_nul_byte_is_501(server, ctl):
    c = ctl(server)
    c.send(b"NO\x00OP\r\n")
    assert c.reply().code == 501
    c.send(b"USER bo\x00b\r\n")
    assert c.reply().code == 501
    assert c.cmd("NOOP").code == 200
    c.login()
    c.send(b"TYPE \x01I\r\n")
    assert c.reply().code == 501


def test_random_garbage_does_not_crash(server):
    rng = random.Random(959)
    alphabet = b"\r\n \xff\x00ABCDEFGHIJKLMNOPQRSTUVWXYZ" + bytes(range(256))
    verbs = [b"USER", b"PASS", b"ACCT", b"NOOP", b"STAT", b"HELP", b"FEAT", b"TYPE", b"OPTS",
             b"REIN", b"MODE", b"STRU", b"PWD", b"SYST", b"CLNT", b"ALLO"]
    for n in range(40):
        s = socket.create_connection((server.host, server.port), timeout=5)
        try:
            s.settimeout(2)
            for _ in range(rng.randint(1, 8)):
                kind = rng.random()
                if kind < 0.4:
                    chunk = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 600)))
                elif kind < 0.8:
                    chunk = rng.choice(verbs) + b" " + bytes(rng.randrange(256) for _ in range(rng.randint(0, 40))) + rng.choice([b"\r\n", b"\n", b""])
                else:
                    chunk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 5000)))
                if b"QUIT" in chunk.upper():
                    continue
                try:
                    s.sendall(chunk)
                except OSError:
                    break
            try:
                s.recv(65536)
            except (socket.timeout, OSError):
                pass
            if n % 3 == 0:   # abortive close (RST) for some
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        finally:
            s.close()
    assert server.alive()
    c = Ctl(server.host, server.port)
    try:
        c.login()
        assert c.cmd("PWD").code == 257
    finally:
        c.close()


def test_disconnect_during_password_check_and_fail_delay(server):
    # The session goes away while its password check runs on the job pool or while its
    # failure-delay timer is armed; the server must free it safely (ASan checks this).
    for i in range(30):
        s = socket.create_connection((server.host, server.port), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pw = b"pw" if i % 2 else b"wrong"
        s.sendall(b"USER bob\r\nPASS " + pw + b"\r\nPWD\r\n")
        if i % 3 == 0:
            time.sleep(0.01)
        if i % 4 == 0:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    time.sleep(0.5)   # let the last checks and delays finish
    assert server.alive()
    c = Ctl(server.host, server.port)
    try:
        c.login()
    finally:
        c.close()


# ----------------------------------------------------------------- limits

def test_client_that_never_reads_is_dropped(server):
    # Output cap: a client sends commands forever and never reads the replies. The server must
    # close it (bounded) instead of queueing replies without limit, and keep serving others.
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(5)
    s.connect((server.host, server.port))
    payload = b"HELP\r\n" * 20000     # ~120 KB in, ~4 MB of replies out
    closed = False
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            try:
                s.sendall(payload)
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            except socket.timeout:
                # The server stopped reading without closing.
                break
        assert closed, "server neither closed the connection nor kept reading within the bound"
    finally:
        s.close()
    server.wait_log(r"does not read its replies", timeout=5)
    c = Ctl(server.host, server.port)
    try:
        c.login()
    finally:
        c.close()


def test_pipelined_flood_behind_pending_effect(server):
    # 20000 NOOPs queued behind a failed PASS (which waits out the failure delay): the server
    # keeps them (or leaves them in the socket) and answers every one, in order.
    n = 20000
    s = socket.create_connection((server.host, server.port), timeout=10)
    got = bytearray()
    done = threading.Event()

    def reader():
        try:
            while not done.is_set():
                chunk = s.recv(65536)
                if not chunk:
                    break
                got.extend(chunk)
                if got.count(b"\r\n") >= n + 4:  # 220, 331, 530, n × 200, 215
                    break
        except OSError:
            pass

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        s.sendall(b"USER bob\r\nPASS wrong\r\n" + b"NOOP\r\n" * n + b"SYST\r\n")
        t.join(30)
        done.set()
        lines = bytes(got).split(b"\r\n")
        codes = [l[:3] for l in lines if l]
        assert codes[:3] == [b"220", b"331", b"530"], codes[:5]
        assert codes[3:] == [b"200"] * n + [b"215"], (len(codes), codes[-3:])
    finally:
        done.set()
        s.close()


def test_max_sessions(make_server):
    srv = make_server({"server": {"max_sessions": "3"}})
    conns = [Ctl(srv.host, srv.port) for _ in range(3)]
    try:
        for c in conns:
            assert c.greeting.code == 220
            c.login()  # a session not logged in would make room for the newcomer (issue 13)
        extra = Ctl(srv.host, srv.port, greet=False)
        try:
            r = extra.reply()
            assert r.code == 421, r
            extra.assert_closed()
        finally:
            extra.close()
        # The refused connection does not use up a slot for good.
        conns[0].cmd("QUIT")
        conns[0].assert_closed()
        conns[0].close()

        def ok():
            c = Ctl(srv.host, srv.port, greet=False)
            try:
                return c.reply().code == 220
            finally:
                c.close()
        # The server counts the session closed asynchronously: bounded retry.
        deadline = time.monotonic() + 3
        while not ok():
            assert time.monotonic() < deadline, "slot not freed after QUIT"
            time.sleep(0.05)
        for c in conns[1:]:
            assert c.cmd("NOOP").code == 200
    finally:
        for c in conns:
            c.close()


def test_many_concurrent_logins(server):
    n = 200
    socks = []
    t0 = time.monotonic()
    try:
        for _ in range(n):
            s = socket.create_connection((server.host, server.port), timeout=10)
            s.setblocking(False)
            socks.append(s)
        for s in socks:
            s.send(b"USER bob\r\nPASS pw\r\nPWD\r\nQUIT\r\n")
        bufs = {s: b"" for s in socks}
        open_ = set(socks)
        deadline = time.monotonic() + 60
        while open_ and time.monotonic() < deadline:
            ready, _, _ = select.select(list(open_), [], [], 1.0)
            for s in ready:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    open_.discard(s)
                else:
                    bufs[s] += chunk
        assert not open_, f"{len(open_)} sessions not finished in time"
        for s, data in bufs.items():
            codes = re.findall(rb"^(\d{3}) ", data, re.M)
            assert codes == [b"220", b"331", b"230", b"257", b"221"], data
    finally:
        for s in socks:
            s.close()
    assert time.monotonic() - t0 < 60


# ----------------------------------------------------------------- A22: QUIT

def test_quit_221_then_close(server, ctl):
    c = ctl(server)
    c.login()
    r = c.cmd("QUIT")
    assert r.code == 221
    c.assert_closed()


def test_commands_after_quit_ignored(server, ctl):
    c = ctl(server)
    c.send(b"QUIT\r\nNOOP\r\nSYST\r\n")
    assert c.reply().code == 221
    c.assert_closed()
