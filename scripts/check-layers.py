#!/usr/bin/python3
"""Checks the layering of src/ (doc/architecture.md, ARCHITECTURE.md §3).

Each folder of src/ is a layer. A file may include the headers of its own
folder and of the folders below it, never of a folder above it; the protocol
front-ends (ftp, sftp, http) sit side by side and never include each other.
Unit tests in tests/unit/<layer>/ follow the same rule as the layer they test.

The build enforces the same rule (each layer's library sees only the include
directories of its own and lower layers); this script says it in words, for
every file at once, and also catches an #include "../x/y.h" that would slip
past the include path. Exit status 0 when clean, 1 with one line per
violation.
It also keeps epoll inside event/: outside src/event/ (and tests/unit/event/)
no EPOLL* identifier and no <sys/epoll.h> (comments aside).
"""
import os
import re
import sys

# Lowest first. Layers on one row are peers: neither may include the other.
ORDER = [
    ["base"],
    ["config"],
    ["store"],
    ["fs"],
    ["event"],
    ["net"],
    ["core"],
    ["ftp", "sftp", "http"],
    ["os"],
    ["server"],
    ["cli"],
]
RANK = {name: i for i, row in enumerate(ORDER) for name in row}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# epoll is event/'s business: everyone else speaks loop.h's LOOP_* flags, so
# the loop could move to another poller without touching its callers.
EPOLL = re.compile(r"\bEPOLL\w*|<sys/epoll\.h>")
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
    src = os.path.join(root, "src")
    header_layer = {}
    problems = []
    for layer in sorted(os.listdir(src)):
        path = os.path.join(src, layer)
        if not os.path.isdir(path):
            continue
        if layer not in RANK:
            problems.append(f"src/{layer}/: a folder that is no layer (scripts/check-layers.py ORDER)")
            continue
        for f in os.listdir(path):
            if f.endswith(".h"):
                if f in header_layer:
                    problems.append(f"src/{layer}/{f}: the same header name is in src/{header_layer[f]}/")
                header_layer[f] = layer
    loose = [f for f in os.listdir(src) if f.endswith((".c", ".h"))]
    problems += [f"src/{f}: outside every layer folder" for f in sorted(loose)]

    checked = 0
    for top in ("src", os.path.join("tests", "unit")):
        base = os.path.join(root, top)
        if not os.path.isdir(base):
            continue
        for layer in sorted(os.listdir(base)):
            d = os.path.join(base, layer)
            if not os.path.isdir(d) or layer not in RANK:
                continue
            for f in sorted(os.listdir(d)):
                if not f.endswith((".c", ".h")):
                    continue
                rel = f"{top}/{layer}/{f}"
                checked += 1
                with open(os.path.join(d, f), encoding="utf-8", errors="replace") as fh:
                    text = fh.read()
                if layer != "event":
                    code = COMMENT.sub(" ", text)
                    for m in sorted(set(EPOLL.findall(code))):
                        problems.append(f"{rel}: uses {m} outside src/event/; use loop.h's LOOP_* flags")
                for inc in INCLUDE.findall(text):
                    if "/" in inc:
                        problems.append(f"{rel}: includes \"{inc}\" by a path; include headers by name")
                        continue
                    other = header_layer.get(inc)
                    if other is None or other == layer:
                        continue  # generated (ferry_version.h), the test's own, or same layer
                    if RANK[other] > RANK[layer]:
                        problems.append(f"{rel}: includes {inc} of src/{other}/, a higher layer than {layer}/")
                    elif RANK[other] == RANK[layer]:
                        problems.append(f"{rel}: includes {inc} of src/{other}/, a peer of {layer}/")
    for p in problems:
        print(p)
    print(f"layers: {checked} files checked, {len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
