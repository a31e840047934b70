#include "session-manager/tx_submitter.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include "common/smst/store.h"
#include "common/util/base64.h"
#include "common/util/hex.h"
#include "common/util/thread_name.h"

namespace pocket::sm {

namespace {

using Clock = std::chrono::steady_clock;

// ABCI codes of codespace "sdk" the submitter tells apart (docs/transactions.md).
constexpr std::uint32_t kCodeUnauthorized = 4;
constexpr std::uint32_t kCodeInsufficientFunds = 5;
constexpr std::uint32_t kCodeUnknownAddress = 9;
constexpr std::uint32_t kCodeOutOfGas = 11;
constexpr std::uint32_t kCodeInsufficientFee = 13;
constexpr std::uint32_t kCodeTxInMempoolCache = 19;
constexpr std::uint32_t kCodeTxTimeoutHeight = 30;
constexpr std::uint32_t kCodeWrongSequence = 32;
constexpr std::uint32_t kCodeTxTimeout = 42;

// Re-signings after "expected N" within one pass over a signer (the node's answer converges at
// once unless another client races us; the next block tries again).
constexpr int kMaxSignAttempts = 3;
// Gas limit of the tx that is simulated (simulation meters nothing against it).
constexpr std::uint64_t kSimulationGasLimit = 10'000'000;
// Gas samples kept per message type for estimateFeeUpokt.
constexpr std::size_t kGasSamples = 32;
// A simulated gas figure is reused for txs of the same kind, message count and size (within
// 256 bytes) signed within this many blocks: a thousand claims at a window open need one
// simulation, not a thousand.
constexpr std::int64_t kGasReuseBlocks = 10;
// Blocks between two reads of the node's minimum gas price.
constexpr std::int64_t kGasPriceRefreshBlocks = 100;

bool isSdk(std::string_view codespace) {
  return codespace == "sdk";
}

// A short token for the outcome counter and the words for the lifecycle line.
struct Refusal {
  std::string token;
  std::string words;
  bool loud = false;
};

Refusal classifyRefusal(std::uint32_t code, std::string_view codespace, std::string_view log) {
  std::string text(log);
  if (isSdk(codespace)) {
    switch (code) {
      case kCodeInsufficientFunds:
        return {"out_of_funds", "out of funds: the signer cannot pay the fee: " + text, true};
      case kCodeInsufficientFee:
        return {"insufficient_fee", "fee below the node's minimum gas price: " + text, true};
      case kCodeOutOfGas:
        return {"out_of_gas", "gas limit too low (raise transactions.gas_adjustment): " + text,
                true};
      case kCodeTxTimeoutHeight:
      case kCodeTxTimeout:
        return {"window_closed", "window closed: " + text, false};
      case kCodeUnknownAddress:
        return {"no_account", "the signer's account does not exist (never funded): " + text, true};
      case kCodeUnauthorized:
        return {"unauthorized",
                "signature refused (wrong chain id, account number or key): " + text, true};
      default:
        break;
    }
  }
  return {"refused",
          fmt::format("refused by the node: codespace={} code={}: {}", codespace, code, text),
          false};
}

std::uint64_t pow10(unsigned n) {
  std::uint64_t v = 1;
  while (n-- > 0) v *= 10;
  return v;
}

// The SDK code behind a failed simulation. The gRPC simulate path wraps every cause in code 6;
// the cause's registered description ends its text ("...: tx timeout height").
std::uint32_t simulationCause(std::uint32_t code, std::string_view log) {
  // "... with gas used: 'N': unknown request" on the gRPC path.
  if (auto at = log.find(" with gas used: "); at != std::string_view::npos) log = log.substr(0, at);
  auto endsWith = [&](std::string_view suffix) {
    return log.size() >= suffix.size() && log.substr(log.size() - suffix.size()) == suffix;
  };
  if (endsWith("tx timeout height")) return kCodeTxTimeoutHeight;
  if (endsWith("tx timeout")) return kCodeTxTimeout;
  if (endsWith("insufficient funds")) return kCodeInsufficientFunds;
  if (endsWith("insufficient fee")) return kCodeInsufficientFee;
  if (endsWith("out of gas")) return kCodeOutOfGas;
  if (endsWith("unauthorized")) return kCodeUnauthorized;
  return code;
}

}  // namespace

std::string_view txOutcomeKindName(TxOutcomeKind kind) {
  switch (kind) {
    case TxOutcomeKind::kIncluded:
      return "included";
    case TxOutcomeKind::kFailedInBlock:
      return "failed_in_block";
    case TxOutcomeKind::kRejected:
      return "rejected";
    case TxOutcomeKind::kExpired:
      return "expired";
  }
  return "unknown";
}

// --- GasPrice ---------------------------------------------------------------------------------

util::Result<GasPrice> GasPrice::parse(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return util::makeError(std::string(kErrBadGasPrice),
                           fmt::format("gas price '{}': {}", text, why));
  };
  std::string_view number = text;
  if (number.size() >= 5 && number.substr(number.size() - 5) == "upokt") {
    number.remove_suffix(5);
  }
  if (number.empty())
    return bad("no number (expected a decimal such as 0.000001 or 0.000001upokt)");
  GasPrice price;
  bool dot = false;
  unsigned digits = 0;
  for (char c : number) {
    if (c == '.') {
      if (dot) return bad("more than one decimal point");
      dot = true;
      continue;
    }
    if (c < '0' || c > '9') {
      return bad("not a non-negative decimal number in upokt (another denomination or a sign?)");
    }
    if (dot) {
      if (++price.scale > 18) return bad("more than 18 decimal places");
    }
    if (price.numerator > (UINT64_MAX - 9) / 10) return bad("too large");
    price.numerator = price.numerator * 10 + static_cast<unsigned>(c - '0');
    ++digits;
  }
  if (digits == 0) return bad("no digits");
  return price;
}

std::uint64_t GasPrice::feeFor(std::uint64_t gas) const {
  __extension__ using Wide = unsigned __int128;
  Wide denominator = pow10(scale);
  Wide fee = (static_cast<Wide>(gas) * numerator + denominator - 1) / denominator;
  return fee > UINT64_MAX ? UINT64_MAX : static_cast<std::uint64_t>(fee);
}

std::string GasPrice::text() const {
  std::string digits = std::to_string(numerator);
  if (scale > 0) {
    if (digits.size() <= scale) digits.insert(0, scale - digits.size() + 1, '0');
    digits.insert(digits.size() - scale, ".");
  }
  return digits + "upokt";
}

std::optional<std::uint64_t> parseExpectedSequence(std::string_view log) {
  return numberAfter(log, "account sequence mismatch, expected ");
}

