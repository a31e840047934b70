#include "edge/backend_client.h"

#include "edge/native_backend.h"

#include <curl/curl.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <list>
#include <stdexcept>
#include <vector>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace pocket::edge {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

std::string_view backendFailureName(BackendFailure failure) {
  switch (failure) {
    case BackendFailure::none:
      return "none";
    case BackendFailure::connect:
      return "connect";
    case BackendFailure::firstByteTimeout:
      return "first_byte_timeout";
    case BackendFailure::timeout:
      return "timeout";
    case BackendFailure::tooLarge:
      return "too_large";
    case BackendFailure::transport:
      return "transport";
  }
  return "transport";
}

namespace {

// curl_global_init is not thread-safe; do it once before any client exists.
struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};
void ensureCurlGlobal() {
  static CurlGlobal global;
}

}  // namespace

// How the loop drives curl: curl's sockets are watched by a private, level-triggered epoll set
// whose descriptor is the one thing asio waits on. asio's own reactor is edge-triggered, which
// would lose readiness whenever curl leaves bytes unread in a socket; the inner set keeps
// reporting such sockets until curl has drained them.
struct CurlBackend {
  using Callback = BackendClient::Callback;

  struct Transfer {
    CURL* easy = nullptr;
    curl_slist* headerList = nullptr;
    BackendRequest request;
    BackendResult result;
    Callback done;
    Clock::time_point start;
    Clock::time_point firstByteDeadline;
    bool gotFirstByte = false;
    bool tooLarge = false;
    std::list<Transfer*>::iterator position;
  };

