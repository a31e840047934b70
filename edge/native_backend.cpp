#include "edge/native_backend.h"

#include <strings.h>

#include <algorithm>
#include <chrono>
#include <list>
#include <unordered_map>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/parser.hpp>

namespace pocket::edge {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

std::optional<PlainHttpUrl> parsePlainHttpUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.size() <= kScheme.size() || strncasecmp(url.data(), kScheme.data(), kScheme.size()) != 0) {
    return std::nullopt;
  }
  url.remove_prefix(kScheme.size());
  std::size_t end = url.find_first_of("/?#");
  std::string_view authority = url.substr(0, end);
  std::string_view rest = end == std::string_view::npos ? std::string_view{} : url.substr(end);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  if (auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  PlainHttpUrl out;
  out.authority = std::string(authority);
  std::string_view host = authority;
  std::string_view port;
  if (authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
    }
  } else if (std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return std::nullopt;
  out.host = std::string(host);
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    unsigned long value = std::stoul(std::string(port));
    if (value == 0 || value > 65535) return std::nullopt;
    out.port = static_cast<std::uint16_t>(value);
  }
  out.target = rest.empty() || rest.front() != '/' ? "/" + std::string(rest) : std::string(rest);
  return out;
}

namespace {

constexpr std::size_t kMaxIdle = 1024;            // idle keep-alive connections per loop
constexpr std::uint32_t kHeaderLimit = 256 * 1024;  // response header bytes
constexpr std::chrono::seconds kMaxIdleAge{60};     // an idle connection older than this is closed
constexpr std::chrono::milliseconds kSweepTick{10};
constexpr std::size_t kIdleBufferBytes = 64 * 1024;  // read buffer kept by an idle connection  // deadline check period while calls are in flight

struct Connection {
  explicit Connection(asio::io_context& ctx) : socket(ctx) {}
  tcp::socket socket;
  beast::flat_buffer buffer;
  std::string key;  // host:port it is connected to
  Clock::time_point idleSince;
};

bool staleConnectionError(const beast::error_code& ec) {
  return ec == asio::error::eof || ec == http::error::end_of_stream ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted;
}

}  // namespace

struct NativeBackend::Impl : std::enable_shared_from_this<Impl> {
  struct Call {
    BackendRequest request;
    BackendClient::Callback done;
    PlainHttpUrl url;
    std::string key;
    std::string wire;  // the serialized request
    std::unique_ptr<Connection> connection;
    bool reused = false;    // the connection came from the pool
    bool retried = false;   // already moved to a fresh connection once
    bool connected = false;
    bool gotHeader = false;
    bool finished = false;
    std::optional<BackendFailure> timedOut;
    std::optional<http::response_parser<http::string_body>> parser;
    Clock::time_point connectDeadline;  // while connecting
    std::unique_ptr<tcp::resolver> resolver;  // only while a host name is being resolved
    Clock::time_point start;
    std::list<std::shared_ptr<Call>>::iterator position;
  };
  using CallPtr = std::shared_ptr<Call>;

  explicit Impl(asio::io_context& c) : ctx(c), sweepTimer(c) {}

  void send(BackendRequest request, PlainHttpUrl url, BackendClient::Callback done) {
    auto call = std::make_shared<Call>();
    call->start = Clock::now();
    call->key = url.host + ':' + std::to_string(url.port);
    call->url = std::move(url);
    call->done = std::move(done);
    call->request = std::move(request);
    serialize(*call);
    active.push_front(call);
    call->position = active.begin();
    if (auto pooled = acquire(call->key)) {
      call->connection = std::move(pooled);
      call->reused = true;
      call->connected = true;
      watchDeadlines();
      // Never call back inside send(): the write completes through the loop at the earliest.
      write(call);
      return;
    }
    connect(call);
  }

