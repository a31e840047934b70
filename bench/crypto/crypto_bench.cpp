// Crypto figures for scripts/bench crypto: ring-signature verification (rings of 2 and 4, warm
// per-point cache as in steady state, and cold) and the supplier's response signature.
// Prints `name=value` lines; values are medians over batches, in microseconds per operation.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <secp256k1.h>

#include "common/crypto/ecdsa.h"
#include "common/crypto/ring.h"

using namespace pocket;

namespace {

double medianMicros(int batches, int perBatch, const std::function<void()>& operation) {
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(batches));
  operation();  // warm up caches and lazily built tables
  for (int b = 0; b < batches; ++b) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < perBatch; ++i) operation();
    auto elapsed = std::chrono::steady_clock::now() - start;
    samples.push_back(std::chrono::duration<double, std::micro>(elapsed).count() / perBatch);
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

crypto::RingSignature makeSignature(std::size_t ringSize, const crypto::Hash32& message) {
  std::vector<crypto::PrivateKey> keys;
  std::vector<crypto::PublicKey> ring;
  for (std::size_t i = 0; i < ringSize; ++i) {
    keys.push_back(crypto::PrivateKey::fromSecret(util::asBytes("bench-key-" + std::to_string(i))));
    ring.push_back(keys.back().publicKey());
  }
  auto signature = crypto::signRing(keys[ringSize - 1], ring, message);
  if (!signature) throw std::runtime_error(signature.error().message);
  return *signature;
}

// The straightforward route on libsecp256k1's public API (parse, tweak_mul, create, combine,
// serialize per member; hash-to-curve points precomputed), as a same-machine reference.
class PublicApiVerifier {
 public:
  PublicApiVerifier() : context_(secp256k1_context_create(SECP256K1_CONTEXT_NONE)) {}
  ~PublicApiVerifier() { secp256k1_context_destroy(context_); }
  PublicApiVerifier(const PublicApiVerifier&) = delete;
  PublicApiVerifier& operator=(const PublicApiVerifier&) = delete;

  void cache(const crypto::RingSignature& signature) {
    for (const auto& member : signature.members) {
      secp256k1_pubkey point;
      auto hp = crypto::hashToCurve(member.publicKey);
      if (secp256k1_ec_pubkey_parse(context_, &point, hp.data(), 33) != 1) std::abort();
      hashed_.push_back(point);
    }
  }

  bool verify(const util::Bytes& serialized, const crypto::Hash32& message) {
    std::size_t n = serialized[3];
    secp256k1_pubkey image;
    if (secp256k1_ec_pubkey_parse(context_, &image, serialized.data() + 36, 33) != 1) return false;
    std::array<std::uint8_t, 98> input{};
    std::copy(message.begin(), message.end(), input.begin());
    crypto::Scalar32 c{};
    std::copy(serialized.begin() + 4, serialized.begin() + 36, c.begin());
    crypto::Scalar32 c0 = c;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint8_t* s = serialized.data() + 69 + 65 * i;
      secp256k1_pubkey p, sg, l, ci, sh, r;
      if (secp256k1_ec_pubkey_parse(context_, &p, s + 32, 33) != 1) return false;
      sh = hashed_[i];
      ci = image;
      if (secp256k1_ec_pubkey_tweak_mul(context_, &p, c.data()) != 1 ||
          secp256k1_ec_pubkey_create(context_, &sg, s) != 1 ||
          secp256k1_ec_pubkey_tweak_mul(context_, &ci, c.data()) != 1 ||
          secp256k1_ec_pubkey_tweak_mul(context_, &sh, s) != 1) {
        return false;
      }
      const secp256k1_pubkey* left[] = {&p, &sg};
      const secp256k1_pubkey* right[] = {&ci, &sh};
      if (secp256k1_ec_pubkey_combine(context_, &l, left, 2) != 1 ||
          secp256k1_ec_pubkey_combine(context_, &r, right, 2) != 1) {
        return false;
      }
      std::size_t length = 33;
      secp256k1_ec_pubkey_serialize(context_, input.data() + 32, &length, &l,
                                    SECP256K1_EC_COMPRESSED);
      length = 33;
      secp256k1_ec_pubkey_serialize(context_, input.data() + 65, &length, &r,
                                    SECP256K1_EC_COMPRESSED);
      c = crypto::hashToScalar(input);
    }
    return c == c0;
  }

 private:
  secp256k1_context* context_;
  std::vector<secp256k1_pubkey> hashed_;
};

void ringFigures(std::size_t ringSize, const crypto::Hash32& message) {
  crypto::RingSignature signature = makeSignature(ringSize, message);
  util::Bytes serialized = crypto::encodeRingSignature(signature);
  crypto::RingVerifier verifier;
  double warm = medianMicros(31, 100, [&] {
    if (!verifier.verify(serialized, message).ok()) throw std::runtime_error("verify failed");
  });
  double cold = medianMicros(11, 5, [&] {
    crypto::RingVerifier fresh;
    if (!fresh.verify(serialized, message).ok()) throw std::runtime_error("verify failed");
  });
  PublicApiVerifier reference;
  reference.cache(signature);
  double publicApi = medianMicros(31, 100, [&] {
    if (!reference.verify(serialized, message)) throw std::runtime_error("verify failed");
  });
  std::printf("ring_verify_n%zu_us=%.1f\n", ringSize, warm);
  std::printf("ring_verify_n%zu_cold_us=%.1f\n", ringSize, cold);
  std::printf("ring_verify_n%zu_public_api_us=%.1f\n", ringSize, publicApi);
}

void run() {
  crypto::Hash32 message = crypto::sha256(util::asBytes("bench relay request"));
  ringFigures(2, message);
  ringFigures(4, message);

  auto key = crypto::PrivateKey::fromSecret(util::asBytes("bench-supplier"));
  crypto::Hash32 responseHash = crypto::sha256(util::asBytes("bench relay response"));
  crypto::Signature64 sink{};
  double sign = medianMicros(31, 200, [&] {
    sink = crypto::signCosmos(key, responseHash);
    responseHash[0] ^= sink[0];  // vary the message; keep the result live
  });
  std::printf("response_sign_us=%.1f\n", sign);

  crypto::Signature64 signature = crypto::signCosmos(key, responseHash);
  crypto::PublicKey pub = key.publicKey();
  double verify = medianMicros(31, 200, [&] {
    if (!crypto::verifyCosmos(pub, responseHash, signature)) throw std::runtime_error("verify");
  });
  std::printf("response_verify_us=%.1f\n", verify);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::printf("usage: crypto_bench\nTimes hashing, ECDSA and ring signatures; prints name=value "
                "lines.\n");
    return 0;
  }
  if (argc > 1) {
    std::fprintf(stderr, "usage: crypto_bench (no arguments; --help)\n");
    return 2;
  }
  try {
    run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "crypto_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
