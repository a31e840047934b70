#pragma once
// Internal: the one libsecp256k1 context of the process. It is created and randomized on first
// use and only read afterwards, which libsecp256k1 allows from any number of threads.

#include <secp256k1.h>

namespace pocket::crypto::detail {

const secp256k1_context* secpContext();

}  // namespace pocket::crypto::detail
