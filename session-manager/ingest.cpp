#include "session-manager/ingest.h"

#include <algorithm>
#include <csignal>
#include <cstdio>

#include "common/protocol/relay.h"
#include "common/protocol/session.h"
#include "common/smst/store.h"
#include "common/util/thread_name.h"
#include "common/util/thread_priority.h"
#include "edge_link.capnp.h"

namespace pocket::sm {

namespace {

using Clock = std::chrono::steady_clock;

// How long without a batch before the ingest thread gives back the memory it kept.
constexpr std::chrono::seconds kReleaseIdle{5};

// A session header as the message carries it: views into the received frame.
struct HeaderView {
  std::string_view applicationAddress;
  std::string_view serviceId;
  std::string_view sessionId;
  std::int64_t sessionStartBlockHeight = 0;
  std::int64_t sessionEndBlockHeight = 0;

  bool operator==(const protocol::SessionHeader& h) const {
    return sessionStartBlockHeight == h.sessionStartBlockHeight &&
           sessionEndBlockHeight == h.sessionEndBlockHeight && sessionId == h.sessionId &&
           applicationAddress == h.applicationAddress && serviceId == h.serviceId;
  }
};

std::string_view view(capnp::Text::Reader text) {
  return {text.cStr(), text.size()};
}

// One relay of a batch, read out of the Cap'n Proto message (any bad pointer throws while
// reading, before anything is staged). The views point into the batch's frame.
struct Incoming {
  std::uint64_t seq = 0;
  util::ByteSpan hash;
  util::ByteSpan bytes;
  std::uint64_t computeUnits = 0;
  HeaderView header;
  std::string_view supplier;
  std::size_t session = 0;  // index into the batch's session lookups
};

HeaderView readHeader(link::SessionHeader::Reader h) {
  return HeaderView{view(h.getApplicationAddress()), view(h.getServiceId()),
                    view(h.getSessionId()), h.getSessionStartBlockHeight(),
                    h.getSessionEndBlockHeight()};
}

// The chain's facts of one session named in a batch (nullptr: the chain has no such session).
struct SessionLookup {
  std::string_view applicationAddress;
  std::string_view serviceId;
  std::int64_t start = 0;
  SessionFactsPtr facts;
};

// What the relays of one (session, supplier) share within a batch.
struct TreeTarget {
  const SessionFacts* session = nullptr;
  std::string_view supplier;
  std::string tree;
  TreeInfo info;
  bool flushed = false;
};

}  // namespace

Ingest::Ingest(IngestOptions options, SessionStore& store, SessionCache& sessions,
               HeightSource currentHeight, AckSink acks, util::LogSink& log,
               util::MetricsRegistry& metrics)
    : options_(std::move(options)),
      store_(store),
      sessions_(sessions),
      currentHeight_(std::move(currentHeight)),
      acks_(std::move(acks)),
      log_(log) {
  rejected_ = &metrics.counter("sm_relays_rejected_total", "Mined relays rejected, by reason.",
                               {"reason"});
  for (auto reason : {kRejectRelayHashMismatch, kRejectRelayMalformed, kRejectSessionHeaderMismatch,
                      kRejectSupplierMismatch, kRejectSupplierNotOurs, kRejectSessionUnknown,
                      kRejectSupplierNotInSession, kRejectDifficulty, kRejectComputeUnits,
                      kRejectClaimWindowOpen, kRejectSessionParams, kRejectTreeFlushed}) {
    rejected_->with({std::string(reason)});
  }
  received_ = &metrics.counter("sm_relays_received_total", "Mined relays received from edges.").with();
  accepted_ =
      &metrics.counter("sm_relays_accepted_total", "Mined relays made durable in a tree.").with();
  auto& dup = metrics.counter("sm_relays_duplicate_total",
                              "Mined relays acked without a change, by why they were duplicates.",
                              {"kind"});
  duplicateSeq_ = &dup.with({"sequence"});
  duplicateHash_ = &dup.with({"relay_hash"});
  auto& batches = metrics.counter("sm_batches_total", "minedRelays batches by outcome.", {"outcome"});
  batches_ = &batches.with({"acked"});
  gaps_ = &batches.with({std::string(kBatchGap)});
  deferred_ = &batches.with({std::string(kBatchDeferred)});
  malformed_ = &batches.with({std::string(kBatchMalformed)});
  awaitingSession_ = &batches.with({std::string(kBatchAwaitingSession)});
  ingestSeconds_ = &metrics
                        .histogram("sm_ingest_seconds",
                                   "From a batch's arrival to its ack being handed to the link.",
                                   {}, util::latencyBucketsSeconds())
                        .with();
}

Ingest::~Ingest() {
  stop();
}

void Ingest::start() {
  {
    std::lock_guard lock(mutex_);
    lookupsOffThread_ = true;
  }
  lookupThread_ = std::thread([this] { lookupLoop(); });
  thread_ = std::thread([this] { loop(); });
}

void Ingest::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  lookupWake_.notify_all();
  if (lookupThread_.joinable()) lookupThread_.join();
  if (thread_.joinable()) thread_.join();
}

