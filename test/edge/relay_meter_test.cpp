// The relay meter: budget arithmetic against hand-computed figures, and the charge / refund /
// limit / fail-open behaviour of RelayMeter.

#include "edge/relay_meter.h"

#include <cstdio>

#include <doctest.h>

namespace edge = pocket::edge;
namespace util = pocket::util;
using edge::RelayBudget;
using edge::RelayMeter;
using edge::RelayMeterConfig;
using edge::SharedParams;

namespace {

// Mainnet timing (N 20, claim 11/10, proof 1/10) and pricing (CUTTM 145 990, granularity 1e6).
SharedParams mainnet() {
  return pocket::protocol::SharedParams::mainnet();
}
// Genesis: N 10, claim 1/4, proof 0/4, CUTTM 42e6, granularity 1e6 (42 uPOKT per compute unit).
SharedParams genesis() {
  return pocket::protocol::SharedParams::genesisDefaults();
}

}  // namespace

TEST_CASE("pending sessions: offsets to the proof window's close, rounded up to whole sessions") {
  CHECK(edge::pendingSessions(mainnet()) == 2);  // (11 + 10 + 1 + 10) / 20 = 1.6
  CHECK(edge::pendingSessions(genesis()) == 1);  // 9 / 10
  SharedParams p = genesis();
  p.numBlocksPerSession = 60;  // mainnet at block 714 921: 32 / 60
  p.claimWindowOpenOffsetBlocks = 11;
  p.claimWindowCloseOffsetBlocks = 10;
  p.proofWindowOpenOffsetBlocks = 1;
  p.proofWindowCloseOffsetBlocks = 10;
  CHECK(edge::pendingSessions(p) == 1);
  p.numBlocksPerSession = 16;  // exactly 2
  CHECK(edge::pendingSessions(p) == 2);
  p.claimWindowOpenOffsetBlocks = p.claimWindowCloseOffsetBlocks = 0;
  p.proofWindowOpenOffsetBlocks = p.proofWindowCloseOffsetBlocks = 0;
  CHECK(edge::pendingSessions(p) == 1);  // all zero: the chain refuses it; never divide by 0
  p.numBlocksPerSession = 0;
  CHECK(edge::pendingSessions(p) == 1);
}

TEST_CASE("guaranteed floor: stake / pending sessions / suppliers, lowered by the spend limit") {
  RelayBudget budget{1000000000, 0, 1};  // 1 000 POKT
  // 1e9 / 2 = 5e8 per session, / 50 suppliers = 1e7.
  CHECK(edge::guaranteedFloorUpokt(budget, mainnet(), 50) == 10000000);
  budget.perSessionSpendLimitUpokt = 300000000;  // below 5e8: 3e8 / 50
  CHECK(edge::guaranteedFloorUpokt(budget, mainnet(), 50) == 6000000);
  budget.perSessionSpendLimitUpokt = 900000000;  // above 5e8: no effect
  CHECK(edge::guaranteedFloorUpokt(budget, mainnet(), 50) == 10000000);
  // Integer division at each step, as the chain: 1000 / 2 = 500, / 3 = 166.
  CHECK(edge::guaranteedFloorUpokt(RelayBudget{1000, 0, 1}, mainnet(), 3) == 166);
  CHECK(edge::guaranteedFloorUpokt(RelayBudget{1000, 0, 1}, mainnet(), 0) == 500);
}

TEST_CASE("edge cap: bonus multiplier only when enabled, allowance, then the fleet share") {
  RelayBudget budget{1000000000, 300000000, 3};  // floor 6e6 at mainnet with 50 suppliers
  RelayMeterConfig config;
  CHECK(edge::edgeCapUpokt(budget, mainnet(), 50, config) == 6000000);
  config.overservicingBonus = true;
  CHECK(edge::edgeCapUpokt(budget, mainnet(), 50, config) == 18000000);
  budget.overservicingBonusMultiplier = 0;  // reads as 1
  CHECK(edge::edgeCapUpokt(budget, mainnet(), 50, config) == 6000000);
  config.allowanceUpokt = 1000000;
  config.fleetSharePercent = 50;  // (6e6 + 1e6) × 50 / 100
  CHECK(edge::edgeCapUpokt(budget, mainnet(), 50, config) == 3500000);
  config.fleetSharePercent = 100;
  config.allowanceUpokt = ~std::uint64_t{0};  // saturates instead of wrapping
  CHECK(edge::edgeCapUpokt(budget, mainnet(), 50, config) == ~std::uint64_t{0});
}

