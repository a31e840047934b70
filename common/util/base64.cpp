#include "common/util/base64.h"

#include <fmt/format.h>

namespace pocket::util {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sextetValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

Error badBase64(std::string what) {
  return makeError("bad_base64", std::move(what));
}

}  // namespace

std::string toBase64(ByteSpan bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t group = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) |
                          std::uint32_t{bytes[i + 2]};
    out += kAlphabet[(group >> 18) & 0x3f];
    out += kAlphabet[(group >> 12) & 0x3f];
    out += kAlphabet[(group >> 6) & 0x3f];
    out += kAlphabet[group & 0x3f];
  }
  std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    std::uint32_t group = std::uint32_t{bytes[i]} << 16;
    out += kAlphabet[(group >> 18) & 0x3f];
    out += kAlphabet[(group >> 12) & 0x3f];
    out += "==";
  } else if (rest == 2) {
    std::uint32_t group = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8);
    out += kAlphabet[(group >> 18) & 0x3f];
    out += kAlphabet[(group >> 12) & 0x3f];
    out += kAlphabet[(group >> 6) & 0x3f];
    out += '=';
  }
  return out;
}

Result<Bytes> fromBase64(std::string_view text) {
  if (text.size() % 4 != 0) {
    return badBase64(fmt::format("base64 length {} is not a multiple of 4", text.size()));
  }
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
  Bytes out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    std::size_t symbols = last ? 4 - padding : 4;
    std::uint32_t group = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      int value = 0;
      if (k < symbols) {
        value = sextetValue(text[i + k]);
        if (value < 0) {
          return badBase64(
              fmt::format("character '{}' at position {} is not base64", text[i + k], i + k));
        }
      }
      group = (group << 6) | static_cast<std::uint32_t>(value);
    }
    out.push_back(static_cast<std::uint8_t>(group >> 16));
    if (symbols > 2) out.push_back(static_cast<std::uint8_t>(group >> 8));
    if (symbols > 3) out.push_back(static_cast<std::uint8_t>(group));
    // Bits below the last full byte must be zero, or two strings would decode to the same bytes.
    if (last &&
        ((symbols == 2 && (group & 0xffff) != 0) || (symbols == 3 && (group & 0xff) != 0))) {
      return badBase64(fmt::format("non-zero padding bits in the group at position {}", i));
    }
  }
  return out;
}

}  // namespace pocket::util
