#!/usr/bin/env python3
"""The Python half of scripts/demo: chain lookups, the live progress line and the final accounting.

Everything here reads what the running processes publish, never their files:
  - the chain: the devnet's CometBFT RPC (`status`, `abci_query` GetSession) and `GET /devnet/state`
  - the session manager: `GET /status` and `GET /metrics` on its admin listener
  - the edges: `GET /metrics` on their admin listeners
  - relay-gateway: the `name=value` report each `load` run prints (kept in the work directory)

Subcommands (scripts/demo calls them; each prints plain text and exits 0 unless it says otherwise):
  pubkey KEY_FILE                              compressed secp256k1 public key of a key file, hex
  with-public-keys GENESIS OUT                 a copy of GENESIS with its applications' and gateways' keys
  plan GENESIS OUT_JSON [KEY_DIR]              the senders (application, service, supplier) and params
  round PLAN RPC N_EDGES ROUND                 the relay-gateway loads of the current session
  height RPC                                   the chain's latest height
  session RPC APP SERVICE                      "<session id> <start> <end>" of the current session
  observe STATE RPC SM_ADMIN EDGE_ADMIN...     one progress line; remembers per-session counts
  summary STATE RPC SM_ADMIN WORKDIR [--json FILE] [--chaos-log FILE]
                                               the table per session and the verdict (exit 1 when
                                               the verdict does not hold)
  windows PLAN STATE HEIGHT                    the sessions whose claim / proof window holds HEIGHT
  settled RPC STATE                            exit 0 once every claim of a session that had relays
                                               has settled or expired (the demo waits for it)
"""

import base64
import glob
import hashlib
import json
import os
import sys
import urllib.error
import urllib.request

# ---- secp256k1: public keys of the devnet's key files (the ring needs the delegated gateways') ----

_P = 2**256 - 2**32 - 977
_G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
      0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)
_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0] and (a[1] + b[1]) % _P == 0:
        return None
    if a == b:
        m = 3 * a[0] * a[0] * pow(2 * a[1], -1, _P)
    else:
        m = (b[1] - a[1]) * pow(b[0] - a[0], -1, _P)
    x = (m * m - a[0] - b[0]) % _P
    return (x, (m * (a[0] - x) - a[1]) % _P)


def public_key_hex(key_file):
    text = open(key_file, encoding="ascii").read().strip()
    scalar = int(text, 16)
    if len(text) != 64 or not 0 < scalar < _N:
        raise SystemExit(f"demo: {key_file}: not a secp256k1 key (64 hex digits)")
    point, addend = None, _G
    while scalar:
        if scalar & 1:
            point = _add(point, addend)
        addend = _add(addend, addend)
        scalar >>= 1
    return ("02" if point[1] % 2 == 0 else "03") + f"{point[0]:064x}"


# ---- protobuf, only what GetSession needs ----

def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field_bytes(number, data):
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _fields(data):
    """Yields (field number, value) for varint and length-delimited fields."""
    i = 0
    while i < len(data):
        key, shift = 0, 0
        while True:
            b = data[i]
            i += 1
            key |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, shift = 0, 0
            while True:
                b = data[i]
                i += 1
                value |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            yield number, value
        elif wire == 2:
            length, shift = 0, 0
            while True:
                b = data[i]
                i += 1
                length |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            yield number, data[i:i + length]
            i += length
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"protobuf wire type {wire} not expected")


# ---- HTTP ----

def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return reply.read().decode()


