// Fuzzes the closest-proof verifier the way the chain reaches it: gob-decode a compact closest
// proof, decompact it and verify it against a root. The first 48 bytes of the input are the root
// (so a fuzzer can match a proof's own root); the rest is the gob. Properties: no crash, no
// sanitizer report; a proof that verifies in compact form also verifies decompacted, and
// re-compacting it verifies too.

#include <cstdint>
#include <cstdlib>

#include "common/smst/gob.h"
#include "common/smst/proof.h"

using namespace pocket;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < smst::kDigestSize) return 0;
  util::ByteSpan root(data, smst::kDigestSize);
  util::ByteSpan gob(data + smst::kDigestSize, size - smst::kDigestSize);
  auto compact = smst::decodeSparseCompactMerkleClosestProof(gob);
  if (!compact.ok()) return 0;
  for (smst::ValueHasher hasher : {smst::ValueHasher::none, smst::ValueHasher::sha256}) {
    util::Status compactVerdict = smst::verifyCompactClosestProof(*compact, root, hasher);
    auto full = smst::decompactClosestProof(*compact);
    if (!full.ok()) {
      if (compactVerdict.ok()) std::abort();
      continue;
    }
    util::Status verdict = smst::verifyClosestProof(*full, root, hasher);
    if (verdict.ok() != compactVerdict.ok()) std::abort();
    (void)full->valueHash();
    auto recompacted = smst::compactClosestProof(*full);
    if (verdict.ok() &&
        (!recompacted.ok() || !smst::verifyCompactClosestProof(*recompacted, root, hasher).ok())) {
      std::abort();
    }
  }
  return 0;
}
