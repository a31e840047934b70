#include "edge/relay_service.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "common/crypto/hash.h"
#include "common/protocol/relay.h"
#include "common/protocol/session.h"
#include "common/protocol/session_id.h"
#include "edge/http_relay.h"
#include "edge/ring_check.h"

namespace pocket::edge {

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// poktroll's RelayRequest.ValidateBasic and SessionHeader.ValidateBasic (docs/architecture.md
// §2, step 2).
util::Status validateBasic(const protocol::RelayRequest& request) {
  const auto& meta = request.meta;
  if (!meta.sessionHeader) return util::makeError("invalid_request", "meta.session_header is missing");
  const auto& h = *meta.sessionHeader;
  if (auto s = crypto::validateAddress(h.applicationAddress); !s) {
    return util::makeError("invalid_request",
                           "session_header.application_address: " + s.error().message);
  }
  if (h.sessionId.empty()) return util::makeError("invalid_request", "session_header.session_id is empty");
  if (auto id = protocol::validateServiceId(h.serviceId); !id) {
    return util::makeError("invalid_request", "session_header.service_id: " + id.error().message);
  }
  if (h.sessionStartBlockHeight < 1) {
    return util::makeError("invalid_request", "session_header.session_start_block_height < 1");
  }
  if (h.sessionEndBlockHeight <= h.sessionStartBlockHeight) {
    return util::makeError("invalid_request", "session_header: session end is not after its start");
  }
  if (meta.signature.empty()) return util::makeError("invalid_request", "meta.signature is empty");
  if (meta.supplierOperatorAddress.empty()) {
    return util::makeError("invalid_request", "meta.supplier_operator_address is empty");
  }
  return util::Ok{};
}

}  // namespace

// Metrics of one service, resolved once so the hot path only touches atomics.
struct RelayService::ServiceState {
  const ServiceConfig* config = nullptr;  // null for the "unknown" bucket
  std::array<util::Counter*, kOutcomeCount> outcomes{};
  std::array<util::Counter*, kNotMinedCount> notMined{};
  util::Counter* mined = nullptr;
  util::Histogram* duration = nullptr;
  util::Histogram* backendDuration = nullptr;
  util::Histogram* verifyDuration = nullptr;
};

struct RelayService::Loop {
  explicit Loop(asio::io_context& c) : ctx(c), backend(c) {}
  asio::io_context& ctx;
  BackendClient backend;
  crypto::RingVerifier ringVerifier;  // caches hash-to-curve points of the keys it has seen
};

// One relay in flight. Lives (shared) until the response is out and the mining decision is made.
//
// Its path depends on the service's validation mode:
//   eager       validate → (verdict ok) forward → backend answer → respond, mine
//                        → (verdict failed) reject
//   optimistic  forward and validate at once; the backend answer is sent as soon as it comes
//               (unless the verdict already failed), and the relay is mined once both the answer
//               is out and the verdict is ok
//   none        forward → backend answer → respond, never mined
// Two states say where a call is: `verdict` (validation) and `answer` (what the client got). Each
// moves forward only; in optimistic mode, whichever of the backend answer and the verdict comes
// second makes the remaining decision.
struct RelayService::Call {
  unsigned loop = 0;
  Clock::time_point arrival;
  Responder responder;
  ValidationMode mode = ValidationMode::eager;
  enum class Answer { none, served, rejected } answer = Answer::none;
  ServiceState* service = nullptr;
  const BackendConfig* backendConfig = nullptr;
  const crypto::PrivateKey* key = nullptr;
  protocol::RelayRequest request;
  EmbeddedHttpRequest embedded;
  std::int64_t arrivalHeight = 0;

  // Validation.
  enum class Verdict { pending, ok, failed } verdict = Verdict::pending;  // pending with mode none
  Outcome failure = Outcome::internalError;
  std::string failureWhy;
  SessionFactsPtr facts;
  bool meterCharged = false;  // refunded if the relay ends up not served or not rewardable

  // Backend.
  BackendResult backendResult;
  protocol::RelayResponse response;
};

