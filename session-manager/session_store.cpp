#include "session-manager/session_store.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <future>
#include <limits>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/transaction_log.h>
#include <rocksdb/write_batch.h>

#include "common/smst/rocksdb_store.h"
#include "common/smst/trie.h"
#include "common/util/hex.h"
#include "common/util/thread_name.h"
#include "common/util/thread_priority.h"
#include "session-manager/journal_reaper.h"

namespace pocket::sm {

namespace {

using Clock = std::chrono::steady_clock;

long long ms(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

void check(const rocksdb::Status& s, const char* what) {
  if (!s.ok()) throw smst::StoreError(std::string("journal ") + what + ": " + s.ToString());
}

std::string be64(std::uint64_t v) {
  std::string out(8, '\0');
  smst::writeBE64(reinterpret_cast<std::uint8_t*>(out.data()), v);
  return out;
}

std::uint64_t readBe64(std::string_view s) {
  if (s.size() < 8) throw smst::StoreError("journal: truncated 64-bit value");
  return smst::readBE64(reinterpret_cast<const std::uint8_t*>(s.data()));
}

std::string edgeKeyBytes(const EdgeKey& edge) {
  return "w" + edge.edgeId + std::string(1, '\0') + be64(edge.spoolId);
}

std::string recordKey(const std::string& tree, std::uint64_t index) {
  return "r" + tree + std::string(1, '\0') + be64(index);
}

std::string hashKey(const std::string& tree, std::uint64_t index) {
  return "h" + tree + std::string(1, '\0') + be64(index);
}

// One relay in a relay record: relayHash ‖ BE64 weight ‖ BE32 length ‖ relayBytes.
constexpr std::size_t kRelayHeader = 32 + 8 + 4;

// Calls visit(hash, relayBytes, weight) for each relay of a relay record of tree `key`.
template <class Visit>
void forEachRelay(std::string_view record, const std::string& key, Visit&& visit) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(record.data());
  std::size_t left = record.size();
  while (left > 0) {
    if (left < kRelayHeader) throw smst::StoreError("journal: truncated relay record of " + key);
    std::uint64_t weight = smst::readBE64(p + 32);
    std::size_t size = (std::size_t{p[40]} << 24) | (std::size_t{p[41]} << 16) |
                       (std::size_t{p[42]} << 8) | std::size_t{p[43]};
    if (left < kRelayHeader + size) {
      throw smst::StoreError("journal: truncated relay record of " + key);
    }
    visit(util::ByteSpan(p, 32), util::ByteSpan(p + kRelayHeader, size), weight);
    p += kRelayHeader + size;
    left -= kRelayHeader + size;
  }
}

// A group commit's relays of one tree go to the journal's WAL only (log data: never in the
// memtable, so never flushed or compacted), as 'L' ‖ BE16 key length ‖ tree key ‖ BE64 index of
// the first relay ‖ the relays, each as in a relay record.
constexpr char kLogRelays = 'L';

std::size_t logHeaderSize(const std::string& tree) {
  return 1 + 2 + tree.size() + 8;
}

// Archived WAL files are kept until every relay in them is in a durable tree commit; the store
// deletes them itself (RocksDB would only by age).
constexpr std::uint64_t kKeepArchivedWalSeconds = std::uint64_t{100} * 365 * 24 * 3600;

// What a background thread left at the process's priority means (thread_priority_not_set).
constexpr std::string_view kBackgroundNotBehind =
    "background work competes with the acks for the CPU";

// Pending trie updates from which the tree thread applies them ahead of the next root() (see
// write()).
constexpr std::size_t kApplyPendingAt = 8192;
// Applied records' buffers kept for the next group commits (in the store, and as many again in
// the ingest's WriteSet), and the largest kept: a group commit's record of one tree is ~0.1–0.5
// MiB at full rate; a rare larger one is freed. At most 32 MiB held.
constexpr std::size_t kSpareRecords = 16;
constexpr std::size_t kMaxSpareRecordBytes = std::size_t{1} << 20;
// Relay bytes handed to the tree thread and not yet applied, above which write() waits for it:
// enough to ride out the commit of a large tree at full ingest rate, small next to the memory
// budget.
constexpr std::size_t kMaxQueuedApplyBytes = std::size_t{64} << 20;

std::string infoJson(const TreeInfo& info) {
  nlohmann::json j = {{"supplier", info.supplierOperatorAddress},
                      {"application", info.header.applicationAddress},
                      {"service", info.header.serviceId},
                      {"sessionId", info.header.sessionId},
                      {"start", info.header.sessionStartBlockHeight},
                      {"end", info.header.sessionEndBlockHeight},
                      {"computeUnitsPerRelay", info.computeUnitsPerRelay},
                      {"claimWindowOpen", info.claimWindowOpen},
                      {"proofWindowClose", info.proofWindowClose}};
  return j.dump();
}

TreeInfo parseInfo(const std::string& text) {
  try {
    auto j = nlohmann::json::parse(text);
    TreeInfo info;
    info.supplierOperatorAddress = j.at("supplier");
    info.header.applicationAddress = j.at("application");
    info.header.serviceId = j.at("service");
    info.header.sessionId = j.at("sessionId");
    info.header.sessionStartBlockHeight = j.at("start");
    info.header.sessionEndBlockHeight = j.at("end");
    info.computeUnitsPerRelay = j.at("computeUnitsPerRelay");
    info.claimWindowOpen = j.at("claimWindowOpen");
    info.proofWindowClose = j.at("proofWindowClose");
    return info;
  } catch (const nlohmann::json::exception& e) {
    throw smst::StoreError(std::string("journal: corrupt tree record: ") + e.what());
  }
}

}  // namespace

std::string treeKey(const std::string& supplier, const std::string& sessionId) {
  return supplier + "/" + sessionId;
}

void WriteSet::addRelay(const TreeInfo& info, const crypto::Hash32& hash, util::ByteSpan relayBytes,
                        std::uint64_t weight) {
  addRelay(treeKey(info.supplierOperatorAddress, info.header.sessionId), info, hash, relayBytes,
           weight);
}

void WriteSet::addRelay(const std::string& tree, const TreeInfo& info, const crypto::Hash32& hash,
                        util::ByteSpan relayBytes, std::uint64_t weight) {
  auto it = trees_.find(tree);
  if (it == trees_.end()) {
    it = trees_.emplace(tree, Tree{info, {}, {}, {}, 0, 0}).first;
    Tree& t = it->second;
    if (!spareRecords_.empty()) {
      t.record = std::move(spareRecords_.back());
      spareRecords_.pop_back();
    }
    if (!spareHashes_.empty()) {
      t.hashes = std::move(spareHashes_.back());
      spareHashes_.pop_back();
    }
    if (!spareFingerprints_.empty()) {
      t.fingerprints = std::move(spareFingerprints_.back());
      spareFingerprints_.pop_back();
    }
    // The WAL record's header; write() fills in the first relay's index.
    std::string& r = t.record;
    r.reserve(logHeaderSize(tree) + 64 * (kRelayHeader + relayBytes.size()));
    r.push_back(kLogRelays);
    r.push_back(static_cast<char>(tree.size() >> 8));
    r.push_back(static_cast<char>(tree.size() & 0xff));
    r.append(tree);
    r.append(8, '\0');
  }
  Tree& t = it->second;
  std::uint8_t header[kRelayHeader];
  std::memcpy(header, hash.data(), hash.size());
  smst::writeBE64(header + 32, weight);
  auto size = static_cast<std::uint32_t>(relayBytes.size());
  header[40] = static_cast<std::uint8_t>(size >> 24);
  header[41] = static_cast<std::uint8_t>(size >> 16);
  header[42] = static_cast<std::uint8_t>(size >> 8);
  header[43] = static_cast<std::uint8_t>(size);
  // Appended, not resized and overwritten: the bytes are written once.
  t.record.append(reinterpret_cast<const char*>(header), sizeof header);
  t.record.append(reinterpret_cast<const char*>(relayBytes.data()), relayBytes.size());
  t.hashes.append(reinterpret_cast<const char*>(hash.data()), hash.size());
  t.fingerprints.insert(FingerprintSet::fingerprint(hash));
  ++t.count;
  t.weight += weight;
  ++relays_;
}

void WriteSet::clear() {
  // Records are not kept here: write() hands them to the tree thread, and their buffers come
  // back through the store (takeSpareRecords).
  for (auto& [key, t] : trees_) {
    // The few trees of the next groups need no more (a group commit may touch a thousand).
    if (spareHashes_.size() < kSpareRecords) {
      t.hashes.clear();
      spareHashes_.push_back(std::move(t.hashes));
      t.fingerprints.clear();
      spareFingerprints_.push_back(std::move(t.fingerprints));
    }
  }
  trees_.clear();
  relays_ = 0;
  highWater_.clear();
}

bool WriteSet::contains(const std::string& tree, const crypto::Hash32& hash) const {
  auto it = trees_.find(tree);
  if (it == trees_.end() || !it->second.fingerprints.mayContain(FingerprintSet::fingerprint(hash)))
    return false;
  const std::string& hashes = it->second.hashes;
  for (std::size_t at = 0; at < hashes.size(); at += 32) {
    if (std::memcmp(hashes.data() + at, hash.data(), 32) == 0) return true;
  }
  return false;
}

void WriteSet::setHighWater(const EdgeKey& edge, std::uint64_t seq) {
  auto& hw = highWater_[edge];
  hw = std::max(hw, seq);
}

std::optional<std::uint64_t> WriteSet::highWater(const EdgeKey& edge) const {
  auto it = highWater_.find(edge);
  if (it == highWater_.end()) return std::nullopt;
  return it->second;
}

struct SessionStore::Impl {
  // Where a group commit's relays of one tree are: a WAL record (the journal's WAL sequence
  // number before that write: no later than the record's own) or, in a store written before
  // relays went to the WAL only, a relay record `r‹tree›\0‹index›`.
  struct RelayRecord {
    std::uint64_t index = 0;  // of its first relay
    std::uint64_t walSeq = 0;
    bool inTable = false;
  };
  struct Tree {
    std::string key;
    // Ingest thread:
    TreeInfo info;
    FingerprintSet fingerprints;  // of every relay hash in the tree (the dedup index)
    std::uint64_t nextIndex = 0;
    std::optional<smst::Digest> flushedRoot;  // set once the claim root is fixed
    // The tree's relay records not yet in a durable tree commit, oldest first.
    std::deque<RelayRecord> records;
    // Tree thread (the ingest thread only before the tree thread first sees the tree):
    std::unique_ptr<smst::RocksNodeStore> nodes;
    std::unique_ptr<smst::SparseMerkleSumTrie> trie;
    bool dirty = false;  // changed since its last commit (then it is in dirtyTrees)
    // Guarded by commitMutex: the last commit handed to the trees database, its ticket
    // (commitsSubmitted() right after it) and the relays its root holds. Once it is durable, the
    // journal records it covers go.
    std::uint64_t commitTicket = 0;
    std::uint64_t commitCount = 0;
  };

