// session-manager benchmark. Prints `name=value` lines (docs/BENCHMARKS.md):
//
// Ingest (the real session-manager binary, a fixture chain, the store on the local disk, every
// batch synced before its ack; 4 simulated edges, one CURVE DEALER each on its own thread):
//   sm_ingest_relays_per_s   relays acked per second, closed loop (8 batches of 64 in flight
//                            per edge)
//   sm_ingest_applied_relays_per_s  the same relays over the time until the manager's tree
//                            thread had added them all to the tries (it runs behind the acks)
//   sm_ack_p99_ms            99th percentile of batch send → ack, paced at half the acked rate,
//                            started once the tree thread has caught up and the closed loop's
//                            tree commit is durable (its own commits fall inside the run)
// With SM_BENCH_HISTOGRAMS set, the manager's ingest, journal-write and tree-commit histograms
// go to stderr after the ingest runs; SM_BENCH_ACK_TRACE=FILE writes every batch of the paced
// run (edge, send time on the monotonic clock, ack latency) to FILE.
//   sm_rss_mib_after_ingest  the manager's resident memory after both runs
//   sm_cpu_us_per_relay      the manager's CPU time (user + system) per relay of both runs
//   sm_disk_write_bytes_per_relay  bytes the manager sent to storage (/proc/PID/io) per relay of
//                            both runs (journal, trees, their compactions while the runs lasted)
//
// 1M relays in open sessions (a second manager on a fresh store: 10 suppliers × 100 sessions,
// 1 KiB relays over the same 4 edges):
//   sm_rss_mib_1m_relays     the manager's resident memory once all are acked and the trees
//                            committed
//   sm_restart_ready_s_1m    kill -9, then from the restart until an edge's hello is answered
//                            with its high-water mark
//
// One 1M-leaf tree (in process, the SessionStore the manager uses, on the local disk): relays are
// written in group commits of 1,024 and the trees committed every 64 groups, as the ingest does
// (the last commit 32 groups before the end):
//   sm_claim_root_ms_1m      root() after the last batch, once the store's tree thread has
//                            added it (the tries run behind the writes, at most 64 MiB behind)
//   sm_claim_root_ms_1m_after_write  from the last write's return to the root: that catching up
//                            included
//   sm_claim_root_ms_1m_worst  root() after one more write of 8,191 relays (the store's tree
//                            thread applies a tree's queued updates once 8,192 are queued)
//   sm_claim_commit_ms_1m    then committing that tree durably (what a claim flush adds)
//
// Usage: sm-bench SESSION_MANAGER WORK_DIR [RELAYS_PER_EDGE [RELAYS_1M]]
// RELAYS_1M (default 1,048,576) scales both 1M parts down for a quick run; 0 skips them.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <capnp/message.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.hpp>

#include "common/crypto/hash.h"
#include "common/crypto/keys.h"
#include "common/net/curve_keys.h"
#include "common/net/frame.h"
#include "common/net/link_socket.h"
#include "common/protocol/relay.h"
#include "common/util/hex.h"
#include "common/util/log.h"
#include "common/util/metrics.h"
#include "edge_link.capnp.h"
#include "session-manager/session_store.h"

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

// A Relay of about 1 KiB with the session header and supplier, unique per `tag`.
util::Bytes relayBytes(const Session& s, const std::string& tag) {
  protocol::Relay relay;
  protocol::RelayRequest req;
  req.meta.sessionHeader = s.header;
  req.meta.supplierOperatorAddress = s.supplier;
  req.meta.signature = util::Bytes(97, 0x5a);
  std::string payload = tag + "-";
  payload.resize(800, 'x');
  req.payload = util::toBytes(payload);
  protocol::RelayResponse res;
  res.meta.sessionHeader = s.header;
  res.meta.supplierOperatorSignature = util::Bytes(64, 0x11);
  relay.req = req;
  relay.res = res;
  return protocol::marshal(relay);
}

