// sm-double: a stand-in for the session manager's end of the link, for tests of the edge.
//
// It speaks the real link schema over a ZeroMQ ROUTER (CURVE with an allow-list, or plain text on
// loopback), and keeps the promises the real manager makes (docs/link.md, docs/architecture.md §5):
//   - a minedRelays batch is acked only after its relays are written to <out>/received.log and
//     fsynced;
//   - each (edge, spool) has a persistent high-water mark: relays at or below it are duplicates;
//     relays whose hash was already received are duplicates too; both are acked, not recorded
//     again;
//   - a relay whose hash is not sha256(relayBytes) is rejected with a reason;
//   - a sessionQuery is answered from a JSON fixture, or refused with sessionQueryFailed; each
//     session carries the chain's shared params as its window and start params, with the
//     fixture's per-session "windowParams" / "startParams" overrides, and the relay meter's
//     "budget" (application stake...) when the fixture gives one;
//   - chainState is pushed after every hello and every --chain-interval-ms;
//   - garbage on the link is logged and dropped; it never stops the program.
// received.log lines (space-separated; the log is the report tests read):
//   R <edge> <spool> <seq> <relay hash hex> <compute units> <session id>   accepted
//   H <edge> <spool> <seq> <relay hash hex>                                duplicate by hash
//   X <edge> <spool> <seq> <reason>                                        rejected
//
// Usage:
//   sm-double serve --bind tcp://127.0.0.1:PORT --out DIR [--fixture FILE]
//                   (--plaintext | --server-key FILE --allow-list FILE)
//                   [--port-file FILE] [--chain-interval-ms N] [--no-session-answers]
//                   [--exit-after-durable-batches N]
//   sm-double keygen KEY_PAIR_FILE PUBLIC_KEY_FILE
//   sm-double report DIR      prints accepted=, unique=, duplicates=, rejected=

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <capnp/message.h>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <unistd.h>
#include <zmq.hpp>

#include "common/crypto/hash.h"
#include "common/net/curve_keys.h"
#include "common/net/frame.h"
#include "common/net/link_socket.h"
#include "common/net/zap.h"
#include "common/util/hex.h"
#include "common/util/log.h"
#include "edge_link.capnp.h"

