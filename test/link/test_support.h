#pragma once
// Temporary directories, captured logs and made-up mined relays for the link tests.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "common/crypto/hash.h"
#include "common/util/log.h"
#include "edge/link/mined_relay.h"

namespace pocket::test {

// A fresh directory under $TMPDIR, removed with everything in it when the object goes.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "pocket-link-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A LogSink writing into memory, for asserting on log lines.
class CapturedLog {
 public:
  CapturedLog() : file_(open_memstream(&buffer_, &size_)), sink_(file_, util::LogLevel::debug) {}
  ~CapturedLog() {
    std::fclose(file_);
    std::free(buffer_);
  }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;
  util::LogSink& sink() { return sink_; }
  std::string text() {
    std::fflush(file_);
    return std::string(buffer_, size_);
  }
  bool contains(const std::string& needle) { return text().find(needle) != std::string::npos; }

 private:
  char* buffer_ = nullptr;
  std::size_t size_ = 0;
  std::FILE* file_;
  util::LogSink sink_;
};

// Relay number `i`: distinct bytes (of about `size` bytes), their real sha256 as the hash.
inline edge::MinedRelay makeRelay(std::uint64_t i, std::size_t size = 64) {
  edge::MinedRelay relay;
  std::string body = "relay-" + std::to_string(i) + "-";
  while (body.size() < size) body += static_cast<char>('a' + (body.size() + i) % 26);
  relay.relayBytes = util::toBytes(body);
  relay.relayHash = crypto::sha256(relay.relayBytes);
  relay.computeUnits = 1 + i % 7;
  relay.sessionHeader = {"pokt1app", "anvil", "session-" + std::to_string(i / 100), 101, 110};
  relay.supplierOperatorAddress = "pokt1supplier";
  relay.arrivalHeight = 105;
  return relay;
}

}  // namespace pocket::test