// A minedRelays batch of `count` relays of session `s` from sequence `firstSeq`.
zmq::message_t batchFrame(const Session& s, int edge, std::uint64_t firstSeq, unsigned count,
                          std::uint64_t salt) {
  capnp::MallocMessageBuilder builder;
  auto batch = builder.initRoot<link::EdgeMessage>().initMinedRelays();
  batch.setFirstSeq(firstSeq);
  auto list = batch.initRelays(count);
  for (unsigned i = 0; i < count; ++i) {
    auto bytes = relayBytes(s, "edge-" + std::to_string(edge) + "-" + std::to_string(salt) + "-" +
                                   std::to_string(firstSeq + i));
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

zmq::message_t helloFrame(int edge, std::uint64_t spool) {
  capnp::MallocMessageBuilder b;
  auto hello = b.initRoot<link::EdgeMessage>().initHello();
  hello.setEdgeId("bench-edge-" + std::to_string(edge));
  hello.setSpoolId(spool);
  hello.setResumeSeq(1);
  hello.setVersion("bench");
  return net::encodeFrame(b);
}

// The next ack's throughSeq within `timeoutMs`, or -1.
std::int64_t recvAck(zmq::socket_t& socket, int timeoutMs) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
  while (true) {
    // Rounded up: a wait of less than a millisecond left would poll without blocking, again
    // and again, and the spinning driver would take a core from the manager it measures.
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return -1;
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, left) <= 0) return -1;
    zmq::message_t m;
    (void)socket.recv(m);
    auto d = net::decodeFrame(util::ByteSpan(m.data<std::uint8_t>(), m.size()));
    if (!d.ok()) continue;
    auto msg = (*d)->root<link::ManagerMessage>();
    if (msg.which() == link::ManagerMessage::ACK) {
      return static_cast<std::int64_t>(msg.getAck().getThroughSeq());
    }
  }
}

struct EdgeRun {
  std::vector<double> ackMs;
  std::vector<double> sentS;  // send times (steady_clock, seconds)
  std::uint64_t acked = 0;
};

// One edge: hello, then `batches` batches (batch(n) builds the n-th, first sequence n·64 + 1),
// with at most kInFlight unacked; `paceUs` > 0 spaces batch sends by that many microseconds.
void runEdge(zmq::context_t& ctx, const std::string& endpoint, const net::CurveKeyPair& keys,
             const std::string& serverKey, int edge, std::uint64_t spool, std::size_t batches,
             const std::function<zmq::message_t(std::size_t)>& batch, long paceUs, EdgeRun& out) {
  zmq::socket_t socket(ctx, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  net::configureCurveClient(socket, keys, serverKey);
  socket.connect(endpoint);
  socket.send(helloFrame(edge, spool), zmq::send_flags::none);
  if (recvAck(socket, 60000) < 0) throw std::runtime_error("no answer to hello within 60 s");
  std::vector<Clock::time_point> sentAt(batches);
  std::size_t next = 0, done = 0;
  auto nextSend = Clock::now();
  while (done < batches) {
    while (next < batches && next - done < kInFlight && Clock::now() >= nextSend) {
      zmq::message_t frame = batch(next);
      sentAt[next] = Clock::now();
      socket.send(frame, zmq::send_flags::none);
      ++next;
      if (paceUs > 0) nextSend += std::chrono::microseconds(paceUs);
    }
    // Paced: until the next send is due (at least 1 ms), unless an ack comes first.
    int wait = 60000;
    if (paceUs > 0 && next < batches && next - done < kInFlight) {
      auto due = std::chrono::ceil<std::chrono::milliseconds>(nextSend - Clock::now()).count();
      wait = static_cast<int>(std::max<std::int64_t>(1, due));
    }
    std::int64_t through = recvAck(socket, wait);
    if (through < 0) {
      if (wait == 60000) throw std::runtime_error("no ack within 60 s");
      continue;
    }
    while (done < next && static_cast<std::int64_t>((done + 1) * kBatch) <= through) {
      out.ackMs.push_back(
          std::chrono::duration<double, std::milli>(Clock::now() - sentAt[done]).count());
      out.sentS.push_back(std::chrono::duration<double>(sentAt[done].time_since_epoch()).count());
      ++done;
    }
  }
  out.acked = done * kBatch;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

double procStatusMib(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::stod(line.substr(std::strlen(field))) / 1024.0;
  }
  return 0;
}

// User + system CPU seconds of a process.
double cpuSeconds(pid_t pid) {
  std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Bytes a process caused to be written to storage (/proc/PID/io write_bytes), or 0.
double writeBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/io");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("write_bytes:", 0) == 0) return std::stod(line.substr(12));
  }
  return 0;
}