std::optional<std::uint64_t> numberAfter(std::string_view log, std::string_view marker) {
  auto at = log.find(marker);
  if (at == std::string_view::npos) return std::nullopt;
  std::size_t i = at + marker.size();
  std::uint64_t value = 0;
  std::size_t digits = 0;
  while (i < log.size() && log[i] >= '0' && log[i] <= '9') {
    if (value > (UINT64_MAX - 9) / 10) return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(log[i] - '0');
    ++i;
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  return value;
}

// --- Records and their store ---------------------------------------------------------------------

struct ChainTxSubmitter::Record {
  enum class State { queued, broadcast, decided };
  // One signed transaction of this request.
  struct Signed {
    std::string hash;
    std::uint64_t sequence = 0;
    std::uint64_t feeUpokt = 0;
    bool dead = false;  // can never land (refused by CheckTx, or in a block with code 32)
  };

  TxRequest request;
  std::int64_t submitHeight = 0;
  State state = State::queued;
  // The current signed tx (state broadcast): what is rebroadcast.
  util::Bytes txRaw;
  std::string hash;
  std::uint64_t sequence = 0;
  std::uint64_t gasLimit = 0;
  std::uint64_t feeUpokt = 0;
  std::vector<Signed> signedTxs;  // every tx ever signed for this request, oldest first
  std::int64_t lastBroadcastHeight = 0;
  std::uint32_t broadcasts = 0;
  std::optional<TxOutcome> outcome;
  bool reported = false;
  // In memory only.
  std::optional<Clock::time_point> submittedAt;  // unknown after a restart
  std::int64_t lastCheckedHeight = 0;
  bool lookupFailed = false;
  int consumedSightings = 0;
  std::int64_t consumedSeenHeight = 0;
  // Signed and written, not broadcast until the write is synced (syncTicket ≤ syncedTicket_).
  bool awaitingBroadcast = false;
  std::uint64_t syncTicket = 0;
  // Sequence mismatches at one height: after kMaxSignAttempts the next block tries again.
  std::int64_t mismatchHeight = 0;
  int mismatches = 0;
  Signer* signer = nullptr;
};

struct ChainTxSubmitter::Signer {
  std::string address;
  crypto::PrivateKey key;
  util::Bytes publicKey;
  std::optional<std::uint64_t> accountNumber;
  std::optional<std::uint64_t> nextSequence;  // the check state's next sequence, as we know it
  std::vector<Record*> live;                  // undecided requests, in submission order
  bool queued = false;
  bool running = false;
  bool again = false;
  bool awaitingSync = false;          // in syncWaiters_
  std::int64_t warmUpHeight = -1000;  // last height its account was fetched ahead of need
};

struct ChainTxSubmitter::Store {
  std::unique_ptr<rocksdb::DB> db;

  explicit Store(const std::string& directory) {
    std::filesystem::create_directories(directory);
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    auto status = rocksdb::DB::Open(options, directory, &raw);
    if (!status.ok()) {
      throw smst::StoreError("tx records " + directory + ": " + status.ToString());
    }
    db.reset(raw);
  }
  void put(const std::string& id, const std::string& value, bool sync) {
    rocksdb::WriteOptions options;
    options.sync = sync;
    auto status = db->Put(options, "r" + id, value);
    if (!status.ok()) throw smst::StoreError("tx records: write " + id + ": " + status.ToString());
  }
  // Makes every earlier write durable (one fsync of the write-ahead log for all of them).
  void sync() {
    auto status = db->SyncWAL();
    if (!status.ok()) throw smst::StoreError("tx records: sync: " + status.ToString());
  }
  void remove(const std::string& id) {
    auto status = db->Delete(rocksdb::WriteOptions(), "r" + id);
    if (!status.ok()) throw smst::StoreError("tx records: delete " + id + ": " + status.ToString());
  }
};

namespace {

nlohmann::json outcomeJson(const TxOutcome& o) {
  return {{"kind", std::string(txOutcomeKindName(o.kind))},
          {"txHash", o.txHash},
          {"height", o.height},
          {"code", o.code},
          {"codespace", o.codespace},
          {"log", o.log},
          {"feeUpokt", o.feeUpokt},
          {"gasUsed", o.gasUsed},
          {"reason", o.reason}};
}

// What the node said to a broadcast, as far as every broadcast reads it the same way.
enum class Admission { unknown, admitted, refused };

// Reads a broadcast's answer and writes it to the broadcast's log line: no answer or "already in
// the cache" (unknown whether the node took the bytes: treated as taken, the same bytes are sent
// again after the next block; node errors counted in `nodeErrors`), admitted to the mempool, or
// refused by CheckTx (code and log on the line).
Admission readBroadcast(const util::Result<chain::BroadcastResult>& result, util::LogLine& line,
                        util::Counter& nodeErrors) {
  if (!result) {
    if (result.error().code == chain::kErrTxInCache) {
      line.kv("result", "already in the node's cache");
    } else {
      nodeErrors.inc();
      line.kv("result", "unknown").kv("reason", result.error().message);
    }
    return Admission::unknown;
  }
  if (result->code == 0 || (result->code == kCodeTxInMempoolCache && isSdk(result->codespace))) {
    line.kv("result", "admitted");
    return Admission::admitted;
  }
  line.kv("result", "refused").kv("code", result->code).kv("log", result->log);
  return Admission::refused;
}

TxOutcomeKind kindFromName(const std::string& name) {
  if (name == "included") return TxOutcomeKind::kIncluded;
  if (name == "failed_in_block") return TxOutcomeKind::kFailedInBlock;
  if (name == "rejected") return TxOutcomeKind::kRejected;
  if (name == "expired") return TxOutcomeKind::kExpired;
  throw smst::StoreError("tx records: unknown outcome kind '" + name + "'");
}

}  // namespace

// --- Metrics -------------------------------------------------------------------------------------

struct ChainTxSubmitter::Metrics {
  util::Family<util::Counter>& outcomes;
  util::Counter& fees;
  util::Counter& first;
  util::Counter& rebroadcast;
  util::Counter& resign;
  util::Counter& recoveries;
  util::Family<util::Counter>& nodeErrors;
  util::Histogram& inclusionSeconds;
  util::Histogram& inclusionBlocks;

  explicit Metrics(util::MetricsRegistry& r)
      : outcomes(r.counter("sm_txs_total",
                           "Transactions decided, by outcome (included, failed_in_block, "
                           "rejected, expired) and reason",
                           {"outcome", "reason"})),
        fees(
            r.counter("sm_tx_fees_upokt_total", "Fees consumed by transactions in blocks, in uPOKT")
                .with()),
        first(r.counter("sm_tx_broadcasts_total",
                        "broadcast_tx_sync calls: first (a new request), rebroadcast (the same "
                        "bytes again), resign (a request signed again)",
                        {"kind"})
                  .with({"first"})),
        rebroadcast(r.counter("sm_tx_broadcasts_total", "", {"kind"}).with({"rebroadcast"})),
        resign(r.counter("sm_tx_broadcasts_total", "", {"kind"}).with({"resign"})),
        recoveries(r.counter("sm_tx_sequence_recoveries_total",
                             "Sequence mismatches recovered by resynchronising a signer")
                       .with()),
        nodeErrors(r.counter("sm_tx_node_errors_total",
                             "Failed node calls of the transaction submitter, by call (retried on "
                             "the next block)",
                             {"call"})),
        inclusionSeconds(r.histogram("sm_tx_inclusion_seconds",
                                     "Time from submit to the block check that found the tx", {},
                                     util::latencyBucketsSeconds())
                             .with()),
        inclusionBlocks(r.histogram("sm_tx_inclusion_blocks",
                                    "Blocks from the height at submit to the tx's block", {},
                                    {0, 1, 2, 3, 4, 5, 8, 13, 21, 50})
                            .with()) {}
};

// --- ChainTxSubmitter ----------------------------------------------------------------------------

ChainTxSubmitter::ChainTxSubmitter(TxSubmitterOptions options,
                                   const std::vector<crypto::PrivateKey>& keys, TxNode& node,
                                   util::LogSink& log, util::MetricsRegistry& metrics)
    : options_(std::move(options)),
      node_(node),
      log_(log),
      store_(std::make_unique<Store>(options_.directory)),
      metrics_(std::make_unique<Metrics>(metrics)) {
  if (options_.broadcastWorkers == 0) options_.broadcastWorkers = 1;
  if (options_.rebroadcastIntervalBlocks < 1) options_.rebroadcastIntervalBlocks = 1;
  for (const auto& key : keys) {
    crypto::PublicKey publicKey = key.publicKey();
    const auto& point = publicKey.compressed();
    auto signer = std::make_unique<Signer>(
        Signer{publicKey.address(), key, util::Bytes(point.begin(), point.end())});
    signers_.emplace(signer->address, std::move(signer));
  }

  // Resume every record.
  std::size_t inFlight = 0;
  std::unique_ptr<rocksdb::Iterator> it(store_->db->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("r"); it->Valid() && it->key().starts_with("r"); it->Next()) {
    auto record = std::make_unique<Record>();
    try {
      auto j = nlohmann::json::parse(it->value().ToString());
      record->request.id = j.at("id");
      record->request.signer = j.at("signer");
      record->request.timeoutHeight = j.at("timeoutHeight");
      for (const auto& m : j.at("messages")) {
        auto value = util::fromBase64(m.at("value").get<std::string>());
        if (!value) throw smst::StoreError("tx records: bad message bytes");
        record->request.messages.push_back({m.at("typeUrl"), std::move(*value)});
      }
      record->submitHeight = j.at("submitHeight");
      std::string state = j.at("state");
      record->state = state == "queued"      ? Record::State::queued
                      : state == "broadcast" ? Record::State::broadcast
                                             : Record::State::decided;
      if (j.contains("txRaw")) {
        auto raw = util::fromBase64(j.at("txRaw").get<std::string>());
        if (!raw) throw smst::StoreError("tx records: bad tx bytes");
        record->txRaw = std::move(*raw);
      }
      record->hash = j.value("hash", "");
      record->sequence = j.value("sequence", std::uint64_t{0});
      record->gasLimit = j.value("gasLimit", std::uint64_t{0});
      record->feeUpokt = j.value("feeUpokt", std::uint64_t{0});
      for (const auto& s : j.at("signed")) {
        record->signedTxs.push_back(
            {s.at("hash"), s.at("sequence"), s.at("feeUpokt"), s.value("dead", false)});
      }
      record->lastBroadcastHeight = j.value("lastBroadcastHeight", std::int64_t{0});
      record->broadcasts = j.value("broadcasts", 0u);
      record->reported = j.value("reported", false);
      if (j.contains("outcome")) {
        const auto& o = j.at("outcome");
        TxOutcome out;
        out.id = record->request.id;
        out.kind = kindFromName(o.at("kind"));
        out.txHash = o.at("txHash");
        out.height = o.at("height");
        out.code = o.at("code");
        out.codespace = o.at("codespace");
        out.log = o.at("log");
        out.feeUpokt = o.at("feeUpokt");
        out.gasUsed = o.at("gasUsed");
        out.reason = o.at("reason");
        record->outcome = std::move(out);
      }
    } catch (const nlohmann::json::exception& e) {
      throw smst::StoreError("tx records: corrupt record " + it->key().ToString() + ": " +
                             e.what());
    }
    if (record->state == Record::State::decided && !record->outcome) {
      throw smst::StoreError("tx records: decided record without outcome: " + record->request.id);
    }
    if (record->state != Record::State::decided) {
      auto signer = signers_.find(record->request.signer);
      if (signer == signers_.end()) {
        // Its key is no longer configured: nothing can be signed or rebroadcast for it.
        util::LogLine(log_, util::LogLevel::error, "tx_orphaned")
            .kv("id", record->request.id)
            .kv("signer", record->request.signer)
            .kv("tx", record->hash)
            .kv("reason",
                "no key configured for the signer of an undecided request; it is not "
                "resumed");
      } else {
        record->signer = signer->second.get();
        signer->second->live.push_back(record.get());
        ++inFlight;
      }
    }
    if (record->state == Record::State::decided && !record->reported) {
      // Reported by the first onBlock after the restart.
    }
    records_.emplace(record->request.id, std::move(record));
  }
  if (!it->status().ok()) throw smst::StoreError("tx records: read: " + it->status().ToString());
  for (auto& [_, signer] : signers_) {
    std::stable_sort(
        signer->live.begin(), signer->live.end(),
        [](const Record* a, const Record* b) { return a->submitHeight < b->submitHeight; });
  }
  metrics.gaugeFunction("sm_txs_in_flight", "Transaction requests not decided yet", [this] {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& [_, s] : signers_) n += s->live.size();
    return static_cast<double>(n);
  });
  util::LogLine(log_, util::LogLevel::info, "tx_submitter_started")
      .kv("records", records_.size())
      .kv("in_flight", inFlight)
      .kv("signers", signers_.size())
      .kv("workers", options_.broadcastWorkers)
      .kv("gas", options_.constantGasLimit > 0 ? fmt::format("{}", options_.constantGasLimit)
                                               : std::string("simulate"))
      .kv("fallback_gas_price", options_.fallbackGasPrice.text());

  for (std::size_t i = 0; i < options_.broadcastWorkers; ++i) {
    workers_.emplace_back([this] { workerLoop(); });
  }
}

