#include "common/crypto/keys.h"

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include <random>
#include <vector>

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

namespace {

// bech32 over raw 5-bit words (any padding), for addresses the byte encoder cannot produce.
std::string encodeWords(std::string_view hrp, const std::vector<std::uint8_t>& words) {
  constexpr std::string_view kCharset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
  const std::uint32_t generator[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
  std::vector<std::uint8_t> values;
  for (char c : hrp) values.push_back(static_cast<std::uint8_t>(static_cast<unsigned char>(c) >> 5));
  values.push_back(0);
  for (char c : hrp) values.push_back(static_cast<std::uint8_t>(c & 31));
  values.insert(values.end(), words.begin(), words.end());
  values.insert(values.end(), 6, 0);
  std::uint32_t checksum = 1;
  for (std::uint8_t v : values) {
    std::uint32_t top = checksum >> 25;
    checksum = ((checksum & 0x1ffffff) << 5) ^ v;
    for (int i = 0; i < 5; ++i) {
      if ((top >> i) & 1) checksum ^= generator[i];
    }
  }
  checksum ^= 1;
  std::string out(hrp);
  out += '1';
  for (std::uint8_t w : words) out += kCharset[w];
  for (int i = 0; i < 6; ++i) out += kCharset[(checksum >> (5 * (5 - i))) & 31];
  return out;
}

}  // namespace

TEST_CASE("validateAddress accepts exactly what decodeAddress accepts") {
  std::vector<std::string> candidates;
  std::mt19937 rng(7);
  for (std::size_t length = 0; length <= 60; ++length) {
    util::Bytes payload(length);
    for (auto& b : payload) b = static_cast<std::uint8_t>(rng());
    std::string address = length == 0 ? crypto::bech32Encode("pokt", payload) : crypto::encodeAddress(payload);
    candidates.push_back(address);
    std::string upper = address;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    candidates.push_back(upper);
    candidates.push_back(address.substr(0, address.size() - 1));
    for (std::size_t i = 0; i < address.size(); i += 3) {
      std::string changed = address;
      changed[i] = changed[i] == 'q' ? 'z' : 'q';
      candidates.push_back(changed);
    }
  }
  // Valid checksums over word counts whose padding is 0..7 bits, zero or not.
  for (std::size_t words = 1; words <= 20; ++words) {
    for (std::uint8_t last : {std::uint8_t{0}, std::uint8_t{1}, std::uint8_t{16}, std::uint8_t{31}}) {
      std::vector<std::uint8_t> w(words, 3);
      w.back() = last;
      candidates.push_back(encodeWords("pokt", w));
    }
  }
  // At bech32's 90-character limit (49 payload bytes) and one word past it.
  candidates.push_back(encodeWords("pokt", std::vector<std::uint8_t>(79, 0)));
  candidates.push_back(encodeWords("pokt", std::vector<std::uint8_t>(80, 0)));
  candidates.push_back("pokt1");
  candidates.push_back("pokt1qqqqqqqq1");
  candidates.push_back("poktx1qqqqqqqqqq");
  int accepted = 0;
  for (const auto& candidate : candidates) {
    CAPTURE(candidate);
    bool valid = crypto::validateAddress(candidate).ok();
    CHECK(valid == crypto::decodeAddress(candidate).ok());
    accepted += valid ? 1 : 0;
  }
  CHECK(accepted > 100);  // the valid ones of both spellings, the well-padded word strings
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