RelayService::RelayService(const EdgeConfig& config, std::vector<crypto::PrivateKey> suppliers,
                           RelayServiceDeps deps)
    : config_(config), deps_(std::move(deps)), meter_(config.relayMeter, deps_.metrics, deps_.log) {
  if (suppliers.empty()) throw std::invalid_argument("relay service: no supplier keys");
  for (auto& key : suppliers) {
    std::string address = key.publicKey().address();
    if (keys_.count(address)) continue;
    addresses_.push_back(address);
    keys_.emplace(address, std::move(key));
  }
  for (unsigned i = 0; i < deps_.loops.size(); ++i) {
    loops_.push_back(std::make_unique<Loop>(deps_.loops.loop(i)));
  }
  auto& m = deps_.metrics;
  auto& outcomes = m.counter("edge_relays_total", "Relays answered, by service and outcome.",
                             {"service", "outcome"});
  auto& notMinedFamily =
      m.counter("edge_relays_not_mined_total",
                "Relays served but not mined, by service and reason.", {"service", "reason"});
  auto& minedFamily = m.counter("edge_relays_mined_total",
                                "Relays that met the difficulty target and entered the spool.",
                                {"service"});
  auto& duration = m.histogram("edge_relay_duration_seconds",
                               "Time from the complete request to the response, by service.",
                               {"service"}, util::latencyBucketsSeconds());
  auto& backendDuration =
      m.histogram("edge_backend_duration_seconds", "Backend call time, by service.", {"service"},
                  util::latencyBucketsSeconds());
  auto& verifyDuration = m.histogram(
      "edge_verification_duration_seconds",
      "Time spent checking a relay (session, suppliers, ring signature), by service.",
      {"service"}, util::latencyBucketsSeconds());
  auto makeState = [&](const std::string& label, const ServiceConfig* sc) {
    auto state = std::make_unique<ServiceState>();
    state->config = sc;
    for (std::size_t i = 0; i < kOutcomeCount; ++i) {
      state->outcomes[i] =
          &outcomes.with({label, std::string(outcomeName(static_cast<Outcome>(i)))});
    }
    for (std::size_t i = 0; i < kNotMinedCount; ++i) {
      state->notMined[i] =
          &notMinedFamily.with({label, std::string(notMinedName(static_cast<NotMined>(i)))});
    }
    state->mined = &minedFamily.with({label});
    state->duration = &duration.with({label});
    state->backendDuration = &backendDuration.with({label});
    state->verifyDuration = &verifyDuration.with({label});
    return state;
  };
  for (const auto& [id, sc] : config_.services) services_.emplace(id, makeState(id, &sc));
  unknownService_ = makeState("unknown", nullptr);
}

RelayService::~RelayService() = default;

RelayService::ServiceState& RelayService::stateFor(const std::string& serviceId) {
  auto it = services_.find(serviceId);
  return it == services_.end() ? *unknownService_ : *it->second;
}

void RelayService::handle(const RequestContext& context, HttpRequest&& http, Responder responder) {
  auto call = std::make_shared<Call>();
  call->loop = context.loop;
  call->arrival = context.arrival;
  call->responder = std::move(responder);
  call->service = unknownService_.get();
  call->arrivalHeight = deps_.facts.currentHeight();

  const std::string& body = http.body();
  auto parsed = protocol::parseRelayRequest(util::asBytes(body));
  if (!parsed) return reject(call, Outcome::malformedRequest, parsed.error().message);
  call->request = std::move(*parsed);
  if (auto basic = validateBasic(call->request); !basic) {
    if (call->request.meta.sessionHeader) call->service = &stateFor(call->request.meta.sessionHeader->serviceId);
    return reject(call, Outcome::invalidRequest, basic.error().message);
  }
  const auto& header = *call->request.meta.sessionHeader;
  call->service = &stateFor(header.serviceId);
  if (call->service->config == nullptr) {
    return reject(call, Outcome::unknownService,
                  "service '" + header.serviceId + "' is not served by this edge");
  }
  const ServiceConfig& sc = *call->service->config;
  if (body.size() > sc.maxRequestBytes) {
    return reject(call, Outcome::requestTooLarge,
                  fmt::format("request body of {} bytes exceeds the service limit of {} bytes",
                              body.size(), sc.maxRequestBytes));
  }
  int rpcType = 0;
  if (auto it = http.find("Rpc-Type"); it != http.end()) {
    std::string_view v(it->value().data(), it->value().size());
    if (v.empty() || v.size() > 3 || !std::all_of(v.begin(), v.end(), ::isdigit)) {
      return reject(call, Outcome::badRpcType, "Rpc-Type header must be an integer");
    }
    rpcType = std::stoi(std::string(v));
  }
  call->backendConfig = sc.backendFor(rpcType);
  if (call->backendConfig == nullptr) {
    return reject(call, Outcome::unknownService,
                  fmt::format("service '{}' has no backend for Rpc-Type {}", header.serviceId, rpcType));
  }
  auto key = keys_.find(call->request.meta.supplierOperatorAddress);
  if (key == keys_.end()) {
    return reject(call, Outcome::unknownSupplier,
                  "supplier '" + call->request.meta.supplierOperatorAddress +
                      "' is not served by this edge");
  }
  call->key = &key->second;
  auto embedded = parseEmbeddedHttpRequest(call->request.payload);
  if (!embedded) return reject(call, Outcome::malformedRequest, embedded.error().message);
  call->embedded = std::move(*embedded);

  call->mode = sc.validation;
  switch (call->mode) {
    case ValidationMode::eager:
      validate(call);  // forwards once the verdict is ok
      break;
    case ValidationMode::optimistic:
      forward(call);
      validate(call);
      break;
    case ValidationMode::none:
      forward(call);
      break;
  }
}

