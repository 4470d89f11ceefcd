"""Listings against the real ferryd (PROTOCOL.md checklist I 166-177, F.129; §4 items 8 and 9;
issue 3: LIST ls -l style with the six-month rule, NLST, MLST/MLSD facts and OPTS MLST, names
with ';' and spaces, a directory of 100,000 entries listed completely).

LIST and MLSD lines are rebuilt byte for byte from lstat(2) of the files on disk."""

import ftplib
import os
import re
import stat
import time

import pytest

from files_helpers import (Session, chown_svc, fresh_dir, home_of, make_dir, make_symlink,
                           put_file)

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
SIX_MONTHS = 15552000


@pytest.fixture
def wd(server, request):
    return fresh_dir(server, request, "ls_")


@pytest.fixture
def sess(server, wd):
    s = Session(server, cwd=wd[1])
    yield s
    s.close()


def lines(data):
    """CRLF-separated lines; every line must end in CRLF, no bare LF anywhere."""
    if not data:
        return []
    assert data.endswith(b"\r\n"), data[-50:]
    parts = data[:-2].split(b"\r\n")
    for x in parts:
        assert b"\n" not in x and b"\r" not in x, x
    return parts


def expected_list_line(path, name, now):
    st = os.lstat(path)
    t = time.gmtime(st.st_mtime)
    age = now - int(st.st_mtime)
    if -3600 <= age <= SIX_MONTHS:
        date = "%s %2d %02d:%02d" % (MONTHS[t.tm_mon - 1], t.tm_mday, t.tm_hour, t.tm_min)
    else:
        date = "%s %2d  %04d" % (MONTHS[t.tm_mon - 1], t.tm_mday, t.tm_year)
    line = "%s %4d %-8s %-8s %8d %s " % (stat.filemode(st.st_mode), st.st_nlink, "ftp", "ftp",
                                          st.st_size, date)
    out = line.encode() + os.fsencode(name)
    if stat.S_ISLNK(st.st_mode):
        out += b" -> " + os.fsencode(os.readlink(path))
    return out


def expected_facts(path, facts=("type", "size", "modify", "perm", "unique", "UNIX.mode"),
                   type_=None, perms_dir="elcmdfp", perms_file="rawdf"):
    st = os.lstat(path)
    out = ""
    if "type" in facts:
        if type_ is None:
            type_ = ("dir" if stat.S_ISDIR(st.st_mode) else "file" if stat.S_ISREG(st.st_mode)
                     else "OS.unix=symlink" if stat.S_ISLNK(st.st_mode) else "?")
        out += f"type={type_};"
    if "size" in facts and stat.S_ISREG(st.st_mode):
        out += f"size={st.st_size};"
    if "modify" in facts:
        out += "modify=" + time.strftime("%Y%m%d%H%M%S", time.gmtime(st.st_mtime)) + ";"
    if "perm" in facts:
        out += "perm=" + (perms_dir if stat.S_ISDIR(st.st_mode) else perms_file) + ";"
    if "unique" in facts:
        out += "unique=%xU%x;" % (st.st_dev, st.st_ino)
    if "UNIX.mode" in facts:
        out += "UNIX.mode=%04o;" % stat.S_IMODE(st.st_mode)
    return out


@pytest.fixture
def tree(wd):
    """A directory with files of known ages, a subdirectory, a symlink and a dot file."""
    p, v = wd
    now = int(time.time())
    put_file(os.path.join(p, "recent"), b"r" * 1234, mtime=now - 3600)
    put_file(os.path.join(p, "months"), b"m" * 10, mtime=now - 100 * 86400)
    put_file(os.path.join(p, "old"), b"o" * 5, mtime=1577934245)
    put_file(os.path.join(p, "future"), b"f", mtime=now + 40 * 86400)
    put_file(os.path.join(p, "exec"), b"#!/bin/sh\n", mode=0o755, mtime=now - 60)
    put_file(os.path.join(p, ".hidden"), b"h", mtime=now - 60)
    put_file(os.path.join(p, "sub", "inner"), b"i")
    os.utime(os.path.join(p, "sub"), (now - 7200, now - 7200))
    make_symlink("recent", os.path.join(p, "link"))
    os.utime(os.path.join(p, "link"), (now - 60, now - 60), follow_symlinks=False)
    return p, v


