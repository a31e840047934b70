#include "test/devnet/rpc_server.h"

#include <array>
#include <chrono>
#include <deque>
#include <list>
#include <stdexcept>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>

namespace pocket::devnet {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

std::string_view errorMessage(int code) {
  switch (code) {
    case kRpcParseError:
      return "Parse error. Invalid JSON";
    case kRpcInvalidRequest:
      return "Invalid Request";
    case kRpcMethodNotFound:
      return "Method not found";
    case kRpcInvalidParams:
      return "Invalid params";
    case kRpcInternalError:
      return "Internal error";
    default:
      return "Server error";
  }
}

Json errorResponse(const Json& id, int code, const std::string& data) {
  Json error = Json::object();
  error["code"] = code;
  error["message"] = errorMessage(code);
  if (!data.empty()) error["data"] = data;
  Json out = Json::object();
  out["jsonrpc"] = "2.0";
  out["id"] = id;
  out["error"] = std::move(error);
  return out;
}

Json successResponse(const Json& id, Json result) {
  Json out = Json::object();
  out["jsonrpc"] = "2.0";
  out["id"] = id;
  out["result"] = std::move(result);
  return out;
}

Json eventMapJson(const EventMap& events) {
  Json out = Json::object();
  for (const auto& [key, values] : events) out[key] = values;
  return out;
}

// Percent-decoding of a URI component ('+' is a space, as Go's ParseQuery reads it).
std::string percentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < text.size() + 0 && i + 2 <= text.size() - 1 + 0) {
      auto hexValue = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      int hi = hexValue(text[i + 1]);
      int lo = hexValue(text[i + 2]);
      if (hi < 0 || lo < 0) {
        out.push_back(c);
        continue;
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::map<std::string, std::string> parseQueryString(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    std::string key = percentDecode(pair.substr(0, eq));
    std::string value =
        eq == std::string_view::npos ? std::string() : percentDecode(pair.substr(eq + 1));
    out.emplace(std::move(key), std::move(value));  // the first value wins, as r.FormValue does
  }
  return out;
}

// An id as CometBFT accepts it: a string, or a number truncated to an integer.
bool validId(const Json& id) {
  return id.is_string() || id.is_number();
}

Json normalizeId(const Json& id) {
  if (id.is_number_float()) return static_cast<std::int64_t>(id.get<double>());
  return id;
}

class WsSession;

}  // namespace

struct RpcServer::Impl : std::enable_shared_from_this<RpcServer::Impl> {
  // Writes a deferred reply: the whole JSON-RPC response, and whether it is an error.
  using Replier = std::function<void(Json response, bool failed)>;
  // A broadcast_tx_commit waiting for its tx's block.
  struct PendingCommit {
    Json id;
    AwaitTx await;
    Replier reply;
    std::unique_ptr<asio::steady_timer> timer;
  };

  Impl(asio::io_context& ioContext, RpcDispatcher& rpcDispatcher, util::LogSink& logSink,
       util::MetricsRegistry& registry, std::chrono::milliseconds broadcastCommitTimeout)
      : io(ioContext),
        acceptor(ioContext),
        dispatcher(rpcDispatcher),
        log(logSink),
        metrics(registry),
        requests(registry.counter("devnet_rpc_requests_total",
                                  "JSON-RPC calls received, by transport", {"transport"})),
        rejections(registry.counter("devnet_rpc_rejections_total",
                                    "JSON-RPC calls answered with an error, by reason",
                                    {"reason"})),
        eventsSent(registry
                       .counter("devnet_rpc_events_sent_total",
                                "subscription events written to WebSocket clients")
                       .with()),
        commitTimeout(broadcastCommitTimeout) {}

  void accept();
  // Answers one JSON-RPC request object (POST or WebSocket); nullopt for a notification, or when
  // the reply was deferred to `later` (broadcast_tx_commit; `later` is null inside a batch).
  std::optional<Json> handleRequest(const Json& request, bool overWebSocket, WsSession* ws,
                                    const Replier* later);
  // `deferred` is set when the single request's reply went to `later`.
  Json handleHttpBody(const std::string& body, http::status& status, bool& empty,
                      const Replier& later, bool& deferred);
  // Registers a broadcast_tx_commit waiting for its tx (answered by answerCommits or its timer).
  void awaitTx(Json id, AwaitTx await, Replier reply);
  void answerCommits(const PublishedEvent& event);
  void closeWebSockets();
  void reject(std::string_view reason, std::string_view detail) {
    rejections.with({std::string(reason)}).inc();
    util::LogLine(log, util::LogLevel::info, "rpc_rejected")
        .kv("reason", reason)
        .kv("detail", detail);
  }