void Ingest::lookupLoop() {
  util::nameThisThread("sm-lookup");
  while (true) {
    AwaitingBatch next;
    {
      std::unique_lock lock(mutex_);
      lookupWake_.wait(lock, [&] { return stopping_ || !awaiting_.empty(); });
      if (stopping_) return;  // set-aside batches were never acked: the edges resend them
      next = std::move(awaiting_.front());
      awaiting_.pop_front();
      lookingUp_.emplace(next.batch.edge, next.firstSeq);
    }
    // Bounded by the chain's per-call deadline; the cache shares one lookup per session.
    for (const auto& key : next.keys) {
      const auto& [app, service, start] = key;
      next.batch.lookedUp.insert_or_assign(key, sessions_.get(app, service, start));
    }
    // The batch was read once before it was set aside; its second processing reads it whole
    // again, with a fresh traversal budget.
    next.batch.frame->rewind();
    next.batch.setAside = true;
    {
      std::lock_guard lock(mutex_);
      lookingUp_.reset();
      // Back in the queue ahead of the edge's batches that came meanwhile (and behind the ones
      // set aside before it), so the edge's batches are processed in order.
      auto at = std::find_if(queue_.begin(), queue_.end(), [&](const IngestBatch& queued) {
        return queued.edge == next.batch.edge && !queued.setAside;
      });
      returned_[next.batch.edge].insert(next.firstSeq);
      next.batch.returnedSeq = next.firstSeq;
      queue_.insert(at, std::move(next.batch));
    }
    wake_.notify_one();
  }
}

bool Ingest::edgeAwaiting(const EdgeKey& edge, std::uint64_t firstSeq) {
  std::lock_guard lock(mutex_);
  if (lookingUp_ && lookingUp_->first == edge && lookingUp_->second < firstSeq) return true;
  auto back = returned_.find(edge);
  if (back != returned_.end() && *back->second.begin() < firstSeq) return true;
  return std::any_of(awaiting_.begin(), awaiting_.end(), [&](const AwaitingBatch& waiting) {
    return waiting.batch.edge == edge && waiting.firstSeq < firstSeq;
  });
}

void Ingest::setAside(IngestBatch& batch, std::uint64_t firstSeq,
                      std::vector<SessionLookupKey> keys) {
  awaitingSession_->inc();
  util::LogLine(log_, util::LogLevel::info, "batch_awaiting_session")
      .kv("edge_id", batch.edge.edgeId)
      .kv("first_seq", firstSeq)
      .kv("sessions", keys.size())
      .kv("reason", keys.empty()
                        ? "behind an earlier batch of the same edge that awaits a session lookup"
                        : "the chain facts of a session it names are not cached; looking them up "
                          "off the ingest thread");
  std::lock_guard lock(mutex_);
  // An edge resends a batch that is not acked in time: one copy of it waits, the newest (it
  // came on the edge's current connection).
  if (lookingUp_ && lookingUp_->first == batch.edge && lookingUp_->second == firstSeq) return;
  for (auto& waiting : awaiting_) {
    if (waiting.batch.edge == batch.edge && waiting.firstSeq == firstSeq) {
      waiting.batch = std::move(batch);
      waiting.keys = std::move(keys);
      return;
    }
  }
  awaiting_.push_back(AwaitingBatch{std::move(batch), firstSeq, std::move(keys)});
  lookupWake_.notify_one();
}

void Ingest::submit(IngestBatch batch) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(batch));
  }
  wake_.notify_one();
}

void Ingest::expireBefore(std::int64_t height) {
  {
    std::lock_guard lock(mutex_);
    expireHeight_ = std::max(expireHeight_, height);
  }
  wake_.notify_one();
}

void Ingest::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  wake_.notify_one();
}

