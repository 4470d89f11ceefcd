"""File operations and navigation against the real ferryd (PROTOCOL.md checklist H 148-165,
Decision 5; issue 3: navigation with X-aliases, awkward names, per-user permissions).

Every test works in its own directory of bob's home on the module's shared server and checks
both the reply codes and what is on disk afterwards."""

import os

import pytest

from files_helpers import (fresh_dir, Session, chown_svc, home_of, make_dir, make_symlink, put_file,
                           read_bytes, text_1000)


@pytest.fixture
def wd(server, request):
    """(host path, virtual path) of a fresh directory for this test."""
    return fresh_dir(server, request, "fs_")


@pytest.fixture
def sess(server, wd):
    s = Session(server, cwd=wd[1])
    yield s
    s.close()


def ensure_user(server, name, perms):
    """A user with a home and the given --perms list on the running server."""
    if name not in server.users:
        server.add_user(name, "pw")
        server.ferry("user", "set", name, "--perms", perms, check=True)
    return home_of(server, name)


# --------------------------------------------------------------------------- H. rename

def test_rnfr_rnto_file(sess, wd):
    p, v = wd
    put_file(os.path.join(p, "f"), text_1000())
    r = sess.expect("RNFR f", 350)
    assert r.lines == ["350 Ready for RNTO."]
    r = sess.expect("RNTO g", 250)
    assert r.lines == ["250 Rename successful."]
    assert not os.path.exists(os.path.join(p, "f"))
    assert read_bytes(os.path.join(p, "g")) == text_1000()


def test_rnfr_rnto_directory_with_contents(sess, wd):
    p, v = wd
    put_file(os.path.join(p, "d", "sub", "x"), b"x-content")
    sess.expect("RNFR d", 350)
    sess.expect("RNTO e", 250)
    assert not os.path.exists(os.path.join(p, "d"))
    assert read_bytes(os.path.join(p, "e", "sub", "x")) == b"x-content"
    # absolute paths on both sides, into another directory
    make_dir(os.path.join(p, "target"))
    sess.expect(f"RNFR {v}/e/sub/x", 350)
    sess.expect(f"RNTO {v}/target/y", 250)
    assert read_bytes(os.path.join(p, "target", "y")) == b"x-content"
    assert os.listdir(os.path.join(p, "e", "sub")) == []


def test_rnfr_missing_then_rnto(sess, wd):
    p, v = wd
    r = sess.expect("RNFR nosuch", 550)
    assert r.lines == ["550 No such file or directory."]
    sess.expect("RNTO g", 503)
    assert os.listdir(p) == []


def test_rnto_without_rnfr(sess, wd):
    r = sess.expect("RNTO g", 503)
    assert r.lines == ["503 RNFR required first."]


@pytest.mark.parametrize("between, code", [
    ("CWD .", 250), ("PWD", 257), ("TYPE I", 200), ("SIZE f", None), ("MKD sub", 257),
    ("REST 0", 350), ("FOOB", 500), ("DELE nosuch", 550), ("MDTM f", 213),
])
def test_rnfr_cancelled_by_other_commands(sess, wd, between, code):
    """Decision 5, policy A: any command other than RNTO/NOOP/STAT/HELP cancels the RNFR."""
    p, v = wd
    put_file(os.path.join(p, "f"), b"abc")
    sess.expect("RNFR f", 350)
    r = sess.cmd(between)
    if code is not None:
        assert r.code == code, r
    sess.expect("RNTO g", 503)
    assert read_bytes(os.path.join(p, "f")) == b"abc"
    assert not os.path.exists(os.path.join(p, "g"))


def test_rnfr_survives_noop_stat_help(sess, wd):
    p, v = wd
    put_file(os.path.join(p, "f"), b"abc")
    sess.expect("RNFR f", 350)
    sess.expect("NOOP", 200)
    assert sess.cmd("STAT").code == 211
    assert sess.cmd("HELP").code == 214
    assert sess.cmd("HELP RNTO").code == 214
    sess.expect("RNTO g", 250)
    assert read_bytes(os.path.join(p, "g")) == b"abc"


def test_failed_rnfr_cancels_the_pending_one(sess, wd):
    p, v = wd
    put_file(os.path.join(p, "f"), b"F")
    sess.expect("RNFR f", 350)
    sess.expect("RNFR nosuch", 550)
    sess.expect("RNTO g", 503)
    assert os.listdir(p) == ["f"]