VISIBLE = ["exec", "future", "link", "months", "old", "recent", "sub"]


# ----------------------------------------------------------------------------- LIST

def test_list_lines_exact(sess, tree):
    """I.166: ls -l lines, English months, UTC, HH:MM within six months, the year otherwise."""
    p, v = tree
    sess.expect("TYPE I", 200)           # F.129: CRLF even in TYPE I
    now = int(time.time())
    got = lines(sess.list_data("LIST"))
    want = sorted(expected_list_line(os.path.join(p, n), n, now) for n in VISIBLE)
    assert sorted(got) == want
    rx = re.compile(rb"^[-dlcbps][-r][-w][-xsS][-r][-w][-xsS][-r][-w][-xtT] +\d+ ftp +ftp +\d+ "
                    rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123]\d "
                    rb"(\d\d:\d\d| \d{4}) .+$")
    for line in got:
        assert rx.match(line), line
    by_name = {line.split(b" ")[-1] if b" -> " not in line else b"link": line for line in got}
    assert b" 2020 old" in by_name[b"old"]
    assert re.search(rb" \d{4} future$", by_name[b"future"])
    assert re.search(rb" \d\d:\d\d months$", by_name[b"months"])
    assert by_name[b"link"].startswith(b"l") and by_name[b"link"].endswith(b"link -> recent")
    assert by_name[b"sub"].startswith(b"d")
    assert by_name[b"exec"].startswith(b"-rwxr-xr-x")


def test_list_one_file(sess, tree):
    """I.167"""
    p, v = tree
    now = int(time.time())
    assert lines(sess.list_data("LIST", "recent")) == [expected_list_line(os.path.join(p, "recent"), "recent", now)]
    # a path with a directory part: the line shows the base name
    got = lines(sess.list_data("LIST", f"{v}/sub/inner"))
    assert got == [expected_list_line(os.path.join(p, "sub", "inner"), "inner", now)]


def test_list_options(sess, tree):
    """I.168: -la, -a, -l accepted; -a shows dot files."""
    p, v = tree
    now = int(time.time())
    plain = sorted(lines(sess.list_data("LIST")))
    assert sorted(lines(sess.list_data("LIST", "-l"))) == plain
    with_dot = sorted(lines(sess.list_data("LIST", "-la")))
    assert with_dot == sorted(plain + [expected_list_line(os.path.join(p, ".hidden"), ".hidden", now)])
    assert sorted(lines(sess.list_data("LIST", "-a"))) == with_dot
    sub = lines(sess.list_data("LIST", "-a sub"))
    assert sub == [expected_list_line(os.path.join(p, "sub", "inner"), "inner", now)]
    assert lines(sess.list_data("LIST", f"-la {v}/sub")) == sub


def test_list_errors_and_empty(sess, wd):
    p, v = wd
    make_dir(os.path.join(p, "empty"))
    assert sess.list_data("LIST", "empty") == b""
    assert sess.list_data("NLST", "empty") == b""      # I.170: 226 with no data
    for verb in ("LIST", "NLST", "MLSD"):
        sess.pasv()
        r = sess.expect(f"{verb} nosuch", 550)
        assert r.lines == ["550 No such file or directory."]


def test_list_unreadable_directory(sess, wd):
    p, v = wd
    if os.geteuid() != 0:
        pytest.skip("needs root")
    make_dir(os.path.join(p, "locked"), mode=0o700, owner_svc=False)
    for verb in ("LIST", "NLST", "MLSD"):
        sess.pasv()
        r = sess.cmd(f"{verb} locked")
        assert r.lines == ["550 Permission denied."], f"{verb}: {r!r}"


