#pragma once
// Prometheus' own linter on a real /metrics exposition: `promtool check metrics` (Debian package
// prometheus, installed by scripts/setup; its path comes from the PROMTOOL environment variable
// that meson sets). Tests assert that the result is clean.
//
// Errors: a missing PROMTOOL variable or a promtool that cannot be run throws std::runtime_error.

#include <string>

namespace pocket::testing {

struct PromtoolVerdict {
  int exitCode = -1;       // promtool's exit status (0: no complaint)
  std::string complaints;  // everything it printed; empty when the exposition is clean
  bool clean() const { return exitCode == 0 && complaints.empty(); }
};

// Runs `promtool check metrics` over `exposition`, written to `scratchFile` first.
PromtoolVerdict promtoolCheckMetrics(const std::string& exposition, const std::string& scratchFile);

}  // namespace pocket::testing
