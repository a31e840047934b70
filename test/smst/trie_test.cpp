#include "common/smst/trie.h"

#include <string>

#include <doctest.h>

#include "common/crypto/hash.h"
#include "common/smst/proof.h"
#include "common/util/hex.h"

using namespace pocket;
using smst::MemoryStore;
using smst::SparseMerkleSumTrie;

namespace {

util::ByteSpan b(const std::string& s) {
  return util::asBytes(s);
}

}  // namespace

TEST_CASE("an empty trie has the 48-zero root and no sum or count") {
  MemoryStore store;
  SparseMerkleSumTrie trie(store);
  CHECK(trie.root() == smst::kPlaceholder);
  CHECK(trie.sum() == 0);
  CHECK(trie.count() == 0);
  CHECK_FALSE(trie.get(b("foo")).has_value());
}

TEST_CASE("the root after update(foo, oof, 5) matches the reference example") {
  MemoryStore store;
  SparseMerkleSumTrie trie(store);
  trie.update(b("foo"), b("oof"), 5);
  CHECK(util::toHex(trie.root()) ==
        "6affa2d6ae209b262fc51c3d3aa35d5469a918ccfbdd3aca0350bd641a660edc"
        "00000000000000050000000000000001");
  auto got = trie.get(b("foo"));
  REQUIRE(got.has_value());
  CHECK(util::toHex(got->valueHash) == "6f6f66");
  CHECK(got->weight == 5);
}

TEST_CASE("the root is independent of insertion order, updates and deletes") {
  MemoryStore storeA, storeB;
  SparseMerkleSumTrie a(storeA), c(storeB);
  for (int i = 0; i < 300; ++i) a.update(b("key" + std::to_string(i)), b("v"), i);
  for (int i = 299; i >= 0; --i) c.update(b("key" + std::to_string(i)), b("x"), 1);
  for (int i = 0; i < 300; ++i) c.update(b("key" + std::to_string(i)), b("v"), i);
  c.update(b("extra"), b("e"), 7);
  REQUIRE(c.remove(b("extra")).ok());
  CHECK(a.root() == c.root());
  CHECK(a.count() == 300);
  CHECK(a.sum() == 299 * 300 / 2);
}

TEST_CASE("deleting a missing key fails with key_not_found and changes nothing") {
  MemoryStore store;
  SparseMerkleSumTrie trie(store);
  trie.update(b("a"), b("1"), 1);
  trie.update(b("b"), b("2"), 2);
  smst::Digest before = trie.root();
  util::Status s = trie.remove(b("c"));
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == "key_not_found");
  CHECK(s.error().message == "key not found");
  CHECK(trie.root() == before);
  CHECK(trie.remove(b("a")).ok());
  CHECK(trie.remove(b("b")).ok());
  CHECK(trie.root() == smst::kPlaceholder);
}

TEST_CASE("proveClosest rejects a path that is not 32 bytes") {
  MemoryStore store;
  SparseMerkleSumTrie trie(store);
  trie.update(b("a"), b("1"), 1);
  auto proof = trie.proveClosest(b("short"));
  REQUIRE_FALSE(proof.ok());
  CHECK(proof.error().code == "invalid_path");
}

TEST_CASE("proveClosest reports the shape where smt v0.14.1 panics instead of crashing") {
  MemoryStore store;
  SparseMerkleSumTrie trie(store);
  trie.update(b("k0"), b("v"), 1);
  trie.update(b("k7"), b("v"), 1);
  trie.update(b("k37"), b("v"), 1);
  REQUIRE(trie.remove(b("k0")).ok());
  crypto::Hash32 path = crypto::sha256(b("k0"));
  auto proof = trie.proveClosest(path);
  REQUIRE_FALSE(proof.ok());
  CHECK(proof.error().code == "unsupported_shape");
}

TEST_CASE("closest proofs of an insert-only trie verify against its root") {
  MemoryStore store;
  SparseMerkleSumTrie trie(store);
  for (int i = 0; i < 200; ++i) trie.update(b("relay" + std::to_string(i)), b("payload"), 42);
  smst::Digest root = trie.root();
  for (int i = 0; i < 50; ++i) {
    crypto::Hash32 path = crypto::sha256(b("seed" + std::to_string(i)));
    auto proof = trie.proveClosest(path);
    REQUIRE(proof.ok());
    CHECK(util::asChars(proof->valueHash()) == "payload");
    CHECK(smst::verifyClosestProof(*proof, root, smst::ValueHasher::none).ok());
    auto compact = smst::compactClosestProof(*proof);
    REQUIRE(compact.ok());
    CHECK(smst::verifyCompactClosestProof(*compact, root, smst::ValueHasher::none).ok());
    smst::Digest other = root;
    other[0] ^= 1;
    util::Status wrong = smst::verifyClosestProof(*proof, other, smst::ValueHasher::none);
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().code == "root_mismatch");
  }
}

TEST_CASE("commit then open reproduces the trie, its values and its proofs") {
  MemoryStore store;
  SparseMerkleSumTrie trie(store);
  for (int i = 0; i < 100; ++i) {
    trie.update(b("k" + std::to_string(i)), b("value" + std::to_string(i)), i);
  }
  trie.commit();
  smst::Digest root = trie.root();
  REQUIRE(store.committedRoot().has_value());
  CHECK(*store.committedRoot() == root);
  // Values now come from the store.
  auto got = trie.get(b("k42"));
  REQUIRE(got.has_value());
  CHECK(util::asChars(got->valueHash) == "value42");

  auto reopened = SparseMerkleSumTrie::open(store, root);
  REQUIRE(reopened.ok());
  SparseMerkleSumTrie& again = **reopened;
  CHECK(again.root() == root);
  crypto::Hash32 path = crypto::sha256(b("anything"));
  auto p1 = trie.proveClosest(path);
  auto p2 = again.proveClosest(path);
  REQUIRE(p1.ok());
  REQUIRE(p2.ok());
  CHECK(*p1 == *p2);
  CHECK(trie.prove(b("k7")) == again.prove(b("k7")));

  // Both continue identically.
  trie.update(b("new"), b("n"), 9);
  again.update(b("new"), b("n"), 9);
  REQUIRE(again.remove(b("k3")).ok());
  REQUIRE(trie.remove(b("k3")).ok());
  CHECK(trie.root() == again.root());
  again.commit();
  std::size_t entries = store.size();
  trie.commit();
  CHECK(store.size() == entries);
}

TEST_CASE("open rejects a root that is not 48 bytes") {
  MemoryStore store;
  auto opened = SparseMerkleSumTrie::open(store, b("short"));
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code == "bad_length");
}

TEST_CASE("opening a root the store does not hold throws StoreError on first use") {
  MemoryStore store;
  smst::Digest root{};
  root[0] = 1;
  auto opened = SparseMerkleSumTrie::open(store, root);
  REQUIRE(opened.ok());
  CHECK((*opened)->root() == root);
  (*opened)->update(b("a"), b("b"), 1);  // queued; applied when the structure is next read
  CHECK_THROWS_AS((*opened)->root(), smst::StoreError);
}
