"""Client compatibility (issue 13, items 11, 12, 13, 16) with real clients against the real
ferryd: file names with TAB (ftplib, lftp mirror, aioftp), server-side globbing for NLST/LIST
(tnftp mget, curl), SITE CHMOD / SITE HELP (lftp chmod, lftp mirror -R) and MFF as ncftp sends it.
Every subprocess has a timeout; files are compared byte for byte."""

import asyncio
import ftplib
import io
import os
import random
import re
import stat
import urllib.parse

import pytest

from files_helpers import Session, fresh_dir, make_dir, put_file, read_bytes
from test_clients_files import client_env, need, ok, run  # noqa: F401 (client_env: a fixture)

TIMEOUT = 60
RNG = random.Random(1316)


@pytest.fixture
def wd(server, request):
    return fresh_dir(server, request, "co_")


def lftp(server, env, script, cwd, timeout=TIMEOUT):
    need("lftp")
    pre = ("set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 10; "
           "set cmd:fail-exit yes; set xfer:log no; "
           f"open -u bob,pw ftp://{server.host}:{server.port}; ")
    return run(["lftp", "-d", "-c", pre + script], env, cwd=cwd, timeout=timeout)


def ftp_login(server):
    f = ftplib.FTP()
    f.connect(server.host, server.port, timeout=10)
    f.encoding = "utf-8"
    f.login("bob", "pw")
    return f


def tree_of(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames:
            out[os.path.relpath(os.path.join(dirpath, n), root)] = "DIR"
        for n in filenames:
            out[os.path.relpath(os.path.join(dirpath, n), root)] = read_bytes(os.path.join(dirpath, n))
    return out


def write_tree(root, files):
    for rel, data in files.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)


def expected(files):
    out = dict(files)
    for rel in files:
        d = os.path.dirname(rel)
        while d:
            out[d] = "DIR"
            d = os.path.dirname(d)
    return out


# ------------------------------------------------------------------ item 16: TAB in names

TAB_NAME = "a\tb.txt"


def test_tab_name_ftplib_upload_download_and_listings(server, wd):
    p, v = wd
    body = RNG.randbytes(5000)
    f = ftp_login(server)
    try:
        f.cwd(v)
        assert f.storbinary(f"STOR {TAB_NAME}", io.BytesIO(body)).startswith("226")
        assert read_bytes(os.path.join(p, TAB_NAME)) == body
        got = io.BytesIO()
        assert f.retrbinary(f"RETR {TAB_NAME}", got.write).startswith("226")
        assert got.getvalue() == body
        assert f.nlst() == [TAB_NAME]
        facts = dict(f.mlsd())
        assert set(facts) == {TAB_NAME} and facts[TAB_NAME]["size"] == "5000"
        lines = []
        f.retrlines("LIST", lines.append)
        assert len(lines) == 1 and lines[0].endswith(" " + TAB_NAME), lines
        # MKD/PWD echo the name inside the 257 quotes as it is.
        assert f.mkd("d\te") == f"{v}/d\te"
        f.cwd("d\te")
        assert f.pwd() == f"{v}/d\te"
        assert f.sendcmd(f"MLST /{v[1:]}/{TAB_NAME}").splitlines()[1].endswith("; " + v + "/" + TAB_NAME)
    finally:
        f.close()


def test_tab_name_lftp_mirror_both_ways(server, wd, client_env):
    env, work = client_env
    p, v = wd
    files = {TAB_NAME: RNG.randbytes(3000), "dir\twith tab/inner\tfile.bin": RNG.randbytes(70000),
             "plain.txt": b"plain\n"}
    write_tree(os.path.join(work, "local"), files)
    ok(lftp(server, env, f'mirror -R local "{v}/remote"; mirror "{v}/remote" back', work))
    assert tree_of(os.path.join(p, "remote")) == expected(files)
    assert tree_of(os.path.join(work, "back")) == expected(files)


def test_tab_name_aioftp_uploads_a_tree(server, wd, client_env):
    aioftp = pytest.importorskip("aioftp")
    _, work = client_env
    p, v = wd
    files = {"top.txt": b"top\n", "sub\tdir/x\ty.bin": RNG.randbytes(20000), "sub\tdir/plain": b"p"}
    local = os.path.join(work, "tree")
    write_tree(local, files)

    async def upload():
        async with aioftp.Client.context(server.host, server.port, "bob", "pw",
                                         socket_timeout=10, encoding="utf-8") as client:
            # aioftp names a tree's entries relative to the working directory.
            await client.change_directory(v)
            await client.upload(local, "up", write_into=True)
            names = sorted(str(path) for path, info in (await client.list(v + "/up", recursive=True)))
        return names

    names = asyncio.run(asyncio.wait_for(upload(), TIMEOUT))
    assert tree_of(os.path.join(p, "up")) == expected(files)
    assert names == sorted(f"{v}/up/{rel}" for rel in expected(files)), names


