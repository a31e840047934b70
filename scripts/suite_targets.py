#!/usr/bin/env python3
"""Prints, one a line, the ninja outputs that the tests of one suite need in a configured meson build.

    scripts/suite_targets.py BUILD_DIR SUITE

A test needs its executable, the targets of its `depends:` and the targets among its arguments
(meson's introspection lists them as the test's `depends`). scripts/test builds only these in the
sanitizer build, so that build compiles what its suite runs and nothing else. Exits non-zero, with
the reason, when the build directory has no introspection data or the suite has no test.
"""
import json
import os
import sys


def main(build_dir, suite):
    info = os.path.join(build_dir, "meson-info")
    try:
        with open(os.path.join(info, "intro-tests.json"), encoding="utf-8") as f:
            tests = json.load(f)
        with open(os.path.join(info, "intro-targets.json"), encoding="utf-8") as f:
            targets = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"suite_targets: cannot read meson's introspection in {info}: {e}")
    files_of = {t["id"]: t["filename"] for t in targets}
    # Suites are recorded as `project:suite` (a subproject's tests under its own name).
    selected = [t for t in tests if any(s == suite or s.endswith(":" + suite) for s in t["suite"])]
    if not selected:
        sys.exit(f"suite_targets: no test of suite '{suite}' in {build_dir}")
    outputs = set()
    for test in selected:
        for target_id in test["depends"]:
            if target_id not in files_of:
                sys.exit(f"suite_targets: test '{test['name']}' depends on unknown target {target_id}")
            outputs.update(os.path.relpath(path, os.path.abspath(build_dir))
                           for path in files_of[target_id])
    print("\n".join(sorted(outputs)))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: suite_targets.py BUILD_DIR SUITE")
    main(sys.argv[1], sys.argv[2])