namespace {

using pocket::util::LogLevel;
using pocket::util::LogLine;
using pocket::util::LogSink;

volatile std::sig_atomic_t stopRequested = 0;
void onSignal(int) {
  stopRequested = 1;
}

struct Options {
  std::string bind;
  std::string out;
  std::string fixture;
  bool plaintext = false;
  std::string serverKey;
  std::string allowList;
  std::string portFile;
  int chainIntervalMs = 200;
  bool answerSessions = true;
  long exitAfterDurableBatches = -1;
};

struct FixtureSession {
  std::string app, service, sessionId;
  std::int64_t start = 0, end = 0;
  std::vector<std::string> suppliers;
  std::vector<pocket::util::Bytes> ringKeys;
  std::uint64_t computeUnits = 1;
  pocket::util::Bytes target;
  // Overrides of the chain's shared params for this session's windows (at its end) and its
  // pricing (at its start); keys absent here take the chain's value.
  nlohmann::json windowParams = nlohmann::json::object();
  nlohmann::json startParams = nlohmann::json::object();
  // The relay meter's facts ("budget": {applicationStakeUpokt, perSessionSpendLimitUpokt,
  // overservicingBonusMultiplier}); null: not sent, as an older manager.
  nlohmann::json budget;
};

struct Fixture {
  std::int64_t height = 1;
  bool advance = true;
  nlohmann::json sharedParams = nlohmann::json::object();
  std::vector<FixtureSession> sessions;
};

pocket::util::Bytes hexOrThrow(const std::string& hex) {
  auto bytes = pocket::util::fromHex(hex);
  if (!bytes.ok()) throw std::runtime_error("fixture: bad hex: " + bytes.error().message);
  return *bytes;
}

Fixture loadFixture(const std::string& path) {
  Fixture fixture;
  if (path.empty()) return fixture;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open fixture " + path);
  auto json = nlohmann::json::parse(in);
  if (json.contains("chain")) {
    const auto& chain = json.at("chain");
    fixture.height = chain.value("height", std::int64_t{1});
    fixture.advance = chain.value("advance", true);
    if (chain.contains("sharedParams")) fixture.sharedParams = chain.at("sharedParams");
  }
  for (const auto& s : json.value("sessions", nlohmann::json::array())) {
    FixtureSession session;
    session.app = s.at("applicationAddress");
    session.service = s.at("serviceId");
    session.sessionId = s.at("sessionId");
    session.start = s.at("start");
    session.end = s.at("end");
    session.suppliers = s.at("suppliers").get<std::vector<std::string>>();
    for (const auto& key : s.at("ringPubKeys")) session.ringKeys.push_back(hexOrThrow(key));
    session.computeUnits = s.value("computeUnitsPerRelay", std::uint64_t{1});
    session.target = hexOrThrow(s.value("difficultyTarget", std::string(64, 'f')));
    if (s.contains("windowParams")) session.windowParams = s.at("windowParams");
    if (s.contains("startParams")) session.startParams = s.at("startParams");
    if (s.contains("budget")) session.budget = s.at("budget");
    fixture.sessions.push_back(std::move(session));
  }
  return fixture;
}

struct EdgeKey {
  std::string edgeId;
  std::uint64_t spoolId = 0;
  auto operator<=>(const EdgeKey&) const = default;
};

// The durable part: received.log and what it implies.
class Ledger {
 public:
  Ledger(const std::string& dir, LogSink& log) : log_(log) {
    path_ = dir + "/received.log";
    recover();
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd_ < 0) throw std::runtime_error("cannot open " + path_);
  }
  ~Ledger() { ::close(fd_); }
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  std::uint64_t highWater(const EdgeKey& key) const {
    auto it = highWater_.find(key);
    return it == highWater_.end() ? 0 : it->second;
  }
  bool seen(const std::string& hashHex) const { return hashes_.count(hashHex) != 0; }
  // Buffers one line; commit() makes the buffered lines durable.
  void add(const EdgeKey& key, std::uint64_t seq, const std::string& line,
           const std::string& hash) {
    pending_ += line;
    pending_ += '\n';
    auto& hw = highWater_[key];
    hw = std::max(hw, seq);
    if (!hash.empty()) hashes_.insert(hash);
  }
  void commit() {
    if (pending_.empty()) return;
    const char* p = pending_.data();
    std::size_t left = pending_.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error("write to received.log failed");
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    if (::fdatasync(fd_) != 0) throw std::runtime_error("fdatasync of received.log failed");
    pending_.clear();
  }

 private:
  void recover() {
    std::ifstream in(path_, std::ios::binary);
    if (!in) return;
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::size_t complete = content.rfind('\n');
    std::size_t keep = complete == std::string::npos ? 0 : complete + 1;
    if (keep < content.size()) {
      LogLine(log_, LogLevel::warn, "ledger_tail_truncated").kv("bytes", content.size() - keep);
      if (::truncate(path_.c_str(), static_cast<off_t>(keep)) != 0) {
        throw std::runtime_error("cannot truncate " + path_);
      }
    }
    std::istringstream lines(content.substr(0, keep));
    std::string line;
    std::size_t count = 0;
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::string kind, edge, hash;
      std::uint64_t spool = 0, seq = 0;
      fields >> kind >> edge >> spool >> seq >> hash;
      auto& hw = highWater_[EdgeKey{edge, spool}];
      hw = std::max(hw, seq);
      if (kind == "R" || kind == "H") hashes_.insert(hash);
      ++count;
    }
    LogLine(log_, LogLevel::info, "ledger_recovered")
        .kv("lines", count)
        .kv("edges", highWater_.size());
  }

  LogSink& log_;
  std::string path_;
  int fd_ = -1;
  std::map<EdgeKey, std::uint64_t> highWater_;
  std::set<std::string> hashes_;
  std::string pending_;
};

