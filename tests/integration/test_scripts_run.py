"""scripts/run (README command 1) starts ferryd in the foreground: it must end by exec'ing ferryd,
so that the SIGTERM sent to the process the user started, or the SIGINT a terminal's Ctrl-C
sends to its process group, reaches ferryd itself (no shell left in between to swallow or
forward it), and ferryd then logs its stop ("stopping: ...", then "ferryd stopped") and exits 0.

The script runs from a copy of scripts/run in a temporary folder laid out like the repository:
scripts/deps.sh and scripts/build.sh there are stand-ins that install and build nothing, and
build/ is the tested build (FERRY_BUILD), so the test neither installs packages nor rebuilds the
tree; everything else (var/, the demo user, the certificate, the SFTP host key, the config) is
the script's own first run. Run as root, the script creates the `ferry` system account if it does
not exist, as README command 1 does. Every wait is bounded; nothing is asserted on durations."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import ASAN_SUPPRESSIONS, REPO, Ctl, free_port, sanitizer_report, wait_until

# scripts/run may add the `ferry` system account (useradd): never while test_traversal.py or
# test_mounts.py hold a snapshot of /etc/passwd to compare, so the three share one xdist worker
# (scripts/test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("etc-passwd")

WAIT = 60.0


@pytest.fixture
def run_copy(ferry_bin):
    d = tempfile.mkdtemp(prefix="ferry-run-", dir="/tmp")
    os.chmod(d, 0o755)  # the service account must reach var/ below it
    os.mkdir(os.path.join(d, "scripts"))
    shutil.copy(os.path.join(REPO, "scripts", "run"), os.path.join(d, "scripts", "run"))
    with open(os.path.join(d, "scripts", "deps.sh"), "w") as f:
        f.write("# stand-in: nothing to install\nFERRY_BUILD_PKGS=()\nferry_install() { :; }\n")
    with open(os.path.join(d, "scripts", "build.sh"), "w") as f:
        f.write("#!/bin/sh\n# stand-in: build/ is the tested build\nexit 0\n")
    os.chmod(os.path.join(d, "scripts", "build.sh"), 0o755)
    os.symlink(ferry_bin.build, os.path.join(d, "build"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def start_run(d):
    """scripts/run in a session of its own (its process group, as a terminal's foreground job);
    returns the process, its output file and the FTP port, once ferryd is ready."""
    port = free_port()
    env = dict(os.environ, FERRY_PORT=str(port), FERRY_FTPS_PORT=str(free_port()),
               FERRY_SFTP_PORT=str(free_port()))
    env["ASAN_OPTIONS"] = "abort_on_error=0:detect_leaks=1:suppressions=" + ASAN_SUPPRESSIONS
    out_path = os.path.join(d, "run.out")
    with open(out_path, "wb") as out:
        p = subprocess.Popen([os.path.join(d, "scripts", "run")], cwd=d, env=env, stdout=out,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def output():
        with open(out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    try:
        wait_until(lambda: "ferryd ready" in output() or p.poll() is not None, WAIT, what="ferryd ready")
    except BaseException:
        p.kill()
        raise
    assert p.poll() is None, output()
    return p, output, port


@pytest.mark.parametrize("how", ["sigterm", "ctrl-c"])
def test_scripts_run_logs_its_stop(run_copy, how):
    p, output, port = start_run(run_copy)
    try:
        # The process the user started is ferryd now, not a shell waiting for it.
        assert os.path.basename(os.readlink(f"/proc/{p.pid}/exe")) == "ferryd"
        c = Ctl("127.0.0.1", port)  # a client still connected: the stop waits for it
        if how == "sigterm":
            os.kill(p.pid, signal.SIGTERM)
        else:
            os.killpg(p.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground job
        wait_until(lambda: re.search(r"info stopping: no new connections; 1 open session\(s\) get until the drain "
                                     r"deadline, in 30\.000 s \(\[server\] drain_timeout\), to finish", output()),
                   WAIT, what="the stopping line")
        assert p.poll() is None
        assert c.cmd("QUIT").code == 221
        c.assert_closed()
        c.close()
        assert p.wait(WAIT) == 0, output()[-3000:]
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(WAIT)
    text = output()
    assert re.search(r"info ferryd stopped\n\Z", text), text[-3000:]
    assert not sanitizer_report(text), text[-3000:]
