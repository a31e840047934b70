#include "common/protocol/block_header.h"

#include <fmt/format.h>

namespace pocket::protocol {

namespace {

// The few protobuf writes the header needs: proto3 rules, zero values omitted.
void putVarint(util::Bytes& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(value));
}

void putVarintField(util::Bytes& out, std::uint32_t field, std::uint64_t value) {
  if (value == 0) return;
  putVarint(out, (std::uint64_t{field} << 3) | 0);
  putVarint(out, value);
}

// A length-delimited field, written even when empty if `always` (non-nullable sub-messages).
void putBytesField(util::Bytes& out, std::uint32_t field, util::ByteSpan value, bool always) {
  if (value.empty() && !always) return;
  putVarint(out, (std::uint64_t{field} << 3) | 2);
  putVarint(out, value.size());
  out.insert(out.end(), value.begin(), value.end());
}

// google.protobuf.BytesValue / StringValue: field 1, nothing at all when empty.
util::Bytes wrappedBytes(util::ByteSpan value) {
  util::Bytes out;
  putBytesField(out, 1, value, false);
  return out;
}

bool parseDigits(std::string_view text, std::size_t pos, std::size_t count, int& value) {
  if (pos + count > text.size()) return false;
  value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + (text[i] - '0');
  }
  return true;
}

bool expectChar(std::string_view text, std::size_t pos, char c) {
  return pos < text.size() && text[pos] == c;
}

// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t daysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool isLeapYear(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int daysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && isLeapYear(y) ? 29 : kDays[m - 1];
}

util::Error badTime(std::string_view text, std::string_view why) {
  return util::makeError("bad_time", fmt::format("time '{}': {}", text, why));
}

}  // namespace

util::Result<Timestamp> parseRfc3339(std::string_view text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!parseDigits(text, 0, 4, year) || !expectChar(text, 4, '-') ||
      !parseDigits(text, 5, 2, month) || !expectChar(text, 7, '-') ||
      !parseDigits(text, 8, 2, day)) {
    return badTime(text, "expected a YYYY-MM-DD date");
  }
  if (!(expectChar(text, 10, 'T') || expectChar(text, 10, 't')) ||
      !parseDigits(text, 11, 2, hour) || !expectChar(text, 13, ':') ||
      !parseDigits(text, 14, 2, minute) || !expectChar(text, 16, ':') ||
      !parseDigits(text, 17, 2, second)) {
    return badTime(text, "expected THH:MM:SS after the date");
  }
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 ||
      minute > 59 || second > 59) {
    return badTime(text, "a date or time field is out of range");
  }
  std::size_t pos = 19;
  std::int32_t nanos = 0;
  if (expectChar(text, pos, '.')) {
    ++pos;
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (++digits > 9) return badTime(text, "more than 9 fractional digits");
      nanos = nanos * 10 + (text[pos] - '0');
      ++pos;
    }
    if (digits == 0) return badTime(text, "no digit after the decimal point");
    for (int i = digits; i < 9; ++i) nanos *= 10;
  }
  std::int64_t offsetSeconds = 0;
  if (expectChar(text, pos, 'Z') || expectChar(text, pos, 'z')) {
    ++pos;
  } else if (expectChar(text, pos, '+') || expectChar(text, pos, '-')) {
    const bool negative = text[pos] == '-';
    int offsetHours = 0, offsetMinutes = 0;
    if (!parseDigits(text, pos + 1, 2, offsetHours) || !expectChar(text, pos + 3, ':') ||
        !parseDigits(text, pos + 4, 2, offsetMinutes) || offsetHours > 23 || offsetMinutes > 59) {
      return badTime(text, "expected a ±hh:mm zone offset");
    }
    offsetSeconds =
        (std::int64_t{offsetHours} * 3600 + std::int64_t{offsetMinutes} * 60) * (negative ? -1 : 1);
    pos += 6;
  } else {
    return badTime(text, "expected 'Z' or a ±hh:mm zone offset");
  }
  if (pos != text.size()) return badTime(text, "unexpected characters after the zone");
  const std::int64_t days =
      daysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  Timestamp ts;
  ts.seconds =
      days * 86400 + std::int64_t{hour} * 3600 + std::int64_t{minute} * 60 + second - offsetSeconds;
  ts.nanos = nanos;
  return ts;
}

std::array<util::Bytes, kHeaderLeafCount> headerLeafInputs(const BlockHeader& header) {
  std::array<util::Bytes, kHeaderLeafCount> leaves;

  putVarintField(leaves[0], 1, header.versionBlock);
  putVarintField(leaves[0], 2, header.versionApp);

  leaves[1] = wrappedBytes(util::asBytes(header.chainId));

  putVarintField(leaves[2], 1, static_cast<std::uint64_t>(header.height));

  putVarintField(leaves[3], 1, static_cast<std::uint64_t>(header.time.seconds));
  // int32 is sign-extended to 64 bits on the wire.
  putVarintField(leaves[3], 2,
                 static_cast<std::uint64_t>(static_cast<std::int64_t>(header.time.nanos)));

  util::Bytes partSetHeader;
  putVarintField(partSetHeader, 1, header.lastBlockId.partSetTotal);
  putBytesField(partSetHeader, 2, header.lastBlockId.partSetHash, false);
  putBytesField(leaves[4], 1, header.lastBlockId.hash, false);
  putBytesField(leaves[4], 2, partSetHeader, true);

  const util::Bytes* hashes[] = {
      &header.lastCommitHash,     &header.dataHash,      &header.validatorsHash,
      &header.nextValidatorsHash, &header.consensusHash, &header.appHash,
      &header.lastResultsHash,    &header.evidenceHash,  &header.proposerAddress};
  for (std::size_t i = 0; i < std::size(hashes); ++i) leaves[5 + i] = wrappedBytes(*hashes[i]);
  return leaves;
}

crypto::Hash32 merkleLeafHash(util::ByteSpan item) {
  static constexpr std::uint8_t kLeafPrefix[] = {0x00};
  return crypto::sha256(kLeafPrefix, item);
}

crypto::Hash32 merkleInnerHash(const crypto::Hash32& left, const crypto::Hash32& right) {
  std::array<std::uint8_t, 65> buf;
  buf[0] = 0x01;
  std::copy(left.begin(), left.end(), buf.begin() + 1);
  std::copy(right.begin(), right.end(), buf.begin() + 33);
  return crypto::sha256(buf);
}

crypto::Hash32 merkleRoot(std::span<const util::Bytes> items) {
  switch (items.size()) {
    case 0:
      return crypto::sha256(util::ByteSpan{});
    case 1:
      return merkleLeafHash(items[0]);
    default: {
      std::size_t split = 1;
      while (split * 2 < items.size()) split *= 2;
      return merkleInnerHash(merkleRoot(items.first(split)), merkleRoot(items.subspan(split)));
    }
  }
}

util::Result<crypto::Hash32> headerHash(const BlockHeader& header) {
  if (header.validatorsHash.empty()) {
    return util::makeError("no_validators_hash",
                           fmt::format("header at height {} has an empty validators_hash: "
                                       "CometBFT defines no hash for it",
                                       header.height));
  }
  const auto leaves = headerLeafInputs(header);
  return merkleRoot(leaves);
}

}  // namespace pocket::protocol
