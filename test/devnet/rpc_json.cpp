#include "test/devnet/rpc_json.h"

#include <algorithm>
#include <array>
#include <ctime>

#include <fmt/format.h>

#include "common/util/base64.h"

namespace pocket::devnet {

std::string upperHex(util::ByteSpan bytes) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

std::string rfc3339(const protocol::Timestamp& time) {
  std::time_t seconds = static_cast<std::time_t>(time.seconds);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", utc.tm_year + 1900,
                                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
  if (time.nanos != 0) {
    std::string fraction = fmt::format("{:09}", time.nanos);
    while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
    out += "." + fraction;
  }
  return out + "Z";
}

Json base64OrNull(util::ByteSpan bytes) {
  if (bytes.empty()) return nullptr;
  return util::toBase64(bytes);
}

Json blockIdJson(util::ByteSpan hash, std::uint32_t partsTotal, util::ByteSpan partsHash) {
  Json parts = Json::object();
  parts["total"] = partsTotal;
  parts["hash"] = upperHex(partsHash);
  Json id = Json::object();
  id["hash"] = upperHex(hash);
  id["parts"] = std::move(parts);
  return id;
}

Json headerJson(const protocol::BlockHeader& header) {
  Json version = Json::object();
  version["block"] = std::to_string(header.versionBlock);
  if (header.versionApp != 0) version["app"] = std::to_string(header.versionApp);
  Json out = Json::object();
  out["version"] = std::move(version);
  out["chain_id"] = header.chainId;
  out["height"] = std::to_string(header.height);
  out["time"] = rfc3339(header.time);
  out["last_block_id"] = blockIdJson(header.lastBlockId.hash, header.lastBlockId.partSetTotal,
                                     header.lastBlockId.partSetHash);
  out["last_commit_hash"] = upperHex(header.lastCommitHash);
  out["data_hash"] = upperHex(header.dataHash);
  out["validators_hash"] = upperHex(header.validatorsHash);
  out["next_validators_hash"] = upperHex(header.nextValidatorsHash);
  out["consensus_hash"] = upperHex(header.consensusHash);
  out["app_hash"] = upperHex(header.appHash);
  out["last_results_hash"] = upperHex(header.lastResultsHash);
  out["evidence_hash"] = upperHex(header.evidenceHash);
  out["proposer_address"] = upperHex(header.proposerAddress);
  return out;
}

Json blockJson(const Block& block, const util::Bytes& proposerAddress) {
  Json txs = Json::array();
  for (const util::Bytes& tx : block.txs) txs.push_back(util::toBase64(tx));
  Json data = Json::object();
  data["txs"] = std::move(txs);
  Json evidence = Json::object();
  evidence["evidence"] = Json::array();

  const protocol::BlockHeader& header = block.header;
  Json commit = Json::object();
  commit["height"] = std::to_string(header.height - 1);
  commit["round"] = 0;
  commit["block_id"] = blockIdJson(header.lastBlockId.hash, header.lastBlockId.partSetTotal,
                                   header.lastBlockId.partSetHash);
  Json signatures = Json::array();
  if (header.height > 1) {
    // One validator; its signature is a stand-in (docs/devnet.md: exact vs simplified).
    crypto::Hash32 r = crypto::sha256(header.lastBlockId.hash);
    crypto::Hash32 s = crypto::sha256(r);
    std::array<std::uint8_t, 64> signature{};
    std::copy(r.begin(), r.end(), signature.begin());
    std::copy(s.begin(), s.end(), signature.begin() + 32);
    Json sig = Json::object();
    sig["block_id_flag"] = 2;
    sig["validator_address"] = upperHex(proposerAddress);
    protocol::Timestamp previousTime = header.time;
    previousTime.seconds -= previousTime.nanos == 0 ? 1 : 0;
    previousTime.nanos = previousTime.nanos == 0 ? 999000000 : previousTime.nanos - 1;
    sig["timestamp"] = rfc3339(previousTime);
    sig["signature"] = util::toBase64(signature);
    signatures.push_back(std::move(sig));
  }
  commit["signatures"] = std::move(signatures);

  Json out = Json::object();
  out["header"] = headerJson(header);
  out["data"] = std::move(data);
  out["evidence"] = std::move(evidence);
  out["last_commit"] = std::move(commit);
  return out;
}

Json eventJson(const Event& event) {
  Json attributes = Json::array();
  for (const EventAttribute& attribute : event.attributes) {
    Json a = Json::object();
    a["key"] = attribute.key;
    a["value"] = attribute.value;
    a["index"] = true;
    attributes.push_back(std::move(a));
  }
  Json out = Json::object();
  out["type"] = event.type;
  out["attributes"] = std::move(attributes);
  return out;
}

Json execTxResultJson(const ExecTxResult& result) {
  Json events = Json::array();
  for (const Event& event : result.events) events.push_back(eventJson(event));
  Json out = Json::object();
  out["code"] = result.code;
  out["data"] = base64OrNull(result.data);
  out["log"] = result.log;
  out["info"] = result.info;
  out["gas_wanted"] = std::to_string(result.gasWanted);
  out["gas_used"] = std::to_string(result.gasUsed);
  out["events"] = std::move(events);
  out["codespace"] = result.codespace;
  return out;
}

Json blockMetaJson(const Block& block) {
  Json out = Json::object();
  out["block_id"] = blockIdJson(block.hash, 1, block.partSetHash);
  out["block_size"] = std::to_string(block.sizeBytes);
  out["header"] = headerJson(block.header);
  out["num_txs"] = std::to_string(block.txs.size());
  return out;
}

EventMap txEventMap(const ExecTxResult& result, const std::string& txHashHex, std::int64_t height) {
  EventMap map;
  for (const Event& event : result.events) {
    for (const EventAttribute& attribute : event.attributes) {
      map[event.type + "." + attribute.key].push_back(attribute.value);
    }
  }
  map["tm.event"].push_back("Tx");
  map["tx.hash"].push_back(txHashHex);
  map["tx.height"].push_back(std::to_string(height));
  return map;
}

}  // namespace pocket::devnet
