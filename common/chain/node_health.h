#pragma once
// Is it me or the full node? The node's health as an explicit state with reasons, apart from the
// session manager's own: wrong chain id, catching up, a latest block older than a few block
// times, a streak of failed RPC calls, or no answer at all yet.
//
// Inputs: observeStatus() with each `status` reply (probe() fetches one), observeBlock() with each
// block of the BlockFeed, and onCallResult() (CallObserver: pass the NodeHealth to the NodeClient)
// with every RPC attempt. evaluate(now) computes the state; staleness depends on `now` (wall
// clock, compared with the block time the chain wrote), so callers pass it in.
//
// Output: a NodeHealthReport (state, reasons, facts) for /readyz, /status and `status`; gauges
// pocket_chain_node_healthy, pocket_chain_node_problem{reason} (1 while the reason holds),
// pocket_chain_height, pocket_chain_node_rpc_error_streak; one log line per change of the set of
// reasons (event=node_health state=... reasons=...).
//
// Ownership: main() owns it; the NodeClient that reports to it must not outlive it.
// Threading: every method is thread-safe (one mutex; no callbacks).

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/chain/block_feed.h"
#include "common/chain/node_client.h"
#include "common/util/log.h"
#include "common/util/metrics.h"
#include "common/util/result.h"

namespace pocket::chain {

// Reason tokens (metric label `reason`, log `reasons=`).
inline constexpr std::string_view kHealthUnreachable =
    "unreachable";  // no status answer yet, or the last status call failed
inline constexpr std::string_view kHealthWrongChainId = "wrong_chain_id";
inline constexpr std::string_view kHealthCatchingUp = "catching_up";
inline constexpr std::string_view kHealthStaleBlock = "stale_block";
inline constexpr std::string_view kHealthRpcErrors = "rpc_errors";

struct NodeHealthConfig {
  std::string expectedChainId;  // required
  // The chain's usual block interval and how many of them may pass before the latest block
  // counts as stale.
  std::chrono::milliseconds blockTime{30000};
  int staleAfterBlocks = 4;
  // Consecutive failed RPC attempts (transport, timeout, rpc error, malformed) that make the node
  // unhealthy; one success resets the streak. Answers about the caller's request (tx not found,
  // height unavailable, tx already in the cache) count as successes of the node.
  int rpcErrorStreakLimit = 3;

  // Throws std::invalid_argument naming the field.
  void validate() const;
};

struct HealthProblem {
  std::string reason;  // one of the kHealth* tokens
  std::string detail;  // in words: "node reports chain id pocket-beta, expected pocket"
};

struct NodeHealthReport {
  bool healthy = false;
  std::vector<HealthProblem> problems;  // empty iff healthy; in the order of the tokens above
  std::string chainId;                  // as the node last reported it
  std::int64_t latestHeight = 0;
  protocol::Timestamp latestBlockTime;
  bool catchingUp = false;
  int rpcErrorStreak = 0;
  std::string lastError;  // the last failed call, "method: code: message"

  // "healthy" or "unhealthy: wrong_chain_id, stale_block".
  std::string summary() const;
};

class NodeHealth : public CallObserver {
 public:
  // Throws std::invalid_argument (config.validate()).
  NodeHealth(NodeHealthConfig config, util::MetricsRegistry& metrics, util::LogSink& log);
  NodeHealth(const NodeHealth&) = delete;
  NodeHealth& operator=(const NodeHealth&) = delete;

  void observeStatus(const NodeStatus& status);
  // A failed `status` call (the node is unreachable or answers nonsense).
  void observeStatusFailure(const util::Error& error);
  void observeBlock(const NewBlock& block);
  // CallObserver.
  void onCallResult(std::string_view method, const util::Error* error,
                    std::chrono::nanoseconds latency) override;

  // Calls node.status() and observes the outcome; returns it.
  util::Result<NodeStatus> probe(NodeClient& node);

  // The state at `now`; updates the gauges and logs when the set of reasons changed.
  NodeHealthReport evaluate(std::chrono::system_clock::time_point now);
  NodeHealthReport evaluate() { return evaluate(std::chrono::system_clock::now()); }

 private:
  NodeHealthConfig config_;
  util::LogSink& log_;
  util::Gauge& healthyGauge_;
  util::Family<util::Gauge>& problemGauges_;
  util::Gauge& heightGauge_;
  util::Gauge& streakGauge_;

  mutable std::mutex mutex_;
  bool haveStatus_ = false;  // guarded by mutex_
  bool statusFailing_ = false;
  std::string statusError_;
  std::string chainId_;
  bool catchingUp_ = false;
  std::int64_t latestHeight_ = 0;
  protocol::Timestamp latestBlockTime_;
  int rpcErrorStreak_ = 0;
  std::string lastError_;
  std::string lastReasons_;  // the reasons of the previous evaluate(), for change detection
};

}  // namespace pocket::chain
