#pragma once
// FingerprintSet: a compact set of 64-bit fingerprints of relay hashes, the in-memory dedup index
// of a session tree (8 bytes a slot, open addressing with linear probing, at most 3/4 full:
// about 13 bytes a relay instead of the ~70 of a node-based set of 32-byte hashes).
//
// A fingerprint is not the hash: mayContain() == false means the hash was never inserted;
// mayContain() == true means it probably was, and the caller confirms exactly (the store asks the
// tree). Fingerprints mix all four words of the hash, so the leading zero bits that the relay
// mining difficulty forces on a hash cost nothing.
//
// Growth is incremental: a full table is kept as it is while a table twice its size takes over,
// and each later insert moves a few of its slots across (lookups meanwhile ask both). So no single
// insert pays for rehashing the whole set: the ingest thread inserts while edges wait for their
// acks, and rehashing a tree of 200,000 relays at once held an ack for ~20 ms. The new table comes
// from calloc, so its zeroed pages are touched as they fill rather than all at once.
//
// Movable value type, not thread-safe.

#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "common/crypto/hash.h"

namespace pocket::sm {

class FingerprintSet {
 public:
  static std::uint64_t fingerprint(const std::uint8_t* hash32) {
    std::uint64_t w[4];
    std::memcpy(w, hash32, sizeof w);
    std::uint64_t f = w[0] ^ (w[1] * 0x9e3779b97f4a7c15ULL) ^ w[2] ^ (w[3] * 0xc2b2ae3d27d4eb4fULL);
    return f == 0 ? 1 : f;  // 0 marks an empty slot
  }
  static std::uint64_t fingerprint(const crypto::Hash32& hash) { return fingerprint(hash.data()); }

  bool mayContain(std::uint64_t f) const {
    return table_.contains(f) || (moving() && old_.contains(f));
  }
  // Adds `f` (no effect if present).
  void insert(std::uint64_t f) {
    if (mayContain(f)) return;
    if (moving()) moveSome(kMovePerInsert);
    if (table_.full(table_.used + 1)) {
      if (moving()) moveSome(old_.capacity);  // not reached at kMovePerInsert; kept exact anyway
      startGrowth(table_.capacity == 0 ? kFirstCapacity : table_.capacity * 2);
    }
    table_.place(f);
    ++size_;
  }
  // Room for `n` fingerprints without growing (finishes a growth in progress).
  void reserve(std::size_t n) {
    if (moving()) moveSome(old_.capacity);
    std::size_t capacity = table_.capacity == 0 ? kFirstCapacity : table_.capacity;
    while (n * 4 > capacity * 3) capacity *= 2;
    if (capacity != table_.capacity) {
      startGrowth(capacity);
      moveSome(old_.capacity);
    }
  }
  // Removes every fingerprint, keeping the table (and its pages) for the next ones.
  void clear() {
    old_ = Table();
    next_ = 0;
    if (table_.capacity != 0) {
      std::memset(table_.slots.get(), 0, table_.capacity * sizeof(std::uint64_t));
    }
    table_.used = 0;
    size_ = 0;
  }
  std::size_t size() const { return size_; }
  // Whether a growth is in progress (two tables held).
  bool growing() const { return moving(); }

 private:
  static constexpr std::size_t kFirstCapacity = 64;
  // Old slots moved per insert while growing: the old table (3/4 full) is emptied long before
  // the new one (twice its size) fills.
  static constexpr std::size_t kMovePerInsert = 8;

  struct Free {
    void operator()(std::uint64_t* p) const { std::free(p); }
  };
  struct Table {
    std::unique_ptr<std::uint64_t[], Free> slots;
    std::size_t capacity = 0;  // a power of two, or 0
    std::size_t mask = 0;
    int shift = 64;
    std::size_t used = 0;

    static Table ofCapacity(std::size_t capacity) {
      Table t;
      t.slots.reset(static_cast<std::uint64_t*>(std::calloc(capacity, sizeof(std::uint64_t))));
      if (!t.slots) throw std::bad_alloc();
      t.capacity = capacity;
      t.mask = capacity - 1;
      t.shift = 64 - std::countr_zero(capacity);
      return t;
    }
    bool full(std::size_t n) const { return n * 4 > capacity * 3; }
    std::size_t slot(std::uint64_t f) const {
      return static_cast<std::size_t>((f * 0x9e3779b97f4a7c15ULL) >> shift);
    }
    bool contains(std::uint64_t f) const {
      if (capacity == 0) return false;
      for (std::size_t i = slot(f);; i = (i + 1) & mask) {
        if (slots[i] == f) return true;
        if (slots[i] == 0) return false;
      }
    }
    // `f` is known to be absent and there is room.
    void place(std::uint64_t f) {
      std::size_t i = slot(f);
      while (slots[i] != 0) i = (i + 1) & mask;
      slots[i] = f;
      ++used;
    }
  };

  Table table_;  // takes every insert
  Table old_;    // while growing: the previous table, its slots from next_ on not moved yet
  std::size_t next_ = 0;
  std::size_t size_ = 0;

  bool moving() const { return old_.capacity != 0; }
  void startGrowth(std::size_t capacity) {
    old_ = std::move(table_);
    next_ = 0;
    table_ = Table::ofCapacity(capacity);
  }
  // Moves up to `n` old slots into the table; frees the old one when all are moved. A moved
  // fingerprint cannot be in the table already: insert() places only what neither table holds.
  void moveSome(std::size_t n) {
    std::size_t end = next_ + n < old_.capacity ? next_ + n : old_.capacity;
    for (; next_ < end; ++next_) {
      if (old_.slots[next_] != 0) table_.place(old_.slots[next_]);
    }
    if (next_ == old_.capacity) old_ = Table();
  }
};

}  // namespace pocket::sm
