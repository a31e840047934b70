#include "common/protocol/session_id.h"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "common/crypto/hash.h"
#include "common/util/hex.h"

namespace pocket::protocol {

namespace {

constexpr std::size_t kMaxServiceIdLength = 42;
constexpr char kDelimiter = '.';

bool isServiceIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

void append(util::Bytes& out, util::ByteSpan bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

}  // namespace

util::Status validateServiceId(std::string_view serviceId) {
  if (serviceId.empty() || serviceId.size() > kMaxServiceIdLength) {
    return util::makeError("bad_service_id",
                           fmt::format("service id has {} characters, expected 1 to {}",
                                       serviceId.size(), kMaxServiceIdLength));
  }
  for (std::size_t i = 0; i < serviceId.size(); ++i) {
    if (!isServiceIdChar(serviceId[i])) {
      return util::makeError(
          "bad_service_id",
          fmt::format("service id has a character outside [a-zA-Z0-9_-] at position {}", i));
    }
  }
  return util::Ok{};
}

util::Result<SessionId> sessionId(util::ByteSpan blockHashAtStart, std::string_view serviceId,
                                  std::string_view applicationAddress, std::int64_t sessionStart) {
  if (auto status = validateServiceId(serviceId); !status) return status.error();
  if (sessionStart < 1) {
    return util::makeError("bad_height",
                           fmt::format("session start height {} is below 1", sessionStart));
  }
  SessionId result;
  util::Bytes& preimage = result.preimage;
  preimage.reserve(blockHashAtStart.size() + serviceId.size() + applicationAddress.size() + 11);
  append(preimage, blockHashAtStart);
  preimage.push_back(kDelimiter);
  append(preimage, util::asBytes(serviceId));
  preimage.push_back(kDelimiter);
  append(preimage, util::asBytes(applicationAddress));
  preimage.push_back(kDelimiter);
  auto start = static_cast<std::uint64_t>(sessionStart);
  for (int i = 0; i < 8; ++i) preimage.push_back(static_cast<std::uint8_t>(start >> (8 * i)));
  result.id = util::toHex(crypto::sha3_256(preimage));
  return result;
}

std::int64_t supplierWeight(util::ByteSpan sessionIdPreimage, std::string_view operatorAddress) {
  util::Bytes seed;
  seed.reserve(sessionIdPreimage.size() + 1 + operatorAddress.size());
  append(seed, sessionIdPreimage);
  seed.push_back(kDelimiter);
  append(seed, util::asBytes(operatorAddress));
  const crypto::Hash32 digest = crypto::sha3_256(seed);
  std::uint64_t bigEndian = 0;
  for (int i = 0; i < 8; ++i) bigEndian = (bigEndian << 8) | digest[static_cast<std::size_t>(i)];
  return static_cast<std::int64_t>(bigEndian);
}

util::Result<std::vector<std::size_t>> selectSessionSuppliers(
    util::ByteSpan sessionIdPreimage, std::span<const std::string> candidateOperatorAddresses,
    std::uint64_t numSuppliersPerSession) {
  const std::size_t count = candidateOperatorAddresses.size();
  if (count == 0) {
    return util::makeError("no_suppliers", "no supplier is staked for the service at this height");
  }
  std::vector<std::size_t> order(count);
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (count < numSuppliersPerSession) return order;

  std::vector<std::int64_t> weights(count);
  for (std::size_t i = 0; i < count; ++i) {
    weights[i] = supplierWeight(sessionIdPreimage, candidateOperatorAddresses[i]);
  }
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (weights[a] != weights[b]) return weights[a] < weights[b];
    // bytes.Compare of the addresses: std::string compares as unsigned char, byte by byte.
    return candidateOperatorAddresses[a] < candidateOperatorAddresses[b];
  });
  order.resize(static_cast<std::size_t>(numSuppliersPerSession));
  return order;
}

}  // namespace pocket::protocol
