#pragma once
// Locates the golden vectors copied into test/vectors/ and reads them as JSON.

#include <fstream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace pocket::test {

inline std::string vectorPath(const std::string& relative) {
  return std::string(POCKET_TEST_VECTORS_DIR) + "/" + relative;
}

inline nlohmann::json loadVectors(const std::string& relative) {
  std::ifstream in(vectorPath(relative));
  if (!in) throw std::runtime_error("cannot open vector file " + vectorPath(relative));
  return nlohmann::json::parse(in);
}

}  // namespace pocket::test
