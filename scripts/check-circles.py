#!/usr/bin/python3
"""Counts the circles between source files (doc/architecture.md, issue 14).

Two files A and B form a circle when A's object file uses a symbol that B's
defines and B's uses one that A's defines: neither can be understood, tested
or moved without the other. The layering check (check-layers.py) keeps
circles from crossing layers; this one finds them inside a layer, from the
linker's point of view, so a call through a header declared anywhere counts.

A longer loop (three or more files that reach each other, such as the
proto -> cmdtab -> cmd_* -> proto loop there was) is as bad as a circle, so
it fails too unless the allowed circles alone make it: taking their uses
out of the graph must leave no loop.

Usage: check-circles.py BUILD_DIR. Reads, with nm, the object file of every
src/ file that BUILD_DIR/compile_commands.json lists (so an object left over
from a removed file does not count), prints every circle and every longer
loop, and exits 1 when a circle is not in ALLOWED below, when a longer loop
remains without the allowed circles, or when an entry of ALLOWED is no
longer a circle (so the list stays true).
"""
import json
import os
import subprocess
import sys

# Pairs that may stay, each with why. Keep it short: a new entry needs a
# reason that the two files are one module split for size, not two modules.
ALLOWED = {
    ("ftp/datachan.c", "ftp/datachan_pump.c"):
        "one data channel split for size: set-up starts the pumps, which end the transfer through it",
    ("ftp/session.c", "ftp/session_jobs.c"):
        "one FTP session split for size: jobs run its effects and complete them back into the session",
    ("ftp/session.c", "ftp/session_proxy.c"):
        "one FTP session split for size: its start waits for the PROXY header, then begins or closes the session",
    ("ftp/session.c", "ftp/session_tls.c"):
        "one FTP session split for size: the TLS handshake step completes or closes the session it belongs to",
    ("ftp/session.c", "ftp/session_xfer.c"):
        "one FTP session split for size: a transfer ends by completing its effect and reading the next command",
}

DEFINED = set("TDBRWVGSC")  # text, data, bss, read-only, weak, common


def objects(build):
    """{"ftp/cmd_fs.c": "BUILD/src/libferry_ftp.a.p/ftp_cmd_fs.c.o", ...}"""
    with open(os.path.join(build, "meson-info", "meson-info.json"), encoding="utf-8") as fh:
        src = os.path.join(json.load(fh)["directories"]["source"], "src")
    with open(os.path.join(build, "compile_commands.json"), encoding="utf-8") as fh:
        entries = json.load(fh)
    out = {}
    for e in entries:
        path = os.path.realpath(os.path.join(e["directory"], e["file"]))
        rel = os.path.relpath(path, os.path.realpath(src))
        if not rel.startswith(".."):
            out[rel] = os.path.join(e["directory"], e["output"])
    return out


def symbols(obj):
    out = subprocess.run(["nm", "-P", obj], check=True, capture_output=True, text=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind == "U":
            used.add(name)
        elif kind in DEFINED:
            defined.add(name)
    return defined, used


def loops(uses):
    """Groups of 3+ files that reach each other through calls (Tarjan's
    strongly connected components, without recursion): circles longer than
    a pair."""
    index, low, stack, on, out = {}, {}, [], set(), []
    for root in sorted(uses):
        if root in index:
            continue
        work = [(root, iter(sorted(uses.get(root, {}))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(uses.get(w, {})))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                group = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    group.append(w)
                    if w == v:
                        break
                if len(group) > 2:
                    out.append(sorted(group))
    return sorted(out)


def main():
    if len(sys.argv) != 2:
        print("usage: check-circles.py BUILD_DIR", file=sys.stderr)
        return 2
    objs = objects(sys.argv[1])
    missing = [o for o in objs.values() if not os.path.exists(o)]
    if not objs or missing:
        print(f"check-circles: object files missing under {sys.argv[1]} (build first): {missing[:3]}",
              file=sys.stderr)
        return 2
    files = {name: symbols(obj) for name, obj in objs.items()}
    definers = {}
    for name, (defined, _) in files.items():
        for s in defined:
            definers.setdefault(s, set()).add(name)
    # uses[a][b] = the symbols a takes from b
    uses = {}
    for a, (_, used) in files.items():
        for s in used:
            for b in definers.get(s, ()):
                if b != a:
                    uses.setdefault(a, {}).setdefault(b, set()).add(s)
    circles = []
    for a in sorted(uses):
        for b in sorted(uses[a]):
            if a < b and a in uses.get(b, {}):
                circles.append((a, b))
    bad = 0
    for a, b in circles:
        reason = ALLOWED.get((a, b))
        ab = ", ".join(sorted(uses[a][b])[:4])
        ba = ", ".join(sorted(uses[b][a])[:4])
        mark = f"allowed: {reason}" if reason else "NOT ALLOWED"
        print(f"{a} <-> {b} [{mark}]\n    {a} uses {ab}\n    {b} uses {ba}")
        if not reason:
            bad += 1
    # The same graph without the allowed circles' uses: a loop left in it
    # is not explained by them.
    rest = {a: {b: s for b, s in bs.items() if (min(a, b), max(a, b)) not in ALLOWED} for a, bs in uses.items()}
    unexplained = loops(rest)
    for group in loops(uses):
        inner = [g for g in unexplained if set(g) <= set(group)]
        mark = "NOT ALLOWED: " + "; ".join(", ".join(g) for g in inner) if inner else "allowed: made of allowed circles"
        print(f"loop of {len(group)} files [{mark}]: {', '.join(group)}")
    bad += len(unexplained)
    stale = [p for p in ALLOWED if p not in circles]
    for a, b in stale:
        print(f"{a} <-> {b}: in ALLOWED but no longer a circle; remove it from the list")
    print(f"circles: {len(files)} files, {len(circles)} circle(s), {len(unexplained)} longer loop(s) not made of "
          f"allowed circles, {bad} not allowed, {len(stale)} stale")
    return 1 if bad or stale else 0


if __name__ == "__main__":
    sys.exit(main())
