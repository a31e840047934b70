#pragma once
// The claim and proof lifecycle of every (supplier, session) tree (docs/architecture.md §7),
// driven by blocks:
//
//   open → flushed(root) → claim_submitted(tx) → claimed → proof_not_required | proof_submitted(tx)
//        → proven → settled
//   or skipped_unprofitable | claim_failed | proof_failed | expired, each with its reason.
//
// Per block (step(height)), in this order:
//   1. the TxSubmitter's outcomes of this block: claim_submitted → claimed | claim_failed,
//      proof_submitted → proven | proof_failed (a tx is confirmed by its inclusion, never assumed);
//   2. every tree the store holds without a record gets one (`open`);
//   3. claim window open (window params at the session's end height): the tree is flushed on the
//      ingest thread (its root fixed, relays arriving later rejected), its claimed uPOKT computed
//      from the root (pricing params and difficulty at the session start) → `flushed`;
//   4. the flushed sessions of one supplier whose claim window is open are gated (claimed uPOKT
//      against the expected claim fee plus, weighted by the chance it is required, the proof tx
//      fee and the proof submission fee; off with `profitability_gate: false`) and claimed in one
//      transaction per (supplier, claim window open), split so each stays under the broadcast size
//      limit; id "claim/<supplier>/<claimWindowOpen>/<part>", timeout height = claim window close;
//   5. at proof window open the requirement is decided from the hash of block proofWindowOpen − 1
//      (exactly that block): not required → `proof_not_required`; required → proveClosest on the
//      flushed tree, compacted, gob-encoded, batched like claims ("proof/<supplier>/<open>/<part>",
//      timeout height = proof window close);
//      A batch tx that failed in the block because of one message (the SDK's "message index: N";
//      Cosmos txs are atomic, so one bad message reverts them all), or that the node refused for
//      one message (its simulation runs the messages and names it the same way): that session goes
//      to claim_failed / proof_failed with reason `message_rejected` and the chain's words, the
//      others go back to flushed / claimed (reason `batch_resend`) and are sent again in a new
//      tx ("<failed id>/r/<part>") while their window is open. The messages of a tx are in tree
//      order, so the index names the session.
//   6. from the proof window close height on, the settlement is read from that block's
//      finalize-block events → `settled` (amount) or `expired` (the chain's reason);
//   7. `retention_blocks` after a session's last transition its tree and record are removed.
//
// Durability: every transition is written (synced) to the store before the action it enables
// (a record is `claim_submitted` with its tx id before the tx is handed to the submitter). After
// a restart the records say which txs may be in flight; they are submitted again under the same
// id, which the submitter treats as a no-op when it knows the id. Nothing is claimed or proven
// twice, nothing is forgotten.
//
// Every transition is one log line `event=session_state state=... supplier=... service=...
// application=... session_id=... start=... end=... relays=... compute_units=... claimed_upokt=...
// root=... tx=... tx_hash=... tx_height=... reason=...` (fields that apply) and a counter.
//
// Errors: a chain that does not answer is retried on the next block (counted, logged); it never
// moves a session to a failure state before its window closes. StoreError from the store is
// logistics (the thread logs it and the process exits; a restart recovers).
//
// Ownership and threading: main() owns it; it borrows the store, the chain, the submitter, the
// ingest runner, the log and the metrics. onHead() and sessions() are thread-safe; step() runs on
// the lifecycle thread (start()) or, in tests, on the caller's thread. The submitter and the
// chain are called from that thread only.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/protocol/proof_requirement.h"
#include "common/util/log.h"
#include "common/util/metrics.h"
#include "common/util/result.h"
#include "session-manager/chain_source.h"
#include "session-manager/session_store.h"
#include "session-manager/tx_submitter.h"

