#include "common/smst/rocksdb_store.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include <doctest.h>

#include "common/crypto/hash.h"
#include "common/smst/trie.h"
#include "test/support/process.h"

using namespace pocket;
using pocket::testing::TempDir;

namespace {

util::ByteSpan b(const std::string& s) {
  return util::asBytes(s);
}

// The tree of `store` opened at its committed root, which must be `expected`.
std::unique_ptr<smst::SparseMerkleSumTrie> reopenAt(smst::RocksNodeStore& store,
                                                    const smst::Digest& expected) {
  auto committed = store.committedRoot();
  REQUIRE(committed.has_value());
  CHECK(*committed == expected);
  auto trie = smst::SparseMerkleSumTrie::open(store, *committed);
  REQUIRE(trie.ok());
  return std::move(*trie);
}

}  // namespace

TEST_CASE("a RocksDB-backed trie survives closing the database and reopens from its root") {
  TempDir dir;
  smst::Digest root;
  smst::SparseMerkleClosestProof proof;
  crypto::Hash32 path = crypto::sha256(b("block hash and session id"));
  {
    auto db = smst::RocksDb::open(dir.path());
    smst::RocksNodeStore store(*db, "supplier/session-1/");
    smst::SparseMerkleSumTrie trie(store);
    for (int i = 0; i < 500; ++i) trie.update(b("relay" + std::to_string(i)), b("bytes"), 42);
    trie.commit();
    root = trie.root();
    proof = *trie.proveClosest(path);
    // A second tree in the same database is independent.
    smst::RocksNodeStore other(*db, "supplier/session-2/");
    smst::SparseMerkleSumTrie second(other);
    second.update(b("x"), b("y"), 1);
    second.commit();
  }
  auto db = smst::RocksDb::open(dir.path());
  smst::RocksNodeStore store(*db, "supplier/session-1/");
  auto committed = store.committedRoot();
  REQUIRE(committed.has_value());
  CHECK(*committed == root);
  auto trie = smst::SparseMerkleSumTrie::open(store, *committed);
  REQUIRE(trie.ok());
  CHECK((*trie)->count() == 500);
  CHECK((*trie)->sum() == 500 * 42);
  auto again = (*trie)->proveClosest(path);
  REQUIRE(again.ok());
  CHECK(*again == proof);
  auto got = (*trie)->get(b("relay7"));
  REQUIRE(got.has_value());
  CHECK(got->weight == 42);

  // Updates after reopening commit incrementally; orphans are removed.
  (*trie)->update(b("relay7"), b("changed"), 1);
  REQUIRE((*trie)->remove(b("relay8")).ok());
  (*trie)->commit();
  auto reopened = smst::SparseMerkleSumTrie::open(store, *store.committedRoot());
  REQUIRE(reopened.ok());
  CHECK((*reopened)->root() == (*trie)->root());
  CHECK((*reopened)->count() == 499);

  db->dropTree("supplier/session-1/");
  CHECK_FALSE(store.committedRoot().has_value());
  smst::RocksNodeStore other(*db, "supplier/session-2/");
  CHECK(other.committedRoot().has_value());
}