  asio::io_context& io;
  tcp::acceptor acceptor;
  RpcDispatcher& dispatcher;
  util::LogSink& log;
  util::MetricsRegistry& metrics;
  util::Family<util::Counter>& requests;
  util::Family<util::Counter>& rejections;
  util::Counter& eventsSent;
  std::chrono::milliseconds commitTimeout;
  std::set<std::shared_ptr<WsSession>> sessions;
  std::list<std::shared_ptr<PendingCommit>> commits;
  bool closed = false;
};

namespace {

class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(std::shared_ptr<RpcServer::Impl> server, tcp::socket socket)
      : server_(std::move(server)), ws_(std::move(socket)) {}

  void start(http::request<http::string_body> request) {
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.read_message_max(kMaxBodyBytes);
    auto self = shared_from_this();
    ws_.async_accept(request, [self](beast::error_code ec) {
      if (ec) return self->finish();
      self->read();
    });
  }

  void send(const Json& message) {
    outbox_.push_back(message.dump());
    if (outbox_.size() == 1) writeNext();
  }

  std::size_t subscriptionCount() const { return subscriptions_.size(); }

  // subscribe / unsubscribe / unsubscribe_all; the error text when refused.
  std::optional<std::string> subscribe(const Json& id, const std::string& text) {
    std::size_t clients = 0;
    for (const auto& session : server_->sessions)
      clients += session->subscriptions_.empty() ? 0 : 1;
    if (subscriptions_.empty() && clients >= kMaxSubscriptionClients) {
      return fmt::format("max_subscription_clients {} reached", kMaxSubscriptionClients);
    }
    if (subscriptions_.size() >= kMaxSubscriptionsPerClient) {
      return fmt::format("max_subscriptions_per_client {} reached", kMaxSubscriptionsPerClient);
    }
    if (text.size() > kMaxQueryLength) return std::string("maximum query length exceeded");
    auto query = EventQuery::parse(text);
    if (!query) return query.error().message;
    for (const Subscription& existing : subscriptions_) {
      if (existing.query.text() == text) return std::string("already subscribed");
    }
    subscriptions_.push_back(Subscription{std::move(*query), id});
    return std::nullopt;
  }
  std::optional<std::string> unsubscribe(const std::string& text) {
    for (auto it = subscriptions_.begin(); it != subscriptions_.end(); ++it) {
      if (it->query.text() == text) {
        subscriptions_.erase(it);
        return std::nullopt;
      }
    }
    return std::string("subscription not found");
  }
  std::optional<std::string> unsubscribeAll() {
    if (subscriptions_.empty()) return std::string("subscription not found");
    subscriptions_.clear();
    return std::nullopt;
  }

  void publish(const PublishedEvent& event) {
    for (const Subscription& subscription : subscriptions_) {
      if (!subscription.query.matches(event.events)) continue;
      Json result = Json::object();
      result["query"] = subscription.query.text();
      result["data"] = event.data;
      result["events"] = eventMapJson(event.events);
      send(successResponse(subscription.id, std::move(result)));
      server_->eventsSent.inc();
    }
  }

  void close() {
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
  }

 private:
  struct Subscription {
    EventQuery query;
    Json id;
  };

  void read() {
    auto self = shared_from_this();
    ws_.async_read(buffer_, [self](beast::error_code ec, std::size_t) {
      if (ec) return self->finish();
      std::string text = beast::buffers_to_string(self->buffer_.data());
      self->buffer_.consume(self->buffer_.size());
      self->onMessage(text);
      self->read();
    });
  }

  void onMessage(const std::string& text) {
    server_->requests.with({"websocket"}).inc();
    Json request = Json::parse(text, nullptr, false);
    if (request.is_discarded() || !request.is_object()) {
      server_->reject("parse_error", "websocket message is not a JSON-RPC request object");
      send(errorResponse(nullptr, kRpcParseError, "error unmarshaling request: invalid JSON"));
      return;
    }
    std::weak_ptr<WsSession> weak = weak_from_this();
    RpcServer::Impl::Replier later = [weak](Json response, bool) {
      if (auto self = weak.lock()) self->send(response);
    };
    std::optional<Json> response = server_->handleRequest(request, true, this, &later);
    if (response) send(*response);
  }

