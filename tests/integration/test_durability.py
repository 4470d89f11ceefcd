"""[transfer] fsync (issue 15): with `on` (the default) a committed upload is on disk before the
client hears "226": the file is fsync'ed before it is renamed into place, then its directory, and
the 226 goes out only after both; a failed fsync is a 451 with the temporary gone and the old
file intact. With `off` no upload is fsync'ed.

The order is read from an strace of ferryd (-f: the fsyncs run on a job-pool thread, the 226 is
sent by the worker after the job's result came back; -y names each descriptor's file, so the
file's fsync and the directory's can be told apart). The failure comes from strace's own fault
injection (inject=fsync:error=EIO). Nothing here depends on timing: the trace is read after the
replies arrived, and strace writes each line when the call returns."""

import os
import re
import shutil

import pytest

from files_helpers import Session, fresh_dir, put_file

pytestmark = pytest.mark.skipif(shutil.which("strace") is None, reason="strace missing")

TRACE = ["-f", "-qq", "-y", "-s", "64", "-e",
         "trace=fsync,fdatasync,linkat,rename,renameat,renameat2,sendto"]


def traced_server(make_server, tmp_path, fsync=None, inject=None):
    trace = str(tmp_path / "strace.out")
    args = ["strace", "-o", trace, *TRACE]
    config = {}
    if inject:
        # strace counts an injection's "when" per thread: one job thread and one I/O thread (the
        # fsyncs' own, [server] io_jobs), so the first fsync of the server is the only one that
        # fails.
        args += ["-e", inject]
        config["server"] = {"jobs": "1", "io_jobs": "1"}
    if fsync:
        config["transfer"] = {"fsync": fsync}
    return make_server(config=config or None, wrapper=args), trace


def calls(trace):
    """The trace's lines, an interrupted call ("<unfinished ...>") joined with its end so that
    each call is one line at the place where it returned."""
    out, pending = [], {}
    with open(trace) as f:
        for line in f:
            m = re.match(r"(\d+)\s+(.*)", line.rstrip("\n"))
            if not m:
                continue
            pid, text = m.groups()
            if text.endswith("<unfinished ...>"):
                pending[pid] = text[: -len("<unfinished ...>")]
                continue
            r = re.match(r"<\.\.\. \w+ resumed>(.*)", text)
            if r and pid in pending:
                text = pending.pop(pid) + r.group(1)
            out.append(text)
    return out


def index_of(lines, pattern, start=0):
    for i in range(start, len(lines)):
        if re.search(pattern, lines[i]):
            return i
    return None


def reply_sent(lines, code, start=0):
    return index_of(lines, r'^sendto\(\d+<[^>]*>, "%d ' % code, start)


def test_fsync_on_file_then_rename_then_directory_then_226(make_server, tmp_path, request):
    srv, trace = traced_server(make_server, tmp_path)
    path, vdir = fresh_dir(srv, request, "dur")
    put_file(os.path.join(path, "f.bin"), b"old content\n")
    s = Session(srv)
    s.stor(f"{vdir}/f.bin", b"new content, durable\n")
    s.expect("NOOP", 200)
    s.close()
    with open(os.path.join(path, "f.bin"), "rb") as f:
        assert f.read() == b"new content, durable\n"
    lines = calls(trace)
    opened = reply_sent(lines, 150)
    assert opened is not None, lines[-40:]
    # The upload's file: an unnamed O_TMPFILE in the directory ("/#123>(deleted)" in -y's
    # form) or a named ".ferry-upload." temporary.
    tmp_in_dir = re.escape(path) + r"/(#\d+>\(deleted\)|\.ferry-upload\.[0-9a-f]+>)"
    f_sync = index_of(lines, r"^f(data)?sync\(\d+<" + tmp_in_dir + r"\) = 0", opened)
    assert f_sync is not None, "no fsync of the upload's file:\n" + "\n".join(lines[opened:])
    renamed = index_of(lines, r'^rename(at2?)?\(.*"f\.bin".*\) = 0', opened)
    assert renamed is not None and renamed > f_sync, "\n".join(lines[opened:])
    d_sync = index_of(lines, r"^fsync\(\d+<" + re.escape(path) + r">\) = 0", renamed)
    assert d_sync is not None, "no fsync of the directory after the rename:\n" + "\n".join(lines[opened:])
    done = reply_sent(lines, 226, opened)
    assert done is not None and done > d_sync, "\n".join(lines[opened:])