  // The request as curl sent it for the same BackendRequest: Host first, the given headers in
  // order, a body (with Content-Length) for every method but GET without a body and HEAD.
  static void serialize(Call& call) {
    const BackendRequest& rq = call.request;
    std::string_view method = rq.method.empty() ? std::string_view("GET") : std::string_view(rq.method);
    bool withBody = method != "HEAD" && !(method == "GET" && rq.body.empty());
    std::size_t size = method.size() + call.url.target.size() + call.url.authority.size() + 64 +
                       (withBody ? rq.body.size() : 0);
    for (const auto& [name, value] : rq.headers) size += name.size() + value.size() + 4;
    std::string& out = call.wire;
    out.reserve(size);
    out += method;
    out += ' ';
    out += call.url.target;
    out += " HTTP/1.1\r\n";
    auto named = [](const std::string& name, std::string_view want) {
      return name.size() == want.size() && strncasecmp(name.data(), want.data(), want.size()) == 0;
    };
    bool hostGiven = std::any_of(rq.headers.begin(), rq.headers.end(),
                                 [&](const auto& h) { return named(h.first, "host"); });
    if (!hostGiven) {
      out += "Host: ";
      out += call.url.authority;
      out += "\r\n";
    }
    for (const auto& [name, value] : rq.headers) {
      // The framing is this client's: a configured Content-Length or Transfer-Encoding would
      // contradict the body it sends.
      if (named(name, "content-length") || named(name, "transfer-encoding")) continue;
      out += name;
      out += ": ";
      out += value;
      out += "\r\n";
    }
    if (withBody) {
      out += "Content-Length: ";
      out += std::to_string(rq.body.size());
      out += "\r\n\r\n";
      out += rq.body;
    } else {
      out += "\r\n";
    }
  }

  // The deadline of the call's current phase: connect, first byte, or the whole call.
  static Clock::time_point deadlineOf(const Call& call) {
    const Timeouts& t = call.request.timeouts;
    Clock::time_point deadline = call.start + t.total;
    if (!call.connected) return std::min(deadline, call.connectDeadline);
    if (!call.gotHeader) return std::min(deadline, call.start + t.firstByte);
    return deadline;
  }

  // One sweep timer per loop instead of one timer per call: while calls are in flight it ticks
  // every kSweepTick and times out the calls past their phase's deadline (so a timeout fires up
  // to one tick late). Arming, cancelling and completing a timer per call cost more than the
  // scan.
  void watchDeadlines() {
    if (sweeping) return;
    sweeping = true;
    sweepTimer.expires_after(kSweepTick);
    sweepTimer.async_wait([self = weak_from_this()](const beast::error_code& ec) {
      auto impl = self.lock();
      if (!impl) return;
      impl->sweeping = false;
      if (ec) return;
      impl->sweep();
    });
  }

  void sweep() {
    auto now = Clock::now();
    std::vector<CallPtr> expired;
    for (const CallPtr& call : active) {
      if (!call->finished && !call->timedOut && now >= deadlineOf(*call)) expired.push_back(call);
    }
    for (const CallPtr& call : expired) onDeadline(call);
    if (!active.empty()) watchDeadlines();
  }

  void onDeadline(const CallPtr& call) {
    if (!call->connected) {
      call->timedOut = BackendFailure::connect;
    } else if (!call->gotHeader) {
      call->timedOut = BackendFailure::firstByteTimeout;
    } else {
      call->timedOut = BackendFailure::timeout;
    }
    // Closing cancels the pending operation; its handler reports the timeout.
    beast::error_code ignored;
    if (call->connection) call->connection->socket.close(ignored);
    if (call->resolver) call->resolver->cancel();
  }

