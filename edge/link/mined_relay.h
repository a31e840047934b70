#pragma once
// The value types that cross the edge <-> session-manager link (docs/link.md): a mined relay and the
// session header it belongs to, with the codec the spool stores them in (one Cap'n Proto
// `MinedRelay` of schemas/edge_link.capnp per record, so a spooled record is copied into a batch
// without another format in between).
//
// Value types; copyable; thread-compatible.

#include <array>
#include <cstdint>
#include <string>

#include "common/protocol/relay.h"
#include "common/util/bytes.h"
#include "common/util/result.h"

namespace pocket::edge {

using RelayHash = std::array<std::uint8_t, 32>;

// The link carries the protocol's own session header type: what a relay names is compared and
// stored without a conversion.
using protocol::SessionHeader;

// One relay that passed the difficulty filter, as the session manager inserts it into the SMST of
// (supplierOperatorAddress, sessionHeader.sessionId).
struct MinedRelay {
  RelayHash relayHash{};   // sha256(relayBytes): the SMST key
  util::Bytes relayBytes;  // canonical Relay bytes, response payload cleared: the SMST value
  std::uint64_t computeUnits = 0;  // SMST weight: compute units per relay at session start
  SessionHeader sessionHeader;
  std::string supplierOperatorAddress;
  std::int64_t arrivalHeight = 0;  // the block height the edge saw when the relay arrived

  friend bool operator==(const MinedRelay&, const MinedRelay&) = default;
};

// The spool record payload: a Cap'n Proto flat array whose root is link::MinedRelay.
util::Bytes encodeMinedRelay(const MinedRelay& relay);
// Errors: "frame_size", "frame_malformed", "bad_relay_hash" (not 32 bytes).
util::Result<MinedRelay> decodeMinedRelay(util::ByteSpan payload);

}  // namespace pocket::edge
