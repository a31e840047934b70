#include "common/smst/gob.h"

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/util/hex.h"

namespace pocket::smst {

namespace {

using util::Bytes;
using util::ByteSpan;

// ---- encoding ----

// Type definition messages of a fresh process (see docs/protocol.md §8), per proof type.
constexpr std::string_view kClosestTypes =
    "ff807f030101185370617273654d65726b6c65436c6f7365737450726f6f6601ff8000010601045061746801"
    "0a00010b466c69707065644269747301ff820001054465707468010400010b436c6f7365737450617468010a"
    "000110436c6f7365737456616c756548617368010a00010c436c6f7365737450726f6f6601ff8400000013ff"
    "81020101055b5d696e7401ff82000104000058ff83030101115370617273654d65726b6c6550726f6f6601ff"
    "840001030109536964654e6f64657301ff860001154e6f6e4d656d626572736869704c65616644617461010a"
    "00010b5369626c696e6744617461010a00000017ff85020101095b5d5b5d75696e743801ff8600010a0000";
constexpr std::string_view kCompactClosestTypes =
    "ff877f0301011f537061727365436f6d706163744d65726b6c65436c6f7365737450726f6f6601ff80000106"
    "010450617468010a00010b466c69707065644269747301ff820001054465707468010a00010b436c6f736573"
    "7450617468010a000110436c6f7365737456616c756548617368010a00010c436c6f7365737450726f6f6601"
    "ff8400000017ff81020101095b5d5b5d75696e743801ff8200010a00007cff8303010118537061727365436f"
    "6d706163744d65726b6c6550726f6f6601ff840001050109536964654e6f64657301ff820001154e6f6e4d65"
    "6d626572736869704c65616644617461010a0001074269744d61736b010a00010c4e756d536964654e6f6465"
    "73010400010b5369626c696e6744617461010a000000";
constexpr std::string_view kProofTypes =
    "577f030101115370617273654d65726b6c6550726f6f6601ff800001030109536964654e6f64657301ff8200"
    "01154e6f6e4d656d626572736869704c65616644617461010a00010b5369626c696e6744617461010a000000"
    "17ff81020101095b5d5b5d75696e743801ff8200010a0000";
constexpr std::string_view kCompactTypes =
    "7b7f03010118537061727365436f6d706163744d65726b6c6550726f6f6601ff800001050109536964654e6f"
    "64657301ff820001154e6f6e4d656d626572736869704c65616644617461010a0001074269744d61736b010a"
    "00010c4e756d536964654e6f646573010400010b5369626c696e6744617461010a00000017ff81020101095b"
    "5d5b5d75696e743801ff8200010a0000";

// Decoded once (thread-safe static initialization).
const Bytes& typesOf(std::string_view hex) {
  static const Bytes proof = *util::fromHex(kProofTypes);
  static const Bytes compact = *util::fromHex(kCompactTypes);
  static const Bytes closest = *util::fromHex(kClosestTypes);
  static const Bytes compactClosest = *util::fromHex(kCompactClosestTypes);
  if (hex.data() == kProofTypes.data()) return proof;
  if (hex.data() == kCompactTypes.data()) return compact;
  if (hex.data() == kClosestTypes.data()) return closest;
  return compactClosest;
}

class Writer {
 public:
  void uint(std::uint64_t x) {
    if (x < 0x80) {
      out_.push_back(static_cast<std::uint8_t>(x));
      return;
    }
    int n = 0;
    for (std::uint64_t t = x; t > 0; t >>= 8) ++n;
    out_.push_back(static_cast<std::uint8_t>(256 - n));
    for (int i = n - 1; i >= 0; --i) out_.push_back(static_cast<std::uint8_t>(x >> (8 * i)));
  }
  void sint(std::int64_t x) {
    std::uint64_t u =
        x < 0 ? (~static_cast<std::uint64_t>(x) << 1) | 1 : static_cast<std::uint64_t>(x) << 1;
    uint(u);
  }
  void bytes(ByteSpan b) {
    uint(b.size());
    out_.insert(out_.end(), b.begin(), b.end());
  }
  // Struct fields: `index` is 1-based; zero values are skipped by the callers.
  void field(int index) {
    uint(static_cast<std::uint64_t>(index - last_));
    last_ = index;
  }
  void bytesField(int index, ByteSpan b) {
    if (b.empty()) return;
    field(index);
    bytes(b);
  }
  void bytesListField(int index, const std::vector<Bytes>& list) {
    if (list.empty()) return;
    field(index);
    uint(list.size());
    for (const Bytes& b : list) bytes(b);
  }
  void intField(int index, std::int64_t x) {
    if (x == 0) return;
    field(index);
    sint(x);
  }
  // Starts a nested struct; returns the enclosing struct's field counter to restore.
  int beginStruct() {
    int saved = last_;
    last_ = 0;
    return saved;
  }
  void endStruct(int saved) {
    out_.push_back(0);
    last_ = saved;
  }
  Bytes& out() { return out_; }

