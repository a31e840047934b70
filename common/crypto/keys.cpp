#include "common/crypto/keys.h"

#include <cerrno>
#include <fstream>
#include <sstream>
#include <system_error>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <sys/stat.h>

#include "common/crypto/bech32.h"
#include "common/crypto/hash.h"
#include "common/crypto/secp256k1_context.h"
#include "common/crypto/uint256.h"
#include "common/util/hex.h"

namespace pocket::crypto {

namespace {

std::string_view trimmed(std::string_view text) {
  const char* space = " \t\r\n";
  auto first = text.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  auto last = text.find_last_not_of(space);
  return text.substr(first, last - first + 1);
}

}  // namespace

// ---- PublicKey ----

util::Result<PublicKey> PublicKey::fromCompressed(util::ByteSpan bytes) {
  if (bytes.size() != 33) {
    return util::makeError(
        "bad_length", fmt::format("public key has {} bytes, want 33 (compressed)", bytes.size()));
  }
  if (bytes[0] != 0x02 && bytes[0] != 0x03) {
    return util::makeError("bad_point",
                           fmt::format("public key prefix 0x{:02x} is not 02 or 03", bytes[0]));
  }
  secp256k1_pubkey parsed;
  if (secp256k1_ec_pubkey_parse(detail::secpContext(), &parsed, bytes.data(), bytes.size()) != 1) {
    return util::makeError("bad_point", "public key x coordinate is not on secp256k1");
  }
  CompressedPoint out{};
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return PublicKey(out);
}

util::Result<PublicKey> PublicKey::fromHex(std::string_view hex) {
  auto bytes = util::fromHex(trimmed(hex));
  if (!bytes) return util::makeError("bad_hex", "public key: " + bytes.error().message);
  return fromCompressed(*bytes);
}

std::string PublicKey::hex() const {
  return util::toHex(bytes_);
}

std::array<std::uint8_t, 20> PublicKey::addressBytes() const {
  return ripemd160(sha256(bytes_));
}

std::string PublicKey::address() const {
  return encodeAddress(addressBytes());
}

// ---- PrivateKey ----

PrivateKey::~PrivateKey() {
  OPENSSL_cleanse(bytes_.data(), bytes_.size());
}

util::Result<PrivateKey> PrivateKey::fromBytes(util::ByteSpan bytes) {
  if (bytes.size() != 32) {
    return util::makeError("bad_length",
                           fmt::format("private key has {} bytes, want 32", bytes.size()));
  }
  std::array<std::uint8_t, 32> key{};
  std::copy(bytes.begin(), bytes.end(), key.begin());
  if (secp256k1_ec_seckey_verify(detail::secpContext(), key.data()) != 1) {
    OPENSSL_cleanse(key.data(), key.size());
    return util::makeError("bad_key", "private key is zero or not below the group order n");
  }
  PrivateKey out(key);
  OPENSSL_cleanse(key.data(), key.size());
  return out;
}

util::Result<PrivateKey> PrivateKey::fromHex(std::string_view hex) {
  auto bytes = util::fromHex(trimmed(hex));
  if (!bytes) return util::makeError("bad_hex", "private key: " + bytes.error().message);
  auto key = fromBytes(*bytes);
  OPENSSL_cleanse(bytes->data(), bytes->size());
  return key;
}

PrivateKey PrivateKey::fromSecret(util::ByteSpan secret) {
  // (h mod (n-1)) + 1 with h < 2^256 < 2(n-1): at most one subtraction.
  Hash32 digest = sha256(secret);
  detail::U256 value = detail::U256::fromBigEndian(digest.data());
  detail::U256 orderMinusOne = detail::kOrder;
  orderMinusOne.limb[0] -= 1;
  if (detail::compare(value, orderMinusOne) >= 0) detail::subtract(value, orderMinusOne);
  detail::add(value, detail::U256{{1, 0, 0, 0}});
  std::array<std::uint8_t, 32> key{};
  value.toBigEndian(key.data());
  PrivateKey out(key);
  OPENSSL_cleanse(key.data(), key.size());
  OPENSSL_cleanse(digest.data(), digest.size());
  return out;
}

PublicKey PrivateKey::publicKey() const {
  secp256k1_pubkey point;
  if (secp256k1_ec_pubkey_create(detail::secpContext(), &point, bytes_.data()) != 1) {
    throw std::logic_error("secp256k1_ec_pubkey_create failed on a validated key");
  }
  CompressedPoint out{};
  std::size_t length = out.size();
  secp256k1_ec_pubkey_serialize(detail::secpContext(), out.data(), &length, &point,
                                SECP256K1_EC_COMPRESSED);
  auto key = PublicKey::fromCompressed(out);
  return *key;
}

util::Result<PrivateKey> loadPrivateKeyFile(const std::filesystem::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return util::makeError(
        "key_file_unreadable",
        fmt::format("key file {}: {}", path.string(), std::system_category().message(errno)));
  }
  if (!S_ISREG(info.st_mode)) {
    return util::makeError("key_file_unreadable",
                           fmt::format("key file {} is not a regular file", path.string()));
  }
  if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return util::makeError(
        "key_file_permissions",
        fmt::format("key file {} has mode {:04o}: group or others may access it; "
                    "run `chmod 600 {}`",
                    path.string(), info.st_mode & 07777, path.string()));
  }
  std::ifstream in(path);
  if (!in) {
    return util::makeError("key_file_unreadable",
                           fmt::format("key file {} cannot be opened", path.string()));
  }
  std::ostringstream content;
  content << in.rdbuf();
  std::string text = content.str();
  auto key = PrivateKey::fromHex(text);
  OPENSSL_cleanse(text.data(), text.size());
  if (!key) {
    return util::makeError(
        "key_file_malformed",
        fmt::format("key file {}: {} ({})", path.string(), key.error().message, key.error().code));
  }
  return key;
}

// ---- addresses ----

std::string encodeAddress(util::ByteSpan addressBytes) {
  return bech32Encode(kAddressPrefix, addressBytes);
}

util::Result<util::Bytes> decodeAddress(std::string_view address) {
  auto decoded = bech32Decode(address);
  if (!decoded) {
    return util::makeError(decoded.error().code, "address: " + decoded.error().message);
  }
  if (decoded->hrp != kAddressPrefix) {
    return util::makeError("wrong_prefix", fmt::format("address prefix is '{}', want '{}'",
                                                       decoded->hrp, kAddressPrefix));
  }
  if (decoded->data.empty() || decoded->data.size() > 255) {
    return util::makeError("bad_length", fmt::format("address has {} payload bytes, want 1..255",
                                                     decoded->data.size()));
  }
  return std::move(decoded->data);
}

util::Status validateAddress(std::string_view address) {
  // Every relay request names an application address: the common spelling is checked in place;
  // anything else goes through decodeAddress, which says why (or accepts it uppercase).
  if (auto bytes = bech32LowercasePayloadSize(address, kAddressPrefix); bytes && *bytes >= 1 && *bytes <= 255) {
    return util::Ok{};
  }
  auto decoded = decodeAddress(address);
  if (!decoded) return decoded.error();
  return util::Ok{};
}

}  // namespace pocket::crypto
