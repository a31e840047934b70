#include "session-manager/fixture_chain.h"

#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "common/crypto/hash.h"
#include "common/util/hex.h"

namespace pocket::sm {

namespace {

[[noreturn]] void fail(const std::string& file, const std::string& key, const std::string& why) {
  throw std::runtime_error("chain fixture " + file + ": " + key + ": " + why);
}

util::Bytes hexBytes(const std::string& file, const std::string& key, const nlohmann::json& v) {
  if (!v.is_string()) fail(file, key, "must be a hex string");
  auto bytes = util::fromHex(v.get<std::string>());
  if (!bytes.ok()) fail(file, key, bytes.error().message);
  return *bytes;
}

std::uint64_t u64(const std::string& file, const std::string& key, const nlohmann::json& v) {
  if (!v.is_number_unsigned()) fail(file, key, "must be a non-negative integer");
  return v.get<std::uint64_t>();
}

protocol::SharedParams applyParams(const std::string& file, const std::string& key,
                                   protocol::SharedParams p, const nlohmann::json& overrides) {
  if (!overrides.is_object()) fail(file, key, "must be an object");
  for (const auto& [name, value] : overrides.items()) {
    std::string k = key + "." + name;
    std::uint64_t v = u64(file, k, value);
    if (name == "numBlocksPerSession") p.numBlocksPerSession = v;
    else if (name == "gracePeriodEndOffsetBlocks") p.gracePeriodEndOffsetBlocks = v;
    else if (name == "claimWindowOpenOffsetBlocks") p.claimWindowOpenOffsetBlocks = v;
    else if (name == "claimWindowCloseOffsetBlocks") p.claimWindowCloseOffsetBlocks = v;
    else if (name == "proofWindowOpenOffsetBlocks") p.proofWindowOpenOffsetBlocks = v;
    else if (name == "proofWindowCloseOffsetBlocks") p.proofWindowCloseOffsetBlocks = v;
    else if (name == "computeUnitsToTokensMultiplier") p.computeUnitsToTokensMultiplier = v;
    else if (name == "computeUnitCostGranularity") p.computeUnitCostGranularity = v;
    else if (name == "sessionGridAnchorHeight") p.sessionGridAnchorHeight = v;
    else if (name == "sessionNumberAtAnchor") p.sessionNumberAtAnchor = v;
    else fail(file, k, "unknown shared param");
  }
  auto valid = p.validateTiming();
  if (!valid.ok()) fail(file, key, valid.error().message);
  return p;
}

}  // namespace

FixtureChain::FixtureChain(const std::string& path, std::chrono::milliseconds blockInterval)
    : blockInterval_(blockInterval),
      startedAt_(std::chrono::steady_clock::now()),
      params_(protocol::SharedParams::genesisDefaults()) {
  if (blockInterval_.count() <= 0) fail(path, "block_interval_ms", "must be greater than 0");
  std::ifstream in(path);
  if (!in) throw std::runtime_error("chain fixture " + path + ": cannot open");
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail(path, "(root)", std::string("not JSON: ") + e.what());
  }
  if (!json.is_object()) fail(path, "(root)", "must be an object");
  if (json.contains("chain")) {
    const auto& chain = json.at("chain");
    if (!chain.is_object()) fail(path, "chain", "must be an object");
    if (chain.contains("height")) {
      startHeight_ = static_cast<std::int64_t>(u64(path, "chain.height", chain.at("height")));
      if (startHeight_ < 1) fail(path, "chain.height", "must be at least 1");
    }
    if (chain.contains("advance")) {
      if (!chain.at("advance").is_boolean()) fail(path, "chain.advance", "must be true or false");
      advance_ = chain.at("advance").get<bool>();
    }
    if (chain.contains("sharedParams")) {
      params_ = applyParams(path, "chain.sharedParams", params_, chain.at("sharedParams"));
    }
  }
  const auto& list = json.contains("sessions") ? json.at("sessions") : nlohmann::json::array();
  if (!list.is_array()) fail(path, "sessions", "must be an array");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& s = list[i];
    std::string at = "sessions[" + std::to_string(i) + "]";
    auto text = [&](const char* key) {
      if (!s.contains(key) || !s.at(key).is_string()) fail(path, at + "." + key, "must be a string");
      return s.at(key).get<std::string>();
    };
    SessionFacts facts;
    facts.header.applicationAddress = text("applicationAddress");
    facts.header.serviceId = text("serviceId");
    facts.header.sessionId = text("sessionId");
    if (!s.contains("start") || !s.contains("end")) fail(path, at, "needs start and end");
    facts.header.sessionStartBlockHeight =
        static_cast<std::int64_t>(u64(path, at + ".start", s.at("start")));
    facts.header.sessionEndBlockHeight =
        static_cast<std::int64_t>(u64(path, at + ".end", s.at("end")));
    if (facts.header.sessionEndBlockHeight < facts.header.sessionStartBlockHeight) {
      fail(path, at + ".end", "must not be below start");
    }
    if (!s.contains("suppliers") || !s.at("suppliers").is_array()) {
      fail(path, at + ".suppliers", "must be an array of addresses");
    }
    for (const auto& a : s.at("suppliers")) {
      if (!a.is_string()) fail(path, at + ".suppliers", "must be an array of addresses");
      facts.supplierOperatorAddresses.push_back(a.get<std::string>());
    }
    if (s.contains("ringPubKeys")) {
      if (!s.at("ringPubKeys").is_array()) fail(path, at + ".ringPubKeys", "must be an array");
      for (const auto& k : s.at("ringPubKeys")) {
        facts.ringPubKeys.push_back(hexBytes(path, at + ".ringPubKeys", k));
      }
    }
    facts.computeUnitsPerRelay =
        s.contains("computeUnitsPerRelay")
            ? u64(path, at + ".computeUnitsPerRelay", s.at("computeUnitsPerRelay"))
            : 1;
    facts.difficultyTarget = s.contains("difficultyTarget")
                                 ? hexBytes(path, at + ".difficultyTarget", s.at("difficultyTarget"))
                                 : util::Bytes(32, 0xff);
    if (facts.difficultyTarget.size() != 32) {
      fail(path, at + ".difficultyTarget", "must be 32 bytes (64 hex digits)");
    }
    facts.windowParams = s.contains("windowParams")
                             ? applyParams(path, at + ".windowParams", params_, s.at("windowParams"))
                             : params_;
    facts.startParams = s.contains("startParams")
                            ? applyParams(path, at + ".startParams", params_, s.at("startParams"))
                            : params_;
    if (s.contains("budget")) {
      const auto& b = s.at("budget");
      if (!b.is_object()) fail(path, at + ".budget", "must be an object");
      RelayBudget budget;
      if (b.contains("applicationStakeUpokt"))
        budget.applicationStakeUpokt =
            u64(path, at + ".budget.applicationStakeUpokt", b.at("applicationStakeUpokt"));
      if (b.contains("perSessionSpendLimitUpokt"))
        budget.perSessionSpendLimitUpokt =
            u64(path, at + ".budget.perSessionSpendLimitUpokt", b.at("perSessionSpendLimitUpokt"));
      if (b.contains("overservicingBonusMultiplier"))
        budget.overservicingBonusMultiplier = u64(path, at + ".budget.overservicingBonusMultiplier",
                                                  b.at("overservicingBonusMultiplier"));
      facts.budget = budget;
    }
    sessions_.push_back(std::move(facts));
  }
}