std::size_t Ingest::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void Ingest::loop() {
  util::nameThisThread("sm-ingest");
  if (options_.threadNice) {
    util::setThisThreadNiceOrLog(log_, "sm-ingest", *options_.threadNice, kAcksNotAhead);
  }
  arena_ = util::keepFreedMemoryOnThisThread();
  if (!arena_.applied) {
    util::LogLine(log_, util::LogLevel::info, "ingest_memory_not_kept")
        .kv("reason", arena_.why + "; a backlog of relays faults its memory in afresh");
  }
  try {
    while (true) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, options_.treeCommitInterval,
                       [&] {
          return stopping_ || !queue_.empty() || !tasks_.empty() || expireHeight_ > 0;
        });
        if (stopping_ && queue_.empty() && tasks_.empty()) break;
      }
      auto now = Clock::now();
      if (runOnce() > 0) {
        lastGroupAt_ = now;
      } else if (arena_.applied && now - lastGroupAt_ >= kReleaseIdle) {
        // Every idle pass, not once: the tree thread frees the records it applies into this
        // arena, and it may still be catching up.
        if (!util::releaseFreedMemory(arena_) && !releaseFailureLogged_) {
          util::LogLine(log_, util::LogLevel::warn, "ingest_memory_not_released")
              .kv("reason", "the allocator refused to purge the ingest thread's arena; its "
                            "memory stays resident until reused");
          releaseFailureLogged_ = true;
        }
      }
    }
    store_.commitTrees();
  } catch (const smst::StoreError& e) {
    util::LogLine(log_, util::LogLevel::error, "store_failed")
        .kv("reason", e.what())
        .kv("action", "exiting; a restart recovers from the journal");
    std::fflush(nullptr);
    std::_Exit(70);
  }
}

void Ingest::crashIf(CrashPoint point) {
  if (options_.crashAt != point || groups_ != options_.crashAtGroup) return;
  util::LogLine(log_, util::LogLevel::warn, "crash_injected").kv("group", groups_);
  std::fflush(nullptr);
  std::raise(SIGKILL);
}

