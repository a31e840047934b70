#pragma once
// Ingest: turns the edges' minedRelays batches into durable tree leaves (docs/architecture.md §4–§5).
//
// Per batch, in order: sequence numbers at or below the edge's high-water mark are replays
// (acked, nothing changes); a batch that starts past the next expected sequence number is
// dropped unacked (`batch_gap`: an earlier batch was deferred, the edge rewinds); the chain facts
// of every session in the batch are looked up (a chain that does not answer defers the whole
// batch unacked: `batch_deferred`, the edge resends). Once started, the ingest thread never waits
// for the chain: a batch naming a session the cache does not hold is set aside
// (`batch_awaiting_session`) while the session lookup runs on a thread of its own, within the
// chain's per-call deadline, and is then processed with its answer. So a slow or hung full node
// holds up only the batches that need it; every other edge's relays keep being acked. (Without
// start(), as in tests that call runOnce(), lookups run inline.) Then each relay gets the cheap
// checks, in this order, and is rejected with the first that fails (the reason goes back in the
// ack and is counted): relayHash == sha256(relayBytes); the bytes decode as a Relay whose request
// carries the message's session header and supplier; the supplier is one of ours; the chain knows
// the session, with the same header, and the supplier is in it; the hash meets the service's
// difficulty at session start; computeUnits equal compute units per relay at session start; the
// claim window (params at session end) has not opened at the current height. A relay whose hash
// is already in its (supplier, session) tree is a duplicate: acked, nothing changes.
//
// Group commit: the ingest thread takes every batch queued (from all edges) at once, writes all
// their accepted relays and watermarks in one synced journal write (SessionStore::write), hands
// them to the trees, and only then hands the acks to the AckSink. Nothing is acked before it is
// durable. The tries are updated and committed (every `treeCommitInterval`) on the store's tree
// thread, so an ack never waits for a tree commit.
//
// Ownership and threading: main() owns it; it borrows the store, the cache, the log and the
// metrics. submit() and expireBefore() are thread-safe; the ingest thread (start()) does all
// other work; a second thread started with it does the session lookups of set-aside batches
// (stop() waits for the lookup in progress, which the chain's deadline bounds). Tests may call
// runOnce() instead of start(). StoreError from the store is fatal (logged, the process exits
// non-zero; a restart recovers).
//
// Memory: the ingest thread allocates on an arena of its own that keeps what it frees
// (util::keepFreedMemoryOnThisThread): after a pause (a tree commit holding the CPU) the backlog
// of relays fills memory that is already mapped instead of page-faulting it in, right when the
// acks are late. Each time it wakes with no batch for five seconds or more, the thread gives
// that memory back, so an idle manager does not hold its busiest moment.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include "common/net/frame.h"
#include "common/util/allocator.h"
#include "common/util/log.h"
#include "common/util/metrics.h"
#include "session-manager/session_cache.h"
#include "session-manager/session_store.h"

namespace pocket::sm {

// Rejection reasons, as the edge logs and counts them.
inline constexpr std::string_view kRejectRelayHashMismatch = "relay_hash_mismatch";
inline constexpr std::string_view kRejectRelayMalformed = "relay_malformed";
inline constexpr std::string_view kRejectSessionHeaderMismatch = "session_header_mismatch";
inline constexpr std::string_view kRejectSupplierMismatch = "supplier_mismatch";
inline constexpr std::string_view kRejectSupplierNotOurs = "supplier_not_ours";
inline constexpr std::string_view kRejectSessionUnknown = "session_unknown";
inline constexpr std::string_view kRejectSupplierNotInSession = "supplier_not_in_session";
inline constexpr std::string_view kRejectDifficulty = "difficulty_not_met";
inline constexpr std::string_view kRejectComputeUnits = "compute_units_mismatch";
inline constexpr std::string_view kRejectClaimWindowOpen = "claim_window_open";
inline constexpr std::string_view kRejectSessionParams = "session_params_invalid";
inline constexpr std::string_view kRejectTreeFlushed = "tree_flushed";

// What a thread of the ack path left at the process's priority means (thread_priority_not_set).
inline constexpr std::string_view kAcksNotAhead = "acks wait behind background work on a busy machine";

// Batches that are not acked at all (the edge resends them).
inline constexpr std::string_view kBatchGap = "batch_gap";
inline constexpr std::string_view kBatchDeferred = "batch_deferred";
inline constexpr std::string_view kBatchMalformed = "batch_malformed";
// Set aside until the chain facts of its sessions are looked up (then processed, and acked).
inline constexpr std::string_view kBatchAwaitingSession = "batch_awaiting_session";

// A session as a batch names it: application, service, session start height.
using SessionLookupKey = std::tuple<std::string, std::string, std::int64_t>;

struct IngestBatch {
  std::string peer;  // ZeroMQ routing id of the connection it came on
  EdgeKey edge;
  // The edge's hello said it holds nothing below resumeSeq: sequence numbers up to
  // resumeSeq - 1 are settled, so a batch may start right after it.
  std::uint64_t resumeFloor = 0;
  std::unique_ptr<net::DecodedFrame> frame;  // an EdgeMessage holding minedRelays
  std::chrono::steady_clock::time_point receivedAt = std::chrono::steady_clock::now();
  // Lookups made for this batch while it was set aside (the ingest consults them before the
  // cache, so a "no such session" or a failure is not asked again).
  std::map<SessionLookupKey, util::Result<SessionFactsPtr>> lookedUp;
  // Back from the lookup thread: it was set aside once (counted as received then).
  bool setAside = false;
  // Its first sequence number while it is back from the lookup thread and not yet processed.
  std::optional<std::uint64_t> returnedSeq;
};

struct IngestOutcome {
  std::string peer;
  EdgeKey edge;
  std::uint64_t throughSeq = 0;
  std::vector<std::pair<std::uint64_t, std::string>> rejected;  // seq, reason
  std::uint64_t accepted = 0;
  std::uint64_t duplicates = 0;
};

// Fault injection for the crash tests (`run --crash-at POINT:N`): the process kills itself with
// SIGKILL at the N-th group commit, at that point.
enum class CrashPoint { none, beforeWrite, afterWrite, beforeAck };

struct IngestOptions {
  std::set<std::string> suppliers;  // operator addresses whose relays we keep
  std::chrono::milliseconds treeCommitInterval{2000};
  std::size_t maxGroupBatches = 256;  // batches per group commit
  // Nice value of the ingest thread (threads.ack_path_nice); unset: the process's.
  std::optional<int> threadNice;
  CrashPoint crashAt = CrashPoint::none;
  std::uint64_t crashAtGroup = 0;
};

class Ingest {
 public:
  using AckSink = std::function<void(IngestOutcome)>;
  using HeightSource = std::function<std::int64_t()>;  // the current chain height, 0 if unknown