std::int64_t FixtureChain::heightNow() const {
  if (!advance_) return startHeight_;
  auto elapsed = std::chrono::steady_clock::now() - startedAt_;
  return startHeight_ + static_cast<std::int64_t>(elapsed / blockInterval_);
}

util::Result<ChainHead> FixtureChain::latestHead() {
  ChainHead head;
  head.height = heightNow();
  auto hash = crypto::sha256(util::asBytes("fixture-block-" + std::to_string(head.height)));
  head.blockHash.assign(hash.begin(), hash.end());
  auto elapsed = static_cast<std::int64_t>(head.height - startHeight_) * blockInterval_.count();
  head.blockTimeUnixMs =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          (std::chrono::system_clock::now() - (std::chrono::steady_clock::now() - startedAt_))
              .time_since_epoch())
          .count() +
      elapsed;
  head.sharedParams = params_;
  return head;
}

util::Result<SessionFacts> FixtureChain::session(const std::string& applicationAddress,
                                                 const std::string& serviceId,
                                                 std::int64_t height) {
  for (const auto& s : sessions_) {
    if (s.header.applicationAddress == applicationAddress && s.header.serviceId == serviceId &&
        s.header.sessionStartBlockHeight <= height && height <= s.header.sessionEndBlockHeight) {
      return s;
    }
  }
  return util::makeError(std::string(kChainNotFound),
                         "no session of application " + applicationAddress + " for service " +
                             serviceId + " at height " + std::to_string(height));
}

}  // namespace pocket::sm
