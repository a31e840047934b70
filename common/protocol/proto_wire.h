#pragma once
// Protobuf wire primitives for the hand-written codecs of common/protocol.
//
// Writer appends fields the way gogoproto's stable marshaler does: the caller writes fields in
// ascending number order, proto3 zero values are skipped by the *Field helpers, varints are
// minimal-length and negative int64 values take 10 bytes.
//
// Reader walks a buffer field by field with the acceptance rules of gogoproto's generated
// Unmarshal: truncated input, over-long varints, negative or out-of-range lengths, field number 0,
// a stray end-group and unknown wire types are errors; groups are skipped as a whole. Callers
// decide what is known and reject a known field carrying the wrong wire type. Value types, no
// shared state; a Reader only borrows the buffer it walks.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/util/bytes.h"
#include "common/util/result.h"

namespace pocket::protocol::wire {

enum class WireType : std::uint8_t {
  varint = 0,
  fixed64 = 1,
  lengthDelimited = 2,
  startGroup = 3,
  endGroup = 4,
  fixed32 = 5,
};

// Number of bytes of the minimal varint encoding of v (1..10).
constexpr std::size_t varintSize(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

constexpr std::size_t tagSize(std::uint32_t field) {
  return varintSize(static_cast<std::uint64_t>(field) << 3);
}

// Encoded size of a length-delimited field (tag, length, payload) holding `length` bytes.
constexpr std::size_t lengthDelimitedSize(std::uint32_t field, std::size_t length) {
  return tagSize(field) + varintSize(length) + length;
}

// Encoded size of a proto3 scalar field: 0 when the value is zero (the field is omitted).
constexpr std::size_t varintFieldSize(std::uint32_t field, std::uint64_t v) {
  return v == 0 ? 0 : tagSize(field) + varintSize(v);
}

// Encoded size of a proto3 string/bytes field: 0 when empty (the field is omitted).
constexpr std::size_t bytesFieldSize(std::uint32_t field, std::size_t length) {
  return length == 0 ? 0 : lengthDelimitedSize(field, length);
}

class Writer {
 public:
  // Appends to *out, which must outlive the Writer.
  explicit Writer(util::Bytes& out) : out_(out) {}

  void varint(std::uint64_t v);
  void tag(std::uint32_t field, WireType type);
  void raw(util::ByteSpan bytes);

  // proto3 scalars and strings: nothing is written for a zero value or an empty string.
  void varintField(std::uint32_t field, std::uint64_t v);
  void int64Field(std::uint32_t field, std::int64_t v) {
    varintField(field, static_cast<std::uint64_t>(v));
  }
  void bytesField(std::uint32_t field, util::ByteSpan bytes);
  void stringField(std::uint32_t field, std::string_view s) { bytesField(field, util::asBytes(s)); }

  // An embedded message or a map entry: tag and length are always written, even for length 0.
  // The caller then writes exactly `length` bytes of body.
  void messageHeader(std::uint32_t field, std::size_t length);

 private:
  util::Bytes& out_;  // destination, owned by the caller
};

// One field as read from the wire. `bytes` borrows the Reader's buffer.
struct Field {
  std::uint32_t number = 0;
  WireType type = WireType::varint;
  std::uint64_t value = 0;  // varint, fixed32 and fixed64 fields
  util::ByteSpan bytes;     // length-delimited fields
};

class Reader {
 public:
  // `data` must outlive the Reader and the Fields it returns. `context` names the message in errors
  // ("RelayRequest.meta").
  Reader(util::ByteSpan data, std::string_view context) : data_(data), context_(context) {}

  bool done() const { return pos_ >= data_.size(); }

  // Reads the next field. Groups (wire type 3) are skipped as a whole and returned with their
  // type so that a caller can treat them as unknown or reject them.
  util::Result<Field> next();

  // The error for a known field that arrived with another wire type than its declaration.
  util::Error wrongWireType(const Field& field) const;

 private:
  util::Result<std::uint64_t> readVarint(std::string_view what);
  util::Status skipGroup();
  util::Error error(std::string_view reason) const;

  util::ByteSpan data_;       // the message being read
  std::string_view context_;  // message name for error messages
  std::size_t pos_ = 0;       // offset of the next unread byte
};

// Error code of every decoding failure of common/protocol.
inline constexpr std::string_view kMalformedProto = "malformed_proto";

// Reads every field of `bytes` in order and hands each to `onField(Reader&, const Field&)`, which
// returns nullopt for a handled or ignored (unknown) field, or the error that stops the read.
// Malformed framing is reported with `context` by the Reader.
template <class OnField>
util::Status readFields(util::ByteSpan bytes, std::string_view context, OnField onField) {
  Reader reader(bytes, context);
  while (!reader.done()) {
    auto field = reader.next();
    if (!field) return field.error();
    std::optional<util::Error> failed = onField(reader, *field);
    if (failed) return std::move(*failed);
  }
  return util::Ok{};
}

}  // namespace pocket::protocol::wire
