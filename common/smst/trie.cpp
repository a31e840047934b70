#include "common/smst/trie.h"

#include <algorithm>
#include <bit>
#include <new>
#include <stdexcept>
#include <unordered_set>
#include <utility>

#include <sys/mman.h>

#include "common/smst/hashing.h"

namespace pocket::smst {

namespace {

using Index = std::uint32_t;
constexpr Index kNil = 0;

enum class Kind : std::uint8_t { leaf, inner, ext, lazy, free };
constexpr std::uint8_t kHashed = 1;     // digest is valid
constexpr std::uint8_t kPersisted = 2;  // the store holds this node under its digest
constexpr std::uint8_t kNewExt = 4;     // extension created by the batch being applied
constexpr std::uint64_t kValueInStore = ~std::uint64_t{0};

// One arena slot. Leaf: path, value (V) reference, child[0] = insertion sequence number (0 for
// leaves loaded from the store); inner: child[0..1]; extension: path, start, end, child[0];
// lazy: digest only (resolved from the store when visited).
// The fields an update walk reads come first, the digest last.
struct Node {
  Kind kind;
  std::uint8_t start;
  std::uint8_t end;
  std::uint8_t flags;
  Index child[2];
  Path path;
  std::uint32_t valueLen;
  std::uint64_t valueRef;
  Digest digest;
};
static_assert(sizeof(Node) == 104);

// Arena chunks are anonymous mappings: pages are committed when first touched. Once a trie has
// more than kPopulateNodes nodes (or kPopulateBytes of values) its arenas are prefaulted one
// block ahead of use with MADV_POPULATE_WRITE, which costs one call per block instead of a page
// fault per 4 KiB page; small tries (one per session, many at a time) never touch more than
// they use. (Transparent huge pages were measured too and cost more: zeroing 2 MiB at a time.)
constexpr int kChunkBits = 16;
constexpr std::size_t kChunkNodes = std::size_t{1} << kChunkBits;
constexpr std::size_t kPopulateNodes = 4096;  // 416 KiB of nodes, a whole number of pages
constexpr std::size_t kValueChunk = std::size_t{1} << 20;
constexpr std::size_t kPopulateBytes = std::size_t{1} << 18;
static_assert(kChunkNodes % kPopulateNodes == 0 && kPopulateNodes * sizeof(Node) % 4096 == 0);
static_assert(kValueChunk % kPopulateBytes == 0);

// A zero-filled private anonymous mapping of `size` bytes.
class Mapping {
 public:
  explicit Mapping(std::size_t size) : size_(size) {
    void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    data_ = static_cast<std::uint8_t*>(p);
  }
  ~Mapping() {
    if (data_ != nullptr) munmap(data_, size_);
  }
  Mapping(Mapping&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(other.size_) {}
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  Mapping& operator=(Mapping&&) = delete;

  [[nodiscard]] std::uint8_t* data() const { return data_; }
  // Prefaults [offset, offset + length) (page-aligned offset). Advice only: kernels before 5.14
  // refuse it, and the pages then fault in one by one as before.
  void populate(std::size_t offset, std::size_t length) const {
    if (offset >= size_) return;
    madvise(data_ + offset, std::min(length, size_ - offset), MADV_POPULATE_WRITE);
  }

 private:
  std::uint8_t* data_ = nullptr;
  std::size_t size_;
};

std::uint64_t loadBE64(const std::uint8_t* p) {
  return readBE64(p);
}

// First bit index >= from where a and b differ, or 256.
int firstDifference(const std::uint8_t* a, const std::uint8_t* b, int from) {
  for (int w = from >> 6; w < 4; ++w) {
    std::uint64_t x = loadBE64(a + std::ptrdiff_t{8} * w) ^ loadBE64(b + std::ptrdiff_t{8} * w);
    if (w == (from >> 6)) x &= ~std::uint64_t{0} >> (from & 63);
    if (x != 0) return w * 64 + std::countl_zero(x);
  }
  return kMaxDepth;
}

Path pathOf(util::ByteSpan key) {
  Path path;
  detail::sha256Into(key.data(), key.size(), path.data());
  return path;
}

}  // namespace

struct SparseMerkleSumTrie::Impl {
  NodeStore& store;
  ValueHasher hasher;
  std::vector<Mapping> chunkMaps;
  std::vector<Node*> chunks;
  Index next = 1;  // slot 0 is the nil index
  Index freeHead = kNil;
  std::size_t used = 0;
  std::vector<Mapping> valueMaps;  // the chunks of small values
  std::vector<std::unique_ptr<std::uint8_t[]>> bigValues;
  std::vector<std::uint8_t*> valueChunks;  // chunk number -> base, for small and big values
  std::size_t valueChunkUsed = kValueChunk;
  Index root = kNil;
  std::vector<Digest> orphans;
  util::Bytes scratch;
  util::Bytes scratch2;
  util::Bytes persistBuffer;  // a node's preimage on its way to the store (commit)
  // Updates not yet applied to the structure (see flush()).
  struct Pending {
    std::uint64_t prefix;  // first 8 path bytes, big-endian: sorts like the path
    Index leaf;
    std::uint32_t seq;  // the leaf's age (its child[0]), kept here to spare random leaf reads
  };
  std::vector<Pending> pending;
  std::vector<Index> newExts;
  std::uint32_t nextSeq = 1;
  // Leaves created since the last commit (their values are in the value arena until it).
  std::vector<Index> arenaLeaves;

  Impl(NodeStore& s, ValueHasher h) : store(s), hasher(h) {}

  Node& at(Index i) { return chunks[i >> kChunkBits][i & (kChunkNodes - 1)]; }

  void prefetch(Index i) {
    const char* p = reinterpret_cast<const char*>(&at(i));
    __builtin_prefetch(p);
    __builtin_prefetch(p + sizeof(Node) - 1);
  }

