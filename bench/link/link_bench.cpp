// Delivery-path figures: spool append throughput (one and four appending threads, no fsync), the
// cost of one spool fsync, and relays delivered end to end (spool -> link -> sm-double, fsync per
// batch on both sides) per second. Prints `name=value` lines.
//
//   link-bench SM_DOUBLE_BINARY WORK_DIR

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include "common/crypto/hash.h"
#include "edge/link/chain_facts.h"
#include "edge/link/edge_link.h"
#include "edge/link/spool.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

pocket::edge::MinedRelay relayOfSize(std::uint64_t i, std::size_t size) {
  pocket::edge::MinedRelay relay;
  relay.relayBytes.assign(size, static_cast<std::uint8_t>(i));
  std::copy_n(reinterpret_cast<const std::uint8_t*>(&i), sizeof(i), relay.relayBytes.begin());
  relay.relayHash = pocket::crypto::sha256(relay.relayBytes);
  relay.computeUnits = 1;
  relay.sessionHeader = {"pokt1applicationaddressxxxxxxxxxxxxxxxxxx", "anvil", std::string(64, 'a'),
                         101, 110};
  relay.supplierOperatorAddress = "pokt1supplieraddressxxxxxxxxxxxxxxxxxxxxx";
  relay.arrivalHeight = 105;
  return relay;
}

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

double appendRate(const std::string& dir, int threads, std::uint64_t perThread) {
  std::filesystem::remove_all(dir);
  pocket::util::LogSink log(stderr, pocket::util::LogLevel::warn);
  pocket::edge::SpoolOptions options;
  options.directory = dir;
  options.maxBytes = 4ull << 30;
  options.fsync = pocket::edge::FsyncPolicy::never;
  pocket::edge::Spool spool(options, log);
  std::vector<std::vector<pocket::edge::MinedRelay>> relays(threads);
  for (int t = 0; t < threads; ++t) {
    for (std::uint64_t i = 0; i < perThread; ++i)
      relays[t].push_back(relayOfSize(t * perThread + i, 1024));
  }
  auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (const auto& r : relays[t]) {
        if (!spool.append(r).ok()) std::abort();
      }
    });
  }
  for (auto& w : workers) w.join();
  return static_cast<double>(threads * perThread) / seconds(Clock::now() - start);
}

double medianSyncMs(const std::string& dir) {
  std::filesystem::remove_all(dir);
  pocket::util::LogSink log(stderr, pocket::util::LogLevel::warn);
  pocket::edge::SpoolOptions options;
  options.directory = dir;
  pocket::edge::Spool spool(options, log);
  std::vector<double> samples;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 64; ++i) (void)spool.append(relayOfSize(round * 64 + i, 1024));
    auto start = Clock::now();
    spool.sync();
    samples.push_back(seconds(Clock::now() - start) * 1000);
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

double deliveredRate(const std::string& smDouble, const std::string& dir, std::uint64_t count) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/double");
  std::vector<std::string> argv = {
      smDouble,        "serve",       "--bind",      "tcp://127.0.0.1:*", "--out",
      dir + "/double", "--plaintext", "--port-file", dir + "/port"};
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, (dir + "/double.log").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  if (posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ) != 0) std::abort();
  posix_spawn_file_actions_destroy(&actions);
  while (!std::filesystem::exists(dir + "/port"))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::string port;
  std::ifstream(dir + "/port") >> port;

  double rate = 0;
  {
    pocket::util::LogSink log(stderr, pocket::util::LogLevel::warn);
    pocket::edge::SpoolOptions spoolOptions;
    spoolOptions.directory = dir + "/spool";
    spoolOptions.maxBytes = 4ull << 30;
    pocket::edge::Spool spool(spoolOptions, log);
    for (std::uint64_t i = 1; i <= count; ++i) (void)spool.append(relayOfSize(i, 1024));
    pocket::edge::ChainFacts facts(pocket::edge::ChainFactsOptions{}, log);
    pocket::edge::LinkOptions linkOptions;
    linkOptions.endpoint = "tcp://127.0.0.1:" + port;
    linkOptions.edgeId = "bench";
    linkOptions.plaintext = true;
    auto start = Clock::now();
    pocket::edge::EdgeLink link(linkOptions, spool, facts, log);
    while (spool.ackedThrough() < count) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    rate = static_cast<double>(count) / seconds(Clock::now() - start);
  }
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::cout << "usage: link-bench SM_DOUBLE_BINARY WORK_DIR\n"
                 "Spool appends, spool syncs and relays delivered to sm-double and acked; prints "
                 "name=value lines.\n";
    return 0;
  }
  if (argc != 3) {
    std::cerr << "usage: link-bench SM_DOUBLE_BINARY WORK_DIR\n";
    return 2;
  }
  std::string smDouble = argv[1];
  std::string work = argv[2];
  std::filesystem::create_directories(work);
  std::cout << "spool_append_1k_relays_per_s_1_thread="
            << static_cast<long>(appendRate(work + "/a1", 1, 100000)) << "\n";
  std::cout << "spool_append_1k_relays_per_s_4_threads="
            << static_cast<long>(appendRate(work + "/a4", 4, 25000)) << "\n";
  std::cout << "spool_sync_64_relays_median_ms=" << medianSyncMs(work + "/sync") << "\n";
  std::cout << "link_delivered_1k_relays_per_s="
            << static_cast<long>(deliveredRate(smDouble, work + "/e2e", 100000)) << "\n";
  std::filesystem::remove_all(work);
  return 0;
}
