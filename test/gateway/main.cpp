// relay-gateway: an HTTP load driver for RelayMiner edges.
//
//   relay-gateway raw-load URL [request options] [load options]
//       sends one plain HTTP request (to the URL's path) over and over on keep-alive connections
//       and prints name=value lines: requests/s, latency percentiles, failures. Used to measure a
//       server alone (nginx, an edge's HTTP layer) and to check that the driver is not the limit.
//
// request options: --method M (POST) --header "Name: value" (repeatable)
//                  --body TEXT | --body-file FILE
// load options:    --connections N (64) --threads T (2) --seconds S (10)
// Exit status: 0 success, 1 failed check, 2 usage or configuration error.

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/protocol/http_payload.h"
#include "test/gateway/load.h"

namespace {

using pocket::gateway::LoadOptions;
using pocket::gateway::LoadReport;

// The request each connection sends.
struct UserRequest {
  std::string method = "POST";
  pocket::protocol::HttpHeaders headers;
  std::string body;
};

struct Args {
  std::string command;
  std::string target;  // URL
  UserRequest user;
  LoadOptions load;
};

[[noreturn]] void usage(const std::string& why) {
  throw std::invalid_argument(why + " (see the usage at the top of test/gateway/main.cpp)");
}

Args parseArgs(int argc, char** argv) {
  if (argc < 3) usage("needs a command and a URL");
  Args args;
  args.command = argv[1];
  args.target = argv[2];
  for (int i = 3; i < argc; ++i) {
    std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--method") {
      args.user.method = value();
    } else if (flag == "--header") {
      std::string h = value();
      auto colon = h.find(':');
      if (colon == std::string::npos) usage("--header needs \"Name: value\"");
      std::string v = h.substr(colon + 1);
      v.erase(0, v.find_first_not_of(' '));
      args.user.headers[h.substr(0, colon)].push_back(v);
    } else if (flag == "--body") {
      args.user.body = value();
    } else if (flag == "--body-file") {
      std::ifstream in(value(), std::ios::binary);
      if (!in) usage("cannot read the body file");
      std::ostringstream s;
      s << in.rdbuf();
      args.user.body = s.str();
    } else if (flag == "--connections") {
      args.load.connections = std::stoi(value());
    } else if (flag == "--threads") {
      args.load.threads = std::stoi(value());
    } else if (flag == "--seconds") {
      args.load.seconds = std::stod(value());
    } else {
      usage("unknown option " + flag);
    }
  }
  return args;
}

// host, port and path of an "http://host[:port][/path]" URL.
struct HttpUrl {
  std::string host, port, path;
};

HttpUrl splitUrl(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) usage("only http:// URLs are supported: " + url);
  std::string rest = url.substr(kScheme.size());
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  HttpUrl out;
  out.path = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = authority.rfind(':');
  out.host = authority.substr(0, colon);
  out.port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  return out;
}

void printReport(const LoadReport& r) {
  std::printf("requests=%llu\nseconds=%.3f\nrequests_per_second=%.0f\n",
              static_cast<unsigned long long>(r.requests), r.seconds, r.requestsPerSecond());
  std::printf(
      "latency_p50_us=%u\nlatency_p90_us=%u\nlatency_p99_us=%u\nlatency_p999_us=%u\nlatency_max_us="
      "%u\n",
      r.percentileMicros(0.5), r.percentileMicros(0.9), r.percentileMicros(0.99),
      r.percentileMicros(0.999), r.latencyMicros.empty() ? 0U : r.latencyMicros.back());
  std::printf(
      "non_200=%llu\nbad_bodies=%llu\nerrors=%llu\nreconnects=%llu\n",
      static_cast<unsigned long long>(r.non200), static_cast<unsigned long long>(r.badBodies),
      static_cast<unsigned long long>(r.errors), static_cast<unsigned long long>(r.reconnects));
}

int rawLoad(const Args& args) {
  HttpUrl url = splitUrl(args.target);
  std::string request = (args.user.method.empty() ? "GET" : args.user.method) + " " + url.path +
                        " HTTP/1.1\r\nHost: " + url.host + ":" + url.port +
                        "\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: " +
                        std::to_string(args.user.body.size()) + "\r\n";
  for (const auto& [name, values] : args.user.headers) {
    for (const auto& v : values) {
      request += name;
      request += ": ";
      request += v;
      request += "\r\n";
    }
  }
  request += "\r\n";
  request += args.user.body;
  LoadOptions options = args.load;
  options.host = url.host;
  options.port = url.port;
  auto report = pocket::gateway::runLoad(options, {request}, {});
  printReport(report);
  return report.requests > 0 && report.errors == 0 && report.non200 == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Args args = parseArgs(argc, argv);
    if (args.command == "raw-load") return rawLoad(args);
    usage("unknown command " + args.command);
  } catch (const std::invalid_argument& e) {
    std::cerr << "relay-gateway: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "relay-gateway: " << e.what() << "\n";
    return 2;
  }
}
