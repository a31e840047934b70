#include "common/crypto/secp256k1_context.h"

#include <array>
#include <stdexcept>

#include <openssl/rand.h>

namespace pocket::crypto::detail {

namespace {

secp256k1_context* createContext() {
  secp256k1_context* context = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  if (context == nullptr) throw std::runtime_error("secp256k1_context_create failed");
  // Blinding for signing: randomizing protects secret-dependent computations against side
  // channels. It is done once, before the context is shared.
  std::array<unsigned char, 32> seed{};
  if (RAND_bytes(seed.data(), static_cast<int>(seed.size())) != 1 ||
      secp256k1_context_randomize(context, seed.data()) != 1) {
    secp256k1_context_destroy(context);
    throw std::runtime_error("secp256k1 context randomization failed");
  }
  return context;
}

}  // namespace

const secp256k1_context* secpContext() {
  static const secp256k1_context* const context = createContext();
  return context;
}

}  // namespace pocket::crypto::detail