def test_operations_in_a_directory_the_service_user_cannot_write(sess, wd):
    p, v = wd
    if os.geteuid() != 0:
        pytest.skip("needs root")
    ro = make_dir(os.path.join(p, "ro"), owner_svc=False)          # root-owned, 0755
    put_file(os.path.join(ro, "f"), b"F", owner_svc=False)
    make_dir(os.path.join(ro, "sub"), owner_svc=False)
    for line in ("DELE ro/f", "MKD ro/new", "RMD ro/sub", "RNFR ro/f"):
        r = sess.cmd(line)
        if line.startswith("RNFR"):
            assert r.code == 350, r           # the source exists; the rename itself fails
            r = sess.cmd("RNTO ro/g")
        assert r.lines == ["550 Permission denied."], f"{line}: {r!r}"
    sess.pasv()
    r = sess.expect("STOR ro/new", 550)
    assert r.lines == ["550 Permission denied."]
    assert sorted(os.listdir(ro)) == ["f", "sub"]


def test_rnfr_twice_renames_the_second(sess, wd):
    p, v = wd
    put_file(os.path.join(p, "f"), b"F")
    put_file(os.path.join(p, "g"), b"G")
    sess.expect("RNFR f", 350)
    sess.expect("RNFR g", 350)
    sess.expect("RNTO h", 250)
    assert read_bytes(os.path.join(p, "f")) == b"F"
    assert read_bytes(os.path.join(p, "h")) == b"G"
    assert not os.path.exists(os.path.join(p, "g"))


def test_rnto_after_rnto_is_503(sess, wd):
    p, v = wd
    put_file(os.path.join(p, "f"), b"F")
    sess.expect("RNFR f", 350)
    sess.expect("RNTO g", 250)
    sess.expect("RNTO x", 503)
    # after a failed RNTO too
    sess.expect("RNFR g", 350)
    sess.expect("RNTO nodir/x", 550)
    sess.expect("RNTO x", 503)
    assert read_bytes(os.path.join(p, "g")) == b"F"
    assert sorted(os.listdir(p)) == ["g"]


def test_rnto_existing_file_overwrites(sess, wd):
    """Policy (vfs.h): rename(2) rules -- an existing file is replaced atomically."""
    p, v = wd
    put_file(os.path.join(p, "f"), b"new")
    put_file(os.path.join(p, "existing"), b"old")
    sess.expect("RNFR f", 350)
    sess.expect("RNTO existing", 250)
    assert read_bytes(os.path.join(p, "existing")) == b"new"
    assert sorted(os.listdir(p)) == ["existing"]


def test_rename_failures(sess, wd):
    p, v = wd
    put_file(os.path.join(p, "f"), b"F")
    put_file(os.path.join(p, "full", "x"), b"X")
    make_dir(os.path.join(p, "d"))
    # directory onto a non-empty directory
    sess.expect("RNFR d", 350)
    assert sess.cmd("RNTO full").code == 550
    # file onto a directory
    sess.expect("RNFR f", 350)
    assert sess.cmd("RNTO d").code == 550
    # a directory into itself
    sess.expect("RNFR d", 350)
    r = sess.cmd("RNTO d/inside")
    assert r.code in (550, 553), r
    # into a missing directory
    sess.expect("RNFR f", 350)
    sess.expect("RNTO nodir/f", 550)
    # the root cannot be renamed
    r = sess.cmd("RNFR /")
    if r.code == 350:
        assert sess.cmd(f"RNTO {v}/root-moved").code == 550
    else:
        assert r.code == 550, r
    assert sorted(os.listdir(p)) == ["d", "f", "full"]
    assert read_bytes(os.path.join(p, "f")) == b"F"
    assert os.listdir(os.path.join(p, "d")) == []


def test_rename_symlink_renames_the_link(sess, wd):
    p, v = wd
    put_file(os.path.join(p, "target"), b"T")
    make_symlink("target", os.path.join(p, "lnk"))
    sess.expect("RNFR lnk", 350)
    sess.expect("RNTO lnk2", 250)
    assert os.readlink(os.path.join(p, "lnk2")) == "target"
    assert read_bytes(os.path.join(p, "target")) == b"T"


# --------------------------------------------------------------------------- H. DELE MKD RMD

def test_dele(sess, wd):
    p, v = wd
    put_file(os.path.join(p, "f"), b"F")
    make_dir(os.path.join(p, "d"))
    r = sess.expect("DELE f", 250)
    assert r.lines == ["250 File deleted."]
    assert not os.path.lexists(os.path.join(p, "f"))
    sess.expect("DELE nosuch", 550)
    sess.expect("DELE f", 550)
    sess.expect("DELE d", 550)
    assert os.path.isdir(os.path.join(p, "d"))
    sess.expect("DELE", 501)