TEST_CASE("fits budget: compute units × CUTTM ≤ cap × granularity, exactly") {
  // Mainnet price 0.14599 uPOKT per compute unit; a 10 uPOKT cap holds 68 compute units
  // (9 927 320 ≤ 10 000 000), not 69 (10 073 310).
  CHECK(edge::fitsBudget(68, mainnet(), 10));
  CHECK_FALSE(edge::fitsBudget(69, mainnet(), 10));
  // poktroll's per-relay ⌊cupr × CUTTM / granularity⌋ is 0 for cupr 6 here; exact pricing still
  // limits: 6 × 145 990 = 875 940 > 0 × 1e6.
  CHECK_FALSE(edge::fitsBudget(6, mainnet(), 0));
  CHECK(edge::fitsBudget(0, mainnet(), 0));
  // Largest values do not overflow.
  SharedParams big = mainnet();
  big.computeUnitsToTokensMultiplier = ~std::uint64_t{0};
  big.computeUnitCostGranularity = ~std::uint64_t{0};
  CHECK(edge::fitsBudget(~std::uint64_t{0}, big, ~std::uint64_t{0}));
  CHECK_FALSE(edge::fitsBudget(~std::uint64_t{0}, big, ~std::uint64_t{0} - 1));
  // No price: nothing to meter.
  SharedParams free = mainnet();
  free.computeUnitCostGranularity = 0;
  CHECK(edge::fitsBudget(~std::uint64_t{0}, free, 0));
}

namespace {

struct MeterFixture {
  util::MetricsRegistry metrics;
  util::LogSink log{stderr, util::LogLevel::error};
  edge::ChainHead head;
  edge::SessionFacts facts;

  MeterFixture() {
    head.height = 15;
    head.sharedParams = genesis();
    facts.header = edge::SessionHeader{"pokt1app", "svc", "session-1", 11, 20};
    facts.supplierOperatorAddresses = {"pokt1supplier"};
    facts.computeUnitsPerRelay = 7;  // 7 × 42 = 294 uPOKT per relay at genesis prices
    // genesis: 1 pending session, 1 supplier: the cap is the stake. 1 000 uPOKT holds 3 relays
    // (882), not 4 (1 176).
    facts.budget = RelayBudget{1000, 0, 1};
  }
  double metric(const std::string& name) {
    std::string text = metrics.render();
    auto at = text.find("\n" + name + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + name.size() + 2));
  }
};

}  // namespace

TEST_CASE("the meter admits relays up to the cap, then limits; a refund makes room again") {
  MeterFixture f;
  RelayMeter meter(RelayMeterConfig{}, f.metrics, f.log);
  for (int i = 0; i < 3; ++i) {
    CHECK(meter.charge(f.facts, f.head, "pokt1supplier") == RelayMeter::Decision::admitted);
  }
  CHECK(meter.consumedComputeUnits("session-1", "pokt1supplier") == 21);
  CHECK(meter.charge(f.facts, f.head, "pokt1supplier") == RelayMeter::Decision::limited);
  CHECK(meter.consumedComputeUnits("session-1", "pokt1supplier") == 21);  // not charged
  CHECK(f.metric("edge_relay_meter_sessions_at_cap") == 1);
  // Another supplier of the same session has its own budget.
  CHECK(meter.charge(f.facts, f.head, "pokt1other") == RelayMeter::Decision::admitted);
  meter.refund(f.facts, "pokt1supplier");
  CHECK(meter.consumedComputeUnits("session-1", "pokt1supplier") == 14);
  CHECK(meter.charge(f.facts, f.head, "pokt1supplier") == RelayMeter::Decision::admitted);
  // An upstake pushed by the session manager raises the cap at once: 2 000 holds 6 relays.
  f.facts.budget->applicationStakeUpokt = 2000;
  CHECK(meter.charge(f.facts, f.head, "pokt1supplier") == RelayMeter::Decision::admitted);
  CHECK(meter.charge(f.facts, f.head, "pokt1supplier") == RelayMeter::Decision::admitted);
  CHECK(meter.charge(f.facts, f.head, "pokt1supplier") == RelayMeter::Decision::admitted);
  CHECK(meter.charge(f.facts, f.head, "pokt1supplier") == RelayMeter::Decision::limited);
}

