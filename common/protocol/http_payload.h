#pragma once
// The HTTP request and response carried inside relay payloads (shannon-sdk
// sdk.types.POKTHTTPRequest and POKTHTTPResponse, docs/protocol.md §1), and the backend request
// target a supplier derives from a POKTHTTPRequest (docs/architecture.md §2).
//
// marshal() is deterministic like Go's proto.MarshalOptions{Deterministic: true}: fields in number
// order, header map entries sorted by key (bytewise), every map entry written with its key and its
// Header value {key = the map key, values}. These bytes are opaque to the chain: only the peer that
// hashes them (payload_hash) has to agree, so self-consistency is what matters.
// Parsing follows the same acceptance rules as common/protocol/relay.h (unknown fields dropped,
// errors with code "malformed_proto"); a header entry's values are taken from its Header message
// and filed under the map key, duplicate keys keep the last entry. Strings are not checked for
// UTF-8.
//
// Pure functions over copyable value types; thread-safe.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/util/bytes.h"
#include "common/util/result.h"

namespace pocket::protocol {

// Header name → all of its values, in order.
using HttpHeaders = std::map<std::string, std::vector<std::string>>;

// sdk.types.POKTHTTPRequest
struct PoktHttpRequest {
  std::string method;  // 1, empty means GET
  HttpHeaders header;  // 2
  std::string url;     // 3, the URL the gateway was asked for; suppliers use its path and query
  util::Bytes body;    // 4

  bool operator==(const PoktHttpRequest&) const = default;
};

// sdk.types.POKTHTTPResponse
struct PoktHttpResponse {
  std::uint32_t statusCode = 0;  // 1
  HttpHeaders header;            // 2
  util::Bytes body;              // 3

  bool operator==(const PoktHttpResponse&) const = default;
};

util::Bytes marshal(const PoktHttpRequest& request);
util::Bytes marshal(const PoktHttpResponse& response);
util::Result<PoktHttpRequest> parsePoktHttpRequest(util::ByteSpan bytes);
util::Result<PoktHttpResponse> parsePoktHttpResponse(util::ByteSpan bytes);

// Where a relay goes on the supplier's backend.
struct BackendTarget {
  std::string scheme;  // of the backend URL ("http", "https", "ws", ...), lowercase
  std::string host;    // host[:port] of the backend URL; also the Host header
  std::string target;  // HTTP request-target: escaped path, then "?query" when there is one

  std::string url() const { return scheme + "://" + host + target; }
  bool operator==(const BackendTarget&) const = default;
};

// Rebuilds the backend request target the way poktroll's BuildServiceBackendRequest does with Go's
// net/url: scheme and host come from `backendUrl`; path = path.Join(backend path, request path)
// (cleans "." and "..", collapses "//", drops a trailing "/"); query = the request's query
// parameters plus the backend URL's, re-encoded with keys sorted (url.Values.Encode); a request
// URL's fragment and user info are not used. Errors (code "bad_url"): a control character, a bad
// percent-escape in a path, a missing or empty backend scheme/host, an opaque request URL
// ("scheme:no-slash").
util::Result<BackendTarget> buildBackendTarget(std::string_view backendUrl,
                                               std::string_view requestUrl);

}  // namespace pocket::protocol
