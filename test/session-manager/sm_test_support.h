#pragma once
// Chain facts and mined relays for the session-manager tests: an in-process ChainSource whose
// sessions and availability a test controls, relays that pass (or fail) the ingest checks, and
// minedRelays frames as an edge sends them.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <capnp/message.h>

#include "common/crypto/hash.h"
#include "common/net/frame.h"
#include "common/protocol/relay.h"
#include "edge_link.capnp.h"
#include "session-manager/chain_source.h"
#include "test/link/test_support.h"

namespace pocket::test {

inline const std::string kSupplier = "pokt1supplier0000000000000000000000000000";
inline const std::string kApp = "pokt1app00000000000000000000000000000000";

// A chain whose sessions and head a test sets; `available = false` makes every call fail
// transiently.
class FakeChain final : public sm::ChainSource {
 public:
  FakeChain() {
    head.height = 15;
    head.blockHash = util::Bytes(32, 0xab);
    head.sharedParams = protocol::SharedParams::genesisDefaults();
  }
  util::Result<sm::ChainHead> latestHead() override {
    std::lock_guard lock(mutex);
    ++headCalls;
    if (!available) return util::makeError(std::string(sm::kChainUnavailable), "node down");
    return head;
  }
  util::Result<sm::SessionFacts> session(const std::string& app, const std::string& service,
                                         std::int64_t height) override {
    std::lock_guard lock(mutex);
    ++sessionCalls;
    if (!available) return util::makeError(std::string(sm::kChainUnavailable), "node down");
    for (const auto& s : sessions) {
      if (s.header.applicationAddress == app && s.header.serviceId == service &&
          s.header.sessionStartBlockHeight <= height && height <= s.header.sessionEndBlockHeight) {
        return s;
      }
    }
    return util::makeError(std::string(sm::kChainNotFound), "no such session");
  }

  std::mutex mutex;
  bool available = true;
  sm::ChainHead head;
  std::vector<sm::SessionFacts> sessions;
  int headCalls = 0;
  int sessionCalls = 0;
};

// Session `index` of the fake app on service "svc": blocks 11..20 + 10·index, 64-hex id.
inline sm::SessionFacts makeSession(int index = 0, std::uint64_t computeUnits = 7) {
  sm::SessionFacts facts;
  std::string id(64, static_cast<char>('a' + index));
  facts.header = {kApp, "svc", id, 11 + 10 * index, 20 + 10 * index};
  facts.supplierOperatorAddresses = {kSupplier};
  facts.ringPubKeys = {util::Bytes(33, 0x02)};
  facts.computeUnitsPerRelay = computeUnits;
  facts.difficultyTarget = util::Bytes(32, 0xff);
  facts.startParams = protocol::SharedParams::genesisDefaults();
  facts.windowParams = protocol::SharedParams::genesisDefaults();
  facts.budget = sm::RelayBudget{1000000, 0, 1};
  return facts;
}

// What an edge puts in one MinedRelay.
struct TestRelay {
  util::Bytes relayHash;
  util::Bytes relayBytes;
  std::uint64_t computeUnits = 7;
  protocol::SessionHeader header;
  std::string supplier = kSupplier;
};

// Relay `n` of `session`: a real Relay (request with the session header and supplier, a
// response), its real hash, the session's compute units.
inline TestRelay makeRelay(int n, const sm::SessionFacts& session,
                           const std::string& supplier = kSupplier) {
  TestRelay out;
  out.relayBytes = sessionRelayBytes(static_cast<std::uint64_t>(n), session.header, supplier);
  auto hash = crypto::sha256(out.relayBytes);
  out.relayHash.assign(hash.begin(), hash.end());
  out.computeUnits = session.computeUnitsPerRelay;
  out.header = session.header;
  out.supplier = supplier;
  return out;
}

inline std::unique_ptr<net::DecodedFrame> decoded(capnp::MessageBuilder& builder) {
  auto frame = net::encodeFrame(builder);
  auto result = net::decodeFrame(util::ByteSpan(frame.data<std::uint8_t>(), frame.size()));
  if (!result.ok()) std::abort();
  return std::move(*result);
}

inline void fillBatch(pocket::link::MinedRelays::Builder batch, std::uint64_t firstSeq,
                      const std::vector<TestRelay>& relays) {
  batch.setFirstSeq(firstSeq);
  auto list = batch.initRelays(static_cast<unsigned>(relays.size()));
  for (unsigned i = 0; i < relays.size(); ++i) {
    const auto& r = relays[i];
    auto m = list[i];
    m.setRelayHash(kj::arrayPtr(r.relayHash.data(), r.relayHash.size()));
    m.setRelayBytes(kj::arrayPtr(r.relayBytes.data(), r.relayBytes.size()));
    m.setComputeUnits(r.computeUnits);
    auto h = m.initSessionHeader();
    h.setApplicationAddress(r.header.applicationAddress);
    h.setServiceId(r.header.serviceId);
    h.setSessionId(r.header.sessionId);
    h.setSessionStartBlockHeight(r.header.sessionStartBlockHeight);
    h.setSessionEndBlockHeight(r.header.sessionEndBlockHeight);
    m.setSupplierOperatorAddress(r.supplier);
    m.setArrivalHeight(15);
  }
}

// A minedRelays EdgeMessage frame, decoded as the link server hands it to the ingest.
inline std::unique_ptr<net::DecodedFrame> batchFrame(std::uint64_t firstSeq,
                                                     const std::vector<TestRelay>& relays) {
  capnp::MallocMessageBuilder builder;
  fillBatch(builder.initRoot<pocket::link::EdgeMessage>().initMinedRelays(), firstSeq, relays);
  return decoded(builder);
}

}  // namespace pocket::test
