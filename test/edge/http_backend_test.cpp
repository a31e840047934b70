// The HTTP server and the backend client against each other, in one process on 127.0.0.1.
#include <chrono>
#include <future>
#include <mutex>
#include <vector>
#include <thread>

#include <sys/resource.h>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/steady_timer.hpp>
#include <doctest.h>

#include "edge/backend_client.h"
#include "edge/event_loops.h"
#include "edge/http_server.h"
#include "test/edge/blocking_client.h"

using namespace pocket::edge;
using namespace std::chrono_literals;

namespace {

// A server whose behaviour the request chooses: X-Status, X-Delay-Ms, X-Body-Bytes.
struct TestServer {
  explicit TestServer(ServerLimits limits = {}) : loops(1), log(stderr, pocket::util::LogLevel::error) {
    server = std::make_unique<HttpServer>(
        loops, Endpoint{"127.0.0.1", 0}, limits,
        [this](const RequestContext&, HttpRequest&& request, Responder responder) {
          ++requests;
          int status = 200;
          long delay = 0;
          std::size_t bytes = 0;
          if (auto it = request.find("X-Status"); it != request.end()) status = std::stoi(std::string(it->value()));
          if (auto it = request.find("X-Delay-Ms"); it != request.end()) delay = std::stol(std::string(it->value()));
          if (auto it = request.find("X-Body-Bytes"); it != request.end()) bytes = std::stoul(std::string(it->value()));
          HttpResponse response(static_cast<http::status>(status), request.version());
          response.set("X-Method", request.method_string());
          response.set("X-Target", request.target());
          response.set("X-Multi", "a");
          response.insert("X-Multi", "b");
          response.body() = bytes > 0 ? std::string(bytes, 'x') : request.body();
          if (delay == 0) return responder.send(std::move(response));
          auto timer = std::make_shared<boost::asio::steady_timer>(loops.loop(0), std::chrono::milliseconds(delay));
          timer->async_wait([timer, r = std::move(response), rs = std::move(responder)](auto) mutable {
            rs.send(std::move(r));
          });
        },
        log);
    server->start();
    loops.start();
  }
  ~TestServer() {
    loops.stop();
    loops.join();
  }
  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(server->port()) + path;
  }
  EventLoops loops;
  pocket::util::LogSink log;
  std::unique_ptr<HttpServer> server;
  std::atomic<int> requests{0};
};

using TestClient = pocket::test::BlockingClient;

// Every case below runs twice: through the native client (http:// default) and through libcurl
// (`http_client: curl`, and every https:// backend), which keep the same contract.
bool gUseCurl = false;
#define FOR_EACH_HTTP_CLIENT()                 \
  SUBCASE("native client") { gUseCurl = false; } \
  SUBCASE("libcurl") { gUseCurl = true; }

BackendRequest get(const std::string& url) {
  BackendRequest r;
  r.useCurl = gUseCurl;
  r.url = url;
  r.timeouts.connect = 2000ms;
  r.timeouts.firstByte = 2000ms;
  r.timeouts.total = 4000ms;
  return r;
}

std::string header(const BackendResult& r, const std::string& name) {
  std::string out;
  for (const auto& [n, v] : r.headers) {
    if (n == name) out += (out.empty() ? "" : ",") + v;
  }
  return out;
}

}  // namespace

TEST_CASE("any method and path, body and headers round-trip, connections are reused") {
  FOR_EACH_HTTP_CLIENT()
  TestServer server;
  TestClient client;
  auto request = get(server.url("/some/path?x=1"));
  request.method = "PATCH";
  request.body = "{\"id\":1}";
  request.headers = {{"Content-Type", "application/json"}};
  auto r = client.call(request);
  REQUIRE(r.failure == BackendFailure::none);
  CHECK(r.status == 200);
  CHECK(r.body == "{\"id\":1}");
  CHECK(header(r, "X-Method") == "PATCH");
  CHECK(header(r, "X-Target") == "/some/path?x=1");
  CHECK(header(r, "X-Multi") == "a,b");
  for (int i = 0; i < 20; ++i) CHECK(client.call(get(server.url())).status == 200);
  CHECK(server.server->openConnections() == 1);  // keep-alive: one connection for 21 calls
}