 private:
  Bytes out_;
  int last_ = 0;
};

void proofFields(Writer& w, const SparseMerkleProof& p) {
  w.bytesListField(1, p.sideNodes);
  w.bytesField(2, p.nonMembershipLeafData);
  w.bytesField(3, p.siblingData);
}

void compactFields(Writer& w, const SparseCompactMerkleProof& p) {
  w.bytesListField(1, p.sideNodes);
  w.bytesField(2, p.nonMembershipLeafData);
  w.bytesField(3, p.bitMask);
  w.intField(4, p.numSideNodes);
  w.bytesField(5, p.siblingData);
}

// types ‖ uint(len(body)) ‖ body, body = int(64) ‖ struct.
Bytes message(std::string_view typesHex, Writer& body) {
  Writer out;
  const Bytes& types = typesOf(typesHex);
  out.out() = types;
  out.uint(body.out().size());
  out.out().insert(out.out().end(), body.out().begin(), body.out().end());
  return std::move(out.out());
}

Writer valueWriter() {
  Writer w;
  w.sint(64);
  return w;
}

// ---- decoding ----

struct GobError {
  std::string message;
};

[[noreturn]] void fail(std::string message) {
  throw GobError{std::move(message)};
}

constexpr int kFirstUserId = 64;
constexpr int kTypeBool = 1, kTypeInt = 2, kTypeUint = 3, kTypeFloat = 4, kTypeBytes = 5,
              kTypeString = 6, kTypeComplex = 7;
constexpr int kMaxNesting = 32;

class Reader {
 public:
  explicit Reader(ByteSpan data) : data_(data) {}
  [[nodiscard]] std::size_t remaining() const { return data_.size() - pos_; }
  [[nodiscard]] bool done() const { return pos_ == data_.size(); }
  std::uint8_t byte() {
    if (pos_ >= data_.size()) fail("unexpected end of data");
    return data_[pos_++];
  }
  std::uint64_t uint() {
    std::uint8_t b = byte();
    if (b < 0x80) return b;
    int n = 256 - b;
    if (n > 8) fail("invalid uint length " + std::to_string(n));
    if (static_cast<std::size_t>(n) > remaining()) fail("unexpected end of data in uint");
    std::uint64_t x = 0;
    for (int i = 0; i < n; ++i) x = (x << 8) | data_[pos_++];
    return x;
  }
  std::int64_t sint() {
    std::uint64_t u = uint();
    return (u & 1) ? static_cast<std::int64_t>(~(u >> 1)) : static_cast<std::int64_t>(u >> 1);
  }
  std::size_t length(const char* what) {
    std::uint64_t n = uint();
    if (n > remaining()) fail(std::string(what) + " length " + std::to_string(n) + " exceeds data");
    return static_cast<std::size_t>(n);
  }
  ByteSpan take(std::size_t n) {
    if (n > remaining()) fail("unexpected end of data");
    ByteSpan out = data_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  Bytes bytes() {
    std::size_t n = length("byte slice");
    ByteSpan b = take(n);
    return Bytes(b.begin(), b.end());
  }

 private:
  ByteSpan data_;
  std::size_t pos_ = 0;
};

struct WireField {
  std::string name;
  std::int64_t id = 0;
};

struct WireType {
  enum Kind { array, slice, structure, map, encoder } kind = structure;
  std::vector<WireField> fields;
  std::int64_t elem = 0;
  std::int64_t key = 0;
};

// Reads a struct of the gob type-definition schema: calls onField(fieldNumber) for each field.
template <class OnField>
void readStruct(Reader& r, int numFields, OnField onField) {
  int field = 0;
  while (true) {
    std::uint64_t delta = r.uint();
    if (delta == 0) return;
    if (delta > static_cast<std::uint64_t>(numFields - field)) fail("field number out of range");
    field += static_cast<int>(delta);
    onField(field);
  }
}

// CommonType{Name string, Id int}
void readCommon(Reader& r) {
  readStruct(r, 2, [&](int f) {
    if (f == 1) {
      r.bytes();
    } else {
      r.sint();
    }
  });
}

WireType readWireType(Reader& r) {
  WireType t;
  int kinds = 0;
  readStruct(r, 7, [&](int f) {
    ++kinds;
    switch (f) {
      case 1:  // ArrayT {CommonType, Elem, Len}
        t.kind = WireType::array;
        readStruct(r, 3, [&](int g) {
          if (g == 1) {
            readCommon(r);
          } else if (g == 2) {
            t.elem = r.sint();
          } else {
            r.sint();
          }
        });
        break;
      case 2:  // SliceT {CommonType, Elem}
        t.kind = WireType::slice;
        readStruct(r, 2, [&](int g) {
          if (g == 1) {
            readCommon(r);
          } else {
            t.elem = r.sint();
          }
        });
        break;
      case 3:  // StructT {CommonType, Field []fieldType{Name, Id}}
        t.kind = WireType::structure;
        readStruct(r, 2, [&](int g) {
          if (g == 1) {
            readCommon(r);
            return;
          }
          std::size_t n = r.length("field list");
          for (std::size_t i = 0; i < n; ++i) {
            WireField wf;
            readStruct(r, 2, [&](int h) {
              if (h == 1) {
                Bytes name = r.bytes();
                wf.name.assign(name.begin(), name.end());
              } else {
                wf.id = r.sint();
              }
            });
            t.fields.push_back(std::move(wf));
          }
        });
        break;
      case 4:  // MapT {CommonType, Key, Elem}
        t.kind = WireType::map;
        readStruct(r, 3, [&](int g) {
          if (g == 1) {
            readCommon(r);
          } else if (g == 2) {
            t.key = r.sint();
          } else {
            t.elem = r.sint();
          }
        });
        break;
      default:  // GobEncoderT, BinaryMarshalerT, TextMarshalerT {CommonType}
        t.kind = WireType::encoder;
        readStruct(r, 1, [&](int) { readCommon(r); });
        break;
    }
  });
  if (kinds != 1) fail("type definition must describe exactly one kind of type");
  return t;
}

// What the target Go type of a field is.
enum class Shape { bytes, sint, bytesList, intList, proof, compactProof };

struct TargetField {
  const char* name;
  Shape shape;
};

constexpr TargetField kProofFields[] = {{"SideNodes", Shape::bytesList},
                                        {"NonMembershipLeafData", Shape::bytes},
                                        {"SiblingData", Shape::bytes}};
constexpr TargetField kCompactFields[] = {{"SideNodes", Shape::bytesList},
                                          {"NonMembershipLeafData", Shape::bytes},
                                          {"BitMask", Shape::bytes},
                                          {"NumSideNodes", Shape::sint},
                                          {"SiblingData", Shape::bytes}};
constexpr TargetField kClosestFields[] = {{"Path", Shape::bytes},
                                          {"FlippedBits", Shape::intList},
                                          {"Depth", Shape::sint},
                                          {"ClosestPath", Shape::bytes},
                                          {"ClosestValueHash", Shape::bytes},
                                          {"ClosestProof", Shape::proof}};
constexpr TargetField kCompactClosestFields[] = {{"Path", Shape::bytes},
                                                 {"FlippedBits", Shape::bytesList},
                                                 {"Depth", Shape::bytes},
                                                 {"ClosestPath", Shape::bytes},
                                                 {"ClosestValueHash", Shape::bytes},
                                                 {"ClosestProof", Shape::compactProof}};

struct Schema {
  const TargetField* fields;
  std::size_t size;
};

Schema schemaOf(Shape s) {
  if (s == Shape::proof) return {kProofFields, std::size(kProofFields)};
  return {kCompactFields, std::size(kCompactFields)};
}

// A decoded field value.
struct Value {
  bool present = false;
  Bytes bytes;
  std::int64_t sint = 0;
  std::vector<Bytes> list;
  std::vector<std::int64_t> ints;
  std::vector<Value> nested;  // for struct fields, indexed like the nested schema
};

class Decoder {
 public:
  explicit Decoder(ByteSpan data) : r_(data) {}