  void writeNext() {
    auto self = shared_from_this();
    ws_.text(true);
    ws_.async_write(asio::buffer(outbox_.front()), [self](beast::error_code ec, std::size_t) {
      if (ec) return self->finish();
      self->outbox_.pop_front();
      if (!self->outbox_.empty()) self->writeNext();
    });
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    subscriptions_.clear();
    server_->sessions.erase(shared_from_this());
  }

  std::shared_ptr<RpcServer::Impl> server_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  std::deque<std::string> outbox_;
  std::vector<Subscription> subscriptions_;
  bool finished_ = false;
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(std::shared_ptr<RpcServer::Impl> server, tcp::socket socket)
      : server_(std::move(server)), stream_(std::move(socket)) {}

  void read() {
    parser_.emplace();
    parser_->body_limit(kMaxBodyBytes);
    parser_->header_limit(kMaxHeaderBytes);
    auto self = shared_from_this();
    http::async_read(stream_, buffer_, *parser_,
                     [self](beast::error_code ec, std::size_t) { self->onRead(ec); });
  }

 private:
  void onRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset) {
      return;
    }
    if (ec == http::error::body_limit) {
      server_->reject("body_too_large", "request body larger than 1000000 bytes");
      Json body = errorResponse(nullptr, kRpcInvalidRequest,
                                "error reading request body: http: request body too large");
      return write(http::status::bad_request, body.dump(), "application/json", false);
    }
    if (ec) return;
    http::request<http::string_body> request = parser_->release();
    std::string target(request.target());
    std::string path = target.substr(0, target.find('?'));
    std::string query = path.size() < target.size() ? target.substr(path.size() + 1) : "";

    // A test-requested RPC outage: everything but the devnet's own endpoints goes unanswered.
    if (server_->dispatcher.rpcOutage() && !path.starts_with("/devnet/") && path != "/metrics") {
      server_->reject("rpc_outage", "connection closed unanswered during an RPC outage: " + path);
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream_.socket().close(ignored);
      return;
    }
    if (path == "/websocket" && websocket::is_upgrade(request)) {
      auto ws = std::make_shared<WsSession>(server_, stream_.release_socket());
      server_->sessions.insert(ws);
      ws->start(std::move(request));
      return;
    }
    bool keepAlive = request.keep_alive();
    if (path == "/metrics") {
      return write(http::status::ok, server_->metrics.render(), "text/plain; version=0.0.4",
                   keepAlive);
    }
    if (path == "/devnet/state") {
      return write(http::status::ok, server_->dispatcher.devnetState().dump(), "application/json",
                   keepAlive);
    }
    if (path.starts_with("/devnet/")) return control(request, path.substr(8), query, keepAlive);
    if (path == "/" || path == "/v1" || path == "/v1/") {
      if (request.body().empty()) {
        return write(
            http::status::ok,
            "<html><body><br>Available endpoints: see the CometBFT RPC reference</body></html>",
            "text/html", keepAlive);
      }
      server_->requests.with({"http_post"}).inc();
      http::status status = http::status::ok;
      bool empty = false;
      bool deferred = false;
      auto self = shared_from_this();
      RpcServer::Impl::Replier later = [self, keepAlive](Json response, bool) {
        self->write(http::status::ok, response.dump(), "application/json", keepAlive);
      };
      Json body = server_->handleHttpBody(request.body(), status, empty, later, deferred);
      if (deferred) return;
      return write(status, empty ? std::string() : body.dump(), "application/json", keepAlive);
    }
    std::string method = path.substr(1);
    if (method.starts_with("v1/")) method = method.substr(3);
    auto names = server_->dispatcher.argumentNames(method);
    bool wsOnly = method == "subscribe" || method == "unsubscribe" || method == "unsubscribe_all";
    if (!names && !wsOnly) {
      server_->reject("not_found", path);
      return write(http::status::not_found, "404 page not found\n", "text/plain; charset=utf-8",
                   keepAlive);
    }
    server_->requests.with({"http_get"}).inc();
    const Json id = -1;
    if (wsOnly) {
      server_->reject("method_not_found", method + " is only served over /websocket");
      return write(http::status::not_found, errorResponse(id, kRpcMethodNotFound, "").dump(),
                   "application/json", keepAlive);
    }
    RpcParams params = RpcParams::fromUri(parseQueryString(query));
    RpcOutcome outcome = server_->dispatcher.call(method, params);
    if (auto* await = std::get_if<AwaitTx>(&outcome)) {
      auto self = shared_from_this();
      return server_->awaitTx(id, std::move(*await), [self, keepAlive](Json response, bool failed) {
        self->write(failed ? http::status::internal_server_error : http::status::ok,
                    response.dump(), "application/json", keepAlive);
      });
    }
    if (auto* error = std::get_if<RpcError>(&outcome)) {
      server_->reject(error->code == kRpcInvalidParams ? "invalid_params" : "internal_error",
                      error->data);
      return write(http::status::internal_server_error,
                   errorResponse(id, error->code, error->data).dump(), "application/json",
                   keepAlive);
    }
    write(http::status::ok, successResponse(id, std::move(std::get<Json>(outcome))).dump(),
          "application/json", keepAlive);
  }

  // POST /devnet/<action>?key=value: a test knob; its JSON answer, or {"error": text}.
  void control(const http::request<http::string_body>& request, const std::string& action,
               const std::string& query, bool keepAlive) {
    if (request.method() != http::verb::post) {
      server_->reject("control_refused", "/devnet/" + action + " needs POST");
      Json body = Json::object();
      body["error"] = "/devnet/" + action + " takes POST";
      return write(http::status::method_not_allowed, body.dump(), "application/json", keepAlive);
    }
    std::map<std::string, std::string> arguments;
    for (const auto& [key, value] : parseQueryString(query)) arguments[key] = value;
    RpcOutcome outcome = server_->dispatcher.control(action, arguments);
    if (auto* error = std::get_if<RpcError>(&outcome)) {
      server_->reject("control_refused", error->data);
      Json body = Json::object();
      body["error"] = error->data;
      return write(
          error->code == kRpcMethodNotFound ? http::status::not_found : http::status::bad_request,
          body.dump(), "application/json", keepAlive);
    }
    Json& answer = std::get<Json>(outcome);
    util::LogLine(server_->log, util::LogLevel::info, "devnet_control")
        .kv("action", action)
        .kv("answer", answer.dump());
    if (server_->dispatcher.rpcOutage()) server_->closeWebSockets();
    write(http::status::ok, answer.dump(), "application/json", keepAlive);
  }

  void write(http::status status, std::string body, std::string_view contentType, bool keepAlive) {
    auto response = std::make_shared<http::response<http::string_body>>(status, 11);
    response->set(http::field::content_type, std::string(contentType));
    response->keep_alive(keepAlive);
    response->body() = std::move(body);
    response->prepare_payload();
    auto self = shared_from_this();
    http::async_write(stream_, *response, [self, response](beast::error_code ec, std::size_t) {
      if (ec) {
        beast::error_code ignored;
        self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        return;
      }
      if (!response->keep_alive()) return self->lingeringClose();
      self->read();
    });
  }

  // Closes after a final reply without losing it: the client may still be sending a body the
  // server refused (too large). Closing a socket with unread input makes the kernel answer with a
  // reset, which can discard the reply before the client reads it; so the send side is shut
  // first and what is still arriving is read and thrown away until the client closes, 4 MiB
  // have been discarded, or two seconds have passed.
  void lingeringClose() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(2));
    drain(0);
  }
  void drain(std::size_t discarded) {
    auto self = shared_from_this();
    auto scratch = std::make_shared<std::array<char, 16384>>();
    stream_.async_read_some(asio::buffer(*scratch), [self, scratch, discarded](
                                                        beast::error_code ec, std::size_t n) {
      const std::size_t total = discarded + n;
      if (ec || total > kLingerDiscardBytes) {
        beast::error_code ignored;
        self->stream_.socket().close(ignored);
        return;
      }
      self->drain(total);
    });
  }

  std::shared_ptr<RpcServer::Impl> server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

