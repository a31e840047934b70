#pragma once
// The chain facts the edge validates, prices and mines relays with (docs/architecture.md §2–§3), as the session
// manager feeds them over the link: the current block (height, hash, time, shared params) and, per
// session, its header, suppliers, application ring keys, compute units per relay and difficulty
// target at session start.
//
// Reads are the hot path and cheap: head() and findSession() take a shared lock and copy a
// shared_ptr to an immutable snapshot. A miss goes through lookupSession(), which asks the session
// manager (through the EdgeLink) and answers through a callback, or fails after a bounded wait.
//
// Callbacks (lookupSession): called exactly once, with the facts or an Error whose code is
//   kErrSessionQueryTimeout   no answer within queryTimeout (the link may be down)
//   kErrSessionNotFound       the session manager has no such session (cached negatively for
//                             negativeTtl, so a flood of bad requests does not become a flood of
//                             queries)
//   kErrSessionChainUnavailable  the session manager could not ask the chain (its full node is
//                             down or hung); not remembered: the next miss asks again
//   kErrSessionAnswerInvalid  the answer did not match the question or had malformed keys
// on one of: the caller's thread (inline, when the answer is already known), the link thread, or
// the cache's timer thread. Callbacks must be cheap, thread-safe and must not block or call back
// into lookupSession synchronously: post the result to your own executor (e.g. asio::post to the
// connection's strand). Callbacks still pending when the cache is destroyed are dropped uncalled.
//
// Ownership: main() owns the ChainFacts and destroys it after the EdgeLink and every user.
// Threading: every method is thread-safe. Owns one timer thread (for the query timeouts).

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/protocol/session.h"
#include "common/util/bytes.h"
#include "common/util/log.h"
#include "common/util/result.h"
#include "edge/link/mined_relay.h"

namespace pocket::edge {

// Error codes of lookupSession's callback and of putSession (util::Error::code).
inline constexpr char kErrSessionQueryTimeout[] = "session_query_timeout";
inline constexpr char kErrSessionNotFound[] = "session_not_found";
inline constexpr char kErrSessionChainUnavailable[] = "session_chain_unavailable";
inline constexpr char kErrSessionAnswerInvalid[] = "session_answer_invalid";

// pocket.shared.Params as the session and window arithmetic takes it: pass it straight to
// protocol::sessionBounds / protocol::sessionWindows.
using SharedParams = protocol::SharedParams;

// The latest block the session manager reported.
struct ChainHead {
  std::int64_t height = 0;
  util::Bytes blockHash;  // 32 bytes
  std::int64_t blockTimeUnixMs = 0;
  SharedParams sharedParams;  // in force at `height`
};

using CompressedPubKey = std::array<std::uint8_t, 33>;

// What bounds an application's spending on one session (the relay meter reads it). uPOKT.
struct RelayBudget {
  std::uint64_t applicationStakeUpokt = 0;
  std::uint64_t perSessionSpendLimitUpokt = 0;     // 0: none
  std::uint64_t overservicingBonusMultiplier = 0;  // 0 reads as 1
};
using DifficultyTarget = std::array<std::uint8_t, 32>;

// What the edge needs to accept, price and mine relays of one application's session.
struct SessionFacts {
  SessionHeader header;
  std::vector<std::string> supplierOperatorAddresses;
  std::vector<CompressedPubKey> ringPubKeys;  // the application's key and its gateways'
  std::uint64_t computeUnitsPerRelay = 0;     // at session start
  DifficultyTarget difficultyTarget{};        // at session start; mined iff relayHash < target
  // Shared params that time the grace period and the claim/proof windows (in force at the
  // session's end; the current ones while it has not ended), and those at the session's start
  // (pricing). Empty when the session manager did not send them: use windowParamsOr /
  // startParamsOr with the head's params as the fallback.
  std::optional<SharedParams> windowParams;
  std::optional<SharedParams> startParams;
  // Empty when the session manager sent none: the relay meter then does not meter the session.
  std::optional<RelayBudget> budget;

  bool hasSupplier(std::string_view operatorAddress) const;
  const SharedParams& windowParamsOr(const SharedParams& fallback) const {
    return windowParams ? *windowParams : fallback;
  }
  const SharedParams& startParamsOr(const SharedParams& fallback) const {
    return startParams ? *startParams : fallback;
  }
};

using SessionFactsPtr = std::shared_ptr<const SessionFacts>;
using SessionCallback = std::function<void(util::Result<SessionFactsPtr>)>;

// A question for the session manager: the session of (application, service) containing blockHeight.
struct SessionQuery {
  std::uint64_t queryId = 0;
  std::string applicationAddress;
  std::string serviceId;
  std::int64_t blockHeight = 0;
};

struct ChainFactsOptions {
  std::chrono::milliseconds queryTimeout{1500};
  std::chrono::milliseconds negativeTtl{2000};
  // Sessions are forgotten once height > end + grace + num_blocks_per_session, and beyond this
  // many the oldest go first.
  std::size_t maxSessions = 100000;
};

class ChainFacts {
 public:
  // `log` must outlive the cache. Starts the timer thread.
  ChainFacts(ChainFactsOptions options, util::LogSink& log);
  // Stops the timer thread; pending callbacks are dropped uncalled.
  ~ChainFacts();
  ChainFacts(const ChainFacts&) = delete;
  ChainFacts& operator=(const ChainFacts&) = delete;

