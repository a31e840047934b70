#include "common/util/log.h"

#include <cstdio>
#include <string>

#include <doctest.h>

using pocket::util::LogLevel;
using pocket::util::LogLine;
using pocket::util::LogSink;

namespace {

// Captures what a sink writes through a memory stream.
struct Capture {
  char* buffer = nullptr;
  std::size_t size = 0;
  std::FILE* file = open_memstream(&buffer, &size);
  ~Capture() {
    std::fclose(file);
    std::free(buffer);
  }
  std::string text() {
    std::fflush(file);
    return std::string(buffer, size);
  }
};

}  // namespace

TEST_CASE("a log line carries level, event and key=value fields on one line") {
  Capture capture;
  LogSink sink(capture.file, LogLevel::info);
  LogLine(sink, LogLevel::info, "claim_submitted").kv("session_id", "abc").kv("count", 3);
  std::string text = capture.text();
  CHECK(text.find(" level=info event=claim_submitted session_id=abc count=3\n") !=
        std::string::npos);
  CHECK(text.find('T') == 10);  // ISO 8601 date first
  CHECK(text.back() == '\n');
}

TEST_CASE("values with spaces, quotes or newlines are quoted and escaped") {
  Capture capture;
  LogSink sink(capture.file);
  LogLine(sink, LogLevel::warn, "relay_rejected")
      .kv("reason", "ring signature \"bad\"\nend")
      .kv("empty", "");
  CHECK(capture.text().find(R"(reason="ring signature \"bad\"\nend" empty="")") !=
        std::string::npos);
}

TEST_CASE("lines below the sink's level are not written") {
  Capture capture;
  LogSink sink(capture.file, LogLevel::warn);
  LogLine(sink, LogLevel::info, "chatty").kv("k", "v");
  CHECK(capture.text().empty());
  LogLevel parsed = LogLevel::info;
  CHECK(pocket::util::parseLogLevel("error", parsed));
  CHECK(parsed == LogLevel::error);
  CHECK_FALSE(pocket::util::parseLogLevel("loud", parsed));
}
