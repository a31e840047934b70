// Relay hashing cost on the relay path: what the miner does per served relay (relay bytes with the
// response payload cleared, then sha256), plus parsing a request and its signable hash.
// Prints name=value lines with the median over repeated batches, in microseconds per relay.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "common/protocol/relay.h"

namespace {

// Median over `batches` of the mean time per call of `fn` in a batch of `iterations` calls.
double medianMicros(int batches, int iterations, const std::function<void()>& fn) {
  std::vector<double> perCall;
  for (int b = 0; b < batches; ++b) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iterations; ++i) fn();
    std::chrono::duration<double, std::micro> elapsed = std::chrono::steady_clock::now() - start;
    perCall.push_back(elapsed.count() / iterations);
  }
  std::sort(perCall.begin(), perCall.end());
  return perCall[perCall.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::printf("usage: relay_hash_bench\nTimes relay hashing and signable bytes of PATH-shaped "
                "relays; prints name=value lines.\n");
    return 0;
  }
  if (argc > 1) {
    std::fprintf(stderr, "usage: relay_hash_bench (no arguments; --help)\n");
    return 2;
  }
  // A relay shaped like PATH's: real-sized session header, 2-member ring signature (199 bytes),
  // supplier address and a JSON-RPC POKTHTTPRequest-sized payload.
  pocket::protocol::RelayRequest request;
  request.meta.sessionHeader = pocket::protocol::SessionHeader{
      "pokt1n6fw4dhwvp93vf5zq0tycnwx2hgzapvl88cwjf", "anvil",
      "6d7a3b1c5e0f4a2b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b", 120961, 121020};
  request.meta.signature.assign(199, 0x42);
  request.meta.supplierOperatorAddress = "pokt16rt4gurax7n338ss3rqqm9hztjr0kwpjfxx2ey";
  request.payload.assign(160, 'p');
  pocket::util::Bytes signedRequest = pocket::protocol::marshal(request);

  // A typical JSON-RPC response: 1 KiB payload, payload hash and a 64-byte signature.
  pocket::protocol::RelayResponse response;
  response.meta.sessionHeader = request.meta.sessionHeader;
  response.payload.assign(1024, 'x');
  auto hash = pocket::protocol::payloadHash(response.payload);
  response.payloadHash.assign(hash.begin(), hash.end());
  response.meta.supplierOperatorSignature.assign(64, 0x5a);

  volatile std::uint8_t sink = 0;
  double relayHash = medianMicros(21, 20000, [&] {
    auto bytes = pocket::protocol::relayBytes(request, response);
    sink = sink ^ pocket::protocol::relayHash(bytes)[0];
  });
  double parse = medianMicros(21, 20000, [&] {
    auto parsed = pocket::protocol::parseRelayRequest(signedRequest);
    sink = sink ^ static_cast<std::uint8_t>(parsed->payload.size());
  });
  double signable = medianMicros(
      21, 20000, [&] { sink = sink ^ pocket::protocol::requestSignableHash(request)[0]; });
  double responseSignable = medianMicros(
      21, 20000, [&] { sink = sink ^ pocket::protocol::responseSignableHash(response)[0]; });

  std::printf("relay_hash_us=%.3f\n", relayHash);
  std::printf("relay_request_parse_us=%.3f\n", parse);
  std::printf("request_signable_hash_us=%.3f\n", signable);
  std::printf("response_signable_hash_us=%.3f\n", responseSignable);
  return 0;
}
