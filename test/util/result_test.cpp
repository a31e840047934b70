#include "common/util/result.h"

#include <string>

#include <doctest.h>

using pocket::util::Result;

namespace {

Result<int> parsePositive(int n) {
  if (n <= 0) return pocket::util::makeError("not_positive", "expected a positive number");
  return n;
}

}  // namespace

TEST_CASE("a Result holds either the value or the error") {
  auto good = parsePositive(7);
  REQUIRE(good.ok());
  CHECK(*good == 7);

  auto bad = parsePositive(-1);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == "not_positive");
  CHECK_FALSE(static_cast<bool>(bad));
}