namespace pocket::sm {

// Lifecycle states, as the log and /status print them.
inline constexpr std::string_view kStateOpen = "open";
inline constexpr std::string_view kStateFlushed = "flushed";
inline constexpr std::string_view kStateClaimSubmitted = "claim_submitted";
inline constexpr std::string_view kStateClaimed = "claimed";
inline constexpr std::string_view kStateProofNotRequired = "proof_not_required";
inline constexpr std::string_view kStateProofSubmitted = "proof_submitted";
inline constexpr std::string_view kStateProven = "proven";
inline constexpr std::string_view kStateSettled = "settled";
inline constexpr std::string_view kStateSkippedUnprofitable = "skipped_unprofitable";
inline constexpr std::string_view kStateClaimFailed = "claim_failed";
inline constexpr std::string_view kStateProofFailed = "proof_failed";
inline constexpr std::string_view kStateExpired = "expired";

// Reason codes of the failure states (the `reason_code` field; `reason` has the words).
inline constexpr std::string_view kReasonWindowClosed = "window_closed";
inline constexpr std::string_view kReasonSessionUnknown = "session_unknown";
inline constexpr std::string_view kReasonSessionParams = "session_params_invalid";
inline constexpr std::string_view kReasonUnprofitable = "unprofitable";
inline constexpr std::string_view kReasonTxFailedInBlock = "tx_failed_in_block";
inline constexpr std::string_view kReasonTxRejected = "tx_rejected";
inline constexpr std::string_view kReasonTxExpired = "tx_expired";
inline constexpr std::string_view kReasonSubmitRefused = "submit_refused";
inline constexpr std::string_view kReasonMessageInvalid = "message_invalid";
inline constexpr std::string_view kReasonProofBuild = "proof_build_failed";
inline constexpr std::string_view kReasonProofMissing = "proof_missing";
inline constexpr std::string_view kReasonProofInvalid = "proof_invalid";
inline constexpr std::string_view kReasonNoSettlement = "no_settlement_event";
// One message of a batch tx failed in the block (the chain names it by its index); the session of
// that message fails with this code and the rest of the batch is sent again without it.
inline constexpr std::string_view kReasonMessageRejected = "message_rejected";
// Not a failure: the reason a session goes back to `flushed` / `claimed` to be sent again after
// another session's message failed its batch.
inline constexpr std::string_view kReasonBatchResend = "batch_resend";

// Error codes of LifecycleChain implementations besides ChainSource's.
inline constexpr std::string_view kLifecycleChainBadReply = "chain_bad_reply";

// The proof facts the requirement and the gate read (pocket.proof.Params).
struct ProofFacts {
  protocol::ProofParams params;
  std::uint64_t proofSubmissionFeeUpokt = 0;
};

// One claim's end, read from a block's finalize-block events (EventClaimSettled / Expired).
struct SettlementEvent {
  std::string supplier;
  std::string application;
  std::string service;
  std::int64_t sessionEnd = 0;
  bool settled = false;
  std::uint64_t settledUpokt = 0;
  std::string expirationReason;  // PROOF_MISSING, PROOF_INVALID, ... (expired only)
};

// What the lifecycle reads from the chain. Errors: kChainNotFound is definitive; everything else
// is transient (retried on the next block). Called from the lifecycle thread only.
class LifecycleChain {
 public:
  virtual ~LifecycleChain() = default;
  virtual util::Result<SessionFacts> session(const std::string& application,
                                             const std::string& service,
                                             std::int64_t startHeight) = 0;
  // The 32-byte hash of the block at exactly `height`.
  virtual util::Result<util::Bytes> blockHash(std::int64_t height) = 0;
  // The proof params in force now.
  virtual util::Result<ProofFacts> proofFacts() = 0;
  virtual util::Result<std::uint64_t> spendableUpokt(const std::string& address) = 0;
  // The claim settlements and expirations of block `height`.
  virtual util::Result<std::vector<SettlementEvent>> settlements(std::int64_t height) = 0;
};

// One (supplier, session) as the lifecycle keeps it. Value type; persisted as JSON.
struct SessionRecord {
  std::string tree;  // treeKey(supplier, sessionId)
  TreeInfo info;
  std::string state{kStateOpen};
  std::int64_t stateHeight = 0;  // height of the last transition
  // Windows (params at the session end), known from `flushed` on.
  std::int64_t claimWindowOpen = 0;
  std::int64_t claimWindowClose = 0;
  std::int64_t proofWindowOpen = 0;
  std::int64_t proofWindowClose = 0;
  // Claim, from `flushed` on.
  std::string rootHex;
  std::uint64_t relays = 0;
  std::uint64_t computeUnits = 0;
  std::string claimedUpokt;  // decimal
  std::string claimTxId;
  std::string claimTxHash;
  std::int64_t claimTxHeight = 0;
  // Proof.
  std::string proofRequirement;  // NOT_REQUIRED, PROBABILISTIC, THRESHOLD once decided
  std::string proofTxId;
  std::string proofTxHash;
  std::int64_t proofTxHeight = 0;
  std::uint64_t feesUpokt = 0;  // this session's share of the fees paid
  // Set while the session waits to be sent again after another message failed its batch: the id
  // of that failed tx (the new tx's id is derived from it, so it never repeats an id).
  std::string resendOf;
  // Outcome.
  std::uint64_t settledUpokt = 0;
  std::string reasonCode;
  std::string reason;

