// vector-replay smst FILE: replays the SMST golden vectors (schema smst-golden-vectors/v1) against
// pocket::smst: every step of every case on one trie, comparing roots, sums, counts, Get results,
// proofs, compact proofs, gob bytes, verification results and committed store contents.

#include <map>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/smst/gob.h"
#include "common/smst/proof.h"
#include "common/smst/store.h"
#include "common/smst/trie.h"
#include "common/util/hex.h"
#include "tools/vector-replay/kinds.h"

namespace pocket::vectors {

namespace {

using nlohmann::json;
using smst::ValueHasher;
using util::Bytes;

Bytes bytesOf(const json& value) {
  if (value.is_null()) return {};
  auto decoded = util::fromHex(value.get<std::string>());
  if (!decoded) throw std::runtime_error("bad hex in vector: " + value.get<std::string>());
  return *decoded;
}

// Hex of an expected byte field; null (Go nil) and "" compare equal, as gob makes them.
std::string hexOf(const json& value) {
  return value.is_null() ? "" : value.get<std::string>();
}
std::string hex(util::ByteSpan b) {
  return util::toHex(b);
}

std::string hexList(const std::vector<Bytes>& list) {
  std::string out = "[";
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (i) out += ",";
    out += hex(list[i]);
  }
  return out + "]";
}

std::string hexList(const json& list) {
  std::string out = "[";
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (i) out += ",";
    out += hexOf(list[i]);
  }
  return out + "]";
}

bool expectedVerdict(const json& v) {
  return v.get<bool>();
}

class CaseReplay {
 public:
  CaseReplay(const json& c, Reporter& reporter) : case_(c), reporter_(reporter) {
    hasher_ = c.at("value_hasher").get<std::string>() == "sha256" ? ValueHasher::sha256
                                                                  : ValueHasher::none;
    store_ = std::make_unique<smst::MemoryStore>();
    trie_ = std::make_unique<smst::SparseMerkleSumTrie>(*store_, hasher_);
  }

