#pragma once
// `pocket-devnet inspect --rpc URL [--json]`: reads GET <URL>/devnet/state and prints it, as the
// raw JSON document or as tables (claims, then balances and stakes).
//
// Errors (a bad URL, a refused connection, a non-200 answer, a body that is not JSON) are
// util::Error values saying what failed and where.

#include <string>

#include "common/util/result.h"

namespace pocket::devnet {

inline constexpr std::string_view kErrorInspect = "inspect_failed";

// Fetches the state document; `url` is http://host:port (a trailing path is ignored).
util::Result<std::string> fetchDevnetState(const std::string& url);
// The tables `inspect` prints for a /devnet/state document.
std::string renderStateTables(const std::string& stateJson);

}  // namespace pocket::devnet
