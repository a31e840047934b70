#include "session-manager/chain_feed.h"

#include "common/util/thread_name.h"

namespace pocket::sm {

namespace {
std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

ChainFeed::ChainFeed(std::chrono::milliseconds pollInterval, ChainSource& chain,
                     SessionCache& cache, ChainFeedCallbacks callbacks, util::LogSink& log,
                     util::MetricsRegistry& metrics)
    : pollInterval_(pollInterval),
      chain_(chain),
      cache_(cache),
      callbacks_(std::move(callbacks)),
      log_(log) {
  headErrors_ = &metrics.counter("sm_chain_head_errors_total",
                                 "Failed reads of the chain's newest block.")
                     .with();
  sessionsRepushed_ = &metrics.counter("sm_sessions_repushed_total",
                                       "Sessions re-sent to the edges because their window params "
                                       "or relay budget changed.")
                           .with();
  auto& queries =
      metrics.counter("sm_session_queries_total", "Edges' session queries by answer.", {"answer"});
  queriesAnswered_ = &queries.with({"session_info"});
  queriesRefused_ = &queries.with({"session_query_failed"});
  metrics.gaugeFunction("sm_chain_height", "The newest block height read from the chain.",
                        [this] { return static_cast<double>(height_.load()); });
  metrics.gaugeFunction("sm_chain_head_age_seconds",
                        "Seconds since the chain's newest block was last read successfully.",
                        [this] {
                          auto at = headReadAtMs_.load();
                          return at == 0 ? -1.0 : static_cast<double>(nowMs() - at) / 1000.0;
                        });
}

ChainFeed::~ChainFeed() {
  stop();
}

void ChainFeed::start() {
  pollOnce();
  blockThread_ = std::thread([this] { blockLoop(); });
  queryThread_ = std::thread([this] { queryLoop(); });
}

void ChainFeed::stop() {
  stop_.store(true);
  {
    std::lock_guard lock(queryMutex_);
    stopping_ = true;
  }
  queryWake_.notify_all();
  {
    std::lock_guard lock(blockMutex_);
  }
  blockWake_.notify_all();
  if (blockThread_.joinable()) blockThread_.join();
  if (queryThread_.joinable()) queryThread_.join();
}

std::optional<ChainHead> ChainFeed::head() const {
  std::lock_guard lock(headMutex_);
  return head_;
}

void ChainFeed::blockLoop() {
  util::nameThisThread("sm-blocks");
  while (!stop_.load()) {
    {
      std::unique_lock lock(blockMutex_);
      blockWake_.wait_for(lock, pollInterval_, [&] { return stop_.load() || blockPending_; });
      blockPending_ = false;
    }
    if (!stop_.load()) pollOnce();
  }
}

void ChainFeed::newBlockAnnounced(std::int64_t height) {
  std::int64_t seen = announced_.load();
  while (height > seen && !announced_.compare_exchange_weak(seen, height)) {
  }
  if (height <= height_.load()) return;  // the loop already has this block
  {
    std::lock_guard lock(blockMutex_);
    blockPending_ = true;
  }
  blockWake_.notify_one();
}

void ChainFeed::pollOnce() {
  auto latest = chain_.latestHead();
  if (!latest.ok()) {
    headErrors_->inc();
    if (!headFailing_) {
      headFailing_ = true;
      util::LogLine(log_, util::LogLevel::warn, "chain_head_unavailable")
          .kv("code", latest.error().code)
          .kv("reason", latest.error().message)
          .kv("last_height", height_.load());
    }
    return;
  }
  if (headFailing_) {
    headFailing_ = false;
    util::LogLine(log_, util::LogLevel::info, "chain_head_recovered").kv("height", latest->height);
  }
  headReadAtMs_.store(nowMs());
  std::int64_t previous = height_.load();
  if (latest->height <= previous) return;
  {
    std::lock_guard lock(headMutex_);
    head_ = *latest;
  }
  height_.store(latest->height);
  if (latest->height > previous + 1 && previous > 0) {
    util::LogLine(log_, util::LogLevel::info, "blocks_coalesced")
        .kv("from", previous + 1)
        .kv("to", latest->height);
  }
  util::LogLine(log_, util::LogLevel::debug, "new_block").kv("height", latest->height);
  if (callbacks_.newHead) callbacks_.newHead(*latest);

  // Sessions that have not ended: their window params follow the current params, and their
  // budget the application's stake.
  for (const auto& facts : cache_.all()) {
    if (facts->header.sessionEndBlockHeight < latest->height) continue;
    auto fresh = chain_.session(facts->header.applicationAddress, facts->header.serviceId,
                                facts->header.sessionStartBlockHeight);
    if (!fresh.ok() || !(fresh->header == facts->header)) continue;
    if (fresh->windowParams == facts->windowParams && fresh->budget == facts->budget) continue;
    auto updated = std::make_shared<const SessionFacts>(std::move(*fresh));
    cache_.replace(updated);
    sessionsRepushed_->inc();
    util::LogLine(log_, util::LogLevel::info, "session_repushed")
        .kv("session_id", updated->header.sessionId)
        .kv("height", latest->height)
        .kv("reason", "window params or relay budget changed");
    if (callbacks_.sessionChanged) callbacks_.sessionChanged(*updated);
  }
  // Edges forget a session once the height passes end + grace + num_blocks_per_session.
  const auto& p = latest->sharedParams;
  std::int64_t keep = static_cast<std::int64_t>(p.gracePeriodEndOffsetBlocks + p.numBlocksPerSession +
                                                p.claimWindowOpenOffsetBlocks + 1);
  cache_.forgetEndedBefore(latest->height - keep);
  if (callbacks_.height) callbacks_.height(latest->height);
}

std::int64_t ChainFeed::headReadAgeMs() const {
  auto at = headReadAtMs_.load();
  return at == 0 ? -1 : nowMs() - at;
}

void ChainFeed::submitQuery(SessionQueryRequest query) {
  {
    std::lock_guard lock(queryMutex_);
    queries_.push_back(std::move(query));
  }
  queryWake_.notify_one();
}

void ChainFeed::queryLoop() {
  util::nameThisThread("sm-queries");
  while (true) {
    SessionQueryRequest query;
    {
      std::unique_lock lock(queryMutex_);
      queryWake_.wait(lock, [&] { return stopping_ || !queries_.empty(); });
      if (stopping_) return;
      query = std::move(queries_.front());
      queries_.pop_front();
    }
    answer(query);
  }
}

void ChainFeed::answerQueued() {
  while (true) {
    SessionQueryRequest query;
    {
      std::lock_guard lock(queryMutex_);
      if (queries_.empty()) return;
      query = std::move(queries_.front());
      queries_.pop_front();
    }
    answer(query);
  }
}

void ChainFeed::answer(const SessionQueryRequest& query) {
  auto facts = cache_.get(query.applicationAddress, query.serviceId, query.blockHeight);
  if (facts.ok()) {
    queriesAnswered_->inc();
    if (callbacks_.answer) callbacks_.answer(query, **facts);
    return;
  }
  queriesRefused_->inc();
  bool transient = facts.error().code != kChainNotFound;
  std::string reason =
      transient ? "chain unavailable: " + facts.error().message : facts.error().message;
  util::LogLine(log_, util::LogLevel::info, "session_query_refused")
      .kv("application", query.applicationAddress)
      .kv("service", query.serviceId)
      .kv("height", query.blockHeight)
      .kv("transient", transient)
      .kv("reason", reason);
  if (callbacks_.refuse) callbacks_.refuse(query, reason, transient);
}

}  // namespace pocket::sm
