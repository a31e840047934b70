#pragma once
// One Cap'n Proto message per ZeroMQ frame, in capnp's flat-array format (segment table, then the
// segments), for the edge <-> session-manager link.
//
// Receiving is where garbage arrives: decodeFrame checks the size and the segment table and copies
// the bytes to aligned memory. Cap'n Proto validates pointers lazily, so a reader obtained from a
// DecodedFrame may still throw kj::Exception on a bad pointer deep inside: run every access under
// net::guardDecode, which turns that into an ordinary error. Neither function changes any state.
//
// Value helpers; thread-safe.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>
#include <zmq.hpp>

#include "common/util/bytes.h"
#include "common/util/result.h"

namespace pocket::net {

// Frames larger than this are refused unread (a mined-relay batch is a few MiB at most).
inline constexpr std::size_t kMaxFrameBytes = 64u << 20;

zmq::message_t encodeFrame(capnp::MessageBuilder& message);

// A received frame in aligned memory with a reader over it. Not copyable or movable: the reader
// points into the words.
class DecodedFrame {
 public:
  // Throws kj::Exception on a malformed segment table; use decodeFrame.
  explicit DecodedFrame(kj::Array<capnp::word> words);
  DecodedFrame(const DecodedFrame&) = delete;
  DecodedFrame& operator=(const DecodedFrame&) = delete;

  template <class Root>
  typename Root::Reader root() {
    return reader_->getRoot<Root>();
  }

  // Gives the reader a fresh traversal budget (the bound on how much of the frame may be read,
  // about twice its size). A holder that reads the whole message again later — a batch set aside
  // and processed once more — calls this first, or the second reading is refused as
  // "Exceeded message traversal limit". The segment table was checked at construction and is not
  // checked again.
  void rewind();

 private:
  kj::Array<capnp::word> words_;
  std::optional<capnp::FlatArrayMessageReader> reader_;
};

// Errors: "frame_size" (empty, not a whole number of 8-byte words, or above maxBytes),
// "frame_malformed" (segment table inconsistent with the size).
util::Result<std::unique_ptr<DecodedFrame>> decodeFrame(util::ByteSpan bytes,
                                                        std::size_t maxBytes = kMaxFrameBytes);

// Runs `body` (which returns util::Status) and turns a kj::Exception thrown by a Cap'n Proto
// accessor into Error{"frame_malformed", description}.
template <class Body>
util::Status guardDecode(Body&& body) {
  try {
    return std::forward<Body>(body)();
  } catch (const kj::Exception& e) {
    return util::makeError("frame_malformed", std::string(e.getDescription().cStr()));
  }
}

}  // namespace pocket::net