  util::LogSink& log;
  std::unique_ptr<rocksdb::DB> journal;
  rocksdb::WriteBatch groupBatch;  // write()'s, reused (ingest thread)
  // WAL bytes written since the last memtable flush; past options.walSwitchBytes write() starts
  // one (the memtable holds little more than hash records and would take many times that to
  // fill): bounds the live WAL, which a restart reads twice (RocksDB's recovery, then the relay
  // replay). Ingest thread.
  std::uint64_t walBytesSinceFlush = 0;
  SessionStoreOptions options;
  std::string journalDir;
  std::unique_ptr<smst::RocksDb> treesDb;
  std::unique_ptr<JournalReaper> reaper;  // after the journal: goes before it
  std::map<std::string, Tree> trees;  // inserted and erased by the ingest thread only

  mutable std::mutex mutex;  // guards the two maps below (read by other threads)
  std::map<EdgeKey, std::uint64_t> highWater;
  std::map<std::string, TreeSummary> summaries;
  std::mutex commitMutex;  // guards every Tree's commitTicket and commitCount

  // The tree thread: runs the tries' work in the order it was handed over (see the header).
  std::mutex workMutex;
  std::condition_variable workReady;  // work queued, or stopping
  std::condition_variable workRoom;   // queued bytes went down
  std::deque<std::pair<std::function<void()>, std::size_t>> work;  // task, relay bytes it holds
  std::size_t workBytes = 0;
  bool workStopping = false;
  bool commitQueued = false;
  std::exception_ptr treeFailure;  // the first failure on the tree thread; every later call throws it
  std::thread treeThread;
  std::vector<Tree*> dirtyTrees;  // tree thread
  // Applied records' buffers on their way back to the ingest thread (see WriteSet).
  std::mutex spareMutex;
  std::vector<std::string> spareRecords;
  std::atomic<std::size_t> dirtyCount{0};  // dirtyTrees.size(), for the metrics

