// POKTHTTPRequest/POKTHTTPResponse codec and backend target reconstruction.

#include "common/protocol/http_payload.h"

#include <string>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <doctest.h>

#include "sdk/types/http.pb.h"

namespace {

using pocket::protocol::buildBackendTarget;
using pocket::protocol::PoktHttpRequest;
using pocket::protocol::PoktHttpResponse;

std::string str(const pocket::util::Bytes& b) {
  return std::string(b.begin(), b.end());
}

template <class Proto>
std::string deterministic(const Proto& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    REQUIRE(message.SerializeToCodedStream(&coded));
  }
  return out;
}

std::string target(std::string_view backend, std::string_view request) {
  auto built = buildBackendTarget(backend, request);
  REQUIRE_MESSAGE(built.ok(), (built.ok() ? "" : built.error().message));
  return built->target;
}

}  // namespace

TEST_CASE("POKTHTTPRequest serializes like protobuf's deterministic serializer and parses back") {
  PoktHttpRequest request;
  request.method = "POST";
  request.url = "https://relay.example.com/v1?x=1";
  request.body = {'{', '}'};
  request.header["Content-Type"] = {"application/json"};
  request.header["X-Multi"] = {"a", "", "b"};
  request.header["Accept"] = {};
  request.header[""] = {"empty key"};

  sdk::types::POKTHTTPRequest proto;
  proto.set_method(request.method);
  proto.set_url(request.url);
  proto.set_body_bz(str(request.body));
  for (const auto& [key, values] : request.header) {
    auto& header = (*proto.mutable_header())[key];
    header.set_key(key);
    for (const auto& v : values) header.add_values(v);
  }
  CHECK(str(pocket::protocol::marshal(request)) == deterministic(proto));

  auto parsed = pocket::protocol::parsePoktHttpRequest(pocket::protocol::marshal(request));
  REQUIRE(parsed.ok());
  CHECK(*parsed == request);
}

TEST_CASE("POKTHTTPResponse serializes like protobuf's deterministic serializer and parses back") {
  PoktHttpResponse response;
  response.statusCode = 404;
  response.header["Content-Type"] = {"text/plain"};
  response.header["Set-Cookie"] = {"a=1", "b=2"};
  response.body = {'n', 'o'};

  sdk::types::POKTHTTPResponse proto;
  proto.set_status_code(404);
  proto.set_body_bz("no");
  for (const auto& [key, values] : response.header) {
    auto& header = (*proto.mutable_header())[key];
    header.set_key(key);
    for (const auto& v : values) header.add_values(v);
  }
  CHECK(str(pocket::protocol::marshal(response)) == deterministic(proto));

  auto parsed = pocket::protocol::parsePoktHttpResponse(pocket::protocol::marshal(response));
  REQUIRE(parsed.ok());
  CHECK(*parsed == response);

  CHECK(pocket::protocol::marshal(PoktHttpResponse{}).empty());
}

TEST_CASE(
    "POKTHTTP parsing: values filed under the map key, last duplicate wins, bad input rejected") {
  // header entry {key "k", value Header{key "other", values "1"}}, then {key "k", value {values
  // "2"}}
  std::string bytes(
      "\x12\x0f\x0a\x01k\x12\x0a\x0a\x05other\x12\x01\x31"
      "\x12\x08\x0a\x01k\x12\x03\x12\x01\x32",
      27);
  auto parsed = pocket::protocol::parsePoktHttpRequest(pocket::util::asBytes(bytes));
  REQUIRE(parsed.ok());
  REQUIRE(parsed->header.size() == 1);
  CHECK(parsed->header.at("k") == std::vector<std::string>{"2"});

  auto bad =
      pocket::protocol::parsePoktHttpResponse(pocket::util::asBytes(std::string("\x0a\x01x", 3)));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == "malformed_proto");
  auto truncated =
      pocket::protocol::parsePoktHttpRequest(pocket::util::asBytes(std::string("\x12\x05\x0a", 3)));
  REQUIRE_FALSE(truncated.ok());
  CHECK(truncated.error().message.find("POKTHTTPRequest") != std::string::npos);
}

TEST_CASE(
    "backend target: Go path.Join of the paths, request query plus backend query, keys sorted") {
  auto built =
      buildBackendTarget("http://host:8080/api/v1?key=abc", "https://relay.example/users?page=1");
  REQUIRE(built.ok());
  CHECK(built->scheme == "http");
  CHECK(built->host == "host:8080");
  CHECK(built->target == "/api/v1/users?key=abc&page=1");
  CHECK(built->url() == "http://host:8080/api/v1/users?key=abc&page=1");

  CHECK(target("http://localhost:8545", "https://gw.example.com") == "/");
  CHECK(target("http://localhost:8545", "") == "/");
  CHECK(target("http://b:1/", "http://x//") == "/");
  CHECK(target("http://b", "//") == "/");
  CHECK(target("http://b/base/", "http://x/a/../b/./c/") == "/base/b/c");
  CHECK(target("http://b/base", "http://x/../../etc") == "/etc");
  CHECK(target("HTTPS://b", "/rest/cosmos/bank") == "/rest/cosmos/bank");
  CHECK(buildBackendTarget("HTTPS://b", "/x")->scheme == "https");

  // Query: parsed, merged, re-encoded with url.Values.Encode.
  CHECK(target("http://b", "http://x/p?b=2&a=1&a=0&c=x+y&d=%2F") == "/p?a=1&a=0&b=2&c=x+y&d=%2F");
  CHECK(target("http://b?a=9", "http://x/p?a=1") == "/p?a=1&a=9");
  CHECK(target("http://b", "http://x/p?a=1;b=2&c=3&bad=%zz&&=v") == "/p?=v&c=3");
  CHECK(target("http://b", "http://x/p?q=a%20b&r=%C3%A9!") == "/p?q=a+b&r=%C3%A9%21");
  CHECK(target("http://b", "http://x/p?") == "/p?");
  CHECK(target("http://b", "http://x/p#frag") == "/p");

  // Path escaping: the request's own escaping survives when the path is unchanged.
  CHECK(target("http://b", "http://x/a%20b") == "/a%20b");
  CHECK(target("http://b", "http://x/a%2Fb") == "/a%2Fb");
  CHECK(target("http://b/v1", "http://x/a%2Fb") == "/v1/a/b");
  CHECK(target("http://b", "http://x/caf\xc3\xa9") == "/caf%C3%A9");
}

TEST_CASE("backend target: malformed URLs are rejected with a reason") {
  struct Case {
    const char* backend;
    const char* request;
  };
  const Case cases[] = {
      {"http://b", "http://x/%zz"}, {"http://b", "http://x/a\nb"}, {"http://b", "http:opaque"},
      {"http://b", ":nothing"},     {"/no-host", "http://x/"},     {"http://b", "a:b/c"},
      {"http://b/%4", "http://x/"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.backend);
    CAPTURE(c.request);
    auto built = buildBackendTarget(c.backend, c.request);
    REQUIRE_FALSE(built.ok());
    CHECK(built.error().code == "bad_url");
    CHECK_FALSE(built.error().message.empty());
  }
}
