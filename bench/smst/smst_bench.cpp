// smst_bench --n N --store mem|rocksdb [--dir DIR] [--proofs P] [--label L]
// The workload the Go reference figures were measured with: N updates of random 32-byte keys with 200-byte random values at
// weight 42, then root(), then P proveClosest calls on random paths. With --store rocksdb the trie
// is committed to a RocksDB directory with a synced write and reopened from its root (which must
// reproduce the root and the closest proofs). Prints `name=value` lines:
//   smst_<store>_<L>_update_root_s   updates + root() (+ commit for rocksdb), seconds
//   smst_<store>_<L>_rss_mib         peak resident set size of the process, MiB
//   smst_<store>_<L>_prove_closest_us median proveClosest time, microseconds
//   smst_<store>_<L>_process_cpu_s   CPU time (user + sys) of the whole process, seconds: on a
//                                    machine shared with other jobs, wall time overstates cost

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <sys/resource.h>

#include "common/smst/rocksdb_store.h"
#include "common/smst/store.h"
#include "common/smst/trie.h"

namespace {

using namespace pocket;
using Clock = std::chrono::steady_clock;

// xoshiro256** seeded by splitmix64: fast, reproducible random bytes.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (auto& s : s_) {
      seed += 0x9e3779b97f4a7c15ull;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      s = z ^ (z >> 31);
    }
  }
  std::uint64_t next() {
    std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  void fill(std::uint8_t* out, std::size_t n) {
    for (std::size_t i = 0; i < n; i += 8) {
      std::uint64_t x = next();
      std::memcpy(out + i, &x, std::min<std::size_t>(8, n - i));
    }
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::printf(
        "usage: smst_bench --n N --store mem|rocksdb [--dir DIR] [--proofs P] [--label L]\n"
        "N updates, root(), P proveClosest calls (rocksdb: committed, synced, reopened); prints\n"
        "smst_<store>_<L>_{update_root_s,rss_mib,prove_closest_us,process_cpu_s}=value lines.\n");
    return 0;
  }
  std::size_t n = 100000;
  std::string storeKind = "mem";
  std::string dir = "/tmp/smst-bench-db";
  std::string label;
  int proofs = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--n") {
      n = std::stoull(value);
    } else if (flag == "--store") {
      storeKind = value;
    } else if (flag == "--dir") {
      dir = value;
    } else if (flag == "--proofs") {
      proofs = std::stoi(value);
    } else if (flag == "--label") {
      label = value;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (label.empty()) label = std::to_string(n);
  std::string prefix = "smst_" + storeKind + "_" + label;

  std::unique_ptr<smst::RocksDb> db;
  std::unique_ptr<smst::NodeStore> store;
  if (storeKind == "rocksdb") {
    std::filesystem::remove_all(dir);
    db = smst::RocksDb::open(dir);
    store = std::make_unique<smst::RocksNodeStore>(*db, "bench/session/");
  } else {
    store = std::make_unique<smst::MemoryStore>();
  }
  smst::SparseMerkleSumTrie trie(*store);

  Rng rng(42);
  std::uint8_t key[32];
  std::uint8_t value[200];
  auto start = Clock::now();
  for (std::size_t i = 0; i < n; ++i) {
    rng.fill(key, sizeof key);
    rng.fill(value, sizeof value);
    trie.update(util::ByteSpan(key, sizeof key), util::ByteSpan(value, sizeof value), 42);
  }
  auto updated = Clock::now();
  smst::Digest root = trie.root();
  auto rooted = Clock::now();
  if (db) trie.commit();
  auto committed = Clock::now();
  if (trie.count() != n) {
    std::fprintf(stderr, "count %llu != %zu\n", static_cast<unsigned long long>(trie.count()), n);
    return 1;
  }

  std::vector<std::array<std::uint8_t, 32>> paths(static_cast<std::size_t>(proofs));
  for (auto& p : paths) rng.fill(p.data(), p.size());
  std::vector<double> times;
  std::vector<smst::SparseMerkleClosestProof> made;
  for (const auto& p : paths) {
    auto t0 = Clock::now();
    auto proof = trie.proveClosest(p);
    auto t1 = Clock::now();
    if (!proof.ok()) return 1;
    times.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    made.push_back(std::move(*proof));
  }
  std::sort(times.begin(), times.end());
  double median = times.empty() ? 0 : times[times.size() / 2];
  for (const auto& proof : made) {
    if (!smst::verifyClosestProof(proof, root, smst::ValueHasher::none).ok()) {
      std::fprintf(stderr, "a closest proof does not verify\n");
      return 1;
    }
  }

  if (db) {
    // Reopen from the committed root, as after a restart: same root, same proofs.
    auto committedRoot = store->committedRoot();
    if (!committedRoot || *committedRoot != root) return 1;
    auto reopened = smst::SparseMerkleSumTrie::open(*store, root);
    if (!reopened.ok() || (*reopened)->root() != root) return 1;
    for (std::size_t i = 0; i < std::min<std::size_t>(10, paths.size()); ++i) {
      auto again = (*reopened)->proveClosest(paths[i]);
      if (!again.ok() || !(*again == made[i])) {
        std::fprintf(stderr, "reopened trie gives a different proof\n");
        return 1;
      }
    }
  }

  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("%s_update_root_s=%.3f\n", prefix.c_str(), seconds(start, committed));
  std::printf("# %s: updates %.3f s, root %.3f s, commit %.3f s, %zu arena nodes\n", prefix.c_str(),
              seconds(start, updated), seconds(updated, rooted), seconds(rooted, committed),
              trie.nodeCount());
  double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
               static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  std::printf("%s_process_cpu_s=%.3f\n", prefix.c_str(), cpu);
  std::printf("%s_rss_mib=%.0f\n", prefix.c_str(), static_cast<double>(usage.ru_maxrss) / 1024.0);
  std::printf("%s_prove_closest_us=%.2f\n", prefix.c_str(), median);
  if (db) std::filesystem::remove_all(dir);
  return 0;
}