# ----------------------------------------------------------------------------- NLST

def test_nlst_bare_names_usable_for_retr(sess, tree):
    """I.169"""
    p, v = tree
    names = lines(sess.list_data("NLST"))
    assert sorted(names) == sorted(n.encode() for n in VISIBLE)
    sess.expect("TYPE I", 200)
    for n in names:
        full = os.path.join(p, n.decode())
        if os.path.isfile(full):
            data, _, _ = sess.retr(n.decode())
            with open(full, "rb") as fh:
                assert data == fh.read()
    # -a shows the dot file; a file argument gives the name as given
    assert b".hidden" in lines(sess.list_data("NLST", "-a"))
    assert lines(sess.list_data("NLST", "recent")) == [b"recent"]
    assert lines(sess.list_data("NLST", f"{v}/sub")) == [b"inner"]


# ----------------------------------------------------------------------------- MLSD / MLST

def test_mlsd_facts_exact(sess, tree):
    """I.171: facts type, size (files), modify (UTC), perm, unique, UNIX.mode; one SP before
    the name; dot files included."""
    p, v = tree
    got = lines(sess.list_data("MLSD"))
    want = sorted((expected_facts(os.path.join(p, n)) + " " + n).encode()
                  for n in VISIBLE + [".hidden"])
    assert sorted(got) == want
    uniques = [re.search(rb"unique=([^;]+);", x).group(1) for x in got]
    assert len(set(uniques)) == len(uniques)
    got_dir = lines(sess.list_data("MLSD", "sub"))
    assert got_dir == [(expected_facts(os.path.join(p, "sub", "inner")) + " inner").encode()]


def test_mlsd_file_and_missing(sess, tree):
    """I.172, I.173: MLSD of a file is 501 and opens no data connection."""
    p, v = tree
    r = sess.expect("MLSD recent", 501)      # no PASV needed: refused before the data channel
    assert r.lines == ["501 MLSD needs a directory; use MLST for a file."]
    sess.pasv()
    sess.expect("MLSD nosuch", 550)
    sess.expect("NOOP", 200)


def test_mlst(sess, tree):
    """I.174: MLST on the control connection."""
    p, v = tree
    r = sess.expect("MLST recent", 250)
    assert len(r.lines) == 3, r
    assert r.lines[0].startswith("250-")
    assert r.lines[1] == " " + expected_facts(os.path.join(p, "recent")) + f" {v}/recent"
    assert r.lines[2] == "250 End"
    r = sess.expect("MLST sub", 250)
    assert r.lines[1] == " " + expected_facts(os.path.join(p, "sub")) + f" {v}/sub"
    r = sess.expect("MLST", 250)
    assert r.lines[1] == " " + expected_facts(p, type_="cdir") + f" {v}"
    sess.expect("MLST nosuch", 550)


def test_opts_mlst_and_feat(sess, tree):
    """I.175, I.176"""
    p, v = tree
    feat = sess.expect("FEAT", 211)
    mlst = [x for x in feat.lines if x.startswith(" MLST ")]
    assert mlst == [" MLST type*;size*;modify*;perm*;unique*;UNIX.mode*;"], feat.lines
    r = sess.expect("OPTS MLST type;size;", 200)
    assert r.lines == ["200 MLST OPTS type;size;"]
    got = lines(sess.list_data("MLSD"))
    want = sorted((expected_facts(os.path.join(p, n), facts=("type", "size")) + " " + n).encode()
                  for n in VISIBLE + [".hidden"])
    assert sorted(got) == want
    assert sess.expect("MLST recent", 250).lines[1] == f" type=file;size=1234; {v}/recent"
    feat = sess.expect("FEAT", 211)
    assert [x for x in feat.lines if x.startswith(" MLST ")] == \
        [" MLST type*;size*;modify;perm;unique;UNIX.mode;"]
    r = sess.expect("OPTS MLST type;frogs;", 200)
    assert r.lines == ["200 MLST OPTS type;"]
    assert sess.expect("MLST recent", 250).lines[1] == f" type=file; {v}/recent"
    r = sess.expect("OPTS MLST Size;UNIX.MODE;modify", 200)
    assert r.lines == ["200 MLST OPTS size;modify;UNIX.mode;"]
    feat = sess.expect("FEAT", 211)
    assert [x for x in feat.lines if x.startswith(" MLST ")] == \
        [" MLST type;size*;modify*;perm;unique;UNIX.mode*;"]


