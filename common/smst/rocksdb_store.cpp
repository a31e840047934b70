#include "common/smst/rocksdb_store.h"

#include <algorithm>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

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

}  // namespace

struct RocksDb::Impl {
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::Options options;
  std::string path;
  std::uint64_t ingested = 0;
};

RocksDb::RocksDb(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
}
RocksDb::~RocksDb() = default;

std::unique_ptr<RocksDb> RocksDb::open(const std::string& path) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.IncreaseParallelism(2);
  options.write_buffer_size = std::size_t{64} << 20;
  options.max_write_buffer_number = 3;
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
  return std::unique_ptr<RocksDb>(new RocksDb(std::move(impl)));
}

void RocksDb::dropTree(std::string_view prefix) {
  std::string begin(prefix);
  std::string end(prefix);
  end.push_back('\xff');  // keys are prefix ‖ 'n' | 'r' ‖ ...
  rocksdb::WriteBatch batch;
  check(batch.DeleteRange(begin, end), "delete range");
  rocksdb::WriteOptions sync;
  sync.sync = true;
  check(impl_->db->Write(sync, &batch), "drop tree");
}

struct RocksNodeStore::Staged {
  // Staged puts: keys and values appended to `data`, located by `entries`.
  struct Entry {
    std::uint64_t head;  // the digest's first 8 bytes, big-endian: orders like the key
    std::size_t key;
    std::uint32_t keySize;
    std::uint32_t valueSize;
  };
  std::string data;
  std::vector<Entry> entries;
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

std::optional<util::Bytes> RocksNodeStore::get(const Digest& digest) const {
  std::string value;
  rocksdb::Status s = db_.impl().db->Get(rocksdb::ReadOptions(), key(digest), &value);
  if (s.IsNotFound()) return std::nullopt;
  check(s, "get");
  return util::Bytes(value.begin(), value.end());
}

void RocksNodeStore::put(const Digest& digest, util::ByteSpan preimage) {
  Staged& st = *staged_;
  if (st.data.capacity() < kChunkBytes) st.data.reserve(kChunkBytes + 4096);  // no regrowth copies
  std::size_t at = st.data.size();
  st.data.append(prefix_);
  st.data.push_back('n');
  st.data.append(reinterpret_cast<const char*>(digest.data()), kDigestSize);
  st.data.append(reinterpret_cast<const char*>(preimage.data()), preimage.size());
  st.entries.push_back({readBE64(digest.data()), at,
                        static_cast<std::uint32_t>(prefix_.size() + 1 + kDigestSize),
                        static_cast<std::uint32_t>(preimage.size())});
  if (st.data.size() >= kChunkBytes) flushPuts();
}

void RocksNodeStore::erase(const Digest& digest) {
  staged_->erases.push_back(key(digest));
}

// Writes the staged puts as one sorted SST file and ingests it (durable when this returns).
void RocksNodeStore::flushPuts() {
  Staged& st = *staged_;
  if (st.entries.empty()) return;
  auto keyOf = [&](const Staged::Entry& e) {
    return rocksdb::Slice(st.data.data() + e.key, e.keySize);
  };
  // Every key is prefix ‖ 'n' ‖ digest: the digest's head decides almost every comparison
  // without touching the staged bytes.
  std::sort(st.entries.begin(), st.entries.end(),
            [&](const Staged::Entry& a, const Staged::Entry& b) {
              if (a.head != b.head) return a.head < b.head;
              return keyOf(a).compare(keyOf(b)) < 0;
            });
  RocksDb::Impl& db = db_.impl();
  std::string file = db.path + "/ingest-" + std::to_string(db.ingested++) + ".sst";
  rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), db.options);
  check(writer.Open(file), "open sst");
  for (std::size_t i = 0; i < st.entries.size(); ++i) {
    const Staged::Entry& e = st.entries[i];
    // Equal keys are the same node (the key is its digest): write it once.
    if (i > 0 && st.entries[i - 1].head == e.head && keyOf(st.entries[i - 1]) == keyOf(e)) {
      continue;
    }
    check(writer.Put(keyOf(e), rocksdb::Slice(st.data.data() + e.key + e.keySize, e.valueSize)),
          "sst put");
  }
  check(writer.Finish(), "finish sst");
  rocksdb::IngestExternalFileOptions ingest;
  ingest.move_files = true;
  check(db.db->IngestExternalFile({file}, ingest), "ingest");
  st.entries.clear();
  st.data.clear();
}

void RocksNodeStore::commit(const Digest& root) {
  Staged& st = *staged_;
  rocksdb::WriteBatch last;
  if (st.data.size() >= kSmallCommitBytes) {
    flushPuts();
  } else {
    for (const Staged::Entry& e : st.entries) {
      check(last.Put(rocksdb::Slice(st.data.data() + e.key, e.keySize),
                     rocksdb::Slice(st.data.data() + e.key + e.keySize, e.valueSize)),
            "put");
    }
    st.entries.clear();
    st.data.clear();
  }
  // Erases and the root come last, after every put of this commit is durable.
  for (const std::string& k : st.erases) check(last.Delete(k), "erase");
  check(last.Put(prefix_ + "r", slice(root)), "put root");
  rocksdb::WriteOptions sync;
  sync.sync = true;
  check(db_.impl().db->Write(sync, &last), "commit");
  st.erases.clear();
}

std::optional<Digest> RocksNodeStore::committedRoot() const {
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