def rpc(base, method, params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(base, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as reply:
        answer = json.loads(reply.read())
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


def latest_height(base):
    return int(rpc(base, "status", {})["sync_info"]["latest_block_height"])


def current_session(base, app, service):
    request = _field_bytes(1, app.encode()) + _field_bytes(2, service.encode())
    result = rpc(base, "abci_query", {"path": "/pocket.session.Query/GetSession",
                                      "data": request.hex(), "height": "0", "prove": False})
    response = result["response"]
    if response.get("code", 0):
        raise RuntimeError(f"GetSession {app} {service}: code {response['code']}: {response.get('log')}")
    session = dict(_fields(base64.b64decode(response["value"])))[1]
    header = dict(_fields(dict(_fields(session))[1]))
    return header[3].decode(), header[4], header[5]


def metrics(url):
    """Prometheus text → {sample name with labels: value}; {} when the process does not answer."""
    try:
        text = http_get(url, timeout=2)
    except (OSError, urllib.error.URLError):
        return {}
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            samples[name] = float(value)
        except ValueError:
            pass
    return samples


def metric_sum(samples, name):
    return sum(v for k, v in samples.items() if k == name or k.startswith(name + "{"))


def sm_status(admin):
    try:
        return json.loads(http_get(f"http://{admin}/status", timeout=2))
    except (OSError, urllib.error.URLError, ValueError):
        return None


def devnet_state(base):
    return json.loads(http_get(base.rstrip("/") + "/devnet/state", timeout=10))


# ---- the state file: what was seen while the run went on ----

def load_state(path):
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    return {"sessions": {}, "edges": {}, "sm": {}}


def save_state(path, state):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f)
    os.replace(tmp, path)


def session_key(supplier, session_id):
    return f"{supplier}/{session_id}"


def observe(args):
    path, base, sm_admin, edge_admins = args[0], args[1], args[2], args[3:]
    state = load_state(path)
    try:
        height = latest_height(base)
    except (OSError, RuntimeError, urllib.error.URLError):
        height = state.get("height", 0)
    state["height"] = height
    status = sm_status(sm_admin)
    if status is not None:
        # The manager drops a tree once its proof window closed: remember each session's counts.
        for s in status.get("sessions", []):
            key = session_key(s["supplier"], s["sessionId"])
            state["sessions"][key] = {k: s[k] for k in ("supplier", "application", "service", "sessionId", "start", "end",
                                                        "relays", "computeUnits", "state", "claimWindowOpen",
                                                        "proofWindowClose")}
        for e in status.get("edges", []):
            state["edges"][f"{e['edgeId']}/{e['spoolId']}"] = {
                "edge": e["edgeId"], "lastSeq": e["lastSeq"], "ackedSeq": e["ackedSeq"]}
    sm = metrics(f"http://{sm_admin}/metrics")
    if sm:
        # Counters restart at 0 with the process: keep the largest value of each run.
        state["sm"]["rejected"] = max(state["sm"].get("rejected", 0), metric_sum(sm, "sm_relays_rejected_total"))
    served = mined = 0
    for i, admin in enumerate(edge_admins):
        m = metrics(f"http://{admin}/metrics")
        edge = state.setdefault("edge_metrics", {}).setdefault(str(i), {"base": {}, "last": {}})
        for name in ("served", "mined"):
            metric = {"served": "edge_relays_total", "mined": "edge_relays_mined_total"}[name]
            if name == "served":
                value = sum(v for k, v in m.items() if k.startswith("edge_relays_total{") and 'outcome="served"' in k)
            else:
                value = metric_sum(m, metric)
            last = edge["last"].get(name, 0)
            if m and value < last:  # the edge restarted: its counters began again at 0
                edge["base"][name] = edge["base"].get(name, 0) + last
            if m:
                edge["last"][name] = value
        if m:
            edge["unacked"] = metric_sum(m, "edge_spool_unacked_relays")
        served += edge["base"].get("served", 0) + edge["last"].get("served", 0)
        mined += edge["base"].get("mined", 0) + edge["last"].get("mined", 0)
    # Acked: what the session manager made durable, by the edges' spool sequence numbers.
    acked = sum(e["ackedSeq"] for e in state["edges"].values())
    try:
        chain = devnet_state(base)
        claims = chain.get("claims", [])
    except (OSError, ValueError, urllib.error.URLError):
        claims = []
    proofs = sum(1 for c in claims if c.get("proof_submitted"))
    settled = sum(1 for c in claims if c.get("settlement") == "settled")
    current = ""
    if status is not None and status.get("sessions"):
        newest = max(status["sessions"], key=lambda s: s["start"])
        current = f"{newest['start']}-{newest['end']}"
    sm_text = "up" if status is not None else "DOWN"
    print(f"height={height} session={current or '-'} served={int(served)} mined={int(mined)} "
          f"acked={int(acked)} claims={len(claims)} proofs={proofs} settled={settled} sm={sm_text}",
          flush=True)
    save_state(path, state)


def settled(args):
    """Exit 0 once every session the manager had relays for is past its proof window close and its
    claim (if any) is no longer pending: nothing more can happen to it."""
    base, path = args[0], args[1]
    state = load_state(path)
    chain = devnet_state(base)
    height = chain["height"]
    by_key = {session_key(c["supplier_operator_address"], c["session_id"]): c for c in chain["claims"]}
    for key, s in state["sessions"].items():
        if s["relays"] == 0:
            continue
        claim = by_key.get(key)
        if height <= s["proofWindowClose"] or (claim is not None and claim["settlement"] == "pending"):
            print(f"waiting for {key}: height {height}, proof window closes at {s['proofWindowClose']}")
            return 1
    return 0


def windows(args):
    """windows PLAN STATE HEIGHT: which sessions' claim and proof windows contain HEIGHT."""
    with open(args[0], encoding="utf-8") as f:
        shared = json.load(f)["shared"]
    state, height = load_state(args[1]), int(args[2])
    claim, proof = set(), set()
    for s in state["sessions"].values():
        claim_close = s["claimWindowOpen"] + shared["claim_window_close_offset_blocks"]
        proof_open = claim_close + shared["proof_window_open_offset_blocks"]
        if s["claimWindowOpen"] <= height <= claim_close:
            claim.add(f"{s['start']}-{s['end']}")
        if proof_open <= height <= s["proofWindowClose"]:
            proof.add(f"{s['start']}-{s['end']}")
    print(f"in_claim_window_of={','.join(sorted(claim)) or '-'} in_proof_window_of={','.join(sorted(proof)) or '-'}")


# ---- the summary ----

def gateway_served(workdir):
    """Relays the gateway got a 200 for, per (supplier, session id), from its load reports."""
    served = {}
    for path in glob.glob(os.path.join(workdir, "gateway", "*.out")):
        meta_path = path[:-4] + ".meta"
        if not os.path.exists(meta_path):
            continue
        with open(meta_path, encoding="utf-8") as f:
            meta = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        with open(path, encoding="utf-8") as f:
            report = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        try:
            ok = int(report.get("requests", 0)) - int(report.get("non2xx", 0))
        except ValueError:
            ok = 0
        if ok > 0:
            key = session_key(meta["supplier"], meta["session"])
            served[key] = served.get(key, 0) + ok
    return served


def summary(args):
    path, base, sm_admin, workdir = args[:4]
    rest = args[4:]
    json_out = chaos_log = None
    while rest:
        flag = rest.pop(0)
        if flag == "--json":
            json_out = rest.pop(0)
        elif flag == "--chaos-log":
            chaos_log = rest.pop(0)
        else:
            raise SystemExit(f"demo_helper summary: unknown flag {flag}")
    state = load_state(path)
    chain = devnet_state(base)
    claims = chain["claims"]
    # Amounts come as JSON numbers or, like the chain's coin amounts, as decimal strings.
    for c in claims:
        for name in ("num_relays", "num_claimed_compute_units", "claimed_upokt", "settled_upokt",
                     "slashed_upokt"):
            if isinstance(c.get(name), str):
                c[name] = int(c[name] or 0)
    served = gateway_served(workdir)
    failures = []

    # Every claim on chain, at most one per (supplier, session): a second one would count twice.
    by_key = {}
    for c in claims:
        key = session_key(c["supplier_operator_address"], c["session_id"])
        if key in by_key:
            failures.append(f"two claims for supplier {c['supplier_operator_address']} session {c['session_id']}")
        by_key[key] = c

    rows = []
    keys = sorted(set(state["sessions"]) | set(by_key) | set(served),
                  key=lambda k: (state["sessions"].get(k, {}).get("start") or
                                 by_key.get(k, {}).get("session_start_block_height", 0), k))
    totals = {"served": 0, "mined": 0, "claimed_relays": 0, "compute_units": 0, "claimed_upokt": 0,
              "settled_upokt": 0, "proofs_required": 0, "proofs_validated": 0}
    for key in keys:
        s = state["sessions"].get(key)
        c = by_key.get(key)
        supplier, session_id = key.split("/", 1)
        mined = s["relays"] if s else 0
        row = {
            "supplier": supplier,
            "session_id": session_id,
            "application": (s or {}).get("application") or (c or {}).get("application_address", ""),
            "service": (s or {}).get("service") or (c or {}).get("service_id", ""),
            "start": (s or {}).get("start") or (c or {}).get("session_start_block_height", 0),
            "end": (s or {}).get("end") or (c or {}).get("session_end_block_height", 0),
            "served": served.get(key, 0),
            "mined": mined,
            "claimed_relays": c["num_relays"] if c else 0,
            "compute_units": c["num_claimed_compute_units"] if c else 0,
            "claimed_upokt": c["claimed_upokt"] if c else 0,
            "proof_required": (c or {}).get("proof_requirement") or "-",
            "proof_status": (c or {}).get("proof_status") or "-",
            "settlement": c["settlement"] if c else "no claim",
            "settled_upokt": c["settled_upokt"] if c else 0,
        }
        rows.append(row)
        where = f"session {session_id[:8]}… [{row['start']}-{row['end']}] supplier {supplier}"
        if mined > 0 and c is None:
            failures.append(f"{where}: {mined} mined relays are in no claim")
        if c is not None:
            if c["num_relays"] != mined:
                failures.append(f"{where}: the claim holds {c['num_relays']} relays, the session manager "
                                f"received {mined}")
            if row["served"] > c["num_relays"]:
                failures.append(f"{where}: the gateway got {row['served']} signed answers, the claim "
                                f"holds only {c['num_relays']} relays")
            required = c.get("proof_requirement") not in (None, "NOT_REQUIRED")
            if required:
                totals["proofs_required"] += 1
                if c.get("proof_status") == "VALIDATED":
                    totals["proofs_validated"] += 1
            if c["settlement"] != "settled":
                failures.append(f"{where}: settlement {c['settlement']} ({c.get('settlement_reason', '')})")
            elif c["settled_upokt"] != c["claimed_upokt"]:
                failures.append(f"{where}: settled {c['settled_upokt']} uPOKT, claimed {c['claimed_upokt']}")
            if required and c.get("proof_status") != "VALIDATED":
                failures.append(f"{where}: proof required ({c['proof_requirement']}) but "
                                f"{c.get('proof_status')}: {c.get('proof_failure_reason', '')}")
        elif row["served"] > 0:
            failures.append(f"{where}: the gateway got {row['served']} signed answers and there is no claim")
        for name in ("served", "mined", "claimed_relays", "compute_units", "claimed_upokt", "settled_upokt"):
            totals[name] += row[name]

    # Every relay an edge mined is in the session manager. Each mined relay takes the next
    # sequence number of its edge's spool (kept across restarts); the manager's high-water mark per
    # spool, once every spool reports nothing unacked, is the number of relays the edges mined.
    edge_mined = sum(e["ackedSeq"] for e in state["edges"].values())
    rejected = int(state["sm"].get("rejected", 0))
    edge_metrics = state.get("edge_metrics", {})
    unacked = {i: e.get("unacked") for i, e in edge_metrics.items()}
    counted = sum(e["base"].get("mined", 0) + e["last"].get("mined", 0) for e in edge_metrics.values())
    for i, n in sorted(unacked.items()):
        if n is None or n > 0:
            failures.append(f"edge {int(i) + 1} still holds {n if n is not None else 'an unknown number of'} "
                            "unacked relays in its spool")
    if rejected:
        failures.append(f"the session manager rejected {rejected} relays (sm_relays_rejected_total)")
    if edge_mined != totals["mined"] + rejected:
        failures.append(f"the edges' spools hold {edge_mined} mined relays, the session manager's "
                        f"sessions {totals['mined']}")
    # The edges' own counters (edge_relays_mined_total, summed over restarts) agree; a kill -9 can
    # only hide the increments after the last scrape before it.
    killed_edges = chaos_log and os.path.exists(chaos_log) and "target=edge" in open(chaos_log).read()
    if int(counted) > edge_mined or (not killed_edges and int(counted) != edge_mined):
        failures.append(f"the edges counted {int(counted)} mined relays (edge_relays_mined_total), their "
                        f"spools {edge_mined}")
    if totals["mined"] == 0:
        failures.append("no relay was mined")

    chaos = []
    if chaos_log and os.path.exists(chaos_log):
        with open(chaos_log, encoding="utf-8") as f:
            chaos = [dict(part.split("=", 1) for part in line.split() if "=" in part) for line in f]

    # One row per session (the block range), summing its trees: (supplier, application, service).
    groups = {}
    for r in rows:
        g = groups.setdefault((r["start"], r["end"]), {"trees": 0, "claims": 0, "served": 0, "mined": 0,
                                                       "claimed_relays": 0, "compute_units": 0,
                                                       "claimed_upokt": 0, "required": 0, "validated": 0,
                                                       "settled": 0, "settled_upokt": 0})
        g["trees"] += 1
        g["claims"] += 1 if r["settlement"] != "no claim" else 0
        for name in ("served", "mined", "claimed_relays", "compute_units", "claimed_upokt", "settled_upokt"):
            g[name] += r[name]
        g["required"] += 1 if r["proof_required"] not in ("-", "NOT_REQUIRED") else 0
        g["validated"] += 1 if r["proof_status"] == "VALIDATED" else 0
        g["settled"] += 1 if r["settlement"] == "settled" else 0
    header = ["SESSION", "TREES", "SERVED", "MINED", "IN_CLAIM", "COMPUTE_UNITS", "CLAIMED_uPOKT", "CLAIMS",
              "PROOFS_REQ", "PROOFS_OK", "SETTLED", "SETTLED_uPOKT"]

    def cells(label, g):
        return [label, str(g["trees"]), str(g["served"]), str(g["mined"]), str(g["claimed_relays"]),
                str(g["compute_units"]), str(g["claimed_upokt"]), str(g["claims"]), str(g["required"]),
                str(g["validated"]), str(g["settled"]), str(g["settled_upokt"])]

    table = [cells(f"{start}-{end}", g) for (start, end), g in sorted(groups.items())]
    total = {k: sum(g[k] for g in groups.values()) for k in
             ("trees", "claims", "served", "mined", "claimed_relays", "compute_units", "claimed_upokt",
              "required", "validated", "settled", "settled_upokt")}
    table.append(cells("TOTAL", total))
    widths = [max(len(header[i]), *(len(t[i]) for t in table)) for i in range(len(header))]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    for t in table:
        print("  ".join(c.rjust(w) for c, w in zip(t, widths)))
    print(f"edges: {edge_mined} relays mined and acked (spool sequence numbers; the edges' counters: "
          f"{int(counted)}), {rejected} rejected by the session manager")
    if chaos:
        kinds = {}
        for event in chaos:
            kinds[event.get("action", "?")] = kinds.get(event.get("action", "?"), 0) + 1
        print("chaos: " + ", ".join(f"{n} × {k}" for k, n in sorted(kinds.items())))
        for event in chaos:
            print("  " + " ".join(f"{k}={v}" for k, v in event.items()))
    holds = not failures
    if holds:
        print(f"VERDICT: holds — {totals['mined']} mined relays in {len(by_key)} claims, every claim "
              f"accepted, {totals['proofs_validated']}/{totals['proofs_required']} required proofs validated, "
              f"settled {totals['settled_upokt']} uPOKT = claimed {totals['claimed_upokt']} uPOKT")
    else:
        print(f"VERDICT: FAILED — {len(failures)} problem(s):")
        for f in failures[:20]:
            print(f"  - {f}")
        if len(failures) > 20:
            print(f"  - … and {len(failures) - 20} more")
    if json_out:
        with open(json_out, "w", encoding="utf-8") as f:
            json.dump({"sessions": rows, "totals": totals, "edges_mined": edge_mined, "edges_counted_mined": int(counted),
                       "rejected": rejected, "claims": len(by_key), "chaos": chaos,
                       "verdict": "holds" if holds else "failed", "failures": failures}, f, indent=2)
            f.write("\n")
    return 0 if holds else 1


# ---- the plan: who sends what, from the genesis and the keys next to it ----

_SHARED_DEFAULTS = {"num_blocks_per_session": 10, "grace_period_end_offset_blocks": 1,
                    "claim_window_open_offset_blocks": 1, "claim_window_close_offset_blocks": 4,
                    "proof_window_open_offset_blocks": 0, "proof_window_close_offset_blocks": 4}


def go_duration_ms(text):
    total, number, i = 0.0, "", 0
    units = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000}
    text = str(text)
    while i < len(text):
        if text[i].isdigit() or text[i] == ".":
            number += text[i]
            i += 1
            continue
        unit = "ms" if text.startswith("ms", i) else text[i]
        if unit not in units or not number:
            raise SystemExit(f"demo: block_time: '{text}' is not a duration like 500ms or 1s")
        total += float(number) * units[unit]
        number = ""
        i += len(unit)
    if number:
        raise SystemExit(f"demo: block_time: '{text}' lacks a unit")
    return int(total)


