// vector-replay KIND FILE...
// Replays every case and step of golden-vector files, prints one line per failing step, ends with
// `N passed, N failed`, and exits 0 only when nothing failed and something was checked.

#include <cstdio>
#include <fstream>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tools/vector-replay/kinds.h"
#include "tools/vector-replay/reporter.h"

namespace {

struct Kind {
  std::string_view name;
  pocket::vectors::ReplayFn replay;
};

// Add a kind here and declare its replayer in kinds.h.
constexpr Kind kKinds[] = {
    {"", nullptr},  // sentinel: keeps the table non-empty
    {"seeded-float64", pocket::vectors::replaySeededFloat64},
    {"response-sign", pocket::vectors::replayResponseSign},
    {"session-id", pocket::vectors::replaySessionId},
    {"header-hash", pocket::vectors::replayHeaderHash},
    {"abci-query", pocket::vectors::replayAbciQuery},
    {"tx-sign", pocket::vectors::replayTxSign},
    {"smst", pocket::vectors::replaySmst},
    {"ring", pocket::vectors::replayRing},
};

const Kind* findKind(std::string_view name) {
  for (const Kind& kind : kKinds) {
    if (kind.replay != nullptr && kind.name == name) return &kind;
  }
  return nullptr;
}

int usage(std::FILE* out = stderr, int status = 2) {
  std::string names;
  for (const Kind& kind : kKinds) {
    if (kind.replay == nullptr) continue;
    if (!names.empty()) names += ", ";
    names += kind.name;
  }
  fmt::print(out,
             "usage: vector-replay KIND FILE...\n"
             "Replays every case of golden-vector files of one kind; prints a FAIL line per failing\n"
             "check (a malformed case fails alone) and ends with `N passed, N failed`; exits 0 only\n"
             "when nothing failed and something was checked.\nkinds: {}\n",
             names.empty() ? "(none)" : names);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")) {
    return usage(stdout, 0);
  }
  if (argc < 3) return usage();
  const Kind* kind = findKind(argv[1]);
  if (kind == nullptr) {
    fmt::print(stderr, "vector-replay: unknown kind '{}'\n", argv[1]);
    return usage();
  }
  pocket::vectors::Reporter reporter(stdout);
  for (int i = 2; i < argc; ++i) {
    std::ifstream in(argv[i]);
    if (!in) {
      reporter.fail(fmt::format("file={}", argv[i]), "cannot open the file");
      continue;
    }
    try {
      nlohmann::json document = nlohmann::json::parse(in);
      kind->replay(document, reporter);
    } catch (const std::exception& e) {
      reporter.fail(fmt::format("file={}", argv[i]), fmt::format("cannot replay: {}", e.what()));
    }
  }
  if (reporter.passed() + reporter.failed() == 0) {
    reporter.fail("all files", "no case was checked");
  }
  fmt::print("{} passed, {} failed\n", reporter.passed(), reporter.failed());
  return reporter.failed() == 0 ? 0 : 1;
}
