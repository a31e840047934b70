#include "session-manager/link_server.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <capnp/message.h>

#include "common/net/curve_keys.h"
#include "common/net/frame.h"
#include "common/net/link_socket.h"
#include "common/util/hex.h"
#include "common/util/thread_name.h"
#include "common/util/thread_priority.h"
#include "edge_link.capnp.h"

namespace pocket::sm {

namespace {

void setParams(link::SharedParams::Builder b, const protocol::SharedParams& p) {
  b.setNumBlocksPerSession(p.numBlocksPerSession);
  b.setGracePeriodEndOffsetBlocks(p.gracePeriodEndOffsetBlocks);
  b.setClaimWindowOpenOffsetBlocks(p.claimWindowOpenOffsetBlocks);
  b.setClaimWindowCloseOffsetBlocks(p.claimWindowCloseOffsetBlocks);
  b.setProofWindowOpenOffsetBlocks(p.proofWindowOpenOffsetBlocks);
  b.setProofWindowCloseOffsetBlocks(p.proofWindowCloseOffsetBlocks);
  b.setComputeUnitsToTokensMultiplier(p.computeUnitsToTokensMultiplier);
  b.setComputeUnitCostGranularity(p.computeUnitCostGranularity);
  b.setSessionGridAnchorHeight(p.sessionGridAnchorHeight);
  b.setSessionNumberAtAnchor(p.sessionNumberAtAnchor);
}

std::string peerHex(const std::string& peer) {
  return util::toHex(util::asBytes(peer));
}

}  // namespace

zmq::message_t encodeChainState(const ChainHead& head) {
  capnp::MallocMessageBuilder builder;
  auto state = builder.initRoot<link::ManagerMessage>().initChainState();
  state.setHeight(head.height);
  state.setBlockHash(kj::arrayPtr(head.blockHash.data(), head.blockHash.size()));
  state.setBlockTimeUnixMs(head.blockTimeUnixMs);
  setParams(state.initSharedParams(), head.sharedParams);
  return net::encodeFrame(builder);
}

zmq::message_t encodeSessionInfo(const SessionFacts& facts, std::uint64_t queryId) {
  capnp::MallocMessageBuilder builder;
  auto info = builder.initRoot<link::ManagerMessage>().initSessionInfo();
  info.setQueryId(queryId);
  auto header = info.initHeader();
  header.setApplicationAddress(facts.header.applicationAddress);
  header.setServiceId(facts.header.serviceId);
  header.setSessionId(facts.header.sessionId);
  header.setSessionStartBlockHeight(facts.header.sessionStartBlockHeight);
  header.setSessionEndBlockHeight(facts.header.sessionEndBlockHeight);
  auto suppliers =
      info.initSupplierOperatorAddresses(static_cast<unsigned>(facts.supplierOperatorAddresses.size()));
  for (unsigned i = 0; i < facts.supplierOperatorAddresses.size(); ++i) {
    suppliers.set(i, facts.supplierOperatorAddresses[i]);
  }
  auto keys = info.initRingPubKeys(static_cast<unsigned>(facts.ringPubKeys.size()));
  for (unsigned i = 0; i < facts.ringPubKeys.size(); ++i) {
    keys.set(i, kj::arrayPtr(facts.ringPubKeys[i].data(), facts.ringPubKeys[i].size()));
  }
  info.setComputeUnitsPerRelay(facts.computeUnitsPerRelay);
  info.setDifficultyTarget(kj::arrayPtr(facts.difficultyTarget.data(), facts.difficultyTarget.size()));
  setParams(info.initWindowParams(), facts.windowParams);
  setParams(info.initStartParams(), facts.startParams);
  if (facts.budget) {
    auto budget = info.initBudget();
    budget.setApplicationStakeUpokt(facts.budget->applicationStakeUpokt);
    budget.setPerSessionSpendLimitUpokt(facts.budget->perSessionSpendLimitUpokt);
    budget.setOverservicingBonusMultiplier(facts.budget->overservicingBonusMultiplier);
  }
  return net::encodeFrame(builder);
}

namespace {
// The name libzmq gives its I/O threads ("ZMQbg/IO/0", …).
constexpr std::string_view kZmqIoThreadName = "ZMQbg/IO";
}  // namespace

LinkServer::LinkServer(const LinkServerOptions& options, LinkHandlers handlers,
                       util::LogSink& log, util::MetricsRegistry& metrics)
    : handlers_(std::move(handlers)), log_(log), context_(1), threadNice_(options.threadNice) {
  garbageByCode_ = &metrics.counter("sm_link_garbage_total",
                                    "Undecodable or unexpected link messages dropped, by code.",
                                    {"code"});
  garbage_ = &metrics.counter("sm_link_garbage_messages_total", "Link messages dropped as garbage.")
                  .with();
  hellos_ = &metrics.counter("sm_link_hellos_total", "hello messages answered.").with();
  unreachable_ = &metrics
                      .counter("sm_link_unreachable_total",
                               "Messages not sent because the edge's connection was gone.")
                      .with();
  router_ = zmq::socket_t(context_, zmq::socket_type::router);
  if (options.plaintext) {
    net::requireLoopbackForPlaintext(options.bind);
  } else {
    auto keys = net::loadCurveKeyPairFile(options.serverKeyFile);
    zap_ = std::make_unique<net::ZapAuthenticator>(
        context_, net::loadCurveAllowListFile(options.allowListFile), log_);
    net::configureCurveServer(router_, keys);
    metrics.counterFunction("sm_link_peers_refused_total", "Connections refused by the allow-list.",
                            [this] { return static_cast<std::uint64_t>(zap_->refused()); });
    metrics.counterFunction("sm_link_peers_accepted_total", "Connections accepted by the allow-list.",
                            [this] { return static_cast<std::uint64_t>(zap_->accepted()); });
  }
  router_.set(zmq::sockopt::linger, 0);
  router_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(net::kMaxFrameBytes));
  router_.set(zmq::sockopt::router_mandatory, 1);
  router_.set(zmq::sockopt::sndhwm, 100000);
  router_.set(zmq::sockopt::rcvhwm, 100000);
  router_.set(zmq::sockopt::heartbeat_ivl, options.heartbeatIntervalMs);
  router_.set(zmq::sockopt::heartbeat_timeout, options.heartbeatIntervalMs * 3);
  router_.bind(options.bind);
  endpoint_ = router_.get(zmq::sockopt::last_endpoint);
  wakeFd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakeFd_ < 0) throw std::runtime_error("eventfd failed");
  metrics.gaugeFunction("sm_link_edges_connected", "Edges whose connection is up.", [this] {
    double n = 0;
    for (const auto& e : edges()) n += e.connected ? 1 : 0;
    return n;
  });
  util::LogLine(log_, util::LogLevel::info, "link_listening")
      .kv("endpoint", endpoint_)
      .kv("encryption", options.plaintext ? "none" : "curve");
}

