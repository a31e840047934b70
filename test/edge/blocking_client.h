#pragma once
// A BackendClient on its own event loop, for tests: call() sends one HTTP request and blocks the
// test thread until the answer (or fails the test after 60 s).

#include <chrono>
#include <future>
#include <memory>

#include <boost/asio/post.hpp>

#include <doctest.h>

#include "edge/backend_client.h"
#include "edge/event_loops.h"

namespace pocket::test {

class BlockingClient {
 public:
  BlockingClient() : loops_(1) {
    client_ = std::make_unique<edge::BackendClient>(loops_.loop(0));
    loops_.start();
  }
  ~BlockingClient() {
    std::promise<void> done;
    boost::asio::post(loops_.loop(0), [&] {
      client_.reset();  // on its own loop, as the client requires
      done.set_value();
    });
    done.get_future().wait();
    loops_.stop();
    loops_.join();
  }
  BlockingClient(const BlockingClient&) = delete;
  BlockingClient& operator=(const BlockingClient&) = delete;

  // Runs f(client) on the client's loop, without waiting (for tests that drive many calls).
  template <class F>
  void onLoop(F f) {
    boost::asio::post(loops_.loop(0), [this, f = std::move(f)]() mutable { f(*client_); });
  }

  edge::BackendResult call(edge::BackendRequest request) {
    std::promise<edge::BackendResult> result;
    boost::asio::post(loops_.loop(0), [&] {
      client_->send(std::move(request),
                    [&](edge::BackendResult&& r) { result.set_value(std::move(r)); });
    });
    auto future = result.get_future();
    REQUIRE(future.wait_for(std::chrono::seconds(60)) == std::future_status::ready);
    return future.get();
  }

 private:
  edge::EventLoops loops_;
  std::unique_ptr<edge::BackendClient> client_;
};

}  // namespace pocket::test
