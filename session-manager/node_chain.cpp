#include "session-manager/node_chain.h"

#include <algorithm>
#include <charconv>

namespace pocket::sm {

namespace {

util::Error unavailable(const util::Error& e) {
  return util::makeError(std::string(kChainUnavailable), e.code + ": " + e.message);
}

std::uint64_t amountOf(const protocol::Coin& coin) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(coin.amount.data(), coin.amount.data() + coin.amount.size(), v);
  if (ec != std::errc() || end != coin.amount.data() + coin.amount.size()) {
    return std::numeric_limits<std::uint64_t>::max();  // beyond 2^64 uPOKT: no cap in practice
  }
  return v;
}

}  // namespace

NodeChain::NodeChain(chain::NodeClient& node, chain::ChainQueries& queries,
                     chain::NodeHealth& health)
    : node_(node), queries_(queries), health_(health) {
}

util::Result<protocol::SharedParams> NodeChain::paramsAt(std::int64_t height) {
  {
    std::lock_guard lock(mutex_);
    auto it = paramsByHeight_.find(height);
    if (it != paramsByHeight_.end()) return it->second;
  }
  auto params = queries_.sharedParamsAtHeight(height);
  if (!params.ok()) return params.error();
  std::lock_guard lock(mutex_);
  if (paramsByHeight_.size() >= 256) paramsByHeight_.erase(paramsByHeight_.begin());
  paramsByHeight_[height] = *params;
  return *params;
}

util::Result<ChainHead> NodeChain::latestHead() {
  auto status = health_.probe(node_);
  // Evaluated after a failed probe too: the health gauges and the node_health log line follow a
  // node that stopped answering without waiting for someone to ask /readyz.
  health_.evaluate();
  if (!status.ok()) return unavailable(status.error());
  ChainHead head;
  head.height = status->latestBlockHeight;
  head.blockHash = status->latestBlockHash;
  head.blockTimeUnixMs = status->latestBlockTime.seconds * 1000 + status->latestBlockTime.nanos / 1000000;
  auto params = queries_.sharedParams(head.height);
  if (!params.ok()) return unavailable(params.error());
  head.sharedParams = *params;
  std::lock_guard lock(mutex_);
  latestHeight_ = std::max(latestHeight_, head.height);
  return head;
}

util::Result<SessionFacts> NodeChain::session(const std::string& applicationAddress,
                                              const std::string& serviceId, std::int64_t height) {
  auto session = queries_.session(applicationAddress, serviceId, height);
  if (!session.ok()) {
    const auto& code = session.error().code;
    if (code == chain::kErrNotFound || code == chain::kErrQueryFailed) {
      return util::makeError(std::string(kChainNotFound), session.error().message);
    }
    return unavailable(session.error());
  }
  SessionFacts facts;
  facts.header = session->header;
  for (const auto& s : session->suppliers) facts.supplierOperatorAddresses.push_back(s.operatorAddress);
  std::int64_t start = facts.header.sessionStartBlockHeight;
  std::int64_t end = facts.header.sessionEndBlockHeight;

  auto ring = queries_.ringKeys(applicationAddress);
  if (!ring.ok()) return unavailable(ring.error());
  facts.ringPubKeys.push_back(ring->applicationPublicKey);
  for (const auto& k : ring->gatewayPublicKeys) facts.ringPubKeys.push_back(k);

  auto cupr = queries_.computeUnitsPerRelayAtHeight(serviceId, start);
  if (!cupr.ok()) return unavailable(cupr.error());
  facts.computeUnitsPerRelay = *cupr;
  auto difficulty = queries_.relayMiningDifficultyAtHeight(serviceId, start);
  if (!difficulty.ok()) return unavailable(difficulty.error());
  facts.difficultyTarget = difficulty->targetHash;

  auto startParams = paramsAt(start);
  if (!startParams.ok()) return unavailable(startParams.error());
  facts.startParams = *startParams;
  std::int64_t latest;
  {
    std::lock_guard lock(mutex_);
    latest = latestHeight_;
  }
  if (latest > end) {
    auto endParams = paramsAt(end);
    if (!endParams.ok()) return unavailable(endParams.error());
    facts.windowParams = *endParams;
  } else {
    auto current = queries_.sharedParams();
    if (!current.ok()) return unavailable(current.error());
    facts.windowParams = *current;
  }

  RelayBudget budget;
  budget.applicationStakeUpokt = amountOf(session->application.stake);
  if (session->application.perSessionSpendLimit) {
    budget.perSessionSpendLimitUpokt = amountOf(*session->application.perSessionSpendLimit);
  }
  // The bonus multiplier is a tokenomics param in force now (settlement reads the current one);
  // a change re-pushes the session's budget like a stake change does. 0 (an unset param) is 1.
  auto tokenomics = queries_.tokenomicsParams();
  if (!tokenomics.ok()) return unavailable(tokenomics.error());
  budget.overservicingBonusMultiplier =
      std::max<std::uint64_t>(1, tokenomics->overservicingBonusMultiplier);
  facts.budget = budget;
  return facts;
}

}  // namespace pocket::sm
