#include "common/net/frame.h"

#include <cstring>

namespace pocket::net {
namespace {

capnp::ReaderOptions readerOptions(std::size_t words) {
  capnp::ReaderOptions options;
  // A message may be read at most twice over (lists of structs are visited once when copied);
  // this bounds the work a hostile frame can cause.
  options.traversalLimitInWords = words * 2 + 64;
  options.nestingLimit = 16;
  return options;
}

}  // namespace

zmq::message_t encodeFrame(capnp::MessageBuilder& message) {
  kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  kj::ArrayPtr<const kj::byte> bytes = words.asBytes();
  return zmq::message_t(bytes.begin(), bytes.size());
}

DecodedFrame::DecodedFrame(kj::Array<capnp::word> words) : words_(std::move(words)) {
  reader_.emplace(words_.asPtr(), readerOptions(words_.size()));
}

void DecodedFrame::rewind() {
  reader_.reset();
  reader_.emplace(words_.asPtr(), readerOptions(words_.size()));
}

util::Result<std::unique_ptr<DecodedFrame>> decodeFrame(util::ByteSpan bytes,
                                                        std::size_t maxBytes) {
  if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0 || bytes.size() > maxBytes) {
    return util::makeError("frame_size", "frame of " + std::to_string(bytes.size()) +
                                             " bytes is not a whole number of 8-byte words up to " +
                                             std::to_string(maxBytes));
  }
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  try {
    // The constructor checks the segment table against the size.
    return std::make_unique<DecodedFrame>(std::move(words));
  } catch (const kj::Exception& e) {
    return util::makeError("frame_malformed", std::string(e.getDescription().cStr()));
  }
}

}  // namespace pocket::net
