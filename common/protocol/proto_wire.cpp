#include "common/protocol/proto_wire.h"

#include <limits>

namespace pocket::protocol::wire {

void Writer::varint(std::uint64_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<std::uint8_t>(v));
}

void Writer::tag(std::uint32_t field, WireType type) {
  varint((static_cast<std::uint64_t>(field) << 3) | static_cast<std::uint64_t>(type));
}

void Writer::raw(util::ByteSpan bytes) {
  out_.insert(out_.end(), bytes.begin(), bytes.end());
}

void Writer::varintField(std::uint32_t field, std::uint64_t v) {
  if (v == 0) return;
  tag(field, WireType::varint);
  varint(v);
}

void Writer::bytesField(std::uint32_t field, util::ByteSpan bytes) {
  if (bytes.empty()) return;
  messageHeader(field, bytes.size());
  raw(bytes);
}

void Writer::messageHeader(std::uint32_t field, std::size_t length) {
  tag(field, WireType::lengthDelimited);
  varint(length);
}

util::Error Reader::error(std::string_view reason) const {
  std::string message(context_);
  message += ": ";
  message += reason;
  message += " at byte ";
  message += std::to_string(pos_);
  return util::makeError(std::string(kMalformedProto), std::move(message));
}

util::Error Reader::wrongWireType(const Field& field) const {
  return error("field " + std::to_string(field.number) + " has wire type " +
               std::to_string(static_cast<int>(field.type)) +
               ", which its declaration does not allow");
}

util::Result<std::uint64_t> Reader::readVarint(std::string_view what) {
  std::uint64_t v = 0;
  // Like Go's generated decoders: at most 10 bytes; bits beyond 64 of the 10th byte are ignored.
  for (unsigned shift = 0;; shift += 7) {
    if (shift >= 64) return error(std::string(what) + " varint is longer than 10 bytes");
    if (pos_ >= data_.size()) return error(std::string(what) + " varint is truncated");
    std::uint8_t b = data_[pos_++];
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (b < 0x80) return v;
  }
}

util::Status Reader::skipGroup() {
  int depth = 1;
  while (depth > 0) {
    auto tag = readVarint("tag");
    if (!tag) return tag.error();
    auto type = static_cast<unsigned>(*tag & 7);
    switch (type) {
      case 0: {
        auto v = readVarint("value");
        if (!v) return v.error();
        break;
      }
      case 1:
      case 5: {
        std::size_t n = type == 1 ? 8 : 4;
        if (data_.size() - pos_ < n) return error("fixed-width value is truncated");
        pos_ += n;
        break;
      }
      case 2: {
        auto length = readVarint("length");
        if (!length) return length.error();
        if (*length > data_.size() - pos_) return error("length-delimited value is truncated");
        pos_ += static_cast<std::size_t>(*length);
        break;
      }
      case 3:
        ++depth;
        break;
      case 4:
        --depth;
        break;
      default:
        return error("illegal wire type " + std::to_string(type));
    }
  }
  return util::Ok{};
}

util::Result<Field> Reader::next() {
  auto tag = readVarint("tag");
  if (!tag) return tag.error();
  // Go's decoders take the field number as int32(tag >> 3) and reject values <= 0.
  auto number = static_cast<std::int32_t>(static_cast<std::uint32_t>(*tag >> 3));
  auto type = static_cast<unsigned>(*tag & 7);
  if (type == 4) return error("end-group tag outside a group");
  if (number <= 0) return error("illegal field number " + std::to_string(number));

  Field field;
  field.number = static_cast<std::uint32_t>(number);
  field.type = static_cast<WireType>(type);
  switch (type) {
    case 0: {
      auto v = readVarint("value");
      if (!v) return v.error();
      field.value = *v;
      return field;
    }
    case 1:
    case 5: {
      std::size_t n = type == 1 ? 8 : 4;
      if (data_.size() - pos_ < n) return error("fixed-width value is truncated");
      for (std::size_t i = 0; i < n; ++i) {
        field.value |= static_cast<std::uint64_t>(data_[pos_ + i]) << (8 * i);
      }
      pos_ += n;
      return field;
    }
    case 2: {
      auto length = readVarint("length");
      if (!length) return length.error();
      if (*length > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return error("negative length");
      }
      if (*length > data_.size() - pos_) {
        return error("field " + std::to_string(number) + " claims " + std::to_string(*length) +
                     " bytes but only " + std::to_string(data_.size() - pos_) + " remain");
      }
      field.bytes = data_.subspan(pos_, static_cast<std::size_t>(*length));
      pos_ += static_cast<std::size_t>(*length);
      return field;
    }
    case 3: {
      auto skipped = skipGroup();
      if (!skipped) return skipped.error();
      return field;
    }
    default:
      return error("illegal wire type " + std::to_string(type));
  }
}

}  // namespace pocket::protocol::wire