  util::Histogram* writeSeconds;
  util::Histogram* commitSeconds;
  util::Counter* relaysWritten;
  util::Counter* groupCommits;
  util::Counter* recordsPruned;
  util::Counter* applyWaits;

  explicit Impl(util::LogSink& l) : log(l) {}

  void treeLoop() {
    util::nameThisThread("sm-trees");
    if (options.backgroundNice) {
      util::setThisThreadNiceOrLog(log, "sm-trees", *options.backgroundNice, kBackgroundNotBehind);
    }
    if (options.backgroundIdle) util::setThisThreadIdleOrLog(log, "sm-trees", kBackgroundNotBehind);
    while (true) {
      std::function<void()> task;
      std::size_t bytes = 0;
      bool failed = false;
      {
        std::unique_lock lock(workMutex);
        workReady.wait(lock, [&] { return workStopping || !work.empty(); });
        if (work.empty()) return;  // stopping, and everything handed over is done
        task = std::move(work.front().first);
        bytes = work.front().second;
        work.pop_front();
        failed = treeFailure != nullptr;
      }
      // After a failure the tries are not to be trusted: later tasks are dropped (a waiting
      // caller gets the failure) and the process stops at the ingest thread's next call.
      if (!failed) {
        try {
          task();
        } catch (const smst::StoreError&) {
          std::lock_guard lock(workMutex);
          treeFailure = std::current_exception();
        } catch (const std::exception& e) {
          std::lock_guard lock(workMutex);
          treeFailure = std::make_exception_ptr(smst::StoreError(std::string("trees: ") + e.what()));
        }
      }
      task = nullptr;  // a dropped waiting task breaks its promise here
      {
        std::lock_guard lock(workMutex);
        workBytes -= bytes;
      }
      workRoom.notify_all();
    }
  }

  void throwIfFailed() {
    std::lock_guard lock(workMutex);
    if (treeFailure) std::rethrow_exception(treeFailure);
  }

  // Hands `task` to the tree thread; waits while more than kMaxQueuedApplyBytes are queued.
  void enqueue(std::function<void()> task, std::size_t bytes) {
    std::unique_lock lock(workMutex);
    auto room = [&] {
      return treeFailure || workBytes == 0 || workBytes + bytes <= kMaxQueuedApplyBytes;
    };
    if (!room()) {
      applyWaits->inc();
      workRoom.wait(lock, room);
    }
    if (treeFailure) std::rethrow_exception(treeFailure);
    work.emplace_back(std::move(task), bytes);
    workBytes += bytes;
    lock.unlock();
    workReady.notify_one();
  }

  // Runs `f` on the tree thread after everything handed over before, and returns its result.
  template <class F>
  auto onTreeThread(F f) -> decltype(f()) {
    using R = decltype(f());
    auto done = std::make_shared<std::promise<R>>();
    std::future<R> result = done->get_future();
    enqueue(
        [done, &f] {
          try {
            if constexpr (std::is_void_v<R>) {
              f();
              done->set_value();
            } else {
              done->set_value(f());
            }
          } catch (...) {
            done->set_exception(std::current_exception());
            throw;
          }
        },
        0);
    try {
      return result.get();
    } catch (const std::future_error&) {  // dropped after an earlier failure
      throwIfFailed();
      throw;
    }
  }

  void stopTreeThread() {
    {
      std::lock_guard lock(workMutex);
      workStopping = true;
    }
    workReady.notify_all();
    if (treeThread.joinable()) treeThread.join();
  }

  // Tree thread: commits `tree` (changed since its last commit) and records the commit.
  void commitTree(Tree& tree) {
    tree.trie->commit();
    std::uint64_t ticket = treesDb->commitsSubmitted();
    {
      std::lock_guard lock(commitMutex);
      tree.commitTicket = ticket;
      tree.commitCount = tree.trie->count();
    }
    tree.dirty = false;
    std::string rootHex = util::toHex(tree.trie->root());
    std::lock_guard lock(mutex);
    summaries[tree.key].committedRootHex = rootHex;
  }

  // Tree thread: commits every changed tree; returns how many.
  std::size_t commitDirty() {
    if (dirtyTrees.empty()) return 0;
    auto started = Clock::now();
    // A flush or a removal takes its tree out of the list: each one here is still dirty.
    for (Tree* tree : dirtyTrees) commitTree(*tree);
    std::size_t n = dirtyTrees.size();
    dirtyTrees.clear();
    dirtyCount = 0;
    commitSeconds->observe(std::chrono::duration<double>(Clock::now() - started).count());
    return n;
  }

  // Tree thread: a record's buffer, applied, goes back to the ingest thread's next WriteSets.
  void recycleRecord(std::string&& record) {
    if (record.capacity() > kMaxSpareRecordBytes) return;
    record.clear();
    std::lock_guard lock(spareMutex);
    if (spareRecords.size() < kSpareRecords) spareRecords.push_back(std::move(record));
  }

  // Ingest thread: tops up a WriteSet's spare record buffers.
  void takeSpareRecords(std::vector<std::string>& into) {
    std::lock_guard lock(spareMutex);
    while (!spareRecords.empty() && into.size() < kSpareRecords) {
      into.push_back(std::move(spareRecords.back()));
      spareRecords.pop_back();
    }
  }

  void markDirty(Tree& tree) {
    if (tree.dirty) return;
    tree.dirty = true;
    dirtyTrees.push_back(&tree);
    dirtyCount = dirtyTrees.size();
  }

  // Tree thread: `tree` leaves the list of trees to commit (flushed or removed).
  void forgetDirty(Tree& tree) {
    std::erase(dirtyTrees, &tree);
    dirtyCount = dirtyTrees.size();
  }

