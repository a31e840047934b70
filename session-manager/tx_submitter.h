#pragma once
// The session manager's transaction submitter (docs/transactions.md): signs the claim and proof
// transactions the lifecycle asks for with the supplier operator's key (SIGN_MODE_DIRECT),
// broadcasts them, confirms each by looking it up in the chain after every block, rebroadcasts
// while its window is open, and reports one outcome per request.
//
// Sequences: ordered transactions with local tracking per signer. The account number is read
// once; the sequence is read once and then counted locally, so a claim and a proof of one
// supplier can be in the mempool together (consecutive sequences). A node answer "account
// sequence mismatch, expected N, got M" resynchronises the signer to N. A request is signed
// again (a new tx hash) only when every tx signed for it before can no longer land:
//   - CheckTx refused it (it never entered a mempool), or
//   - the chain's committed sequence passed its sequence and the tx was not found in the chain at
//     two different heights (another tx consumed that sequence), or
//   - it is in a block with code 32 (a sequence mismatch in the block consumes nothing).
// Otherwise the same bytes are rebroadcast, which can never make a second transaction.
//
// Timeouts come from the chain: timeout_height is the request's last height (the window close),
// expiry is decided by the heights onBlock() is told, never by the wall clock.
//
// Persistence: one RocksDB under `<store>/txs/`. submit() writes the request before it returns
// (a process crash after the return keeps it). A newly signed tx's bytes and hash are written,
// and the tx is broadcast only after a sync of the write-ahead log has made that write durable
// (one sync covers every tx signed since the previous one). After a restart every request whose
// outcome is not decided resumes: its recorded hashes are looked up, the same bytes are
// rebroadcast, and no request is ever sent as a second transaction while an earlier one may
// still land.
//
// Gas: simulated (`gasAdjustment` × gas used) unless a constant limit is configured; a simulated
// figure is reused for txs of the same type, message count and size signed within 10 blocks.
//
// Threading: every public method is called from one thread (the lifecycle thread). The
// submitter broadcasts on its own worker pool (`broadcastWorkers` threads): submit() returns at
// once and the request is signed and broadcast by a worker; onBlock() has the workers check every
// signer with requests in flight in parallel (one worker serves one signer at a time, so a
// signer's sequences are used in order) and returns when that round is done. onBlock() also
// reads the account of every signer not known yet, so a window opening finds them cached.
// Errors: submit() returns util::Status with the codes below; node failures are retried on later
// blocks (counted and logged); RocksDB I/O errors throw smst::StoreError (logistics).
// Ownership: main() owns it; it borrows the TxNode, the log sink and the metrics registry.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/crypto/keys.h"
#include "common/protocol/tx.h"
#include "common/util/log.h"
#include "common/util/metrics.h"
#include "common/util/result.h"
#include "session-manager/tx_node.h"

