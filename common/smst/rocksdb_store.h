#pragma once
// RocksDB-backed node stores: one database directory holds many trees (one per session), each
// under its own key prefix. A tree's nodes are `prefix ‖ 'n' ‖ digest` → preimage and its
// committed root is `prefix ‖ 'r'` → 48-byte root.
//
// Durability: by default commit(root) returns once the root and every node reachable from it are
// durable (the last write of a commit is synced). Nodes of a commit are written in batches as they
// are staged, erases and the root in the final synced batch, so a crash at any point leaves the
// previous root and all its nodes intact.
//
// Background commits (RocksDbOptions::backgroundCommits): commit(root) and dropTree() hand their
// work to the database's commit thread and return at once (they wait only while more than
// maxPendingBytes of staged nodes are queued). The thread takes every commit queued since its last
// round, in order, and writes them with one synced write (commits whose nodes exceed a few MiB
// are ingested as their own SST files first), so a thousand trees committed together cost one
// fsync. A round of whole commits of distinct trees writes its nodes as one sorted SST file, then
// the roots, then the erased nodes as a second file. A crash before a round is durable leaves
// each tree at an earlier committed root with all its nodes (a crash after the roots but before
// the erases leaves some unreachable nodes behind). Reads stay exact: get() finds a committed node at once (keys are content digests, so
// a present key is never stale) and waits for the tree's queued commits only when the node is not
// there yet; committedRoot() waits for the tree's queued commits. waitForCommits() returns once
// every commit made before it is durable. A failure on the commit thread is kept: every later
// commit, dropTree, waitForCommits and waiting read throws it as StoreError.
//
// Threading: RocksDb may be shared by stores used from different threads (RocksDB is
// thread-safe; the commit queue is locked); each RocksNodeStore is used from one thread at a
// time. Prefixes of two live trees must not be prefixes of one another (use a terminator, e.g.
// "supplier/session/"). I/O errors throw StoreError.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/smst/store.h"

namespace pocket::smst {

struct RocksDbOptions {
  bool backgroundCommits = false;                        // see above
  std::size_t maxPendingBytes = std::size_t{256} << 20;  // queued staged nodes, background mode
  // RocksDB memtables: their size bounds memory and the WAL a reopen after a crash replays.
  std::size_t writeBufferBytes = std::size_t{64} << 20;
  int writeBuffers = 3;
  // Background mode: run first on the commit thread, once it has named itself ("trees-commit"),
  // e.g. to set its priority. Must not throw.
  std::function<void()> onCommitThreadStart;
};

class RocksDb {
 public:
  // Opens (creating if needed) the database in directory `path`.
  static std::unique_ptr<RocksDb> open(const std::string& path, RocksDbOptions options = {});
  // Finishes the queued commits (background mode) and closes the database.
  ~RocksDb();
  RocksDb(const RocksDb&) = delete;
  RocksDb& operator=(const RocksDb&) = delete;

  // Removes every key of the tree under `prefix` (a finished session): durably before it returns,
  // or, in background mode, in order after the tree's queued commits.
  void dropTree(std::string_view prefix);
  // Returns once every commit and drop made before the call is durable (at once without
  // background commits). Thread-safe.
  void waitForCommits();
  // Without waiting: the commits and drops handed to the commit thread so far (each chunk of a
  // large commit counts), and how many of them, the oldest first, are durable. A commit is
  // durable once commitsDurable() reaches the value commitsSubmitted() had right after it. Both
  // are 0 without background commits (every commit is durable when it returns). After a failure
  // of the commit thread commitsDurable() throws it. Thread-safe.
  std::uint64_t commitsSubmitted() const;
  std::uint64_t commitsDurable() const;

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  explicit RocksDb(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class RocksNodeStore final : public NodeStore {
 public:
  // The tree under `prefix` (non-empty) in `db`, which must outlive the store.
  RocksNodeStore(RocksDb& db, std::string prefix);
  ~RocksNodeStore() override;

  std::optional<util::Bytes> get(const Digest& digest) const override;
  void put(const Digest& digest, util::ByteSpan preimage) override;
  void erase(const Digest& digest) override;
  void commit(const Digest& root) override;
  std::optional<Digest> committedRoot() const override;

 private:
  struct Staged;
  RocksDb& db_;
  std::string prefix_;
  std::unique_ptr<Staged> staged_;
  std::string key(const Digest& digest) const;
  void flushPuts();
  void waitForTree() const;
};

}  // namespace pocket::smst
