#include "edge/event_loops.h"

namespace pocket::edge {

EventLoops::EventLoops(unsigned count) {
  if (count == 0) count = 1;
  for (unsigned i = 0; i < count; ++i) {
    // Concurrency hint 1: each context is only ever run by its own thread, so asio can skip locking.
    loops_.push_back(std::make_unique<asio::io_context>(1));
    work_.emplace_back(asio::make_work_guard(*loops_.back()));
  }
}

EventLoops::~EventLoops() {
  stop();
  join();
}

void EventLoops::start() {
  for (auto& loop : loops_) {
    threads_.emplace_back([ctx = loop.get()] { ctx->run(); });
  }
}

void EventLoops::releaseWork() {
  for (auto& guard : work_) guard.reset();
}

void EventLoops::stop() {
  for (auto& loop : loops_) loop->stop();
}

void EventLoops::join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace pocket::edge
