# The link between relay-edge and session-manager (DESIGN §5): framed Cap'n Proto messages over a
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

struct Hello {
  edgeId @0 :Text;
  version @1 :Text;
  resumeSeq @2 :UInt64;             # the first sequence number the edge still holds unacked
}

struct MinedRelays {
  firstSeq @0 :UInt64;              # relays[i] has sequence firstSeq + i
  relays @1 :List(MinedRelay);
}

struct SessionQuery {
  applicationAddress @0 :Text;
  serviceId @1 :Text;
  blockHeight @2 :Int64;
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

# Chain facts the edge needs, pushed on every new block.
struct ChainState {
  height @0 :Int64;
  blockHash @1 :Data;
  blockTimeUnixMs @2 :Int64;
}

# What the edge needs to validate, price and mine one application's session.
struct SessionInfo {
  header @0 :SessionHeader;
  supplierOperatorAddresses @1 :List(Text);
  ringPubKeys @2 :List(Data);       # compressed secp256k1 keys: the application and its delegated gateways
  computeUnitsPerRelay @3 :UInt64;  # at session start
  difficultyTarget @4 :Data;        # 32 bytes, at session start
}

struct ManagerMessage {
  union {
    ack @0 :Ack;
    chainState @1 :ChainState;
    sessionInfo @2 :SessionInfo;
  }
}
