#pragma once
// Chain facts for the edges (docs/architecture.md, docs/link.md): follows the chain's head and answers session queries.
//
// Block loop (one thread): reads ChainSource::latestHead() when a new block is announced
// (newBlockAnnounced(), which main() calls from the node's block feed: WebSocket NewBlock events,
// or its own status polling while the socket is down) and in any case every `pollInterval` (the
// only trigger with the static chain; a safety net with a node). On a new height
// it publishes the head (a chainState to every connected edge), re-reads the facts of every cached
// session that has not ended and re-publishes those whose window params or relay budget changed
// (sessionInfo with queryId 0), tells the ingest the height (trees past their proof window are
// removed) and forgets sessions long past. It coalesces: when several blocks passed since the last
// poll it acts once for the newest height; each duty depends only on the newest height, so no
// height's duty is skipped. A head that cannot be read is logged and counted; the loop keeps the
// last head and tries again.
//
// Session queries (one thread): answered from the SessionCache, so every edge asking for the same
// session is served by one chain query. Not found → sessionQueryFailed with the chain's reason;
// chain unavailable → sessionQueryFailed saying so, marked transient (the edge does not remember
// it and asks again on its next miss).
//
// Ownership and threading: main() owns it; it borrows the chain, the cache and the callbacks'
// targets. head(), submitQuery() and newBlockAnnounced() are thread-safe and never block on the
// chain (newBlockAnnounced only records the height and wakes the loop: the block feed's thread,
// and with it the WebSocket, never waits for the block loop). stop() joins both threads.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "common/util/log.h"
#include "common/util/metrics.h"
#include "session-manager/chain_source.h"
#include "session-manager/link_server.h"
#include "session-manager/session_cache.h"

namespace pocket::sm {

struct ChainFeedCallbacks {
  std::function<void(const ChainHead&)> newHead;                 // → every edge
  std::function<void(const SessionFacts&)> sessionChanged;       // → every edge
  std::function<void(const SessionQueryRequest&, const SessionFacts&)> answer;
  // `transient`: the chain could not be asked (not a "no" from the chain).
  std::function<void(const SessionQueryRequest&, const std::string& reason, bool transient)>
      refuse;
  std::function<void(std::int64_t height)> height;               // → ingest (expiry)
};

class ChainFeed {
 public:
  ChainFeed(std::chrono::milliseconds pollInterval, ChainSource& chain, SessionCache& cache,
            ChainFeedCallbacks callbacks, util::LogSink& log, util::MetricsRegistry& metrics);
  ~ChainFeed();
  ChainFeed(const ChainFeed&) = delete;
  ChainFeed& operator=(const ChainFeed&) = delete;

  // Reads the head once (so that the first hello gets a chainState), then starts the threads.
  void start();
  void stop();

  std::optional<ChainHead> head() const;
  std::int64_t height() const { return height_.load(); }
  // Milliseconds since the head was last read successfully; -1 before the first read.
  std::int64_t headReadAgeMs() const;
  void submitQuery(SessionQueryRequest query);
  // A block at `height` exists: the block loop reads the head now instead of at its next poll.
  // Announcements that arrive while the loop is busy coalesce into one read of the newest head.
  void newBlockAnnounced(std::int64_t height);
  // The newest height announced through newBlockAnnounced (0 before the first).
  std::int64_t announcedHeight() const { return announced_.load(); }

  // One iteration of the block loop (tests call it without start()).
  void pollOnce();
  // Answers every queued query (tests).
  void answerQueued();

 private:
  void blockLoop();
  void queryLoop();
  void answer(const SessionQueryRequest& query);

  std::chrono::milliseconds pollInterval_;
  ChainSource& chain_;
  SessionCache& cache_;
  ChainFeedCallbacks callbacks_;
  util::LogSink& log_;

  mutable std::mutex headMutex_;
  std::optional<ChainHead> head_;
  std::atomic<std::int64_t> height_{0};
  std::atomic<std::int64_t> headReadAtMs_{0};
  bool headFailing_ = false;  // block loop only: log transitions, not every failure

  std::mutex blockMutex_;
  std::condition_variable blockWake_;
  bool blockPending_ = false;  // guarded by blockMutex_: an announcement not yet acted on
  std::atomic<std::int64_t> announced_{0};

  std::mutex queryMutex_;
  std::condition_variable queryWake_;
  std::deque<SessionQueryRequest> queries_;
  bool stopping_ = false;  // guarded by queryMutex_
  std::atomic<bool> stop_{false};

  util::Counter* headErrors_;
  util::Counter* sessionsRepushed_;
  util::Counter* queriesAnswered_;
  util::Counter* queriesRefused_;
  std::thread blockThread_;
  std::thread queryThread_;
};

}  // namespace pocket::sm
