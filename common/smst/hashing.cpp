// The trie's sha256 calls go straight to OpenSSL's SHA-256 block functions (SHA-NI accelerated).
// OpenSSL 3 marks SHA256_Init/Update/Final deprecated in favour of EVP, but they remain the
// supported low-level API and skip EVP's per-call provider lookup, which costs more than hashing
// the ~120-byte inner-node preimages themselves (measured: bench/smst).
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "common/smst/hashing.h"

#include <openssl/sha.h>

namespace pocket::smst::detail {

void sha256Into(const std::uint8_t* data, std::size_t size, std::uint8_t* out) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, data, size);
  SHA256_Final(out, &ctx);
}

}  // namespace pocket::smst::detail
