#include "common/util/config_reader.h"

#include <algorithm>
#include <cctype>
#include <map>

#include <fmt/format.h>

namespace pocket::util {

void configFail(const std::string& path, const std::string& what) {
  throw ConfigError(path + ": " + what);
}

std::string configKey(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

void configAllowOnly(const YAML::Node& node, const std::string& path,
                     const std::set<std::string>& allowed) {
  if (!node.IsMap()) configFail(path.empty() ? "(root)" : path, "must be a mapping");
  for (const auto& entry : node) {
    std::string key = entry.first.as<std::string>();
    if (!allowed.count(key)) {
      std::string known;
      for (const auto& k : allowed) known += (known.empty() ? "" : ", ") + k;
      configFail(configKey(path, key), "unknown key (known keys here: " + known + ")");
    }
  }
}

std::string configScalar(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) configFail(path, "must be a scalar value");
  return node.Scalar();
}

std::string configString(const YAML::Node& node, const std::string& path) {
  std::string s = configScalar(node, path);
  if (s.empty()) configFail(path, "must not be empty");
  return s;
}

std::uint64_t configUint(const YAML::Node& node, const std::string& path, std::uint64_t max) {
  std::string s = configScalar(node, path);
  if (s.empty() || s.size() > 19 ||
      !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) {
    configFail(path, "must be a non-negative integer, got '" + s + "'");
  }
  std::uint64_t v = std::stoull(s);
  if (v > max) configFail(path, fmt::format("must be at most {}, got {}", max, v));
  return v;
}

bool configBool(const YAML::Node& node, const std::string& path) {
  std::string s = configScalar(node, path);
  if (s == "true") return true;
  if (s == "false") return false;
  configFail(path, "must be true or false, got '" + s + "'");
}

std::chrono::milliseconds configMillis(const YAML::Node& node, const std::string& path,
                                       bool allowZero) {
  std::uint64_t v = configUint(node, path, 24ull * 3600 * 1000);
  if (v == 0 && !allowZero) configFail(path, "must be greater than 0");
  return std::chrono::milliseconds(v);
}

std::uint64_t configByteSize(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) configFail(path, "must be a size such as 20MiB or 4096");
  return parseByteSize(node.Scalar(), path);
}

std::uint64_t parseByteSize(const std::string& text, const std::string& keyPath) {
  std::size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0 || i > 15) {
    configFail(keyPath, "must be a size such as 20MiB or 4096, got '" + text + "'");
  }
  std::uint64_t n = std::stoull(text.substr(0, i));
  std::string unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  static const std::map<std::string, std::uint64_t> units = {
      {"", 1},             {"B", 1},      {"KiB", 1ull << 10}, {"MiB", 1ull << 20},
      {"GiB", 1ull << 30}, {"KB", 1000},  {"MB", 1000000},     {"GB", 1000000000}};
  auto it = units.find(unit);
  if (it == units.end()) {
    configFail(keyPath, "unknown size unit '" + unit + "' (B, KiB, MiB, GiB, KB, MB, GB)");
  }
  return n * it->second;
}

}  // namespace pocket::util
