#pragma once
// Session ids and supplier selection, as poktroll hydrates a session
// (x/session/keeper/session_hydrator.go; docs/protocol.md §6). The session manager checks a
// session it was given; the local chain builds sessions with these.
//
// Pure functions, thread-safe. Errors are util::Error values with the codes named below.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/util/bytes.h"
#include "common/util/result.h"

namespace pocket::protocol {

// poktroll's service id rule (ErrSharedInvalidServiceId, code 1108 of the shared module): 1 to 42 characters of
// [a-zA-Z0-9_-]. Error code "bad_service_id".
util::Status validateServiceId(std::string_view serviceId);

struct SessionId {
  // Lowercase hex of sha3_256(preimage): 64 characters, as in SessionHeader.session_id.
  std::string id;
  // blockHash[start] ‖ "." ‖ service_id ‖ "." ‖ application_address ‖ "." ‖ u64_le(start). The
  // supplier weights are derived from it.
  util::Bytes preimage;
};

// The id of the session of (application, service) that starts at `sessionStart`, whose block hash
// (CometBFT block_id.hash of block `sessionStart`, 32 bytes) is `blockHashAtStart`. The address is
// used as given (bech32 validation is the caller's). Errors: "bad_service_id", "bad_height"
// (sessionStart < 1).
util::Result<SessionId> sessionId(util::ByteSpan blockHashAtStart, std::string_view serviceId,
                                  std::string_view applicationAddress, std::int64_t sessionStart);

// A candidate's weight: the first 8 bytes of sha3_256(preimage ‖ "." ‖ operator_address) read
// big-endian as a SIGNED int64.
std::int64_t supplierWeight(util::ByteSpan sessionIdPreimage, std::string_view operatorAddress);

// Which candidates serve the session, as indices into `candidateOperatorAddresses` (the supplier
// service-config entries active for the service at the query height, in the chain's store
// iteration order), in the order the session lists them:
//   - fewer candidates than `numSuppliersPerSession`: all of them, in the given order;
//   - otherwise: sorted by (signed weight, operator address bytes) ascending, the first
//     `numSuppliersPerSession`.
// poktroll releases before v0.1.33 compared weights by an overflowing subtraction, which orders
// some pairs of large weights differently; this follows v0.1.33 and later.
// Error "no_suppliers" when there is no candidate (poktroll's ErrSessionSuppliersNotFound).
util::Result<std::vector<std::size_t>> selectSessionSuppliers(
    util::ByteSpan sessionIdPreimage, std::span<const std::string> candidateOperatorAddresses,
    std::uint64_t numSuppliersPerSession);

}  // namespace pocket::protocol
