// pocket-devnet throughput: signed MsgCreateClaim transactions through CheckTx (decode,
// ValidateBasic, ante handler with signature verification) and then one block that executes them
// all (ante again, session hydration, poktroll's claim rules, upsert, events). One claim per
// application for the same session, like a supplier fleet claiming a busy session. Prints
// name=value lines: devnet_checktx_per_s, devnet_block_claims_ms, devnet_txs_per_s.

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/crypto/keys.h"
#include "common/protocol/proto_bytes.h"
#include "common/protocol/tx.h"
#include "common/util/log.h"
#include "common/util/metrics.h"
#include "pocket/proof/tx.pb.h"
#include "test/devnet/node.h"
#include "test/devnet/state/chain_state.h"

using namespace pocket;
using namespace pocket::devnet;

int main(int argc, char** argv) {
  std::size_t claims = 1000;
  if (argc > 2 && std::string(argv[1]) == "--claims") claims = std::stoul(argv[2]);

  crypto::PrivateKey supplier =
      crypto::PrivateKey::fromSecret(util::asBytes(std::string_view("bench-supplier")));
  std::string supplierAddress = supplier.publicKey().address();
  Genesis genesis;
  genesis.services.push_back(Service{"anvil", "Anvil", 1, "", easiestRelayMiningTarget()});
  genesis.accounts.push_back(Account{supplierAddress, 1'000'000'000'000, std::nullopt});
  std::vector<std::string> apps;
  for (std::size_t i = 0; i < claims; ++i) {
    crypto::PrivateKey key =
        crypto::PrivateKey::fromSecret(util::asBytes(fmt::format("bench-app-{}", i)));
    apps.push_back(key.publicKey().address());
    genesis.applications.push_back(Application{apps.back(), 100'000'000, {"anvil"}, {}, 0});
  }
  genesis.suppliers.push_back(Supplier{supplierAddress,
                                       supplierAddress,
                                       1'000'000'000,
                                       {SupplierService{"anvil", {{"http://127.0.0.1:8545"}}}}});

  util::LogSink log(stderr, util::LogLevel::warn);
  util::MetricsRegistry metrics;
  ChainState state(genesis, log);
  NodeOptions options;
  Node node(state, options, log, metrics);
  protocol::Timestamp now = nowTimestamp();
  while (node.height() < 12) node.produceBlock(now);  // claim window of session 1..10 is open

  crypto::PublicKey publicKey = supplier.publicKey();
  std::vector<util::Bytes> txs;
  for (std::size_t i = 0; i < claims; ++i) {
    auto session = state.getSession(apps[i], "anvil", 1);
    if (!session) {
      std::fprintf(stderr, "GetSession failed: %s\n", session.error().message.c_str());
      return 1;
    }
    proof::MsgCreateClaim msg;
    msg.set_supplier_operator_address(supplierAddress);
    *msg.mutable_session_header() = session->header();
    util::Bytes root(48, 0x11);
    for (int b = 0; b < 8; ++b) root[32 + b] = root[40 + b] = 0;
    root[39] = 7;  // sum = 7 compute units
    root[47] = 7;  // count = 7 relays
    msg.set_root_hash(std::string(root.begin(), root.end()));
    protocol::TxOptions tx;
    tx.chainId = "pocket";
    tx.accountNumber = 0;
    tx.sequence = i;
    tx.signerPublicKey.assign(publicKey.compressed().begin(), publicKey.compressed().end());
    tx.fee.gasLimit = 200000;
    tx.fee.amount = {{"upokt", "1"}};
    std::vector<protocol::TxMessage> messages{
        {std::string(protocol::kMsgCreateClaimTypeUrl), protocol::serialize(msg)}};
    auto unsignedTx = protocol::buildUnsignedTx(messages, tx);
    if (!unsignedTx) return 1;
    txs.push_back(protocol::signTx(*unsignedTx, supplier).txRaw);
  }

  auto t0 = std::chrono::steady_clock::now();
  for (const util::Bytes& tx : txs) {
    auto answer = node.checkTx(tx, true);
    auto* checked = std::get_if<CheckTxAnswer>(&answer);
    if (checked == nullptr || checked->result.code != 0) {
      std::fprintf(
          stderr, "CheckTx refused a claim: %s\n",
          checked ? checked->result.log.c_str() : std::get<BroadcastRefusal>(answer).text.c_str());
      return 1;
    }
  }
  auto t1 = std::chrono::steady_clock::now();
  const Block& block = node.produceBlock(nowTimestamp());
  auto t2 = std::chrono::steady_clock::now();
  for (const ExecTxResult& result : block.txResults) {
    if (result.code != 0) {
      std::fprintf(stderr, "a claim failed in the block: %s\n", result.log.c_str());
      return 1;
    }
  }
  double check = std::chrono::duration<double>(t1 - t0).count();
  double execute = std::chrono::duration<double>(t2 - t1).count();
  std::printf("devnet_claims=%zu\n", claims);
  std::printf("devnet_checktx_per_s=%.0f\n", static_cast<double>(claims) / check);
  std::printf("devnet_block_claims_ms=%.1f\n", execute * 1000);
  std::printf("devnet_txs_per_s=%.0f\n", static_cast<double>(claims) / (check + execute));
  return 0;
}
