// session-manager ingest benchmark: 4 simulated edges (one CURVE DEALER each, on their own
// threads) deliver 1 KiB mined relays to the real session-manager binary (static chain, store on
// the local disk, every batch synced before its ack). Prints `name=value` lines:
//   sm_ingest_relays_per_s   relays acked per second, closed loop (8 batches of 64 in flight per edge)
//   sm_ack_p99_ms            99th percentile of batch send → ack, paced at half that rate
//   sm_rss_mib_after_ingest  the manager's resident memory after both runs
//
// Usage: sm-bench SESSION_MANAGER WORK_DIR [RELAYS_PER_EDGE]

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <capnp/message.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <zmq.hpp>

#include "common/crypto/hash.h"
#include "common/crypto/keys.h"
#include "common/net/curve_keys.h"
#include "common/net/frame.h"
#include "common/net/link_socket.h"
#include "common/protocol/relay.h"
#include "common/util/hex.h"
#include "edge_link.capnp.h"

extern char** environ;

namespace {

using namespace pocket;
using Clock = std::chrono::steady_clock;

constexpr int kEdges = 4;
constexpr unsigned kBatch = 64;
constexpr int kInFlight = 8;

struct Session {
  protocol::SessionHeader header;
  std::string supplier;
};

// Relay n of an edge: a Relay of about 1 KiB with the session header and supplier.
zmq::message_t batchFrame(const Session& s, int edge, std::uint64_t firstSeq, unsigned count,
                          std::uint64_t salt) {
  capnp::MallocMessageBuilder builder;
  auto batch = builder.initRoot<link::EdgeMessage>().initMinedRelays();
  batch.setFirstSeq(firstSeq);
  auto list = batch.initRelays(count);
  for (unsigned i = 0; i < count; ++i) {
    protocol::Relay relay;
    protocol::RelayRequest req;
    req.meta.sessionHeader = s.header;
    req.meta.supplierOperatorAddress = s.supplier;
    req.meta.signature = util::Bytes(97, 0x5a);
    std::string payload = "edge-" + std::to_string(edge) + "-" + std::to_string(salt) + "-" +
                          std::to_string(firstSeq + i) + "-";
    payload.resize(800, 'x');
    req.payload = util::toBytes(payload);
    protocol::RelayResponse res;
    res.meta.sessionHeader = s.header;
    res.meta.supplierOperatorSignature = util::Bytes(64, 0x11);
    relay.req = req;
    relay.res = res;
    auto bytes = protocol::marshal(relay);
    auto hash = crypto::sha256(bytes);
    auto m = list[i];
    m.setRelayHash(kj::arrayPtr(hash.data(), hash.size()));
    m.setRelayBytes(kj::arrayPtr(bytes.data(), bytes.size()));
    m.setComputeUnits(1);
    auto h = m.initSessionHeader();
    h.setApplicationAddress(s.header.applicationAddress);
    h.setServiceId(s.header.serviceId);
    h.setSessionId(s.header.sessionId);
    h.setSessionStartBlockHeight(s.header.sessionStartBlockHeight);
    h.setSessionEndBlockHeight(s.header.sessionEndBlockHeight);
    m.setSupplierOperatorAddress(s.supplier);
    m.setArrivalHeight(15);
  }
  return net::encodeFrame(builder);
}

struct EdgeRun {
  std::vector<double> ackMs;
  std::uint64_t acked = 0;
};

// One edge: hello, then every batch, with at most kInFlight unacked; `pace` > 0 spaces batch
// sends by that many microseconds.
void runEdge(zmq::context_t& ctx, const std::string& endpoint, const net::CurveKeyPair& keys,
             const std::string& serverKey, int edge, std::uint64_t spool,
             std::vector<zmq::message_t>& batches, long paceUs, EdgeRun& out) {
  zmq::socket_t socket(ctx, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  net::configureCurveClient(socket, keys, serverKey);
  socket.connect(endpoint);
  {
    capnp::MallocMessageBuilder b;
    auto hello = b.initRoot<link::EdgeMessage>().initHello();
    hello.setEdgeId("bench-edge-" + std::to_string(edge));
    hello.setSpoolId(spool);
    hello.setResumeSeq(1);
    hello.setVersion("bench");
    socket.send(net::encodeFrame(b), zmq::send_flags::none);
  }
  auto recvAck = [&](int timeoutMs) -> std::int64_t {
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    while (zmq::poll(&item, 1, std::chrono::milliseconds(timeoutMs)) > 0) {
      zmq::message_t m;
      (void)socket.recv(m);
      auto d = net::decodeFrame(util::ByteSpan(m.data<std::uint8_t>(), m.size()));
      if (!d.ok()) continue;
      auto msg = (*d)->root<link::ManagerMessage>();
      if (msg.which() == link::ManagerMessage::ACK) {
        return static_cast<std::int64_t>(msg.getAck().getThroughSeq());
      }
    }
    return -1;
  };
  if (recvAck(60000) < 0) throw std::runtime_error("no answer to hello");
  std::vector<Clock::time_point> sentAt(batches.size());
  std::size_t next = 0, done = 0;
  auto nextSend = Clock::now();
  while (done < batches.size()) {
    while (next < batches.size() && next - done < kInFlight && Clock::now() >= nextSend) {
      sentAt[next] = Clock::now();
      socket.send(batches[next], zmq::send_flags::none);
      ++next;
      if (paceUs > 0) nextSend += std::chrono::microseconds(paceUs);
    }
    int wait = paceUs > 0 && next < batches.size() && next - done < kInFlight ? 1 : 60000;
    std::int64_t through = recvAck(wait);
    if (through < 0) {
      if (wait == 60000) throw std::runtime_error("no ack within 60 s");
      continue;
    }
    while (done < next && static_cast<std::int64_t>((done + 1) * kBatch) <= through) {
      out.ackMs.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sentAt[done]).count());
      ++done;
    }
  }
  out.acked = done * kBatch;
}

