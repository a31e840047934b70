// Proof build from disk: a 1M-leaf session tree written through the session manager's store
// (journal + trees RocksDB, committed, flushed), then the store reopened and closest proofs built
// the way the claim lifecycle builds them: SessionStore::proveClosest on a fresh read-only view of
// the flushed tree, compactClosestProof, encodeGob. Prints `name=value` lines:
//   sm_proof_build_ms_1m       median milliseconds of one proof (proveClosest + compact + gob)
//   sm_proof_build_ms_1m_p99   99th percentile of the same
//   sm_proof_gob_bytes         size of one gob-encoded proof
//   sm_proof_tree_build_s      seconds to write, commit and flush the 1M-leaf tree (setup)
//
// Usage: sm-proof-bench WORK_DIR [LEAVES] [PROOFS]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "common/crypto/hash.h"
#include "common/smst/gob.h"
#include "common/smst/proof.h"
#include "common/util/log.h"
#include "common/util/metrics.h"
#include "session-manager/session_store.h"

namespace {

using namespace pocket;
using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: sm-proof-bench WORK_DIR [LEAVES] [PROOFS]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const std::uint64_t leaves = argc > 2 ? std::stoull(argv[2]) : 1'000'000;
  const int proofs = argc > 3 ? std::stoi(argv[3]) : 200;
  std::filesystem::remove_all(dir);
  std::FILE* devNull = std::fopen("/dev/null", "w");
  util::LogSink log(devNull, util::LogLevel::warn);

  sm::TreeInfo info;
  info.supplierOperatorAddress = "pokt1benchsupplier";
  info.header = {"pokt1benchapp", "svc", std::string(64, 'b'), 1, 10};
  info.computeUnitsPerRelay = 1;
  info.claimWindowOpen = 12;
  info.proofWindowClose = 20;
  const std::string tree = sm::treeKey(info.supplierOperatorAddress, info.header.sessionId);

  auto built = Clock::now();
  {
    util::MetricsRegistry metrics;
    sm::SessionStore store(dir, log, metrics);
    // A relay of ~300 bytes (a small JSON-RPC request and answer with signatures).
    util::Bytes relay(300);
    std::mt19937_64 rng(42);
    const std::uint64_t chunk = 20'000;
    for (std::uint64_t done = 0; done < leaves;) {
      sm::WriteSet changes;
      for (std::uint64_t i = 0; i < chunk && done < leaves; ++i, ++done) {
        for (std::size_t b = 0; b < relay.size(); b += 8) {
          std::uint64_t v = rng();
          std::memcpy(relay.data() + b, &v, std::min<std::size_t>(8, relay.size() - b));
        }
        changes.addRelay(info, crypto::sha256(relay), relay, 1);
      }
      store.write(changes);
      if (done % 200'000 == 0) store.commitTrees();
    }
    auto root = store.flushTree(tree);
    if (!root.ok()) {
      std::fprintf(stderr, "flush: %s\n", root.error().message.c_str());
      return 1;
    }
  }
  double buildSeconds = msSince(built) / 1000;

  // Reopened: nothing of the tree is in memory; every proof reads its path from RocksDB.
  util::MetricsRegistry metrics;
  sm::SessionStore store(dir, log, metrics);
  std::vector<double> ms;
  std::size_t gobBytes = 0;
  std::mt19937_64 rng(7);
  for (int i = 0; i < proofs; ++i) {
    util::Bytes seed(32);
    for (auto& b : seed) b = static_cast<std::uint8_t>(rng());
    auto path = crypto::sha256(seed);
    auto start = Clock::now();
    auto closest = store.proveClosest(tree, path);
    if (!closest.ok()) {
      std::fprintf(stderr, "prove: %s\n", closest.error().message.c_str());
      return 1;
    }
    auto compact = smst::compactClosestProof(*closest);
    if (!compact.ok()) {
      std::fprintf(stderr, "compact: %s\n", compact.error().message.c_str());
      return 1;
    }
    gobBytes = smst::encodeGob(*compact).size();
    ms.push_back(msSince(start));
  }
  std::sort(ms.begin(), ms.end());
  std::printf("sm_proof_build_ms_1m=%.3f\n", ms[ms.size() / 2]);
  std::printf("sm_proof_build_ms_1m_p99=%.3f\n", ms[ms.size() * 99 / 100]);
  std::printf("sm_proof_gob_bytes=%zu\n", gobBytes);
  std::printf("sm_proof_tree_build_s=%.1f\n", buildSeconds);
  std::fclose(devNull);
  std::filesystem::remove_all(dir);
  return 0;
}
