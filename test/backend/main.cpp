// relay-test-backend: a small, fast HTTP backend for tests, the demo and benchmarks.
//
//   relay-test-backend [--listen 127.0.0.1:0] [--threads 1] [--status 200] [--delay-ms 0]
//                      [--body-bytes 0] [--port-file FILE]
//
// Answers any method and path. By default the body is a JSON-RPC result echoing the request's "id"
// (`{"jsonrpc":"2.0","id":1,"result":"0x1"}`); --body-bytes N pads the result to N bytes. Each
// request may override the defaults with headers, so a test can steer one call through the edge:
//   X-Backend-Status: 503      X-Backend-Delay-Ms: 250      X-Backend-Body-Bytes: 4096
// A path containing `/echo` answers with a JSON object describing the request as received (method,
// target, headers, body) so that tests can check how the edge rebuilt it.
// Prints `listening port=<port>` on stdout once bound (and writes the port to --port-file).

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "edge/event_loops.h"
#include "edge/http_server.h"

namespace {

using pocket::edge::HttpRequest;
using pocket::edge::HttpResponse;
namespace http = boost::beast::http;
namespace asio = boost::asio;

struct Options {
  std::string listen = "127.0.0.1:0";
  unsigned threads = 1;
  int status = 200;
  long delayMs = 0;
  std::size_t bodyBytes = 0;
  std::string portFile;
};

constexpr const char* kUsage =
    "usage: relay-test-backend [--listen HOST:PORT] [--threads N] [--status CODE]"
    " [--delay-ms MS] [--body-bytes N] [--port-file FILE]\n"
    "A fast HTTP backend for tests, the demo and benchmarks: answers any request with a JSON-RPC\n"
    "result echoing the request's id (defaults: --listen 127.0.0.1:0, --threads 1, --status 200).\n"
    "Per request: X-Backend-Status, X-Backend-Delay-Ms, X-Backend-Body-Bytes override the\n"
    "defaults; a path containing /echo answers with the request as received.\n"
    "Prints `listening port=<port>` once bound and writes the port to --port-file.\n";

[[noreturn]] void usage(const std::string& what) {
  std::cerr << "relay-test-backend: " << what << "\n" << kUsage;
  std::exit(2);
}

long headerNumber(const HttpRequest& request, const char* name, long fallback) {
  auto it = request.find(name);
  if (it == request.end()) return fallback;
  try {
    return std::stol(std::string(it->value()));
  } catch (...) {
    return fallback;
  }
}

// The JSON-RPC id of the request body, as raw JSON text, or "1".
std::string jsonRpcId(const std::string& body) {
  auto key = body.find("\"id\"");
  if (key == std::string::npos) return "1";
  auto colon = body.find(':', key);
  if (colon == std::string::npos) return "1";
  std::size_t start = colon + 1;
  while (start < body.size() && body[start] == ' ') ++start;
  std::size_t end = start;
  if (end < body.size() && body[end] == '"') {
    end = body.find('"', end + 1);
    if (end == std::string::npos) return "1";
    ++end;
  } else {
    while (end < body.size() && body[end] != ',' && body[end] != '}' && body[end] != ' ') ++end;
  }
  return end > start ? body.substr(start, end - start) : "1";
}

HttpResponse answer(const Options& options, const HttpRequest& request) {
  int status = static_cast<int>(headerNumber(request, "X-Backend-Status", options.status));
  auto bodyBytes = static_cast<std::size_t>(
      headerNumber(request, "X-Backend-Body-Bytes", static_cast<long>(options.bodyBytes)));
  HttpResponse response(static_cast<http::status>(status), request.version());
  response.set(http::field::content_type, "application/json");
  std::string_view target(request.target().data(), request.target().size());
  if (target.find("/echo") != std::string_view::npos) {
    nlohmann::json headers = nlohmann::json::object();
    for (const auto& field : request) {
      std::string name(field.name_string());
      std::string value(field.value());
      if (headers.contains(name)) {
        headers[name] = headers[name].get<std::string>() + "," + value;
      } else {
        headers[name] = value;
      }
    }
    nlohmann::json echo = {{"method", std::string(request.method_string())},
                           {"target", std::string(target)},
                           {"headers", headers},
                           {"body", request.body()}};
    response.body() = echo.dump();
    return response;
  }
  std::string body = R"({"jsonrpc":"2.0","id":)" + jsonRpcId(request.body()) + R"(,"result":"0x1)";
  if (bodyBytes > body.size() + 2) body.append(bodyBytes - body.size() - 2, '0');
  body += "\"}";
  response.body() = std::move(body);
  return response;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    try {
      if (arg == "--listen") {
        options.listen = next();
      } else if (arg == "--threads") {
        options.threads = static_cast<unsigned>(std::stoul(next()));
      } else if (arg == "--status") {
        options.status = std::stoi(next());
      } else if (arg == "--delay-ms") {
        options.delayMs = std::stol(next());
      } else if (arg == "--body-bytes") {
        options.bodyBytes = std::stoul(next());
      } else if (arg == "--port-file") {
        options.portFile = next();
      } else {
        usage("unknown argument " + arg);
      }
    } catch (const std::logic_error&) {
      usage("bad value for " + arg);
    }
  }

  pocket::util::LogSink log(stderr, pocket::util::LogLevel::warn);
  pocket::util::MetricsRegistry metrics;  // the server's own counters; this backend serves no /metrics
  pocket::edge::EventLoops loops(options.threads);
  pocket::edge::ServerLimits limits;
  limits.maxBodyBytes = 64 * 1024 * 1024;
  auto endpoint = pocket::edge::parseEndpoint(options.listen, "--listen");

  pocket::edge::HttpServer server(
      loops, endpoint, limits,
      [&options, &loops](const pocket::edge::RequestContext& context, HttpRequest&& request,
                         pocket::edge::Responder responder) {
        long delay = headerNumber(request, "X-Backend-Delay-Ms", options.delayMs);
        HttpResponse response = answer(options, request);
        if (delay <= 0) {
          responder.send(std::move(response));
          return;
        }
        auto timer = std::make_shared<asio::steady_timer>(loops.loop(context.loop),
                                                          std::chrono::milliseconds(delay));
        timer->async_wait([timer, r = std::move(response), rs = std::move(responder)](
                              const boost::system::error_code&) mutable { rs.send(std::move(r)); });
      },
      metrics, "backend", log);

  asio::signal_set signals(loops.loop(0), SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) { loops.stop(); });
  server.start();
  std::printf("listening port=%u\n", static_cast<unsigned>(server.port()));
  std::fflush(stdout);
  if (!options.portFile.empty()) {
    std::ofstream(options.portFile) << server.port() << "\n";
  }
  loops.start();
  loops.join();
  return 0;
}
