#pragma once
// The chain facts of every session the edges or the ingest asked about, fetched once per session:
// concurrent lookups of the same session wait for one chain query and share its answer
// (docs/architecture.md: one query serves every edge).
//
// Ownership: main() owns it; it borrows the ChainSource. Threading: every method is thread-safe;
// get() blocks the calling thread while it (or another thread, for the same session) queries the
// chain, so the link thread never calls it (the session-query worker and the ingest thread do).
// Errors: what the ChainSource returned (kChainNotFound or a transient code); nothing is cached
// for a failed lookup.

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "common/util/log.h"
#include "common/util/metrics.h"
#include "session-manager/chain_source.h"

namespace pocket::sm {

using SessionFactsPtr = std::shared_ptr<const SessionFacts>;

class SessionCache {
 public:
  SessionCache(ChainSource& chain, util::LogSink& log, util::MetricsRegistry& metrics);
  SessionCache(const SessionCache&) = delete;
  SessionCache& operator=(const SessionCache&) = delete;

  // The session of (app, service) containing `height`: from the cache, else from the chain.
  util::Result<SessionFactsPtr> get(const std::string& app, const std::string& service,
                                    std::int64_t height);
  // Cache only; nullptr on a miss.
  SessionFactsPtr find(const std::string& app, const std::string& service,
                       std::int64_t height) const;
  // Every cached session.
  std::vector<SessionFactsPtr> all() const;
  // Replaces the cached facts of the same session (after the block loop refreshed them).
  void replace(SessionFactsPtr facts);
  // Forgets sessions whose end height is below `height`; returns how many.
  std::size_t forgetEndedBefore(std::int64_t height);

  std::uint64_t chainQueries() const { return queries_->value(); }

 private:
  using Key = std::tuple<std::string, std::string, std::int64_t>;  // app, service, start
  SessionFactsPtr findLocked(const std::string& app, const std::string& service,
                             std::int64_t height) const;

  ChainSource& chain_;
  util::LogSink& log_;
  mutable std::mutex mutex_;
  std::condition_variable done_;
  std::map<Key, SessionFactsPtr> sessions_;
  // (app, service, height) lookups running now; others asking for the same wait on done_.
  std::map<Key, int> inFlight_;
  util::Counter* hits_;
  util::Counter* queries_;
  util::Counter* failures_;
  util::Histogram* latency_;
};

}  // namespace pocket::sm