def test_python_mlsd(server, tree):
    """I.171 with Python's parser, including mlsd(facts=...) which sends OPTS MLST first."""
    p, v = tree
    f = ftplib.FTP()
    f.connect(server.host, server.port, timeout=10)
    try:
        f.login("bob", "pw")
        entries = dict(f.mlsd(v))
        assert sorted(entries) == sorted(VISIBLE + [".hidden"])
        st = os.stat(os.path.join(p, "recent"))
        e = entries["recent"]
        assert e["type"] == "file" and e["size"] == "1234"
        assert e["modify"] == time.strftime("%Y%m%d%H%M%S", time.gmtime(st.st_mtime))
        assert e["perm"] == "rawdf" and e["unix.mode"] == "0644"
        assert entries["sub"]["type"] == "dir" and "size" not in entries["sub"]
        assert entries["link"]["type"] == "OS.unix=symlink"
        limited = dict(f.mlsd(v, facts=["type", "size"]))
        assert limited["recent"] == {"type": "file", "size": "1234"}
        assert limited["sub"] == {"type": "dir"}
        f.quit()
    finally:
        f.close()


NAMES_177 = ["a;b c", "x; y", " lead", "trail ", "semi;", "type=file;size=1; fake",
             "Grüße 日本", "two  spaces", "=eq"]


def test_awkward_names_in_listings(server, sess, wd):
    """I.177: the MLSD name is everything after the first space; NLST/LIST show names exactly."""
    p, v = wd
    for n in NAMES_177:
        put_file(os.path.join(p, n), n.encode())
    want = sorted(n.encode() for n in NAMES_177)
    assert sorted(lines(sess.list_data("NLST"))) == want
    mlsd = lines(sess.list_data("MLSD"))
    assert sorted(x.split(b" ", 1)[1] for x in mlsd) == want
    for x in mlsd:
        facts = x.split(b" ", 1)[0]
        assert facts.endswith(b";") and b" " not in facts
    now = int(time.time())
    got = sorted(lines(sess.list_data("LIST")))
    assert got == sorted(expected_list_line(os.path.join(p, n), n, now) for n in NAMES_177)
    f = ftplib.FTP()
    f.connect(server.host, server.port, timeout=10)
    try:
        f.login("bob", "pw")
        assert sorted(n for n, _ in f.mlsd(v)) == sorted(NAMES_177)
        assert sorted(f.nlst(v)) == sorted(NAMES_177)
        f.quit()
    finally:
        f.close()


def test_unlistable_names_left_out(sess, wd):
    """Names with CR or LF cannot be framed in a listing: they are left out, never split; the
    upload temporaries (.ferry-upload.*) are never listed."""
    p, v = wd
    put_file(os.path.join(p, "ok"), b"1")
    put_file(os.path.join(p, "bad\nname"), b"2")
    put_file(os.path.join(p, "bad\rname"), b"3")
    put_file(os.path.join(p, ".ferry-upload.0123456789abcdef"), b"4")
    assert lines(sess.list_data("NLST", "-a")) == [b"ok"]
    assert [x.split(b" ", 1)[1] for x in lines(sess.list_data("MLSD"))] == [b"ok"]
    assert [x.rsplit(b" ", 1)[1] for x in lines(sess.list_data("LIST", "-la"))] == [b"ok"]


