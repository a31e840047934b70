#include "test/devnet/node.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "common/crypto/hash.h"
#include "common/crypto/keys.h"
#include "common/protocol/abci_query.h"
#include "common/protocol/proto_bytes.h"
#include "common/protocol/proto_wire.h"
#include "common/util/base64.h"
#include "cosmos/tx/v1beta1/tx.pb.h"
#include "test/devnet/rpc_json.h"

namespace pocket::devnet {
namespace {

util::Bytes labelHash(std::string_view label) {
  crypto::Hash32 h = crypto::sha256(util::asBytes(label));
  return {h.begin(), h.end()};
}

std::int64_t nanosOf(const protocol::Timestamp& t) {
  return t.seconds * 1000000000 + t.nanos;
}

protocol::Timestamp fromNanos(std::int64_t nanos) {
  return protocol::Timestamp{nanos / 1000000000, static_cast<std::int32_t>(nanos % 1000000000)};
}

ExecTxResult failure(std::uint32_t code, std::string_view codespace, std::string log) {
  ExecTxResult result;
  result.code = code;
  result.codespace = std::string(codespace);
  result.log = std::move(log);
  return result;
}

Event makeEvent(std::string type, std::vector<std::pair<std::string, std::string>> attributes) {
  Event event;
  event.type = std::move(type);
  for (auto& [key, value] : attributes) {
    event.attributes.push_back(EventAttribute{std::move(key), std::move(value)});
  }
  return event;
}

std::string coinText(std::uint64_t amount) {
  return amount == 0 ? std::string() : fmt::format("{}{}", amount, kFeeDenom);
}

}  // namespace

protocol::Timestamp nowTimestamp() {
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  return fromNanos(nanos);
}

protocol::Timestamp toTimestamp(Time time) {
  return fromNanos(time.time_since_epoch().count());
}

Time toTime(const protocol::Timestamp& timestamp) {
  return Time(std::chrono::nanoseconds(nanosOf(timestamp)));
}

Node::Node(ChainState& state, NodeOptions options, util::LogSink& log,
           util::MetricsRegistry& metrics)
    : state_(state),
      options_(options),
      log_(log),
      rejected_(metrics.counter("devnet_txs_rejected_total",
                                "transactions rejected, by stage (check, deliver) and ABCI code",
                                {"stage", "code"})),
      admitted_(metrics
                    .counter("devnet_txs_admitted_total",
                             "transactions admitted to the mempool by CheckTx")
                    .with()),
      delivered_(
          metrics
              .counter("devnet_txs_delivered_total", "transactions executed in a block with code 0")
              .with()),
      blocksMade_(metrics.counter("devnet_blocks_total", "blocks produced").with()),
      dropped_(metrics
                   .counter("devnet_txs_dropped_total",
                            "transactions dropped from the mempool without a block, by reason",
                            {"reason"})
                   .with({"mempool_flushed"})) {
  crypto::Hash32 proposer = crypto::sha256(util::asBytes(std::string_view("devnet-proposer")));
  proposerAddress_.assign(proposer.begin(), proposer.begin() + 20);
  genesisAppHash_ = labelHash("devnet-genesis-" + state_.genesis().chainId);
  feeCollector_ = ChainState::moduleAddress("fee_collector");
}

const Block* Node::block(std::int64_t h) const {
  if (h < 1 || h > height()) return nullptr;
  return &blocks_[static_cast<std::size_t>(h - 1)];
}

const Block* Node::blockByHash(util::ByteSpan hash) const {
  auto it = blockIndex_.find(upperHex(hash));
  return it == blockIndex_.end() ? nullptr : block(it->second);
}

std::optional<TxLocation> Node::findTx(util::ByteSpan hash) const {
  auto it = txIndex_.find(upperHex(hash));
  if (it == txIndex_.end()) return std::nullopt;
  return it->second;
}

AnteContext Node::anteContext(Mode mode) const {
  AnteContext context;
  context.chainId = state_.genesis().chainId;
  if (mode == Mode::deliver) {
    context.blockHeight = executingHeight_;
    context.blockTime = executingTime_;
  } else {
    // CheckTx and simulation run on the check state, whose header is the last committed block's.
    const Block* last = latestBlock();
    context.blockHeight = last ? last->header.height : 0;
    context.blockTime = last ? last->header.time : nowTimestamp();
  }
  context.checkTx = mode == Mode::check;
  context.verifySignature = mode != Mode::simulate;
  context.infiniteGas = mode == Mode::simulate;
  context.minGasPriceNumerator = options_.minGasPriceNumerator;
  context.minGasPriceDenominator = options_.minGasPriceDenominator;
  return context;
}

AnteAccount Node::anteAccount(const std::string& address, Mode mode,
                              std::optional<std::int64_t> unorderedNonce) const {
  AnteAccount view;
  std::optional<AccountView> account = state_.account(address);
  if (!account) return view;
  view.exists = true;
  view.accountNumber = account->accountNumber;
  view.sequence = account->sequence;
  if (account->publicKey) {
    const auto& compressed = account->publicKey->compressed();
    view.publicKey.assign(compressed.begin(), compressed.end());
  }
  view.spendableUpokt = account->balanceUpokt;
  if (unorderedNonce) {
    auto used = unorderedNonces_.find(address);
    view.unorderedNonceUsed =
        used != unorderedNonces_.end() && used->second.contains(*unorderedNonce);
  }
  if (mode != Mode::deliver) {
    auto delta = checkState_.find(address);
    if (delta != checkState_.end()) {
      view.sequence += delta->second.sequences;
      view.spendableUpokt -= std::min(view.spendableUpokt, delta->second.fees);
      if (view.publicKey.empty()) view.publicKey = delta->second.publicKey;
      if (unorderedNonce && delta->second.unorderedNonces.contains(*unorderedNonce)) {
        view.unorderedNonceUsed = true;
      }
    }
  }
  return view;
}

Node::Admission Node::admit(util::ByteSpan bytes, Mode mode) const {
  Admission admission;
  auto decoded = protocol::decodeTx(bytes);
  if (!decoded) {
    admission.result =
        failure(kCodeTxDecode, kCodespaceSdk, decoded.error().message + ": tx parse error");
    return admission;
  }
  admission.tx = std::move(*decoded);
  const protocol::DecodedTx& tx = admission.tx;
  admission.result.gasWanted = static_cast<std::int64_t>(tx.fee.gasLimit);
  if (tx.messages.empty()) {
    admission.result = failure(kCodeInvalidRequest, kCodespaceSdk,
                               "must contain at least one message: invalid request");
    return admission;
  }
  // BaseApp validates every message (ValidateBasic) before the ante handler runs.
  TxOutcome basic = state_.validateBasic(tx.messages);
  if (!basic.ok()) {
    admission.result = failure(basic.code, basic.codespace, basic.log);
    admission.result.gasWanted = static_cast<std::int64_t>(tx.fee.gasLimit);
    return admission;
  }
  std::vector<std::string> signers;
  for (const protocol::TxMessage& message : tx.messages) {
    auto signer = messageSigner(message);
    if (!signer) {
      admission.result = failure(kCodeTxDecode, kCodespaceSdk, signer.error().message);
      return admission;
    }
    if (std::find(signers.begin(), signers.end(), *signer) == signers.end()) {
      signers.push_back(*signer);
    }
  }
  if (signers.size() != 1) {
    admission.result =
        failure(kCodeUnauthorized, kCodespaceSdk,
                fmt::format("wrong number of signers; expected {}, got {}: unauthorized",
                            signers.size(), tx.signatures.size()));
    return admission;
  }
  std::optional<std::int64_t> nonce;
  if (tx.unordered && tx.timeoutTimestamp) {
    nonce = nanosOf(protocol::Timestamp{tx.timeoutTimestamp->seconds, tx.timeoutTimestamp->nanos});
  }
  AnteAccount account = anteAccount(signers.front(), mode, nonce);
  auto verdict = checkAnte(tx, signers.front(), account, anteContext(mode));
  if (auto* failed = std::get_if<AbciFailure>(&verdict)) {
    admission.result = failure(failed->code, failed->codespace, failed->log);
    admission.result.gasWanted = static_cast<std::int64_t>(tx.fee.gasLimit);
    return admission;
  }
  admission.ante = std::get<AnteOutcome>(std::move(verdict));
  admission.result.gasWanted = static_cast<std::int64_t>(admission.ante->gasWanted);
  admission.result.gasUsed = static_cast<std::int64_t>(admission.ante->gasUsed);
  return admission;
}

void Node::rememberInCache(const std::string& hash) {
  cacheOrder_.push_back(hash);
  cache_[hash] = std::prev(cacheOrder_.end());
  while (cache_.size() > kMempoolCacheSize) {
    cache_.erase(cacheOrder_.front());
    cacheOrder_.pop_front();
  }
}

void Node::countRejection(std::string_view stage, const ExecTxResult& result,
                          const std::string& hash) {
  rejected_.with({std::string(stage), fmt::format("{}/{}", result.codespace, result.code)}).inc();
  util::LogLine(log_, util::LogLevel::info, stage == "check" ? "tx_rejected" : "tx_failed")
      .kv("stage", stage)
      .kv("tx", hash)
      .kv("codespace", result.codespace)
      .kv("code", result.code)
      .kv("reason", result.log);
}

std::size_t Node::flushMempool() {
  const std::size_t count = mempool_.size();
  for (const PendingTx& pending : mempool_) {
    dropped_.inc();
    util::LogLine(log_, util::LogLevel::info, "tx_dropped")
        .kv("tx", pending.hash)
        .kv("reason",
            "the mempool was flushed on request (test knob); the client must rebroadcast");
  }
  mempool_.clear();
  cache_.clear();
  cacheOrder_.clear();
  return count;
}

std::variant<CheckTxAnswer, BroadcastRefusal> Node::checkTx(util::ByteSpan tx, bool addToMempool) {
  std::string hash = protocol::txHash(tx);
  if (tx.size() > protocol::kMaxMempoolTxBytes) {
    rejected_.with({"mempool", "too_large"}).inc();
    util::LogLine(log_, util::LogLevel::info, "tx_refused")
        .kv("tx", hash)
        .kv("reason", "larger than the mempool's max_tx_bytes");
    return BroadcastRefusal{fmt::format("Tx too large. Max size is {}, but got {}",
                                        protocol::kMaxMempoolTxBytes, tx.size())};
  }
  if (addToMempool && cache_.contains(hash)) {
    rejected_.with({"mempool", "duplicate"}).inc();
    util::LogLine(log_, util::LogLevel::info, "tx_refused")
        .kv("tx", hash)
        .kv("reason", "the same bytes are already in the mempool cache");
    return BroadcastRefusal{"tx already exists in cache"};
  }
  if (addToMempool && mempool_.size() >= kMempoolMaxTxs) {
    rejected_.with({"mempool", "full"}).inc();
    std::size_t bytes = 0;
    for (const PendingTx& pending : mempool_) bytes += pending.bytes.size();
    util::LogLine(log_, util::LogLevel::warn, "tx_refused")
        .kv("tx", hash)
        .kv("reason", "mempool full");
    return BroadcastRefusal{
        fmt::format("mempool is full: number of txs {} (max: {}), total txs bytes {} (max: {})",
                    mempool_.size(), kMempoolMaxTxs, bytes, std::size_t{1073741824})};
  }
  Admission admission = admit(tx, Mode::check);
  CheckTxAnswer answer{admission.result, hash};
  if (!admission.ante) {
    countRejection("check", answer.result, hash);
    return answer;
  }
  if (addToMempool) {
    const AnteOutcome& ante = *admission.ante;
    CheckStateDelta& delta = checkState_[ante.signer];
    delta.fees += ante.feeUpokt;
    if (ante.unordered) {
      delta.unorderedNonces.insert(ante.unorderedNonceNanos);
    } else {
      delta.sequences += 1;
    }
    if (!ante.publicKey.empty()) delta.publicKey = ante.publicKey;
    mempool_.push_back(PendingTx{util::Bytes(tx.begin(), tx.end()), hash});
    rememberInCache(hash);
    admitted_.inc();
  }
  return answer;
}

std::vector<Event> Node::anteEvents(const AnteOutcome& ante, const protocol::DecodedTx& tx) const {
  std::vector<Event> events;
  std::string fee = coinText(ante.feeUpokt);
  if (ante.feeUpokt > 0) {
    events.push_back(makeEvent("coin_spent", {{"spender", ante.signer}, {"amount", fee}}));
    events.push_back(makeEvent("coin_received", {{"receiver", feeCollector_}, {"amount", fee}}));
    events.push_back(makeEvent(
        "transfer", {{"recipient", feeCollector_}, {"sender", ante.signer}, {"amount", fee}}));
    events.push_back(makeEvent("message", {{"sender", ante.signer}}));
  }
  events.push_back(makeEvent("tx", {{"fee", fee}, {"fee_payer", ante.signer}}));
  if (!ante.unordered) {
    events.push_back(
        makeEvent("tx", {{"acc_seq", fmt::format("{}/{}", ante.signer, tx.sequence)}}));
  }
  events.push_back(makeEvent("tx", {{"signature", util::toBase64(tx.signatures.front())}}));
  return events;
}

MessageOutcome Node::executeMsgSend(const protocol::TxMessage& message, std::string_view signer) {
  MessageOutcome outcome;
  std::string from;
  std::string to;
  std::uint64_t amount = 0;
  std::vector<std::string> denoms;
  bool badAmount = false;
  auto read = protocol::wire::readFields(
      message.value, "MsgSend",
      [&](protocol::wire::Reader& reader,
          const protocol::wire::Field& field) -> std::optional<util::Error> {
        if (field.type != protocol::wire::WireType::lengthDelimited) {
          return reader.wrongWireType(field);
        }
        if (field.number == 1) from = std::string(util::asChars(field.bytes));
        if (field.number == 2) to = std::string(util::asChars(field.bytes));
        if (field.number == 3) {
          std::string denom;
          std::string value;
          auto coin = protocol::wire::readFields(
              field.bytes, "Coin",
              [&](protocol::wire::Reader& coinReader,
                  const protocol::wire::Field& coinField) -> std::optional<util::Error> {
                if (coinField.type != protocol::wire::WireType::lengthDelimited) {
                  return coinReader.wrongWireType(coinField);
                }
                if (coinField.number == 1) denom = std::string(util::asChars(coinField.bytes));
                if (coinField.number == 2) value = std::string(util::asChars(coinField.bytes));
                return std::nullopt;
              });
          if (!coin) return coin.error();
          denoms.push_back(denom + value);
          std::uint64_t parsed = 0;
          auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
          if (denom != kFeeDenom || ec != std::errc() || ptr != value.data() + value.size() ||
              parsed == 0) {
            badAmount = true;
          }
          amount += parsed;
        }
        return std::nullopt;
      });
  auto fail = [&](std::uint32_t code, std::string log) {
    outcome.code = code;
    outcome.codespace = std::string(kCodespaceSdk);
    outcome.log = std::move(log);
    return outcome;
  };
  if (!read) return fail(kCodeTxDecode, read.error().message + ": tx parse error");
  if (auto status = crypto::validateAddress(from); !status) {
    return fail(kCodeInvalidAddress,
                fmt::format("invalid from address: {}: invalid address", status.error().message));
  }
  if (auto status = crypto::validateAddress(to); !status) {
    return fail(kCodeInvalidAddress,
                fmt::format("invalid to address: {}: invalid address", status.error().message));
  }
  std::string coins;
  for (const std::string& d : denoms) coins += (coins.empty() ? "" : ",") + d;
  if (badAmount || denoms.empty()) {
    return fail(kCodeInvalidCoins, fmt::format("{}: invalid coins", coins));
  }
  (void)signer;  // the ante handler made sure the signer is `from`
  if (auto debited = state_.debit(from, amount); !debited) {
    return fail(kCodeInsufficientFunds,
                fmt::format("spendable balance {}: insufficient funds", debited.error().message));
  }
  state_.credit(to, amount);
  std::string text = coinText(amount);
  outcome.events.push_back(makeEvent("coin_spent", {{"spender", from}, {"amount", text}}));
  outcome.events.push_back(makeEvent("coin_received", {{"receiver", to}, {"amount", text}}));
  outcome.events.push_back(
      makeEvent("transfer", {{"recipient", to}, {"sender", from}, {"amount", text}}));
  outcome.events.push_back(makeEvent("message", {{"sender", from}}));
  outcome.response = protocol::TxMessage{"/cosmos.bank.v1beta1.MsgSendResponse", {}};
  return outcome;
}

ExecTxResult Node::deliver(const util::Bytes& bytes, std::int64_t blockHeight) {
  std::string hash = protocol::txHash(bytes);
  Admission admission = admit(bytes, Mode::deliver);
  if (!admission.ante) {
    countRejection("deliver", admission.result, hash);
    return admission.result;
  }
  const AnteOutcome& ante = *admission.ante;
  // The ante handler's effects persist whatever the messages do.
  if (ante.feeUpokt > 0) {
    if (auto debited = state_.debit(ante.signer, ante.feeUpokt); !debited) {
      // checkAnte saw enough funds on this very state; a failure here is a bug.
      throw std::logic_error("fee debit failed after the ante check: " + debited.error().message);
    }
    state_.credit(feeCollector_, ante.feeUpokt);
  }
  if (!ante.publicKey.empty()) {
    if (auto key = crypto::PublicKey::fromCompressed(ante.publicKey)) {
      (void)state_.setPublicKey(ante.signer, *key);
    }
  }
  if (ante.unordered) {
    unorderedNonces_[ante.signer].insert(ante.unorderedNonceNanos);
  } else {
    (void)state_.incrementSequence(ante.signer);
  }
  ForeignMessageHandler foreign = [this](const protocol::TxMessage& message,
                                         std::string_view signer) {
    if (message.typeUrl == kMsgSendTypeUrl) return executeMsgSend(message, signer);
    MessageOutcome unknown;
    unknown.code = kCodeUnknownRequest;
    unknown.codespace = std::string(kCodespaceSdk);
    unknown.log = fmt::format("unrecognized message type: {}: unknown request", message.typeUrl);
    return unknown;
  };
  TxOutcome outcome = state_.deliverTx(admission.tx.messages, ante.signer, foreign);
  ExecTxResult result = admission.result;
  result.code = outcome.code;
  result.codespace = outcome.code == 0 ? std::string() : outcome.codespace;
  result.log = outcome.log;
  result.data = outcome.data;
  result.events = anteEvents(ante, admission.tx);
  if (outcome.ok()) {
    result.events.insert(result.events.end(), outcome.events.begin(), outcome.events.end());
    delivered_.inc();
  } else {
    countRejection("deliver", result, hash);
  }
  (void)blockHeight;
  return result;
}

const Block& Node::produceBlock(protocol::Timestamp now) {
  if (flushBlocksLeft_ > 0) {
    --flushBlocksLeft_;
    flushMempool();
  }
  const Block* previous = latestBlock();
  Block block;
  protocol::BlockHeader& header = block.header;
  header.versionBlock = 11;
  header.chainId = state_.genesis().chainId;
  header.height = height() + 1;
  if (previous == nullptr) {
    Time genesisTime = state_.genesis().genesisTime;
    header.time = genesisTime.time_since_epoch().count() != 0 ? toTimestamp(genesisTime) : now;
    header.lastCommitHash = labelHash("");
    header.appHash = genesisAppHash_;
    header.lastResultsHash = labelHash("");
  } else {
    std::int64_t earliest = nanosOf(previous->header.time) + 1000000;
    header.time = nanosOf(now) >= earliest ? now : fromNanos(earliest);
    header.lastBlockId.hash.assign(previous->hash.begin(), previous->hash.end());
    header.lastBlockId.partSetTotal = 1;
    header.lastBlockId.partSetHash = previous->partSetHash;
    header.lastCommitHash = labelHash(fmt::format("devnet-commit-{}", previous->header.height));
    header.appHash = previous->appHashAfter;
    header.lastResultsHash = lastResultsHash(previous->txResults);
  }
  for (const PendingTx& pending : mempool_) block.txs.push_back(pending.bytes);
  mempool_.clear();
  checkState_.clear();
  header.dataHash = dataHash(block.txs);
  header.validatorsHash = labelHash("devnet-validators");
  header.nextValidatorsHash = header.validatorsHash;
  header.consensusHash = labelHash("devnet-consensus-params");
  header.evidenceHash = labelHash("");
  header.proposerAddress = proposerAddress_;
  auto hash = protocol::headerHash(header);
  if (!hash) throw std::logic_error("block header without a hash: " + hash.error().message);
  block.hash = *hash;
  block.partSetHash =
      labelHash(fmt::format("devnet-parts-{}-{}", header.height, upperHex(block.hash)));

  if (auto begun = state_.beginBlock(header.height, toTime(header.time), block.hash); !begun) {
    throw std::logic_error("state machine refused the next block: " + begun.error().message);
  }
  executingHeight_ = header.height;
  executingTime_ = header.time;
  for (const util::Bytes& tx : block.txs) block.txResults.push_back(deliver(tx, header.height));
  auto ended = state_.endBlock();
  if (!ended)
    throw std::logic_error("state machine refused to end the block: " + ended.error().message);
  block.finalizeBlockEvents = std::move(*ended);
  executingHeight_ = 0;

  // The devnet's app hash: a digest chained over every block's results (not a store root).
  util::Bytes chained = header.appHash;
  util::Bytes results = lastResultsHash(block.txResults);
  chained.insert(chained.end(), results.begin(), results.end());
  chained.insert(chained.end(), block.hash.begin(), block.hash.end());
  crypto::Hash32 appHash = crypto::sha256(chained);
  block.appHashAfter.assign(appHash.begin(), appHash.end());
  block.sizeBytes = 700;
  for (const util::Bytes& tx : block.txs) block.sizeBytes += tx.size() + 4;

  // Expired unordered nonces can never be replayed (their timeout has passed).
  std::int64_t blockNanos = nanosOf(header.time);
  for (auto it = unorderedNonces_.begin(); it != unorderedNonces_.end();) {
    auto& nonces = it->second;
    nonces.erase(nonces.begin(), nonces.lower_bound(blockNanos));
    it = nonces.empty() ? unorderedNonces_.erase(it) : std::next(it);
  }

  std::size_t failed = 0;
  for (std::uint32_t i = 0; i < block.txs.size(); ++i) {
    txIndex_[protocol::txHash(block.txs[i])] = TxLocation{header.height, i};
    if (block.txResults[i].code != 0) ++failed;
  }
  blockIndex_[upperHex(block.hash)] = header.height;
  blocks_.push_back(std::move(block));
  blocksMade_.inc();
  const Block& made = blocks_.back();
  if (!made.txs.empty() || !made.finalizeBlockEvents.empty()) {
    util::LogLine(log_, util::LogLevel::info, "block_committed")
        .kv("height", made.header.height)
        .kv("hash", upperHex(made.hash))
        .kv("txs", made.txs.size())
        .kv("failed_txs", failed)
        .kv("end_block_events", made.finalizeBlockEvents.size());
  }
  return made;
}

namespace {

// Simulation does not verify the signature, so the sign mode plays no part: clients leave it
// UNSPECIFIED there (CosmJS does). The tx is re-encoded with SIGN_MODE_DIRECT so the strict
// decoder accepts it; bytes that do not parse are passed on unchanged for the decoder to refuse.
util::Bytes withDirectSignMode(util::ByteSpan txRaw) {
  cosmos::tx::v1beta1::TxRaw raw;
  cosmos::tx::v1beta1::AuthInfo authInfo;
  if (!protocol::parse(txRaw, raw) ||
      !protocol::parse(util::asBytes(raw.auth_info_bytes()), authInfo) ||
      authInfo.signer_infos_size() != 1 ||
      authInfo.signer_infos(0).mode_info().single().mode() ==
          cosmos::tx::signing::v1beta1::SIGN_MODE_DIRECT) {
    return util::Bytes(txRaw.begin(), txRaw.end());
  }
  authInfo.mutable_signer_infos(0)->mutable_mode_info()->mutable_single()->set_mode(
      cosmos::tx::signing::v1beta1::SIGN_MODE_DIRECT);
  raw.set_auth_info_bytes(authInfo.SerializeAsString());
  return protocol::serialize(raw);
}

}  // namespace

QueryOutcome Node::simulate(util::ByteSpan txBytes, bool protobufResponse) const {
  QueryOutcome outcome;
  outcome.height = height();
  Admission admission = admit(withDirectSignMode(txBytes), Mode::simulate);
  std::uint64_t gasUsed = admission.ante ? admission.ante->gasUsed : 0;
  if (!admission.ante) {
    if (protobufResponse) {
      outcome.code = kCodeUnknownRequest;
      outcome.codespace = std::string(kCodespaceSdk);
      outcome.log =
          fmt::format("rpc error: code = Unknown desc = {} with gas used: '{}': unknown request",
                      admission.result.log, gasUsed);
    } else {
      outcome.code = admission.result.code;
      outcome.codespace = admission.result.codespace;
      outcome.log = "failed to simulate tx: " + admission.result.log;
    }
    return outcome;
  }
  if (protobufResponse) {
    util::Bytes gasInfo;
    protocol::wire::Writer gas(gasInfo);
    gas.varintField(1, std::numeric_limits<std::uint64_t>::max());
    gas.varintField(2, gasUsed);
    protocol::wire::Writer writer(outcome.value);
    writer.messageHeader(1, gasInfo.size());
    writer.raw(gasInfo);
    writer.messageHeader(2, 0);
  } else {
    std::string json = fmt::format(
        R"({{"gas_info":{{"gas_wanted":"18446744073709551615","gas_used":"{}"}},"result":{{"data":null,"log":"","events":[],"msg_responses":[]}}}})",
        gasUsed);
    outcome.value = util::toBytes(json);
  }
  return outcome;
}

std::string minimumGasPriceText(const NodeOptions& options) {
  if (options.minGasPriceNumerator == 0 || options.minGasPriceDenominator == 0) return "";
  // numerator / denominator with 18 decimals, by long division (no overflow).
  const std::uint64_t den = options.minGasPriceDenominator;
  std::string text = std::to_string(options.minGasPriceNumerator / den) + ".";
  std::uint64_t remainder = options.minGasPriceNumerator % den;
  for (int digit = 0; digit < 18; ++digit) {
    remainder *= 10;
    text += static_cast<char>('0' + remainder / den);
    remainder %= den;
  }
  return text + std::string(kFeeDenom);
}

QueryOutcome Node::query(std::string_view path, util::ByteSpan data,
                         std::int64_t queryHeight) const {
  if (path == "/cosmos.tx.v1beta1.Service/BroadcastTx") {
    QueryOutcome outcome;
    outcome.code = kCodeInvalidRequest;
    outcome.codespace = std::string(kCodespaceSdk);
    outcome.log = "can't route a broadcast tx message: invalid request";
    outcome.height = queryHeight == 0 ? height() : queryHeight;
    return outcome;
  }
  if (path == kNodeConfigQueryPath) {
    // ConfigResponse{1 minimum_gas_price, 2 pruning_keep_recent, 3 pruning_interval}: the node's
    // own settings, whatever the height.
    util::Bytes value;
    protocol::wire::Writer writer(value);
    writer.stringField(1, minimumGasPriceText(options_));
    writer.stringField(2, std::to_string(ChainState::kDefaultRetainedHeights));
    writer.stringField(3, "1");
    QueryOutcome outcome;
    outcome.value = std::move(value);
    outcome.height = queryHeight == 0 ? height() : queryHeight;
    return outcome;
  }
  if (path == protocol::kSimulateQueryPath || path == protocol::kAppSimulateQueryPath) {
    if (queryHeight > height()) {
      QueryOutcome outcome;
      outcome.code = kCodeInvalidHeight;
      outcome.codespace = std::string(kCodespaceSdk);
      outcome.log =
          "cannot query with height in the future; please provide a valid height: invalid height";
      return outcome;
    }
    if (path == protocol::kAppSimulateQueryPath) return simulate(data, false);
    // SimulateRequest{2 tx_bytes} (field 1, the decoded tx, is deprecated and not served).
    util::Bytes txBytes;
    auto read = protocol::wire::readFields(
        data, "SimulateRequest",
        [&](protocol::wire::Reader& reader,
            const protocol::wire::Field& field) -> std::optional<util::Error> {
          if (field.number == 2) {
            if (field.type != protocol::wire::WireType::lengthDelimited) {
              return reader.wrongWireType(field);
            }
            txBytes.assign(field.bytes.begin(), field.bytes.end());
          }
          return std::nullopt;
        });
    if (!read || txBytes.empty()) {
      QueryOutcome outcome;
      outcome.code = kCodeInvalidRequest;
      outcome.codespace = std::string(kCodespaceSdk);
      outcome.log = read ? "rpc error: code = InvalidArgument desc = empty txBytes is not allowed: "
                           "invalid request"
                         : "rpc error: code = InvalidArgument desc = " + read.error().message +
                               ": invalid request";
      outcome.height = height();
      return outcome;
    }
    return simulate(txBytes, true);
  }
  return state_.query(path, data, queryHeight);
}

}  // namespace pocket::devnet
