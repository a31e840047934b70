#pragma once
// A loopback stand-in for a CometBFT full node in tests: JSON-RPC over HTTP (POST /) answered by a
// handler the test supplies, and a /websocket endpoint that acknowledges `subscribe` and then
// sends whatever the test pushes. Every HTTP request is recorded.
//
// Threading: one acceptor thread and one thread per connection; every method is thread-safe.
// The destructor closes all sockets and joins the threads.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <nlohmann/json.hpp>

namespace pocket::test {

struct FakeReply {
  enum class Kind { reply, hang, close };
  Kind kind = Kind::reply;
  int status = 200;
  std::string body;

  static FakeReply json(std::string body) { return FakeReply{Kind::reply, 200, std::move(body)}; }
  static FakeReply http(int status, std::string body) {
    return FakeReply{Kind::reply, status, std::move(body)};
  }
  // Never answers (until the server shuts down).
  static FakeReply hang() { return FakeReply{Kind::hang, 0, {}}; }
  // Closes the connection without an answer.
  static FakeReply close() { return FakeReply{Kind::close, 0, {}}; }
};

struct RecordedRequest {
  std::string target;          // HTTP path
  std::string body;            // raw body
  nlohmann::json parsed;       // the body as JSON (null if it was not JSON)
  std::string method() const;  // JSON-RPC method
};

// A JSON-RPC success reply with this id and result (JSON text).
std::string rpcResult(const nlohmann::json& id, const std::string& resultJson);
std::string rpcError(const nlohmann::json& id, int code, const std::string& message,
                     const std::string& data);

class FakeNode {
 public:
  using Handler = std::function<FakeReply(const RecordedRequest&)>;

  explicit FakeNode(Handler handler);
  ~FakeNode();
  FakeNode(const FakeNode&) = delete;
  FakeNode& operator=(const FakeNode&) = delete;

  std::uint16_t port() const { return port_; }
  std::string rpcUrl() const;
  std::string websocketUrl() const;

  std::vector<RecordedRequest> requests() const;
  std::size_t requestCount(const std::string& method) const;
  void setHandler(Handler handler);

  // WebSocket side.
  void setAutoAck(bool ack) { autoAck_ = ack; }
  // Sends a text message to every subscribed WebSocket client.
  void pushWs(const std::string& message);
  // Closes every WebSocket connection.
  void dropWs();
  // Number of subscribe requests received so far.
  int subscribeCount() const { return subscribes_.load(); }
  int openWebSockets() const;

 private:
  struct WsSession;
  void acceptLoop();
  void serve(std::shared_ptr<boost::asio::ip::tcp::socket> socket);
  void serveWebSocket(std::shared_ptr<boost::asio::ip::tcp::socket> socket, void* request);

  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> autoAck_{true};
  std::atomic<int> subscribes_{0};

  mutable std::mutex mutex_;
  Handler handler_;
  std::vector<RecordedRequest> requests_;
  std::vector<std::shared_ptr<boost::asio::ip::tcp::socket>> sockets_;
  std::vector<std::shared_ptr<WsSession>> wsSessions_;
  std::vector<std::thread> threads_;
  std::condition_variable wsCondition_;
  std::thread acceptThread_;
};

}  // namespace pocket::test
