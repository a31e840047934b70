#pragma once
// The vector kinds vector-replay knows, one replayer each (see main.cpp for the table).

#include <nlohmann/json.hpp>

#include "tools/vector-replay/reporter.h"

namespace pocket::vectors {

void replaySeededFloat64(const nlohmann::json& document, Reporter& reporter);
void replayResponseSign(const nlohmann::json& document, Reporter& reporter);
void replaySessionId(const nlohmann::json& document, Reporter& reporter);
void replayHeaderHash(const nlohmann::json& document, Reporter& reporter);
void replayAbciQuery(const nlohmann::json& document, Reporter& reporter);
void replayTxSign(const nlohmann::json& document, Reporter& reporter);
// smst: the SMST golden vectors (tools/vector-replay/smst.cpp).
void replaySmst(const nlohmann::json& document, Reporter& reporter);
void replayRing(const nlohmann::json& document, Reporter& reporter);

}  // namespace pocket::vectors
