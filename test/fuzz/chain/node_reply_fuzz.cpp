// Fuzz target: whatever a full node (or something posing as one) sends the chain client — a
// JSON-RPC reply, a WebSocket event, an abci_query value — goes through every decoder of
// common/chain. Each must return a value or a typed error; a crash, a sanitizer report or an
// exception is a bug.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <google/protobuf/stubs/logging.h>

#include "common/chain/block_feed.h"
#include "common/chain/chain_queries.h"
#include "common/chain/node_client.h"

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // libprotobuf logs every string field with invalid UTF-8 it refuses; the refusal is what counts.
  static const bool quiet = (google::protobuf::SetLogHandler(nullptr), true);
  (void)quiet;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  pocket::util::ByteSpan bytes(data, size);
  using namespace pocket::chain;
  (void)decodeStatusReply(text);
  auto block = decodeBlockReply(text);
  if (block.ok()) (void)pocket::protocol::headerHash(block->header);
  (void)decodeBlockResultsReply(text);
  (void)decodeAbciQueryReply(text);
  (void)decodeTxReply(text);
  (void)decodeBroadcastReply(text);
  (void)decodeNewBlockEvent(text);
  (void)decodeSessionValue(bytes);
  (void)decodeApplicationValue(bytes);
  (void)decodeTokenomicsParamsValue(bytes);
  return 0;
}
