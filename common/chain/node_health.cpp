#include "common/chain/node_health.h"

#include <stdexcept>

#include <fmt/format.h>

namespace pocket::chain {

namespace {

constexpr std::string_view kReasons[] = {kHealthUnreachable, kHealthWrongChainId, kHealthCatchingUp,
                                         kHealthStaleBlock, kHealthRpcErrors};

std::chrono::system_clock::time_point toTimePoint(const protocol::Timestamp& t) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(t.seconds) + std::chrono::nanoseconds(t.nanos)));
}

}  // namespace

void NodeHealthConfig::validate() const {
  if (expectedChainId.empty()) throw std::invalid_argument("chain_id: must not be empty");
  if (blockTime.count() <= 0) throw std::invalid_argument("block_time: must be > 0");
  if (staleAfterBlocks < 1) throw std::invalid_argument("stale_after_blocks: must be >= 1");
  if (rpcErrorStreakLimit < 1) throw std::invalid_argument("rpc_error_streak_limit: must be >= 1");
}

std::string NodeHealthReport::summary() const {
  if (healthy) return "healthy";
  std::string out = "unhealthy:";
  for (std::size_t i = 0; i < problems.size(); ++i) {
    out += i == 0 ? " " : ", ";
    out += problems[i].reason;
  }
  return out;
}

NodeHealth::NodeHealth(NodeHealthConfig config, util::MetricsRegistry& metrics, util::LogSink& log)
    : config_((config.validate(), std::move(config))),
      log_(log),
      healthyGauge_(metrics
                        .gauge("pocket_chain_node_healthy",
                               "1 when the full node is reachable, on the expected chain, synced, "
                               "producing blocks and answering RPC calls")
                        .with()),
      problemGauges_(metrics.gauge("pocket_chain_node_problem",
                                   "1 while this reason makes the full node unhealthy",
                                   {"reason"})),
      heightGauge_(
          metrics.gauge("pocket_chain_height", "The full node's latest block height").with()),
      streakGauge_(metrics
                       .gauge("pocket_chain_node_rpc_error_streak",
                              "Consecutive failed JSON-RPC calls to the full node")
                       .with()) {
  for (auto reason : kReasons) problemGauges_.with({std::string(reason)}).set(0);
}

void NodeHealth::observeStatus(const NodeStatus& status) {
  std::lock_guard lock(mutex_);
  haveStatus_ = true;
  statusFailing_ = false;
  statusError_.clear();
  chainId_ = status.network;
  catchingUp_ = status.catchingUp;
  if (status.latestBlockHeight >= latestHeight_) {
    latestHeight_ = status.latestBlockHeight;
    latestBlockTime_ = status.latestBlockTime;
  }
}

void NodeHealth::observeStatusFailure(const util::Error& error) {
  std::lock_guard lock(mutex_);
  statusFailing_ = true;
  statusError_ = error.code + ": " + error.message;
}

void NodeHealth::observeBlock(const NewBlock& block) {
  std::lock_guard lock(mutex_);
  if (block.height >= latestHeight_) {
    latestHeight_ = block.height;
    latestBlockTime_ = block.time;
  }
}

void NodeHealth::onCallResult(std::string_view method, const util::Error* error,
                              std::chrono::nanoseconds) {
  std::lock_guard lock(mutex_);
  // A node that says "no such tx", "not that height" or "already have it" answered correctly.
  const bool answered = error == nullptr || error->code == kErrTxNotFound ||
                        error->code == kErrTxInCache || error->code == kErrHeightUnavailable;
  if (answered) {
    rpcErrorStreak_ = 0;
    return;
  }
  ++rpcErrorStreak_;
  lastError_ = fmt::format("{}: {}: {}", method, error->code, error->message);
}

util::Result<NodeStatus> NodeHealth::probe(NodeClient& node) {
  auto status = node.status();
  if (status) {
    observeStatus(*status);
  } else if (status.error().code != kErrStopped) {
    observeStatusFailure(status.error());
  }
  return status;
}

NodeHealthReport NodeHealth::evaluate(std::chrono::system_clock::time_point now) {
  NodeHealthReport report;
  std::string reasons;
  {
    std::lock_guard lock(mutex_);
    report.chainId = chainId_;
    report.latestHeight = latestHeight_;
    report.latestBlockTime = latestBlockTime_;
    report.catchingUp = catchingUp_;
    report.rpcErrorStreak = rpcErrorStreak_;
    report.lastError = lastError_;
    if (!haveStatus_ || statusFailing_) {
      report.problems.push_back(
          {std::string(kHealthUnreachable),
           !haveStatus_ && statusError_.empty()
               ? std::string("no status answer from the node yet")
               : fmt::format("the last status call failed: {}", statusError_)});
    }
    if (haveStatus_ && chainId_ != config_.expectedChainId) {
      report.problems.push_back(
          {std::string(kHealthWrongChainId),
           fmt::format("the node is on chain {}, expected {}", chainId_, config_.expectedChainId)});
    }
    if (haveStatus_ && catchingUp_) {
      report.problems.push_back(
          {std::string(kHealthCatchingUp),
           fmt::format("the node is still catching up (at height {})", latestHeight_)});
    }
    if (latestHeight_ > 0) {
      const auto age = now - toTimePoint(latestBlockTime_);
      const auto limit = config_.blockTime * config_.staleAfterBlocks;
      if (age > limit) {
        report.problems.push_back(
            {std::string(kHealthStaleBlock),
             fmt::format("the latest block {} is {} s old, more than {} block times ({} s)",
                         latestHeight_,
                         std::chrono::duration_cast<std::chrono::seconds>(age).count(),
                         config_.staleAfterBlocks,
                         std::chrono::duration_cast<std::chrono::seconds>(limit).count())});
      }
    }
    if (rpcErrorStreak_ >= config_.rpcErrorStreakLimit) {
      report.problems.push_back(
          {std::string(kHealthRpcErrors),
           fmt::format("{} RPC calls failed in a row, the last: {}", rpcErrorStreak_, lastError_)});
    }
    report.healthy = report.problems.empty();
    for (const auto& problem : report.problems) {
      if (!reasons.empty()) reasons += ",";
      reasons += problem.reason;
    }
    if (reasons != lastReasons_) {
      lastReasons_ = reasons;
      util::LogLine line(log_, report.healthy ? util::LogLevel::info : util::LogLevel::warn,
                         "node_health");
      line.kv("state", report.healthy ? "healthy" : "unhealthy")
          .kv("reasons", reasons.empty() ? std::string("none") : reasons)
          .kv("height", report.latestHeight)
          .kv("chain_id", report.chainId);
      for (const auto& problem : report.problems) line.kv(problem.reason, problem.detail);
    }
  }
  healthyGauge_.set(report.healthy ? 1 : 0);
  heightGauge_.set(static_cast<double>(report.latestHeight));
  streakGauge_.set(report.rpcErrorStreak);
  for (auto reason : kReasons) {
    bool present = std::any_of(report.problems.begin(), report.problems.end(),
                               [&](const HealthProblem& p) { return p.reason == reason; });
    problemGauges_.with({std::string(reason)}).set(present ? 1 : 0);
  }
  return report;
}

}  // namespace pocket::chain