TEST_CASE("a reused transfer handle carries nothing of the previous request") {
  FOR_EACH_HTTP_CLIENT()
  TestServer server;
  TestClient client;
  struct Step {
    const char* method;
    const char* body;
  };
  const Step steps[] = {{"PATCH", "{\"a\":1}"}, {"GET", ""},  {"HEAD", ""}, {"POST", "{\"b\":2}"},
                        {"HEAD", ""},             {"DELETE", ""}, {"GET", ""}, {"PUT", "x"}};
  for (const Step& step : steps) {
    CAPTURE(step.method);
    auto request = get(server.url("/p"));
    request.method = step.method;
    request.body = step.body;
    auto r = client.call(request);
    REQUIRE(r.failure == BackendFailure::none);
    CHECK(r.status == 200);
    if (std::string(step.method) != "HEAD") {
      CHECK(header(r, "X-Method") == step.method);
      CHECK(r.body == step.body);  // the test server echoes the request body
    } else {
      CHECK(r.body.empty());
    }
  }
}

TEST_CASE("backend status codes are passed through") {
  FOR_EACH_HTTP_CLIENT()
  TestServer server;
  TestClient client;
  auto request = get(server.url());
  request.headers = {{"X-Status", "503"}};
  auto r = client.call(request);
  CHECK(r.failure == BackendFailure::none);
  CHECK(r.status == 503);
}

TEST_CASE("connect failures, timeouts and the size cap are told apart") {
  FOR_EACH_HTTP_CLIENT()
  TestClient client;
  {
    // A port that was just free: nothing listens.
    TestServer probe;
    std::string url = probe.url();
    probe.loops.stop();
    probe.loops.join();
    probe.server.reset();
    auto r = client.call(get(url));
    CHECK(r.failure == BackendFailure::connect);
  }
  TestServer server;
  auto slow = get(server.url());
  // The answer comes after 30 s, far beyond the first-byte deadline, so the deadline is what
  // ends the call however slow the machine is.
  slow.headers = {{"X-Delay-Ms", "30000"}};
  slow.timeouts.firstByte = 200ms;
  auto r = client.call(slow);
  CHECK(r.failure == BackendFailure::firstByteTimeout);
  CHECK(r.elapsed < 25s);

  slow.timeouts.firstByte = 300ms;
  slow.timeouts.total = 300ms;
  r = client.call(slow);
  CHECK((r.failure == BackendFailure::timeout || r.failure == BackendFailure::firstByteTimeout));

  auto big = get(server.url());
  big.headers = {{"X-Body-Bytes", "100000"}};
  big.maxResponseBytes = 1000;
  r = client.call(big);
  CHECK(r.failure == BackendFailure::tooLarge);
  big.maxResponseBytes = 200000;
  r = client.call(big);
  CHECK(r.failure == BackendFailure::none);
  CHECK(r.body.size() == 100000);
}

TEST_CASE("many calls in flight on one loop") {
  FOR_EACH_HTTP_CLIENT()
  TestServer server;
  TestClient client;
  constexpr int kCalls = 200;
  std::promise<void> all;
  std::atomic<int> ok{0};
  std::atomic<int> done{0};
  client.onLoop([&](BackendClient& backend) {
    for (int i = 0; i < kCalls; ++i) {
      auto request = get(server.url("/n/" + std::to_string(i)));
      request.headers = {{"X-Delay-Ms", "20"}};
      backend.send(std::move(request), [&, i](BackendResult&& r) {
        if (r.failure == BackendFailure::none && header(r, "X-Target") == "/n/" + std::to_string(i)) ++ok;
        if (++done == kCalls) all.set_value();
      });
    }
  });
  REQUIRE(all.get_future().wait_for(20s) == std::future_status::ready);
  CHECK(ok == kCalls);
}

