#include "edge/http_server.h"

#include <array>
#include <optional>
#include <stdexcept>
#include <unordered_set>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>

namespace pocket::edge {

namespace beast = boost::beast;
using tcp = asio::ip::tcp;

std::string_view httpRefusalName(HttpRefusal refusal) {
  switch (refusal) {
    case HttpRefusal::malformedRequest:
      return "malformed_request";
    case HttpRefusal::bodyTooLarge:
      return "body_too_large";
    case HttpRefusal::headerTooLarge:
      return "header_too_large";
    case HttpRefusal::idleTimeout:
      return "idle_timeout";
    case HttpRefusal::headerTimeout:
      return "header_timeout";
    case HttpRefusal::bodyTimeout:
      return "body_timeout";
    case HttpRefusal::writeTimeout:
      return "write_timeout";
    case HttpRefusal::acceptFailed:
      return "accept_failed";
  }
  return "unknown";
}

struct HttpServer::Core {
  Core(EventLoops& l, const ServerLimits& lim, HttpHandler h, util::MetricsRegistry& metrics,
       const std::string& serverName, util::LogSink& lg)
      : loops(l), limits(lim), handler(std::move(h)), name(serverName), log(lg) {
    auto& family = metrics.counter(
        "edge_http_refusals_total",
        "Requests and connections the HTTP server ended on its own, by server and reason.",
        {"server", "reason"});
    for (std::size_t i = 0; i < kHttpRefusalCount; ++i) {
      refusals[i] = &family.with({serverName, std::string(httpRefusalName(static_cast<HttpRefusal>(i)))});
    }
  }
  // Counts and logs one refusal; `detail` says what happened in words.
  void refuse(HttpRefusal refusal, std::string_view detail) {
    refusals[static_cast<std::size_t>(refusal)]->inc();
    util::LogLine(log, util::LogLevel::debug, "http_refused")
        .kv("server", name)
        .kv("reason", httpRefusalName(refusal))
        .kv("detail", detail);
  }
  EventLoops& loops;
  ServerLimits limits;
  HttpHandler handler;
  std::string name;
  util::LogSink& log;
  std::array<util::Counter*, kHttpRefusalCount> refusals{};
  std::vector<std::unique_ptr<Loop>> perLoop;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> inFlight{0};
  std::atomic<std::uint64_t> connections{0};
};

struct HttpServer::Loop {
  Loop(unsigned i, asio::io_context& c) : index(i), ctx(c), acceptor(c) {}
  unsigned index;
  asio::io_context& ctx;
  tcp::acceptor acceptor;
  std::unordered_set<HttpConnection*> connections;  // touched only on this loop's thread
  // Answers ready in this round of handlers, written together after it (see queueWrite).
  std::vector<std::shared_ptr<HttpConnection>> pendingWrites;
  bool flushPosted = false;
};

class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(std::shared_ptr<HttpServer::Core> core, HttpServer::Loop& loop, tcp::socket socket)
      : core_(std::move(core)), loop_(loop), stream_(std::move(socket)) {
    core_->connections.fetch_add(1, std::memory_order_relaxed);
    loop_.connections.insert(this);
  }
  ~HttpConnection() {
    loop_.connections.erase(this);
    core_->connections.fetch_sub(1, std::memory_order_relaxed);
  }