  void connect(const CallPtr& call) {
    call->connected = false;
    call->connection = std::make_unique<Connection>(ctx);
    call->connection->key = call->key;
    call->connectDeadline = Clock::now() + call->request.timeouts.connect;
    watchDeadlines();
    beast::error_code ec;
    auto address = asio::ip::make_address(call->url.host, ec);
    if (!ec) {
      call->connection->socket.async_connect(
          tcp::endpoint(address, call->url.port),
          [self = shared_from_this(), call](const beast::error_code& cec) { self->onConnected(call, cec); });
      return;
    }
    call->resolver = std::make_unique<tcp::resolver>(ctx);
    call->resolver->async_resolve(
        call->url.host, std::to_string(call->url.port),
        [self = shared_from_this(), call](const beast::error_code& rec, tcp::resolver::results_type results) {
          if (call->finished) return;
          if (rec) return self->fail(call, BackendFailure::connect, self->connectError(call, rec, "resolve"));
          asio::async_connect(call->connection->socket, results,
                              [self, call](const beast::error_code& cec, const tcp::endpoint&) {
                                self->onConnected(call, cec);
                              });
        });
  }

  std::string connectError(const CallPtr& call, const beast::error_code& ec, const char* what) {
    if (call->timedOut) {
      return "could not connect to " + call->url.authority + " within " +
             std::to_string(call->request.timeouts.connect.count()) + " ms";
    }
    return std::string(what) + " " + call->url.authority + ": " + ec.message();
  }

  void onConnected(const CallPtr& call, const beast::error_code& ec) {
    if (call->finished) return;
    if (ec) return fail(call, BackendFailure::connect, connectError(call, ec, "connect to"));
    beast::error_code ignored;
    call->connection->socket.set_option(tcp::no_delay(true), ignored);
    call->connection->socket.set_option(asio::socket_base::keep_alive(true), ignored);
    call->connected = true;
    write(call);
  }

  void write(const CallPtr& call) {
    asio::async_write(call->connection->socket, asio::buffer(call->wire),
                      [self = shared_from_this(), call](const beast::error_code& ec, std::size_t) {
                        if (call->finished) return;
                        if (ec) return self->onTransportError(call, ec);
                        self->readHeader(call);
                      });
  }

  void readHeader(const CallPtr& call) {
    call->parser.emplace();
    call->parser->header_limit(kHeaderLimit);
    call->parser->body_limit(call->request.maxResponseBytes);
    if (call->request.method == "HEAD") call->parser->skip(true);
    http::async_read_header(call->connection->socket, call->connection->buffer, *call->parser,
                            [self = shared_from_this(), call](const beast::error_code& ec, std::size_t) {
                              if (call->finished) return;
                              if (ec) return self->onTransportError(call, ec);
                              self->onHeader(call);
                            });
  }

  void onHeader(const CallPtr& call) {
    unsigned status = call->parser->get().result_int();
    if (status >= 100 && status < 200 && status != 101) {
      return readHeader(call);  // an interim answer (100 Continue): the real one follows
    }
    call->gotHeader = true;
    if (call->parser->is_done()) return complete(call);
    http::async_read(call->connection->socket, call->connection->buffer, *call->parser,
                     [self = shared_from_this(), call](const beast::error_code& ec, std::size_t) {
                       if (call->finished) return;
                       if (ec) return self->onTransportError(call, ec);
                       self->complete(call);
                     });
  }

  void onTransportError(const CallPtr& call, const beast::error_code& ec) {
    const Timeouts& t = call->request.timeouts;
    if (call->timedOut == BackendFailure::firstByteTimeout) {
      return fail(call, BackendFailure::firstByteTimeout,
                  "no response header within " + std::to_string(std::min(t.firstByte, t.total).count()) + " ms");
    }
    if (call->timedOut) {
      return fail(call, BackendFailure::timeout,
                  "response not complete within " + std::to_string(t.total.count()) + " ms");
    }
    if (ec == http::error::body_limit) {
      return fail(call, BackendFailure::tooLarge,
                  "response body exceeds " + std::to_string(call->request.maxResponseBytes) + " bytes");
    }
    // A pooled connection the backend closed while it was idle: nothing of this request was
    // answered, so it goes out again once on a fresh connection (as curl does).
    if (call->reused && !call->retried && !call->gotHeader && staleConnectionError(ec) &&
        call->connection->buffer.size() == 0) {
      call->retried = true;
      call->reused = false;
      return connect(call);
    }
    fail(call, BackendFailure::transport, "backend " + call->url.authority + ": " + ec.message());
  }

