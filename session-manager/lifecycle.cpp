#include "session-manager/lifecycle.h"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "common/protocol/claim_amount.h"
#include "common/protocol/proto_bytes.h"
#include "common/protocol/session.h"
#include "common/protocol/tx.h"
#include "common/smst/gob.h"
#include "common/smst/store.h"
#include "common/util/hex.h"
#include "common/util/thread_name.h"
#include "pocket/proof/types.pb.h"

namespace pocket::sm {

namespace {

util::Bytes rootBytes(const SessionRecord& r) {
  auto bytes = util::fromHex(r.rootHex);
  if (!bytes.ok() || bytes->size() != smst::kDigestSize) {
    throw smst::StoreError("lifecycle: corrupt root of " + r.tree);
  }
  return *bytes;
}

std::uint64_t ceilDiv(std::uint64_t a, std::uint64_t b) {
  return b == 0 ? a : (a + b - 1) / b;
}

// MsgCreateClaim of a flushed session.
util::Result<protocol::TxMessage> claimMessage(const SessionRecord& r) {
  proof::MsgCreateClaim msg;
  msg.set_supplier_operator_address(r.info.supplierOperatorAddress);
  *msg.mutable_session_header() = protocol::toProtoSessionHeader(r.info.header);
  util::Bytes root = rootBytes(r);
  msg.set_root_hash(std::string(root.begin(), root.end()));
  return protocol::packCreateClaim(msg);
}

// MsgSubmitProof of a claimed session: the closest proof on the path from the seed block hash,
// compacted and gob-encoded.
util::Result<protocol::TxMessage> proofMessage(SessionStore& store, const SessionRecord& r,
                                               const util::Bytes& seed) {
  auto closest = store.proveClosest(r.tree, protocol::proofPath(seed, r.info.header.sessionId));
  if (!closest.ok()) return closest.error();
  auto compact = smst::compactClosestProof(*closest);
  if (!compact.ok()) return compact.error();
  util::Bytes gob = smst::encodeGob(*compact);
  proof::MsgSubmitProof msg;
  msg.set_supplier_operator_address(r.info.supplierOperatorAddress);
  *msg.mutable_session_header() = protocol::toProtoSessionHeader(r.info.header);
  msg.set_proof(std::string(gob.begin(), gob.end()));
  return protocol::packSubmitProof(msg);
}

std::string txKind(std::string_view id) {
  return std::string(id.substr(0, id.find('/')));
}

std::string outcomeReason(const TxOutcome& o) {
  std::string words = o.reason;
  if (o.code != 0) {
    words += fmt::format("{}codespace={} code={}", words.empty() ? "" : "; ", o.codespace, o.code);
  }
  if (!o.log.empty()) words += (words.empty() ? "" : "; ") + o.log;
  return words;
}

std::string_view outcomeCode(TxOutcomeKind kind) {
  switch (kind) {
    case TxOutcomeKind::kIncluded: return {};
    case TxOutcomeKind::kFailedInBlock: return kReasonTxFailedInBlock;
    case TxOutcomeKind::kRejected: return kReasonTxRejected;
    case TxOutcomeKind::kExpired: return kReasonTxExpired;
  }
  return kReasonTxRejected;
}

}  // namespace

// --- SessionRecord ----------------------------------------------------------------------------

bool SessionRecord::terminal() const {
  return state == kStateSettled || state == kStateExpired || state == kStateSkippedUnprofitable ||
         state == kStateClaimFailed;
}

nlohmann::json SessionRecord::toJson() const {
  return {{"supplier", info.supplierOperatorAddress},
          {"application", info.header.applicationAddress},
          {"service", info.header.serviceId},
          {"session_id", info.header.sessionId},
          {"start", info.header.sessionStartBlockHeight},
          {"end", info.header.sessionEndBlockHeight},
          {"compute_units_per_relay", info.computeUnitsPerRelay},
          {"state", state},
          {"state_height", stateHeight},
          {"claim_window_open", claimWindowOpen},
          {"claim_window_close", claimWindowClose},
          {"proof_window_open", proofWindowOpen},
          {"proof_window_close", proofWindowClose},
          {"root", rootHex},
          {"relays", relays},
          {"compute_units", computeUnits},
          {"claimed_upokt", claimedUpokt},
          {"claim_tx", claimTxId},
          {"claim_tx_hash", claimTxHash},
          {"claim_tx_height", claimTxHeight},
          {"proof_requirement", proofRequirement},
          {"proof_tx", proofTxId},
          {"proof_tx_hash", proofTxHash},
          {"proof_tx_height", proofTxHeight},
          {"fees_upokt", feesUpokt},
          {"resend_of", resendOf},
          {"settled_upokt", settledUpokt},
          {"reason_code", reasonCode},
          {"reason", reason}};
}

SessionRecord SessionRecord::fromJson(const std::string& tree, const std::string& text) {
  try {
    auto j = nlohmann::json::parse(text);
    SessionRecord r;
    r.tree = tree;
    r.info.supplierOperatorAddress = j.at("supplier");
    r.info.header.applicationAddress = j.at("application");
    r.info.header.serviceId = j.at("service");
    r.info.header.sessionId = j.at("session_id");
    r.info.header.sessionStartBlockHeight = j.at("start");
    r.info.header.sessionEndBlockHeight = j.at("end");
    r.info.computeUnitsPerRelay = j.at("compute_units_per_relay");
    r.state = j.at("state");
    r.stateHeight = j.at("state_height");
    r.claimWindowOpen = j.at("claim_window_open");
    r.claimWindowClose = j.at("claim_window_close");
    r.proofWindowOpen = j.at("proof_window_open");
    r.proofWindowClose = j.at("proof_window_close");
    r.info.claimWindowOpen = r.claimWindowOpen;
    r.info.proofWindowClose = r.proofWindowClose;
    r.rootHex = j.at("root");
    r.relays = j.at("relays");
    r.computeUnits = j.at("compute_units");
    r.claimedUpokt = j.at("claimed_upokt");
    r.claimTxId = j.at("claim_tx");
    r.claimTxHash = j.at("claim_tx_hash");
    r.claimTxHeight = j.at("claim_tx_height");
    r.proofRequirement = j.at("proof_requirement");
    r.proofTxId = j.at("proof_tx");
    r.proofTxHash = j.at("proof_tx_hash");
    r.proofTxHeight = j.at("proof_tx_height");
    r.feesUpokt = j.at("fees_upokt");
    r.resendOf = j.value("resend_of", "");  // absent in records written before it existed
    r.settledUpokt = j.at("settled_upokt");
    r.reasonCode = j.at("reason_code");
    r.reason = j.at("reason");
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw smst::StoreError("journal: corrupt lifecycle record of " + tree + ": " + e.what());
  }
}

std::optional<std::size_t> failedMessageIndex(std::string_view log) {
  auto index = numberAfter(log, "message index: ");
  if (!index) return std::nullopt;
  return static_cast<std::size_t>(*index);
}

nlohmann::json lifecycleJson(const std::vector<SessionRecord>& records) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : records) out.push_back(r.toJson());
  return out;
}