  // Reads type definitions until the first value message; returns its type id and a reader over
  // its payload.
  std::pair<std::int64_t, Reader> nextValue() {
    while (true) {
      std::uint64_t size = r_.uint();
      if (size == 0) fail("empty message");
      if (size >= (std::uint64_t{1} << 30)) fail("message too big");
      if (size > r_.remaining()) fail("message length exceeds data (truncated)");
      Reader msg(r_.take(static_cast<std::size_t>(size)));
      std::int64_t id = msg.sint();
      if (id >= 0) {
        if (id == 0) fail("value of type id 0");
        return {id, msg};
      }
      if (id < -(std::int64_t{1} << 31)) fail("type id out of range");
      std::int64_t def = -id;
      if (def < kFirstUserId || types_.count(def) != 0) {
        fail("duplicate or reserved type id " + std::to_string(def));
      }
      types_[def] = readWireType(msg);
      if (!msg.done()) fail("extra data after a type definition");
    }
  }

  [[nodiscard]] const WireType* wire(std::int64_t id) const {
    auto it = types_.find(id);
    return it == types_.end() ? nullptr : &it->second;
  }

  // Go's compatibleType for our target shapes; `depth` bounds recursion.
  [[nodiscard]] bool compatible(Shape shape, std::int64_t id, int depth) const {
    if (depth > kMaxNesting) fail("types nested too deeply");
    const WireType* w = wire(id);
    switch (shape) {
      case Shape::bytes:
        return id == kTypeBytes;
      case Shape::sint:
        return id == kTypeInt;
      case Shape::bytesList:
        return w != nullptr && w->kind == WireType::slice && w->elem == kTypeBytes;
      case Shape::intList:
        return w != nullptr && w->kind == WireType::slice && w->elem == kTypeInt;
      case Shape::proof:
      case Shape::compactProof:
        if (w == nullptr || w->kind != WireType::structure) return false;
        checkStruct(*w, schemaOf(shape), depth + 1);
        return true;
    }
    return false;
  }

