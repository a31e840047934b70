#pragma once
// One line per event: `<utc time> level=<level> event=<name> key=value ...`, the reason in words.
// Operators grep these lines (claim and proof transitions especially), so keys are stable.
//
// Ownership: main() creates one LogSink and hands a reference to every component; there is no
// global logger. LogSink::write is thread-safe; a LogLine belongs to the thread that builds it.

#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>

#include <fmt/format.h>

namespace pocket::util {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };

// How a sink writes lines: `logfmt` (the default, as above) or `json` (one object per line:
// {"time":…,"level":…,"event":…,"key":"value",…}, every value a string).
enum class LogFormat { logfmt, json };

std::string_view levelName(LogLevel level);

// Parses "debug", "info", "warn" or "error"; false for anything else.
bool parseLogLevel(std::string_view text, LogLevel& level);

class LogSink {
 public:
  // `out` must stay open while the sink is in use; lines below `minLevel` are dropped.
  explicit LogSink(std::FILE* out, LogLevel minLevel = LogLevel::info,
                   LogFormat format = LogFormat::logfmt);
  LogSink(const LogSink&) = delete;
  LogSink& operator=(const LogSink&) = delete;

  bool enabled(LogLevel level) const { return level >= minLevel_; }
  // Writes one complete line (a newline is appended) and flushes it.
  void write(std::string_view line);

 private:
  std::FILE* out_;     // not owned
  LogLevel minLevel_;  // fixed at construction
  LogFormat format_;   // fixed at construction
  std::mutex mutex_;   // keeps lines from different threads whole
};

// Builds one line and writes it when destroyed:
//   LogLine(sink, LogLevel::info, "claim_submitted").kv("session_id", id).kv("tx", hash);
class LogLine {
 public:
  LogLine(LogSink& sink, LogLevel level, std::string_view event);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  LogLine& kv(std::string_view key, std::string_view value);
  LogLine& kv(std::string_view key, const char* value) { return kv(key, std::string_view(value)); }
  LogLine& kv(std::string_view key, const std::string& value) {
    return kv(key, std::string_view(value));
  }
  template <class T>
  requires std::is_arithmetic_v<T> LogLine& kv(std::string_view key, T value) {
    if (enabled_) appendRaw(key, fmt::format("{}", value));
    return *this;
  }

 private:
  void appendRaw(std::string_view key, std::string_view value);

  LogSink& sink_;
  bool enabled_;
  std::string line_;
};

// One logfmt line as LogLine builds it (`<time> key=value ...`) turned into one JSON object.
std::string logfmtToJson(std::string_view line);

// Quotes a value when it is empty or holds a space, '"', '=' or a control character, so that every
// line splits unambiguously into key=value pairs.
std::string quoteLogValue(std::string_view value);

}  // namespace pocket::util
