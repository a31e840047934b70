#include "test/devnet/block.h"

#include "common/protocol/proto_wire.h"

namespace pocket::devnet {

util::Bytes dataHash(const std::vector<util::Bytes>& txs) {
  std::vector<util::Bytes> leaves;
  leaves.reserve(txs.size());
  for (const util::Bytes& tx : txs) {
    crypto::Hash32 h = crypto::sha256(tx);
    leaves.emplace_back(h.begin(), h.end());
  }
  crypto::Hash32 root = protocol::merkleRoot(leaves);
  return {root.begin(), root.end()};
}

util::Bytes lastResultsHash(const std::vector<ExecTxResult>& results) {
  std::vector<util::Bytes> leaves;
  leaves.reserve(results.size());
  for (const ExecTxResult& result : results) {
    util::Bytes encoded;
    protocol::wire::Writer writer(encoded);
    writer.varintField(1, result.code);
    writer.bytesField(2, result.data);
    writer.int64Field(5, result.gasWanted);
    writer.int64Field(6, result.gasUsed);
    leaves.push_back(std::move(encoded));
  }
  crypto::Hash32 root = protocol::merkleRoot(leaves);
  return {root.begin(), root.end()};
}

}  // namespace pocket::devnet
