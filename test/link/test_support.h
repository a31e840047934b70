#pragma once
// Captured logs and made-up mined relays for the link tests (temporary directories: the harness,
// test/support/process.h).

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/crypto/hash.h"
#include "common/util/log.h"
#include "edge/link/mined_relay.h"

namespace pocket::test {

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