# ------------------------------------------------------------------ item 13: MFF as ncftp sends it

def test_ncftpput_sets_the_time_with_mff(server, wd, client_env):
    """ncftpput preserves the upload's time with "MFF Modify=t;Create=t name" (no trailing ';',
    a Create fact the server cannot set): answered 213, so ncftp does not fall back to MFMT."""
    need("ncftpput")
    env, work = client_env
    p, v = wd
    body = RNG.randbytes(40000)
    local = os.path.join(work, "up.bin")
    with open(local, "wb") as f:
        f.write(body)
    os.utime(local, (1620284889, 1620284889))  # 2021-05-06 07:08:09 UTC
    log = os.path.join(work, "ncftp.log")
    ok(run(["ncftpput", "-d", log, "-t", "20", "-u", "bob", "-p", "pw", "-P", str(server.port),
            server.host, v, local], env, cwd=work))
    assert read_bytes(os.path.join(p, "up.bin")) == body
    assert int(os.stat(os.path.join(p, "up.bin")).st_mtime) == 1620284889
    text = read_bytes(log).decode(errors="replace")
    lines = [l.split("  ", 1)[-1] for l in text.splitlines()]
    mff = [i for i, l in enumerate(lines) if re.fullmatch(r"Cmd: MFF Modify=20210506070809;Create=\d{14} up.bin", l)]
    assert len(mff) == 1, text[-3000:]
    i = mff[0]
    assert lines[i + 1].startswith("213: "), lines[i:i + 2]
    assert not [l for l in lines if l.startswith("Cmd: MFMT")], text


# ------------------------------------------------------------------ item 12: SITE CHMOD

def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_lftp_chmod(server, wd, client_env):
    env, work = client_env
    p, v = wd
    put_file(os.path.join(p, "f"), b"data\n", mode=0o644)
    put_file(os.path.join(p, "g h"), b"gh\n", mode=0o600)
    cp = ok(lftp(server, env, f'cd "{v}"; chmod 640 f; chmod 755 "g h"', work))
    assert mode_of(os.path.join(p, "f")) == 0o640
    assert mode_of(os.path.join(p, "g h")) == 0o755
    assert b"SITE CHMOD 640 f" in cp.stderr and b"<--- 200 " in cp.stderr
    # a missing file: lftp reports the 550 and exits non-zero
    cp = lftp(server, env, f'cd "{v}"; chmod 600 nosuch', work)
    assert cp.returncode != 0 and b"<--- 550 " in cp.stderr, cp.stderr[-2000:]


def test_lftp_mirror_upload_sets_modes(server, wd, client_env):
    """lftp mirror -R sends SITE CHMOD after each upload whose mode is not the default; the
    mirror exits 0, every file lands byte-exact with the mode lftp asked for."""
    env, work = client_env
    p, v = wd
    files = {"a.txt": b"a\n" * 100, "private.bin": RNG.randbytes(30000), "sub/run.sh": b"#!/bin/sh\n",
             "sub/deeper/x.txt": RNG.randbytes(1000)}
    modes = {"a.txt": 0o644, "private.bin": 0o600, "sub/run.sh": 0o750, "sub/deeper/x.txt": 0o640}
    local = os.path.join(work, "local")
    write_tree(local, files)
    for rel, m in modes.items():
        os.chmod(os.path.join(local, rel), m)
    cp = ok(lftp(server, env, f'mirror -R local "{v}/remote"', work))
    assert tree_of(os.path.join(p, "remote")) == expected(files)
    assert {rel: mode_of(os.path.join(p, "remote", rel)) for rel in modes} == modes
    chmods = [l for l in cp.stderr.decode(errors="replace").splitlines() if l.startswith("---> SITE CHMOD")]
    assert chmods, cp.stderr[-3000:]


# ------------------------------------------------------------------ item 11: NLST/LIST patterns

def tnftp_script(server, env, script, cwd, timeout=TIMEOUT):
    """tnftp -n driven by a script on stdin (user, prompt off, ...)."""
    need("tnftp")
    return run(["tnftp", "-n", "-v", server.host, str(server.port)], env, cwd=cwd,
               input=(f"user bob pw\nprompt off\nbinary\n{script}bye\n").encode(), timeout=timeout)