  Tree& openTree(const std::string& key, const TreeInfo& info) {
    Tree tree;
    tree.key = key;
    tree.info = info;
    tree.nodes = std::make_unique<smst::RocksNodeStore>(*treesDb, "t" + key + "/");
    if (auto root = tree.nodes->committedRoot()) {
      auto opened = smst::SparseMerkleSumTrie::open(*tree.nodes, *root);
      if (!opened.ok()) throw smst::StoreError("trees: " + key + ": " + opened.error().message);
      tree.trie = std::move(*opened);
    } else {
      tree.trie = std::make_unique<smst::SparseMerkleSumTrie>(*tree.nodes);
    }
    return trees.emplace(key, std::move(tree)).first->second;
  }

  // The rest of a removal whose `x‹tree›` mark is durable: the tree's nodes, then its journal
  // records and the mark.
  void finishRemoval(const std::string& tree) {
    treesDb->dropTree("t" + tree + "/");
    treesDb->waitForCommits();
    rocksdb::WriteBatch batch;
    std::string zero(1, '\0'), one(1, '\1');
    check(batch.DeleteRange("r" + tree + zero, "r" + tree + one), "delete relays");
    check(batch.DeleteRange("h" + tree + zero, "h" + tree + one), "delete hashes");
    check(batch.Delete("f" + tree), "delete flushed root");
    check(batch.Delete("l" + tree), "delete lifecycle record");
    check(batch.Delete("x" + tree), "delete removal mark");
    rocksdb::WriteOptions sync;
    sync.sync = true;
    check(journal->Write(sync, &batch), "remove tree");
  }

  // Lets go of the relay records that a durable tree commit covers: a restart reopens those
  // relays from the trees database and replays only the records after. Relay records of an
  // older store's table are deleted (unsynced: a deletion lost in a crash leaves records that
  // the restart skips); archived WAL files go once no tree needs a relay in them. Hash records
  // stay (the dedup index).
  void pruneJournal() {
    std::uint64_t durable = treesDb->commitsDurable();
    rocksdb::WriteBatch batch;
    std::uint64_t released = 0;
    // The oldest WAL sequence number a relay record not yet covered may lie at.
    std::uint64_t needed = std::numeric_limits<std::uint64_t>::max();
    for (auto& [key, tree] : trees) {
      std::optional<std::uint64_t> commitCount;
      {
        std::lock_guard lock(commitMutex);
        if (tree.commitTicket <= durable) commitCount = tree.commitCount;
      }
      while (commitCount && !tree.records.empty()) {
        std::uint64_t end = tree.records.size() > 1 ? tree.records[1].index : tree.nextIndex;
        if (end > *commitCount) break;
        const RelayRecord& r = tree.records.front();
        if (r.inTable) check(batch.Delete(recordKey(key, r.index)), "prune relays");
        tree.records.pop_front();
        ++released;
      }
      for (const RelayRecord& r : tree.records) {
        if (!r.inTable) {
          needed = std::min(needed, r.walSeq);
          break;
        }
      }
    }
    if (batch.Count() > 0) check(journal->Write(rocksdb::WriteOptions(), &batch), "prune");
    recordsPruned->inc(released);
    // The archived WAL files no tree needs leave the journal on the reaper's thread: deleting
    // them here would hold this thread's acks (see journal_reaper.h). Relays written after this
    // point (while the reaper works) lie above the latest sequence number: their files stay.
    needed = std::min(needed, journal->GetLatestSequenceNumber() + 1);
    reaper->release(needed);
  }

