"""Real clients moving files through the real ferryd (PROTOCOL.md checklist K 195-199, G.147;
issue 3: lftp mirror both ways, curl download/upload/resume/--ftp-create-dirs/-l/-Q/-I/active,
wget -r, Python ftplib, tnftp). Every subprocess has a timeout; trees are compared byte for byte."""

import ftplib
import io
import os
import random
import shutil
import subprocess
import tempfile
import urllib.parse

import pytest

from files_helpers import (chown_svc, fresh_dir, make_dir, put_file, read_bytes,
                           text_1000)

TIMEOUT = 60
RNG = random.Random(199)


def need(tool):
    path = shutil.which(tool)
    if not path:
        pytest.skip(f"{tool} is not installed")
    return path


def run(args, env, cwd=None, input=None, timeout=TIMEOUT):
    cp = subprocess.run(args, capture_output=True, env=env, cwd=cwd, timeout=timeout,
                        input=input, stdin=None if input is not None else subprocess.DEVNULL)
    return cp


def ok(cp):
    assert cp.returncode == 0, (f"{cp.args!r} exited {cp.returncode}\nstdout: {cp.stdout[-3000:]!r}\n"
                                f"stderr: {cp.stderr[-3000:]!r}")
    return cp


@pytest.fixture
def client_env():
    """A temporary HOME (no rc files, no proxies), a UTF-8 locale, and a scratch directory."""
    d = tempfile.mkdtemp(prefix="ferry-it-client-")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LFTP", "CURL", "FTP", "WGET")) and "proxy" not in k.lower()}
    env.update(HOME=d, LC_ALL="C.UTF-8", LANG="C.UTF-8")
    work = os.path.join(d, "work")
    os.mkdir(work)
    yield env, work
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def wd(server, request):
    return fresh_dir(server, request, "cl_")


def url(server, vpath=""):
    return f"ftp://{server.host}:{server.port}" + urllib.parse.quote(vpath)


# ----------------------------------------------------------------------------- trees

TREE = {
    "a.txt": text_1000(),
    "with space.txt": b"space\n",
    " lead and trail ": b"spaces around\n",
    "-dash.txt": b"dash\n",
    "semi;colon.txt": b"semi\n",
    "dir one/nested two/deep file.bin": RNG.randbytes(200000),
    "dir one/nested two/empty.bin": b"",
    "dir one/x.txt": b"x\n" * 500,
    "ünïcödé/日本語 ファイル.txt": "こんにちは\n".encode(),
    "ünïcödé/sub dir/Grüße.bin": RNG.randbytes(70000),
    "big/blob.bin": RNG.randbytes(3 << 20),
}
EMPTY_DIRS = ["empty dir", "dir one/nested two/also empty"]


def make_tree(root, files=TREE, empty_dirs=EMPTY_DIRS, svc=True):
    os.makedirs(root, exist_ok=True)
    if svc:
        chown_svc(root)
    for rel, data in files.items():
        put_file(os.path.join(root, rel), data, owner_svc=svc)
    for rel in empty_dirs:
        p = os.path.join(root, rel)
        os.makedirs(p, exist_ok=True)
        if svc:
            chown_svc(p)


def set_file_mtimes(root, when=1620284889):   # 2021-05-06 07:08:09 UTC
    for dirpath, _, filenames in os.walk(root):
        for n in filenames:
            os.utime(os.path.join(dirpath, n), (when, when))


def file_mtimes(root):
    return {os.path.relpath(os.path.join(d, n), root): int(os.stat(os.path.join(d, n)).st_mtime)
            for d, _, fs in os.walk(root) for n in fs}


