#include "common/protocol/proto_bytes.h"

#include <limits>

#include <google/protobuf/message_lite.h>

namespace pocket::protocol {

util::Bytes serialize(const google::protobuf::MessageLite& message) {
  util::Bytes out(message.ByteSizeLong());
  if (!out.empty()) message.SerializeWithCachedSizesToArray(out.data());
  return out;
}

bool parse(util::ByteSpan bytes, google::protobuf::MessageLite& message) {
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) return false;
  return message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

bool isValidUtf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    std::uint32_t codePoint = 0;
    std::uint32_t minimum = 0;
    if ((byte & 0xe0) == 0xc0) {
      length = 2, codePoint = byte & 0x1f, minimum = 0x80;
    } else if ((byte & 0xf0) == 0xe0) {
      length = 3, codePoint = byte & 0x0f, minimum = 0x800;
    } else if ((byte & 0xf8) == 0xf0) {
      length = 4, codePoint = byte & 0x07, minimum = 0x10000;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      auto continuation = static_cast<unsigned char>(text[i + k]);
      if ((continuation & 0xc0) != 0x80) return false;
      codePoint = (codePoint << 6) | (continuation & 0x3f);
    }
    if (codePoint < minimum || codePoint > 0x10ffff) return false;
    if (codePoint >= 0xd800 && codePoint <= 0xdfff) return false;
    i += length;
  }
  return true;
}

}  // namespace pocket::protocol