ChainTxSubmitter::~ChainTxSubmitter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_.notify_all();
  for (auto& t : workers_) t.join();
}

util::Status ChainTxSubmitter::submit(const TxRequest& request) {
  auto refuse = [&](std::string_view code, std::string message) -> util::Status {
    util::LogLine(log_, util::LogLevel::warn, "tx_request_refused")
        .kv("id", request.id)
        .kv("signer", request.signer)
        .kv("code", code)
        .kv("reason", message);
    return util::makeError(std::string(code), std::move(message));
  };
  if (request.id.empty()) return refuse(kErrBadRequest, "tx request: empty id");
  {
    std::lock_guard lock(mutex_);
    if (records_.count(request.id) != 0) return util::Ok{};
  }
  if (request.timeoutHeight <= 0) {
    return refuse(kErrBadRequest, fmt::format("tx request {}: timeout height {} (must be > 0)",
                                              request.id, request.timeoutHeight));
  }
  if (request.messages.empty()) {
    return refuse(kErrNoMessages, fmt::format("tx request {}: no messages", request.id));
  }
  auto signerIt = signers_.find(request.signer);
  if (signerIt == signers_.end()) {
    return refuse(kErrUnknownSigner,
                  fmt::format("tx request {}: no key is configured for signer {} (suppliers[]"
                              ".key_file)",
                              request.id, request.signer));
  }
  // The body is final; the auth info and the signature add a few hundred bytes at most.
  protocol::TxOptions bodyOptions;
  bodyOptions.timeoutHeight = static_cast<std::uint64_t>(request.timeoutHeight);
  auto body = protocol::encodeTxBody(request.messages, bodyOptions);
  if (!body) {
    return refuse(kErrBadRequest,
                  fmt::format("tx request {}: {}", request.id, body.error().message));
  }
  constexpr std::size_t kAuthInfoAndSignatureBytes = 512;
  if (body->size() + kAuthInfoAndSignatureBytes > protocol::kMaxBroadcastTxBytes) {
    return refuse(kErrTxTooLarge,
                  fmt::format("tx request {}: {} bytes of messages, over the {} bytes a node "
                              "takes in one broadcast; split the batch",
                              request.id, body->size(), protocol::kMaxBroadcastTxBytes));
  }

  auto record = std::make_unique<Record>();
  record->request = request;
  record->submittedAt = Clock::now();
  {
    std::lock_guard lock(mutex_);
    record->submitHeight = height_;
  }
  record->signer = signerIt->second.get();
  // Durable against a process crash on return (the WAL is written); the synced write before the
  // first broadcast makes it durable against a power loss too.
  persist(*record, false);
  util::LogLine(log_, util::LogLevel::info, "tx_submitted")
      .kv("id", request.id)
      .kv("signer", request.signer)
      .kv("messages", request.messages.size())
      .kv("type", request.messages.front().typeUrl)
      .kv("timeout_height", request.timeoutHeight)
      .kv("height", record->submitHeight);
  std::lock_guard lock(mutex_);
  Record* raw = record.get();
  records_.emplace(request.id, std::move(record));
  raw->signer->live.push_back(raw);
  enqueueLocked(*raw->signer);
  return util::Ok{};
}