def test_dele_symlink_removes_only_the_link(sess, wd):
    p, v = wd
    put_file(os.path.join(p, "target"), b"T")
    make_symlink("target", os.path.join(p, "lnk"))
    make_dir(os.path.join(p, "dir"))
    make_symlink("dir", os.path.join(p, "dlnk"))
    sess.expect("DELE lnk", 250)
    sess.expect("DELE dlnk", 250)
    assert sorted(os.listdir(p)) == ["dir", "target"]
    assert read_bytes(os.path.join(p, "target")) == b"T"


def test_mkd(sess, wd):
    p, v = wd
    r = sess.expect("MKD new", 257)
    assert r.lines == [f'257 "{v}/new" created.']
    assert os.path.isdir(os.path.join(p, "new"))
    r = sess.expect("MKD new", 550)
    assert r.lines == ["550 File exists."]
    r = sess.expect('MKD a"b', 257)
    assert r.lines == [f'257 "{v}/a""b" created.']
    assert os.path.isdir(os.path.join(p, 'a"b'))
    r = sess.expect('MKD ""', 257)
    assert r.lines == [f'257 "{v}/""""" created.']
    assert os.path.isdir(os.path.join(p, '""'))
    # absolute, nested, missing parent
    r = sess.expect(f"MKD {v}/new/sub", 257)
    assert r.lines == [f'257 "{v}/new/sub" created.']
    sess.expect("MKD missing/sub", 550)
    assert not os.path.exists(os.path.join(p, "missing"))
    # over a file
    put_file(os.path.join(p, "file"), b"")
    sess.expect("MKD file", 550)
    sess.expect("MKD", 501)
    # the root and dot names are not new directories
    assert sess.cmd("MKD /").code in (550, 553)
    assert sess.cmd("MKD .").code in (550, 553)
    assert sess.cmd("MKD ..").code in (550, 553)


def test_mkd_name_length(sess, wd):
    p, v = wd
    ok = "n" * 255
    sess.expect(f"MKD {ok}", 257)
    assert os.path.isdir(os.path.join(p, ok))
    r = sess.cmd("MKD " + "m" * 256)
    assert r.code == 553, r


def test_rmd(sess, wd):
    p, v = wd
    make_dir(os.path.join(p, "empty"))
    put_file(os.path.join(p, "full", "x"), b"X")
    put_file(os.path.join(p, "file"), b"F")
    r = sess.expect("RMD empty", 250)
    assert r.lines == ["250 Directory removed."]
    assert not os.path.exists(os.path.join(p, "empty"))
    r = sess.expect("RMD full", 550)
    assert r.lines == ["550 Directory not empty."]
    sess.expect("RMD nosuch", 550)
    sess.expect("RMD file", 550)
    assert read_bytes(os.path.join(p, "full", "x")) == b"X"
    assert read_bytes(os.path.join(p, "file")) == b"F"
    assert sess.cmd("RMD /").code == 550
    assert sess.cmd("RMD .").code in (550, 553)


def test_rmd_symlink_to_dir_refused(sess, wd):
    p, v = wd
    make_dir(os.path.join(p, "real"))
    make_symlink("real", os.path.join(p, "lnk"))
    sess.expect("RMD lnk", 550)
    assert os.path.isdir(os.path.join(p, "real"))
    assert os.path.islink(os.path.join(p, "lnk"))


def test_x_aliases(sess, wd):
    p, v = wd
    r = sess.expect("XMKD xd", 257)
    assert r.lines == [f'257 "{v}/xd" created.']
    r = sess.expect("XCWD xd", 250)
    assert r.lines == ["250 Directory successfully changed."]
    r = sess.expect("XPWD", 257)
    assert r.lines == [f'257 "{v}/xd" is the current directory.']
    sess.expect("XCUP", 250)
    assert sess.expect("PWD", 257).lines == [f'257 "{v}" is the current directory.']
    r = sess.expect("XRMD xd", 250)
    assert r.lines == ["250 Directory removed."]
    assert os.listdir(p) == []
    sess.expect("XCWD nosuch", 550)
    sess.expect("XRMD nosuch", 550)


# --------------------------------------------------------------------------- H. navigation

