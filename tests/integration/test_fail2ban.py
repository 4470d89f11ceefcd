"""packaging/fail2ban/filter.d/ferry.conf against a log written by the real ferryd.

Failed logins over IPv4 and IPv6 (wrong password, unknown user, wrong ACCT), successful logins,
and USER names crafted to carry a fake "ip=6.6.6.6" field: fail2ban-regex must match exactly the
failed logins, each with the address the connection really came from, and never 6.6.6.6."""

import os
import re
import shutil
import socket
import subprocess

import pytest

from conftest import REPO, Ctl, free_port, ipv6_loopback_available

FILTER = os.path.join(REPO, "packaging", "fail2ban", "filter.d", "ferry.conf")
JAIL = os.path.join(REPO, "packaging", "fail2ban", "jail.d", "ferry.conf")
FAKE = "6.6.6.6"

pytestmark = pytest.mark.skipif(shutil.which("fail2ban-regex") is None,
                                reason="fail2ban-regex missing (Debian package fail2ban; scripts/deps.sh)")


def f2b(logfile, out=None):
    args = ["fail2ban-regex"]
    if out:
        args += ["-o", out]
    cp = subprocess.run(args + [logfile, FILTER], capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    return cp.stdout


def matched_ips(logfile):
    return f2b(logfile, "ip").split()


def fail_login(c, user, password="wrong"):
    c.expect(f"USER {user}", 331)
    c.expect(f"PASS {password}", 530)


@pytest.fixture
def failed_log(make_server, tmp_path):
    """Runs ferryd on 127.0.0.1 and ::1, produces known failures; returns (log copy, expected ips)."""
    if not ipv6_loopback_available():
        pytest.skip("no IPv6 loopback")
    p4, p6 = free_port(), free_port(socket.AF_INET6, "::1")
    srv = make_server(listen=f"127.0.0.1:{p4}, [::1]:{p6}")
    expected = []
    c4 = srv.connect()
    fail_login(c4, "bob")                       # wrong password
    fail_login(c4, "nosuchuser")                # unknown user: same reason, same line
    expected += ["127.0.0.1"] * 2
    c4.close()
    c6 = Ctl("::1", p6, family=socket.AF_INET6)
    fail_login(c6, "bob")
    # A user who needs ACCT: right password, wrong account.
    c6.expect("USER acctuser", 331)
    c6.expect("PASS pw", 332)
    c6.expect("ACCT wrong", 530)
    expected += ["::1"] * 2
    c6.close()
    # Injection attempts: the name carries a fake address, with and without a quote.
    c = srv.connect()
    fail_login(c, f'x" ip={FAKE} reason=bad-credentials')
    fail_login(c, f"y ip={FAKE}")
    expected += ["127.0.0.1"] * 2
    c.close()
    # Successful logins must not match, even with the fake address in a password.
    for host, port, fam in (("127.0.0.1", p4, socket.AF_INET), ("::1", p6, socket.AF_INET6)):
        c = Ctl(host, port, family=fam)
        c.login("bob", "pw")
        c.close()
    srv.wait_log(r"login failed: ", count=len(expected))
    srv.wait_log(r"login ok: ", count=2)
    # One read: the file fail2ban-regex reads and the text its line count is
    # checked against must be the same bytes (a second read could already
    # hold the last session's disconnect line).
    text = srv.log()
    log = tmp_path / "ferryd.log"
    log.write_text(text)
    return str(log), expected, text


def test_filter_matches_exactly_the_failed_logins(failed_log):
    log, expected, text = failed_log
    # The daemon really logged the injection attempt escaped, with the fake address inside user="...".
    assert f'user="x\\x22 ip={FAKE} reason=bad-credentials" ip=127.0.0.1 reason=bad-credentials' in text
    assert f'user="y ip={FAKE}" ip=127.0.0.1 reason=bad-credentials' in text
    assert "reason=bad-account" in text
    assert matched_ips(log) == expected
    assert FAKE not in matched_ips(log)
    out = f2b(log)
    n_lines = len(text.splitlines())
    assert f"Lines: {n_lines} lines, 0 ignored, {len(expected)} matched, {n_lines - len(expected)} missed" in out, out


def test_filter_matches_syslog_and_journal_prefixes(failed_log, tmp_path):
    """The same events as [log] target = syslog writes them to a file, and as the journal
    shows ferryd's stderr: the real lines, re-prefixed."""
    _, expected, text = failed_log
    rx = re.compile(r"^(\S+)Z ferryd\[(\d+)\]: (.*)$")
    syslog, journal = [], []
    for line in text.splitlines():
        m = rx.match(line)
        assert m, line
        syslog.append(f"Nov 24 09:47:54 ftphost ferryd[{m.group(2)}]: {m.group(3)}")
        journal.append(f"Nov 24 09:47:54 ftphost ferryd[{m.group(2)}]: {line}")
    for name, lines in (("syslog", syslog), ("journal", journal)):
        p = tmp_path / name
        p.write_text("\n".join(lines) + "\n")
        assert matched_ips(str(p)) == expected, name


def test_filter_ignores_other_lines(tmp_path):
    p = tmp_path / "other.log"
    p.write_text(
        '2026-11-24T09:47:54.123Z ferryd[1]: info session=1 login ok: user="bob" ip=1.2.3.4\n'
        '2026-11-24T09:47:54.123Z ferryd[1]: info session=1 connect: ip=1.2.3.4\n'
        '2026-11-24T09:47:54.123Z ferryd[1]: warn session=1 login failed: user="a" ip=1.2.3.4 reason=x y\n'
        '2026-11-24T09:47:54.123Z sshd[1]: warn session=1 login failed: user="a" ip=1.2.3.4 reason=x\n'
        '2026-11-24T09:47:54.123Z ferryd[1]: warn session=1 login failed: user="a" ip=1.2.3.4 reason=bad-credentials\n')
    assert matched_ips(str(p)) == ["1.2.3.4"]


def test_jail_example_names_the_filter():
    text = open(JAIL).read()
    assert re.search(r"^filter\s*=\s*ferry$", text, re.M)
    assert re.search(r"^\[ferry\]$", text, re.M)
