#include "test/chain/fake_node.h"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>
#include <sys/socket.h>

namespace pocket::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = boost::asio::ip::tcp;

std::string RecordedRequest::method() const {
  if (parsed.is_object() && parsed.contains("method") && parsed["method"].is_string()) {
    return parsed["method"].get<std::string>();
  }
  return {};
}

std::string rpcResult(const nlohmann::json& id, const std::string& resultJson) {
  return fmt::format(R"({{"jsonrpc":"2.0","id":{},"result":{}}})", id.dump(), resultJson);
}

std::string rpcError(const nlohmann::json& id, int code, const std::string& message,
                     const std::string& data) {
  nlohmann::json reply = {{"jsonrpc", "2.0"},
                          {"id", id},
                          {"error", {{"code", code}, {"message", message}, {"data", data}}}};
  return reply.dump();
}

struct FakeNode::WsSession {
  std::deque<std::string> outbox;
  bool closed = false;
};

FakeNode::FakeNode(Handler handler) : acceptor_(io_), handler_(std::move(handler)) {
  tcp::endpoint endpoint(boost::asio::ip::make_address("127.0.0.1"), 0);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
  acceptThread_ = std::thread([this] { acceptLoop(); });
}

FakeNode::~FakeNode() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& socket : sockets_) ::shutdown(socket->native_handle(), SHUT_RDWR);
    for (auto& session : wsSessions_) session->closed = true;
  }
  wsCondition_.notify_all();
  ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
  acceptThread_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    threads.swap(threads_);
  }
  for (auto& thread : threads) thread.join();
  beast::error_code ignored;
  acceptor_.close(ignored);
}

std::string FakeNode::rpcUrl() const {
  return fmt::format("http://127.0.0.1:{}", port_);
}
std::string FakeNode::websocketUrl() const {
  return fmt::format("ws://127.0.0.1:{}/websocket", port_);
}

std::vector<RecordedRequest> FakeNode::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::size_t FakeNode::requestCount(const std::string& method) const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& request : requests_) n += request.method() == method ? 1 : 0;
  return n;
}

void FakeNode::setHandler(Handler handler) {
  std::lock_guard lock(mutex_);
  handler_ = std::move(handler);
}

void FakeNode::pushWs(const std::string& message) {
  {
    std::lock_guard lock(mutex_);
    for (auto& session : wsSessions_) {
      if (!session->closed) session->outbox.push_back(message);
    }
  }
  wsCondition_.notify_all();
}

void FakeNode::dropWs() {
  {
    std::lock_guard lock(mutex_);
    for (auto& session : wsSessions_) session->closed = true;
  }
  wsCondition_.notify_all();
}

int FakeNode::openWebSockets() const {
  std::lock_guard lock(mutex_);
  int n = 0;
  for (const auto& session : wsSessions_) n += session->closed ? 0 : 1;
  return n;
}

void FakeNode::acceptLoop() {
  for (;;) {
    auto socket = std::make_shared<tcp::socket>(io_);
    beast::error_code ec;
    acceptor_.accept(*socket, ec);
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    if (ec) continue;
    sockets_.push_back(socket);
    threads_.emplace_back([this, socket] { serve(socket); });
  }
}

void FakeNode::serve(std::shared_ptr<tcp::socket> socket) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> request;
    beast::error_code ec;
    http::read(*socket, buffer, request, ec);
    if (ec) return;
    if (websocket::is_upgrade(request)) {
      serveWebSocket(socket, &request);
      return;
    }
    RecordedRequest recorded;
    recorded.target = std::string(request.target());
    recorded.body = request.body();
    recorded.parsed = nlohmann::json::parse(recorded.body, nullptr, false);
    if (recorded.parsed.is_discarded()) recorded.parsed = nullptr;
    Handler handler;
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(recorded);
      handler = handler_;
    }
    FakeReply reply = handler(recorded);
    if (reply.kind == FakeReply::Kind::hang) {
      std::unique_lock lock(mutex_);
      wsCondition_.wait(lock, [&] { return stopping_.load(); });
      return;
    }
    if (reply.kind == FakeReply::Kind::close) {
      ::shutdown(socket->native_handle(), SHUT_RDWR);
      return;
    }
    http::response<http::string_body> response{static_cast<http::status>(reply.status),
                                               request.version()};
    response.set(http::field::content_type, "application/json");
    response.body() = reply.body;
    response.keep_alive(request.keep_alive());
    response.prepare_payload();
    http::write(*socket, response, ec);
    if (ec || !request.keep_alive()) return;
  }
}

void FakeNode::serveWebSocket(std::shared_ptr<tcp::socket> socket, void* upgrade) {
  auto& request = *static_cast<http::request<http::string_body>*>(upgrade);
  websocket::stream<tcp::socket&> ws(*socket);
  beast::error_code ec;
  ws.accept(request, ec);
  if (ec) return;
  beast::flat_buffer buffer;
  ws.read(buffer, ec);
  if (ec) return;
  auto subscribe = nlohmann::json::parse(beast::buffers_to_string(buffer.data()), nullptr, false);
  if (subscribe.is_discarded() || subscribe.value("method", "") != "subscribe") return;
  ++subscribes_;
  ws.text(true);
  if (autoAck_) {
    ws.write(boost::asio::buffer(rpcResult(subscribe["id"], "{}")), ec);
    if (ec) return;
  }
  auto session = std::make_shared<WsSession>();
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    wsSessions_.push_back(session);
  }
  for (;;) {
    std::string message;
    {
      std::unique_lock lock(mutex_);
      wsCondition_.wait(lock, [&] { return session->closed || !session->outbox.empty(); });
      if (session->closed) break;
      message = std::move(session->outbox.front());
      session->outbox.pop_front();
    }
    ws.write(boost::asio::buffer(message), ec);
    if (ec) break;
  }
  std::lock_guard lock(mutex_);
  session->closed = true;
  ::shutdown(socket->native_handle(), SHUT_RDWR);
}

}  // namespace pocket::test
