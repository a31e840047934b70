#pragma once
// Moving generated protobuf messages to and from util::Bytes. Serializing a message built in code
// (no unknown fields, no maps) writes fields in number order and omits proto3 zero values, which is
// the canonical form Go's gogoproto marshaller produces for the same message.

#include <string_view>

#include "common/util/bytes.h"

namespace google::protobuf {
class MessageLite;
}  // namespace google::protobuf

namespace pocket::protocol {

util::Bytes serialize(const google::protobuf::MessageLite& message);

// Replaces `message` with the decoding of `bytes`; false when they are not a valid encoding
// (truncated, bad wire type, invalid UTF-8 in a string field, too deep). Never throws.
bool parse(util::ByteSpan bytes, google::protobuf::MessageLite& message);

// Go's utf8.ValidString: no overlong forms, no surrogates, nothing above U+10FFFF.
bool isValidUtf8(std::string_view text);

}  // namespace pocket::protocol