std::vector<TxOutcome> ChainTxSubmitter::onBlock(std::int64_t height,
                                                 std::int64_t blockTimeUnixMs) {
  bool refresh = false;
  {
    std::lock_guard lock(mutex_);
    refresh = gasPriceCheckedHeight_ < 0 ||
              height - gasPriceCheckedHeight_ >= (nodeGasPrice_ ? kGasPriceRefreshBlocks : 10);
    if (refresh) gasPriceCheckedHeight_ = height;
  }
  if (refresh) refreshGasPrice();
  {
    std::unique_lock lock(mutex_);
    height_ = std::max(height_, height);
    blockTimeUnixMs_ = blockTimeUnixMs;
    for (auto& [_, signer] : signers_) {
      // Signers with work, and (once per 10 blocks until it works) signers whose account is
      // not known yet, so that a window opening finds every account number cached.
      bool warmUp = !signer->accountNumber && height - signer->warmUpHeight >= 10;
      if (warmUp) signer->warmUpHeight = height;
      if (!signer->live.empty() || warmUp) enqueueLocked(*signer);
    }
  }
  waitIdle();
  std::vector<std::string> later;
  {
    std::lock_guard lock(mutex_);
    later.swap(forgetLater_);
  }
  for (const auto& id : later) forget(id);
  std::vector<TxOutcome> out;
  std::vector<Record*> toPersist;
  {
    std::lock_guard lock(mutex_);
    for (auto& [_, record] : records_) {
      if (record->outcome && !record->reported) {
        record->reported = true;
        out.push_back(*record->outcome);
        toPersist.push_back(record.get());
      }
    }
  }
  for (Record* r : toPersist) persist(*r, false);
  return out;
}

std::optional<TxOutcome> ChainTxSubmitter::outcome(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = records_.find(id);
  if (it == records_.end() || !it->second->outcome) return std::nullopt;
  return *it->second->outcome;
}

std::uint64_t ChainTxSubmitter::estimateFeeUpokt(std::string_view typeUrl,
                                                 std::size_t messageCount) const {
  std::lock_guard lock(mutex_);
  GasPrice price = nodeGasPrice_.value_or(options_.fallbackGasPrice);
  if (options_.constantGasLimit > 0) return price.feeFor(options_.constantGasLimit);
  double perMessage = static_cast<double>(options_.fallbackGasPerMessage);
  auto it = gasPerMessage_.find(typeUrl);
  if (it != gasPerMessage_.end() && !it->second.empty()) {
    double sum = 0;
    for (double v : it->second) sum += v;
    perMessage = sum / static_cast<double>(it->second.size());
  }
  auto gas = static_cast<std::uint64_t>(
      std::ceil(perMessage * static_cast<double>(messageCount) * options_.gasAdjustment));
  return price.feeFor(gas);
}

void ChainTxSubmitter::forget(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = records_.find(id);
  if (it == records_.end() || it->second->state != Record::State::decided) return;
  Signer* signer = it->second->signer;
  if (signer != nullptr && (signer->running || signer->queued)) {
    // A worker may still hold the record: forgotten after the next round.
    forgetLater_.push_back(id);
    return;
  }
  records_.erase(it);
  store_->remove(id);
}

void ChainTxSubmitter::waitIdle() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return idleLocked(); });
}

std::vector<TxRecordSummary> ChainTxSubmitter::records() const {
  std::lock_guard lock(mutex_);
  std::vector<TxRecordSummary> out;
  for (const auto& [id, r] : records_) {
    TxRecordSummary s;
    s.id = id;
    s.signer = r->request.signer;
    s.state = r->state == Record::State::queued ? "queued"
              : r->state == Record::State::broadcast
                  ? "broadcast"
                  : std::string(txOutcomeKindName(r->outcome->kind));
    s.txHash = r->outcome ? r->outcome->txHash : r->hash;
    s.sequence = r->sequence;
    s.timeoutHeight = r->request.timeoutHeight;
    s.broadcasts = r->broadcasts;
    out.push_back(std::move(s));
  }
  return out;
}

GasPrice ChainTxSubmitter::gasPrice() const {
  std::lock_guard lock(mutex_);
  return nodeGasPrice_.value_or(options_.fallbackGasPrice);
}

void ChainTxSubmitter::refreshGasPrice() {
  auto text = node_.minimumGasPrice();
  if (!text) {
    if (text.error().code != kErrNoGasPrice) metrics_->nodeErrors.with({"gas_price"}).inc();
    util::LogLine(log_, util::LogLevel::debug, "tx_gas_price_unknown")
        .kv("fallback", options_.fallbackGasPrice.text())
        .kv("reason", text.error().message);
    return;
  }
  auto price = GasPrice::parse(*text);
  if (!price) {
    metrics_->nodeErrors.with({"gas_price"}).inc();
    util::LogLine(log_, util::LogLevel::warn, "tx_gas_price_unusable")
        .kv("fallback", options_.fallbackGasPrice.text())
        .kv("reason", price.error().message);
    return;
  }
  std::lock_guard lock(mutex_);
  if (!nodeGasPrice_ || nodeGasPrice_->text() != price->text()) {
    util::LogLine(log_, util::LogLevel::info, "tx_gas_price").kv("price", price->text());
  }
  nodeGasPrice_ = *price;
}