  bool terminal() const;
  nlohmann::json toJson() const;
  // Throws smst::StoreError on a corrupt record.
  static SessionRecord fromJson(const std::string& tree, const std::string& text);
};

// The index N of the message a failed tx names in its log ("... message index: N: ..."), as the
// SDK reports the first message that failed; nullopt when the log names none.
std::optional<std::size_t> failedMessageIndex(std::string_view log);

// Fault injection for the crash tests (`run --crash-at POINT`): the process kills itself with
// SIGKILL at the first claim (or proof) tx, just before it is handed to the submitter (its records
// already say claim_submitted / proof_submitted), or at the step after it was handed over (the
// submitter has broadcast it; its outcome is not applied yet).
enum class LifecycleCrashPoint {
  none,
  beforeClaimBroadcast,
  afterClaimBroadcast,
  beforeProofBroadcast,
  afterProofBroadcast
};

struct LifecycleOptions {
  LifecycleCrashPoint crashAt = LifecycleCrashPoint::none;
  bool profitabilityGate = true;
  std::int64_t retentionBlocks = 100;
  // Per tx: messages are packed while their encoded size stays under this (the signature, auth
  // info and envelope fit in the rest of protocol::kMaxBroadcastTxBytes).
  std::size_t maxMessageBytesPerTx = 740000;
};

class Lifecycle {
 public:
  // Runs a task on the ingest thread, after the batches queued before it, and returns when it
  // ran (main: Ingest::post plus a wait; tests: inline).
  using IngestRunner = std::function<void(std::function<void()>)>;

  // Loads the persisted records. Throws smst::StoreError on a corrupt record.
  Lifecycle(LifecycleOptions options, SessionStore& store, LifecycleChain& chain,
            TxSubmitter& submitter, IngestRunner onIngestThread, util::LogSink& log,
            util::MetricsRegistry& metrics);
  ~Lifecycle();
  Lifecycle(const Lifecycle&) = delete;
  Lifecycle& operator=(const Lifecycle&) = delete;

  void start();
  void stop();
  // Thread-safe, never blocks: wakes the lifecycle thread with the newest head (heights coalesce).
  void onHead(std::int64_t height, std::int64_t blockTimeUnixMs);

  // One block's work (the lifecycle thread, or a test).
  void step(std::int64_t height, std::int64_t blockTimeUnixMs);

  // Thread-safe snapshot, in tree order.
  std::vector<SessionRecord> sessions() const;

 private:
  struct Metrics;
  void loop();
  void transition(SessionRecord& record, std::string_view state, std::int64_t height,
                  std::string_view reasonCode = {}, const std::string& reason = {});
  void persist(const SessionRecord& record);
  void applyOutcome(const TxOutcome& outcome, std::int64_t height);
  // A failed batch that names its failing message: fails that session, queues the rest again.
  // False when the log names no message of this batch (the caller fails them all).
  bool splitFailedBatch(const TxOutcome& outcome, std::vector<SessionRecord*>& covered,
                        std::int64_t height);
  void discover(std::int64_t height);
  void flushDue(std::int64_t height);
  void claimDue(std::int64_t height);
  void proveDue(std::int64_t height);
  void settleDue(std::int64_t height);
  void cleanUp(std::int64_t height);
  void resubmitInFlight(std::int64_t height);
  // Packs messages into TxRequests under the size limit and submits them; the records get their
  // tx ids (persisted) before any submit.
  // Ids are "<idPrefix>/<part>"; `records` must be in tree order (records_'s), which is the
  // order of their messages.
  void submitBatch(std::string_view kind, const std::string& supplier, const std::string& idPrefix,
                   std::int64_t timeoutHeight, std::vector<SessionRecord*>& records,
                   std::vector<protocol::TxMessage>& messages, std::int64_t height);
  void watchBalance(const std::string& supplier, std::uint64_t neededUpokt, std::int64_t height);
  void crashIf(LifecycleCrashPoint point);

  LifecycleOptions options_;
  SessionStore& store_;
  LifecycleChain& chain_;
  TxSubmitter& submitter_;
  IngestRunner onIngestThread_;
  util::LogSink& log_;
  std::unique_ptr<Metrics> metrics_;

  std::map<std::string, SessionRecord> records_;  // lifecycle thread; copies under snapshotMutex_
  bool resubmitted_ = false;                       // in-flight txs re-submitted after (re)start
  LifecycleCrashPoint crashNextStep_ = LifecycleCrashPoint::none;
  std::int64_t lastHeight_ = 0;

  mutable std::mutex snapshotMutex_;
  std::vector<SessionRecord> snapshot_;

  std::mutex wakeMutex_;
  std::condition_variable wake_;
  std::int64_t pendingHeight_ = 0;  // guarded by wakeMutex_
  std::int64_t pendingTimeMs_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

// Prometheus-free summary for /status: one JSON object per record.
nlohmann::json lifecycleJson(const std::vector<SessionRecord>& records);

}  // namespace pocket::sm
