#!/usr/bin/env python3
"""The operator's kit as an operator installs it: the systemd units in docs/systemd/ pass
`systemd-analyze verify` without a single warning and carry the restart, state-directory and
hardening settings docs/operator-guide.md promises; the example configurations in docs/examples/
load with the checks the units run before starting (`relay-edge --check`, `session-manager
check-config`) once their key files exist; and those checks refuse a loose key file, naming it.

usage: deploy_test.py SOURCE_ROOT RELAY_EDGE SESSION_MANAGER SYSTEMD_ANALYZE
Ends with `N passed, N failed`.
"""
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile

source, relay_edge, session_manager, systemd_analyze = sys.argv[1:5]
binaries = {"/usr/local/bin/relay-edge": relay_edge, "/usr/local/bin/session-manager": session_manager}
results = []


def case(name):
    def run(fn):
        try:
            fn()
            results.append((name, None))
            print(f"ok   {name}")
        except AssertionError as e:
            results.append((name, str(e)))
            print(f"FAIL {name}: {e}")
        return fn
    return run


def unit_text(name):
    with open(os.path.join(source, "docs", "systemd", name), encoding="utf-8") as f:
        return f.read()


def directives(text):
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


def verify(text, directory, name):
    """systemd-analyze verify on TEXT with the binaries mapped to the build; returns its output."""
    for installed, built in binaries.items():
        text = text.replace(installed, built)
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    run = subprocess.run([systemd_analyze, "verify", path], capture_output=True, text=True, timeout=60)
    lines = [l for l in (run.stdout + run.stderr).splitlines() if l.strip()]
    return run.returncode, lines


UNITS = {"relay-edge.service": ("/etc/relay-edge/edge.yaml", "edge.yaml", "relay-edge"),
         "session-manager.service": ("/etc/session-manager/session-manager.yaml", "session-manager.yaml",
                                     "session-manager")}

work = tempfile.mkdtemp(prefix="ops-deploy-")
try:
    for unit, (config_path, example, state) in UNITS.items():
        @case(f"{unit}: systemd-analyze verify reports nothing")
        def _(unit=unit):
            code, lines = verify(unit_text(unit), work, unit)
            assert code == 0 and not lines, f"exit {code}: {lines}"

        @case(f"{unit}: restarts on failure, keeps state and keys in systemd's directories, hardened")
        def _(unit=unit, config_path=config_path, state=state):
            d = directives(unit_text(unit))
            expected = {"Restart": "on-failure", "StateDirectory": state, "StateDirectoryMode": "0700",
                        "ConfigurationDirectory": state, "NoNewPrivileges": "yes", "ProtectSystem": "strict",
                        "ProtectHome": "yes", "PrivateTmp": "yes", "CapabilityBoundingSet": "",
                        "User": state, "KillSignal": "SIGTERM", "LimitNOFILE": "65536"}
            for key, value in expected.items():
                assert d.get(key) == [value], f"{key}={d.get(key)}, expected {value}"
            if unit == "session-manager.service":  # raises its ack path (threads.ack_path_nice)
                assert d.get("LimitNICE") == ["-10"], f"LimitNICE={d.get('LimitNICE')}, expected -10"
            assert any(config_path in v for v in d["ExecStart"]), f"ExecStart does not read {config_path}"
            assert any(config_path in v for v in d["ExecStartPre"]), f"ExecStartPre does not check {config_path}"

    @case("systemd-analyze verify catches a broken unit (the check can fail)")
    def _():
        broken = unit_text("relay-edge.service").replace("Restart=on-failure", "Restart=sometimes")
        code, lines = verify(broken, work, "broken.service")
        assert lines, "a bad Restart= value went unnoticed"

    # The example configurations, installed as the units expect them, with real key files.
    root = os.path.join(work, "root")

    def installed(path):
        return os.path.join(root, path.lstrip("/"))

    for d in ("/etc/relay-edge", "/etc/session-manager", "/var/lib/relay-edge", "/var/lib/session-manager"):
        os.makedirs(installed(d), mode=0o700)

    def write_key(path):
        with open(installed(path), "w", encoding="ascii") as f:
            f.write(secrets.token_hex(32) + "\n")
        os.chmod(installed(path), 0o600)

    for n in (1, 2):
        write_key(f"/etc/relay-edge/operator-{n}.key")
        shutil.copy(installed(f"/etc/relay-edge/operator-{n}.key"), installed(f"/etc/session-manager/operator-{n}.key"))
    subprocess.run([session_manager, "keygen", installed("/etc/session-manager/link.key"),
                    installed("/etc/session-manager/link.pub")], check=True, capture_output=True)
    subprocess.run([session_manager, "keygen", installed("/etc/relay-edge/link.key"),
                    installed("/etc/relay-edge/link.pub")], check=True, capture_output=True)
    shutil.copy(installed("/etc/session-manager/link.pub"), installed("/etc/relay-edge/sm.pub"))
    os.chmod(installed("/etc/relay-edge/sm.pub"), 0o600)
    with open(installed("/etc/relay-edge/link.pub"), encoding="ascii") as f:
        edge_public = re.search(r"public-key = (\S+)", f.read()).group(1)
    with open(installed("/etc/session-manager/edges.allow"), "w", encoding="ascii") as f:
        f.write(edge_public + "\n")
    os.chmod(installed("/etc/session-manager/edges.allow"), 0o600)

    for unit, (config_path, example, state) in UNITS.items():
        with open(os.path.join(source, "docs", "examples", example), encoding="utf-8") as f:
            text = f.read()
        for prefix in ("/etc/relay-edge", "/etc/session-manager", "/var/lib/relay-edge", "/var/lib/session-manager"):
            text = text.replace(prefix, installed(prefix))
        with open(installed(config_path), "w", encoding="utf-8") as f:
            f.write(text)

        def pre_command(unit=unit):
            line = directives(unit_text(unit))["ExecStartPre"][0]
            argv = shlex.split(line)
            argv[0] = binaries[argv[0]]
            return [installed(a) if a.startswith("/etc/") else a for a in argv]

        @case(f"{unit}: its ExecStartPre check accepts docs/examples/{example}")
        def _(pre_command=pre_command):
            run = subprocess.run(pre_command(), capture_output=True, text=True, timeout=60)
            assert run.returncode == 0, f"exit {run.returncode}: {run.stdout}{run.stderr}"
            assert "configuration ok" in run.stdout, run.stdout

        @case(f"{unit}: its ExecStartPre check refuses a key file others can read, naming it")
        def _(pre_command=pre_command, state=state):
            key = installed(f"/etc/{state}/operator-1.key")
            os.chmod(key, 0o644)
            try:
                run = subprocess.run(pre_command(), capture_output=True, text=True, timeout=60)
            finally:
                os.chmod(key, 0o600)
            assert run.returncode != 0, "a mode 644 key was accepted"
            assert "suppliers[0].key_file" in run.stderr and "operator-1.key" in run.stderr, run.stderr
finally:
    shutil.rmtree(work, ignore_errors=True)

failed = sum(1 for _, e in results if e)
print(f"{len(results) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