def test_cwd_cdup_pwd(sess, wd):
    p, v = wd
    put_file(os.path.join(p, "d", "e", "f"), b"F")
    r = sess.expect("CWD d", 250)
    assert r.lines == ["250 Directory successfully changed."]
    assert sess.expect("PWD", 257).lines == [f'257 "{v}/d" is the current directory.']
    sess.expect("CWD e", 250)
    assert sess.expect("PWD", 257).lines == [f'257 "{v}/d/e" is the current directory.']
    sess.expect("CDUP", 250)
    assert sess.expect("PWD", 257).lines == [f'257 "{v}/d" is the current directory.']
    sess.expect("CWD ../d/./e/", 250)
    assert sess.expect("PWD", 257).lines == [f'257 "{v}/d/e" is the current directory.']
    sess.expect("CWD /", 250)
    assert sess.expect("PWD", 257).lines == ['257 "/" is the current directory.']
    sess.expect("CDUP", 250)   # at the root CDUP stays there
    assert sess.expect("PWD", 257).lines == ['257 "/" is the current directory.']
    sess.expect(f"CWD {v}//d///e", 250)
    assert sess.expect("PWD", 257).lines == [f'257 "{v}/d/e" is the current directory.']
    # failures leave the directory unchanged
    sess.expect("CWD nosuch", 550)
    r = sess.expect("CWD f", 550)
    assert r.lines == ["550 Not a directory."]
    sess.expect("CWD", 501)
    assert sess.expect("PWD", 257).lines == [f'257 "{v}/d/e" is the current directory.']
    sess.expect("CDUP x", 501)
    sess.expect("PWD x", 501)


def test_cwd_into_unreadable_directory(sess, wd):
    p, v = wd
    # owned by root, mode 0700: the service account cannot enter it
    make_dir(os.path.join(p, "locked"), mode=0o700, owner_svc=False)
    if os.geteuid() != 0:
        pytest.skip("needs root to make a directory the service user cannot enter")
    r = sess.expect("CWD locked", 550)
    assert r.lines == ["550 Permission denied."]
    assert sess.expect("PWD", 257).lines == [f'257 "{v}" is the current directory.']


def test_cwd_through_symlink_inside_home(sess, wd):
    p, v = wd
    put_file(os.path.join(p, "real", "inside"), b"I")
    make_symlink("real", os.path.join(p, "rel"))
    make_symlink(f"{v}/real", os.path.join(p, "abs"))  # absolute, but relative to the home
    for name in ("rel", "abs"):
        sess.expect(f"CWD {v}/{name}", 250)
        data, _, _ = sess.retr("inside")
        assert data == b"I"


def test_pwd_quotes_doubled(sess, wd):
    p, v = wd
    make_dir(os.path.join(p, 'q"x"'))
    sess.expect('CWD q"x"', 250)
    r = sess.expect("PWD", 257)
    assert r.lines == [f'257 "{v}/q""x""" is the current directory.']


def test_root_escape_impossible(sess, wd):
    sess.expect("CWD /../../..", 250)
    assert sess.expect("PWD", 257).lines == ['257 "/" is the current directory.']
    sess.expect("CWD ..", 250)
    assert sess.expect("PWD", 257).lines == ['257 "/" is the current directory.']
    sess.expect("RETR ../../etc/passwd", 550)
    sess.expect("RETR /../../../../etc/passwd", 550)
    sess.expect("SIZE ../../etc/passwd", 550)


# --------------------------------------------------------------------------- H. MDTM SIZE

def test_mdtm(sess, wd):
    p, v = wd
    put_file(os.path.join(p, "f"), b"F", mtime=1577934245)  # 2020-01-02 03:04:05 UTC
    put_file(os.path.join(p, "old"), b"", mtime=0)
    make_dir(os.path.join(p, "d"))
    r = sess.expect("MDTM f", 213)
    assert r.raw == b"213 20200102030405\r\n"
    assert sess.expect("MDTM old", 213).raw == b"213 19700101000000\r\n"
    assert sess.expect(f"MDTM {v}/f", 213).raw == b"213 20200102030405\r\n"
    sess.expect("MDTM d", 550)
    sess.expect("MDTM nosuch", 550)
    sess.expect("MDTM", 501)


def test_mdtm_follows_symlink_inside(sess, wd):
    p, v = wd
    put_file(os.path.join(p, "f"), b"F", mtime=1577934245)
    make_symlink("f", os.path.join(p, "lnk"))
    assert sess.expect("MDTM lnk", 213).raw == b"213 20200102030405\r\n"


