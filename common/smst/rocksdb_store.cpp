#include "common/smst/rocksdb_store.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "common/util/thread_name.h"

namespace pocket::smst {

namespace {

// Staged puts up to this size go through a synced WriteBatch at commit; larger commits are sorted
// in chunks of this size and ingested as SST files (no WAL, no memtable: each byte is written
// once, sequentially).
constexpr std::size_t kChunkBytes = std::size_t{64} << 20;
constexpr std::size_t kSmallCommitBytes = std::size_t{4} << 20;

void check(const rocksdb::Status& s, const char* what) {
  if (!s.ok()) throw StoreError(std::string("rocksdb ") + what + ": " + s.ToString());
}

rocksdb::Slice slice(util::ByteSpan b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Staged nodes are copied into blocks of this size, which are reused through a small pool: a
// commit touches no fresh memory and copies nothing twice while staging.
constexpr std::size_t kBlockBytes = std::size_t{1} << 20;
constexpr std::size_t kPoolBlocks = 32;

using Block = std::unique_ptr<char[]>;

class BlockPool {
 public:
  Block take() {
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        Block b = std::move(free_.back());
        free_.pop_back();
        return b;
      }
    }
    return Block(new char[kBlockBytes]);
  }
  void give(Block block) {
    std::lock_guard lock(mutex_);
    if (free_.size() < kPoolBlocks) free_.push_back(std::move(block));
  }

 private:
  std::mutex mutex_;
  std::vector<Block> free_;
};

// Staged puts: keys and values appended to blocks, located by `entries`.
struct StagedPuts {
  struct Entry {
    std::uint64_t head;  // the digest's first 8 bytes, big-endian: orders like the key
    std::uint32_t block;
    std::uint32_t offset;
    std::uint32_t keySize;
    std::uint32_t valueSize;
  };
  struct Chunk {
    Block data;
    std::size_t size = 0;
    std::size_t used = 0;
  };
  std::vector<Chunk> chunks;
  std::vector<Entry> entries;
  std::size_t bytes = 0;

  // Room for `n` bytes; the entry's block and offset are set.
  char* reserve(BlockPool& pool, std::size_t n, Entry& e) {
    if (chunks.empty() || chunks.back().used + n > chunks.back().size) {
      if (n > kBlockBytes) {
        chunks.push_back({Block(new char[n]), n, 0});
      } else {
        chunks.push_back({pool.take(), kBlockBytes, 0});
      }
    }
    Chunk& c = chunks.back();
    e.block = static_cast<std::uint32_t>(chunks.size() - 1);
    e.offset = static_cast<std::uint32_t>(c.used);
    c.used += n;
    bytes += n;
    return c.data.get() + e.offset;
  }
  rocksdb::Slice keyOf(const Entry& e) const {
    return {chunks[e.block].data.get() + e.offset, e.keySize};
  }
  rocksdb::Slice valueOf(const Entry& e) const {
    return {chunks[e.block].data.get() + e.offset + e.keySize, e.valueSize};
  }
  void release(BlockPool& pool) {
    for (Chunk& c : chunks) {
      if (c.size == kBlockBytes) pool.give(std::move(c.data));
    }
    chunks.clear();
    entries.clear();
    bytes = 0;
  }
};

// One unit of work of the commit thread: a tree's puts, erases and root, or a dropped tree.
struct CommitJob {
  std::string prefix;
  StagedPuts puts;
  std::vector<std::string> erases;
  std::optional<Digest> root;
  bool drop = false;
  std::size_t queued = 0;  // bytes counted against maxPendingBytes (set at submit)
};

}  // namespace

struct RocksDb::Impl {
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::Options options;
  std::string path;
  std::uint64_t ingested = 0;  // SST files written (names); the commit thread's in background mode
  RocksDbOptions settings;
  BlockPool pool;

  // Background commits.
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<CommitJob> queue;
  std::size_t queuedBytes = 0;
  std::map<std::string, std::size_t, std::less<>> pending;  // prefix → queued or running jobs
  std::uint64_t submitted = 0;
  std::uint64_t completed = 0;
  std::string failure;  // set once the commit thread failed
  bool stopping = false;
  std::thread thread;

