// Every binary of the project answers --help with its usage on stdout and exit status 0.
// POCKET_HELP_BINARIES lists their paths, separated by ':' (test/tools/meson.build).

#include <sstream>
#include <string>
#include <vector>

#include <doctest.h>

#include "test/support/process.h"

namespace testing = pocket::testing;

TEST_CASE("every binary answers --help with its usage and exit status 0") {
  std::vector<std::string> binaries;
  std::istringstream list(testing::binaryPath("POCKET_HELP_BINARIES"));
  std::string path;
  while (std::getline(list, path, ':')) {
    if (!path.empty()) binaries.push_back(path);
  }
  // The six tools and binaries of the edge, at least.
  REQUIRE(binaries.size() >= 6);
  testing::TempDir dir("help-test");
  for (const auto& binary : binaries) {
    INFO(binary);
    auto run = testing::runToEnd({binary, "--help"}, dir / "help.log");
    INFO(run.output);
    CHECK(run.status == 0);
    CHECK(run.output.find("usage: ") != std::string::npos);
  }
}
