#pragma once
// Captured logs and made-up mined relays for the link tests (temporary directories: the harness,
// test/support/process.h).

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/crypto/hash.h"
#include "common/protocol/relay.h"
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

// The bytes of relay `n` of a session: a real Relay (a request carrying the session header and the
// supplier, a response carrying the header and a placeholder signature), so that a session manager
// that decodes and checks what it is given accepts it. Distinct for every `n`.
inline util::Bytes sessionRelayBytes(std::uint64_t n, const protocol::SessionHeader& header,
                                     const std::string& supplier) {
  protocol::Relay relay;
  protocol::RelayRequest request;
  request.meta.sessionHeader = header;
  request.meta.supplierOperatorAddress = supplier;
  request.payload = util::toBytes("request-" + std::to_string(n));
  protocol::RelayResponse response;
  response.meta.sessionHeader = header;
  response.meta.supplierOperatorSignature = util::Bytes(64, 0x11);
  relay.req = request;
  relay.res = response;
  return protocol::marshal(relay);
}

// Relay number `n` of a session, as an edge mines it: real relay bytes (sessionRelayBytes), their
// sha256, the session's compute units per relay.
inline edge::MinedRelay makeSessionRelay(std::uint64_t n, const protocol::SessionHeader& header,
                                         const std::string& supplier, std::uint64_t computeUnits) {
  edge::MinedRelay relay;
  relay.relayBytes = sessionRelayBytes(n, header, supplier);
  relay.relayHash = crypto::sha256(relay.relayBytes);
  relay.computeUnits = computeUnits;
  relay.sessionHeader = header;
  relay.supplierOperatorAddress = supplier;
  relay.arrivalHeight = header.sessionStartBlockHeight;
  return relay;
}

}  // namespace pocket::test