TEST_CASE(
    "background commits: many trees in one round, reads see queued commits, reopen has the roots") {
  TempDir dir;
  std::vector<smst::Digest> roots;
  smst::RocksDbOptions options;
  options.backgroundCommits = true;
  // Far less than the commits below: commit() waits for the queue to drain, again and again.
  options.maxPendingBytes = std::size_t{1} << 20;
  {
    auto db = smst::RocksDb::open(dir.path(), options);
    std::vector<std::unique_ptr<smst::RocksNodeStore>> stores;
    std::vector<std::unique_ptr<smst::SparseMerkleSumTrie>> tries;
    for (int t = 0; t < 50; ++t) {
      stores.push_back(std::make_unique<smst::RocksNodeStore>(
          *db, "supplier/session-" + std::to_string(t) + "/"));
      tries.push_back(std::make_unique<smst::SparseMerkleSumTrie>(*stores.back()));
    }
    for (int round = 0; round < 3; ++round) {
      for (int t = 0; t < 50; ++t) {
        for (int i = 0; i < 40; ++i) {
          tries[t]->update(b("relay" + std::to_string(round) + "-" + std::to_string(i)),
                           b(std::string(1000, static_cast<char>('a' + t % 26))), 3);
        }
        tries[t]->commit();
      }
    }
    // Right after commit() the leaf values are no longer in memory: get() reads them from the
    // store, waiting for the queued commit if it is not written yet.
    auto got = tries[7]->get(b("relay2-39"));
    REQUIRE(got.has_value());
    CHECK(got->valueHash == util::toBytes(std::string(1000, 'h')));
    CHECK(got->weight == 3);
    // A large commit (more than a few MiB of nodes) goes through an ingested SST file.
    for (int i = 0; i < 5000; ++i) {
      tries[0]->update(b("big" + std::to_string(i)), b(std::string(1000, 'z')), 1);
    }
    tries[0]->commit();
    for (auto& trie : tries) roots.push_back(trie->root());
    CHECK(*stores[0]->committedRoot() == roots[0]);
    db->waitForCommits();
    db->dropTree("supplier/session-49/");
    CHECK_FALSE(stores[49]->committedRoot().has_value());
  }
  auto db = smst::RocksDb::open(dir.path(), options);
  for (int t = 0; t < 49; ++t) {
    smst::RocksNodeStore store(*db, "supplier/session-" + std::to_string(t) + "/");
    auto trie = reopenAt(store, roots[static_cast<std::size_t>(t)]);
    CHECK(trie->count() == (t == 0 ? 120 + 5000 : 120));
    auto proof = trie->proveClosest(crypto::sha256(b("path")));
    REQUIRE(proof.ok());
  }
  smst::RocksNodeStore dropped(*db, "supplier/session-49/");
  CHECK_FALSE(dropped.committedRoot().has_value());
}

TEST_CASE("background commits of many trees at once: nodes and erases as files, roots exact") {
  TempDir dir;
  smst::RocksDbOptions options;
  options.backgroundCommits = true;
  constexpr int kTrees = 20;
  std::vector<smst::Digest> firstRoots, roots;
  {
    auto db = smst::RocksDb::open(dir.path(), options);
    std::vector<std::unique_ptr<smst::RocksNodeStore>> stores;
    std::vector<std::unique_ptr<smst::SparseMerkleSumTrie>> tries;
    for (int t = 0; t < kTrees; ++t) {
      stores.push_back(std::make_unique<smst::RocksNodeStore>(
          *db, "supplier/session-" + std::to_string(t) + "/"));
      tries.push_back(std::make_unique<smst::SparseMerkleSumTrie>(*stores.back()));
    }
    // Two rounds of about 6 MiB each (more than one write batch takes); the second replaces
    // every value of the first, so every node of the first roots is erased.
    for (int round = 0; round < 2; ++round) {
      for (int t = 0; t < kTrees; ++t) {
        for (int i = 0; i < 300; ++i) {
          tries[t]->update(b("relay" + std::to_string(i)),
                           b(std::string(1000, static_cast<char>('a' + round))), 1 + round);
        }
        if (round == 1) tries[t]->update(b("extra"), b("x"), 5);
      }
      for (auto& trie : tries) trie->commit();
      for (auto& trie : tries) (round == 0 ? firstRoots : roots).push_back(trie->root());
    }
    db->waitForCommits();
  }
  auto db = smst::RocksDb::open(dir.path(), options);
  for (int t = 0; t < kTrees; ++t) {
    smst::RocksNodeStore store(*db, "supplier/session-" + std::to_string(t) + "/");
    auto trie = reopenAt(store, roots[static_cast<std::size_t>(t)]);
    CHECK(trie->count() == 301);
    CHECK(trie->sum() == 300 * 2 + 5);
    auto got = trie->get(b("relay123"));
    REQUIRE(got.has_value());
    CHECK(got->valueHash == util::toBytes(std::string(1000, 'b')));
    REQUIRE(trie->proveClosest(crypto::sha256(b("path"))).ok());
    // The first root's nodes were erased: nothing of that version is left to read.
    auto old = smst::SparseMerkleSumTrie::open(store, firstRoots[static_cast<std::size_t>(t)]);
    REQUIRE(old.ok());
    CHECK_THROWS_AS((void)(*old)->get(b("relay123")), smst::StoreError);
  }
}
