#include "common/net/zap.h"

#include <array>
#include <stdexcept>

#include "common/net/curve_keys.h"
#include "common/util/thread_name.h"

namespace pocket::net {

ZapAuthenticator::ZapAuthenticator(zmq::context_t& context,
                                   const std::vector<std::string>& allowedPublicKeys,
                                   util::LogSink& log)
    : log_(log), socket_(context, zmq::socket_type::rep) {
  for (const auto& key : allowedPublicKeys) {
    if (!isValidZ85Key(key))
      throw std::invalid_argument("allow-list entry is not a z85 public key");
    allowed_.insert(key);
  }
  socket_.set(zmq::sockopt::linger, 0);
  socket_.bind("inproc://zeromq.zap.01");
  thread_ = std::thread([this] { run(); });
}

ZapAuthenticator::~ZapAuthenticator() {
  stop_.store(true);
  thread_.join();
}

void ZapAuthenticator::run() {
  util::nameThisThread("zap");
  while (!stop_.load()) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    try {
      zmq::poll(&item, 1, std::chrono::milliseconds(100));
      if ((item.revents & ZMQ_POLLIN) != 0) handle(socket_);
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) break;
      util::LogLine(log_, util::LogLevel::error, "zap_error").kv("reason", e.what());
    }
  }
  socket_.close();
}

// Request frames: version, request id, domain, address, identity, mechanism, credentials...
// Reply frames: version, request id, status code, status text, user id, metadata.
void ZapAuthenticator::handle(zmq::socket_t& socket) {
  std::vector<zmq::message_t> frames;
  while (true) {
    zmq::message_t frame;
    if (!socket.recv(frame, zmq::recv_flags::none)) return;
    bool more = frame.more();
    frames.push_back(std::move(frame));
    if (!more) break;
  }
  std::string version = frames.size() > 0 ? frames[0].to_string() : "";
  std::string requestId = frames.size() > 1 ? frames[1].to_string() : "";
  std::string address = frames.size() > 3 ? frames[3].to_string() : "";
  std::string mechanism = frames.size() > 5 ? frames[5].to_string() : "";

  std::string status = "400";
  std::string text = "not allowed";
  std::string userId;
  std::string fingerprint;
  if (version != "1.0") {
    text = "unsupported ZAP version";
  } else if (mechanism != "CURVE") {
    text = "only CURVE is accepted";
  } else if (frames.size() < 7 || frames[6].size() != 32) {
    text = "malformed CURVE credentials";
  } else {
    std::array<char, 41> z85{};
    zmq_z85_encode(z85.data(), frames[6].data<std::uint8_t>(), 32);
    std::string key(z85.data(), 40);
    fingerprint = keyFingerprint(key);
    if (allowed_.count(key) != 0) {
      status = "200";
      text = "OK";
      userId = key;
    } else {
      text = "public key not in the allow-list";
    }
  }
  if (status == "200") {
    util::LogLine(log_, util::LogLevel::info, "link_peer_accepted")
        .kv("peer_address", address)
        .kv("key", fingerprint);
  } else {
    util::LogLine(log_, util::LogLevel::warn, "link_peer_refused")
        .kv("peer_address", address)
        .kv("mechanism", mechanism)
        .kv("key", fingerprint)
        .kv("reason", text);
  }
  // Counted after the log line, so that a reader who sees the count also finds the line.
  (status == "200" ? accepted_ : refused_).fetch_add(1, std::memory_order_relaxed);
  socket.send(zmq::str_buffer("1.0"), zmq::send_flags::sndmore);
  socket.send(zmq::buffer(requestId), zmq::send_flags::sndmore);
  socket.send(zmq::buffer(status), zmq::send_flags::sndmore);
  socket.send(zmq::buffer(text), zmq::send_flags::sndmore);
  socket.send(zmq::buffer(userId), zmq::send_flags::sndmore);
  socket.send(zmq::message_t(), zmq::send_flags::none);
}

}  // namespace pocket::net
