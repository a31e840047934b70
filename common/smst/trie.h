#pragma once
// SparseMerkleSumTrie: the sparse Merkle sum trie of pokt-network/smt v0.14.1 with sha256, as
// poktroll uses it for session trees. Roots, proofs (including SiblingData) and committed store
// contents are byte-identical to the Go library for the same sequence of operations.
//
// Configuration: path = sha256(key), MSB-first bits, 48-byte digests, leaf value
// V = vh(value) ‖ BE64(weight) ‖ BE64(1) with vh = identity (ValueHasher::none, poktroll) or
// sha256 (ValueHasher::sha256, the library default).
//
// Memory: nodes live in an arena of fixed-size slots addressed by 32-bit indices (no allocation
// per node). Leaf digests are computed once, when the batch holding the leaf is applied; the
// nodes of a subtree that a batch creates whole are hashed as it is built; the other inner and
// extension digests are computed lazily, at root() or proof time, for the nodes changed since.
//
// Batching: update() stores the leaf and queues it; the queue is applied in path order the next
// time the structure is read (root, sum, count, get, remove, prove, proveClosest, commit), in one
// descent that keeps each step in cache. The result is the structure Go builds in call order,
// extension paths included (the extensions a batch creates are given the path of the key whose
// insertion created them in call order). Leaf values (V) live in a value arena until commit();
// after commit() they are read back from the store when a proof or get() needs them, so a committed
// tree keeps only ~100 bytes per node in RAM. Reopening a tree from a committed root (open()) loads
// nodes from the store only along the paths that are visited.
//
// Persistence: nothing is written until commit(), which writes every new node reachable from the
// root (key = digest, value = preimage), removes the nodes that were replaced or removed since the
// last commit, and records the root; afterwards the store holds exactly one entry per reachable
// node, like Go's Commit(). open(store, root) is Go's ImportSparseMerkleSumTrie.
//
// Ownership and threading: a trie borrows its NodeStore, which must outlive it. A trie is used
// from one thread at a time (no internal locking); distinct tries over distinct stores are
// independent. Methods that read the store (any method after open() or commit()) throw
// StoreError on I/O failure or on a store that lacks a node it should hold; after a StoreError
// the trie must be discarded and reopened from the store's committed root. Every other failure
// is a returned util::Error and leaves the trie unchanged.
//
// Session use: one trie per (supplier, session): RocksNodeStore(db, "<supplier>/<session>/"),
// update(relayHash, relayBytes, computeUnits) per mined relay, commit() periodically and at
// claim time (root() is the claim root), proveClosest(proofPath) at proof time, whose
// compactClosestProof() + encodeGob() is MsgSubmitProof.proof. After a restart:
// open(store, *store.committedRoot()), then replay the relays mined after that commit.

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "common/smst/proof.h"
#include "common/smst/store.h"
#include "common/smst/types.h"
#include "common/util/bytes.h"
#include "common/util/result.h"

namespace pocket::smst {

struct LeafValue {
  util::Bytes valueHash;  // V without its weight/count suffix: the raw value with ValueHasher::none
  std::uint64_t weight = 0;
};

class SparseMerkleSumTrie {
 public:
  // An empty trie over `store` (48-zero root).
  explicit SparseMerkleSumTrie(NodeStore& store, ValueHasher hasher = ValueHasher::none);
  // A trie whose root is `root`, with nodes resolved from `store` on demand (Go's Import).
  // A 48-zero root opens an empty trie. Fails if root is not 48 bytes.
  static util::Result<std::unique_ptr<SparseMerkleSumTrie>> open(
      NodeStore& store, util::ByteSpan root, ValueHasher hasher = ValueHasher::none);

  ~SparseMerkleSumTrie();
  SparseMerkleSumTrie(const SparseMerkleSumTrie&) = delete;
  SparseMerkleSumTrie& operator=(const SparseMerkleSumTrie&) = delete;

  // Inserts or replaces the leaf of `key` (any length, also empty) with (value, weight).
  void update(util::ByteSpan key, util::ByteSpan value, std::uint64_t weight);
  // Removes the leaf of `key`. Error "key_not_found" (message "key not found") leaves the trie
  // unchanged.
  util::Status remove(util::ByteSpan key);
  // The stored value of `key` (without suffix) and its weight, or nullopt if absent.
  std::optional<LeafValue> get(util::ByteSpan key);

  // The 48-byte root: sha256 ‖ BE64(sum) ‖ BE64(count). Hashes the nodes changed since the last
  // call.
  Digest root();
  std::uint64_t sum();
  std::uint64_t count();

  // Membership proof for a present key, non-membership proof otherwise (Go's Prove).
  SparseMerkleProof prove(util::ByteSpan key);
  // Go's ProveClosest: the proof of the leaf whose path shares the longest prefix with `path`
  // (bits flipped where the trie is empty). Fails with "invalid_path" unless path is 32 bytes, and
  // with "unsupported_shape" on the post-delete shapes where smt v0.14.1 panics.
  util::Result<SparseMerkleClosestProof> proveClosest(util::ByteSpan path);

  // Writes the changes since the last commit to the store and records the root (see above).
  void commit();

  // Updates queued since the structure was last read (see Batching).
  std::size_t pendingUpdates() const;
  // Applies the queued updates now and hashes every node changed since the last root(): the work
  // root() would do, done ahead (a large tree stays cheap to ask for its root).
  void applyPending();

  ValueHasher valueHasher() const { return hasher_; }
  // Number of arena node slots in use (for memory accounting and tests).
  std::size_t nodeCount() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  ValueHasher hasher_;
};

}  // namespace pocket::smst
