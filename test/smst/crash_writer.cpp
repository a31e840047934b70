// smst-crash-writer DIR: commits batches of relays to the RocksDB-backed trie "crash/" in DIR until
// killed, for the crash test (rocksdb_crash_test.cpp). On start it reopens the committed trie and
// continues after its last whole batch; prints `start batches=K` and then, after each commit
// returns, `committed N <root hex>` (N batches in the trie).

#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>

#include "common/smst/rocksdb_store.h"
#include "common/smst/trie.h"
#include "common/util/hex.h"
#include "test/smst/crash_relays.h"

int main(int argc, char** argv) {
  using namespace pocket;
  if (argc != 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    bool help = argc == 2;
    std::fprintf(help ? stdout : stderr,
                 "usage: smst-crash-writer DIR\n"
                 "Commits batches of relays to the RocksDB trie in DIR until killed (crash test).\n");
    return help ? 0 : 2;
  }
  try {
    auto db = smst::RocksDb::open(argv[1]);
    smst::RocksNodeStore store(*db, "crash/");
    std::unique_ptr<smst::SparseMerkleSumTrie> trie;
    if (auto root = store.committedRoot()) {
      auto opened = smst::SparseMerkleSumTrie::open(store, *root);
      if (!opened) {
        std::fprintf(stderr, "smst-crash-writer: cannot open the committed root: %s\n",
                     opened.error().message.c_str());
        return 1;
      }
      trie = std::move(*opened);
    } else {
      trie = std::make_unique<smst::SparseMerkleSumTrie>(store);
    }
    std::uint64_t batches = test::crashBatchesIn(*trie);
    std::printf("start batches=%llu\n", static_cast<unsigned long long>(batches));
    std::fflush(stdout);
    for (;;) {
      test::addCrashBatch(*trie, batches);
      trie->commit();
      ++batches;
      std::printf("committed %llu %s\n", static_cast<unsigned long long>(batches),
                  util::toHex(trie->root()).c_str());
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "smst-crash-writer: %s\n", e.what());
    return 1;
  }
}
