#pragma once
// Every way a relay can end at the edge, with the HTTP status it is answered with and the token it
// is counted under (`edge_relays_total{service,outcome}`). 4xx: the caller's fault; 502/504: the
// backend's; 503: the edge cannot check the relay right now (no chain state from the session
// manager); 429 is reserved for rate limiting, with PATH's wording so that PATH routes around the
// supplier without a penalty.

#include <array>
#include <cstdint>
#include <string_view>

namespace pocket::edge {

enum class Outcome : std::uint8_t {
  served,                // 200, a signed RelayResponse
  malformedRequest,      // 400: the body is not a RelayRequest / the payload not a POKTHTTPRequest
  invalidRequest,        // 400: RelayRequest.ValidateBasic failed
  requestTooLarge,       // 413
  badRpcType,            // 400: Rpc-Type header is not an integer
  unknownService,        // 404: no backend configured for the service (and Rpc-Type)
  unknownSupplier,       // 403: supplier_operator_address is not one of this edge's keys
  sessionNotCurrent,     // 400: the session has not started at the current height
  sessionExpired,        // 400: past the session's grace period
  sessionNotFound,       // 403: the chain knows no such session
  sessionMismatch,       // 403: the header differs from the chain's session
  supplierNotInSession,  // 403
  badRingSignature,      // 403: malformed, wrong ring, or does not verify
  rateLimited,           // 429: "session relay limit reached" (reserved)
  chainUnavailable,      // 503: no chain state yet / session lookup timed out
  backendUnreachable,    // 502
  backendTimeout,        // 504
  backendTooLarge,       // 502
  backendError,          // 502: the connection broke or the response was malformed
  internalError,         // 500
};

inline constexpr std::size_t kOutcomeCount = static_cast<std::size_t>(Outcome::internalError) + 1;

std::string_view outcomeName(Outcome outcome);
unsigned outcomeStatus(Outcome outcome);

// Why a served relay was not mined (`edge_relays_not_mined_total{service,reason}`).
enum class NotMined : std::uint8_t {
  difficultyNotMet,  // the ordinary case: the hash is not under the target
  backend5xx,        // the backend failed; served, not paid (as the reference)
  claimWindowOpen,   // the session's claim window opened before the relay was served
  unverified,        // validation none, or optimistic validation failed after serving
  overBudget,        // optimistic: served before the relay meter found the session's budget used up
  spoolFull,         // dropped: the spool is at its size limit
  spoolError,        // dropped: the spool could not write
};

inline constexpr std::size_t kNotMinedCount = static_cast<std::size_t>(NotMined::spoolError) + 1;

std::string_view notMinedName(NotMined reason);

}  // namespace pocket::edge
