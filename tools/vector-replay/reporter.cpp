#include "tools/vector-replay/reporter.h"

#include <stdexcept>

#include <fmt/format.h>

#include "common/util/hex.h"

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

void Reporter::replayCase(std::string_view where, const std::function<void()>& body) {
  try {
    body();
  } catch (const std::exception& e) {
    fail(where, fmt::format("malformed case, not replayed: {}", e.what()));
  }
}

std::string caseLabel(const nlohmann::json& entry, const char* key, std::size_t index) {
  if (entry.is_object() && entry.contains(key) && entry.at(key).is_string()) {
    return entry.at(key).get<std::string>();
  }
  return "#" + std::to_string(index);
}

std::string stringField(const nlohmann::json& object, const char* key) {
  return object.at(key).get<std::string>();
}

util::Bytes hexValue(const nlohmann::json& value) {
  auto bytes = util::fromHex(value.get<std::string>());
  if (!bytes) throw std::runtime_error(fmt::format("bad hex in vector: {}", bytes.error().message));
  return std::move(bytes).value();
}

util::Bytes hexField(const nlohmann::json& object, const char* key) {
  auto bytes = util::fromHex(stringField(object, key));
  if (!bytes) throw std::runtime_error(fmt::format("field {}: {}", key, bytes.error().message));
  return std::move(bytes).value();
}

}  // namespace pocket::vectors
