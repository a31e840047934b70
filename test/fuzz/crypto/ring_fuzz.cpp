// Fuzz target: ring-signature decoding and verification on arbitrary bytes.
// Input layout: 32-byte message ‖ serialized signature (shorter inputs: zero message).
// Any input must give a decoded value or an error with a code — never a crash or a sanitizer
// report — and a decoded signature must re-encode to the same length (scalars ≥ n come back
// reduced mod n, so not always to the same bytes).

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "common/crypto/ring.h"

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pocket;
  // Small cache so that eviction runs too.
  static crypto::RingVerifier verifier(16);
  crypto::Hash32 message{};
  std::size_t head = size < message.size() ? size : message.size();
  if (head > 0) std::memcpy(message.data(), data, head);
  util::ByteSpan signatureBytes(data + head, size - head);

  // The verifier's own decoding path checks points against its cache.
  auto direct = verifier.verify(signatureBytes, message);
  if (!direct.ok() && direct.error().code.empty()) std::abort();

  auto decoded = crypto::decodeRingSignature(signatureBytes);
  if (!decoded) {
    if (decoded.error().code.empty()) std::abort();
    return 0;
  }
  util::Bytes again = crypto::encodeRingSignature(*decoded);
  auto status = verifier.verify(*decoded, message);
  if (!status.ok() && status.error().code.empty()) std::abort();
  if (again.size() != signatureBytes.size()) std::abort();
  std::vector<crypto::PublicKey> expected = {crypto::placeholderRingPublicKey()};
  (void)crypto::checkRingMembership(*decoded, expected);
  return 0;
}
