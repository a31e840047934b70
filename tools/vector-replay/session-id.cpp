// Kind `session-id`: test/vectors/cosmos/session-id.json. Per session vector: the session grid
// (start, end, number from the query height), the preimage and the session id; for the supplier
// selection example: every candidate's weight and the selected suppliers in order.

#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/protocol/session.h"
#include "common/protocol/session_id.h"
#include "common/util/hex.h"
#include "tools/vector-replay/kinds.h"

namespace pocket::vectors {

namespace {

void replaySession(const nlohmann::json& v, const std::string& where, Reporter& reporter) {
  protocol::SharedParams params;
  params.numBlocksPerSession = v.at("num_blocks_per_session").get<std::uint64_t>();
  const auto queryHeight = v.at("query_height").get<std::int64_t>();
  auto bounds = protocol::sessionBounds(params, queryHeight);
  if (!bounds) {
    reporter.fail(where, fmt::format("session grid: {}", bounds.error().message));
  } else {
    reporter.expectEqual(where, "session_start",
                         std::to_string(v.at("session_start").get<std::int64_t>()),
                         std::to_string(bounds->start));
    reporter.expectEqual(where, "session_end",
                         std::to_string(v.at("session_end").get<std::int64_t>()),
                         std::to_string(bounds->end));
    reporter.expectEqual(where, "session_number",
                         std::to_string(v.at("session_number").get<std::int64_t>()),
                         std::to_string(bounds->number));
  }
  auto id = protocol::sessionId(
      hexField(v, "block_hash_at_start_hex"), v.at("service_id").get<std::string>(),
      v.at("application_address").get<std::string>(), v.at("session_start").get<std::int64_t>());
  if (!id) {
    reporter.fail(where, fmt::format("session id: {}", id.error().message));
    return;
  }
  reporter.expectEqual(where, "preimage", v.at("preimage_hex").get<std::string>(),
                       util::toHex(id->preimage));
  reporter.expectEqual(where, "session_id", v.at("session_id").get<std::string>(), id->id);
}

void replaySupplierSelection(const nlohmann::json& example, Reporter& reporter) {
  const util::Bytes preimage = hexField(example, "session_id_preimage_hex");
  std::vector<std::string> candidates;
  for (const auto& c : example.at("candidates")) {
    const std::string address = c.at("operator_address").get<std::string>();
    reporter.expectEqual(fmt::format("supplier_selection candidate={}", address), "weight",
                         std::to_string(c.at("weight_int64").get<std::int64_t>()),
                         std::to_string(protocol::supplierWeight(preimage, address)));
    candidates.push_back(address);
  }
  auto selected = protocol::selectSessionSuppliers(
      preimage, candidates, example.at("num_suppliers_per_session").get<std::uint64_t>());
  if (!selected) {
    reporter.fail("supplier_selection", selected.error().message);
    return;
  }
  std::vector<std::string> names;
  for (std::size_t index : *selected) names.push_back(candidates[index]);
  reporter.expectEqual(
      "supplier_selection", "selected_in_order",
      fmt::format("{}",
                  fmt::join(example.at("selected_in_order").get<std::vector<std::string>>(), ",")),
      fmt::format("{}", fmt::join(names, ",")));
}

}  // namespace

void replaySessionId(const nlohmann::json& document, Reporter& reporter) {
  for (const char* group : {"poktroll_test_vectors", "devnet_vectors"}) {
    int index = 0;
    for (const auto& v : document.at(group)) {
      std::string where = fmt::format("{}[{}]", group, index);
      reporter.replayCase(where, [&] { replaySession(v, where, reporter); });
      ++index;
    }
  }
  reporter.replayCase("supplier_selection_example", [&] {
    replaySupplierSelection(document.at("supplier_selection_example"), reporter);
  });
}

}  // namespace pocket::vectors