void RpcServer::Impl::accept() {
  auto self = shared_from_this();
  acceptor.async_accept([self](beast::error_code ec, tcp::socket socket) {
    if (self->closed) return;
    if (!ec) std::make_shared<HttpSession>(self, std::move(socket))->read();
    self->accept();
  });
}

std::optional<Json> RpcServer::Impl::handleRequest(const Json& request, bool overWebSocket,
                                                   WsSession* ws, const Replier* later) {
  auto idIt = request.find("id");
  if (idIt == request.end() || idIt->is_null()) return std::nullopt;  // a notification
  if (!validId(*idIt)) {
    reject("parse_error", "request id is neither a string nor a number");
    return errorResponse(nullptr, kRpcParseError, "error unmarshaling request: invalid id type");
  }
  Json id = normalizeId(*idIt);
  auto methodIt = request.find("method");
  std::string method = methodIt != request.end() && methodIt->is_string()
                           ? methodIt->get<std::string>()
                           : std::string();
  bool wsOnly = method == "subscribe" || method == "unsubscribe" || method == "unsubscribe_all";
  std::optional<std::vector<std::string_view>> names;
  if (wsOnly) {
    names = method == "unsubscribe_all" ? std::vector<std::string_view>{}
                                        : std::vector<std::string_view>{"query"};
  } else {
    names = dispatcher.argumentNames(method);
  }
  if (!names || (wsOnly && !overWebSocket)) {
    reject("method_not_found", method);
    return errorResponse(id, kRpcMethodNotFound, "");
  }
  auto paramsIt = request.find("params");
  Json params = paramsIt == request.end() ? Json(nullptr) : *paramsIt;
  auto parsed = RpcParams::fromJson(nlohmann::json::parse(params.dump()), *names);
  if (!parsed) {
    reject("invalid_params", parsed.error().message);
    return errorResponse(id, kRpcInvalidParams, parsed.error().message);
  }
  if (wsOnly) {
    std::optional<std::string> refused;
    if (method == "unsubscribe_all") {
      refused = ws->unsubscribeAll();
    } else {
      auto text = parsed->stringParam("query");
      if (!text) {
        reject("invalid_params", text.error().message);
        return errorResponse(id, kRpcInvalidParams, text.error().message);
      }
      refused = method == "subscribe" ? ws->subscribe(id, *text) : ws->unsubscribe(*text);
    }
    if (refused) {
      reject("subscription_refused", *refused);
      return errorResponse(id, kRpcInternalError, *refused);
    }
    return successResponse(id, Json::object());
  }
  RpcOutcome outcome = dispatcher.call(method, *parsed);
  if (auto* await = std::get_if<AwaitTx>(&outcome)) {
    if (later == nullptr) {
      // The tx is in the mempool; only the wait is not served inside a batch.
      const std::string text =
          "broadcast_tx_commit is not served inside a batch by pocket-devnet; the tx " +
          await->hash + " was accepted by CheckTx";
      reject("commit_in_batch", text);
      return errorResponse(id, kRpcInternalError, text);
    }
    awaitTx(id, std::move(*await), *later);
    return std::nullopt;
  }
  if (auto* error = std::get_if<RpcError>(&outcome)) {
    reject(error->code == kRpcInvalidParams ? "invalid_params" : "internal_error", error->data);
    return errorResponse(id, error->code, error->data);
  }
  return successResponse(id, std::move(std::get<Json>(outcome)));
}

