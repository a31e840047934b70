#include <string>
#include <vector>

#include <doctest.h>

#include "common/smst/store.h"
#include "common/smst/trie.h"
#include "common/util/hex.h"

using namespace pocket;

namespace {

// A small deterministic generator for operation sequences.
struct Lcg {
  std::uint64_t state;
  std::uint64_t next() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return state >> 33;
  }
};

std::string dump(const smst::MemoryStore& store) {
  std::string out;
  store.forEach([&](const smst::Digest& k, util::ByteSpan v) {
    out += util::toHex(k) + "=" + util::toHex(v) + "\n";
  });
  return out;
}

}  // namespace

// Updates are applied lazily, in path order, when the structure is next read. The result must be
// the node structure Go builds in call order (extension paths included), which a trie whose root
// is read after every update reproduces step by step.
TEST_CASE("batched updates build exactly the structure of one-by-one updates") {
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    smst::MemoryStore batchedStore, stepStore;
    smst::SparseMerkleSumTrie batched(batchedStore), step(stepStore);
    Lcg rng{seed};
    std::vector<std::string> keys;
    for (int round = 0; round < 4; ++round) {
      int inserts = 50 + static_cast<int>(rng.next() % 200);
      for (int i = 0; i < inserts; ++i) {
        std::string key;
        if (!keys.empty() && rng.next() % 5 == 0) {
          key = keys[rng.next() % keys.size()];  // update of an existing key
        } else {
          key = "k" + std::to_string(seed) + "-" + std::to_string(rng.next());
          keys.push_back(key);
        }
        std::string value = "v" + std::to_string(rng.next() % 1000);
        std::uint64_t weight = rng.next() % 50;
        batched.update(util::asBytes(key), util::asBytes(value), weight);
        step.update(util::asBytes(key), util::asBytes(value), weight);
        (void)step.root();  // applies this single update now
      }
      // Deletes leave inner nodes with an empty child and extensions with stale paths behind.
      int deletes = static_cast<int>(rng.next() % 40);
      for (int i = 0; i < deletes && !keys.empty(); ++i) {
        std::size_t at = rng.next() % keys.size();
        bool a = batched.remove(util::asBytes(keys[at])).ok();
        bool b = step.remove(util::asBytes(keys[at])).ok();
        REQUIRE(a == b);
        keys.erase(keys.begin() + static_cast<std::ptrdiff_t>(at));
      }
      REQUIRE(batched.root() == step.root());
      if (round == 1) {
        batched.commit();
        step.commit();
      }
    }
    batched.commit();
    step.commit();
    CHECK(dump(batchedStore) == dump(stepStore));
    for (int i = 0; i < 20; ++i) {
      std::string seedText = "path" + std::to_string(i);
      smst::Path path{};
      std::memcpy(path.data(), seedText.data(), seedText.size());
      auto p1 = batched.proveClosest(path);
      auto p2 = step.proveClosest(path);
      REQUIRE(p1.ok() == p2.ok());
      if (p1.ok()) CHECK(*p1 == *p2);
    }
  }
}

// A batch large enough to be sorted by buckets (over a thousand queued updates), with repeated
// keys, applied to an empty trie and then to a committed one, gives the structure of one-by-one
// updates.
TEST_CASE("a large batch builds the structure of one-by-one updates") {
  smst::MemoryStore batchedStore, stepStore;
  smst::SparseMerkleSumTrie batched(batchedStore), step(stepStore);
  Lcg rng{99};
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 3000; ++i) {
      // About one key in six repeats an earlier one of the same or the previous batch.
      std::string key = "big-" + std::to_string(rng.next() % 5000);
      std::string value = "v" + std::to_string(rng.next() % 1000);
      std::uint64_t weight = rng.next() % 50;
      batched.update(util::asBytes(key), util::asBytes(value), weight);
      step.update(util::asBytes(key), util::asBytes(value), weight);
      (void)step.root();
    }
    REQUIRE(batched.root() == step.root());
    REQUIRE(batched.count() == step.count());
    batched.commit();
    step.commit();
    CHECK(dump(batchedStore) == dump(stepStore));
  }
}
