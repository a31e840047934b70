#include "edge/ring_check.h"

namespace pocket::edge {

util::Status checkRingSignature(crypto::RingVerifier& verifier, util::ByteSpan signature,
                                const crypto::Hash32& message,
                                const std::vector<CompressedPubKey>& applicationRing) {
  auto decoded = crypto::decodeRingSignature(signature);
  if (!decoded) {
    return util::makeError("bad_ring_signature",
                           "ring signature does not decode: " + decoded.error().message);
  }
  std::vector<crypto::PublicKey> expected;
  expected.reserve(applicationRing.size());
  for (const auto& key : applicationRing) {
    auto parsed = crypto::PublicKey::fromCompressed(key);
    if (parsed) expected.push_back(*parsed);  // a malformed key from the manager matches nothing
  }
  if (auto member = crypto::checkRingMembership(*decoded, expected); !member) {
    return util::makeError("ring_mismatch",
                           "ring signature is not from the application's ring: " +
                               member.error().message);
  }
  if (auto verified = verifier.verify(*decoded, message); !verified) {
    return util::makeError("bad_ring_signature",
                           "ring signature does not verify: " + verified.error().message);
  }
  return util::Ok{};
}

}  // namespace pocket::edge