void RpcServer::Impl::awaitTx(Json id, AwaitTx await, Replier reply) {
  auto pending = std::make_shared<PendingCommit>();
  pending->id = std::move(id);
  pending->await = std::move(await);
  pending->reply = std::move(reply);
  pending->timer = std::make_unique<asio::steady_timer>(io, commitTimeout);
  commits.push_back(pending);
  std::weak_ptr<Impl> weak = weak_from_this();
  std::weak_ptr<PendingCommit> weakPending = pending;
  pending->timer->async_wait([weak, weakPending](const beast::error_code& ec) {
    auto self = weak.lock();
    auto waiting = weakPending.lock();
    if (ec || !self || !waiting) return;
    self->commits.remove(waiting);
    const std::string text = "timed out waiting for tx to be included in a block";
    self->reject("commit_timeout", text + " " + waiting->await.hash);
    waiting->reply(errorResponse(waiting->id, kRpcInternalError, text), true);
  });
}

void RpcServer::Impl::answerCommits(const PublishedEvent& event) {
  if (commits.empty()) return;
  auto hashes = event.events.find("tx.hash");
  if (hashes == event.events.end() || hashes->second.empty()) return;
  const std::string& hash = hashes->second.front();
  for (auto it = commits.begin(); it != commits.end();) {
    std::shared_ptr<PendingCommit> pending = *it;
    if (pending->await.hash != hash) {
      ++it;
      continue;
    }
    it = commits.erase(it);
    pending->timer->cancel();
    const Json& txResult = event.data["value"]["TxResult"];
    Json result = Json::object();
    result["check_tx"] = pending->await.checkTx;
    result["tx_result"] = txResult["result"];
    result["hash"] = hash;
    result["height"] = txResult["height"];
    pending->reply(successResponse(pending->id, std::move(result)), false);
  }
}

