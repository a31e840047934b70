#include "edge/http_relay.h"
#include "edge/native_backend.h"

#include <doctest.h>

#include "sdk/types/http.pb.h"

using pocket::edge::rebuildBackendUrl;

namespace {
std::string rebuilt(std::string_view backend, std::string_view request) {
  auto url = rebuildBackendUrl(backend, request);
  REQUIRE(url.ok());
  return *url;
}
}  // namespace

TEST_CASE("the backend URL takes scheme and host from the backend, path and query from the request") {
  CHECK(rebuilt("http://10.0.0.1:8545", "https://gateway.example/v1/eth?x=1") ==
        "http://10.0.0.1:8545/v1/eth?x=1");
  // Go path.Join: cleans . and .., collapses //, drops the trailing slash.
  CHECK(rebuilt("http://b:1/base/", "https://g/a/./b/../c/") == "http://b:1/base/a/c");
  CHECK(rebuilt("http://b:1", "//") == "http://b:1/");  // an empty path is requested as "/"
  CHECK(rebuilt("http://b:1", "///x//y") == "http://b:1/x/y");
  CHECK(rebuilt("http://b:1/rpc", "") == "http://b:1/rpc");
  CHECK(rebuilt("http://b:1", "https://g") == "http://b:1/");
  CHECK(rebuilt("http://b:1/x", "/../../etc/passwd") == "http://b:1/etc/passwd");
  // Query: request parameters plus the backend's, keys sorted, re-encoded (url.Values.Encode).
  CHECK(rebuilt("http://b:1/?key=secret", "https://g/p?z=2&a=1&a=0") ==
        "http://b:1/p?a=1&a=0&key=secret&z=2");
  CHECK(rebuilt("http://b:1", "/p?q=a+b&r=%2F%20") == "http://b:1/p?q=a+b&r=%2F+");
  // Escapes in the path are decoded and re-encoded.
  CHECK(rebuilt("http://b:1", "/a%20b/c") == "http://b:1/a%20b/c");
}

TEST_CASE("URLs that do not parse are refused") {
  CHECK(rebuildBackendUrl("http://b:1", "/a%zz").error().code == "bad_url");
  CHECK(rebuildBackendUrl("not a url", "/").error().code == "bad_url");
}

TEST_CASE("header keys are canonicalized like Go's textproto") {
  CHECK(pocket::edge::canonicalHeaderKey("content-type") == "Content-Type");
  CHECK(pocket::edge::canonicalHeaderKey("X-API-KEY") == "X-Api-Key");
  CHECK(pocket::edge::canonicalHeaderKey("bad header") == "bad header");
}

TEST_CASE("the backend request carries method, headers, auth and configured headers") {
  pocket::edge::EmbeddedHttpRequest request;
  request.method = "POST";
  request.url = "https://gateway/rpc";
  request.headers = {{"Content-Type", "application/json"}, {"Host", "gateway"},
                     {"Authorization", "Bearer user"}, {"X-Trace", "1"}};
  request.body = "{}";
  pocket::edge::BackendConfig backend;
  backend.url = "http://127.0.0.1:9/base";
  backend.basicAuth = std::make_pair(std::string("user"), std::string("pass"));
  backend.headers = {{"X-Trace", "configured"}};
  backend.forwardPocketHeaders = true;
  pocket::edge::PocketHeaders pocket{"pokt1sup", "eth", "sid", "pokt1app", 11, 20};
  auto built = pocket::edge::buildBackendRequest(request, backend, pocket);
  REQUIRE(built.ok());
  CHECK(built->url == "http://127.0.0.1:9/base/rpc");
  CHECK(built->method == "POST");
  CHECK(built->body == "{}");
  auto value = [&](const std::string& name) {
    std::string found;
    int count = 0;
    for (const auto& [n, v] : built->headers) {
      if (n == name) {
        found = v;
        ++count;
      }
    }
    CHECK(count <= 1);
    return found;
  };
  CHECK(value("Host").empty());
  CHECK(value("Authorization") == "Basic dXNlcjpwYXNz");
  CHECK(value("X-Trace") == "configured");
  CHECK(value("Content-Type") == "application/json");
  CHECK(value("Pocket-Session-End-Height") == "20");
  request.method = "";
  CHECK(pocket::edge::buildBackendRequest(request, backend, pocket)->method == "GET");
}

