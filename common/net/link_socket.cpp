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

bool isLoopbackEndpoint(std::string_view endpoint) {
  if (endpoint.starts_with("ipc://") || endpoint.starts_with("inproc://")) return true;
  if (!endpoint.starts_with("tcp://")) return false;
  std::string_view rest = endpoint.substr(6);
  if (rest.starts_with("[::1]:") || rest.starts_with("localhost:")) return true;
  if (!rest.starts_with("127.")) return false;
  std::string_view host = rest.substr(0, rest.find(':'));
  for (char c : host) {
    if (c != '.' && (c < '0' || c > '9')) return false;
  }
  return true;
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