namespace pocket::sm {

// Outcome kinds of one submitted transaction.
enum class TxOutcomeKind {
  kIncluded,       // in a block with code 0
  kFailedInBlock,  // in a block with code != 0 (fee and sequence consumed); code/codespace/log set
  kRejected,       // refused for good before inclusion (CheckTx code that retrying cannot fix:
              // 4 unauthorized, 5 insufficient funds, 13 fee, 30/42 timeout, poktroll codes ...)
  kExpired,  // not included by timeoutHeight (rebroadcast did not help)
};

// "included", "failed_in_block", "rejected", "expired".
std::string_view txOutcomeKindName(TxOutcomeKind kind);

struct TxRequest {
  std::string
      id;  // unique, stable across restarts, e.g. "claim/<supplier>/<claimWindowOpen>/<part>"
  std::string signer;  // supplier operator address; its key is configured in the session manager
  std::vector<protocol::TxMessage>
      messages;                    // caller keeps each tx under protocol::kMaxBroadcastTxBytes
  std::int64_t timeoutHeight = 0;  // last height the tx may land in (window close)
};

struct TxOutcome {
  std::string id;
  TxOutcomeKind kind = TxOutcomeKind::kRejected;
  std::string txHash;       // uppercase hex of the tx that decided the outcome
  std::int64_t height = 0;  // block it landed in (kIncluded / kFailedInBlock)
  std::uint32_t code = 0;
  std::string codespace;
  std::string log;             // the node's text
  std::uint64_t feeUpokt = 0;  // fee paid (0 when nothing was consumed)
  std::int64_t gasUsed = 0;
  std::string
      reason;  // words, for the lifecycle line (e.g. "window closed: timeout height 130 passed")
};

class TxSubmitter {
 public:
  virtual ~TxSubmitter() = default;
  // Records the request durably before returning, then signs and broadcasts it (now or on the
  // next onBlock). Idempotent by id: a request whose id is already known (in flight or decided)
  // changes nothing — the lifecycle re-submits after a restart without double-sending.
  // Errors: unknown signer key, empty messages, a tx over the size limit (named codes).
  virtual util::Status submit(const TxRequest& request) = 0;
  // Called by the lifecycle thread once per new height (coalesced heights: the newest one), with
  // that block's time. Checks inclusion of every in-flight tx (by hash, never assuming code 0 of
  // broadcast_tx_sync means anything), rebroadcasts / re-signs what is missing while
  // height <= timeoutHeight, recovers sequence mismatches, and returns the outcomes decided now.
  // Each outcome is returned once; it stays queryable by outcome(id).
  virtual std::vector<TxOutcome> onBlock(std::int64_t height, std::int64_t blockTimeUnixMs) = 0;
  // The decided outcome of a request, if any (after a restart too).
  virtual std::optional<TxOutcome> outcome(const std::string& id) const = 0;
  // Expected fee in uPOKT of one tx carrying `messageCount` messages of `typeUrl`, from the
  // node's gas price and gas observed on recent included txs of that kind (a configured
  // fallback before any was observed). Used by the profitability gate.
  virtual std::uint64_t estimateFeeUpokt(std::string_view typeUrl,
                                         std::size_t messageCount) const = 0;
  // Forget decided requests (retention/cleanup); in-flight ones are kept.
  virtual void forget(const std::string& id) = 0;
};

// --- Error codes of submit() ----------------------------------------------------------------

inline constexpr std::string_view kErrBadRequest = "bad_tx_request";     // empty id, bad timeout
inline constexpr std::string_view kErrUnknownSigner = "unknown_signer";  // no key configured
inline constexpr std::string_view kErrNoMessages = "no_messages";
inline constexpr std::string_view kErrTxTooLarge = "tx_too_large";
inline constexpr std::string_view kErrBadGasPrice = "bad_gas_price";  // GasPrice::parse

// --- Helpers (pure; exposed for tests) --------------------------------------------------------

// A price in uPOKT per unit of gas, exactly: numerator / 10^scale. Value type.
struct GasPrice {
  std::uint64_t numerator = 0;
  unsigned scale = 0;  // at most 18 decimal places

  // "0.000001", "0.000001upokt", "1", "1.5upokt". Error kErrBadGasPrice (another denom, a
  // negative or malformed number, more than 18 decimals).
  static util::Result<GasPrice> parse(std::string_view text);
  // ceil(gas × price): the smallest fee the node's minimum gas price accepts.
  std::uint64_t feeFor(std::uint64_t gas) const;
  std::string text() const;  // "0.000001upokt"
};

// N from a node's "account sequence mismatch, expected N, got M: ..." text; nullopt otherwise.
std::optional<std::uint64_t> parseExpectedSequence(std::string_view log);
// The decimal number right after the first `marker` in a node's text; nullopt when the marker is
// absent, no digit follows it, or the number does not fit in 64 bits.
std::optional<std::uint64_t> numberAfter(std::string_view log, std::string_view marker);

// --- The implementation over a full node -------------------------------------------------------

struct TxSubmitterOptions {
  std::string chainId;                 // part of every sign doc
  std::string directory;               // its RocksDB, normally <store>/txs
  GasPrice fallbackGasPrice;           // until (or unless) the node says its minimum gas price
  double gasAdjustment = 1.5;          // gas limit = ceil(simulated gas × this)
  std::uint64_t constantGasLimit = 0;  // > 0: use this gas limit, no simulation
  std::size_t broadcastWorkers = 8;
  std::int64_t rebroadcastIntervalBlocks = 1;  // blocks without inclusion before a rebroadcast
  // Gas per message assumed by estimateFeeUpokt before a tx of that kind was seen in a block.
  std::uint64_t fallbackGasPerMessage = 100000;
};

// What /status shows of a request.
struct TxRecordSummary {
  std::string id;
  std::string signer;
  std::string state;  // "queued", "broadcast", or the outcome kind
  std::string txHash;
  std::uint64_t sequence = 0;
  std::int64_t timeoutHeight = 0;
  std::uint32_t broadcasts = 0;
};

class ChainTxSubmitter final : public TxSubmitter {
 public:
  // Opens (creating) the record store and resumes every undecided request. `keys` are the
  // supplier operator keys (their addresses are the signers this submitter accepts). Throws
  // smst::StoreError when the store cannot be opened or a record is corrupt.
  ChainTxSubmitter(TxSubmitterOptions options, const std::vector<crypto::PrivateKey>& keys,
                   TxNode& node, util::LogSink& log, util::MetricsRegistry& metrics);
  ~ChainTxSubmitter() override;
  ChainTxSubmitter(const ChainTxSubmitter&) = delete;
  ChainTxSubmitter& operator=(const ChainTxSubmitter&) = delete;

