#include "tools/vector-replay/reporter.h"

#include <fmt/format.h>

namespace pocket::vectors {

void Reporter::check(bool passed, std::string_view where, std::string_view detail) {
  if (passed) {
    ++passed_;
    return;
  }
  ++failed_;
  fmt::print(out_, "FAIL {}: {}\n", where, detail);
}

void Reporter::expectEqual(std::string_view where, std::string_view what, std::string_view expected,
                           std::string_view actual) {
  if (expected == actual) {
    ++passed_;
    return;
  }
  check(false, where, fmt::format("{} differs: expected {} got {}", what, expected, actual));
}

}  // namespace pocket::vectors