  // Writes the staged puts as one sorted SST file and ingests it (durable when this returns).
  void ingestSst(StagedPuts& st) {
    if (st.entries.empty()) return;
    // Every key is prefix ‖ 'n' ‖ digest: the digest's head decides almost every comparison
    // without touching the staged bytes.
    std::sort(st.entries.begin(), st.entries.end(),
              [&](const StagedPuts::Entry& a, const StagedPuts::Entry& b) {
                if (a.head != b.head) return a.head < b.head;
                return st.keyOf(a).compare(st.keyOf(b)) < 0;
              });
    std::string file = path + "/ingest-" + std::to_string(ingested++) + ".sst";
    rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), options);
    check(writer.Open(file), "open sst");
    for (std::size_t i = 0; i < st.entries.size(); ++i) {
      const StagedPuts::Entry& e = st.entries[i];
      // Equal keys are the same node (the key is its digest): write it once.
      if (i > 0 && st.entries[i - 1].head == e.head && st.keyOf(st.entries[i - 1]) == st.keyOf(e)) {
        continue;
      }
      check(writer.Put(st.keyOf(e), st.valueOf(e)), "sst put");
    }
    check(writer.Finish(), "finish sst");
    rocksdb::IngestExternalFileOptions ingest;
    ingest.move_files = true;
    check(db->IngestExternalFile({file}, ingest), "ingest");
    st.release(pool);
  }

  // Whether a round can go through runRoundAsSst: enough staged bytes to be worth a file, and
  // one job per tree and no dropped tree (then no erase of one job can meet a put of another).
  bool roundFitsSst(const std::vector<CommitJob>& jobs) {
    std::size_t bytes = 0;
    std::vector<std::string_view> prefixes;
    prefixes.reserve(jobs.size());
    for (const CommitJob& job : jobs) {
      if (job.drop || !job.root) return false;
      bytes += job.puts.bytes;
      prefixes.push_back(job.prefix);
    }
    if (bytes < kSmallCommitBytes) return false;
    std::sort(prefixes.begin(), prefixes.end());
    return std::adjacent_find(prefixes.begin(), prefixes.end()) == prefixes.end();
  }

  // A round of whole commits of distinct trees: every staged node of the round in one sorted SST
  // file, ingested (durable when it returns; each byte written once, no memtable), then every
  // root in one write and one WAL sync, then the erases as a second sorted file. A crash before
  // the roots are durable leaves every tree at its previous root with all its nodes (the new ones
  // are unreachable); a crash after them leaves at most some unreachable old nodes.
  void runRoundAsSst(std::vector<CommitJob>& jobs) {
    struct Ref {
      std::uint32_t job;
      std::uint32_t rank;  // of the job's prefix among the round's prefixes (key order)
      std::uint64_t head;
      const StagedPuts::Entry* entry;
    };
    std::vector<std::uint32_t> order(jobs.size());
    for (std::uint32_t j = 0; j < jobs.size(); ++j) order[j] = j;
    std::sort(order.begin(), order.end(),
              [&](std::uint32_t a, std::uint32_t b) { return jobs[a].prefix < jobs[b].prefix; });
    std::vector<std::uint32_t> rank(jobs.size());
    for (std::uint32_t r = 0; r < order.size(); ++r) rank[order[r]] = r;
    std::vector<Ref> refs;
    std::size_t total = 0;
    for (const CommitJob& job : jobs) total += job.puts.entries.size();
    refs.reserve(total);
    for (std::uint32_t j = 0; j < jobs.size(); ++j) {
      for (const StagedPuts::Entry& e : jobs[j].puts.entries) refs.push_back({j, rank[j], e.head, &e});
    }
    // Keys are prefix ‖ 'n' ‖ digest and no prefix is a prefix of another: the prefix's rank,
    // then the digest's head, decide almost every comparison without touching the keys.
    auto key = [&](const Ref& r) { return jobs[r.job].puts.keyOf(*r.entry); };
    std::sort(refs.begin(), refs.end(), [&](const Ref& a, const Ref& b) {
      if (a.rank != b.rank) return a.rank < b.rank;
      if (a.head != b.head) return a.head < b.head;
      return key(a).compare(key(b)) < 0;
    });
    if (!refs.empty()) {
      std::string file = path + "/ingest-" + std::to_string(ingested++) + ".sst";
      rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), options);
      check(writer.Open(file), "open sst");
      for (std::size_t i = 0; i < refs.size(); ++i) {
        // Equal keys are the same node (the key is its digest): write it once.
        if (i > 0 && refs[i - 1].rank == refs[i].rank && refs[i - 1].head == refs[i].head &&
            key(refs[i - 1]) == key(refs[i])) {
          continue;
        }
        check(writer.Put(key(refs[i]), jobs[refs[i].job].puts.valueOf(*refs[i].entry)), "sst put");
      }
      check(writer.Finish(), "finish sst");
      rocksdb::IngestExternalFileOptions ingest;
      ingest.move_files = true;
      check(db->IngestExternalFile({file}, ingest), "ingest");
    }
    rocksdb::WriteBatch batch(64 + jobs.size() * 128);
    for (CommitJob& job : jobs) {
      job.puts.release(pool);
      check(batch.Put(job.prefix + "r", slice(*job.root)), "put root");
    }
    check(db->Write(rocksdb::WriteOptions(), &batch), "commit");
    check(db->SyncWAL(), "sync");
    // The nodes the new roots no longer reach, as a second file: after the roots, so that a crash
    // in between leaves unreachable nodes, never a durable root without its nodes. (An erased
    // digest is never one the same tree puts in this round: the trie leaves those out.)
    struct Erase {
      std::uint32_t rank;
      std::uint64_t head;
      const std::string* key;
    };
    std::vector<Erase> erases;
    for (std::uint32_t j = 0; j < jobs.size(); ++j) {
      std::size_t at = jobs[j].prefix.size() + 1;
      for (const std::string& k : jobs[j].erases) {
        std::uint64_t head = k.size() >= at + 8
                                 ? readBE64(reinterpret_cast<const std::uint8_t*>(k.data() + at))
                                 : 0;
        erases.push_back({rank[j], head, &k});
      }
    }
    if (erases.empty()) return;
    std::sort(erases.begin(), erases.end(), [](const Erase& a, const Erase& b) {
      if (a.rank != b.rank) return a.rank < b.rank;
      if (a.head != b.head) return a.head < b.head;
      return *a.key < *b.key;
    });
    std::string file = path + "/ingest-" + std::to_string(ingested++) + ".sst";
    rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), options);
    check(writer.Open(file), "open sst");
    for (std::size_t i = 0; i < erases.size(); ++i) {
      if (i > 0 && *erases[i - 1].key == *erases[i].key) continue;
      check(writer.Delete(*erases[i].key), "sst delete");
    }
    check(writer.Finish(), "finish sst");
    rocksdb::IngestExternalFileOptions ingest;
    ingest.move_files = true;
    check(db->IngestExternalFile({file}, ingest), "ingest");
  }

  // One round of the commit thread: every job in order, each its own write (a job's nodes,
  // erases and root land together), and one WAL sync at the end. A crash keeps a prefix of the
  // writes, so every recovered root has all its nodes.
  void runJobs(std::vector<CommitJob>& jobs) {
    if (roundFitsSst(jobs)) {
      runRoundAsSst(jobs);
      return;
    }
    bool unsynced = false;
    auto sync = [&] {
      if (unsynced) check(db->SyncWAL(), "sync");
      unsynced = false;
    };
    for (CommitJob& job : jobs) {
      std::size_t estimate = 64 + job.erases.size() * (job.prefix.size() + 64);
      bool sst = job.puts.bytes >= kSmallCommitBytes;
      if (!sst) estimate += job.puts.bytes + job.puts.entries.size() * 12;
      rocksdb::WriteBatch batch(estimate);
      if (job.drop) {
        std::string end = job.prefix;
        end.push_back('\xff');  // keys are prefix ‖ 'n' | 'r' ‖ ...
        check(batch.DeleteRange(job.prefix, end), "delete range");
      } else if (sst) {
        // Earlier writes must be durable before the ingested file.
        sync();
        ingestSst(job.puts);
      } else {
        for (const StagedPuts::Entry& e : job.puts.entries) {
          check(batch.Put(job.puts.keyOf(e), job.puts.valueOf(e)), "put");
        }
        job.puts.release(pool);
      }
      for (const std::string& k : job.erases) check(batch.Delete(k), "erase");
      if (job.root) check(batch.Put(job.prefix + "r", slice(*job.root)), "put root");
      if (batch.Count() > 0) {
        check(db->Write(rocksdb::WriteOptions(), &batch), "commit");
        unsynced = true;
      }
    }
    sync();
  }

  void commitThread() {
    util::nameThisThread("trees-commit");
    if (settings.onCommitThreadStart) settings.onCommitThreadStart();
    std::unique_lock lock(mutex);
    while (true) {
      changed.wait(lock, [&] { return stopping || !queue.empty(); });
      if (queue.empty()) return;  // stopping, nothing left
      std::vector<CommitJob> jobs;
      while (!queue.empty()) {
        jobs.push_back(std::move(queue.front()));
        queue.pop_front();
      }
      lock.unlock();
      std::string error;
      try {
        runJobs(jobs);
      } catch (const StoreError& e) {
        error = e.what();
      }
      lock.lock();
      for (const CommitJob& job : jobs) {
        queuedBytes -= job.queued;
        auto it = pending.find(job.prefix);
        if (it != pending.end() && --it->second == 0) pending.erase(it);
      }
      completed += jobs.size();
      if (!error.empty() && failure.empty()) failure = error;
      changed.notify_all();
      if (!failure.empty()) {
        // Nothing more is written: later jobs are dropped and every caller sees the failure.
        queue.clear();
        pending.clear();
        queuedBytes = 0;
        changed.notify_all();
      }
    }
  }

  void throwIfFailed() const {
    if (!failure.empty()) throw StoreError("rocksdb commit thread: " + failure);
  }

  void submit(CommitJob job) {
    job.queued = job.puts.bytes + job.puts.entries.size() * sizeof(StagedPuts::Entry);
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] {
      return !failure.empty() || queuedBytes == 0 ||
             queuedBytes + job.queued <= settings.maxPendingBytes;
    });
    throwIfFailed();
    queuedBytes += job.queued;
    ++pending[job.prefix];
    ++submitted;
    queue.push_back(std::move(job));
    changed.notify_all();
  }

  // Waits until no job of `prefix` is queued or running.
  void waitForPrefix(std::string_view prefix) {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return !failure.empty() || pending.find(prefix) == pending.end(); });
    throwIfFailed();
  }

  bool hasPending(std::string_view prefix) {
    std::lock_guard lock(mutex);
    throwIfFailed();
    return pending.find(prefix) != pending.end();
  }
};

