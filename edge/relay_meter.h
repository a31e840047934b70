#pragma once
// The relay meter: bounds what one supplier serves one application in one session to what the
// chain can pay for it, and answers the rest with 429 "session relay limit reached" so that PATH
// routes around the supplier without a penalty (PATH treats 429 with this text as a
// session limit, not as a supplier fault).
//
// Budget of a (session, supplier), in uPOKT, from the session manager's facts (SessionInfo.budget)
// and the session's window params (at its end), as poktroll settles a claim
// (x/tokenomics settlement budget, x/shared GetNumPendingSessions):
//
//   pending   = ⌈(claim_open + claim_close + proof_open + proof_close offsets) /
//                num_blocks_per_session⌉ (at least 1)
//   perSess   = ⌊stake / pending⌋, lowered to per_session_spend_limit when that is set (> 0)
//   floor     = ⌊perSess / suppliers⌋        suppliers = the session's supplier count, which is at
//                                            least the number that will claim, so floor never
//                                            exceeds what the chain guarantees
//   cap       = floor × (overservicing_bonus_multiplier if `overservicing_bonus` else 1)
//               (a multiplier of 0 reads as 1, as on chain) + allowance_upokt
//   edge cap  = ⌊cap × fleet_share_percent / 100⌋
//
// Cost: every served relay consumes its compute units per relay (at session start). The meter
// keeps the consumed compute units exactly and admits a relay iff
//   (consumed + cupr) × compute_units_to_tokens_multiplier ≤ edge cap ×
//   compute_unit_cost_granularity
// (pricing params at session start), i.e. the expected claim value of the served relays, which the
// chain prices as ⌊Σcu × difficulty multiplier × CUTTM / granularity⌋ over the mined ones, fits the
// cap. Unlike poktroll's per-relay ⌊cupr × CUTTM / granularity⌋, nothing is rounded per relay, so a
// cheap service (mainnet: cupr < 7) is still metered.
//
// Charged at verification (before forwarding in eager mode, with the verdict in optimistic mode);
// a charged relay that is then not served or not rewardable (backend failure, 5xx) is refunded.
//
// A session without budget facts (a manager that does not send them) is not metered: fail open,
// counted in edge_relay_meter_unmetered_sessions_total and logged once per session.
//
// Several edges serving one supplier each meter on their own: with fleet_share_percent = 100 a
// fleet of N edges may serve up to N × cap before every edge refuses; the chain pays at most the
// cap and the excess is served unpaid. Set fleet_share_percent to 100 / N for an even load
// balancer to keep the fleet under the cap.
//
// Threading: every method is thread-safe (a shared lock over the per-session entries, atomics in
// them). Entries are dropped once the session's claim window opened.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "common/util/log.h"
#include "common/util/metrics.h"
#include "edge/config.h"
#include "edge/link/chain_facts.h"

namespace pocket::edge {

// ⌈(claim open + claim close + proof open + proof close offsets) / N⌉, at least 1; 1 when N is 0.
std::uint64_t pendingSessions(const SharedParams& windowParams);

// The uPOKT the chain guarantees one of `suppliers` suppliers for one session of the application.
std::uint64_t guaranteedFloorUpokt(const RelayBudget& budget, const SharedParams& windowParams,
                                   std::size_t suppliers);

// The cap this edge meters a (session, supplier) against, in uPOKT (saturates at UINT64_MAX).
std::uint64_t edgeCapUpokt(const RelayBudget& budget, const SharedParams& windowParams,
                           std::size_t suppliers, const RelayMeterConfig& config);

// Whether `computeUnits` compute units, priced with `pricing`, fit `capUpokt` exactly. A zero
// granularity or multiplier makes every relay free (fits).
bool fitsBudget(std::uint64_t computeUnits, const SharedParams& pricing, std::uint64_t capUpokt);

class RelayMeter {
 public:
  enum class Decision {
    admitted,      // charged, within the cap
    overServiced,  // charged beyond the cap; served because over_servicing is on
    limited,       // not charged: answer 429
    unmetered,     // not charged: disabled, or no budget facts for the session
  };

  // `metrics` and `log` must outlive the meter.
  RelayMeter(RelayMeterConfig config, util::MetricsRegistry& metrics, util::LogSink& log);
  ~RelayMeter();
  RelayMeter(const RelayMeter&) = delete;
  RelayMeter& operator=(const RelayMeter&) = delete;

  // Charges one relay of `supplier` in the session of `facts` at `height`. `head` supplies the
  // params the session manager did not send with the session.
  Decision charge(const SessionFacts& facts, const ChainHead& head, std::string_view supplier);
  // Gives back a relay charged with `admitted` or `overServiced`.
  void refund(const SessionFacts& facts, std::string_view supplier);

  // The compute units consumed by (session, supplier) so far (tests, logs).
  std::uint64_t consumedComputeUnits(std::string_view sessionId, std::string_view supplier) const;
  std::size_t entries() const;

 private:
  struct Entry {
    std::int64_t dropAt = 0;  // the claim window's open height
    std::atomic<std::uint64_t> consumed{0};
    std::atomic<bool> atCap{false};
  };
  using Key = std::string;  // session id + '\n' + supplier

  std::shared_ptr<Entry> find(const Key& key) const;
  std::shared_ptr<Entry> findOrCreate(const Key& key, const SessionFacts& facts,
                                      const SharedParams& windowParams, bool* created);
  void prune(std::int64_t height);

  const RelayMeterConfig config_;
  util::LogSink& log_;
  util::Gauge& sessionsAtCap_;
  util::Counter& unmeteredSessions_;
  util::Counter& overServiced_;

  mutable std::shared_mutex mutex_;  // guards entries_
  std::map<Key, std::shared_ptr<Entry>, std::less<>> entries_;
  std::atomic<std::int64_t> prunedAt_{0};
};

}  // namespace pocket::edge
