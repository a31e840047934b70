#include "common/util/thread_priority.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <string>

#include <cstdio>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/util/thread_name.h"
#include "test/support/process.h"

namespace pocket::util {
namespace {

TEST_CASE("a thread lowered to a nice value has it, and other threads keep theirs") {
  int before = thisThreadNice();
  int inThread = 0;
  std::thread t([&] {
    REQUIRE(setThisThreadNice(before + 5).ok());
    inThread = thisThreadNice();
  });
  t.join();
  CHECK(inThread == before + 5);
  CHECK(thisThreadNice() == before);  // per thread, not the whole process
}

TEST_CASE("a thread put under SCHED_IDLE is, keeps its nice value, and other threads are not") {
  int before = thisThreadNice();
  bool idle = false;
  int niceInThread = 0;
  bool idleBefore = true;
  std::thread t([&] {
    idleBefore = thisThreadIsIdle();
    REQUIRE(setThisThreadIdle().ok());
    idle = thisThreadIsIdle();
    niceInThread = thisThreadNice();
  });
  t.join();
  CHECK_FALSE(idleBefore);
  CHECK(idle);
  CHECK(niceInThread == before);
  CHECK_FALSE(thisThreadIsIdle());
}

TEST_CASE("threads found by name get the nice value; others do not") {
  int before = thisThreadNice();
  std::mutex m;
  std::condition_variable cv;
  bool named = false;
  bool done = false;
  int seen = 0;
  auto worker = [&](const char* name, int* out) {
    nameThisThread(name);
    std::unique_lock lock(m);
    named = true;
    cv.notify_all();
    cv.wait(lock, [&] { return done; });
    *out = thisThreadNice();
  };
  int other = 0;
  std::thread a(worker, "prio-test-a", &seen);
  {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return named; });
    named = false;
  }
  std::thread b(worker, "other-b", &other);
  {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return named; });
  }
  auto set = setNiceOfThreadsNamed("prio-test", before + 3);
  REQUIRE(set.ok());
  CHECK(*set == 1);
  {
    std::lock_guard lock(m);
    done = true;
  }
  cv.notify_all();
  a.join();
  b.join();
  CHECK(seen == before + 3);
  CHECK(other == before);
}

TEST_CASE("raising a thread is refused with a reason and changes nothing, unless the process may") {
  std::thread t([] {
    int before = thisThreadNice();
    auto s = setThisThreadNice(-5);
    if (testing::mayRaiseThreadsTo(-5)) {
      REQUIRE(s.ok());
      CHECK(thisThreadNice() == -5);
    } else {
      REQUIRE_FALSE(s.ok());
      CHECK(s.error().code == kThreadPriorityDenied);
      CHECK(s.error().message.find("CAP_SYS_NICE") != std::string::npos);
      CHECK(thisThreadNice() == before);
    }
  });
  t.join();
}

// What a sink wrote to a temporary file.
std::string written(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string text;
  for (int c; (c = std::fgetc(file)) != EOF;) text.push_back(static_cast<char>(c));
  return text;
}

TEST_CASE("a component that goes on at the process's priority logs which thread and why") {
  std::FILE* file = std::tmpfile();
  REQUIRE(file != nullptr);
  {
    LogSink sink(file);
    setNiceOfThreadsNamedOrLog(sink, "no-such-thread", thisThreadNice(), "nothing changes");
    nameThisThread("prio-test-main");
    setNiceOfThreadsNamedOrLog(sink, "prio-test-main", thisThreadNice(), "not logged");
  }
  std::string text = written(file);
  std::fclose(file);
  CHECK(text.find("event=thread_priority_not_set thread=no-such-thread") != std::string::npos);
  CHECK(text.find("no thread of that name found") != std::string::npos);
  CHECK(text.find("nothing changes") != std::string::npos);
  CHECK(text.find("prio-test-main") == std::string::npos);  // found and set: nothing to say
}

}  // namespace
}  // namespace pocket::util