// GET http://127.0.0.1:port/path; the body, or "" on any failure.
std::string httpGet(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[65536];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  auto body = out.find("\r\n\r\n");
  return body == std::string::npos ? "" : out.substr(body + 4);
}

// The value of an unlabelled metric in Prometheus text, or -1.
double metricValue(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

// A session-manager process: spawned with its stderr in `log`, endpoints read from that log.
struct Manager {
  pid_t pid = 0;
  std::string endpoint;
  int adminPort = 0;

  void spawn(const std::string& binary, const std::string& config, const std::string& log) {
    std::vector<std::string> args{binary, "run", "--config", config};
    std::vector<char*> argvp;
    for (auto& a : args) argvp.push_back(a.data());
    argvp.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int rc = posix_spawn(&pid, argvp[0], &actions, nullptr, argvp.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + binary);
  }
  // Waits (up to 60 s) for the link endpoint and the admin port in the log.
  void waitStarted(const std::string& log) {
    std::regex linkRe("event=link_listening endpoint=(tcp://127\\.0\\.0\\.1:\\d+)");
    std::regex adminRe("event=sm_started .*admin=127\\.0\\.0\\.1:(\\d+)");
    auto deadline = Clock::now() + std::chrono::seconds(60);
    endpoint.clear();
    adminPort = 0;
    while (Clock::now() < deadline) {
      std::string text = readFile(log);
      std::smatch m;
      if (endpoint.empty() && std::regex_search(text, m, linkRe)) endpoint = m[1];
      if (std::regex_search(text, m, adminRe)) adminPort = std::stoi(m[1]);
      if (!endpoint.empty() && adminPort != 0) return;
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = 0;
        throw std::runtime_error("session-manager exited at start; see " + log);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    throw std::runtime_error("session-manager did not start within 60 s; see " + log);
  }
  void stop(int signal) {
    if (pid == 0) return;
    ::kill(pid, signal);
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = 0;
  }
  ~Manager() { stop(SIGKILL); }
};

struct Setup {
  std::string work;
  net::CurveKeyPair serverKeys;
  std::vector<net::CurveKeyPair> edgeKeys;
  std::vector<std::string> supplierAddresses;
};

void writeOwnerOnly(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  std::filesystem::permissions(
      path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
      std::filesystem::perm_options::replace);
}

// Keys, allow-list and supplier key files in `work` (shared by both managers).
Setup makeSetup(const std::string& work, int suppliers) {
  Setup s;
  s.work = work;
  std::filesystem::create_directories(work);
  for (int i = 0; i < suppliers; ++i) {
    auto key =
        crypto::PrivateKey::fromSecret(util::asBytes("sm-bench-supplier-" + std::to_string(i)));
    writeOwnerOnly(work + "/supplier" + std::to_string(i) + ".key",
                   util::toHex(key.bytes()) + "\n");
    s.supplierAddresses.push_back(key.publicKey().address());
  }
  s.serverKeys = net::generateCurveKeyPair();
  net::writeCurveKeyPairFile(work + "/sm.key", s.serverKeys);
  std::vector<std::string> allow;
  for (int e = 0; e < kEdges; ++e) {
    s.edgeKeys.push_back(net::generateCurveKeyPair());
    allow.push_back(s.edgeKeys.back().publicKey);
  }
  net::writeCurveAllowListFile(work + "/edges.allow", allow);
  return s;
}

// A manager config over `chain` (a fixture file) and store `store`, with `suppliers` key files.
std::string writeConfig(const Setup& s, const std::string& name, int suppliers,
                        const std::string& chain, const std::string& store) {
  std::string path = s.work + "/" + name + ".yaml";
  std::ofstream out(path);
  out << "link:\n  bind: \"tcp://127.0.0.1:*\"\n"
      << "  server_key_file: " << s.work << "/sm.key\n"
      << "  allow_list_file: " << s.work << "/edges.allow\n"
      << "suppliers:\n";
  for (int i = 0; i < suppliers; ++i)
    out << "  - key_file: " << s.work << "/supplier" << i << ".key\n";
  out << "chain:\n  fixture: " << chain << "\n"
      << "store:\n  directory: " << store << "\n";
  if (const char* interval = std::getenv("SM_BENCH_TREE_COMMIT_MS"))
    out << "  tree_commit_interval_ms: " << interval << "\n";
  out
      << "admin:\n  listen: \"127.0.0.1:0\"\n"
      << "log:\n  level: info\n";
  return path;
}

std::string sessionJson(const Session& s, const std::vector<std::string>& suppliers) {
  std::string out = R"({"applicationAddress": ")" + s.header.applicationAddress +
                    R"(", "serviceId": ")" + s.header.serviceId + R"(", "sessionId": ")" +
                    s.header.sessionId + R"(", "start": )" +
                    std::to_string(s.header.sessionStartBlockHeight) + R"(, "end": )" +
                    std::to_string(s.header.sessionEndBlockHeight) + R"(, "suppliers": [)";
  for (std::size_t i = 0; i < suppliers.size(); ++i) {
    out += (i ? ", \"" : "\"") + suppliers[i] + "\"";
  }
  return out + R"(], "computeUnitsPerRelay": 1})";
}