  void complete(const CallPtr& call) {
    auto message = call->parser->release();
    BackendResult result;
    result.status = static_cast<int>(message.result_int());
    result.headers.reserve(static_cast<std::size_t>(std::distance(message.begin(), message.end())));
    for (const auto& field : message) {
      result.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    result.body = std::move(message.body());
    bool reusable = message.keep_alive() && !call->parser->need_eof() && !call->timedOut &&
                    call->connection->socket.is_open() && call->connection->buffer.size() == 0;
    if (reusable) release(std::move(call->connection));
    finish(call, std::move(result));
  }

  // Back to the pool, newest last; connections idle longer than kMaxIdleAge are closed (a backend
  // has usually dropped them by then).
  void release(std::unique_ptr<Connection> connection) {
    auto now = Clock::now();
    auto& idle = pool[connection->key];
    while (!idle.empty() && now - idle.front()->idleSince > kMaxIdleAge) {
      idle.erase(idle.begin());
      --idleCount;
    }
    if (idleCount >= kMaxIdle) return;  // closed by the caller's finish()
    // A large header grew the read buffer: do not keep that much per idle connection.
    if (connection->buffer.capacity() > kIdleBufferBytes) connection->buffer.shrink_to_fit();
    connection->idleSince = now;
    idle.push_back(std::move(connection));
    ++idleCount;
  }

  // The newest idle connection to `key` that is young enough, or null.
  std::unique_ptr<Connection> acquire(const std::string& key) {
    auto it = pool.find(key);
    if (it == pool.end() || it->second.empty()) return nullptr;
    auto& idle = it->second;
    std::unique_ptr<Connection> connection = std::move(idle.back());
    idle.pop_back();
    --idleCount;
    if (Clock::now() - connection->idleSince > kMaxIdleAge) {
      idleCount -= idle.size();  // all older still
      idle.clear();
      return nullptr;
    }
    return connection;
  }

  void fail(const CallPtr& call, BackendFailure failure, std::string error) {
    BackendResult result;
    result.failure = failure;
    result.error = std::move(error);
    finish(call, std::move(result));
  }

  void finish(const CallPtr& call, BackendResult&& result) {
    call->finished = true;
    if (call->connection) {
      beast::error_code ignored;
      call->connection->socket.close(ignored);
      call->connection.reset();
    }
    active.erase(call->position);
    result.elapsed = Clock::now() - call->start;
    BackendClient::Callback done = std::move(call->done);
    done(std::move(result));
  }

  void cancelAll() {
    std::vector<CallPtr> all(active.begin(), active.end());
    for (const CallPtr& call : all) {
      if (!call->finished) fail(call, BackendFailure::transport, "cancelled: the edge is shutting down");
    }
  }

  void shutdown() {
    for (const CallPtr& call : active) {
      call->finished = true;  // no callback after the client is gone
      beast::error_code ignored;
      if (call->connection) call->connection->socket.close(ignored);
    }
    active.clear();
    pool.clear();
    idleCount = 0;
    sweepTimer.cancel();
  }

  asio::io_context& ctx;
  asio::steady_timer sweepTimer;
  bool sweeping = false;
  std::list<CallPtr> active;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> pool;
  std::size_t idleCount = 0;
};

NativeBackend::NativeBackend(asio::io_context& loop) : impl_(std::make_shared<Impl>(loop)) {
}

NativeBackend::~NativeBackend() {
  impl_->shutdown();
}

void NativeBackend::send(BackendRequest request, PlainHttpUrl url, BackendClient::Callback done) {
  impl_->send(std::move(request), std::move(url), std::move(done));
}

std::size_t NativeBackend::active() const {
  return impl_->active.size();
}

void NativeBackend::cancelAll() {
  impl_->cancelAll();
}

std::size_t NativeBackend::idleConnections() const {
  return impl_->idleCount;
}

}  // namespace pocket::edge
