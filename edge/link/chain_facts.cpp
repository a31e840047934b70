#include "edge/link/chain_facts.h"

#include <algorithm>

namespace pocket::edge {
namespace {

std::string negativeKey(std::string_view app, std::string_view service, std::int64_t height) {
  std::string key;
  key.reserve(app.size() + service.size() + 24);
  key.append(app).append(1, '\n').append(service).append(1, '\n').append(std::to_string(height));
  return key;
}

bool covers(const SessionHeader& header, std::string_view app, std::string_view service,
            std::int64_t height) {
  return header.applicationAddress == app && header.serviceId == service &&
         header.sessionStartBlockHeight <= height && height <= header.sessionEndBlockHeight;
}

}  // namespace

bool SessionFacts::hasSupplier(std::string_view operatorAddress) const {
  return std::find(supplierOperatorAddresses.begin(), supplierOperatorAddresses.end(),
                   operatorAddress) != supplierOperatorAddresses.end();
}

ChainFacts::ChainFacts(ChainFactsOptions options, util::LogSink& log)
    : options_(options), log_(log), timer_([this] { timerLoop(); }) {
}

ChainFacts::~ChainFacts() {
  {
    std::lock_guard<std::mutex> lock(pendingMutex_);
    stop_ = true;
  }
  pendingChanged_.notify_all();
  timer_.join();
}

std::shared_ptr<const ChainHead> ChainFacts::head() const {
  std::shared_lock lock(mutex_);
  return head_;
}

SessionFactsPtr ChainFacts::findLocked(std::string_view app, std::string_view service,
                                       std::int64_t height) const {
  auto byApp = sessions_.find(app);
  if (byApp == sessions_.end()) return nullptr;
  auto byService = byApp->second.find(service);
  if (byService == byApp->second.end()) return nullptr;
  for (const auto& facts : byService->second) {
    if (facts->header.sessionStartBlockHeight <= height &&
        height <= facts->header.sessionEndBlockHeight) {
      return facts;
    }
  }
  return nullptr;
}

SessionFactsPtr ChainFacts::findSession(std::string_view applicationAddress,
                                        std::string_view serviceId, std::int64_t height) const {
  SessionFactsPtr found;
  {
    std::shared_lock lock(mutex_);
    found = findLocked(applicationAddress, serviceId, height);
  }
  (found ? hits_ : misses_).fetch_add(1, std::memory_order_relaxed);
  return found;
}

void ChainFacts::lookupSession(std::string_view applicationAddress, std::string_view serviceId,
                               std::int64_t height, SessionCallback onReady) {
  if (SessionFactsPtr found = findSession(applicationAddress, serviceId, height)) {
    onReady(found);
    return;
  }
  std::function<void()> wakeup;
  {
    std::unique_lock lock(pendingMutex_);
    auto now = std::chrono::steady_clock::now();
    std::string key = negativeKey(applicationAddress, serviceId, height);
    if (auto neg = negative_.find(key); neg != negative_.end()) {
      if (neg->second.expires > now) {
        util::Error error = util::makeError(kErrSessionNotFound, neg->second.reason);
        lock.unlock();
        onReady(error);
        return;
      }
      negative_.erase(neg);
    }
    // The answer may have arrived between findSession and taking the lock.
    {
      std::shared_lock facts(mutex_);
      if (SessionFactsPtr found = findLocked(applicationAddress, serviceId, height)) {
        lock.unlock();
        facts.unlock();
        onReady(found);
        return;
      }
    }
    for (auto& [id, pending] : pending_) {
      if (pending.query.blockHeight == height &&
          pending.query.applicationAddress == applicationAddress &&
          pending.query.serviceId == serviceId) {
        pending.callbacks.push_back(std::move(onReady));
        return;
      }
    }
    Pending pending;
    pending.query = SessionQuery{nextQueryId_++, std::string(applicationAddress),
                                 std::string(serviceId), height};
    pending.deadline = now + options_.queryTimeout;
    pending.callbacks.push_back(std::move(onReady));
    pending_.emplace(pending.query.queryId, std::move(pending));
    wakeup = wakeup_;
  }
  pendingChanged_.notify_all();
  if (wakeup) wakeup();
}

void ChainFacts::updateHead(ChainHead head) {
  auto snapshot = std::make_shared<const ChainHead>(std::move(head));
  std::int64_t previous = height_.load();
  if (snapshot->height < previous) {
    util::LogLine(log_, util::LogLevel::warn, "chain_height_went_back")
        .kv("height", snapshot->height)
        .kv("previous_height", previous);
  }
  std::unique_lock lock(mutex_);
  head_ = snapshot;
  height_.store(snapshot->height, std::memory_order_release);
  evictLocked(snapshot->height, snapshot->sharedParams);
}

void ChainFacts::evictLocked(std::int64_t height, const SharedParams& params) {
  const auto keep =
      static_cast<std::int64_t>(params.gracePeriodEndOffsetBlocks + params.numBlocksPerSession);
  for (auto app = sessions_.begin(); app != sessions_.end();) {
    for (auto service = app->second.begin(); service != app->second.end();) {
      auto& list = service->second;
      std::size_t before = list.size();
      list.erase(std::remove_if(list.begin(), list.end(),
                                [&](const SessionFactsPtr& f) {
                                  return f->header.sessionEndBlockHeight + keep < height;
                                }),
                 list.end());
      sessionCount_ -= before - list.size();
      service = list.empty() ? app->second.erase(service) : std::next(service);
    }
    app = app->second.empty() ? sessions_.erase(app) : std::next(app);
  }
}

util::Status ChainFacts::putSession(SessionFacts facts, std::uint64_t queryId) {
  const SessionHeader& h = facts.header;
  util::Status valid = util::Ok{};
  if (h.applicationAddress.empty() || h.serviceId.empty() || h.sessionId.empty() ||
      h.sessionStartBlockHeight <= 0 || h.sessionEndBlockHeight < h.sessionStartBlockHeight) {
    valid = util::makeError(kErrSessionAnswerInvalid,
                            "session header is incomplete or its heights are out of order");
  } else if (facts.ringPubKeys.empty()) {
    valid = util::makeError(kErrSessionAnswerInvalid, "session has no ring public keys");
  } else if (facts.windowParams && !facts.windowParams->validateTiming().ok()) {
    valid = util::makeError(kErrSessionAnswerInvalid,
        "session window params: " + facts.windowParams->validateTiming().error().message);
  }
  if (!valid.ok()) {
    util::LogLine(log_, util::LogLevel::warn, "session_info_invalid")
        .kv("application", h.applicationAddress)
        .kv("service", h.serviceId)
        .kv("query_id", queryId)
        .kv("reason", valid.error().message);
    if (queryId != 0) failQuery(queryId, valid.error().message);
    return valid;
  }

  auto snapshot = std::make_shared<const SessionFacts>(std::move(facts));
  {
    std::unique_lock lock(mutex_);
    auto& list = sessions_[snapshot->header.applicationAddress][snapshot->header.serviceId];
    auto same = std::find_if(list.begin(), list.end(), [&](const SessionFactsPtr& f) {
      return f->header.sessionStartBlockHeight == snapshot->header.sessionStartBlockHeight;
    });
    if (same != list.end()) {
      *same = snapshot;
    } else {
      list.push_back(snapshot);
      ++sessionCount_;
    }
    if (sessionCount_ > options_.maxSessions) {
      // Over the bound: forget everything that ended before this session started.
      std::int64_t height = snapshot->header.sessionStartBlockHeight;
      const auto& head = head_;
      SharedParams none;
      evictLocked(height, head ? head->sharedParams : none);
    }
  }

  std::vector<SessionCallback> ready;
  std::vector<SessionCallback> mismatched;
  {
    std::lock_guard<std::mutex> lock(pendingMutex_);
    for (auto it = pending_.begin(); it != pending_.end();) {
      const SessionQuery& q = it->second.query;
      bool answers = covers(snapshot->header, q.applicationAddress, q.serviceId, q.blockHeight);
      if (answers || it->first == queryId) {
        auto& target = answers ? ready : mismatched;
        for (auto& cb : it->second.callbacks) target.push_back(std::move(cb));
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& cb : ready) cb(SessionFactsPtr(snapshot));
  for (auto& cb : mismatched) {
    cb(util::makeError(kErrSessionAnswerInvalid,
                       "the session manager answered with a session that does not contain the "
                       "requested application, service and height"));
  }
  return util::Ok{};
}

void ChainFacts::failQuery(std::uint64_t queryId, std::string_view reason, bool transient) {
  std::vector<SessionCallback> callbacks;
  SessionQuery query;
  {
    std::lock_guard<std::mutex> lock(pendingMutex_);
    auto it = pending_.find(queryId);
    if (it == pending_.end()) return;
    query = it->second.query;
    callbacks = std::move(it->second.callbacks);
    pending_.erase(it);
    if (!transient) {
      negative_[negativeKey(query.applicationAddress, query.serviceId, query.blockHeight)] =
          Negative{query.blockHeight, std::string(reason),
                   std::chrono::steady_clock::now() + options_.negativeTtl};
    }
  }
  queryFailures_.fetch_add(1);
  util::LogLine(log_, util::LogLevel::info, "session_query_failed")
      .kv("application", query.applicationAddress)
      .kv("service", query.serviceId)
      .kv("height", query.blockHeight)
      .kv("transient", transient)
      .kv("reason", reason);
  for (auto& cb : callbacks) {
    cb(util::makeError(transient ? kErrSessionChainUnavailable : kErrSessionNotFound,
                       "session manager: " + std::string(reason)));
  }
}

std::vector<SessionQuery> ChainFacts::takeQueriesToSend(bool all) {
  std::vector<SessionQuery> out;
  std::lock_guard<std::mutex> lock(pendingMutex_);
  for (auto& [id, pending] : pending_) {
    if (all || !pending.handedOut) {
      pending.handedOut = true;
      out.push_back(pending.query);
    }
  }
  queriesSent_.fetch_add(out.size());
  return out;
}

void ChainFacts::setQueryWakeup(std::function<void()> wakeup) {
  std::lock_guard<std::mutex> lock(pendingMutex_);
  wakeup_ = std::move(wakeup);
}

std::size_t ChainFacts::sessionCount() const {
  std::shared_lock lock(mutex_);
  return sessionCount_;
}

void ChainFacts::timerLoop() {
  std::unique_lock lock(pendingMutex_);
  while (!stop_) {
    auto now = std::chrono::steady_clock::now();
    std::vector<std::pair<SessionQuery, std::vector<SessionCallback>>> expired;
    auto next = now + std::chrono::seconds(1);
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.deadline <= now) {
        expired.emplace_back(it->second.query, std::move(it->second.callbacks));
        it = pending_.erase(it);
      } else {
        next = std::min(next, it->second.deadline);
        ++it;
      }
    }
    for (auto it = negative_.begin(); it != negative_.end();) {
      it = it->second.expires <= now ? negative_.erase(it) : std::next(it);
    }
    if (!expired.empty()) {
      lock.unlock();
      for (auto& [query, callbacks] : expired) {
        queryTimeouts_.fetch_add(1);
        util::LogLine(log_, util::LogLevel::warn, "session_query_timeout")
            .kv("application", query.applicationAddress)
            .kv("service", query.serviceId)
            .kv("height", query.blockHeight)
            .kv("timeout_ms", options_.queryTimeout.count())
            .kv("reason", "no answer from the session manager in time");
        for (auto& cb : callbacks) {
          cb(util::makeError(kErrSessionQueryTimeout,
                             "no answer from the session manager within " +
                                 std::to_string(options_.queryTimeout.count()) + " ms"));
        }
      }
      lock.lock();
      continue;
    }
    pendingChanged_.wait_until(lock, next);
  }
}

}  // namespace pocket::edge
