// The RocksDB store's crash promise (common/smst/rocksdb_store.h): a crash at any point leaves the
// previous commit's root and every node reachable from it readable. A writer process commits
// batches of relays in a loop and is killed with SIGKILL at varying points, several times on the
// same database; after each kill the database is reopened and checked: the committed root is the
// one an in-memory trie with the same committed batches gives, no commit the writer reported is
// lost, and every node reachable from the root is present with a preimage that hashes to its
// digest.

#include <algorithm>
#include <chrono>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <doctest.h>

#include "common/crypto/hash.h"
#include "common/smst/hashing.h"
#include "common/smst/rocksdb_store.h"
#include "common/smst/trie.h"
#include "common/util/hex.h"
#include "test/smst/crash_relays.h"
#include "test/support/process.h"

using namespace pocket;
namespace testing = pocket::testing;

namespace {

// The last `committed N <root>` line of the writer's output: N (0 if none) and the root's hex.
std::pair<std::uint64_t, std::string> lastReported(const std::string& output) {
  static const std::regex line("committed (\\d+) ([0-9a-f]+)\n");
  std::uint64_t n = 0;
  std::string root;
  for (std::sregex_iterator it(output.begin(), output.end(), line), end; it != end; ++it) {
    n = std::stoull((*it)[1]);
    root = (*it)[2];
  }
  return {n, root};
}

struct Walk {
  std::uint64_t leaves = 0;
  std::uint64_t nodes = 0;
  std::vector<std::string> problems;
};

// Visits every node reachable from `digest`: present in the store, its preimage matching the
// digest (leaf and inner: sha256 of the preimage; extension: the chain of single-child inner nodes
// it stands for over its child), children followed (inner: both, extension: its child).
void walk(const smst::NodeStore& store, const smst::Digest& digest, Walk& out) {
  if (digest == smst::kPlaceholder) return;
  auto preimage = store.get(digest);
  if (!preimage || preimage->empty()) {
    out.problems.push_back("missing node " + util::toHex(digest));
    return;
  }
  ++out.nodes;
  const util::Bytes& p = *preimage;
  auto digestAt = [&](std::size_t at) {
    smst::Digest d;
    std::copy(p.begin() + static_cast<std::ptrdiff_t>(at),
              p.begin() + static_cast<std::ptrdiff_t>(at + smst::kDigestSize), d.begin());
    return d;
  };
  bool matches = false;
  if (p[0] == 0x02 && p.size() == 3 + 32 + smst::kDigestSize + smst::kSuffixSize) {
    smst::Digest chain;
    smst::detail::chainDigestInto(p.data() + 3, p[1], p[2], digestAt(3 + 32), chain);
    matches = chain == digest;
  } else {
    auto hash = crypto::sha256(p);
    matches = std::equal(hash.begin(), hash.end(), digest.begin());
  }
  if (!matches) {
    out.problems.push_back("preimage does not match its digest " + util::toHex(digest));
    return;
  }
  switch (p[0]) {
    case 0x00:
      ++out.leaves;
      break;
    case 0x01:
      walk(store, digestAt(1), out);
      walk(store, digestAt(1 + smst::kDigestSize), out);
      break;
    case 0x02:
      walk(store, digestAt(3 + 32), out);
      break;
    default:
      out.problems.push_back("unknown node kind in " + util::toHex(digest));
  }
}

}  // namespace

TEST_CASE("a writer killed -9 in the middle of commits leaves the last committed root readable") {
  testing::TempDir dir("smst-crash");
  const std::string db = dir / "db";
  // The reference: the root after each number of whole batches, in memory.
  smst::MemoryStore memory;
  smst::SparseMerkleSumTrie reference(memory);
  std::vector<smst::Digest> referenceRoots = {reference.root()};
  auto referenceRoot = [&](std::uint64_t batches) {
    while (referenceRoots.size() <= batches) {
      test::addCrashBatch(reference, referenceRoots.size() - 1);
      referenceRoots.push_back(reference.root());
    }
    return referenceRoots[batches];
  };

  testing::ChildProcess writer(
      "smst-crash-writer", {testing::binaryPath("POCKET_SMST_CRASH_WRITER"), db},
      dir / "writer.log");
  std::mt19937 random(20261204);  // fixed: the same kill points on every run
  std::uint64_t committedBefore = 0;
  for (int round = 0; round < 5; ++round) {
    INFO("round " << round);
    INFO(writer.describe());
    // Kill once this run has committed a few batches, a varying moment later (mid-batch or
    // mid-commit most of the time).
    REQUIRE(testing::waitFor(
        [&] { return lastReported(writer.outputOfThisRun()).first >= committedBefore + 3; },
        "three more commits by the writer"));
    std::this_thread::sleep_for(std::chrono::milliseconds(random() % 25));
    writer.kill9();
    auto last = lastReported(writer.outputOfThisRun());
    std::uint64_t reported = last.first;
    CHECK(last.second == util::toHex(referenceRoot(reported)));

    {
      auto rocks = smst::RocksDb::open(db);
      smst::RocksNodeStore store(*rocks, "crash/");
      auto root = store.committedRoot();
      REQUIRE(root.has_value());
      auto trie = smst::SparseMerkleSumTrie::open(store, *root);
      REQUIRE(trie.ok());
      std::uint64_t batches = test::crashBatchesIn(**trie);
      // Nothing the writer saw committed is lost; at most the commit it was in when killed is
      // there without having been reported.
      CHECK(batches >= reported);
      CHECK(batches <= reported + 1);
      CHECK(*root == referenceRoot(batches));
      Walk w;
      walk(store, *root, w);
      CHECK(w.problems.empty());
      if (!w.problems.empty()) MESSAGE(w.problems.front());
      CHECK(w.leaves == batches * test::kCrashBatchRelays);
      CHECK(smst::countOf(*root) == w.leaves);
      committedBefore = batches;
    }
    writer.restart();
    REQUIRE(testing::waitFor([&] { return writer.outputOfThisRun().find("start ") != std::string::npos; },
                             "the restarted writer's start line"));
    CHECK(writer.outputOfThisRun().find("start batches=" + std::to_string(committedBefore)) !=
          std::string::npos);
  }
  writer.kill9();
}
