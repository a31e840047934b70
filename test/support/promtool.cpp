#include "test/support/promtool.h"


#include <stdexcept>

#include "test/support/process.h"

namespace pocket::testing {

PromtoolVerdict promtoolCheckMetrics(const std::string& exposition, const std::string& scratchFile) {
  std::string promtool = binaryPath("PROMTOOL");
  writeFile(scratchFile, exposition);
  Run run = runToEnd({"/bin/sh", "-c", "exec \"$0\" check metrics < \"$1\"", promtool, scratchFile},
                     scratchFile + ".promtool.log");
  PromtoolVerdict verdict;
  verdict.exitCode = run.status;
  verdict.complaints = run.output;
  if (run.status == 127) throw std::runtime_error("promtool could not be run: " + promtool);
  return verdict;
}

}  // namespace pocket::testing
