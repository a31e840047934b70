#pragma once
// Socket set-up shared by both ends of the edge <-> session-manager link (docs/link.md): CURVE roles,
// the plain-text guard, and the identity of a CURVE peer.
//
// Free functions over a caller-owned zmq::socket_t; call them before connect/bind, from the thread
// that owns the socket. Throw zmq::error_t or std::invalid_argument on misuse (logistics).

#include <string>
#include <string_view>

#include <zmq.hpp>

#include "common/net/curve_keys.h"

namespace pocket::net {

// The ZAP domain the session manager's ROUTER declares, so that the ZapAuthenticator is consulted.
inline constexpr std::string_view kLinkZapDomain = "pocket-link";

// Server side: the socket authenticates clients with CURVE against `serverKeys`; with a
// ZapAuthenticator on the same context only allow-listed client keys get through.
void configureCurveServer(zmq::socket_t& socket, const CurveKeyPair& serverKeys);

// Client side: the socket encrypts with `clientKeys` and only talks to a server holding the secret
// key of `serverPublicKey`.
void configureCurveClient(zmq::socket_t& socket, const CurveKeyPair& clientKeys,
                          std::string_view serverPublicKey);

// True for endpoints that never leave the machine: tcp on 127.0.0.0/8, [::1] or localhost, ipc://,
// inproc://. Plain text (no CURVE) is allowed only on these.
bool isLoopbackEndpoint(std::string_view endpoint);

// Throws std::invalid_argument naming the endpoint unless it is loopback: called wherever a
// configuration asks for plain text.
void requireLoopbackForPlaintext(std::string_view endpoint);

// The ZAP user id of the connection a message came from (the peer's z85 public key under CURVE
// with a ZapAuthenticator); empty when there is none.
std::string peerUserId(const zmq::message_t& message);

}  // namespace pocket::net