void ChainTxSubmitter::enqueueLocked(Signer& signer) {
  if (signer.running) {
    signer.again = true;
    return;
  }
  if (signer.queued) return;
  signer.queued = true;
  queue_.push_back(&signer);
  work_.notify_one();
}

void ChainTxSubmitter::workerLoop() {
  util::nameThisThread("sm-tx");
  std::unique_lock lock(mutex_);
  auto fail = [this](std::string_view who, const std::exception& e) {
    // A store failure: the process cannot keep its promises; stop it loudly.
    util::LogLine(log_, util::LogLevel::error, "tx_submitter_failed")
        .kv("where", who)
        .kv("reason", e.what());
    std::abort();
  };
  while (true) {
    work_.wait(lock, [this] {
      return stopping_ || !queue_.empty() || (!syncWaiters_.empty() && !syncing_);
    });
    if (stopping_) return;
    if (queue_.empty()) {
      // Nothing else to do: everything signed so far becomes durable with one sync of the
      // write-ahead log, then its signers are served again to broadcast it. One sync per round
      // instead of one per tx is what lets a thousand suppliers go out within a block.
      syncing_ = true;
      std::vector<Signer*> waiters;
      waiters.swap(syncWaiters_);
      std::uint64_t target = writeTicket_;
      lock.unlock();
      try {
        store_->sync();
      } catch (const std::exception& e) {
        fail("sync", e);
      }
      lock.lock();
      syncedTicket_ = std::max(syncedTicket_, target);
      syncing_ = false;
      for (Signer* s : waiters) {
        s->awaitingSync = false;
        enqueueLocked(*s);
      }
      if (idleLocked()) idle_.notify_all();
      continue;
    }
    Signer* signer = queue_.front();
    queue_.pop_front();
    signer->queued = false;
    signer->running = true;
    ++running_;
    do {
      signer->again = false;
      lock.unlock();
      try {
        serveSigner(*signer);
      } catch (const std::exception& e) {
        fail(signer->address, e);
      }
      lock.lock();
    } while (signer->again && !stopping_);
    signer->running = false;
    --running_;
    if (!syncWaiters_.empty()) work_.notify_all();
    if (idleLocked()) idle_.notify_all();
  }
}

bool ChainTxSubmitter::idleLocked() const {
  return queue_.empty() && running_ == 0 && syncWaiters_.empty() && !syncing_;
}

bool ChainTxSubmitter::ensureAccount(Signer& signer) {
  if (signer.accountNumber && signer.nextSequence) return true;
  auto account = node_.account(signer.address);
  if (!account && account.error().code == chain::kErrNotFound) {
    // Nothing this signer sends can pay a fee until the account is funded.
    std::vector<Record*> live;
    {
      std::lock_guard lock(mutex_);
      live = signer.live;
    }
    for (Record* r : live) {
      TxOutcome out{r->request.id, TxOutcomeKind::kRejected};
      out.code = kCodeUnknownAddress;
      out.codespace = "sdk";
      out.log = account.error().message;
      out.reason = classifyRefusal(out.code, out.codespace, out.log).words;
      decide(*r, std::move(out));
    }
    return false;
  }
  if (!account) {
    metrics_->nodeErrors.with({"account"}).inc();
    util::LogLine(log_, util::LogLevel::warn, "tx_account_unavailable")
        .kv("signer", signer.address)
        .kv("code", account.error().code)
        .kv("reason", account.error().message);
    return false;
  }
  signer.accountNumber = account->accountNumber;
  std::uint64_t next = account->sequence;
  // Requests resumed after a restart keep their sequences while they may still land.
  std::lock_guard lock(mutex_);
  for (const Record* r : signer.live) {
    if (r->state == Record::State::broadcast && r->sequence >= next) next = r->sequence + 1;
  }
  signer.nextSequence = next;
  return true;
}

void ChainTxSubmitter::serveSigner(Signer& signer) {
  std::int64_t height = 0;
  std::uint64_t synced = 0;
  std::vector<Record*> live;
  {
    std::lock_guard lock(mutex_);
    height = height_;
    synced = syncedTicket_;
    live = signer.live;
  }
  if (!ensureAccount(signer) || live.empty()) return;
  auto undecided = [&] {
    std::lock_guard lock(mutex_);
    return signer.live;
  };
  auto sent = [](const Record* r) {
    return r->state == Record::State::broadcast && !r->awaitingBroadcast;
  };

  // 0. What was signed and is durable now goes to the node, lowest sequence first.
  std::vector<Record*> ready;
  for (Record* r : live) {
    if (r->awaitingBroadcast && r->syncTicket <= synced) ready.push_back(r);
  }
  std::sort(ready.begin(), ready.end(),
            [](const Record* a, const Record* b) { return a->sequence < b->sequence; });
  for (Record* r : ready) broadcastSigned(signer, *r, height);
  live = undecided();

  // 1. Inclusion, by hash, of everything that may be in a mempool or a block.
  for (Record* r : live) {
    if (sent(r) && r->lastCheckedHeight < height) checkInclusion(signer, *r, height);
  }
  live = undecided();

  // 2. The window: nothing lands after its timeout height.
  for (Record* r : live) {
    bool unknown = sent(r) && r->lookupFailed;
    if (height > r->request.timeoutHeight && !unknown) {
      TxOutcome out;
      out.id = r->request.id;
      out.kind = TxOutcomeKind::kExpired;
      out.txHash = r->awaitingBroadcast ? "" : r->hash;
      out.reason = fmt::format(
          "window closed: timeout height {} passed at height {} and the tx is not in a block",
          r->request.timeoutHeight, height);
      decide(*r, std::move(out));
    }
  }
  live = undecided();

  // 3. A tx broadcast in an earlier block and still not found: if the chain's sequence moved
  //    past it, another tx took its sequence; after two sightings at different heights it can
  //    never land, and the request is signed again.
  bool waiting = std::any_of(live.begin(), live.end(), [&](const Record* r) {
    return sent(r) && r->lastBroadcastHeight < height && !r->lookupFailed;
  });
  if (waiting) {
    auto account = node_.account(signer.address);
    if (!account) {
      metrics_->nodeErrors.with({"account"}).inc();
    } else {
      if (signer.nextSequence && *signer.nextSequence < account->sequence) {
        signer.nextSequence = account->sequence;
      }
      for (Record* r : live) {
        if (!sent(r) || r->lastBroadcastHeight >= height || r->lookupFailed) continue;
        if (account->sequence > r->sequence) {
          if (r->consumedSeenHeight != height) {
            r->consumedSeenHeight = height;
            ++r->consumedSightings;
          }
          if (r->consumedSightings >= 2) {
            util::LogLine(log_, util::LogLevel::warn, "tx_superseded")
                .kv("id", r->request.id)
                .kv("signer", signer.address)
                .kv("tx", r->hash)
                .kv("sequence", r->sequence)
                .kv("account_sequence", account->sequence)
                .kv("reason",
                    "another transaction used this sequence and the tx is not in a "
                    "block; signing the request again");
            std::lock_guard lock(mutex_);
            r->signedTxs.back().dead = true;
            r->state = Record::State::queued;
          }
        } else {
          r->consumedSightings = 0;
        }
      }
    }
  }

  // 4. Rebroadcast the same bytes, lowest sequence first, so the node's check state fills in
  //    order.
  std::vector<Record*> pending;
  for (Record* r : live) {
    if (sent(r) && height - r->lastBroadcastHeight >= options_.rebroadcastIntervalBlocks) {
      pending.push_back(r);
    }
  }
  std::sort(pending.begin(), pending.end(),
            [](const Record* a, const Record* b) { return a->sequence < b->sequence; });
  for (Record* r : pending) rebroadcast(signer, *r, height);

  // 5. Sign what has no tx that may land, in submission order; broadcast once synced.
  live = undecided();
  for (Record* r : live) {
    if (r->state != Record::State::queued) continue;
    if (r->mismatchHeight == height && r->mismatches >= kMaxSignAttempts) {
      util::LogLine(log_, util::LogLevel::warn, "tx_sequence_unsettled")
          .kv("id", r->request.id)
          .kv("signer", signer.address)
          .kv("reason", fmt::format("sequence mismatch {} times at height {}; trying again "
                                    "after the next block",
                                    r->mismatches, height));
      continue;
    }
    signRecord(signer, *r, height);
  }

  std::lock_guard lock(mutex_);
  bool unsynced = std::any_of(signer.live.begin(), signer.live.end(), [&](const Record* r) {
    return r->awaitingBroadcast && r->syncTicket > syncedTicket_;
  });
  bool durable = std::any_of(signer.live.begin(), signer.live.end(), [&](const Record* r) {
    return r->awaitingBroadcast && r->syncTicket <= syncedTicket_;
  });
  if (durable) signer.again = true;  // synced while this pass ran: broadcast it now
  if (unsynced && !signer.awaitingSync) {
    signer.awaitingSync = true;
    syncWaiters_.push_back(&signer);
  }
}

