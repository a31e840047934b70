#include "edge/link/edge_link.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <stdexcept>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.hpp>

#include "common/net/frame.h"
#include "common/net/link_socket.h"
#include "edge_link.capnp.h"

namespace pocket::edge {
namespace {

std::int64_t nowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::atomic<std::uint64_t> monitorCounter{0};

SharedParams decodeSharedParams(link::SharedParams::Reader p) {
  return SharedParams{p.getNumBlocksPerSession(),
                      p.getGracePeriodEndOffsetBlocks(),
                      p.getClaimWindowOpenOffsetBlocks(),
                      p.getClaimWindowCloseOffsetBlocks(),
                      p.getProofWindowOpenOffsetBlocks(),
                      p.getProofWindowCloseOffsetBlocks(),
                      p.getComputeUnitsToTokensMultiplier(),
                      p.getComputeUnitCostGranularity(),
                      p.getSessionGridAnchorHeight(),
                      p.getSessionNumberAtAnchor()};
}

}  // namespace

// Everything the link thread owns. Lives on the thread's stack.
class EdgeLink::Worker {
 public:
  explicit Worker(EdgeLink& link) : link_(link), context_(1) {}

  void run();

 private:
  struct InFlight {
    std::uint64_t firstSeq;
    std::uint64_t lastSeq;
  };

  void setUp();
  void handleMonitor();
  void onConnected();
  void onDisconnected(const char* why);
  void receive();
  void handle(const zmq::message_t& frame);
  void handleAck(link::Ack::Reader ack);
  void handleChainState(link::ChainState::Reader state);
  util::Status handleSessionInfo(link::SessionInfo::Reader info);
  void sendHello();
  void sendQueries(bool all);
  void sendBatches();
  void checkTimeouts();
  std::chrono::milliseconds pollTimeout() const;
  bool send(capnp::MessageBuilder& message);
  void rewind(const char* why);

  EdgeLink& link_;
  zmq::context_t context_;
  zmq::socket_t dealer_;
  zmq::socket_t monitor_;
  bool connected_ = false;      // the transport handshake succeeded
  bool helloAnswered_ = false;  // the manager acked our hello on this connection
  std::chrono::steady_clock::time_point helloSentAt_{};
  std::uint64_t nextSendSeq_ = 1;
  std::deque<InFlight> inFlight_;
  std::chrono::steady_clock::time_point oldestSentAt_{};
  std::chrono::steady_clock::time_point lastSyncAt_{};
  std::uint64_t syncedThrough_ = 0;  // what the last spool sync made sendable
};

void EdgeLink::Worker::setUp() {
  const LinkOptions& o = link_.options_;
  dealer_ = zmq::socket_t(context_, zmq::socket_type::dealer);
  dealer_.set(zmq::sockopt::linger, 0);
  dealer_.set(zmq::sockopt::immediate, 1);
  dealer_.set(zmq::sockopt::sndhwm, 1000);
  dealer_.set(zmq::sockopt::rcvhwm, 10000);
  dealer_.set(zmq::sockopt::reconnect_ivl, static_cast<int>(o.reconnectInterval.count()));
  dealer_.set(zmq::sockopt::reconnect_ivl_max, static_cast<int>(o.reconnectIntervalMax.count()));
  dealer_.set(zmq::sockopt::heartbeat_ivl, static_cast<int>(o.heartbeatInterval.count()));
  dealer_.set(zmq::sockopt::heartbeat_timeout, static_cast<int>(o.heartbeatTimeout.count()));
  dealer_.set(zmq::sockopt::heartbeat_ttl, static_cast<int>(o.heartbeatTimeout.count()));
  dealer_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(net::kMaxFrameBytes));
  if (!o.plaintext) net::configureCurveClient(dealer_, link_.clientKeys_, link_.serverPublicKey_);