void RelayService::validate(const std::shared_ptr<Call>& call) {
  const auto& header = *call->request.meta.sessionHeader;
  std::int64_t height = deps_.facts.currentHeight();
  if (height <= 0) {
    call->verdict = Call::Verdict::failed;
    call->failure = Outcome::chainUnavailable;
    call->failureWhy = "no chain state from the session manager yet";
    return onVerdict(call);
  }
  if (header.sessionStartBlockHeight > height + 1) {
    call->verdict = Call::Verdict::failed;
    call->failure = Outcome::sessionNotCurrent;
    call->failureWhy = fmt::format("session starts at {} but the current height is {}",
                                   header.sessionStartBlockHeight, height);
    return onVerdict(call);
  }
  // The session that must match: the one containing the current height, or, during the grace
  // period of an ended session, that session itself.
  std::int64_t at = std::clamp(height, header.sessionStartBlockHeight, header.sessionEndBlockHeight);
  asio::io_context& ctx = loops_[call->loop]->ctx;
  deps_.facts.lookupSession(
      header.applicationAddress, header.serviceId, at,
      [this, call, &ctx](util::Result<SessionFactsPtr> facts) mutable {
        asio::post(ctx, [this, call = std::move(call), facts = std::move(facts)]() mutable {
          onSessionFacts(call, std::move(facts));
        });
      });
}

void RelayService::onSessionFacts(const std::shared_ptr<Call>& call,
                                  util::Result<SessionFactsPtr> facts) {
  if (!facts) {
    call->verdict = Call::Verdict::failed;
    if (facts.error().code == kErrSessionNotFound) {
      call->failure = Outcome::sessionNotFound;
    } else {
      call->failure = Outcome::chainUnavailable;
    }
    call->failureWhy = facts.error().message;
    return onVerdict(call);
  }
  call->facts = std::move(*facts);
  verify(call);
  onVerdict(call);
}

void RelayService::verify(const std::shared_ptr<Call>& call) {
  auto started = Clock::now();
  const auto& header = *call->request.meta.sessionHeader;
  const SessionFacts& facts = *call->facts;
  auto fail = [&](Outcome outcome, std::string why) {
    call->verdict = Call::Verdict::failed;
    call->failure = outcome;
    call->failureWhy = std::move(why);
    call->service->verifyDuration->observe(seconds(Clock::now() - started));
  };
  // Timing: current, or ended but within the grace period, by the shared params that govern the
  // session's windows (those at its end; the head's only when the manager did not send them).
  auto head = deps_.facts.head();
  if (!head) return fail(Outcome::chainUnavailable, "no chain state from the session manager yet");
  auto windows = protocol::sessionWindows(facts.windowParamsOr(head->sharedParams),
                                          header.sessionEndBlockHeight);
  if (!windows) {
    return fail(Outcome::chainUnavailable, "chain params unusable: " + windows.error().message);
  }
  if (head->height > windows->gracePeriodEnd) {
    return fail(Outcome::sessionExpired,
                fmt::format("session ended at {} and its grace period at {}; the current height is {}",
                            header.sessionEndBlockHeight, windows->gracePeriodEnd, head->height));
  }
  // Full header equality with the chain's session (app, service, id, start, end).
  if (!(facts.header == header)) {
    return fail(Outcome::sessionMismatch,
                fmt::format("session header differs from the chain's session {} [{}, {}]",
                            facts.header.sessionId, facts.header.sessionStartBlockHeight,
                            facts.header.sessionEndBlockHeight));
  }
  if (!facts.hasSupplier(call->request.meta.supplierOperatorAddress)) {
    return fail(Outcome::supplierNotInSession, "supplier '" +
                                                   call->request.meta.supplierOperatorAddress +
                                                   "' is not in session " + header.sessionId);
  }
  auto message = protocol::requestSignableHash(call->request);
  if (auto ring = checkRingSignature(loops_[call->loop]->ringVerifier, call->request.meta.signature,
                                     message, facts.ringPubKeys);
      !ring) {
    return fail(Outcome::badRingSignature, ring.error().message);
  }
  // The relay meter, unless the relay was already answered with an error (optimistic mode).
  if (call->answer != Call::Answer::rejected) {
    const std::string& supplier = call->request.meta.supplierOperatorAddress;
    switch (meter_.charge(facts, *head, supplier)) {
      case RelayMeter::Decision::limited:
        return fail(Outcome::rateLimited,
                    fmt::format("claimable portion fully consumed (session {}, supplier {})",
                                header.sessionId, supplier));
      case RelayMeter::Decision::admitted:
      case RelayMeter::Decision::overServiced:
        call->meterCharged = true;
        break;
      case RelayMeter::Decision::unmetered:
        break;
    }
  }
  call->verdict = Call::Verdict::ok;
  call->service->verifyDuration->observe(seconds(Clock::now() - started));
}