void ChainTxSubmitter::checkInclusion(Signer& signer, Record& r, std::int64_t height) {
  r.lookupFailed = false;
  bool currentDead = false;
  for (auto it = r.signedTxs.rbegin(); it != r.signedTxs.rend(); ++it) {
    if (it->dead) continue;
    auto hash = util::fromHex(it->hash);
    if (!hash) continue;
    auto found = node_.findTx(*hash);
    if (!found) {
      if (found.error().code != chain::kErrTxNotFound) {
        r.lookupFailed = true;
        metrics_->nodeErrors.with({"tx"}).inc();
        util::LogLine(log_, util::LogLevel::warn, "tx_lookup_failed")
            .kv("id", r.request.id)
            .kv("tx", it->hash)
            .kv("code", found.error().code)
            .kv("reason", found.error().message);
      }
      continue;
    }
    const auto& result = found->result;
    if (result.code == kCodeWrongSequence && isSdk(result.codespace)) {
      // In the block with a sequence mismatch: it consumed nothing and never will.
      if (it->hash == r.hash) currentDead = true;
      it->dead = true;
      util::LogLine(log_, util::LogLevel::warn, "tx_sequence_mismatch_in_block")
          .kv("id", r.request.id)
          .kv("signer", signer.address)
          .kv("tx", it->hash)
          .kv("height", found->height)
          .kv("reason", result.log);
      continue;
    }
    TxOutcome out;
    out.id = r.request.id;
    out.txHash = it->hash;
    out.height = found->height;
    out.code = result.code;
    out.codespace = result.codespace;
    out.log = result.log;
    out.feeUpokt = it->feeUpokt;
    out.gasUsed = result.gasUsed;
    // The ante handler's fee event says whether the fee was taken (a tx refused by the ante
    // handler inside the block, e.g. for its timeout, pays nothing).
    bool feePaid = std::any_of(result.events.begin(), result.events.end(), [](const auto& e) {
      return e.type == "tx" && std::any_of(e.attributes.begin(), e.attributes.end(),
                                           [](const auto& a) { return a.key == "fee"; });
    });
    if (!feePaid) out.feeUpokt = 0;
    if (result.code == 0) {
      out.kind = TxOutcomeKind::kIncluded;
      out.reason = fmt::format("included at height {}", found->height);
    } else if (isSdk(result.codespace) &&
               (result.code == kCodeTxTimeoutHeight || result.code == kCodeTxTimeout)) {
      out.kind = TxOutcomeKind::kExpired;
      out.reason =
          fmt::format("window closed: in block {} past its timeout: {}", found->height, result.log);
    } else {
      out.kind = TxOutcomeKind::kFailedInBlock;
      out.reason = fmt::format("failed in block {}: codespace={} code={}: {}", found->height,
                               result.codespace, result.code, result.log);
    }
    decide(r, std::move(out));
    return;
  }
  if (!r.lookupFailed) r.lastCheckedHeight = height;
  if (currentDead) {
    metrics_->recoveries.inc();
    signer.nextSequence.reset();  // read again: the node's view of this signer is not ours
    signer.accountNumber.reset();
    std::lock_guard lock(mutex_);
    r.state = Record::State::queued;
  }
}