void RpcServer::Impl::closeWebSockets() {
  std::vector<std::shared_ptr<WsSession>> open(sessions.begin(), sessions.end());
  if (!open.empty()) {
    reject("rpc_outage",
           fmt::format("{} WebSocket connections closed for an RPC outage", open.size()));
  }
  for (const auto& session : open) session->close();
}

Json RpcServer::Impl::handleHttpBody(const std::string& body, http::status& status, bool& empty,
                                     const Replier& later, bool& deferred) {
  Json parsed = Json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !(parsed.is_object() || parsed.is_array())) {
    reject("parse_error", "request body is not JSON");
    status = http::status::internal_server_error;
    return errorResponse(nullptr, kRpcParseError,
                         "error unmarshaling request: invalid character in request body");
  }
  std::vector<Json> requests;
  if (parsed.is_array()) {
    if (parsed.size() > kMaxBatchRequests) {
      reject("batch_too_large", fmt::format("{} requests", parsed.size()));
      status = http::status::bad_request;
      return errorResponse(nullptr, kRpcInvalidRequest,
                           fmt::format("maximum JSON-RPC batch size exceeded, got: {}, max: {}",
                                       parsed.size(), kMaxBatchRequests));
    }
    for (const Json& item : parsed) {
      if (!item.is_object()) {
        reject("parse_error", "batch element is not an object");
        status = http::status::internal_server_error;
        return errorResponse(nullptr, kRpcParseError,
                             "error unmarshaling request: batch element is not an object");
      }
      requests.push_back(item);
    }
  } else {
    requests.push_back(parsed);
  }
  std::vector<Json> responses;
  const bool single = !parsed.is_array();
  for (const Json& request : requests) {
    std::optional<Json> response =
        handleRequest(request, false, nullptr, single ? &later : nullptr);
    if (response) responses.push_back(std::move(*response));
  }
  // A single request whose reply went to `later` (an id'd request only answers nullopt then).
  if (single && responses.empty() && parsed.contains("id") && !parsed["id"].is_null() &&
      validId(parsed["id"])) {
    deferred = true;
  }
  empty = responses.empty();
  // CometBFT writes a single response as an object, several as an array.
  if (responses.size() == 1) return std::move(responses.front());
  Json out = Json::array();
  for (Json& response : responses) out.push_back(std::move(response));
  return out;
}

RpcServer::RpcServer(asio::io_context& io, const std::string& host, std::uint16_t port,
                     RpcDispatcher& dispatcher, util::LogSink& log, util::MetricsRegistry& metrics,
                     std::chrono::milliseconds commitTimeout)
    : impl_(std::make_shared<Impl>(io, dispatcher, log, metrics, commitTimeout)) {
  beast::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) throw std::runtime_error(fmt::format("--rpc: '{}' is not an IP address", host));
  tcp::endpoint endpoint(address, port);
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error(
        fmt::format("--rpc: cannot listen on {}:{}: {}", host, port, ec.message()));
  }
  impl_->accept();
}

RpcServer::~RpcServer() {
  close();
}

std::uint16_t RpcServer::port() const {
  return impl_->acceptor.local_endpoint().port();
}

void RpcServer::publish(const std::vector<PublishedEvent>& events) {
  for (const PublishedEvent& event : events) impl_->answerCommits(event);
  if (impl_->dispatcher.rpcOutage()) {
    impl_->closeWebSockets();
    return;
  }
  // Copy: a failing write may remove a session while iterating.
  std::vector<std::shared_ptr<WsSession>> sessions(impl_->sessions.begin(), impl_->sessions.end());
  for (const PublishedEvent& event : events) {
    for (const auto& session : sessions) session->publish(event);
  }
}

void RpcServer::close() {
  if (impl_->closed) return;
  impl_->closed = true;
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
  for (const auto& pending : impl_->commits) pending->timer->cancel();
  impl_->commits.clear();
  for (const auto& session : impl_->sessions) session->close();
}

}  // namespace pocket::devnet
