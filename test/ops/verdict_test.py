#!/usr/bin/env python3
"""scripts/demo's verdict on made-up runs: `demo_helper.py summary` against a chain document served
the way the devnet serves `/devnet/state`, with the session manager's per-session counts, the
edges' spool sequence numbers and relay-gateway reports as the demo records them. The verdict must
hold for an exact run and name the broken rule for each kind of inexact one.

usage: verdict_test.py DEMO_HELPER        Ends with `N passed, N failed`.
"""
import copy
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

helper = sys.argv[1]
SUPPLIER = "pokt1supplier0000000000000000000000000000"
APP = "pokt1app000000000000000000000000000000000"
results = []


class Chain(http.server.BaseHTTPRequestHandler):
    document = {}

    def do_GET(self):  # noqa: N802 (http.server's name)
        body = json.dumps(Chain.document).encode()
        self.send_response(200 if self.path == "/devnet/state" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Chain)
threading.Thread(target=server.serve_forever, daemon=True).start()
base = f"http://127.0.0.1:{server.server_address[1]}"


def session(sid, start, relays):
    return {"supplier": SUPPLIER, "application": APP, "service": "anvil", "sessionId": sid, "start": start,
            "end": start + 4, "relays": relays, "computeUnits": relays, "state": "claim_window_open",
            "claimWindowOpen": start + 6, "proofWindowClose": start + 14}


def claim(sid, start, relays, requirement="NOT_REQUIRED", status="PENDING_VALIDATION", settled=None):
    claimed = relays * 42
    return {"session_id": sid, "supplier_operator_address": SUPPLIER, "application_address": APP,
            "service_id": "anvil", "session_start_block_height": start, "session_end_block_height": start + 4,
            "num_relays": relays, "num_claimed_compute_units": relays, "claimed_upokt": str(claimed),
            "proof_requirement": requirement, "proof_status": status, "proof_failure_reason": "",
            "proof_submitted": status != "PENDING_VALIDATION", "settlement": "settled",
            "settlement_reason": "", "settled_upokt": claimed if settled is None else settled}


def exact_run():
    observed = {"sessions": {f"{SUPPLIER}/a": session("a", 1, 10), f"{SUPPLIER}/b": session("b", 6, 7)},
                "edges": {"edge-1/1": {"edge": "edge-1", "lastSeq": 9, "ackedSeq": 9},
                          "edge-2/2": {"edge": "edge-2", "lastSeq": 8, "ackedSeq": 8}},
                "sm": {"rejected": 0},
                "edge_metrics": {"0": {"base": {"mined": 4}, "last": {"mined": 5}, "unacked": 0},
                                 "1": {"base": {}, "last": {"mined": 8}, "unacked": 0}}}
    chain = {"height": 40, "claims": [claim("a", 1, 10, "PROBABILISTIC", "VALIDATED"), claim("b", 6, 7)]}
    served = {"a": 10, "b": 7}
    return observed, chain, served


def run(observed, chain, served):
    work = tempfile.mkdtemp(prefix="verdict-")
    try:
        os.makedirs(os.path.join(work, "gateway"))
        for i, (sid, n) in enumerate(served.items()):
            with open(os.path.join(work, "gateway", f"r{i}.meta"), "w") as f:
                f.write(f"supplier={SUPPLIER}\nsession={sid}\nedge=0\n")
            with open(os.path.join(work, "gateway", f"r{i}.out"), "w") as f:
                f.write(f"requests={n + 2}\nnon2xx=2\n")
        with open(os.path.join(work, "observed.json"), "w") as f:
            json.dump(observed, f)
        Chain.document = chain
        summary = os.path.join(work, "summary.json")
        p = subprocess.run([sys.executable, helper, "summary", os.path.join(work, "observed.json"), base,
                            "127.0.0.1:1", work, "--json", summary], capture_output=True, text=True, timeout=60)
        with open(summary) as f:
            return p.returncode, p.stdout, json.load(f)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def case(name, mutate, expect_holds, expect_text=None):
    observed, chain, served = exact_run()
    mutate(observed, chain, served)
    code, out, doc = run(observed, chain, served)
    problems = []
    if expect_holds and (code != 0 or doc["verdict"] != "holds" or "VERDICT: holds" not in out):
        problems.append(f"expected the verdict to hold, got exit {code}: {doc['failures']}")
    if not expect_holds:
        if code == 0 or doc["verdict"] != "failed":
            problems.append(f"expected a failed verdict, got exit {code}")
        elif expect_text and not any(expect_text in f for f in doc["failures"]):
            problems.append(f"no failure mentions '{expect_text}': {doc['failures']}")
    results.append((name, problems))
    print(("ok   " if not problems else "FAIL ") + name + ("" if not problems else ": " + "; ".join(problems)))


def nothing(o, c, s):
    pass


def fewer_in_claim(o, c, s):
    c["claims"][1]["num_relays"] = 6


def no_claim(o, c, s):
    del c["claims"][1]


def twice_claimed(o, c, s):
    c["claims"].append(copy.deepcopy(c["claims"][1]))


def proof_missing(o, c, s):
    c["claims"][1].update(proof_requirement="THRESHOLD", proof_status="PENDING_VALIDATION",
                          settlement="expired_proof_missing", settled_upokt=0)


def proof_invalid(o, c, s):
    c["claims"][0].update(proof_status="INVALID", settlement="expired_proof_invalid", settled_upokt=0)


def settled_less(o, c, s):
    c["claims"][0]["settled_upokt"] -= 1


def rejected(o, c, s):
    o["sm"]["rejected"] = 1
    o["edges"]["edge-1/1"]["ackedSeq"] += 1
    o["edge_metrics"]["0"]["last"]["mined"] += 1


def spool_not_delivered(o, c, s):
    o["edge_metrics"]["1"]["unacked"] = 3


def edge_mined_more(o, c, s):
    o["edges"]["edge-2/2"]["ackedSeq"] += 1
    o["edge_metrics"]["1"]["last"]["mined"] += 1


def counters_above_spools(o, c, s):
    o["edge_metrics"]["1"]["last"]["mined"] += 1


def counters_below_spools(o, c, s):
    o["edge_metrics"]["1"]["last"]["mined"] -= 1


def served_more_than_claimed(o, c, s):
    s["b"] = 8


def killed_in_flight(o, c, s):
    # kill -9 while relays were in flight: mined and claimed, but the gateway saw an error
    s["a"] = 8


case("an exact run holds", nothing, True)
case("relays in flight when an edge was killed (mined, not answered) still hold", killed_in_flight, True)
case("a claim with fewer relays than the session manager received fails", fewer_in_claim, False, "holds 6 relays")
case("a session with relays and no claim fails", no_claim, False, "in no claim")
case("two claims for one session fail", twice_claimed, False, "two claims")
case("a required proof never submitted fails", proof_missing, False, "proof required")
case("an invalid proof fails", proof_invalid, False, "INVALID")
case("settled less than claimed fails", settled_less, False, "settled")
case("a relay the session manager rejected fails", rejected, False, "rejected 1 relays")
case("relays left in an edge's spool fail", spool_not_delivered, False, "unacked")
case("edges counting more mined relays than their spools hold fail", counters_above_spools, False, "counted")
case("edges counting fewer mined relays than their spools hold fail without kill -9",
     counters_below_spools, False, "counted")
case("more relays mined by the edges than in the trees fail", edge_mined_more, False, "spools hold")
case("more signed answers than relays in the claim fail", served_more_than_claimed, False, "signed answers")

server.shutdown()
failed = sum(1 for _, p in results if p)
print(f"{len(results) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
