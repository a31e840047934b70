#include "edge/ring_check.h"

namespace pocket::edge {

util::Status checkRingSignature(crypto::RingVerifier& verifier, util::ByteSpan signature,
                                const crypto::Hash32& message,
                                const std::vector<CompressedPubKey>& applicationRing) {
  // The verifier's cache knows the ring's points after the first relay of an application, so
  // neither decoding nor the membership check decompresses a point on the hot path.
  auto decoded = verifier.decode(signature);
  if (!decoded) {
    return util::makeError("bad_ring_signature",
                           "ring signature does not decode: " + decoded.error().message);
  }
  // A malformed key from the manager matches nothing: its bytes equal no valid member's.
  if (auto member = crypto::checkRingMembership(
          *decoded, std::span<const crypto::CompressedPoint>(applicationRing));
      !member) {
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