  // Restore: applies the relays of WAL record `blob` (written at WAL sequence `seq`) that its tree
  // does not hold yet.
  void replayWalRecord(std::string_view blob, std::uint64_t seq, std::uint64_t& replayed,
                       std::map<std::string, TreeSummary>& restored) {
    if (blob.size() < 3 || blob[0] != kLogRelays) return;  // not a relay record
    std::size_t keySize =
        (std::size_t{static_cast<std::uint8_t>(blob[1])} << 8) | static_cast<std::uint8_t>(blob[2]);
    if (blob.size() < 3 + keySize + 8)
      throw smst::StoreError("journal: truncated WAL relay record");
    std::string key(blob.substr(3, keySize));
    auto found = trees.find(key);
    if (found == trees.end()) return;  // a tree removed since
    Tree& tree = found->second;
    TreeSummary& summary = restored.at(key);
    std::uint64_t index = readBe64(blob.substr(3 + keySize, 8));
    std::string_view relays = blob.substr(3 + keySize + 8);
    const std::uint64_t first = index;
    if (index > tree.nextIndex) {
      throw smst::StoreError("journal: relays of " + key + " skip from " +
                             std::to_string(tree.nextIndex) + " to " + std::to_string(index) +
                             " in the WAL");
    }
    bool any = false;
    forEachRelay(relays, key, [&](util::ByteSpan hash, util::ByteSpan bytes, std::uint64_t weight) {
      if (index == tree.nextIndex) {
        tree.trie->update(hash, bytes, weight);
        markDirty(tree);
        ++tree.nextIndex;
        ++summary.relays;
        summary.computeUnits += weight;
        ++replayed;
        any = true;
      }
      ++index;
    });
    if (any) tree.records.push_back({first, seq, false});
  }
};

SessionStore::SessionStore(const std::string& directory, util::LogSink& log,
                           util::MetricsRegistry& metrics, SessionStoreOptions storeOptions)
    : impl_(std::make_unique<Impl>(log)) {
  impl_->options = storeOptions;
  auto started = Clock::now();
  std::filesystem::create_directories(directory);
  std::filesystem::permissions(directory, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace);
  rocksdb::Options options;
  options.create_if_missing = true;
  options.IncreaseParallelism(2);
  // Two memtables of 32 MiB: the memory they take and the WAL a restart replays stay small.
  options.write_buffer_size = std::size_t{32} << 20;
  options.max_write_buffer_number = 2;
  options.compression = rocksdb::kNoCompression;
  // A restart after kill -9 replays the WAL into the memtable instead of flushing it first.
  options.avoid_flush_during_recovery = true;
  // Relay bytes live in the WAL only (see write()): WAL files the memtable no longer needs are
  // archived, not deleted, until pruneJournal() finds their relays in durable tree commits.
  options.WAL_ttl_seconds = kKeepArchivedWalSeconds;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  impl_->journalDir = directory + "/journal";
  check(rocksdb::DB::Open(options, impl_->journalDir, &raw), "open");
  impl_->journal.reset(raw);
  auto journalOpened = Clock::now();
  smst::RocksDbOptions treeOptions;
  treeOptions.backgroundCommits = true;  // commitTrees() does not wait for the disk
  treeOptions.maxPendingBytes = std::size_t{64} << 20;
  treeOptions.writeBufferBytes = std::size_t{16} << 20;  // large commits bypass it as SST files
  treeOptions.writeBuffers = 2;
  if (storeOptions.backgroundNice || storeOptions.backgroundIdle) {
    treeOptions.onCommitThreadStart = [&log, nice = storeOptions.backgroundNice,
                                       idle = storeOptions.backgroundIdle] {
      if (nice) util::setThisThreadNiceOrLog(log, "trees-commit", *nice, kBackgroundNotBehind);
      if (idle) util::setThisThreadIdleOrLog(log, "trees-commit", kBackgroundNotBehind);
    };
  }
  if (storeOptions.backgroundNice && *storeOptions.backgroundNice > 0) {
    // RocksDB's flush and compaction pools (shared by every database of the process, threads
    // added later included) take the lowest priority before each job they run; not SCHED_IDLE:
    // a flush holds locks the journal's writes (the acks) may wait on.
    rocksdb::Env::Default()->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::LOW,
                                                         rocksdb::CpuPriority::kLow);
    rocksdb::Env::Default()->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::HIGH,
                                                         rocksdb::CpuPriority::kLow);
  }
  impl_->treesDb = smst::RocksDb::open(directory + "/trees", treeOptions);
  auto treesOpened = Clock::now();

  impl_->writeSeconds = &metrics
                             .histogram("sm_store_write_seconds",
                                        "Latency of one synced journal write (a group commit).", {},
                                        util::latencyBucketsSeconds())
                             .with();
  impl_->commitSeconds = &metrics
                              .histogram("sm_tree_commit_seconds",
                                         "Tree-thread time to commit the changed trees (the disk "
                                         "writes follow in the background).",
                                         {}, util::latencyBucketsSeconds())
                              .with();
  impl_->relaysWritten =
      &metrics.counter("sm_store_relays_written_total", "Relays made durable in the journal.")
           .with();
  impl_->groupCommits =
      &metrics.counter("sm_store_group_commits_total", "Synced journal writes.").with();
  impl_->recordsPruned =
      &metrics
           .counter("sm_store_journal_records_pruned_total",
                    "Journal relay records (one per tree and group commit) let go because a "
                    "durable tree commit holds their relays.")
           .with();
  impl_->applyWaits =
      &metrics
           .counter("sm_tree_apply_waits_total",
                    "Group commits that waited before their acks because the tree thread was "
                    "more than 64 MiB of relays behind.")
           .with();

  // Restore: watermarks, then every tree from its committed root plus the journal after it.
  std::uint64_t replayed = 0;
  Clock::duration replaying{}, indexing{};
  rocksdb::WriteBatch leftovers;
  std::unique_ptr<rocksdb::Iterator> it(impl_->journal->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("w"); it->Valid() && it->key().starts_with("w"); it->Next()) {
    std::string key = it->key().ToString();
    auto zero = key.find('\0');
    if (zero == std::string::npos || key.size() != zero + 9) {
      throw smst::StoreError("journal: corrupt watermark key");
    }
    EdgeKey edge{key.substr(1, zero - 1), readBe64(std::string_view(key).substr(zero + 1))};
    impl_->highWater[edge] = readBe64(it->value().ToStringView());
  }
  std::vector<std::string> removals;
  for (it->Seek("x"); it->Valid() && it->key().starts_with("x"); it->Next()) {
    removals.push_back(it->key().ToString().substr(1));
  }
  for (const auto& tree : removals) {
    impl_->finishRemoval(tree);
    util::LogLine(log, util::LogLevel::info, "tree_removed")
        .kv("tree", tree)
        .kv("reason", "finishing a removal that a stop interrupted");
  }
  std::vector<std::pair<std::string, TreeInfo>> infos;
  for (it->Seek("m"); it->Valid() && it->key().starts_with("m"); it->Next()) {
    infos.emplace_back(it->key().ToString().substr(1), parseInfo(it->value().ToString()));
  }
  std::map<std::string, TreeSummary> restored;
  for (auto& [key, info] : infos) {
    Impl::Tree& tree = impl_->openTree(key, info);
    std::uint64_t committed = tree.trie->count();
    TreeSummary& summary = restored[key];
    summary.info = info;
    summary.relays = committed;
    summary.computeUnits = tree.trie->sum();
    if (auto root = tree.nodes->committedRoot()) summary.committedRootHex = util::toHex(*root);
    tree.nextIndex = committed;
    auto phase = Clock::now();
    // The record holding relay `committed`: the last one whose first index is not above it.
    // The iterator is bounded to this tree's records: deleted records (see pruneJournal) of
    // other trees are never stepped over.
    std::string prefix = "r" + key + std::string(1, '\0');
    std::string end = "r" + key + std::string(1, '\1');
    rocksdb::Slice lower(prefix), upper(end);
    rocksdb::ReadOptions bounded;
    bounded.iterate_lower_bound = &lower;
    bounded.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> rit(impl_->journal->NewIterator(bounded));
    std::string begin = recordKey(key, committed);
    rit->SeekForPrev(begin);
    if (rit->Valid()) {
      // Records before this one are covered by the durable root; a crash before their deletion
      // (see pruneJournal) left them: they go now.
      std::string first = rit->key().ToString();
      rit->Prev();
      if (rit->Valid()) check(leftovers.DeleteRange(recordKey(key, 0), first), "prune relays");
      rit->Seek(first);
    } else {
      rit->Seek(begin);
    }
    for (; rit->Valid(); rit->Next()) {
      auto k = rit->key();
      if (k.size() != prefix.size() + 8)
        throw smst::StoreError("journal: corrupt relay key of " + key);
      std::uint64_t index = readBe64(std::string_view(k.data() + prefix.size(), 8));
      tree.records.push_back({index, 0, true});
      forEachRelay(rit->value().ToStringView(), key,
                   [&, &name = key](util::ByteSpan hash, util::ByteSpan bytes,
                                    std::uint64_t weight) {
                     if (index >= committed) {
                       if (index != tree.nextIndex) {
                         throw smst::StoreError("journal: relay records of " + name +
                                                " skip from " + std::to_string(tree.nextIndex) +
                                                " to " + std::to_string(index));
                       }
                       tree.trie->update(hash, bytes, weight);
                       impl_->markDirty(tree);
                       ++tree.nextIndex;
                       ++summary.relays;
                       summary.computeUnits += weight;
                       ++replayed;
                     }
                     ++index;
                   });
    }
    check(rit->status(), "iterate relays");
    replaying += Clock::now() - phase;
    tree.commitCount = committed;  // durable: the root the tree was opened at
  }
  check(it->status(), "iterate");
  // The relays written since: from the WAL records of every WAL file kept (see pruneJournal),
  // in the order they were written.
  auto walStarted = Clock::now();
  rocksdb::VectorLogPtr walFiles;
  check(impl_->journal->GetSortedWalFiles(walFiles), "list WAL files");
  if (!walFiles.empty()) {
    std::unique_ptr<rocksdb::TransactionLogIterator> wal;
    check(impl_->journal->GetUpdatesSince(walFiles.front()->StartSequence(), &wal), "read WAL");
    struct Replay : rocksdb::WriteBatch::Handler {
      Impl* impl = nullptr;
      std::uint64_t seq = 0;
      std::uint64_t* replayed = nullptr;
      std::map<std::string, TreeSummary>* restored = nullptr;
      void LogData(const rocksdb::Slice& blob) override {
        impl->replayWalRecord(blob.ToStringView(), seq, *replayed, *restored);
      }
      // The journal's other writes (puts, deletes, range deletes) are in its tables already.
      rocksdb::Status DeleteRangeCF(std::uint32_t, const rocksdb::Slice&,
                                    const rocksdb::Slice&) override {
        return rocksdb::Status::OK();
      }
    } replay;
    replay.impl = impl_.get();
    replay.replayed = &replayed;
    replay.restored = &restored;
    for (; wal->Valid(); wal->Next()) {
      rocksdb::BatchResult batch = wal->GetBatch();
      replay.seq = batch.sequence;
      check(batch.writeBatchPtr->Iterate(&replay), "read WAL batch");
    }
    // "Try again" only says the newest sequence numbers are not in these files (writes whose
    // WAL files went, their contents in the tables); the hash records below tell whether every
    // relay was found.
    if (!wal->status().IsTryAgain()) check(wal->status(), "read WAL");
  }
  replaying += Clock::now() - walStarted;
  auto replayedAt = Clock::now();
  for (auto& [key, summary] : restored) {
    Impl::Tree& tree = impl_->trees.at(key);
    std::string hashPrefix = "h" + key + std::string(1, '\0');
    tree.fingerprints.reserve(tree.nextIndex);
    std::uint64_t hashCount = 0;
    for (it->Seek(hashPrefix); it->Valid() && it->key().starts_with(hashPrefix); it->Next()) {
      auto v = it->value();
      if (v.size() % 32 != 0) throw smst::StoreError("journal: corrupt hash record of " + key);
      const auto* h = reinterpret_cast<const std::uint8_t*>(v.data());
      for (std::size_t at = 0; at < v.size(); at += 32) {
        tree.fingerprints.insert(FingerprintSet::fingerprint(h + at));
      }
      hashCount += v.size() / 32;
    }
    if (hashCount != tree.nextIndex) {
      throw smst::StoreError("journal: tree " + key + " has " + std::to_string(hashCount) +
                             " relay hashes but " + std::to_string(tree.nextIndex) +
                             " relays in its committed tree and the journal");
    }
    std::string flushed;
    auto got = impl_->journal->Get(rocksdb::ReadOptions(), "f" + key, &flushed);
    if (got.ok()) {
      if (flushed.size() != smst::kDigestSize) {
        throw smst::StoreError("journal: corrupt flushed root of " + key);
      }
      smst::Digest root;
      std::memcpy(root.data(), flushed.data(), root.size());
      tree.flushedRoot = root;
    } else if (!got.IsNotFound()) {
      check(got, "read flushed root");
    }
    impl_->summaries[key] = summary;
  }
  indexing += Clock::now() - replayedAt;
  check(it->status(), "iterate");
  it.reset();
  if (leftovers.Count() > 0) check(impl_->journal->Write(rocksdb::WriteOptions(), &leftovers), "prune");
  metrics.gaugeFunction("sm_tree_apply_queue_bytes",
                        "Relay bytes durable and acked but not yet applied to their tries.",
                        [this] {
                          std::lock_guard lock(impl_->workMutex);
                          return static_cast<double>(impl_->workBytes);
                        });
  metrics.gaugeFunction(
      "sm_tree_commits_pending",
      "Tree commits handed to the trees database's commit thread and not yet durable.", [this] {
        try {
          // Durable first: both only grow, so the difference read this way is never negative.
          std::uint64_t durable = impl_->treesDb->commitsDurable();
          return static_cast<double>(impl_->treesDb->commitsSubmitted() - durable);
        } catch (const smst::StoreError&) {
          return std::numeric_limits<double>::quiet_NaN();  // failed: the process is stopping
        }
      });
  metrics.gaugeFunction("sm_trees_uncommitted",
                        "Trees with relays applied since their last commit (committed at the "
                        "next store.tree_commit_interval_ms tick).",
                        [this] { return static_cast<double>(impl_->dirtyCount.load()); });
  metrics.gaugeFunction("sm_open_trees", "Session trees held (open sessions).", [this] {
    std::lock_guard lock(impl_->mutex);
    return static_cast<double>(impl_->summaries.size());
  });
  metrics.gaugeFunction("sm_tree_leaves", "Leaves (relays) in all open session trees.", [this] {
    std::lock_guard lock(impl_->mutex);
    double n = 0;
    for (const auto& [k, s] : impl_->summaries) n += static_cast<double>(s.relays);
    return n;
  });
  util::LogLine(log, util::LogLevel::info, "store_opened")
      .kv("directory", directory)
      .kv("trees", impl_->trees.size())
      .kv("edges", impl_->highWater.size())
      .kv("relays_replayed", replayed)
      .kv("ms", ms(Clock::now() - started))
      .kv("journal_open_ms", ms(journalOpened - started))
      .kv("trees_open_ms", ms(treesOpened - journalOpened))
      .kv("replay_ms", ms(replaying))
      .kv("dedup_index_ms", ms(indexing));
  JournalReaperOptions reaperOptions;
  reaperOptions.nice = storeOptions.backgroundNice;
  impl_->reaper = std::make_unique<JournalReaper>(*impl_->journal, impl_->journalDir + "/archive",
                                                  directory + "/trash", log, metrics,
                                                  reaperOptions);
  impl_->treeThread = std::thread([impl = impl_.get()] { impl->treeLoop(); });
}

