#pragma once
// A fixed set of event loops, one asio::io_context per thread. Every connection and every backend
// call lives on one loop for its whole life, so per-loop state needs no lock.
//
// Ownership: main() owns EventLoops; components keep `asio::io_context&` references to its loops
// and must be destroyed before it. Threading: start() spawns the threads; stop() (any thread)
// stops the loops; join() waits for them. The destructor stops and joins.

#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace pocket::edge {

namespace asio = boost::asio;

class EventLoops {
 public:
  explicit EventLoops(unsigned count);
  ~EventLoops();
  EventLoops(const EventLoops&) = delete;
  EventLoops& operator=(const EventLoops&) = delete;

  unsigned size() const { return static_cast<unsigned>(loops_.size()); }
  asio::io_context& loop(unsigned i) { return *loops_[i]; }

  void start();
  // Lets the loops return once they run out of work (after the server stopped accepting and the
  // last in-flight relay finished), instead of stopping them at once.
  void releaseWork();
  void stop();
  void join();

 private:
  using WorkGuard = asio::executor_work_guard<asio::io_context::executor_type>;
  std::vector<std::unique_ptr<asio::io_context>> loops_;
  std::vector<std::optional<WorkGuard>> work_;
  std::vector<std::thread> threads_;
};

}  // namespace pocket::edge
