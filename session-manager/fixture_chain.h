#pragma once
// A static chain read from a JSON file: the session manager's `chain.fixture` mode, for local
// runs, demos and multi-process tests without a full node. The file is the format test/sm-double
// reads (docs/configuration.md, "Static chain"):
//   {"chain": {"height": H, "advance": true, "sharedParams": {...}},
//    "sessions": [{"applicationAddress", "serviceId", "sessionId", "start", "end", "suppliers",
//                  "ringPubKeys" (hex), "computeUnitsPerRelay", "difficultyTarget" (hex),
//                  "windowParams" {...}, "startParams" {...}, "budget" {...}}]}
// Shared params default to poktroll's genesis values for keys the file omits. With
// `advance: true` the height grows by one every `blockInterval` from H (a block clock), so
// sessions age and windows open as on a real chain.
//
// Thread-safe: immutable after construction; the height is computed from a steady clock.
// A malformed file throws std::runtime_error naming the file and the JSON key at load.

#include <chrono>
#include <string>
#include <vector>

#include "session-manager/chain_source.h"

namespace pocket::sm {

class FixtureChain final : public ChainSource {
 public:
  FixtureChain(const std::string& path, std::chrono::milliseconds blockInterval);

  util::Result<ChainHead> latestHead() override;
  util::Result<SessionFacts> session(const std::string& applicationAddress,
                                     const std::string& serviceId, std::int64_t height) override;

 private:
  std::int64_t heightNow() const;

  std::int64_t startHeight_ = 1;
  bool advance_ = true;
  std::chrono::milliseconds blockInterval_;
  std::chrono::steady_clock::time_point startedAt_;
  protocol::SharedParams params_;
  std::vector<SessionFacts> sessions_;
};

}  // namespace pocket::sm
