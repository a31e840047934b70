#include "session-manager/session_cache.h"

#include <chrono>

namespace pocket::sm {

SessionCache::SessionCache(ChainSource& chain, util::LogSink& log, util::MetricsRegistry& metrics)
    : chain_(chain), log_(log) {
  auto& lookups = metrics.counter("sm_session_lookups_total",
                                  "Session lookups by outcome (cache hit, chain query, failure).",
                                  {"outcome"});
  hits_ = &lookups.with({"cache_hit"});
  queries_ = &lookups.with({"chain_query"});
  failures_ = &lookups.with({"failed"});
  latency_ = &metrics
                  .histogram("sm_chain_query_seconds", "Latency of chain queries by path.",
                             {"path"}, util::latencyBucketsSeconds())
                  .with({"session"});
}

SessionFactsPtr SessionCache::findLocked(const std::string& app, const std::string& service,
                                         std::int64_t height) const {
  // Sessions of one (app, service) are ordered by start: the candidate is the last start <= height.
  auto it = sessions_.upper_bound(Key{app, service, height});
  if (it == sessions_.begin()) return nullptr;
  --it;
  const auto& [a, s, start] = it->first;
  if (a != app || s != service) return nullptr;
  if (height > it->second->header.sessionEndBlockHeight) return nullptr;
  return it->second;
}

SessionFactsPtr SessionCache::find(const std::string& app, const std::string& service,
                                   std::int64_t height) const {
  std::lock_guard lock(mutex_);
  return findLocked(app, service, height);
}

util::Result<SessionFactsPtr> SessionCache::get(const std::string& app,
                                                const std::string& service, std::int64_t height) {
  Key flight{app, service, height};
  {
    std::unique_lock lock(mutex_);
    while (true) {
      if (auto cached = findLocked(app, service, height)) {
        hits_->inc();
        return cached;
      }
      if (inFlight_.count(flight) == 0) break;
      done_.wait(lock);
    }
    inFlight_[flight] = 1;
  }
  queries_->inc();
  auto started = std::chrono::steady_clock::now();
  auto answer = chain_.session(app, service, height);
  latency_->observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  std::lock_guard lock(mutex_);
  inFlight_.erase(flight);
  done_.notify_all();
  if (!answer.ok()) {
    failures_->inc();
    util::LogLine(log_, util::LogLevel::info, "session_lookup_failed")
        .kv("application", app)
        .kv("service", service)
        .kv("height", height)
        .kv("code", answer.error().code)
        .kv("reason", answer.error().message);
    return answer.error();
  }
  auto facts = std::make_shared<const SessionFacts>(std::move(*answer));
  Key key{facts->header.applicationAddress, facts->header.serviceId,
          facts->header.sessionStartBlockHeight};
  auto [it, inserted] = sessions_.emplace(key, facts);
  if (inserted) {
    util::LogLine(log_, util::LogLevel::info, "session_cached")
        .kv("application", app)
        .kv("service", service)
        .kv("session_id", facts->header.sessionId)
        .kv("start", facts->header.sessionStartBlockHeight)
        .kv("end", facts->header.sessionEndBlockHeight)
        .kv("suppliers", facts->supplierOperatorAddresses.size());
  }
  return it->second;
}

std::vector<SessionFactsPtr> SessionCache::all() const {
  std::lock_guard lock(mutex_);
  std::vector<SessionFactsPtr> out;
  out.reserve(sessions_.size());
  for (const auto& [key, facts] : sessions_) out.push_back(facts);
  return out;
}

void SessionCache::replace(SessionFactsPtr facts) {
  std::lock_guard lock(mutex_);
  sessions_[Key{facts->header.applicationAddress, facts->header.serviceId,
                facts->header.sessionStartBlockHeight}] = std::move(facts);
}

std::size_t SessionCache::forgetEndedBefore(std::int64_t height) {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second->header.sessionEndBlockHeight < height) {
      it = sessions_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

}  // namespace pocket::sm
