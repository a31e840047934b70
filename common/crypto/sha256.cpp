// sha256 over raw buffers. The trie hashes millions of short fixed-size preimages (32-byte keys,
// 113-byte inner nodes, ~250-byte leaves) and the relay pipeline several short messages per relay,
// where the per-call cost of a general-purpose API (context setup, buffering, cleansing) is
// comparable to the compression itself. On x86-64 CPUs
// with the SHA extensions the blocks are compressed here directly from the caller's buffer; on
// other CPUs the work goes to OpenSSL's low-level SHA-256 functions, which OpenSSL 3 marks
// deprecated in favour of EVP but still supports, and which skip EVP's per-call provider lookup.
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "common/crypto/sha256.h"

#include <cstring>
#include <utility>

#include <openssl/sha.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define POCKET_CRYPTO_SHANI 1
#endif

namespace pocket::crypto {

namespace {

void writeBE64(std::uint8_t* out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<std::uint8_t>(v);
    v >>= 8;
  }
}

void sha256OpenSsl(const std::uint8_t* data, std::size_t size, std::uint8_t* out) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, data, size);
  SHA256_Final(out, &ctx);
}

#if POCKET_CRYPTO_SHANI

bool cpuHasShaNi() noexcept {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(1, &a, &b, &c, &d) == 0) return false;
  bool ssse3 = (c & (1u << 9)) != 0;
  bool sse41 = (c & (1u << 19)) != 0;
  if (__get_cpuid_max(0, nullptr) < 7) return false;
  __cpuid_count(7, 0, a, b, c, d);
  bool sha = (b & (1u << 29)) != 0;
  return ssse3 && sse41 && sha;
}

const bool kShaNi = cpuHasShaNi();

alignas(16) constexpr std::uint32_t kRound[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

// The working state in the register layout of the SHA instructions: abef = (a, b, e, f) and
// cdgh = (c, d, g, h), each listed from the highest 32-bit lane to the lowest.
struct ShaState {
  __m128i abef;
  __m128i cdgh;
};

// One block for each of N independent messages. The rounds of one message form a dependency
// chain; interleaving N chains keeps the SHA unit busy while each waits on its previous round.
template <int N>
__attribute__((target("sha,sse4.1,ssse3"), always_inline)) inline void compressBlocks(
    ShaState* s, const std::uint8_t* const* blocks) {
  const __m128i byteSwap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
  __m128i w[N][4];
  ShaState saved[N];
  for (int j = 0; j < N; ++j) {
    for (int g = 0; g < 4; ++g) {
      w[j][g] = _mm_shuffle_epi8(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(blocks[j] + std::ptrdiff_t{16} * g)),
          byteSwap);
    }
    saved[j] = s[j];
  }
  // 16 groups of 4 rounds; w[g & 3] holds the message words of group g. For g >= 4 the words are
  // W[t-16] + s0(W[t-15]) (msg1) + W[t-7] (alignr of the two previous groups) + s1(W[t-2]) (msg2).
#pragma GCC unroll 16
  for (int g = 0; g < 16; ++g) {
    const __m128i round =
        _mm_load_si128(reinterpret_cast<const __m128i*>(kRound + std::ptrdiff_t{4} * g));
    for (int j = 0; j < N; ++j) {
      __m128i& cur = w[j][g & 3];
      if (g >= 4) {
        const __m128i prev = w[j][(g - 1) & 3];
        const __m128i prev2 = w[j][(g - 2) & 3];
        cur = _mm_sha256msg1_epu32(cur, w[j][(g - 3) & 3]);
        cur = _mm_add_epi32(cur, _mm_alignr_epi8(prev, prev2, 4));
        cur = _mm_sha256msg2_epu32(cur, prev);
      }
      __m128i k = _mm_add_epi32(cur, round);
      // Two rounds make the old (a, b, e, f) the new (c, d, g, h).
      s[j].cdgh = _mm_sha256rnds2_epu32(s[j].cdgh, s[j].abef, k);
      std::swap(s[j].abef, s[j].cdgh);
      k = _mm_shuffle_epi32(k, 0x0e);
      s[j].cdgh = _mm_sha256rnds2_epu32(s[j].cdgh, s[j].abef, k);
      std::swap(s[j].abef, s[j].cdgh);
    }
  }
  for (int j = 0; j < N; ++j) {
    s[j].abef = _mm_add_epi32(s[j].abef, saved[j].abef);
    s[j].cdgh = _mm_add_epi32(s[j].cdgh, saved[j].cdgh);
  }
}