// --- Metrics ------------------------------------------------------------------------------------

constexpr std::string_view kStates[] = {
    kStateOpen,        kStateFlushed,          kStateClaimSubmitted,
    kStateClaimed,     kStateProofNotRequired, kStateProofSubmitted,
    kStateProven,      kStateSettled,          kStateSkippedUnprofitable,
    kStateClaimFailed, kStateProofFailed,      kStateExpired};

struct Lifecycle::Metrics {
  util::Family<util::Counter>* transitions;
  util::Family<util::Gauge>* sessions;
  util::Family<util::Counter>* claims;
  util::Family<util::Counter>* proofs;
  util::Family<util::Counter>* settlements;
  util::Family<util::Counter>* fees;
  util::Family<util::Histogram>* inclusionBlocks;
  util::Family<util::Counter>* chainErrors;
  util::Family<util::Counter>* resends;
  util::Family<util::Gauge>* balance;
  util::Family<util::Gauge>* balanceShort;
  util::Counter* settledUpokt;

  explicit Metrics(util::MetricsRegistry& m) {
    transitions = &m.counter("sm_session_transitions_total",
                             "Lifecycle transitions of (supplier, session) trees, by new state.",
                             {"state"});
    claims = &m.counter("sm_claims_total", "Session claims by outcome and reason.",
                        {"outcome", "reason"});
    proofs = &m.counter("sm_proofs_total", "Session proofs by outcome and reason.",
                        {"outcome", "reason"});
    settlements = &m.counter("sm_settlements_total",
                             "Claims ended on chain, by outcome (settled, expired) and reason.",
                             {"outcome", "reason"});
    fees = &m.counter("sm_session_fees_upokt_total",
                      "Fees paid for the claim and proof txs of our sessions, in uPOKT.", {"kind"});
    inclusionBlocks =
        &m.histogram("sm_window_to_inclusion_blocks",
                     "Blocks from a claim or proof window's opening to the inclusion of its tx.",
                     {"kind"}, {0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32});
    chainErrors =
        &m.counter("sm_lifecycle_chain_errors_total",
                   "Chain reads of the lifecycle that failed (retried next block).", {"what"});
    resends = &m.counter("sm_batch_resends_total",
                         "Batch txs sent again without the message that failed them in a block, "
                         "by kind (claim, proof).",
                         {"kind"});
    resends->with({"claim"});
    resends->with({"proof"});
    balance = &m.gauge("sm_supplier_spendable_upokt",
                       "Supplier operator spendable balance last read, in uPOKT.", {"supplier"});
    balanceShort = &m.gauge("sm_supplier_balance_short",
                            "1 when the supplier's balance does not cover the next window's fees.",
                            {"supplier"});
    settledUpokt = &m.counter("sm_settled_upokt_total", "uPOKT settled to our claims.").with();
    sessions = &m.gauge("sm_sessions",
                        "Sessions (supplier, session) the lifecycle holds, by state.", {"state"});
    for (auto state : kStates) {
      transitions->with({std::string(state)});
      sessions->with({std::string(state)});
    }
    for (const char* what : {"session", "proof_params", "block", "block_results", "balance"}) {
      chainErrors->with({what});
    }
    fees->with({"claim"});
    fees->with({"proof"});
  }
};