class Double {
 public:
  Double(const Options& options, LogSink& log)
      : options_(options),
        log_(log),
        fixture_(loadFixture(options.fixture)),
        ledger_(options.out, log),
        context_(1) {
    if (options_.plaintext) {
      pocket::net::requireLoopbackForPlaintext(options_.bind);
    } else {
      auto keys = pocket::net::loadCurveKeyPairFile(options_.serverKey);
      zap_.emplace(context_, pocket::net::loadCurveAllowListFile(options_.allowList), log_);
      router_ = zmq::socket_t(context_, zmq::socket_type::router);
      pocket::net::configureCurveServer(router_, keys);
    }
    if (!router_) router_ = zmq::socket_t(context_, zmq::socket_type::router);
    router_.set(zmq::sockopt::linger, 0);
    router_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(pocket::net::kMaxFrameBytes));
    router_.set(zmq::sockopt::router_mandatory, 1);
    router_.bind(options_.bind);
    std::string endpoint = router_.get(zmq::sockopt::last_endpoint);
    if (!options_.portFile.empty()) {
      std::ofstream(options_.portFile + ".tmp") << endpoint.substr(endpoint.rfind(':') + 1) << "\n";
      std::rename((options_.portFile + ".tmp").c_str(), options_.portFile.c_str());
    }
    LogLine(log_, LogLevel::info, "sm_double_listening")
        .kv("endpoint", endpoint)
        .kv("encryption", options_.plaintext ? "none" : "curve");
  }

  void run() {
    auto nextTick = std::chrono::steady_clock::now();
    while (stopRequested == 0) {
      zmq::pollitem_t item{router_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(20));
      if ((item.revents & ZMQ_POLLIN) != 0) receive();
      auto now = std::chrono::steady_clock::now();
      if (now >= nextTick) {
        nextTick = now + std::chrono::milliseconds(options_.chainIntervalMs);
        if (fixture_.advance) ++fixture_.height;
        for (const auto& [peer, key] : peers_) sendChainState(peer);
      }
      for (const auto& peer : gone_) peers_.erase(peer);
      gone_.clear();
    }
    LogLine(log_, LogLevel::info, "sm_double_stopped");
  }

 private:
  void receive() {
    while (true) {
      zmq::message_t id;
      if (!router_.recv(id, zmq::recv_flags::dontwait)) return;
      std::vector<zmq::message_t> parts;
      for (bool more = id.more(); more;) {
        zmq::message_t part;
        (void)router_.recv(part);
        more = part.more();
        parts.push_back(std::move(part));
      }
      std::string peer(id.data<char>(), id.size());
      if (parts.size() != 1) {
        garbage(peer, "message of " + std::to_string(parts.size()) + " frames, not 1");
        continue;
      }
      handle(peer, parts[0]);
    }
  }

  void garbage(const std::string& peer, const std::string& reason) {
    ++garbage_;
    LogLine(log_, LogLevel::warn, "link_garbage")
        .kv("peer", pocket::util::toHex(pocket::util::asBytes(peer)))
        .kv("count", garbage_)
        .kv("reason", reason);
  }

  void handle(const std::string& peer, const zmq::message_t& frame) {
    auto decoded =
        pocket::net::decodeFrame(pocket::util::ByteSpan(frame.data<std::uint8_t>(), frame.size()));
    if (!decoded.ok()) {
      garbage(peer, decoded.error().message);
      return;
    }
    auto status = pocket::net::guardDecode([&]() -> pocket::util::Status {
      auto message = (*decoded)->root<pocket::link::EdgeMessage>();
      switch (message.which()) {
        case pocket::link::EdgeMessage::HELLO:
          return onHello(peer, frame, message.getHello());
        case pocket::link::EdgeMessage::MINED_RELAYS:
          return onMinedRelays(peer, message.getMinedRelays());
        case pocket::link::EdgeMessage::SESSION_QUERY:
          return onSessionQuery(peer, message.getSessionQuery());
      }
      return pocket::util::makeError("unknown_message", "edge message of an unknown kind");
    });
    if (!status.ok()) garbage(peer, status.error().code + ": " + status.error().message);
  }

  pocket::util::Status onHello(const std::string& peer, const zmq::message_t& frame,
                               pocket::link::Hello::Reader hello) {
    EdgeKey key{hello.getEdgeId().cStr(), hello.getSpoolId()};
    if (key.edgeId.empty()) return pocket::util::makeError("bad_hello", "hello without an edge id");
    peers_[peer] = key;
    std::string user = pocket::net::peerUserId(frame);
    LogLine(log_, LogLevel::info, "edge_hello")
        .kv("edge_id", key.edgeId)
        .kv("spool_id", key.spoolId)
        .kv("resume_seq", hello.getResumeSeq())
        .kv("version", hello.getVersion().cStr())
        .kv("key", user.empty() ? std::string("none") : pocket::net::keyFingerprint(user))
        .kv("high_water", ledger_.highWater(key));
    sendAck(peer, ledger_.highWater(key), {});
    sendChainState(peer);
    return pocket::util::Ok{};
  }

  pocket::util::Status onMinedRelays(const std::string& peer,
                                     pocket::link::MinedRelays::Reader batch) {
    auto edge = peers_.find(peer);
    if (edge == peers_.end()) {
      return pocket::util::makeError("batch_before_hello", "minedRelays from a peer without hello");
    }
    const EdgeKey& key = edge->second;
    std::uint64_t first = batch.getFirstSeq();
    auto relays = batch.getRelays();
    if (first == 0 || relays.size() == 0) {
      return pocket::util::makeError("bad_batch", "empty batch or firstSeq 0");
    }
    std::vector<std::pair<std::uint64_t, std::string>> rejected;
    std::uint64_t accepted = 0;
    for (unsigned i = 0; i < relays.size(); ++i) {
      std::uint64_t seq = first + i;
      if (seq <= ledger_.highWater(key)) continue;  // durable already: a replay
      auto relay = relays[i];
      auto hash = relay.getRelayHash();
      auto bytes = relay.getRelayBytes();
      auto computed = pocket::crypto::sha256(pocket::util::ByteSpan(bytes.begin(), bytes.size()));
      std::string hashHex = pocket::util::toHex(pocket::util::ByteSpan(hash.begin(), hash.size()));
      std::string edgeSpool =
          key.edgeId + " " + std::to_string(key.spoolId) + " " + std::to_string(seq);
      if (hash.size() != 32 || !std::equal(computed.begin(), computed.end(), hash.begin())) {
        rejected.emplace_back(seq, "relay_hash_mismatch");
        ledger_.add(key, seq, "X " + edgeSpool + " relay_hash_mismatch", "");
        continue;
      }
      if (ledger_.seen(hashHex)) {
        ledger_.add(key, seq, "H " + edgeSpool + " " + hashHex, hashHex);
        continue;
      }
      std::string sessionId = relay.getSessionHeader().getSessionId().cStr();
      if (sessionId.empty()) sessionId = "-";
      ledger_.add(key, seq,
                  "R " + edgeSpool + " " + hashHex + " " + std::to_string(relay.getComputeUnits()) +
                      " " + sessionId,
                  hashHex);
      ++accepted;
    }
    ledger_.commit();  // durable before the ack
    ++durableBatches_;
    if (options_.exitAfterDurableBatches >= 0 &&
        durableBatches_ >= options_.exitAfterDurableBatches) {
      LogLine(log_, LogLevel::warn, "sm_double_exit_before_ack").kv("batches", durableBatches_);
      std::fflush(nullptr);
      ::_exit(3);
    }
    std::uint64_t through = std::max(ledger_.highWater(key), first + relays.size() - 1);
    LogLine(log_, LogLevel::debug, "batch_durable")
        .kv("edge_id", key.edgeId)
        .kv("first_seq", first)
        .kv("relays", relays.size())
        .kv("accepted", accepted)
        .kv("rejected", rejected.size());
    sendAck(peer, through, rejected);
    return pocket::util::Ok{};
  }

  pocket::util::Status onSessionQuery(const std::string& peer,
                                      pocket::link::SessionQuery::Reader query) {
    if (!options_.answerSessions) return pocket::util::Ok{};
    std::string app = query.getApplicationAddress().cStr();
    std::string service = query.getServiceId().cStr();
    std::int64_t height = query.getBlockHeight();
    capnp::MallocMessageBuilder builder;
    auto message = builder.initRoot<pocket::link::ManagerMessage>();
    const FixtureSession* found = nullptr;
    for (const auto& s : fixture_.sessions) {
      if (s.app == app && s.service == service && s.start <= height && height <= s.end) found = &s;
    }
    if (found == nullptr) {
      auto failed = message.initSessionQueryFailed();
      failed.setQueryId(query.getQueryId());
      failed.setApplicationAddress(app);
      failed.setServiceId(service);
      failed.setBlockHeight(height);
      failed.setReason("no session for this application and service at this height");
    } else {
      auto info = message.initSessionInfo();
      info.setQueryId(query.getQueryId());
      auto header = info.initHeader();
      header.setApplicationAddress(found->app);
      header.setServiceId(found->service);
      header.setSessionId(found->sessionId);
      header.setSessionStartBlockHeight(found->start);
      header.setSessionEndBlockHeight(found->end);
      auto suppliers =
          info.initSupplierOperatorAddresses(static_cast<unsigned>(found->suppliers.size()));
      for (unsigned i = 0; i < found->suppliers.size(); ++i) suppliers.set(i, found->suppliers[i]);
      auto keys = info.initRingPubKeys(static_cast<unsigned>(found->ringKeys.size()));
      for (unsigned i = 0; i < found->ringKeys.size(); ++i) {
        keys.set(i, kj::arrayPtr(found->ringKeys[i].data(), found->ringKeys[i].size()));
      }
      info.setComputeUnitsPerRelay(found->computeUnits);
      info.setDifficultyTarget(kj::arrayPtr(found->target.data(), found->target.size()));
      setParams(info.initWindowParams(), found->windowParams);
      setParams(info.initStartParams(), found->startParams);
      if (found->budget.is_object()) {
        auto budget = info.initBudget();
        budget.setApplicationStakeUpokt(
            found->budget.value("applicationStakeUpokt", std::uint64_t{0}));
        budget.setPerSessionSpendLimitUpokt(
            found->budget.value("perSessionSpendLimitUpokt", std::uint64_t{0}));
        budget.setOverservicingBonusMultiplier(
            found->budget.value("overservicingBonusMultiplier", std::uint64_t{1}));
      }
    }
    send(peer, builder);
    LogLine(log_, LogLevel::info, "session_query")
        .kv("application", app)
        .kv("service", service)
        .kv("height", height)
        .kv("answer", found == nullptr ? "not_found" : found->sessionId);
    return pocket::util::Ok{};
  }

  void sendAck(const std::string& peer, std::uint64_t through,
               const std::vector<std::pair<std::uint64_t, std::string>>& rejected) {
    capnp::MallocMessageBuilder builder;
    auto ack = builder.initRoot<pocket::link::ManagerMessage>().initAck();
    ack.setThroughSeq(through);
    auto list = ack.initRejected(static_cast<unsigned>(rejected.size()));
    for (unsigned i = 0; i < rejected.size(); ++i) {
      list[i].setSeq(rejected[i].first);
      list[i].setReason(rejected[i].second);
    }
    send(peer, builder);
  }

  void sendChainState(const std::string& peer) {
    capnp::MallocMessageBuilder builder;
    auto state = builder.initRoot<pocket::link::ManagerMessage>().initChainState();
    state.setHeight(fixture_.height);
    auto hash = pocket::crypto::sha256(pocket::util::asBytes(std::to_string(fixture_.height)));
    state.setBlockHash(kj::arrayPtr(hash.data(), hash.size()));
    state.setBlockTimeUnixMs(std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count());
    setParams(state.initSharedParams(), nlohmann::json::object());
    send(peer, builder);
  }

  // The fixture's chain params (poktroll genesis defaults for keys it does not set), with
  // `overrides` on top.
  void setParams(pocket::link::SharedParams::Builder p, const nlohmann::json& overrides) const {
    auto get = [&](const char* key, std::uint64_t genesis) {
      if (overrides.contains(key)) return overrides.at(key).get<std::uint64_t>();
      return fixture_.sharedParams.value(key, genesis);
    };
    p.setNumBlocksPerSession(get("numBlocksPerSession", 10));
    p.setGracePeriodEndOffsetBlocks(get("gracePeriodEndOffsetBlocks", 1));
    p.setClaimWindowOpenOffsetBlocks(get("claimWindowOpenOffsetBlocks", 1));
    p.setClaimWindowCloseOffsetBlocks(get("claimWindowCloseOffsetBlocks", 4));
    p.setProofWindowOpenOffsetBlocks(get("proofWindowOpenOffsetBlocks", 0));
    p.setProofWindowCloseOffsetBlocks(get("proofWindowCloseOffsetBlocks", 4));
    p.setComputeUnitsToTokensMultiplier(get("computeUnitsToTokensMultiplier", 42000000));
    p.setComputeUnitCostGranularity(get("computeUnitCostGranularity", 1000000));
    p.setSessionGridAnchorHeight(get("sessionGridAnchorHeight", 0));
    p.setSessionNumberAtAnchor(get("sessionNumberAtAnchor", 0));
  }

  void send(const std::string& peer, capnp::MessageBuilder& message) {
    try {
      router_.send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      router_.send(pocket::net::encodeFrame(message), zmq::send_flags::dontwait);
    } catch (const zmq::error_t& e) {
      // EHOSTUNREACH: the peer went away; it says hello again when it is back. Forgotten after
      // the current loop over peers_.
      if (gone_.insert(peer).second) {
        LogLine(log_, LogLevel::info, "peer_gone").kv("reason", e.what());
      }
    }
  }

  const Options& options_;
  LogSink& log_;
  Fixture fixture_;
  Ledger ledger_;
  zmq::context_t context_;
  std::optional<pocket::net::ZapAuthenticator> zap_;
  zmq::socket_t router_;
  std::map<std::string, EdgeKey> peers_;  // routing id -> the edge that said hello on it
  std::set<std::string> gone_;            // peers that could not be reached, dropped after a loop
  long durableBatches_ = 0;
  std::uint64_t garbage_ = 0;
};

