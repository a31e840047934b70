# The link between relay-edge and session-manager (docs/link.md): framed Cap'n Proto messages over a
# ZeroMQ DEALER (edge) <-> ROUTER (session manager) pair.
@0xc3d6a8f4b1e27a95;

$import "/capnp/c++.capnp".namespace("pocket::link");

# A pocket.session.SessionHeader, field for field.
struct SessionHeader {
  applicationAddress @0 :Text;
  serviceId @1 :Text;
  sessionId @2 :Text;
  sessionStartBlockHeight @3 :Int64;
  sessionEndBlockHeight @4 :Int64;
}

# One relay that passed the edge's difficulty filter.
struct MinedRelay {
  relayHash @0 :Data;               # sha256(relayBytes), 32 bytes: the SMST key
  relayBytes @1 :Data;              # canonical Relay bytes with the response payload cleared: the SMST value
  computeUnits @2 :UInt64;          # the SMST weight: compute units per relay at session start
  sessionHeader @3 :SessionHeader;
  supplierOperatorAddress @4 :Text;
  arrivalHeight @5 :Int64;          # the block height the edge saw when the relay arrived
}

# First message on every new connection. The manager answers with an ack whose throughSeq is its
# high-water mark for (edgeId, spoolId), so the edge can drop what is already durable, then resends
# from there.
struct Hello {
  edgeId @0 :Text;
  version @1 :Text;
  resumeSeq @2 :UInt64;             # the first sequence number the edge still holds unacked
  spoolId @3 :UInt64;               # random, chosen when the edge's spool directory was created:
                                    # sequence numbers are per (edgeId, spoolId), so an edge whose
                                    # spool was wiped starts a new series instead of colliding
}

struct MinedRelays {
  firstSeq @0 :UInt64;              # relays[i] has sequence firstSeq + i
  relays @1 :List(MinedRelay);
}

# Asks for the session of an application and service that contains blockHeight. Answered with a
# sessionInfo or a sessionQueryFailed carrying the same queryId.
struct SessionQuery {
  applicationAddress @0 :Text;
  serviceId @1 :Text;
  blockHeight @2 :Int64;
  queryId @3 :UInt64;               # chosen by the edge, echoed in the answer
}

struct Rejection {
  seq @0 :UInt64;
  reason @1 :Text;
}

struct Ack {
  throughSeq @0 :UInt64;            # every relay up to and including this sequence is durable or rejected
  rejected @1 :List(Rejection);
}

struct EdgeMessage {
  union {
    hello @0 :Hello;
    minedRelays @1 :MinedRelays;
    sessionQuery @2 :SessionQuery;
  }
}

# pocket.shared.Params (all uint64 on chain), the fields the edge's session and window checks read.
struct SharedParams {
  numBlocksPerSession @0 :UInt64;
  gracePeriodEndOffsetBlocks @1 :UInt64;
  claimWindowOpenOffsetBlocks @2 :UInt64;
  claimWindowCloseOffsetBlocks @3 :UInt64;
  proofWindowOpenOffsetBlocks @4 :UInt64;
  proofWindowCloseOffsetBlocks @5 :UInt64;
  computeUnitsToTokensMultiplier @6 :UInt64;
  computeUnitCostGranularity @7 :UInt64;
  sessionGridAnchorHeight @8 :UInt64;
  sessionNumberAtAnchor @9 :UInt64;
}

# Chain facts the edge needs, pushed on every new block (and right after a hello).
struct ChainState {
  height @0 :Int64;
  blockHash @1 :Data;
  blockTimeUnixMs @2 :Int64;
  sharedParams @3 :SharedParams;    # in force at `height`
}

# What the edge needs to validate, price and mine one application's session.
struct SessionInfo {
  header @0 :SessionHeader;
  supplierOperatorAddresses @1 :List(Text);
  ringPubKeys @2 :List(Data);       # compressed secp256k1 keys: the application and its delegated gateways
  computeUnitsPerRelay @3 :UInt64;  # at session start
  difficultyTarget @4 :Data;        # 32 bytes, at session start
  queryId @5 :UInt64;               # the sessionQuery this answers; 0 when pushed unasked
  # The shared params that time this session's grace period and claim/proof windows: those in
  # force at the session's end height, or, while the session has not ended, at the current height
  # (re-pushed if they change before the end). Absent from an older manager: the edge then uses
  # the chainState's params, which are wrong only across a params change.
  windowParams @6 :SharedParams;
  # The shared params at the session's start height: they price its relays
  # (computeUnitsToTokensMultiplier / computeUnitCostGranularity). Absent: the chainState's.
  startParams @7 :SharedParams;
  # What bounds this application's spending on the session, for the edge's relay meter. Absent:
  # the edge serves the session without a cap (fail open). The manager sends the chain facts, not
  # a computed budget: the budget also depends on the session's window params and supplier count,
  # which this message already carries, and on the edge's own meter settings (bonus, allowance,
  # fleet share), so the formula lives in one place, next to the meter (edge/relay_meter.h).
  budget @8 :RelayBudget;
}

# Chain facts the relay meter needs besides the session's params and suppliers. Amounts in uPOKT.
# Re-pushed (a sessionInfo with queryId 0) when the application's stake changes mid-session.
struct RelayBudget {
  applicationStakeUpokt @0 :UInt64;          # the application's stake
  perSessionSpendLimitUpokt @1 :UInt64;      # the application's per_session_spend_limit; 0: none
  overservicingBonusMultiplier @2 :UInt64;   # tokenomics param (v0.1.35); 0 reads as 1
}

# A sessionQuery the manager cannot answer (no such application or service, height unknown...).
struct SessionQueryFailed {
  queryId @0 :UInt64;
  applicationAddress @1 :Text;
  serviceId @2 :Text;
  blockHeight @3 :Int64;
  reason @4 :Text;
  # True when the manager could not ask the chain (its full node is down, hung or erroring): the
  # session may well exist, so the edge must not remember the refusal. False: the chain said no.
  transient @5 :Bool;
}

struct ManagerMessage {
  union {
    ack @0 :Ack;
    chainState @1 :ChainState;
    sessionInfo @2 :SessionInfo;
    sessionQueryFailed @3 :SessionQueryFailed;
  }
}