  // Fails unless every wire field that binds to a target field has a compatible type, and unless
  // at least one field binds (Go: "type mismatch: no fields matched").
  void checkStruct(const WireType& w, Schema schema, int depth) const {
    int matched = 0;
    for (const WireField& f : w.fields) {
      for (std::size_t i = 0; i < schema.size; ++i) {
        if (f.name != schema.fields[i].name) continue;
        if (!compatible(schema.fields[i].shape, f.id, depth)) {
          fail("wrong type for received field " + f.name);
        }
        ++matched;
      }
    }
    if (matched == 0 && !w.fields.empty()) fail("type mismatch: no fields matched");
  }

  std::vector<Value> readStructValue(Reader& r, const WireType& w, Schema schema, int depth) {
    if (depth > kMaxNesting) fail("values nested too deeply");
    std::vector<Value> out(schema.size);
    std::size_t field = 0;  // 1-based index of the last field read
    while (true) {
      std::uint64_t delta = r.uint();
      if (delta == 0) break;
      if (delta > w.fields.size() - field) fail("field number out of range");
      field += static_cast<std::size_t>(delta);
      const WireField& f = w.fields[field - 1];
      std::size_t target = schema.size;
      for (std::size_t i = 0; i < schema.size; ++i) {
        if (f.name == schema.fields[i].name) target = i;
      }
      if (target == schema.size) {
        skip(r, f.id, depth + 1);
        continue;
      }
      Value& v = out[target];
      v.present = true;
      switch (schema.fields[target].shape) {
        case Shape::bytes:
          v.bytes = r.bytes();
          break;
        case Shape::sint:
          v.sint = r.sint();
          break;
        case Shape::bytesList: {
          std::size_t n = r.length("slice");
          v.list.clear();
          for (std::size_t i = 0; i < n; ++i) v.list.push_back(r.bytes());
          break;
        }
        case Shape::intList: {
          std::size_t n = r.length("slice");
          v.ints.clear();
          for (std::size_t i = 0; i < n; ++i) v.ints.push_back(r.sint());
          break;
        }
        case Shape::proof:
        case Shape::compactProof:
          v.nested =
              readStructValue(r, *wire(f.id), schemaOf(schema.fields[target].shape), depth + 1);
          break;
      }
    }
    return out;
  }