int usage(std::ostream& out = std::cerr, int status = 2) {
  out
      << "usage: sm-double serve --bind EP --out DIR [--fixture F] (--plaintext | --server-key F "
         "--allow-list F) [--port-file F] [--chain-interval-ms N] [--no-session-answers] "
         "[--exit-after-durable-batches N]\n"
         "       sm-double keygen KEY_PAIR_FILE PUBLIC_KEY_FILE\n"
         "       sm-double report DIR\n"
         "A stand-in for the session manager's end of the link: acks mined relays once they are\n"
         "in DIR/received.log, answers session queries from the fixture, pushes chain state.\n";
  return status;
}

int report(const std::string& dir) {
  std::ifstream in(dir + "/received.log");
  std::string line;
  std::uint64_t accepted = 0, duplicates = 0, rejected = 0;
  std::set<std::string> unique;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string kind, edge, spool, seq, hash;
    fields >> kind >> edge >> spool >> seq >> hash;
    if (kind == "R") {
      ++accepted;
      unique.insert(hash);
    } else if (kind == "H") {
      ++duplicates;
    } else if (kind == "X") {
      ++rejected;
    }
  }
  std::cout << "accepted=" << accepted << "\nunique=" << unique.size()
            << "\nduplicates=" << duplicates << "\nrejected=" << rejected << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage();
  if (args[0] == "--help" || args[0] == "-h") return usage(std::cout, 0);
  try {
    if (args[0] == "keygen" && args.size() == 3) {
      auto keys = pocket::net::generateCurveKeyPair();
      pocket::net::writeCurveKeyPairFile(args[1], keys);
      pocket::net::writeCurvePublicKeyFile(args[2], keys.publicKey);
      return 0;
    }
    if (args[0] == "report" && args.size() == 2) return report(args[1]);
    if (args[0] != "serve") return usage();
    Options options;
    for (std::size_t i = 1; i < args.size(); ++i) {
      auto value = [&]() -> std::string {
        if (i + 1 >= args.size()) throw std::invalid_argument(args[i] + " needs a value");
        return args[++i];
      };
      const std::string& a = args[i];
      if (a == "--bind")
        options.bind = value();
      else if (a == "--out")
        options.out = value();
      else if (a == "--fixture")
        options.fixture = value();
      else if (a == "--plaintext")
        options.plaintext = true;
      else if (a == "--server-key")
        options.serverKey = value();
      else if (a == "--allow-list")
        options.allowList = value();
      else if (a == "--port-file")
        options.portFile = value();
      else if (a == "--chain-interval-ms")
        options.chainIntervalMs = std::stoi(value());
      else if (a == "--no-session-answers")
        options.answerSessions = false;
      else if (a == "--exit-after-durable-batches")
        options.exitAfterDurableBatches = std::stol(value());
      else
        throw std::invalid_argument("unknown option " + a);
    }
    if (options.bind.empty() || options.out.empty()) return usage();
    std::signal(SIGTERM, onSignal);
    std::signal(SIGINT, onSignal);
    LogSink log(stderr, LogLevel::debug);
    Double server(options, log);
    server.run();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "sm-double: " << e.what() << "\n";
    return 1;
  }
}