SessionStore::~SessionStore() {
  // The tree thread finishes what it was handed; the tries hold their stores: drop them before
  // the databases.
  impl_->stopTreeThread();
  impl_->trees.clear();
}

std::uint64_t SessionStore::highWater(const EdgeKey& edge) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->highWater.find(edge);
  return it == impl_->highWater.end() ? 0 : it->second;
}

std::map<EdgeKey, std::uint64_t> SessionStore::highWaters() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->highWater;
}

std::vector<TreeSummary> SessionStore::summaries() const {
  std::lock_guard lock(impl_->mutex);
  std::vector<TreeSummary> out;
  for (const auto& [k, s] : impl_->summaries) out.push_back(s);
  return out;
}

bool SessionStore::hasRelay(const std::string& tree, const crypto::Hash32& hash) const {
  auto it = impl_->trees.find(tree);
  if (it == impl_->trees.end()) return false;
  Impl::Tree& t = it->second;
  if (!t.fingerprints.mayContain(FingerprintSet::fingerprint(hash))) return false;
  // Probably a duplicate: the tree says for sure (its key is the relay hash), once it holds
  // every relay written before.
  return impl_->onTreeThread([&] { return t.trie->get(hash).has_value(); });
}

void SessionStore::write(WriteSet& changes) {
  if (changes.empty()) return;
  impl_->throwIfFailed();
  auto started = Clock::now();
  // One buffer for every group commit: its pages stay resident, so a group does not fault in a
  // fresh megabyte (under a concurrent tree commit that alone held acks for milliseconds).
  rocksdb::WriteBatch& batch = impl_->groupBatch;
  batch.Clear();
  // A new tree's record goes in the same write as its first relays.
  std::vector<std::string> created;
  std::vector<Impl::Tree*> targets;
  for (const auto& [key, t] : changes.trees_) {
    auto found = impl_->trees.find(key);
    if (found == impl_->trees.end()) {
      check(batch.Put("m" + key, infoJson(t.info)), "put tree");
      created.push_back(key);
      targets.push_back(&impl_->openTree(key, t.info));
    } else {
      targets.push_back(&found->second);
    }
  }
  // Per tree and group commit, one WAL record of its relays and one hash record keyed by the
  // index of their first relay: a few large records instead of two small ones per relay, and the
  // relay bytes written to disk once (the WAL), never to the journal's tables.
  std::uint64_t walSeq = impl_->journal->GetLatestSequenceNumber() + 1;
  std::size_t k = 0;
  for (auto& [key, t] : changes.trees_) {
    Impl::Tree& tree = *targets[k++];
    if (tree.flushedRoot) {
      throw smst::StoreError("journal: relay written to flushed tree " + key +
                             " (the ingest must reject it first)");
    }
    if (key.size() > 0xffff) throw smst::StoreError("journal: tree key too long: " + key);
    smst::writeBE64(reinterpret_cast<std::uint8_t*>(t.record.data()) + 3 + key.size(),
                    tree.nextIndex);
    check(batch.PutLogData(t.record), "put relays");
    check(batch.Put(hashKey(key, tree.nextIndex), t.hashes), "put hashes");
    tree.records.push_back({tree.nextIndex, walSeq, false});
  }
  for (const auto& [edge, seq] : changes.highWater_) {
    check(batch.Put(edgeKeyBytes(edge), be64(seq)), "put watermark");
  }
  rocksdb::WriteOptions sync;
  sync.sync = true;
  check(impl_->journal->Write(sync, &batch), "write");
  impl_->walBytesSinceFlush += batch.GetDataSize();
  if (impl_->walBytesSinceFlush >= impl_->options.walSwitchBytes) {
    rocksdb::FlushOptions flush;
    flush.wait = false;  // a switch to a new WAL; the flush itself runs in the background
    check(impl_->journal->Flush(flush), "flush");
    impl_->walBytesSinceFlush = 0;
  }
  impl_->writeSeconds->observe(std::chrono::duration<double>(Clock::now() - started).count());
  impl_->groupCommits->inc();
  impl_->relaysWritten->inc(changes.relays_);

  // Durable: now the in-memory views, and the relays go to the tree thread for the tries.
  k = 0;
  for (auto& [key, t] : changes.trees_) {
    Impl::Tree& tree = *targets[k++];
    const auto* h = reinterpret_cast<const std::uint8_t*>(t.hashes.data());
    for (std::size_t at = 0; at < t.hashes.size(); at += 32) {
      tree.fingerprints.insert(FingerprintSet::fingerprint(h + at));
    }
    tree.nextIndex += t.count;
    std::size_t recordBytes = t.record.size();
    impl_->enqueue(
        [impl = impl_.get(), &tree, record = std::move(t.record)]() mutable {
          forEachRelay(std::string_view(record).substr(logHeaderSize(tree.key)), tree.key,
                       [&](util::ByteSpan hash, util::ByteSpan bytes, std::uint64_t w) {
                         tree.trie->update(hash, bytes, w);
                       });
          impl->recycleRecord(std::move(record));
          impl->markDirty(tree);
          // A large tree absorbs its updates as they come, so that its root (the claim) is
          // cheap.
          if (tree.trie->pendingUpdates() >= kApplyPendingAt) tree.trie->applyPending();
        },
        recordBytes);
  }
  std::lock_guard lock(impl_->mutex);
  for (const auto& key : created) {
    TreeSummary s;
    s.info = impl_->trees.at(key).info;
    impl_->summaries[key] = s;
    util::LogLine(impl_->log, util::LogLevel::info, "tree_created")
        .kv("tree", key)
        .kv("service", s.info.header.serviceId)
        .kv("start", s.info.header.sessionStartBlockHeight)
        .kv("end", s.info.header.sessionEndBlockHeight);
  }
  for (const auto& [key, t] : changes.trees_) {
    TreeSummary& s = impl_->summaries[key];
    s.relays += t.count;
    s.computeUnits += t.weight;
  }
  for (const auto& [edge, seq] : changes.highWater_) {
    auto& hw = impl_->highWater[edge];
    hw = std::max(hw, seq);
  }
  changes.clear();
  impl_->takeSpareRecords(changes.spareRecords_);
}