// sha256 of N messages of the same size.
template <int N>
__attribute__((target("sha,sse4.1,ssse3"))) void sha256ShaNi(const std::uint8_t* const* data,
                                                             std::size_t size,
                                                             std::uint8_t* const* out) {
  ShaState s[N];
  for (int j = 0; j < N; ++j) {
    // Initial hash value, words (a..h) = H0..H7.
    s[j].abef = _mm_set_epi32(0x6a09e667, static_cast<int>(0xbb67ae85), 0x510e527f,
                              static_cast<int>(0x9b05688c));
    s[j].cdgh = _mm_set_epi32(0x3c6ef372, static_cast<int>(0xa54ff53a), 0x1f83d9ab, 0x5be0cd19);
  }
  std::size_t full = size / 64;
  for (std::size_t i = 0; i < full; ++i) {
    const std::uint8_t* blocks[N];
    for (int j = 0; j < N; ++j) blocks[j] = data[j] + i * 64;
    compressBlocks<N>(s, blocks);
  }
  // The padded tail: the rest of the message, 0x80, zeros, the bit length (big-endian).
  alignas(16) std::uint8_t tail[N][128];
  std::size_t rest = size - full * 64;
  std::size_t tailSize = rest + 9 <= 64 ? 64 : 128;
  for (int j = 0; j < N; ++j) {
    std::memset(tail[j], 0, tailSize);
    if (rest != 0) std::memcpy(tail[j], data[j] + full * 64, rest);
    tail[j][rest] = 0x80;
    writeBE64(tail[j] + tailSize - 8, std::uint64_t{size} * 8);
  }
  for (std::size_t off = 0; off < tailSize; off += 64) {
    const std::uint8_t* blocks[N];
    for (int j = 0; j < N; ++j) blocks[j] = tail[j] + off;
    compressBlocks<N>(s, blocks);
  }
  // Back to (a, b, c, d) and (e, f, g, h), each word big-endian.
  const __m128i byteSwap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
  for (int j = 0; j < N; ++j) {
    __m128i feba = _mm_shuffle_epi32(s[j].abef, 0x1b);
    __m128i dchg = _mm_shuffle_epi32(s[j].cdgh, 0xb1);
    __m128i dcba = _mm_blend_epi16(feba, dchg, 0xf0);
    __m128i hgfe = _mm_alignr_epi8(dchg, feba, 8);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out[j]), _mm_shuffle_epi8(dcba, byteSwap));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out[j] + 16), _mm_shuffle_epi8(hgfe, byteSwap));
  }
}

#endif  // POCKET_CRYPTO_SHANI

}  // namespace

void sha256Into(const std::uint8_t* data, std::size_t size, std::uint8_t* out) {
#if POCKET_CRYPTO_SHANI
  if (kShaNi) {
    sha256ShaNi<1>(&data, size, &out);
    return;
  }
#endif
  sha256OpenSsl(data, size, out);
}

void sha256PairInto(const std::uint8_t* a, const std::uint8_t* b, std::size_t size,
                    std::uint8_t* outA, std::uint8_t* outB) {
#if POCKET_CRYPTO_SHANI
  if (kShaNi) {
    const std::uint8_t* data[2] = {a, b};
    std::uint8_t* out[2] = {outA, outB};
    sha256ShaNi<2>(data, size, out);
    return;
  }
#endif
  sha256OpenSsl(a, size, outA);
  sha256OpenSsl(b, size, outB);
}

bool sha256Accelerated() {
#if POCKET_CRYPTO_SHANI
  return kShaNi;
#else
  return false;
#endif
}

void sha256Portable(const std::uint8_t* data, std::size_t size, std::uint8_t* out) {
  sha256OpenSsl(data, size, out);
}

}  // namespace pocket::crypto
