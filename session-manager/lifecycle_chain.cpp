#include "session-manager/lifecycle_chain.h"

#include <charconv>

#include <nlohmann/json.hpp>

namespace pocket::sm {

namespace {

util::Error bad(const std::string& what) {
  return util::makeError(std::string(kLifecycleChainBadReply), what);
}

// A uPOKT amount: "123" or "123upokt".
util::Result<std::uint64_t> upokt(std::string text, const std::string& where) {
  if (text.size() > 5 && text.ends_with("upokt")) text.resize(text.size() - 5);
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return bad(where + ": '" + text + "' is not a uPOKT amount");
  }
  return v;
}

}  // namespace

util::Result<SessionFacts> NodeLifecycleChain::session(const std::string& application,
                                                       const std::string& service,
                                                       std::int64_t startHeight) {
  return source_.session(application, service, startHeight);
}

util::Result<util::Bytes> NodeLifecycleChain::blockHash(std::int64_t height) {
  auto block = node_.block(height);
  if (!block.ok()) return block.error();
  if (block->header.height != height) {
    return bad("block " + std::to_string(height) + ": the node answered height " +
               std::to_string(block->header.height));
  }
  return block->blockId.hash;
}

util::Result<ProofFacts> NodeLifecycleChain::proofFacts() {
  auto params = queries_.proofParams();
  if (!params.ok()) return params.error();
  ProofFacts facts;
  facts.params.proofRequestProbability = params->proofRequestProbability;
  auto threshold = upokt(params->proofRequirementThreshold.amount, "proof_requirement_threshold");
  if (!threshold.ok()) return threshold.error();
  facts.params.proofRequirementThresholdUpokt = *threshold;
  auto fee = upokt(params->proofSubmissionFee.amount, "proof_submission_fee");
  if (!fee.ok()) return fee.error();
  facts.proofSubmissionFeeUpokt = *fee;
  return facts;
}

util::Result<std::uint64_t> NodeLifecycleChain::spendableUpokt(const std::string& address) {
  auto coin = queries_.balance(address);
  if (!coin.ok()) return coin.error();
  return upokt(coin->amount, "balance of " + address);
}

util::Result<std::vector<SettlementEvent>> NodeLifecycleChain::settlements(std::int64_t height) {
  auto results = node_.blockResults(height);
  if (!results.ok()) return results.error();
  return settlementEvents(results->finalizeBlockEvents);
}

util::Result<std::vector<SettlementEvent>> settlementEvents(
    const std::vector<chain::Event>& events) {
  std::vector<SettlementEvent> out;
  for (const auto& event : events) {
    const bool settled = event.type == "pocket.tokenomics.EventClaimSettled";
    if (!settled && event.type != "pocket.tokenomics.EventClaimExpired") continue;
    SettlementEvent e;
    e.settled = settled;
    std::string endText;
    std::string settledText;
    for (const auto& a : event.attributes) {
      // Typed events carry each field's JSON value: strings and 64-bit integers are quoted.
      std::string value = a.value;
      try {
        auto j = nlohmann::json::parse(a.value);
        if (j.is_string()) value = j.get<std::string>();
      } catch (const nlohmann::json::exception&) {
        // A bare value (e.g. mode=EndBlock) is kept as it is.
      }
      if (a.key == "supplier_operator_address") e.supplier = value;
      else if (a.key == "application_address") e.application = value;
      else if (a.key == "service_id") e.service = value;
      else if (a.key == "session_end_block_height") endText = value;
      else if (a.key == "settled_upokt") settledText = value;
      else if (a.key == "expiration_reason") e.expirationReason = value;
    }
    auto end = upokt(endText, event.type + ".session_end_block_height");
    if (!end.ok()) return end.error();
    e.sessionEnd = static_cast<std::int64_t>(*end);
    if (settled && !settledText.empty()) {
      auto amount = upokt(settledText, event.type + ".settled_upokt");
      if (!amount.ok()) return amount.error();
      e.settledUpokt = *amount;
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace pocket::sm