def test_fsync_on_append_in_place(make_server, tmp_path, request):
    """APPE writes in place: the file and its directory are synced before the 226 too."""
    srv, trace = traced_server(make_server, tmp_path)
    path, vdir = fresh_dir(srv, request, "dur")
    put_file(os.path.join(path, "log.txt"), b"one\n")
    s = Session(srv)
    s.stor(f"{vdir}/log.txt", b"two\n", verb="APPE")
    s.close()
    with open(os.path.join(path, "log.txt"), "rb") as f:
        assert f.read() == b"one\ntwo\n"
    lines = calls(trace)
    opened = reply_sent(lines, 150)
    f_sync = index_of(lines, r"^fsync\(\d+<" + re.escape(os.path.join(path, "log.txt")) + r">\) = 0", opened)
    assert f_sync is not None, "\n".join(lines[opened:])
    d_sync = index_of(lines, r"^fsync\(\d+<" + re.escape(path) + r">\) = 0", f_sync)
    done = reply_sent(lines, 226, opened)
    assert d_sync is not None and done is not None and f_sync < d_sync < done, "\n".join(lines[opened:])


def test_fsync_off_syncs_nothing(make_server, tmp_path, request):
    srv, trace = traced_server(make_server, tmp_path, fsync="off")
    path, vdir = fresh_dir(srv, request, "dur")
    s = Session(srv)
    s.stor(f"{vdir}/a.bin", b"a" * 100000)
    s.stor(f"{vdir}/b.bin", b"b\n", verb="APPE")
    s.close()
    with open(os.path.join(path, "a.bin"), "rb") as f:
        assert f.read() == b"a" * 100000
    lines = calls(trace)
    assert reply_sent(lines, 226) is not None, lines[-20:]
    synced = [l for l in lines if re.match(r"f(data)?sync\(", l) and srv.home_root in l]
    assert synced == [], synced


def test_failed_fsync_is_451_and_keeps_the_old_file(make_server, tmp_path, request):
    """ferryd's first fsync fails (strace's fault injection cannot name a file, but the upload's
    is the first fsync of this server's life: the login does not write the store). The reply is
    451, the old file is untouched, no temporary stays, and the session goes on: the next upload
    succeeds."""
    srv, trace = traced_server(make_server, tmp_path, inject="inject=fsync:error=EIO:when=1")
    path, vdir = fresh_dir(srv, request, "dur")
    put_file(os.path.join(path, "f.bin"), b"the old file\n")
    s = Session(srv)
    r1, r2 = s.stor(f"{vdir}/f.bin", b"x" * 5000, expect_code=451)
    # The errno ferryd sees is strace's EIO, or ENOSYS where the sandbox's seccomp filter meets
    # the injection's skipped call first: a failed fsync either way.
    assert r2.text.startswith("Local error: "), r2
    with open(os.path.join(path, "f.bin"), "rb") as f:
        assert f.read() == b"the old file\n"
    assert sorted(os.listdir(path)) == ["f.bin"], os.listdir(path)
    s.expect("NOOP", 200)
    s.stor(f"{vdir}/g.bin", b"after\n")
    s.close()
    with open(os.path.join(path, "g.bin"), "rb") as f:
        assert f.read() == b"after\n"
    lines = calls(trace)
    failed = index_of(lines, r"^fsync\(.*\) = -1 .*\(INJECTED\)")
    assert failed is not None, lines[-30:]
    assert index_of(lines, r'^rename(at2?)?\(.*"f\.bin"') is None, "the failed upload was renamed into place"