  // --- Readers (hot path, any thread) ---
  // Null until the first chain state arrived.
  std::shared_ptr<const ChainHead> head() const;
  // 0 until the first chain state arrived. Lock-free.
  std::int64_t currentHeight() const { return height_.load(std::memory_order_acquire); }
  // The cached session of (application, service) with start ≤ height ≤ end, or null. Never asks.
  SessionFactsPtr findSession(std::string_view applicationAddress, std::string_view serviceId,
                              std::int64_t height) const;
  // findSession, and on a miss asks the session manager; see the callback contract above. On a
  // hit or a cached negative answer the callback runs inline before this returns. Concurrent
  // lookups of the same (application, service, height) share one query.
  void lookupSession(std::string_view applicationAddress, std::string_view serviceId,
                     std::int64_t height, SessionCallback onReady);

  // --- Feed (the EdgeLink; also tests) ---
  void updateHead(ChainHead head);
  // Caches `facts` and answers the query `queryId` (0: pushed unasked) and any pending query it
  // covers. Errors (the facts are dropped): kErrSessionAnswerInvalid.
  util::Status putSession(SessionFacts facts, std::uint64_t queryId = 0);
  // The session manager could not answer `queryId`: the chain said no (remembered for
  // negativeTtl), or with `transient` it could not ask the chain (not remembered).
  void failQuery(std::uint64_t queryId, std::string_view reason, bool transient = false);
  // Queries to send now: those not yet handed out, or with `all` every pending one (after a
  // reconnect, when earlier sends may have been lost).
  std::vector<SessionQuery> takeQueriesToSend(bool all);
  // Called, from the thread of lookupSession, whenever a new query waits to be sent; must be cheap
  // (the EdgeLink writes to an eventfd). Pass an empty function to detach.
  void setQueryWakeup(std::function<void()> wakeup);

  // --- Counters (any thread) ---
  std::uint64_t hits() const { return hits_.load(); }
  std::uint64_t misses() const { return misses_.load(); }
  std::uint64_t queriesSent() const { return queriesSent_.load(); }
  std::uint64_t queryTimeouts() const { return queryTimeouts_.load(); }
  std::uint64_t queryFailures() const { return queryFailures_.load(); }
  std::size_t sessionCount() const;

 private:
  struct Pending {
    SessionQuery query;
    std::chrono::steady_clock::time_point deadline;
    std::vector<SessionCallback> callbacks;
    bool handedOut = false;
  };
  struct Negative {
    std::int64_t height;
    std::string reason;
    std::chrono::steady_clock::time_point expires;
  };
  using ServiceMap = std::map<std::string, std::vector<SessionFactsPtr>, std::less<>>;

  SessionFactsPtr findLocked(std::string_view app, std::string_view service,
                             std::int64_t height) const;
  void evictLocked(std::int64_t height, const SharedParams& params);
  void timerLoop();

  const ChainFactsOptions options_;
  util::LogSink& log_;

  mutable std::shared_mutex mutex_;  // guards head_, sessions_, sessionCount_
  std::shared_ptr<const ChainHead> head_;
  std::map<std::string, ServiceMap, std::less<>> sessions_;  // application -> service -> sessions
  std::size_t sessionCount_ = 0;
  std::atomic<std::int64_t> height_{0};

  std::mutex pendingMutex_;  // guards everything below up to the thread
  std::condition_variable pendingChanged_;
  std::map<std::uint64_t, Pending> pending_;               // by query id
  std::map<std::string, Negative, std::less<>> negative_;  // "app\nservice" -> last failure
  std::uint64_t nextQueryId_ = 1;
  std::function<void()> wakeup_;
  bool stop_ = false;

  mutable std::atomic<std::uint64_t> hits_{0};  // counted by the const readers
  mutable std::atomic<std::uint64_t> misses_{0};
  std::atomic<std::uint64_t> queriesSent_{0};
  std::atomic<std::uint64_t> queryTimeouts_{0};
  std::atomic<std::uint64_t> queryFailures_{0};
  std::thread timer_;  // last member: starts after the others exist
};

}  // namespace pocket::edge