// Called whenever the validation verdict is known (eager and optimistic modes).
void RelayService::onVerdict(const std::shared_ptr<Call>& call) {
  if (call->mode == ValidationMode::eager) {
    if (call->verdict == Call::Verdict::ok) return forward(call);
    return reject(call, call->failure, call->failureWhy);
  }
  // Optimistic: the backend call started with the validation.
  switch (call->answer) {
    case Call::Answer::none:
      return;  // the backend has not answered yet: onBackend reads the verdict
    case Call::Answer::rejected:
      return;  // a rejected relay is never mined
    case Call::Answer::served:
      break;
  }
  // Served before the verdict came: mine now, or never.
  if (call->verdict == Call::Verdict::ok) {
    mine(call);
  } else if (call->failure == Outcome::rateLimited) {
    notMined(*call, NotMined::overBudget);
  } else {
    util::LogLine(deps_.log, util::LogLevel::info, "relay_unverified")
        .kv("service", call->request.meta.sessionHeader->serviceId)
        .kv("reason", outcomeName(call->failure))
        .kv("detail", call->failureWhy);
    notMined(*call, NotMined::unverified);
  }
}

void RelayService::forward(const std::shared_ptr<Call>& call) {
  const auto& header = *call->request.meta.sessionHeader;
  PocketHeaders pocket{call->request.meta.supplierOperatorAddress, header.serviceId,
                       header.sessionId, header.applicationAddress,
                       header.sessionStartBlockHeight, header.sessionEndBlockHeight};
  auto request = buildBackendRequest(call->embedded, *call->backendConfig, pocket);
  if (!request) {
    return reject(call, Outcome::malformedRequest, request.error().message);
  }
  loops_[call->loop]->backend.send(std::move(*request), [this, call](BackendResult&& result) {
    onBackend(call, std::move(result));
  });
}

void RelayService::onBackend(const std::shared_ptr<Call>& call, BackendResult&& result) {
  call->service->backendDuration->observe(seconds(result.elapsed));
  if (call->answer != Call::Answer::none) return;
  if (result.failure != BackendFailure::none) {
    Outcome outcome = Outcome::backendError;
    switch (result.failure) {
      case BackendFailure::connect:
        outcome = Outcome::backendUnreachable;
        break;
      case BackendFailure::firstByteTimeout:
      case BackendFailure::timeout:
        outcome = Outcome::backendTimeout;
        break;
      case BackendFailure::tooLarge:
        outcome = Outcome::backendTooLarge;
        break;
      default:
        break;
    }
    util::LogLine(deps_.log, util::LogLevel::warn, "backend_failed")
        .kv("service", call->request.meta.sessionHeader->serviceId)
        .kv("failure", backendFailureName(result.failure))
        .kv("error", result.error);
    return reject(call, outcome, std::string(backendFailureName(result.failure)) + ": " + result.error);
  }
  call->backendResult = std::move(result);
  // Eager: the verdict was ok before the call started. None: there is no verdict. Optimistic: a
  // verdict that already failed is the answer; a pending one is read in onVerdict.
  if (call->mode == ValidationMode::optimistic && call->verdict == Call::Verdict::failed) {
    return reject(call, call->failure, call->failureWhy);
  }
  respond(call);
}

