#include "common/crypto/hash.h"

#include <stdexcept>

#include <openssl/evp.h>

#include "common/crypto/sha256.h"

namespace pocket::crypto {

namespace {

// The digest algorithms are fetched once; EVP_MD objects are immutable and shareable across
// threads.
const EVP_MD* fetched(const char* name) {
  EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  if (md == nullptr) throw std::runtime_error(std::string("OpenSSL has no digest ") + name);
  return md;
}

template <std::size_t N>
std::array<std::uint8_t, N> digest(const EVP_MD* md, util::ByteSpan data) {
  std::array<std::uint8_t, N> out{};
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &length, md, nullptr) != 1 || length != N) {
    throw std::runtime_error("OpenSSL digest failed");
  }
  return out;
}

}  // namespace

Hash32 sha256(util::ByteSpan data) {
  Hash32 out{};
  sha256Into(data.data(), data.size(), out.data());
  return out;
}

Hash32 sha256(util::ByteSpan a, util::ByteSpan b) {
  static const EVP_MD* md = fetched("SHA256");
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  Hash32 out{};
  unsigned int length = 0;
  bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, md, nullptr) == 1 &&
            EVP_DigestUpdate(ctx, a.data(), a.size()) == 1 &&
            EVP_DigestUpdate(ctx, b.data(), b.size()) == 1 &&
            EVP_DigestFinal_ex(ctx, out.data(), &length) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) throw std::runtime_error("OpenSSL sha256 failed");
  return out;
}

Hash32 sha3_256(util::ByteSpan data) {
  static const EVP_MD* md = fetched("SHA3-256");
  return digest<32>(md, data);
}

Hash64 sha3_512(util::ByteSpan data) {
  static const EVP_MD* md = fetched("SHA3-512");
  return digest<64>(md, data);
}

Hash20 ripemd160(util::ByteSpan data) {
  // OpenSSL 3 serves RIPEMD-160 from the default provider (3.0.7+) or the legacy one.
  static const EVP_MD* md = fetched("RIPEMD160");
  return digest<20>(md, data);
}

}  // namespace pocket::crypto