  Index alloc(Kind kind) {
    Index i;
    if (freeHead != kNil) {
      i = freeHead;
      freeHead = at(i).child[0];
    } else {
      if ((next >> kChunkBits) >= chunks.size()) {
        chunkMaps.emplace_back(kChunkNodes * sizeof(Node));
        chunks.push_back(reinterpret_cast<Node*>(chunkMaps.back().data()));
      }
      if (next % kPopulateNodes == 0) {
        chunkMaps[next >> kChunkBits].populate((next & (kChunkNodes - 1)) * sizeof(Node),
                                               kPopulateNodes * sizeof(Node));
      }
      i = next++;
      if (next == 0) throw std::length_error("smst: node arena exhausted");
    }
    ++used;
    Node& n = at(i);
    n.kind = kind;
    n.flags = 0;
    n.child[0] = n.child[1] = kNil;
    n.start = n.end = 0;
    n.valueRef = 0;
    n.valueLen = 0;
    return i;
  }

  void release(Index i) {
    Node& n = at(i);
    n.kind = Kind::free;
    n.child[0] = freeHead;
    freeHead = i;
    --used;
  }

  // ---- leaf values ----

  // Room for a value of `size` bytes: its reference, and where to write it (`dst`).
  std::uint64_t reserveValue(std::size_t size, std::uint8_t*& dst) {
    if (size > kValueChunk / 4) {
      bigValues.emplace_back(new std::uint8_t[size]);
      valueChunks.push_back(bigValues.back().get());
      dst = valueChunks.back();
      valueChunkUsed = kValueChunk;  // the next small value opens a new chunk
      return (std::uint64_t{valueChunks.size() - 1} << 32);
    }
    if (valueChunkUsed + size > kValueChunk) {
      valueMaps.emplace_back(kValueChunk);
      valueChunks.push_back(valueMaps.back().data());
      valueChunkUsed = 0;
    }
    std::size_t block = (valueChunkUsed + size) / kPopulateBytes;
    if (block != valueChunkUsed / kPopulateBytes || (valueChunkUsed == 0 && valueMaps.size() > 1)) {
      valueMaps.back().populate(block * kPopulateBytes, kPopulateBytes);
    }
    std::uint64_t ref = (std::uint64_t{valueChunks.size() - 1} << 32) | valueChunkUsed;
    dst = valueChunks.back() + valueChunkUsed;
    valueChunkUsed += size;
    return ref;
  }

  // V of a leaf; `holder` keeps a value read from the store alive.
  util::ByteSpan leafValue(Index i, util::Bytes& holder) {
    Node& n = at(i);
    if (n.valueRef != kValueInStore) {
      const std::uint8_t* base = valueChunks[n.valueRef >> 32] + (n.valueRef & 0xffffffffu);
      return {base, n.valueLen};
    }
    std::optional<util::Bytes> pre = store.get(n.digest);
    if (!pre || pre->size() != 1 + kPathSize + n.valueLen || (*pre)[0] != 0x00) {
      throw StoreError("smst: store lacks the leaf of a committed node");
    }
    holder.assign(pre->begin() + 1 + kPathSize, pre->end());
    return holder;
  }

  // ---- lazy nodes ----

  Index lazyChild(const std::uint8_t* digest) {
    if (std::memcmp(digest, kPlaceholder.data(), kDigestSize) == 0) return kNil;
    Index c = alloc(Kind::lazy);
    Node& n = at(c);
    std::memcpy(n.digest.data(), digest, kDigestSize);
    n.flags = kHashed | kPersisted;
    return c;
  }

  void resolve(Index i) {
    if (i == kNil || at(i).kind != Kind::lazy) return;
    Digest digest = at(i).digest;
    std::optional<util::Bytes> pre = store.get(digest);
    if (!pre || pre->empty()) throw StoreError("smst: store lacks a node reachable from the root");
    const util::Bytes& d = *pre;
    switch (d[0]) {
      case 0x00: {
        if (d.size() < 1 + kPathSize + kSuffixSize) throw StoreError("smst: short leaf in store");
        Node& n = at(i);
        n.kind = Kind::leaf;
        std::memcpy(n.path.data(), d.data() + 1, kPathSize);
        n.valueRef = kValueInStore;
        n.valueLen = static_cast<std::uint32_t>(d.size() - 1 - kPathSize);
        break;
      }
      case 0x01: {
        if (d.size() != 1 + 2 * kDigestSize + kSuffixSize) {
          throw StoreError("smst: malformed inner node in store");
        }
        Index l = lazyChild(d.data() + 1);
        Index r = lazyChild(d.data() + 1 + kDigestSize);
        Node& n = at(i);
        n.kind = Kind::inner;
        n.child[0] = l;
        n.child[1] = r;
        break;
      }
      case 0x02: {
        if (d.size() != 3 + kPathSize + kDigestSize + kSuffixSize || d[1] >= d[2]) {
          throw StoreError("smst: malformed extension node in store");
        }
        Index c = lazyChild(d.data() + 3 + kPathSize);
        Node& n = at(i);
        n.kind = Kind::ext;
        n.start = d[1];
        n.end = d[2];
        std::memcpy(n.path.data(), d.data() + 3, kPathSize);
        n.child[0] = c;
        break;
      }
      default:
        throw StoreError("smst: unknown node prefix in store");
    }
  }

  // Marks a node as changed: its digest is recomputed later, and if the store held it, the old
  // entry becomes an orphan that the next commit removes.
  void touch(Index i) {
    Node& n = at(i);
    if (n.flags & kPersisted) orphans.push_back(n.digest);
    n.flags &= kNewExt;
  }

  // ---- digests ----