def plan(args):
    """plan GENESIS OUT_JSON: reads the genesis and the key files `pocket-devnet init` wrote next to
    it (DIR/keys/NAME.key, DIR/accounts.yaml); writes the plan and prints shell assignments."""
    import yaml  # python3-yaml (scripts/setup)

    genesis_path, out = args[0], args[1]
    # the keys live next to the genesis `pocket-devnet init` wrote (a third argument when the
    # genesis in use is a copy elsewhere)
    directory = args[2] if len(args) > 2 else os.path.dirname(os.path.abspath(genesis_path))
    genesis = yaml.safe_load(open(genesis_path, encoding="utf-8"))
    accounts_path = os.path.join(directory, "accounts.yaml")
    if not os.path.exists(accounts_path):
        raise SystemExit(f"demo: {accounts_path} is missing: --genesis needs the keys/ and accounts.yaml "
                         "that `pocket-devnet init` writes next to the genesis")
    key_of = {}
    for name, entry in (yaml.safe_load(open(accounts_path, encoding="utf-8")) or {}).items():
        key_file = os.path.join(directory, entry["key_file"])
        if os.path.exists(key_file):
            key_of[entry["address"]] = key_file
    pubkey_of = {a.get("address"): a.get("public_key") for a in genesis.get("accounts", []) or []
                 if a.get("public_key")}

    def pubkey(address):
        if address in key_of:
            return public_key_hex(key_of[address])
        if address in pubkey_of:
            return pubkey_of[address]
        raise SystemExit(f"demo: no key file and no public_key in the genesis for {address}")

    suppliers = [s for s in genesis.get("suppliers", []) if s["operator_address"] in key_of]
    if not suppliers:
        raise SystemExit("demo: the genesis has no supplier whose operator key is in keys/")
    supplier_services = {svc["service_id"] for s in suppliers for svc in s.get("services", [])}
    senders = []
    for app in genesis.get("applications", []):
        address = app["address"]
        gateways = list(app.get("delegatee_gateway_addresses", []) or [])
        signer = next((g for g in gateways if g in key_of), None)
        if signer is None and address not in key_of:
            continue  # nobody here can sign for this application
        delegates = [pubkey(g) for g in gateways if g != signer]
        for service in app.get("services", []):
            if service not in supplier_services:
                continue
            for s in suppliers:
                if service not in {svc["service_id"] for svc in s.get("services", [])}:
                    continue
                senders.append({"application": address, "app_key": key_of.get(address, ""),
                                "app_pubkey": pubkey(address), "gateway_key": key_of.get(signer, ""),
                                "delegates": delegates, "service": service,
                                "supplier": s["operator_address"],
                                "supplier_key": key_of[s["operator_address"]]})
    if not senders:
        raise SystemExit("demo: no application of the genesis can be signed for with the keys in keys/")
    shared = dict(_SHARED_DEFAULTS)
    shared.update((genesis.get("params", {}) or {}).get("shared", {}) or {})
    document = {"chain_id": genesis.get("chain_id", "pocket"),
                "block_time_ms": go_duration_ms(genesis.get("block_time", "1s")),
                "shared": {k: int(shared[k]) for k in _SHARED_DEFAULTS},
                "services": sorted({x["service"] for x in senders}),
                "suppliers": [{"address": s["operator_address"], "key_file": key_of[s["operator_address"]]}
                              for s in suppliers],
                "senders": senders}
    with open(out, "w", encoding="utf-8") as f:
        json.dump(document, f, indent=2)
    sh = document["shared"]
    print(f"chain_id={document['chain_id']}")
    print(f"block_time_ms={document['block_time_ms']}")
    for k, v in sh.items():
        print(f"{k}={v}")
    print(f"services='{' '.join(document['services'])}'")
    print(f"supplier_keys='{' '.join(s['key_file'] for s in document['suppliers'])}'")
    print(f"applications={len({x['application'] for x in senders})}")
    print(f"senders={len(senders)}")


