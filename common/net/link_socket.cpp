#include "common/net/link_socket.h"

#include <stdexcept>

namespace pocket::net {

void configureCurveServer(zmq::socket_t& socket, const CurveKeyPair& serverKeys) {
  socket.set(zmq::sockopt::zap_domain, std::string(kLinkZapDomain));
  socket.set(zmq::sockopt::curve_server, true);
  socket.set(zmq::sockopt::curve_secretkey, serverKeys.secretKey);
}

void configureCurveClient(zmq::socket_t& socket, const CurveKeyPair& clientKeys,
                          std::string_view serverPublicKey) {
  if (!isValidZ85Key(serverPublicKey)) {
    throw std::invalid_argument("server public key is not 40 z85 characters");
  }
  socket.set(zmq::sockopt::curve_serverkey, std::string(serverPublicKey));
  socket.set(zmq::sockopt::curve_publickey, clientKeys.publicKey);
  socket.set(zmq::sockopt::curve_secretkey, clientKeys.secretKey);
}

namespace {

// A dotted quad whose first octet is 127 (each octet 0-255, decimal, no leading garbage).
bool isLoopbackIpv4(std::string_view host) {
  int octets = 0;
  int first = -1;
  std::size_t i = 0;
  while (i <= host.size()) {
    std::size_t end = host.find('.', i);
    if (end == std::string_view::npos) end = host.size();
    std::string_view part = host.substr(i, end - i);
    if (part.empty() || part.size() > 3) return false;
    int value = 0;
    for (char c : part) {
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    if (value > 255) return false;
    if (octets == 0) first = value;
    ++octets;
    i = end + 1;
  }
  return octets == 4 && first == 127;
}

}  // namespace

bool isLoopbackEndpoint(std::string_view endpoint) {
  if (endpoint.starts_with("ipc://") || endpoint.starts_with("inproc://")) return true;
  if (!endpoint.starts_with("tcp://")) return false;
  std::string_view address = endpoint.substr(6);
  // host:port, the port being digits or '*'; ZeroMQ's "source;destination" form never matches.
  std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view port = address.substr(colon + 1);
  if (port.empty() || (port != "*" && port.find_first_not_of("0123456789") != std::string_view::npos)) {
    return false;
  }
  std::string_view host = address.substr(0, colon);
  return host == "localhost" || host == "[::1]" || isLoopbackIpv4(host);
}

void requireLoopbackForPlaintext(std::string_view endpoint) {
  if (!isLoopbackEndpoint(endpoint)) {
    throw std::invalid_argument(
        "plain text (no CURVE) is only allowed on a loopback endpoint, not " +
        std::string(endpoint));
  }
}

std::string peerUserId(const zmq::message_t& message) {
  const char* id = zmq_msg_gets(const_cast<zmq_msg_t*>(message.handle()), "User-Id");
  return id == nullptr ? std::string() : std::string(id);
}

}  // namespace pocket::net