  util::Status submit(const TxRequest& request) override;
  std::vector<TxOutcome> onBlock(std::int64_t height, std::int64_t blockTimeUnixMs) override;
  std::optional<TxOutcome> outcome(const std::string& id) const override;
  std::uint64_t estimateFeeUpokt(std::string_view typeUrl, std::size_t messageCount) const override;
  void forget(const std::string& id) override;

  // Waits until the workers have nothing queued or running (tests; a clean stop).
  void waitIdle();
  // Every request the store knows, in id order. Thread-safe.
  std::vector<TxRecordSummary> records() const;
  // The gas price fees are computed with now (the node's, else the fallback). Thread-safe.
  GasPrice gasPrice() const;

 private:
  struct Record;
  struct Signer;
  struct Store;

  void enqueueLocked(Signer& signer);
  void workerLoop();
  // Everything one signer needs at the current height; runs on a worker.
  void serveSigner(Signer& signer);
  void checkInclusion(Signer& signer, Record& record, std::int64_t height);
  bool ensureAccount(Signer& signer);
  // Simulates, signs and writes a new tx for the request; broadcast after the next sync.
  void signRecord(Signer& signer, Record& record, std::int64_t height);
  void broadcastSigned(Signer& signer, Record& record, std::int64_t height);
  bool idleLocked() const;
  // True when a request of `signer` holds a tx with a sequence in [from, to).
  bool ownSequencesBelow(Signer& signer, std::uint64_t from, std::uint64_t to) const;
  void rebroadcast(Signer& signer, Record& record, std::int64_t height);
  void decide(Record& record, TxOutcome outcome);
  void refreshGasPrice();
  void persist(const Record& record, bool sync);

  TxSubmitterOptions options_;
  TxNode& node_;
  util::LogSink& log_;

  std::unique_ptr<Store> store_;
  mutable std::mutex mutex_;      // guards everything below
  std::condition_variable work_;  // workers wait for queued signers
  std::condition_variable idle_;  // waitIdle() waits for no work
  std::map<std::string, std::unique_ptr<Signer>> signers_;
  std::map<std::string, std::unique_ptr<Record>> records_;
  std::deque<Signer*> queue_;
  std::vector<std::string> forgetLater_;  // forget() while the record's signer was busy
  std::size_t running_ = 0;
  std::vector<Signer*> syncWaiters_;  // signers with signed txs waiting for the next sync
  bool syncing_ = false;
  std::uint64_t writeTicket_ = 0;   // signed-tx writes so far
  std::uint64_t syncedTicket_ = 0;  // writes made durable by a sync
  bool stopping_ = false;
  std::int64_t height_ = 0;
  std::int64_t blockTimeUnixMs_ = 0;
  std::optional<GasPrice> nodeGasPrice_;
  std::int64_t gasPriceCheckedHeight_ = -1;
  // Recent gas used per message of included txs, by type URL (newest last, at most 32).
  std::map<std::string, std::deque<double>, std::less<>> gasPerMessage_;
  // The last simulated gas by tx shape (type URL, message count, size / 256), with its height.
  struct GasShape {
    std::string typeUrl;
    std::size_t messages = 0;
    std::size_t sizeBucket = 0;
    auto operator<=>(const GasShape&) const = default;
  };
  std::map<GasShape, std::pair<std::uint64_t, std::int64_t>> simulatedGas_;
  std::vector<std::thread> workers_;

  struct Metrics;
  std::unique_ptr<Metrics> metrics_;
};

}  // namespace pocket::sm