TEST_CASE("the POKTHTTPResponse is deterministic and carries every header value") {
  auto a = pocket::edge::serializeHttpResponse(
      200, {{"x-b", "2"}, {"content-type", "application/json"}, {"X-B", "3"}}, "{\"ok\":1}");
  auto b = pocket::edge::serializeHttpResponse(
      200, {{"content-type", "application/json"}, {"x-b", "2"}, {"X-B", "3"}}, "{\"ok\":1}");
  CHECK(a == b);
  sdk::types::POKTHTTPResponse parsed;
  REQUIRE(parsed.ParseFromArray(a.data(), static_cast<int>(a.size())));
  CHECK(parsed.status_code() == 200);
  CHECK(parsed.body_bz() == "{\"ok\":1}");
  REQUIRE(parsed.header().count("X-B") == 1);
  CHECK(parsed.header().at("X-B").key() == "X-B");
  REQUIRE(parsed.header().at("X-B").values_size() == 2);
  CHECK(parsed.header().at("X-B").values(0) == "2");
  CHECK(parsed.header().at("X-B").values(1) == "3");
  // Map entries are written in key order: "Content-Type" before "X-B".
  std::string bytes(a.begin(), a.end());
  CHECK(bytes.find("Content-Type") < bytes.find("X-B"));
}

TEST_CASE("a payload that is not a POKTHTTPRequest is refused") {
  pocket::util::Bytes garbage = {0xff, 0xff, 0xff};
  CHECK(pocket::edge::parseEmbeddedHttpRequest(garbage).error().code == "malformed_payload");
  sdk::types::POKTHTTPRequest message;
  message.set_method("POST");
  message.set_url("https://g/x");
  (*message.mutable_header())["Content-Type"].add_values("application/json");
  message.set_body_bz("{}");
  std::string bytes = message.SerializeAsString();
  auto parsed = pocket::edge::parseEmbeddedHttpRequest(pocket::util::asBytes(bytes));
  REQUIRE(parsed.ok());
  CHECK(parsed->method == "POST");
  CHECK(parsed->headers.size() == 1);
  CHECK(parsed->body == "{}");
}

TEST_CASE("plain http URLs split into connect target, Host and request target") {
  using pocket::edge::parsePlainHttpUrl;
  auto u = parsePlainHttpUrl("http://127.0.0.1:8545/base/x?a=1&b=2");
  REQUIRE(u.has_value());
  CHECK(u->host == "127.0.0.1");
  CHECK(u->port == 8545);
  CHECK(u->authority == "127.0.0.1:8545");
  CHECK(u->target == "/base/x?a=1&b=2");
  u = parsePlainHttpUrl("HTTP://node.internal");
  REQUIRE(u.has_value());
  CHECK(u->host == "node.internal");
  CHECK(u->port == 80);
  CHECK(u->target == "/");
  u = parsePlainHttpUrl("http://[::1]:9000?q=1#frag");
  REQUIRE(u.has_value());
  CHECK(u->host == "::1");
  CHECK(u->port == 9000);
  CHECK(u->authority == "[::1]:9000");
  CHECK(u->target == "/?q=1");
  // Not for the native client: TLS, user info, no host, bad ports.
  CHECK_FALSE(parsePlainHttpUrl("https://127.0.0.1/").has_value());
  CHECK_FALSE(parsePlainHttpUrl("http://user:pw@127.0.0.1/").has_value());
  CHECK_FALSE(parsePlainHttpUrl("http:///x").has_value());
  CHECK_FALSE(parsePlainHttpUrl("http://h:0/").has_value());
  CHECK_FALSE(parsePlainHttpUrl("http://h:65536/").has_value());
  CHECK_FALSE(parsePlainHttpUrl("http://h:8a/").has_value());
  CHECK_FALSE(parsePlainHttpUrl("http://[::1/").has_value());
}