RocksDb::RocksDb(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  if (impl_->settings.backgroundCommits) {
    impl_->thread = std::thread([this] { impl_->commitThread(); });
  }
}

RocksDb::~RocksDb() {
  if (impl_->thread.joinable()) {
    {
      std::lock_guard lock(impl_->mutex);
      impl_->stopping = true;
    }
    impl_->changed.notify_all();
    impl_->thread.join();
  }
}

std::unique_ptr<RocksDb> RocksDb::open(const std::string& path, RocksDbOptions settings) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.IncreaseParallelism(2);
  options.write_buffer_size = settings.writeBufferBytes;
  options.max_write_buffer_number = settings.writeBuffers;
  // Reopening after a crash replays the WAL into the memtable instead of flushing it first.
  options.avoid_flush_during_recovery = true;
  // Keys are digests (random): point lookups only, so bloom filters help and order does not.
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  options.compression = rocksdb::kNoCompression;  // digests and relays compress poorly
  rocksdb::DB* raw = nullptr;
  check(rocksdb::DB::Open(options, path, &raw), "open");
  auto impl = std::make_unique<Impl>();
  impl->db.reset(raw);
  impl->options = options;
  impl->path = path;
  impl->settings = settings;
  return std::unique_ptr<RocksDb>(new RocksDb(std::move(impl)));
}

