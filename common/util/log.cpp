#include "common/util/log.h"

#include <chrono>

namespace pocket::util {

std::string_view levelName(LogLevel level) {
  switch (level) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warn:
      return "warn";
    case LogLevel::error:
      return "error";
  }
  return "info";
}

bool parseLogLevel(std::string_view text, LogLevel& level) {
  for (LogLevel candidate : {LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error}) {
    if (text == levelName(candidate)) {
      level = candidate;
      return true;
    }
  }
  return false;
}

LogSink::LogSink(std::FILE* out, LogLevel minLevel, LogFormat format)
    : out_(out), minLevel_(minLevel), format_(format) {
}

namespace {

// How a control character other than \n, \r and \t is written inside a quoted string.
enum class ControlEscape {
  json,    // \u00XX (JSON)
  logfmt,  // \xXX (logfmt; logfmtToJson reads it back)
};

// Appends `s` as a double-quoted string with '"', '\\', \n, \r and \t escaped by a backslash and
// the other control characters as `control` says. JSON and logfmt differ only there.
void appendQuoted(std::string& out, std::string_view s, ControlEscape control) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default: {
        auto byte = static_cast<unsigned>(static_cast<unsigned char>(c));
        if (byte >= 0x20) {
          out += c;
        } else if (control == ControlEscape::json) {
          out += fmt::format("\\u{:04x}", byte);
        } else {
          out += fmt::format("\\x{:02x}", byte);
        }
      }
    }
  }
  out += '"';
}

void appendJsonString(std::string& out, std::string_view s) {
  appendQuoted(out, s, ControlEscape::json);
}

}  // namespace

std::string logfmtToJson(std::string_view line) {
  std::string out = "{\"time\":";
  std::size_t space = line.find(' ');
  appendJsonString(out, line.substr(0, space));
  std::size_t i = space == std::string_view::npos ? line.size() : space + 1;
  while (i < line.size()) {
    std::size_t eq = line.find('=', i);
    if (eq == std::string_view::npos) break;
    std::string_view key = line.substr(i, eq - i);
    std::string value;
    i = eq + 1;
    if (i < line.size() && line[i] == '"') {
      ++i;
      while (i < line.size() && line[i] != '"') {
        char c = line[i++];
        if (c == '\\' && i < line.size()) {
          char e = line[i++];
          if (e == 'n') {
            value += '\n';
          } else if (e == 'r') {
            value += '\r';
          } else if (e == 't') {
            value += '\t';
          } else if (e == 'x' && i + 2 <= line.size()) {
            value += static_cast<char>(std::stoi(std::string(line.substr(i, 2)), nullptr, 16));
            i += 2;
          } else {
            value += e;
          }
        } else {
          value += c;
        }
      }
      ++i;  // closing quote
    } else {
      std::size_t end = line.find(' ', i);
      if (end == std::string_view::npos) end = line.size();
      value = std::string(line.substr(i, end - i));
      i = end;
    }
    if (i < line.size() && line[i] == ' ') ++i;
    out += ',';
    appendJsonString(out, key);
    out += ':';
    appendJsonString(out, value);
  }
  out += '}';
  return out;
}

void LogSink::write(std::string_view line) {
  if (format_ == LogFormat::json) {
    std::string json = logfmtToJson(line);
    std::lock_guard lock(mutex_);
    std::fwrite(json.data(), 1, json.size(), out_);
    std::fputc('\n', out_);
    std::fflush(out_);
    return;
  }
  std::lock_guard lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fputc('\n', out_);
  std::fflush(out_);
}

std::string quoteLogValue(std::string_view value) {
  bool needsQuotes = value.empty();
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) {
      needsQuotes = true;
      break;
    }
  }
  if (!needsQuotes) return std::string(value);
  std::string out;
  appendQuoted(out, value, ControlEscape::logfmt);
  return out;
}

LogLine::LogLine(LogSink& sink, LogLevel level, std::string_view event)
    : sink_(sink), enabled_(sink.enabled(level)) {
  if (!enabled_) return;
  auto now = std::chrono::system_clock::now();
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  std::time_t seconds = static_cast<std::time_t>(millis.count() / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  line_ = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z level={} event={}",
                      utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                      utc.tm_sec, millis.count() % 1000, levelName(level), quoteLogValue(event));
}

LogLine::~LogLine() {
  if (enabled_) sink_.write(line_);
}

LogLine& LogLine::kv(std::string_view key, std::string_view value) {
  if (enabled_) appendRaw(key, quoteLogValue(value));
  return *this;
}

void LogLine::appendRaw(std::string_view key, std::string_view value) {
  line_ += ' ';
  line_ += key;
  line_ += '=';
  line_ += value;
}

}  // namespace pocket::util
