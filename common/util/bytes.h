#pragma once
// Byte buffers as every layer passes them.

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace pocket::util {

using Bytes = std::vector<std::uint8_t>;
using ByteSpan = std::span<const std::uint8_t>;

// Views the characters of a string as bytes (no copy; the string must outlive the span).
inline ByteSpan asBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

inline Bytes toBytes(std::string_view s) {
  ByteSpan view = asBytes(s);
  return {view.begin(), view.end()};
}

inline std::string_view asChars(ByteSpan b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace pocket::util