  void run() {
    const std::string name = case_.at("name").get<std::string>();
    where_ = fmt::format("case={} initial", name);
    expectRoot(case_.at("initial"));
    const json& steps = case_.at("steps");
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const json& step = steps[i];
      std::string op = step.at("op").get<std::string>();
      where_ = fmt::format("case={} step={} op={}", name, i, op);
      track(step);
      if (op == "update") {
        trie_->update(bytesOf(step.at("key")), bytesOf(step.at("value")),
                      step.at("weight").get<std::uint64_t>());
        expectRoot(step.at("expect"));
      } else if (op == "delete") {
        replayDelete(step);
      } else if (op == "get") {
        replayGet(step);
      } else if (op == "prove") {
        replayProve(step);
      } else if (op == "prove_closest") {
        replayProveClosest(step);
      } else if (op == "commit") {
        replayCommit(step);
      } else if (op == "import") {
        replayImport(step);
      } else {
        reporter_.fail(where_, "unknown op " + op);
      }
    }
  }

 private:
  const json& case_;
  Reporter& reporter_;
  ValueHasher hasher_;
  std::unique_ptr<smst::MemoryStore> store_;
  std::unique_ptr<smst::SparseMerkleSumTrie> trie_;
  std::string where_;
  // Current (value, weight) of every key, for the membership verifications of `prove`.
  std::map<Bytes, std::pair<Bytes, std::uint64_t>> contents_;

  void equal(const std::string& what, const std::string& expected, const std::string& actual) {
    reporter_.expectEqual(where_, what, expected, actual);
  }

  void expectRoot(const json& expect) {
    smst::Digest root = trie_->root();
    equal("root", expect.at("root").get<std::string>(), hex(root));
    equal("sum", std::to_string(expect.at("sum").get<std::uint64_t>()),
          std::to_string(trie_->sum()));
    equal("count", std::to_string(expect.at("count").get<std::uint64_t>()),
          std::to_string(trie_->count()));
  }

  void replayDelete(const json& step) {
    const json& expect = step.at("expect");
    util::Status s = trie_->remove(bytesOf(step.at("key")));
    std::string got = s.ok() ? "null" : s.error().message;
    std::string want =
        expect.at("error").is_null() ? "null" : expect.at("error").get<std::string>();
    equal("error", want, got);
    expectRoot(expect);
  }

  void replayGet(const json& step) {
    const json& expect = step.at("expect");
    std::optional<smst::LeafValue> got = trie_->get(bytesOf(step.at("key")));
    std::string want =
        expect.at("value_hash").is_null() ? "null" : expect.at("value_hash").get<std::string>();
    equal("value_hash", want, got ? hex(got->valueHash) : "null");
    equal("weight", std::to_string(expect.at("weight").get<std::uint64_t>()),
          std::to_string(got ? got->weight : 0));
  }

  void expectProof(const std::string& prefix, const json& want, const smst::SparseMerkleProof& p) {
    equal(prefix + ".side_nodes", hexList(want.at("side_nodes")), hexList(p.sideNodes));
    equal(prefix + ".non_membership_leaf_data", hexOf(want.at("non_membership_leaf_data")),
          hex(p.nonMembershipLeafData));
    equal(prefix + ".sibling_data", hexOf(want.at("sibling_data")), hex(p.siblingData));
  }

  void expectCompact(const std::string& prefix, const json& want,
                     const smst::SparseCompactMerkleProof& p) {
    equal(prefix + ".side_nodes", hexList(want.at("side_nodes")), hexList(p.sideNodes));
    equal(prefix + ".non_membership_leaf_data", hexOf(want.at("non_membership_leaf_data")),
          hex(p.nonMembershipLeafData));
    equal(prefix + ".bit_mask", hexOf(want.at("bit_mask")), hex(p.bitMask));
    equal(prefix + ".num_side_nodes", std::to_string(want.at("num_side_nodes").get<std::int64_t>()),
          std::to_string(p.numSideNodes));
    equal(prefix + ".sibling_data", hexOf(want.at("sibling_data")), hex(p.siblingData));
  }

  template <class T, class Decode>
  void expectGob(const std::string& prefix, const json& want, const T& proof, Decode decode) {
    std::string wantHex = want.at("gob").get<std::string>();
    equal(prefix + ".gob", wantHex, hex(smst::encodeGob(proof)));
    auto decoded = decode(bytesOf(want.at("gob")));
    reporter_.check(decoded.ok() && *decoded == proof, where_,
                    prefix + ".gob does not decode to the same proof" +
                        (decoded.ok() ? std::string() : ": " + decoded.error().message));
  }

  void replayProve(const json& step) {
    const json& expect = step.at("expect");
    Bytes key = bytesOf(step.at("key"));
    smst::SparseMerkleProof proof = trie_->prove(key);
    expectProof("proof", expect.at("proof"), proof);
    expectGob("proof", expect.at("proof"), proof, smst::decodeSparseMerkleProof);
    auto compact = smst::compactProof(proof);
    if (!compact) {
      reporter_.fail(where_, "compactProof failed: " + compact.error().message);
      return;
    }
    expectCompact("compact", expect.at("compact"), *compact);
    expectGob("compact", expect.at("compact"), *compact, smst::decodeSparseCompactMerkleProof);
    auto round = smst::decompactProof(*compact);
    reporter_.check(round.ok() && *round == proof, where_, "decompact(compact) != proof");

    smst::Digest root = trie_->root();
    std::optional<smst::LeafValue> current = trie_->get(key);
    const json& member = expect.at("verify_membership");
    if (member.is_null()) {
      reporter_.check(!current.has_value(), where_, "key is present but vector has no membership");
    } else {
      util::Status s =
          smst::verifySumProof(proof, root, key, valueOf(key), current->weight, 1, hasher_);
      equal("verify_membership", expectedVerdict(member) ? "true" : "false",
            s.ok() ? "true" : "false");
    }
    util::Status non = smst::verifySumProof(proof, root, key, {}, 0, 0, hasher_);
    equal("verify_non_membership",
          expectedVerdict(expect.at("verify_non_membership")) ? "true" : "false",
          non.ok() ? "true" : "false");
    util::Status c = current ? smst::verifyCompactSumProof(*compact, root, key, valueOf(key),
                                                           current->weight, 1, hasher_)
                             : smst::verifyCompactSumProof(*compact, root, key, {}, 0, 0, hasher_);
    equal("verify_compact", expectedVerdict(expect.at("verify_compact")) ? "true" : "false",
          c.ok() ? "true" : "false");
  }

  // Keeps the caller-side (value, weight) of every key, for membership verification.
  void track(const json& step) {
    std::string op = step.at("op").get<std::string>();
    if (op == "update") {
      contents_[bytesOf(step.at("key"))] = {bytesOf(step.at("value")),
                                            step.at("weight").get<std::uint64_t>()};
    } else if (op == "delete") {
      contents_.erase(bytesOf(step.at("key")));
    }
  }

  // The caller-side value of a key (before value hashing), tracked from the update steps.
  Bytes valueOf(const Bytes& key) {
    auto it = contents_.find(key);
    return it == contents_.end() ? Bytes{} : it->second.first;
  }

  void replayProveClosest(const json& step) {
    const json& expect = step.at("expect");
    auto proof = trie_->proveClosest(bytesOf(step.at("path")));
    if (!proof) {
      reporter_.fail(where_, "proveClosest failed: " + proof.error().message);
      return;
    }
    const json& want = expect.at("proof");
    equal("proof.path", hexOf(want.at("path")), hex(proof->path));
    std::string flips;
    for (std::int64_t b : proof->flippedBits) flips += std::to_string(b) + ",";
    std::string wantFlips;
    for (const json& b : want.at("flipped_bits")) wantFlips += std::to_string(b.get<int>()) + ",";
    equal("proof.flipped_bits", wantFlips, flips);
    equal("proof.depth", std::to_string(want.at("depth").get<int>()), std::to_string(proof->depth));
    equal("proof.closest_path", hexOf(want.at("closest_path")), hex(proof->closestPath));
    equal("proof.closest_value_hash", hexOf(want.at("closest_value_hash")),
          hex(proof->closestValueHash));
    expectProof("proof.closest_proof", want.at("closest_proof"), proof->closestProof);
    expectGob("proof", want, *proof, smst::decodeSparseMerkleClosestProof);

    auto compact = smst::compactClosestProof(*proof);
    if (!compact) {
      reporter_.fail(where_, "compactClosestProof failed: " + compact.error().message);
      return;
    }
    const json& wantCompact = expect.at("compact");
    equal("compact.path", hexOf(wantCompact.at("path")), hex(compact->path));
    equal("compact.flipped_bits", hexList(wantCompact.at("flipped_bits")),
          hexList(compact->flippedBits));
    equal("compact.depth", hexOf(wantCompact.at("depth")), hex(compact->depth));
    equal("compact.closest_path", hexOf(wantCompact.at("closest_path")), hex(compact->closestPath));
    equal("compact.closest_value_hash", hexOf(wantCompact.at("closest_value_hash")),
          hex(compact->closestValueHash));
    expectCompact("compact.closest_proof", wantCompact.at("closest_proof"), compact->closestProof);
    expectGob("compact", wantCompact, *compact, smst::decodeSparseCompactMerkleClosestProof);
    auto round = smst::decompactClosestProof(*compact);
    reporter_.check(round.ok() && *round == *proof, where_, "decompact(compact) != proof");

    smst::Digest root = trie_->root();
    equal("verify", expectedVerdict(expect.at("verify")) ? "true" : "false",
          smst::verifyClosestProof(*proof, root, hasher_).ok() ? "true" : "false");
    equal("verify_compact", expectedVerdict(expect.at("verify_compact")) ? "true" : "false",
          smst::verifyCompactClosestProof(*compact, root, hasher_).ok() ? "true" : "false");
  }

  void replayCommit(const json& step) {
    const json& expect = step.at("expect");
    trie_->commit();
    expectRoot(expect);
    std::string want;
    for (const json& kv : expect.at("kv_store")) {
      want += hexOf(kv.at("key")) + "=" + hexOf(kv.at("value")) + ";";
    }
    std::string got;
    store_->forEach(
        [&](const smst::Digest& k, util::ByteSpan v) { got += hex(k) + "=" + hex(v) + ";"; });
    equal("kv_store", want, got);
  }

  void replayImport(const json& step) {
    Bytes root = bytesOf(step.at("root"));
    auto opened = smst::SparseMerkleSumTrie::open(*store_, root, hasher_);
    if (!opened) {
      reporter_.fail(where_, "open failed: " + opened.error().message);
      return;
    }
    trie_ = std::move(*opened);
    expectRoot(step.at("expect"));
  }
};

}  // namespace

void replaySmst(const json& document, Reporter& reporter) {
  std::size_t index = 0;
  for (const json& c : document.at("cases")) {
    reporter.replayCase(fmt::format("case={}", caseLabel(c, "name", index++)), [&] {
      CaseReplay replay(c, reporter);
      replay.run();
    });
  }
}

}  // namespace pocket::vectors
