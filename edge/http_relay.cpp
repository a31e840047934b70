#include "edge/http_relay.h"

#include <strings.h>

#include <algorithm>
#include <map>

#include "common/protocol/http_payload.h"
#include "common/util/base64.h"

namespace pocket::edge {

namespace {

bool isHopByHop(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "host",    "content-length", "connection", "transfer-encoding", "keep-alive",
      "upgrade", "expect",         "te",         "proxy-connection",  "trailer"};
  for (auto n : kNames) {
    if (name.size() == n.size() && strncasecmp(name.data(), n.data(), n.size()) == 0) return true;
  }
  return false;
}

void setHeader(std::vector<std::pair<std::string, std::string>>& headers, const std::string& name,
               const std::string& value) {
  std::erase_if(headers, [&](const auto& h) {
    return h.first.size() == name.size() && strcasecmp(h.first.c_str(), name.c_str()) == 0;
  });
  headers.emplace_back(name, value);
}

}  // namespace

std::string canonicalHeaderKey(std::string_view key) {
  for (char c : key) {
    bool token = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '!' || c == '#' ||
                 c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' || c == '+' || c == '.' ||
                 c == '^' || c == '_' || c == '`' || c == '|' || c == '~';
    if (!token) return std::string(key);  // Go leaves invalid keys as they are
  }
  std::string out(key);
  bool upper = true;
  for (char& c : out) {
    if (upper && c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    } else if (!upper && c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
    upper = c == '-';
  }
  return out;
}

util::Result<EmbeddedHttpRequest> parseEmbeddedHttpRequest(util::ByteSpan payload) {
  auto parsed = protocol::parsePoktHttpRequest(payload);
  if (!parsed) {
    return util::makeError("malformed_payload",
                           "the relay payload is not a POKTHTTPRequest: " + parsed.error().message);
  }
  EmbeddedHttpRequest request;
  request.method = std::move(parsed->method);
  request.url = std::move(parsed->url);
  request.body.assign(parsed->body.begin(), parsed->body.end());
  for (auto& [key, values] : parsed->header) {  // std::map: sorted by key
    for (auto& value : values) request.headers.emplace_back(key, std::move(value));
  }
  return request;
}

util::Result<std::string> rebuildBackendUrl(std::string_view backendUrl, std::string_view requestUrl) {
  auto target = protocol::buildBackendTarget(backendUrl, requestUrl);
  if (!target) return target.error();
  return target->url();
}

util::Result<BackendRequest> buildBackendRequest(const EmbeddedHttpRequest& request,
                                                 const BackendConfig& backend,
                                                 const PocketHeaders& pocket) {
  auto url = rebuildBackendUrl(backend.url, request.url);
  if (!url) return url.error();
  BackendRequest out;
  out.url = std::move(*url);
  out.method = request.method.empty() ? "GET" : request.method;
  for (char c : out.method) {
    if (c <= ' ' || c >= 127) return util::makeError("bad_method", "the relayed HTTP method is not a token");
  }
  if (backend.forwardPocketHeaders) {
    out.headers.emplace_back("Pocket-Supplier", pocket.supplier);
    out.headers.emplace_back("Pocket-Service", pocket.service);
    out.headers.emplace_back("Pocket-Session-Id", pocket.sessionId);
    out.headers.emplace_back("Pocket-Application", pocket.application);
    out.headers.emplace_back("Pocket-Session-Start-Height", std::to_string(pocket.sessionStart));
    out.headers.emplace_back("Pocket-Session-End-Height", std::to_string(pocket.sessionEnd));
  }
  for (const auto& [name, value] : request.headers) {
    if (name.empty() || isHopByHop(name)) continue;
    if (name.find_first_of(" :\r\n") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      continue;  // would break the request line structure; Go's client refuses such headers too
    }
    out.headers.emplace_back(name, value);
  }
  if (backend.basicAuth) {
    setHeader(out.headers, "Authorization",
              "Basic " + util::toBase64(util::asBytes(backend.basicAuth->first + ":" + backend.basicAuth->second)));
  }
  for (const auto& [name, value] : backend.headers) setHeader(out.headers, name, value);
  out.body = request.body;
  out.timeouts = backend.timeouts;
  out.maxResponseBytes = backend.maxResponseBytes;
  out.useCurl = backend.useCurl;
  return out;
}

util::Bytes serializeHttpResponse(int status,
                                  const std::vector<std::pair<std::string, std::string>>& headers,
                                  std::string_view body) {
  protocol::PoktHttpResponse response;
  response.statusCode = static_cast<std::uint32_t>(status);
  for (const auto& [name, value] : headers) response.header[canonicalHeaderKey(name)].push_back(value);
  response.body.assign(body.begin(), body.end());
  return protocol::marshal(response);
}

}  // namespace pocket::edge
