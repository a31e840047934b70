#pragma once
// RocksDB-backed node stores: one database directory holds many trees (one per session), each
// under its own key prefix. A tree's nodes are `prefix ‖ 'n' ‖ digest` → preimage and its
// committed root is `prefix ‖ 'r'` → 48-byte root.
//
// Durability: commit(root) returns once the root and every node reachable from it are durable
// (the last write of a commit is synced). Nodes of a commit are written in batches as they are
// staged, erases and the root in the final synced batch, so a crash at any point leaves the
// previous root and all its nodes intact.
//
// Threading: RocksDb may be shared by stores used from different threads (RocksDB is
// thread-safe); each RocksNodeStore is used from one thread at a time. Prefixes of two live trees
// must not be prefixes of one another (use a terminator, e.g. "supplier/session/").
// I/O errors throw StoreError.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/smst/store.h"

namespace pocket::smst {

class RocksDb {
 public:
  // Opens (creating if needed) the database in directory `path`.
  static std::unique_ptr<RocksDb> open(const std::string& path);
  ~RocksDb();
  RocksDb(const RocksDb&) = delete;
  RocksDb& operator=(const RocksDb&) = delete;

  // Removes every key of the tree under `prefix` (a finished session), durably.
  void dropTree(std::string_view prefix);

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
};

}  // namespace pocket::smst