TEST_CASE("the server enforces header and body limits") {
  FOR_EACH_HTTP_CLIENT()
  ServerLimits limits;
  limits.maxHeaderBytes = 2048;
  limits.maxBodyBytes = 1000;
  TestServer server(limits);
  TestClient client;
  auto big = get(server.url());
  big.method = "POST";
  big.body = std::string(5000, 'b');
  auto r = client.call(big);
  REQUIRE(r.failure == BackendFailure::none);
  CHECK(r.status == 413);
  CHECK(r.body.find("exceeds the limit of 1000 bytes") != std::string::npos);
  auto fat = get(server.url());
  fat.headers = {{"X-Fat", std::string(4000, 'h')}};
  r = client.call(fat);
  REQUIRE(r.failure == BackendFailure::none);
  CHECK(r.status == 431);
  CHECK(server.requests == 0);  // neither reached the handler
  CHECK(client.call(get(server.url())).status == 200);
}

TEST_CASE("shutdown closes idle keep-alive connections") {
  FOR_EACH_HTTP_CLIENT()
  TestServer server;
  TestClient client;
  CHECK(client.call(get(server.url())).status == 200);
  CHECK(server.server->openConnections() == 1);
  server.server->shutdown();
  for (int i = 0; i < 200 && server.server->openConnections() > 0; ++i) std::this_thread::sleep_for(10ms);
  CHECK(server.server->openConnections() == 0);
}

namespace {
double processCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}
}  // namespace

TEST_CASE("a kept-alive connection the backend closes while idle costs nothing and is replaced") {
  FOR_EACH_HTTP_CLIENT()
  ServerLimits limits;
  limits.idleTimeout = 50ms;  // the server drops idle keep-alive connections quickly
  TestServer server(limits);
  TestClient client;
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    REQUIRE(client.call(get(server.url())).status == 200);
    // The idle socket turns readable (end of stream) once the server closes it: the client must
    // neither spin on it nor lose the next call.
    double before = processCpuSeconds();
    std::this_thread::sleep_for(400ms);
    CHECK(processCpuSeconds() - before < 0.2);
    CHECK(server.server->openConnections() == 0);
  }
  auto r = client.call(get(server.url()));
  CHECK(r.failure == BackendFailure::none);
  CHECK(r.status == 200);
  CHECK(server.requests == 4);
}

TEST_CASE("connections the backend closes after each answer are replaced without a stall") {
  FOR_EACH_HTTP_CLIENT()
  TestServer server;
  TestClient client;
  // Connection: close makes the client close the socket after each answer, and the next connection
  // usually gets the same descriptor number, which must be watched afresh.
  for (int i = 0; i < 10; ++i) {
    CAPTURE(i);
    auto request = get(server.url());
    request.headers = {{"Connection", "close"}};
    request.timeouts.firstByte = 1000ms;
    request.timeouts.total = 1000ms;
    auto r = client.call(request);
    CHECK(r.failure == BackendFailure::none);
    CHECK(r.status == 200);
  }
  CHECK(server.requests == 10);
}

namespace {

// A one-connection-at-a-time TCP server answering every request with canned bytes, recording
// what it received: for response shapes the edge's own HTTP server never produces.
struct RawServer {
  explicit RawServer(std::string answer) : reply(std::move(answer)), acceptor(ctx, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread = std::thread([this] {
      for (;;) {
        boost::asio::ip::tcp::socket socket(ctx);
        boost::system::error_code ec;
        acceptor.accept(socket, ec);
        if (ec || stopping) return;
        std::string buffer;
        char chunk[4096];
        for (;;) {
          std::size_t n = socket.read_some(boost::asio::buffer(chunk), ec);
          if (ec) break;
          buffer.append(chunk, n);
          auto end = buffer.find("\r\n\r\n");
          if (end == std::string::npos) continue;
          std::size_t length = 0;
          auto cl = buffer.find("Content-Length: ");
          if (cl != std::string::npos && cl < end) length = std::stoul(buffer.substr(cl + 16));
          if (buffer.size() < end + 4 + length) continue;
          {
            std::lock_guard lock(mutex);
            requests.push_back(buffer.substr(0, end + 4 + length));
          }
          buffer.erase(0, end + 4 + length);
          boost::asio::write(socket, boost::asio::buffer(reply), ec);
          if (closeAfterReply) break;
        }
      }
    });
  }
  ~RawServer() {
    stopping = true;
    boost::system::error_code ec;
    boost::asio::ip::tcp::socket poke(ctx);
    poke.connect(acceptor.local_endpoint(), ec);
    thread.join();
  }
  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + path;
  }
  std::vector<std::string> received() {
    std::lock_guard lock(mutex);
    return requests;
  }
  std::string reply;
  bool closeAfterReply = false;
  std::atomic<bool> stopping{false};
  boost::asio::io_context ctx;
  boost::asio::ip::tcp::acceptor acceptor;
  std::mutex mutex;
  std::vector<std::string> requests;
  std::thread thread;
};

}  // namespace

