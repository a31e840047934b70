#pragma once
// Counting and reporting for vector replays: each kind walks its file and records one check per
// expectation; a failing check prints one line that says where and what differed.

#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/util/bytes.h"

namespace pocket::vectors {

class Reporter {
 public:
  // Failure lines go to `out`, which must stay open while the reporter is used.
  explicit Reporter(std::FILE* out) : out_(out) {}

  // Records one expectation. `where` names the case and step ("case=empty step=3 op=update").
  void check(bool passed, std::string_view where, std::string_view detail);
  // Records equality of two printable values; on failure prints both.
  void expectEqual(std::string_view where, std::string_view what, std::string_view expected,
                   std::string_view actual);
  // Records a step that could not be run at all (malformed vector, unsupported op).
  void fail(std::string_view where, std::string_view why) { check(false, where, why); }
  // Runs one case: an exception it throws (a missing field, a malformed value) fails that case
  // with the reason, and the replay goes on with the next case.
  void replayCase(std::string_view where, const std::function<void()>& body);

  int passed() const { return passed_; }
  int failed() const { return failed_; }

 private:
  std::FILE* out_;
  int passed_ = 0;
  int failed_ = 0;
};

// Field readers for vector files. A missing field, a wrong type or bad hex throws
// std::runtime_error naming the field: the vector, not the code under test, is malformed.
std::string stringField(const nlohmann::json& object, const char* key);
util::Bytes hexValue(const nlohmann::json& value);
util::Bytes hexField(const nlohmann::json& object, const char* key);

// A case's label for `where`: the string field `key` when the case has one, else "#<index>".
std::string caseLabel(const nlohmann::json& entry, const char* key, std::size_t index);

// A replayer walks one parsed vector file. It must not throw for a mismatch: record it instead.
// Each case runs under Reporter::replayCase, so a malformed case fails alone; an exception outside
// the cases (a missing top-level list) is reported by main as a failed file.
using ReplayFn = void (*)(const nlohmann::json& document, Reporter& reporter);

}  // namespace pocket::vectors
