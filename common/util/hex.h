#pragma once
// Lowercase hexadecimal, as the protocol writes session ids, hashes and keys.

#include <string>
#include <string_view>

#include "common/util/bytes.h"
#include "common/util/result.h"

namespace pocket::util {

std::string toHex(ByteSpan bytes);

// Accepts upper- and lowercase digits and an optional "0x" prefix. Fails on an odd length or a
// non-hex character, naming its position.
Result<Bytes> fromHex(std::string_view hex);

}  // namespace pocket::util