def test_non_utf8_names_listed_as_raw_bytes(sess, wd):
    """RFC 2640: a name that is not UTF-8 goes out as its raw bytes."""
    p, v = wd
    raw = b"caf\xe9 latin1"
    path = os.path.join(os.fsencode(p), raw)
    with open(path, "wb") as fh:
        fh.write(b"x")
    chown_svc(path)
    assert lines(sess.list_data("NLST")) == [raw]
    assert [x.split(b" ", 1)[1] for x in lines(sess.list_data("MLSD"))] == [raw]
    assert lines(sess.list_data("LIST"))[0].endswith(b" " + raw)


def test_listing_of_symlinked_directory_inside_home(sess, wd):
    p, v = wd
    put_file(os.path.join(p, "real", "a"), b"a")
    make_symlink("real", os.path.join(p, "lnk"))
    assert lines(sess.list_data("NLST", "lnk")) == [b"a"]
    assert [x.split(b" ", 1)[1] for x in lines(sess.list_data("MLSD", "lnk"))] == [b"a"]


# ----------------------------------------------------------------------------- 100,000 entries

N_ENTRIES = 100_000


@pytest.fixture(scope="module")
def huge_dir(_shared_server):
    path = os.path.join(home_of(_shared_server), "huge")
    make_dir(path)
    t0 = time.monotonic()
    for i in range(N_ENTRIES):
        os.close(os.open(os.path.join(path, "entry-%06d" % i), os.O_CREAT | os.O_WRONLY, 0o644))
    print(f"\ncreated {N_ENTRIES} files in {time.monotonic() - t0:.1f}s")
    return path, "/huge"


def _timed_listing(server, verb, v, bound=180.0):
    s = Session(server)
    try:
        t0 = time.monotonic()
        d = s.open_passive()
        try:
            s.expect(f"{verb} {v}", 150)
            chunks = []
            d.settimeout(bound)
            while True:
                b = d.recv(1 << 20)
                if not b:
                    break
                chunks.append(b)
                assert time.monotonic() - t0 < bound, f"{verb} slower than {bound}s"
        finally:
            d.close()
        assert s.reply(timeout=bound).code == 226
        dt = time.monotonic() - t0
    finally:
        s.close()
    return b"".join(chunks), dt


@pytest.mark.parametrize("verb", ["NLST", "MLSD", "LIST"])
def test_100k_entries_listed_completely(server, huge_dir, verb):
    path, v = huge_dir
    data, dt = _timed_listing(server, verb, v)
    got = lines(data)
    assert len(got) == N_ENTRIES
    if verb == "NLST":
        names = got
    elif verb == "MLSD":
        names = [x.split(b" ", 1)[1] for x in got]
    else:
        names = [x.rsplit(b" ", 1)[1] for x in got]
    assert set(names) == {b"entry-%06d" % i for i in range(N_ENTRIES)}
    print(f"\n{verb} of {N_ENTRIES} entries: {dt:.2f}s, {len(data)} bytes")


def test_100k_listing_does_not_stall_other_sessions(server, huge_dir):
    """While a 100,000-entry MLSD streams to a client that reads slowly, others are served."""
    path, v = huge_dir
    s = Session(server)
    try:
        d = s.open_passive(rcvbuf=4096)
        s.expect(f"MLSD {v}", 150)
        d.recv(100)
        t0 = time.monotonic()
        o = Session(server)
        try:
            o.expect("NOOP", 200)
            assert lines(o.list_data("NLST", "/")) is not None
        finally:
            o.close()
        assert time.monotonic() - t0 < 5
        s.c.send(b"ABOR\r\n")
        assert s.reply(15).code == 426
        assert s.reply(15).code == 226
        d.close()
    finally:
        s.close()
