#include "common/crypto/keys.h"

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include <doctest.h>

#include "common/crypto/bech32.h"
#include "common/util/hex.h"
#include "test/vectors_path.h"

using namespace pocket;

namespace {

std::string str(const nlohmann::json& j, const char* key) {
  return j.at(key).get<std::string>();
}

// A private temporary file that is removed when the test case ends.
struct TempKeyFile {
  std::filesystem::path path;
  TempKeyFile(const std::string& content, std::filesystem::perms perms) {
    path = std::filesystem::temp_directory_path() /
           ("pocket-key-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::ofstream(path) << content;
    std::filesystem::permissions(path, perms);
  }
  ~TempKeyFile() { std::filesystem::remove(path); }
  static inline int counter = 0;
};

}  // namespace

TEST_CASE("private keys derive the vector public keys and addresses") {
  auto vectors = test::loadVectors("crypto/response-sign.json");
  int checked = 0;
  for (const auto& entry : vectors.at("address_derivation")) {
    auto key = crypto::PrivateKey::fromHex(str(entry, "privkey_hex"));
    REQUIRE(key.ok());
    crypto::PublicKey pub = key->publicKey();
    CHECK(pub.hex() == str(entry, "pubkey_compressed_hex"));
    CHECK(pub.address() == str(entry, "address_bech32"));
    auto parsed = crypto::PublicKey::fromHex(str(entry, "pubkey_compressed_hex"));
    REQUIRE(parsed.ok());
    CHECK(*parsed == pub);
    ++checked;
  }
  CHECK(checked == 10);
}

TEST_CASE("GenPrivKeyFromSecret reproduces the ring vector keys and the placeholder") {
  auto vectors = test::loadVectors("crypto/ring.json");
  const auto& placeholder = vectors.at("placeholder_ring_key");
  auto key = crypto::PrivateKey::fromSecret(
      util::asBytes("placeholder_ring_key_for_apps_without_gateways"));
  CHECK(util::toHex(key.bytes()) == str(placeholder, "privkey_hex"));
  CHECK(key.publicKey().hex() == str(placeholder, "pubkey_compressed_hex"));
  CHECK(key.publicKey().address() == str(placeholder, "address_bech32"));
  for (const auto& entry : vectors.at("keys")) {
    std::string label = str(entry, "label");
    if (label.rfind("pocket-vectors/", 0) != 0) continue;
    auto derived = crypto::PrivateKey::fromSecret(util::asBytes(label));
    CHECK(util::toHex(derived.bytes()) == str(entry, "privkey_hex"));
  }
}

TEST_CASE("private keys outside [1, n-1] or of the wrong size are refused") {
  CHECK(crypto::PrivateKey::fromHex(std::string(64, '0')).error().code == "bad_key");
  CHECK(crypto::PrivateKey::fromHex(
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
            .error()
            .code == "bad_key");
  CHECK(crypto::PrivateKey::fromHex(
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140")
            .ok());
  CHECK(crypto::PrivateKey::fromHex("0102").error().code == "bad_length");
  CHECK(crypto::PrivateKey::fromHex("zz").error().code == "bad_hex");
}

TEST_CASE("public keys must be compressed points on the curve") {
  auto good = crypto::PublicKey::fromHex(
      "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
  REQUIRE(good.ok());
  util::Bytes bytes(good->compressed().begin(), good->compressed().end());
  bytes[0] = 0x04;
  CHECK(crypto::PublicKey::fromCompressed(bytes).error().code == "bad_point");
  bytes[0] = 0x02;
  bytes.pop_back();
  CHECK(crypto::PublicKey::fromCompressed(bytes).error().code == "bad_length");
  // x >= p
  CHECK(crypto::PublicKey::fromHex("02" + std::string(64, 'f')).error().code == "bad_point");
  // x = 5: 5^3 + 7 = 132 is not a square mod p
  CHECK(crypto::PublicKey::fromHex("02" + std::string(63, '0') + "5").error().code == "bad_point");
}

TEST_CASE("bech32 matches BIP-173 and rejects what it must") {
  // BIP-173 valid test strings.
  CHECK(crypto::bech32Decode("A12UEL5L").ok());
  CHECK(crypto::bech32Decode("a12uel5l").ok());
  CHECK(crypto::bech32Decode("abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw").ok());
  CHECK(crypto::bech32Decode("?1ezyfcl").ok());
  // BIP-173 invalid ones.
  CHECK(crypto::bech32Decode("pzry9x0s0muk").error().code == "no_separator");
  CHECK(crypto::bech32Decode("1pzry9x0s0muk").error().code == "no_separator");
  CHECK(crypto::bech32Decode("x1b4n0q5v").error().code == "bad_character");
  CHECK(crypto::bech32Decode("li1dgmt3").error().code == "no_separator");
  CHECK(crypto::bech32Decode("A1G7SGD8").error().code == "bad_checksum");
  CHECK(crypto::bech32Decode("A12UEL5l").error().code == "mixed_case");
  CHECK(crypto::bech32Decode(std::string("\x7f") + "1axkwrx").error().code == "bad_character");

  std::string address = "pokt1w508d6qejxtdg4y5r3zarvary0c5xw7k8mgwnq";
  auto decoded = crypto::decodeAddress(address);
  REQUIRE(decoded.ok());
  CHECK(util::toHex(*decoded) == "751e76e8199196d454941c45d1b3a323f1433bd6");
  CHECK(crypto::encodeAddress(*decoded) == address);
  CHECK(crypto::validateAddress(address).ok());
  CHECK(crypto::validateAddress(crypto::bech32Encode("cosmos", *decoded)).error().code ==
        "wrong_prefix");
  // A segwit address: the witness version word leaves 5-bit padding that is not a byte payload.
  CHECK(crypto::bech32Decode("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4").error().code ==
        "bad_padding");
  std::string flipped = address;
  flipped[10] = flipped[10] == 'q' ? 'p' : 'q';
  CHECK(crypto::validateAddress(flipped).error().code == "bad_checksum");
  CHECK(crypto::validateAddress("").error().code == "bad_length");
  CHECK(crypto::validateAddress("pokt1").error().code == "bad_length");
}

TEST_CASE("key files must be private to their owner") {
  const std::string hex = "39708248b201fa60e9287cefe506f1c85f03c9076da8f4e03b3efac66d2419c3\n";
  using std::filesystem::perms;
  {
    TempKeyFile file(hex, perms::owner_read | perms::owner_write);
    auto key = crypto::loadPrivateKeyFile(file.path);
    REQUIRE(key.ok());
    CHECK(key->publicKey().address() == "pokt16rt4gurax7n338ss3rqqm9hztjr0kwpjfxx2ey");
  }
  {
    TempKeyFile file(hex, perms::owner_read | perms::owner_write | perms::group_read);
    auto key = crypto::loadPrivateKeyFile(file.path);
    REQUIRE(!key.ok());
    CHECK(key.error().code == "key_file_permissions");
    CHECK(key.error().message.find("chmod 600") != std::string::npos);
  }
  {
    TempKeyFile file(hex, perms::owner_read | perms::others_read);
    CHECK(crypto::loadPrivateKeyFile(file.path).error().code == "key_file_permissions");
  }
  {
    TempKeyFile file("not a key", perms::owner_read);
    auto key = crypto::loadPrivateKeyFile(file.path);
    REQUIRE(!key.ok());
    CHECK(key.error().code == "key_file_malformed");
  }
  CHECK(crypto::loadPrivateKeyFile("/nonexistent/key").error().code == "key_file_unreadable");
}
