#pragma once
// The session manager's end of the link (docs/link.md): a ZeroMQ ROUTER that edges'
// DEALERs connect to, CURVE-encrypted with a ZAP allow-list of edge public keys (plain text only
// when configured, and only on loopback).
//
//   hello        → ack{throughSeq = high-water mark of (edgeId, spoolId)} and a chainState
//   minedRelays  → handed to the ingest (LinkHandlers::ingest); acked later through sendAck()
//   sessionQuery → handed to LinkHandlers::sessionQuery; answered through sendSessionInfo() or
//                  sendSessionQueryFailed()
// Garbage (undecodable frames, unknown kinds, batches before hello, multi-part messages) is
// logged (`link_garbage`), counted and dropped; the server never stops for it. Keys are never
// logged, only their first 8 characters.
//
// Ownership and threading: main() owns it. The constructor binds (throws on bad keys, a
// plain-text request on a non-loopback endpoint, or a bind failure). One thread (start()) owns
// the socket; the send*/broadcast* methods are thread-safe: they queue the frame and wake that
// thread. Handlers are called on the link thread and must not block.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "common/net/zap.h"
#include "common/util/log.h"
#include "common/util/metrics.h"
#include "session-manager/chain_source.h"
#include "session-manager/ingest.h"

namespace pocket::sm {

struct LinkServerOptions {
  std::string bind = "tcp://0.0.0.0:7400";
  bool plaintext = false;         // loopback endpoints only
  std::string serverKeyFile;      // CURVE key pair of the session manager
  std::string allowListFile;      // z85 public keys of the edges
  int heartbeatIntervalMs = 2000;  // ZMTP heartbeats find dead edges
  // Nice value of the link thread and of ZeroMQ's I/O threads, which decrypt and encrypt every
  // frame (threads.ack_path_nice); unset: the process's.
  std::optional<int> threadNice;
};

struct SessionQueryRequest {
  std::string peer;
  std::string applicationAddress;
  std::string serviceId;
  std::int64_t blockHeight = 0;
  std::uint64_t queryId = 0;
};

struct LinkHandlers {
  std::function<std::uint64_t(const EdgeKey&)> highWater;
  std::function<std::optional<ChainHead>()> head;  // nullopt before the first block
  std::function<void(IngestBatch)> ingest;
  std::function<void(SessionQueryRequest)> sessionQuery;
};

struct EdgeStatus {
  EdgeKey edge;
  bool connected = false;
  std::string keyFingerprint;  // first 8 characters of its CURVE key, "none" in plain text
  std::uint64_t lastReceivedSeq = 0;  // highest sequence number seen in a batch
  std::uint64_t ackedSeq = 0;         // highest throughSeq acked
};

class LinkServer {
 public:
  LinkServer(const LinkServerOptions& options, LinkHandlers handlers, util::LogSink& log,
             util::MetricsRegistry& metrics);
  ~LinkServer();
  LinkServer(const LinkServer&) = delete;
  LinkServer& operator=(const LinkServer&) = delete;

  void start();
  void stop();
  // The bound endpoint (with the real port when bound to port 0 or *).
  const std::string& endpoint() const { return endpoint_; }

  void sendAck(const IngestOutcome& outcome);
  void sendSessionInfo(const std::string& peer, const SessionFacts& facts, std::uint64_t queryId);
  // `transient`: the chain could not be asked; the edge must not remember the refusal.
  void sendSessionQueryFailed(const SessionQueryRequest& query, const std::string& reason,
                              bool transient = false);
  void broadcastChainState(const ChainHead& head);
  // Pushes a session (queryId 0) to every connected edge (its params or budget changed).
  void broadcastSessionInfo(const SessionFacts& facts);

  std::vector<EdgeStatus> edges() const;
  std::uint64_t garbageTotal() const { return garbage_->value(); }

 private:
  struct Outgoing {
    std::string peer;  // empty: every connected edge
    zmq::message_t frame;
  };
  struct Peer {
    EdgeKey edge;
    std::uint64_t resumeFloor = 0;
  };
  void run();
  void receive();
  void handle(const std::string& peer, const zmq::message_t& frame);
  void garbage(const std::string& peer, const std::string& code, const std::string& reason);
  void enqueue(std::string peer, zmq::message_t frame);
  void flushOutbox();
  void sendNow(const std::string& peer, zmq::message_t& frame);
  // Sets the link thread's and ZeroMQ's I/O threads' nice value; a refusal is logged.
  void raisePriority(int nice);

  LinkHandlers handlers_;
  util::LogSink& log_;
  zmq::context_t context_;
  std::unique_ptr<net::ZapAuthenticator> zap_;
  zmq::socket_t router_;
  std::string endpoint_;
  int wakeFd_ = -1;  // eventfd: the outbox has frames
  std::atomic<bool> stop_{false};
  std::optional<int> threadNice_;

  std::mutex outboxMutex_;
  std::deque<Outgoing> outbox_;

  mutable std::mutex edgesMutex_;  // guards peers_, edges_ (link thread writes, status reads)
  std::map<std::string, Peer> peers_;  // routing id → the edge that said hello on it
  std::map<EdgeKey, EdgeStatus> edges_;
  std::map<EdgeKey, std::string> peerOfEdge_;

  util::Family<util::Counter>* garbageByCode_;
  util::Counter* garbage_;
  util::Counter* hellos_;
  util::Counter* unreachable_;
  std::thread thread_;
};

// Builders of manager messages, shared with the tests.
zmq::message_t encodeChainState(const ChainHead& head);
zmq::message_t encodeSessionInfo(const SessionFacts& facts, std::uint64_t queryId);

}  // namespace pocket::sm