void RelayService::respond(const std::shared_ptr<Call>& call) {
  const BackendResult& backend = call->backendResult;
  protocol::RelayResponse& response = call->response;
  response.meta.sessionHeader = call->request.meta.sessionHeader;
  response.payload = serializeHttpResponse(backend.status, backend.headers, backend.body);
  protocol::signResponse(response, *call->key);

  // Mine before answering: once a client holds the signed response, the relay is in the spool.
  if (call->mode == ValidationMode::none) {
    notMined(*call, NotMined::unverified);
  } else if (call->verdict == Call::Verdict::ok) {
    mine(call);
  }  // optimistic with the verdict pending: onVerdict decides

  HttpResponse http(http::status::ok, 11);
  http.set(http::field::content_type, "application/octet-stream");
  auto bytes = protocol::marshal(response);
  http.body().assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  call->answer = Call::Answer::served;
  call->responder.send(std::move(http));
  finish(call, Outcome::served);
}

void RelayService::mine(const std::shared_ptr<Call>& call) {
  ServiceState& service = *call->service;
  if (call->backendResult.status >= 500) {
    refundMeter(*call);  // served, but not paid: it does not use the budget
    return notMined(*call, NotMined::backend5xx);
  }
  const auto& header = *call->request.meta.sessionHeader;
  auto head = deps_.facts.head();
  if (!head) return notMined(*call, NotMined::unverified);
  auto windows = protocol::sessionWindows(
      call->facts->windowParamsOr(head->sharedParams), header.sessionEndBlockHeight);
  // Rewards need the relay to be served before the claim window opens (docs/protocol.md §5).
  if (!windows || head->height >= windows->claimWindowOpen) {
    return notMined(*call, NotMined::claimWindowOpen);
  }
  auto relayBytes = protocol::relayBytes(call->request, call->response);
  auto relayHash = protocol::relayHash(relayBytes);
  if (!protocol::meetsDifficulty(relayHash, call->facts->difficultyTarget)) {
    return notMined(*call, NotMined::difficultyNotMet);
  }
  MinedRelay mined;
  std::copy(relayHash.begin(), relayHash.end(), mined.relayHash.begin());
  mined.relayBytes = std::move(relayBytes);
  mined.computeUnits = call->facts->computeUnitsPerRelay;
  mined.sessionHeader = header;
  mined.supplierOperatorAddress = call->request.meta.supplierOperatorAddress;
  mined.arrivalHeight = call->arrivalHeight;
  auto appended = deps_.spool.append(mined);
  if (!appended) {
    bool full = appended.error().code == kErrSpoolFull;
    util::LogLine(deps_.log, util::LogLevel::error, "relay_dropped")
        .kv("service", header.serviceId)
        .kv("reason", appended.error().code)
        .kv("detail", appended.error().message);
    return notMined(*call, full ? NotMined::spoolFull : NotMined::spoolError);
  }
  service.mined->inc();
  if (deps_.onMined) deps_.onMined();
}

void RelayService::notMined(const Call& call, NotMined reason) {
  call.service->notMined[static_cast<std::size_t>(reason)]->inc();
}

void RelayService::reject(const std::shared_ptr<Call>& call, Outcome outcome, const std::string& why) {
  if (call->answer != Call::Answer::none) return;
  call->answer = Call::Answer::rejected;
  std::string body = std::string(outcomeName(outcome)) + ": ";
  if (outcome == Outcome::rateLimited) body += "session relay limit reached: ";
  body += why;
  body += '\n';
  auto status = static_cast<http::status>(outcomeStatus(outcome));
  HttpResponse http = textResponse(status, std::move(body));
  http.set("X-Relay-Outcome", std::string(outcomeName(outcome)));
  call->responder.send(std::move(http));
  if (outcome != Outcome::backendUnreachable && outcome != Outcome::backendTimeout &&
      outcome != Outcome::backendError && outcome != Outcome::backendTooLarge) {
    util::LogLine(deps_.log, util::LogLevel::debug, "relay_rejected")
        .kv("outcome", outcomeName(outcome))
        .kv("reason", why);
  }
  finish(call, outcome);
}

void RelayService::refundMeter(Call& call) {
  if (!call.meterCharged) return;
  call.meterCharged = false;
  meter_.refund(*call.facts, call.request.meta.supplierOperatorAddress);
}

void RelayService::finish(const std::shared_ptr<Call>& call, Outcome outcome) {
  if (outcome != Outcome::served) refundMeter(*call);
  call->service->outcomes[static_cast<std::size_t>(outcome)]->inc();
  call->service->duration->observe(seconds(Clock::now() - call->arrival));
}

}  // namespace pocket::edge
