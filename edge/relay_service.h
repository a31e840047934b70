#pragma once
// The relay pipeline (docs/architecture.md §2; bytes in docs/protocol.md §2–§4): parse and check a RelayRequest, validate it
// against the chain facts the session manager feeds (session, suppliers, ring), forward its
// embedded HTTP request to the service's backend, answer with a RelayResponse signed by the
// supplier's operator key, and mine it (difficulty at session start) into the spool. The relay
// meter (edge/relay_meter.h) charges each verified relay to its (session, supplier) budget and
// refuses it with 429 once that is used up; eager mode before forwarding, optimistic mode with the
// verdict (an over-budget relay already served is not mined).
//
// Ownership: main() builds the RelayService with references to the loops, the chain facts, the
// spool, the metrics registry and the log; all must outlive it. It owns one BackendClient per loop.
// Threading: handle() runs on the loop the request arrived on; everything a relay does afterwards
// (backend completion, session lookup answer) is posted back to that loop, so per-loop state needs
// no lock. The service must be destroyed after the loops stopped.
// Errors: every failure is answered (status and reason in the body) and counted by outcome; none
// throws.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/crypto/keys.h"
#include "common/util/log.h"
#include "common/util/metrics.h"
#include "edge/backend_client.h"
#include "edge/config.h"
#include "edge/event_loops.h"
#include "edge/http_server.h"
#include "edge/link/chain_facts.h"
#include "edge/link/spool.h"
#include "edge/relay_meter.h"
#include "edge/relay_outcome.h"

namespace pocket::edge {

struct RelayServiceDeps {
  EventLoops& loops;
  ChainFacts& facts;
  Spool& spool;
  std::function<void()> onMined;  // called after a relay entered the spool (wakes the link)
  util::MetricsRegistry& metrics;
  util::LogSink& log;
};

class RelayService {
 public:
  // `suppliers`: the operator keys this edge signs for. Throws std::invalid_argument when empty.
  RelayService(const EdgeConfig& config, std::vector<crypto::PrivateKey> suppliers,
               RelayServiceDeps deps);
  ~RelayService();
  RelayService(const RelayService&) = delete;
  RelayService& operator=(const RelayService&) = delete;

  // The HttpServer handler.
  void handle(const RequestContext& context, HttpRequest&& request, Responder responder);

  // Operator addresses served, in the order of the configuration.
  const std::vector<std::string>& supplierAddresses() const { return addresses_; }
  const RelayMeter& meter() const { return meter_; }

 private:
  struct Call;
  struct ServiceState;
  struct Loop;

  void validate(const std::shared_ptr<Call>& call);
  void onSessionFacts(const std::shared_ptr<Call>& call, util::Result<SessionFactsPtr> facts);
  void verify(const std::shared_ptr<Call>& call);
  void forward(const std::shared_ptr<Call>& call);
  void onBackend(const std::shared_ptr<Call>& call, BackendResult&& result);
  void onVerdict(const std::shared_ptr<Call>& call);
  void respond(const std::shared_ptr<Call>& call);
  void reject(const std::shared_ptr<Call>& call, Outcome outcome, const std::string& why);
  void refundMeter(Call& call);
  void mine(const std::shared_ptr<Call>& call);
  void notMined(const Call& call, NotMined reason);
  void finish(const std::shared_ptr<Call>& call, Outcome outcome);
  ServiceState& stateFor(const std::string& serviceId);

  const EdgeConfig& config_;
  RelayServiceDeps deps_;
  std::map<std::string, crypto::PrivateKey, std::less<>> keys_;  // by operator address
  std::vector<std::string> addresses_;
  std::vector<std::unique_ptr<Loop>> loops_;
  std::map<std::string, std::unique_ptr<ServiceState>, std::less<>> services_;
  std::unique_ptr<ServiceState> unknownService_;  // metrics of requests naming no known service
  RelayMeter meter_;
};

}  // namespace pocket::edge
