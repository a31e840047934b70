#pragma once
// The hash functions of the protocol, over OpenSSL libcrypto. Thread-safe, no shared state.

#include <array>
#include <cstdint>

#include "common/util/bytes.h"

namespace pocket::crypto {

using Hash32 = std::array<std::uint8_t, 32>;
using Hash64 = std::array<std::uint8_t, 64>;
using Hash20 = std::array<std::uint8_t, 20>;

Hash32 sha256(util::ByteSpan data);
// sha256 of the concatenation a ‖ b, without building it.
Hash32 sha256(util::ByteSpan a, util::ByteSpan b);
Hash32 sha3_256(util::ByteSpan data);
Hash64 sha3_512(util::ByteSpan data);
Hash20 ripemd160(util::ByteSpan data);

}  // namespace pocket::crypto
