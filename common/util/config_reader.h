#pragma once
// Reading a YAML configuration file with errors that name the key path. Shared by every binary's
// config loader (edge/config.cpp, session-manager/config.cpp): each describes its own schema and
// uses these to read and check values.
//
// Errors: every function throws ConfigError whose message is "<key path>: <what is wrong>"
// (`link.heartbeat_interval_ms: must be greater than 0`). Key paths are joined with '.'
// (configKey), list items are written `suppliers[0]` by the caller. A loader catches nothing: the
// first error ends the load, and main() prints it.
// Threading: pure functions.

#include <chrono>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>

#include <yaml-cpp/yaml.h>

namespace pocket::util {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws ConfigError("<path>: <what>").
[[noreturn]] void configFail(const std::string& path, const std::string& what);

// "a.b" + "c" -> "a.b.c"; "" + "c" -> "c".
std::string configKey(const std::string& path, const std::string& key);

// Rejects a node that is not a mapping, and keys the schema does not know (a typo must not
// silently fall back to a default): "<path>.<key>: unknown key (known keys here: ...)".
void configAllowOnly(const YAML::Node& node, const std::string& path,
                     const std::set<std::string>& allowed);

// A scalar, possibly empty.
std::string configScalar(const YAML::Node& node, const std::string& path);
// A non-empty scalar.
std::string configString(const YAML::Node& node, const std::string& path);
// A decimal integer in [0, max].
std::uint64_t configUint(const YAML::Node& node, const std::string& path, std::uint64_t max);
// `true` or `false`.
bool configBool(const YAML::Node& node, const std::string& path);
// Milliseconds, at most a day; 0 only when allowZero.
std::chrono::milliseconds configMillis(const YAML::Node& node, const std::string& path,
                                       bool allowZero = false);
// A byte size ("20MiB", "512KiB", "1GB", "4096").
std::uint64_t configByteSize(const YAML::Node& node, const std::string& path);

// "20MiB", "512KiB", "1GB", "4096" -> bytes (units B, KiB, MiB, GiB, KB, MB, GB); throws
// ConfigError naming `keyPath`.
std::uint64_t parseByteSize(const std::string& text, const std::string& keyPath);

}  // namespace pocket::util