  // Skips one value of wire type `id` (a field the target does not have).
  void skip(Reader& r, std::int64_t id, int depth) {
    if (depth > kMaxNesting) fail("values nested too deeply");
    switch (id) {
      case kTypeBool:
      case kTypeInt:
      case kTypeUint:
      case kTypeFloat:
        r.uint();
        return;
      case kTypeBytes:
      case kTypeString:
        r.take(r.length("string"));
        return;
      case kTypeComplex:
        r.uint();
        r.uint();
        return;
      default:
        break;
    }
    const WireType* w = wire(id);
    if (w == nullptr) fail("field of unknown or unsupported type id " + std::to_string(id));
    switch (w->kind) {
      case WireType::array:
      case WireType::slice: {
        std::size_t n = r.length("slice");
        for (std::size_t i = 0; i < n; ++i) skip(r, w->elem, depth + 1);
        return;
      }
      case WireType::map: {
        std::size_t n = r.length("map");
        for (std::size_t i = 0; i < n; ++i) {
          skip(r, w->key, depth + 1);
          skip(r, w->elem, depth + 1);
        }
        return;
      }
      case WireType::encoder:
        r.take(r.length("encoded value"));
        return;
      case WireType::structure: {
        std::size_t field = 0;
        while (true) {
          std::uint64_t delta = r.uint();
          if (delta == 0) return;
          if (delta > w->fields.size() - field) fail("field number out of range");
          field += static_cast<std::size_t>(delta);
          skip(r, w->fields[field - 1].id, depth + 1);
        }
      }
    }
  }

  // Decodes the first value, which must be a struct matching `schema`.
  std::vector<Value> decodeTop(Schema schema) {
    auto [id, msg] = nextValue();
    const WireType* w = wire(id);
    if (w == nullptr || w->kind != WireType::structure) {
      fail("value of type id " + std::to_string(id) + " is not a defined struct");
    }
    checkStruct(*w, schema, 0);
    std::vector<Value> out = readStructValue(msg, *w, schema, 0);
    if (!msg.done()) fail("extra data in the value message");
    return out;
  }