void RocksDb::dropTree(std::string_view prefix) {
  CommitJob job;
  job.prefix = std::string(prefix);
  job.drop = true;
  if (impl_->settings.backgroundCommits) {
    impl_->submit(std::move(job));
    return;
  }
  std::vector<CommitJob> jobs;
  jobs.push_back(std::move(job));
  impl_->runJobs(jobs);
}

void RocksDb::waitForCommits() {
  std::unique_lock lock(impl_->mutex);
  std::uint64_t target = impl_->submitted;
  impl_->changed.wait(lock, [&] { return !impl_->failure.empty() || impl_->completed >= target; });
  impl_->throwIfFailed();
}

std::uint64_t RocksDb::commitsSubmitted() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->submitted;
}

std::uint64_t RocksDb::commitsDurable() const {
  std::lock_guard lock(impl_->mutex);
  impl_->throwIfFailed();  // failed rounds count as completed, never as durable
  return impl_->completed;
}

struct RocksNodeStore::Staged {
  StagedPuts puts;
  std::vector<std::string> erases;
};

RocksNodeStore::RocksNodeStore(RocksDb& db, std::string prefix)
    : db_(db), prefix_(std::move(prefix)), staged_(std::make_unique<Staged>()) {
  if (prefix_.empty()) throw std::invalid_argument("RocksNodeStore: empty prefix");
}