std::size_t SessionStore::commitTrees() {
  impl_->pruneJournal();
  impl_->reaper->waitForPass();
  return impl_->onTreeThread([impl = impl_.get()] { return impl->commitDirty(); });
}

void SessionStore::commitTreesInBackground() {
  impl_->pruneJournal();
  {
    std::lock_guard lock(impl_->workMutex);
    if (impl_->commitQueued) return;
    impl_->commitQueued = true;
  }
  impl_->enqueue(
      [impl = impl_.get()] {
        {
          std::lock_guard lock(impl->workMutex);
          impl->commitQueued = false;
        }
        impl->commitDirty();
      },
      0);
}

std::optional<smst::Digest> SessionStore::root(const std::string& tree) {
  auto it = impl_->trees.find(tree);
  if (it == impl_->trees.end()) return std::nullopt;
  Impl::Tree& t = it->second;
  return impl_->onTreeThread([&] { return t.trie->root(); });
}

void SessionStore::removeTree(const std::string& tree, std::string_view reason) {
  auto it = impl_->trees.find(tree);
  if (it == impl_->trees.end()) return;
  TreeInfo info = it->second.info;
  // The tree thread lets go of the trie first (in order after its last relays).
  Impl::Tree& t = it->second;
  impl_->onTreeThread([&] {
    impl_->forgetDirty(t);
    t.trie.reset();
    t.nodes.reset();
  });
  impl_->trees.erase(it);
  // The journal holds only the relays after the tree's durable root (see pruneJournal), so it
  // cannot rebuild a half-removed tree: the removal is recorded first, and a restart finishes it.
  rocksdb::WriteBatch batch;
  check(batch.Delete("m" + tree), "delete tree");
  check(batch.Put("x" + tree, ""), "mark removal");
  rocksdb::WriteOptions sync;
  sync.sync = true;
  check(impl_->journal->Write(sync, &batch), "remove tree");
  impl_->finishRemoval(tree);
  std::lock_guard lock(impl_->mutex);
  impl_->summaries.erase(tree);
  util::LogLine(impl_->log, util::LogLevel::info, "tree_removed")
      .kv("tree", tree)
      .kv("proof_window_close", info.proofWindowClose)
      .kv("reason", reason);
}