 private:
  Reader r_;
  std::map<std::int64_t, WireType> types_;
};

SparseMerkleProof toProof(const std::vector<Value>& v) {
  SparseMerkleProof p;
  p.sideNodes = v[0].list;
  p.nonMembershipLeafData = v[1].bytes;
  p.siblingData = v[2].bytes;
  return p;
}

SparseCompactMerkleProof toCompact(const std::vector<Value>& v) {
  SparseCompactMerkleProof p;
  p.sideNodes = v[0].list;
  p.nonMembershipLeafData = v[1].bytes;
  p.bitMask = v[2].bytes;
  p.numSideNodes = v[3].sint;
  p.siblingData = v[4].bytes;
  return p;
}

template <class T, class Build>
util::Result<T> decodeWith(ByteSpan gob, Schema schema, Build build) {
  try {
    Decoder decoder(gob);
    return build(decoder.decodeTop(schema));
  } catch (const GobError& e) {
    return util::makeError("bad_gob", "gob: " + e.message);
  }
}

}  // namespace

Bytes encodeGob(const SparseMerkleProof& proof) {
  Writer w = valueWriter();
  proofFields(w, proof);
  w.out().push_back(0);
  return message(kProofTypes, w);
}

Bytes encodeGob(const SparseCompactMerkleProof& proof) {
  Writer w = valueWriter();
  compactFields(w, proof);
  w.out().push_back(0);
  return message(kCompactTypes, w);
}

Bytes encodeGob(const SparseMerkleClosestProof& proof) {
  Writer w = valueWriter();
  w.bytesField(1, proof.path);
  if (!proof.flippedBits.empty()) {
    w.field(2);
    w.uint(proof.flippedBits.size());
    for (std::int64_t b : proof.flippedBits) w.sint(b);
  }
  w.intField(3, proof.depth);
  w.bytesField(4, proof.closestPath);
  w.bytesField(5, proof.closestValueHash);
  w.field(6);  // a non-nil pointer to a struct is always sent
  int saved = w.beginStruct();
  proofFields(w, proof.closestProof);
  w.endStruct(saved);
  w.out().push_back(0);
  return message(kClosestTypes, w);
}

Bytes encodeGob(const SparseCompactMerkleClosestProof& proof) {
  Writer w = valueWriter();
  w.bytesField(1, proof.path);
  w.bytesListField(2, proof.flippedBits);
  w.bytesField(3, proof.depth);
  w.bytesField(4, proof.closestPath);
  w.bytesField(5, proof.closestValueHash);
  w.field(6);
  int saved = w.beginStruct();
  compactFields(w, proof.closestProof);
  w.endStruct(saved);
  w.out().push_back(0);
  return message(kCompactClosestTypes, w);
}

util::Result<SparseMerkleProof> decodeSparseMerkleProof(ByteSpan gob) {
  return decodeWith<SparseMerkleProof>(gob, schemaOf(Shape::proof), toProof);
}

util::Result<SparseCompactMerkleProof> decodeSparseCompactMerkleProof(ByteSpan gob) {
  return decodeWith<SparseCompactMerkleProof>(gob, schemaOf(Shape::compactProof), toCompact);
}

util::Result<SparseMerkleClosestProof> decodeSparseMerkleClosestProof(ByteSpan gob) {
  return decodeWith<SparseMerkleClosestProof>(
      gob, Schema{kClosestFields, std::size(kClosestFields)},
      [](const std::vector<Value>& v) -> SparseMerkleClosestProof {
        if (!v[5].present) fail("closest proof without ClosestProof");
        SparseMerkleClosestProof p;
        p.path = v[0].bytes;
        p.flippedBits = v[1].ints;
        p.depth = v[2].sint;
        p.closestPath = v[3].bytes;
        p.closestValueHash = v[4].bytes;
        p.closestProof = toProof(v[5].nested);
        return p;
      });
}

util::Result<SparseCompactMerkleClosestProof> decodeSparseCompactMerkleClosestProof(ByteSpan gob) {
  return decodeWith<SparseCompactMerkleClosestProof>(
      gob, Schema{kCompactClosestFields, std::size(kCompactClosestFields)},
      [](const std::vector<Value>& v) -> SparseCompactMerkleClosestProof {
        if (!v[5].present) fail("closest proof without ClosestProof");
        SparseCompactMerkleClosestProof p;
        p.path = v[0].bytes;
        p.flippedBits = v[1].list;
        p.depth = v[2].bytes;
        p.closestPath = v[3].bytes;
        p.closestValueHash = v[4].bytes;
        p.closestProof = toCompact(v[5].nested);
        return p;
      });
}

}  // namespace pocket::smst