def tree_of(root, skip=(".listing",)):
    """{relpath: bytes or 'DIR'} of everything below root."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames:
            out[os.path.relpath(os.path.join(dirpath, n), root)] = "DIR"
        for n in filenames:
            if n in skip:
                continue
            out[os.path.relpath(os.path.join(dirpath, n), root)] = read_bytes(os.path.join(dirpath, n))
    return out


def expected_tree(files=TREE, empty_dirs=EMPTY_DIRS):
    out = {}
    for rel, data in files.items():
        out[rel] = data
        d = os.path.dirname(rel)
        while d:
            out[d] = "DIR"
            d = os.path.dirname(d)
    for rel in empty_dirs:
        d = rel
        while d:
            out[d] = "DIR"
            d = os.path.dirname(d)
    return out


def assert_same_tree(got, want):
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    differ = sorted(k for k in set(got) & set(want) if got[k] != want[k])
    assert not (missing or extra or differ), f"missing {missing}, extra {extra}, differ {differ}"


# ----------------------------------------------------------------------------- lftp

def lftp(server, env, script, cwd, timeout=TIMEOUT):
    need("lftp")
    pre = ("set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 10; "
           "set cmd:fail-exit yes; set xfer:log no; "
           f"open -u bob,pw ftp://{server.host}:{server.port}; ")
    return run(["lftp", "-c", pre + script], env, cwd=cwd, timeout=timeout)


def test_lftp_mirror_download(server, wd, client_env):
    env, work = client_env
    p, v = wd
    make_tree(os.path.join(p, "remote"))
    set_file_mtimes(os.path.join(p, "remote"))
    ok(lftp(server, env, f'mirror "{v}/remote" local', work))
    assert_same_tree(tree_of(os.path.join(work, "local")), expected_tree())
    # modification times come across (MLSD modify facts)
    assert set(file_mtimes(os.path.join(work, "local")).values()) == {1620284889}


def test_lftp_mirror_upload(server, wd, client_env):
    env, work = client_env
    p, v = wd
    make_tree(os.path.join(work, "local"), svc=False)
    set_file_mtimes(os.path.join(work, "local"))
    ok(lftp(server, env, f'mirror -R local "{v}/remote"', work))
    assert_same_tree(tree_of(os.path.join(p, "remote")), expected_tree())
    # K.198: uploaded modification times preserved (lftp sends MFMT when FEAT lists it)
    assert set(file_mtimes(os.path.join(p, "remote")).values()) == {1620284889}
    # a second mirror -R has nothing to do
    cp = ok(lftp(server, env, f'mirror -R -v local "{v}/remote"', work))
    assert b"Transferring" not in cp.stdout, cp.stdout
    assert not [n for _, _, fs in os.walk(p) for n in fs if n.startswith(".ferry-upload.")]


def test_lftp_mirror_round_trip_active_mode(server, wd, client_env):
    env, work = client_env
    p, v = wd
    make_tree(os.path.join(work, "local"), svc=False)
    ok(lftp(server, env, f'set ftp:passive-mode off; mirror -R local "{v}/up"; mirror "{v}/up" back', work))
    assert_same_tree(tree_of(os.path.join(p, "up")), expected_tree())
    assert_same_tree(tree_of(os.path.join(work, "back")), expected_tree())


def test_lftp_get_put_resume_and_mv(server, wd, client_env):
    env, work = client_env
    p, v = wd
    body = RNG.randbytes(1 << 20)
    put_file(os.path.join(p, "remote.bin"), body)
    # get -c completes a partial local file
    with open(os.path.join(work, "remote.bin"), "wb") as f:
        f.write(body[:300000])
    ok(lftp(server, env, f'cd "{v}"; get -c remote.bin', work))
    assert read_bytes(os.path.join(work, "remote.bin")) == body
    # put -c completes a partial remote file
    local = RNG.randbytes(700000)
    with open(os.path.join(work, "up.bin"), "wb") as f:
        f.write(local)
    put_file(os.path.join(p, "up.bin"), local[:250000])
    ok(lftp(server, env, f'cd "{v}"; put -c up.bin', work))
    assert read_bytes(os.path.join(p, "up.bin")) == local
    # mv (RNFR/RNTO), mkdir, rm, rmdir
    ok(lftp(server, env, f'cd "{v}"; mv up.bin "renamed file.bin"; mkdir "new dir"; rm remote.bin; '
                         f'mkdir gone; rmdir gone', work))
    assert sorted(os.listdir(p)) == ["new dir", "renamed file.bin"]
    assert read_bytes(os.path.join(p, "renamed file.bin")) == local


def test_lftp_ls_and_cls(server, wd, client_env):
    env, work = client_env
    p, v = wd
    make_tree(os.path.join(p, "t"))
    cp = ok(lftp(server, env, f'cd "{v}/t"; cls -1; cls -1 "dir one"', work))
    out = cp.stdout.decode()
    for name in ("a.txt", "with space.txt", "-dash.txt", "ünïcödé/", "dir one/", "nested two/", "x.txt"):
        assert name in out, out


# ----------------------------------------------------------------------------- curl

def curl(env, *args, cwd=None, timeout=TIMEOUT):
    need("curl")
    return run(["curl", "-sS", "--max-time", str(timeout - 5), "-u", "bob:pw", *args], env, cwd=cwd,
               timeout=timeout)


def test_curl_download_and_upload(server, wd, client_env):
    env, work = client_env
    p, v = wd
    body = RNG.randbytes(500000)
    put_file(os.path.join(p, "f with space.bin"), body)
    out = os.path.join(work, "out")
    ok(curl(env, url(server, f"{v}/f with space.bin"), "-o", out))
    assert read_bytes(out) == body
    up = os.path.join(work, "ü upload.bin")
    with open(up, "wb") as f:
        f.write(RNG.randbytes(123456))
    ok(curl(env, "-T", up, url(server, f"{v}/")))
    assert read_bytes(os.path.join(p, "ü upload.bin")) == read_bytes(up)
    # upload to an explicit name, replacing
    ok(curl(env, "-T", up, url(server, f"{v}/f with space.bin")))
    assert read_bytes(os.path.join(p, "f with space.bin")) == read_bytes(up)


def test_curl_resume_download(server, wd, client_env):
    """G.147: curl -C - (SIZE, REST n, RETR) completes a partial file byte for byte."""
    env, work = client_env
    p, v = wd
    body = RNG.randbytes(2 << 20)
    put_file(os.path.join(p, "f"), body)
    out = os.path.join(work, "f")
    with open(out, "wb") as f:
        f.write(body[:777777])
    ok(curl(env, "-C", "-", "-o", out, url(server, f"{v}/f")))
    assert read_bytes(out) == body
    # explicit offset
    out2 = os.path.join(work, "tail")
    ok(curl(env, "-C", "1000000", "-o", out2, url(server, f"{v}/f")))
    assert read_bytes(out2) == body[1000000:]
    # range download (ends with ABOR)
    cp = ok(curl(env, "-r", "10-19", url(server, f"{v}/f")))
    assert cp.stdout == body[10:20]


def test_curl_resume_upload(server, wd, client_env):
    """G.147: curl -C - -T (SIZE + APPE) completes a partial remote file."""
    env, work = client_env
    p, v = wd
    local = RNG.randbytes(1500000)
    src = os.path.join(work, "src.bin")
    with open(src, "wb") as f:
        f.write(local)
    put_file(os.path.join(p, "src.bin"), local[:600000])
    ok(curl(env, "-C", "-", "-T", src, url(server, f"{v}/src.bin")))
    assert read_bytes(os.path.join(p, "src.bin")) == local
    # --append
    ok(curl(env, "--append", "-T", src, url(server, f"{v}/src.bin")))
    assert read_bytes(os.path.join(p, "src.bin")) == local + local


def test_curl_ftp_create_dirs(server, wd, client_env):
    env, work = client_env
    p, v = wd
    src = os.path.join(work, "f.txt")
    with open(src, "wb") as f:
        f.write(b"deep\n")
    ok(curl(env, "--ftp-create-dirs", "-T", src, url(server, f"{v}/new/deeper dir/ü/f.txt")))
    assert read_bytes(os.path.join(p, "new", "deeper dir", "ü", "f.txt")) == b"deep\n"
    # again: the directories exist now
    ok(curl(env, "--ftp-create-dirs", "-T", src, url(server, f"{v}/new/deeper dir/ü/g.txt")))
    assert read_bytes(os.path.join(p, "new", "deeper dir", "ü", "g.txt")) == b"deep\n"
    # the other ways of walking the path: singlecwd creates one missing level (MKD a/b, like
    # any FTP server, needs the parent); nocwd stores "dir/file" directly
    ok(curl(env, "--ftp-method", "singlecwd", "--ftp-create-dirs", "-T", src,
            url(server, f"{v}/new/single/f.txt")))
    assert read_bytes(os.path.join(p, "new", "single", "f.txt")) == b"deep\n"
    ok(curl(env, "--ftp-method", "nocwd", "-T", src, url(server, f"{v}/new/deeper dir/h.txt")))
    assert read_bytes(os.path.join(p, "new", "deeper dir", "h.txt")) == b"deep\n"
    cp = curl(env, "--ftp-method", "nocwd", "-T", src, url(server, f"{v}/missing/h.txt"))
    assert cp.returncode == 25, cp


def test_curl_nlst_and_list(server, wd, client_env):
    env, work = client_env
    p, v = wd
    for n in ("b.txt", "a b.txt", "ü.txt", "-x"):
        put_file(os.path.join(p, n), b"1")
    make_dir(os.path.join(p, "sub"))
    # curl turns the CRLFs of a listing into LFs on Unix
    cp = ok(curl(env, "-l", url(server, f"{v}/")))
    assert sorted(cp.stdout.split(b"\n")) == sorted([b"", b"b.txt", b"a b.txt", "ü.txt".encode(), b"-x", b"sub"])
    cp = ok(curl(env, url(server, f"{v}/")))
    lines = [x for x in cp.stdout.split(b"\n") if x]
    assert len(lines) == 5 and sum(x.startswith(b"d") for x in lines) == 1


def test_curl_quote_rename(server, wd, client_env):
    env, work = client_env
    p, v = wd
    put_file(os.path.join(p, "a"), b"A")
    ok(curl(env, "-Q", f"RNFR {v}/a", "-Q", f"RNTO {v}/b", url(server, f"{v}/")))
    assert sorted(os.listdir(p)) == ["b"]
    # a failing quote command makes curl fail
    cp = curl(env, "-Q", f"RNFR {v}/nosuch", "-Q", f"RNTO {v}/c", url(server, f"{v}/"))
    assert cp.returncode != 0
    # post-transfer quote (-Q -cmd) and DELE
    ok(curl(env, "-Q", f"-DELE {v}/b", url(server, f"{v}/")))
    assert os.listdir(p) == []


def test_curl_head_mdtm_size_rest0(server, wd, client_env):
    """-I probes with MDTM, SIZE and REST 0 (in TYPE I) -- all must succeed."""
    env, work = client_env
    p, v = wd
    put_file(os.path.join(p, "f"), text_1000(), mtime=1577934245)
    cp = ok(curl(env, "-I", url(server, f"{v}/f")))
    out = cp.stdout.decode()
    assert "Content-Length: 1000" in out, out
    assert "Last-Modified: Thu, 02 Jan 2020 03:04:05 GMT" in out, out
    assert "Accept-ranges: bytes" in out, out
    # in ASCII mode too (SIZE counts the CRs that would be added)
    cp = ok(curl(env, "-I", "--use-ascii", url(server, f"{v}/f")))
    assert "Content-Length: %d" % (1000 + text_1000().count(b"\n")) in cp.stdout.decode()


def test_curl_ascii_transfers(server, wd, client_env):
    env, work = client_env
    p, v = wd
    put_file(os.path.join(p, "t.txt"), b"one\ntwo\n")
    cp = ok(curl(env, "-B", url(server, f"{v}/t.txt")))
    # curl converts CRLF back to LF on ASCII downloads on Unix? it does not: it writes what it gets
    assert cp.stdout in (b"one\r\ntwo\r\n", b"one\ntwo\n")
    src = os.path.join(work, "u.txt")
    with open(src, "wb") as f:
        f.write(b"x\ny\n")
    ok(curl(env, "-B", "-T", src, url(server, f"{v}/u.txt")))
    assert read_bytes(os.path.join(p, "u.txt")) == b"x\ny\n"


@pytest.mark.parametrize("flags", [["-P", "127.0.0.1"], ["--ftp-port", "127.0.0.1", "--disable-eprt"],
                                   ["-P", "-"]], ids=["eprt", "port", "port-default-addr"])
def test_curl_active_mode(server, wd, client_env, flags):
    env, work = client_env
    p, v = wd
    body = RNG.randbytes(400000)
    put_file(os.path.join(p, "f"), body)
    out = os.path.join(work, "out")
    ok(curl(env, *flags, "-o", out, url(server, f"{v}/f")))
    assert read_bytes(out) == body
    ok(curl(env, *flags, "-T", out, url(server, f"{v}/g")))
    assert read_bytes(os.path.join(p, "g")) == body
    cp = ok(curl(env, *flags, "-l", url(server, f"{v}/")))
    assert sorted(cp.stdout.split(b"\n")) == [b"", b"f", b"g"]


def test_curl_epsv_and_pasv(server, wd, client_env):
    env, work = client_env
    p, v = wd
    put_file(os.path.join(p, "f"), b"both")
    for flags in ([], ["--disable-epsv"]):
        cp = ok(curl(env, *flags, url(server, f"{v}/f")))
        assert cp.stdout == b"both"


def test_curl_missing_file(server, wd, client_env):
    env, work = client_env
    p, v = wd
    cp = curl(env, url(server, f"{v}/nosuch"))
    assert cp.returncode == 78, cp     # CURLE_REMOTE_FILE_NOT_FOUND


# ----------------------------------------------------------------------------- wget

def test_wget_recursive(server, wd, client_env):
    need("wget")
    env, work = client_env
    p, v = wd
    # wget's ls -l parser cannot keep a leading space in a name (any server's LIST is
    # ambiguous there), so that one name is left out of this tree
    files = {k: val for k, val in TREE.items() if not k.startswith(" ")}
    make_tree(os.path.join(p, "dir"), files=files)
    cp = run(["wget", "-r", "-nH", "-q", "--tries=1", "--timeout=10", "--restrict-file-names=nocontrol",
              f"ftp://bob:pw@{server.host}:{server.port}{urllib.parse.quote(v)}/dir/"], env, cwd=work)
    ok(cp)
    got = tree_of(os.path.join(work, v.lstrip("/"), "dir"))
    assert_same_tree(got, expected_tree(files=files))


def test_wget_single_file_and_continue(server, wd, client_env):
    need("wget")
    env, work = client_env
    p, v = wd
    body = RNG.randbytes(900000)
    put_file(os.path.join(p, "f.bin"), body)
    with open(os.path.join(work, "f.bin"), "wb") as f:
        f.write(body[:100000])
    ok(run(["wget", "-c", "-q", "--tries=1", "--timeout=10",
            f"ftp://bob:pw@{server.host}:{server.port}{v}/f.bin"], env, cwd=work))
    assert read_bytes(os.path.join(work, "f.bin")) == body


# ----------------------------------------------------------------------------- Python ftplib

def test_ftplib_file_operations(server, wd):
    """K.195"""
    p, v = wd
    body = RNG.randbytes(300000)
    put_file(os.path.join(p, "f.bin"), body)
    f = ftplib.FTP()
    f.connect(server.host, server.port, timeout=10)
    try:
        f.login("bob", "pw")
        f.cwd(v)
        assert f.pwd() == v
        f.voidcmd("TYPE I")
        assert f.size("f.bin") == len(body)
        for rest in (0, 1, 12345, len(body) - 1, len(body)):
            got = bytearray()
            f.retrbinary("RETR f.bin", got.extend, rest=rest)
            assert bytes(got) == body[rest:], rest
        f.storbinary("STOR up load.bin", io.BytesIO(body[:5000]))
        assert read_bytes(os.path.join(p, "up load.bin")) == body[:5000]
        f.storbinary("APPE up load.bin", io.BytesIO(b"++"))
        assert read_bytes(os.path.join(p, "up load.bin")) == body[:5000] + b"++"
        f.storbinary("STOR up load.bin", io.BytesIO(b"XY"), rest=5000)
        assert read_bytes(os.path.join(p, "up load.bin")) == body[:5000] + b"XY"
        assert f.rename("up load.bin", "renamed.bin").startswith("250")
        assert sorted(f.nlst()) == ["f.bin", "renamed.bin"]
        facts = dict(f.mlsd())
        assert facts["renamed.bin"]["size"] == "5002" and facts["renamed.bin"]["type"] == "file"
        assert f.mkd("sub dir") == f"{v}/sub dir"
        f.cwd("sub dir")
        f.storlines("STOR lines.txt", io.BytesIO(b"l1\nl2\n"))
        assert read_bytes(os.path.join(p, "sub dir", "lines.txt")) == b"l1\nl2\n"
        got = []
        f.retrlines("RETR lines.txt", got.append)
        assert got == ["l1", "l2"]
        f.cwd("..")
        assert f.delete("sub dir/lines.txt").startswith("250")
        f.rmd("sub dir")
        assert f.delete("renamed.bin").startswith("250")
        with pytest.raises(ftplib.error_perm, match="^550"):
            f.delete("renamed.bin")
        with pytest.raises(ftplib.error_perm, match="^550"):
            f.size("nosuch")
        lines = []
        f.retrlines("LIST", lines.append)
        assert len(lines) == 1 and lines[0].endswith(" f.bin")
        assert f.quit().startswith("221")
    finally:
        f.close()
    assert sorted(os.listdir(p)) == ["f.bin"]


def test_ftplib_active_mode(server, wd):
    p, v = wd
    body = RNG.randbytes(100000)
    put_file(os.path.join(p, "f"), body)
    f = ftplib.FTP()
    f.connect(server.host, server.port, timeout=10)
    try:
        f.login("bob", "pw")
        f.set_pasv(False)
        f.cwd(v)
        got = bytearray()
        f.retrbinary("RETR f", got.extend)
        assert bytes(got) == body
        f.storbinary("STOR g", io.BytesIO(body))
        assert sorted(f.nlst()) == ["f", "g"]
        f.quit()
    finally:
        f.close()
    assert read_bytes(os.path.join(p, "g")) == body


# ----------------------------------------------------------------------------- tnftp

def tnftp(server, env, script, cwd, timeout=TIMEOUT):
    need("tnftp")
    netrc = os.path.join(env["HOME"], ".netrc")
    with open(netrc, "w") as f:
        f.write(f"machine {server.host} login bob password pw\n")
    os.chmod(netrc, 0o600)
    return run(["tnftp", "-P", str(server.port), server.host], env, cwd=cwd,
               input=script.encode(), timeout=timeout)


def test_tnftp_ls_get_put_rename_reget(server, wd, client_env):
    """K.199"""
    env, work = client_env
    p, v = wd
    body = RNG.randbytes(600000)
    put_file(os.path.join(p, "remote.bin"), body)
    put_file(os.path.join(p, "listed name.txt"), b"x")
    local = RNG.randbytes(250000)
    with open(os.path.join(work, "local.bin"), "wb") as f:
        f.write(local)
    with open(os.path.join(work, "partial.bin"), "wb") as f:
        f.write(body[:200000])
    script = (f"cd {v}\nbinary\nls\nget remote.bin got.bin\nput local.bin put.bin\n"
              "rename put.bin renamed.bin\nreget remote.bin partial.bin\nbye\n")
    cp = tnftp(server, env, script, work)
    ok(cp)
    out = cp.stdout.decode(errors="replace")
    assert "listed name.txt" in out and "remote.bin" in out, out
    assert read_bytes(os.path.join(work, "got.bin")) == body
    assert read_bytes(os.path.join(p, "renamed.bin")) == local
    assert not os.path.exists(os.path.join(p, "put.bin"))
    assert read_bytes(os.path.join(work, "partial.bin")) == body


def test_tnftp_active_mode(server, wd, client_env):
    env, work = client_env
    p, v = wd
    body = RNG.randbytes(200000)
    put_file(os.path.join(p, "a.bin"), body)
    cp = tnftp(server, env, f"cd {v}\nbinary\npassive off\nget a.bin b.bin\nput b.bin c.bin\nls\nbye\n", work)
    ok(cp)
    assert read_bytes(os.path.join(work, "b.bin")) == body
    assert read_bytes(os.path.join(p, "c.bin")) == body
