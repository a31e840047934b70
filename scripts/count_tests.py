#!/usr/bin/env python3
"""Counts test cases in a meson testlog.json; prints `passed failed skipped`.

A doctest executable contributes its test-case counts (a run filtered with `-tc`/`-tce` passes
`--no-skipped-summary`: the cases it leaves out run in another test and are not skipped); a vector
replay its `N passed, N failed` line; any other test counts as one case. A test that meson saw
fail, but whose own counts show no failure (a crash or a sanitizer report after the summary), adds
one failure.
"""
import json
import re
import sys

DOCTEST = re.compile(r"\[doctest\] test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed\s*\|(?:\s*(\d+) skipped)?")
PLAIN = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?\s*$", re.M)


def main(path):
    passed = failed = skipped = 0
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError:
        print("0 1 0")
        return
    for line in lines:
        if not line.strip():
            continue
        entry = json.loads(line)
        result = entry.get("result", "")
        out = (entry.get("stdout") or "") + "\n" + (entry.get("stderr") or "")
        doc = DOCTEST.findall(out)
        plain = PLAIN.findall(out)
        if doc:
            p, f, s = (sum(int(m[i] or 0) for m in doc) for i in (1, 2, 3))
        elif plain:
            p, f = sum(int(m[0]) for m in plain), sum(int(m[1]) for m in plain)
            s = sum(int(m[2] or 0) for m in plain)
        elif result == "SKIP":
            p, f, s = 0, 0, 1
        elif result in ("OK", "EXPECTEDFAIL"):
            p, f, s = 1, 0, 0
        else:
            p, f, s = 0, 1, 0
        if result not in ("OK", "SKIP", "EXPECTEDFAIL") and f == 0:
            f = 1
        passed, failed, skipped = passed + p, failed + f, skipped + s
    print(passed, failed, skipped)


if __name__ == "__main__":
    main(sys.argv[1])