// --- Lifecycle ----------------------------------------------------------------------------------

Lifecycle::Lifecycle(LifecycleOptions options, SessionStore& store, LifecycleChain& chain,
                     TxSubmitter& submitter, IngestRunner onIngestThread, util::LogSink& log,
                     util::MetricsRegistry& metrics)
    : options_(options),
      store_(store),
      chain_(chain),
      submitter_(submitter),
      onIngestThread_(std::move(onIngestThread)),
      log_(log),
      metrics_(std::make_unique<Metrics>(metrics)) {
  for (const auto& [tree, text] : store_.lifecycleRecords()) {
    records_.emplace(tree, SessionRecord::fromJson(tree, text));
  }
  std::lock_guard lock(snapshotMutex_);
  for (const auto& [k, r] : records_) snapshot_.push_back(r);
}

Lifecycle::~Lifecycle() {
  stop();
}

void Lifecycle::start() {
  thread_ = std::thread([this] { loop(); });
}

void Lifecycle::stop() {
  {
    std::lock_guard lock(wakeMutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Lifecycle::onHead(std::int64_t height, std::int64_t blockTimeUnixMs) {
  {
    std::lock_guard lock(wakeMutex_);
    if (height <= pendingHeight_) return;
    pendingHeight_ = height;
    pendingTimeMs_ = blockTimeUnixMs;
  }
  wake_.notify_one();
}

void Lifecycle::loop() {
  util::nameThisThread("sm-lifecycle");
  try {
    std::int64_t done = 0;
    while (true) {
      std::int64_t height = 0;
      std::int64_t timeMs = 0;
      {
        std::unique_lock lock(wakeMutex_);
        wake_.wait(lock, [&] { return stopping_ || pendingHeight_ > done; });
        if (stopping_) break;
        height = pendingHeight_;
        timeMs = pendingTimeMs_;
      }
      step(height, timeMs);
      done = height;
    }
  } catch (const smst::StoreError& e) {
    util::LogLine(log_, util::LogLevel::error, "store_failed")
        .kv("component", "lifecycle")
        .kv("reason", e.what())
        .kv("action", "exiting; a restart recovers from the journal");
    std::fflush(nullptr);
    std::_Exit(70);
  }
}

std::vector<SessionRecord> Lifecycle::sessions() const {
  std::lock_guard lock(snapshotMutex_);
  return snapshot_;
}

void Lifecycle::persist(const SessionRecord& record) {
  store_.putLifecycleRecord(record.tree, record.toJson().dump());
}

void Lifecycle::transition(SessionRecord& r, std::string_view state, std::int64_t height,
                           std::string_view reasonCode, const std::string& reason) {
  r.state = std::string(state);
  r.stateHeight = height;
  r.reasonCode = std::string(reasonCode);
  r.reason = reason;
  persist(r);
  metrics_->transitions->with({r.state}).inc();
  const bool failure = state == kStateClaimFailed || state == kStateProofFailed ||
                       state == kStateExpired || state == kStateSkippedUnprofitable;
  util::LogLine line(log_, failure ? util::LogLevel::warn : util::LogLevel::info, "session_state");
  line.kv("state", state)
      .kv("height", height)
      .kv("supplier", r.info.supplierOperatorAddress)
      .kv("service", r.info.header.serviceId)
      .kv("application", r.info.header.applicationAddress)
      .kv("session_id", r.info.header.sessionId)
      .kv("start", r.info.header.sessionStartBlockHeight)
      .kv("end", r.info.header.sessionEndBlockHeight);
  if (!r.rootHex.empty()) {
    line.kv("relays", r.relays)
        .kv("compute_units", r.computeUnits)
        .kv("claimed_upokt", r.claimedUpokt)
        .kv("root", r.rootHex);
  }
  bool proofStep = state == kStateProofSubmitted || state == kStateProven ||
                   (state == kStateProofFailed && !r.proofTxId.empty());
  if (proofStep) {
    line.kv("proof_requirement", r.proofRequirement).kv("tx", r.proofTxId);
    if (!r.proofTxHash.empty()) {
      line.kv("tx_hash", r.proofTxHash).kv("tx_height", r.proofTxHeight);
    }
  } else if (!r.claimTxId.empty()) {
    line.kv("tx", r.claimTxId);
    if (!r.claimTxHash.empty()) line.kv("tx_hash", r.claimTxHash).kv("tx_height", r.claimTxHeight);
  }
  if (state == kStateProofNotRequired) line.kv("proof_requirement", r.proofRequirement);
  if (state == kStateSettled) line.kv("settled_upokt", r.settledUpokt).kv("fees_upokt", r.feesUpokt);
  if (!reasonCode.empty()) line.kv("reason_code", reasonCode);
  if (!reason.empty()) line.kv("reason", reason);
}

void Lifecycle::step(std::int64_t height, std::int64_t blockTimeUnixMs) {
  if (height <= 0) return;
  if (height < lastHeight_) {
    util::LogLine(log_, util::LogLevel::warn, "lifecycle_height_behind")
        .kv("height", height)
        .kv("last", lastHeight_)
        .kv("reason", "the chain reported an older head; waiting for a newer block");
    return;
  }
  lastHeight_ = height;
  crashIf(crashNextStep_);
  for (const auto& outcome : submitter_.onBlock(height, blockTimeUnixMs)) {
    applyOutcome(outcome, height);
  }
  if (!resubmitted_) {
    resubmitted_ = true;  // resubmitInFlight() clears it when something must be retried
    resubmitInFlight(height);
  }
  discover(height);
  flushDue(height);
  claimDue(height);
  proveDue(height);
  settleDue(height);
  cleanUp(height);
  std::vector<SessionRecord> copy;
  copy.reserve(records_.size());
  std::map<std::string_view, std::size_t> byState;
  for (const auto& [k, r] : records_) {
    copy.push_back(r);
    ++byState[r.state];
  }
  for (auto state : kStates) {
    auto n = byState.find(state);
    metrics_->sessions->with({std::string(state)})
        .set(n == byState.end() ? 0.0 : static_cast<double>(n->second));
  }
  std::lock_guard lock(snapshotMutex_);
  snapshot_ = std::move(copy);
}

void Lifecycle::applyOutcome(const TxOutcome& outcome, std::int64_t height) {
  const bool claim = txKind(outcome.id) == "claim";
  std::vector<SessionRecord*> covered;
  for (auto& [k, r] : records_) {
    if (claim && r.state == kStateClaimSubmitted && r.claimTxId == outcome.id) covered.push_back(&r);
    if (!claim && r.state == kStateProofSubmitted && r.proofTxId == outcome.id) covered.push_back(&r);
  }
  if (covered.empty()) return;
  std::string kind = claim ? "claim" : "proof";
  metrics_->fees->with({kind}).inc(outcome.feeUpokt);
  std::uint64_t share = outcome.feeUpokt / covered.size();
  for (auto* r : covered) {
    r->feesUpokt += share;
    if (claim) {
      r->claimTxHash = outcome.txHash;
      r->claimTxHeight = outcome.height;
    } else {
      r->proofTxHash = outcome.txHash;
      r->proofTxHeight = outcome.height;
    }
  }
  if (outcome.kind == TxOutcomeKind::kIncluded) {
    std::int64_t open = claim ? covered.front()->claimWindowOpen : covered.front()->proofWindowOpen;
    metrics_->inclusionBlocks->with({kind}).observe(
        static_cast<double>(std::max<std::int64_t>(0, outcome.height - open)));
    for (auto* r : covered) {
      transition(*r, claim ? kStateClaimed : kStateProven, height);
      (claim ? metrics_->claims : metrics_->proofs)
          ->with({claim ? "claimed" : "proven", ""})
          .inc();
    }
    return;
  }
  if ((outcome.kind == TxOutcomeKind::kFailedInBlock || outcome.kind == TxOutcomeKind::kRejected) &&
      splitFailedBatch(outcome, covered, height)) {
    return;
  }
  std::string_view code = outcomeCode(outcome.kind);
  std::string words = outcomeReason(outcome);
  for (auto* r : covered) {
    transition(*r, claim ? kStateClaimFailed : kStateProofFailed, height, code, words);
    (claim ? metrics_->claims : metrics_->proofs)->with({"failed", std::string(code)}).inc();
  }
}

bool Lifecycle::splitFailedBatch(const TxOutcome& outcome, std::vector<SessionRecord*>& covered,
                                 std::int64_t height) {
  // `covered` is in tree order, the order of the tx's messages (submitBatch, resubmitInFlight).
  auto index = failedMessageIndex(outcome.log);
  if (!index || *index >= covered.size()) return false;
  const bool claim = txKind(outcome.id) == "claim";
  SessionRecord& failing = *covered[*index];
  // In a block (fee paid), or refused before one: a full node's simulation runs the messages and
  // names the failing one the same way.
  std::string where = outcome.kind == TxOutcomeKind::kFailedInBlock
                          ? fmt::format("failed in block {}", outcome.height)
                          : std::string("was refused by the node before any block");
  std::string words = fmt::format("message {} of tx {} {}; codespace={} code={}: {}", *index,
                                  outcome.id, where, outcome.codespace, outcome.code, outcome.log);
  transition(failing, claim ? kStateClaimFailed : kStateProofFailed, height, kReasonMessageRejected,
             words);
  (claim ? metrics_->claims : metrics_->proofs)
      ->with({"failed", std::string(kReasonMessageRejected)})
      .inc();
  std::size_t rest = 0;
  for (std::size_t i = 0; i < covered.size(); ++i) {
    if (i == *index) continue;
    SessionRecord& r = *covered[i];
    r.resendOf = outcome.id;
    (claim ? r.claimTxId : r.proofTxId).clear();
    // Back to the state that sends it (claimDue / proveDue, later in this step); the window
    // checks there decide whether there is still time.
    transition(r, claim ? kStateFlushed : kStateClaimed, height, kReasonBatchResend,
               fmt::format("tx {} failed because of another session's message (index {}); sending "
                           "this one again without it",
                           outcome.id, *index));
    ++rest;
  }
  util::LogLine line(log_, util::LogLevel::warn, "batch_resent");
  line.kv("kind", claim ? "claim" : "proof")
      .kv("tx", outcome.id)
      .kv("tx_hash", outcome.txHash)
      .kv("tx_height", outcome.height)
      .kv("message_index", *index)
      .kv("failed_session_id", failing.info.header.sessionId)
      .kv("resent_sessions", rest)
      .kv("reason", words);
  if (rest > 0) metrics_->resends->with({claim ? "claim" : "proof"}).inc();
  return true;
}

void Lifecycle::discover(std::int64_t height) {
  for (const auto& summary : store_.summaries()) {
    std::string tree =
        treeKey(summary.info.supplierOperatorAddress, summary.info.header.sessionId);
    if (records_.count(tree) != 0) continue;
    SessionRecord r;
    r.tree = tree;
    r.info = summary.info;
    r.claimWindowOpen = summary.info.claimWindowOpen;
    r.proofWindowClose = summary.info.proofWindowClose;
    auto& stored = records_.emplace(tree, std::move(r)).first->second;
    transition(stored, kStateOpen, height);
  }
}

void Lifecycle::flushDue(std::int64_t height) {
  for (auto& [tree, r] : records_) {
    // The windows are those of the params at the session's end height, known once it has ended
    // (the tree's claimWindowOpen was computed earlier and may predate a params change).
    if (r.state != kStateOpen || height <= r.info.header.sessionEndBlockHeight) continue;
    auto facts = chain_.session(r.info.header.applicationAddress, r.info.header.serviceId,
                                r.info.header.sessionStartBlockHeight);
    if (!facts.ok()) {
      if (facts.error().code == kChainNotFound) {
        transition(r, kStateClaimFailed, height, kReasonSessionUnknown,
                   "the chain has no such session: " + facts.error().message);
        metrics_->claims->with({"failed", std::string(kReasonSessionUnknown)}).inc();
      } else {
        metrics_->chainErrors->with({"session"}).inc();
        util::LogLine(log_, util::LogLevel::warn, "lifecycle_retry")
            .kv("tree", tree)
            .kv("step", "flush")
            .kv("code", facts.error().code)
            .kv("reason", "session facts unavailable, retrying next block: " +
                              facts.error().message);
      }
      continue;
    }
    auto windows =
        protocol::sessionWindows(facts->windowParams, r.info.header.sessionEndBlockHeight);
    if (!windows.ok()) {
      transition(r, kStateClaimFailed, height, kReasonSessionParams, windows.error().message);
      metrics_->claims->with({"failed", std::string(kReasonSessionParams)}).inc();
      continue;
    }
    r.claimWindowOpen = windows->claimWindowOpen;
    r.claimWindowClose = windows->claimWindowClose;
    r.proofWindowOpen = windows->proofWindowOpen;
    r.proofWindowClose = windows->proofWindowClose;
    if (height < r.claimWindowOpen) continue;
    util::Result<smst::Digest> root = util::makeError("not_run", "ingest task did not run");
    onIngestThread_([&, &key = tree] { root = store_.flushTree(key); });
    if (!root.ok()) {
      transition(r, kStateClaimFailed, height, kReasonSessionUnknown, root.error().message);
      continue;
    }
    r.rootHex = util::toHex(*root);
    r.computeUnits = smst::readBE64(root->data() + 32);
    r.relays = smst::readBE64(root->data() + 40);
    auto upokt = protocol::claimedUpokt(r.computeUnits, facts->difficultyTarget, facts->startParams);
    if (!upokt.ok()) {
      transition(r, kStateClaimFailed, height, kReasonSessionParams, upokt.error().message);
      metrics_->claims->with({"failed", std::string(kReasonSessionParams)}).inc();
      continue;
    }
    r.claimedUpokt = protocol::toDecimal(*upokt);
    transition(r, kStateFlushed, height);
  }
}

void Lifecycle::watchBalance(const std::string& supplier, std::uint64_t neededUpokt,
                             std::int64_t height) {
  auto balance = chain_.spendableUpokt(supplier);
  if (!balance.ok()) {
    metrics_->chainErrors->with({"balance"}).inc();
    return;
  }
  metrics_->balance->with({supplier}).set(static_cast<double>(*balance));
  bool shortOf = *balance < neededUpokt;
  metrics_->balanceShort->with({supplier}).set(shortOf ? 1 : 0);
  if (shortOf) {
    util::LogLine(log_, util::LogLevel::warn, "supplier_balance_low")
        .kv("supplier", supplier)
        .kv("height", height)
        .kv("spendable_upokt", *balance)
        .kv("needed_upokt", neededUpokt)
        .kv("reason", "the spendable balance does not cover this window's claim and proof fees; "
                      "fund the operator account");
  }
}

void Lifecycle::crashIf(LifecycleCrashPoint point) {
  if (point == LifecycleCrashPoint::none || options_.crashAt != point) return;
  util::LogLine(log_, util::LogLevel::warn, "crash_injected")
      .kv("component", "lifecycle")
      .kv("point", static_cast<int>(point));
  std::fflush(nullptr);
  std::raise(SIGKILL);
}

void Lifecycle::claimDue(std::int64_t height) {
  // (supplier, claim window open, failed batch being resent) → its flushed sessions, in tree order.
  std::map<std::tuple<std::string, std::int64_t, std::string>, std::vector<SessionRecord*>> batches;
  for (auto& [tree, r] : records_) {
    if (r.state != kStateFlushed) continue;
    if (height > r.claimWindowClose) {
      transition(r, kStateClaimFailed, height, kReasonWindowClosed,
                 fmt::format("the claim window closed at {} before the claim was sent",
                             r.claimWindowClose));
      metrics_->claims->with({"failed", std::string(kReasonWindowClosed)}).inc();
      continue;
    }
    batches[{r.info.supplierOperatorAddress, r.claimWindowOpen, r.resendOf}].push_back(&r);
  }
  if (batches.empty()) return;
  std::optional<ProofFacts> proof;
  {
    auto facts = chain_.proofFacts();
    if (facts.ok()) {
      proof = *facts;
    } else {
      metrics_->chainErrors->with({"proof_params"}).inc();
      if (options_.profitabilityGate) {
        util::LogLine(log_, util::LogLevel::warn, "lifecycle_retry")
            .kv("step", "claim")
            .kv("code", facts.error().code)
            .kv("reason", "proof params unavailable for the profitability gate, retrying next "
                          "block: " + facts.error().message);
        return;
      }
    }
  }
  for (auto& [key, records] : batches) {
    const auto& [supplier, open, resendOf] = key;
    std::uint64_t claimFee =
        ceilDiv(submitter_.estimateFeeUpokt(protocol::kMsgCreateClaimTypeUrl, records.size()),
                records.size());
    std::uint64_t proofCost =
        proof ? submitter_.estimateFeeUpokt(protocol::kMsgSubmitProofTypeUrl, 1) +
                    proof->proofSubmissionFeeUpokt
              : 0;
    std::vector<SessionRecord*> kept;
    std::vector<protocol::TxMessage> messages;
    std::uint64_t needed = 0;
    for (auto* r : records) {
      protocol::BigInt claimed(r->claimedUpokt);
      protocol::BigInt expected = claimFee;
      if (proof) {
        // The proof is certain above the threshold; below it, it is drawn with the probability.
        if (claimed >= proof->params.proofRequirementThresholdUpokt) {
          expected += proofCost;
        } else {
          expected += protocol::BigInt(static_cast<std::uint64_t>(
              std::ceil(static_cast<double>(proofCost) * proof->params.proofRequestProbability)));
        }
      }
      if (options_.profitabilityGate && claimed <= expected) {
        transition(*r, kStateSkippedUnprofitable, height, kReasonUnprofitable,
                   fmt::format("claimed {} uPOKT does not exceed the expected fees of {} uPOKT "
                               "(claim tx {} + proof tx and submission fee {} weighted by the "
                               "chance a proof is required)",
                               r->claimedUpokt, protocol::toDecimal(expected), claimFee,
                               proofCost));
        metrics_->claims->with({"skipped_unprofitable", std::string(kReasonUnprofitable)}).inc();
        continue;
      }
      auto packed = claimMessage(*r);
      if (!packed.ok()) {
        transition(*r, kStateClaimFailed, height, kReasonMessageInvalid, packed.error().message);
        metrics_->claims->with({"failed", std::string(kReasonMessageInvalid)}).inc();
        continue;
      }
      needed += static_cast<std::uint64_t>(expected);
      kept.push_back(r);
      messages.push_back(std::move(*packed));
    }
    if (kept.empty()) continue;
    watchBalance(supplier, needed, height);
    std::string prefix =
        resendOf.empty() ? fmt::format("claim/{}/{}", supplier, open) : resendOf + "/r";
    submitBatch("claim", supplier, prefix, kept.front()->claimWindowClose, kept, messages, height);
  }
}

void Lifecycle::submitBatch(std::string_view kind, const std::string& supplier,
                            const std::string& idPrefix, std::int64_t timeoutHeight,
                            std::vector<SessionRecord*>& records,
                            std::vector<protocol::TxMessage>& messages, std::int64_t height) {
  const bool claim = kind == "claim";
  std::vector<TxRequest> requests;
  std::vector<std::vector<SessionRecord*>> covered;
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    std::size_t size = protocol::encodeAny(messages[i]).size() + 8;
    if (requests.empty() || (bytes + size > options_.maxMessageBytesPerTx &&
                             !requests.back().messages.empty())) {
      TxRequest request;
      request.id = fmt::format("{}/{}", idPrefix, requests.size());
      request.signer = supplier;
      request.timeoutHeight = timeoutHeight;
      requests.push_back(std::move(request));
      covered.emplace_back();
      bytes = 0;
    }
    bytes += size;
    requests.back().messages.push_back(std::move(messages[i]));
    covered.back().push_back(records[i]);
  }
  // Durable first: every record names its tx before any tx is handed over.
  for (std::size_t p = 0; p < requests.size(); ++p) {
    for (auto* r : covered[p]) {
      (claim ? r->claimTxId : r->proofTxId) = requests[p].id;
      r->resendOf.clear();
      transition(*r, claim ? kStateClaimSubmitted : kStateProofSubmitted, height);
    }
  }
  crashIf(claim ? LifecycleCrashPoint::beforeClaimBroadcast
                : LifecycleCrashPoint::beforeProofBroadcast);
  if (options_.crashAt == (claim ? LifecycleCrashPoint::afterClaimBroadcast
                                 : LifecycleCrashPoint::afterProofBroadcast)) {
    crashNextStep_ = options_.crashAt;
  }
  for (std::size_t p = 0; p < requests.size(); ++p) {
    auto status = submitter_.submit(requests[p]);
    if (status.ok()) continue;
    for (auto* r : covered[p]) {
      transition(*r, claim ? kStateClaimFailed : kStateProofFailed, height, kReasonSubmitRefused,
                 "the transaction submitter refused " + requests[p].id + ": " +
                     status.error().code + ": " + status.error().message);
      (claim ? metrics_->claims : metrics_->proofs)
          ->with({"failed", std::string(kReasonSubmitRefused)})
          .inc();
    }
  }
}

void Lifecycle::proveDue(std::int64_t height) {
  // (supplier, proof window open, failed batch being resent) → its sessions, in tree order.
  std::map<std::tuple<std::string, std::int64_t, std::string>, std::vector<SessionRecord*>> due;
  for (auto& [tree, r] : records_) {
    if (r.state != kStateClaimed || height < r.proofWindowOpen) continue;
    if (height > r.proofWindowClose) {
      transition(r, kStateProofFailed, height, kReasonWindowClosed,
                 fmt::format("the proof window closed at {} before the requirement was decided",
                             r.proofWindowClose));
      metrics_->proofs->with({"failed", std::string(kReasonWindowClosed)}).inc();
      continue;
    }
    due[{r.info.supplierOperatorAddress, r.proofWindowOpen, r.resendOf}].push_back(&r);
  }
  if (due.empty()) return;
  auto facts = chain_.proofFacts();
  if (!facts.ok()) {
    metrics_->chainErrors->with({"proof_params"}).inc();
    util::LogLine(log_, util::LogLevel::warn, "lifecycle_retry")
        .kv("step", "proof")
        .kv("code", facts.error().code)
        .kv("reason", "proof params unavailable, retrying next block: " + facts.error().message);
    return;
  }
  std::map<std::int64_t, util::Bytes> seeds;
  for (auto& [key, records] : due) {
    const auto& [supplier, open, resendOf] = key;
    auto seed = seeds.find(open - 1);
    if (seed == seeds.end()) {
      auto hash = chain_.blockHash(open - 1);
      if (!hash.ok()) {
        metrics_->chainErrors->with({"block"}).inc();
        util::LogLine(log_, util::LogLevel::warn, "lifecycle_retry")
            .kv("step", "proof")
            .kv("seed_height", open - 1)
            .kv("code", hash.error().code)
            .kv("reason", "proof seed block unavailable, retrying next block: " +
                              hash.error().message);
        continue;
      }
      seed = seeds.emplace(open - 1, *hash).first;
    }
    std::vector<SessionRecord*> required;
    std::vector<protocol::TxMessage> messages;
    for (auto* r : records) {
      util::Bytes root = rootBytes(*r);
      proof::Claim claim;
      claim.set_supplier_operator_address(supplier);
      *claim.mutable_session_header() = protocol::toProtoSessionHeader(r->info.header);
      claim.set_root_hash(std::string(root.begin(), root.end()));
      auto requirement = protocol::proofRequirement(protocol::BigInt(r->claimedUpokt),
                                                    facts->params, protocol::serialize(claim),
                                                    seed->second);
      if (!requirement.ok()) {
        transition(*r, kStateProofFailed, height, kReasonProofBuild,
                   "proof requirement: " + requirement.error().message);
        metrics_->proofs->with({"failed", std::string(kReasonProofBuild)}).inc();
        continue;
      }
      r->proofRequirement = std::string(protocol::reasonName(requirement->reason));
      if (!requirement->required()) {
        transition(*r, kStateProofNotRequired, height);
        metrics_->proofs->with({"not_required", ""}).inc();
        continue;
      }
      auto packed = proofMessage(store_, *r, seed->second);
      if (!packed.ok()) {
        transition(*r, kStateProofFailed, height, kReasonProofBuild, packed.error().message);
        metrics_->proofs->with({"failed", std::string(kReasonProofBuild)}).inc();
        continue;
      }
      required.push_back(r);
      messages.push_back(std::move(*packed));
    }
    if (required.empty()) continue;
    watchBalance(supplier,
                 submitter_.estimateFeeUpokt(protocol::kMsgSubmitProofTypeUrl, required.size()) +
                     facts->proofSubmissionFeeUpokt * required.size() + 1,
                 height);
    std::string prefix =
        resendOf.empty() ? fmt::format("proof/{}/{}", supplier, open) : resendOf + "/r";
    submitBatch("proof", supplier, prefix, required.front()->proofWindowClose, required, messages,
                height);
  }
}

void Lifecycle::settleDue(std::int64_t height) {
  std::map<std::int64_t, std::vector<SettlementEvent>> byHeight;
  std::set<std::int64_t> unavailable;
  for (auto& [tree, r] : records_) {
    if (r.terminal() || r.state == kStateOpen || r.state == kStateFlushed) continue;
    if (r.proofWindowClose == 0 || height < r.proofWindowClose) continue;
    // A tx still in flight at the window close gets its outcome first (next block).
    if ((r.state == kStateClaimSubmitted || r.state == kStateProofSubmitted) &&
        height <= r.proofWindowClose) {
      continue;
    }
    const std::int64_t at = r.proofWindowClose;
    if (unavailable.count(at) != 0) continue;
    auto found = byHeight.find(at);
    if (found == byHeight.end()) {
      auto events = chain_.settlements(at);
      if (!events.ok()) {
        metrics_->chainErrors->with({"block_results"}).inc();
        unavailable.insert(at);
        util::LogLine(log_, util::LogLevel::warn, "lifecycle_retry")
            .kv("step", "settlement")
            .kv("settlement_height", at)
            .kv("code", events.error().code)
            .kv("reason", "block results unavailable, retrying next block: " +
                              events.error().message);
        continue;
      }
      found = byHeight.emplace(at, std::move(*events)).first;
    }
    const SettlementEvent* match = nullptr;
    for (const auto& e : found->second) {
      if (e.supplier == r.info.supplierOperatorAddress &&
          e.application == r.info.header.applicationAddress &&
          e.service == r.info.header.serviceId &&
          e.sessionEnd == r.info.header.sessionEndBlockHeight) {
        match = &e;
        break;
      }
    }
    if (match && match->settled) {
      r.settledUpokt = match->settledUpokt;
      metrics_->settledUpokt->inc(match->settledUpokt);
      metrics_->settlements->with({"settled", ""}).inc();
      transition(r, kStateSettled, height);
    } else if (match) {
      std::string_view code = match->expirationReason == "PROOF_INVALID" ? kReasonProofInvalid
                                                                         : kReasonProofMissing;
      metrics_->settlements->with({"expired", std::string(code)}).inc();
      transition(r, kStateExpired, height, code,
                 fmt::format("the chain expired the claim at {}: {}", at, match->expirationReason));
    } else {
      metrics_->settlements->with({"expired", std::string(kReasonNoSettlement)}).inc();
      transition(r, kStateExpired, height, kReasonNoSettlement,
                 fmt::format("no settlement or expiration of this claim in block {} (state was "
                             "{}): the claim did not land on chain",
                             at, r.state));
    }
  }
}

void Lifecycle::cleanUp(std::int64_t height) {
  std::vector<std::string> done;
  for (const auto& [tree, r] : records_) {
    if (r.terminal() && height >= r.stateHeight + options_.retentionBlocks) done.push_back(tree);
  }
  for (const auto& tree : done) {
    const SessionRecord& r = records_.at(tree);
    std::string reason = fmt::format("retention of {} blocks after {} at {} passed",
                                     options_.retentionBlocks, r.state, r.stateHeight);
    onIngestThread_([&] { store_.removeTree(tree, reason); });
    if (!r.claimTxId.empty()) submitter_.forget(r.claimTxId);
    if (!r.proofTxId.empty()) submitter_.forget(r.proofTxId);
    records_.erase(tree);
  }
}

void Lifecycle::resubmitInFlight(std::int64_t height) {
  // After a (re)start: every tx a record names as in flight goes to the submitter again under its
  // id; a submitter that already knows the id changes nothing, and a decided one is applied now.
  std::map<std::string, std::vector<SessionRecord*>> byTx;
  for (auto& [tree, r] : records_) {
    if (r.state == kStateClaimSubmitted) byTx[r.claimTxId].push_back(&r);
    if (r.state == kStateProofSubmitted) byTx[r.proofTxId].push_back(&r);
  }
  for (auto& [id, records] : byTx) {
    if (auto decided = submitter_.outcome(id)) {
      applyOutcome(*decided, height);
      continue;
    }
    const bool claim = txKind(id) == "claim";
    TxRequest request;
    request.id = id;
    request.signer = records.front()->info.supplierOperatorAddress;
    request.timeoutHeight =
        claim ? records.front()->claimWindowClose : records.front()->proofWindowClose;
    std::optional<util::Bytes> seed;
    for (auto* r : records) {
      if (!claim && !seed) {
        auto hash = chain_.blockHash(r->proofWindowOpen - 1);
        if (!hash.ok()) break;  // retried on the next restart step below
        seed = *hash;
      }
      auto packed = claim ? claimMessage(*r) : proofMessage(store_, *r, *seed);
      if (packed.ok()) request.messages.push_back(std::move(*packed));
    }
    if (request.messages.size() != records.size()) {
      resubmitted_ = false;
      util::LogLine(log_, util::LogLevel::warn, "lifecycle_retry")
          .kv("step", "resubmit")
          .kv("tx", id)
          .kv("reason", "could not rebuild every message of the in-flight tx (chain or store "
                        "unavailable), retrying next block");
      continue;
    }
    auto status = submitter_.submit(request);
    util::LogLine(log_, status.ok() ? util::LogLevel::info : util::LogLevel::warn, "tx_resubmitted")
        .kv("tx", id)
        .kv("messages", request.messages.size())
        .kv("result", status.ok() ? "ok" : status.error().code)
        .kv("reason", "restart: the tx may be in flight; the submitter ignores an id it knows");
  }
}

}  // namespace pocket::sm