RocksNodeStore::~RocksNodeStore() = default;

std::string RocksNodeStore::key(const Digest& digest) const {
  std::string k;
  k.reserve(prefix_.size() + 1 + kDigestSize);
  k.append(prefix_);
  k.push_back('n');
  k.append(reinterpret_cast<const char*>(digest.data()), kDigestSize);
  return k;
}

void RocksNodeStore::waitForTree() const {
  if (db_.impl().settings.backgroundCommits) db_.impl().waitForPrefix(prefix_);
}

std::optional<util::Bytes> RocksNodeStore::get(const Digest& digest) const {
  std::string k = key(digest);
  std::string value;
  rocksdb::Status s = db_.impl().db->Get(rocksdb::ReadOptions(), k, &value);
  if (s.IsNotFound() && db_.impl().settings.backgroundCommits && db_.impl().hasPending(prefix_)) {
    // Maybe in a queued commit of this tree: read again once it is written.
    waitForTree();
    s = db_.impl().db->Get(rocksdb::ReadOptions(), k, &value);
  }
  if (s.IsNotFound()) return std::nullopt;
  check(s, "get");
  return util::Bytes(value.begin(), value.end());
}

void RocksNodeStore::put(const Digest& digest, util::ByteSpan preimage) {
  StagedPuts& st = staged_->puts;
  StagedPuts::Entry e;
  e.head = readBE64(digest.data());
  e.keySize = static_cast<std::uint32_t>(prefix_.size() + 1 + kDigestSize);
  e.valueSize = static_cast<std::uint32_t>(preimage.size());
  char* p = st.reserve(db_.impl().pool, e.keySize + e.valueSize, e);
  std::memcpy(p, prefix_.data(), prefix_.size());
  p += prefix_.size();
  *p++ = 'n';
  std::memcpy(p, digest.data(), kDigestSize);
  std::memcpy(p + kDigestSize, preimage.data(), preimage.size());
  st.entries.push_back(e);
  if (st.bytes >= kChunkBytes) flushPuts();
}

void RocksNodeStore::erase(const Digest& digest) {
  staged_->erases.push_back(key(digest));
}

// Writes the staged puts as one sorted SST file (a chunk of a large commit).
void RocksNodeStore::flushPuts() {
  StagedPuts& st = staged_->puts;
  if (st.entries.empty()) return;
  RocksDb::Impl& db = db_.impl();
  if (db.settings.backgroundCommits) {
    CommitJob job;
    job.prefix = prefix_;
    job.puts = std::move(st);
    st = StagedPuts();
    db.submit(std::move(job));
    return;
  }
  db.ingestSst(st);
}

void RocksNodeStore::commit(const Digest& root) {
  RocksDb::Impl& db = db_.impl();
  CommitJob job;
  job.prefix = prefix_;
  job.puts = std::move(staged_->puts);
  job.erases = std::move(staged_->erases);
  job.root = root;
  *staged_ = Staged();
  if (db.settings.backgroundCommits) {
    db.submit(std::move(job));
    return;
  }
  std::vector<CommitJob> jobs;
  jobs.push_back(std::move(job));
  db.runJobs(jobs);
}

std::optional<Digest> RocksNodeStore::committedRoot() const {
  waitForTree();
  std::string value;
  rocksdb::Status s = db_.impl().db->Get(rocksdb::ReadOptions(), prefix_ + "r", &value);
  if (s.IsNotFound()) return std::nullopt;
  check(s, "get root");
  if (value.size() != kDigestSize) throw StoreError("rocksdb: stored root is not 48 bytes");
  Digest d;
  std::memcpy(d.data(), value.data(), kDigestSize);
  return d;
}

}  // namespace pocket::smst
