#!/usr/bin/env python3
"""The Grafana dashboard against the real thing: an end-to-end run (scripts/demo --keep: the
devnet, the session manager, two edges, the backend and relay-gateway traffic) scraped by Debian's
Prometheus server; every query of every panel of docs/grafana/*.json must return data through
Prometheus' HTTP API, and every process must be an `up` target.

usage: dashboard_test.py SOURCE_ROOT BUILD_ROOT PROMETHEUS
Ends with `N passed, N failed`. The demo's own verdict is not judged here (the demo tests do that).
"""
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

source, build, prometheus = sys.argv[1:4]
DEADLINE = 120  # seconds; only bounds a failure
results = []


def record(name, error):
    results.append((name, error))
    print(("ok   " if error is None else "FAIL ") + name + ("" if error is None else f": {error}"), flush=True)


def wait_for(condition, what, deadline=DEADLINE):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise TimeoutError(f"timed out after {deadline} s waiting for {what}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as reply:
        return json.loads(reply.read())


def queries():
    out = []
    for path in sorted(glob.glob(os.path.join(source, "docs", "grafana", "*.json"))):
        with open(path, encoding="utf-8") as f:
            dashboard = json.load(f)
        stack = list(dashboard.get("panels", []))
        while stack:
            panel = stack.pop(0)
            stack.extend(panel.get("panels", []))
            for target in panel.get("targets", []):
                out.append((os.path.basename(path), panel.get("title", "?"), target["expr"]))
    return out


work = tempfile.mkdtemp(prefix="ops-dashboard-")
demo = prom = None
try:
    panels = queries()
    record("the dashboards have queries", None if panels else "no panel with a target in docs/grafana/*.json")

    demo_dir = os.path.join(work, "demo")
    demo_log = open(os.path.join(work, "demo.log"), "w", encoding="utf-8")
    demo = subprocess.Popen([os.path.join(source, "scripts", "demo"), "--build", build, "--minutes", "0.4",
                             "--keep", "--workdir", demo_dir], stdout=demo_log, stderr=subprocess.STDOUT)
    endpoints_file = os.path.join(demo_dir, "endpoints.env")
    wait_for(lambda: os.path.exists(endpoints_file) or demo.poll() is not None, "the demo's endpoints.env")
    if not os.path.exists(endpoints_file):
        raise RuntimeError("the demo ended before it started its processes:\n" + open(demo_log.name).read())
    with open(endpoints_file, encoding="utf-8") as f:
        endpoints = {k: v.strip('"') for k, v in (line.rstrip("\n").split("=", 1) for line in f if "=" in line)}
    rpc = urllib.parse.urlparse(endpoints["rpc"]).netloc
    targets = {"devnet": [rpc], "session-manager": [endpoints["sm_admin"]],
               "relay-edge": endpoints["edge_admins"].split()}

    port = free_port()
    config = os.path.join(work, "prometheus.yml")
    with open(config, "w", encoding="utf-8") as f:
        f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n")
        for job, hosts in targets.items():
            f.write(f"  - job_name: {job}\n    static_configs:\n      - targets: {json.dumps(hosts)}\n")
    prom_log = open(os.path.join(work, "prometheus.log"), "w", encoding="utf-8")
    prom = subprocess.Popen([prometheus, f"--config.file={config}", f"--storage.tsdb.path={work}/tsdb",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=prom_log, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{port}/api/v1"

    def ready():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False
    wait_for(ready, "Prometheus /-/ready")

    def all_up():
        active = get_json(f"{api}/targets")["data"]["activeTargets"]
        return len(active) == sum(len(h) for h in targets.values()) and all(t["health"] == "up" for t in active)
    try:
        wait_for(all_up, "every process to be an `up` target")
        record("Prometheus scrapes every process (devnet, session manager, both edges)", None)
    except TimeoutError as e:
        record("Prometheus scrapes every process (devnet, session manager, both edges)",
               f"{e}: {get_json(f'{api}/targets')['data']['activeTargets']}")

    demo.wait(timeout=600)  # the run's traffic and settlement; processes stay up (--keep)
    for dashboard, title, expr in panels:
        name = f"{dashboard}: '{title}': {expr}"

        def has_data(expr=expr):
            answer = get_json(f"{api}/query?" + urllib.parse.urlencode({"query": expr}))
            return answer["status"] == "success" and len(answer["data"]["result"]) > 0
        try:
            wait_for(has_data, "data", deadline=30)
            record(name, None)
        except TimeoutError:
            record(name, "the query returns no data")
        except urllib.error.HTTPError as e:
            record(name, f"Prometheus refused the query: {e.read().decode()}")
finally:
    if prom is not None:
        prom.terminate()
        prom.wait(timeout=60)
    if demo is not None and demo.poll() is None:
        demo.terminate()
        demo.wait(timeout=60)
    # --keep left the demo's processes running: stop them (they are this test's children's).
    for pid_file in glob.glob(os.path.join(work, "demo", "pids", "*.pid")):
        try:
            os.kill(int(open(pid_file).read()), signal.SIGTERM)
        except (OSError, ValueError):
            pass
    time.sleep(1)
    shutil.rmtree(work, ignore_errors=True)

failed = sum(1 for _, e in results if e)
print(f"{len(results) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
