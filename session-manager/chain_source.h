#pragma once
// What the session manager needs to know about the chain, and nothing more: the newest block and
// the facts of one application's session. Every component of the session manager is written
// against this interface; main() picks the implementation (the node client adapter, or the
// static chain of fixture_chain.h).
//
// Threading: implementations are called from several threads (block loop, ingest, session-query
// worker) and must be thread-safe. Calls may block on the network; they return within the
// implementation's per-call deadline.
//
// Errors are ordinary results. `kChainNotFound` is definitive (the chain says there is no such
// session, application or service); every other code (`kChainUnavailable`, ...) is transient and
// the caller retries later without deciding anything.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/protocol/relay.h"
#include "common/protocol/session.h"
#include "common/util/bytes.h"
#include "common/util/result.h"

namespace pocket::sm {

inline constexpr std::string_view kChainNotFound = "chain_not_found";
inline constexpr std::string_view kChainUnavailable = "chain_unavailable";

// A committed block, as the edges see it in `chainState`.
struct ChainHead {
  std::int64_t height = 0;
  util::Bytes blockHash;  // 32 bytes
  std::int64_t blockTimeUnixMs = 0;
  protocol::SharedParams sharedParams;  // in force at `height`
};

// The relay meter's chain facts (schemas/edge_link.capnp RelayBudget), amounts in uPOKT.
struct RelayBudget {
  std::uint64_t applicationStakeUpokt = 0;
  std::uint64_t perSessionSpendLimitUpokt = 0;
  std::uint64_t overservicingBonusMultiplier = 1;
  bool operator==(const RelayBudget&) const = default;
};

// Everything an edge (and the ingest checks) need about one session.
struct SessionFacts {
  protocol::SessionHeader header;
  std::vector<std::string> supplierOperatorAddresses;
  std::vector<util::Bytes> ringPubKeys;  // compressed secp256k1: application, then gateways
  std::uint64_t computeUnitsPerRelay = 0;  // at session start
  util::Bytes difficultyTarget;            // 32 bytes, at session start
  protocol::SharedParams startParams;      // at session start
  // At session end; while the session has not ended, the params in force now.
  protocol::SharedParams windowParams;
  std::optional<RelayBudget> budget;

  bool hasSupplier(std::string_view address) const {
    for (const auto& s : supplierOperatorAddresses) {
      if (s == address) return true;
    }
    return false;
  }
  bool operator==(const SessionFacts&) const = default;
};

class ChainSource {
 public:
  virtual ~ChainSource() = default;
  // The newest committed block the source knows.
  virtual util::Result<ChainHead> latestHead() = 0;
  // The session of (application, service) that contains `height`, with its facts.
  virtual util::Result<SessionFacts> session(const std::string& applicationAddress,
                                             const std::string& serviceId,
                                             std::int64_t height) = 0;
};

}  // namespace pocket::sm
