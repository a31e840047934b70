#pragma once
// CRC-32C (Castagnoli), the checksum of spool records, with LevelDB's masking so that a record
// holding its own CRC does not checksum to a fixed point.
//
// Pure functions; thread-safe.

#include <cstdint>

#include "common/util/bytes.h"

namespace pocket::edge {

// Continues `crc` (0 to start) over `data`.
std::uint32_t crc32cExtend(std::uint32_t crc, util::ByteSpan data);
inline std::uint32_t crc32c(util::ByteSpan data) {
  return crc32cExtend(0, data);
}

inline std::uint32_t maskCrc(std::uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}
inline std::uint32_t unmaskCrc(std::uint32_t masked) {
  std::uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

}  // namespace pocket::edge
