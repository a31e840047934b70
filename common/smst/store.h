#pragma once
// Where a trie's committed nodes live: a key-value store from a node's 48-byte digest to its
// preimage (the leaf, inner or extension encoding), exactly like pokt-network/smt's MapStore after
// Commit, plus the root that the last commit recorded.
//
// A trie stages the changes of one commit with put/erase and then calls commit(root). A store
// decides how staged changes become visible and durable; the contract the trie relies on is:
//   - after commit(root) returns, every staged put and erase is applied and root() == root;
//   - if the process dies before commit(root) returns, reopening sees the previous commit's root
//     and every node reachable from it (staged puts may or may not be present; they are unreachable
//     garbage then).
// Stores are used from one thread at a time (the trie's thread). I/O failures and corrupt data
// throw StoreError: they are not business outcomes.

#include <cstddef>
#include <cstring>
#include <functional>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "common/smst/types.h"
#include "common/util/bytes.h"

namespace pocket::smst {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class NodeStore {
 public:
  virtual ~NodeStore() = default;

  // The preimage stored under `digest`, or nullopt. Sees committed data; may or may not see
  // changes staged since the last commit.
  virtual std::optional<util::Bytes> get(const Digest& digest) const = 0;
  // Stages the write of one node.
  virtual void put(const Digest& digest, util::ByteSpan preimage) = 0;
  // Stages the removal of one node.
  virtual void erase(const Digest& digest) = 0;
  // Applies everything staged and records `root` as the committed root, atomically.
  virtual void commit(const Digest& root) = 0;
  // The root recorded by the last commit, or nullopt if nothing was ever committed.
  virtual std::optional<Digest> committedRoot() const = 0;
};

// A NodeStore in process memory: nothing survives the process. Used for tries that are never
// committed (the poktroll relayer's configuration), for tests and for Go parity checks.
class MemoryStore final : public NodeStore {
 public:
  std::optional<util::Bytes> get(const Digest& digest) const override;
  void put(const Digest& digest, util::ByteSpan preimage) override;
  void erase(const Digest& digest) override;
  void commit(const Digest& root) override;
  std::optional<Digest> committedRoot() const override { return root_; }

  std::size_t size() const;
  // Visits every stored (digest, preimage) pair in ascending digest order.
  void forEach(const std::function<void(const Digest&, util::ByteSpan)>& visit) const;

 private:
  struct Entry {
    std::size_t offset;
    std::size_t size;
  };
  std::vector<std::uint8_t> arena_;  // preimages, appended; space of erased entries is reclaimed
                                     // when garbage exceeds the live data
  std::size_t garbage_ = 0;
  std::unordered_map<Digest, Entry, DigestHash> index_;
  std::optional<Digest> root_;

  void compact();
};

}  // namespace pocket::smst