  Ingest(IngestOptions options, SessionStore& store, SessionCache& sessions,
         HeightSource currentHeight, AckSink acks, util::LogSink& log,
         util::MetricsRegistry& metrics);
  ~Ingest();
  Ingest(const Ingest&) = delete;
  Ingest& operator=(const Ingest&) = delete;

  void start();
  // Finishes the queued batches, commits the trees and joins the thread.
  void stop();

  void submit(IngestBatch batch);
  // Removes the trees whose proof window closed before `height` (on the ingest thread).
  void expireBefore(std::int64_t height);
  // Runs `task` on the ingest thread after the batches queued before it (thread-safe): the
  // claim lifecycle flushes and removes trees this way, in order with the ingest. A task must not
  // throw anything but smst::StoreError.
  void post(std::function<void()> task);

  // Processes what is queued now as one group; returns the number of batches handled.
  std::size_t runOnce();
  std::size_t queued() const;

 private:
  struct Staged;
  // A batch set aside until `keys` are looked up.
  struct AwaitingBatch {
    IngestBatch batch;
    std::uint64_t firstSeq = 0;
    std::vector<SessionLookupKey> keys;
  };
  void loop();
  void lookupLoop();
  void processBatch(IngestBatch& batch, WriteSet& changes, std::vector<IngestOutcome>& outcomes);
  // Hands `batch` to the lookup thread (the same batch resent replaces the one waiting).
  void setAside(IngestBatch& batch, std::uint64_t firstSeq, std::vector<SessionLookupKey> keys);
  // Whether a batch of `edge` earlier than `firstSeq` waits for (or is in) a lookup, or is back
  // from one and not yet processed.
  bool edgeAwaiting(const EdgeKey& edge, std::uint64_t firstSeq);
  void crashIf(CrashPoint point);

  IngestOptions options_;
  SessionStore& store_;
  SessionCache& sessions_;
  HeightSource currentHeight_;
  AckSink acks_;
  util::LogSink& log_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<IngestBatch> queue_;
  std::deque<std::function<void()>> tasks_;  // guarded by mutex_
  std::int64_t expireHeight_ = 0;  // guarded by mutex_
  bool stopping_ = false;
  bool lookupsOffThread_ = false;  // set by start(): set batches aside instead of waiting
  std::condition_variable lookupWake_;
  std::deque<AwaitingBatch> awaiting_;  // guarded by mutex_
  // (edge, firstSeq) of the batch whose lookups run now; guarded by mutex_.
  std::optional<std::pair<EdgeKey, std::uint64_t>> lookingUp_;
  // Per edge, the first sequence numbers of batches back from the lookup thread and not yet
  // processed; guarded by mutex_. A later batch of the edge waits behind them, even one the
  // ingest thread already holds.
  std::map<EdgeKey, std::multiset<std::uint64_t>> returned_;
  std::chrono::steady_clock::time_point lastTreeCommit_ = std::chrono::steady_clock::now();
  std::uint64_t groups_ = 0;
  WriteSet changes_;  // ingest thread: one group's, emptied by each write, its buffers kept

  util::Family<util::Counter>* rejected_;
  util::Counter* received_;
  util::Counter* accepted_;
  util::Counter* duplicateSeq_;
  util::Counter* duplicateHash_;
  util::Counter* batches_;
  util::Counter* gaps_;
  util::Counter* deferred_;
  util::Counter* malformed_;
  util::Counter* awaitingSession_;
  util::Histogram* ingestSeconds_;

  // Ingest thread: its arena and when the last group came.
  util::ThreadArena arena_;
  std::chrono::steady_clock::time_point lastGroupAt_;
  bool releaseFailureLogged_ = false;

  std::thread thread_;
  std::thread lookupThread_;
};

}  // namespace pocket::sm
