#pragma once
// Standard base64 (RFC 4648 §4, with `=` padding), as CometBFT's JSON-RPC writes transactions and
// abci_query values.

#include <string>
#include <string_view>

#include "common/util/bytes.h"
#include "common/util/result.h"

namespace pocket::util {

std::string toBase64(ByteSpan bytes);

// Accepts only the canonical form toBase64 writes: padded to a multiple of 4, no whitespace, no
// URL-safe alphabet, zero bits after the last byte. Fails with code "bad_base64" naming the
// position.
Result<Bytes> fromBase64(std::string_view text);

}  // namespace pocket::util
