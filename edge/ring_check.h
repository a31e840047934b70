#pragma once
// The ring-signature check of a relay request (docs/protocol.md §4): the signature must decode
// strictly, every key of its ring must belong to the application's ring as the session manager
// reported it (set membership, poktroll's rule), and it must verify over the request's signable
// hash. Threading: as the verifier (one per event loop).

#include <vector>

#include "common/crypto/hash.h"
#include "common/crypto/ring.h"
#include "common/util/bytes.h"
#include "common/util/result.h"
#include "edge/link/chain_facts.h"

namespace pocket::edge {

// Errors: "bad_ring_signature" (malformed or does not verify), "ring_mismatch" (a key of the
// signature's ring is not the application's or one of its gateways').
util::Status checkRingSignature(crypto::RingVerifier& verifier, util::ByteSpan signature,
                                const crypto::Hash32& message,
                                const std::vector<CompressedPubKey>& applicationRing);

}  // namespace pocket::edge