  std::string monitorEndpoint = "inproc://edge-link-monitor-" + std::to_string(monitorCounter++);
  if (zmq_socket_monitor(dealer_.handle(), monitorEndpoint.c_str(),
                         ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                             ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                             ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0) {
    throw zmq::error_t();
  }
  monitor_ = zmq::socket_t(context_, zmq::socket_type::pair);
  monitor_.set(zmq::sockopt::linger, 0);
  monitor_.connect(monitorEndpoint);
  dealer_.connect(o.endpoint);
  util::LogLine(link_.log_, util::LogLevel::info, "link_connecting")
      .kv("endpoint", o.endpoint)
      .kv("edge_id", o.edgeId)
      .kv("encryption", o.plaintext ? "none" : "curve");
}

void EdgeLink::Worker::run() {
  setUp();
  nextSendSeq_ = link_.spool_.ackedThrough() + 1;
  while (!link_.stop_.load()) {
    zmq::pollitem_t items[] = {
        {dealer_.handle(), 0, ZMQ_POLLIN, 0},
        {monitor_.handle(), 0, ZMQ_POLLIN, 0},
        {nullptr, link_.wakeFd_, ZMQ_POLLIN, 0},
    };
    zmq::poll(items, 3, pollTimeout());
    if ((items[2].revents & ZMQ_POLLIN) != 0) {
      std::uint64_t count = 0;
      (void)::read(link_.wakeFd_, &count, sizeof(count));
    }
    // Acquire what the waker wrote before it set the flag (spool records, stop_); a wake() after
    // this exchange writes the eventfd again.
    link_.wakePending_.exchange(false, std::memory_order_acq_rel);
    if ((items[1].revents & ZMQ_POLLIN) != 0) handleMonitor();
    if ((items[0].revents & ZMQ_POLLIN) != 0) receive();
    if (connected_) {
      sendQueries(false);
      if (helloAnswered_) sendBatches();
      checkTimeouts();
    }
  }
  zmq_socket_monitor(dealer_.handle(), nullptr, 0);
  link_.connected_.store(false);
}

void EdgeLink::Worker::handleMonitor() {
  while (true) {
    zmq::message_t event;
    if (!monitor_.recv(event, zmq::recv_flags::dontwait)) return;
    zmq::message_t address;
    if (event.more()) (void)monitor_.recv(address, zmq::recv_flags::dontwait);
    if (event.size() < 6) continue;
    std::uint16_t id = 0;
    std::memcpy(&id, event.data(), sizeof(id));
    switch (id) {
      case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        onConnected();
        break;
      case ZMQ_EVENT_DISCONNECTED:
        onDisconnected("connection closed");
        break;
      case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        link_.authFailures_.fetch_add(1);
        util::LogLine(link_.log_, util::LogLevel::error, "link_auth_refused")
            .kv("endpoint", link_.options_.endpoint)
            .kv("reason", "the session manager refused this edge's key (not in its allow-list?)");
        break;
      default:
        link_.authFailures_.fetch_add(1);
        util::LogLine(link_.log_, util::LogLevel::error, "link_handshake_failed")
            .kv("endpoint", link_.options_.endpoint)
            .kv("reason", "ZMTP/CURVE handshake failed (wrong server key or mechanism?)");
        break;
    }
  }
}

void EdgeLink::Worker::onConnected() {
  connected_ = true;
  helloAnswered_ = false;
  link_.connects_.fetch_add(1);
  util::LogLine(link_.log_, util::LogLevel::info, "link_connected")
      .kv("endpoint", link_.options_.endpoint)
      .kv("unacked", link_.spool_.unackedCount());
  sendHello();
  sendQueries(true);
}

void EdgeLink::Worker::onDisconnected(const char* why) {
  if (!connected_) return;
  connected_ = false;
  helloAnswered_ = false;
  link_.connected_.store(false);
  link_.disconnects_.fetch_add(1);
  inFlight_.clear();
  nextSendSeq_ = link_.spool_.ackedThrough() + 1;
  util::LogLine(link_.log_, util::LogLevel::warn, "link_disconnected")
      .kv("endpoint", link_.options_.endpoint)
      .kv("unacked", link_.spool_.unackedCount())
      .kv("reason", why);
}

bool EdgeLink::Worker::send(capnp::MessageBuilder& message) {
  zmq::message_t frame = net::encodeFrame(message);
  try {
    return dealer_.send(frame, zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t& e) {
    util::LogLine(link_.log_, util::LogLevel::warn, "link_send_failed").kv("reason", e.what());
    return false;
  }
}

void EdgeLink::Worker::sendHello() {
  capnp::MallocMessageBuilder builder;
  auto hello = builder.initRoot<link::EdgeMessage>().initHello();
  hello.setEdgeId(link_.options_.edgeId);
  hello.setVersion(std::string(kLinkVersion));
  hello.setResumeSeq(link_.spool_.ackedThrough() + 1);
  hello.setSpoolId(link_.spool_.spoolId());
  send(builder);
  helloSentAt_ = std::chrono::steady_clock::now();
}

void EdgeLink::Worker::sendQueries(bool all) {
  for (const SessionQuery& q : link_.facts_.takeQueriesToSend(all)) {
    capnp::MallocMessageBuilder builder;
    auto query = builder.initRoot<link::EdgeMessage>().initSessionQuery();
    query.setApplicationAddress(q.applicationAddress);
    query.setServiceId(q.serviceId);
    query.setBlockHeight(q.blockHeight);
    query.setQueryId(q.queryId);
    send(builder);
  }
}

// Sends what is synced, and syncs again (at most every syncInterval) when more was mined.
void EdgeLink::Worker::sendBatches() {
  Spool& spool = link_.spool_;
  const LinkOptions& o = link_.options_;
  while (inFlight_.size() < o.maxBatchesInFlight && nextSendSeq_ <= spool.lastSeq()) {
    if (nextSendSeq_ > syncedThrough_) {
      auto now = std::chrono::steady_clock::now();
      if (now - lastSyncAt_ < o.syncInterval) return;  // the run loop comes back in time
      syncedThrough_ = spool.sync();
      lastSyncAt_ = now;
    }
    std::vector<SpooledRecord> records =
        spool.read(nextSendSeq_, o.batchMaxRelays, o.batchMaxBytes);
    if (records.empty()) return;
    std::size_t count = 1;
    while (count < records.size() && records[count].seq == records[0].seq + count) ++count;

    capnp::MallocMessageBuilder builder;
    auto batch = builder.initRoot<link::EdgeMessage>().initMinedRelays();
    batch.setFirstSeq(records[0].seq);
    auto relays = batch.initRelays(static_cast<unsigned>(count));
    for (std::size_t i = 0; i < count; ++i) {
      const util::Bytes& payload = records[i].payload;
      util::Status copied = net::guardDecode([&]() -> util::Status {
        auto frame = net::decodeFrame(payload);
        if (!frame.ok()) return frame.error();
        relays.setWithCaveats(static_cast<unsigned>(i), (*frame)->root<link::MinedRelay>());
        return util::Ok{};
      });
      if (!copied.ok()) {
        // The record passed its CRC but is not a MinedRelay: send it empty so that the manager
        // rejects it with a reason and the sequence moves on.
        util::LogLine(link_.log_, util::LogLevel::error, "spool_record_undecodable")
            .kv("seq", records[i].seq)
            .kv("reason", copied.error().message);
      }
    }
    if (!send(builder)) return;  // not connected after all; retried on the next tick
    std::uint64_t last = records[0].seq + count - 1;
    if (inFlight_.empty()) oldestSentAt_ = std::chrono::steady_clock::now();
    inFlight_.push_back(InFlight{records[0].seq, last});
    nextSendSeq_ = last + 1;
    link_.batchesSent_.fetch_add(1);
    link_.relaysSent_.fetch_add(count);
  }
}

// batchInterval, or less when mined records wait for the next allowed sync.
std::chrono::milliseconds EdgeLink::Worker::pollTimeout() const {
  const LinkOptions& o = link_.options_;
  if (!connected_ || !helloAnswered_ || nextSendSeq_ <= syncedThrough_ ||
      nextSendSeq_ > link_.spool_.lastSeq() || inFlight_.size() >= o.maxBatchesInFlight) {
    return o.batchInterval;
  }
  auto due = lastSyncAt_ + o.syncInterval - std::chrono::steady_clock::now();
  auto wait = std::chrono::ceil<std::chrono::milliseconds>(due);
  return std::clamp(wait, std::chrono::milliseconds(0), o.batchInterval);
}

void EdgeLink::Worker::rewind(const char* why) {
  link_.retransmits_.fetch_add(1);
  util::LogLine(link_.log_, util::LogLevel::warn, "link_rewind")
      .kv("from_seq", link_.spool_.ackedThrough() + 1)
      .kv("unacked", link_.spool_.unackedCount())
      .kv("reason", why);
  inFlight_.clear();
  nextSendSeq_ = link_.spool_.ackedThrough() + 1;
}

void EdgeLink::Worker::checkTimeouts() {
  auto now = std::chrono::steady_clock::now();
  if (!helloAnswered_) {
    if (now - helloSentAt_ >= link_.options_.ackTimeout) {
      util::LogLine(link_.log_, util::LogLevel::warn, "link_hello_unanswered")
          .kv("endpoint", link_.options_.endpoint)
          .kv("reason", "no ack to hello in time; sending it again");
      sendHello();
    }
    return;
  }
  if (!inFlight_.empty() && now - oldestSentAt_ >= link_.options_.ackTimeout) {
    rewind("no ack in time; resending everything unacked");
  }
}

void EdgeLink::Worker::receive() {
  while (true) {
    zmq::message_t frame;
    if (!dealer_.recv(frame, zmq::recv_flags::dontwait)) return;
    handle(frame);
  }
}

void EdgeLink::Worker::handle(const zmq::message_t& frame) {
  auto decoded = net::decodeFrame(util::ByteSpan(frame.data<std::uint8_t>(), frame.size()));
  util::Status status = decoded.ok() ? util::Status(util::Ok{}) : util::Status(decoded.error());
  if (status.ok()) {
    status = net::guardDecode([&]() -> util::Status {
      auto message = (*decoded)->root<link::ManagerMessage>();
      switch (message.which()) {
        case link::ManagerMessage::ACK:
          handleAck(message.getAck());
          return util::Ok{};
        case link::ManagerMessage::CHAIN_STATE:
          handleChainState(message.getChainState());
          return util::Ok{};
        case link::ManagerMessage::SESSION_INFO:
          return handleSessionInfo(message.getSessionInfo());
        case link::ManagerMessage::SESSION_QUERY_FAILED: {
          auto failed = message.getSessionQueryFailed();
          link_.facts_.failQuery(failed.getQueryId(), failed.getReason().cStr(),
                                 failed.getTransient());
          return util::Ok{};
        }
      }
      return util::makeError("unknown_message", "manager message of an unknown kind");
    });
  }
  if (!status.ok()) {
    util::LogLine(link_.log_, util::LogLevel::warn, "link_garbage_received")
        .kv("bytes", frame.size())
        .kv("code", status.error().code)
        .kv("reason", status.error().message);
    link_.garbageReceived_.fetch_add(1);
  }
}

void EdgeLink::Worker::handleAck(link::Ack::Reader ack) {
  Spool& spool = link_.spool_;
  std::uint64_t through = ack.getThroughSeq();
  for (auto rejection : ack.getRejected()) {
    link_.relaysRejected_.fetch_add(1);
    util::LogLine(link_.log_, util::LogLevel::warn, "relay_rejected")
        .kv("seq", rejection.getSeq())
        .kv("reason", rejection.getReason().cStr());
  }
  if (through > spool.lastSeq()) {
    util::LogLine(link_.log_, util::LogLevel::warn, "link_ack_beyond_spool")
        .kv("through_seq", through)
        .kv("last_seq", spool.lastSeq())
        .kv("reason", "the manager acked sequence numbers this spool never wrote");
    through = spool.lastSeq();
  }
  std::uint64_t before = spool.ackedThrough();
  if (through > before) {
    link_.relaysAcked_.fetch_add(through - before);  // counted first: readers see it with the ack
    spool.ack(through);
  }
  while (!inFlight_.empty() && inFlight_.front().lastSeq <= through) {
    inFlight_.pop_front();
    oldestSentAt_ = std::chrono::steady_clock::now();
  }
  if (nextSendSeq_ <= through) nextSendSeq_ = through + 1;
  if (!helloAnswered_) {
    helloAnswered_ = true;
    link_.connected_.store(true);
    util::LogLine(link_.log_, util::LogLevel::info, "link_ready")
        .kv("endpoint", link_.options_.endpoint)
        .kv("manager_through_seq", ack.getThroughSeq())
        .kv("resume_seq", nextSendSeq_);
  }
}

void EdgeLink::Worker::handleChainState(link::ChainState::Reader state) {
  ChainHead head;
  head.height = state.getHeight();
  auto hash = state.getBlockHash();
  head.blockHash.assign(hash.begin(), hash.end());
  head.blockTimeUnixMs = state.getBlockTimeUnixMs();
  head.sharedParams = decodeSharedParams(state.getSharedParams());
  link_.lastChainStateUnixMs_.store(nowUnixMs());
  link_.chainStates_.fetch_add(1);
  link_.facts_.updateHead(std::move(head));
}

util::Status EdgeLink::Worker::handleSessionInfo(link::SessionInfo::Reader info) {
  SessionFacts facts;
  auto header = info.getHeader();
  facts.header.applicationAddress = header.getApplicationAddress();
  facts.header.serviceId = header.getServiceId();
  facts.header.sessionId = header.getSessionId();
  facts.header.sessionStartBlockHeight = header.getSessionStartBlockHeight();
  facts.header.sessionEndBlockHeight = header.getSessionEndBlockHeight();
  for (auto supplier : info.getSupplierOperatorAddresses()) {
    facts.supplierOperatorAddresses.emplace_back(supplier.cStr());
  }
  std::string bad;
  for (auto key : info.getRingPubKeys()) {
    if (key.size() != 33) {
      bad = "ring public key of " + std::to_string(key.size()) + " bytes, not 33";
      break;
    }
    CompressedPubKey pub{};
    std::copy(key.begin(), key.end(), pub.begin());
    facts.ringPubKeys.push_back(pub);
  }
  facts.computeUnitsPerRelay = info.getComputeUnitsPerRelay();
  auto target = info.getDifficultyTarget();
  if (bad.empty() && target.size() != facts.difficultyTarget.size()) {
    bad = "difficulty target of " + std::to_string(target.size()) + " bytes, not 32";
  }
  if (!bad.empty()) {
    if (info.getQueryId() != 0) link_.facts_.failQuery(info.getQueryId(), bad);
    return util::makeError(kErrSessionAnswerInvalid, bad);
  }
  std::copy(target.begin(), target.end(), facts.difficultyTarget.begin());
  if (info.hasWindowParams()) facts.windowParams = decodeSharedParams(info.getWindowParams());
  if (info.hasStartParams()) facts.startParams = decodeSharedParams(info.getStartParams());
  if (info.hasBudget()) {
    auto budget = info.getBudget();
    facts.budget =
        RelayBudget{budget.getApplicationStakeUpokt(), budget.getPerSessionSpendLimitUpokt(),
                    budget.getOverservicingBonusMultiplier()};
  }
  return link_.facts_.putSession(std::move(facts), info.getQueryId());
}

EdgeLink::EdgeLink(LinkOptions options, Spool& spool, ChainFacts& facts, util::LogSink& log)
    : options_(std::move(options)), spool_(spool), facts_(facts), log_(log) {
  if (options_.endpoint.empty()) throw std::invalid_argument("link endpoint is not set");
  if (options_.edgeId.empty()) throw std::invalid_argument("link edge id is not set");
  if (options_.batchMaxRelays == 0 || options_.maxBatchesInFlight == 0) {
    throw std::invalid_argument("link batchMaxRelays and maxBatchesInFlight must be positive");
  }
  if (options_.plaintext) {
    net::requireLoopbackForPlaintext(options_.endpoint);
  } else {
    clientKeys_ = net::loadCurveKeyPairFile(options_.clientKeyFile);
    serverPublicKey_ = net::loadCurvePublicKeyFile(options_.serverPublicKeyFile);
  }
  wakeFd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakeFd_ < 0) throw std::runtime_error("link: eventfd failed");
  facts_.setQueryWakeup([this] { wake(); });
  thread_ = std::thread([this] { run(); });
}

EdgeLink::~EdgeLink() {
  facts_.setQueryWakeup({});
  stop_.store(true);
  wake();
  thread_.join();
  ::close(wakeFd_);
}

void EdgeLink::wake() {
  if (wakePending_.exchange(true, std::memory_order_acq_rel)) return;  // a write is outstanding
  std::uint64_t one = 1;
  (void)::write(wakeFd_, &one, sizeof(one));
}

void EdgeLink::run() {
  try {
    Worker worker(*this);
    worker.run();
  } catch (const std::exception& e) {
    // Logistics failure of the link thread (socket set-up, fsync): nothing can be delivered any
    // more. Log loudly; /readyz shows the link down.
    connected_.store(false);
    util::LogLine(log_, util::LogLevel::error, "link_thread_failed").kv("reason", e.what());
  }
}

}  // namespace pocket::edge