def test_size(sess, wd):
    p, v = wd
    f = text_1000()
    put_file(os.path.join(p, "f"), f)
    put_file(os.path.join(p, "empty"), b"")
    put_file(os.path.join(p, "crlf"), b"a\r\nb\r\n")
    make_dir(os.path.join(p, "d"))
    sess.expect("TYPE I", 200)
    assert sess.expect("SIZE f", 213).raw == b"213 1000\r\n"
    assert sess.expect("SIZE empty", 213).raw == b"213 0\r\n"
    sess.expect("TYPE A", 200)
    n_lf = f.count(b"\n")
    assert n_lf > 0
    assert sess.expect("SIZE f", 213).raw == b"213 %d\r\n" % (1000 + n_lf)
    assert sess.expect("SIZE empty", 213).raw == b"213 0\r\n"
    # every LF gets a CR on the way out, even one already preceded by CR
    assert sess.expect("SIZE crlf", 213).raw == b"213 8\r\n"
    for t in ("A", "I"):
        sess.expect(f"TYPE {t}", 200)
        sess.expect("SIZE d", 550)
        sess.expect("SIZE nosuch", 550)
    sess.expect("SIZE", 501)


def test_size_ascii_limit(sess, wd):
    """Decision 6: TYPE A SIZE is exact up to 64 MiB, above that 550 naming TYPE I."""
    p, v = wd
    limit = 64 << 20
    for name, n in (("at", limit), ("over", limit + 1)):
        path = os.path.join(p, name)
        with open(path, "wb") as fh:
            fh.truncate(n)   # sparse: no LFs
        chown_svc(path)
    sess.expect("TYPE A", 200)
    assert sess.expect("SIZE at", 213, timeout=60).raw == b"213 %d\r\n" % limit
    r = sess.expect("SIZE over", 550)
    assert "TYPE I" in r.text, r
    sess.expect("TYPE I", 200)
    assert sess.expect("SIZE over", 213).raw == b"213 %d\r\n" % (limit + 1)


# --------------------------------------------------------------------------- H.165 names

AWKWARD_NAMES = [
    "a b", " lead", "trail ", "  two lead", "in  two", "-rf", "--help", "-", "-la",
    "Grüße ñ 日本.txt", "emoji \U0001F600", "semi;colon", "a;b c", "q\"uote", "'single'",
    "back\\slash", "#hash", "%41%2F", "*", "?", "[x]", "~tilde", "$HOME", "x" * 255,
]


@pytest.mark.parametrize("name", AWKWARD_NAMES,
                         ids=lambda n: n.encode("unicode_escape").decode()[:30] or "empty")
def test_awkward_names_stor_retr_dele(sess, wd, name):
    """Names are taken exactly as sent after the single separating SP."""
    p, v = wd
    body = ("content of " + name).encode()
    sess.expect("TYPE I", 200)
    sess.stor(name, body)
    assert os.listdir(p) == [name]
    assert read_bytes(os.path.join(p, name)) == body
    data, r150, _ = sess.retr(name)
    assert data == body
    assert sess.expect(f"SIZE {name}", 213).text == str(len(body))
    assert sess.expect(f"MDTM {name}", 213)
    renamed = name + ".2" if len(name) < 250 else name[:-2] + ".2"
    sess.expect(f"RNFR {name}", 350)
    sess.expect(f"RNTO {renamed}", 250)
    assert os.listdir(p) == [renamed]
    sess.expect(f"DELE {renamed}", 250)
    assert os.listdir(p) == []


@pytest.mark.parametrize("name", [" lead", "trail ", "-x", "--", "Ωmega dir", 'a"b', "semi;"],
                         ids=lambda n: n.encode("unicode_escape").decode())
def test_awkward_directory_names(sess, wd, name):
    p, v = wd
    q = name.replace('"', '""')
    r = sess.expect(f"MKD {name}", 257)
    assert r.lines == [f'257 "{v}/{q}" created.']
    assert os.listdir(p) == [name]
    sess.expect(f"CWD {name}", 250)
    assert sess.expect("PWD", 257).lines == [f'257 "{v}/{q}" is the current directory.']
    sess.stor("inner", b"I")
    sess.expect("CDUP", 250)
    assert read_bytes(os.path.join(p, name, "inner")) == b"I"
    sess.expect(f"DELE {name}/inner", 250)
    sess.expect(f"RMD {name}", 250)
    assert os.listdir(p) == []