  void start() {
    beast::error_code ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);
    // Beast reads at most max(512, free capacity) bytes per call: room for a whole typical relay
    // request makes it one recv instead of two or three.
    buffer_.reserve(kReadReserve);
    readHeader();
  }

  asio::io_context& ctx() { return loop_.ctx; }
  std::chrono::steady_clock::time_point arrival() const { return arrival_; }

  // On the loop thread: the handler's answer.
  void answer(HttpResponse&& response) {
    if (!busy_) return;
    busy_ = false;
    core_->inFlight.fetch_sub(1, std::memory_order_relaxed);
    bool keepAlive = keepAlive_ && !closeAfter_ && !core_->stopping.load(std::memory_order_relaxed);
    response.version(version_);
    response.keep_alive(keepAlive);
    response.prepare_payload();
    serialize(response);
    writing_ = true;
    keepAliveAfterWrite_ = keepAlive;
    queueWrite();
  }

  // Written by the loop's flush, after the handlers already queued have run.
  void startWrite() {
    stream_.expires_after(core_->limits.readTimeout);
    asio::async_write(stream_, asio::buffer(out_),
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        self->onWritten(ec);
                      });
  }

  // On the loop thread: the handler gave up without answering.
  void abandon() {
    if (!busy_) return;
    busy_ = false;
    core_->inFlight.fetch_sub(1, std::memory_order_relaxed);
    close();
  }

  // On the loop thread, at shutdown.
  void closeIfIdle() {
    closeAfter_ = true;
    if (!busy_ && !writing_) close();
  }

 private:
  void readHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(core_->limits.maxHeaderBytes));
    parser_->body_limit(core_->limits.maxBodyBytes);
    stream_.expires_after(core_->limits.idleTimeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              self->onHeader(ec);
                            });
  }

  void onHeader(beast::error_code ec) {
    if (ec) return onReadError(ec);
    if (parser_->is_done()) return dispatchRequest();
    readingBody_ = true;
    const auto& header = parser_->get();
    stream_.expires_after(core_->limits.readTimeout);
    auto expect = header[http::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = shared_from_this()](beast::error_code wec, std::size_t) {
                          if (wec) return self->close();
                          self->readBody();
                        });
      return;
    }
    readBody();
  }

  void readBody() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->onReadError(ec);
                       self->dispatchRequest();
                     });
  }

  void onReadError(beast::error_code ec) {
    if (ec == beast::error::timeout) {
      if (readingBody_) {
        core_->refuse(HttpRefusal::bodyTimeout, "request body not complete in time");
      } else if (parser_->got_some() || buffer_.size() > 0) {
        core_->refuse(HttpRefusal::headerTimeout, "request header not complete in time");
      } else {
        core_->refuse(HttpRefusal::idleTimeout, "no request on an open connection");
      }
      return close();
    }
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof) {
      return close();  // the client went away, or the server is stopping
    }
    http::status status = http::status::bad_request;
    HttpRefusal refusal = HttpRefusal::malformedRequest;
    std::string what = "malformed HTTP request: " + ec.message();
    if (ec == http::error::body_limit) {
      status = http::status::payload_too_large;
      refusal = HttpRefusal::bodyTooLarge;
      what = "request body exceeds the limit of " + std::to_string(core_->limits.maxBodyBytes) +
             " bytes";
    } else if (ec == http::error::header_limit) {
      status = http::status::request_header_fields_too_large;
      refusal = HttpRefusal::headerTooLarge;
      what = "request header exceeds the limit of " +
             std::to_string(core_->limits.maxHeaderBytes) + " bytes";
    }
    core_->refuse(refusal, what);
    // The rest of the request is unread: answer and close.
    closeAfter_ = true;
    keepAlive_ = false;
    version_ = 11;
    busy_ = true;
    core_->inFlight.fetch_add(1, std::memory_order_relaxed);
    answer(textResponse(status, what + "\n"));
  }

  void dispatchRequest() {
    readingBody_ = false;
    arrival_ = std::chrono::steady_clock::now();
    HttpRequest request = parser_->release();
    parser_.reset();
    keepAlive_ = request.keep_alive();
    version_ = request.version();
    busy_ = true;
    core_->inFlight.fetch_add(1, std::memory_order_relaxed);
    stream_.expires_never();
    RequestContext context{loop_.index, arrival_};
    core_->handler(context, std::move(request), Responder(shared_from_this()));
  }

  void onWritten(beast::error_code ec) {
    writing_ = false;
    if (ec == beast::error::timeout) {
      core_->refuse(HttpRefusal::writeTimeout, "the client did not read its response in time");
    }
    if (ec || !keepAliveAfterWrite_ || closeAfter_) return close();
    out_.clear();
    readHeader();
  }

  // The response as one buffer (status line, fields, body), written with one send: what
  // Beast's serializer would write, without its per-field buffer sequence.
  void serialize(const HttpResponse& response) {
    const std::string& body = response.body();
    std::size_t size = 32 + body.size();
    for (const auto& field : response) size += field.name_string().size() + field.value().size() + 4;
    out_.clear();
    out_.reserve(size);
    out_ += response.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    out_ += std::to_string(response.result_int());
    out_ += ' ';
    out_.append(response.reason().data(), response.reason().size());
    out_ += "\r\n";
    for (const auto& field : response) {
      out_.append(field.name_string().data(), field.name_string().size());
      out_ += ": ";
      out_.append(field.value().data(), field.value().size());
      out_ += "\r\n";
    }
    out_ += "\r\n";
    out_ += body;
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  static constexpr std::size_t kReadReserve = 8192;

  std::shared_ptr<HttpServer::Core> core_;
  HttpServer::Loop& loop_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  // Answers completed in one round of the loop's handlers go out back to back at its end, so that
  // a client with several answers pending is woken once rather than once per answer.
  void queueWrite() {
    loop_.pendingWrites.push_back(shared_from_this());
    if (loop_.flushPosted) return;
    loop_.flushPosted = true;
    asio::post(loop_.ctx, [&loop = loop_] {
      loop.flushPosted = false;
      auto writes = std::move(loop.pendingWrites);
      loop.pendingWrites.clear();
      for (auto& connection : writes) connection->startWrite();
    });
  }

  std::string out_;  // the response being written
  bool keepAliveAfterWrite_ = true;  // the answer being written keeps the connection open
  std::chrono::steady_clock::time_point arrival_;
  unsigned version_ = 11;
  bool keepAlive_ = true;
  bool busy_ = false;        // a request is with the handler
  bool readingBody_ = false;  // the header of the current request is in, its body is not
  bool writing_ = false;     // a response is being written
  bool closeAfter_ = false;  // close once the current response is out
};

