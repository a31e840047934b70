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
// Value type, not thread-safe.

#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

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
    if (slots_.empty()) return false;
    for (std::size_t i = slot(f);; i = (i + 1) & mask_) {
      if (slots_[i] == f) return true;
      if (slots_[i] == 0) return false;
    }
  }
  // Adds `f` (no effect if present).
  void insert(std::uint64_t f) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    for (std::size_t i = slot(f);; i = (i + 1) & mask_) {
      if (slots_[i] == f) return;
      if (slots_[i] == 0) {
        slots_[i] = f;
        ++size_;
        return;
      }
    }
  }
  // Room for `n` fingerprints without growing.
  void reserve(std::size_t n) {
    while (n * 4 > slots_.size() * 3) grow();
  }
  std::size_t size() const { return size_; }

 private:
  std::vector<std::uint64_t> slots_;
  std::size_t mask_ = 0;
  int shift_ = 64;
  std::size_t size_ = 0;

  std::size_t slot(std::uint64_t f) const {
    return static_cast<std::size_t>((f * 0x9e3779b97f4a7c15ULL) >> shift_);
  }
  void grow() {
    std::vector<std::uint64_t> old;
    old.swap(slots_);
    slots_.assign(old.empty() ? 64 : old.size() * 2, 0);
    mask_ = slots_.size() - 1;
    shift_ = 64 - std::countr_zero(slots_.size());
    size_ = 0;
    for (std::uint64_t f : old) {
      if (f != 0) insert(f);
    }
  }
};

}  // namespace pocket::sm