  const Digest& digest(Index i) {
    if (i == kNil) return kPlaceholder;
    Node& n = at(i);
    if (n.flags & kHashed) return n.digest;
    switch (n.kind) {
      case Kind::inner: {
        if (n.child[0] != kNil) prefetch(n.child[0]);
        if (n.child[1] != kNil) prefetch(n.child[1]);
        const Digest& l = digest(n.child[0]);
        const Digest& r = digest(n.child[1]);
        detail::innerDigestInto(l.data(), r.data(), n.digest.data());
        break;
      }
      case Kind::ext: {
        const Digest& c = digest(n.child[0]);
        detail::chainDigestInto(n.path.data(), n.start, n.end, c, n.digest);
        break;
      }
      default:
        throw std::logic_error("smst: leaf or lazy node without digest");
    }
    n.flags |= kHashed;
    return n.digest;
  }

  Index newLeaf(const Path& path, util::ByteSpan value, std::uint64_t weight) {
    Index i = alloc(Kind::leaf);
    Node& n = at(i);
    n.path = path;
    n.child[0] = nextSeq++;
    // V = vh(value) ‖ weight ‖ 1, written to the value arena. The leaf is hashed when the batch is
    // applied (hashLeaves), two at a time.
    std::size_t vhLen = hasher == ValueHasher::none ? value.size() : kHashSize;
    std::size_t vLen = vhLen + kSuffixSize;
    if (vLen > 0xffffffffu) throw std::length_error("smst: value too large");
    std::uint8_t* v = nullptr;
    n.valueRef = reserveValue(vLen, v);
    n.valueLen = static_cast<std::uint32_t>(vLen);
    if (hasher == ValueHasher::none) {
      if (!value.empty()) std::memcpy(v, value.data(), value.size());
    } else {
      detail::sha256Into(value.data(), value.size(), v);
    }
    writeBE64(v + vhLen, weight);
    writeBE64(v + vhLen + 8, 1);
    arenaLeaves.push_back(i);
    return i;
  }

  // The preimage 00 ‖ path ‖ V of a leaf whose value is in the arena, into `out`.
  void leafPreimage(const Node& n, util::Bytes& out) {
    out.resize(1 + kPathSize + n.valueLen);
    out[0] = 0x00;
    std::memcpy(out.data() + 1, n.path.data(), kPathSize);
    const std::uint8_t* v = valueChunks[n.valueRef >> 32] + (n.valueRef & 0xffffffffu);
    std::memcpy(out.data() + 1 + kPathSize, v, n.valueLen);
  }

  static void finishDigest(const util::Bytes& pre, Node& n) {
    std::memcpy(n.digest.data() + kHashSize, pre.data() + pre.size() - kSuffixSize, kSuffixSize);
    n.flags |= kHashed;
  }

  // Hashes the leaves of the batch, in call order (their order in the arenas), in pairs where two
  // neighbours have preimages of one size.
  void hashLeaves() {
    util::Bytes& a = scratch;
    util::Bytes& b = scratch2;
    std::size_t k = 0;
    while (k < pending.size()) {
      Node& x = at(pending[k].leaf);
      leafPreimage(x, a);
      if (k + 1 < pending.size() && at(pending[k + 1].leaf).valueLen == x.valueLen) {
        Node& y = at(pending[k + 1].leaf);
        leafPreimage(y, b);
        detail::sha256PairInto(a.data(), b.data(), a.size(), x.digest.data(), y.digest.data());
        finishDigest(a, x);
        finishDigest(b, y);
        k += 2;
      } else {
        detail::sha256Into(a.data(), a.size(), x.digest.data());
        finishDigest(a, x);
        k += 1;
      }
    }
  }

  // ---- batched updates ----
  //
  // update() only stores the new leaf and queues it. flush() hashes the queued leaves and applies
  // the queue in path order (each
  // walk then finds most of its path in cache) and repairs what order changes: in smt, an
  // extension created by a batch of inserts stores the path of the second key, in insertion
  // order, among the leaves below it (the key whose insertion created it; splits keep it). Every
  // other part of the structure depends only on the set of keys. The batch is applied before any
  // operation that reads the structure.

  void flush() {
    if (pending.empty()) return;
    hashLeaves();
    sortPending();
    dropReplaced();
    root = merge(root, 0, 0, pending.size());
    pending.clear();
    fixExtensions();
  }

  // The two oldest leaves (sequence number, index) below a node.
  struct Oldest {
    std::uint64_t first = ~std::uint64_t{0};
    Index firstLeaf = kNil;
    std::uint64_t second = ~std::uint64_t{0};
    Index secondLeaf = kNil;
    void add(std::uint64_t seq, Index leaf) {
      if (seq < first) {
        second = first;
        secondLeaf = firstLeaf;
        first = seq;
        firstLeaf = leaf;
      } else if (seq < second) {
        second = seq;
        secondLeaf = leaf;
      }
    }
  };

  // The two oldest leaves below a node.
  Oldest oldest(Index i) {
    Oldest out;
    if (i == kNil) return out;
    Node& n = at(i);
    switch (n.kind) {
      case Kind::leaf:
        out.add(n.child[0], i);
        return out;
      case Kind::ext:
        return oldest(n.child[0]);
      case Kind::inner: {
        Oldest l = oldest(n.child[0]);
        Oldest r = oldest(at(i).child[1]);
        out = l;
        if (r.firstLeaf != kNil) out.add(r.first, r.firstLeaf);
        if (r.secondLeaf != kNil) out.add(r.second, r.secondLeaf);
        return out;
      }
      default:
        return out;
    }
  }

  // Gives each extension the batch created the path of the second-oldest leaf below it. Such an
  // extension grew from a single leaf's position, so its subtree holds only leaves of the batch and
  // at most one older leaf: the walk is bounded by the batch.
  void fixExtensions() {
    for (Index e : newExts) {
      Node& x = at(e);
      if (x.kind != Kind::ext || !(x.flags & kNewExt)) continue;
      Oldest o = oldest(x.child[0]);
      if (o.secondLeaf == kNil) throw std::logic_error("smst: extension above a single leaf");
      Node& y = at(e);
      y.path = at(o.secondLeaf).path;
      y.flags &= static_cast<std::uint8_t>(~kNewExt);
    }
    newExts.clear();
  }