std::size_t Ingest::runOnce() {
  std::vector<IngestBatch> group;
  std::deque<std::function<void()>> tasks;
  std::int64_t expire = 0;
  {
    std::lock_guard lock(mutex_);
    // Tasks posted before these batches were taken run after them: a task sees every batch
    // queued before it was posted.
    tasks.swap(tasks_);
    while (!queue_.empty() && group.size() < options_.maxGroupBatches) {
      group.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    std::swap(expire, expireHeight_);
  }
  if (!group.empty()) {
    ++groups_;
    std::vector<IngestOutcome> outcomes;
    for (auto& batch : group) processBatch(batch, changes_, outcomes);
    crashIf(CrashPoint::beforeWrite);
    store_.write(changes_);
    crashIf(CrashPoint::afterWrite);
    crashIf(CrashPoint::beforeAck);
    auto now = Clock::now();
    for (auto& batch : group) {
      ingestSeconds_->observe(std::chrono::duration<double>(now - batch.receivedAt).count());
    }
    for (auto& outcome : outcomes) acks_(std::move(outcome));
  }
  for (auto& task : tasks) task();
  if (expire > 0) {
    for (const auto& tree : store_.treesExpiredAt(expire)) store_.removeTree(tree);
  }
  if (Clock::now() - lastTreeCommit_ >= options_.treeCommitInterval) {
    store_.commitTreesInBackground();
    lastTreeCommit_ = Clock::now();
  }
  return group.size();
}

void Ingest::processBatch(IngestBatch& batch, WriteSet& changes,
                          std::vector<IngestOutcome>& outcomes) {
  if (batch.returnedSeq) {
    std::lock_guard lock(mutex_);
    auto it = returned_.find(batch.edge);
    if (it != returned_.end()) {
      auto seq = it->second.find(*batch.returnedSeq);
      if (seq != it->second.end()) it->second.erase(seq);
      if (it->second.empty()) returned_.erase(it);
    }
    batch.returnedSeq.reset();
  }
  auto malformed = [&](const std::string& why) {
    malformed_->inc();
    util::LogLine(log_, util::LogLevel::warn, "batch_malformed")
        .kv("edge_id", batch.edge.edgeId)
        .kv("reason", why);
  };
  std::uint64_t first = 0;
  std::vector<Incoming> relays;
  auto read = net::guardDecode([&]() -> util::Status {
    auto message = batch.frame->root<link::EdgeMessage>().getMinedRelays();
    first = message.getFirstSeq();
    auto list = message.getRelays();
    relays.reserve(list.size());
    for (unsigned i = 0; i < list.size(); ++i) {
      auto r = list[i];
      Incoming in;
      in.seq = first + i;
      auto hash = r.getRelayHash();
      auto bytes = r.getRelayBytes();
      in.hash = util::ByteSpan(hash.begin(), hash.size());
      in.bytes = util::ByteSpan(bytes.begin(), bytes.size());
      in.computeUnits = r.getComputeUnits();
      in.header = readHeader(r.getSessionHeader());
      in.supplier = view(r.getSupplierOperatorAddress());
      relays.push_back(in);
    }
    return util::Ok{};
  });
  if (!read.ok()) return malformed(read.error().message);
  if (first == 0 || relays.empty()) return malformed("empty batch or firstSeq 0");
  if (!batch.setAside) received_->inc(relays.size());  // not again after a set-aside
  // Behind an earlier batch of the same edge that waits for a lookup (or is back from one and
  // not yet processed), a batch waits too, so an edge's batches are processed in order (dropped
  // as a gap, it would cost the edge an ack timeout and a resend of everything after it). This
  // holds for a batch back from waiting as well: the one it waited behind may have been set
  // aside again for a lookup of its own.
  if (edgeAwaiting(batch.edge, first)) return setAside(batch, first, {});

  const EdgeKey& edge = batch.edge;
  std::uint64_t highWater = changes.highWater(edge).value_or(store_.highWater(edge));
  std::uint64_t settled = std::max(highWater, batch.resumeFloor);
  std::uint64_t last = first + relays.size() - 1;
  if (first > settled + 1) {
    gaps_->inc();
    util::LogLine(log_, util::LogLevel::warn, "batch_gap")
        .kv("edge_id", edge.edgeId)
        .kv("first_seq", first)
        .kv("expected_seq", settled + 1)
        .kv("reason", "an earlier batch was not made durable; waiting for the edge to resend it");
    return;
  }

  // Chain facts for every session of the batch, before anything is staged.
  std::int64_t height = currentHeight_();
  if (height <= 0) {
    deferred_->inc();
    util::LogLine(log_, util::LogLevel::warn, "batch_deferred")
        .kv("edge_id", edge.edgeId)
        .kv("first_seq", first)
        .kv("reason", "no chain head yet");
    return;
  }
  // Relays of a batch share one or a few sessions: a short list, searched in order.
  std::vector<SessionLookup> lookups;
  std::vector<SessionLookupKey> notCached;  // to look up off the ingest thread
  bool offThread;
  {
    std::lock_guard lock(mutex_);
    offThread = lookupsOffThread_;
  }
  for (auto& in : relays) {
    if (in.seq <= highWater) continue;
    std::size_t k = lookups.size();
    for (std::size_t j = 0; j < lookups.size(); ++j) {
      const SessionLookup& l = lookups[j];
      if (l.start == in.header.sessionStartBlockHeight &&
          l.applicationAddress == in.header.applicationAddress &&
          l.serviceId == in.header.serviceId) {
        k = j;
        break;
      }
    }
    in.session = k;
    if (k < lookups.size()) continue;
    SessionLookup lookup{in.header.applicationAddress, in.header.serviceId,
                         in.header.sessionStartBlockHeight, nullptr};
    SessionLookupKey key{std::string(in.header.applicationAddress),
                         std::string(in.header.serviceId), in.header.sessionStartBlockHeight};
    const auto& [app, service, start] = key;
    if (auto cached = sessions_.find(app, service, start)) {
      lookup.facts = std::move(cached);
      lookups.push_back(std::move(lookup));
      continue;
    }
    auto earlier = batch.lookedUp.find(key);
    if (earlier == batch.lookedUp.end() && offThread) {
      notCached.push_back(std::move(key));  // the batch is set aside below
      lookups.push_back(std::move(lookup));
      continue;
    }
    auto found = earlier != batch.lookedUp.end() ? earlier->second
                                                 : sessions_.get(app, service, start);
    if (found.ok()) {
      lookup.facts = *found;
    } else if (found.error().code != kChainNotFound) {
      deferred_->inc();
      util::LogLine(log_, util::LogLevel::warn, "batch_deferred")
          .kv("edge_id", edge.edgeId)
          .kv("first_seq", first)
          .kv("code", found.error().code)
          .kv("reason", "chain facts of session unavailable: " + found.error().message);
      return;
    }
    lookups.push_back(std::move(lookup));
  }
  if (!notCached.empty()) return setAside(batch, first, std::move(notCached));
  std::vector<TreeTarget> targets;

  IngestOutcome outcome;
  outcome.peer = batch.peer;
  outcome.edge = edge;
  auto reject = [&](const Incoming& in, std::string_view reason, const std::string& detail) {
    rejected_->with({std::string(reason)}).inc();
    outcome.rejected.emplace_back(in.seq, std::string(reason));
    util::LogLine(log_, util::LogLevel::warn, "relay_rejected")
        .kv("edge_id", edge.edgeId)
        .kv("seq", in.seq)
        .kv("session_id", in.header.sessionId)
        .kv("reason", reason)
        .kv("detail", detail);
  };
  for (const auto& in : relays) {
    if (in.seq <= highWater) {
      duplicateSeq_->inc();
      ++outcome.duplicates;
      continue;
    }
    auto computed = crypto::sha256(in.bytes);
    if (in.hash.size() != computed.size() ||
        !std::equal(computed.begin(), computed.end(), in.hash.begin())) {
      reject(in, kRejectRelayHashMismatch, "relayHash is not sha256(relayBytes)");
      continue;
    }
    auto relay = protocol::parseRelay(in.bytes);
    if (!relay.ok() || !relay->req) {
      reject(in, kRejectRelayMalformed,
             relay.ok() ? "relay without a request" : relay.error().message);
      continue;
    }
    const auto& meta = relay->req->meta;
    if (!meta.sessionHeader || !(in.header == *meta.sessionHeader)) {
      reject(in, kRejectSessionHeaderMismatch,
             "the relay's session header differs from the message's");
      continue;
    }
    if (meta.supplierOperatorAddress != in.supplier) {
      reject(in, kRejectSupplierMismatch, "the relay names supplier " +
                                              meta.supplierOperatorAddress + ", the message " +
                                              std::string(in.supplier));
      continue;
    }
    if (std::none_of(options_.suppliers.begin(), options_.suppliers.end(),
                     [&](const std::string& s) { return s == in.supplier; })) {
      reject(in, kRejectSupplierNotOurs,
             "supplier " + std::string(in.supplier) + " is not configured here");
      continue;
    }
    const SessionFactsPtr& session = lookups[in.session].facts;
    if (!session) {
      reject(in, kRejectSessionUnknown, "the chain has no such session");
      continue;
    }
    if (!(in.header == session->header)) {
      reject(in, kRejectSessionHeaderMismatch,
             "the chain's session is " + session->header.sessionId + " from " +
                 std::to_string(session->header.sessionStartBlockHeight));
      continue;
    }
    if (!session->hasSupplier(in.supplier)) {
      reject(in, kRejectSupplierNotInSession,
             "supplier " + std::string(in.supplier) + " is not in the session");
      continue;
    }
    if (!protocol::meetsDifficulty(computed, session->difficultyTarget)) {
      reject(in, kRejectDifficulty, "relay hash above the difficulty target at session start");
      continue;
    }
    if (in.computeUnits != session->computeUnitsPerRelay) {
      reject(in, kRejectComputeUnits,
             "computeUnits " + std::to_string(in.computeUnits) + ", the service's " +
                 std::to_string(session->computeUnitsPerRelay) + " at session start");
      continue;
    }
    TreeTarget* target = nullptr;
    for (auto& t : targets) {
      if (t.session == session.get() && t.supplier == in.supplier) {
        target = &t;
        break;
      }
    }
    if (target == nullptr) {
      auto windows = protocol::sessionWindows(session->windowParams,
                                              session->header.sessionEndBlockHeight);
      if (!windows.ok()) {
        reject(in, kRejectSessionParams, windows.error().message);
        continue;
      }
      TreeTarget t;
      t.session = session.get();
      t.supplier = in.supplier;
      t.info.supplierOperatorAddress = std::string(in.supplier);
      t.info.header = session->header;
      t.info.computeUnitsPerRelay = session->computeUnitsPerRelay;
      t.info.claimWindowOpen = windows->claimWindowOpen;
      t.info.proofWindowClose = windows->proofWindowClose;
      t.tree = treeKey(t.info.supplierOperatorAddress, session->header.sessionId);
      t.flushed = store_.isFlushed(t.tree);
      targets.push_back(std::move(t));
      target = &targets.back();
    }
    if (height >= target->info.claimWindowOpen) {
      reject(in, kRejectClaimWindowOpen,
             "arrived at height " + std::to_string(height) + ", claim window opened at " +
                 std::to_string(target->info.claimWindowOpen));
      continue;
    }
    if (target->flushed) {
      reject(in, kRejectTreeFlushed, "the session's tree is flushed: its claim root is fixed");
      continue;
    }
    if (store_.hasRelay(target->tree, computed) || changes.contains(target->tree, computed)) {
      duplicateHash_->inc();
      ++outcome.duplicates;
      continue;
    }
    changes.addRelay(target->tree, target->info, computed, in.bytes, in.computeUnits);
    accepted_->inc();
    ++outcome.accepted;
  }
  outcome.throughSeq = std::max(highWater, last);
  changes.setHighWater(edge, outcome.throughSeq);
  batches_->inc();
  outcomes.push_back(std::move(outcome));
}

}  // namespace pocket::sm
