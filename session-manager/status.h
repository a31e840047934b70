#pragma once
// What an operator sees: the `/status` JSON document of the admin listener, the readiness
// verdict of `/readyz`, and the tables `session-manager status` prints from that document.
//
// The admin listener itself is the project's small HTTP server (edge/http_server.h) with the
// routes /metrics, /healthz, /readyz and /status (makeAdminHandler).
//
// Threading: StatusSources' functions are called on the admin loop and must be thread-safe.

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/util/metrics.h"
#include "edge/http_server.h"
#include "session-manager/chain_source.h"
#include "session-manager/lifecycle.h"
#include "session-manager/link_server.h"
#include "session-manager/session_store.h"

namespace pocket::sm {

struct StatusSources {
  std::function<std::optional<ChainHead>()> head;
  std::function<std::int64_t()> headAgeMs;  // since the head was last read; -1: never
  std::function<std::vector<TreeSummary>()> trees;
  std::function<std::vector<EdgeStatus>()> edges;
  std::string chainMode;  // "node" or "fixture"
  // The full node's health (healthy, summary); unset in fixture mode.
  std::function<std::pair<bool, std::string>()> nodeHealth;
  // The claim/proof lifecycle's records; unset when the lifecycle is off (`lifecycleOff` says why).
  std::function<std::vector<SessionRecord>()> lifecycle;
  std::string lifecycleOff;
};

nlohmann::json statusDocument(const StatusSources& sources);

// Empty when ready (a chain head is known and the full node is healthy), else why not.
std::string notReadyReason(const StatusSources& sources);

edge::HttpHandler makeAdminHandler(util::MetricsRegistry& metrics, StatusSources sources);

// Prints the document as two tables (sessions, edges), or as JSON with `asJson`.
void printStatus(const nlohmann::json& document, bool asJson, std::ostream& out);

}  // namespace pocket::sm
