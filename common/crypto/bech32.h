#pragma once
// Bech32 (BIP-173, checksum constant 1; not bech32m) as cosmos-sdk addresses use it.
// Pure functions on values; thread-safe.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/util/bytes.h"
#include "common/util/result.h"

namespace pocket::crypto {

struct Bech32Decoded {
  std::string hrp;   // human-readable part, lowercase
  util::Bytes data;  // payload regrouped to 8-bit bytes
};

// Encodes `data` (8-bit bytes, regrouped to 5-bit words) under the lowercase `hrp`.
// Throws std::invalid_argument for an empty or non-printable hrp (a caller bug, not input).
std::string bech32Encode(std::string_view hrp, util::ByteSpan data);

// Decodes a bech32 string: at most 90 characters, not mixed case, hrp of 1..83 printable ASCII
// characters, valid checksum, no padding bits set. Error codes: "bad_length", "mixed_case",
// "bad_character", "no_separator", "bad_checksum", "bad_padding".
util::Result<Bech32Decoded> bech32Decode(std::string_view text);

// The payload size in bytes of `text` when it is a valid bech32 string spelled in lowercase under
// the lowercase `hrp`, checked in place (no allocation: for validation on hot paths). nullopt for
// anything else, including valid uppercase spellings; bech32Decode tells those cases apart.
std::optional<std::size_t> bech32LowercasePayloadSize(std::string_view text, std::string_view hrp);

}  // namespace pocket::crypto
