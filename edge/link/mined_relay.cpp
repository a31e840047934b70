#include "edge/link/mined_relay.h"

#include <algorithm>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "common/net/frame.h"
#include "edge_link.capnp.h"

namespace pocket::edge {

util::Bytes encodeMinedRelay(const MinedRelay& relay) {
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<link::MinedRelay>();
  root.setRelayHash(kj::arrayPtr(relay.relayHash.data(), relay.relayHash.size()));
  root.setRelayBytes(kj::arrayPtr(relay.relayBytes.data(), relay.relayBytes.size()));
  root.setComputeUnits(relay.computeUnits);
  auto header = root.initSessionHeader();
  header.setApplicationAddress(relay.sessionHeader.applicationAddress);
  header.setServiceId(relay.sessionHeader.serviceId);
  header.setSessionId(relay.sessionHeader.sessionId);
  header.setSessionStartBlockHeight(relay.sessionHeader.sessionStartBlockHeight);
  header.setSessionEndBlockHeight(relay.sessionHeader.sessionEndBlockHeight);
  root.setSupplierOperatorAddress(relay.supplierOperatorAddress);
  root.setArrivalHeight(relay.arrivalHeight);
  kj::Array<capnp::word> words = capnp::messageToFlatArray(builder);
  auto bytes = words.asBytes();
  return util::Bytes(bytes.begin(), bytes.end());
}

util::Result<MinedRelay> decodeMinedRelay(util::ByteSpan payload) {
  auto frame = net::decodeFrame(payload);
  if (!frame.ok()) return frame.error();
  MinedRelay out;
  util::Status status = net::guardDecode([&]() -> util::Status {
    auto root = (*frame)->root<link::MinedRelay>();
    auto hash = root.getRelayHash();
    if (hash.size() != out.relayHash.size()) {
      return util::makeError("bad_relay_hash",
                             "relay hash has " + std::to_string(hash.size()) + " bytes, not 32");
    }
    std::copy(hash.begin(), hash.end(), out.relayHash.begin());
    auto bytes = root.getRelayBytes();
    out.relayBytes.assign(bytes.begin(), bytes.end());
    out.computeUnits = root.getComputeUnits();
    auto header = root.getSessionHeader();
    out.sessionHeader.applicationAddress = header.getApplicationAddress();
    out.sessionHeader.serviceId = header.getServiceId();
    out.sessionHeader.sessionId = header.getSessionId();
    out.sessionHeader.sessionStartBlockHeight = header.getSessionStartBlockHeight();
    out.sessionHeader.sessionEndBlockHeight = header.getSessionEndBlockHeight();
    out.supplierOperatorAddress = root.getSupplierOperatorAddress();
    out.arrivalHeight = root.getArrivalHeight();
    return util::Ok{};
  });
  if (!status.ok()) return status.error();
  return out;
}

}  // namespace pocket::edge