def round_commands(args):
    """round PLAN RPC N_EDGES ROUND: one line per load of this session round:
    edge_index supplier session_id start end then the relay-gateway arguments."""
    with open(args[0], encoding="utf-8") as f:
        document = json.load(f)
    base, edges, number = args[1], int(args[2]), int(args[3])
    sessions = {}
    for i, sender in enumerate(document["senders"]):
        key = (sender["application"], sender["service"])
        if key not in sessions:
            sessions[key] = current_session(base, *key)
        session_id, start, end = sessions[key]
        # Every application reaches every edge: its senders alternate, and swap each round.
        edge = (i + number) % edges
        relay = []
        if sender["app_key"] and sender["gateway_key"]:
            relay += ["--app-key", sender["app_key"], "--gateway-key", sender["gateway_key"]]
        elif sender["gateway_key"]:
            relay += ["--app-pubkey", sender["app_pubkey"], "--gateway-key", sender["gateway_key"]]
        else:
            relay += ["--app-key", sender["app_key"]]
        for d in sender["delegates"]:
            relay += ["--delegate-pubkey", d]
        relay += ["--service", sender["service"], "--session-id", session_id, "--session-start", str(start),
                  "--session-end", str(end), "--supplier-key", sender["supplier_key"],
                  "--supplier", sender["supplier"]]
        print(edge, sender["supplier"], session_id, start, end, " ".join(relay))


