#include "common/crypto/bech32.h"

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

namespace pocket::crypto {

namespace {

constexpr std::string_view kCharset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
constexpr std::size_t kMaxLength = 90;
constexpr std::array<std::uint32_t, 5> kGenerator = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa,
                                                     0x3d4233dd, 0x2a1462b3};
// ASCII character → its 5-bit value, -1 outside the alphabet.
constexpr auto kCharsetIndex = [] {
  std::array<std::int8_t, 128> index{};
  index.fill(-1);
  for (std::size_t i = 0; i < kCharset.size(); ++i) {
    index[static_cast<unsigned char>(kCharset[i])] = static_cast<std::int8_t>(i);
  }
  return index;
}();

std::uint32_t polymodStep(std::uint32_t checksum, std::uint32_t value) {
  std::uint32_t top = checksum >> 25;
  checksum = ((checksum & 0x1ffffff) << 5) ^ value;
  for (std::size_t i = 0; i < kGenerator.size(); ++i) {
    if ((top >> i) & 1) checksum ^= kGenerator[i];
  }
  return checksum;
}

std::uint32_t polymod(const std::vector<std::uint8_t>& values) {
  std::uint32_t checksum = 1;
  for (std::uint8_t value : values) checksum = polymodStep(checksum, value);
  return checksum;
}

std::vector<std::uint8_t> expandHrp(std::string_view hrp) {
  std::vector<std::uint8_t> out;
  out.reserve(hrp.size() * 2 + 1);
  for (char c : hrp) out.push_back(static_cast<std::uint8_t>(static_cast<unsigned char>(c) >> 5));
  out.push_back(0);
  for (char c : hrp) out.push_back(static_cast<std::uint8_t>(static_cast<unsigned char>(c) & 31));
  return out;
}

int charsetIndex(char c) {
  auto u = static_cast<unsigned char>(c);
  return u < kCharsetIndex.size() ? kCharsetIndex[u] : -1;
}

}  // namespace

std::string bech32Encode(std::string_view hrp, util::ByteSpan data) {
  if (hrp.empty() || hrp.size() > 83) {
    throw std::invalid_argument("bech32: hrp must be 1..83 chars");
  }
  for (char c : hrp) {
    if (c < 33 || c > 126 || (c >= 'A' && c <= 'Z')) {
      throw std::invalid_argument("bech32: hrp must be lowercase printable ASCII");
    }
  }
  std::vector<std::uint8_t> words;
  words.reserve(data.size() * 8 / 5 + 1);
  std::uint32_t accumulator = 0;
  int bits = 0;
  for (std::uint8_t byte : data) {
    accumulator = (accumulator << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      words.push_back(static_cast<std::uint8_t>((accumulator >> bits) & 31));
    }
  }
  if (bits > 0) words.push_back(static_cast<std::uint8_t>((accumulator << (5 - bits)) & 31));

  std::vector<std::uint8_t> values = expandHrp(hrp);
  values.insert(values.end(), words.begin(), words.end());
  values.insert(values.end(), 6, 0);
  std::uint32_t checksum = polymod(values) ^ 1;

  std::string out(hrp);
  out.push_back('1');
  for (std::uint8_t word : words) out.push_back(kCharset[word]);
  for (int i = 0; i < 6; ++i) out.push_back(kCharset[(checksum >> (5 * (5 - i))) & 31]);
  return out;
}

util::Result<Bech32Decoded> bech32Decode(std::string_view text) {
  if (text.size() < 8 || text.size() > kMaxLength) {
    return util::makeError("bad_length", fmt::format("bech32 string has {} characters, want 8..{}",
                                                     text.size(), kMaxLength));
  }
  bool lower = false;
  bool upper = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c < 33 || c > 126) {
      return util::makeError("bad_character",
                             fmt::format("bech32 string has a non-printable byte at {}", i));
    }
    if (c >= 'a' && c <= 'z') lower = true;
    if (c >= 'A' && c <= 'Z') upper = true;
  }
  if (lower && upper) {
    return util::makeError("mixed_case", "bech32 string mixes upper and lower case");
  }

  std::string normalized(text);
  for (char& c : normalized) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  std::size_t separator = normalized.rfind('1');
  if (separator == std::string::npos || separator == 0 || separator + 7 > normalized.size()) {
    return util::makeError("no_separator",
                           "bech32 string has no '1' separator between a non-empty hrp and "
                           "a 6-character checksum");
  }
  std::string_view hrp = std::string_view(normalized).substr(0, separator);
  std::vector<std::uint8_t> words;
  words.reserve(normalized.size() - separator - 1);
  for (std::size_t i = separator + 1; i < normalized.size(); ++i) {
    int index = charsetIndex(normalized[i]);
    if (index < 0) {
      return util::makeError(
          "bad_character",
          fmt::format("bech32 character '{}' at {} is not in the alphabet", normalized[i], i));
    }
    words.push_back(static_cast<std::uint8_t>(index));
  }
  std::vector<std::uint8_t> values = expandHrp(hrp);
  values.insert(values.end(), words.begin(), words.end());
  if (polymod(values) != 1) {
    return util::makeError("bad_checksum", "bech32 checksum does not match");
  }

  words.resize(words.size() - 6);
  Bech32Decoded decoded{std::string(hrp), {}};
  decoded.data.reserve(words.size() * 5 / 8);
  std::uint32_t accumulator = 0;
  int bits = 0;
  for (std::uint8_t word : words) {
    accumulator = (accumulator << 5) | word;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      decoded.data.push_back(static_cast<std::uint8_t>((accumulator >> bits) & 0xff));
    }
  }
  if (bits >= 5 || ((accumulator << (8 - bits)) & 0xff) != 0) {
    return util::makeError("bad_padding", "bech32 data has non-zero or excess padding bits");
  }
  return decoded;
}

std::optional<std::size_t> bech32LowercasePayloadSize(std::string_view text, std::string_view hrp) {
  if (text.size() < 8 || text.size() > kMaxLength || text.size() < hrp.size() + 7 ||
      text.substr(0, hrp.size()) != hrp || text[hrp.size()] != '1') {
    return std::nullopt;
  }
  std::uint32_t checksum = 1;
  for (char c : hrp) checksum = polymodStep(checksum, static_cast<unsigned char>(c) >> 5);
  checksum = polymodStep(checksum, 0);
  for (char c : hrp) checksum = polymodStep(checksum, static_cast<unsigned char>(c) & 31);
  std::string_view data = text.substr(hrp.size() + 1);
  for (char c : data) {
    int index = charsetIndex(c);
    if (index < 0) return std::nullopt;
    checksum = polymodStep(checksum, static_cast<std::uint32_t>(index));
  }
  if (checksum != 1) return std::nullopt;
  // 5-bit words to bytes: fewer than 5 padding bits, all zero.
  std::size_t bits = (data.size() - 6) * 5;
  std::size_t padding = bits % 8;
  if (padding >= 5) return std::nullopt;
  if (padding > 0) {
    auto last = static_cast<std::uint32_t>(charsetIndex(data[data.size() - 7]));
    if ((last & ((1u << padding) - 1)) != 0) return std::nullopt;
  }
  return bits / 8;
}

}  // namespace pocket::crypto