  // ---- applying a sorted batch ----

  // Sorts the queue by path, and updates of one key by age. A counting pass distributes the
  // entries by the top bits of their path into buckets of ~16, each then sorted on its own (the
  // paths are uniformly distributed).
  void sortPending() {
    auto less = [this](const Pending& a, const Pending& b) {
      if (a.prefix != b.prefix) return a.prefix < b.prefix;
      const Path& x = at(a.leaf).path;
      const Path& y = at(b.leaf).path;
      if (x != y) return x < y;
      return a.seq < b.seq;  // same key: apply in call order
    };
    std::size_t n = pending.size();
    if (n < 1024) {
      std::sort(pending.begin(), pending.end(), less);
      return;
    }
    int bits = std::min(16, static_cast<int>(std::bit_width(n)) - 5);
    std::vector<std::uint32_t> start((std::size_t{1} << bits) + 1, 0);
    for (const Pending& p : pending) ++start[(p.prefix >> (64 - bits)) + 1];
    for (std::size_t b = 1; b < start.size(); ++b) start[b] += start[b - 1];
    std::vector<Pending> sorted(n);
    std::vector<std::uint32_t> fill(start.begin(), start.end() - 1);
    for (const Pending& p : pending) sorted[fill[p.prefix >> (64 - bits)]++] = p;
    for (std::size_t b = 0; b + 1 < start.size(); ++b) {
      auto first = sorted.begin() + start[b];
      auto last = sorted.begin() + start[b + 1];
      if (last - first > 1) std::sort(first, last, less);
    }
    pending.swap(sorted);
  }

  // Within a run of updates of the same key only the last leaf stays; it takes the age of the
  // first (as when each replaces the previous one in call order).
  void dropReplaced() {
    std::size_t out = 0;
    for (std::size_t k = 0; k < pending.size();) {
      std::size_t end = k + 1;
      while (end < pending.size() && pending[end].prefix == pending[k].prefix &&
             at(pending[end].leaf).path == at(pending[k].leaf).path) {
        ++end;
      }
      Index keep = pending[end - 1].leaf;
      if (end - k > 1) {
        at(keep).child[0] = pending[k].seq;
        for (std::size_t j = k; j + 1 < end; ++j) release(pending[j].leaf);
      }
      pending[out++] = {pending[k].prefix, keep, pending[k].seq};
      k = end;
    }
    pending.resize(out);
  }

  const std::uint8_t* pendingPath(std::size_t k) { return at(pending[k].leaf).path.data(); }

  // The first bit >= from where the paths of pending[a] and pending[b] differ (256 if equal).
  int pendingDifference(std::size_t a, std::size_t b, int from) {
    if (from < 64) {
      std::uint64_t x = (pending[a].prefix ^ pending[b].prefix) & (~std::uint64_t{0} >> from);
      if (x != 0) return std::countl_zero(x);
      from = 64;
    }
    return firstDifference(pendingPath(a), pendingPath(b), from);
  }

