#pragma once
// The HTTP request and response a relay carries (shannon-sdk POKTHTTPRequest / POKTHTTPResponse)
// and how the edge maps them onto a backend call (docs/architecture.md §2, step 4).
//
// Pure functions, thread-safe. Bad input (a payload that is not a POKTHTTPRequest, a URL that does
// not parse) is a util::Error, never an exception.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/util/bytes.h"
#include "common/util/result.h"
#include "edge/backend_client.h"
#include "edge/config.h"

namespace pocket::edge {

struct EmbeddedHttpRequest {
  std::string method;  // empty means GET
  std::string url;     // as the gateway saw it: public URL plus path and query
  std::vector<std::pair<std::string, std::string>> headers;  // every value of every key
  std::string body;
};

// Errors: "malformed_payload".
util::Result<EmbeddedHttpRequest> parseEmbeddedHttpRequest(util::ByteSpan payload);

// The backend URL for a request URL: the backend's scheme, host and port; path = Go
// path.Join(backend path, request path); query = request query plus the backend URL's query,
// encoded as Go url.Values.Encode (keys sorted). The request's host is never used.
// Errors: "bad_url".
util::Result<std::string> rebuildBackendUrl(std::string_view backendUrl, std::string_view requestUrl);

// What the edge tells the backend about the relay when forward_pocket_headers is on.
struct PocketHeaders {
  std::string supplier;
  std::string service;
  std::string sessionId;
  std::string application;
  std::int64_t sessionStart = 0;
  std::int64_t sessionEnd = 0;
};

// The backend call for an embedded request: URL as above, the request's method, headers (minus
// hop-by-hop ones) and body, then Basic auth and the configured headers on top.
util::Result<BackendRequest> buildBackendRequest(const EmbeddedHttpRequest& request,
                                                 const BackendConfig& backend,
                                                 const PocketHeaders& pocket);

// Serialized POKTHTTPResponse{status_code, header (canonical names, every value), body_bz},
// deterministic (map entries sorted by key) as Go's proto.MarshalOptions{Deterministic: true}.
util::Bytes serializeHttpResponse(int status,
                                  const std::vector<std::pair<std::string, std::string>>& headers,
                                  std::string_view body);

// Go's textproto.CanonicalMIMEHeaderKey ("content-type" -> "Content-Type").
std::string canonicalHeaderKey(std::string_view key);

}  // namespace pocket::edge
