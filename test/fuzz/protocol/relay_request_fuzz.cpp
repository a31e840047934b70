// Fuzzes the relay parsers: any input either fails with a reason or parses into a value whose
// canonical serialization parses back to the same value (serialization is a fixed point).

#include <cstdint>
#include <cstdlib>

#include "common/protocol/relay.h"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

template <class T, class Parse>
void roundTrip(pocket::util::ByteSpan input, Parse parse) {
  auto parsed = parse(input);
  if (!parsed.ok()) {
    require(!parsed.error().code.empty() && !parsed.error().message.empty());
    return;
  }
  pocket::util::Bytes bytes = pocket::protocol::marshal(*parsed);
  auto again = parse(bytes);
  require(again.ok());
  require(*again == *parsed);
  require(pocket::protocol::marshal(*again) == bytes);
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  pocket::util::ByteSpan input(data, size);
  roundTrip<pocket::protocol::RelayRequest>(input, pocket::protocol::parseRelayRequest);
  roundTrip<pocket::protocol::RelayResponse>(input, pocket::protocol::parseRelayResponse);
  roundTrip<pocket::protocol::Relay>(input, pocket::protocol::parseRelay);

  auto request = pocket::protocol::parseRelayRequest(input);
  if (request.ok()) {
    (void)pocket::protocol::requestSignableHash(*request);
    pocket::protocol::RelayResponse response;
    response.meta.sessionHeader = request->meta.sessionHeader;
    response.payload = request->payload;
    (void)pocket::protocol::relayHash(pocket::protocol::relayBytes(*request, response));
  }
  return 0;
}