TEST_CASE("the session's own params price and time the budget, not the head's") {
  MeterFixture f;
  RelayMeter meter(RelayMeterConfig{}, f.metrics, f.log);
  // Pricing at session start: 84 uPOKT per compute unit, 588 per relay: 1 000 holds 1 relay.
  SharedParams start = genesis();
  start.computeUnitsToTokensMultiplier = 84000000;
  f.facts.startParams = start;
  // Window params at session end with 2 pending sessions (offsets 9 over 5-block sessions):
  // 1 000 / 2 = 500 holds none.
  CHECK(meter.charge(f.facts, f.head, "a") == RelayMeter::Decision::admitted);
  CHECK(meter.charge(f.facts, f.head, "a") == RelayMeter::Decision::limited);
  SharedParams window = genesis();
  window.numBlocksPerSession = 5;
  f.facts.windowParams = window;
  CHECK(meter.charge(f.facts, f.head, "b") == RelayMeter::Decision::limited);
}

TEST_CASE("over-servicing serves past the cap and counts it") {
  MeterFixture f;
  RelayMeterConfig config;
  config.overServicing = true;
  RelayMeter meter(config, f.metrics, f.log);
  for (int i = 0; i < 3; ++i) {
    CHECK(meter.charge(f.facts, f.head, "s") == RelayMeter::Decision::admitted);
  }
  CHECK(meter.charge(f.facts, f.head, "s") == RelayMeter::Decision::overServiced);
  CHECK(meter.charge(f.facts, f.head, "s") == RelayMeter::Decision::overServiced);
  CHECK(f.metric("edge_relay_meter_over_serviced_total") == 2);
  CHECK(f.metric("edge_relay_meter_sessions_at_cap") == 1);
}

TEST_CASE("no budget facts: fail open, counted once per session; disabled: nothing is metered") {
  MeterFixture f;
  f.facts.budget.reset();
  RelayMeter meter(RelayMeterConfig{}, f.metrics, f.log);
  for (int i = 0; i < 10; ++i) {
    CHECK(meter.charge(f.facts, f.head, "s") == RelayMeter::Decision::unmetered);
  }
  CHECK(f.metric("edge_relay_meter_unmetered_sessions_total") == 1);
  f.facts.header.sessionId = "session-2";
  CHECK(meter.charge(f.facts, f.head, "s") == RelayMeter::Decision::unmetered);
  CHECK(f.metric("edge_relay_meter_unmetered_sessions_total") == 2);

  MeterFixture g;
  RelayMeterConfig off;
  off.enabled = false;
  RelayMeter disabled(off, g.metrics, g.log);
  for (int i = 0; i < 10; ++i) {
    CHECK(disabled.charge(g.facts, g.head, "s") == RelayMeter::Decision::unmetered);
  }
  CHECK(disabled.entries() == 0);
}

TEST_CASE("entries are dropped once the session's claim window opened") {
  MeterFixture f;
  RelayMeter meter(RelayMeterConfig{}, f.metrics, f.log);
  for (int i = 0; i < 4; ++i) (void)meter.charge(f.facts, f.head, "s");
  CHECK(meter.entries() == 1);
  CHECK(f.metric("edge_relay_meter_sessions_at_cap") == 1);
  // Session [11, 20], genesis: claim window opens at 20 + 1 + 1 = 22.
  edge::SessionFacts next = f.facts;
  next.header = edge::SessionHeader{"pokt1app", "svc", "session-3", 21, 30};
  f.head.height = 21;
  (void)meter.charge(next, f.head, "s");
  CHECK(meter.entries() == 2);
  f.head.height = 22;
  (void)meter.charge(next, f.head, "s");
  CHECK(meter.entries() == 1);
  CHECK(meter.consumedComputeUnits("session-1", "s") == 0);
  CHECK(f.metric("edge_relay_meter_sessions_at_cap") == 0);
}
