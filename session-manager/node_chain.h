#pragma once
// The ChainSource over a full node (common/chain): CometBFT `status` for the head (every poll also
// feeds NodeHealth), and the typed queries of ChainQueries for a session's facts.
//
// Facts of a session of (application, service) containing height h:
//   GetSession(h) → header and suppliers; the application's stake and per-session spend limit;
//   ring keys (the application and its delegated gateways, at the latest state);
//   ComputeUnitsPerRelayAtHeight and RelayMiningDifficultyAtHeight at the session's start;
//   shared params at the start (startParams) and at the end, or the current ones while the
//   session has not ended (windowParams).
//   the relay budget: the application's stake and per-session spend limit (GetSession), and the
//   tokenomics param overservicing_bonus_multiplier in force now (0, an unset param, is sent as 1).
//
// Error mapping: the chain's definitive "no" (not found, or any ABCI error of GetSession) →
// kChainNotFound; everything else (transport, timeouts, heights the node does not have yet) →
// kChainUnavailable, with the chain client's message.
//
// Ownership: borrows the NodeClient, ChainQueries and NodeHealth built by main(). Thread-safe
// (the shared-params memo has its own lock).

#include <map>
#include <mutex>

#include "common/chain/chain_queries.h"
#include "common/chain/node_client.h"
#include "common/chain/node_health.h"
#include "session-manager/chain_source.h"

namespace pocket::sm {

class NodeChain final : public ChainSource {
 public:
  NodeChain(chain::NodeClient& node, chain::ChainQueries& queries, chain::NodeHealth& health);

  util::Result<ChainHead> latestHead() override;
  util::Result<SessionFacts> session(const std::string& applicationAddress,
                                     const std::string& serviceId, std::int64_t height) override;

 private:
  util::Result<protocol::SharedParams> paramsAt(std::int64_t height);

  chain::NodeClient& node_;
  chain::ChainQueries& queries_;
  chain::NodeHealth& health_;
  std::mutex mutex_;
  std::map<std::int64_t, protocol::SharedParams> paramsByHeight_;  // bounded memo
  std::int64_t latestHeight_ = 0;
};

}  // namespace pocket::sm