LinkServer::~LinkServer() {
  stop();
  if (wakeFd_ >= 0) ::close(wakeFd_);
}

void LinkServer::start() {
  thread_ = std::thread([this] { run(); });
}

void LinkServer::stop() {
  stop_.store(true);
  std::uint64_t one = 1;
  if (wakeFd_ >= 0) (void)!::write(wakeFd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

void LinkServer::raisePriority(int nice) {
  util::setThisThreadNiceOrLog(log_, "sm-link", nice, kAcksNotAhead);
  // ZeroMQ's I/O threads (started with the socket; each names itself once running) carry every
  // frame through CURVE.
  util::setNiceOfThreadsNamedOrLog(log_, kZmqIoThreadName, nice, kAcksNotAhead,
                                   std::chrono::seconds(2));
}

void LinkServer::run() {
  util::nameThisThread("sm-link");
  if (threadNice_) raisePriority(*threadNice_);
  while (!stop_.load()) {
    zmq::pollitem_t items[2] = {{router_.handle(), 0, ZMQ_POLLIN, 0},
                                {nullptr, wakeFd_, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, std::chrono::milliseconds(500));
    if ((items[1].revents & ZMQ_POLLIN) != 0) {
      std::uint64_t n;
      (void)!::read(wakeFd_, &n, sizeof n);
    }
    if ((items[0].revents & ZMQ_POLLIN) != 0) receive();
    flushOutbox();
  }
}

void LinkServer::receive() {
  for (int budget = 0; budget < 1024; ++budget) {
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
      garbage(peer, "multipart", "message of " + std::to_string(parts.size()) + " frames, not 1");
      continue;
    }
    handle(peer, parts[0]);
  }
}

void LinkServer::garbage(const std::string& peer, const std::string& code,
                         const std::string& reason) {
  garbage_->inc();
  garbageByCode_->with({code}).inc();
  util::LogLine(log_, util::LogLevel::warn, "link_garbage")
      .kv("peer", peerHex(peer))
      .kv("code", code)
      .kv("reason", reason);
}

void LinkServer::handle(const std::string& peer, const zmq::message_t& frame) {
  auto decoded = net::decodeFrame(util::ByteSpan(frame.data<std::uint8_t>(), frame.size()));
  if (!decoded.ok()) return garbage(peer, decoded.error().code, decoded.error().message);
  std::unique_ptr<net::DecodedFrame> owned = std::move(*decoded);
  auto status = net::guardDecode([&]() -> util::Status {
    auto message = owned->root<link::EdgeMessage>();
    switch (message.which()) {
      case link::EdgeMessage::HELLO: {
        auto hello = message.getHello();
        EdgeKey key{hello.getEdgeId().cStr(), hello.getSpoolId()};
        if (key.edgeId.empty()) return util::makeError("bad_hello", "hello without an edge id");
        if (key.edgeId.find('\0') != std::string::npos) {
          return util::makeError("bad_hello", "edge id with a NUL byte");
        }
        std::uint64_t resume = hello.getResumeSeq();
        std::string user = net::peerUserId(frame);
        std::string fingerprint = user.empty() ? std::string("none") : net::keyFingerprint(user);
        std::uint64_t highWater = handlers_.highWater(key);
        {
          std::lock_guard lock(edgesMutex_);
          auto previous = peerOfEdge_.find(key);
          if (previous != peerOfEdge_.end() && previous->second != peer) {
            peers_.erase(previous->second);
          }
          peers_[peer] = Peer{key, resume > 0 ? resume - 1 : 0};
          peerOfEdge_[key] = peer;
          EdgeStatus& edgeStatus = edges_[key];
          edgeStatus.edge = key;
          edgeStatus.connected = true;
          edgeStatus.keyFingerprint = fingerprint;
          edgeStatus.ackedSeq = std::max(edgeStatus.ackedSeq, highWater);
        }
        hellos_->inc();
        util::LogLine(log_, util::LogLevel::info, "edge_hello")
            .kv("edge_id", key.edgeId)
            .kv("spool_id", key.spoolId)
            .kv("resume_seq", resume)
            .kv("version", hello.getVersion().cStr())
            .kv("key", fingerprint)
            .kv("high_water", highWater);
        IngestOutcome ack;
        ack.peer = peer;
        ack.edge = key;
        ack.throughSeq = highWater;
        sendAck(ack);
        if (auto head = handlers_.head()) enqueue(peer, encodeChainState(*head));
        return util::Ok{};
      }
      case link::EdgeMessage::MINED_RELAYS: {
        IngestBatch batch;
        {
          std::lock_guard lock(edgesMutex_);
          auto it = peers_.find(peer);
          if (it == peers_.end()) {
            return util::makeError("batch_before_hello", "minedRelays from a peer without hello");
          }
          batch.edge = it->second.edge;
          batch.resumeFloor = it->second.resumeFloor;
          auto relays = message.getMinedRelays();
          std::uint64_t last = relays.getFirstSeq() + relays.getRelays().size();
          EdgeStatus& edgeStatus = edges_[batch.edge];
          if (last > 0) edgeStatus.lastReceivedSeq = std::max(edgeStatus.lastReceivedSeq, last - 1);
        }
        batch.peer = peer;
        batch.frame = std::move(owned);
        handlers_.ingest(std::move(batch));
        return util::Ok{};
      }
      case link::EdgeMessage::SESSION_QUERY: {
        auto query = message.getSessionQuery();
        SessionQueryRequest request;
        request.peer = peer;
        request.applicationAddress = query.getApplicationAddress();
        request.serviceId = query.getServiceId();
        request.blockHeight = query.getBlockHeight();
        request.queryId = query.getQueryId();
        handlers_.sessionQuery(std::move(request));
        return util::Ok{};
      }
    }
    return util::makeError("unknown_message", "edge message of an unknown kind");
  });
  if (!status.ok()) garbage(peer, status.error().code, status.error().message);
}

void LinkServer::enqueue(std::string peer, zmq::message_t frame) {
  {
    std::lock_guard lock(outboxMutex_);
    outbox_.push_back(Outgoing{std::move(peer), std::move(frame)});
  }
  std::uint64_t one = 1;
  (void)!::write(wakeFd_, &one, sizeof one);
}

void LinkServer::flushOutbox() {
  std::deque<Outgoing> pending;
  {
    std::lock_guard lock(outboxMutex_);
    pending.swap(outbox_);
  }
  for (auto& out : pending) {
    if (!out.peer.empty()) {
      sendNow(out.peer, out.frame);
      continue;
    }
    std::vector<std::string> targets;
    {
      std::lock_guard lock(edgesMutex_);
      for (const auto& [edge, peer] : peerOfEdge_) {
        if (edges_[edge].connected) targets.push_back(peer);
      }
    }
    for (const auto& peer : targets) {
      zmq::message_t copy(out.frame.data(), out.frame.size());
      sendNow(peer, copy);
    }
  }
}

void LinkServer::sendNow(const std::string& peer, zmq::message_t& frame) {
  try {
    router_.send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    router_.send(frame, zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    unreachable_->inc();
    std::lock_guard lock(edgesMutex_);
    auto it = peers_.find(peer);
    if (it != peers_.end()) {
      EdgeStatus& status = edges_[it->second.edge];
      if (status.connected) {
        status.connected = false;
        util::LogLine(log_, util::LogLevel::info, "edge_gone")
            .kv("edge_id", it->second.edge.edgeId)
            .kv("reason", e.what());
      }
    }
  }
}

void LinkServer::sendAck(const IngestOutcome& outcome) {
  capnp::MallocMessageBuilder builder;
  auto ack = builder.initRoot<link::ManagerMessage>().initAck();
  ack.setThroughSeq(outcome.throughSeq);
  auto list = ack.initRejected(static_cast<unsigned>(outcome.rejected.size()));
  for (unsigned i = 0; i < outcome.rejected.size(); ++i) {
    list[i].setSeq(outcome.rejected[i].first);
    list[i].setReason(outcome.rejected[i].second);
  }
  {
    std::lock_guard lock(edgesMutex_);
    EdgeStatus& status = edges_[outcome.edge];
    status.edge = outcome.edge;
    status.ackedSeq = std::max(status.ackedSeq, outcome.throughSeq);
  }
  enqueue(outcome.peer, net::encodeFrame(builder));
}

void LinkServer::sendSessionInfo(const std::string& peer, const SessionFacts& facts,
                                 std::uint64_t queryId) {
  enqueue(peer, encodeSessionInfo(facts, queryId));
}

void LinkServer::sendSessionQueryFailed(const SessionQueryRequest& query,
                                        const std::string& reason, bool transient) {
  capnp::MallocMessageBuilder builder;
  auto failed = builder.initRoot<link::ManagerMessage>().initSessionQueryFailed();
  failed.setQueryId(query.queryId);
  failed.setApplicationAddress(query.applicationAddress);
  failed.setServiceId(query.serviceId);
  failed.setBlockHeight(query.blockHeight);
  failed.setReason(reason);
  failed.setTransient(transient);
  enqueue(query.peer, net::encodeFrame(builder));
}

void LinkServer::broadcastChainState(const ChainHead& head) {
  enqueue(std::string(), encodeChainState(head));
}

void LinkServer::broadcastSessionInfo(const SessionFacts& facts) {
  enqueue(std::string(), encodeSessionInfo(facts, 0));
}

std::vector<EdgeStatus> LinkServer::edges() const {
  std::lock_guard lock(edgesMutex_);
  std::vector<EdgeStatus> out;
  for (const auto& [key, status] : edges_) out.push_back(status);
  return out;
}

}  // namespace pocket::sm