double rssMib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: sm-bench SESSION_MANAGER WORK_DIR [RELAYS_PER_EDGE]\n";
    return 2;
  }
  std::string manager = argv[1];
  std::string work = argv[2];
  unsigned perEdge = argc > 3 ? static_cast<unsigned>(std::stoul(argv[3])) : 25600;
  perEdge -= perEdge % kBatch;
  std::filesystem::create_directories(work);

  auto supplierKey = crypto::PrivateKey::fromSecret(util::asBytes("sm-bench-supplier"));
  Session session{{"pokt1benchapp", "svc", std::string(64, 'b'), 11, 20},
                  supplierKey.publicKey().address()};
  { std::ofstream(work + "/supplier.key") << util::toHex(supplierKey.bytes()) << "\n"; }
  std::filesystem::permissions(work + "/supplier.key", std::filesystem::perms::owner_read |
                                                           std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::replace);
  std::ofstream(work + "/chain.json")
      << R"({"chain": {"height": 15, "advance": false}, "sessions": [{"applicationAddress": "pokt1benchapp", "serviceId": "svc", "sessionId": ")"
      << session.header.sessionId << R"(", "start": 11, "end": 20, "suppliers": [")"
      << session.supplier << R"("], "computeUnitsPerRelay": 1}]})";
  auto serverKeys = net::generateCurveKeyPair();
  net::writeCurveKeyPairFile(work + "/sm.key", serverKeys);
  std::vector<net::CurveKeyPair> edgeKeys;
  std::vector<std::string> allow;
  for (int e = 0; e < kEdges; ++e) {
    edgeKeys.push_back(net::generateCurveKeyPair());
    allow.push_back(edgeKeys.back().publicKey);
  }
  net::writeCurveAllowListFile(work + "/edges.allow", allow);
  std::ofstream(work + "/sm.yaml") << "link:\n  bind: \"tcp://127.0.0.1:*\"\n"
                                   << "  server_key_file: " << work << "/sm.key\n"
                                   << "  allow_list_file: " << work << "/edges.allow\n"
                                   << "suppliers:\n  - key_file: " << work << "/supplier.key\n"
                                   << "chain:\n  fixture: " << work << "/chain.json\n"
                                   << "store:\n  directory: " << work << "/store\n"
                                   << "admin:\n  listen: \"127.0.0.1:0\"\n"
                                   << "log:\n  level: info\n";

  // Batches first (not timed): two runs × 4 edges.
  std::vector<std::vector<zmq::message_t>> runs[2];
  for (int r = 0; r < 2; ++r) {
    runs[r].resize(kEdges);
    for (int e = 0; e < kEdges; ++e) {
      for (unsigned b = 0; b < perEdge / kBatch; ++b) {
        runs[r][e].push_back(batchFrame(session, e, 1 + b * kBatch, kBatch, r));
      }
    }
  }

  std::string log = work + "/sm.log";
  std::vector<std::string> args{manager, "run", "--config", work + "/sm.yaml"};
  std::vector<char*> argvp;
  for (auto& a : args) argvp.push_back(a.data());
  argvp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  if (posix_spawn(&pid, argvp[0], &actions, nullptr, argvp.data(), environ) != 0) return 1;
  // The link endpoint from the log (link_listening endpoint=...).
  std::string endpoint;
  std::regex linkRe("tcp://127\\.0\\.0\\.1:(\\d+)");
  for (int i = 0; i < 3000 && endpoint.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::smatch m;
    if (std::regex_search(text, m, linkRe)) endpoint = m[0];
  }
  int rc = 0;
  try {
    if (endpoint.empty()) throw std::runtime_error("session-manager did not start; see " + log);
    zmq::context_t ctx(2);
    auto runAll = [&](int r, long paceUs, std::uint64_t spool) {
      std::vector<EdgeRun> results(kEdges);
      std::vector<std::thread> threads;
      auto started = Clock::now();
      for (int e = 0; e < kEdges; ++e) {
        threads.emplace_back([&, e] {
          runEdge(ctx, endpoint, edgeKeys[e], serverKeys.publicKey, e, spool, runs[r][e], paceUs,
                  results[e]);
        });
      }
      for (auto& t : threads) t.join();
      double seconds = std::chrono::duration<double>(Clock::now() - started).count();
      std::vector<double> all;
      std::uint64_t acked = 0;
      for (auto& res : results) {
        all.insert(all.end(), res.ackMs.begin(), res.ackMs.end());
        acked += res.acked;
      }
      std::sort(all.begin(), all.end());
      double p99 = all.empty() ? 0 : all[std::min(all.size() - 1, all.size() * 99 / 100)];
      return std::make_pair(static_cast<double>(acked) / seconds, p99);
    };
    auto [rate, p99Closed] = runAll(0, 0, 1);
    std::cout << "sm_ingest_relays_per_s=" << static_cast<long>(rate) << "\n";
    std::cout << "sm_ack_p99_ms_closed_loop=" << p99Closed << "\n";
    // Half the rate: each of the 4 edges sends one batch every 64 / (rate / 2 / 4) seconds.
    long paceUs = static_cast<long>(1e6 * kBatch / (rate / 2 / kEdges));
    auto [halfRate, p99] = runAll(1, paceUs, 2);
    std::cout << "sm_ack_p99_ms=" << p99 << "\n";
    std::cout << "sm_ack_p99_rate_relays_per_s=" << static_cast<long>(halfRate) << "\n";
    std::cout << "sm_rss_mib_after_ingest=" << static_cast<long>(rssMib(pid)) << "\n";
    std::cout << "sm_relays_ingested=" << 2 * kEdges * perEdge << "\n";
  } catch (const std::exception& e) {
    std::cerr << "sm-bench: " << e.what() << "\n";
    rc = 1;
  }
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return rc;
}
