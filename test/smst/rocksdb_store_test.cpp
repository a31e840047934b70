#include "common/smst/rocksdb_store.h"

#include <filesystem>
#include <string>

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
