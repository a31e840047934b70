#pragma once
// The edge's end of the link to the session manager (docs/link.md): one ZeroMQ DEALER to the
// manager's ROUTER, CURVE-encrypted, carrying Cap'n Proto messages of schemas/edge_link.capnp.
//
// Protocol, edge side:
//   - On every new connection: hello{edgeId, version, resumeSeq = spool.ackedThrough() + 1,
//     spoolId}. The manager answers with an ack (its high-water mark for this edge and spool);
//     batches start only after that answer (hello is repeated every ackTimeout until it comes).
//   - minedRelays{firstSeq, relays[]} batches read from the Spool (after Spool::sync(), so with the
//     default fsync policy only durable records are ever sent), at most maxBatchesInFlight unacked.
//   - ack{throughSeq, rejected[]}: the spool forgets everything ≤ throughSeq; each rejection is
//     logged (`relay_rejected` with seq and reason) and counted.
//   - An ack that does not come within ackTimeout, or a lost connection, rewinds sending to the
//     first unacked record: delivery is at least once, and the manager deduplicates by seq and by
//     relay hash.
//   - chainState and sessionInfo go into the ChainFacts; its pending sessionQuery messages are
//     sent as soon as the link is up (all of them again after a reconnect).
//
// Ownership and threading: main() owns the EdgeLink and destroys it before the Spool and the
// ChainFacts it references. The link owns one thread, which owns the ZeroMQ context and sockets
// (they are not thread-safe); other threads reach it only through wake() (an eventfd) and the
// atomic getters. The constructor loads the key files and starts the thread; it throws
// std::runtime_error / std::invalid_argument on a bad configuration (unreadable or group-readable
// key file, plain text on a non-loopback endpoint).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include <sys/types.h>

#include "common/net/curve_keys.h"
#include "common/util/log.h"
#include "edge/link/chain_facts.h"
#include "edge/link/spool.h"

namespace pocket::edge {

inline constexpr std::string_view kLinkVersion = "pocket-edge-link/1";

struct LinkOptions {
  std::string endpoint;  // the session manager's ROUTER, e.g. "tcp://10.0.0.5:7700"
  std::string edgeId;    // stable name of this edge, logged by the manager
  // CURVE (default): this edge's key pair file and the manager's public key file (formats in
  // common/net/curve_keys.h; owner-only permissions).
  std::string clientKeyFile;
  std::string serverPublicKeyFile;
  // No encryption at all: refused unless the endpoint is loopback. For tests only.
  bool plaintext = false;

  std::size_t batchMaxRelays = 512;
  std::size_t batchMaxBytes = 4u << 20;
  // How often the spool is looked at without a wake() (which every append is followed by): the
  // tick of the ack and hello timeouts.
  std::chrono::milliseconds batchInterval{100};
  // The shortest time between two spool syncs (fdatasync, then a batch): records mined meanwhile
  // join the next batch. Bounds the fsync rate at moderate relay rates, where every relay would
  // otherwise be synced and sent alone; delays delivery by at most this, never a relay's answer.
  std::chrono::milliseconds syncInterval{5};
  std::size_t maxBatchesInFlight = 8;
  std::chrono::milliseconds ackTimeout{5000};
  std::chrono::milliseconds heartbeatInterval{1000};  // ZMTP heartbeats detect a dead peer
  std::chrono::milliseconds heartbeatTimeout{3000};
  std::chrono::milliseconds reconnectInterval{100};
  std::chrono::milliseconds reconnectIntervalMax{2000};
};

class EdgeLink {
 public:
  // `spool`, `facts` and `log` must outlive the link. Starts connecting at once.
  EdgeLink(LinkOptions options, Spool& spool, ChainFacts& facts, util::LogSink& log);
  // Stops and joins the thread; unacked records stay in the spool for the next start.
  ~EdgeLink();
  EdgeLink(const EdgeLink&) = delete;
  EdgeLink& operator=(const EdgeLink&) = delete;

  // Any thread, cheap: look at the spool now instead of at the next batchInterval tick.
  void wake();

  // --- State for /readyz and /metrics (any thread) ---
  // Connected and the manager answered hello.
  bool connected() const { return connected_.load(); }
  // Wall-clock time (ms since the epoch) of the last chainState; 0 when none arrived yet.
  std::int64_t lastChainStateUnixMs() const { return lastChainStateUnixMs_.load(); }
  std::uint64_t unackedCount() const { return spool_.unackedCount(); }
  std::uint64_t connectsTotal() const { return connects_.load(); }
  std::uint64_t disconnectsTotal() const { return disconnects_.load(); }
  std::uint64_t authFailuresTotal() const { return authFailures_.load(); }
  std::uint64_t batchesSentTotal() const { return batchesSent_.load(); }
  std::uint64_t relaysSentTotal() const { return relaysSent_.load(); }  // retransmits included
  std::uint64_t relaysAckedTotal() const { return relaysAcked_.load(); }
  std::uint64_t relaysRejectedTotal() const { return relaysRejected_.load(); }
  std::uint64_t retransmitsTotal() const { return retransmits_.load(); }  // rewinds
  std::uint64_t garbageReceivedTotal() const { return garbageReceived_.load(); }
  std::uint64_t chainStatesTotal() const { return chainStates_.load(); }

 private:
  class Worker;  // the thread's state: context, sockets, in-flight batches

  void run();

  const LinkOptions options_;
  Spool& spool_;
  ChainFacts& facts_;
  util::LogSink& log_;
  net::CurveKeyPair clientKeys_;  // empty in plain text
  std::string serverPublicKey_;   // empty in plain text
  int wakeFd_ = -1;               // eventfd; written by wake(), read by the thread
  // Set by wake() before it writes the eventfd and cleared by the thread before it looks at the
  // spool: while set, further wake() calls skip the write (one syscall per batch, not per relay).
  std::atomic<bool> wakePending_{false};
  std::atomic<bool> stop_{false};

  std::atomic<bool> connected_{false};
  std::atomic<std::int64_t> lastChainStateUnixMs_{0};
  std::atomic<std::uint64_t> connects_{0};
  std::atomic<std::uint64_t> disconnects_{0};
  std::atomic<std::uint64_t> authFailures_{0};
  std::atomic<std::uint64_t> batchesSent_{0};
  std::atomic<std::uint64_t> relaysSent_{0};
  std::atomic<std::uint64_t> relaysAcked_{0};
  std::atomic<std::uint64_t> relaysRejected_{0};
  std::atomic<std::uint64_t> retransmits_{0};
  std::atomic<std::uint64_t> garbageReceived_{0};
  std::atomic<std::uint64_t> chainStates_{0};

  std::thread thread_;  // last member
};

}  // namespace pocket::edge