  // The first k in [lo, hi) whose path has bit `bit` set. The paths of the range agree on the
  // bits before `bit` and are sorted, so the bit is monotone over the range.
  std::size_t splitAt(std::size_t lo, std::size_t hi, int bit) {
    while (lo < hi) {
      std::size_t mid = lo + (hi - lo) / 2;
      bool set = bit < 64 ? ((pending[mid].prefix >> (63 - bit)) & 1) != 0
                          : pathBit(pendingPath(mid), bit) != 0;
      if (set) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return lo;
  }

  // Applies pending[lo, hi) (distinct keys, sorted, all below node i at `depth`) to the subtree of
  // i and returns its new root. One descent serves the whole range: inner nodes split the range
  // by their bit, extensions that every key passes hand it down, and an empty subtree is built
  // whole. Where the range meets a leaf or leaves an extension, the first key is applied alone
  // and the rest continues on the result.
  Index merge(Index i, int depth, std::size_t lo, std::size_t hi) {
    while (lo < hi) {
      if (i == kNil) {
        Index top = build(lo, hi, depth).node;
        hashBuilt(top, kNil);
        return top;
      }
      resolve(i);
      Node& n = at(i);
      if (n.kind == Kind::inner) {
        touch(i);
        std::size_t mid = splitAt(lo, hi, depth);
        if (lo < mid) {
          Index c = merge(n.child[0], depth + 1, lo, mid);
          at(i).child[0] = c;
        }
        if (mid < hi) {
          Index c = merge(at(i).child[1], depth + 1, mid, hi);
          at(i).child[1] = c;
        }
        return i;
      }
      if (n.kind == Kind::ext &&
          firstDifference(n.path.data(), pendingPath(lo), n.start) >= n.end &&
          firstDifference(n.path.data(), pendingPath(hi - 1), n.start) >= n.end) {
        touch(i);
        Index c = merge(n.child[0], n.end, lo, hi);
        at(i).child[0] = c;
        return i;
      }
      Path path = at(pending[lo].leaf).path;
      i = update(i, depth, path, pending[lo].leaf);
      ++lo;
    }
    return i;
  }

  struct Built {
    Index node;
    Oldest oldest;
  };

  // A new subtree holding exactly pending[lo, hi) (distinct keys, sorted, at least one) below
  // `depth`. Its leaves are all of this batch, so each extension's path (the second-oldest leaf
  // below it, see above) is known here. Nodes are hashed as they are built, while in cache: each
  // call hashes the two subtrees it joins, side by side, and leaves its own top node (an inner
  // node, or an extension over one) to its caller (see HashJob).
  Built build(std::size_t lo, std::size_t hi, int depth) {
    if (hi - lo == 1) {
      // Leaves are read in path order but sit in the arena in call order: fetch ahead.
      constexpr std::size_t kAhead = 8;
      if (lo + kAhead < pending.size()) prefetch(pending[lo + kAhead].leaf);
      Built out{pending[lo].leaf, {}};
      out.oldest.add(pending[lo].seq, out.node);
      return out;
    }
    int p = pendingDifference(lo, hi - 1, depth);
    if (p >= kMaxDepth) throw std::logic_error("smst: duplicate key in a batch");
    std::size_t mid = splitAt(lo, hi, p);
    Built left = build(lo, mid, p + 1);
    Built right = build(mid, hi, p + 1);
    hashBuilt(left.node, right.node);
    Index inner = alloc(Kind::inner);
    Node& in = at(inner);
    in.child[0] = left.node;
    in.child[1] = right.node;
    Built out{inner, left.oldest};
    out.oldest.add(right.oldest.first, right.oldest.firstLeaf);
    if (right.oldest.secondLeaf != kNil) {
      out.oldest.add(right.oldest.second, right.oldest.secondLeaf);
    }
    if (p == depth) return out;
    Index e = alloc(Kind::ext);
    Node& x = at(e);
    x.path = at(out.oldest.secondLeaf).path;
    x.start = static_cast<std::uint8_t>(depth);
    x.end = static_cast<std::uint8_t>(p);
    x.child[0] = inner;
    out.node = e;
    return out;
  }

  // The hashes that complete the top node of a build() result: that of an inner node whose
  // children are hashed, then, for an extension over it, one per level of its chain, bottom-up.
  struct HashJob {
    Index inner = kNil;  // kNil: nothing to hash
    Index ext = kNil;
    bool innerDone = false;
    int level = 0;  // the extension's chain level hashed next
    Digest cur{};   // the digest below `level`
  };

  HashJob jobFor(Index i) {
    HashJob job;
    if (i == kNil) return job;
    Node& n = at(i);
    if (n.flags & kHashed) return job;
    if (n.kind == Kind::ext) {
      job.ext = i;
      job.inner = n.child[0];
      job.level = n.end - 1;
    } else {
      job.inner = i;
    }
    return job;
  }

  // The next preimage of a job into pre (kInnerPreimageSize bytes), or false when it is done.
  bool jobNext(const HashJob& job, std::uint8_t* pre) {
    if (job.inner == kNil) return false;
    if (!job.innerDone) {
      const Node& n = at(job.inner);
      detail::innerPreimage(at(n.child[0]).digest.data(), at(n.child[1]).digest.data(), pre);
      return true;
    }
    if (job.ext == kNil || job.level < at(job.ext).start) return false;
    if (pathBit(at(job.ext).path.data(), job.level) == 0) {
      detail::innerPreimage(job.cur.data(), kPlaceholder.data(), pre);
    } else {
      detail::innerPreimage(kPlaceholder.data(), job.cur.data(), pre);
    }
    return true;
  }

  // Records the digest (hash ‖ the preimage's sum and count) of the job's current step.
  void jobDone(HashJob& job, const std::uint8_t* pre, const std::uint8_t* hash) {
    std::memcpy(job.cur.data(), hash, kHashSize);
    std::memcpy(job.cur.data() + kHashSize, pre + detail::kInnerPreimageSize - kSuffixSize,
                kSuffixSize);
    if (!job.innerDone) {
      job.innerDone = true;
      Node& n = at(job.inner);
      n.digest = job.cur;
      n.flags |= kHashed;
    } else {
      --job.level;
    }
    if (job.ext != kNil && job.level < at(job.ext).start) {
      Node& x = at(job.ext);
      x.digest = job.cur;
      x.flags |= kHashed;
    }
  }

  // Completes the digests of two build() results (b may be kNil), hashing the two side by side.
  void hashBuilt(Index a, Index b) {
    HashJob x = jobFor(a);
    HashJob y = jobFor(b);
    std::uint8_t preX[detail::kInnerPreimageSize];
    std::uint8_t preY[detail::kInnerPreimageSize];
    std::uint8_t hashX[kHashSize];
    std::uint8_t hashY[kHashSize];
    bool moreX = jobNext(x, preX);
    bool moreY = jobNext(y, preY);
    while (moreX && moreY) {
      detail::sha256PairInto(preX, preY, sizeof preX, hashX, hashY);
      jobDone(x, preX, hashX);
      jobDone(y, preY, hashY);
      moreX = jobNext(x, preX);
      moreY = jobNext(y, preY);
    }
    for (; moreX; moreX = jobNext(x, preX)) {
      detail::sha256Into(preX, sizeof preX, hashX);
      jobDone(x, preX, hashX);
    }
    for (; moreY; moreY = jobNext(y, preY)) {
      detail::sha256Into(preY, sizeof preY, hashY);
      jobDone(y, preY, hashY);
    }
  }

  // ---- update ----

  Index update(Index i, int depth, const Path& path, Index leaf) {
    if (i == kNil) return leaf;
    resolve(i);
    Node& n = at(i);
    if (n.kind == Kind::leaf) {
      int p = firstDifference(path.data(), n.path.data(), depth);
      if (p == kMaxDepth) {  // same key: the new leaf takes the old one's place and age
        at(leaf).child[0] = n.child[0];
        touch(i);
        release(i);
        return leaf;
      }
      Index inner = alloc(Kind::inner);
      int b = pathBit(path.data(), p);
      at(inner).child[b] = leaf;
      at(inner).child[1 - b] = i;
      if (depth < p) {
        Index e = alloc(Kind::ext);
        Node& x = at(e);
        x.path = path;
        x.start = static_cast<std::uint8_t>(depth);
        x.end = static_cast<std::uint8_t>(p);
        x.child[0] = inner;
        x.flags = kNewExt;
        newExts.push_back(e);
        return e;
      }
      return inner;
    }
    touch(i);
    if (n.kind == Kind::ext) {
      int d = firstDifference(n.path.data(), path.data(), n.start);
      if (d >= n.end) {
        Index c = update(n.child[0], n.end, path, leaf);
        at(i).child[0] = c;
        return i;
      }
      Index branch = alloc(Kind::inner);
      int e = pathBit(n.path.data(), d);
      Index child = n.child[0];
      Index head;
      Index tail;
      if (d == n.start) {
        head = branch;
        n.start = static_cast<std::uint8_t>(n.start + 1);
        if (n.start == n.end) {
          tail = child;
          release(i);
        } else {
          tail = i;
        }
      } else {
        head = i;
        n.child[0] = branch;
        if (d == n.end - 1) {
          tail = child;
        } else {
          Index t = alloc(Kind::ext);
          Node& x = at(t);
          x.path = at(i).path;
          x.start = static_cast<std::uint8_t>(d + 1);
          x.end = at(i).end;
          x.child[0] = child;
          x.flags = at(i).flags & kNewExt;  // a piece of an extension keeps its origin
          if (x.flags & kNewExt) newExts.push_back(t);
          tail = t;
        }
        at(i).end = static_cast<std::uint8_t>(d);
      }
      at(branch).child[e] = tail;
      at(branch).child[1 - e] = leaf;
      return head;
    }
    int b = pathBit(path.data(), depth);
    Index c = update(n.child[b], depth + 1, path, leaf);
    at(i).child[b] = c;
    return i;
  }

  // The leaf of `path`, or kNil.
  Index find(const Path& path) {
    Index i = root;
    int depth = 0;
    while (i != kNil) {
      resolve(i);
      Node& n = at(i);
      switch (n.kind) {
        case Kind::leaf:
          return n.path == path ? i : kNil;
        case Kind::ext:
          if (firstDifference(n.path.data(), path.data(), n.start) < n.end) return kNil;
          depth = n.end;
          i = n.child[0];
          break;
        case Kind::inner:
          if (depth >= kMaxDepth) return kNil;
          i = n.child[pathBit(path.data(), depth)];
          ++depth;
          break;
        default:
          throw std::logic_error("smst: unexpected node kind");
      }
    }
    return kNil;
  }

  // ---- delete (the key is known to be present) ----

  Index remove(Index i, int depth, const Path& path) {
    resolve(i);
    Node& n = at(i);
    if (n.kind == Kind::leaf) {
      touch(i);
      release(i);
      return kNil;
    }
    touch(i);
    if (n.kind == Kind::ext) {
      Index c = remove(n.child[0], n.end, path);
      at(i).child[0] = c;
      if (c != kNil && at(c).kind == Kind::leaf) {
        release(i);
        return c;
      }
      if (c != kNil && at(c).kind == Kind::ext) {
        touch(c);
        at(c).start = at(i).start;
        release(i);
        return c;
      }
      return i;
    }
    int b = pathBit(path.data(), depth);
    Index c = remove(n.child[b], depth + 1, path);
    at(i).child[b] = c;
    Index s = at(i).child[1 - b];
    resolve(s);
    Index pair[2] = {c, s};
    for (int k = 0; k < 2; ++k) {
      if (pair[k] != kNil) continue;
      Index other = pair[1 - k];
      if (other == kNil) continue;
      if (at(other).kind == Kind::leaf) {
        release(i);
        return other;
      }
      if (at(other).kind == Kind::ext) {
        touch(other);
        at(other).start = static_cast<std::uint8_t>(at(other).start - 1);
        release(i);
        return other;
      }
    }
    return i;
  }

  // ---- virtual nodes for proofs: real nodes plus the inner nodes of an expanded extension ----

  struct VNode {
    Index index = kNil;
    bool chain = false;  // the inner node at depth `level` of extension `index`'s chain
    int level = 0;
    [[nodiscard]] bool isNil() const { return index == kNil; }
  };

  bool isInnerLike(const VNode& v) {
    return !v.isNil() && (v.chain || at(v.index).kind == Kind::inner);
  }
  bool isLeaf(const VNode& v) { return !v.isNil() && !v.chain && at(v.index).kind == Kind::leaf; }
  bool isExt(const VNode& v) { return !v.isNil() && !v.chain && at(v.index).kind == Kind::ext; }

  void children(const VNode& v, VNode out[2]) {
    if (!v.chain) {
      out[0] = VNode{at(v.index).child[0]};
      out[1] = VNode{at(v.index).child[1]};
      return;
    }
    Node& e = at(v.index);
    int side = pathBit(e.path.data(), v.level);
    VNode next = v.level + 1 < e.end ? VNode{v.index, true, v.level + 1} : VNode{e.child[0]};
    out[side] = next;
    out[1 - side] = VNode{};
  }

  Digest vdigest(const VNode& v) {
    if (v.isNil()) return kPlaceholder;
    if (!v.chain) return digest(v.index);
    Node& e = at(v.index);
    Digest c = digest(e.child[0]);
    Digest out;
    detail::chainDigestInto(at(v.index).path.data(), v.level, at(v.index).end, c, out);
    return out;
  }

  util::Bytes encode(const VNode& v) {
    util::Bytes out;
    encodeInto(v, out);
    return out;
  }

  // The preimage of a resolved node into `out` (resized to fit).
  void encodeInto(const VNode& v, util::Bytes& out) {
    if (v.chain || at(v.index).kind == Kind::inner) {
      VNode kids[2];
      children(v, kids);
      Digest l = vdigest(kids[0]);
      Digest r = vdigest(kids[1]);
      out.resize(1 + 2 * kDigestSize + kSuffixSize);
      out[0] = 0x01;
      std::memcpy(out.data() + 1, l.data(), kDigestSize);
      std::memcpy(out.data() + 1 + kDigestSize, r.data(), kDigestSize);
      writeBE64(out.data() + 1 + 2 * kDigestSize, sumOf(l) + sumOf(r));
      writeBE64(out.data() + 1 + 2 * kDigestSize + 8, countOf(l) + countOf(r));
      return;
    }
    Node& n = at(v.index);
    if (n.kind == Kind::leaf) {
      if (n.valueRef != kValueInStore) {
        leafPreimage(n, out);
        return;
      }
      util::Bytes holder;
      util::ByteSpan value = leafValue(v.index, holder);
      Node& m = at(v.index);
      out.resize(1 + kPathSize + value.size());
      out[0] = 0x00;
      std::memcpy(out.data() + 1, m.path.data(), kPathSize);
      std::memcpy(out.data() + 1 + kPathSize, value.data(), value.size());
      return;
    }
    if (n.kind == Kind::ext) {
      Digest c = digest(n.child[0]);
      Node& e = at(v.index);
      out.resize(3 + kPathSize + kDigestSize + kSuffixSize);
      std::uint8_t* p = out.data();
      p[0] = 0x02;
      p[1] = e.start;
      p[2] = e.end;
      std::memcpy(p + 3, e.path.data(), kPathSize);
      std::memcpy(p + 3 + kPathSize, c.data(), kDigestSize);
      std::memcpy(p + 3 + kPathSize + kDigestSize, c.data() + kHashSize, kSuffixSize);
      return;
    }
    throw std::logic_error("smst: cannot encode an unresolved node");
  }

  void resolveV(const VNode& v) {
    if (!v.isNil() && !v.chain) resolve(v.index);
  }

  std::vector<util::Bytes> sideNodes(const std::vector<VNode>& siblings) {
    std::vector<util::Bytes> out;
    out.reserve(siblings.size());
    for (auto it = siblings.rbegin(); it != siblings.rend(); ++it) {
      Digest d = vdigest(*it);
      out.emplace_back(d.begin(), d.end());
    }
    return out;
  }

  // ---- commit ----

  void persist(Index i, std::unordered_set<Digest, DigestHash>& orphanSet) {
    if (i == kNil) return;
    Node& n = at(i);
    if (n.flags & kPersisted) return;
    if (n.kind == Kind::inner) {
      persist(n.child[0], orphanSet);
      persist(at(i).child[1], orphanSet);
    } else if (n.kind == Kind::ext) {
      persist(n.child[0], orphanSet);
    }
    const Digest& d = digest(i);
    encodeInto(VNode{i}, persistBuffer);
    store.put(d, persistBuffer);
    if (!orphanSet.empty()) orphanSet.erase(d);
    at(i).flags |= kPersisted;
  }

  struct MemoryStoreDigestHash {};

  // The closest-proof walk of smt v0.14.1 (smt.go ProveClosest), step for step.
  util::Result<SparseMerkleClosestProof> proveClosest(util::ByteSpan requested);
  SparseMerkleProof prove(const Path& path);
};

SparseMerkleProof SparseMerkleSumTrie::Impl::prove(const Path& path) {
  std::vector<VNode> siblings;
  VNode sib;
  VNode node{root};
  for (int depth = 0; depth < kMaxDepth; ++depth) {
    resolveV(node);
    if (node.isNil() || isLeaf(node)) break;
    if (isExt(node)) {
      Node& e = at(node.index);
      if (depth != e.start) throw std::logic_error("smst: extension reached at a wrong depth");
      if (firstDifference(e.path.data(), path.data(), e.start) >= e.end) {
        siblings.insert(siblings.end(), e.end - e.start, VNode{});
        depth = e.end;
        node = VNode{e.child[0]};
        resolveV(node);
      } else {
        node = VNode{node.index, true, e.start};
      }
    }
    if (!isInnerLike(node)) throw std::logic_error("smst: extension without an inner child");
    VNode kids[2];
    children(node, kids);
    int b = pathBit(path.data(), depth);
    node = kids[b];
    sib = kids[1 - b];
    siblings.push_back(sib);
    // The sibling's digest is read when the proof is assembled: fetch it while walking on.
    if (!sib.isNil()) prefetch(sib.index);
  }
  SparseMerkleProof proof;
  if (!node.isNil()) {
    if (!isLeaf(node)) throw std::logic_error("smst: proof walk ended on a non-leaf");
    if (at(node.index).path != path) proof.nonMembershipLeafData = encode(node);
  }
  proof.sideNodes = sideNodes(siblings);
  if (!sib.isNil()) {
    resolveV(sib);
    proof.siblingData = encode(sib);
  }
  return proof;
}

util::Result<SparseMerkleClosestProof> SparseMerkleSumTrie::Impl::proveClosest(
    util::ByteSpan requested) {
  auto unsupported = [](const char* why) {
    return util::makeError("unsupported_shape",
                           std::string("ProveClosest on a post-delete trie shape where smt "
                                       "v0.14.1 panics: ") +
                               why);
  };
  Path wp;
  std::memcpy(wp.data(), requested.data(), kPathSize);
  SparseMerkleClosestProof proof;
  proof.path.assign(requested.begin(), requested.end());
  std::vector<VNode> siblings;
  VNode sib;
  VNode parent;
  VNode node{root};
  int depthDelta = 0;
  int depth = 0;
  int guard = 0;
  while (depth < kMaxDepth) {
    if (++guard > 4 * kMaxDepth * kMaxDepth) return unsupported("the walk does not end");
    if (!node.isNil()) parent = node;
    resolveV(node);
    if (!node.isNil()) {
      depthDelta = 0;
    } else {
      node = parent;
      resolveV(node);
      if (!siblings.empty()) siblings.pop_back();
      depth -= depthDelta;
      if (depth < 0 || depth >= kMaxDepth) return unsupported("back-step out of range");
      flipPathBit(wp.data(), depth);
      proof.flippedBits.push_back(depth);
    }
    if (isLeaf(node)) {
      proof.depth = depth;
      break;
    }
    if (isExt(node)) {
      Node& e = at(node.index);
      if (depth != e.start) return unsupported("depth != extNode.pathStart");
      if (firstDifference(e.path.data(), wp.data(), e.start) >= e.end) {
        int length = e.end - e.start;
        siblings.insert(siblings.end(), length, VNode{});
        depth += length;
        depthDelta += length;
        node = VNode{e.child[0]};
        resolveV(node);
      } else {
        node = VNode{node.index, true, e.start};
      }
    }
    if (!isInnerLike(node)) {
      proof.depth = depth;
      break;
    }
    VNode kids[2];
    children(node, kids);
    int b = pathBit(wp.data(), depth);
    node = kids[b];
    sib = kids[1 - b];
    siblings.push_back(sib);
    // The sibling's digest is read when the proof is assembled: fetch it while walking on.
    if (!sib.isNil()) prefetch(sib.index);
    ++depth;
    ++depthDelta;
  }
  if (node.isNil()) {
    proof.closestPath.assign(kDigestSize, 0);
    proof.closestValueHash.clear();
    proof.closestProof = SparseMerkleProof{};
    return proof;
  }
  if (!isLeaf(node)) return unsupported("the walk ended on a non-leaf node");
  proof.closestPath.assign(at(node.index).path.begin(), at(node.index).path.end());
  util::Bytes holder;
  util::ByteSpan value = leafValue(node.index, holder);
  proof.closestValueHash.assign(value.begin(), value.end());
  proof.closestProof.sideNodes = sideNodes(siblings);
  if (!sib.isNil()) {
    resolveV(sib);
    proof.closestProof.siblingData = encode(sib);
  }
  return proof;
}

// ---- public API ----

SparseMerkleSumTrie::SparseMerkleSumTrie(NodeStore& store, ValueHasher hasher)
    : impl_(std::make_unique<Impl>(store, hasher)), hasher_(hasher) {
}

SparseMerkleSumTrie::~SparseMerkleSumTrie() = default;

util::Result<std::unique_ptr<SparseMerkleSumTrie>> SparseMerkleSumTrie::open(NodeStore& store,
                                                                             util::ByteSpan root,
                                                                             ValueHasher hasher) {
  if (root.size() != kDigestSize) {
    return util::makeError("bad_length",
                           "trie root must be 48 bytes, got " + std::to_string(root.size()));
  }
  auto trie = std::make_unique<SparseMerkleSumTrie>(store, hasher);
  trie->impl_->root = trie->impl_->lazyChild(root.data());
  return trie;
}

void SparseMerkleSumTrie::update(util::ByteSpan key, util::ByteSpan value, std::uint64_t weight) {
  Path path = pathOf(key);
  Index leaf = impl_->newLeaf(path, value, weight);
  impl_->pending.push_back({readBE64(path.data()), leaf, impl_->at(leaf).child[0]});
}

util::Status SparseMerkleSumTrie::remove(util::ByteSpan key) {
  Path path = pathOf(key);
  impl_->flush();
  if (impl_->find(path) == kNil) return util::makeError("key_not_found", "key not found");
  impl_->root = impl_->remove(impl_->root, 0, path);
  return util::Ok{};
}

std::optional<LeafValue> SparseMerkleSumTrie::get(util::ByteSpan key) {
  impl_->flush();
  Index leaf = impl_->find(pathOf(key));
  if (leaf == kNil) return std::nullopt;
  util::Bytes holder;
  util::ByteSpan v = impl_->leafValue(leaf, holder);
  LeafValue out;
  out.valueHash.assign(v.begin(), v.end() - kSuffixSize);
  out.weight = readBE64(v.data() + v.size() - kSuffixSize);
  return out;
}

Digest SparseMerkleSumTrie::root() {
  impl_->flush();
  return impl_->digest(impl_->root);
}
std::uint64_t SparseMerkleSumTrie::sum() {
  return sumOf(root());
}
std::uint64_t SparseMerkleSumTrie::count() {
  return countOf(root());
}

SparseMerkleProof SparseMerkleSumTrie::prove(util::ByteSpan key) {
  impl_->flush();
  return impl_->prove(pathOf(key));
}

util::Result<SparseMerkleClosestProof> SparseMerkleSumTrie::proveClosest(util::ByteSpan path) {
  if (path.size() != kPathSize) {
    return util::makeError(
        "invalid_path", "closest-proof path must be 32 bytes, got " + std::to_string(path.size()));
  }
  impl_->flush();
  return impl_->proveClosest(path);
}

void SparseMerkleSumTrie::commit() {
  Impl& m = *impl_;
  m.flush();
  Digest rootDigest = m.digest(m.root);
  std::unordered_set<Digest, DigestHash> orphanSet(m.orphans.begin(), m.orphans.end());
  m.persist(m.root, orphanSet);
  for (const Digest& d : orphanSet) m.store.erase(d);
  m.store.commit(rootDigest);
  m.orphans.clear();
  // Every leaf is in the store now: drop the in-memory copies of the values. Only leaves made
  // since the last commit can hold one (a slot reused since holds another kind, or a leaf that
  // is in the list again).
  for (Index i : m.arenaLeaves) {
    Node& n = m.at(i);
    if (n.kind == Kind::leaf) n.valueRef = kValueInStore;
  }
  m.arenaLeaves.clear();
  m.valueChunks.clear();
  m.valueMaps.clear();
  m.bigValues.clear();
  m.valueChunkUsed = kValueChunk;
}

std::size_t SparseMerkleSumTrie::pendingUpdates() const {
  return impl_->pending.size();
}

void SparseMerkleSumTrie::applyPending() {
  impl_->flush();
  impl_->digest(impl_->root);
}

std::size_t SparseMerkleSumTrie::nodeCount() const {
  return impl_->used;
}

}  // namespace pocket::smst
