// relay-gateway: a PATH-style client and load driver for RelayMiner edges. kUsage below is its
// manual (`relay-gateway --help`).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include "common/crypto/keys.h"
#include "common/protocol/http_payload.h"
#include "common/protocol/relay.h"
#include "common/util/bytes.h"
#include "test/gateway/load.h"
#include "test/gateway/relay_builder.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace crypto = pocket::crypto;
namespace protocol = pocket::protocol;
namespace util = pocket::util;
using pocket::gateway::LoadOptions;
using pocket::gateway::LoadReport;

constexpr const char* kUsage = R"(usage: relay-gateway send|load|raw-load URL [options]   (relay-gateway --help)

relay-gateway: a PATH-style client and load driver for RelayMiner edges (plain http:// only).

  relay-gateway send URL [relay options] [request options]
      builds one RelayRequest as PATH does (ring-signed by the gateway, or by the application),
      POSTs it to URL, checks the answer as PATH does (RelayResponse, session header,
      payload_hash, supplier signature) and prints what came back: HTTP status, relay outcome,
      the signature check, the backend's status, headers and body.
      Exit 0 only for a 200 whose signature verifies.
  relay-gateway load URL [relay options] [request options] [load options] [--pool N]
      [--verify-every K]
      signs N distinct relays (the JSON-RPC id of the body is 1..N) before the clock starts, then
      drives keep-alive connections cycling through them. The supplier signature is verified on
      the first answer of each connection and then on every K-th (default 100).
  relay-gateway raw-load URL [request options] [load options]
      sends one plain HTTP request (to the URL's path) over and over: measures a server alone
      (nginx, an edge's HTTP layer) and checks that the driver is not the limit.

relay options:
  --app-key FILE | --app-pubkey HEX   the application (its key signs when there is no gateway)
  --gateway-key FILE                  the signing gateway (PATH signs as a delegated gateway)
  --delegate-pubkey HEX               a further gateway the application delegates to (repeatable)
  --service ID --session-id ID --session-start H --session-end H   the session header
  --supplier-key FILE | --supplier-pubkey HEX   the supplier's key, to verify its signature
  --supplier ADDRESS                  the supplier operator address (default: the supplier
                                      key's)
  --rpc-type N                        the Rpc-Type header (3 = JSON-RPC; 0 = none)
  Key files hold 64 hex digits and must not be accessible by group or others (chmod 600).
request options (the end user's request; for send/load it is embedded in the relay):
  --method M (POST) --path /p?q (/) --header "Name: value" (repeatable)
  --body TEXT | --body-file FILE      (send/load default: an eth_blockNumber JSON-RPC call)
load options:
  --connections N (64) --threads T (2) --seconds S (10)
  --rate R   open loop: R requests/s in total on a fixed schedule, latency from each request's
             scheduled time (0 = closed loop, the default)
load and raw-load print name=value lines: rps, offered_rps, p50_ms, p90_ms, p99_ms, p999_ms,
max_ms, non2xx, errors, (load:) sig_checked, sig_failures, and non2xx_status_<code>,
non2xx_outcome_<X-Relay-Outcome> per kind of failure.
Exit status: 0 success, 1 failed check (or nothing answered), 2 usage or configuration error.
)";

// A usage or configuration error: exit status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void usage(const std::string& why) {
  throw UsageError(why + " (relay-gateway --help shows the usage)");
}

// The end user's request.
struct UserRequest {
  std::string method = "POST";
  std::string path = "/";
  protocol::HttpHeaders headers;
  std::optional<std::string> body;
};

struct RelayArgs {
  std::string appKeyFile, appPubkey, gatewayKeyFile;
  std::vector<std::string> delegatePubkeys;
  std::string service, sessionId, supplier, supplierPubkey, supplierKeyFile;
  std::optional<std::int64_t> sessionStart, sessionEnd;
  int rpcType = 3;
};

struct Args {
  std::string command;
  std::string target;  // URL
  UserRequest user;
  RelayArgs relay;
  LoadOptions load;
  std::size_t pool = 10000;
  std::uint64_t verifyEvery = 100;
};

template <class T>
T number(const std::string& flag, const std::string& text) {
  try {
    std::size_t used = 0;
    T value;
    if constexpr (std::is_same_v<T, double>) {
      value = std::stod(text, &used);
    } else {
      long long v = std::stoll(text, &used);
      if (v < 0 && std::is_unsigned_v<T>) throw std::out_of_range("negative");
      value = static_cast<T>(v);
    }
    if (used != text.size()) throw std::invalid_argument("trailing characters");
    return value;
  } catch (const std::exception&) {
    usage(flag + " needs a number, got \"" + text + "\"");
  }
}

Args parseArgs(int argc, char** argv) {
  if (argc < 3) usage("needs a command (send, load, raw-load) and a URL");
  Args args;
  args.command = argv[1];
  args.target = argv[2];
  for (int i = 3; i < argc; ++i) {
    std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(flag + " needs a value");
      return argv[++i];
    };
    auto& r = args.relay;
    if (flag == "--method") {
      args.user.method = value();
    } else if (flag == "--path") {
      args.user.path = value();
      if (!args.user.path.starts_with('/')) usage("--path must start with /");
    } else if (flag == "--header") {
      std::string h = value();
      auto colon = h.find(':');
      if (colon == std::string::npos || colon == 0) usage("--header needs \"Name: value\"");
      std::string v = h.substr(colon + 1);
      v.erase(0, v.find_first_not_of(' '));
      args.user.headers[h.substr(0, colon)].push_back(v);
    } else if (flag == "--body") {
      args.user.body = value();
    } else if (flag == "--body-file") {
      std::string file = value();
      std::ifstream in(file, std::ios::binary);
      if (!in) usage("--body-file " + file + ": cannot be read");
      std::ostringstream s;
      s << in.rdbuf();
      args.user.body = s.str();
    } else if (flag == "--app-key") {
      r.appKeyFile = value();
    } else if (flag == "--app-pubkey") {
      r.appPubkey = value();
    } else if (flag == "--gateway-key") {
      r.gatewayKeyFile = value();
    } else if (flag == "--delegate-pubkey") {
      r.delegatePubkeys.push_back(value());
    } else if (flag == "--service") {
      r.service = value();
    } else if (flag == "--session-id") {
      r.sessionId = value();
    } else if (flag == "--session-start") {
      r.sessionStart = number<std::int64_t>(flag, value());
    } else if (flag == "--session-end") {
      r.sessionEnd = number<std::int64_t>(flag, value());
    } else if (flag == "--supplier") {
      r.supplier = value();
    } else if (flag == "--supplier-pubkey") {
      r.supplierPubkey = value();
    } else if (flag == "--supplier-key") {
      r.supplierKeyFile = value();
    } else if (flag == "--rpc-type") {
      r.rpcType = number<int>(flag, value());
    } else if (flag == "--connections") {
      args.load.connections = number<int>(flag, value());
      if (args.load.connections < 1) usage("--connections must be at least 1");
    } else if (flag == "--threads") {
      args.load.threads = number<int>(flag, value());
      if (args.load.threads < 1) usage("--threads must be at least 1");
    } else if (flag == "--seconds") {
      args.load.seconds = number<double>(flag, value());
      if (!(args.load.seconds > 0)) usage("--seconds must be positive");
    } else if (flag == "--rate") {
      args.load.rate = number<double>(flag, value());
      if (!(args.load.rate >= 0)) usage("--rate must be 0 (closed loop) or positive");
    } else if (flag == "--pool") {
      args.pool = number<std::size_t>(flag, value());
      if (args.pool < 1) usage("--pool must be at least 1");
    } else if (flag == "--verify-every") {
      args.verifyEvery = number<std::uint64_t>(flag, value());
      if (args.verifyEvery < 1) usage("--verify-every must be at least 1");
    } else {
      usage("unknown option " + flag);
    }
  }
  return args;
}

// host, port and path of an "http://host[:port][/path]" URL.
struct HttpUrl {
  std::string host, port, path;
  [[nodiscard]] std::string hostPort() const { return host + ":" + port; }
};

HttpUrl splitUrl(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) usage("only http:// URLs are supported, got " + url);
  std::string rest = url.substr(kScheme.size());
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  HttpUrl out;
  out.path = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = authority.rfind(':');
  out.host = authority.substr(0, colon);
  out.port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  if (out.host.empty()) usage("the URL " + url + " has no host");
  return out;
}

crypto::PrivateKey keyFile(const std::string& flag, const std::string& path) {
  auto key = crypto::loadPrivateKeyFile(path);
  if (!key) usage(flag + ": " + key.error().message);
  return *key;
}

crypto::PublicKey publicKey(const std::string& flag, const std::string& hex) {
  auto key = crypto::PublicKey::fromHex(hex);
  if (!key) {
    usage(flag + " " + hex + ": not a compressed secp256k1 public key (" + key.error().code + ": " +
          key.error().message + ")");
  }
  return *key;
}

// The relay to send, the key that signs it and the key that must have signed the answer.
struct RelaySetup {
  pocket::gateway::RelayTemplate relay;
  std::optional<pocket::gateway::RelaySigner> signer;
  std::optional<crypto::PublicKey> supplierKey;
  HttpUrl url;
  std::string outerTarget;  // path and query of the outer POST
};

RelaySetup relaySetup(const Args& args) {
  const auto& r = args.relay;
  RelaySetup setup;
  setup.url = splitUrl(args.target);

  if (!r.appKeyFile.empty() && !r.appPubkey.empty()) {
    usage("give --app-key or --app-pubkey, not both");
  }
  std::optional<crypto::PrivateKey> appKey;
  std::optional<crypto::PublicKey> appPub;
  if (!r.appKeyFile.empty()) {
    appKey = keyFile("--app-key", r.appKeyFile);
    appPub = appKey->publicKey();
  } else if (!r.appPubkey.empty()) {
    appPub = publicKey("--app-pubkey", r.appPubkey);
  } else {
    usage("the application is needed: --app-key FILE or --app-pubkey HEX");
  }
  std::vector<crypto::PublicKey> gateways;
  std::optional<crypto::PrivateKey> signer;
  if (!r.gatewayKeyFile.empty()) {
    signer = keyFile("--gateway-key", r.gatewayKeyFile);
    gateways.push_back(signer->publicKey());
  } else if (appKey) {
    signer = appKey;
  } else {
    usage("a signing key is needed: --gateway-key FILE (or --app-key FILE to sign as the app)");
  }
  for (const auto& hex : r.delegatePubkeys) {
    auto key = publicKey("--delegate-pubkey", hex);
    if (std::find(gateways.begin(), gateways.end(), key) == gateways.end()) gateways.push_back(key);
  }
  auto relaySigner = pocket::gateway::RelaySigner::create(*signer, *appPub, gateways);
  if (!relaySigner) usage(relaySigner.error().message);
  setup.signer = std::move(*relaySigner);

  if (!r.supplierKeyFile.empty() && !r.supplierPubkey.empty()) {
    usage("give --supplier-key or --supplier-pubkey, not both");
  }
  if (!r.supplierKeyFile.empty()) {
    setup.supplierKey = keyFile("--supplier-key", r.supplierKeyFile).publicKey();
  } else if (!r.supplierPubkey.empty()) {
    setup.supplierKey = publicKey("--supplier-pubkey", r.supplierPubkey);
  } else {
    usage(
        "the supplier's public key is needed to verify its signature: --supplier-pubkey HEX or "
        "--supplier-key FILE");
  }
  std::string supplier = r.supplier.empty() ? setup.supplierKey->address() : r.supplier;
  if (auto ok = crypto::validateAddress(supplier); !ok) {
    usage("--supplier " + supplier + ": not a pokt address (" + ok.error().message + ")");
  }
  if (supplier != setup.supplierKey->address()) {
    std::cerr << "relay-gateway: note: the supplier public key belongs to "
              << setup.supplierKey->address() << ", not to --supplier " << supplier << "\n";
  }

  if (r.service.empty()) usage("--service ID is needed");
  if (r.sessionId.empty()) usage("--session-id ID is needed");
  if (!r.sessionStart || !r.sessionEnd) usage("--session-start H and --session-end H are needed");

  auto& relay = setup.relay;
  relay.session = protocol::SessionHeader{appPub->address(), r.service, r.sessionId,
                                          *r.sessionStart, *r.sessionEnd};
  relay.supplierOperatorAddress = supplier;
  relay.http.method = args.user.method;
  // PATH embeds the public URL plus path and only Content-Type, then the user's headers.
  relay.http.header["Content-Type"] = {"application/json"};
  for (const auto& [name, values] : args.user.headers) relay.http.header[name] = values;
  relay.http.url = "http://" + setup.url.hostPort() + args.user.path;
  relay.http.body =
      util::toBytes(args.user.body ? *args.user.body : pocket::gateway::defaultJsonRpcBody(1));
  // The outer POST goes to the supplier URL plus the end user's path (PATH appends REST paths).
  std::string base = setup.url.path;
  if (args.user.path != "/") {
    while (base.ends_with('/')) base.pop_back();
    base += args.user.path;
  }
  setup.outerTarget = base;
  return setup;
}

// ---- send ----

struct Exchange {
  unsigned status = 0;
  std::string outcome;  // X-Relay-Outcome, when the edge set it
  std::string body;
};

// One request and its answer on a fresh connection, 30 s at most. Throws std::runtime_error with
// what failed.
Exchange roundTrip(const HttpUrl& url, const std::string& request) {
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(256U << 20);
  boost::system::error_code failure;
  std::string step = "connect";
  stream.expires_after(std::chrono::seconds(30));
  auto endpoints = resolver.resolve(url.host, url.port);
  stream.async_connect(endpoints, [&](boost::system::error_code ec, const auto&) {
    if (ec) return void(failure = ec);
    step = "send";
    asio::async_write(
        stream, asio::buffer(request), [&](boost::system::error_code ec2, std::size_t) {
          if (ec2) return void(failure = ec2);
          step = "read the answer";
          http::async_read(stream, buffer, parser,
                           [&](boost::system::error_code ec3, std::size_t) { failure = ec3; });
        });
  });
  io.run();
  if (failure) {
    throw std::runtime_error("cannot " + step + " (" + url.hostPort() + "): " + failure.message());
  }
  Exchange out;
  const auto& response = parser.get();
  out.status = response.result_int();
  if (auto it = response.find("X-Relay-Outcome"); it != response.end()) {
    out.outcome = std::string(it->value());
  }
  out.body = response.body();
  return out;
}

int send(const Args& args) {
  RelaySetup setup = relaySetup(args);
  auto request = setup.signer->sign(setup.relay);
  if (!request) usage("signing failed: " + request.error().message);
  auto bytes = protocol::marshal(*request);
  std::string message = pocket::gateway::relayHttpRequest(
      setup.url.hostPort(), setup.outerTarget, args.relay.rpcType, setup.relay.http.header, bytes);
  Exchange answer;
  try {
    answer = roundTrip(setup.url, message);
  } catch (const std::runtime_error& e) {
    std::cerr << "relay-gateway: " << e.what() << "\n";
    return 1;
  }
  std::printf("HTTP status: %u\n", answer.status);
  if (answer.status != 200) {
    std::printf("relay outcome: %s\n", answer.outcome.empty() ? "-" : answer.outcome.c_str());
    std::printf("body:\n%s%s", answer.body.c_str(),
                answer.body.empty() || answer.body.ends_with('\n') ? "" : "\n");
    std::fflush(stdout);
    std::cerr << "relay-gateway: the edge refused the relay with HTTP " << answer.status << "\n";
    return 1;
  }
  auto checked = pocket::gateway::checkRelayResponse(util::asBytes(answer.body),
                                                     setup.relay.session, *setup.supplierKey);
  if (!checked) {
    std::printf("relay outcome: %s\n",
                answer.outcome.empty() ? checked.error().code.c_str() : answer.outcome.c_str());
    std::fflush(stdout);
    std::cerr << "relay-gateway: signature check failed: " << checked.error().code << ": "
              << checked.error().message << "\n";
    return 1;
  }
  const auto& response = checked->response;
  std::printf("relay outcome: %s\n", answer.outcome.empty() ? "served" : answer.outcome.c_str());
  std::printf("signature verified: supplier %s (public key %s), payload_hash %s\n",
              setup.supplierKey->address().c_str(), setup.supplierKey->hex().c_str(),
              response.payloadHash.empty() ? "not set" : "matches");
  std::printf("backend status: %u\n", checked->http.statusCode);
  for (const auto& [name, values] : checked->http.header) {
    for (const auto& v : values) std::printf("backend header: %s: %s\n", name.c_str(), v.c_str());
  }
  std::string body(checked->http.body.begin(), checked->http.body.end());
  std::printf("body:\n%s%s", body.c_str(), body.empty() || body.ends_with('\n') ? "" : "\n");
  return 0;
}

// ---- load ----

void printReport(const LoadReport& r) {
  auto ms = [](std::uint32_t micros) { return static_cast<double>(micros) / 1000.0; };
  std::printf("requests=%llu\nseconds=%.3f\n", static_cast<unsigned long long>(r.requests),
              r.seconds);
  if (r.offeredRate > 0) std::printf("offered_rps=%.0f\n", r.offeredRate);
  std::printf("rps=%.0f\n", r.requestsPerSecond());
  std::printf("p50_ms=%.2f\np90_ms=%.2f\np99_ms=%.2f\np999_ms=%.2f\nmax_ms=%.2f\n",
              ms(r.percentileMicros(0.5)), ms(r.percentileMicros(0.9)),
              ms(r.percentileMicros(0.99)), ms(r.percentileMicros(0.999)),
              ms(r.latencyMicros.empty() ? 0U : r.latencyMicros.back()));
  std::printf("non2xx=%llu\nerrors=%llu\nreconnects=%llu\n",
              static_cast<unsigned long long>(r.non200), static_cast<unsigned long long>(r.errors),
              static_cast<unsigned long long>(r.reconnects));
  for (const auto& [status, n] : r.statuses) {
    std::printf("non2xx_status_%u=%llu\n", status, static_cast<unsigned long long>(n));
  }
  for (const auto& [outcome, n] : r.outcomes) {
    std::printf("non2xx_outcome_%s=%llu\n", outcome.c_str(), static_cast<unsigned long long>(n));
  }
}

LoadOptions loadOptions(const Args& args, const HttpUrl& url) {
  LoadOptions options = args.load;
  options.host = url.host;
  options.port = url.port;
  return options;
}

int load(const Args& args) {
  RelaySetup setup = relaySetup(args);
  auto begin = std::chrono::steady_clock::now();
  unsigned signers = std::max(1U, std::thread::hardware_concurrency());
  auto relays = pocket::gateway::signRelayPool(*setup.signer, setup.relay, args.pool, 1, signers);
  if (!relays) usage("cannot build the relay pool: " + relays.error().message);
  std::vector<std::string> pool;
  pool.reserve(relays->size());
  for (const auto& bytes : *relays) {
    pool.push_back(pocket::gateway::relayHttpRequest(setup.url.hostPort(), setup.outerTarget,
                                                     args.relay.rpcType, setup.relay.http.header,
                                                     bytes));
  }
  relays->clear();
  double signSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();

  std::mutex firstFailureMutex;
  std::string firstFailure;
  pocket::gateway::ResponseCheck check = [&](std::string_view body) {
    auto checked = pocket::gateway::checkRelayResponse(util::asBytes(body), setup.relay.session,
                                                       *setup.supplierKey);
    if (checked) return true;
    std::lock_guard lock(firstFailureMutex);
    if (firstFailure.empty()) firstFailure = checked.error().code + ": " + checked.error().message;
    return false;
  };
  LoadOptions options = loadOptions(args, setup.url);
  options.checkEvery = args.verifyEvery;
  auto report = pocket::gateway::runLoad(options, pool, check);
  std::printf("pool=%zu\npool_sign_seconds=%.2f\n", pool.size(), signSeconds);
  printReport(report);
  std::printf("sig_checked=%llu\nsig_failures=%llu\n",
              static_cast<unsigned long long>(report.checked),
              static_cast<unsigned long long>(report.badBodies));
  std::fflush(stdout);
  if (!firstFailure.empty()) {
    std::cerr << "relay-gateway: first failed check: " << firstFailure << "\n";
  }
  bool ok = report.requests > 0 && report.errors == 0 && report.non200 == 0 &&
            report.badBodies == 0 && report.checked > 0;
  return ok ? 0 : 1;
}

int rawLoad(const Args& args) {
  HttpUrl url = splitUrl(args.target);
  std::string body = args.user.body.value_or("");
  std::string request =
      args.user.method + " " + url.path + " HTTP/1.1\r\nHost: " + url.hostPort() +
      "\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n";
  for (const auto& [name, values] : args.user.headers) {
    for (const auto& v : values) request += name + ": " + v + "\r\n";
  }
  request += "\r\n";
  request += body;
  auto report = pocket::gateway::runLoad(loadOptions(args, url), {request}, {});
  printReport(report);
  return report.requests > 0 && report.errors == 0 && report.non200 == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::cout << kUsage;
    return 0;
  }
  try {
    Args args = parseArgs(argc, argv);
    if (args.command == "send") return send(args);
    if (args.command == "load") return load(args);
    if (args.command == "raw-load") return rawLoad(args);
    usage("unknown command " + args.command + " (send, load, raw-load)");
  } catch (const UsageError& e) {
    std::cerr << "relay-gateway: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "relay-gateway: " << e.what() << "\n";
    return 2;
  }
}