def test_tnftp_mget_pattern(server, wd, client_env):
    """tnftp's mget expands the pattern with "NLST g*.txt" on the server: exactly the matching
    files arrive, byte for byte; a pattern in a subdirectory keeps its directory part."""
    env, work = client_env
    p, v = wd
    bodies = {n: RNG.randbytes(RNG.randrange(1, 100000)) for n in
              ("g1.txt", "g2.txt", "g10.txt", "h.txt", "g1.bin", ".g3.txt", "sub/g4.txt", "sub/x.c")}
    for n, b in bodies.items():
        put_file(os.path.join(p, n), b)
    os.mkdir(os.path.join(work, "sub"))
    cp = ok(tnftp_script(server, env, f"cd {v}\nmget g*.txt\nmget sub/*.c\nmget nomatch*\n", work))
    got = {os.path.relpath(os.path.join(d, n), work): read_bytes(os.path.join(d, n))
           for d, _, fs in os.walk(work) for n in fs}
    want = {n: bodies[n] for n in ("g1.txt", "g2.txt", "g10.txt", "sub/x.c")}
    assert got == want, (sorted(got), cp.stdout[-2000:])


def test_curl_nlst_pattern(server, wd, client_env):
    """curl does not send a URL's pattern to the server (it CWDs into the directory and sends a
    bare NLST, and --ftp-method nocwd sends only the directory), so the pattern goes as a custom
    listing command: exact matches with the directory part, and no match is an empty success."""
    need("curl")
    env, _ = client_env
    p, v = wd
    for n in ("a1.txt", "a2.txt", "b.c", "sub dir/c.txt"):
        put_file(os.path.join(p, n), n.encode())
    base = ["curl", "-s", "-S", "--max-time", "20", "-u", "bob:pw", "--list-only"]
    url = f"ftp://{server.host}:{server.port}{urllib.parse.quote(v)}/"
    cp = ok(run(base + ["-X", "NLST *.txt", url], env))
    # (curl turns the TYPE A listing's CRLFs into LFs)
    assert sorted(cp.stdout.split(b"\n")) == [b"", b"a1.txt", b"a2.txt"], cp.stdout
    cp = ok(run(base + ["-X", "NLST sub dir/?.txt", url], env))
    assert cp.stdout == b"sub dir/c.txt\n"
    cp = ok(run(base + ["-X", "NLST *.zip", url], env))   # 450: "no matching files"
    assert cp.stdout == b""
    cp = ok(run(["curl", "-s", "-S", "--max-time", "20", "-u", "bob:pw", "-X", "LIST ?1.txt", url], env))
    assert cp.stdout.endswith(b" a1.txt\n") and cp.stdout.count(b"\n") == 1, cp.stdout


def test_pathological_pattern_on_2000_entries(server, wd):
    """*a*a*a*a*a*a*a*a*b against 2,000 long names: the matcher's work is bounded (see
    tests/unit/test_wildmat.c for the step count), so the answer comes within the control
    connection's ordinary timeout; the one matching name is found."""
    p, v = wd
    d = os.path.join(p, "many")
    make_dir(d)
    for i in range(2000):
        open(os.path.join(d, "a" * 240 + "%05d" % i), "wb").close()
    open(os.path.join(d, "a" * 200 + "b"), "wb").close()
    s = Session(server, cwd=v + "/many")
    try:
        s.pasv()
        r = s.expect("NLST *a*a*a*a*a*a*a*a*c", 450)
        assert r.text == "No files match that pattern."
        data = s.list_data("NLST", "*a*a*a*a*a*a*a*a*b")
        assert data == ("a" * 200 + "b\r\n").encode()
        s.expect("NOOP", 200)
    finally:
        s.close()


def test_site_chmod_needs_write_permission(server):
    """A user without the write permission cannot change modes (SITE CHMOD as MFF UNIX.mode);
    a user without list permission gets no pattern listing either."""
    from test_fs import ensure_user
    home = ensure_user(server, "ro_chmod", "read,list")
    put_file(os.path.join(home, "f"), b"F", mode=0o644)
    s = Session(server, user="ro_chmod")
    try:
        assert s.cmd("SITE CHMOD 600 f").lines == ["550 Permission denied."]
        assert s.cmd("MFF UNIX.mode=600 f").lines == ["550 Permission denied."]
        assert s.list_data("NLST", "?") == b"f\r\n"
    finally:
        s.close()
    assert mode_of(os.path.join(home, "f")) == 0o644
    home = ensure_user(server, "nolist_glob", "read,write")
    put_file(os.path.join(home, "g1"), b"g")
    s = Session(server, user="nolist_glob")
    try:
        s.pasv()
        assert s.cmd("NLST g*").lines == ["550 Permission denied."]
    finally:
        s.close()
