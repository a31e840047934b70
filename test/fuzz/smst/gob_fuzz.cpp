// Fuzzes the gob decoders of the four proof types. Properties: no crash, no sanitizer report; a
// decoded proof re-encodes to bytes that decode to the same proof.

#include <cstdint>
#include <cstdlib>

#include "common/smst/gob.h"

using namespace pocket;

namespace {

template <class Decode>
void roundTrip(util::ByteSpan data, Decode decode) {
  auto decoded = decode(data);
  if (!decoded.ok()) return;
  util::Bytes again = smst::encodeGob(*decoded);
  auto second = decode(again);
  if (!second.ok() || !(*second == *decoded)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  util::ByteSpan input(data, size);
  roundTrip(input, smst::decodeSparseCompactMerkleClosestProof);
  roundTrip(input, smst::decodeSparseMerkleClosestProof);
  roundTrip(input, smst::decodeSparseCompactMerkleProof);
  roundTrip(input, smst::decodeSparseMerkleProof);
  return 0;
}