void ChainTxSubmitter::signRecord(Signer& signer, Record& r, std::int64_t height) {
  if (!ensureAccount(signer)) return;
  for (int attempt = 0; attempt < kMaxSignAttempts; ++attempt) {
    std::uint64_t sequence = *signer.nextSequence;
    protocol::TxOptions options;
    options.chainId = options_.chainId;
    options.accountNumber = *signer.accountNumber;
    options.sequence = sequence;
    options.signerPublicKey = signer.publicKey;
    options.timeoutHeight = static_cast<std::uint64_t>(r.request.timeoutHeight);
    // A request signed again gets other bytes even at the same sequence: the node keeps the
    // hashes of txs it has seen (and of every tx in a block) and refuses them again.
    if (!r.signedTxs.empty()) options.memo = fmt::format("attempt {}", r.signedTxs.size() + 1);

    std::uint64_t gasLimit = options_.constantGasLimit;
    GasShape shape{r.request.messages.front().typeUrl, r.request.messages.size(), 0};
    for (const auto& m : r.request.messages) shape.sizeBucket += m.value.size();
    shape.sizeBucket /= 256;
    if (gasLimit == 0) {
      std::lock_guard lock(mutex_);
      auto cached = simulatedGas_.find(shape);
      if (cached != simulatedGas_.end() && height - cached->second.second < kGasReuseBlocks) {
        gasLimit = static_cast<std::uint64_t>(
            std::ceil(static_cast<double>(cached->second.first) * options_.gasAdjustment));
      }
    }
    if (gasLimit == 0) {
      options.fee.gasLimit = kSimulationGasLimit;
      auto simulated = protocol::buildUnsignedTx(r.request.messages, options);
      if (!simulated) {
        TxOutcome out{r.request.id, TxOutcomeKind::kRejected};
        out.reason = "cannot build the tx: " + simulated.error().message;
        decide(r, std::move(out));
        return;
      }
      SimulationFailure failure;
      auto gas = node_.simulateGas(protocol::simulationTxRaw(*simulated), &failure);
      auto expectedBySimulation = gas ? std::nullopt : parseExpectedSequence(failure.log);
      if (expectedBySimulation && *expectedBySimulation < sequence &&
          ownSequencesBelow(signer, *expectedBySimulation, sequence)) {
        // The node has not seen this signer's earlier txs yet (signed, waiting for the sync):
        // the sequence is right, only the simulation needs the node's. Gas does not depend on it.
        protocol::TxOptions atNodeSequence = options;
        atNodeSequence.sequence = *expectedBySimulation;
        auto retry = protocol::buildUnsignedTx(r.request.messages, atNodeSequence);
        if (retry) {
          failure = SimulationFailure{};
          gas = node_.simulateGas(protocol::simulationTxRaw(*retry), &failure);
        }
      }
      if (!gas) {
        if (gas.error().code != kErrSimulation) {
          metrics_->nodeErrors.with({"simulate"}).inc();
          util::LogLine(log_, util::LogLevel::warn, "tx_simulation_unavailable")
              .kv("id", r.request.id)
              .kv("code", gas.error().code)
              .kv("reason", gas.error().message);
          return;  // the next block tries again
        }
        if (auto expected = parseExpectedSequence(failure.log)) {
          metrics_->recoveries.inc();
          util::LogLine(log_, util::LogLevel::warn, "tx_sequence_recovered")
              .kv("id", r.request.id)
              .kv("signer", signer.address)
              .kv("expected", *expected)
              .kv("got", sequence)
              .kv("stage", "simulate");
          signer.nextSequence = *expected;
          continue;
        }
        TxOutcome out{r.request.id, TxOutcomeKind::kRejected};
        out.code = simulationCause(failure.code, failure.log);
        out.codespace = "sdk";
        out.log = failure.log;
        out.reason = out.code == failure.code
                         ? "simulation failed: " + failure.log
                         : classifyRefusal(out.code, out.codespace, failure.log).words;
        decide(r, std::move(out));
        return;
      }
      gasLimit =
          static_cast<std::uint64_t>(std::ceil(static_cast<double>(*gas) * options_.gasAdjustment));
      std::lock_guard lock(mutex_);
      simulatedGas_[shape] = {*gas, height};
    }
    GasPrice price = gasPrice();
    std::uint64_t fee = price.feeFor(gasLimit);
    options.fee.gasLimit = gasLimit;
    if (fee > 0) options.fee.amount = {protocol::Coin{"upokt", std::to_string(fee)}};
    auto unsignedTx = protocol::buildUnsignedTx(r.request.messages, options);
    if (!unsignedTx) {
      TxOutcome out{r.request.id, TxOutcomeKind::kRejected};
      out.reason = "cannot build the tx: " + unsignedTx.error().message;
      decide(r, std::move(out));
      return;
    }
    protocol::SignedTx signedTx = protocol::signTx(*unsignedTx, signer.key);
    {
      std::lock_guard lock(mutex_);
      r.txRaw = signedTx.txRaw;
      r.hash = signedTx.hash;
      r.sequence = sequence;
      r.gasLimit = gasLimit;
      r.feeUpokt = fee;
      r.signedTxs.push_back({signedTx.hash, sequence, fee});
      r.state = Record::State::broadcast;
      r.lastBroadcastHeight = height;
      r.lastCheckedHeight = 0;
      r.consumedSightings = 0;
    }
    // Written before the node ever sees these bytes, and broadcast only once the write is
    // synced (one sync for every tx signed in the meantime): after a crash the record names
    // every tx that may be in flight.
    persist(r, false);
    {
      std::lock_guard lock(mutex_);
      r.awaitingBroadcast = true;
      r.syncTicket = ++writeTicket_;
    }
    signer.nextSequence = sequence + 1;
    return;
  }
  util::LogLine(log_, util::LogLevel::warn, "tx_sequence_unsettled")
      .kv("id", r.request.id)
      .kv("signer", signer.address)
      .kv("reason", fmt::format("sequence mismatch {} times in simulation; trying again after "
                                "the next block",
                                kMaxSignAttempts));
}

bool ChainTxSubmitter::ownSequencesBelow(Signer& signer, std::uint64_t from,
                                         std::uint64_t to) const {
  std::lock_guard lock(mutex_);
  return std::any_of(signer.live.begin(), signer.live.end(), [&](const Record* q) {
    return q->state == Record::State::broadcast && q->sequence >= from && q->sequence < to;
  });
}

void ChainTxSubmitter::broadcastSigned(Signer& signer, Record& r, std::int64_t height) {
  bool resign = r.signedTxs.size() > 1;
  (resign ? metrics_->resign : metrics_->first).inc();
  auto result = node_.broadcast(r.txRaw);
  {
    std::lock_guard lock(mutex_);
    r.awaitingBroadcast = false;
    r.lastBroadcastHeight = height;
    ++r.broadcasts;
  }
  util::LogLine line(log_, util::LogLevel::info, "tx_broadcast");
  line.kv("id", r.request.id)
      .kv("signer", signer.address)
      .kv("tx", r.hash)
      .kv("sequence", r.sequence)
      .kv("gas", r.gasLimit)
      .kv("fee_upokt", r.feeUpokt)
      .kv("height", height)
      .kv("timeout_height", r.request.timeoutHeight);
  if (readBroadcast(result, line, metrics_->nodeErrors.with({"broadcast"})) != Admission::refused) {
    return;
  }
  // CheckTx refused these bytes: they are in no mempool and can never land, so the request
  // may be signed again.
  {
    std::lock_guard lock(mutex_);
    r.signedTxs.back().dead = true;
  }
  if (result->code == kCodeWrongSequence && isSdk(result->codespace)) {
    auto expected = parseExpectedSequence(result->log);
    metrics_->recoveries.inc();
    util::LogLine(log_, util::LogLevel::warn, "tx_sequence_recovered")
        .kv("id", r.request.id)
        .kv("signer", signer.address)
        .kv("expected", expected ? std::to_string(*expected) : std::string("unknown"))
        .kv("got", r.sequence)
        .kv("stage", "broadcast");
    if (expected) {
      signer.nextSequence = *expected;
    } else {
      signer.nextSequence.reset();  // read the account again
    }
    std::lock_guard lock(mutex_);
    if (r.mismatchHeight != height) {
      r.mismatchHeight = height;
      r.mismatches = 0;
    }
    ++r.mismatches;
    r.state = Record::State::queued;
    return;
  }
  Refusal refusal = classifyRefusal(result->code, result->codespace, result->log);
  TxOutcome out{r.request.id, TxOutcomeKind::kRejected};
  out.txHash = r.hash;
  out.code = result->code;
  out.codespace = result->codespace;
  out.log = result->log;
  out.reason = refusal.words;
  decide(r, std::move(out));
}