std::vector<std::string> SessionStore::treesExpiredAt(std::int64_t height) const {
  std::vector<std::string> out;
  for (const auto& [key, tree] : impl_->trees) {
    if (tree.info.proofWindowClose < height) out.push_back(key);
  }
  return out;
}

util::Result<smst::Digest> SessionStore::flushTree(const std::string& tree) {
  auto it = impl_->trees.find(tree);
  if (it == impl_->trees.end()) {
    return util::makeError(std::string(kStoreUnknownTree), "no tree " + tree + " in the store");
  }
  Impl::Tree& t = it->second;
  if (t.flushedRoot) return *t.flushedRoot;
  smst::Digest root = impl_->onTreeThread([&] {
    if (t.dirty) {
      auto started = Clock::now();
      impl_->commitTree(t);
      impl_->forgetDirty(t);
      impl_->commitSeconds->observe(std::chrono::duration<double>(Clock::now() - started).count());
    }
    return t.trie->root();
  });
  // The root is declared fixed only once its nodes are durable: proveClosest() reads them from
  // the trees database, and a restart must find them without replaying the journal.
  impl_->treesDb->waitForCommits();
  rocksdb::WriteOptions sync;
  sync.sync = true;
  check(impl_->journal->Put(sync, "f" + tree,
                            rocksdb::Slice(reinterpret_cast<const char*>(root.data()), root.size())),
        "put flushed root");
  t.flushedRoot = root;
  std::lock_guard lock(impl_->mutex);
  impl_->summaries[tree].committedRootHex = util::toHex(root);
  return root;
}

bool SessionStore::isFlushed(const std::string& tree) const {
  auto it = impl_->trees.find(tree);
  return it != impl_->trees.end() && it->second.flushedRoot.has_value();
}

util::Result<smst::SparseMerkleClosestProof> SessionStore::proveClosest(
    const std::string& tree, util::ByteSpan path) const {
  std::string flushed;
  auto got = impl_->journal->Get(rocksdb::ReadOptions(), "f" + tree, &flushed);
  if (got.IsNotFound()) {
    return util::makeError(std::string(kStoreNotFlushed),
                           "tree " + tree + " is unknown or not flushed: its root is not fixed");
  }
  check(got, "read flushed root");
  // A flushed tree never changes: a private read-only view of its committed nodes.
  smst::RocksNodeStore nodes(*impl_->treesDb, "t" + tree + "/");
  auto trie = smst::SparseMerkleSumTrie::open(
      nodes, util::ByteSpan(reinterpret_cast<const std::uint8_t*>(flushed.data()), flushed.size()));
  if (!trie.ok()) return trie.error();
  return (*trie)->proveClosest(path);
}

void SessionStore::putLifecycleRecord(const std::string& tree, const std::string& value) {
  rocksdb::WriteOptions sync;
  sync.sync = true;
  check(impl_->journal->Put(sync, "l" + tree, value), "put lifecycle record");
}

std::map<std::string, std::string> SessionStore::lifecycleRecords() const {
  std::map<std::string, std::string> out;
  std::unique_ptr<rocksdb::Iterator> it(impl_->journal->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("l"); it->Valid() && it->key().starts_with("l"); it->Next()) {
    out.emplace(it->key().ToString().substr(1), it->value().ToString());
  }
  check(it->status(), "iterate lifecycle records");
  return out;
}

}  // namespace pocket::sm
