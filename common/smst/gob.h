#pragma once
// Go encoding/gob for the four smt proof types, as their Marshal()/Unmarshal() methods produce and
// accept them. SparseCompactMerkleClosestProof's encoding is MsgSubmitProof.proof.
//
// Encoding emits what a fresh Go (>= 1.21) process emits when that proof type is the first and only
// type it gob-encodes: the type definitions (user type ids from 64) followed by the value message.
//
// Decoding parses gob type definitions generically, binds fields by name like Go does (other
// type ids, field orders and extra fields are accepted; incompatible field types are rejected) and
// reads the first value message. Any malformed input (truncation, bad lengths, unknown type ids,
// trailing bytes inside a message, nesting deeper than 32 levels) is an Error with code "bad_gob".
// A closest proof without its ClosestProof field is rejected too: Go would decode it to a nil
// pointer on which every later use panics. Bytes after the first value message are ignored, as in
// Go. All functions are pure and thread-safe.

#include "common/smst/proof.h"
#include "common/util/bytes.h"
#include "common/util/result.h"

namespace pocket::smst {

util::Bytes encodeGob(const SparseMerkleProof& proof);
util::Bytes encodeGob(const SparseCompactMerkleProof& proof);
util::Bytes encodeGob(const SparseMerkleClosestProof& proof);
util::Bytes encodeGob(const SparseCompactMerkleClosestProof& proof);

util::Result<SparseMerkleProof> decodeSparseMerkleProof(util::ByteSpan gob);
util::Result<SparseCompactMerkleProof> decodeSparseCompactMerkleProof(util::ByteSpan gob);
util::Result<SparseMerkleClosestProof> decodeSparseMerkleClosestProof(util::ByteSpan gob);
util::Result<SparseCompactMerkleClosestProof> decodeSparseCompactMerkleClosestProof(
    util::ByteSpan gob);

}  // namespace pocket::smst