struct RunResult {
  Clock::time_point started;
  double relaysPerS = 0;
  double p99Ms = 0;
  std::uint64_t acked = 0;
};

RunResult runEdges(zmq::context_t& ctx, const Setup& s, const std::string& endpoint,
                   std::uint64_t spool, std::size_t batchesPerEdge,
                   const std::function<zmq::message_t(int, std::size_t)>& batch, long paceUs) {
  std::vector<EdgeRun> results(kEdges);
  std::vector<std::thread> threads;
  std::vector<std::string> errors(kEdges);
  auto started = Clock::now();
  for (int e = 0; e < kEdges; ++e) {
    threads.emplace_back([&, e] {
      try {
        runEdge(
            ctx, endpoint, s.edgeKeys[e], s.serverKeys.publicKey, e, spool, batchesPerEdge,
            [&](std::size_t n) { return batch(e, n); }, paceUs, results[e]);
      } catch (const std::exception& ex) {
        errors[e] = ex.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& error : errors) {
    if (!error.empty()) throw std::runtime_error("edge: " + error);
  }
  double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::vector<double> all;
  RunResult r;
  r.started = started;
  for (auto& res : results) {
    all.insert(all.end(), res.ackMs.begin(), res.ackMs.end());
    r.acked += res.acked;
  }
  // The paced run's batches, to line up slow acks with a trace of the manager (perf's
  // CLOCK_MONOTONIC timestamps are the same clock as steady_clock here).
  const char* tracePath = std::getenv("SM_BENCH_ACK_TRACE");
  if (paceUs > 0 && tracePath != nullptr) {
    std::ofstream trace(tracePath);
    if (!trace) {
      throw std::runtime_error(std::string("SM_BENCH_ACK_TRACE: cannot write ") + tracePath);
    }
    trace << "# edge sent_monotonic_s ack_ms\n";
    for (int e = 0; e < kEdges; ++e) {
      for (std::size_t i = 0; i < results[e].ackMs.size(); ++i) {
        trace << e << ' ' << std::fixed << results[e].sentS[i] << ' ' << results[e].ackMs[i]
              << '\n';
      }
    }
  }
  std::sort(all.begin(), all.end());
  r.p99Ms = all.empty() ? 0 : all[std::min(all.size() - 1, all.size() * 99 / 100)];
  r.relaysPerS = static_cast<double>(r.acked) / seconds;
  return r;
}

// Throughput and ack latency: one session, one supplier, prebuilt batches.
void benchIngest(const std::string& binary, const Setup& s, unsigned perEdge) {
  Session session{{"pokt1benchapp", "svc", std::string(64, 'b'), 11, 20}, s.supplierAddresses[0]};
  std::string chain = s.work + "/chain-ingest.json";
  std::ofstream(chain) << R"({"chain": {"height": 15, "advance": false}, "sessions": [)"
                       << sessionJson(session, {session.supplier}) << "]}";
  std::string config = writeConfig(s, "sm-ingest", 1, chain, s.work + "/store-ingest");
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
  std::string log = s.work + "/sm-ingest.log";
  Manager manager;
  manager.spawn(binary, config, log);
  manager.waitStarted(log);
  double cpuBefore = cpuSeconds(manager.pid);
  double writtenBefore = writeBytes(manager.pid);
  zmq::context_t ctx(2);
  auto prebuilt = [&](int r) {
    return [&runs, r](int e, std::size_t n) {
      zmq::message_t copy;
      copy.copy(runs[r][e][n]);
      return copy;
    };
  };
  auto closed = runEdges(ctx, s, manager.endpoint, 1, perEdge / kBatch, prebuilt(0), 0);
  std::cout << "sm_ingest_relays_per_s=" << static_cast<long>(closed.relaysPerS) << "\n";
  std::cout << "sm_ack_p99_ms_closed_loop=" << closed.p99Ms << "\n";
  // An ack means durable in the journal; the tree thread adds the relays to the tries behind
  // it (up to 64 MiB behind). Until it has caught up, the next run would share the CPU with
  // that backlog: it waits, and the rate with the tries caught up is reported too.
  while (metricValue(httpGet(manager.adminPort, "/metrics"), "sm_tree_apply_queue_bytes") > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  double appliedSeconds = std::chrono::duration<double>(Clock::now() - closed.started).count();
  std::cout << "sm_ingest_applied_relays_per_s="
            << static_cast<long>(static_cast<double>(closed.acked) / appliedSeconds) << "\n";
  // Then the closed loop's tree is committed (at the next commit tick) and written by the trees
  // database: a burst of CPU and disk that belongs to the closed loop. The half-rate run starts
  // once it is durable, so that it measures the acks at half rate — its own tree commits
  // included — and not the tail of the run before it.
  for (auto deadline = Clock::now() + std::chrono::minutes(2);;) {
    std::string text = httpGet(manager.adminPort, "/metrics");
    double uncommitted = metricValue(text, "sm_trees_uncommitted");
    double pending = metricValue(text, "sm_tree_commits_pending");
    if (uncommitted == 0 && pending == 0) break;
    if (Clock::now() > deadline) {  // -1: the manager does not export it
      throw std::runtime_error("the closed loop's tree commit is not durable after 2 minutes: "
                               "sm_trees_uncommitted " + std::to_string(uncommitted) +
                               ", sm_tree_commits_pending " + std::to_string(pending));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Half the rate: each of the 4 edges sends one batch every 64 / (rate / 2 / 4) seconds.
  // SM_BENCH_PACED_RATE (relays/s) sets that rate instead, to compare builds at one load.
  double pacedRate = closed.relaysPerS / 2;
  if (const char* rate = std::getenv("SM_BENCH_PACED_RATE")) {
    pacedRate = std::atof(rate);
    if (!(pacedRate > 0)) {
      throw std::runtime_error(
          std::string("SM_BENCH_PACED_RATE: expected relays/s above 0, got '") + rate + "'");
    }
  }
  long paceUs = static_cast<long>(1e6 * kBatch / (pacedRate / kEdges));
  auto half = runEdges(ctx, s, manager.endpoint, 2, perEdge / kBatch, prebuilt(1), paceUs);
  double cpu = cpuSeconds(manager.pid) - cpuBefore;
  double written = writeBytes(manager.pid) - writtenBefore;
  std::cout << "sm_ack_p99_ms=" << half.p99Ms << "\n";
  std::cout << "sm_ack_p99_rate_relays_per_s=" << static_cast<long>(half.relaysPerS) << "\n";
  std::cout << "sm_rss_mib_after_ingest=" << static_cast<long>(procStatusMib(manager.pid, "VmRSS:"))
            << "\n";
  std::cout << "sm_cpu_us_per_relay=" << 1e6 * cpu / static_cast<double>(closed.acked + half.acked)
            << "\n";
  std::cout << "sm_disk_write_bytes_per_relay="
            << static_cast<long>(written / static_cast<double>(closed.acked + half.acked)) << "\n";
  std::cout << "sm_relays_ingested=" << closed.acked + half.acked << "\n";
  // Where an ack's time went, from the manager's own histograms (cumulative bucket counts).
  if (std::getenv("SM_BENCH_HISTOGRAMS")) {
    std::istringstream text(httpGet(manager.adminPort, "/metrics"));
    std::string line;
    while (std::getline(text, line)) {
      for (const char* name : {"sm_ingest_seconds", "sm_store_write_seconds", "sm_tree_commit_seconds",
                               "sm_tree_apply_waits_total"}) {
        if (line.rfind(name, 0) == 0) std::cerr << line << "\n";
      }
    }
  }
  manager.stop(SIGTERM);
}

// 1M relays over 10 suppliers × 100 sessions, then kill -9 and a timed restart.
void bench1m(const std::string& binary, const Setup& s, std::size_t relays) {
  constexpr int kSuppliers = 10, kSessions = 100;
  std::vector<Session> pairs;  // (session k, supplier i) at k * kSuppliers + i
  std::string chain = s.work + "/chain-1m.json";
  {
    std::ofstream out(chain);
    out << R"({"chain": {"height": 15, "advance": false}, "sessions": [)";
    for (int k = 0; k < kSessions; ++k) {
      Session session{
          {"pokt1benchapp" + std::to_string(k), "svc",
           util::toHex(crypto::sha256(util::asBytes("session-" + std::to_string(k)))), 11, 20},
          ""};
      out << (k ? ", " : "") << sessionJson(session, s.supplierAddresses);
      for (int i = 0; i < kSuppliers; ++i) {
        session.supplier = s.supplierAddresses[static_cast<std::size_t>(i)];
        pairs.push_back(session);
      }
    }
    out << "]}";
  }
  std::string config = writeConfig(s, "sm-1m", kSuppliers, chain, s.work + "/store-1m");
  std::string log = s.work + "/sm-1m.log";
  Manager manager;
  manager.spawn(binary, config, log);
  manager.waitStarted(log);
  zmq::context_t ctx(2);
  std::size_t perEdge = relays / kBatch / kEdges;
  // Batch n of edge e goes to tree (n·4 + e) mod 1000: every tree gets relays from every edge.
  auto batch = [&](int e, std::size_t n) {
    const Session& session = pairs[(n * kEdges + static_cast<std::size_t>(e)) % pairs.size()];
    return batchFrame(session, e, 1 + n * kBatch, kBatch, 1000);
  };
  auto run = runEdges(ctx, s, manager.endpoint, 7, perEdge, batch, 0);
  // Wait until the trees are committed: no new commit round for 3 commit intervals (a dirty tree
  // is committed within one).
  double commits = -1;
  auto lastChange = Clock::now();
  auto deadline = Clock::now() + std::chrono::seconds(300);
  while (Clock::now() < deadline && Clock::now() - lastChange < std::chrono::seconds(6)) {
    double now =
        metricValue(httpGet(manager.adminPort, "/metrics"), "sm_tree_commit_seconds_count");
    if (now != commits) {
      commits = now;
      lastChange = Clock::now();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  std::cout << "sm_1m_ingest_relays_per_s=" << static_cast<long>(run.relaysPerS) << "\n";
  std::cout << "sm_rss_mib_1m_relays=" << static_cast<long>(procStatusMib(manager.pid, "VmRSS:"))
            << "\n";
  std::cout << "sm_peak_rss_mib_1m_relays="
            << static_cast<long>(procStatusMib(manager.pid, "VmHWM:")) << "\n";
  std::cout << "sm_1m_relays=" << run.acked << "\n";

  // kill -9, restart, and one edge's hello answered with everything it sent.
  manager.stop(SIGKILL);
  auto restarted = Clock::now();
  manager.spawn(binary, config, log);
  manager.waitStarted(log);
  zmq::socket_t socket(ctx, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  net::configureCurveClient(socket, s.edgeKeys[0], s.serverKeys.publicKey);
  socket.connect(manager.endpoint);
  socket.send(helloFrame(0, 7), zmq::send_flags::none);
  std::int64_t through = recvAck(socket, 60000);
  double ready = std::chrono::duration<double>(Clock::now() - restarted).count();
  if (through != static_cast<std::int64_t>(perEdge * kBatch)) {
    throw std::runtime_error("after the restart, hello answered throughSeq " +
                             std::to_string(through) + ", not " + std::to_string(perEdge * kBatch));
  }
  std::cout << "sm_restart_ready_s_1m=" << ready << "\n";
  manager.stop(SIGTERM);
}

// One tree of `relays` leaves through the SessionStore, then the time to its root.
void benchClaimRoot(const std::string& dir, std::size_t relays) {
  std::FILE* quiet = std::fopen("/dev/null", "w");
  util::LogSink log(quiet, util::LogLevel::warn);
  util::MetricsRegistry metrics;
  sm::SessionStore store(dir, log, metrics);
  Session session{{"pokt1benchapp", "svc", std::string(64, 'c'), 11, 20}, "pokt1benchsupplier"};
  sm::TreeInfo info;
  info.supplierOperatorAddress = session.supplier;
  info.header = session.header;
  info.computeUnitsPerRelay = 1;
  info.claimWindowOpen = 22;
  info.proofWindowClose = 30;
  std::string tree = sm::treeKey(session.supplier, session.header.sessionId);
  util::Bytes bytes = relayBytes(session, "claim");
  constexpr std::size_t kGroup = 1024;
  sm::EdgeKey edge{"bench", 1};
  std::size_t groups = 0;
  sm::WriteSet pending;
  for (std::size_t n = 0; n < relays; ++n) {
    // Unique bytes per relay: the relay's number over its last 8 bytes.
    std::memcpy(bytes.data() + bytes.size() - 8, &n, 8);
    pending.addRelay(info, crypto::sha256(bytes), bytes, 1);
    if (pending.relayCount() == kGroup || n + 1 == relays) {
      pending.setHighWater(edge, n + 1);
      store.write(pending);
      if (++groups % 64 == 32) store.commitTrees();  // not right before the end
    }
  }
  // The tree thread adds the relays behind the writes (at most 64 MiB behind): first until it
  // has caught up, as at a claim whose last relays came a moment before, then root().
  auto written = Clock::now();
  while (metrics.render().find("\nsm_tree_apply_queue_bytes 0\n") == std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  auto started = Clock::now();
  auto root = store.root(tree);
  double rootMs = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  double afterWriteMs = std::chrono::duration<double, std::milli>(Clock::now() - written).count();
  if (!root || smst::readBE64(root->data() + 40) != relays) {
    throw std::runtime_error("the claim tree's root does not count every relay");
  }
  // The worst case: the store applies a tree's queued updates once 8,192 are queued, so up to
  // 8,191 can be left for root().
  constexpr std::size_t kUnapplied = 8191;
  for (std::size_t n = relays; n < relays + kUnapplied; ++n) {
    std::memcpy(bytes.data() + bytes.size() - 8, &n, 8);
    pending.addRelay(info, crypto::sha256(bytes), bytes, 1);
  }
  pending.setHighWater(edge, relays + kUnapplied);
  store.write(pending);
  started = Clock::now();
  root = store.root(tree);
  double worstMs = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  if (!root || smst::readBE64(root->data() + 40) != relays + kUnapplied) {
    throw std::runtime_error("the claim tree's root does not count every relay");
  }
  started = Clock::now();
  store.commitTrees();
  double commitMs = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  std::cout << "sm_claim_root_ms_1m=" << rootMs << "\n";
  std::cout << "sm_claim_root_ms_1m_after_write=" << afterWriteMs << "\n";
  std::cout << "sm_claim_root_ms_1m_worst=" << worstMs << "\n";
  std::cout << "sm_claim_commit_ms_1m=" << commitMs << "\n";
  std::fclose(quiet);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: sm-bench SESSION_MANAGER WORK_DIR [RELAYS_PER_EDGE [RELAYS_1M]]\n";
    return 2;
  }
  std::cout.setf(std::ios::unitbuf);  // each figure as soon as it is known
  std::string manager = argv[1];
  std::string work = argv[2];
  unsigned perEdge = argc > 3 ? static_cast<unsigned>(std::stoul(argv[3])) : 25600;
  perEdge -= perEdge % kBatch;
  std::size_t relays1m = argc > 4 ? std::stoul(argv[4]) : std::size_t{1} << 20;
  relays1m -= relays1m % (kBatch * kEdges);
  try {
    Setup setup = makeSetup(work, 10);
    benchIngest(manager, setup, perEdge);
    if (relays1m > 0) {
      bench1m(manager, setup, relays1m);
      benchClaimRoot(work + "/store-claim", relays1m);
    }
  } catch (const std::exception& e) {
    std::cerr << "sm-bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
