#include "common/smst/store.h"

#include <algorithm>

namespace pocket::smst {

std::optional<util::Bytes> MemoryStore::get(const Digest& digest) const {
  auto it = index_.find(digest);
  if (it == index_.end()) return std::nullopt;
  const std::uint8_t* p = arena_.data() + it->second.offset;
  return util::Bytes(p, p + it->second.size);
}

void MemoryStore::put(const Digest& digest, util::ByteSpan preimage) {
  auto it = index_.find(digest);
  if (it != index_.end()) {
    garbage_ += it->second.size;
    index_.erase(it);
  }
  Entry entry{arena_.size(), preimage.size()};
  arena_.insert(arena_.end(), preimage.begin(), preimage.end());
  index_.emplace(digest, entry);
}

void MemoryStore::erase(const Digest& digest) {
  auto it = index_.find(digest);
  if (it == index_.end()) return;
  garbage_ += it->second.size;
  index_.erase(it);
}

void MemoryStore::commit(const Digest& root) {
  root_ = root;
  if (garbage_ > arena_.size() / 2 && garbage_ > 4096) compact();
}

void MemoryStore::compact() {
  std::vector<std::uint8_t> fresh;
  fresh.reserve(arena_.size() - garbage_);
  for (auto& [digest, entry] : index_) {
    std::size_t offset = fresh.size();
    fresh.insert(fresh.end(), arena_.begin() + static_cast<std::ptrdiff_t>(entry.offset),
                 arena_.begin() + static_cast<std::ptrdiff_t>(entry.offset + entry.size));
    entry.offset = offset;
  }
  arena_ = std::move(fresh);
  garbage_ = 0;
}

std::size_t MemoryStore::size() const {
  return index_.size();
}

void MemoryStore::forEach(const std::function<void(const Digest&, util::ByteSpan)>& visit) const {
  std::vector<const Digest*> keys;
  keys.reserve(index_.size());
  for (const auto& [digest, entry] : index_) keys.push_back(&digest);
  std::sort(keys.begin(), keys.end(), [](const Digest* a, const Digest* b) { return *a < *b; });
  for (const Digest* key : keys) {
    const Entry& entry = index_.at(*key);
    visit(*key, util::ByteSpan(arena_.data() + entry.offset, entry.size));
  }
}

}  // namespace pocket::smst