TEST_CASE("interim answers, chunked bodies and repeated headers arrive as the backend sent them") {
  FOR_EACH_HTTP_CLIENT()
  RawServer server(
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 201 Created\r\nX-Rep: one\r\nTransfer-Encoding: chunked\r\nx-rep: two\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  TestClient client;
  auto request = get(server.url("/p?q=1"));
  request.method = "POST";
  request.body = "{}";
  request.headers = {{"X-Custom", "v"}};
  for (int i = 0; i < 2; ++i) {  // the second call reuses the connection
    auto r = client.call(request);
    REQUIRE(r.failure == BackendFailure::none);
    CHECK(r.status == 201);
    CHECK(r.body == "hello world");
    CHECK(header(r, "X-Rep") == "one");
    CHECK(header(r, "x-rep") == "two");
  }
  auto seen = server.received();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].rfind("POST /p?q=1 HTTP/1.1\r\n", 0) == 0);
  CHECK(seen[0].find("\r\nHost: 127.0.0.1:") != std::string::npos);
  CHECK(seen[0].find("\r\nX-Custom: v\r\n") != std::string::npos);
  CHECK(seen[0].find("\r\nContent-Length: 2\r\n") != std::string::npos);
  CHECK(seen[0].size() >= 2);
  CHECK(seen[0].substr(seen[0].size() - 2) == "{}");
  // Nothing the caller did not ask for (curl's defaults are switched off).
  CHECK(seen[0].find("Expect:") == std::string::npos);
  CHECK(seen[0].find("Accept:") == std::string::npos);
  CHECK(seen[0].find("Content-Type:") == std::string::npos);
}

TEST_CASE("a body delimited by the connection's close, and a configured Host header") {
  FOR_EACH_HTTP_CLIENT()
  RawServer server("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end");
  server.closeAfterReply = true;
  TestClient client;
  auto request = get(server.url());
  request.headers = {{"Host", "virtual.example"}};
  for (int i = 0; i < 2; ++i) {  // the first connection is not reused: it ended the body
    auto r = client.call(request);
    REQUIRE(r.failure == BackendFailure::none);
    CHECK(r.status == 200);
    CHECK(r.body == "until the end");
  }
  auto seen = server.received();
  REQUIRE(seen.size() == 2);
  CHECK(seen[1].rfind("GET / HTTP/1.1\r\n", 0) == 0);
  CHECK(seen[1].find("\r\nHost: virtual.example\r\n") != std::string::npos);
  CHECK(seen[1].find("Host: 127.0.0.1") == std::string::npos);
  CHECK(seen[1].find("Content-Length") == std::string::npos);  // GET without a body
}

TEST_CASE("a backend named by host name is resolved") {
  FOR_EACH_HTTP_CLIENT()
  TestServer server;
  TestClient client;
  std::string url = server.url("/named");
  url.replace(url.find("127.0.0.1"), 9, "localhost");
  for (int i = 0; i < 3; ++i) {
    auto r = client.call(get(url));
    REQUIRE(r.failure == BackendFailure::none);
    CHECK(r.status == 200);
    CHECK(header(r, "X-Target") == "/named");
  }
  CHECK(server.server->openConnections() == 1);  // resolved once, then kept alive
}

TEST_CASE("a declared Content-Length over the cap is refused before any of the body arrives") {
  FOR_EACH_HTTP_CLIENT()
  // The backend announces 30,000,000 bytes and then sends nothing: a client that waited for the
  // body would end on its (generous) deadline with a timeout instead.
  RawServer server("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 30000000\r\n\r\n");
  TestClient client;
  auto request = get(server.url());
  request.timeouts.firstByte = 60s;
  request.timeouts.total = 120s;
  request.maxResponseBytes = 20 * 1024 * 1024;
  auto r = client.call(request);
  CHECK(r.failure == BackendFailure::tooLarge);
  CHECK(r.error.find("20971520") != std::string::npos);
}
