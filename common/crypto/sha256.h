#pragma once
// sha256 over raw buffers, for callers that hash many short messages (the trie, the relay
// pipeline): no per-call context or provider lookup. Uses the CPU's SHA instructions where present
// (x86-64 SHA-NI), OpenSSL's low-level SHA-256 otherwise; both give the same bytes.
//
// Pure functions; thread-safe.

#include <cstddef>
#include <cstdint>

namespace pocket::crypto {

// sha256(data[0..size)) into out[0..32).
void sha256Into(const std::uint8_t* data, std::size_t size, std::uint8_t* out);
// sha256(a[0..size)) into outA and sha256(b[0..size)) into outB: two messages of one size hashed
// side by side, faster than two calls where the CPU's SHA unit is pipelined.
void sha256PairInto(const std::uint8_t* a, const std::uint8_t* b, std::size_t size,
                    std::uint8_t* outA, std::uint8_t* outB);
// Whether sha256Into uses the CPU's SHA instructions on this machine.
bool sha256Accelerated();
// sha256(data) through OpenSSL whatever the CPU (the reference sha256Into is checked against).
void sha256Portable(const std::uint8_t* data, std::size_t size, std::uint8_t* out);

}  // namespace pocket::crypto
