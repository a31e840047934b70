#include "common/util/base64.h"

#include <string>

#include <doctest.h>

using pocket::util::asBytes;
using pocket::util::fromBase64;
using pocket::util::toBase64;

TEST_CASE("base64 matches RFC 4648's test vectors both ways") {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    CHECK(toBase64(asBytes(plain)) == encoded);
    auto decoded = fromBase64(encoded);
    REQUIRE(decoded.ok());
    CHECK(std::string(pocket::util::asChars(*decoded)) == plain);
  }
  pocket::util::Bytes all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<std::uint8_t>(i);
  CHECK(fromBase64(toBase64(all)).value() == all);
}

TEST_CASE("non-canonical or malformed base64 is rejected with its position") {
  for (const char* bad : {"Zg", "Zg=", "Zh==", "Zm9=", "Zm9v\n", "Z===", "====", "Zm-v", "Zm_v",
                          "Z=9v", "Zg==Zg=="}) {
    CAPTURE(bad);
    auto decoded = fromBase64(bad);
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.error().code == "bad_base64");
  }
}