def test_non_utf8_name_bytes(sess, wd):
    """RFC 2640: names that are not UTF-8 are raw bytes end to end."""
    p, v = wd
    raw = b"latin1-\xe9t\xe9"
    path = os.path.join(os.fsencode(p), raw)
    with open(path, "wb") as fh:
        fh.write(b"L")
    chown_svc(path)
    sess.expect("TYPE I", 200)
    r = sess.c.cmd(b"SIZE " + raw)
    assert r.code == 213 and r.text == "1", r
    sess.c.expect(b"RNFR " + raw, 350)
    sess.c.expect(b"RNTO " + raw + b"\xff\xff", 250)   # IAC IAC on the wire is one 0xFF
    assert os.listdir(os.fsencode(p)) == [raw + b"\xff"]


# --------------------------------------------------------------------------- per-user permissions

def _deny_all_writes(s, v):
    for line in (f"STOR {v}/new", f"APPE {v}/f", "STOU", f"DELE {v}/f", f"MKD {v}/nd",
                 f"RMD {v}/d", f"RNFR {v}/f", f"XMKD {v}/nd", f"XRMD {v}/d"):
        if line.startswith(("STOR", "APPE", "STOU")):
            s.pasv()
        r = s.cmd(line)
        assert r.code == 550, f"{line}: {r!r}"
        assert r.lines == ["550 Permission denied."], r


def test_read_only_user(server):
    home = ensure_user(server, "ro", "read,list")
    put_file(os.path.join(home, "w", "f"), b"F")
    make_dir(os.path.join(home, "w", "d"))
    before = sorted(os.listdir(os.path.join(home, "w")))
    s = Session(server, user="ro")
    try:
        _deny_all_writes(s, "/w")
        s.expect("RNTO /w/g", 503)
        # reading and listing still work
        data, _, _ = s.retr("/w/f")
        assert data == b"F"
        assert s.list_data("NLST", "/w") == b"d\r\nf\r\n" or \
            sorted(s.list_data("NLST", "/w").split(b"\r\n")) == [b"", b"d", b"f"]
        s.expect("SIZE /w/f", 213)
        s.expect("CWD /w/d", 250)
    finally:
        s.close()
    assert sorted(os.listdir(os.path.join(home, "w"))) == before
    assert read_bytes(os.path.join(home, "w", "f")) == b"F"


def test_user_without_list(server):
    home = ensure_user(server, "nolist", "read,write")
    put_file(os.path.join(home, "f"), b"F")
    s = Session(server, user="nolist")
    try:
        for verb in ("LIST", "NLST", "MLSD"):
            s.pasv()
            r = s.cmd(verb)
            assert r.lines == ["550 Permission denied."], f"{verb}: {r!r}"
        assert s.cmd("MLST f").code == 550
        data, _, _ = s.retr("f")
        assert data == b"F"
        s.stor("g", b"G")
        assert read_bytes(os.path.join(home, "g")) == b"G"
    finally:
        s.close()


@pytest.mark.parametrize("missing, denied", [
    ("read", ["RETR f", "SIZE f"]),
    ("write", ["STOR n", "APPE f", "STOU"]),
    ("delete", ["DELE f", "RMD d"]),
    ("rename", ["RNFR f"]),
    ("mkdir", ["MKD n"]),
    ("list", ["LIST", "NLST", "MLSD", "MLST f"]),
])
def test_each_permission_bit(server, missing, denied):
    perms = [x for x in ("read", "write", "delete", "rename", "mkdir", "list") if x != missing]
    name = "no" + missing
    if name in server.users:   # test_user_without_list made 'nolist' with fewer rights
        name = "lack" + missing
    home = ensure_user(server, name, ",".join(perms))
    put_file(os.path.join(home, "f"), b"F")
    if not os.path.isdir(os.path.join(home, "d")):
        make_dir(os.path.join(home, "d"))
    before = {n: os.lstat(os.path.join(home, n)).st_mtime_ns for n in os.listdir(home)}
    s = Session(server, user=name)
    try:
        for line in denied:
            if line.split()[0] in ("RETR", "STOR", "APPE", "STOU", "LIST", "NLST", "MLSD"):
                s.pasv()
            r = s.cmd(line)
            assert r.lines == ["550 Permission denied."], f"{line} without {missing}: {r!r}"
        # one thing the user may still do
        s.expect("NOOP", 200)
        s.expect("PWD", 257)
    finally:
        s.close()
    after = {n: os.lstat(os.path.join(home, n)).st_mtime_ns for n in os.listdir(home)}
    assert after == before