  explicit CurlBackend(asio::io_context& c) : ctx(c), timer(c), sweepTimer(c), epollWatch(c) {
    ensureCurlGlobal();
    epfd = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) throw std::runtime_error("backend client: epoll_create1 failed");
    epollWatch.assign(epfd);
    multi = curl_multi_init();
    if (multi == nullptr) throw std::runtime_error("backend client: curl_multi_init failed");
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &CurlBackend::onSocket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &CurlBackend::onTimer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 1024L);
    armWatch();
  }

  ~CurlBackend() {
    *alive = false;
    for (Transfer* t : active) {
      curl_multi_remove_handle(multi, t->easy);
      curl_easy_cleanup(t->easy);
      curl_slist_free_all(t->headerList);
      delete t;
    }
    active.clear();
    for (CURL* e : freeHandles) curl_easy_cleanup(e);
    curl_multi_cleanup(multi);
    boost::system::error_code ec;
    epollWatch.close(ec);  // closes epfd
  }

  // --- curl callbacks (must not call back into curl) ---

  // Registrations are lazy: curl drops a keep-alive socket from its interest set after every
  // transfer and takes it back for the next one, which would be an EPOLL_CTL_DEL and an
  // EPOLL_CTL_ADD per relay. An idle socket stays in the epoll set with its last mask instead;
  // if it reports an event while curl does not want it (the backend closed it, say), it is removed
  // then. Sockets leave the set for good when curl closes them (onCloseSocket), so a descriptor
  // number reused by a new socket is never mistaken for a registered one.
  struct Watch {
    std::uint32_t inSet = 0;  // the events registered in the epoll set; 0: not in the set
    bool wanted = false;      // curl is waiting on the socket
  };

  Watch& watchFor(curl_socket_t s) {
    auto i = static_cast<std::size_t>(s);
    if (i >= watches.size()) watches.resize(i + 1);
    return watches[i];
  }

  void unregister(curl_socket_t s, Watch& w) {
    epoll_event ev{};
    ::epoll_ctl(epfd, EPOLL_CTL_DEL, s, &ev);
    w.inSet = 0;
  }

  static int onSocket(CURL*, curl_socket_t s, int what, void* userp, void*) {
    auto* self = static_cast<CurlBackend*>(userp);
    Watch& w = self->watchFor(s);
    std::uint32_t events =
        (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    if (what == CURL_POLL_REMOVE || events == 0) {
      w.wanted = false;
      // An idle socket is almost always writable: an EPOLLOUT registration would fire at once.
      if (w.inSet & EPOLLOUT) self->unregister(s, w);
      return 0;
    }
    w.wanted = true;
    if (w.inSet == events) return 0;
    epoll_event ev{};
    ev.data.fd = s;
    ev.events = events;
    int op = w.inSet != 0 ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (::epoll_ctl(self->epfd, op, s, &ev) != 0) {
      // The set disagrees with the table (a descriptor closed behind curl's back): follow the set.
      op = errno == ENOENT ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
      if (::epoll_ctl(self->epfd, op, s, &ev) != 0) {
        w.inSet = 0;
        return 0;
      }
    }
    w.inSet = events;
    return 0;
  }

  static int onCloseSocket(void* userp, curl_socket_t s) {
    auto* self = static_cast<CurlBackend*>(userp);
    if (static_cast<std::size_t>(s) < self->watches.size()) self->watches[s] = Watch{};
    return ::close(s);  // closing also takes the socket out of the epoll set
  }

  static int onTimer(CURLM*, long timeoutMs, void* userp) {
    auto* self = static_cast<CurlBackend*>(userp);
    if (timeoutMs < 0) {
      self->timer.cancel();
      return 0;
    }
    if (timeoutMs == 0) {
      // "As soon as possible": a post, not a timer (re-arming the loop's timerfd for every new
      // transfer costs a syscall each).
      self->timer.cancel();
      asio::post(self->ctx, [self, token = self->alive] {
        if (!*token) return;
        int running = 0;
        curl_multi_socket_action(self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        self->collect();
      });
      return 0;
    }
    self->timer.expires_after(std::chrono::milliseconds(timeoutMs));
    self->timer.async_wait([self](const boost::system::error_code& ec) {
      if (ec) return;
      int running = 0;
      curl_multi_socket_action(self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
      self->collect();
    });
    return 0;
  }

  static size_t onBody(char* data, size_t size, size_t n, void* userp) {
    auto* t = static_cast<Transfer*>(userp);
    std::size_t len = size * n;
    t->gotFirstByte = true;
    if (t->result.body.size() + len > t->request.maxResponseBytes) {
      t->tooLarge = true;
      return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    t->result.body.append(data, len);
    return len;
  }

  static size_t onHeader(char* data, size_t size, size_t n, void* userp) {
    auto* t = static_cast<Transfer*>(userp);
    std::size_t len = size * n;
    t->gotFirstByte = true;
    std::string_view line(data, len);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (line.rfind("HTTP/", 0) == 0) {
      t->result.headers.clear();  // a new response (after 100 Continue): start over
      return len;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return len;
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    t->result.headers.emplace_back(std::string(name), std::string(value));
    return len;
  }

  // --- the loop side ---

  void armWatch() {
    epollWatch.async_wait(asio::posix::stream_descriptor::wait_read,
                          [this](const boost::system::error_code& ec) {
                            if (ec || !*alive) return;
                            drainEvents();
                          });
  }

  void drainEvents() {
    epoll_event events[64];
    // Level-triggered: a socket curl did not drain shows up again; bound the rounds so that one
    // busy backend cannot starve the rest of the loop, and come back through post() if needed.
    for (int round = 0; round < 4; ++round) {
      int n = ::epoll_wait(epfd, events, 64, 0);
      if (n <= 0) {
        armWatch();
        return;
      }
      for (int i = 0; i < n; ++i) {
        curl_socket_t fd = events[i].data.fd;
        Watch& w = watchFor(fd);
        if (!w.wanted) {
          unregister(fd, w);  // idle and readable: closed by the backend; curl finds out on reuse
          continue;
        }
        int mask = 0;
        if (events[i].events & (EPOLLIN | EPOLLHUP)) mask |= CURL_CSELECT_IN;
        if (events[i].events & EPOLLOUT) mask |= CURL_CSELECT_OUT;
        if (events[i].events & EPOLLERR) mask |= CURL_CSELECT_ERR;
        int running = 0;
        curl_multi_socket_action(multi, fd, mask, &running);
      }
      collect();
      if (n < 64) {
        // Drained: what is still ready (level-triggered) wakes the watch again at once, without
        // another epoll_wait here.
        armWatch();
        return;
      }
    }
    asio::post(ctx, [this, token = alive] {
      if (*token) drainEvents();
    });
  }

  void collect() {
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
      CURLcode code = msg->data.result;
      finish(t, code, BackendFailure::none);
    }
  }

  void finish(Transfer* t, CURLcode code, BackendFailure forced) {
    curl_multi_remove_handle(multi, t->easy);
    active.erase(t->position);
    BackendResult& r = t->result;
    r.elapsed = Clock::now() - t->start;
    if (forced != BackendFailure::none) {
      r.failure = forced;
      r.error = "no response header within " +
                std::to_string(t->request.timeouts.firstByte.count()) + " ms";
    } else if (code == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
      r.status = static_cast<int>(status);
    } else if (t->tooLarge || code == CURLE_FILESIZE_EXCEEDED) {
      r.failure = BackendFailure::tooLarge;
      r.error = "response body exceeds " + std::to_string(t->request.maxResponseBytes) + " bytes";
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
      curl_off_t connectTime = 0;
      curl_easy_getinfo(t->easy, CURLINFO_CONNECT_TIME_T, &connectTime);
      r.failure = connectTime == 0 ? BackendFailure::connect
                  : t->gotFirstByte ? BackendFailure::timeout
                                    : BackendFailure::firstByteTimeout;
      r.error = curl_easy_strerror(code);
      if (r.failure == BackendFailure::timeout) {
        r.error = "response not complete within " +
                  std::to_string(t->request.timeouts.total.count()) + " ms";
      }
    } else if (code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST) {
      r.failure = BackendFailure::connect;
      r.error = curl_easy_strerror(code);
    } else {
      r.failure = BackendFailure::transport;
      r.error = curl_easy_strerror(code);
    }
    if (r.failure != BackendFailure::none) {
      r.status = 0;
      r.body.clear();
      r.headers.clear();
    }
    Callback done = std::move(t->done);
    BackendResult result = std::move(t->result);
    curl_slist_free_all(t->headerList);
    if (freeHandles.size() < 4096) {
      freeHandles.push_back(t->easy);
    } else {
      curl_easy_cleanup(t->easy);
    }
    delete t;
    done(std::move(result));
  }

  void sweep() {
    if (active.empty()) {
      sweeping = false;
      return;
    }
    auto now = Clock::now();
    std::vector<Transfer*> expired;
    for (Transfer* t : active) {
      if (!t->gotFirstByte && now >= t->firstByteDeadline) expired.push_back(t);
    }
    for (Transfer* t : expired) finish(t, CURLE_OK, BackendFailure::firstByteTimeout);
    sweepTimer.expires_after(std::chrono::milliseconds(100));
    sweepTimer.async_wait([this](const boost::system::error_code& ec) {
      if (ec || !*alive) return;
      sweep();
    });
  }

  void send(BackendRequest request, Callback done) {
    auto* t = new Transfer();
    t->request = std::move(request);
    t->done = std::move(done);
    t->start = Clock::now();
    t->firstByteDeadline = t->start + t->request.timeouts.firstByte;
    // A reused handle keeps the options every transfer shares; each transfer sets all the others,
    // including every method option, so nothing of the previous request survives.
    if (!freeHandles.empty()) {
      t->easy = freeHandles.back();
      freeHandles.pop_back();
    } else {
      t->easy = curl_easy_init();
      CURL* fresh = t->easy;
      curl_easy_setopt(fresh, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(fresh, CURLOPT_TCP_NODELAY, 1L);
      curl_easy_setopt(fresh, CURLOPT_TCP_KEEPALIVE, 1L);
      curl_easy_setopt(fresh, CURLOPT_PROTOCOLS_STR, "http,https");
      curl_easy_setopt(fresh, CURLOPT_WRITEFUNCTION, &CurlBackend::onBody);
      curl_easy_setopt(fresh, CURLOPT_HEADERFUNCTION, &CurlBackend::onHeader);
      curl_easy_setopt(fresh, CURLOPT_CLOSESOCKETFUNCTION, &CurlBackend::onCloseSocket);
      curl_easy_setopt(fresh, CURLOPT_CLOSESOCKETDATA, this);
    }
    CURL* e = t->easy;
    const BackendRequest& rq = t->request;
    curl_easy_setopt(e, CURLOPT_URL, rq.url.c_str());
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(rq.timeouts.connect.count()));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(rq.timeouts.total.count()));
    // A declared Content-Length over the cap fails the transfer before any of the body is read;
    // onBody enforces the cap for bodies of unknown length.
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(rq.maxResponseBytes));
    auto clearBody = [e] {
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, nullptr);
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(-1));
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, nullptr);
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);  // after POSTFIELDS: back to GET, NOBODY off
    };
    if (rq.method == "GET" && rq.body.empty()) {
      clearBody();
    } else if (rq.method == "HEAD") {
      clearBody();
      curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
      curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq.method.empty() ? "GET" : rq.method.c_str());
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, rq.body.data());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(rq.body.size()));
    }
    bool hasContentType = false;
    bool hasAccept = false;
    std::string line;
    for (const auto& [name, value] : rq.headers) {
      if (strcasecmp(name.c_str(), "content-type") == 0) hasContentType = true;
      if (strcasecmp(name.c_str(), "accept") == 0) hasAccept = true;
      line.assign(name);
      // "Name;" is curl's way to send a header with an empty value.
      line += value.empty() ? ";" : ": ";
      line += value;
      t->headerList = curl_slist_append(t->headerList, line.c_str());
    }
    // Only what the caller asked for: no Expect: 100-continue round trip, no invented defaults.
    t->headerList = curl_slist_append(t->headerList, "Expect:");
    if (!hasContentType) t->headerList = curl_slist_append(t->headerList, "Content-Type:");
    if (!hasAccept) t->headerList = curl_slist_append(t->headerList, "Accept:");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headerList);

    active.push_front(t);
    t->position = active.begin();
    CURLMcode added = curl_multi_add_handle(multi, e);
    if (added != CURLM_OK) {
      active.erase(t->position);
      t->result.failure = BackendFailure::transport;
      t->result.error = curl_multi_strerror(added);
      asio::post(ctx, [t] {
        Callback cb = std::move(t->done);
        BackendResult r = std::move(t->result);
        curl_easy_cleanup(t->easy);
        curl_slist_free_all(t->headerList);
        delete t;
        cb(std::move(r));
      });
      return;
    }
    if (!sweeping && rq.timeouts.firstByte < rq.timeouts.total) {
      sweeping = true;
      asio::post(ctx, [this, token = alive] {
        if (*token) sweep();
      });
    }
  }

  void cancelAll() {
    std::vector<Transfer*> all(active.begin(), active.end());
    for (Transfer* t : all) {
      t->result.failure = BackendFailure::transport;
      finish(t, CURLE_ABORTED_BY_CALLBACK, BackendFailure::none);
    }
  }

  asio::io_context& ctx;
  asio::steady_timer timer;
  asio::steady_timer sweepTimer;
  asio::posix::stream_descriptor epollWatch;
  int epfd = -1;
  std::vector<Watch> watches;  // by descriptor
  CURLM* multi = nullptr;
  std::list<Transfer*> active;
  std::vector<CURL*> freeHandles;
  bool sweeping = false;
  // Shared with posted handlers, which may outlive the client when it is destroyed on its loop.
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
};

struct BackendClient::Impl {
  explicit Impl(asio::io_context& loop) : curl(loop), native(loop) {}
  CurlBackend curl;
  NativeBackend native;
};

BackendClient::BackendClient(asio::io_context& loop) : impl_(std::make_unique<Impl>(loop)) {
}

BackendClient::~BackendClient() = default;

void BackendClient::send(BackendRequest request, Callback done) {
  if (!request.useCurl) {
    if (auto url = parsePlainHttpUrl(request.url)) {
      impl_->native.send(std::move(request), std::move(*url), std::move(done));
      return;
    }
  }
  impl_->curl.send(std::move(request), std::move(done));
}

std::size_t BackendClient::active() const {
  return impl_->curl.active.size() + impl_->native.active();
}

void BackendClient::cancelAll() {
  impl_->curl.cancelAll();
  impl_->native.cancelAll();
}

}  // namespace pocket::edge
