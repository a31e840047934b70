#pragma once
// secp256k1 keys and `pokt` account addresses, as cosmos-sdk defines them.
//
// PrivateKey and PublicKey are value types. A PrivateKey wipes its bytes when destroyed; copies are
// independent. All functions are thread-safe (libsecp256k1 contexts are only read after creation).
// Malformed input (bytes, hex, files, addresses) returns a util::Error whose `code` names the
// problem; nothing here throws for bad input.

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/util/bytes.h"
#include "common/util/result.h"

namespace pocket::crypto {

inline constexpr std::string_view kAddressPrefix = "pokt";

using CompressedPoint = std::array<std::uint8_t, 33>;

// A valid point on secp256k1 in its 33-byte SEC1 compressed form (02/03 ‖ x).
class PublicKey {
 public:
  // Accepts exactly 33 bytes with prefix 02 or 03 whose x is a curve point (libsecp256k1's
  // acceptance set). Errors: "bad_length", "bad_point".
  static util::Result<PublicKey> fromCompressed(util::ByteSpan bytes);
  static util::Result<PublicKey> fromHex(std::string_view hex);

  const CompressedPoint& compressed() const { return bytes_; }
  std::string hex() const;
  // ripemd160(sha256(compressed)): the 20-byte account address.
  std::array<std::uint8_t, 20> addressBytes() const;
  // bech32("pokt", addressBytes()).
  std::string address() const;

  friend bool operator==(const PublicKey&, const PublicKey&) = default;
  friend auto operator<=>(const PublicKey&, const PublicKey&) = default;

 private:
  // The ring verifier validates points against its own cache of decompressed points.
  friend class RingVerifier;
  explicit PublicKey(const CompressedPoint& bytes) : bytes_(bytes) {}
  CompressedPoint bytes_{};
};

// A secp256k1 secret scalar in [1, n-1].
class PrivateKey {
 public:
  // Exactly 32 big-endian bytes in [1, n-1]. Errors: "bad_length", "bad_key".
  static util::Result<PrivateKey> fromBytes(util::ByteSpan bytes);
  // 64 hex digits (optional 0x prefix, surrounding whitespace ignored).
  // Errors: "bad_hex", "bad_length", "bad_key".
  static util::Result<PrivateKey> fromHex(std::string_view hex);
  // cosmos-sdk GenPrivKeyFromSecret: (sha256(secret) mod (n-1)) + 1. Deterministic; used for
  // the protocol's placeholder ring key and for test keys.
  static PrivateKey fromSecret(util::ByteSpan secret);

  PrivateKey(const PrivateKey&) = default;
  PrivateKey& operator=(const PrivateKey&) = default;
  ~PrivateKey();

  const std::array<std::uint8_t, 32>& bytes() const { return bytes_; }
  PublicKey publicKey() const;

 private:
  explicit PrivateKey(const std::array<std::uint8_t, 32>& bytes) : bytes_(bytes) {}
  std::array<std::uint8_t, 32> bytes_{};
};

// Loads a private key file holding 64 hex digits (what `pocketd keys export --unarmored-hex
// --unsafe` prints), surrounding whitespace allowed. The file must be a regular file not readable,
// writable or executable by group or others (mode 0600 or 0400): anything else is refused so an
// operator key never sits world-readable. Errors: "key_file_unreadable", "key_file_permissions",
// "key_file_malformed" (the message names the path and, for a bad key, why; never the key).
util::Result<PrivateKey> loadPrivateKeyFile(const std::filesystem::path& path);

// bech32("pokt", bytes) for raw address bytes.
std::string encodeAddress(util::ByteSpan addressBytes);

// Decodes a `pokt` account address (cosmos AccAddressFromBech32 rules: prefix "pokt", valid
// bech32, 1..255 payload bytes; accounts derived from secp256k1 keys have 20). Errors: the bech32
// codes, "wrong_prefix", "bad_length".
util::Result<util::Bytes> decodeAddress(std::string_view address);
util::Status validateAddress(std::string_view address);

}  // namespace pocket::crypto
