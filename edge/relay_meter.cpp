#include "edge/relay_meter.h"

#include <algorithm>
#include <limits>

#include "common/protocol/session.h"

namespace pocket::edge {
namespace {

__extension__ typedef unsigned __int128 u128;  // NOLINT(modernize-use-using): pedantic-clean

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

std::uint64_t saturate(u128 v) {
  return v > kMax ? kMax : static_cast<std::uint64_t>(v);
}

std::string keyOf(std::string_view sessionId, std::string_view supplier) {
  std::string key;
  key.reserve(sessionId.size() + supplier.size() + 1);
  key.append(sessionId).append(1, '\n').append(supplier);
  return key;
}

}  // namespace

std::uint64_t pendingSessions(const SharedParams& p) {
  if (p.numBlocksPerSession == 0) return 1;
  u128 blocks = u128{p.claimWindowOpenOffsetBlocks} + p.claimWindowCloseOffsetBlocks +
                p.proofWindowOpenOffsetBlocks + p.proofWindowCloseOffsetBlocks;
  u128 sessions = (blocks + p.numBlocksPerSession - 1) / p.numBlocksPerSession;
  return std::max<std::uint64_t>(1, saturate(sessions));
}

std::uint64_t guaranteedFloorUpokt(const RelayBudget& budget, const SharedParams& windowParams,
                                   std::size_t suppliers) {
  std::uint64_t perSession = budget.applicationStakeUpokt / pendingSessions(windowParams);
  if (budget.perSessionSpendLimitUpokt > 0) {
    perSession = std::min(perSession, budget.perSessionSpendLimitUpokt);
  }
  return perSession / std::max<std::size_t>(1, suppliers);
}

std::uint64_t edgeCapUpokt(const RelayBudget& budget, const SharedParams& windowParams,
                           std::size_t suppliers, const RelayMeterConfig& config) {
  u128 cap = guaranteedFloorUpokt(budget, windowParams, suppliers);
  if (config.overservicingBonus)
    cap *= std::max<std::uint64_t>(1, budget.overservicingBonusMultiplier);
  cap += config.allowanceUpokt;
  cap = cap * config.fleetSharePercent / 100;
  return saturate(cap);
}

bool fitsBudget(std::uint64_t computeUnits, const SharedParams& pricing, std::uint64_t capUpokt) {
  if (pricing.computeUnitCostGranularity == 0 || pricing.computeUnitsToTokensMultiplier == 0) {
    return true;
  }
  // Both sides are products of two uint64 values: at most 2^128 − 2^65 + 1, no overflow.
  return u128{computeUnits} * pricing.computeUnitsToTokensMultiplier <=
         u128{capUpokt} * pricing.computeUnitCostGranularity;
}

RelayMeter::RelayMeter(RelayMeterConfig config, util::MetricsRegistry& metrics, util::LogSink& log)
    : config_(config),
      log_(log),
      sessionsAtCap_(metrics
                         .gauge("edge_relay_meter_sessions_at_cap",
                                "(session, supplier) pairs whose budget is used up.", {})
                         .with()),
      unmeteredSessions_(
          metrics
              .counter("edge_relay_meter_unmetered_sessions_total",
                       "Sessions served without metering: the session manager sent no budget.", {})
              .with()),
      overServiced_(metrics
                        .counter("edge_relay_meter_over_serviced_total",
                                 "Relays served beyond the budget because over_servicing is on.",
                                 {})
                        .with()) {
}

RelayMeter::~RelayMeter() = default;

std::shared_ptr<RelayMeter::Entry> RelayMeter::find(const Key& key) const {
  std::shared_lock lock(mutex_);
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : it->second;
}

std::shared_ptr<RelayMeter::Entry> RelayMeter::findOrCreate(const Key& key,
                                                            const SessionFacts& facts,
                                                            const SharedParams& windowParams,
                                                            bool* created) {
  *created = false;
  if (auto entry = find(key)) return entry;
  auto entry = std::make_shared<Entry>();
  auto windows = protocol::sessionWindows(windowParams, facts.header.sessionEndBlockHeight);
  entry->dropAt = windows ? windows->claimWindowOpen : facts.header.sessionEndBlockHeight + 1;
  std::unique_lock lock(mutex_);
  auto [it, inserted] = entries_.emplace(key, entry);
  *created = inserted;
  return it->second;
}

void RelayMeter::prune(std::int64_t height) {
  std::int64_t last = prunedAt_.load(std::memory_order_relaxed);
  if (height <= last || !prunedAt_.compare_exchange_strong(last, height)) return;
  std::unique_lock lock(mutex_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second->dropAt <= height) {
      if (it->second->atCap.load()) sessionsAtCap_.add(-1);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

RelayMeter::Decision RelayMeter::charge(const SessionFacts& facts, const ChainHead& head,
                                        std::string_view supplier) {
  if (!config_.enabled) return Decision::unmetered;
  prune(head.height);
  const SharedParams& windowParams = facts.windowParamsOr(head.sharedParams);
  bool created = false;
  auto entry = findOrCreate(keyOf(facts.header.sessionId, supplier), facts, windowParams, &created);
  if (!facts.budget) {
    if (created) {
      unmeteredSessions_.inc();
      util::LogLine(log_, util::LogLevel::warn, "relay_meter_unmetered_session")
          .kv("session", facts.header.sessionId)
          .kv("application", facts.header.applicationAddress)
          .kv("service", facts.header.serviceId)
          .kv("supplier", supplier)
          .kv("reason", "the session manager sent no application stake; serving without a cap");
    }
    return Decision::unmetered;
  }
  const SharedParams& pricing = facts.startParamsOr(head.sharedParams);
  std::uint64_t cap =
      edgeCapUpokt(*facts.budget, windowParams, facts.supplierOperatorAddresses.size(), config_);
  std::uint64_t cost = facts.computeUnitsPerRelay;
  std::uint64_t consumed = entry->consumed.load(std::memory_order_relaxed);
  while (true) {
    std::uint64_t next = consumed > kMax - cost ? kMax : consumed + cost;
    bool fits = fitsBudget(next, pricing, cap);
    if (!fits && !config_.overServicing) break;
    if (entry->consumed.compare_exchange_weak(consumed, next, std::memory_order_relaxed)) {
      if (fits) return Decision::admitted;
      overServiced_.inc();
      if (!entry->atCap.exchange(true)) sessionsAtCap_.add(1);
      return Decision::overServiced;
    }
  }
  if (!entry->atCap.exchange(true)) {
    sessionsAtCap_.add(1);
    util::LogLine(log_, util::LogLevel::info, "relay_meter_session_at_cap")
        .kv("session", facts.header.sessionId)
        .kv("application", facts.header.applicationAddress)
        .kv("service", facts.header.serviceId)
        .kv("supplier", supplier)
        .kv("cap_upokt", cap)
        .kv("consumed_compute_units", consumed);
  }
  return Decision::limited;
}

void RelayMeter::refund(const SessionFacts& facts, std::string_view supplier) {
  auto entry = find(keyOf(facts.header.sessionId, supplier));
  if (!entry) return;
  std::uint64_t cost = facts.computeUnitsPerRelay;
  std::uint64_t consumed = entry->consumed.load(std::memory_order_relaxed);
  while (!entry->consumed.compare_exchange_weak(consumed, consumed - std::min(consumed, cost),
                                                std::memory_order_relaxed)) {
  }
}

std::uint64_t RelayMeter::consumedComputeUnits(std::string_view sessionId,
                                               std::string_view supplier) const {
  auto entry = find(keyOf(sessionId, supplier));
  return entry ? entry->consumed.load() : 0;
}

std::size_t RelayMeter::entries() const {
  std::shared_lock lock(mutex_);
  return entries_.size();
}

}  // namespace pocket::edge
