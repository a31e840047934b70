#pragma once
// The lifecycle's chain reads (lifecycle.h LifecycleChain) over a full node: session facts from
// the session manager's ChainSource, the block hash of an exact height (`block`), the proof params
// and a balance (ChainQueries), and claim settlements from `block_results` finalize-block events
// (pocket.tokenomics.EventClaimSettled / EventClaimExpired, attribute values in JSON).
//
// Errors: the node's and the queries' codes pass through (transient for the lifecycle);
// kChainNotFound for a session the chain does not know; kLifecycleChainBadReply when an event or
// a coin does not decode (the message names the attribute).
//
// Ownership and threading: borrows the source, the client and the queries (all thread-safe);
// called from the lifecycle thread.

#include "common/chain/chain_queries.h"
#include "common/chain/node_client.h"
#include "session-manager/chain_source.h"
#include "session-manager/lifecycle.h"

namespace pocket::sm {

class NodeLifecycleChain final : public LifecycleChain {
 public:
  NodeLifecycleChain(ChainSource& source, chain::NodeClient& node, chain::ChainQueries& queries)
      : source_(source), node_(node), queries_(queries) {}

  util::Result<SessionFacts> session(const std::string& application, const std::string& service,
                                     std::int64_t startHeight) override;
  util::Result<util::Bytes> blockHash(std::int64_t height) override;
  util::Result<ProofFacts> proofFacts() override;
  util::Result<std::uint64_t> spendableUpokt(const std::string& address) override;
  util::Result<std::vector<SettlementEvent>> settlements(std::int64_t height) override;

 private:
  ChainSource& source_;
  chain::NodeClient& node_;
  chain::ChainQueries& queries_;
};

// The settlements and expirations among a block's finalize-block events (pure; tests).
util::Result<std::vector<SettlementEvent>> settlementEvents(
    const std::vector<chain::Event>& finalizeBlockEvents);

}  // namespace pocket::sm
