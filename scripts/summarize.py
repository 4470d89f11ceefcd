"""Adds up meson's and pytest's results into one closing line."""
import json
import pathlib
import sys
import xml.etree.ElementTree as ET

passed = failed = skipped = 0
for f in sorted(pathlib.Path(sys.argv[1]).iterdir()):
    if f.suffix == ".json":
        for line in f.read_text().splitlines():
            r = json.loads(line).get("result")
            if r == "OK":
                passed += 1
            elif r == "SKIP":
                skipped += 1
            else:
                failed += 1
    elif f.suffix == ".xml":
        root = ET.parse(f).getroot()
        for suite in root.iter("testsuite"):
            t, e, fl, s = (int(suite.get(k, 0)) for k in ("tests", "errors", "failures", "skipped"))
            passed += t - e - fl - s
            failed += e + fl
            skipped += s
print(f"{passed} passed, {failed} failed, {skipped} skipped")