Responder::Responder(std::shared_ptr<HttpConnection> connection)
    : connection_(std::move(connection)) {
}

Responder& Responder::operator=(Responder&& other) noexcept {
  if (this != &other) {
    Responder dropped(std::move(*this));
    connection_ = std::move(other.connection_);
  }
  return *this;
}

Responder::~Responder() {
  if (!connection_) return;
  auto& ctx = connection_->ctx();
  if (ctx.stopped()) return;  // the loop is going away; so is the connection
  asio::dispatch(ctx, [c = std::move(connection_)] { c->abandon(); });
}

void Responder::send(HttpResponse&& response) {
  if (!connection_) return;
  auto& ctx = connection_->ctx();
  if (ctx.stopped()) {
    connection_.reset();
    return;
  }
  asio::dispatch(ctx, [c = std::move(connection_), r = std::move(response)]() mutable {
    c->answer(std::move(r));
  });
}

std::chrono::steady_clock::time_point Responder::arrival() const {
  return connection_ ? connection_->arrival() : std::chrono::steady_clock::time_point{};
}

HttpServer::HttpServer(EventLoops& loops, const Endpoint& endpoint, const ServerLimits& limits,
                       HttpHandler handler, util::MetricsRegistry& metrics,
                       const std::string& serverName, util::LogSink& log)
    : core_(std::make_shared<Core>(loops, limits, std::move(handler), metrics, serverName, log)) {
  beast::error_code ec;
  auto address = asio::ip::make_address(endpoint.host, ec);
  if (ec) throw std::runtime_error("listener " + endpoint.host + ": not an IP address");
  std::uint16_t port = endpoint.port;
  for (unsigned i = 0; i < loops.size(); ++i) {
    auto loop = std::make_unique<Loop>(i, loops.loop(i));
    tcp::endpoint ep(address, port);
    loop->acceptor.open(ep.protocol());
    loop->acceptor.set_option(asio::socket_base::reuse_address(true));
    int one = 1;
    if (::setsockopt(loop->acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      throw std::runtime_error("listener: SO_REUSEPORT is not available");
    }
    loop->acceptor.bind(ep, ec);
    if (ec) {
      throw std::runtime_error("listener " + endpoint.host + ":" + std::to_string(port) +
                               ": cannot bind: " + ec.message());
    }
    loop->acceptor.listen(asio::socket_base::max_listen_connections);
    if (port == 0) port = loop->acceptor.local_endpoint().port();
    core_->perLoop.push_back(std::move(loop));
  }
  port_ = port;
}

HttpServer::~HttpServer() {
  core_->stopping = true;
  for (auto& loop : core_->perLoop) {
    beast::error_code ec;
    loop->acceptor.close(ec);
  }
}

std::uint64_t HttpServer::inFlight() const {
  return core_->inFlight.load();
}

std::uint64_t HttpServer::openConnections() const {
  return core_->connections.load();
}

void HttpServer::start() {
  for (auto& loop : core_->perLoop) {
    asio::post(loop->ctx, [core = core_, l = loop.get()] { accept(core, *l); });
  }
}

void HttpServer::accept(const std::shared_ptr<Core>& core, Loop& loop) {
  loop.acceptor.async_accept(loop.ctx, [core, &loop](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || core->stopping.load()) return;
      // Out of descriptors and the like: log, and keep accepting after a breath.
      core->refusals[static_cast<std::size_t>(HttpRefusal::acceptFailed)]->inc();
      util::LogLine(core->log, util::LogLevel::warn, "accept_failed")
          .kv("server", core->name)
          .kv("reason", "accept(2) failed; accepting again in 50 ms")
          .kv("error", ec.message());
      auto timer = std::make_shared<asio::steady_timer>(loop.ctx, std::chrono::milliseconds(50));
      timer->async_wait([core, &loop, timer](beast::error_code) {
        if (!core->stopping.load()) accept(core, loop);
      });
      return;
    }
    std::make_shared<HttpConnection>(core, loop, std::move(socket))->start();
    accept(core, loop);
  });
}

void HttpServer::shutdown() {
  if (core_->stopping.exchange(true)) return;
  for (auto& loop : core_->perLoop) {
    asio::post(loop->ctx, [core = core_, l = loop.get()] {
      beast::error_code ec;
      l->acceptor.close(ec);
      // closeIfIdle may destroy connections (erasing from the set): iterate over a copy.
      std::vector<HttpConnection*> connections(l->connections.begin(), l->connections.end());
      for (auto* c : connections) {
        if (l->connections.count(c)) c->closeIfIdle();
      }
    });
  }
}

HttpResponse textResponse(http::status status, std::string body, unsigned version) {
  HttpResponse response(status, version);
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.body() = std::move(body);
  return response;
}

}  // namespace pocket::edge