void ChainTxSubmitter::rebroadcast(Signer& signer, Record& r, std::int64_t height) {
  metrics_->rebroadcast.inc();
  auto result = node_.broadcast(r.txRaw);
  {
    std::lock_guard lock(mutex_);
    r.lastBroadcastHeight = height;
    ++r.broadcasts;
  }
  util::LogLine line(log_, util::LogLevel::info, "tx_rebroadcast");
  line.kv("id", r.request.id)
      .kv("signer", signer.address)
      .kv("tx", r.hash)
      .kv("sequence", r.sequence)
      .kv("height", height)
      .kv("broadcasts", r.broadcasts);
  Admission admission = readBroadcast(result, line, metrics_->nodeErrors.with({"broadcast"}));
  if (admission == Admission::unknown) return;
  if (admission == Admission::admitted) {
    if (signer.nextSequence && *signer.nextSequence <= r.sequence) {
      signer.nextSequence = r.sequence + 1;
    }
    return;
  }
  // These bytes were admitted once: they may be in a block already (found by the next check),
  // so the request is not signed again here. A sequence the chain has passed is handled by the
  // two-sighting rule; a gap below it (an earlier tx of this signer that will never land) by
  // signing again at the sequence the node expects.
  if (result->code == kCodeWrongSequence && isSdk(result->codespace)) {
    auto expected = parseExpectedSequence(result->log);
    if (expected && *expected > r.sequence && signer.nextSequence &&
        *signer.nextSequence < *expected) {
      signer.nextSequence = *expected;
    }
    if (expected && *expected < r.sequence) {
      std::lock_guard lock(mutex_);
      bool earlierLive = std::any_of(signer.live.begin(), signer.live.end(), [&](Record* q) {
        return q != &r && q->state == Record::State::broadcast && q->sequence >= *expected &&
               q->sequence < r.sequence;
      });
      if (!earlierLive) {
        metrics_->recoveries.inc();
        util::LogLine(log_, util::LogLevel::warn, "tx_sequence_recovered")
            .kv("id", r.request.id)
            .kv("signer", signer.address)
            .kv("expected", *expected)
            .kv("got", r.sequence)
            .kv("stage", "rebroadcast");
        signer.nextSequence = *expected;
        r.state = Record::State::queued;
      }
    }
    return;
  }
  Refusal refusal = classifyRefusal(result->code, result->codespace, result->log);
  // The tx may have landed between the last check and this refusal.
  checkInclusion(signer, r, height);
  {
    std::lock_guard lock(mutex_);
    if (r.state == Record::State::decided) return;
  }
  TxOutcome out{r.request.id, TxOutcomeKind::kRejected};
  out.txHash = r.hash;
  out.code = result->code;
  out.codespace = result->codespace;
  out.log = result->log;
  out.reason = refusal.words;
  decide(r, std::move(out));
}

void ChainTxSubmitter::decide(Record& r, TxOutcome outcome) {
  outcome.id = r.request.id;
  std::string token;
  bool loud = false;
  switch (outcome.kind) {
    case TxOutcomeKind::kIncluded:
      token = "included";
      break;
    case TxOutcomeKind::kFailedInBlock:
      token = isSdk(outcome.codespace) && outcome.code == kCodeOutOfGas ? "out_of_gas"
                                                                        : "message_failed";
      break;
    case TxOutcomeKind::kExpired:
      token = "window_closed";
      break;
    case TxOutcomeKind::kRejected: {
      if (outcome.code == 0) {
        token = "unbuildable";
      } else {
        Refusal refusal = classifyRefusal(outcome.code, outcome.codespace, outcome.log);
        token = refusal.token;
        loud = refusal.loud;
      }
      break;
    }
  }
  metrics_->outcomes.with({std::string(txOutcomeKindName(outcome.kind)), token}).inc();
  if (outcome.kind == TxOutcomeKind::kIncluded || outcome.kind == TxOutcomeKind::kFailedInBlock) {
    metrics_->fees.inc(outcome.feeUpokt);
    if (r.submittedAt) {
      metrics_->inclusionSeconds.observe(
          std::chrono::duration<double>(Clock::now() - *r.submittedAt).count());
    }
    metrics_->inclusionBlocks.observe(
        static_cast<double>(std::max<std::int64_t>(0, outcome.height - r.submitHeight)));
  }
  auto level = outcome.kind == TxOutcomeKind::kIncluded ? util::LogLevel::info
               : loud                                   ? util::LogLevel::error
                                                        : util::LogLevel::warn;
  util::LogLine(log_, level, "tx_" + std::string(txOutcomeKindName(outcome.kind)))
      .kv("id", r.request.id)
      .kv("signer", r.request.signer)
      .kv("tx", outcome.txHash)
      .kv("height", outcome.height)
      .kv("code", outcome.code)
      .kv("codespace", outcome.codespace)
      .kv("fee_upokt", outcome.feeUpokt)
      .kv("gas_used", outcome.gasUsed)
      .kv("broadcasts", r.broadcasts)
      .kv("submit_height", r.submitHeight)
      .kv("reason_code", token)
      .kv("reason", outcome.reason);
  std::lock_guard lock(mutex_);
  {
    if (outcome.kind == TxOutcomeKind::kIncluded && !r.request.messages.empty() &&
        outcome.gasUsed > 0) {
      auto& samples = gasPerMessage_[r.request.messages.front().typeUrl];
      samples.push_back(static_cast<double>(outcome.gasUsed) /
                        static_cast<double>(r.request.messages.size()));
      while (samples.size() > kGasSamples) samples.pop_front();
    }
    r.outcome = std::move(outcome);
    r.state = Record::State::decided;
    if (r.signer != nullptr) {
      auto& live = r.signer->live;
      live.erase(std::remove(live.begin(), live.end(), &r), live.end());
    }
  }
  // Under the lock: once decided, the record may be forgotten by the lifecycle thread.
  persist(r, false);
}

void ChainTxSubmitter::persist(const Record& r, bool sync) {
  nlohmann::json messages = nlohmann::json::array();
  for (const auto& m : r.request.messages) {
    messages.push_back({{"typeUrl", m.typeUrl}, {"value", util::toBase64(m.value)}});
  }
  nlohmann::json signedTxs = nlohmann::json::array();
  for (const auto& s : r.signedTxs) {
    signedTxs.push_back(
        {{"hash", s.hash}, {"sequence", s.sequence}, {"feeUpokt", s.feeUpokt}, {"dead", s.dead}});
  }
  std::string state = r.state == Record::State::queued      ? "queued"
                      : r.state == Record::State::broadcast ? "broadcast"
                                                            : "decided";
  nlohmann::json j = {{"id", r.request.id},
                      {"signer", r.request.signer},
                      {"timeoutHeight", r.request.timeoutHeight},
                      {"messages", std::move(messages)},
                      {"submitHeight", r.submitHeight},
                      {"state", state},
                      {"hash", r.hash},
                      {"sequence", r.sequence},
                      {"gasLimit", r.gasLimit},
                      {"feeUpokt", r.feeUpokt},
                      {"signed", std::move(signedTxs)},
                      {"lastBroadcastHeight", r.lastBroadcastHeight},
                      {"broadcasts", r.broadcasts},
                      {"reported", r.reported}};
  if (r.state != Record::State::decided && !r.txRaw.empty()) j["txRaw"] = util::toBase64(r.txRaw);
  if (r.outcome) j["outcome"] = outcomeJson(*r.outcome);
  store_->put(r.request.id, j.dump(), sync);
}

}  // namespace pocket::sm