def with_public_keys(args):
    """with-public-keys GENESIS OUT: a copy of GENESIS in which every application and gateway whose
    key file is listed in the accounts.yaml next to it has its account's public key (rings need
    them; accounts that never signed a transaction have none)."""
    import yaml  # python3-yaml (scripts/setup)

    source, out = args[0], args[1]
    directory = os.path.dirname(os.path.abspath(source))
    genesis = yaml.safe_load(open(source, encoding="utf-8"))
    accounts_path = os.path.join(directory, "accounts.yaml")
    key_of = {}
    if os.path.exists(accounts_path):
        for entry in (yaml.safe_load(open(accounts_path, encoding="utf-8")) or {}).values():
            key_file = os.path.join(directory, entry["key_file"])
            if os.path.exists(key_file):
                key_of[entry["address"]] = key_file
    wanted = [a["address"] for a in genesis.get("applications", []) or []]
    wanted += [g["address"] for g in genesis.get("gateways", []) or []]
    accounts = genesis.setdefault("accounts", []) or []
    genesis["accounts"] = accounts
    by_address = {a.get("address"): a for a in accounts}
    added = 0
    for address in wanted:
        if address not in key_of:
            continue
        account = by_address.get(address)
        if account is None:
            account = {"address": address, "balance": 0}
            accounts.append(account)
            by_address[address] = account
        if not account.get("public_key"):
            account["public_key"] = public_key_hex(key_of[address])
            added += 1
    with open(out, "w", encoding="utf-8") as f:
        yaml.safe_dump(genesis, f, sort_keys=False)
    print(f"genesis: public keys added to {added} accounts")


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    command, args = argv[1], argv[2:]
    if command == "pubkey":
        print(public_key_hex(args[0]))
    elif command == "with-public-keys":
        with_public_keys(args)
    elif command == "plan":
        plan(args)
    elif command == "round":
        round_commands(args)
    elif command == "height":
        print(latest_height(args[0]))
    elif command == "session":
        session_id, start, end = current_session(args[0], args[1], args[2])
        print(session_id, start, end)
    elif command == "observe":
        observe(args)
    elif command == "summary":
        return summary(args)
    elif command == "windows":
        windows(args)
    elif command == "settled":
        return settled(args)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
